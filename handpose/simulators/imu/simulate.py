"""From sensor trajectories to IMU readings (GlobalPose-style full-sensor simulation).

Pipeline per sensor (../shared/reference/imu.md §3, §6.3):

1. Mounting: ``R_S = R_bone·R_BS·Exp(δw)`` and ``p_S = p + R_bone·δp`` (layout rotation R_BS,
   random misalignment δw and offset δp, imu.md §3.1).
2. World acceleration ``a_W`` = smoothed second difference of ``p_S`` (n = 2 at 30 fps).
3. Specific force, what a real accelerometer reports: ``a_S = R_Sᵀ(a_W − g_W)``, with
   ``g_W = (0, −9.81, 0)`` in a y-up world, so a sensor at rest reads +9.81 m/s² along the world
   up axis expressed in its own frame (imu.md §3.2). Then white noise and bias are added.
4. Angular velocity ``ω_S`` from orientation differences of ``R_S`` (imu.md §3.3), plus noise.
5. Reported orientation ``R̂ = Exp(ε)·R_S`` (world-frame white noise + drift ε).
6. Global free acceleration as an AHRS outputs it: ``a_free = R̂·a_S + g_W`` (imu.md §3.7); with
   an ideal sensor this equals ``a_W``.

Units: metres, m/s², rad/s; the world is y-up unless ``gravity`` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from handpose.errors import HandposeError
from handpose.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_quaternion,
)
from handpose.simulators.imu.kinematics import angular_velocity, smoothed_acceleration
from handpose.simulators.imu.noise import NoiseConfig, draw_noise

__all__ = ["GRAVITY", "ImuReadings", "simulate_imu"]

GRAVITY: tuple[float, float, float] = (0.0, -9.81, 0.0)  # m/s², y-up world


@dataclass
class ImuReadings:
    """IMU output for T frames and N sensors.

    Attributes:
        orientation: (T, N, 3, 3) reported sensor-to-world rotation R̂.
        quaternion: (T, N, 4) the same as a unit quaternion (w, x, y, z), ``w ≥ 0``.
        specific_force: (T, N, 3) accelerometer reading in the sensor frame, gravity included,
            m/s².
        free_acceleration: (T, N, 3) global free acceleration ``R̂·a_S + g_W`` (gravity removed,
            world frame), m/s².
        angular_velocity: (T, N, 3) gyroscope reading in the sensor frame, rad/s.
    """

    orientation: Tensor
    quaternion: Tensor
    specific_force: Tensor
    free_acceleration: Tensor
    angular_velocity: Tensor


def simulate_imu(
    positions: Tensor,
    bone_rotations: Tensor,
    fps: float,
    *,
    mounting: Tensor | None = None,
    noise: NoiseConfig | None = None,
    generator: torch.Generator | None = None,
    gravity: tuple[float, float, float] | Tensor = GRAVITY,
    acc_smoothing: int = 2,
    gyro_method: str = "log",
) -> ImuReadings:
    """Simulate N body-worn IMUs from the trajectory of their attachment points and bones.

    Args:
        positions: (T, N, 3) world positions of the attachment vertices, metres.
        bone_rotations: (T, N, 3, 3) world rotations of the bones the sensors ride on.
        fps: frame rate in Hz.
        mounting: (N, 3, 3) nominal sensor-to-bone rotations R_BS (identity when None).
        noise: error model; None or ``NoiseConfig.off()`` gives an ideal sensor.
        generator: CPU torch generator for the noise (same state → bit-identical output).
        gravity: g_W in m/s² (world frame), default (0, −9.81, 0).
        acc_smoothing: n of the ±n-frame second difference (2 at 30 fps ≙ TransPose's 4 at 60).
        gyro_method: "log" or "matrix", see :func:`angular_velocity`.
    Returns:
        :class:`ImuReadings` in the dtype of ``positions``.
    """
    if positions.ndim != 3 or positions.shape[-1] != 3:
        raise HandposeError(f"positions must be (T, N, 3), got {tuple(positions.shape)}")
    T, N, _ = positions.shape
    if bone_rotations.shape != (T, N, 3, 3):
        raise HandposeError(
            f"bone_rotations must be {(T, N, 3, 3)} to match positions, got "
            f"{tuple(bone_rotations.shape)}"
        )
    dtype, device = positions.dtype, positions.device
    g = torch.as_tensor(gravity, dtype=dtype, device=device)
    R_bone = bone_rotations.to(dtype)
    R_sensor = R_bone if mounting is None else R_bone @ mounting.to(dtype=dtype, device=device)
    p = positions

    cfg = noise if noise is not None else NoiseConfig.off()
    err = None
    if cfg.enabled:
        err = draw_noise(T, N, fps, cfg, generator=generator, dtype=dtype)
        err = type(err)(**{k: v.to(device) for k, v in vars(err).items()})
        if cfg.mounting:
            R_sensor = R_sensor @ axis_angle_to_matrix(err.mount_rotation)
            p = p + (R_bone @ err.mount_offset[..., None])[..., 0]

    a_world = smoothed_acceleration(p, fps, n=acc_smoothing)
    specific = (R_sensor.transpose(-1, -2) @ (a_world - g)[..., None])[..., 0]
    omega = angular_velocity(R_sensor, fps, method=gyro_method)
    reported = R_sensor
    if err is not None:
        specific = specific + err.acc_error
        omega = omega + err.gyro_error
        if cfg.white or cfg.drift:
            reported = axis_angle_to_matrix(err.orientation_error) @ R_sensor
    free = (reported @ specific[..., None])[..., 0] + g
    return ImuReadings(
        orientation=reported,
        quaternion=matrix_to_quaternion(reported),
        specific_force=specific,
        free_acceleration=free,
        angular_velocity=omega,
    )
