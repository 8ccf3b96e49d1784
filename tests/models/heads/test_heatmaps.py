"""Gaussian targets and soft-argmax against naive loops; conventions pinned by hand; the heads."""

import math

import pytest
import torch

from handpose.errors import HandposeError
from handpose.models.heads import (
    HeatmapHead2D,
    HeatmapHead25D,
    bins_to_depth,
    depth_to_bins,
    gaussian_heatmaps,
    gaussian_heatmaps_3d,
    heatmap_to_image,
    image_to_heatmap,
    soft_argmax_2d,
    soft_argmax_25d,
)

D64 = torch.float64


def naive_gaussian_2d(points, h, w, sigma):
    out = torch.zeros(points.shape[0], h, w, dtype=points.dtype)
    for j, (x, y) in enumerate(points.tolist()):
        for i in range(h):
            for k in range(w):
                out[j, i, k] = math.exp(-((k - x) ** 2 + (i - y) ** 2) / (2 * sigma**2))
    return out


def naive_gaussian_3d(points, d, h, w, sigma, sigma_z):
    out = torch.zeros(points.shape[0], d, h, w, dtype=points.dtype)
    for j, (x, y, z) in enumerate(points.tolist()):
        for a in range(d):
            for i in range(h):
                for k in range(w):
                    e = ((k - x) ** 2 + (i - y) ** 2) / (2 * sigma**2) + (a - z) ** 2 / (
                        2 * sigma_z**2
                    )
                    out[j, a, i, k] = math.exp(-e)
    return out


def naive_soft_argmax(logits, temperature):
    """logits (J, *grid): expectation of each grid index under softmax(logits / T)."""
    out = []
    for lj in logits:
        flat = [(float(v) / temperature, idx) for idx, v in _cells(lj)]
        m = max(v for v, _ in flat)
        weights = [(math.exp(v - m), idx) for v, idx in flat]
        total = sum(wt for wt, _ in weights)
        coords = [sum(wt * idx[a] for wt, idx in weights) / total for a in range(lj.ndim)]
        out.append(coords[::-1])  # grid order (…, y, x) → (x, y, …)
    return torch.tensor(out, dtype=logits.dtype)


def _cells(t):
    for idx in (
        torch.cartesian_prod(*[torch.arange(n) for n in t.shape]).reshape(-1, t.ndim).tolist()
    ):
        yield tuple(idx), t[tuple(idx)]


def test_conventions_pinned():
    # stride 4: heatmap cell 0 covers image pixels 0..3, centre 1.5; cell 2 → 9.5
    xy = torch.tensor([[0.0, 2.0]])
    torch.testing.assert_close(heatmap_to_image(xy, 4), torch.tensor([[1.5, 9.5]]))
    torch.testing.assert_close(image_to_heatmap(heatmap_to_image(xy, 4), 4), xy)
    # D = 8 bins over R = 0.2 m: bin 0 centre −87.5 mm, bin 7 +87.5 mm, edges ±100 mm
    z = bins_to_depth(torch.tensor([0.0, 7.0, -0.5, 7.5]), 8, 0.2)
    torch.testing.assert_close(z, torch.tensor([-0.0875, 0.0875, -0.1, 0.1]))
    torch.testing.assert_close(depth_to_bins(z, 8, 0.2), torch.tensor([0.0, 7.0, -0.5, 7.5]))


def test_gaussian_targets_match_naive_loops():
    torch.manual_seed(0)
    pts = torch.rand(3, 2, dtype=D64) * torch.tensor([9.0, 6.0], dtype=D64)
    torch.testing.assert_close(
        gaussian_heatmaps(pts, (7, 10), 1.5), naive_gaussian_2d(pts, 7, 10, 1.5)
    )
    pts3 = torch.cat([pts, torch.rand(3, 1, dtype=D64) * 4], dim=1)
    torch.testing.assert_close(
        gaussian_heatmaps_3d(pts3, (5, 7, 10), 1.5, sigma_z=0.8),
        naive_gaussian_3d(pts3, 5, 7, 10, 1.5, 0.8),
    )
    # hand-computed: peak 1 at the point, exp(−½) one σ away, batch dims kept
    hm = gaussian_heatmaps(torch.tensor([[[2.0, 1.0]]]), (3, 5), sigma=1.0)
    assert hm.shape == (1, 1, 3, 5)
    assert float(hm[0, 0, 1, 2]) == 1.0
    assert math.isclose(float(hm[0, 0, 1, 3]), math.exp(-0.5), rel_tol=1e-6)
    assert math.isclose(float(hm[0, 0, 0, 3]), math.exp(-1.0), rel_tol=1e-6)
    valid = torch.tensor([True, False, True])
    masked = gaussian_heatmaps_3d(pts3, (5, 7, 10), 1.5, valid=valid)
    assert masked[1].abs().max() == 0 and masked[0].max() > 0.5


@pytest.mark.parametrize("temperature", [1.0, 0.3])
def test_soft_argmax_matches_naive(temperature):
    torch.manual_seed(1)
    logits = torch.randn(3, 5, 6, dtype=D64) * 3
    torch.testing.assert_close(
        soft_argmax_2d(logits, temperature), naive_soft_argmax(logits, temperature)
    )
    vol = torch.randn(2, 4, 5, 6, dtype=D64) * 3
    torch.testing.assert_close(
        soft_argmax_25d(vol, temperature), naive_soft_argmax(vol, temperature)
    )


