"""Minimum-jerk profile and keyframe tracks."""

import numpy as np
from scipy.spatial.transform import Rotation

from handpose.simulators.motion.trajectory import (
    keyframe_track,
    min_jerk,
    min_jerk_velocity,
    rotation_track,
)


def test_min_jerk_boundary_conditions():
    # s(0)=0, s(1)=1, s'(0)=s'(1)=0, s''(0)=s''(1)=0 (Flash & Hogan 1985).
    assert min_jerk(np.array(0.0)) == 0.0 and min_jerk(np.array(1.0)) == 1.0
    assert min_jerk_velocity(np.array(0.0)) == 0.0 and min_jerk_velocity(np.array(1.0)) == 0.0
    # One-sided second differences inside [0, 1]: s'' → 0 at both ends (it is 60τ near 0, so the
    # difference over step h reads O(h); a non-zero s''(0) would read that value instead).
    h = 1e-4
    for t0, sgn in ((0.0, 1.0), (1.0, -1.0)):
        pts = min_jerk(np.array([t0, t0 + sgn * h, t0 + 2 * sgn * h]))
        acc = (pts[0] - 2 * pts[1] + pts[2]) / h**2
        assert abs(acc) < 1e-2
    # Closed form: midpoint ½ with peak speed 15/8.
    assert min_jerk(np.array(0.5)) == 0.5
    assert abs(min_jerk_velocity(np.array(0.5)) - 1.875) < 1e-12


def test_min_jerk_velocity_is_the_derivative_and_profile_is_monotone():
    tau = np.linspace(0, 1, 2001)
    s = min_jerk(tau)
    assert np.all(np.diff(s) >= 0)
    num = np.gradient(s, tau)
    assert np.abs(num[5:-5] - min_jerk_velocity(tau)[5:-5]).max() < 1e-5


def test_keyframe_track_hits_keys_with_zero_velocity():
    times = np.array([0.0, 0.5, 0.5, 1.2, 2.0])  # includes a zero-length segment
    values = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [-1.0, 2.0], [-1.0, 2.0]])
    out = keyframe_track(times, values, times)
    np.testing.assert_allclose(out, values, atol=1e-12)
    eps = 1e-5
    for tk in (0.5, 1.2):
        vel = (
            keyframe_track(times, values, np.array([tk + eps]))
            - keyframe_track(times, values, np.array([tk - eps]))
        ) / (2 * eps)
        assert np.abs(vel).max() < 1e-3
    # Outside the key range the end values are held.
    np.testing.assert_allclose(
        keyframe_track(times, values, np.array([-1.0, 5.0])), values[[0, -1]]
    )


def test_keyframe_track_stays_in_the_keys_convex_hull():
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(0.1, 0.5, size=10))
    values = rng.uniform(-1, 1, size=(10, 3))
    out = keyframe_track(times, values, np.linspace(times[0], times[-1], 500))
    assert (out >= values.min(0) - 1e-12).all() and (out <= values.max(0) + 1e-12).all()


def test_rotation_track_hits_keys_and_follows_the_geodesic():
    keys = Rotation.from_rotvec([[0.0, 0.0, 0.0], [0.0, 0.0, 1.2], [0.5, -0.3, 0.2]])
    times = np.array([0.0, 1.0, 2.0])
    out = Rotation.from_rotvec(rotation_track(times, keys.as_rotvec(), times))
    assert np.allclose((out * keys.inv()).magnitude(), 0, atol=1e-12)
    # Between the first two keys: a pure z-rotation of angle 1.2·s(τ).
    mid = rotation_track(times, keys.as_rotvec(), np.array([0.25]))[0]
    np.testing.assert_allclose(mid, [0.0, 0.0, 1.2 * min_jerk(np.array(0.25))], atol=1e-12)
