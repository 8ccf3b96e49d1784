"""DKD (Zhao et al., CVPR 2022; mgdhand.md §3.2) adapted to per-joint feature regression.

DKD splits the classification KD loss into a target-class part (TCKD: KL between the binary
distributions [p_t, 1 − p_t]) and a non-target part (NCKD: KL between the distributions over the
non-target classes), each scaled by T², and weights them α·TCKD + β·NCKD, ramped in linearly over
``warmup`` epochs: min(epoch/warmup, 1).

**Our adaptation** (DKD needs class logits and a target class; MGDHand's is not published):

- "Classes" are the 16 joint tokens. For every frame and every feature channel c, the teacher's
  unified features Z[b, t, :, c] and the student's projected joint tokens (Linear(d_s → d_t))
  give a logit vector over the 16 joints: which joint this channel "fires" on in this frame.
- The target class is the teacher's arg-max joint (regression has no label to take it from).
- Softmax with temperature T, TCKD and NCKD exactly as in DKD (the non-target softmax is taken
  by subtracting 1000 from the target logit, as mdistiller does), averaged over all
  (b, t, c) "samples"; no cross-entropy term (the reconstruction loss plays that role).

The functional core :func:`dkd_terms` works on any logits and any class dimension.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handpose.losses.distill.base import Distiller, weighted_total

__all__ = ["DKDLoss", "dkd_terms"]


def _kl(p_teacher: Tensor, log_p_student: Tensor, dim: int) -> Tensor:
    """KL(p_t ‖ p_s) summed over ``dim`` (0·log 0 = 0)."""
    return torch.where(
        p_teacher > 0, p_teacher * (p_teacher.clamp_min(1e-30).log() - log_p_student), 0.0
    ).sum(dim)


def dkd_terms(
    student_logits: Tensor, teacher_logits: Tensor, dim: int = -1, temperature: float = 1.0
) -> dict[str, Tensor]:
    """TCKD and NCKD (both × T²) with the teacher's arg-max as the target class.

    Args:
        student_logits, teacher_logits: (..., C, ...) with the classes along ``dim``.
        temperature: T.
    Returns:
        ``{"tckd", "nckd"}`` scalars, averaged over all positions other than ``dim``.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError("student and teacher logits must have the same shape")
    dim = dim % student_logits.ndim
    target = F.one_hot(teacher_logits.argmax(dim), student_logits.shape[dim])
    target = target.movedim(-1, dim).to(torch.bool)
    zs, zt = student_logits / temperature, teacher_logits / temperature
    ps, pt = zs.softmax(dim), zt.softmax(dim)
    # Binary [p_target, 1 − p_target] distributions.
    bs = torch.stack([(ps * target).sum(dim), (ps * ~target).sum(dim)], dim=-1)
    bt = torch.stack([(pt * target).sum(dim), (pt * ~target).sum(dim)], dim=-1)
    tckd = _kl(bt, bs.clamp_min(1e-30).log(), -1).mean() * temperature**2
    # Non-target distributions: mask the target logit out (mdistiller: −1000·mask).
    big = 1000.0
    log_ps_nt = (zs - big * target).log_softmax(dim)
    pt_nt = (zt - big * target).softmax(dim)
    nckd = _kl(pt_nt, log_ps_nt, dim).mean() * temperature**2
    return {"tckd": tckd, "nckd": nckd}


class DKDLoss(Distiller):
    """DKD over the joint axis of per-joint features (see the module docstring).

    Args:
        student_dim, teacher_dim: feature widths (a Linear projector maps student → teacher).
        alpha, beta: TCKD and NCKD weights (DKD's CIFAR defaults 1 and 8).
        temperature: T (DKD's CIFAR default 4).
        warmup: epochs of the linear ramp (0 = none).
    """

    def __init__(
        self,
        student_dim: int,
        teacher_dim: int,
        alpha: float = 1.0,
        beta: float = 8.0,
        temperature: float = 4.0,
        warmup: float = 0.0,
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError("DKD temperature must be > 0")
        self.projector = nn.Linear(student_dim, teacher_dim)
        self.weights = {"tckd": alpha, "nckd": beta}
        self.temperature = temperature
        self.warmup = warmup

    def forward(self, student, teacher, epoch: float = 0.0) -> dict[str, Tensor]:
        s = self.projector(student.features)  # (B, T, 16, d_t)
        terms = dkd_terms(s, teacher.features, dim=2, temperature=self.temperature)
        ramp = min(epoch / self.warmup, 1.0) if self.warmup > 0 else 1.0
        terms["distill"] = ramp * weighted_total(terms, self.weights, student.joints)
        return terms
