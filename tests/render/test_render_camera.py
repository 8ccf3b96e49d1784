"""Camera conventions (OpenCV axes, pixel centres at integers) pinned with hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.render import (
    frame_points,
    intrinsics_from_fov,
    look_at,
    project,
    scale_intrinsics,
    world_to_camera,
)


def test_look_at_is_a_rotation_that_puts_the_target_ahead_and_up_upwards():
    eye, target = np.array([1.0, 2.0, 3.0]), np.array([0.2, -0.1, 0.4])
    R, t = look_at(eye, target, up=(0.0, 1.0, 0.0))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    cam = world_to_camera(np.stack([target, eye]), R, t)
    np.testing.assert_allclose(cam[0], [0.0, 0.0, np.linalg.norm(target - eye)], atol=1e-12)
    np.testing.assert_allclose(cam[1], 0.0, atol=1e-12)
    # World up points to image up (negative camera y); the camera x axis is image right.
    assert (R @ np.array([0.0, 1.0, 0.0]))[1] < 0


def test_look_at_pins_the_opencv_axes():
    # Camera at +z looking at the origin with +y up: world +x is image right, +y image up.
    R, t = look_at([0.0, 0.0, 5.0], [0.0, 0.0, 0.0], up=[0.0, 1.0, 0.0])
    np.testing.assert_allclose(R, np.diag([1.0, -1.0, -1.0]), atol=1e-12)
    np.testing.assert_allclose(t, [0.0, 0.0, 5.0], atol=1e-12)
    with pytest.raises(HandposeError):
        look_at([0, 0, 1], [0, 0, 0], up=[0, 0, 1])


def test_intrinsics_from_fov_maps_the_field_of_view_to_the_image_edges():
    K = intrinsics_from_fov(60.0, 40, 30)
    assert K[0, 2] == 19.5 and K[1, 2] == 14.5  # centre between pixel centres 0 … W−1
    edge = np.array([0.0, math.tan(math.radians(30.0)), 1.0])  # ray at half the vertical fov
    np.testing.assert_allclose(project(edge, K), [19.5, 29.5], atol=1e-12)  # bottom pixel edge
    with pytest.raises(HandposeError):
        intrinsics_from_fov(180.0, 10, 10)


def test_scale_intrinsics_keeps_pixel_edges_aligned():
    K = intrinsics_from_fov(50.0, 32, 24)
    K4 = scale_intrinsics(K, 4)
    x = np.array([[0.1, -0.05, 1.0], [-0.2, 0.15, 2.0]])
    uv, uv4 = project(x, K), project(x, K4)
    np.testing.assert_allclose((uv4 + 0.5) / 4 - 0.5, uv, atol=1e-12)


def test_frame_points_keeps_everything_in_view():
    pts = np.random.default_rng(0).normal(size=(200, 3)) * [0.1, 0.05, 0.02] + [0.3, -0.2, 0.1]
    K = intrinsics_from_fov(30.0, 64, 64)
    R, t = frame_points(pts, view_dir=(1.0, -1.0, 0.5), up=(0.0, 0.0, 1.0), fov_y_deg=30.0)
    cam = world_to_camera(pts, R, t)
    assert (cam[:, 2] > 0).all()
    uv = project(cam, K)
    assert (uv >= -0.5).all() and (uv <= 63.5).all()
    assert np.ptp(uv, axis=0).max() > 20  # and the points fill a good part of it
