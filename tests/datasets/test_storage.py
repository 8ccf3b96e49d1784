"""The handpose IMU HDF5 file: round trip, metadata, compression, atomic writes, errors."""

import h5py
import numpy as np
import pytest

from handpose.datasets.storage import (
    FORMAT,
    ImuFile,
    SequenceRecord,
    open_writer,
    read_sequences,
    write_sequences,
)
from handpose.errors import HandposeError


def make_record(subject=1, sequence="ROM01_Finger_Counting", T=40, N=7, seed=0, **kw):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(T, N, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    fields = dict(
        subject=subject,
        sequence=sequence,
        fps=30.0,
        layout="vihand7",
        sensor_names=("thumb", "index", "middle", "ring", "pinky", "back", "wrist")[:N],
        global_orient=rng.normal(size=(T, 3)),
        hand_pose=rng.normal(size=(T, 45)),
        betas=np.repeat(rng.normal(size=(1, 10)), T, 0),
        transl=rng.normal(size=(T, 3)),
        joints21=rng.normal(size=(T, 21, 3)),
        quaternion=q,
        specific_force=rng.normal(size=(T, N, 3)),
        free_acceleration=rng.normal(size=(T, N, 3)),
        angular_velocity=rng.normal(size=(T, N, 3)),
    )
    fields.update(kw)
    return SequenceRecord(**fields)


def test_round_trip(tmp_path):
    recs = [
        make_record(1, "ROM01_Finger_Counting"),
        make_record(2, "ROM13_Finger_Interlocking", T=300, seed=1),
    ]
    recs[1].flags["acc_valid"] = np.ones((300, 7), dtype=bool)
    recs[1].extra["camera"] = np.ones((300, 4))
    recs[1].attrs["frames"] = list(range(300))
    path = tmp_path / "d.h5"
    write_sequences(path, recs, {"seed": 7, "generator": "test"})
    back = read_sequences(path)
    assert [(r.subject, r.sequence) for r in back] == [
        (1, "ROM01_Finger_Counting"),
        (2, "ROM13_Finger_Interlocking"),
    ]
    for a, b in zip(recs, back):
        for f in ("global_orient", "hand_pose", "betas", "transl", "joints21", "quaternion",
                  "specific_force", "free_acceleration", "angular_velocity"):  # fmt: skip
            got = getattr(b, f)
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, getattr(a, f).astype(np.float32))
        assert b.sensor_names == a.sensor_names and b.fps == 30.0 and b.layout == "vihand7"
    assert back[1].flags["acc_valid"].dtype == bool
    np.testing.assert_array_equal(back[1].extra["camera"], np.ones((300, 4), np.float32))
    assert back[1].attrs["frames"] == list(range(300))
    with ImuFile(path) as f:
        a = f.attrs
        assert a["format"] == FORMAT and a["seed"] == 7 and a["generator"] == "test"
        assert a["units"]["specific_force"].startswith("m/s^2")
        assert f.keys() == [(1, "ROM01_Finger_Counting"), (2, "ROM13_Finger_Interlocking")]
    with h5py.File(path) as h:
        d = h["sequences/subject02/ROM13_Finger_Interlocking/imu/specific_force"]
        assert d.compression == "gzip" and d.chunks[0] == 256
        assert "vertices" not in h["sequences/subject02/ROM13_Finger_Interlocking"]


def test_shape_errors_are_user_errors(tmp_path):
    bad = make_record(hand_pose=np.zeros((40, 48)))
    with pytest.raises(HandposeError, match="hand_pose"):
        write_sequences(tmp_path / "x.h5", [bad])
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(HandposeError, match="already"):
        write_sequences(tmp_path / "x.h5", [make_record(), make_record()])


def test_exception_mid_write_leaves_nothing(tmp_path):
    out = tmp_path / "out.h5"
    with pytest.raises(KeyboardInterrupt):
        with open_writer(out) as w:
            w.write(make_record())
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_a_failed_rewrite(tmp_path):
    out = tmp_path / "out.h5"
    write_sequences(out, [make_record(seed=3)])
    with pytest.raises(RuntimeError):
        with open_writer(out) as w:
            w.write(make_record(seed=4))
            raise RuntimeError("boom")
    np.testing.assert_array_equal(
        read_sequences(out)[0].hand_pose, make_record(seed=3).hand_pose.astype(np.float32)
    )
    assert [p.name for p in tmp_path.iterdir()] == ["out.h5"]


def test_reader_errors(tmp_path):
    with pytest.raises(HandposeError, match="does not exist"):
        ImuFile(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(HandposeError, match="not an HDF5"):
        ImuFile(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as h:
        h.attrs["format"] = "something"
    with pytest.raises(HandposeError, match="not a handpose IMU file"):
        ImuFile(tmp_path / "other.h5")
    write_sequences(tmp_path / "ok.h5", [make_record()])
    with ImuFile(tmp_path / "ok.h5") as f, pytest.raises(HandposeError, match="no sequence"):
        f.read(9, "ROM01_Finger_Counting")
