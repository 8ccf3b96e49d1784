"""Size settings of the MGDHand networks, as plain frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NetworkConfig", "PriorConfig"]


@dataclass(frozen=True)
class NetworkConfig:
    """Width and depth of one network (teacher or student).

    Attributes:
        dim: token width d of the DSTformer and of every later block.
        depth: DSTformer blocks per stream (each block = spatial + temporal sub-layer).
        num_heads: attention heads everywhere (d must be divisible).
        mlp_ratio: MLP hidden width / d.
        head_hidden: hidden width of the MANO heads.
        drop_path: DSTformer stochastic-depth rate (MotionBERT default 0).
    """

    dim: int = 512
    depth: int = 5
    num_heads: int = 8
    mlp_ratio: float = 2.0
    head_hidden: int = 512
    drop_path: float = 0.0

    def __post_init__(self) -> None:
        for name in ("dim", "depth", "num_heads", "head_hidden"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.dim % self.num_heads != 0:
            raise ValueError(f"dim {self.dim} is not divisible by num_heads {self.num_heads}")
        if self.mlp_ratio <= 0:
            raise ValueError(f"mlp_ratio must be positive, got {self.mlp_ratio}")
        if not 0.0 <= self.drop_path < 1.0:
            raise ValueError(f"drop_path must lie in [0, 1), got {self.drop_path}")


@dataclass(frozen=True)
class PriorConfig:
    """Widths of the three priors (shared by teacher and student so they can be distilled).

    Attributes:
        shape_dim: global static shape prior (B, shape_dim).
        pose_dim: per-frame pose prior (B, T, 16, pose_dim).
        motion_dim: per-frame motion prior (B, T, 16, motion_dim).
        motion_kernel_size: temporal kernel of the teacher's ISEM (our reconstruction).
    """

    shape_dim: int = 256
    pose_dim: int = 256
    motion_dim: int = 256
    motion_kernel_size: int = 3

    def __post_init__(self) -> None:
        for name in ("shape_dim", "pose_dim", "motion_dim", "motion_kernel_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
