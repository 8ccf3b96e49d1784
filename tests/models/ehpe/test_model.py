"""EHPE network: allocations, shapes for every backbone, the fusion's start, dtypes."""

import pytest
import torch

from handpose.errors import HandposeError
from handpose.models.backbones import list_backbones
from handpose.models.ehpe import (
    ALLOCATIONS,
    EHPE,
    EHPENetConfig,
    Fusion,
    allocation_joints,
    denormalise_coords,
    normalise_coords,
    parse_allocation,
)
from tests.models.ehpe.helpers import tiny

# Table 4's rows as the paper prints them: (TW-stage, PG-stage).
TABLE4 = [
    ("W+T+D", "P+M"),
    ("W+T+D+P", "M"),
    ("T+D", "W+P+M"),
    ("T+D+P", "W+M"),
    ("T", "W+D+P+M"),
    ("W", "T+D+P+M"),
    ("W+D+P+M", "T"),
    ("W+T", "D+P+M"),
]


def test_allocations_are_table4_and_partition_the_hand():
    assert list(ALLOCATIONS) == [tw for tw, _ in TABLE4]
    for tw, pg in TABLE4:
        a, b = set(allocation_joints(tw)), set(allocation_joints(pg))
        assert not a & b and a | b == set(range(21))
    assert allocation_joints("W+T") == (0, 4, 8, 12, 16, 20)
    assert allocation_joints("M") == (1, 5, 9, 13, 17)
    assert parse_allocation(["tip", "wrist"]) == ("W", "T")
    assert parse_allocation("") == () == parse_allocation("none")
    with pytest.raises(HandposeError, match="unknown joint group 'X'"):
        parse_allocation("W+X")
    with pytest.raises(HandposeError, match="twice"):
        parse_allocation("T+T")


@pytest.mark.parametrize("alloc", ALLOCATIONS)
def test_every_allocation_builds_with_its_joint_count(alloc):
    torch.manual_seed(0)
    model = EHPE(tiny(tw_joints=alloc), 64).eval()
    n_tw = len(allocation_joints(alloc))
    assert model.pg.pg_joints == tuple(j for j in range(21) if j not in allocation_joints(alloc))
    out = model(torch.randn(2, 3, 64, 64))
    assert out.tw.coords.shape == (2, n_tw, 3)
    assert out.tw.volume.shape == (2, n_tw, 8, 16, 16)
    assert out.joints.shape == (2, 21, 3)
    # the TW joints keep their TW-stage estimates
    torch.testing.assert_close(out.joints[:, list(allocation_joints(alloc))], out.tw.coords)


def test_tw_only_and_pg_only_variants():
    tw_only = EHPE(tiny(tw_joints="W+T+D+P+M", pg={"enabled": False}), 64).eval()
    out = tw_only(torch.randn(1, 3, 64, 64))
    assert out.pg is None and out.joints.shape == (1, 21, 3)
    torch.testing.assert_close(out.joints, out.tw.coords)
    pg_only = EHPE(tiny(tw_joints="none"), 64).eval()
    assert pg_only.tw is None and pg_only.pg.fem.latent_proj is None
    out = pg_only(torch.randn(1, 3, 64, 64))
    assert out.tw is None and out.joints.shape == (1, 21, 3)
    with pytest.raises(HandposeError, match="all 21 joints"):
        EHPENetConfig.from_dict(tiny(pg={"enabled": False}))
    with pytest.raises(HandposeError, match="unknown option 'model.pg.layers'"):
        EHPENetConfig.from_dict(tiny(pg={"layers": 2}))
    with pytest.raises(HandposeError, match="edge_weights"):
        EHPENetConfig.from_dict(tiny(pg={"edge_weights": "learned"}))
    with pytest.raises(HandposeError, match="multiple of the heatmap stride"):
        EHPE(tiny(), 60)


