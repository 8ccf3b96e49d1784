"""Input readers: our HDF5, VIHand IMU.json (tree and lone file), CSV, and format dispatch."""

import json

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.inference.csv_format import write_imu_csv
from handpose.inference.readers import read_imu
from handpose.inference.recording import ImuRecording, select_sensors

from .standins import SENSORS, random_motion


def test_h5_sequence_selection_and_contents(imu_h5):
    from handpose.formats.imu_file import ImuFile

    rec = read_imu(imu_h5, sequence="ROM14_Random_Gestures")
    assert rec.sequence == "subject01/ROM14_Random_Gestures"
    assert rec.sensor_names == SENSORS and rec.num_frames == 45 and rec.fps == 30.0
    with ImuFile(imu_h5) as f:
        raw = f.read(1, "ROM14_Random_Gestures")
    np.testing.assert_array_equal(rec.quaternions, raw.quaternion)
    np.testing.assert_array_equal(rec.accelerations, raw.free_acceleration)  # model convention
    assert rec.ground_truth.hand_pose.shape == (45, 45)
    assert read_imu(imu_h5, sequence="subject1/ROM14_Random_Gestures").num_frames == 45
    with pytest.raises(HandposeError, match="holds 2 sequences"):
        read_imu(imu_h5)
    with pytest.raises(HandposeError, match="no sequence 'ROM99'"):
        read_imu(imu_h5, sequence="ROM99")


def _vihand_frames(q_file_order, acc_g):
    frames = {}
    for t in range(q_file_order.shape[0]):
        frames[str(t)] = {
            "Frames_Data": [
                {
                    **{f"acc_{c}": float(acc_g[t, i, k]) for k, c in enumerate("xyz")},
                    **{f"q_{k}": float(q_file_order[t, i, k]) for k in range(4)},
                }
                for i in range(7)
            ]
        }
    return frames


def test_lone_vihand_json_is_reordered_and_in_si_units(tmp_path):
    from handpose.datasets.vihand import VIHandOptions

    rng = np.random.default_rng(0)
    T = 10
    q = rng.normal(size=(T, 7, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    q[..., 0] = np.abs(q[..., 0])
    acc = np.zeros((T, 7, 3))
    acc[..., 2] = 0.2  # 0.2 g in the sensor frame: well below 1 g, so no gravity is removed
    acc[3, 2, 0] = 7.0  # out of range (> 5 g): repaired and flagged
    path = tmp_path / "IMU.json"
    path.write_text(json.dumps(_vihand_frames(q, acc)))
    rec = read_imu(path)
    perm = VIHandOptions().permutation  # file order wrist, back, thumb, ... → canonical
    assert rec.sensor_names == SENSORS
    np.testing.assert_allclose(rec.quaternions, q[:, perm], atol=1e-12)
    # Sensor-frame 0.2 g along z rotated into the world: |a| = 0.2 × 9.81 m/s².
    norms = np.linalg.norm(rec.accelerations, axis=-1)
    np.testing.assert_allclose(norms[~rec.held], 0.2 * 9.81, rtol=1e-9)
    thumb = SENSORS.index("thumb")  # file index 2
    assert rec.held[3, thumb] and rec.held.sum() == 1
    assert rec.ground_truth is None


def test_vihand_tree_loads_ground_truth(tmp_path):
    T = 9
    q = np.zeros((T, 7, 4))
    q[..., 0] = 1.0
    acc = np.zeros((T, 7, 3))
    acc[..., 1] = 1.0  # 1 g: gravity included, removed from the world-frame readings
    seq = tmp_path / "multidata" / "subject3" / "ROM13"
    seq.mkdir(parents=True)
    (seq / "IMU.json").write_text(json.dumps(_vihand_frames(q, acc)))
    ann = tmp_path / "annotations" / "subject3" / "ROM13"
    ann.mkdir(parents=True)
    mano = {str(t): [1, 0, 0, 0, 1, 0] + [0.1] * 45 + [0.0] * 10 + [0.0] * 4 for t in range(T)}
    (ann / "mano.json").write_text(json.dumps(mano))
    (ann / "joint.json").write_text(json.dumps({str(t): [[0, 0, 0]] * 21 for t in range(T)}))
    rec = read_imu(seq / "IMU.json")
    assert rec.sequence == "subject03/ROM13_Finger_Interlocking"
    np.testing.assert_allclose(rec.accelerations, 0.0, atol=1e-9)  # a hand at rest
    np.testing.assert_allclose(rec.ground_truth.hand_pose, 0.1)
    np.testing.assert_allclose(rec.ground_truth.global_orient, 0.0, atol=1e-7)


def test_csv_through_read_imu(tmp_path):
    q, a = random_motion(6)
    write_imu_csv(tmp_path / "r.csv", ImuRecording(q, a, 60.0, SENSORS), layout="wide")
    rec = read_imu(tmp_path / "r.csv")
    assert rec.fps == 60.0 and rec.sensor_names == SENSORS
    np.testing.assert_array_equal(rec.accelerations, a)


def test_unknown_format_and_missing_file(tmp_path):
    (tmp_path / "x.bvh").write_text("HIERARCHY")
    with pytest.raises(HandposeError, match="unknown IMU file format '.bvh'"):
        read_imu(tmp_path / "x.bvh")
    with pytest.raises(HandposeError, match="does not exist"):
        read_imu(tmp_path / "nope.csv")


def test_select_sensors_subset_order_and_errors():
    q, a = random_motion(3)
    rec = ImuRecording(q, a, 30.0, SENSORS)
    sub = select_sensors(rec, ("thumb", "index", "back"))
    np.testing.assert_array_equal(sub.quaternions, q[:, [0, 1, 5]])
    with pytest.raises(HandposeError, match="missing: wrist"):
        select_sensors(ImuRecording(q[:, :6], a[:, :6], 30.0, SENSORS[:6]), SENSORS)
    generic = ImuRecording(q, a, 30.0, tuple(f"sensor{i}" for i in range(7)))
    assert select_sensors(generic, SENSORS).sensor_names == SENSORS
