"""Real-VIHand loader on a fixture in the exact layout: repair, order, units, split, no leak."""

import json

import numpy as np
import pytest
import torch

from handpose.cli import main
from handpose.datasets.vihand import (
    VIHAND_FILE_ORDER,
    VIHandOptions,
    find_sequences,
    load_vihand_sequence,
    read_imu_json,
    repair_samples,
)
from handpose.datasets.windows import ImuWindowDataset
from handpose.errors import HandposeError
from handpose.formats.imu_file import ImuFile
from handpose.geometry.rotations import axis_angle_to_matrix
from tests.datasets.vihand_fixture import INJECTED, make_vihand

# Default assumed file order → canonical (thumb, index, middle, ring, pinky, back, wrist).
PERM = [2, 3, 4, 5, 6, 1, 0]


@pytest.fixture(scope="module")
def vihand(tmp_path_factory):
    root = tmp_path_factory.mktemp("vihand")
    return root, make_vihand(root)


def test_repair_forward_fills_and_backfills_leading_gaps():
    v = np.arange(6, dtype=float).reshape(6, 1, 1).repeat(2, 1)
    ok = np.array([[0, 1], [1, 1], [0, 0], [1, 1], [0, 1], [0, 0]], dtype=bool)
    out = repair_samples(v, ok)[..., 0]
    np.testing.assert_array_equal(out[:, 0], [1, 1, 1, 3, 3, 3])  # frame 0 ← first valid (1)
    np.testing.assert_array_equal(out[:, 1], [0, 1, 1, 3, 4, 4])
    with pytest.raises(HandposeError, match="no valid sample"):
        repair_samples(v, np.zeros((6, 2), bool))


def test_read_imu_json_permutes_and_repairs(vihand):
    root, truth = vihand
    frames, acc, quat, acc_ok, quat_ok = read_imu_json(root / "multidata/subject1/ROM01/IMU.json")
    t = truth[(1, "ROM01")]
    assert frames.tolist() == list(range(12))
    exp_acc, exp_q = t["acc"][:, PERM], t["quat"][:, PERM]
    # Every injected bad sample is flagged and replaced by the previous valid one (or, at
    # frame 0, by the first valid one); every other sample is untouched.
    bad_acc = np.zeros((12, 7), bool)
    bad_q = np.zeros((12, 7), bool)
    for f, i, key, _ in INJECTED:
        c = PERM.index(i)
        (bad_acc if key.startswith("acc") else bad_q)[f, c] = True
    np.testing.assert_array_equal(acc_ok, ~bad_acc)
    np.testing.assert_array_equal(quat_ok, ~bad_q)
    np.testing.assert_allclose(acc[~bad_acc], exp_acc[~bad_acc], atol=1e-12)
    np.testing.assert_allclose(quat[~bad_q], exp_q[~bad_q], atol=1e-12)
    c = PERM.index(2)  # acc at frame 0 (file sensor 2 = thumb) ← frame 1
    np.testing.assert_allclose(acc[0, c], exp_acc[1, c])
    c = PERM.index(0)  # quaternion at frame 5 (file sensor 0 = wrist) ← frame 4
    np.testing.assert_allclose(quat[5, c], exp_q[4, c])
    assert np.isfinite(acc).all() and (np.abs(acc) <= 5).all()


def test_imu_order_is_a_parameter(vihand):
    root, truth = vihand
    order = tuple(reversed(VIHAND_FILE_ORDER))
    _, acc, *_ = read_imu_json(
        root / "multidata/subject2/ROM02/IMU.json", VIHandOptions(imu_order=order)
    )
    perm = [order.index(n) for n in ("thumb", "index", "middle", "ring", "pinky", "back", "wrist")]
    np.testing.assert_allclose(acc[10], truth[(2, "ROM02")]["acc"][10][perm])
    with pytest.raises(HandposeError, match="permutation"):
        VIHandOptions(imu_order=("wrist", "back"))


def test_sequence_units_gravity_and_labels(vihand):
    root, truth = vihand
    rec = load_vihand_sequence(root, 2, "ROM13")
    t = truth[(2, "ROM13")]
    assert rec.sequence == "ROM13_Finger_Interlocking" and rec.subject == 2
    ok = rec.flags["acc_valid"] & rec.flags["quat_valid"]
    # g → m/s², sensor frame, gravity included (detected from |a| ≈ 1 g).
    np.testing.assert_allclose(rec.specific_force[ok], 9.81 * t["acc"][:, PERM][ok], atol=1e-9)
    assert rec.attrs["acc_includes_gravity"] is True
    # The IMU world is z-up in the fixture; the estimate recovers it from IMU data alone.
    np.testing.assert_allclose(rec.attrs["gravity_estimate"], [0, 0, -9.81], atol=0.3)
    np.testing.assert_allclose(rec.free_acceleration[ok], 9.81 * t["free"][:, PERM][ok], atol=0.35)
    # Labels: 6D → axis-angle global orientation; θ and β as stored.
    R = axis_angle_to_matrix(torch.from_numpy(rec.global_orient))
    torch.testing.assert_close(R, axis_angle_to_matrix(torch.from_numpy(t["go"])))
    np.testing.assert_allclose(rec.hand_pose, t["mano"][:, 6:51])
    np.testing.assert_allclose(rec.betas, t["mano"][:, 51:61])
    np.testing.assert_allclose(rec.extra["camera"], t["mano"][:, 61:65])
    np.testing.assert_allclose(rec.joints21, t["joints"])
    assert rec.angular_velocity.shape == (12, 7, 3) and "camera_params" in rec.attrs


