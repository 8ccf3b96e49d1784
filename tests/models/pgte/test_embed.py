"""The two-convolution patch embedding of the supplement's Table 1."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from handpose.models.pgte import ConvPatchEmbed, build_pgte_vit, conv_embed_grid


def test_layers_are_table_1():
    e = ConvPatchEmbed(3, 768, 64)
    assert (e.conv1.kernel_size, e.conv1.stride, e.conv1.padding) == ((7, 7), (4, 4), (2, 2))
    assert e.conv1.out_channels == 64
    assert (e.conv2.kernel_size, e.conv2.stride, e.conv2.padding) == ((3, 3), (2, 2), (1, 1))
    assert e.conv2.out_channels == 768


def test_grid_hand_computed():
    # 256: (256 + 4 − 7)//4 + 1 = 64, (64 + 2 − 3)//2 + 1 = 32; 192: 48 → 24; 64: 16 → 8
    assert conv_embed_grid(256, 192) == (32, 24)
    assert conv_embed_grid(256, 256) == (32, 32)
    assert conv_embed_grid(64, 64) == (8, 8)
    # 30: (30 + 4 − 7)//4 + 1 = 7, (7 + 2 − 3)//2 + 1 = 4
    assert conv_embed_grid(30, 30) == (4, 4)


@settings(max_examples=10, deadline=None)
@given(h=st.integers(8, 70), w=st.integers(8, 70))
def test_output_grid_matches_formula(h, w):
    e = ConvPatchEmbed(3, 4, 2)
    out = e(torch.zeros(1, 3, h, w))
    assert tuple(out.shape) == (1, 4, *conv_embed_grid(h, w))


def test_token_centre_pixel():
    """With centre-tap kernels, token (i, j) reads input pixel (8i + 1, 8j + 1): the padding
    (2, then 1) fixes where each token looks."""
    e = ConvPatchEmbed(1, 1, 1)
    with torch.no_grad():
        e.conv1.weight.zero_()
        e.conv1.weight[0, 0, 3, 3] = 1.0
        e.conv2.weight.zero_()
        e.conv2.weight[0, 0, 1, 1] = 1.0
        e.conv2.bias.zero_()
    e.norm = torch.nn.Identity()
    e.act = torch.nn.Identity()
    x = torch.arange(64 * 64, dtype=torch.float32).reshape(1, 1, 64, 64)
    out = e(x)[0, 0]
    rows = torch.arange(8) * 8 + 1
    assert torch.equal(out, x[0, 0][rows][:, rows])


def test_vit_has_no_positional_embedding_and_any_size_works():
    vit = build_pgte_vit(64, embed_dim=16, depth=1, num_heads=2, stem_channels=4)
    assert vit.pos_embed is None
    assert vit.grid == (8, 8)
    assert tuple(vit(torch.zeros(2, 3, 64, 64)).shape) == (2, 16, 8, 8)
    # zero padding is the only positional cue, so another input size needs no interpolation
    assert tuple(vit(torch.zeros(1, 3, 48, 80)).shape) == (1, 16, 6, 10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtypes(dtype):
    vit = build_pgte_vit(32, embed_dim=8, depth=1, num_heads=2, stem_channels=4).to(dtype)
    assert vit(torch.zeros(1, 3, 32, 32, dtype=dtype)).dtype == dtype


# ------------------------------------------------------------------ pretrained embedding
def test_pretrained_embedding_is_the_backbones_stride_8_level_and_keeps_its_weights():
    from handpose.models.backbones import create_backbone
    from handpose.models.pgte.embed import PretrainedPatchEmbed

    net = create_backbone("efficientnet_lite0", weights="imagenet", strides=(8,)).eval()
    vit = build_pgte_vit(64, embed_dim=16, depth=1, num_heads=2, patch_embed="efficientnet_lite0")
    e = vit.patch_embed.eval()
    assert isinstance(e, PretrainedPatchEmbed) and vit.pos_embed is None and vit.grid == (8, 8)
    # the ViT's own initialisation leaves the ImageNet weights alone
    for name, p in e.named_parameters():
        if not name.startswith("proj."):
            assert torch.equal(p, net.body.get_parameter(name)), name
    for name, b in e.named_buffers():  # the ViT's shape probe does not move BatchNorm stats
        assert torch.equal(b, net.body.get_buffer(name)), name
    # only the stages up to stride 8 are kept, and they compute the backbone's level
    assert len(e.blocks) == 3 and sum(p.numel() for p in e.parameters()) < 0.05 * sum(
        p.numel() for p in net.parameters()
    )
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(e.blocks(e.bn1(e.conv_stem(x))), net(x)[0], atol=1e-6)
    assert tuple(vit(x).shape) == (2, 16, 8, 8)


def test_pretrained_embedding_token_centre():
    """Constant weights, one token's gradient: its receptive field is centred on (8j, 8i)."""
    from handpose.models.pgte.embed import PretrainedPatchEmbed

    e = PretrainedPatchEmbed("efficientnet_lite0", 4, None).eval()
    for m in e.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.constant_(m.weight, 0.01)
    x = torch.ones(1, 3, 64, 64, requires_grad=True)
    e(x)[0, :, 2, 5].sum().backward()
    g = x.grad[0].abs().sum(0)
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    cx, cy = float((g * xs).sum() / g.sum()), float((g * ys).sum() / g.sum())
    assert cx == pytest.approx(40.0, abs=0.5) and cy == pytest.approx(16.0, abs=0.5)


def test_patch_embed_choice_is_validated():
    from handpose.errors import HandposeError
    from handpose.models.pgte import PGTENetConfig, VibeNetConfig
    from handpose.models.pgte.embed import build_patch_embed

    with pytest.raises(ValueError, match="patch_embed"):
        PGTENetConfig(patch_embed="resnet50")
    with pytest.raises(ValueError, match="patch_embed"):
        VibeNetConfig(patch_embed="vit_b16")
    with pytest.raises(HandposeError, match="patch_embed"):
        build_patch_embed("hrnet_w18", 8)
