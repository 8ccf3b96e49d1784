"""The VIBE-style baseline: shapes, left hands as mirrors, the root depth."""

import pytest
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


def test_pooling_and_regressor_options():
    torch.manual_seed(0)
    x, K = frames(4).reshape(1, 4, 3, S, S), crop_K((1, 4))
    for kw in ({"pool": "flatten", "pool_channels": 4}, {"regressor_iterations": 1}):
        m = VibeBaseline(tiny_vibe_config(**kw)).eval()
        out = m(x, K, torch.full((1, 4), 0.5))
        assert tuple(out.joints_rel.shape) == (1, 4, 21, 3) and torch.isfinite(out.vertices).all()
    flat = VibeBaseline(tiny_vibe_config(pool="flatten", pool_channels=4))
    g = S // 8
    assert flat.project[1].in_features == 4 * g * g  # the whole token map, not its mean
    with pytest.raises(ValueError, match="pool"):
        tiny_vibe_config(pool="max")


def test_left_hand_is_the_mirror_of_the_right():
    torch.manual_seed(0)
    m = VibeBaseline(tiny_vibe_config()).eval()
    x, K = frames(2).reshape(1, 2, 3, S, S), crop_K((1, 2))
    r = m(x, K, side=torch.tensor([0]))
    left = m(x, K, side=torch.tensor([1]))
    mirror = torch.tensor([-1.0, 1.0, 1.0])
    assert torch.allclose(left.joints_rel, r.joints_rel * mirror, atol=1e-6)
    assert torch.allclose(left.vertices_rel, r.vertices_rel * mirror, atol=1e-6)
