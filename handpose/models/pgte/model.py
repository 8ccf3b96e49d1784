"""PGTE: pose-guided temporal enhancement for low-resolution hand mesh recovery.

One frame (:meth:`PGTE.encode`, cached per frame when streaming):

1. the ViT with the two-conv patch embedding (:mod:`.embed`) → a stride-8 token map;
2. a neck (``num_deconv`` transposed convolutions) → the heatmap feature map (2c channels);
3. the initial joint estimate, eq. 1–2 for 21 joints (:class:`~.mesh.JointHeatmapHead`);
4. the six pose-aware tokens (:mod:`.tokens`) from the ViT features sampled at those joints.

A window of T frames (:meth:`PGTE.fuse`): the causal temporal transformer over the 6·T tokens
(:mod:`.temporal`).

Each frame again (:meth:`PGTE.decode`):

5. the pose template splits the fused tokens into per-joint features, which also refine the
   joints' 2.5D positions (a zero-initialised linear offset);
6. coarse vertex positions from the refined joints (a learned V × 21 map initialised from the
   hand model's skinning weights, plus per-vertex offsets);
7. the triplane (:mod:`.triplane`, eq. 4–5) spreads the joint features over the xy, xz, yz
   planes and is sampled at the coarse vertices;
8. per-vertex heatmaps and depth maps → eq. 1–2 → eq. 3 with the crop's K and the root depth
   (:mod:`.mesh`); joints = the hand model's regressor applied to the camera-frame vertices.

**Root depth.** ``root_depth`` (the wrist's absolute depth) is an input when known (evaluation
with the ground-truth root depth, as the baseline estimator does); otherwise it is recovered
from the refined 2.5D joints and the mean wrist → middle-MCP length
(:func:`handpose.geometry.camera.root_depth_from_bone`).

**Handedness.** Per-vertex regression does not depend on the side: vertex k of a left hand is
the mirror of vertex k of the right hand, and the regressor is the same for both (mirrored
models); the network sees the side in the image.

Input: ImageNet-normalised crops (B, T, 3, S, S) (or (B, 3, S, S) for one frame), the crops'
intrinsics K (B, T, 3, 3), optional root depths (B, T). Output: :class:`PGTEOutput`.
Streaming and whole-video inference: :mod:`handpose.models.pgte.stream`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.geometry.camera import project, root_depth_from_bone
from handpose.handmodel import HandModel
from handpose.models.heads import heatmap_to_image, sample_points
from handpose.models.pgte.config import PGTENetConfig
from handpose.models.pgte.embed import build_pgte_vit
from handpose.models.pgte.mesh import (
    JointHeatmapHead,
    VertexHeatmapHead,
    from_normalized,
    openpose_regressor,
    to_normalized,
    vertex_joint_weights,
    vertices_from_uvz,
)
from handpose.models.pgte.stream import FrameFields, WindowStream, window_forward
from handpose.models.pgte.temporal import TemporalFusion
from handpose.models.pgte.tokens import PoseTemplateSplit, PoseTokenizer
from handpose.models.pgte.triplane import TriplaneEncoder

__all__ = ["PGTE", "PGTEOutput", "FrameEncoding", "BONE"]

BONE = (0, 9)  # OpenPose wrist → middle MCP


@dataclass
class FrameEncoding:
    """What :meth:`PGTE.encode` computes once per frame (N frames).

    Attributes:
        fmap: (N, 2c, h, w) heatmap feature map.
        joint_feats: (N, 21, E) ViT features sampled at the initial joints.
        joint_xy: (N, 21, 2) initial joints, heatmap cells.
        joint_z: (N, 21) initial root-relative joint depths, metres (wrist 0).
        tokens: (N, 6, D) pose-aware tokens before temporal fusion.
    """

    fmap: Tensor
    joint_feats: Tensor
    joint_xy: Tensor
    joint_z: Tensor
    tokens: Tensor

    def select(self, index) -> FrameEncoding:
        return FrameEncoding(*(getattr(self, f.name)[index] for f in fields(self)))

    @staticmethod
    def cat(items: list[FrameEncoding]) -> FrameEncoding:
        return FrameEncoding(
            *(torch.cat([getattr(e, f.name) for e in items]) for f in fields(FrameEncoding))
        )


@dataclass
class PGTEOutput(FrameFields):
    """PGTE's prediction (leading dims ``...`` = (B, T), or (B,) for 4D image input).

    Attributes:
        vertices: (..., V, 3) camera frame of the crop's K, metres.
        joints3d: (..., 21, 3) camera frame, OpenPose-21 (regressor applied to ``vertices``).
        joints2d: (..., 21, 2) crop pixels (projection of ``joints3d``).
        vertices2d: (..., V, 2) crop pixels (eq. 1).
        vertex_xy: (..., V, 2) heatmap cells; vertex_z: (..., V) root-relative depth, metres.
        joint_xy_init, joint_z_init: the initial joint estimate (cells, metres).
        joint_xy, joint_z: the joints refined by the fused tokens (cells, metres).
        coarse_xy, coarse_z: the coarse vertices the triplane is sampled at (cells, metres).
        root_depth: (...) the wrist depth used in eq. 3 (given or recovered), metres.
    """

    vertices: Tensor
    joints3d: Tensor
    joints2d: Tensor
    vertices2d: Tensor
    vertex_xy: Tensor
    vertex_z: Tensor
    joint_xy_init: Tensor
    joint_z_init: Tensor
    joint_xy: Tensor
    joint_z: Tensor
    coarse_xy: Tensor
    coarse_z: Tensor
    root_depth: Tensor


def _neck(in_ch: int, channels: int, num_deconv: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    c = in_ch
    for _ in range(num_deconv):
        layers += [
            nn.ConvTranspose2d(c, channels, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        ]
        c = channels
    layers.append(nn.Conv2d(c, channels, 1))
    return nn.Sequential(*layers)


class PGTE(nn.Module):
    """The PGTE network (module docstring). ``config.window == 1`` is the ``single`` variant.

    Args:
        config: :class:`~handpose.models.pgte.config.PGTENetConfig`.
    """

    def __init__(self, config: PGTENetConfig | None = None) -> None:
        super().__init__()
        cfg = config or PGTENetConfig()
        if cfg.image_size % 8:
            raise HandposeError(f"image_size must be a multiple of 8, got {cfg.image_size}.")
        self.config = cfg
        hand = HandModel(cfg.hand_model, side="right")
        self.num_vertices = int(hand.num_vertices)
        # Non-persistent: derived from (possibly licensed) hand model files, rebuilt on load.
        self.register_buffer("regressor", openpose_regressor(hand).float(), persistent=False)
        self.register_buffer("faces", hand.faces.clone(), persistent=False)
        self.half_range = 0.5 * cfg.depth_range
        self.stride = cfg.heatmap_stride
        self.heatmap_size = (cfg.image_size // int(round(self.stride)),) * 2
        c = cfg.head_channels
        self.backbone = build_pgte_vit(
            cfg.image_size, cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.mlp_ratio,
            cfg.stem_channels, cfg.drop_path_rate, cfg.patch_embed, cfg.patch_weights,
        )  # fmt: skip
        self.neck = _neck(cfg.embed_dim, 2 * c, cfg.num_deconv)
        self.joint_head = JointHeatmapHead(2 * c, self.half_range, cfg.temperature)
        self.tokenizer = PoseTokenizer(cfg.embed_dim, cfg.token_dim)
        self.temporal = TemporalFusion(
            cfg.token_dim, cfg.temporal_depth, cfg.temporal_heads, cfg.window, cfg.causal
        )
        self.split = PoseTemplateSplit(cfg.token_dim, cfg.embed_dim, cfg.joint_dim)
        self.refine = nn.Linear(cfg.joint_dim, 3)
        nn.init.zeros_(self.refine.weight)
        nn.init.zeros_(self.refine.bias)
        self.vertex_weights = nn.Parameter(vertex_joint_weights(hand).float())  # (V, 21)
        self.vertex_offsets = nn.Parameter(torch.zeros(self.num_vertices, 3))
        self.triplane = TriplaneEncoder(
            cfg.joint_dim, cfg.plane_size, cfg.plane_spread, cfg.planes, cfg.plane_convs,
            cfg.aggregate,
        )  # fmt: skip
        self.vertex_head = VertexHeatmapHead(
            self.num_vertices, self.triplane.out_dim, c, self.half_range, cfg.prior_sigma,
            cfg.temperature,
        )  # fmt: skip

    @property
    def window(self) -> int:
        return self.config.window

    def stream(self) -> WindowStream:
        """Live inference, one new frame per ``step(image, K)`` (only that frame is encoded;
        :class:`~handpose.models.pgte.stream.WindowStream`): what ``handpose infer video``
        uses for this model (:mod:`handpose.inference.image_model`)."""
        return WindowStream(self)

    # ------------------------------------------------------------------ per frame
    def encode(self, images: Tensor) -> FrameEncoding:
        """Steps 1–4 for (N, 3, S, S) images."""
        S = self.config.image_size
        if not torch.jit.is_tracing() and (
            images.ndim != 4 or tuple(images.shape[1:]) != (3, S, S)
        ):
            raise HandposeError(
                f"PGTE takes crops of shape (N, 3, {S}, {S}), got {tuple(images.shape)}."
            )
        feats = self.backbone(images)  # (N, E, S/8, S/8)
        fmap = self.neck(feats)
        jxy, jz, _ = self.joint_head(fmap)
        uv = heatmap_to_image(jxy, self.stride)
        jf = sample_points(feats, uv, stride=8.0)
        pos = to_normalized(jxy, jz, self.heatmap_size, self.half_range)
        return FrameEncoding(fmap, jf, jxy, jz, self.tokenizer(jf, pos))

    def fuse(self, tokens: Tensor) -> Tensor:
        """Step 5's input: (B, T, 6, D) → (B, T, 6, D) fused causally over the window."""
        return self.temporal(tokens)

    def decode(
        self,
        enc: FrameEncoding,
        fused: Tensor,
        K: Tensor,
        root_depth: Tensor | None = None,
        side: Tensor | None = None,
        vertex_ids: Tensor | None = None,
    ) -> PGTEOutput:
        """Steps 5–8 for N frames: fused tokens (N, 6, D), K (N, 3, 3), root depth (N,).

        ``vertex_ids`` (n,) restricts steps 6–8 to those vertices (training on a random vertex
        subset: each vertex's eq. 1–3 is independent of the others); the vertex fields then
        hold n vertices and ``joints3d`` / ``joints2d`` come from the refined joints instead of
        the regressor (which needs the whole mesh). ``side`` is accepted for interface parity
        with the VIBE-style baseline and unused."""
        size, hr = self.heatmap_size, self.half_range
        jfeat = self.split(fused, enc.joint_feats)  # (N, 21, C)
        pos = to_normalized(enc.joint_xy, enc.joint_z, size, hr) + self.refine(jfeat)
        weights, offsets = self.vertex_weights, self.vertex_offsets
        if vertex_ids is not None:
            weights, offsets = weights[vertex_ids], offsets[vertex_ids]
        coarse = torch.einsum("vj,njk->nvk", weights, pos) + offsets
        vfeat = self.triplane(jfeat, pos, coarse)
        cxy, cz = from_normalized(coarse, size, hr)
        vxy, vz = self.vertex_head(vfeat, enc.fmap, cxy, cz, vertex_ids)
        jxy, jz = from_normalized(pos, size, hr)
        jz = jz - jz[:, :1]
        K = K.to(vxy.dtype)
        juv = heatmap_to_image(jxy, self.stride)
        if root_depth is None:
            root_depth = root_depth_from_bone(juv, jz, K, self.config.bone_length, BONE)
        else:
            root_depth = root_depth.to(vxy.dtype).reshape(-1)
        vuv = heatmap_to_image(vxy, self.stride)
        verts = vertices_from_uvz(vuv, vz, root_depth, K)
        if vertex_ids is None:
            joints = self.regressor.to(verts.dtype) @ verts
        else:
            joints = vertices_from_uvz(juv, jz, root_depth, K)
        return PGTEOutput(
            vertices=verts,
            joints3d=joints,
            joints2d=project(joints, K),
            vertices2d=vuv,
            vertex_xy=vxy,
            vertex_z=vz,
            joint_xy_init=enc.joint_xy,
            joint_z_init=enc.joint_z,
            joint_xy=jxy,
            joint_z=jz,
            coarse_xy=cxy,
            coarse_z=cz,
            root_depth=root_depth,
        )

    # ------------------------------------------------------------------ windows
    def forward(
        self,
        images: Tensor,
        K: Tensor,
        root_depth: Tensor | None = None,
        side: Tensor | None = None,
        vertex_ids: Tensor | None = None,
    ) -> PGTEOutput:
        """A batch of windows (B, T, 3, S, S) with K (B, T, 3, 3) and optional root depths
        (B, T) → :class:`PGTEOutput` with (B, T, ...) fields; frame t uses frames ≤ t of its
        window. 4D input (B, 3, S, S) with K (B, 3, 3) is one frame per sample.
        ``vertex_ids``: see :meth:`decode`."""
        return window_forward(self, images, K, root_depth, side, vertex_ids=vertex_ids)
