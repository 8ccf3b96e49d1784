"""The VIBE-style baseline: shapes, left hands as mirrors, the root depth."""

import torch

from handpose.models.pgte import VibeBaseline

from .tiny import S, crop_K, frames, tiny_vibe_config


def test_shapes_and_root_depth():
    torch.manual_seed(0)
    m = VibeBaseline(tiny_vibe_config()).eval()
    out = m(frames(6).reshape(2, 3, 3, S, S), crop_K((2, 3)), torch.full((2, 3), 0.5))
    assert tuple(out.vertices.shape) == (2, 3, m.num_vertices, 3)
    assert tuple(out.joints2d.shape) == (2, 3, 21, 2)
    assert torch.allclose(out.joints3d[..., 0, 2], torch.full((2, 3), 0.5), atol=1e-6)
    assert torch.allclose(out.joints_rel[..., 0, :], torch.zeros(2, 3, 3))
    free = m(frames(2).reshape(1, 2, 3, S, S), crop_K((1, 2)))
    assert torch.isfinite(free.vertices).all()


def test_left_hand_is_the_mirror_of_the_right():
    torch.manual_seed(0)
    m = VibeBaseline(tiny_vibe_config()).eval()
    x, K = frames(2).reshape(1, 2, 3, S, S), crop_K((1, 2))
    r = m(x, K, side=torch.tensor([0]))
    left = m(x, K, side=torch.tensor([1]))
    mirror = torch.tensor([-1.0, 1.0, 1.0])
    assert torch.allclose(left.joints_rel, r.joints_rel * mirror, atol=1e-6)
    assert torch.allclose(left.vertices_rel, r.vertices_rel * mirror, atol=1e-6)
