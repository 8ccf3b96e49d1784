"""DIR: decoupled iterative refinement of two interacting hands from one RGB crop.

Ren et al., "Decoupled Iterative Refinement Framework for Interacting Hands Reconstruction from
a Single RGB Image", ICCV 2023; the structure follows the description of its MIT-licensed code
in ../shared/reference/vision_methods.md §2.3 and the supplement §1
(../shared/papers/004_0506cf8f5e99fe68.txt). Data flow, for an S × S crop (S = 256):

1. **Backbone** (ResNet-50): maps c2, c3, c4 at strides 8, 16, 32 (32², 16², 8² cells).
2. **Initial regression** (:class:`InitialRegressor`, on c4): per hand a spatial-attention map
   (1×1 conv → sigmoid) weights an average pool, a linear layer gives the hand's MANO vector
   (:mod:`.mano`); global average pooling + a linear layer gives the relative root offset.
3. **Refinement stages** (:class:`RefinementStage`; stage 1 at stride 16, stage 2 at stride 8):
   a. *feature fusion* (stacked-hourglass style): the previous map (c4, then the previous
      stage's enhanced map) reduced to F = 256 channels and upsampled ×2, plus a residual
      module on the skip level (c3, then c2), then a residual module → the fused map;
   b. *2D→3D lifting*: the fused map sampled at the current estimate's projected joints
      (positions detached) → MLP → 128-D, plus an MLP embedding of the wrist-relative 3D
      joints (÷ 0.15 m);
   c. *intra-hand*: a 4-layer, 128-channel semantic GCN per hand (:mod:`.graph`);
   d. *spatial position encoding*: an embedding of each joint's global position
      (wrist-relative joints ÷ 0.15 m ± offset/2, right +, left −);
   e. *inter-hand*: the 4-layer transformer over the 42 tokens → 64-D (:mod:`.transformer`);
   f. *regression*: per hand Linear(21·64 + D → D) gives a **new** MANO vector (not a
      residual), Linear(2·21·64 + 3 → 3) a new offset (with ``offset_layout``, ours, plus
      :class:`LayoutOffset` of the estimate being refined; also added to the initial offset);
   g. *3D→2D bone projection* of the 64-D joint features at the new estimate's projected joints,
      one channel block per bone and hand (:mod:`.projection`), a 3×3 conv to F;
   h. *feature enhancement*: Residual(concat(fused, projected), 2F → F) → the next stage's input.
4. **Heads** after the last stage: 3-class segmentation (background, right, left: the
   sample schema's mask labels 0, 1, 2) and a 3-channel dense-correspondence map (template
   position of the visible surface point ÷ 0.15 m), at the last stage's resolution.

Initialisation (ours; the public code's is not described): every MANO-vector output starts at
the identity root, mean pose, mean shape and ``camera_init`` (tiny weights, bias = that vector);
a stage's regressor starts as the identity on the previous vector (its other weights tiny), so
each stage begins by repeating the estimate it refines.

With ``num_stages = 0`` the network is the supplement's "basic model" (Table 2): the initial
regression alone, without heads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.models.backbones import create_backbone
from handpose.models.dir.config import DIRConfig
from handpose.models.dir.graph import SemGCN
from handpose.models.dir.mano import (
    POSITION_UNIT,
    HandsEstimate,
    ManoVectorDecoder,
    normalised_to_pixels,
    to_camera_frame,
)
from handpose.models.dir.projection import BoneProjection
from handpose.models.dir.transformer import InterHandTransformer
from handpose.models.heads.sampling import sample_points

__all__ = [
    "Residual",
    "LayoutOffset",
    "InitialRegressor",
    "RefinementStage",
    "DIROutput",
    "DIRNetwork",
]

_STRIDES = (8, 16, 32)


class Residual(nn.Module):
    """Stacked-hourglass residual module (Newell et al., ECCV 2016), pre-activation bottleneck:
    BN-ReLU-1×1(C_in → C/2), BN-ReLU-3×3(C/2 → C/2), BN-ReLU-1×1(C/2 → C), plus the input
    (through a 1×1 conv when C_in ≠ C)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        mid = max(out_channels // 2, 1)
        self.body = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=False),
            nn.Conv2d(in_channels, mid, 1),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 1),
        )
        self.skip = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.skip(x)


def _start_at(linear: nn.Linear, bias: Tensor) -> None:
    """Tiny weights and the given bias: the layer starts near a constant output."""
    nn.init.xavier_uniform_(linear.weight, gain=0.01)
    with torch.no_grad():
        linear.bias.copy_(bias)


