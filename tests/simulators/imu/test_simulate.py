"""The IMU simulator against closed-form sensor readings (noise off) and its noise plumbing."""

import math

import pytest
import torch

from handpose.errors import HandposeError
from handpose.geometry.rotations import axis_angle_to_matrix, quaternion_to_matrix
from handpose.simulators.imu.noise import NoiseConfig
from handpose.simulators.imu.simulate import GRAVITY, simulate_imu

F64 = torch.float64
G = 9.81


def _static(R: torch.Tensor, T: int = 12, N: int = 1):
    p = torch.full((T, N, 3), 0.3, dtype=F64)
    return p, R.to(F64).expand(T, N, 3, 3).clone()


def test_sensor_at_rest_reads_plus_g_along_its_up_axis():
    p, R = _static(torch.eye(3))
    out = simulate_imu(p, R, 30.0)
    # y-up world, identity orientation: +9.81 m/s² on the sensor's y axis, nothing else.
    torch.testing.assert_close(
        out.specific_force, torch.tensor([0.0, G, 0.0], dtype=F64).expand(12, 1, 3)
    )
    torch.testing.assert_close(out.free_acceleration, torch.zeros(12, 1, 3, dtype=F64))
    torch.testing.assert_close(out.angular_velocity, torch.zeros(12, 1, 3, dtype=F64))


def test_tilted_sensor_at_rest_reads_gravity_in_its_own_frame():
    # Rolled −90° about x, the sensor's +z axis points to world up (R·ẑ = ŷ).
    R = axis_angle_to_matrix(torch.tensor([-math.pi / 2, 0.0, 0.0], dtype=F64))
    assert torch.allclose(
        R @ torch.tensor([0.0, 0.0, 1.0], dtype=F64), torch.tensor([0.0, 1.0, 0.0], dtype=F64)
    )
    p, Rs = _static(R)
    out = simulate_imu(p, Rs, 30.0)
    torch.testing.assert_close(
        out.specific_force[0, 0], torch.tensor([0.0, 0.0, G], dtype=F64), atol=1e-12, rtol=0
    )
    assert out.specific_force.norm(dim=-1).sub(G).abs().max() < 1e-12


def test_sensor_rotating_at_a_known_rate_reads_that_rate():
    fps, w = 30.0, 2.0
    t = torch.arange(60, dtype=F64) / fps
    R = axis_angle_to_matrix(torch.stack([0 * t, 0 * t, w * t], -1))[:, None]  # about its z
    p = torch.zeros(60, 1, 3, dtype=F64)
    out = simulate_imu(p, R, fps)
    torch.testing.assert_close(
        out.angular_velocity, torch.tensor([0.0, 0.0, w], dtype=F64).expand(60, 1, 3)
    )
    # Gravity seen from the spinning sensor: Rᵀ(0, 9.81, 0).
    expected = (R.transpose(-1, -2) @ torch.tensor([0.0, G, 0.0], dtype=F64)[:, None])[..., 0]
    torch.testing.assert_close(out.specific_force, expected)


def test_constant_acceleration_reads_exactly():
    fps = 30.0
    t = torch.arange(30, dtype=F64) / fps
    a = torch.tensor([2.0, 1.0, -3.0], dtype=F64)
    p = (0.5 * a * t[:, None] ** 2)[:, None]
    R0 = axis_angle_to_matrix(torch.tensor([0.4, 0.2, -0.7], dtype=F64))
    out = simulate_imu(p, R0.expand(30, 1, 3, 3), fps)
    g = torch.tensor(GRAVITY, dtype=F64)
    torch.testing.assert_close(out.free_acceleration[:, 0], a.expand(30, 3), atol=1e-9, rtol=0)
    torch.testing.assert_close(
        out.specific_force[:, 0], (R0.T @ (a - g)).expand(30, 3), atol=1e-9, rtol=0
    )


def test_point_on_uniform_circular_motion_reads_centripetal():
    # Horizontal circle, sensor axes fixed: free acceleration ω²r towards the centre (up to the
    # ±n-difference factor (2 − 2cos ωh)/(ωh)², h = n/f), specific force adds +g on y.
    fps, n, r, w = 30.0, 2, 0.05, 2.0
    t = torch.arange(60, dtype=F64) / fps
    p = (r * torch.stack([torch.cos(w * t), 0 * t, torch.sin(w * t)], -1))[:, None]
    out = simulate_imu(p, torch.eye(3, dtype=F64).expand(60, 1, 3, 3), fps, acc_smoothing=n)
    h = n / fps
    factor = (2 - 2 * math.cos(w * h)) / (w * h) ** 2
    inner = slice(n, -n)
    torch.testing.assert_close(out.free_acceleration[inner], -p[inner] * w**2 * factor)
    mag = out.free_acceleration[inner].norm(dim=-1)
    assert torch.allclose(mag, torch.full_like(mag, w * w * r), rtol=0.01)
    torch.testing.assert_close(out.specific_force[inner, 0, 1], torch.full((56,), G, dtype=F64))


