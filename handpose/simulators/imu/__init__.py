"""IMU simulation: sensor layouts, finite-difference kinematics, noise model, simulator."""

from handpose.simulators.imu.kinematics import angular_velocity, smoothed_acceleration
from handpose.simulators.imu.layouts import (
    LAYOUTS,
    ImuLayout,
    ImuSensor,
    ResolvedLayout,
    custom_layout,
    get_layout,
    resolve_layout,
    sensor_sites,
)
from handpose.simulators.imu.noise import NoiseConfig, NoiseRealisation, draw_noise
from handpose.simulators.imu.simulate import GRAVITY, ImuReadings, simulate_imu

__all__ = [
    "GRAVITY",
    "LAYOUTS",
    "ImuLayout",
    "ImuReadings",
    "ImuSensor",
    "NoiseConfig",
    "NoiseRealisation",
    "ResolvedLayout",
    "angular_velocity",
    "custom_layout",
    "draw_noise",
    "get_layout",
    "resolve_layout",
    "sensor_sites",
    "simulate_imu",
    "smoothed_acceleration",
]
