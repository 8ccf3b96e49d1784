"""Anatomical angles ↔ MANO axis-angle, joint limits, and the flexion direction on the model."""

import numpy as np
import pytest
import torch

from handpose.handmodel import HandModel
from handpose.simulators.motion.anatomy import (
    FINGER_JOINTS,
    JOINT_AXES,
    anatomical_to_axis_angle,
    axis_angle_to_anatomical,
    clamp_to_limits,
    joint_limits,
)
from tests.simulators.standin import stick_hand_data


def test_axes_are_orthonormal_and_right_handed():
    for A in JOINT_AXES:
        np.testing.assert_allclose(A @ A.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(A) > 0


def test_round_trip_and_linearity():
    rng = np.random.default_rng(0)
    ang = rng.normal(size=(4, 15, 3))
    aa = anatomical_to_axis_angle(ang)
    assert aa.shape == (4, 45)
    np.testing.assert_allclose(axis_angle_to_anatomical(aa), ang, atol=1e-12)
    # Convention pin: middle MCP flexion of 0.5 rad is ≈ +0.5 about z (MANO layout; the open
    # hand's middle finger is splayed 1° radially, so the axis is tilted by 1° about y).
    one = np.zeros((15, 3))
    one[3, 0] = 0.5
    np.testing.assert_allclose(anatomical_to_axis_angle(one)[9:12], [0.0, 0.0, 0.5], atol=0.01)


def test_limits_are_ordered_and_clamp_works():
    lo, hi = joint_limits()
    assert lo.shape == (15, 3) and (lo < hi).all()
    assert (lo[:, 0] <= 0).all() and (hi[:, 0] >= np.deg2rad(55)).all()  # flexion ranges
    x = np.full((15, 3), 10.0)
    np.testing.assert_array_equal(clamp_to_limits(x), hi)


def _tip_palm_distance(model, hand_pose):
    out = model(
        hand_pose=torch.as_tensor(hand_pose, dtype=torch.float64)[None], return_vertices=False
    )
    tips = out.joints21[0, [4, 8, 12, 16, 20]].numpy()
    return tips[:, 1]  # y: palm faces −y in the MANO rest layout


@pytest.fixture(scope="module", params=["open", "stick"])
def model(request):
    data = "open" if request.param == "open" else stick_hand_data()
    return HandModel(data, dtype=torch.float64)


def test_axes_are_the_open_hands_documented_axes():
    from handpose.handmodel.open_model import joint_axes

    np.testing.assert_allclose(JOINT_AXES, joint_axes()[1:])
    # Fingers flex about (nearly) +z: the open hand's fingers splay by at most 12°.
    for j in range(12):
        assert JOINT_AXES[j, 0, 2] > np.cos(np.deg2rad(13))


@pytest.mark.parametrize("finger", ["index", "middle", "ring", "pinky", "thumb"])
def test_positive_flexion_moves_the_tip_towards_the_palm(model, finger):
    ang = np.zeros((15, 3))
    for j in FINGER_JOINTS[finger]:
        ang[j - 1, 0] = np.deg2rad(30.0)
    y = _tip_palm_distance(model, anatomical_to_axis_angle(ang))
    y0 = _tip_palm_distance(model, np.zeros(45))
    k = ["thumb", "index", "middle", "ring", "pinky"].index(finger)
    assert y[k] < y0[k] - 0.005
