"""Posed hands for image synthesis: both sides of one hand model, poses, subjects, collisions.

- :class:`HandRig`: the right hand model and its exact mirror (the left hand; see
  :func:`handpose.handmodel.mirror_hand_model_data`), with the rest-pose data the skin needs.
- :func:`mirror_pose`: a right-hand articulation → the same articulation of the left hand.
- :func:`random_pose`: uniform within the joint limits (anatomical angles).
- :class:`PosedHand`: parameters (camera frame) + vertices and joints.
- :func:`penetration_depth`: the **gross inter-penetration check** of two hands: each hand is
  approximated by 20 bone capsules (OpenPose bones, wrist→MCP included) whose radius is 0.8 ×
  the median distance of the hand's vertices nearest to that bone (an inner core of the flesh,
  about 2 mm inside the skin); the depth is the largest overlap of a core capsule of one hand
  with one of the other (closed-form segment–segment distances). A placement is accepted when
  the depth is below 2 mm: skin contact and slight skin compression pass, a finger through a
  palm or interleaved fingers do not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from handpose.errors import HandposeError
from handpose.handmodel import HandModel
from handpose.simulators.motion.anatomy import anatomical_to_axis_angle, joint_limits

__all__ = [
    "HandRig",
    "PosedHand",
    "mirror_pose",
    "mirror_rotvec",
    "random_pose",
    "BONES",
    "capsules",
    "segment_distances",
    "penetration_depth",
    "PENETRATION_TOLERANCE",
]

# OpenPose-21 bones: (parent, child) for the five chains wrist→MCP→PIP→DIP→tip.
BONES: tuple[tuple[int, int], ...] = tuple(
    (0 if k == 0 else base + k - 1, base + k) for base in (1, 5, 9, 13, 17) for k in range(4)
)
PENETRATION_TOLERANCE = 0.002  # metres
_MIRROR_AA = np.tile(np.array([1.0, -1.0, -1.0]), 15)


def mirror_pose(hand_pose: np.ndarray) -> np.ndarray:
    """(..., 45) right-hand articulation → the mirrored left-hand articulation (x-mirror)."""
    return np.asarray(hand_pose) * _MIRROR_AA


def mirror_rotvec(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3) rotation R → M R M with M = diag(−1, 1, 1), as an axis-angle."""
    return np.asarray(rotvec) * np.array([1.0, -1.0, -1.0])


