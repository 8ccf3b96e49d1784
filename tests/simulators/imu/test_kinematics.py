"""Finite-difference kinematics: closed-form motions and a naive TransPose reference."""

import math

import pytest
import torch

from handpose.errors import HandposeError
from handpose.geometry.rotations import axis_angle_to_matrix
from handpose.simulators.imu.kinematics import angular_velocity, smoothed_acceleration

DTYPES = [torch.float32, torch.float64]


def naive_transpose_acc(p: torch.Tensor, fps: float, n: int) -> torch.Tensor:
    """TransPose ``_syn_acc`` written as a loop (imu.md §2), with our one-sided ends."""
    T = p.shape[0]
    a = torch.zeros_like(p)
    for t in range(1, T - 1):
        if n <= t < T - n:
            a[t] = (p[t - n] + p[t + n] - 2 * p[t]) * fps**2 / n**2
        else:
            a[t] = (p[t - 1] + p[t + 1] - 2 * p[t]) * fps**2
    a[0] = (2 * p[0] - 5 * p[1] + 4 * p[2] - p[3]) * fps**2
    a[-1] = (2 * p[-1] - 5 * p[-2] + 4 * p[-3] - p[-4]) * fps**2
    return a


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_matches_naive_reference(n):
    p = torch.randn(40, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    torch.testing.assert_close(smoothed_acceleration(p, 30.0, n), naive_transpose_acc(p, 30.0, n))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 4])
def test_constant_acceleration_is_exact_on_every_frame(dtype, n):
    fps = 30.0
    t = torch.arange(50, dtype=torch.float64) / fps
    a = torch.tensor([1.5, -9.0, 0.25], dtype=torch.float64)
    v0 = torch.tensor([0.2, 0.1, -0.3], dtype=torch.float64)
    p = (0.5 * a * t[:, None] ** 2 + v0 * t[:, None]).to(dtype)
    out = smoothed_acceleration(p, fps, n)
    tol = 1e-9 if dtype == torch.float64 else 2e-2
    torch.testing.assert_close(out, a.to(dtype).expand(50, 3), atol=tol, rtol=0)


def test_uniform_circular_motion_reads_centripetal_acceleration():
    # p = r(cos ωt, 0, sin ωt). The ±n difference with step h = n/f reads exactly
    # −p·(2 − 2cos ωh)/h², i.e. ω²r towards the centre times (2 − 2cos ωh)/(ωh)² → 1 as h → 0.
    fps, n, r, w = 30.0, 2, 0.08, 3.0
    t = torch.arange(90, dtype=torch.float64) / fps
    p = r * torch.stack([torch.cos(w * t), 0 * t, torch.sin(w * t)], -1)
    a = smoothed_acceleration(p, fps, n)[n:-n]
    h = n / fps
    factor = (2 - 2 * math.cos(w * h)) / (w * h) ** 2
    expected = -p[n:-n] * w**2 * factor
    torch.testing.assert_close(a, expected, atol=1e-10, rtol=0)
    assert abs(factor - 1) < 0.01  # ≈ ω²r: 3 rad/s at 30 fps, n = 2
    mag = a.norm(dim=-1)
    torch.testing.assert_close(mag, torch.full_like(mag, w**2 * r * factor))


def test_acceleration_needs_four_frames():
    with pytest.raises(HandposeError, match="at least 4"):
        smoothed_acceleration(torch.zeros(3, 3), 30.0)
    with pytest.raises(HandposeError, match="n must be"):
        smoothed_acceleration(torch.zeros(5, 3), 30.0, n=0)


def _spin(axis, rate, fps, T, dtype=torch.float64, start=None):
    t = torch.arange(T, dtype=torch.float64) / fps
    u = torch.tensor(axis, dtype=torch.float64)
    u = u / u.norm()
    R = axis_angle_to_matrix(u * rate * t[:, None])
    if start is not None:
        R = start @ R  # body-frame spin: R(t) = R0·Exp(u·w·t)
    return R.to(dtype), u


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_method_reads_a_constant_rate_exactly(dtype):
    start = axis_angle_to_matrix(torch.tensor([0.3, -1.2, 0.5], dtype=torch.float64))
    R, u = _spin([1.0, 2.0, -0.5], 2.5, 30.0, 40, dtype, start)
    omega = angular_velocity(R, 30.0)
    tol = 1e-9 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(omega, (2.5 * u).to(dtype).expand(40, 3), atol=tol, rtol=tol)


def test_matrix_method_reads_sin_rate():
    # GlobalPose's (R_{t+1} − R_{t−1})·f/2 gives sin(w/f)·f for a constant rate w.
    fps, w = 30.0, 4.0
    R, u = _spin([0.0, 0.0, 1.0], w, fps, 30)
    omega = angular_velocity(R, fps, method="matrix")[1:-1]
    torch.testing.assert_close(omega, (math.sin(w / fps) * fps * u).expand(28, 3))


def test_angular_velocity_is_in_the_sensor_frame():
    # Spinning about world z while tilted: the body-frame rate is R0ᵀ·(w ẑ).
    R0 = axis_angle_to_matrix(torch.tensor([math.pi / 2, 0.0, 0.0], dtype=torch.float64))
    t = torch.arange(20, dtype=torch.float64) / 30
    Rw = axis_angle_to_matrix(torch.stack([0 * t, 0 * t, 1.5 * t], -1)) @ R0  # world-frame spin
    omega = angular_velocity(Rw, 30.0)
    expected = R0.T @ torch.tensor([0.0, 0.0, 1.5], dtype=torch.float64)
    torch.testing.assert_close(omega, expected.expand(20, 3))


def test_angular_velocity_rejects_bad_input():
    with pytest.raises(HandposeError, match="method"):
        angular_velocity(torch.eye(3).expand(5, 3, 3), 30.0, method="euler")
    with pytest.raises(HandposeError, match="at least 3"):
        angular_velocity(torch.eye(3).expand(2, 3, 3), 30.0)
