"""Backends: the inference graph equals the student's forward; torch and onnxruntime agree."""

import numpy as np
import pytest
import torch

from handpose.inference.backends import StudentInference, StudentSpec, TorchPredictor
from handpose.training.config import load_config
from handpose.training.factory import build_student


@pytest.mark.parametrize("variant", ["mgdistill", "simkd"])  # own MANO head / teacher's head
def test_inference_path_equals_full_forward(variant):
    cfg = load_config("tiny", [f"distill.variant={variant}"])
    torch.manual_seed(0)
    student = build_student(cfg).eval()
    with torch.no_grad():
        for p in student.parameters():
            p.add_(0.1 * torch.randn_like(p))
    imu = torch.randn(3, cfg.data.window, 7, 12)
    with torch.no_grad():
        full = student(imu, return_vertices=False)
        rotmats, betas, joints = StudentInference(student, lockstep=False)(imu)
        fast = StudentInference(student)(imu)  # the two streams in lockstep (batched GEMMs)
    torch.testing.assert_close(rotmats, full.rotmats, rtol=0, atol=0)
    torch.testing.assert_close(betas, full.betas, rtol=0, atol=0)
    torch.testing.assert_close(joints, full.joints, rtol=0, atol=0)
    for a, b in zip(fast, (rotmats, betas, joints)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    assert joints.std(0).max() > 1e-4  # the outputs depend on the input (0.1 mm)
    with pytest.raises(ValueError, match="expects 7 IMU tokens"):
        StudentInference(student)(imu[:, :, :3])


def test_torch_predictor_outputs_and_axis_angle_conversion():
    from handpose.geometry.rotations import axis_angle_to_matrix
    from handpose.inference.estimator import rotmats_to_axis_angle

    cfg = load_config("tiny")
    torch.manual_seed(1)
    student = build_student(cfg).eval()
    imu = torch.randn(2, cfg.data.window, 7, 12)
    out = TorchPredictor(StudentInference(student))(imu.numpy())
    with torch.no_grad():
        ref = student(imu, return_vertices=False)
    np.testing.assert_allclose(out["rotmats"], ref.rotmats.numpy(), rtol=0, atol=1e-5)
    assert out["betas"].shape == (2, 10) and out["joints"].shape == (2, cfg.data.window, 21, 3)
    go, hp = rotmats_to_axis_angle(out["rotmats"])
    assert go.shape == (2, cfg.data.window, 3) and hp.shape == (2, cfg.data.window, 45)
    aa = np.concatenate([go[:, :, None], hp.reshape(2, -1, 15, 3)], 2)
    rot = axis_angle_to_matrix(torch.from_numpy(aa).double()).float()
    torch.testing.assert_close(rot, ref.rotmats, atol=1e-5, rtol=0)


def test_spec_json_round_trip_and_rejects_foreign_json():
    from handpose.errors import HandposeError

    spec = StudentSpec(8, ("a", "back"), "back", 20.0, 30.0, "open", "tiny", "mgdistill")
    assert StudentSpec.from_json(spec.to_json()) == spec
    assert spec.root_index == 1
    with pytest.raises(HandposeError, match="no valid handpose student metadata"):
        StudentSpec.from_json('{"format": "other"}')
