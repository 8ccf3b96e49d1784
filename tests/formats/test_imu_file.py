"""The handpose IMU HDF5 file: round trip, metadata, compression, atomic writes, errors."""

import h5py
import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.formats.imu_file import (
    FORMAT,
    ImuFile,
    SequenceRecord,
    open_writer,
    read_sequences,
    write_sequences,
)


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


def _broken(tmp_path, edit, name="b.h5"):
    """A valid file with one sequence, changed by ``edit(h5file)``."""
    path = tmp_path / name
    write_sequences(path, [make_record()])
    with h5py.File(path, "r+") as f:
        edit(f["sequences/subject01/ROM01_Finger_Counting"])
    return path


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda g: g.pop("hand_pose"), r"sequence subject01/ROM01_Finger_Counting has no dataset "
         r"'hand_pose'\.$"),
        (lambda g: g.pop("imu"), "has no group 'imu'"),
        (lambda g: g["imu"].pop("free_acceleration"), r"imu has no dataset 'free_acceleration'"),
        (lambda g: (g.pop("betas"), g.create_dataset("betas", data=np.zeros((40, 11)))),
         r"dataset 'betas' has shape \(40, 11\), expected \(40, 10\)"),
        (lambda g: (g["imu"].pop("quaternion"),
                    g["imu"].create_dataset("quaternion", data=np.zeros((40, 6, 4)))),
         r"dataset 'quaternion' has shape \(40, 6, 4\), expected \(40, 7, 4\)"),
        (lambda g: (g.pop("joints21"), g.create_dataset("joints21", data=np.array([b"x"] * 40))),
         "dataset 'joints21' has type"),
        (lambda g: g.attrs.pop("fps"), "has no attribute 'fps'"),
        (lambda g: g.attrs.__setitem__("fps", float("nan")), "attribute 'fps' must be a finite"),
        (lambda g: g.attrs.__setitem__("fps", -30.0), r"attribute 'fps' must be a number > 0"),
        (lambda g: g.attrs.__setitem__("sensor_names", '{"a": 1}'), "JSON list of names"),
        (lambda g: g["imu"].create_dataset("acc_valid", data=np.ones((40, 3), bool)),
         r"dataset 'acc_valid' has shape \(40, 3\), expected \(40, 7\)"),
    ],
)  # fmt: skip
def test_layout_errors_name_file_sequence_and_field(tmp_path, edit, match):
    path = _broken(tmp_path, edit)
    with ImuFile(path) as f, pytest.raises(HandposeError, match=match) as exc:
        f.read(1, "ROM01_Finger_Counting")
    assert str(path) in str(exc.value)


def test_keys_need_subject_and_sequence_attributes(tmp_path):
    path = _broken(tmp_path, lambda g: g.attrs.pop("subject"))
    with ImuFile(path) as f, pytest.raises(HandposeError, match="has no attribute 'subject'"):
        f.keys()
    path = _broken(tmp_path, lambda g: g.attrs.__setitem__("sequence", 3), "c.h5")
    with ImuFile(path) as f, pytest.raises(HandposeError, match="'sequence' must be str, got 3"):
        f.keys()


def test_folder_and_truncated_file(tmp_path):
    (tmp_path / "d.h5").mkdir()
    with pytest.raises(HandposeError, match="is a folder, not a file"):
        ImuFile(tmp_path / "d.h5")
    write_sequences(tmp_path / "ok.h5", [make_record()])
    data = (tmp_path / "ok.h5").read_bytes()
    for frac in (0.3, 0.6, 0.9):
        (tmp_path / "t.h5").write_bytes(data[: int(len(data) * frac)])
        with pytest.raises(HandposeError, match="t.h5"):
            read_sequences(tmp_path / "t.h5")


@pytest.mark.parametrize(
    "field, index, value, kind",
    [
        ("hand_pose", (3, 5), np.nan, "NaN"),
        ("joints21", (0, 4, 1), np.nan, "NaN"),
        ("betas", (7, 0), np.inf, "an infinite value"),
        ("free_acceleration", (2, 1, 0), -np.inf, "an infinite value"),
        ("quaternion", (9, 6, 3), np.nan, "NaN"),
    ],
)
def test_require_finite_names_file_sequence_field_and_frame(tmp_path, field, index, value, kind):
    arr = getattr(make_record(), field).copy()
    arr[index] = value
    path = tmp_path / "nan.h5"
    write_sequences(path, [make_record(**{field: arr})])
    assert np.isnan(read_sequences(path)[0].hand_pose).any() == (field == "hand_pose")
    msg = rf"'{path}' sequence subject01/ROM01_Finger_Counting: {field} holds {kind} at frame "
    with pytest.raises(HandposeError, match=msg + str(index[0])):
        read_sequences(path, require_finite=True)


def test_require_finite_ignores_fields_models_do_not_read(tmp_path):
    rec = make_record()
    rec.angular_velocity[4, 2] = np.nan
    write_sequences(tmp_path / "a.h5", [rec])
    assert len(read_sequences(tmp_path / "a.h5", require_finite=True)) == 1
