"""Global-feature distillation (MGDHand's "w/o decouple" row; the VIFNet-S idea).

VIFNet-S (VIHand, ACM MM 2025; mgdhand.md §2) "learns to mimic the VIFNet's fused features
representation". Our version for MGDHand: one clip-level vector per network — the teacher's
unified features Z and the student's joint tokens, each averaged over frames and joints — the
student's through a learned Linear projector to the teacher's width, compared with
:func:`normalized_sq_distance`. No decoupling: shape, pose and motion travel in one vector.
"""

from __future__ import annotations

from torch import Tensor, nn

from handpose.losses.distill.base import Distiller, normalized_sq_distance, weighted_total

__all__ = ["GlobalFeatureDistill"]


class GlobalFeatureDistill(Distiller):
    def __init__(self, student_dim: int, teacher_dim: int, weight: float = 1.0) -> None:
        super().__init__()
        self.projector = nn.Linear(student_dim, teacher_dim)
        self.weights = {"global": weight}

    def forward(self, student, teacher, epoch: float = 0.0) -> dict[str, Tensor]:
        s = self.projector(student.features.mean(dim=(1, 2)))
        t = teacher.features.mean(dim=(1, 2))
        terms = {"global": normalized_sq_distance(s, t, 1)}
        terms["distill"] = weighted_total(terms, self.weights, student.joints)
        return terms
