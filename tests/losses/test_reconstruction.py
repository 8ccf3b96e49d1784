"""Reconstruction and teacher losses: smooth-L1 values, weights, motion targets."""

import pytest
import torch

from handpose.losses import (
    AuxiliaryConfig,
    ReconstructionConfig,
    TeacherLossConfig,
    auxiliary_loss,
    joint_acceleration,
    joint_velocity,
    reconstruction_loss,
    teacher_loss,
)
from handpose.models.mgdhand.outputs import MGDHandOutput


def output(joints, rotmats, betas, vertices=None, aux=None):
    return MGDHandOutput(
        rotmats=rotmats,
        pose6d=rotmats[..., :2, :].flatten(-2),
        betas=betas,
        joints=joints,
        vertices=vertices,
        features=torch.zeros(*joints.shape[:2], 16, 4),
        aux=aux or {},
    )


def gt(b=2, t=5, v=9):
    g = torch.Generator().manual_seed(0)
    return {
        "joints": 0.05 * torch.randn(b, t, 21, 3, generator=g),
        "rotmats": torch.eye(3).expand(b, t, 16, 3, 3).clone(),
        "betas": torch.randn(b, 10, generator=g),
        "vertices": 0.05 * torch.randn(b, t, v, 3, generator=g),
    }


def test_zero_at_ground_truth():
    y = gt()
    terms = reconstruction_loss(output(**y), **y)
    assert set(terms) == {"joints", "pose", "betas", "vertices", "recon"}
    assert all(v.item() == 0 for v in terms.values())


def test_hand_computed_smooth_l1_and_weights():
    y = gt()
    pred = {k: v.clone() for k, v in y.items()}
    pred["joints"][..., 0] += 0.02  # x off by 2 cm: beyond the 1 cm threshold → |x| − β/2
    pred["vertices"][..., 1] += 0.004  # 4 mm: inside → 0.5 x² / β
    pred["betas"] += 1.0
    cfg = ReconstructionConfig(joints=2.0, vertices=3.0, pose=5.0, betas=7.0)
    terms = reconstruction_loss(output(**pred), **y, config=cfg)
    assert terms["joints"].item() == pytest.approx((0.02 - 0.005) / 3, rel=1e-4)
    assert terms["vertices"].item() == pytest.approx(0.5 * 0.004**2 / 0.01 / 3, rel=1e-4)
    assert terms["betas"].item() == pytest.approx(1.0 - 0.05, rel=1e-5)
    assert terms["pose"].item() == 0
    expected = 2 * terms["joints"] + 3 * terms["vertices"] + 7 * terms["betas"]
    assert terms["recon"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_vertices_skipped_without_ground_truth_mesh():
    y = gt()
    terms = reconstruction_loss(output(**y), y["joints"], y["rotmats"], y["betas"], None)
    assert "vertices" not in terms


def test_rotation_term_compares_matrices_not_6d_codes():
    y = gt()
    out = output(**y)
    out.pose6d = 3.0 * out.pose6d  # another 6D code of the same rotations
    assert reconstruction_loss(out, **y)["pose"].item() == 0


def test_config_rejects_negative_weights():
    with pytest.raises(ValueError):
        ReconstructionConfig(joints=-1.0)
    with pytest.raises(ValueError, match="vertex_stride"):
        ReconstructionConfig(vertex_stride=0)
    with pytest.raises(ValueError):
        AuxiliaryConfig(fps=0.0)


def test_velocity_and_acceleration_of_a_parabola():
    fps = 30.0
    t = torch.arange(6, dtype=torch.float64) / fps
    a, v0 = 2.0, 0.3  # m/s², m/s
    x = v0 * t + 0.5 * a * t**2
    joints = torch.zeros(1, 6, 21, 3, dtype=torch.float64)
    joints[..., 0] = x[None, :, None]
    vel = joint_velocity(joints, fps)
    acc = joint_acceleration(joints, fps)
    assert vel.shape == (1, 5, 21, 3) and acc.shape == (1, 4, 21, 3)
    # Backward difference at frame k (1..5) = v at the midpoint (k − ½)/fps.
    mid = (torch.arange(1, 6, dtype=torch.float64) - 0.5) / fps
    assert torch.allclose(vel[0, :, 0, 0], v0 + a * mid)
    assert torch.allclose(acc[..., 0], torch.full((1, 4, 21), a, dtype=torch.float64))
    assert torch.all(acc[..., 1:] == 0)


def test_auxiliary_loss_is_zero_on_exact_targets_and_aligned_in_time():
    y = gt(t=6)
    fps = 30.0
    vel = torch.zeros(2, 6, 21, 3)
    acc = torch.zeros(2, 6, 21, 3)
    vel[:, 1:] = joint_velocity(y["joints"], fps)
    acc[:, 1:-1] = joint_acceleration(y["joints"], fps)
    vel[:, 0] = 99.0  # frames without a target are ignored
    acc[:, [0, -1]] = 99.0
    aux = {"betas": y["betas"], "rotmats": y["rotmats"], "velocity": vel, "acceleration": acc}
    terms = auxiliary_loss(output(**y, aux=aux), y["joints"], y["rotmats"], y["betas"])
    assert all(v.item() == pytest.approx(0.0, abs=1e-7) for v in terms.values())
    aux["velocity"] = vel + 1.0
    terms = auxiliary_loss(output(**y, aux=aux), y["joints"], y["rotmats"], y["betas"])
    assert terms["aux_velocity"].item() == pytest.approx(1.0 - 0.05, rel=1e-5)
    assert terms["aux"].item() == pytest.approx(terms["aux_velocity"].item(), rel=1e-6)


def test_teacher_loss_adds_reconstruction_and_auxiliary():
    y = gt(t=2)  # too short for acceleration
    aux = {
        "betas": y["betas"] + 1.0,
        "rotmats": y["rotmats"],
        "velocity": torch.zeros(2, 2, 21, 3),
        "acceleration": torch.zeros(2, 2, 21, 3),
    }
    pred = output(y["joints"] + 0.02, y["rotmats"], y["betas"], y["vertices"], aux)
    terms = teacher_loss(pred, **y, config=TeacherLossConfig())
    assert "aux_acceleration" not in terms and "aux_velocity" in terms
    assert terms["loss"].item() == pytest.approx((terms["recon"] + terms["aux"]).item())
    assert terms["aux"].item() > 0 and terms["recon"].item() > 0
