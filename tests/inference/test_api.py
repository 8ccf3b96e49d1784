"""File inference with the real (tiny) student: outputs, modes, ground truth, backends."""

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.inference.api import infer_file, load_estimator, load_student
from handpose.inference.csv_format import write_imu_csv
from handpose.inference.readers import read_imu
from handpose.inference.recording import ImuRecording

from .conftest import WINDOW
from .standins import SENSORS, random_motion

SEQ = "ROM13_Finger_Interlocking"


def test_load_student_spec_matches_the_tiny_preset(student_ckpt):
    student, spec = load_student(student_ckpt)
    assert spec.window == WINDOW
    assert spec.sensor_names == ("thumb", "index", "middle", "ring", "pinky", "back", "wrist")
    assert spec.root_index == 5 and spec.hand_model == "open" and spec.fps == 30.0
    assert not student.training


def test_infer_file_writes_complete_npz(student_ckpt, imu_h5, tmp_path):
    out = tmp_path / "poses.npz"
    result = infer_file(imu_h5, student_ckpt, out, sequence=SEQ)
    with np.load(out, allow_pickle=False) as z:
        F = 45
        assert z["global_orient"].shape == (F, 3) and z["hand_pose"].shape == (F, 45)
        assert z["betas"].shape == (F, 10) and z["joints"].shape == (F, 21, 3)
        V = z["vertices"].shape[1]
        assert z["vertices"].shape == (F, V, 3) and z["gt_vertices"].shape == (F, V, 3)
        assert z["gt_joints"].shape == (F, 21, 3)
        assert z["dropped"].shape == (F, 7) and not z["dropped"].any()
        assert float(z["fps"]) == 30.0 and str(z["mode"]) == "tiled"
        np.testing.assert_allclose(z["joints"][:, 0], 0.0, atol=1e-6)  # wrist at the origin
        # Stored joints and vertices are consistent: OpenPose tips are mesh vertices.
        assert np.isfinite(z["vertices"]).all()
    assert result.metrics["frames"] == 45
    # The metric is the mean joint distance to the file's ground truth, in mm.
    expected = 1000 * np.linalg.norm(result.poses.joints - result.gt_joints, axis=-1).mean()
    assert result.metrics["mpjpe_mm"] == pytest.approx(expected, rel=1e-5)
    assert "MPJPE" in result.summary()


def test_parameters_reproduce_the_stored_joints(student_ckpt, imu_h5, tmp_path):
    # The npz parameters, put through the hand model, give the stored joints: the axis-angle
    # conversion and the per-frame betas are the ones the network used.
    import torch

    from handpose.handmodel import HandModel

    result = infer_file(imu_h5, student_ckpt, tmp_path / "p.npz", sequence=SEQ)
    p = result.poses
    hand = HandModel("open", side="right", flat_hand_mean=True)
    with torch.no_grad():
        out = hand(
            global_orient=torch.from_numpy(p.global_orient),
            hand_pose=torch.from_numpy(p.hand_pose),
            betas=torch.from_numpy(p.betas),
        )
    joints = (out.joints21 - out.joints21[:, :1]).numpy()
    np.testing.assert_allclose(joints, p.joints, atol=2e-5)  # 0.02 mm


def test_causal_mode_equals_streaming_with_the_real_student(student_ckpt, imu_h5):
    est = load_estimator(student_ckpt)
    rec = read_imu(imu_h5, sequence=SEQ)
    offline = est.infer(rec, mode="causal", return_vertices=False)
    stream = est.stream()
    live = np.stack(
        [stream.push(rec.quaternions[t], rec.accelerations[t]).joints for t in range(20)]
    )
    np.testing.assert_allclose(live, offline.joints[:20], atol=1e-6)
    # The student is not trivially constant: poses move by millimetres over the sequence.
    assert np.ptp(offline.joints, axis=0).max() > 1e-3


def test_tiled_mode_matches_direct_student_windows(student_ckpt, imu_h5):
    import torch

    from handpose.datasets.normalize import imu_tokens_from_quaternion

    student, spec = load_student(student_ckpt)
    rec = read_imu(imu_h5, sequence=SEQ)
    tiled = load_estimator(student_ckpt).infer(rec, mode="tiled", return_vertices=False)
    q = torch.from_numpy(rec.quaternions[:WINDOW].astype(np.float32))
    a = torch.from_numpy(rec.accelerations[:WINDOW].astype(np.float32))
    with torch.no_grad():
        out = student(imu_tokens_from_quaternion(q, a, 5, spec.acc_scale)[None])
    np.testing.assert_allclose(tiled.joints[:WINDOW], out.joints[0].numpy(), atol=1e-6)


def test_onnx_backend_from_checkpoint_matches_torch(student_ckpt, imu_h5, tmp_path):
    a = infer_file(imu_h5, student_ckpt, tmp_path / "t.npz", sequence=SEQ, return_vertices=False)
    b = infer_file(
        imu_h5,
        student_ckpt,
        tmp_path / "o.npz",
        sequence=SEQ,
        backend="onnx",
        return_vertices=False,
    )
    assert b.backend == "onnx"
    assert np.abs(a.poses.joints - b.poses.joints).max() * 1000 <= 0.01


def test_video_and_plots_are_written(student_ckpt, imu_h5, tmp_path):
    import imageio.v3 as iio

    video = tmp_path / "cmp.mp4"
    result = infer_file(
        imu_h5,
        student_ckpt,
        tmp_path / "p.npz",
        video=video,
        plots=tmp_path / "plots",
        sequence=SEQ,
        video_frames=6,
    )
    frames = iio.imread(video)
    assert frames.shape[0] == 6 and frames.shape[2] == 3 * frames.shape[1]  # 3 square panels
    for name in ("joint_groups.png", "frame_errors.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 10_000
    assert len(result.written) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmp.mp4", "p.npz", "plots"]


def test_plots_without_ground_truth_fail_before_writing(student_ckpt, tmp_path):
    q, a = random_motion(12)
    write_imu_csv(tmp_path / "in.csv", ImuRecording(q, a, 30.0, SENSORS))
    with pytest.raises(HandposeError, match="no ground truth"):
        infer_file(tmp_path / "in.csv", student_ckpt, tmp_path / "o.npz", plots=tmp_path / "pl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
