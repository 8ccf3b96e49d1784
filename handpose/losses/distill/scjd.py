"""An SCJD-style distiller — **our reconstruction from the abstract** of SCJD (Chen et al.,
"Sparse Correlation and Joint Distillation for Efficient 3D Human Pose Estimation", ICME 2025,
arXiv 2503.14097; mgdhand.md §3.3). The paper's loss equations and weights are not used here;
only its three ideas are, adapted to per-joint features of shape (B, T, 16, d):

1. *Dynamic joint embedding distillation*: the student's joint embeddings, projected to the
   teacher's width by a Linear layer, are regressed onto the teacher's context features Z (MSE).
2. *Adjacent joint attention distillation*: per frame, a joint-to-joint attention map
   A_ij = softmax_{j ∈ N(i)}(⟨x̂_i, x̂_j⟩ / τ) is computed from ℓ2-normalised tokens, restricted to
   the kinematic neighbourhood N(i) = {i, parent(i), children(i)} of the MANO tree; the student's
   map is regressed onto the teacher's (MSE over the neighbour entries). Maps come from the
   features rather than from attention layers so that teacher and student are compared on the
   same footing (the teacher has no joint-only self-attention).
3. *Temporal consistency distillation*: per joint, the frame-to-frame cosine-similarity matrix
   (T × T) of the student's projected tokens is regressed onto the teacher's (MSE).

SCJD's sparse input downsampling (the student seeing fewer frames, upsampled afterwards) is not
reproduced: every variant here sees the same full-rate IMU window, so the comparison isolates the
distillation losses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handpose.handmodel.conventions import MANO_PARENTS
from handpose.losses.distill.base import Distiller, weighted_total

__all__ = ["SCJDLoss", "kinematic_neighbourhood", "adjacent_attention", "temporal_correlation"]


def kinematic_neighbourhood(parents: tuple[int, ...] = MANO_PARENTS) -> Tensor:
    """(J, J) bool: True where j is i itself, i's parent or one of i's children."""
    n = len(parents)
    adj = torch.eye(n, dtype=torch.bool)
    for child, parent in enumerate(parents):
        if parent >= 0:
            adj[child, parent] = adj[parent, child] = True
    return adj


def adjacent_attention(tokens: Tensor, neighbourhood: Tensor, tau: float) -> Tensor:
    """Neighbourhood-restricted attention maps from features.

    Args:
        tokens: (..., J, d).
        neighbourhood: (J, J) bool.
        tau: softmax temperature on cosine similarities.
    Returns:
        (..., J, J), rows summing to 1 over each joint's neighbours, 0 elsewhere.
    """
    x = F.normalize(tokens, dim=-1)
    logits = (x @ x.transpose(-1, -2)) / tau
    logits = logits.masked_fill(~neighbourhood, float("-inf"))
    return logits.softmax(dim=-1)


def temporal_correlation(tokens: Tensor) -> Tensor:
    """Per-token frame-to-frame cosine similarity: (B, T, J, d) → (B, J, T, T)."""
    x = F.normalize(tokens.transpose(1, 2), dim=-1)
    return x @ x.transpose(-1, -2)


class SCJDLoss(Distiller):
    """Joint-embedding, adjacent-joint attention and temporal-correlation terms (weights keyed
    ``joint``, ``attention``, ``temporal``)."""

    def __init__(
        self,
        student_dim: int,
        teacher_dim: int,
        joint: float = 1.0,
        attention: float = 1.0,
        temporal: float = 1.0,
        tau: float = 0.1,
    ) -> None:
        super().__init__()
        if tau <= 0:
            raise ValueError("SCJD tau must be > 0")
        self.projector = nn.Linear(student_dim, teacher_dim)
        self.weights = {"joint": joint, "attention": attention, "temporal": temporal}
        self.tau = tau
        self.register_buffer("neighbourhood", kinematic_neighbourhood(), persistent=False)

    def forward(self, student, teacher, epoch: float = 0.0) -> dict[str, Tensor]:
        s = self.projector(student.features)
        t = teacher.features
        nb = self.neighbourhood
        a_s = adjacent_attention(s, nb, self.tau)
        a_t = adjacent_attention(t, nb, self.tau)
        terms = {
            "joint": F.mse_loss(s, t),
            "attention": (a_s - a_t).pow(2)[..., nb].mean(),
            "temporal": F.mse_loss(temporal_correlation(s), temporal_correlation(t)),
        }
        terms["distill"] = weighted_total(terms, self.weights, student.joints)
        return terms
