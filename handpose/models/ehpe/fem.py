"""Feature Enhancement Module (FEM, EHPE §3.3.1): self- then cross-attention transformers over
image tokens that estimate all 21 joints from visual features.

**Token layout (our choice; the paper gives only eq. 7 and "the dimensions of q_SA, v_SA are
(hw + hw + 1) × 512").** The self-attention runs over hw + hw + 1 tokens:

1. ``hw`` **image tokens**: the backbone map F (h × w cells) through a linear projection;
2. ``hw`` **TW tokens**: the TW-stage's latent F_p (the refinement module's output, which
   fused the 2D tip/wrist heatmap with the image features, §3.2) average-pooled to h × w and
   projected; this is the second ``hw`` of the paper's count for a single hand (EANet, where the
   FEM comes from, has one ``hw`` per hand there);
3. one learnable **global token**.

Image and TW tokens get the same fixed 2D sine–cosine position code (so any input size works)
plus a learnable type embedding each. Without a TW-stage (Table 3's "PG only") the TW tokens are
absent (hw + 1 tokens). After ``self_layers`` pre-LN self-attention blocks (eq. 7), 21 learnable
joint queries attend to the tokens in ``cross_layers`` pre-LN cross-attention blocks, and a
linear layer gives FEM_out: (..., 21, 3) coordinates in the PG-stage's normalised 2.5D space
(:mod:`handpose.models.ehpe.pg_stage`). That last layer starts at zero, so the FEM adds nothing
to the fused output before training (the fusion's initial identity behaviour).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handpose.models.dstformer import Attention, Mlp, trunc_normal_init

__all__ = ["sine_position_code", "CrossAttention", "FEM"]


def sine_position_code(h: int, w: int, dim: int, dtype=torch.float32, device=None) -> Tensor:
    """(h·w, dim) fixed 2D sine–cosine code (DETR/MAE style): half the channels encode the row,
    half the column, each as sin/cos at geometric frequencies; cells in row-major order."""
    quarter = dim // 4
    freq = 1.0 / (10000 ** (torch.arange(quarter, dtype=torch.float64) / max(quarter, 1)))
    ys = torch.arange(h, dtype=torch.float64)[:, None] * freq  # (h, q)
    xs = torch.arange(w, dtype=torch.float64)[:, None] * freq  # (w, q)
    row = torch.cat([ys.sin(), ys.cos()], -1)[:, None, :].expand(h, w, 2 * quarter)
    col = torch.cat([xs.sin(), xs.cos()], -1)[None, :, :].expand(h, w, 2 * quarter)
    code = torch.cat([row, col], -1).reshape(h * w, 4 * quarter)
    if code.shape[-1] < dim:
        code = F.pad(code, (0, dim - code.shape[-1]))
    return code.to(dtype=dtype, device=device)


class CrossAttention(nn.Module):
    """Multi-head attention of queries (N, Lq, d) to keys/values (N, Lk, d) → (N, Lq, d)."""

    def __init__(self, dim: int, num_heads: int = 8, drop: float = 0.0) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        n, lq, d = x.shape
        h = self.num_heads
        q = self.q(x).reshape(n, lq, h, d // h).transpose(1, 2)  # (N, h, Lq, c)
        kv = self.kv(context).reshape(n, context.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)
        k, v = kv.unbind(0)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(-1)
        out = (self.drop(attn) @ v).transpose(1, 2).reshape(n, lq, d)
        return self.drop(self.proj(out))


class _SelfBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float, drop: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, attn_drop=drop, proj_drop=drop)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class _CrossBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float, drop: float) -> None:
        super().__init__()
        self.norm_q, self.norm_kv = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.attn = CrossAttention(dim, heads, drop)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)

    def forward(self, q: Tensor, context: Tensor) -> Tensor:
        q = q + self.attn(self.norm_q(q), self.norm_kv(context))
        return q + self.mlp(self.norm2(q))


class FEM(nn.Module):
    """The Feature Enhancement Module.

    Args:
        feature_channels: C_b of the backbone map F.
        latent_channels: C of the TW latent F_p (None: no TW tokens, "PG only").
        dim: token width (paper 512).
        num_joints: 21.
        self_layers, cross_layers, heads, mlp_ratio, dropout: the transformers.
    Forward: ``features`` (B, C_b, h, w), ``latent`` (B, C, H', W') or None →
    (B, num_joints, 3) coordinates (normalised 2.5D).
    """

    def __init__(
        self,
        feature_channels: int,
        latent_channels: int | None,
        dim: int = 512,
        num_joints: int = 21,
        self_layers: int = 2,
        cross_layers: int = 2,
        heads: int = 8,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.image_proj = nn.Linear(feature_channels, dim)
        self.latent_proj = None if latent_channels is None else nn.Linear(latent_channels, dim)
        self.type_embed = nn.Parameter(torch.zeros(2, dim))
        self.global_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.queries = nn.Parameter(torch.zeros(1, num_joints, dim))
        self.self_blocks = nn.ModuleList(
            _SelfBlock(dim, heads, mlp_ratio, dropout) for _ in range(self_layers)
        )
        self.cross_blocks = nn.ModuleList(
            _CrossBlock(dim, heads, mlp_ratio, dropout) for _ in range(cross_layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 3)
        self.apply(trunc_normal_init)
        for p in (self.type_embed, self.global_token, self.queries):
            nn.init.trunc_normal_(p, std=0.02)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def tokens(self, features: Tensor, latent: Tensor | None) -> Tensor:
        """The (B, hw [+ hw] + 1, dim) self-attention input."""
        b, _, h, w = features.shape
        pos = sine_position_code(h, w, self.dim, features.dtype, features.device)
        img = self.image_proj(features.flatten(2).transpose(1, 2)) + pos + self.type_embed[0]
        parts = [img]
        if self.latent_proj is not None:
            if latent is None:
                raise ValueError("this FEM was built with TW tokens; pass the TW latent")
            # F_p is at stride 4 and F at a multiple of it: an integer average pool
            k = latent.shape[-1] // w
            pooled = F.avg_pool2d(latent, k) if k > 1 else latent
            lat = self.latent_proj(pooled.flatten(2).transpose(1, 2)) + pos + self.type_embed[1]
            parts.append(lat)
        parts.append(self.global_token.expand(b, -1, -1))
        return torch.cat(parts, dim=1)

    def forward(self, features: Tensor, latent: Tensor | None = None) -> Tensor:
        x = self.tokens(features, latent)
        for block in self.self_blocks:
            x = block(x)
        q = self.queries.expand(x.shape[0], -1, -1)
        for block in self.cross_blocks:
            q = block(q, x)
        return self.head(self.norm(q))
