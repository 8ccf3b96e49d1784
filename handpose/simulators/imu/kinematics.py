"""Finite-difference kinematics of a sensor trajectory: acceleration and angular velocity.

Both follow the body-IMU synthesis literature (../shared/reference/imu.md):

- Acceleration is a second difference of positions. TransPose/PIP smooth it by differencing over
  ``±n`` frames (``aₜ = (p_{t−n} + p_{t+n} − 2pₜ)·f²/n²``, imu.md §2). TransPose's ``n = 4`` at
  60 fps spans ±67 ms; the same span at 30 fps is ``n = 2`` (imu.md §6.2), our default.
- Angular velocity comes from orientation differences (imu.md §3.3, §6.4), so synthetic and real
  data (VIHand has no gyroscope field) get their ω from the same function.

Every function takes any leading batch dimensions after the time axis convention stated in its
docstring, and works in float32 and float64.
"""

from __future__ import annotations

import torch
from torch import Tensor

from handpose.errors import HandposeError
from handpose.geometry.rotations import matrix_to_axis_angle

__all__ = ["smoothed_acceleration", "angular_velocity"]


def _check_time(x: Tensor, min_len: int, what: str) -> None:
    if x.shape[0] < min_len:
        raise HandposeError(f"{what} needs at least {min_len} frames, got {x.shape[0]}")


def smoothed_acceleration(positions: Tensor, fps: float, n: int = 2) -> Tensor:
    """Second time derivative of positions by a ``±n``-frame central difference.

    Interior frames ``t ∈ [n, T−n)`` use ``(p_{t−n} + p_{t+n} − 2pₜ)·f²/n²`` (TransPose
    ``_syn_acc``, imu.md §2). Frames closer than ``n`` to an end but not at it use the 1-step
    central difference; the first and last frames use the 4-point one-sided formula
    ``(2p₀ − 5p₁ + 4p₂ − p₃)·f²`` (GlobalPose, imu.md §3.2) instead of TransPose's zeros, so a
    sensor at rest on a sequence edge still reads gravity and not a spurious jump. All three
    stencils are exact for quadratic trajectories (constant acceleration).

    Args:
        positions: (T, ..., 3) positions in metres, time first. ``T ≥ 4``.
        fps: frame rate f in Hz.
        n: smoothing half-width in frames (``n = 1`` is the plain central difference).
    Returns:
        (T, ..., 3) acceleration in m/s², same frame as ``positions``.

    Example:
        >>> t = torch.arange(10.0) / 30
        >>> p = torch.stack([0.5 * 2.0 * t**2, 0 * t, 0 * t], -1)  # 2 m/s² along x
        >>> smoothed_acceleration(p, 30.0)[:, 0].allclose(torch.full((10,), 2.0))
        True
    """
    if n < 1:
        raise HandposeError(f"n must be >= 1, got {n}")
    _check_time(positions, 4, "smoothed_acceleration")
    T = positions.shape[0]
    f2 = float(fps) ** 2
    p = positions
    acc = torch.empty_like(p)
    # 1-step central difference everywhere inside, then overwrite with the n-step one.
    acc[1:-1] = (p[:-2] + p[2:] - 2.0 * p[1:-1]) * f2
    if n > 1 and T > 2 * n:
        acc[n : T - n] = (p[: T - 2 * n] + p[2 * n :] - 2.0 * p[n : T - n]) * (f2 / (n * n))
    acc[0] = (2.0 * p[0] - 5.0 * p[1] + 4.0 * p[2] - p[3]) * f2
    acc[-1] = (2.0 * p[-1] - 5.0 * p[-2] + 4.0 * p[-3] - p[-4]) * f2
    return acc


def angular_velocity(rotations: Tensor, fps: float, method: str = "log") -> Tensor:
    """Body-frame angular velocity ω_S (rad/s) from a sequence of orientations.

    ``method="log"`` (default): the mean of the backward and forward rotation increments,
    ``ωₜ = (Log(R_{t−1}ᵀRₜ) + Log(Rₜᵀ R_{t+1}))·f/2``, with one-sided increments at the ends.
    It is exact for rotation at a constant body rate (as long as the per-frame angle is < π),
    which the matrix form below is not.

    ``method="matrix"``: GlobalPose's ``Ṙ = (R_{t+1} − R_{t−1})·f/2`` (3-point one-sided at the
    ends), ``Ω = RᵀṘ`` skew-symmetrised, ``ω = (Ω₂₁, Ω₀₂, Ω₁₀)`` (imu.md §3.3). For a constant rate
    w it reads ``sin(w/f)·f`` (0.06 % low at 1 rad/s and 30 fps).

    Args:
        rotations: (T, ..., 3, 3) sensor-to-world rotations, time first, ``T ≥ 3``.
        fps: frame rate f in Hz.
        method: "log" or "matrix".
    Returns:
        (T, ..., 3) angular velocity in the sensor frame, rad/s.
    """
    _check_time(rotations, 3, "angular_velocity")
    f = float(fps)
    R = rotations
    if method == "log":
        # Increment between consecutive frames, expressed in the earlier frame's body axes.
        inc = matrix_to_axis_angle(R[:-1].transpose(-1, -2) @ R[1:]) * f  # (T-1, ..., 3)
        omega = torch.empty(R.shape[:-1], dtype=R.dtype, device=R.device)
        omega[1:-1] = 0.5 * (inc[:-1] + inc[1:])
        omega[0] = inc[0]
        omega[-1] = inc[-1]
        return omega
    if method == "matrix":
        dR = torch.empty_like(R)
        dR[1:-1] = (R[2:] - R[:-2]) * (f / 2.0)
        dR[0] = (-3.0 * R[0] + 4.0 * R[1] - R[2]) * (f / 2.0)
        dR[-1] = (3.0 * R[-1] - 4.0 * R[-2] + R[-3]) * (f / 2.0)
        Om = R.transpose(-1, -2) @ dR
        Om = 0.5 * (Om - Om.transpose(-1, -2))
        return torch.stack([Om[..., 2, 1], Om[..., 0, 2], Om[..., 1, 0]], dim=-1)
    raise HandposeError(f"method must be 'log' or 'matrix', got {method!r}")
