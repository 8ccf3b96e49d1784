"""SimKD adapted to MANO regression (Chen et al., CVPR 2022; mgdhand.md §3.1).

SimKD trains a projector P so that P(f_s) matches the teacher's penultimate features, L = ‖P(f_s)
− f_t‖² (MSE, the only loss in the authors' recommended setting), and reuses the frozen teacher
classifier at inference. Here the "classifier" is the teacher's MANO head and the penultimate
features are the teacher's unified per-joint features Z (B, T, 16, d_t). The projector and the
frozen head copy live in the student (``MGDHandStudent(head="teacher")``) because they are needed
at inference; this distiller is the feature MSE on ``student.features`` (already projected).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from handpose.losses.distill.base import Distiller, weighted_total

__all__ = ["SimKDLoss"]


class SimKDLoss(Distiller):
    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weights = {"feature": weight}

    def forward(self, student, teacher, epoch: float = 0.0) -> dict[str, Tensor]:
        if student.features.shape != teacher.features.shape:
            raise ValueError(
                "SimKD needs a student built with head='teacher' (projected features of the "
                f"teacher's shape {tuple(teacher.features.shape)}), got "
                f"{tuple(student.features.shape)}"
            )
        terms = {"feature": F.mse_loss(student.features, teacher.features)}
        terms["distill"] = weighted_total(terms, self.weights, student.joints)
        return terms
