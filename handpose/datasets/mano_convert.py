"""Explicit MANO parameter conversions from the datasets' conventions to the sample schema's.

The schema stores full articulation (``flat_hand_mean = True``), no PCA, in the camera frame
(docs/design/image_track.md). The datasets differ (../shared/reference/mano.md §5):

- FreiHAND, InterHand2.6M, HanCo: 45 axis-angle relative to ``hands_mean`` →
  :func:`nonflat_to_flat` (θ_flat = θ + hands_mean).
- DexYCB: 45 PCA coefficients, non-flat → :func:`pca_to_flat`
  (θ_flat = c · hands_components + hands_mean).
- InterHand2.6M fits live in the world frame → :func:`mano_world_to_camera` (the global rotation
  pivots about the shaped root joint J₀(β)).
- FreiHAND / HanCo place the hand with a root pixel and a weak-perspective scale →
  :func:`freihand_root`, :func:`hanco_root`.

``hands_mean`` / ``hands_components`` and J₀(β) come from the MANO model the user provides
(:class:`ManoModels`); without one, loaders leave the MANO keys out (``meta["mano_params"]``
says so). These functions are pinned by hand-computed constants in
tests/datasets/test_mano_convert.py.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from handpose.errors import HandposeError

__all__ = [
    "nonflat_to_flat",
    "pca_to_flat",
    "mano_world_to_camera",
    "freihand_root",
    "hanco_root",
    "ManoModels",
]


def nonflat_to_flat(hand_pose: np.ndarray, hands_mean: np.ndarray) -> np.ndarray:
    """(..., 45) axis-angle relative to ``hands_mean`` → full articulation: θ + hands_mean."""
    return np.asarray(hand_pose, np.float64) + np.asarray(hands_mean, np.float64)


def pca_to_flat(
    coeffs: np.ndarray, hands_components: np.ndarray, hands_mean: np.ndarray
) -> np.ndarray:
    """(..., k) PCA coefficients (non-flat, manopth ``use_pca=True, flat_hand_mean=False``) →
    (..., 45) full articulation: ``c · hands_components[:k] + hands_mean``."""
    c = np.asarray(coeffs, np.float64)
    comps = np.asarray(hands_components, np.float64)[: c.shape[-1]]
    return c @ comps + np.asarray(hands_mean, np.float64)


def mano_world_to_camera(
    global_orient: np.ndarray,
    transl: np.ndarray,
    R: np.ndarray,
    t: np.ndarray,
    root: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Move MANO's global rotation and translation from the world to a camera frame.

    The posed mesh is ``v = R_g (v₀ − J₀) + J₀ + transl`` (rotation about the shaped root J₀(β)).
    With ``x_cam = R x_world + t``: ``R_g' = R R_g`` and
    ``transl' = R (J₀ + transl) + t − J₀``, so the new parameters give exactly the transformed
    mesh.

    Args:
        global_orient: (3,) axis-angle, world frame.
        transl: (3,) metres, world frame.
        R, t: (3, 3), (3,) world → camera, metres.
        root: (3,) the shaped rest root joint J₀(β) of the hand model, metres.
    Returns:
        (global_orient, transl) in the camera frame, float64.
    """
    from handpose.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

    go = torch.as_tensor(np.asarray(global_orient, np.float64))
    Rc = torch.as_tensor(np.asarray(R, np.float64)) @ axis_angle_to_matrix(go)
    J0 = np.asarray(root, np.float64)
    tr = np.asarray(R, np.float64) @ (J0 + np.asarray(transl, np.float64)) + t - J0
    return matrix_to_axis_angle(Rc).numpy(), tr


def freihand_root(uv_root: np.ndarray, scale: float, K: np.ndarray) -> np.ndarray:
    """FreiHAND's ``recover_root``: the 3D middle-MCP (OpenPose 9) position from the last three
    MANO values: ``[u − cx, v − cy, f] / s`` with ``f = (fx + fy) / 2`` and ``s = f / Z``."""
    K = np.asarray(K, np.float64)
    f = 0.5 * (K[0, 0] + K[1, 1])
    u, v = np.asarray(uv_root, np.float64)
    return np.array([u - K[0, 2], v - K[1, 2], f]) / float(scale)


