"""Small transformer pieces shared by the MGDHand teacher and student.

All of this is our reconstruction: the MGDHand paper names "cross-attention" and "DSTFormer" but
released no code. The pieces follow the DSTformer conventions (pre-LN, GELU MLP, LayerNorm eps
1e-6, trunc-normal init) so the whole model initialises the same way.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from handpose.models.dstformer import Attention, Mlp, trunc_normal_init

__all__ = [
    "TokenEmbedding",
    "CrossAttention",
    "CrossAttentionBlock",
    "AxisAttentionBlock",
    "per_frame",
]

NORM_EPS = 1e-6


def per_frame(fn, queries: Tensor, context: Tensor) -> Tensor:
    """Apply ``fn((N, Lq, d), (N, Lk, d)) → (N, Lq, d')`` to every frame of (B, T, L, d) tensors.

    Args:
        queries: (B, T, Lq, d)
        context: (B, T, Lk, d)
    Returns:
        (B, T, Lq, d')
    """
    b, t, lq, d = queries.shape
    lk = context.shape[2]
    out = fn(queries.reshape(b * t, lq, d), context.reshape(b * t, lk, context.shape[-1]))
    return out.reshape(b, t, lq, out.shape[-1])


class TokenEmbedding(nn.Module):
    """Linear token embedding plus learned spatial (per token) and temporal positional embeddings.

    The same layout as DSTformer's ``joints_embed``/``pos_embed``/``temp_embed``, for a token set
    that shares a DSTformer trunk with another stream (the teacher's IMU tokens).
    """

    def __init__(self, dim_in: int, dim: int, num_tokens: int, maxlen: int) -> None:
        super().__init__()
        self.num_tokens = num_tokens
        self.maxlen = maxlen
        self.proj = nn.Linear(dim_in, dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, dim))
        self.temp_embed = nn.Parameter(torch.zeros(1, maxlen, 1, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.temp_embed, std=0.02)
        trunc_normal_init(self.proj)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (B, T, N, C_in) with N = num_tokens, T ≤ maxlen. Returns (B, T, N, d)."""
        _, t, n, _ = x.shape
        if n != self.num_tokens:
            raise ValueError(f"expected {self.num_tokens} tokens per frame, got {n}")
        if t > self.maxlen:
            raise ValueError(f"clip of {t} frames is longer than maxlen {self.maxlen}")
        return self.proj(x) + self.pos_embed[:, None] + self.temp_embed[:, :t]


class CrossAttention(nn.Module):
    """Multi-head attention of queries (N, Lq, d) over a context (N, Lk, d)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self, queries: Tensor, context: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Returns (N, Lq, d) [and the attention map (N, heads, Lq, Lk)]."""
        n, lq, d = queries.shape
        lk = context.shape[1]
        h = self.num_heads
        q = self.q(queries).reshape(n, lq, h, d // h).transpose(1, 2)
        k, v = self.kv(context).reshape(n, lk, 2, h, d // h).permute(2, 0, 3, 1, 4).unbind(0)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        out = self.proj((attn @ v).transpose(1, 2).reshape(n, lq, d))
        return (out, attn) if return_attention else out


class CrossAttentionBlock(nn.Module):
    """Pre-LN cross-attention block: ``y = [q +] CA(LN q, LN c); y = y + MLP(LN y)``.

    Args:
        residual: add the queries back after attention (the teacher's fusion, "residual → Z").
            False gives a re-expression of the context in the queries' layout (used by the
            Z-guided decoupling so that the two branches stay different).
    """

    def __init__(
        self, dim: int, num_heads: int, mlp_ratio: float = 2.0, residual: bool = True
    ) -> None:
        super().__init__()
        self.residual = residual
        self.norm_q = nn.LayerNorm(dim, eps=NORM_EPS)
        self.norm_c = nn.LayerNorm(dim, eps=NORM_EPS)
        self.attn = CrossAttention(dim, num_heads)
        self.norm_mlp = nn.LayerNorm(dim, eps=NORM_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.apply(trunc_normal_init)

    def forward(self, queries: Tensor, context: Tensor) -> Tensor:
        """Args: queries (N, Lq, d), context (N, Lk, d). Returns (N, Lq, d)."""
        y = self.attn(self.norm_q(queries), self.norm_c(context))
        if self.residual:
            y = queries + y
        return y + self.mlp(self.norm_mlp(y))


class AxisAttentionBlock(nn.Module):
    """Pre-LN self-attention + MLP along one axis of a (B, T, J, d) tensor.

    ``axis="joints"`` mixes the J tokens of each frame (spatial), ``axis="frames"`` the T frames
    of each token (temporal), like the two halves of a DSTformer block. ``mlp_ratio=0`` drops the
    MLP (attention sub-layer only).
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 2.0, axis: str = "joints"):
        super().__init__()
        if axis not in ("joints", "frames"):
            raise ValueError(f"axis must be 'joints' or 'frames', got {axis!r}")
        if mlp_ratio < 0:
            raise ValueError(f"mlp_ratio must be ≥ 0, got {mlp_ratio}")
        self.axis = axis
        self.norm1 = nn.LayerNorm(dim, eps=NORM_EPS)
        self.attn = Attention(dim, num_heads)
        self.norm2 = self.mlp = None
        if mlp_ratio > 0:
            self.norm2 = nn.LayerNorm(dim, eps=NORM_EPS)
            self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.apply(trunc_normal_init)

    def _to_seq(self, x: Tensor) -> Tensor:
        b, t, j, d = x.shape
        if self.axis == "joints":
            return x.reshape(b * t, j, d)
        return x.transpose(1, 2).reshape(b * j, t, d)

    def _from_seq(self, y: Tensor, shape: torch.Size) -> Tensor:
        b, t, j, _ = shape
        if self.axis == "joints":
            return y.reshape(b, t, j, y.shape[-1])
        return y.reshape(b, j, t, y.shape[-1]).transpose(1, 2)

    def forward(self, x: Tensor, return_attention: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Args: x (B, T, J, d). Returns (B, T, J, d) [and attention (B, T|J, heads, L, L)]."""
        a, attn = self.attn(self._to_seq(self.norm1(x)), return_attention=True)
        x = x + self._from_seq(a, x.shape)
        if self.mlp is not None:
            x = x + self.mlp(self.norm2(x))
        if not return_attention:
            return x
        lead = x.shape[1] if self.axis == "joints" else x.shape[2]
        return x, attn.reshape(x.shape[0], lead, *attn.shape[1:])