def test_mounting_rotation_rotates_the_readings():
    p, R = _static(torch.eye(3))
    M = axis_angle_to_matrix(torch.tensor([[0.0, 0.0, math.pi / 2]], dtype=F64))  # sensor z-turn
    out = simulate_imu(p, R, 30.0, mounting=M)
    # Sensor x axis = bone y axis = world up: gravity reaction appears on x.
    torch.testing.assert_close(
        out.specific_force[0, 0], torch.tensor([G, 0.0, 0.0], dtype=F64), atol=1e-12, rtol=0
    )
    torch.testing.assert_close(out.orientation[0, 0], M[0])


def test_quaternion_matches_orientation_and_has_nonnegative_w():
    R = axis_angle_to_matrix(
        torch.randn(20, 3, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    )
    p = torch.zeros(20, 3, 3, dtype=F64)
    out = simulate_imu(p, R, 30.0, noise=NoiseConfig(), generator=torch.Generator().manual_seed(0))
    assert (out.quaternion[..., 0] >= 0).all()
    torch.testing.assert_close(quaternion_to_matrix(out.quaternion), out.orientation)


def test_free_acceleration_is_the_ahrs_output():
    # a_free = R̂·a_S + g with the reported (drifted, noisy) orientation.
    R = axis_angle_to_matrix(
        torch.randn(30, 2, 3, dtype=F64, generator=torch.Generator().manual_seed(2))
    )
    p = torch.randn(30, 2, 3, dtype=F64, generator=torch.Generator().manual_seed(3)) * 0.01
    out = simulate_imu(p, R, 30.0, noise=NoiseConfig(), generator=torch.Generator().manual_seed(0))
    g = torch.tensor(GRAVITY, dtype=F64)
    torch.testing.assert_close(
        out.free_acceleration, (out.orientation @ out.specific_force[..., None])[..., 0] + g
    )


def _noisy(seed, cfg=None, dtype=F64):
    R = axis_angle_to_matrix(
        torch.randn(50, 3, 3, dtype=F64, generator=torch.Generator().manual_seed(5))
    )
    p = torch.randn(50, 3, 3, dtype=F64, generator=torch.Generator().manual_seed(6)) * 0.02
    return simulate_imu(
        p.to(dtype),
        R.to(dtype),
        30.0,
        noise=cfg or NoiseConfig(),
        generator=torch.Generator().manual_seed(seed),
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_same_seed_is_bit_identical_and_other_seeds_differ(dtype):
    a, b, c = _noisy(0, dtype=dtype), _noisy(0, dtype=dtype), _noisy(1, dtype=dtype)
    for name in ("quaternion", "specific_force", "free_acceleration", "angular_velocity"):
        assert torch.equal(getattr(a, name), getattr(b, name))
        assert not torch.equal(getattr(a, name), getattr(c, name))
        assert getattr(a, name).dtype == dtype


def test_noise_off_equals_no_noise():
    a = _noisy(0, NoiseConfig.off())
    R = axis_angle_to_matrix(
        torch.randn(50, 3, 3, dtype=F64, generator=torch.Generator().manual_seed(5))
    )
    p = torch.randn(50, 3, 3, dtype=F64, generator=torch.Generator().manual_seed(6)) * 0.02
    b = simulate_imu(p, R, 30.0)
    assert torch.equal(a.specific_force, b.specific_force)
    assert torch.equal(a.quaternion, b.quaternion)


def test_switching_one_part_off_leaves_the_others_unchanged():
    clean = _noisy(0, NoiseConfig.off())
    white = _noisy(0, NoiseConfig(bias=False, mounting=False, drift=False))
    white_bias = _noisy(0, NoiseConfig(mounting=False, drift=False))
    bias = _noisy(0, NoiseConfig(white=False, mounting=False, drift=False))
    # Additive errors: (white + bias) − clean = (white − clean) + (bias − clean).
    lhs = white_bias.specific_force - clean.specific_force
    rhs = (white.specific_force - clean.specific_force) + (
        bias.specific_force - clean.specific_force
    )
    torch.testing.assert_close(lhs, rhs)
    # Bias alone leaves the orientation untouched; white noise does not.
    torch.testing.assert_close(bias.orientation, clean.orientation)
    assert not torch.allclose(white.orientation, clean.orientation)


def test_each_part_changes_what_it_should():
    clean = _noisy(0, NoiseConfig.off())
    mount = _noisy(0, NoiseConfig(white=False, bias=False, drift=False))
    drift = _noisy(0, NoiseConfig(white=False, bias=False, mounting=False))
    assert not torch.allclose(mount.orientation, clean.orientation)
    assert not torch.allclose(mount.specific_force, clean.specific_force)
    # Drift rotates the reported orientation only; the accelerometer itself is unaffected.
    assert not torch.allclose(drift.orientation, clean.orientation)
    torch.testing.assert_close(drift.specific_force, clean.specific_force)
    torch.testing.assert_close(drift.angular_velocity, clean.angular_velocity)


def test_shape_errors():
    with pytest.raises(HandposeError, match=r"\(T, N, 3\)"):
        simulate_imu(torch.zeros(10, 3), torch.eye(3).expand(10, 3, 3), 30.0)
    with pytest.raises(HandposeError, match="bone_rotations"):
        simulate_imu(torch.zeros(10, 2, 3), torch.eye(3).expand(10, 1, 3, 3), 30.0)
