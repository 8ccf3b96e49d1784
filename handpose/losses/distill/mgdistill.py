"""MGDistill: multi-granularity distillation of the shape, pose and motion priors.

From the paper's text (MGDHand): the student's priors are aligned with the frozen teacher's on
ℓ2-normalised features, at the granularity of each prior —

- L_ss, static shape distillation (SSD): the global (clip-level) shape prior;
- L_ps, dynamic pose distillation (DPD): the pose prior, per frame;
- L_ts, temporal motion distillation (TMD): the motion prior, per frame;

L_MGD = λ_ss·L_ss + λ_ps·L_ps + λ_ts·L_ts. The distance (our choice, the paper says "ℓ2-
normalised"): :func:`normalized_sq_distance`, the squared distance of unit vectors, one vector
per clip (shape) or per frame (16 joints × D, pose and motion). Setting a weight to 0 gives the
SSD-/DPD-/TMD-only and w/o-SSD/DPD/TMD ablations.
"""

from __future__ import annotations

from torch import Tensor

from handpose.losses.distill.base import Distiller, normalized_sq_distance, weighted_total

__all__ = ["MGDistill", "mgdistill_terms"]


def mgdistill_terms(
    student_priors: dict[str, Tensor], teacher_priors: dict[str, Tensor]
) -> dict[str, Tensor]:
    """Unweighted L_ss, L_ps, L_ts.

    Args:
        student_priors, teacher_priors: ``{"shape": (B, Ds), "pose": (B, T, 16, Dp),
            "motion": (B, T, 16, Dm)}``.
    Returns:
        ``{"shape", "pose", "motion"}`` scalars.
    """
    return {
        "shape": normalized_sq_distance(student_priors["shape"], teacher_priors["shape"], 1),
        "pose": normalized_sq_distance(student_priors["pose"], teacher_priors["pose"], 2),
        "motion": normalized_sq_distance(student_priors["motion"], teacher_priors["motion"], 2),
    }


class MGDistill(Distiller):
    """λ_ss·L_ss + λ_ps·L_ps + λ_ts·L_ts (weights keyed ``shape``, ``pose``, ``motion``)."""

    def __init__(self, shape: float = 1.0, pose: float = 1.0, motion: float = 1.0) -> None:
        super().__init__()
        self.weights = {"shape": shape, "pose": pose, "motion": motion}

    def forward(self, student, teacher, epoch: float = 0.0) -> dict[str, Tensor]:
        terms = mgdistill_terms(student.priors, teacher.priors)
        terms["distill"] = weighted_total(terms, self.weights, student.joints)
        return terms
