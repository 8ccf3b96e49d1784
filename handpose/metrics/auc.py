"""PCK curves and their area under the curve (AUC), FreiHAND protocol by default.

FreiHAND ``EvalUtil.get_measures(0.0, 0.05, 100)`` (../shared/reference/metrics.md §2):

- thresholds ``τ = linspace(0, 0.05 m, 100)``;
- for each keypoint k: ``PCK_k(τ)`` = fraction of its (valid) samples with error ``e ≤ τ``
  (**inclusive**);
- ``AUC_k = trapz(PCK_k, τ) / trapz(1, τ)``; the reported AUC is the **mean over keypoints**
  (keypoints without any valid sample are skipped).

kornia's ``auc_from_errors`` uses a strict comparison instead; ``inclusive=False`` gives that.
Do not mix the two in one table. The same routine serves vertices (778 "keypoints").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from handpose.errors import HandposeError
from handpose.metrics._common import as_tensor, check_mask

__all__ = [
    "freihand_thresholds",
    "PCKCurve",
    "pck_counts",
    "pck_curve",
    "auc",
    "auc_from_curve",
]


def freihand_thresholds(dtype: torch.dtype = torch.float64, device=None) -> Tensor:
    """FreiHAND's AUC thresholds: ``numpy.linspace(0, 0.05, 100)`` metres, (100,).

    Built with numpy on purpose: ``torch.linspace`` differs from numpy's in the last bit at
    about a quarter of these points, which changes PCK for errors lying exactly on them.
    """
    return torch.from_numpy(np.linspace(0.0, 0.05, 100)).to(dtype=dtype, device=device)


@dataclass(frozen=True)
class PCKCurve:
    """Per-keypoint PCK.

    Attributes:
        pck: (K, T) fraction of valid samples with error within each threshold (NaN for a
            keypoint without valid samples).
        counts: (K,) number of valid samples per keypoint.
        thresholds: (T,) metres.
    """

    pck: Tensor
    counts: Tensor
    thresholds: Tensor


def _errors_2d(errors, valid) -> tuple[Tensor, Tensor | None]:
    e = as_tensor(errors, "errors")
    if e.ndim < 1:
        raise HandposeError(f"errors must have shape (..., K), got {tuple(e.shape)}.")
    mask = check_mask(valid, e.shape, "valid")
    k = e.shape[-1]
    return e.reshape(-1, k), None if mask is None else mask.reshape(-1, k).to(e.device)


def _check_thresholds(thresholds, e: Tensor) -> Tensor:
    th = freihand_thresholds(e.dtype, e.device) if thresholds is None else thresholds
    th = torch.as_tensor(th, dtype=e.dtype, device=e.device).reshape(-1)
    if th.numel() < 2 or not bool((th[1:] > th[:-1]).all()):
        raise HandposeError("thresholds must be at least two increasing distances in metres.")
    return th


def pck_counts(
    errors: Tensor,
    thresholds: Tensor | None = None,
    valid: Tensor | None = None,
    inclusive: bool = True,
) -> tuple[Tensor, Tensor]:
    """Per-keypoint hit counts, the additive part of PCK (what an accumulator sums).

    Args:
        errors: (..., K) per-keypoint errors, metres; all leading dims are samples.
        thresholds: (T,) increasing, metres (default FreiHAND's).
        valid: optional (..., K) bool mask.
        inclusive: ``e ≤ τ`` (FreiHAND) if True, ``e < τ`` (kornia) if False.
    Returns:
        (hits (K, T) int64, counts (K,) int64): number of valid samples within each threshold,
        and number of valid samples, per keypoint.
    """
    e, mask = _errors_2d(errors, valid)
    th = _check_thresholds(thresholds, e)
    if mask is not None:
        # Invalid entries never count: +inf is above every finite threshold.
        e = e.masked_fill(~mask, torch.inf)
    # Sort per keypoint once, then count with a binary search per threshold:
    # O(S log S) instead of an (S, K, T) comparison tensor.
    sorted_e = e.detach().T.contiguous().sort(dim=-1).values  # (K, S)
    hits = torch.searchsorted(sorted_e, th.expand(e.shape[1], -1).contiguous(), right=inclusive)
    counts = (
        torch.full((e.shape[1],), e.shape[0], dtype=torch.long, device=e.device)
        if mask is None
        else mask.sum(0)
    )
    return hits, counts


def pck_curve(
    errors: Tensor,
    thresholds: Tensor | None = None,
    valid: Tensor | None = None,
    inclusive: bool = True,
) -> PCKCurve:
    """Per-keypoint PCK curves: fraction of valid samples with error within each threshold.

    Args:
        errors: (..., K) metres; leading dims are samples.
        thresholds: (T,) increasing, metres; default ``linspace(0, 0.05, 100)``.
        valid: optional (..., K) bool mask.
        inclusive: ``≤`` (FreiHAND, default) or ``<``.
    Returns:
        :class:`PCKCurve` with pck (K, T).
    """
    e = as_tensor(errors, "errors")
    th = _check_thresholds(thresholds, e.reshape(-1))
    hits, counts = pck_counts(e, th, valid, inclusive)
    pck = hits.to(th.dtype) / counts[:, None].to(th.dtype)
    return PCKCurve(pck=pck, counts=counts, thresholds=th)


def auc_from_curve(pck: Tensor, thresholds: Tensor, counts: Tensor | None = None) -> Tensor:
    """Mean over keypoints of ``trapz(PCK_k, τ)/trapz(1, τ)``; keypoints with count 0 skipped.

    Args:
        pck: (K, T) per-keypoint PCK.
        thresholds: (T,) metres.
        counts: optional (K,) valid-sample counts; keypoints with 0 are excluded.
    Returns:
        Scalar AUC in [0, 1] (NaN if no keypoint has data).
    """
    norm = torch.trapezoid(torch.ones_like(thresholds), thresholds)
    per_kp = torch.trapezoid(pck, thresholds, dim=-1) / norm
    if counts is not None:
        per_kp = per_kp[counts.to(per_kp.device) > 0]
    return per_kp.mean()


def auc(
    errors: Tensor,
    valid: Tensor | None = None,
    thresholds: Tensor | None = None,
    inclusive: bool = True,
    per_keypoint: bool = True,
) -> Tensor:
    """Area under the PCK curve, FreiHAND protocol by default.

    Args:
        errors: (..., K) per-keypoint errors, metres; leading dims are samples.
        valid: optional (..., K) bool mask.
        thresholds: (T,) increasing, metres; default ``linspace(0, 0.05, 100)``.
        inclusive: ``e ≤ τ`` (FreiHAND) or ``e < τ`` (kornia).
        per_keypoint: average per-keypoint AUCs (FreiHAND) if True; otherwise pool all
            keypoints into one PCK curve.
    Returns:
        Scalar AUC in [0, 1] (normalised by the threshold range).

    Example:
        >>> auc(torch.zeros(10, 21, dtype=torch.float64))  # perfect predictions
        tensor(1., dtype=torch.float64)
    """
    e = as_tensor(errors, "errors")
    if not per_keypoint:
        mask = check_mask(valid, e.shape, "valid")
        e = e.reshape(-1, 1)
        valid = None if mask is None else mask.reshape(-1, 1)
    curve = pck_curve(e, thresholds, valid, inclusive)
    return auc_from_curve(curve.pck, curve.thresholds, curve.counts)