@pytest.mark.parametrize(
    "variant",
    [
        {"spi": False},
        {"fem": False},
        {"spi": False, "fem": False},
        {"edge_weights": "fixed"},
        {"gat_layers": 1},
        {"gat_layers": 3},
        {"init": "token"},
        {"keep_tw": False},
    ],
)
def test_table5_and_table6_variants_run(variant):
    torch.manual_seed(0)
    model = EHPE(tiny(pg=variant), 64).eval()
    out = model(torch.randn(1, 3, 64, 64))
    assert out.joints.shape == (1, 21, 3)
    n_alpha = (
        0
        if not model.config.pg.spi or model.config.pg.edge_weights == "fixed"
        else (model.config.pg.gat_layers)
    )
    assert len(out.pg.alphas) == n_alpha
    assert (out.pg.spi is None) == (not model.config.pg.spi)
    assert (out.pg.fem is None) == (not model.config.pg.fem)


def test_fusion_starts_as_identity_and_the_pg_output_equals_the_initial_positions():
    g = torch.Generator().manual_seed(0)
    spi, fem = torch.randn(3, 21, 3, generator=g), torch.randn(3, 21, 3, generator=g)
    fusion = Fusion()
    torch.testing.assert_close(fusion(spi, None), spi)
    torch.testing.assert_close(fusion(spi, fem), spi + fem)
    torch.testing.assert_close(fusion(None, fem), fem)
    with torch.no_grad():
        fusion.omega_g.copy_(torch.roll(torch.eye(21), 1, 0))
    torch.testing.assert_close(fusion(spi, None), torch.roll(spi, 1, 1))
    # the whole PG-stage before training: ĉ = initial positions; the PG joints start at the
    # TW joints' centroid (zero-initialised prior), the TW joints at their estimates
    torch.manual_seed(0)
    model = EHPE(tiny(), 64).eval()
    out = model(torch.randn(2, 3, 64, 64))
    torch.testing.assert_close(out.pg.fused, out.pg.initial)
    centroid = out.tw.coords.mean(1, keepdim=True).expand(-1, len(model.pg.pg_joints), -1)
    torch.testing.assert_close(out.pg.initial[:, list(model.pg.pg_joints)], centroid)
    assert not torch.allclose(out.pg.spi, out.pg.fem)


def test_normalised_coordinates_pin_the_volume_edges():
    grid = (16, 32, 8)  # h, w, d
    edges = torch.tensor([[-0.5, -0.5, -0.5], [31.5, 15.5, 7.5]])
    torch.testing.assert_close(normalise_coords(edges, grid), torch.tensor([[-0.5] * 3, [0.5] * 3]))
    p = torch.randn(4, 21, 3, dtype=torch.float64)
    torch.testing.assert_close(denormalise_coords(normalise_coords(p, grid), grid), p)


def test_float64_forward_and_gradients_reach_the_pg_stage():
    torch.manual_seed(0)
    model = EHPE(tiny(), 64).double()
    out = model(torch.randn(2, 3, 64, 64, dtype=torch.float64))
    assert out.joints.dtype == torch.float64
    out.pg.fused.sum().backward()
    assert model.pg.fusion.omega_g.grad is not None and model.pg.prior[-1].weight.grad is not None


# Every registry backbone (the paper's three: ResNet-50, HRNet, FastViT-MA36; and the small
# ones). The ViT has one level at stride 16.
@pytest.mark.slow
@pytest.mark.parametrize("name", list_backbones())
def test_shapes_for_every_backbone(name):
    torch.manual_seed(0)
    stride = 16 if name == "vit_b16" else 32
    cfg = tiny(backbone=name, tw={"feature_stride": stride})
    model = EHPE(cfg, 64).eval()
    with torch.no_grad():
        feats, tw = model.features(torch.randn(1, 3, 64, 64))
        out = model(torch.randn(1, 3, 64, 64))
    assert feats.shape == (1, model.tw.feature_channels, 64 // stride, 64 // stride)
    assert tw.heatmaps[-1].shape == (1, 6, 16, 16) and tw.latent.shape[-2:] == (16, 16)
    assert out.joints.shape == (1, 21, 3) and out.uv.shape == (1, 21, 2)
    assert torch.isfinite(out.joints).all()
