"""Training losses: reconstruction, the MGDHand teacher loss, and distillation (``distill``)."""

from handpose.losses.reconstruction import ReconstructionConfig, reconstruction_loss, smooth_l1
from handpose.losses.teacher import (
    AuxiliaryConfig,
    TeacherLossConfig,
    auxiliary_loss,
    joint_acceleration,
    joint_velocity,
    teacher_loss,
)

__all__ = [
    "ReconstructionConfig",
    "reconstruction_loss",
    "smooth_l1",
    "AuxiliaryConfig",
    "TeacherLossConfig",
    "auxiliary_loss",
    "joint_acceleration",
    "joint_velocity",
    "teacher_loss",
]
