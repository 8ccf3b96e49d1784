"""Named poses of the open hand: within joint limits, and they do what their names say."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handpose.handmodel import HandModel
from handpose.handmodel import open_model as om
from handpose.handmodel.poses import NAMED_POSES, POSE_ANGLES_DEG, named_pose

THUMB, INDEX, MIDDLE, RING, PINKY = range(5)


@pytest.fixture(scope="module")
def posed():
    model = HandModel("open", dtype=torch.float64)
    poses = torch.as_tensor(np.stack(list(NAMED_POSES.values())))
    with torch.no_grad():
        out = model(hand_pose=poses)
    weights = model.model_data.weights
    tips = model.tip_ids.numpy()
    result = {}
    for i, name in enumerate(NAMED_POSES):
        v, J = out.vertices[i].numpy(), out.joints[i].numpy()
        result[name] = {
            "v": v,
            "J": J,
            "tips": v[tips],
            "reach": np.linalg.norm(v[tips] - J[0], axis=1),
        }
    return result, weights


def test_named_poses_are_full_articulation_within_limits():
    assert set(NAMED_POSES) == {"flat", "relaxed", "fist", "point", "pinch", "spread"}
    lim = om.joint_limits()
    for name, pose in NAMED_POSES.items():
        assert pose.shape == (45,) and pose.dtype == np.float64
        ang = om.axis_angle_to_anatomical(pose)
        assert np.all(ang >= lim[..., 0] - 1e-12) and np.all(ang <= lim[..., 1] + 1e-12), name
    assert not NAMED_POSES["flat"].any()
    # The table is the source: a fist flexes the index MCP by the tabulated angle about +z-ish.
    flex = om.axis_angle_to_anatomical(NAMED_POSES["fist"])[0, 0]
    assert np.degrees(flex) == pytest.approx(POSE_ANGLES_DEG["fist"][1][0])


def test_unknown_pose_name_raises():
    with pytest.raises(KeyError, match="unknown pose"):
        named_pose("wave")


def test_fist_curls_all_fingers_into_the_palm(posed):
    p, _ = posed
    flat, fist = p["flat"], p["fist"]
    assert np.all(fist["reach"][1:] < 0.07)  # fingertips come back to the palm
    assert np.all(fist["reach"][1:] < 0.4 * flat["reach"][1:])
    assert np.all(fist["tips"][1:, 1] < 0.0)  # on the palm side (−y)


def test_point_extends_only_the_index(posed):
    p, _ = posed
    point, flat = p["point"], p["flat"]
    assert point["reach"][INDEX] > 0.97 * flat["reach"][INDEX]
    assert np.all(point["reach"][[MIDDLE, RING, PINKY]] < 0.07)


def test_pinch_brings_thumb_and_index_pads_together(posed):
    p, weights = posed
    v = p["pinch"]["v"]
    thumb_tip = v[weights[:, 15] > 0.5]
    index_tip = v[weights[:, 3] > 0.5]
    gap = np.linalg.norm(thumb_tip[:, None] - index_tip[None], axis=-1).min()
    assert gap < 2.5e-3
    assert np.linalg.norm(p["pinch"]["tips"][THUMB] - p["pinch"]["tips"][INDEX]) < 0.02
    flat_gap = np.linalg.norm(p["flat"]["tips"][THUMB] - p["flat"]["tips"][INDEX])
    assert flat_gap > 0.05


def _fan_angle(pose) -> float:
    a = pose["tips"][INDEX] - pose["J"][1]
    b = pose["tips"][PINKY] - pose["J"][7]
    return float(np.degrees(np.arccos(a @ b / np.linalg.norm(a) / np.linalg.norm(b))))


def test_spread_fans_the_fingers_out(posed):
    p, _ = posed
    assert _fan_angle(p["spread"]) > _fan_angle(p["flat"]) + 30.0
    np.testing.assert_allclose(p["spread"]["reach"], p["flat"]["reach"], atol=0.004)


def test_relaxed_is_a_gentle_curl(posed):
    p, _ = posed
    ratio = p["relaxed"]["reach"][1:] / p["flat"]["reach"][1:]
    assert np.all((ratio > 0.8) & (ratio < 0.99))
