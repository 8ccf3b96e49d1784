"""Joint position errors: MPJPE (absolute or root-relative) and PA-MPJPE.

Definitions (../shared/reference/metrics.md §1, §2, §4):

- MPJPE = mean over valid joints and samples of ``‖p̂ − p‖₂``. With ``root`` given, both sets
  are first made relative to their own root joint (InterHand2.6M roots at the wrist; DexYCB's
  "root-relative" variant too). A joint then counts only if it **and the root** are valid,
  as in InterHand2.6M, where each hand's joint validity is multiplied by its root validity.
- PA-MPJPE = the same after a per-sample Procrustes alignment of the prediction to the ground
  truth (:func:`handpose.geometry.procrustes_residuals`); ``mode="freihand"`` reproduces the
  FreiHAND/HO3D/DexYCB evaluation (reflections allowed), ``"similarity"`` HMR/HaMeR.

All inputs are metres and results are metres (the :class:`~handpose.metrics.Evaluator` turns
them into millimetres for reports). Any leading batch dims; float32 and float64.
"""

from __future__ import annotations

from torch import Tensor

from handpose.geometry.procrustes import ProcrustesMode, procrustes_residuals
from handpose.metrics._common import (
    Reduction,
    check_index,
    check_mask,
    check_pair,
    check_reduction,
    mask_shape,
    reduce_errors,
    root_mask,
)

__all__ = ["point_errors", "root_relative", "mpjpe", "pa_mpjpe"]


def point_errors(pred: Tensor, gt: Tensor) -> Tensor:
    """Euclidean distance per point: (..., N, 3), (..., N, 3) → (..., N), in input units."""
    p, g = check_pair(pred, gt)
    return (p - g).norm(dim=-1)


def root_relative(points: Tensor, root: int) -> Tensor:
    """Subtract the root point: (..., N, 3) → (..., N, 3), ``points − points[..., root, :]``."""
    r = check_index(root, points.shape[-2], "root")
    return points - points[..., r : r + 1, :]


def mpjpe(
    pred: Tensor,
    gt: Tensor,
    valid: Tensor | None = None,
    root: int | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """Mean per-joint position error.

    Args:
        pred: (..., J, 3) predicted joints, metres.
        gt: (..., J, 3) ground-truth joints, metres.
        valid: optional (..., J) bool mask.
        root: joint index to make both sets root-relative, or None for absolute positions.
            With a mask, joints of samples whose root is invalid are dropped.
        reduction: ``"mean"`` (scalar over all valid joints of all samples), ``"per_sample"``
            ((...), NaN for a sample without valid joints) or ``"none"`` ((..., J), NaN where
            invalid).
    Returns:
        Errors in metres.

    Example:
        >>> gt = torch.zeros(2, 21, 3, dtype=torch.float64)
        >>> float(mpjpe(gt + torch.tensor([0.003, 0.004, 0.0], dtype=torch.float64), gt))
        0.005
    """
    check_reduction(reduction)
    p, g = check_pair(pred, gt)
    mask = check_mask(valid, mask_shape(p, g), "valid")
    if root is not None:
        root = check_index(root, p.shape[-2], "root")
        p, g = root_relative(p, root), root_relative(g, root)
        mask = root_mask(mask, root)
    return reduce_errors((p - g).norm(dim=-1), mask, reduction)


def pa_mpjpe(
    pred: Tensor,
    gt: Tensor,
    valid: Tensor | None = None,
    mode: ProcrustesMode = "similarity",
    reduction: Reduction = "mean",
) -> Tensor:
    """Procrustes-aligned MPJPE (alignment fitted per sample on the valid joints only).

    Args:
        pred: (..., J, 3) metres.
        gt: (..., J, 3) metres.
        valid: optional (..., J) bool mask.
        mode: ``"similarity"`` (default, det R = +1) or ``"freihand"`` (reflections allowed;
            the official FreiHAND/HO3D/DexYCB protocol).
        reduction: as in :func:`mpjpe`.
    Returns:
        Errors in metres.
    """
    check_reduction(reduction)
    p, g = check_pair(pred, gt)
    mask = check_mask(valid, mask_shape(p, g), "valid")
    return reduce_errors(procrustes_residuals(p, g, mode=mode, valid=mask), mask, reduction)
