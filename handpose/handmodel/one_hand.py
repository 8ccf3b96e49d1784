"""One hand without autograd, in NumPy: the layer's inference path at batch 1.

At batch 1 a torch forward pass costs what its operators cost to dispatch, not what they
compute: about 2 µs per operator on a CPU core, and the layer's one-hand path
(:meth:`HandModel._forward_one <handpose.handmodel.layer.HandModel>`) dispatches about 25
kernels and 30 views. A NumPy operator on an array of a few dozen numbers costs a fraction of
that. So when nothing needs a gradient, :class:`~handpose.handmodel.layer.HandModel` runs one
hand's forward pass here and wraps the results as tensors (no copy). The numbers are the torch
path's to float rounding (tested in float32 and float64, and against the textbook MANO forward);
the only cost is memory: the blend basis is kept a second time, in the layout below.

The algorithm is the torch path's, step by step (see :mod:`handpose.handmodel.lbs`):

1. Rodrigues as ``vec(R) = vec(I) + [a·ω_i | h²·ω_i·ω_j] · C`` (:func:`~.lbs.batch_rodrigues`),
   on the 16 rotations in :data:`~.lbs.LEVEL_MAJOR` order.
2. Blend shapes over the layer's point set ``[16 rest joints | 21 OpenPose points | V
   vertices]`` (the pose-corrective constant folded into the template, see
   ``HandModel._point_set``): one GEMV over the 15 non-root rotations' 135 entries, one over
   β. The basis is stored *coordinate-major*, so the output is ``[x… | y… | z…]`` and skinning
   below runs on contiguous rows.
3. The kinematic chain on transposed transforms ``A_kᵀ`` (4 × 3), level by level
   (:func:`~.lbs.rigid_transforms_1`).
4. Skinning: the blended ``A_kᵀ`` of every point as 12 rows of length P (one GEMM), applied as
   three multiply-adds over contiguous rows (:func:`~.lbs.skin_batch_last`'s layout with P in
   place of the batch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from handpose.handmodel.lbs import _CONSTANTS, LEVEL_MAJOR

__all__ = ["OneHandArrays", "one_hand_arrays", "forward_one"]

_NJ = 16
_LM = np.asarray(LEVEL_MAJOR)
_LM_INV = np.argsort(_LM)
_constant_cache: dict[np.dtype, dict[str, np.ndarray]] = {}


def _constants(dtype: np.dtype) -> dict[str, np.ndarray]:
    """lbs.py's constants as NumPy arrays of ``dtype`` (cached)."""
    c = _constant_cache.get(dtype)
    if c is None:
        c = {k: v.numpy().astype(dtype) for k, v in _CONSTANTS.items()}
        c["halves"] = np.array([1.0, 0.5, 0.5, 0.5], dtype)
        _constant_cache[dtype] = c
    return c


@dataclass(frozen=True)
class OneHandArrays:
    """The layer's point set in the layout of :func:`forward_one` (P points, K = 9·16 pose rows).

    Attributes:
        template: (3·P,) rest points, coordinate-major ``[x₀..x_P | y₀..y_P | z₀..z_P]``.
        shape_basis: (B, 3·P) shape directions, same layout.
        pose_basis: (135, 3·P) pose-corrective rows for ``vec(R_k)`` of the 15 non-root joints
            in :data:`~.lbs.LEVEL_MAJOR` order, or None for a model without correctives.
        weights_t: (16, P) skinning weights, joints (rows) in :data:`~.lbs.LEVEL_MAJOR` order.
    """

    template: np.ndarray
    shape_basis: np.ndarray
    pose_basis: np.ndarray | None
    weights_t: np.ndarray

    @property
    def num_points(self) -> int:
        return self.weights_t.shape[1]


