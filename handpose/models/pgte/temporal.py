"""Temporal fusion of the pose-aware tokens over a window of frames (our design; the
supplement names the pose-aware fusion but its temporal details are in the unavailable main
paper).

The six tokens of each of T frames form one sequence of 6·T tokens. A learned token-type
embedding (wrist, thumb, …, pinky) and a learned time embedding (slot t of the window) are
added, then ``depth`` pre-LN transformer blocks attend over all of them — a finger token can
follow its own finger through time and look at the other fingers — with a **causal** mask:
a token of frame t attends only to tokens of frames ≤ t. Hence

- the output for frame t depends only on frames ≤ t of the window (tested);
- **streaming** (one new frame per step; the per-frame tokens of the window are cached, so a
  step costs one backbone pass plus this small transformer) computes, for the newest frame,
  exactly what the offline window forward computes for its last frame;
- training on windows supervises every frame, each with the history it has inside the window
  (1 … T frames), which is what streaming sees at the start of a video.

The time embedding indexes a frame's slot in the window (0 = oldest); with fewer frames than T
(the start of a stream) the slots 0 … n−1 are used, as for the first frames of a training
window. ``causal=False`` gives a bidirectional (offline-only) variant.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handpose.models.backbones.vit import Attention, Block
from handpose.models.dstformer import trunc_normal_init
from handpose.models.pgte.tokens import NUM_POSE_TOKENS

__all__ = ["TemporalFusion", "causal_token_mask"]


def causal_token_mask(frames: int, tokens: int, device=None) -> Tensor:
    """(frames·tokens, frames·tokens) bool, True where attention is allowed: query token of
    frame t may see key tokens of frames ≤ t (tokens flattened frame-major)."""
    t = torch.arange(frames, device=device).repeat_interleave(tokens)
    return t[None, :] <= t[:, None]


class _MaskedAttention(Attention):
    """ViT attention (same parameters) with an attention mask."""

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        p = self.attn_drop if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class _MaskedBlock(Block):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__(dim, num_heads, mlp_ratio, True, 0.0, 0.0)
        self.attn = _MaskedAttention(dim, num_heads, True, 0.0)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class TemporalFusion(nn.Module):
    """Causal transformer over the pose-aware tokens of a window (module docstring).

    Args:
        dim: token width D.
        depth: transformer blocks (0: identity).
        num_heads: attention heads.
        window: maximum frames per window (time-embedding slots).
        causal: mask future frames.
        mlp_ratio: MLP width / D.
    Shapes: (B, T, 6, D) with T ≤ window → (B, T, 6, D).
    """

    def __init__(
        self,
        dim: int,
        depth: int = 2,
        num_heads: int = 8,
        window: int = 16,
        causal: bool = True,
        mlp_ratio: float = 2.0,
    ) -> None:
        super().__init__()
        self.window = int(window)
        self.causal = bool(causal)
        self.type_embed = nn.Parameter(torch.zeros(NUM_POSE_TOKENS, dim))
        self.time_embed = nn.Parameter(torch.zeros(self.window, dim))
        nn.init.trunc_normal_(self.type_embed, std=0.02)
        nn.init.trunc_normal_(self.time_embed, std=0.02)
        self.blocks = nn.ModuleList(_MaskedBlock(dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6) if depth else nn.Identity()
        self.apply(trunc_normal_init)

    def forward(self, tokens: Tensor) -> Tensor:
        b, t, g, d = tokens.shape
        if not torch.jit.is_tracing() and t > self.window:
            raise ValueError(f"window of {t} frames exceeds the time embedding ({self.window})")
        if not self.blocks:
            return tokens
        x = tokens + self.type_embed + self.time_embed[:t, None, :]
        x = x.reshape(b, t * g, d)
        mask = causal_token_mask(t, g, tokens.device) if self.causal else None
        for blk in self.blocks:
            x = blk(x, mask)
        return tokens + self.norm(x).reshape(b, t, g, d)
