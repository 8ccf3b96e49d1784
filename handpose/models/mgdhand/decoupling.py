"""The teacher's prior decoupling: static shape, dynamic pose and temporal motion priors.

**From the paper's text** (MGDHand, CVPR 2026): Z-guided cross-attention is applied to both
branches, giving F̂^m (morphology) and F̂^k (kinematics); then

- MSEM: (F̂^m − F̂^k) ⊕ (F̂^m ⊙ F̂^k) → static *shape* prior, pooled to one global vector;
- CEM:  (F̂^m ⊙ F̂^k) ⊕ (F̂^m + F̂^k) → per-frame *pose* prior;
- ISEM: the mirror of MSEM, (F̂^k − F̂^m) ⊕ (F̂^k ⊙ F̂^m) → per-frame *motion* prior;

with auxiliary heads: β from the shape prior, θ from the pose prior, joint velocity and
acceleration from the motion prior. ⊕ is channel concatenation, ⊙ the element-wise product.

**Our reconstruction** (the paper released no code; everything below beyond those formulas):

- "Z-guided" cross-attention uses Z's 16 joint tokens as the *queries* and the branch features as
  keys/values, per frame, without a residual to Z (:class:`CrossAttentionBlock` with
  ``residual=False``). This puts both branches in the same 16-token layout, which the
  element-wise formulas need (the kinematic branch has N IMU tokens, not 16), and keeps the two
  branches from collapsing onto Z.
- Each enhancement module is LN → Linear(2d, d) → GELU → Linear(d, D_prior) per token.
- ISEM adds a depthwise temporal convolution (kernel ``motion_kernel_size``, 'same' padding:
  (k − 1)//2 frames before, k//2 after, as torch pads even kernels) between its two Linear
  layers, so the motion prior sees neighbouring frames: velocity and acceleration are temporal
  differences. The supplement's "kernel size k = 4" is placed here in the ``paper`` presets
  (mgdhand.md §1.8: DSTformer itself has none; docs/benchmarks/model_size.md says why this is
  the place).
- The shape prior is the mean over frames and joints (a clip-level vector), the pose and motion
  priors stay per frame and per joint token: (B, T, 16, D).
- Auxiliary heads: β = Linear(shape prior); per-token θ (6D, added to the identity) = Linear(pose
  prior); per-frame velocity and acceleration of the 21 joints = Linear(flattened motion prior of
  the frame), in m/s and m/s².
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from handpose.models.dstformer import trunc_normal_init
from handpose.models.mgdhand.heads import IDENTITY_6D, NUM_BETAS, NUM_MANO_JOINTS
from handpose.models.mgdhand.layers import NORM_EPS, CrossAttentionBlock, per_frame

__all__ = ["Enhancement", "MotionEnhancement", "PriorDecoupling", "msem_input", "cem_input"]

NUM_JOINTS21 = 21


def msem_input(f_m: Tensor, f_k: Tensor) -> Tensor:
    """(F^m − F^k) ⊕ (F^m ⊙ F^k): (..., d), (..., d) → (..., 2d). ISEM is msem_input(f_k, f_m)."""
    return torch.cat([f_m - f_k, f_m * f_k], dim=-1)


def cem_input(f_m: Tensor, f_k: Tensor) -> Tensor:
    """(F^m ⊙ F^k) ⊕ (F^m + F^k): (..., d), (..., d) → (..., 2d)."""
    return torch.cat([f_m * f_k, f_m + f_k], dim=-1)


class Enhancement(nn.Module):
    """LN → Linear(2d, d) → GELU → Linear(d, D) per token."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(2 * dim, eps=NORM_EPS),
            nn.Linear(2 * dim, dim),
            nn.GELU(),
            nn.Linear(dim, out_dim),
        )
        self.apply(trunc_normal_init)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (..., 2d). Returns (..., D)."""
        return self.net(x)


class MotionEnhancement(nn.Module):
    """LN → Linear(2d, d) → GELU → depthwise temporal Conv1d(k) → GELU → Linear(d, D)."""

    def __init__(self, dim: int, out_dim: int, kernel_size: int) -> None:
        super().__init__()
        if kernel_size < 1:
            raise ValueError(f"motion kernel size must be ≥ 1, got {kernel_size}")
        self.norm = nn.LayerNorm(2 * dim, eps=NORM_EPS)
        self.fc1 = nn.Linear(2 * dim, dim)
        # 'Same' padding written out: torch's padding="same" warns for even kernels (k = 4).
        self.pad = ((kernel_size - 1) // 2, kernel_size // 2)
        self.conv = nn.Conv1d(dim, dim, kernel_size, groups=dim)
        self.fc2 = nn.Linear(dim, out_dim)
        self.act = nn.GELU()
        self.apply(trunc_normal_init)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (B, T, J, 2d). Returns (B, T, J, D)."""
        h = self.act(self.fc1(self.norm(x)))
        b, t, j, d = h.shape
        h = h.permute(0, 2, 3, 1).reshape(b * j, d, t)
        h = self.conv(nn.functional.pad(h, self.pad)).reshape(b, j, d, t).permute(0, 3, 1, 2)
        return self.fc2(self.act(h))