def _start_as_identity_on_tail(linear: nn.Linear, tail: int) -> None:
    """Tiny weights except an identity on the last ``tail`` inputs; zero bias."""
    nn.init.xavier_uniform_(linear.weight, gain=0.01)
    with torch.no_grad():
        linear.weight[:, -tail:].copy_(torch.eye(linear.out_features, tail))
        linear.bias.zero_()


def _cell_centres(x: Tensor) -> Tensor:
    """(h·w, 2) centres (u, v) of the cells of a (B, C, h, w) map in normalised crop
    coordinates (±1 = the crop edges, the convention of ``joints_uv``), row-major."""
    h, w = x.shape[-2:]
    v = (torch.arange(h, dtype=x.dtype, device=x.device) + 0.5) * (2.0 / h) - 1.0
    u = (torch.arange(w, dtype=x.dtype, device=x.device) + 0.5) * (2.0 / w) - 1.0
    return torch.stack([u.expand(h, w), v[:, None].expand(h, w)], -1).reshape(h * w, 2)


class LayoutOffset(nn.Module):
    """The offset correction of ``DIRConfig.offset_layout`` (ours): an MLP of an estimate's
    2D layout, both hands' projected joints (B, 2, 21, 2) and cameras (B, 2, 3), detached, →
    (B, 3) in units of 0.15 m, added to DIR's offset. Its last layer starts at zero, so a new
    network predicts what DIR's head alone would.

    Why: the offset's x and y are where the wrists are in the crop divided by how large the
    hands appear, and its depth follows from their relative apparent sizes; globally pooled
    features keep little of either. On the ``twohand`` test frames an MLP of the true 2D
    joints alone reaches 58 mm MRRPE against 147 mm for the zero offset; with a cpu-small
    model's *predicted* joints it reaches nothing, and this head made no measurable difference
    after 3 or 6 epochs (one seed each; docs/results/dir_offset.md).
    """

    def __init__(self, hidden: int = 256) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(2 * 21 * 2 + 2 * 3, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, 3),
        )
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, est: HandsEstimate) -> Tensor:
        B = est.joints_uv.shape[0]
        layout = torch.cat(
            [est.joints_uv.detach().reshape(B, -1), est.camera.detach().reshape(B, -1)], -1
        )
        return self.mlp(layout)


class InitialRegressor(nn.Module):
    """c4 → both hands' MANO vectors (B, 2, D) and the offset (B, 3).

    Args:
        channels: c4 channels.
        init_vector: (D,) the MANO vector at initialisation.
        attention: per-hand spatial-attention pooling (False: shared global average pooling).
        position: ``DIRConfig.position_pooling`` (ours): each hand's pooled features also carry
            the centroid of its attention map, normalised crop coordinates.
    """

    def __init__(
        self, channels: int, init_vector: Tensor, attention: bool = True, position: bool = False
    ) -> None:
        super().__init__()
        D = int(init_vector.numel())
        self.attention = nn.Conv2d(channels, 2, 1) if attention else None
        self.position = position
        extra = 2 if position else 0
        self.fc = nn.ModuleList(nn.Linear(channels + extra, D) for _ in range(2))
        for fc in self.fc:
            _start_at(fc, init_vector)
        self.offset = nn.Linear(channels, 3)
        _start_at(self.offset, torch.zeros(3))

    def forward(self, c4: Tensor) -> tuple[Tensor, Tensor]:
        pooled = c4.mean((2, 3))  # (B, C)
        if self.attention is not None:
            a = torch.sigmoid(self.attention(c4)).flatten(2)  # (B, 2, hw)
            f = c4.flatten(2)  # (B, C, hw)
            mass = a.sum(-1, keepdim=True).clamp_min(1e-6)
            hands = (a @ f.transpose(1, 2)) / mass  # (B, 2, C)
            if self.position:  # where each hand's attention lies: its centroid (B, 2, 2)
                hands = torch.cat([hands, (a @ _cell_centres(c4)) / mass], -1)
        else:
            hands = pooled[:, None].expand(-1, 2, -1)
            if self.position:  # a global pool has no place: the crop centre
                hands = torch.cat([hands, hands.new_zeros(hands.shape[:2] + (2,))], -1)
        vec = torch.stack([fc(hands[:, i]) for i, fc in enumerate(self.fc)], 1)
        return vec, self.offset(pooled)


