"""ViT with ViTPose's padded patch embedding, against a naive re-computation; ViTPose names
and positional-embedding resizing on load."""

import math

import pytest
import torch
import torch.nn.functional as F

from handpose.errors import HandposeError
from handpose.models.backbones import ViT, create_backbone
from handpose.models.backbones.base import ViTBackbone
from handpose.models.backbones.vit import PaddedPatchEmbed


def small_vit(img_size=(64, 48), **kw):
    torch.manual_seed(0)
    return ViT(img_size=img_size, embed_dim=32, depth=2, num_heads=4, **kw).eval()


def test_patch_embedding_facts():
    pe = PaddedPatchEmbed(16, 3, 8)
    conv = pe.proj
    assert conv.kernel_size == (16, 16) and conv.stride == (16, 16) and conv.padding == (2, 2)
    # vision_methods.md §3.2: 256×192 → ⌊(256 + 4 − 16)/16⌋ + 1 = 16 by 12 patches
    assert pe.grid(256, 192) == (16, 12)
    assert pe(torch.zeros(1, 3, 256, 192)).shape == (1, 8, 16, 12)


def naive_vit(vit: ViT, x: torch.Tensor) -> torch.Tensor:
    """The ViTPose forward written out: padded conv, class slot added to every patch, pre-LN
    blocks with explicit softmax attention, last norm, tokens → (B, C, Hp, Wp)."""
    w = vit.patch_embed.proj
    t = F.conv2d(F.pad(x, (2, 2, 2, 2)), w.weight, w.bias, stride=16)
    b, c, hp, wp = t.shape
    tok = t.flatten(2).transpose(1, 2) + vit.pos_embed[:, 1:] + vit.pos_embed[:, 0:1]
    for blk in vit.blocks:
        h = F.layer_norm(tok, (c,), blk.norm1.weight, blk.norm1.bias, eps=1e-6)
        qkv = h @ blk.attn.qkv.weight.T + blk.attn.qkv.bias
        heads = blk.attn.num_heads
        d = c // heads
        q, k, v = (
            qkv[..., i * c : (i + 1) * c].reshape(b, -1, heads, d).transpose(1, 2) for i in range(3)
        )
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
        o = (att @ v).transpose(1, 2).reshape(b, -1, c)
        tok = tok + blk.attn.proj(o)
        h = F.layer_norm(tok, (c,), blk.norm2.weight, blk.norm2.bias, eps=1e-6)
        tok = tok + blk.mlp.fc2(F.gelu(blk.mlp.fc1(h)))
    tok = F.layer_norm(tok, (c,), vit.last_norm.weight, vit.last_norm.bias, eps=1e-6)
    return tok.transpose(1, 2).reshape(b, c, hp, wp)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_matches_naive(dtype):
    vit = small_vit().to(dtype)
    with torch.no_grad():
        vit.pos_embed.normal_()  # make the class-slot term visible
        x = torch.randn(3, 3, 64, 48, dtype=dtype)
        out = vit(x)
        ref = naive_vit(vit, x)
    assert out.shape == (3, 32, 4, 3) and out.dtype == dtype
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(out, ref, atol=tol, rtol=tol)
    with torch.no_grad():
        torch.testing.assert_close(vit(x[2:]), out[2:], atol=tol, rtol=tol)  # any batch size


def test_other_input_size_resizes_the_positional_embedding():
    vit = small_vit()
    with torch.no_grad():
        out = vit(torch.randn(2, 3, 128, 96))
    assert out.shape == (2, 32, 8, 6)


def test_replaceable_patch_embedding_and_no_positional_embedding():
    conv = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 7, stride=4, padding=3),
        torch.nn.Conv2d(16, 32, 3, stride=2, padding=1),
    )
    vit = small_vit(img_size=64, patch_embed=conv, pos_embed=False)
    assert vit.grid == (8, 8) and vit.pos_embed is None
    with torch.no_grad():
        assert vit(torch.randn(1, 3, 64, 64)).shape == (1, 32, 8, 8)
    with pytest.raises(HandposeError, match="patch_embed must map"):
        ViT(img_size=64, embed_dim=16, depth=1, num_heads=2, patch_embed=conv)


def test_vit_b16_keeps_vitpose_parameter_names_and_size():
    with torch.device("meta"):
        net = create_backbone("vit_b16")
    assert isinstance(net, ViTBackbone) and net.channels == (768,) and net.strides == (16,)
    names = set(net.body.state_dict())
    for key in [
        "patch_embed.proj.weight",
        "patch_embed.proj.bias",
        "pos_embed",
        "blocks.0.norm1.weight",
        "blocks.0.attn.qkv.weight",
        "blocks.0.attn.qkv.bias",
        "blocks.0.attn.proj.weight",
        "blocks.0.norm2.bias",
        "blocks.11.mlp.fc1.weight",
        "blocks.11.mlp.fc2.bias",
        "last_norm.weight",
    ]:
        assert key in names, key
    c, n = 768, 16 * 16
    block = 4 * c + (c * 3 * c + 3 * c) + (c * c + c) + (c * 4 * c + 4 * c) + (4 * c * c + c)
    expected = (3 * 16 * 16 * c + c) + (n + 1) * c + 12 * block + 2 * c
    assert sum(p.numel() for p in net.parameters()) == expected
    assert tuple(net.body.pos_embed.shape) == (1, 257, 768)


def test_vitpose_checkpoint_loads_with_resized_positional_embedding():
    """A ViTPose-style checkpoint (``backbone.`` prefix, a keypoint head, trained at 256×192 =
    16×12 patches) loads into a model for 256×256: the class slot is kept and the patch grid
    is resized bicubically."""
    src = small_vit(img_size=(256, 192))
    with torch.no_grad():
        src.pos_embed.normal_()
    state = {f"backbone.{k}": v for k, v in src.state_dict().items()}
    state["keypoint_head.final_layer.weight"] = torch.zeros(17, 32, 1, 1)
    torch.manual_seed(5)
    dst = ViTBackbone("vit_small_test", ViT(img_size=256, embed_dim=32, depth=2, num_heads=4))
    report = dst.load_weights(state)
    assert report.prefix == "backbone." and report.ignored == ("keypoint_head.final_layer.weight",)
    pos = dst.body.pos_embed
    assert pos.shape == (1, 257, 32)
    torch.testing.assert_close(pos[:, :1], src.pos_embed[:, :1])
    grid = src.pos_embed[:, 1:].reshape(1, 16, 12, 32).permute(0, 3, 1, 2)
    want = F.interpolate(grid, size=(16, 16), mode="bicubic", align_corners=False)
    torch.testing.assert_close(pos[:, 1:], want.permute(0, 2, 3, 1).reshape(1, 256, 32))
    torch.testing.assert_close(dst.body.blocks[1].mlp.fc2.weight, src.blocks[1].mlp.fc2.weight)


def test_unknown_positional_grid_is_refused():
    src = small_vit(img_size=(80, 48))  # 5×3 patches: neither square nor 4:3
    dst = ViTBackbone("vit_small_test", ViT(img_size=64, embed_dim=32, depth=2, num_heads=4))
    with pytest.raises(HandposeError, match="patch grid"):
        dst.load_weights(src.state_dict())
