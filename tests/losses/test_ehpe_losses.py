"""EHPE losses: eq. 1 targets at h/4 × w/4, eq. 3–5, eq. 12–13 against hand computations."""

import math

import torch

from handpose.losses.ehpe import (
    EHPELossConfig,
    edge_loss,
    euclidean_distance_loss,
    heatmap_loss,
    heatmap_targets,
    joint_targets,
    pg_loss,
    position_loss,
    tw_loss,
    weight_l1,
)
from handpose.models.ehpe import EHPE
from handpose.models.ehpe.spi import hop_neighbourhood, skeleton_adjacency
from tests.models.ehpe.helpers import tiny


def test_heatmap_targets_live_on_the_quarter_resolution_grid():
    # a 64 px input → 16 × 16 heatmaps; image pixel u ↦ cell (u + ½)/4 − ½
    joints2d = torch.tensor([[[25.5, 37.5]]])  # → cell (6, 9)
    joints3d = torch.tensor([[[0.0, 0.0, 0.5]]])
    t = joint_targets(joints2d.expand(1, 21, 2), joints3d.expand(1, 21, 3), 4, 8, 0.2)
    torch.testing.assert_close(t[0, 0], torch.tensor([6.0, 9.0, 3.5]))  # wrist depth: bin 3.5
    sigma = 2.0
    hm = heatmap_targets(t[..., :1, :2], (16, 16), sigma)
    assert hm.shape == (1, 1, 16, 16)
    peak = 1 / (2 * math.pi * sigma**2)
    assert hm[0, 0].argmax() == 9 * 16 + 6
    torch.testing.assert_close(hm[0, 0, 9, 6], torch.tensor(peak))
    torch.testing.assert_close(hm[0, 0, 9, 7], torch.tensor(peak * math.exp(-1 / 8)))
    # unit mass (eq. 1's normalisation) for an interior point
    torch.testing.assert_close(hm.sum(), torch.tensor(1.0), atol=2e-3, rtol=0)  # 3σ from the edge
    # and the TW-stage predicts heatmaps of exactly that size
    out = EHPE(tiny(), 64).eval()(torch.randn(1, 3, 64, 64))
    assert out.tw.heatmaps[-1].shape[-2:] == hm.shape[-2:]


def test_depth_targets_are_wrist_relative_bins():
    j3 = torch.zeros(1, 21, 3, dtype=torch.float64)
    j3[..., 2] = 0.6
    j3[0, 4, 2] = 0.6 + 0.05  # +50 mm = two bins of 25 mm
    t = joint_targets(torch.zeros(1, 21, 2, dtype=torch.float64), j3, 4, 8, 0.2)
    torch.testing.assert_close(t[0, [0, 4], 2], torch.tensor([3.5, 5.5], dtype=torch.float64))


def test_heatmap_and_distance_losses_by_hand():
    pred = torch.zeros(2, 2, 3, 3)
    target = torch.zeros(2, 2, 3, 3)
    target[:, 0, 1, 1] = 2.0  # joint 0: Σ (diff)² = 4; joint 1: 0
    valid = torch.tensor([[True, True], [True, False]])
    # sample 0: (4 + 0)/2 = 2; sample 1: only joint 0 valid → 4; mean 3
    torch.testing.assert_close(heatmap_loss(pred, target, valid), torch.tensor(3.0))
    p = torch.tensor([[[1.0, 2.0, 2.0], [0.0, 0.0, 0.0]]])
    g = torch.zeros(1, 2, 3)
    torch.testing.assert_close(euclidean_distance_loss(p, g), torch.tensor(4.5))  # (9 + 0)/2
    torch.testing.assert_close(
        position_loss(p, g, torch.tensor([[True, False]])), torch.tensor(9.0)
    )
    # no valid joint anywhere → 0 (not NaN)
    assert float(position_loss(p, g, torch.zeros(1, 2, dtype=torch.bool))) == 0.0


def test_weight_l1_is_the_mean_absolute_weight_of_linear_and_conv_kernels():
    lin = torch.nn.Linear(2, 3)
    conv = torch.nn.Conv2d(1, 1, 2)
    bn = torch.nn.BatchNorm2d(4)
    with torch.no_grad():
        lin.weight.fill_(-2.0)
        conv.weight.fill_(1.0)
        bn.weight.fill_(100.0)
    # (6·2 + 4·1) / 10; biases and normalisation parameters excluded
    torch.testing.assert_close(weight_l1([lin, conv, bn]), torch.tensor(1.6))
    lin.weight.requires_grad_(False)  # a frozen module does not count
    torch.testing.assert_close(weight_l1([lin, conv]), torch.tensor(1.0))


def test_edge_loss_uses_the_bones_and_is_smallest_at_uniform_weights():
    mask = hop_neighbourhood(skeleton_adjacency(), 1)
    uniform = (mask / mask.sum(-1, keepdim=True)).expand(2, 8, 21, 21)
    # bone i → j has weight 1/|N(i)|; mean over the 40 directed edges of (α − 1)²
    deg = mask.sum(-1).float()
    edges = [
        (p, c)
        for c, p in enumerate(
            (-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19)
        )
        if p >= 0
    ]
    expected = sum((1 / deg[i] - 1) ** 2 + (1 / deg[j] - 1) ** 2 for i, j in edges) / 40
    torch.testing.assert_close(edge_loss([uniform]), expected)
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 8, 21, 21, generator=g).masked_fill(~mask, float("-inf"))
    assert edge_loss([logits.softmax(-1)]) > edge_loss([uniform])
    assert float(edge_loss([])) == 0.0


def test_stage_totals_use_the_paper_weights():
    torch.manual_seed(0)
    model = EHPE(tiny(), 64)
    out = model(torch.randn(2, 3, 64, 64))
    targets = torch.rand(2, 21, 3) * 10
    valid = torch.ones(2, 21, dtype=torch.bool)
    cfg = EHPELossConfig()
    tw = tw_loss(out.tw, targets, valid, model.tw_joints, 2.0, cfg, [model.tw])
    torch.testing.assert_close(
        tw["loss"], 3 * tw["heatmap"] + 1e-2 * tw["distance"] + 1e-2 * tw["l1"]
    )
    pg = pg_loss(out.pg, targets, valid, cfg)
    torch.testing.assert_close(pg["loss"], 2e-2 * pg["position"] + 2e-1 * pg["edge"])
    assert float(pg["edge"].detach()) > 0
