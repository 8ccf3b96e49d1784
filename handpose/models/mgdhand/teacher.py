"""MGDHand teacher: a masked MANO sequence fused with IMUs, decoupled into three priors.

**From the paper's text** (MGDHand, CVPR 2026; ../shared/reference/mgdhand.md §0; supplement §1):
the teacher is a MANO–IMU fusion model. Its pose input θ is masked joint-wise and frame-wise
(Bernoulli(p_m)), masked entries being replaced by a noise token; the shape β stays visible
(the masked sequence is Θ̂ = {(θ̂_t, β)}). Per-joint pose tokens plus the broadcast shape β are embedded
into the MANO embedding F; the IMU tokens into the IMU embedding G. A dual-stream DSTFormer turns
F into morphology features F^m and G into kinematic features F^k. Per-frame cross-attention with
MANO queries and IMU keys/values, with a residual, gives the unified features Z. Heads predict θ
per frame and a spatio-temporally pooled β, which a hand model turns into joints and a mesh. The
priors (:mod:`.decoupling`) are read from Z, F^m and F^k.

**Our reconstruction** (no code was released):

- A MANO token is [6D rotation of the joint (6) ‖ β (10)], 16 channels, one per MANO joint. The
  noise token replaces the pose part of the token's *embedding* (d channels, trunc-normal init,
  learned) before the positional embeddings are added: a masked token's embedding is
  noise + W_β·β, so it still carries its joint and frame identity and the visible β, but
  nothing of its pose (MAE-style mask token; the supplement's t_mask lives in θ space, and a
  vector there reaches the network only through the linear embedding, i.e. as a vector in
  embedding space).
- "Dual-stream DSTFormer": one MotionBERT DSTformer trunk (itself dual-stream, ST and TS) runs
  over the MANO tokens and, separately, over the IMU tokens, with modality-specific embeddings
  (``share_backbone=True``, the default). Sharing is our reading of the paper's sizes: a 12.52 M
  teacher next to a 9.62 M student leaves no room for two backbones, and the teacher's FLOPs are
  about (16 + 7)/7 times the student's, i.e. one trunk applied to 16 + 7 tokens per frame
  (docs/benchmarks/model_size.md). ``share_backbone=False`` gives the IMU stream its own trunk.
- The fusion is one pre-LN cross-attention block (+ MLP) per frame: Z = F^m + CA(F^m, F^k).
- The MANO heads are :class:`~handpose.models.mgdhand.heads.ManoHead` on Z.
- **Input skip** (``input_skip=True``, phase 2, off by default since issue 16: it is a
  shortcut from the teacher's input to its own target; not in the paper's text, which says
  nothing about how θ is read out). The θ head predicts a residual on top of the *visible* input pose
  (the ground-truth 6D code of unmasked tokens) and the β head a
  residual on the input β (zero when every token of the clip is masked); a masked token's base
  is that joint's code at the nearest visible frame (:func:`nearest_visible_fill`; the identity
  when the joint is hidden in every frame). Why: without it the
  teacher must re-learn to copy 85 % of its input through a randomly initialised trunk. On
  2 subjects × 300 frames it was still at 46 mm MPJPE and jittery (acceleration error
  7,660 mm/s²) after 10 cpu-small epochs. With the skip it starts at the identity on unmasked
  tokens: the error comes only from masked tokens and their descendants in the kinematic chain,
  and the output has the input's smoothness. The skip touches only the MANO head. The priors
  and the auxiliary heads read Z, F^m and F^k as before and have no skip, so they must still
  encode shape, pose and motion: these features are what is distilled.
- **Root-orientation skip** (``root_index`` set; the default in the presets since issue 16):
  the same as the student's (:mod:`.student`): the global orientation θ₀ is a residual on the
  root (back-of-hand) IMU's orientation, the fingers on the identity. It reads the IMU tokens,
  which the student reads too, so it is no shortcut to the target: the fingers must come
  through the network. Ignored with ``input_skip``.
- **Prior skip** (``prior_skip=True``, an investigation option, off in the presets): the same
  visible input also reaches the three priors through learned linear embeddings
  (:class:`~handpose.models.mgdhand.decoupling.PriorDecoupling`), so that the priors carry the
  pose the teacher sees from the first step instead of re-learning it through the attention
  layers.
- ``vertex_ids`` in :meth:`MGDHandTeacher.forward` skins only a fixed vertex subset (training
  losses; see :class:`~handpose.models.mgdhand.heads.HandDecoder`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from handpose.models.dstformer import DSTformer
from handpose.models.mgdhand.config import NetworkConfig, PriorConfig
from handpose.models.mgdhand.decoupling import PriorDecoupling
from handpose.models.mgdhand.heads import (
    IDENTITY_6D,
    NUM_BETAS,
    NUM_MANO_JOINTS,
    HandDecoder,
    ManoHead,
    default_hand_model,
    pose6d_to_rotmats,
    root_imu_base_pose6d,
)
from handpose.models.mgdhand.layers import CrossAttentionBlock, TokenEmbedding, per_frame
from handpose.models.mgdhand.outputs import MGDHandOutput

__all__ = ["MGDHandTeacher", "nearest_visible_fill"]

MANO_TOKEN_DIM = 6 + NUM_BETAS


def nearest_visible_fill(pose6d: Tensor, mask: Tensor) -> Tensor:
    """Replace each masked (frame, joint) code by that joint's code at the nearest visible frame.

    Args:
        pose6d: (B, T, J, C).
        mask: (B, T, J) bool, True = masked (hidden).
    Returns:
        (B, T, J, C); a joint masked in every frame gets the identity's 6D code (C = 6) or 0.
        Reads visible entries only: changing a masked entry of ``pose6d`` changes nothing.
    """
    b, t, j, c = pose6d.shape
    visible = ~mask
    frames = torch.arange(t, device=pose6d.device)[None, :, None].expand(b, t, j)
    big = t + 1
    # Last visible frame at or before t (−big if none) and first at or after t (+2·big if none).
    prev = torch.where(visible, frames, torch.full_like(frames, -big)).cummax(dim=1).values
    nxt = torch.where(visible, frames, torch.full_like(frames, 2 * big))
    nxt = nxt.flip(1).cummin(dim=1).values.flip(1)
    use_prev = (frames - prev) <= (nxt - frames)
    src = torch.where(use_prev, prev, nxt)
    any_visible = visible.any(dim=1, keepdim=True).expand(b, t, j)
    src = torch.where(any_visible, src, frames).clamp(0, t - 1)
    filled = torch.gather(pose6d, 1, src[..., None].expand(b, t, j, c))
    if c == 6:
        fallback = pose6d.new_tensor(IDENTITY_6D).expand_as(pose6d)
    else:
        fallback = torch.zeros_like(pose6d)
    filled = torch.where(any_visible[..., None], filled, fallback)
    return torch.where(mask[..., None], filled, pose6d)


class MGDHandTeacher(nn.Module):
    """The MANO + IMU teacher.

    Args:
        net: widths and depths (:class:`NetworkConfig`).
        priors: prior widths (:class:`PriorConfig`).
        num_imus: N, IMU tokens per frame (7 for the vihand7 glove).
        imu_dim: channels per IMU token (12 = 9 rotation + 3 acceleration).
        maxlen: longest clip T the temporal embeddings cover.
        share_backbone: one DSTformer trunk for both streams (see module docstring).
        input_skip: the MANO head adds its output to the visible input pose and β (see the
            module docstring); False = residual on the mean pose, as in the first version.
        prior_skip: the priors also add learned embeddings of the visible input (see
            :class:`~handpose.models.mgdhand.decoupling.PriorDecoupling`).
        root_index: position of the root (back-of-hand) sensor among the N IMU tokens: the
            global orientation becomes a residual on its orientation (module docstring);
            None = off.
        hand_model: a hand model with the :class:`handpose.handmodel.HandModel` forward
            signature; default the open hand, right side, ``flat_hand_mean=True``.
    """

    def __init__(
        self,
        net: NetworkConfig | None = None,
        priors: PriorConfig | None = None,
        num_imus: int = 7,
        imu_dim: int = 12,
        maxlen: int = 32,
        share_backbone: bool = True,
        hand_model: nn.Module | None = None,
        input_skip: bool = False,
        prior_skip: bool = False,
        root_index: int | None = None,
    ) -> None:
        super().__init__()
        if root_index is not None and not 0 <= root_index < num_imus:
            raise ValueError(f"root_index {root_index} is not among the {num_imus} IMU tokens")
        self.root_index = root_index
        net = net or NetworkConfig()
        priors = priors or PriorConfig()
        self.net, self.prior_config = net, priors
        self.num_imus, self.imu_dim, self.maxlen = num_imus, imu_dim, maxlen
        self.share_backbone = share_backbone
        self.input_skip, self.prior_skip = input_skip, prior_skip
        d = net.dim
        trunk = dict(
            dim_out=None,
            dim_feat=d,
            dim_rep=None,
            depth=net.depth,
            num_heads=net.num_heads,
            mlp_ratio=net.mlp_ratio,
            maxlen=maxlen,
            drop_path_rate=net.drop_path,
        )
        # The trunk's own embedding layers embed the MANO tokens (F).
        self.backbone = DSTformer(dim_in=MANO_TOKEN_DIM, num_joints=NUM_MANO_JOINTS, **trunk)
        self.noise_token = nn.Parameter(torch.zeros(d))
        nn.init.trunc_normal_(self.noise_token, std=0.02)
        if share_backbone:
            self.imu_embed = TokenEmbedding(imu_dim, d, num_imus, maxlen)
        else:
            self.imu_backbone = DSTformer(dim_in=imu_dim, num_joints=num_imus, **trunk)
        self.fusion = CrossAttentionBlock(d, net.num_heads, net.mlp_ratio, residual=True)
        self.decoupling = PriorDecoupling(
            d,
            net.num_heads,
            net.mlp_ratio,
            priors.shape_dim,
            priors.pose_dim,
            priors.motion_dim,
            priors.motion_kernel_size,
            input_skip=prior_skip,
        )
        self.mano_head = ManoHead(d, net.head_hidden)
        self.decoder = HandDecoder(hand_model if hand_model is not None else default_hand_model())

    # -- the pieces, exposed for tests and analysis -------------------------------------------
    def mano_tokens(self, pose6d: Tensor, betas: Tensor) -> Tensor:
        """[6D ‖ β] per joint: (B, T, 16, 6), (B, 10) → (B, T, 16, 16)."""
        b, t, j, _ = pose6d.shape
        if j != NUM_MANO_JOINTS:
            raise ValueError(f"pose6d must have 16 joints, got {j}")
        return torch.cat([pose6d, betas[:, None, None].expand(b, t, j, betas.shape[-1])], dim=-1)

    def embed_mano(self, pose6d: Tensor, betas: Tensor, mask: Tensor | None = None) -> Tensor:
        """The MANO embedding F (with positional embeddings): (B, T, 16, d).

        ``mask`` (B, T, 16) bool, True = the pose part of the token's embedding is replaced by
        the noise token; β stays visible (supplement §1): masked = noise + W_β·β.
        """
        x = self.mano_tokens(pose6d, betas)
        if mask is None:
            return self.backbone.embed(x)
        w_beta = self.backbone.joints_embed.weight[:, 6:]  # (d, 10)
        masked = self.noise_token + betas @ w_beta.T  # (B, d)
        b, t, j = mask.shape
        token = masked[:, None, None].expand(b, t, j, masked.shape[-1])
        return self.backbone.embed(x, token_mask=mask, mask_token=token)

    def embed_imu(self, imu: Tensor) -> Tensor:
        """The IMU embedding G: (B, T, N, C) → (B, T, N, d)."""
        if self.share_backbone:
            return self.imu_embed(imu)
        return self.imu_backbone.embed(imu)

    def encode_imu(self, g: Tensor) -> Tensor:
        return self.backbone.encode(g) if self.share_backbone else self.imu_backbone.encode(g)

    @staticmethod
    def visible_input(pose6d: Tensor, betas: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """What the input skip adds the head's residual to, from visible tokens only.

        Returns:
            (B, T, 16, 6): ``pose6d`` where visible; where masked, the same joint's code at the
            nearest visible frame (ties → the earlier one), or the identity's code when the
            joint is masked in every frame. And (B, 10): ``betas`` (β is never masked).
        """
        if mask is None:
            return pose6d, betas
        return nearest_visible_fill(pose6d, mask), betas

    # -----------------------------------------------------------------------------------------
    def forward(
        self,
        pose6d: Tensor,
        betas: Tensor,
        imu: Tensor,
        mask: Tensor | None = None,
        return_vertices: bool = True,
        vertex_ids: Tensor | None = None,
    ) -> MGDHandOutput:
        """Args:
            pose6d: (B, T, 16, 6) MANO rotations in 6D (global + 15 local, full articulation).
            betas: (B, 10) shape.
            imu: (B, T, N, C) IMU tokens (see the dataset contract).
            mask: (B, T, 16) bool, True = masked; None = nothing masked.
            return_vertices: skin the mesh too (costs most of the hand-model time).
            vertex_ids: (K,) long: with ``return_vertices``, only these vertices.
        Returns:
            :class:`MGDHandOutput` with priors and aux (``betas``, ``rotmats``, ``velocity``,
            ``acceleration``).
        """
        if imu.shape[2] != self.num_imus:
            raise ValueError(f"teacher expects {self.num_imus} IMU tokens, got {imu.shape[2]}")
        f_m = self.backbone.encode(self.embed_mano(pose6d, betas, mask))
        f_k = self.encode_imu(self.embed_imu(imu))
        z = per_frame(self.fusion, f_m, f_k)
        base_pose6d = base_betas = None
        if self.input_skip or self.prior_skip:
            base_pose6d, base_betas = self.visible_input(pose6d, betas, mask)
        if self.prior_skip:
            priors, aux = self.decoupling(z, f_m, f_k, base_pose6d, base_betas)
        else:
            priors, aux = self.decoupling(z, f_m, f_k)
        if not self.input_skip:
            base_pose6d = base_betas = None
            if self.root_index is not None:
                base_pose6d = root_imu_base_pose6d(imu, self.root_index)
        pose6d_hat, betas_hat = self.mano_head(z, base_pose6d, base_betas)
        rotmats = pose6d_to_rotmats(pose6d_hat)
        joints, vertices = self.decoder(rotmats, betas_hat, return_vertices, vertex_ids)
        aux["rotmats"] = pose6d_to_rotmats(aux.pop("pose6d"))
        return MGDHandOutput(
            rotmats=rotmats,
            pose6d=pose6d_hat,
            betas=betas_hat,
            joints=joints,
            vertices=vertices,
            features=z,
            priors=priors,
            aux=aux,
        )
