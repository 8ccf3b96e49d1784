"""ViT with ViTPose's padded patch embedding (ViTPose-B: ViT-B/16), written for handpose.

Facts (../shared/reference/vision_methods.md §3.2; ViTPose, Xu et al. NeurIPS 2022, and its
``mmpose/models/backbones/vit.py``, whose parameter names are kept so that ViTPose and HaMeR
backbone weights load):

- ``patch_embed.proj`` = Conv2d(3, C, kernel 16, stride 16, **padding 2**): the non-overlapping
  16×16 patch grid is shifted by 2 px against a plain ViT patchify. Output grid
  ``H_p = ⌊(H + 4 − 16)/16⌋ + 1`` (16 for 256 px). Patch (i, j) covers input pixels
  ``16·j − 2 … 16·j + 13``, so its centre is at ``16·j + 5.5`` — 2 px left of (and above) the
  ``(j + ½)·16 − ½`` of a stride-16 map in :mod:`handpose.models.heads.sampling`'s convention.
  Networks learn that offset away; code that samples ViT features at exact pixels can add it.
- ``pos_embed`` (1, N + 1, C), learned, trunc-normal std 0.02; there is no class token, and the
  class slot ``pos_embed[:, :1]`` is **added to every patch**: ``x + pos[:, 1:] + pos[:, :1]``.
  On an input whose grid differs from ``img_size`` the patch part is resized bicubically.
- pre-LN blocks (LayerNorm eps 1e-6), ``attn.qkv`` with bias (ViTPose-B), ``mlp.fc1/fc2`` with
  GELU, then ``last_norm``; the tokens are reshaped to (B, C, H_p, W_p).

The patch embedding is replaceable (``patch_embed=`` any module mapping (B, 3, H, W) to
(B, C, H_p, W_p), e.g. PGTE's two-layer conv embedding) and the positional embedding optional
(``pos_embed=False``, e.g. with a conditional positional encoding inside the blocks).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.models.dstformer import Mlp, drop_path, trunc_normal_init

__all__ = ["PaddedPatchEmbed", "ViT", "vit_pos_embed_adapter"]


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


class PaddedPatchEmbed(nn.Module):
    """ViTPose's patch embedding: Conv2d(in, C, k=patch, s=patch/ratio, p=4 + 2(ratio//2 − 1)).

    Args:
        patch_size: kernel size (16).
        in_chans: input channels.
        embed_dim: C.
        ratio: ViTPose's overlap ratio (1: stride = patch, padding 2).
    Shapes: (B, in_chans, H, W) → (B, C, H_p, W_p).
    """

    def __init__(
        self, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768, ratio: int = 1
    ):
        super().__init__()
        self.patch_size = int(patch_size)
        self.stride = self.patch_size // int(ratio)
        self.padding = 4 + 2 * (int(ratio) // 2 - 1)
        self.proj = nn.Conv2d(
            in_chans,
            embed_dim,
            kernel_size=self.patch_size,
            stride=self.stride,
            padding=self.padding,
        )

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """Output grid (H_p, W_p) for an input of ``height`` × ``width`` pixels."""
        k, s, p = self.patch_size, self.stride, self.padding
        return (height + 2 * p - k) // s + 1, (width + 2 * p - k) // s + 1

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


class Attention(nn.Module):
    """Multi-head self-attention with ViTPose's names (``qkv``, ``proj``); fused SDPA kernel."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise HandposeError(f"embed_dim {dim} is not divisible by num_heads {num_heads}.")
        self.num_heads = num_heads
        self.attn_drop = float(attn_drop)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, N, C/heads)
        p = self.attn_drop if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    """Pre-LN transformer block: ``x + attn(norm1(x))``, ``x + mlp(norm2(x))``."""

    def __init__(self, dim, num_heads, mlp_ratio, qkv_bias, drop_path, attn_drop) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias, attn_drop)
        self.drop_path = float(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))  # fc1 → GELU → fc2 (ViTPose's names)

    def forward(self, x: Tensor) -> Tensor:
        x = x + drop_path(self.attn(self.norm1(x)), self.drop_path, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)


