"""Minimum-jerk keyframe interpolation for joint angles, positions and rotations.

Between two keyframes the motion follows the minimum-jerk profile of Flash & Hogan (1985,
J. Neurosci. 5(7), eq. 2), ``s(τ) = 10τ³ − 15τ⁴ + 6τ⁵`` for ``τ ∈ [0, 1]``, which has zero
velocity and zero acceleration at both ends. It models point-to-point human reaching and is
used here for every transition, so the sensor accelerations stay finite and smooth. Every
frame is a convex combination of the two surrounding keyframes, so a convex joint-limit box is
never left.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = ["min_jerk", "min_jerk_velocity", "keyframe_track", "rotation_track"]


def min_jerk(tau: np.ndarray) -> np.ndarray:
    """Minimum-jerk position profile ``s(τ)`` (τ clipped to [0, 1]); s(0)=0, s(1)=1."""
    t = np.clip(tau, 0.0, 1.0)
    return t * t * t * (10.0 + t * (-15.0 + 6.0 * t))


def min_jerk_velocity(tau: np.ndarray) -> np.ndarray:
    """ds/dτ = 30τ²(1 − τ)², zero at both ends (τ clipped to [0, 1])."""
    t = np.clip(tau, 0.0, 1.0)
    return 30.0 * t * t * (1.0 - t) ** 2


def _segments(times: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or times.size < 1:
        raise ValueError("times must be a non-empty 1-D array")
    if np.any(np.diff(times) < 0):
        raise ValueError("keyframe times must be non-decreasing")
    if times.size == 1:
        return np.zeros(t.shape, dtype=np.int64), np.zeros(t.shape)
    k = np.clip(np.searchsorted(times, t, side="right") - 1, 0, times.size - 2)
    span = times[k + 1] - times[k]
    tau = np.where(span > 0, (t - times[k]) / np.where(span > 0, span, 1.0), 1.0)
    return k, min_jerk(tau)


def keyframe_track(times: np.ndarray, values: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Minimum-jerk blend of keyframes; holds the first/last value outside the key range.

    A hold is two consecutive keys with the same value.

    Args:
        times: (K,) non-decreasing keyframe times, seconds.
        values: (K, ...) keyframe values.
        t: (T,) query times, seconds.
    Returns:
        (T, ...) interpolated values.
    """
    values = np.asarray(values, dtype=np.float64)
    k, s = _segments(times, np.asarray(t, dtype=np.float64))
    if values.shape[0] == 1:
        return np.broadcast_to(values[0], (len(t),) + values.shape[1:]).copy()
    s = s.reshape(s.shape + (1,) * (values.ndim - 1))
    return values[k] + (values[k + 1] - values[k]) * s


def rotation_track(times: np.ndarray, rotvecs: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Minimum-jerk geodesic (slerp) blend of keyframe rotations.

    Args:
        times: (K,) keyframe times, seconds. rotvecs: (K, 3) keyframe rotations, axis-angle.
        t: (T,) query times.
    Returns:
        (T, 3) axis-angle rotations ``R_k·Exp(s·Log(R_kᵀR_{k+1}))``.
    """
    keys = Rotation.from_rotvec(np.asarray(rotvecs, dtype=np.float64))
    k, s = _segments(times, np.asarray(t, dtype=np.float64))
    if len(keys) == 1:
        return np.broadcast_to(keys.as_rotvec()[0], (len(t), 3)).copy()
    rel = (keys[:-1].inv() * keys[1:]).as_rotvec()  # (K-1, 3)
    return (keys[k] * Rotation.from_rotvec(rel[k] * s[:, None])).as_rotvec()