def random_pose(rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    """Right-hand articulation(s) (45,) or (n, 45), uniform in the anatomical joint-limit box."""
    lo, hi = joint_limits()
    shape = (15, 3) if n is None else (n, 15, 3)
    return anatomical_to_axis_angle(rng.uniform(lo, hi, size=shape))


@dataclass
class PosedHand:
    """One posed hand in the camera frame (metres).

    Attributes:
        side: "right" | "left".
        global_orient: (3,) axis-angle. hand_pose: (45,) full articulation. betas: (10,).
        transl: (3,) MANO translation (camera frame).
        vertices: (V, 3). joints: (21, 3) OpenPose order. root_rotation: (3, 3) wrist frame.
    """

    side: str
    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    vertices: np.ndarray
    joints: np.ndarray
    root_rotation: np.ndarray

    def moved(self, offset) -> PosedHand:
        """The same hand translated by ``offset`` (3,)."""
        off = np.asarray(offset, dtype=np.float64)
        return PosedHand(
            self.side,
            self.global_orient,
            self.hand_pose,
            self.betas,
            self.transl + off,
            self.vertices + off,
            self.joints + off,
            self.root_rotation,
        )

    @property
    def palm_normal(self) -> np.ndarray:
        """(3,) unit normal out of the palm (rest frame −y for both sides)."""
        return self.root_rotation @ np.array([0.0, -1.0, 0.0])

    @property
    def centre(self) -> np.ndarray:
        """(3,) centre of the vertices' bounding box."""
        return 0.5 * (self.vertices.min(0) + self.vertices.max(0))


class HandRig:
    """Right and left hand models with their rest-pose data (one per worker process).

    Args:
        model: hand model name or file (default the open model).
    """

    def __init__(self, model: str = "open") -> None:
        self.models = {
            "right": HandModel(model, side="right", dtype=torch.float64),
            "left": HandModel(model, side="left", dtype=torch.float64),
        }
        right = self.models["right"]
        if right.model_data.side != "right":
            raise HandposeError(f"hand model {model!r} did not give a right hand.")
        d = right.model_data
        self.name = right.name
        self.faces = {s: m.faces.numpy() for s, m in self.models.items()}
        self.num_vertices = int(d.num_vertices)
        self.template = {s: m.v_template.numpy().copy() for s, m in self.models.items()}
        self.rest_joints = (d.J_regressor @ d.v_template).astype(np.float64)
        self.tip_ids = tuple(int(i) for i in right.tip_ids.tolist())
        dorsal = d.metadata.get("dorsal_tip_ids")
        self.dorsal_tip_ids = None if dorsal is None else tuple(int(i) for i in dorsal)

    def pose(
        self,
        side: str,
        global_orient,
        hand_pose,
        betas,
        transl=None,
    ) -> PosedHand:
        """Pose one hand (parameters in the camera frame); returns a :class:`PosedHand`."""
        m = self.models[side]
        go = np.asarray(global_orient, dtype=np.float64).reshape(3)
        hp = np.asarray(hand_pose, dtype=np.float64).reshape(45)
        b = np.asarray(betas, dtype=np.float64).reshape(-1)
        t = np.zeros(3) if transl is None else np.asarray(transl, dtype=np.float64).reshape(3)
        with torch.no_grad():
            out = m(
                global_orient=torch.as_tensor(go[None]),
                hand_pose=torch.as_tensor(hp[None]),
                betas=torch.as_tensor(b[None]),
                transl=torch.as_tensor(t[None]),
            )
        return PosedHand(
            side,
            go,
            hp,
            b,
            t,
            out.vertices[0].numpy().copy(),
            out.joints21[0].numpy().copy(),
            out.global_rotations[0, 0].numpy().copy(),
        )

    def placed(self, side, global_orient, hand_pose, betas, centre) -> PosedHand:
        """Pose a hand and translate it so that its bounding-box centre is at ``centre``."""
        h = self.pose(side, global_orient, hand_pose, betas)
        return h.moved(np.asarray(centre, dtype=np.float64) - h.centre)


def capsules(hand: PosedHand) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bone segments (a (20, 3), b (20, 3)) and core radii (20,) of a posed hand: the radius of
    bone s is 0.8 × the median distance to it of the vertices closest to it."""
    J = hand.joints
    a = np.stack([J[p] for p, _ in BONES])
    b = np.stack([J[c] for _, c in BONES])
    d = _point_segment_distances(hand.vertices, a, b)  # (V, 20)
    nearest = d.argmin(1)
    radii = np.zeros(len(BONES))
    for s in range(len(BONES)):
        sel = d[nearest == s, s]
        radii[s] = 0.8 * float(np.median(sel)) if len(sel) else 0.0
    return a, b, radii


def _point_segment_distances(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, S) distances of points p (N, 3) to segments a→b (S, 3)."""
    ab = b - a  # (S, 3)
    ap = p[:, None, :] - a[None]  # (N, S, 3)
    t = np.clip(np.einsum("nsi,si->ns", ap, ab) / np.maximum((ab * ab).sum(1), 1e-12), 0.0, 1.0)
    return np.linalg.norm(ap - t[..., None] * ab[None], axis=-1)


def segment_distances(a1, b1, a2, b2) -> np.ndarray:
    """(S1, S2) closest distances between segments a1→b1 (S1, 3) and a2→b2 (S2, 3).

    The clamped closed form of Ericson, *Real-Time Collision Detection* (2005) §5.1.9."""
    d1, d2 = b1 - a1, b2 - a2
    r = a1[:, None, :] - a2[None, :, :]  # (S1, S2, 3)
    a = np.maximum((d1 * d1).sum(1), 1e-18)[:, None]
    e = np.maximum((d2 * d2).sum(1), 1e-18)[None, :]
    f = np.einsum("mni,ni->mn", r, d2)
    c = np.einsum("mni,mi->mn", r, d1)
    b = d1 @ d2.T
    denom = a * e - b * b
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(denom > 1e-18, np.clip((b * f - c * e) / denom, 0.0, 1.0), 0.0)
    t = (b * s + f) / e
    s = np.where(
        t < 0.0, np.clip(-c / a, 0.0, 1.0), np.where(t > 1.0, np.clip((b - c) / a, 0.0, 1.0), s)
    )
    t = np.clip(t, 0.0, 1.0)
    p1 = a1[:, None, :] + s[..., None] * d1[:, None, :]
    p2 = a2[None, :, :] + t[..., None] * d2[None, :, :]
    return np.linalg.norm(p1 - p2, axis=-1)


def penetration_depth(h1: PosedHand, h2: PosedHand, offset=None) -> float:
    """Gross inter-penetration of two hands (metres, ≥ 0): the largest overlap
    ``r_i + r_j − d_ij`` of their core bone capsules (see the module doc); ``offset`` (3,)
    optionally moves ``h2`` first."""
    a1, b1, r1 = capsules(h1)
    a2, b2, r2 = capsules(h2)
    off = np.zeros(3) if offset is None else np.asarray(offset, dtype=np.float64)
    d = segment_distances(a1, b1, a2 + off, b2 + off)
    return max(float((r1[:, None] + r2[None, :] - d).max()), 0.0)