class RefinementStage(nn.Module):
    """One DIR refinement stage (module docstring, steps 3a–3h).

    Args:
        prev_channels: channels of the previous map (c4 for stage 1, F after).
        skip_channels: channels of the backbone level at this stage's stride.
        cfg: the network config.
        vector_size: D.
        threshold: bone projection radius in cells.
    """

    def __init__(
        self,
        prev_channels: int,
        skip_channels: int,
        cfg: DIRConfig,
        vector_size: int,
        threshold: float,
    ) -> None:
        super().__init__()
        Fc, J, Jo = cfg.fused_channels, cfg.joint_channels, cfg.joint_out_channels
        self.reduce = nn.Conv2d(prev_channels, Fc, 1) if prev_channels != Fc else nn.Identity()
        self.skip = Residual(skip_channels, Fc)
        self.fuse = Residual(Fc, Fc)
        self.sample_mlp = nn.Sequential(nn.Linear(Fc, J), nn.ReLU(inplace=True), nn.Linear(J, J))
        self.joint_embed = nn.Sequential(nn.Linear(3, J), nn.ReLU(inplace=True), nn.Linear(J, J))
        self.gcn = nn.ModuleList(SemGCN(J, cfg.gcn_layers) for _ in range(2))
        self.position_embed = nn.Linear(3, J)
        self.transformer = InterHandTransformer(
            42, J, Jo, cfg.transformer_depth, cfg.transformer_heads, cfg.mlp_ratio
        )
        self.regressor = nn.ModuleList(
            nn.Linear(21 * Jo + vector_size, vector_size) for _ in range(2)
        )
        for reg in self.regressor:
            _start_as_identity_on_tail(reg, vector_size)
        self.offset = nn.Linear(2 * 21 * Jo + 3, 3)
        _start_as_identity_on_tail(self.offset, 3)
        self.layout = LayoutOffset() if cfg.offset_layout else None
        self.projection = BoneProjection(Jo, Fc, threshold)
        self.enhance = Residual(2 * Fc, Fc)

    def fused_map(self, prev: Tensor, skip: Tensor) -> Tensor:
        up = F.interpolate(self.reduce(prev), size=skip.shape[-2:], mode="nearest")
        return self.fuse(up + self.skip(skip))

    def joint_features(self, fused: Tensor, est: HandsEstimate, image_size: int) -> Tensor:
        """Steps b–e: (B, 2, 21, Jo) joint features."""
        B = fused.shape[0]
        uv = normalised_to_pixels(est.joints_uv.detach(), image_size).reshape(B, 42, 2)
        stride = image_size / fused.shape[-1]
        sampled = self.sample_mlp(sample_points(fused, uv, stride)).reshape(B, 2, 21, -1)
        rel = (est.joints - est.joints[:, :, :1]) / POSITION_UNIT  # wrist-relative, (B, 2, 21, 3)
        x = sampled + self.joint_embed(rel)
        x = torch.stack([gcn(x[:, i]) for i, gcn in enumerate(self.gcn)], 1)
        half = 0.5 * est.offset[:, None, None, :]
        glob = torch.cat([rel[:, :1] + half, rel[:, 1:] - half], 1)
        x = x + self.position_embed(glob)
        return self.transformer(x.reshape(B, 42, -1)).reshape(B, 2, 21, -1)

    def regress(self, tokens: Tensor, est: HandsEstimate) -> tuple[Tensor, Tensor]:
        """Step f: new (B, 2, D) vectors and (B, 3) offset."""
        B = tokens.shape[0]
        vec = torch.stack(
            [
                reg(torch.cat([tokens[:, i].reshape(B, -1), est.vector[:, i]], -1))
                for i, reg in enumerate(self.regressor)
            ],
            1,
        )
        offset = self.offset(torch.cat([tokens.reshape(B, -1), est.offset], -1))
        if self.layout is not None:  # the layout of the estimate being refined
            offset = offset + self.layout(est)
        return vec, offset


@dataclass
class DIROutput:
    """Output of :class:`DIRNetwork` (B = batch; slot 0 right, 1 left).

    Attributes:
        estimates: the initial estimate, then one per refinement stage (:class:`HandsEstimate`,
            model frame; intermediate vertices only while training).
        segmentation: (B, 3, h, w) logits (background, right, left) or None.
        dense: (B, 3, h, w) dense-correspondence map (template position ÷ 0.15 m) or None.
        image_size: S.
        joints2d: (B, 2, 21, 2) final joints in crop pixels (weak perspective).
        offset: (B, 3) final right − left wrist offset, metres.
        mano_global_orient, mano_hand_pose, mano_betas: (B, 2, 3), (B, 2, 45), (B, 2, 10)
            final MANO parameters (axis-angle, full articulation; right model for slot 0, left
            for slot 1).
        joints3d, vertices, mano_transl: camera frame (metres), only when K was given.
    """

    estimates: list[HandsEstimate]
    segmentation: Tensor | None
    dense: Tensor | None
    image_size: int
    joints2d: Tensor
    offset: Tensor
    mano_global_orient: Tensor
    mano_hand_pose: Tensor
    mano_betas: Tensor
    joints3d: Tensor | None = None
    vertices: Tensor | None = None
    mano_transl: Tensor | None = None

    @property
    def final(self) -> HandsEstimate:
        return self.estimates[-1]