def test_convert_cli_round_trip_and_split(vihand, tmp_path):
    root, truth = vihand
    out = tmp_path / "vihand.h5"
    assert main(["data", "convert", "vihand", str(root), str(out)]) == 0
    with ImuFile(out) as f:
        assert f.keys() == [
            (s, f"ROM{r}")
            for s in (1, 2)
            for r in ("01_Finger_Counting", "02_Finger_Bending", "13_Finger_Interlocking")
        ]
        assert f.attrs["source"] == "VIHand" and f.attrs["vihand_options"]["acc_unit"] == "g"
        rec = f.read(1, "ROM02_Finger_Bending")
        np.testing.assert_allclose(
            rec.hand_pose, truth[(1, "ROM02")]["mano"][:, 6:51].astype(np.float32)
        )
        assert rec.flags["acc_valid"].sum() < rec.flags["acc_valid"].size
    test = ImuWindowDataset(out, window=8, stride=4, split="test")
    train = ImuWindowDataset(out, window=8, stride=4, split="train")
    assert {test[i]["sequence"] for i in range(len(test))} == {"ROM13_Finger_Interlocking"}
    assert len(train) == 2 * len(test)
    assert np.isfinite(test[0]["imu"].numpy()).all()


def test_no_leak_on_the_vihand_path(vihand, tmp_path):
    # Changing the ground truth (mano.json, joint.json) must not change a single input bit.
    root, _ = vihand
    a = tmp_path / "a.h5"
    main(["data", "convert", "vihand", str(root), str(a)])
    other = tmp_path / "changed"
    make_vihand(other)
    rng = np.random.default_rng(5)
    for p in (other / "annotations").rglob("*.json"):
        obj = json.loads(p.read_text())
        p.write_text(
            json.dumps(
                {k: (np.asarray(v) + rng.normal(size=np.shape(v))).tolist() for k, v in obj.items()}
            )
        )
    b = tmp_path / "b.h5"
    main(["data", "convert", "vihand", str(other), str(b)])
    da = ImuWindowDataset(a, window=8, stride=4, split="all")
    db = ImuWindowDataset(b, window=8, stride=4, split="all")
    for i in range(len(da)):
        assert torch.equal(da[i]["imu"], db[i]["imu"])
        assert not torch.equal(da[i]["pose_aa"], db[i]["pose_aa"])


def test_list_form_annotations_and_errors(tmp_path):
    make_vihand(tmp_path / "l", T=6, mano_as_list=True)
    assert load_vihand_sequence(tmp_path / "l", 1, "ROM01").num_frames == 6
    assert len(find_sequences(tmp_path / "l")) == 6
    with pytest.raises(HandposeError, match="multidata"):
        find_sequences(tmp_path)
    p = tmp_path / "l/multidata/subject1/ROM01/IMU.json"
    obj = json.loads(p.read_text())
    obj["3"]["Frames_Data"] = obj["3"]["Frames_Data"][:5]
    p.write_text(json.dumps(obj))
    with pytest.raises(HandposeError, match="7 sensor"):
        load_vihand_sequence(tmp_path / "l", 1, "ROM01")
    assert main(["data", "convert", "vihand", str(tmp_path / "l"), str(tmp_path / "o.h5")]) == 2
    assert not (tmp_path / "o.h5").exists()


def test_world_to_sensor_quaternions_are_conjugated(vihand):
    root, _ = vihand
    path = root / "multidata/subject1/ROM02/IMU.json"
    _, _, q, *_ = read_imu_json(path)
    _, _, qc, *_ = read_imu_json(path, VIHandOptions(quat_world_to_sensor=True))
    np.testing.assert_allclose(qc, q * np.array([1.0, -1.0, -1.0, -1.0]))


def test_out_of_range_bound_follows_the_acceleration_unit():
    from handpose.datasets.vihand import VIHandOptions

    assert VIHandOptions().acc_limit_file_units == 5.0  # ±5 g in g
    assert VIHandOptions(acc_unit="m/s^2").acc_limit_file_units == pytest.approx(5 * 9.80665, 1e-3)
    assert VIHandOptions(acc_unit="m/s^2", acc_limit=30.0).acc_limit_file_units == 30.0
