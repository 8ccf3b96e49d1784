"""DIR's evaluator: the interhand protocol on DIR outputs, the offset head's MRRPE, and
penetration of the offset-placed prediction."""

import numpy as np
import pytest
import torch

from handpose.handmodel import HandModel
from handpose.models.dir.evaluation import DIREvaluator, offset_placed_vertices
from handpose.models.dir.network import DIROutput


@pytest.fixture(scope="module")
def scene():
    """Two frames, the hands 16 cm apart along y (no contact), camera frame, with a crop K."""
    right, left = HandModel("open", side="right"), HandModel("open", side="left")
    g = torch.Generator().manual_seed(0)
    B = 2
    pose = 0.2 * torch.randn(B, 45, generator=g)
    hr = right(hand_pose=pose, transl=torch.tensor([[0.0, 0.08, 0.5]] * B))
    hl = left(hand_pose=pose * torch.tensor([1.0, -1.0, -1.0]).repeat(15),
              transl=torch.tensor([[0.0, -0.08, 0.5]] * B))  # fmt: skip
    K = torch.tensor([[300.0, 0, 63.5], [0, 300, 63.5], [0, 0, 1]]).expand(B, 3, 3)
    batch = {
        "joints3d": torch.stack([hr.joints21, hl.joints21], 1),
        "vertices": torch.stack([hr.vertices, hl.vertices], 1),
        "joint_valid": torch.ones(B, 2, 21, dtype=torch.bool),
        "hand_valid": torch.ones(B, 2, dtype=torch.bool),
        "interacting": torch.ones(B, dtype=torch.bool),
        "K": K,
    }
    return batch, (right.faces, left.faces)


def _output(joints3d, vertices, offset) -> DIROutput:
    B = joints3d.shape[0]
    z = torch.zeros(B, 2, 3)
    return DIROutput(
        estimates=[], segmentation=None, dense=None, image_size=128,
        joints2d=torch.zeros(B, 2, 21, 2), offset=offset, mano_global_orient=z,
        mano_hand_pose=torch.zeros(B, 2, 45), mano_betas=torch.zeros(B, 2, 10),
        joints3d=joints3d, vertices=vertices, mano_transl=z,
    )  # fmt: skip


def test_perfect_prediction(scene):
    batch, faces = scene
    j, v = batch["joints3d"], batch["vertices"]
    ev = DIREvaluator(faces=faces, penetration_frames=None)
    ev.update(_output(j, v, j[:, 0, 0] - j[:, 1, 0]), batch)
    r = ev.compute()
    for k in ("mpjpe_ih", "mpvpe_all", "mrrpe", "mrrpe_offset", "mesh_reprojection_px"):
        assert r[k] == pytest.approx(0.0, abs=1e-3), k
    assert r["penetration_max_depth"] == 0.0 and r["penetration_max_depth_gt"] == 0.0
    assert r.counts["penetration frames"] == 2
    assert r.headline[:3] == ["mpjpe_sh", "mpjpe_ih", "mpjpe_all"]


def test_offset_head_error_and_penetration(scene):
    batch, faces = scene
    j, v = batch["joints3d"], batch["vertices"]
    # the offset head puts the left hand over the right one: 8 cm along −x, 16 cm along y
    gt_off = j[:, 0, 0] - j[:, 1, 0]
    off = gt_off - torch.tensor([-0.08, 0.16, 0.0])
    out = _output(j, v, off)
    placed = offset_placed_vertices(out)
    np.testing.assert_allclose(
        (placed[:, 1] - v[:, 1]).numpy(), np.broadcast_to([-0.08, 0.16, 0.0], placed[:, 1].shape),
        atol=1e-6,
    )  # fmt: skip
    np.testing.assert_allclose(placed[:, 0].numpy(), v[:, 0].numpy())
    ev = DIREvaluator(faces=faces, penetration_frames=1)
    ev.update(out, batch)
    r = ev.compute()
    assert r["mrrpe_offset"] == pytest.approx(1000 * np.hypot(0.08, 0.16), rel=1e-4)
    assert r["mrrpe"] == pytest.approx(0.0, abs=1e-3)  # the per-hand cameras are right
    assert r["penetration_max_depth"] > 5.0 and r["penetration_inside_fraction"] > 0.01  # mm
    assert r["penetration_max_depth_gt"] == 0.0 and r.counts["penetration frames"] == 1
    # no faces: no penetration keys; single-hand frames give no MRRPE
    sh = {**batch, "interacting": torch.zeros(2, dtype=torch.bool)}
    ev = DIREvaluator(faces=None)
    ev.update(out, sh)
    r = ev.compute()
    assert r["mrrpe_offset"] is None and "penetration_max_depth" not in r.metrics
