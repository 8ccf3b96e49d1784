"""MGDHand student: IMU tokens only → MANO pose and shape, with three distillable priors.

**From the paper's text**: a DSTFormer on the IMU tokens only; three decoupling heads (channel
attention → shape, pooled; joint-axis spatial attention → pose; temporal attention → motion)
projected to the teacher's prior sizes; the same MANO heads as the teacher. Inference uses only
IMUs.

**Our reconstruction**:

- **Lifting N sensor tokens to 16 joint tokens.** The DSTformer runs over the N = 7, 3 or 2 IMU
  tokens of each frame (this is what the paper's student FLOPs imply: about 9.62 M parameters ×
  T × 7 tokens, docs/benchmarks/model_size.md). The joint-axis pose head, the MANO pose head and
  the per-frame priors need one token per MANO joint, so 16 learned joint queries cross-attend,
  frame by frame, to the N sensor features (pre-LN cross-attention + MLP, residual on the
  queries; DETR/Perceiver style). The lift is always applied: no glove has one sensor per MANO
  joint. Joint identity comes from the learned queries, time from the sensor features.
- Decoupling-head internals: :mod:`.student_heads`.
- **Root-orientation skip** (``root_index`` set; phase 2, not in the paper's text). The global
  orientation θ₀ is predicted as a residual on the orientation of the root IMU (back of the
  hand), whose token carries its global rotation R_root (the first 6 of its 9 row-major entries
  are the 6D code, first two rows). The 15 finger joints keep the identity as their base. Only
  the student's IMU input is read. Why: the back sensor's orientation is within ~4° of the
  hand's global orientation (measured on the synthetic test split), yet after cpu-small's
  ~270 steps the phase-2 student without the skip reached 44.1 mm test MPJPE. That is worse
  than the flat hand with the ground-truth global orientation (31.3 mm), so the student had not
  yet learned to copy R_root through its transformer.
- ``head="teacher"`` builds a SimKD student: a projector maps the lifted tokens to the teacher's
  width and a frozen copy of the teacher's MANO head (loaded with :meth:`load_teacher_head`)
  predicts θ and β, at training and at inference (SimKD, Chen et al. CVPR 2022).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from handpose.models.dstformer import DSTformer
from handpose.models.mgdhand.config import NetworkConfig, PriorConfig
from handpose.models.mgdhand.heads import (
    NUM_MANO_JOINTS,
    HandDecoder,
    ManoHead,
    default_hand_model,
    pose6d_to_rotmats,
    root_imu_base_pose6d,
)
from handpose.models.mgdhand.layers import CrossAttentionBlock, per_frame
from handpose.models.mgdhand.outputs import MGDHandOutput
from handpose.models.mgdhand.student_heads import (
    AxisPriorHead,
    ChannelAttentionShapeHead,
    SimKDProjector,
)

__all__ = ["JointLift", "MGDHandStudent"]


class JointLift(nn.Module):
    """N sensor tokens → 16 joint tokens by per-frame cross-attention from learned queries."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, num_joints: int = 16):
        super().__init__()
        self.queries = nn.Parameter(torch.zeros(num_joints, dim))
        nn.init.trunc_normal_(self.queries, std=0.02)
        self.block = CrossAttentionBlock(dim, num_heads, mlp_ratio, residual=True)

    def forward(self, sensors: Tensor) -> Tensor:
        """Args: sensors (B, T, N, d). Returns (B, T, 16, d)."""
        b, t, _, d = sensors.shape
        q = self.queries.to(sensors.dtype).expand(b, t, *self.queries.shape)
        return per_frame(self.block, q, sensors)


