"""IMU error model: white noise, bias random walks, mounting misalignment, orientation drift.

Defaults come from GlobalPose's simulator (../shared/reference/imu.md §3) scaled to our frame
rate, with mounting errors shrunk to glove scale (imu.md §6.2):

========================  =======================  ============================================
part                      default                  source / reason
========================  =======================  ============================================
accelerometer white       σ = 0.05 m/s²            imu.md §3.5
gyroscope white           σ = 0.005 rad/s          imu.md §3.5
orientation white         σ = 0.005 rad (0.29°)    AHRS jitter; our choice (GlobalPose's
                                                   0.1·k = 3.6° per frame is body-suit scale)
accelerometer bias walk   1e-4 m/s² per √s         imu.md §3.5 (1e-4·√(1/60) per frame at 60 fps)
gyroscope bias walk       1e-5 rad/s per √s        imu.md §3.5
mounting rotation         σ = 0.05 rad (2.9°)      glove scale; body scale is 0.1·k = 0.063 rad
  slow slip               0.005 rad per √s         glove scale; body 1e-2·k per √s
mounting offset           σ = 2 mm per axis        glove scale (imu.md §6.2: "a few mm"); body 6 mm
  slow slip               0.2 mm per √s            glove scale; body 1e-3·k m per √s
orientation drift         0.01 rad per √s          AHRS heading/tilt drift (≈ 4.4° after 60 s);
                                                   our choice
========================  =======================  ============================================

A random walk is the cumulative sum of independent Gaussian steps with standard deviation
``σ_walk·√Δt`` (Δt = 1/fps), so its spread after t seconds is ``σ_walk·√t`` whatever the frame rate
(imu.md §6.2: "use √(1/30) where GlobalPose uses √(1/60)").

Every component is drawn from the generator in a fixed order even when its part is switched
off, so switching one part off leaves the realisation of the others unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor

__all__ = ["NoiseConfig", "NoiseRealisation", "draw_noise"]


@dataclass(frozen=True)
class NoiseConfig:
    """Switches and magnitudes of the IMU error model (units in the field comments).

    ``NoiseConfig()`` is the default noisy sensor; ``NoiseConfig.off()`` is an ideal sensor.
    """

    white: bool = True  # accelerometer, gyroscope and orientation white noise
    bias: bool = True  # accelerometer and gyroscope bias random walks
    mounting: bool = True  # sensor-to-bone rotation and position offsets (constant + slip)
    drift: bool = True  # world-frame orientation drift of the reported orientation
    acc_white_std: float = 0.05  # m/s²
    gyro_white_std: float = 0.005  # rad/s
    orientation_white_std: float = 0.005  # rad
    acc_bias_walk: float = 1e-4  # m/s² per √s
    gyro_bias_walk: float = 1e-5  # rad/s per √s
    mount_rotation_std: float = 0.05  # rad, per axis, constant
    mount_rotation_walk: float = 0.005  # rad per √s
    mount_offset_std: float = 2e-3  # m, per axis, constant, in the bone frame
    mount_offset_walk: float = 2e-4  # m per √s
    drift_walk: float = 0.01  # rad per √s

    @classmethod
    def off(cls) -> NoiseConfig:
        """An ideal sensor: every part switched off."""
        return cls(white=False, bias=False, mounting=False, drift=False)

    def scaled(self, factor: float) -> NoiseConfig:
        """All magnitudes multiplied by ``factor`` (switches unchanged)."""
        kw = {f.name: getattr(self, f.name) * factor for f in fields(self) if f.type == "float"}
        return replace(self, **kw)

    @property
    def enabled(self) -> bool:
        return self.white or self.bias or self.mounting or self.drift


@dataclass
class NoiseRealisation:
    """One draw of every error component for T frames and N sensors (zeros where switched off).

    Attributes:
        mount_rotation: (T, N, 3) axis-angle δw in the sensor frame, rad: R_S = R_bone·R_BS·Exp(δw).
        mount_offset: (T, N, 3) position offset δp in the bone frame, m: p_S = p + R_bone·δp.
        acc_error: (T, N, 3) white noise + bias added to the specific force, m/s².
        gyro_error: (T, N, 3) white noise + bias added to the angular velocity, rad/s.
        orientation_error: (T, N, 3) world-frame axis-angle ε: R_reported = Exp(ε)·R_S, rad.
    """

    mount_rotation: Tensor
    mount_offset: Tensor
    acc_error: Tensor
    gyro_error: Tensor
    orientation_error: Tensor


def _walk(steps: Tensor, sigma: float, dt: float) -> Tensor:
    return torch.cumsum(steps * (sigma * math.sqrt(dt)), dim=0)


def draw_noise(
    num_frames: int,
    num_sensors: int,
    fps: float,
    config: NoiseConfig,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> NoiseRealisation:
    """Draw every error component; see the module docstring for the model and defaults.

    Args:
        num_frames: T. num_sensors: N. fps: frame rate (Δt = 1/fps).
        config: switches and magnitudes.
        generator: CPU torch generator; the same generator state and dtype give bit-identical
            output (float32 and float64 draws differ).
        dtype: float32 or float64.
    Returns:
        :class:`NoiseRealisation` with (T, N, 3) tensors.
    """
    T, N, dt = num_frames, num_sensors, 1.0 / float(fps)
    shape = (T, N, 3)

    # Drawn directly in the output dtype (float32 normals are ~8× cheaper on CPU than float64).
    def randn(*s: int) -> Tensor:
        return torch.randn(s, generator=generator, dtype=dtype)

    # Fixed draw order (see module docstring).
    rot_const, rot_steps = randn(1, N, 3), randn(*shape)
    off_const, off_steps = randn(1, N, 3), randn(*shape)
    acc_white, acc_steps = randn(*shape), randn(*shape)
    gyro_white, gyro_steps = randn(*shape), randn(*shape)
    ori_white, drift_steps = randn(*shape), randn(*shape)

    zero = torch.zeros(shape, dtype=dtype)
    c = config
    mount_rotation = (
        rot_const * c.mount_rotation_std + _walk(rot_steps, c.mount_rotation_walk, dt)
        if c.mounting
        else zero
    )
    mount_offset = (
        off_const * c.mount_offset_std + _walk(off_steps, c.mount_offset_walk, dt)
        if c.mounting
        else zero
    )
    acc_error = zero.clone()
    gyro_error = zero.clone()
    orientation_error = zero.clone()
    if c.white:
        acc_error = acc_error + acc_white * c.acc_white_std
        gyro_error = gyro_error + gyro_white * c.gyro_white_std
        orientation_error = orientation_error + ori_white * c.orientation_white_std
    if c.bias:
        acc_error = acc_error + _walk(acc_steps, c.acc_bias_walk, dt)
        gyro_error = gyro_error + _walk(gyro_steps, c.gyro_bias_walk, dt)
    if c.drift:
        orientation_error = orientation_error + _walk(drift_steps, c.drift_walk, dt)
    return NoiseRealisation(
        mount_rotation=mount_rotation,
        mount_offset=mount_offset,
        acc_error=acc_error,
        gyro_error=gyro_error,
        orientation_error=orientation_error,
    )
