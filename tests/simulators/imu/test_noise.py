"""Noise magnitudes and random-walk scaling of the IMU error model."""

import math

import torch

from handpose.simulators.imu.noise import NoiseConfig, draw_noise


def test_white_noise_has_the_configured_std():
    cfg = NoiseConfig(bias=False, mounting=False, drift=False)
    n = draw_noise(3000, 20, 30.0, cfg, torch.Generator().manual_seed(0))
    assert abs(n.acc_error.std().item() / cfg.acc_white_std - 1) < 0.02
    assert abs(n.gyro_error.std().item() / cfg.gyro_white_std - 1) < 0.02
    assert abs(n.orientation_error.std().item() / cfg.orientation_white_std - 1) < 0.02
    assert n.mount_offset.abs().max() == 0 and n.mount_rotation.abs().max() == 0


def test_random_walk_spread_grows_as_sigma_sqrt_t_whatever_the_fps():
    # After 1 s the walk's std is σ·√1 s, at 30 fps and at 60 fps (steps of σ·√Δt).
    sigma = 0.3
    cfg = NoiseConfig(white=False, mounting=False, drift=False, acc_bias_walk=sigma)
    for fps in (30.0, 60.0):
        T = int(fps)
        n = draw_noise(T, 4000, fps, cfg, torch.Generator().manual_seed(1))
        std_end = n.acc_error[-1].std().item()
        assert abs(std_end / (sigma * math.sqrt(T / fps)) - 1) < 0.05, fps


def test_mounting_has_a_constant_part_and_a_slow_slip():
    cfg = NoiseConfig(
        white=False, bias=False, drift=False, mount_rotation_walk=0.0, mount_offset_walk=0.0
    )
    n = draw_noise(40, 500, 30.0, cfg, torch.Generator().manual_seed(2))
    assert torch.equal(n.mount_offset[0], n.mount_offset[-1])  # constant without slip
    assert abs(n.mount_offset[0].std().item() / cfg.mount_offset_std - 1) < 0.1
    assert abs(n.mount_rotation[0].std().item() / cfg.mount_rotation_std - 1) < 0.1


def test_scaled_and_off():
    cfg = NoiseConfig().scaled(2.0)
    assert cfg.acc_white_std == 0.1 and cfg.white
    assert not NoiseConfig.off().enabled and NoiseConfig().enabled


def test_dtype_follows_request():
    n = draw_noise(5, 2, 30.0, NoiseConfig(), torch.Generator().manual_seed(0), dtype=torch.float32)
    assert n.acc_error.dtype == torch.float32
