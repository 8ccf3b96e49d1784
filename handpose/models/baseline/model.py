"""The image baseline: a backbone, a 2.5D heatmap head and soft-argmax for all 21 joints.

This is the "TW-stage only" design of EHPE's Table 3 (../shared/papers/003, §3.1, eq. 2) applied
to every joint: one feature level of a registry backbone
(:mod:`handpose.models.backbones`) → the SimpleBaseline deconvolution head
(:class:`handpose.models.heads.HeatmapHead25D`) → a (B, 21, D, h, w) volume → soft-argmax →
per joint its pixel position (u, v) in the input crop and its depth z relative to the wrist.

**Depth bins.** D bins span ``[−R/2, R/2]`` metres about the wrist (``depth_range = R``;
EHPE: D = 8, R = 0.2 m, i.e. ±100 mm, 25 mm per bin; the soft-argmax interpolates between bin
centres, see :mod:`handpose.models.heads.heatmaps`). The output depths are re-referenced to the
predicted wrist (``z_rel = z − z_wrist``), so the wrist is exactly 0.

**Camera frame.** With the crop intrinsics K and the wrist's absolute depth ``z_root`` every
joint is back-projected, ``X = (z_rel + z_root)·K⁻¹(u, v, 1)ᵀ``
(:func:`handpose.geometry.camera.uvz_to_xyz`). ``z_root`` is an input when known (evaluation
with the ground-truth root depth, which FreiHAND-style Procrustes-aligned metrics allow: the
alignment removes translation and scale); otherwise it is recovered from the 2.5D joints and the
mean length of the wrist → middle-MCP bone (``bone_length``, 0.0898 m for the open hand model's
mean shape) with :func:`handpose.geometry.camera.root_depth_from_bone` (Iqbal et al. 2018).

**Meshes.** The network predicts joints only. Meshes for PA-MPVPE and F-scores are fitted to
the predicted camera-frame joints with :func:`handpose.handmodel.fitting.fit_to_joints`
(``handpose eval`` does this; see :mod:`handpose.reports.image_eval`).

**Handedness.** The network predicts the 21 joints of the one hand in the crop, whichever side
it is (the 2.5D representation does not depend on handedness; training data mixes both sides
and the flip augmentation turns one into the other). The side is needed only for mesh fitting.

Input: ImageNet-normalised images (B, 3, S, S) and K (B, 3, 3); float32 or float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.geometry.camera import root_depth_from_bone, uvz_to_xyz
from handpose.models.backbones import create_backbone
from handpose.models.heads import HeatmapHead25D

__all__ = ["BaselineNetConfig", "BaselineOutput", "BaselineEstimator", "WRIST", "BONE"]

WRIST = 0
BONE = (0, 9)  # OpenPose wrist → middle MCP, for the root depth from a known bone length


@dataclass(frozen=True)
class BaselineNetConfig:
    """The network (the ``model:`` section of a baseline config).

    Attributes:
        backbone: a registry name (:func:`handpose.models.backbones.list_backbones`).
        weights: local pretrained backbone weights (file, or "imagenet" where installed);
            None trains from scratch.
        level: stride of the backbone level the head reads (e.g. 32 for ResNet's last stage).
        drop_path_rate: backbone stochastic depth.
        num_deconv: 2× deconvolutions of the head (output stride = level / 2**num_deconv).
        hidden: channels of the deconvolutions.
        depth_bins: D.
        depth_range: R, metres covered by the bins about the wrist.
        temperature: soft-argmax temperature (1 = EHPE's β = 1).
        bone_length: wrist → middle-MCP length (m) for the root depth when none is given.
    """

    backbone: str = "resnet50"
    weights: str | None = None
    level: int = 32
    drop_path_rate: float = 0.0
    num_deconv: int = 3
    hidden: int = 256
    depth_bins: int = 8
    depth_range: float = 0.2
    temperature: float = 1.0
    bone_length: float = 0.0898

    def __post_init__(self) -> None:
        if self.level < 1 or self.num_deconv < 0 or self.hidden < 1 or self.depth_bins < 1:
            raise ValueError("level, hidden and depth_bins must be ≥ 1 and num_deconv ≥ 0")
        if self.depth_range <= 0 or self.temperature <= 0 or self.bone_length <= 0:
            raise ValueError("depth_range, temperature and bone_length must be > 0")


@dataclass
class BaselineOutput:
    """What :class:`BaselineEstimator` returns (B = batch, J = 21, OpenPose order).

    Attributes:
        joints3d: (B, J, 3) camera frame of the crop's K, metres.
        joints2d: (B, J, 2) pixels in the input crop (u right, v down, centres at integers).
        z_rel: (B, J) depth relative to the wrist, metres (0 at the wrist).
        root_depth: (B,) the wrist's absolute depth used for ``joints3d`` (given or recovered).
        heatmap_xyz: (B, J, 3) soft-argmax in heatmap cells (x, y) and depth bins (z), the
            coordinates the training loss compares.
        vertices: None (the network predicts no mesh; see the module docstring).
    """

    joints3d: Tensor
    joints2d: Tensor
    z_rel: Tensor
    root_depth: Tensor
    heatmap_xyz: Tensor
    vertices: Tensor | None = None


class BaselineEstimator(nn.Module):
    """Backbone → 2.5D heatmap head → soft-argmax → camera-frame joints (module docstring).

    Args:
        config: :class:`BaselineNetConfig`.
        image_size: input side S (fixes the ViT's position grid; any S divisible by ``level``
            works for the CNNs).
    """

    def __init__(self, config: BaselineNetConfig | None = None, image_size: int = 256) -> None:
        super().__init__()
        cfg = config or BaselineNetConfig()
        self.config = cfg
        self.image_size = int(image_size)
        self.backbone = create_backbone(
            cfg.backbone,
            weights=cfg.weights,
            strides=(cfg.level,),
            drop_path_rate=cfg.drop_path_rate,
            img_size=self.image_size,
        )
        self.head = HeatmapHead25D(
            self.backbone.channels[-1],
            21,
            in_stride=cfg.level,
            num_deconv=cfg.num_deconv,
            hidden=cfg.hidden,
            temperature=cfg.temperature,
            depth_bins=cfg.depth_bins,
            depth_range=cfg.depth_range,
        )

    @property
    def heatmap_stride(self) -> float:
        """Input pixels per heatmap cell."""
        return self.head.out_stride

    def forward(self, images: Tensor, K: Tensor, root_depth: Tensor | None = None):
        """(B, 3, S, S) normalised images, K (B, 3, 3), optional wrist depth (B,) metres →
        :class:`BaselineOutput`."""
        return self.forward_heatmaps(images, K, root_depth)[0]

    def forward_heatmaps(self, images: Tensor, K: Tensor, root_depth: Tensor | None = None):
        """Like :meth:`forward`, also returning the head's
        :class:`~handpose.models.heads.HeatmapOutput` (volume logits)."""
        if not isinstance(K, Tensor) or K.shape[-2:] != (3, 3) or K.shape[0] != images.shape[0]:
            shape = tuple(K.shape) if isinstance(K, Tensor) else type(K).__name__
            raise HandposeError(f"K must have shape (B, 3, 3) matching the images, got {shape}.")
        feats = self.backbone(images)[-1]
        hm = self.head(feats)
        uv = hm.uv
        z_rel = hm.z - hm.z[:, WRIST : WRIST + 1]
        K = K.to(uv.dtype)
        if root_depth is None:
            root_depth = root_depth_from_bone(uv, z_rel, K, self.config.bone_length, BONE)
        else:
            root_depth = root_depth.to(uv.dtype).reshape(-1)
        joints3d = uvz_to_xyz(uv, z_rel, root_depth, K)
        xyz = torch.cat([hm.xy, hm.z_bin[..., None]], dim=-1)
        out = BaselineOutput(
            joints3d=joints3d, joints2d=uv, z_rel=z_rel, root_depth=root_depth, heatmap_xyz=xyz
        )
        return out, hm
