"""Both hand sides, random poses, segment distances and the gross penetration check."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handpose.simulators.images.hands import (
    BONES,
    PENETRATION_TOLERANCE,
    HandRig,
    mirror_pose,
    mirror_rotvec,
    penetration_depth,
    random_pose,
    segment_distances,
)
from handpose.simulators.images.scenes import _separate
from handpose.simulators.motion.anatomy import axis_angle_to_anatomical, joint_limits


@pytest.fixture(scope="module")
def rig():
    return HandRig("open")


def test_bones_are_openpose_chains():
    assert len(BONES) == 20
    assert BONES[:4] == ((0, 1), (1, 2), (2, 3), (3, 4))
    assert BONES[-1] == (19, 20)


def test_mirror_pose_gives_the_mirrored_hand(rig):
    rng = np.random.default_rng(0)
    go, hp, b, t = (
        rng.normal(size=3),
        random_pose(rng),
        rng.normal(size=10),
        rng.normal(size=3) * 0.1,
    )
    right = rig.pose("right", go, hp, b, t)
    left = rig.pose("left", mirror_rotvec(go), mirror_pose(hp), b, t * [-1, 1, 1])
    M = np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(left.vertices, right.vertices * M, atol=1e-9)
    np.testing.assert_allclose(left.joints, right.joints * M, atol=1e-9)


def test_random_pose_within_limits():
    lo, hi = joint_limits()
    a = axis_angle_to_anatomical(random_pose(np.random.default_rng(1), 500))
    assert (a >= lo - 1e-9).all() and (a <= hi + 1e-9).all()
    # It covers the box, not a corner of it.
    assert (a.max(0) - a.min(0) > 0.8 * (hi - lo)).all()


def brute_distance(a1, b1, a2, b2, n=150):
    t = np.linspace(0, 1, n)[:, None]
    p = a1 + t * (b1 - a1)
    q = a2 + t * (b2 - a2)
    return np.linalg.norm(p[:, None] - q[None], axis=-1).min()


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_segment_distances_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    a1, b1, a2, b2 = rng.normal(size=(4, 3, 3))
    if seed % 4 == 0:  # parallel segments
        b2 = a2 + (b1 - a1) * 0.7
    d = segment_distances(a1, b1, a2, b2)
    for i in range(3):
        for j in range(3):
            ref = brute_distance(a1[i], b1[i], a2[j], b2[j])
            assert d[i, j] <= ref + 1e-12
            assert d[i, j] >= ref - 0.02 * np.linalg.norm(b1[i] - a1[i]) - 0.02 * np.linalg.norm(
                b2[j] - a2[j]
            )


def test_segment_distance_constants():
    a1, b1 = np.array([[0.0, 0, 0]]), np.array([[1.0, 0, 0]])
    a2, b2 = np.array([[0.5, 1.0, -1.0]]), np.array([[0.5, 1.0, 1.0]])  # crossing 1 above
    assert segment_distances(a1, b1, a2, b2)[0, 0] == pytest.approx(1.0)
    a2, b2 = np.array([[2.0, 0, 0]]), np.array([[3.0, 0, 0]])  # collinear, gap 1
    assert segment_distances(a1, b1, a2, b2)[0, 0] == pytest.approx(1.0)


def test_penetration_check_and_separation(rig):
    rng = np.random.default_rng(2)
    a = rig.placed("right", rng.normal(size=3), random_pose(rng), np.zeros(10), [0, 0, 0.5])
    b = rig.placed(
        "left", rng.normal(size=3), mirror_pose(random_pose(rng)), np.zeros(10), [0, 0, 0.5]
    )
    assert penetration_depth(a, b) > 0.01  # on top of each other
    assert penetration_depth(a, b, offset=[0.5, 0, 0]) == 0.0  # far apart
    u = np.array([1.0, 0.3, 0.0])
    sep = _separate(a, b, u)
    assert penetration_depth(a, sep) < PENETRATION_TOLERANCE
    moved = sep.centre - b.centre
    assert np.allclose(np.cross(moved, u), 0, atol=1e-12) and moved @ u > 0
    # One step (2 mm) less would still penetrate: the placement is at first contact.
    back = -0.002 * u / np.linalg.norm(u)
    assert penetration_depth(a, sep, offset=back) >= PENETRATION_TOLERANCE
