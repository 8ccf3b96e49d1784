"""The distiller interface and the feature distance shared by the MGDHand distillers."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from handpose.models.mgdhand.outputs import MGDHandOutput

__all__ = ["Distiller", "NoDistillation", "normalized_sq_distance", "weighted_total"]


def normalized_sq_distance(student: Tensor, teacher: Tensor, start_dim: int) -> Tensor:
    """Squared distance between ℓ2-normalised feature vectors, averaged over samples.

    The dimensions from ``start_dim`` on form one feature vector; the dimensions before it index
    samples (e.g. ``start_dim=2`` on (B, T, 16, D): one vector of 16·D per frame). Each vector is
    divided by its ℓ2 norm and ‖ŝ − t̂‖² is *summed* over the vector (= 2 − 2·cos(s, t), in
    [0, 4]), then averaged over samples. (A per-element mean, as ``F.mse_loss`` would take, only
    divides this by the vector length.)

    Args:
        student, teacher: tensors of the same shape (..., features...).
        start_dim: first feature dimension.
    Returns:
        () scalar.
    """
    if student.shape != teacher.shape:
        raise ValueError(f"feature shapes differ: {tuple(student.shape)} vs {tuple(teacher.shape)}")
    s = torch.nn.functional.normalize(student.flatten(start_dim), dim=-1)
    t = torch.nn.functional.normalize(teacher.flatten(start_dim), dim=-1)
    return (s - t).pow(2).sum(-1).mean()


def weighted_total(terms: dict[str, Tensor], weights: dict[str, float], like: Tensor) -> Tensor:
    """Σ weights[k]·terms[k] over the weighted terms (a zero scalar when there are none)."""
    total = torch.zeros((), dtype=like.dtype, device=like.device)
    for name, w in weights.items():
        if w != 0.0:
            total = total + w * terms[name]
    return total


class Distiller(nn.Module):
    """A distillation loss between a student and a (frozen) teacher output.

    Subclasses return the unweighted terms and ``"distill"``, the weighted total. Parameters of a
    distiller (projectors) are trained with the student and dropped at inference.
    """

    weights: dict[str, float]

    def forward(
        self, student: MGDHandOutput, teacher: MGDHandOutput, epoch: float = 0.0
    ) -> dict[str, Tensor]:
        raise NotImplementedError


class NoDistillation(Distiller):
    """The baseline: the student trains on reconstruction only."""

    def __init__(self) -> None:
        super().__init__()
        self.weights = {}

    def forward(self, student, teacher, epoch: float = 0.0) -> dict[str, Tensor]:
        return {
            "distill": torch.zeros((), dtype=student.joints.dtype, device=student.joints.device)
        }