class DIRNetwork(nn.Module):
    """The DIR network (module docstring).

    Args:
        config: :class:`DIRConfig` or its mapping.
    Input: (B, 3, S, S) ImageNet-normalised crops; optional K (B, 3, 3) of the crops for the
    camera-frame outputs. Output: :class:`DIROutput`.

    Example:
        >>> net = DIRNetwork({"backbone": "resnet18", "image_size": 128})  # doctest: +SKIP
        >>> out = net(torch.randn(2, 3, 128, 128))  # doctest: +SKIP
        >>> out.final.joints.shape  # doctest: +SKIP
        torch.Size([2, 2, 21, 3])
    """

    def __init__(self, config: DIRConfig | dict | None = None) -> None:
        super().__init__()
        cfg = config if isinstance(config, DIRConfig) else DIRConfig.from_dict(config)
        self.config = cfg
        self.backbone = create_backbone(
            cfg.backbone, weights=cfg.backbone_weights, strides=_STRIDES, img_size=cfg.image_size
        )
        c2, c3, c4 = self.backbone.channels
        self.decoder = ManoVectorDecoder(cfg.hand_model, cfg.num_pca, cfg.camera_init)
        D = self.decoder.size
        self.initial = InitialRegressor(
            c4, self.decoder.initial_vector(), cfg.attention_pooling, cfg.position_pooling
        )
        self.initial_layout = LayoutOffset() if cfg.offset_layout else None
        prev, skips = c4, (c3, c2)
        stages = []
        for k in range(cfg.num_stages):
            stages.append(RefinementStage(prev, skips[k], cfg, D, cfg.projection_thresholds[k]))
            prev = cfg.fused_channels
        self.stages = nn.ModuleList(stages)
        self.segmentation_head = self.dense_head = None
        if cfg.heads and cfg.num_stages > 0:
            Fc = cfg.fused_channels

            def head(out: int) -> nn.Sequential:
                return nn.Sequential(
                    nn.Conv2d(Fc, Fc, 3, padding=1),
                    nn.BatchNorm2d(Fc),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(Fc, out, 1),
                )

            self.segmentation_head = head(3)
            self.dense_head = head(3)

    @property
    def faces(self) -> tuple[Tensor, Tensor]:
        """Triangles of the right and left meshes."""
        return self.decoder.faces()

    def forward_estimates(
        self, image: Tensor
    ) -> tuple[list[HandsEstimate], Tensor | None, Tensor | None]:
        """The network proper: (B, 3, S, S) → the estimates (initial, then one per stage), the
        segmentation logits and the dense map (None without heads). Plain tensor operations
        only (what an ONNX export traces)."""
        S = self.config.image_size
        if image.ndim != 4 or image.shape[1] != 3 or tuple(image.shape[-2:]) != (S, S):
            raise HandposeError(f"DIR takes (B, 3, {S}, {S}) images, got {tuple(image.shape)}.")
        c2, c3, c4 = self.backbone(image)
        with_vertices = self.training
        vec, offset = self.initial(c4)
        last = not self.stages
        est = self.decoder(vec, offset, vertices=with_vertices or last)
        if self.initial_layout is not None:  # the offset does not enter the decoding
            est = replace(est, offset=offset + self.initial_layout(est))
        estimates = [est]
        prev: Tensor = c4
        for k, (stage, skip) in enumerate(zip(self.stages, (c3, c2))):
            fused = stage.fused_map(prev, skip)
            tokens = stage.joint_features(fused, est, S)
            vec, offset = stage.regress(tokens, est)
            last = k == len(self.stages) - 1
            est = self.decoder(vec, offset, vertices=with_vertices or last)
            estimates.append(est)
            projected = stage.projection(tokens, est.joints_uv, fused.shape[-2:])
            prev = stage.enhance(torch.cat([fused, projected], 1))
        seg = dense = None
        if self.segmentation_head is not None:
            seg = self.segmentation_head(prev)
            dense = self.dense_head(prev)
        return estimates, seg, dense

    def forward(self, image: Tensor, K: Tensor | None = None) -> DIROutput:
        S = self.config.image_size
        estimates, seg, dense = self.forward_estimates(image)
        est = estimates[-1]
        params = self.decoder.schema_parameters(est)
        out = DIROutput(
            estimates=estimates,
            segmentation=seg,
            dense=dense,
            image_size=S,
            joints2d=normalised_to_pixels(est.joints_uv, S),
            offset=est.offset * POSITION_UNIT,
            **params,
        )
        if K is not None:
            cam = to_camera_frame(est, K, S)
            out.joints3d, out.vertices, out.mano_transl = (
                cam["joints3d"],
                cam.get("vertices"),
                cam["transl"],
            )
        return out
