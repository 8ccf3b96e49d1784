"""The VIBE-style baseline of the supplement's Tables 2–3 ("VIBE + LR ViT").

VIBE (Kocabas et al., CVPR 2020) encodes each frame with a CNN, runs a temporal encoder — a
2-layer unidirectional GRU (hidden 1024) whose output goes through a linear layer back to the
feature width and is added to the input (residual) — and regresses SMPL parameters per frame
with HMR's regressor; an adversarial motion discriminator trained on AMASS keeps the motion
plausible. The paper compares against VIBE run on low-resolution crops with a ViT encoder.

Here: the same conv-embedded ViT as PGTE (:mod:`.embed`) on the upsampled low-resolution
crop, average-pooled (or, ``pool: flatten``, reduced per token and flattened) and projected to
``feature_dim``; the GRU temporal encoder with VIBE's residual; the MANO parameter head
(:class:`handpose.models.heads.ManoParameterHead`: 6D rotations, shape, weak-perspective crop
camera) on the hand model, with HMR's iterative error feedback (``regressor_iterations``, 3
as in VIBE). The motion discriminator is left out: there is no hand motion-capture prior to
train it on.

**Left hands.** The head drives the right-hand model; a left hand is output as its mirror
image (x ↦ −x in the model frame before the camera), which is exactly a left hand of the
mirrored model with the mirrored pose (the open model's left hand is the mirror of the right;
for MANO up to its left-shape convention). The side is an input (``side`` (N,), 1 = left),
as it is for any single-hand estimator fed by a hand detector.

**Camera frame.** With the crop's K: the wrist lands at the weak camera's projection, lifted
to ``root_depth`` when it is given (evaluation with the ground-truth root depth, as PGTE);
otherwise the full translation comes from :func:`handpose.geometry.camera.cam_crop_to_full`.

The windowed interface (``encode`` / ``fuse`` / ``decode``) is PGTE's, so the same streaming
and whole-video code runs both (:mod:`.stream`); the GRU restarts at each window start, so
streaming equals the offline window computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.geometry.camera import backproject, cam_crop_to_full, crop_to_image
from handpose.handmodel import HandModel
from handpose.models.heads import ManoParameterHead
from handpose.models.pgte.config import VibeNetConfig
from handpose.models.pgte.embed import build_pgte_vit
from handpose.models.pgte.stream import FrameFields, WindowStream, window_forward

__all__ = ["VibeBaseline", "VibeEncoding", "VibeOutput"]


@dataclass
class VibeEncoding:
    """Per-frame features: ``tokens`` (N, feature_dim) (named like PGTE's for the streaming
    code)."""

    tokens: Tensor

    def select(self, index) -> VibeEncoding:
        return VibeEncoding(self.tokens[index])

    @staticmethod
    def cat(items: list[VibeEncoding]) -> VibeEncoding:
        return VibeEncoding(torch.cat([e.tokens for e in items]))


@dataclass
class VibeOutput(FrameFields):
    """The baseline's prediction (leading dims ``...`` = (B, T) or (B,)).

    Attributes:
        vertices, joints3d: (..., V, 3), (..., 21, 3) camera frame of the crop's K, metres.
        joints2d: (..., 21, 2) crop pixels (weak-perspective projection).
        vertices_rel, joints_rel: the same minus the wrist (metres).
        camera: (..., 3) weak-perspective (s, t_x, t_y) of the (mirrored) model-frame hand.
        root_depth: (...) the wrist depth, metres (given or from the camera).
    """

    vertices: Tensor
    joints3d: Tensor
    joints2d: Tensor
    vertices_rel: Tensor
    joints_rel: Tensor
    camera: Tensor
    root_depth: Tensor


class VibeBaseline(nn.Module):
    """ViT per frame → GRU over the window → MANO regressor (module docstring).

    Args:
        config: :class:`~handpose.models.pgte.config.VibeNetConfig`.
    """

    # Without ``side`` the head drives the right-hand model: generic image / video inference
    # (which passes no side) mirrors left hands' crops and mirrors the prediction back
    # (handpose.inference.image_model).
    input_sides = "right"

    def __init__(self, config: VibeNetConfig | None = None) -> None:
        super().__init__()
        cfg = config or VibeNetConfig()
        if cfg.image_size % 8:
            raise HandposeError(f"image_size must be a multiple of 8, got {cfg.image_size}.")
        self.config = cfg
        self.backbone = build_pgte_vit(
            cfg.image_size, cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.mlp_ratio,
            cfg.stem_channels, cfg.drop_path_rate, cfg.patch_embed, cfg.patch_weights,
        )  # fmt: skip
        if cfg.pool == "mean":
            self.pool = None
            self.project = nn.Sequential(
                nn.LayerNorm(cfg.embed_dim), nn.Linear(cfg.embed_dim, cfg.feature_dim)
            )
        else:  # flatten: 1×1 conv per token, then the whole (pool_channels, g, g) map
            g = cfg.image_size // 8
            self.pool = nn.Sequential(
                nn.Conv2d(cfg.embed_dim, cfg.pool_channels, 1),
                nn.BatchNorm2d(cfg.pool_channels),
                nn.ReLU(inplace=True),
            )
            self.project = nn.Sequential(
                nn.Flatten(1), nn.Linear(cfg.pool_channels * g * g, cfg.feature_dim)
            )
        self.gru = nn.GRU(cfg.feature_dim, cfg.gru_hidden, cfg.gru_layers, batch_first=True)
        self.gru_out = nn.Linear(cfg.gru_hidden, cfg.feature_dim)
        self.head = ManoParameterHead(
            cfg.feature_dim,
            HandModel(cfg.hand_model, side="right"),
            hidden=(cfg.regressor_hidden,),
            predict_camera=True,
            iterations=cfg.regressor_iterations,
        )
        self.num_vertices = int(self.head.hand_model.num_vertices)

    @property
    def window(self) -> int:
        return self.config.window

    def stream(self) -> WindowStream:
        """Live inference, one new frame per ``step(image, K)`` (only that frame is encoded;
        :class:`~handpose.models.pgte.stream.WindowStream`): what ``handpose infer video``
        uses for this model (:mod:`handpose.inference.image_model`)."""
        return WindowStream(self)

    @property
    def faces(self) -> Tensor:
        return self.head.hand_model.faces

    def encode(self, images: Tensor) -> VibeEncoding:
        """(N, 3, S, S) → pooled per-frame features."""
        S = self.config.image_size
        if not torch.jit.is_tracing() and (
            images.ndim != 4 or tuple(images.shape[1:]) != (3, S, S)
        ):
            raise HandposeError(
                f"the VIBE baseline takes crops of shape (N, 3, {S}, {S}), got {tuple(images.shape)}."
            )
        fmap = self.backbone(images)  # (N, C, S/8, S/8)
        pooled = fmap.mean((-2, -1)) if self.pool is None else self.pool(fmap)
        return VibeEncoding(self.project(pooled))

    def fuse(self, tokens: Tensor) -> Tensor:
        """(B, T, F) → (B, T, F): GRU from a zero state at the window start, linear, residual."""
        y, _ = self.gru(tokens)
        return tokens + self.gru_out(y)

    def decode(
        self,
        enc: VibeEncoding,
        fused: Tensor,
        K: Tensor,
        root_depth: Tensor | None = None,
        side: Tensor | None = None,
    ) -> VibeOutput:
        """Fused features (N, F), K (N, 3, 3), root depth (N,), side (N,) (1 = left)."""
        S = float(self.config.image_size)
        mano = self.head(fused)
        n = fused.shape[0]
        sign = torch.ones(n, dtype=fused.dtype, device=fused.device)
        if side is not None:
            sign = 1.0 - 2.0 * side.reshape(-1).to(fused.dtype)
        mirror = torch.stack([sign, torch.ones_like(sign), torch.ones_like(sign)], dim=-1)[:, None]
        joints_m = mano.joints21 * mirror  # (N, 21, 3) model frame, mirrored
        verts_m = mano.vertices * mirror
        cam = mano.camera
        p = cam[:, None, :1] * (joints_m[..., :2] + cam[:, None, 1:])
        centre = fused.new_full((n, 2), (S - 1.0) / 2.0)
        size = fused.new_full((n,), S)
        joints2d = crop_to_image(p, centre, size)
        K = K.to(fused.dtype)
        wrist = joints_m[:, :1]
        if root_depth is None:
            transl = cam_crop_to_full(cam, centre, size, K)  # (N, 3)
            wrist_cam = wrist + transl[:, None]
        else:
            wrist_cam = backproject(joints2d[:, :1], root_depth.reshape(-1, 1).to(fused.dtype), K)
        j_rel, v_rel = joints_m - wrist, verts_m - wrist
        return VibeOutput(
            vertices=v_rel + wrist_cam,
            joints3d=j_rel + wrist_cam,
            joints2d=joints2d,
            vertices_rel=v_rel,
            joints_rel=j_rel,
            camera=cam,
            root_depth=wrist_cam[:, 0, 2],
        )

    def forward(
        self,
        images: Tensor,
        K: Tensor,
        root_depth: Tensor | None = None,
        side: Tensor | None = None,
    ) -> VibeOutput:
        """Windows (B, T, 3, S, S), K (B, T, 3, 3), root depth (B, T), side (B,) or (B, T) →
        (B, T, ...) fields; 4D input is one frame per sample."""
        return window_forward(self, images, K, root_depth, side)
