"""Temporal metrics for sequences (..., T, J, 3): acceleration error and jitter.

- **Acceleration error** (Kanazawa et al., "Learning 3D Human Dynamics from Video", CVPR 2019;
  VIBE's ``compute_error_accel``): the mean over frames and joints of
  ``‖ä̂ₜ − äₜ‖`` with the central second difference ``äₜ = x_{t+1} − 2xₜ + x_{t−1}``
  (t = 1 … T−2). Without ``fps`` it is per frame² (VIBE reports mm/frame²); with ``fps`` it is
  multiplied by fps², i.e. m/s². A frame counts for a joint only if the joint is valid in all
  three frames (VIBE's visibility rule).
- **Jitter** (TransPose / PIP evaluators): the mean jerk magnitude ``‖x⃛ₜ‖`` with the third
  difference ``x⃛ₜ = x_{t+3} − 3x_{t+2} + 3x_{t+1} − xₜ`` (t = 0 … T−4), times fps³ when ``fps``
  is given (m/s³; TransPose prints km/s³). It measures the smoothness of one sequence, so it
  is computed for the prediction and, for reference, the ground truth separately. A joint
  counts at t only if valid in all four frames.

Inputs in metres; outputs in metres per frame² (frame³) or per s² (s³) with ``fps``.
"""

from __future__ import annotations

from torch import Tensor

from handpose.errors import HandposeError
from handpose.metrics._common import (
    Reduction,
    check_mask,
    check_pair,
    check_points,
    check_reduction,
    mask_shape,
    reduce_errors,
)

__all__ = ["second_difference", "third_difference", "accel_error", "jitter"]


def second_difference(x: Tensor) -> Tensor:
    """``x_{t+1} − 2xₜ + x_{t−1}`` along the time axis -3: (..., T, J, 3) → (..., T−2, J, 3)."""
    return x[..., 2:, :, :] - 2.0 * x[..., 1:-1, :, :] + x[..., :-2, :, :]


def third_difference(x: Tensor) -> Tensor:
    """``x_{t+3} − 3x_{t+2} + 3x_{t+1} − xₜ`` along axis -3: (..., T, J, 3) → (..., T−3, J, 3)."""
    return (
        x[..., 3:, :, :] - 3.0 * x[..., 2:-1, :, :] + 3.0 * x[..., 1:-2, :, :] - x[..., :-3, :, :]
    )


def window_mask(mask, width: int):
    """Valid at t iff valid at t … t+width−1: (..., T, J) → (..., T−width+1, J)."""
    if mask is None:
        return None
    T = mask.shape[-2]
    out = mask[..., : T - width + 1, :]
    for k in range(1, width):
        out = out & mask[..., k : T - width + 1 + k, :]
    return out


def _check_fps(fps) -> float:
    if fps is None:
        return 1.0
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not fps > 0:
        raise HandposeError(f"fps must be a positive number, got {fps!r}.")
    return float(fps)


def _check_sequence(x: Tensor, name: str, min_frames: int) -> None:
    if x.ndim < 3 or x.shape[-3] < min_frames:
        raise HandposeError(
            f"{name} must be a sequence (..., T, J, 3) with T ≥ {min_frames}, got {tuple(x.shape)}."
        )


def accel_error(
    pred: Tensor,
    gt: Tensor,
    valid: Tensor | None = None,
    fps: float | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """Acceleration error between predicted and ground-truth sequences.

    Args:
        pred: (..., T, J, 3) metres, T ≥ 3.
        gt: (..., T, J, 3) metres.
        valid: optional (..., T, J) bool mask.
        fps: frame rate; None gives metres/frame², a number gives m/s².
        reduction: ``"mean"`` (scalar), ``"per_sample"`` ((..., T−2) mean over joints) or
            ``"none"`` ((..., T−2, J)).
    Returns:
        Acceleration error (frames 1 … T−2).
    """
    check_reduction(reduction)
    p, g = check_pair(pred, gt)
    _check_sequence(p, "pred", 3)
    _check_sequence(g, "gt", 3)
    scale = _check_fps(fps) ** 2
    mask = window_mask(check_mask(valid, mask_shape(p, g), "valid"), 3)
    err = (second_difference(p) - second_difference(g)).norm(dim=-1) * scale
    return reduce_errors(err, mask, reduction)


def jitter(
    x: Tensor,
    valid: Tensor | None = None,
    fps: float | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """Mean jerk magnitude of one sequence (TransPose/PIP "jitter").

    Args:
        x: (..., T, J, 3) metres, T ≥ 4.
        valid: optional (..., T, J) bool mask.
        fps: frame rate; None gives metres/frame³, a number gives m/s³.
        reduction: ``"mean"``, ``"per_sample"`` ((..., T−3)) or ``"none"`` ((..., T−3, J)).
    Returns:
        Jitter (frames 0 … T−4).
    """
    check_reduction(reduction)
    xt = check_points(x, "x")
    _check_sequence(xt, "x", 4)
    scale = _check_fps(fps) ** 3
    mask = window_mask(check_mask(valid, xt.shape[:-1], "valid"), 4)
    return reduce_errors(third_difference(xt).norm(dim=-1) * scale, mask, reduction)
