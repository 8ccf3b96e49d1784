"""MANO heads (per-frame pose, per-clip shape) and the hand-model decoder.

The head pattern follows MotionBERT's mesh regressor (``lib/model/model_mesh.py``; mgdhand.md
§1.9): pose is predicted per frame as 6D rotations added to a mean pose, shape once per clip from
pooled features, and both output layers start near zero (Xavier-uniform, gain 0.01). Our
adaptations, since MGDHand released no code:

- one token per MANO joint, so θ is read per token (LN → Linear → GELU → Linear → 6) instead of
  from a flattened frame; β is pooled over frames *and* joints ("spatio-temporally pooled β");
- LayerNorm instead of BatchNorm (no batch statistics: DDP and single-process runs agree);
- the mean pose is the flat hand (identity rotations), because handpose uses the full-
  articulation convention (``flat_hand_mean=True``), and the mean shape is β = 0;
- phase 2: :meth:`ManoHead.forward` takes an optional base pose and β in place of the mean
  (the teacher's input skip, :mod:`.teacher`), and :class:`HandDecoder` can skin a fixed vertex
  subset (the training losses).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from handpose.geometry.rotations import rotation_6d_to_matrix

__all__ = [
    "ManoHead",
    "HandDecoder",
    "IDENTITY_6D",
    "default_hand_model",
    "pose6d_to_rotmats",
    "root_imu_base_pose6d",
]

NUM_MANO_JOINTS = 16
NUM_BETAS = 10
# First two rows of the identity matrix: the 6D code of "no rotation" (pytorch3d convention).
IDENTITY_6D = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _small_init(layer: nn.Linear) -> None:
    nn.init.xavier_uniform_(layer.weight, gain=0.01)
    nn.init.zeros_(layer.bias)


class ManoHead(nn.Module):
    """Per-frame θ (16 × 6D) from the 16 joint tokens and one β per clip from their pool.

    Args:
        dim: token width d.
        hidden: hidden width of both MLPs.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.pose = nn.Sequential(
            nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, 6)
        )
        self.shape = nn.Sequential(
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, NUM_BETAS),
        )
        for seq in (self.pose, self.shape):
            nn.init.trunc_normal_(seq[1].weight, std=0.02)
            nn.init.zeros_(seq[1].bias)
            _small_init(seq[3])
        self.register_buffer("mean_pose6d", torch.tensor(IDENTITY_6D), persistent=False)

    def forward(
        self, tokens: Tensor, base_pose6d: Tensor | None = None, base_betas: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Args:
            tokens: (B, T, 16, d).
            base_pose6d: (B, T, 16, 6) the pose the residual is added to (the teacher's input
                skip); None = the mean pose (identity rotations).
            base_betas: (B, 10) the shape the residual is added to; None = the mean shape 0.
        Returns:
            pose6d (B, T, 16, 6) and betas (B, 10).
        """
        if tokens.shape[-2] != NUM_MANO_JOINTS:
            raise ValueError(f"ManoHead needs 16 joint tokens, got {tokens.shape[-2]}")
        base = self.mean_pose6d.to(tokens.dtype) if base_pose6d is None else base_pose6d
        pose6d = self.pose(tokens) + base
        betas = self.shape(tokens.mean(dim=(1, 2)))
        if base_betas is not None:
            betas = betas + base_betas
        return pose6d, betas


def default_hand_model() -> nn.Module:
    """The embedded open hand model, right side, full-articulation convention."""
    from handpose.handmodel import HandModel

    return HandModel(model="open", side="right", flat_hand_mean=True)


class HandDecoder(nn.Module):
    """Turns (rotmats, betas) into wrist-relative joints and vertices with a hand model.

    The hand model is held *outside* the module tree: its arrays are data chosen by
    configuration, not learned weights, so they stay out of ``state_dict`` and checkpoints (and
    official MANO data, which may not be redistributed, never lands in one). ``.to()``,
    ``.double()`` and friends still move it, through ``_apply``.
    """

    def __init__(self, hand_model: nn.Module) -> None:
        super().__init__()
        self._hand = [hand_model]

    @property
    def hand_model(self) -> nn.Module:
        return self._hand[0]

    def _apply(self, fn, recurse=True):
        self._hand[0]._apply(fn)
        return super()._apply(fn, recurse)

    def forward(
        self,
        rotmats: Tensor,
        betas: Tensor,
        return_vertices: bool = True,
        vertex_ids: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Skin the hand and express joints and vertices relative to the wrist.

        Args:
            rotmats: (B, T, 16, 3, 3) global orientation + 15 local rotations.
            betas: (B, 10), broadcast over the T frames.
            return_vertices: also return vertices.
            vertex_ids: (K,) long, only with ``return_vertices``: skin and return only these
                vertices (the training losses use a fixed subset: skinning all V vertices of
                every frame was ~25 % of a cpu-small training step).
        Returns:
            joints (B, T, 21, 3) OpenPose order and vertices (B, T, V or K, 3) or None; metres,
            the wrist (OpenPose joint 0) at the origin, world orientation kept.
        """
        b, t = rotmats.shape[:2]
        subset = return_vertices and vertex_ids is not None
        out = self.hand_model(
            global_orient=rotmats[..., 0, :, :],
            hand_pose=rotmats[..., 1:, :, :],
            betas=betas[:, None].expand(b, t, betas.shape[-1]),
            return_vertices=return_vertices and not subset,
            vertex_ids=vertex_ids if subset else None,
        )
        wrist = out.joints21[..., :1, :]
        joints = out.joints21 - wrist
        verts = out.selected_vertices if subset else out.vertices
        verts = verts - wrist if return_vertices and verts is not None else None
        return joints, verts


def pose6d_to_rotmats(pose6d: Tensor) -> Tensor:
    """(..., 6) → (..., 3, 3) by Gram–Schmidt (the 6D code is the first two rows)."""
    return rotation_6d_to_matrix(pose6d)


def root_imu_base_pose6d(imu: Tensor, root_index: int) -> Tensor:
    """The base pose of a root-orientation skip: (B, T, N, C) IMU tokens → (B, T, 16, 6).

    The global orientation is the root (back-of-hand) IMU's orientation: its token's first 6 of
    the 9 row-major rotation entries, i.e. the 6D code (first two rows); the 15 finger joints
    get the identity. Reads the IMU tokens only (student and teacher alike).
    """
    b, t = imu.shape[:2]
    base = imu.new_tensor(IDENTITY_6D).expand(b, t, NUM_MANO_JOINTS, 6).clone()
    base[:, :, 0] = imu[:, :, root_index, :6]
    return base
