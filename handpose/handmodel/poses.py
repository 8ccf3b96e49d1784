"""Named hand poses of the open hand model (flat, relaxed, fist, point, pinch, spread).

Each pose is written as anatomical angles in degrees — (flexion, abduction, twist) per joint,
see :func:`handpose.handmodel.open_model.joint_axes` — and converted to the layer's input:
``NAMED_POSES[name]`` is a (45,) float64 axis-angle array in MANO joint order, **full
articulation** (use ``flat_hand_mean=True``; zero is the flat hand). The axes are the open
model's, so on the official MANO model the same numbers give a similar but not identical pose.

Positive flexion curls a digit towards the palm; positive finger abduction turns a finger towards
the thumb; for the thumb, positive CMC abduction lifts it away from the palm (palmar abduction).

Example:
    >>> import torch
    >>> from handpose.handmodel import HandModel
    >>> from handpose.handmodel.poses import NAMED_POSES
    >>> out = HandModel("open")(hand_pose=torch.as_tensor(NAMED_POSES["fist"])[None])  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from handpose.handmodel.open_model import anatomical_to_axis_angle, joint_axes

__all__ = ["POSE_ANGLES_DEG", "NAMED_POSES", "named_pose"]

_FINGERS = {"index": (1, 2, 3), "middle": (4, 5, 6), "pinky": (7, 8, 9), "ring": (10, 11, 12)}
_THUMB = (13, 14, 15)

Angles = dict[int, tuple[float, float, float]]


def _digits(**per_digit: tuple[tuple[float, float, float], ...]) -> Angles:
    """{joint id: (flex, abd, twist)} from per-digit triples of joint angles (base → tip)."""
    out: Angles = {}
    for name, joints in per_digit.items():
        ids = _THUMB if name == "thumb" else _FINGERS[name]
        for j, angles in zip(ids, joints):
            out[j] = angles
    return out


def _curl(mcp: float, pip: float, dip: float, abd: float = 0.0, twist: float = 0.0):
    return ((mcp, abd, twist), (pip, 0.0, 0.0), (dip, 0.0, 0.0))


# Degrees. Pinch was tuned by minimising the gap between the thumb and index pads on the open
# model (gradient descent on these angles), then rounded; tests/handmodel/test_poses.py checks
# that the pads touch.
POSE_ANGLES_DEG: dict[str, Angles] = {
    "flat": {},
    "relaxed": _digits(
        index=_curl(15.0, 25.0, 10.0, 2.0),
        middle=_curl(18.0, 30.0, 12.0),
        ring=_curl(22.0, 33.0, 14.0, -2.0),
        pinky=_curl(26.0, 36.0, 16.0, -5.0),
        thumb=((5.0, 12.0, -5.0), (10.0, 0.0, 0.0), (10.0, 0.0, 0.0)),
    ),
    "fist": _digits(
        index=_curl(85.0, 100.0, 55.0),
        middle=_curl(88.0, 100.0, 55.0),
        ring=_curl(88.0, 100.0, 55.0, -3.0),
        pinky=_curl(88.0, 100.0, 55.0, -6.0),
        thumb=((45.0, 5.0, -25.0), (40.0, 0.0, 0.0), (35.0, 0.0, 0.0)),
    ),
    "point": _digits(
        index=_curl(2.0, 3.0, 2.0, 3.0),
        middle=_curl(88.0, 100.0, 55.0),
        ring=_curl(88.0, 100.0, 55.0, -3.0),
        pinky=_curl(88.0, 100.0, 55.0, -6.0),
        thumb=((35.0, 10.0, -20.0), (40.0, 0.0, 0.0), (30.0, 0.0, 0.0)),
    ),
    "pinch": _digits(
        index=_curl(47.5, 53.0, 31.5),
        middle=_curl(20.0, 30.0, 15.0),
        ring=_curl(25.0, 35.0, 15.0, -3.0),
        pinky=_curl(30.0, 40.0, 18.0, -8.0),
        thumb=((28.0, 30.0, -17.0), (10.5, 0.0, 0.0), (10.0, 0.0, 0.0)),
    ),
    "spread": _digits(
        index=_curl(-5.0, 0.0, 0.0, 20.0),
        middle=_curl(-5.0, 0.0, 0.0, 2.0),
        ring=_curl(-5.0, 0.0, 0.0, -12.0),
        pinky=_curl(-5.0, 0.0, 0.0, -25.0),
        thumb=((-15.0, -10.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    ),
}


def named_pose(name: str, axes: np.ndarray | None = None) -> np.ndarray:
    """The (45,) full-articulation axis-angle pose called ``name`` (see :data:`POSE_ANGLES_DEG`).

    Args:
        name: one of ``POSE_ANGLES_DEG``.
        axes: (16, 3, 3) joint axes to convert with (default: the open model's).
    """
    if name not in POSE_ANGLES_DEG:
        raise KeyError(f"unknown pose {name!r}; known: {', '.join(POSE_ANGLES_DEG)}")
    angles = np.zeros((15, 3))
    for j, a in POSE_ANGLES_DEG[name].items():
        angles[j - 1] = a
    return anatomical_to_axis_angle(np.radians(angles), axes)


_AXES = joint_axes()
NAMED_POSES: dict[str, np.ndarray] = {name: named_pose(name, _AXES) for name in POSE_ANGLES_DEG}
