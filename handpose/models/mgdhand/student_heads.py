"""The student's three decoupling heads and the SimKD projector.

**From the paper's text**: the IMU-only student has three decoupling heads — channel attention for
the static shape prior (pooled), joint-axis spatial attention for the dynamic pose prior, temporal
attention for the motion prior — projected to the teacher's prior sizes.

**Our reconstruction** of their internals:

- Shape: CBAM-style channel attention, w = σ(MLP(avg-pool) + MLP(max-pool)) over frames and
  joints, applied to the clip's average-pooled features, then Linear(d → D_shape).
- Pose: one pre-LN self-attention sub-layer (with its residual) along the joint axis of every
  frame (16 tokens), then LN → Linear(d → D_pose) per token.
- Motion: the same along the time axis of every joint token, then LN → Linear(d → D_motion).
- Attention only, as the text says ("joint-axis spatial attention", "temporal attention"): until
  issue 16 each head also had an MLP sub-layer; dropping it brought the paper-sized student's
  parameter count to the paper's (docs/benchmarks/model_size.md). ``mlp_ratio > 0`` puts it back.
- The SimKD projector is the token version of SimKD's 1×1-conv bottleneck (mgdhand.md §3.1):
  Linear(d_s → c) → LN → ReLU → Linear(c → c) → LN → ReLU → Linear(c → d_t), c = d_t / 2. The
  last BN+ReLU of SimKD is dropped because our teacher features are not post-ReLU.
"""

from __future__ import annotations

from torch import Tensor, nn

from handpose.models.dstformer import trunc_normal_init
from handpose.models.mgdhand.layers import NORM_EPS, AxisAttentionBlock

__all__ = ["ChannelAttentionShapeHead", "AxisPriorHead", "SimKDProjector"]


class ChannelAttentionShapeHead(nn.Module):
    """(B, T, J, d) → clip-level shape prior (B, D) through channel attention."""

    def __init__(self, dim: int, out_dim: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(1, dim // reduction)
        self.gate = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        self.norm = nn.LayerNorm(dim, eps=NORM_EPS)
        self.out = nn.Linear(dim, out_dim)
        self.apply(trunc_normal_init)

    def forward(self, x: Tensor) -> Tensor:
        avg = x.mean(dim=(1, 2))
        mx = x.amax(dim=(1, 2))
        weights = (self.gate(avg) + self.gate(mx)).sigmoid()
        return self.out(self.norm(avg * weights))


class AxisPriorHead(nn.Module):
    """Self-attention along joints (pose) or frames (motion), then a per-token projection.

    Args:
        mlp_ratio: 0 = the attention sub-layer only (the student's heads); > 0 adds an MLP.
        axis: ``"joints"`` (joint-axis spatial attention) or ``"frames"`` (temporal attention).
    """

    def __init__(self, dim: int, out_dim: int, num_heads: int, mlp_ratio: float, axis: str):
        super().__init__()
        self.block = AxisAttentionBlock(dim, num_heads, mlp_ratio, axis=axis)
        self.norm = nn.LayerNorm(dim, eps=NORM_EPS)
        self.out = nn.Linear(dim, out_dim)
        trunc_normal_init(self.out)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (B, T, J, d). Returns (B, T, J, D)."""
        return self.out(self.norm(self.block(x)))


class SimKDProjector(nn.Module):
    """Per-token bottleneck projector from the student width to the teacher width."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        hidden = max(1, dim_out // 2)
        self.net = nn.Sequential(
            nn.Linear(dim_in, hidden),
            nn.LayerNorm(hidden, eps=NORM_EPS),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.LayerNorm(hidden, eps=NORM_EPS),
            nn.ReLU(),
            nn.Linear(hidden, dim_out),
        )
        self.apply(trunc_normal_init)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (..., d_s). Returns (..., d_t)."""
        return self.net(x)
