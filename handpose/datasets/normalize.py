"""Root-relative IMU tokens for the networks, computed from IMU data only.

With the root = back-of-hand sensor (TransPose/PIP/DynaIP convention, imu.md §5, §6.5):

- leaf i:  ``R̄ᵢ = R_rootᵀ Rᵢ`` and ``āᵢ = R_rootᵀ (aᵢ − a_root)``;
- root:    keeps its global ``R_root`` and ``R_rootᵀ a_root``;

where R is the sensor-to-world orientation and a the **global free acceleration** (m/s²).
Each token is ``[R̄ (9, row-major), ā / acc_scale (3)]`` → (…, N, 12), as in DynaIP (imu.md §6.6).

``acc_scale`` puts accelerations on the order of the rotation entries, as TransPose's 30 m/s²
does for bodies (imu.md §2): :data:`DEFAULT_ACC_SCALE` was chosen from the synthetic data (see
its comment). Nothing here takes ground-truth MANO parameters: VIHand's public loader rotates
the IMUs by the ground-truth global rotation, which leaks the answer (datasets.md §5.7).
"""

from __future__ import annotations

import torch
from torch import Tensor

from handpose.errors import HandposeError
from handpose.geometry.rotations import quaternion_to_matrix

__all__ = ["DEFAULT_ACC_SCALE", "imu_tokens", "imu_tokens_from_quaternion"]

# m/s². Chosen from the synthetic data as TransPose chose 30 m/s² for bodies (imu.md §2), but
# from the distribution rather than the maximum: over the default 15 × 15 × 1200-frame synthetic
# set (30 fps, n = 2, default noise; `benchmarks/bench_synth.py`, docs/benchmarks/synth.md) the
# root-relative leaf |ā| has median 0.85, 99th percentile 9.6, 99.9th percentile 16.9 and
# maximum 78 m/s² (fast taps, snaps and wiggles of the quickest subjects), and the
# back-of-hand |a| stays below 3 m/s². With 20, 99.97 % of leaf samples have |ā| ≤ 20, on the
# order of the rotation entries; scaling by the maximum would squeeze typical finger
# accelerations to ≈ 0.01.
DEFAULT_ACC_SCALE = 20.0


def imu_tokens(
    orientation: Tensor, free_acceleration: Tensor, root: int, acc_scale: float = DEFAULT_ACC_SCALE
) -> Tensor:
    """Root-relative 12-D tokens.

    Args:
        orientation: (..., N, 3, 3) sensor-to-world rotations.
        free_acceleration: (..., N, 3) global free acceleration, m/s².
        root: index of the root sensor among the N.
        acc_scale: divisor for the accelerations, m/s².
    Returns:
        (..., N, 12) tokens: 9 rotation entries (row-major) then 3 scaled accelerations.
    """
    N = orientation.shape[-3]
    if orientation.shape[-2:] != (3, 3) or free_acceleration.shape[-2:] != (N, 3):
        raise HandposeError(
            "orientation must be (..., N, 3, 3) and free_acceleration (..., N, 3); got "
            f"{tuple(orientation.shape)} and {tuple(free_acceleration.shape)}"
        )
    if not -N <= root < N:
        raise HandposeError(f"root {root} out of range for {N} sensors")
    R_root = orientation[..., root : root + 1, :, :]  # (..., 1, 3, 3)
    a_root = free_acceleration[..., root : root + 1, :]
    Rt = R_root.transpose(-1, -2)
    R_rel = Rt @ orientation
    a_rel = (Rt @ (free_acceleration - a_root)[..., None])[..., 0]
    R_rel = R_rel.clone()
    R_rel[..., root, :, :] = R_root[..., 0, :, :]
    a_rel[..., root, :] = (Rt[..., 0, :, :] @ a_root[..., 0, :, None])[..., 0]
    return torch.cat([R_rel.flatten(-2), a_rel / acc_scale], dim=-1)


def imu_tokens_from_quaternion(
    quaternion: Tensor, free_acceleration: Tensor, root: int, acc_scale: float = DEFAULT_ACC_SCALE
) -> Tensor:
    """:func:`imu_tokens` from (..., N, 4) quaternions (w, x, y, z)."""
    return imu_tokens(quaternion_to_matrix(quaternion), free_acceleration, root, acc_scale)