def one_hand_arrays(
    template: Tensor, basis: Tensor, weights_lm: Tensor, num_betas: int, has_posedirs: bool
) -> OneHandArrays:
    """:class:`OneHandArrays` from the layer's buffers (CPU, any float dtype).

    Args:
        template: (P, 3) rest points (the first 16 are the rest joints, MANO order).
        basis: (B [+ 144], P·3) fused blend basis (``HandModel._point_set``): the B shape rows,
            then, with pose correctives, 9 rows per joint in MANO order (root rows zero).
        weights_lm: (P, 16) skinning weights, joint columns in :data:`~.lbs.LEVEL_MAJOR` order.
        num_betas: B.
        has_posedirs: whether ``basis`` has the 144 pose rows.
    """
    P = template.shape[0]

    def coord_major(x: Tensor) -> np.ndarray:  # (K, P·3) interleaved → (K, 3·P)
        x = x.detach().numpy().reshape(-1, P, 3).transpose(0, 2, 1)
        return np.ascontiguousarray(x).reshape(-1, 3 * P)

    pose = None
    if has_posedirs:
        rows = basis[num_betas:].reshape(_NJ, 9, -1)[torch.as_tensor(_LM[1:])].reshape(135, -1)
        pose = coord_major(rows)
    return OneHandArrays(
        template=coord_major(template.reshape(1, P * 3))[0],
        shape_basis=coord_major(basis[:num_betas]),
        pose_basis=pose,
        weights_t=np.ascontiguousarray(weights_lm.detach().numpy().T),
    )


def forward_one(
    axis_angle: np.ndarray, betas: np.ndarray | None, arrays: OneHandArrays
) -> tuple[np.ndarray, np.ndarray]:
    """Pose and shape one hand.

    Args:
        axis_angle: (16, 3) rotation vectors, MANO joint order (root first), float32/float64.
        betas: (B',) shape coefficients, B' ≤ B, or None (mean shape); same dtype.
        arrays: the point set (:func:`one_hand_arrays`), same dtype.
    Returns:
        ``(points, rotations)``: posed points (P, 3) of the point set, C-contiguous, and the
        world rotation of each joint frame (16, 3, 3), MANO order.
    """
    k = _constants(axis_angle.dtype)
    P = arrays.num_points
    # 1. Rodrigues (lbs._rodrigues_flat), joints in level-major order: with x = θ·(1, ½, ½, ½),
    # sin(x)/x = (a, h, h, h) (x floored at 1e-30, where sin(x)/x is exactly 1).
    w = axis_angle[_LM]
    x = np.sqrt((w * w).sum(1, keepdims=True)) * k["halves"]
    np.maximum(x, 1e-30, out=x)
    c = np.sin(x)
    c /= x
    c[:, 1:] *= c[:, 1:]  # (a, h², h², h²)
    c[:, 1:] *= w  # (a, h²·ω)
    rot = (w[:, :, None] * c[:, None, :]).reshape(_NJ, 12) @ k["rodrigues"]
    rot += k["eye_flat"]  # (16, 9) row-major R_k
    # 2. Blend shapes over the point set, coordinate-major.
    if arrays.pose_basis is not None:
        rest = rot[1:].reshape(135) @ arrays.pose_basis
        rest += arrays.template
    else:
        rest = arrays.template.copy()
    if betas is not None and len(betas):
        rest += betas @ arrays.shape_basis[: len(betas)]
    rest = rest.reshape(3, P)
    # 3. The chain (lbs.rigid_transforms_1): B_kᵀ = (I − E_k)·[[R_kᵀ, 0], [0, 1]] + E_k.
    Rh = (rot @ k["rot_to_t"] + k["rot_bias_t"]).reshape(_NJ, 4, 4)
    E = (rest[:, _LM].T @ k["joint_to_t"] + k["joint_bias_t"]).reshape(_NJ, 2, 4, 4)
    BT = E[:, 0] + E[:, 1] @ Rh
    A0 = BT[0, :, :3]
    A1 = (BT[1:6].reshape(20, 4) @ A0).reshape(5, 4, 3)
    A2 = BT[6:11] @ A1
    AT = np.concatenate([A0[None], A1, A2, BT[11:16] @ A2])  # (16, 4, 3) level-major
    # 4. Skinning: rows r·3 + c of the blended Aᵀ, each of length P.
    bl = AT.reshape(_NJ, 12).T @ arrays.weights_t
    pts = bl[0:3] * rest[0]
    pts += bl[9:12]
    pts += bl[3:6] * rest[1]
    pts += bl[6:9] * rest[2]
    return np.ascontiguousarray(pts.T), AT[_LM_INV, :3].transpose(0, 2, 1)
