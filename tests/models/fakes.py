"""Small stand-ins with the contracts' shapes, for the MGDHand model, loss and training tests."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import Tensor, nn

from handpose.geometry.rotations import axis_angle_to_matrix, matrix_to_rotation_6d
from handpose.handmodel.conventions import MANO_PARENTS, MANO_TO_OPENPOSE


class FakeHandModel(nn.Module):
    """A rigid 16-bone hand with the ``HandModel`` forward signature (no skinning, no posedirs).

    Joint positions come from forward kinematics over the MANO tree with fixed bone offsets scaled
    by (1 + 0.05·β₀); each of the V vertices rides rigidly on one joint. Differentiable in the
    rotations and β, cheap, and shaped like the real thing.
    """

    def __init__(self, num_vertices: int = 40, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("offsets", 0.02 * torch.randn(16, 3, generator=g) + 0.01)
        self.register_buffer("tip_offsets", 0.02 * torch.randn(5, 3, generator=g))
        self.register_buffer("vertex_offsets", 0.01 * torch.randn(num_vertices, 3, generator=g))
        self.register_buffer("vertex_joint", torch.arange(num_vertices) % 16)
        self.num_vertices = num_vertices
        self.calls = 0

    def forward(
        self,
        global_orient=None,
        hand_pose=None,
        betas=None,
        transl=None,
        return_vertices: bool = True,
        vertex_ids=None,
    ):
        self.calls += 1
        rots = torch.cat([global_orient[..., None, :, :], hand_pose], dim=-3)
        scale = 1.0 + 0.05 * betas[..., :1, None]  # (..., 1, 1)
        glob = [rots[..., 0, :, :]]
        pos = [torch.zeros_like(rots[..., 0, :, 0])]
        for j in range(1, 16):
            p = MANO_PARENTS[j]
            off = (self.offsets[j] * scale[..., 0, :])[..., None]
            pos.append(pos[p] + (glob[p] @ off)[..., 0])
            glob.append(glob[p] @ rots[..., j, :, :])
        glob_t = torch.stack(glob, dim=-3)
        joints = torch.stack(pos, dim=-2)
        tip_parent = [15, 3, 6, 12, 9]  # thumb, index, middle, ring, pinky distal joints
        tips = (
            joints[..., tip_parent, :]
            + (glob_t[..., tip_parent, :, :] @ self.tip_offsets[..., None])[..., 0]
        )
        joints21 = torch.cat([joints, tips], dim=-2)[..., list(MANO_TO_OPENPOSE), :]
        verts = None
        if return_vertices:
            vj = self.vertex_joint
            verts = (
                joints[..., vj, :]
                + (glob_t[..., vj, :, :] @ self.vertex_offsets[..., None])[..., 0]
            )
        if transl is not None:
            joints21 = joints21 + transl[..., None, :]
            joints = joints + transl[..., None, :]
            verts = verts + transl[..., None, :] if verts is not None else None
        selected = None
        if vertex_ids is not None:
            vj = self.vertex_joint[vertex_ids]
            selected = (
                joints[..., vj, :]
                + (glob_t[..., vj, :, :] @ self.vertex_offsets[vertex_ids][..., None])[..., 0]
            )
            if transl is not None:
                selected = selected + transl[..., None, :]
        return SimpleNamespace(
            joints=joints,
            joints21=joints21,
            vertices=verts,
            global_rotations=glob_t,
            selected_vertices=selected,
        )


def random_batch(
    batch: int = 2, frames: int = 8, num_imus: int = 7, seed: int = 0, dtype=torch.float32
) -> dict[str, Tensor]:
    """A batch with the windowed IMU dataset's keys and shapes (values random but consistent)."""
    g = torch.Generator().manual_seed(seed)
    aa = 0.3 * torch.randn(batch, frames, 16, 3, generator=g, dtype=torch.float64)
    rot = axis_angle_to_matrix(aa)
    imu_rot = axis_angle_to_matrix(
        0.3 * torch.randn(batch, frames, num_imus, 3, generator=g, dtype=torch.float64)
    )
    imu = torch.cat(
        [
            imu_rot.reshape(batch, frames, num_imus, 9),
            torch.randn(batch, frames, num_imus, 3, generator=g, dtype=torch.float64),
        ],
        dim=-1,
    )
    return {
        "imu": imu.to(dtype),
        "pose6d": matrix_to_rotation_6d(rot).to(dtype),
        "pose_aa": aa.to(dtype),
        "betas": torch.randn(batch, 10, generator=g, dtype=torch.float64).to(dtype),
        "joints": (0.05 * torch.randn(batch, frames, 21, 3, generator=g, dtype=torch.float64)).to(
            dtype
        ),
        "mask": torch.rand(batch, frames, 16, generator=g) < 0.3,
    }
