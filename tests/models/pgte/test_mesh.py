"""Eq. 1–3: per-vertex 2.5D heatmaps, back-projection, the joint regressor."""

import math

import pytest
import torch

from handpose.handmodel import HandModel
from handpose.models.pgte.mesh import (
    from_normalized,
    heatmap_uvz,
    openpose_regressor,
    to_normalized,
    vertex_joint_weights,
    vertices_from_uvz,
)


def naive_uvz(logits, depth):
    """Eq. 1–2 with explicit loops over cells."""
    N, h, w = logits.shape
    xy = torch.zeros(N, 2, dtype=logits.dtype)
    z = torch.zeros(N, dtype=logits.dtype)
    for k in range(N):
        total = sum(math.exp(float(logits[k, i, j])) for i in range(h) for j in range(w))
        for i in range(h):
            for j in range(w):
                p = math.exp(float(logits[k, i, j])) / total
                xy[k, 0] += p * j
                xy[k, 1] += p * i
                z[k] += p * float(depth[k, i, j])
    return xy, z


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_eq_1_2_against_naive_loop(dtype):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 4, 6, generator=g).to(dtype) * 2
    depth = torch.randn(5, 4, 6, generator=g).to(dtype)
    xy, z = heatmap_uvz(logits, depth)
    nxy, nz = naive_uvz(logits.double(), depth.double())
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.allclose(xy.double(), nxy, atol=tol)
    assert torch.allclose(z.double(), nz, atol=tol)
    assert xy.dtype == dtype


def test_eq_1_2_hand_computed():
    # two equal peaks at (x=1, y=0) and (x=3, y=2): the soft-argmax is their midpoint, the
    # depth the mean of the two depths there
    logits = torch.full((1, 3, 4), -1e4)
    logits[0, 0, 1] = logits[0, 2, 3] = 0.0
    depth = torch.zeros(1, 3, 4)
    depth[0, 0, 1], depth[0, 2, 3] = 0.1, 0.3
    xy, z = heatmap_uvz(logits, depth)
    assert torch.allclose(xy, torch.tensor([[2.0, 1.0]]))
    assert torch.allclose(z, torch.tensor([0.2]))


def test_eq_1_2_gradcheck():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    depth = torch.randn(2, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: heatmap_uvz(a, b, 0.7), (logits, depth))


def test_eq_3_hand_computed():
    K = torch.tensor([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]], dtype=torch.float64)
    uv = torch.tensor([[420.0, 190.0], [320.0, 240.0]], dtype=torch.float64)
    z_rel = torch.tensor([0.1, -0.02], dtype=torch.float64)
    # (z_rel + z_root)·K⁻¹(u, v, 1): z = 0.5 → ((420−320)/500·0.5, (190−240)/500·0.5, 0.5)
    out = vertices_from_uvz(uv, z_rel, torch.tensor(0.4, dtype=torch.float64), K)
    assert torch.allclose(
        out, torch.tensor([[0.1, -0.05, 0.5], [0.0, 0.0, 0.38]], dtype=torch.float64)
    )


def test_eq_3_matches_the_geometry_module_with_skew():
    from handpose.geometry.camera import uvz_to_xyz

    g = torch.Generator().manual_seed(2)
    K = torch.tensor([[410.0, 3.0, 30], [0, 395, 22], [0, 0, 1]], dtype=torch.float64).expand(
        2, 3, 3
    )
    uv = torch.rand(2, 5, 2, generator=g, dtype=torch.float64) * 60
    z = torch.rand(2, 5, generator=g, dtype=torch.float64) * 0.1
    zr = torch.tensor([0.4, 0.7], dtype=torch.float64)
    assert torch.allclose(vertices_from_uvz(uv, z, zr, K), uvz_to_xyz(uv, z, zr, K))


def test_eq_3_gradcheck():
    K = torch.tensor([[400.0, 0, 30], [0, 420, 20], [0, 0, 1]], dtype=torch.float64)
    uv = torch.rand(1, 4, 2, dtype=torch.float64, requires_grad=True)
    z = torch.rand(1, 4, dtype=torch.float64, requires_grad=True)
    zr = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: vertices_from_uvz(a, b, c, K), (uv, z, zr))


def test_normalized_frame_round_trip_and_convention():
    xy = torch.tensor([[0.0, 0.0], [15.0, 7.0]])
    z = torch.tensor([0.15, -0.075])
    p = to_normalized(xy, z, (8, 16), 0.15)
    # cell 0 of 16 is centred at (2·0 + 1)/16 − 1; the last cell at 1 − 1/16
    assert torch.allclose(p, torch.tensor([[-15 / 16, -7 / 8, 1.0], [15 / 16, 7 / 8, -0.5]]))
    bxy, bz = from_normalized(p, (8, 16), 0.15)
    assert torch.allclose(bxy, xy) and torch.allclose(bz, z)


def test_regressor_open_model():
    hand = HandModel("open")
    R = openpose_regressor(hand)
    assert tuple(R.shape) == (21, hand.num_vertices)
    assert torch.allclose(R.sum(1), torch.ones(21, dtype=torch.float64))
    # fingertips are vertices: OpenPose 4, 8, 12, 16, 20 = thumb, index, middle, ring, pinky
    for row, tip in zip((4, 8, 12, 16, 20), hand.tip_ids.tolist(), strict=True):
        assert R[row, tip] == 1.0
    out = hand(hand_pose=0.3 * torch.randn(1, 45, generator=torch.Generator().manual_seed(0)))
    err = (R.float() @ out.vertices[0] - out.joints21[0]).norm(dim=-1)
    assert float(err.max()) < 3e-3  # regressed joints of a posed mesh lie within 3 mm


def test_vertex_joint_weights_rows_sum_to_one():
    W = vertex_joint_weights(HandModel("open"))
    assert torch.allclose(W.sum(1), torch.ones(W.shape[0], dtype=torch.float64))
    assert (W >= 0).all()