class ViT(nn.Module):
    """Plain ViT returning one (B, C, H_p, W_p) map (ViTPose's backbone).

    Args:
        img_size: training input (H, W); fixes the positional-embedding grid.
        patch_size: 16.
        in_chans: input channels.
        embed_dim, depth, num_heads, mlp_ratio, qkv_bias: the transformer (ViT-B: 768, 12, 12,
            4, True).
        drop_path_rate: stochastic depth, linearly increasing over the blocks (ViTPose-B 0.3).
        attn_drop_rate: attention dropout.
        ratio: ViTPose's patch overlap ratio (1).
        patch_embed: a replacement patch embedding module ((B, 3, H, W) → (B, C, H_p, W_p)); its
            grid for ``img_size`` is taken from a dry run.
        pos_embed: learn an absolute positional embedding (ViTPose) or not.
    Shapes: (B, in_chans, H, W) → (B, embed_dim, H_p, W_p).
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 256,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        ratio: int = 1,
        patch_embed: nn.Module | None = None,
        pos_embed: bool = True,
    ) -> None:
        super().__init__()
        self.img_size = _pair(img_size)
        self.embed_dim = int(embed_dim)
        if patch_embed is None:
            patch_embed = PaddedPatchEmbed(patch_size, in_chans, embed_dim, ratio)
            self.grid = patch_embed.grid(*self.img_size)
        else:
            # eval mode: a training-mode probe would move BatchNorm running statistics
            # (e.g. a pretrained convolutional embedding's) towards an all-zero image
            was_training = patch_embed.training
            with torch.no_grad():
                probe = patch_embed.eval()(torch.zeros(1, in_chans, *self.img_size))
            patch_embed.train(was_training)
            if probe.ndim != 4 or probe.shape[1] != embed_dim:
                raise HandposeError(
                    f"patch_embed must map (B, {in_chans}, H, W) to (B, {embed_dim}, Hp, Wp), "
                    f"got {tuple(probe.shape)}."
                )
            self.grid = (int(probe.shape[2]), int(probe.shape[3]))
        self.patch_embed = patch_embed
        if pos_embed:
            n = self.grid[0] * self.grid[1]
            self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, embed_dim))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        else:
            self.pos_embed = None
        rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, r, attn_drop_rate) for r in rates
        )
        self.last_norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.apply(trunc_normal_init)  # ViTPose's init: Linear trunc-normal(0.02), LN 1/0

    def _patch_pos_embed(self, hp: int, wp: int) -> Tensor:
        """(1, hp·wp, C) positional embedding of the patches, resized if the grid differs."""
        pos = self.pos_embed[:, 1:]
        if (hp, wp) != self.grid:
            h0, w0 = self.grid
            pos = pos.reshape(1, h0, w0, -1).permute(0, 3, 1, 2)
            pos = F.interpolate(pos, size=(hp, wp), mode="bicubic", align_corners=False)
            pos = pos.permute(0, 2, 3, 1).reshape(1, hp * wp, -1)
        return pos + self.pos_embed[:, :1]

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch_embed(x)  # (B, C, Hp, Wp)
        b, c, hp, wp = x.shape
        x = x.flatten(2).transpose(1, 2)  # (B, N, C)
        if self.pos_embed is not None:
            x = x + self._patch_pos_embed(hp, wp)
        for blk in self.blocks:
            x = blk(x)
        x = self.last_norm(x)
        return x.transpose(1, 2).reshape(b, c, hp, wp)


def _source_grid(n: int) -> tuple[int, int]:
    """The patch grid of a checkpoint's ``n`` positional slots: square, or ViTPose's 4:3."""
    side = math.isqrt(n)
    if side * side == n:
        return side, side
    k = math.isqrt(n // 12)
    if 12 * k * k == n:  # (4k, 3k): ViTPose's 256×192 (16×12) and its multiples
        return 4 * k, 3 * k
    raise HandposeError(
        f"cannot tell the patch grid of a positional embedding with {n} patches (neither square "
        "nor 4:3); resize pos_embed to this model's grid before loading."
    )


def vit_pos_embed_adapter(model: ViT):
    """A :func:`~handpose.models.backbones.weights.load_weights` adapter for :class:`ViT`:
    resizes a checkpoint's ``pos_embed`` trained at another resolution to ``model.grid``
    (bicubic, class slot kept), e.g. ViTPose-B's 256×192 weights (16×12 patches) into a
    256×256 model (16×16)."""

    def adapt(state: dict[str, Tensor]) -> dict[str, Tensor]:
        pos = state.get("pos_embed")
        if model.pos_embed is None or pos is None or pos.ndim != 3:
            return state
        n_src, n_dst = pos.shape[1] - 1, model.pos_embed.shape[1] - 1
        if n_src == n_dst or pos.shape[2] != model.embed_dim:
            return state
        h0, w0 = _source_grid(n_src)
        grid = pos[:, 1:].reshape(1, h0, w0, -1).permute(0, 3, 1, 2).float()
        grid = F.interpolate(grid, size=model.grid, mode="bicubic", align_corners=False)
        grid = grid.permute(0, 2, 3, 1).reshape(1, n_dst, -1).to(pos.dtype)
        return {**state, "pos_embed": torch.cat([pos[:, :1], grid], dim=1)}

    return adapt
