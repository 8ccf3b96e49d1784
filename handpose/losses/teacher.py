"""Teacher loss: reconstruction plus the auxiliary prior losses.

From the paper's text: the teacher loss is the reconstruction loss plus weighted auxiliary losses
— β from the shape prior, θ from the pose prior, joint velocity and acceleration from the motion
prior, with targets from the first and second differences of the ground-truth joints. Weights,
thresholds and the exact difference stencils are ours:

- velocity v_t = (j_t − j_{t−1})·fps for t = 1..T−1 (backward difference, m/s);
- acceleration a_t = (j_{t+1} − 2j_t + j_{t−1})·fps² for t = 1..T−2 (central difference, m/s²);
  the predictions at those frames are compared, frame 0 (and T−1 for acceleration) has no target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from handpose.losses.reconstruction import ReconstructionConfig, reconstruction_loss, smooth_l1
from handpose.models.mgdhand.outputs import MGDHandOutput

__all__ = [
    "AuxiliaryConfig",
    "TeacherLossConfig",
    "joint_velocity",
    "joint_acceleration",
    "auxiliary_loss",
    "teacher_loss",
]


def joint_velocity(joints: Tensor, fps: float) -> Tensor:
    """Backward differences along time: (B, T, K, 3) metres → (B, T−1, K, 3) m/s at frames 1..T−1."""
    return (joints[:, 1:] - joints[:, :-1]) * fps


def joint_acceleration(joints: Tensor, fps: float) -> Tensor:
    """Central second differences: (B, T, K, 3) → (B, T−2, K, 3) m/s² at frames 1..T−2."""
    return (joints[:, 2:] - 2 * joints[:, 1:-1] + joints[:, :-2]) * fps**2


@dataclass(frozen=True)
class AuxiliaryConfig:
    """Weights and thresholds of the teacher's auxiliary heads."""

    betas: float = 0.1
    pose: float = 0.5
    velocity: float = 1.0
    acceleration: float = 0.1
    fps: float = 30.0
    shape_threshold: float = 0.1
    rotation_threshold: float = 0.05
    velocity_threshold: float = 0.1  # m/s
    acceleration_threshold: float = 1.0  # m/s²

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if value < 0:
                raise ValueError(f"auxiliary {name} must be ≥ 0, got {value}")
        if self.fps <= 0:
            raise ValueError("auxiliary fps must be > 0")


@dataclass(frozen=True)
class TeacherLossConfig:
    reconstruction: ReconstructionConfig = field(default_factory=ReconstructionConfig)
    auxiliary: AuxiliaryConfig = field(default_factory=AuxiliaryConfig)


def auxiliary_loss(
    pred: MGDHandOutput,
    joints: Tensor,
    rotmats: Tensor,
    betas: Tensor,
    config: AuxiliaryConfig | None = None,
) -> dict[str, Tensor]:
    """Smooth-L1 losses of the auxiliary heads (``pred.aux``) against ground truth.

    Args:
        joints: (B, T, 21, 3) metres; rotmats: (B, T, 16, 3, 3); betas: (B, 10).
    Returns:
        ``{"aux_betas", "aux_pose", "aux_velocity", "aux_acceleration", "aux"}`` (the last is the
        weighted sum). Velocity needs T ≥ 2 and acceleration T ≥ 3; shorter clips skip them.
    """
    cfg = config or AuxiliaryConfig()
    aux = pred.aux
    terms = {
        "aux_betas": smooth_l1(aux["betas"], betas, cfg.shape_threshold),
        "aux_pose": smooth_l1(aux["rotmats"], rotmats, cfg.rotation_threshold),
    }
    weights = {"aux_betas": cfg.betas, "aux_pose": cfg.pose}
    t = joints.shape[1]
    if t >= 2:
        terms["aux_velocity"] = smooth_l1(
            aux["velocity"][:, 1:], joint_velocity(joints, cfg.fps), cfg.velocity_threshold
        )
        weights["aux_velocity"] = cfg.velocity
    if t >= 3:
        terms["aux_acceleration"] = smooth_l1(
            aux["acceleration"][:, 1:-1],
            joint_acceleration(joints, cfg.fps),
            cfg.acceleration_threshold,
        )
        weights["aux_acceleration"] = cfg.acceleration
    terms["aux"] = sum(weights[k] * terms[k] for k in weights)
    return terms


def teacher_loss(
    pred: MGDHandOutput,
    joints: Tensor,
    rotmats: Tensor,
    betas: Tensor,
    vertices: Tensor | None = None,
    config: TeacherLossConfig | None = None,
) -> dict[str, Tensor]:
    """Reconstruction + auxiliary terms; ``"loss"`` is the total to minimise."""
    cfg = config or TeacherLossConfig()
    terms = reconstruction_loss(pred, joints, rotmats, betas, vertices, cfg.reconstruction)
    terms.update(auxiliary_loss(pred, joints, rotmats, betas, cfg.auxiliary))
    terms["loss"] = terms["recon"] + terms["aux"]
    return terms