def temporal_differences(x: Tensor) -> Tensor:
    """First and second differences over frames, zero where undefined: (B, T, ...) →
    (B, T, ..., 2C) with ``[x_t − x_{t−1}, x_t − 2x_{t−1} + x_{t−2}]``."""
    d1 = torch.zeros_like(x)
    d1[:, 1:] = x[:, 1:] - x[:, :-1]
    d2 = torch.zeros_like(x)
    d2[:, 2:] = d1[:, 2:] - d1[:, 1:-1]
    return torch.cat([d1, d2], dim=-1)


class PriorDecoupling(nn.Module):
    """Z-guided decoupling of F^m and F^k into shape, pose and motion priors + auxiliary heads.

    Args:
        dim: token width d of Z, F^m and F^k.
        num_heads, mlp_ratio: of the two Z-guided cross-attention blocks.
        shape_dim, pose_dim, motion_dim: prior widths (the student is projected to these).
        motion_kernel_size: temporal kernel of ISEM.
        input_skip: add learned linear embeddings of the teacher's visible input to the priors
            (an investigation option, not in the paper): shape += W_s·β, pose += W_p·(θ6D −
            identity) per token, motion += W_m·[Δθ6D, Δ²θ6D] per token (first and second
            differences over frames, zero at the clip's first frames). W_s and W_p start as the
            pseudo-inverses of the β and θ auxiliary heads, so that those heads read the visible
            input back from the first step (a zero start learned too slowly: two small factors
            give tiny gradients); W_m starts at zero.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        shape_dim: int,
        pose_dim: int,
        motion_dim: int,
        motion_kernel_size: int = 3,
        input_skip: bool = False,
    ) -> None:
        super().__init__()
        self.guide_m = CrossAttentionBlock(dim, num_heads, mlp_ratio, residual=False)
        self.guide_k = CrossAttentionBlock(dim, num_heads, mlp_ratio, residual=False)
        self.msem = Enhancement(dim, shape_dim)
        self.cem = Enhancement(dim, pose_dim)
        self.isem = MotionEnhancement(dim, motion_dim, motion_kernel_size)
        self.aux_betas = nn.Linear(shape_dim, NUM_BETAS)
        self.aux_pose = nn.Linear(pose_dim, 6)
        self.aux_motion = nn.Linear(NUM_MANO_JOINTS * motion_dim, 2 * NUM_JOINTS21 * 3)
        for lin in (self.aux_betas, self.aux_pose, self.aux_motion):
            trunc_normal_init(lin)
        self.input_skip = input_skip
        if input_skip:
            self.skip_shape = nn.Linear(NUM_BETAS, shape_dim, bias=False)
            self.skip_pose = nn.Linear(6, pose_dim, bias=False)
            self.skip_motion = nn.Linear(12, motion_dim, bias=False)
            with torch.no_grad():
                self.skip_shape.weight.copy_(torch.linalg.pinv(self.aux_betas.weight))
                self.skip_pose.weight.copy_(torch.linalg.pinv(self.aux_pose.weight))
                self.skip_motion.weight.zero_()
        self.register_buffer("mean_pose6d", torch.tensor(IDENTITY_6D), persistent=False)

    def forward(
        self,
        z: Tensor,
        f_m: Tensor,
        f_k: Tensor,
        pose6d: Tensor | None = None,
        betas: Tensor | None = None,
    ) -> tuple[dict, dict]:
        """Args:
            z: (B, T, 16, d) unified features; f_m: (B, T, 16, d); f_k: (B, T, N, d).
            pose6d: (B, T, 16, 6) visible input pose and betas (B, 10) visible input shape
                (with ``input_skip``; required then, ignored otherwise).
        Returns:
            priors ``{"shape": (B, Ds), "pose": (B, T, 16, Dp), "motion": (B, T, 16, Dm)}`` and
            aux ``{"betas": (B, 10), "pose6d": (B, T, 16, 6), "velocity", "acceleration":
            (B, T, 21, 3)}``.
        """
        fh_m = per_frame(self.guide_m, z, f_m)
        fh_k = per_frame(self.guide_k, z, f_k)
        shape = self.msem(msem_input(fh_m, fh_k)).mean(dim=(1, 2))
        pose = self.cem(cem_input(fh_m, fh_k))
        motion = self.isem(msem_input(fh_k, fh_m))
        if self.input_skip:
            if pose6d is None or betas is None:
                raise ValueError("the prior input skip needs the visible pose6d and betas")
            shape = shape + self.skip_shape(betas)
            pose = pose + self.skip_pose(pose6d - self.mean_pose6d.to(pose6d.dtype))
            motion = motion + self.skip_motion(temporal_differences(pose6d))
        b, t = motion.shape[:2]
        vel_acc = self.aux_motion(motion.reshape(b, t, -1)).reshape(b, t, 2, NUM_JOINTS21, 3)
        aux = {
            "betas": self.aux_betas(shape),
            "pose6d": self.aux_pose(pose) + self.mean_pose6d.to(pose.dtype),
            "velocity": vel_acc[:, :, 0],
            "acceleration": vel_acc[:, :, 1],
        }
        return {"shape": shape, "pose": pose, "motion": motion}, aux
