"""Anatomical finger angles (flexion, abduction, twist) ↔ MANO full-articulation axis-angle.

Gestures are written in per-joint anatomical angles ``(flex, abd, twist)`` in radians and
converted to MANO's 45-D axis-angle ``hand_pose`` (full articulation, the ``flat_hand_mean=True``
convention: zero = flat open hand) by ``θⱼ = flex·f̂ⱼ + abd·âⱼ + twist·t̂ⱼ``, where the rows of
:data:`JOINT_AXES` are joint j's orthonormal axes in the model's rest frame. The conversion is
linear, so the box of joint limits in anatomical angles is a convex set in axis-angle space and
the minimum-jerk blends between keyframes (convex combinations) never leave it.

Convention (the open hand's, :func:`handpose.handmodel.open_model.joint_axes`; MANO's right-hand
rest layout: fingers along −x, palm facing −y, thumb side +z): flexion axis ``n × d`` (d the bone
direction, n the nail normal) so positive flexion curls a digit towards its palm side — for the
four fingers this is +z; abduction axis n, positive towards the thumb side for the fingers; twist
axis d. ``tests/simulators/motion/test_anatomy.py`` checks on the models that positive flexion
moves every fingertip towards the palm.

:data:`JOINT_AXES` and :data:`JOINT_LIMITS` are the single place to adjust for a hand model with
another rest layout.
"""

from __future__ import annotations

import numpy as np

from handpose.handmodel.open_model import joint_axes as _open_hand_joint_axes
from handpose.handmodel.open_model import joint_limits as _open_hand_joint_limits

__all__ = [
    "FINGERS",
    "FINGER_JOINTS",
    "FLEX",
    "ABD",
    "TWIST",
    "JOINT_AXES",
    "JOINT_LIMITS",
    "joint_limits",
    "anatomical_to_axis_angle",
    "axis_angle_to_anatomical",
    "clamp_to_limits",
]

FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")
# MANO joint indices (1..15) of each finger, proximal → distal.
FINGER_JOINTS: dict[str, tuple[int, int, int]] = {
    "index": (1, 2, 3),
    "middle": (4, 5, 6),
    "pinky": (7, 8, 9),
    "ring": (10, 11, 12),
    "thumb": (13, 14, 15),
}
FLEX, ABD, TWIST = 0, 1, 2  # columns of an anatomical pose (15, 3)

# (15, 3, 3): rows (flexion, abduction, twist) unit axes of MANO joints 1..15, rest frame.
JOINT_AXES: np.ndarray = _open_hand_joint_axes()[1:]
# (15, 3, 2) radians: (min, max) of (flexion, abduction, twist): adult active range of motion
# (MCP 90°, PIP 110°, DIP 85° flexion; thumb CMC/MCP/IP), the open hand's table.
JOINT_LIMITS: np.ndarray = _open_hand_joint_limits()


def joint_limits() -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper), each (15, 3) radians, columns (flex, abd, twist), MANO joints 1..15."""
    return JOINT_LIMITS[..., 0], JOINT_LIMITS[..., 1]


def anatomical_to_axis_angle(angles: np.ndarray) -> np.ndarray:
    """(..., 15, 3) anatomical (flex, abd, twist) radians → (..., 45) MANO axis-angle."""
    aa = np.einsum("...jk,jkl->...jl", np.asarray(angles, dtype=np.float64), JOINT_AXES)
    return aa.reshape(*aa.shape[:-2], 45)


def axis_angle_to_anatomical(hand_pose: np.ndarray) -> np.ndarray:
    """(..., 45) axis-angle → (..., 15, 3) anatomical angles (exact inverse: axes orthonormal)."""
    aa = np.asarray(hand_pose, dtype=np.float64).reshape(*np.shape(hand_pose)[:-1], 15, 3)
    return np.einsum("...jl,jkl->...jk", aa, JOINT_AXES)


def clamp_to_limits(angles: np.ndarray) -> np.ndarray:
    """Clip (..., 15, 3) anatomical angles into :func:`joint_limits`."""
    lo, hi = joint_limits()
    return np.clip(angles, lo, hi)