def hanco_root(uv_root: np.ndarray, scale: float, K: np.ndarray) -> np.ndarray:
    """HanCo's ``calc_global_translation``: ``z = f / s`` with ``f = (fx + fy) / 2``, then
    ``K⁻¹ [u, v, 1]ᵀ · z`` (the middle-MCP position; HanCo's layer centres on joint 9)."""
    K = np.asarray(K, np.float64)
    z = 0.5 * (K[0, 0] + K[1, 1]) / float(scale)
    u, v = np.asarray(uv_root, np.float64)
    return np.linalg.solve(K, np.array([u, v, 1.0])) * z


class ManoModels:
    """The MANO hand models a loader needs for its conversions (``hands_mean``, PCA basis,
    J₀(β), vertices), one per side, float64, full-articulation input.

    Args:
        mano: None (no conversions: MANO keys and model vertices are left out); ``"auto"``
            (the official files via ``$HANDPOSE_MANO_DIR`` when they are there, else None);
            a folder with MANO_RIGHT/LEFT; or a mapping ``{"right": m, "left": m}`` of
            :class:`~handpose.handmodel.HandModelData` / :class:`~handpose.handmodel.HandModel`
            (tests use MANO-layout fixtures).
        fix_left_shapedirs: how the dataset's left hands were made (InterHand2.6M True,
            DexYCB False); applied when the left model is loaded here.
    """

    def __init__(self, mano: Any = "auto", *, fix_left_shapedirs: bool = False) -> None:
        self.fix_left_shapedirs = bool(fix_left_shapedirs)
        self._models: dict[str, Any] = {}
        self._source = mano
        if mano is None:
            return
        if isinstance(mano, Mapping):
            for side, m in mano.items():
                self._models[str(side)] = self._wrap(m, str(side))
            return
        if isinstance(mano, str) and mano == "auto":
            for side in ("right", "left"):
                try:
                    self._models[side] = self._load("mano", side, None)
                except HandposeError:
                    self._models.pop(side, None)
            return
        if isinstance(mano, (str, os.PathLike)):
            for side in ("right", "left"):
                self._models[side] = self._load("mano", side, mano)
            return
        raise HandposeError("mano must be None, 'auto', a folder or a side → model mapping.")

    def _load(self, model, side, mano_dir):
        from handpose.handmodel import HandModel

        return HandModel(
            model,
            side=side,
            flat_hand_mean=True,
            fix_left_shapedirs=self.fix_left_shapedirs,
            dtype=torch.float64,
            mano_dir=mano_dir,
        )

    def _wrap(self, m, side: str):
        from handpose.handmodel import HandModel, HandModelData

        if isinstance(m, HandModel):
            if not m.flat_hand_mean:
                raise HandposeError("the MANO model for conversions must use flat_hand_mean=True.")
            return m
        if isinstance(m, HandModelData):
            return self._load(m, side, None)
        raise HandposeError(f"the {side} MANO model must be a HandModel or HandModelData.")

    def available(self, side: str) -> bool:
        return side in self._models

    @property
    def any(self) -> bool:
        return bool(self._models)

    def model(self, side: str):
        if side not in self._models:
            raise HandposeError(f"no {side} MANO model was given for the conversions.")
        return self._models[side]

    def hands_mean(self, side: str) -> np.ndarray:
        return np.asarray(self.model(side).model_data.hands_mean, np.float64)

    def hands_components(self, side: str) -> np.ndarray:
        return np.asarray(self.model(side).model_data.hands_components, np.float64)

    @torch.no_grad()
    def forward(
        self,
        side: str,
        global_orient: np.ndarray,
        hand_pose: np.ndarray,
        betas: np.ndarray,
        transl: np.ndarray | None = None,
    ):
        """One hand (flat θ): ``(vertices (V, 3), joints21 (21, 3), joints16 (16, 3))`` float64."""
        m = self.model(side)
        t = lambda a: torch.as_tensor(np.asarray(a, np.float64))[None]  # noqa: E731
        out = m(
            global_orient=t(global_orient),
            hand_pose=t(hand_pose),
            betas=t(betas),
            transl=None if transl is None else t(transl),
        )
        return out.vertices[0].numpy(), out.joints21[0].numpy(), out.joints[0].numpy()

    def rest_root(self, side: str, betas: np.ndarray) -> np.ndarray:
        """J₀(β): the shaped rest root joint (the pivot of the global rotation), metres."""
        zeros = np.zeros(3)
        _, _, j16 = self.forward(side, zeros, np.zeros(45), betas)
        return j16[0]
