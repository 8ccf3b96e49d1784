"""Backbones: the level table, shapes at any batch size, float32/float64, stride selection,
bad input."""

import pytest
import torch

from handpose.errors import HandposeError
from handpose.models.backbones import (
    BACKBONES,
    BackboneConfig,
    build_backbone,
    create_backbone,
    fuse_levels,
    list_backbones,
)

# Pinned from each network's definition (channels per level at strides 4, 8, 16, 32; ViT: 16).
EXPECTED_CHANNELS = {
    "resnet18": (64, 128, 256, 512),
    "resnet34": (64, 128, 256, 512),
    "resnet50": (256, 512, 1024, 2048),
    "hrnet_w18": (18, 36, 72, 144),
    "hrnet_w32": (32, 64, 128, 256),
    "fastvit_t8": (48, 96, 192, 384),
    "fastvit_sa12": (64, 128, 256, 512),
    "fastvit_ma36": (76, 152, 304, 608),
    "vit_b16": (768,),
    "efficientnet_lite0": (24, 40, 112, 320),
    "mobilenetv3_large_100": (24, 40, 112, 960),
    "mobilenetv3_small_050": (8, 16, 24, 288),
}
FAST = ["resnet18", "hrnet_w18", "fastvit_t8", "efficientnet_lite0", "mobilenetv3_small_050"]


def test_registry_lists_every_backbone_once():
    assert set(list_backbones()) == set(EXPECTED_CHANNELS)
    assert set(list_backbones(small=True)) == {
        "efficientnet_lite0",
        "mobilenetv3_large_100",
        "mobilenetv3_small_050",
    }
    for spec in BACKBONES.values():
        if spec.published is not None:
            assert spec.published.source and spec.published.params_m > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED_CHANNELS))
def test_levels_table(name):
    with torch.device("meta"):  # structure only: no weights initialised
        net = create_backbone(name)
    assert net.channels == EXPECTED_CHANNELS[name]
    assert net.strides == ((16,) if name == "vit_b16" else (4, 8, 16, 32))
    assert net.name == name


def _eval_forward(net, x):
    with torch.no_grad():
        return net.eval()(x)


@pytest.mark.parametrize("name", FAST)
def test_shapes_dtypes_and_any_batch_size(name):
    torch.manual_seed(0)
    net = create_backbone(name)
    for dtype in (torch.float32, torch.float64):
        _check_shapes_and_batches(net.to(dtype), dtype)


def _check_shapes_and_batches(net, dtype):
    x = torch.randn(3, 3, 64, 96, dtype=dtype)
    feats = _eval_forward(net, x)
    assert isinstance(feats, list) and len(feats) == len(net.strides)
    for f, c, s in zip(feats, net.channels, net.strides):
        assert f.dtype == dtype
        assert tuple(f.shape) == (3, c, 64 // s, 96 // s)
        assert torch.isfinite(f).all()
    # batch size 1 gives the same maps as the batch (eval mode: no batch statistics); relative
    # to each map's scale (untrained eval-mode networks have activations of any magnitude)
    single = _eval_forward(net, x[1:2])
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    for f, g in zip(feats, single):
        assert ((f[1:2] - g).abs().max() / f.abs().max()) < tol


def test_training_mode_batch_one_and_gradients():
    net = create_backbone("resnet18").train()
    x = torch.randn(1, 3, 64, 64, requires_grad=True)
    feats = net(x)
    sum(f.mean() for f in feats).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert net.body.conv1.weight.grad.abs().sum() > 0


def test_stride_selection():
    net = create_backbone("resnet18", strides=(8, 32))
    assert net.strides == (8, 32) and net.channels == (128, 512)
    feats = _eval_forward(net, torch.randn(2, 3, 64, 64))
    assert [tuple(f.shape[-2:]) for f in feats] == [(8, 8), (2, 2)]
    stem = create_backbone("mobilenetv3_small_050", strides=(2, 4))
    assert stem.strides == (2, 4)
    with pytest.raises(HandposeError, match="strides"):
        create_backbone("resnet18", strides=(3,))
    with pytest.raises(HandposeError, match="stride 16"):
        create_backbone("vit_b16", strides=(8,))
    with pytest.raises(HandposeError, match="unknown backbone 'resnet19'"):
        create_backbone("resnet19")
    with pytest.raises(HandposeError, match="stochastic depth"):
        create_backbone("hrnet_w18", drop_path_rate=0.1)


def test_bad_images():
    net = create_backbone("mobilenetv3_small_050")
    with pytest.raises(HandposeError, match=r"\(B, 3, H, W\)"):
        net(torch.randn(3, 64, 64))
    with pytest.raises(HandposeError, match=r"\(B, 3, H, W\)"):
        net(torch.randn(1, 4, 64, 64))
    with pytest.raises(HandposeError, match="float images"):
        net(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(HandposeError, match="at least 32×32"):
        net(torch.randn(1, 3, 16, 64))


def test_config_section():
    cfg = BackboneConfig.from_dict({"name": "resnet18", "strides": [16, 32]})
    assert cfg.strides == (16, 32)
    net = build_backbone({"name": "mobilenetv3_small_050", "strides": [8, 16, 32]})
    assert net.strides == (8, 16, 32)
    with pytest.raises(HandposeError, match="unknown backbone option"):
        BackboneConfig.from_dict({"name": "resnet18", "pretrained": True})
    with pytest.raises(HandposeError, match="backbone.img_size"):
        BackboneConfig.from_dict({"img_size": "256"})
    with pytest.raises(HandposeError, match="unknown backbone"):
        BackboneConfig.from_dict({"name": "vgg16"})


def test_fuse_levels_upsamples_and_concatenates():
    a = torch.randn(2, 3, 8, 8)
    b = torch.tensor([0.0, 1.0]).expand(2, 1, 2, 2)  # value = the cell's x coordinate
    out = fuse_levels([a, b])
    assert out.shape == (2, 4, 8, 8)
    torch.testing.assert_close(out[:, :3], a)
    # cell centres stay aligned (align_corners=False): between the two coarse centres, fine
    # pixel j sits at coarse x = (j + ½)/4 − ½, and the bilinear ramp gives exactly that
    j = torch.arange(2, 6, dtype=torch.float32)
    torch.testing.assert_close(out[1, 3, 5, 2:6], (j + 0.5) / 4 - 0.5)
    with pytest.raises(HandposeError):
        fuse_levels([])


def test_reparameterize_keeps_the_function():
    torch.manual_seed(0)
    net = create_backbone("fastvit_t8").eval()
    x = torch.randn(2, 3, 64, 64)
    before = _eval_forward(net, x)
    n_before = sum(p.numel() for p in net.parameters())
    assert net.reparameterize() is net
    after = _eval_forward(net, x)
    assert sum(p.numel() for p in net.parameters()) < n_before  # branches merged
    for a, b in zip(before, after):
        assert (a - b).abs().max() / a.abs().max() < 1e-5
