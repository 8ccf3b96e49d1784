"""Eq. 4–5 and the three explicit plane projections (EG3D's code never uses the yz plane)."""

import math

import pytest
import torch

from handpose.models.pgte.triplane import (
    TriplaneEncoder,
    plane_cell_coords,
    plane_heatmaps,
    project_to_plane,
    sample_plane,
    splat_features,
)


def test_projections_hand_computed():
    p = torch.tensor([[0.5, -0.5, 0.25]])
    assert project_to_plane(p, "xy").tolist() == [[0.5, -0.5]]
    assert project_to_plane(p, "xz").tolist() == [[0.5, 0.25]]
    assert project_to_plane(p, "yz").tolist() == [[-0.5, 0.25]]  # EG3D yields (z, x) here


def test_cell_coords_convention():
    # R = 4 cells over [−1, 1]: centres at −0.75, −0.25, 0.25, 0.75 → cells 0 … 3
    n = torch.tensor([[-0.75, 0.75], [-1.0, 1.0]])
    assert torch.allclose(plane_cell_coords(n, 4), torch.tensor([[0.0, 3.0], [-0.5, 3.5]]))


def test_eq_4_hand_computed():
    # R = 2, K = 1, the joint at cell (row 0, column 0): distances 0, 1 (two cells), √2;
    # logits (K − d)/K = 1, 0, 0, 1 − √2
    coords = torch.tensor([[[-0.5, -0.5]]], dtype=torch.float64)
    H = plane_heatmaps(coords, size=2, spread=1.0)[0, 0]
    e = [math.e, 1.0, 1.0, math.exp(1 - math.sqrt(2))]
    total = sum(e)
    expect = torch.tensor([[e[0], e[1]], [e[2], e[3]]], dtype=torch.float64) / total
    assert torch.allclose(H, expect, atol=1e-9)


def test_eq_5_hand_computed():
    H = torch.zeros(1, 2, 2, 2)
    H[0, 0, 0, 0], H[0, 0, 1, 1] = 0.75, 0.25  # joint 0
    H[0, 1, 0, 1] = 1.0  # joint 1
    J = torch.tensor([[[1.0, 2.0], [10.0, 20.0]]])  # (B, J, C)
    F = splat_features(H, J)  # (1, C, 2, 2)
    assert torch.allclose(F[0, 0], torch.tensor([[0.75, 10.0], [0.0, 0.25]]))
    assert torch.allclose(F[0, 1], torch.tensor([[1.5, 20.0], [0.0, 0.5]]))


def _peak(plane: torch.Tensor) -> tuple[int, int]:
    i = int(plane[0, 0].argmax())
    return divmod(i, plane.shape[-1])  # (row, column)


def test_each_plane_peaks_at_its_own_projection():
    """A joint at (x, y, z) = cells (1, 5, 3) of R = 8: the xy plane peaks at row 5 column 1,
    xz at row 3 column 1, yz at row 3 column 5 (the swapped EG3D planes would not)."""
    R = 8
    cell = torch.tensor([1.0, 5.0, 3.0])
    p = ((2 * cell + 1) / R - 1)[None, None]  # (1, 1, 3)
    enc = TriplaneEncoder(1, size=R, spread=0.5, convs=0)
    planes = enc.planes(torch.ones(1, 1, 1), p)
    assert _peak(planes["xy"]) == (5, 1)
    assert _peak(planes["xz"]) == (3, 1)
    assert _peak(planes["yz"]) == (3, 5)


def test_sample_plane_reads_cell_values_at_centres():
    plane = torch.arange(16.0).reshape(1, 1, 4, 4)
    # cell (row 2, column 1) is centred at normalised (2·1 + 1)/4 − 1, (2·2 + 1)/4 − 1
    q = torch.tensor([[[-0.25, 0.25], [0.75, -0.75]]])
    assert torch.allclose(sample_plane(plane, q)[0, :, 0], torch.tensor([9.0, 3.0]))


def test_single_plane_ignores_depth_and_triplane_does_not():
    torch.manual_seed(0)
    J = torch.randn(1, 21, 4)
    pts = torch.rand(1, 21, 3) * 1.6 - 0.8
    q = torch.rand(1, 10, 3) * 1.6 - 0.8
    q2 = q.clone()
    q2[..., 2] += 0.3
    single = TriplaneEncoder(4, size=8, planes="single", convs=1)
    tri = TriplaneEncoder(4, size=8, planes="tri", convs=1)
    assert torch.allclose(single(J, pts, q), single(J, pts, q2))
    assert not torch.allclose(tri(J, pts, q), tri(J, pts, q2))


@pytest.mark.parametrize("aggregate,dim", [("sum", 4), ("mean", 4), ("concat", 12)])
def test_aggregation(aggregate, dim):
    enc = TriplaneEncoder(4, size=8, convs=0, aggregate=aggregate)
    out = enc(torch.randn(2, 21, 4), torch.zeros(2, 21, 3), torch.zeros(2, 7, 3))
    assert tuple(out.shape) == (2, 7, dim) and enc.out_dim == dim


def test_plane_convs_are_optional():
    assert len(TriplaneEncoder(4, convs=0).convs["xy"]) == 0
    assert len(TriplaneEncoder(4, convs=2).convs["yz"]) == 2
