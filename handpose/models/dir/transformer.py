"""DIR's inter-hand transformer over the 42 joint tokens of both hands.

DIR uses MixSTE's spatial transformer encoder (``STE(num_joints=42, in_chans=128, out_dim=64,
depth=4)``, 4 heads, MLP ratio 2; ../shared/reference/vision_methods.md §2.3, step 4): a learned
positional embedding per token, pre-LayerNorm blocks ``x + Attn(LN(x))``, ``x + MLP(LN(x))``,
a final LayerNorm and a linear head to ``out_dim``. The supplement (§1) adds a *spatial
position encoding* to the input joint features; that is the embedding of each joint's global
3D position added by the caller (:mod:`.network`).

**Quirk of the public code, not reproduced:** its ``STE.forward`` loops over
``range(1, depth)``, so only 3 of the 4 blocks run. handpose runs all ``depth`` blocks (the
paper's 4-layer transformer).

The attention and MLP layers are :class:`handpose.models.dstformer.Attention` / ``Mlp``
(written out, so FLOP counting and ONNX export see every product).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from handpose.models.dstformer import Attention, Mlp, trunc_normal_init

__all__ = ["TransformerBlock", "InterHandTransformer"]


class TransformerBlock(nn.Module):
    """Pre-LN encoder block: ``x + Attn(LN(x))`` then ``x + MLP(LN(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class InterHandTransformer(nn.Module):
    """(B, 42, in_dim) joint tokens of both hands → (B, 42, out_dim).

    Args:
        num_tokens: 42 (21 right, then 21 left).
        dim: token width (DIR: 128).
        out_dim: output width (DIR: 64).
        depth: blocks (DIR: 4; all of them run, see the module docstring).
        num_heads: 4; mlp_ratio: 2.
    """

    def __init__(
        self,
        num_tokens: int = 42,
        dim: int = 128,
        out_dim: int = 64,
        depth: int = 4,
        num_heads: int = 4,
        mlp_ratio: float = 2.0,
    ) -> None:
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, dim))
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, mlp_ratio) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, out_dim)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.apply(trunc_normal_init)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))