def test_soft_argmax_hand_computed_and_marginal_form():
    # two cells with probabilities ¼ and ¾: x = 0.75
    logits = torch.tensor([[[0.0, math.log(3.0)]]])
    torch.testing.assert_close(soft_argmax_2d(logits), torch.tensor([[0.75, 0.0]]))
    # temperature ½ squares the odds: p = 1/10, 9/10 → x = 0.9
    torch.testing.assert_close(soft_argmax_2d(logits, 0.5), torch.tensor([[0.9, 0.0]]))
    # EHPE's code: xy from the softmax of the depth-marginal (logsumexp over D), z from the
    # softmax of the spatial marginal: equal to the joint softmax at T = 1
    torch.manual_seed(2)
    vol = torch.randn(3, 4, 5, 6, dtype=D64)
    pxy = torch.softmax(torch.logsumexp(vol, dim=1).flatten(1), -1).reshape(3, 5, 6)
    pz = torch.softmax(torch.logsumexp(vol, dim=(2, 3)), -1)
    x = (pxy.sum(1) * torch.arange(6, dtype=D64)).sum(-1)
    y = (pxy.sum(2) * torch.arange(5, dtype=D64)).sum(-1)
    z = (pz * torch.arange(4, dtype=D64)).sum(-1)
    torch.testing.assert_close(soft_argmax_25d(vol), torch.stack([x, y, z], -1))
    # logits = log of a Gaussian target (softmax = the sampled Gaussian) decode to its sub-cell
    # centre, away from the borders
    pts = torch.tensor([[5.3, 4.6, 3.4]], dtype=D64)
    log_target = gaussian_heatmaps_3d(pts, (8, 10, 12), sigma=0.8).log()
    torch.testing.assert_close(soft_argmax_25d(log_target), pts, atol=1e-3, rtol=0)


def test_soft_argmax_gradcheck_and_errors():
    torch.manual_seed(3)
    vol = torch.randn(2, 3, 4, 5, dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: soft_argmax_25d(v, 0.7), (vol,))
    hm = torch.randn(2, 4, 5, dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: soft_argmax_2d(v, 1.3), (hm,))
    with pytest.raises(HandposeError, match="temperature"):
        soft_argmax_2d(hm, 0.0)
    with pytest.raises(HandposeError, match=r"\(\.\.\., J, D, H, W\)"):
        soft_argmax_25d(torch.zeros(3, 4, 5))
    with pytest.raises(HandposeError, match=r"\(\.\.\., J, 2\)"):
        gaussian_heatmaps(torch.zeros(3, 3), (4, 4))


def test_heads_shapes_strides_and_decoding():
    torch.manual_seed(4)
    feats = torch.randn(2, 16, 4, 4)
    h2 = HeatmapHead2D(16, 6, in_stride=32, num_deconv=3, hidden=8)
    out = h2(feats)
    assert out.logits.shape == (2, 6, 32, 32) and h2.out_stride == 4.0
    torch.testing.assert_close(out.uv, heatmap_to_image(soft_argmax_2d(out.logits), 4.0))
    h25 = HeatmapHead25D(
        16, 21, in_stride=32, num_deconv=2, hidden=8, depth_bins=8, depth_range=0.2
    )
    out = h25(feats)
    assert out.logits.shape == (2, 21, 8, 16, 16) and h25.out_stride == 8.0
    xyz = soft_argmax_25d(out.logits)
    torch.testing.assert_close(out.uv, heatmap_to_image(xyz[..., :2], 8.0))
    torch.testing.assert_close(out.z, bins_to_depth(xyz[..., 2], 8, 0.2))
    # at initialisation the volume is nearly flat: the image centre and zero depth
    torch.testing.assert_close(out.uv, torch.full_like(out.uv, 63.5), atol=0.5, rtol=0)
    torch.testing.assert_close(out.z, torch.zeros_like(out.z), atol=2e-3, rtol=0)
    head0 = HeatmapHead2D(16, 3, in_stride=4, num_deconv=0).double()
    assert head0(feats.double()).logits.dtype == D64
    with pytest.raises(HandposeError, match="one \\(B, C, h, w\\) feature map"):
        h2([feats])


def test_head_learns_a_target_point():
    """A few Adam steps move the decoded (u, v, z) of a fixed input onto a target."""
    torch.manual_seed(5)
    head = HeatmapHead25D(8, 2, in_stride=16, num_deconv=1, hidden=8, depth_bins=4, depth_range=0.2)
    feats = torch.randn(1, 8, 4, 4)
    target_uv = torch.tensor([[[20.0, 40.0], [45.0, 12.0]]])
    target_z = torch.tensor([[0.03, -0.05]])
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    for _ in range(200):
        out = head(feats)
        loss = (out.uv - target_uv).abs().mean() + 100 * (out.z - target_z).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = head(feats)
    assert (out.uv - target_uv).abs().max() < 1.5  # from ≥ 11 px at initialisation
    assert (out.z - target_z).abs().max() < 0.005  # from 30–50 mm