class MGDHandStudent(nn.Module):
    """The IMU-only student.

    Args:
        net: its widths and depths.
        priors: the *teacher's* prior widths (the heads project to them).
        num_imus: N, 7, 3 or 2 sensor tokens per frame.
        imu_dim: channels per IMU token (12).
        maxlen: longest clip T.
        head: ``"own"`` (its own MANO head) or ``"teacher"`` (SimKD: projector + frozen teacher
            head of width ``teacher_dim`` and hidden ``teacher_head_hidden``).
        hand_model: as for the teacher.
        root_index: position of the root (back-of-hand) sensor among the N tokens: the global
            orientation becomes a residual on its orientation (module docstring); None = off.
    """

    def __init__(
        self,
        net: NetworkConfig | None = None,
        priors: PriorConfig | None = None,
        num_imus: int = 7,
        imu_dim: int = 12,
        maxlen: int = 32,
        head: str = "own",
        teacher_dim: int | None = None,
        teacher_head_hidden: int | None = None,
        hand_model: nn.Module | None = None,
        root_index: int | None = None,
    ) -> None:
        super().__init__()
        net = net or NetworkConfig()
        priors = priors or PriorConfig()
        if head not in ("own", "teacher"):
            raise ValueError(f"head must be 'own' or 'teacher', got {head!r}")
        self.net, self.prior_config = net, priors
        self.num_imus, self.imu_dim, self.maxlen, self.head_kind = num_imus, imu_dim, maxlen, head
        if root_index is not None and not 0 <= root_index < num_imus:
            raise ValueError(f"root_index {root_index} is not among the {num_imus} IMU tokens")
        self.root_index = root_index
        d = net.dim
        self.backbone = DSTformer(
            dim_in=imu_dim,
            dim_out=None,
            dim_feat=d,
            dim_rep=None,
            depth=net.depth,
            num_heads=net.num_heads,
            mlp_ratio=net.mlp_ratio,
            num_joints=num_imus,
            maxlen=maxlen,
            drop_path_rate=net.drop_path,
        )
        self.lift = JointLift(d, net.num_heads, net.mlp_ratio, NUM_MANO_JOINTS)
        self.shape_head = ChannelAttentionShapeHead(d, priors.shape_dim)
        # Attention-only prior heads (mlp_ratio 0, see :mod:`.student_heads`).
        self.pose_head = AxisPriorHead(d, priors.pose_dim, net.num_heads, 0.0, "joints")
        self.motion_head = AxisPriorHead(d, priors.motion_dim, net.num_heads, 0.0, "frames")
        if head == "own":
            self.mano_head = ManoHead(d, net.head_hidden)
        else:
            if teacher_dim is None or teacher_head_hidden is None:
                raise ValueError("head='teacher' needs teacher_dim and teacher_head_hidden")
            self.simkd_projector = SimKDProjector(d, teacher_dim)
            self.mano_head = ManoHead(teacher_dim, teacher_head_hidden)
            self.mano_head.requires_grad_(False)
        self.decoder = HandDecoder(hand_model if hand_model is not None else default_hand_model())

    def load_teacher_head(self, teacher_head: ManoHead) -> None:
        """Copy the (trained) teacher's MANO head into a SimKD student; it stays frozen."""
        if self.head_kind != "teacher":
            raise ValueError("only a student built with head='teacher' reuses the teacher head")
        self.mano_head.load_state_dict(teacher_head.state_dict())
        self.mano_head.requires_grad_(False)

    def base_pose6d(self, imu: Tensor) -> Tensor | None:
        """The pose the MANO head's residual is added to: (B, T, 16, 6) with the root IMU's
        orientation (6D, first two rows) for the global orientation and the identity for the
        15 finger joints; None without ``root_index`` (the head's mean pose)."""
        if self.root_index is None:
            return None
        return root_imu_base_pose6d(imu, self.root_index)

    def forward(
        self,
        imu: Tensor,
        return_vertices: bool = True,
        vertex_ids: Tensor | None = None,
        priors: bool = True,
        encoder: nn.Module | None = None,
    ) -> MGDHandOutput:
        """Args:
            imu: (B, T, N, C) IMU tokens — the only input; no ground truth reaches the student.
            return_vertices: skin the mesh too.
            vertex_ids: (K,) long: with ``return_vertices``, only these vertices (training).
            priors: run the three prior heads (needed for distillation only; inference skips
                them, ``priors`` is then empty).
            encoder: replaces ``backbone.encode`` (the same function, e.g. the inference
                path's :class:`~handpose.models.dstformer.LockstepEncoder`).
        Returns:
            :class:`MGDHandOutput` (``aux`` empty).
        """
        if imu.shape[2] != self.num_imus:
            raise ValueError(f"student expects {self.num_imus} IMU tokens, got {imu.shape[2]}")
        sensors = (encoder or self.backbone.encode)(self.backbone.embed(imu))
        joints_tok = self.lift(sensors)
        prior_features = {}
        if priors:
            prior_features = {
                "shape": self.shape_head(joints_tok),
                "pose": self.pose_head(joints_tok),
                "motion": self.motion_head(joints_tok),
            }
        features = joints_tok
        if self.head_kind == "teacher":
            features = self.simkd_projector(joints_tok)
        pose6d, betas = self.mano_head(features, self.base_pose6d(imu))
        rotmats = pose6d_to_rotmats(pose6d)
        joints, vertices = self.decoder(rotmats, betas, return_vertices, vertex_ids)
        return MGDHandOutput(
            rotmats=rotmats,
            pose6d=pose6d,
            betas=betas,
            joints=joints,
            vertices=vertices,
            features=features,
            priors=prior_features,
        )
