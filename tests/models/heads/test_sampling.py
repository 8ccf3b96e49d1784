"""Feature sampling at image points against a naive bilinear loop; the pixel convention."""

import math

import pytest
import torch

from handpose.errors import HandposeError
from handpose.models.heads import points_to_grid, sample_points

D64 = torch.float64


def naive_sample(features, points, stride, padding_mode):
    """Bilinear interpolation written out: feature coordinate x_f = (u + ½)/s − ½; the four
    neighbouring cells, 0 outside the map ("zeros") or the point clamped onto the outermost
    cell centres ("border")."""
    b, c, h, w = features.shape
    out = torch.zeros(b, points.shape[1], c, dtype=features.dtype)
    for i in range(b):
        for n, (u, v) in enumerate(points[i].tolist()):
            x = (u + 0.5) / stride - 0.5
            y = (v + 0.5) / stride - 0.5
            if padding_mode == "border":
                x = min(max(x, 0.0), w - 1.0)
                y = min(max(y, 0.0), h - 1.0)
            x0, y0 = math.floor(x), math.floor(y)
            for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
                for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
                    if 0 <= xx < w and 0 <= yy < h:
                        out[i, n] += wy * wx * features[i, :, yy, xx]
    return out


@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
@pytest.mark.parametrize("stride", [4, 2.5])
def test_matches_naive_bilinear(padding_mode, stride):
    torch.manual_seed(0)
    feats = torch.randn(2, 3, 5, 7, dtype=D64)
    # points inside, on the image border and outside it
    pts = (
        torch.rand(2, 9, 2, dtype=D64) * torch.tensor([7 * stride + 6, 5 * stride + 6], dtype=D64)
        - 3
    )
    got = sample_points(feats, pts, stride, padding_mode)
    torch.testing.assert_close(got, naive_sample(feats, pts, stride, padding_mode))


@pytest.mark.parametrize("stride", [1, 4, 8, 2.5])
def test_pixel_convention_is_the_same_on_every_level(stride):
    """A map whose cells hold the image x of their centres, (j + ½)·s − ½, returns u itself at
    any point between the outermost centres: the normalisation is stride-independent."""
    w = 6
    centres = (torch.arange(w, dtype=D64) + 0.5) * stride - 0.5
    feats = centres.expand(1, 1, 3, w).clone()
    lo, hi = float(centres[0]), float(centres[-1])
    u = torch.linspace(lo, hi, 11, dtype=D64)
    pts = torch.stack([u, torch.full_like(u, 1.5 * stride - 0.5)], -1)[None]
    torch.testing.assert_close(sample_points(feats, pts, stride)[0, :, 0], u)
    # normalised coordinates: −1 / +1 are the image edges −½ and W − ½
    edges = torch.tensor([[-0.5, -0.5], [w * stride - 0.5, 3 * stride - 0.5]], dtype=D64)
    torch.testing.assert_close(
        points_to_grid(edges, (3 * stride, w * stride)),
        torch.tensor([[-1.0, -1.0], [1.0, 1.0]], dtype=D64),
    )


def test_gradients_and_dtypes():
    torch.manual_seed(1)
    feats = torch.randn(1, 2, 4, 5, dtype=D64, requires_grad=True)
    pts = (torch.rand(1, 3, 2, dtype=D64) * 12 + 2).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f, p: sample_points(f, p, 3.0), (feats, pts))
    out = sample_points(feats.float().detach(), pts.detach(), 3.0)
    assert out.dtype == torch.float32 and out.shape == (1, 3, 2)


def test_bad_inputs():
    f = torch.zeros(2, 3, 4, 4)
    with pytest.raises(HandposeError, match="features"):
        sample_points(f[0], torch.zeros(2, 1, 2), 4)
    with pytest.raises(HandposeError, match="points"):
        sample_points(f, torch.zeros(2, 1, 3), 4)
    with pytest.raises(HandposeError, match="batch sizes"):
        sample_points(f, torch.zeros(3, 1, 2), 4)
    with pytest.raises(HandposeError, match="padding_mode"):
        sample_points(f, torch.zeros(2, 1, 2), 4, "reflection")
