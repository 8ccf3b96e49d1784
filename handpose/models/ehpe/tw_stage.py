"""The TIP and Wrist joints extraction stage (TW-stage, EHPE §3.2).

Data flow for an input of H × W pixels (``s`` = ``feature_stride``, ``h/4`` = the heatmaps at
stride ``heatmap_stride`` = 4)::

    image (B, 3, H, W) ─ backbone ─→ F (B, C_b, H/s, W/s)                      [PG-stage input]
    F ─ 1×1 conv, BN, ReLU ─ bilinear ×(s/4) ─→ X (B, C, H/4, W/4)
    X ─ stacked hourglass ─→ 2D heatmaps (B, J, H/4, W/4) per stack              [L_H, eq. 3]
    [X ‖ last 2D heatmap] ─ refinement module ─→ F_p (B, C, H/4, W/4)             [FEM tokens]
    F_p ─ 1×1 conv ─→ (B, J·d, H/4, W/4) ─ reshape ─→ 2.5D heatmap (B, J, d, H/4, W/4)
    ─ soft-argmax (eq. 2) ─→ (x, y, z_bin) (B, J, 3)                              [L_ED, eq. 4]

``J`` is the number of TW joints (config ``tw_joints``; 6 for the paper's W+T). Coordinates are
in heatmap cells (cell centres at integers, :mod:`handpose.models.heads.heatmaps`) and depth
bins (d = 8 bins over ``depth_range`` metres about the wrist), the units of eq. 4.

The hourglass reads the backbone's features, not the image (the paper's Figure 2 draws the
image going into the hourglass; the text of §3.1 "an Hourglass network associating the
features extracted by a pre-trained backbone" and the public code use the features).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from handpose.models.backbones import Backbone
from handpose.models.ehpe.config import TWConfig
from handpose.models.ehpe.hourglass import RefinementModule, StackedHourglass
from handpose.models.heads import soft_argmax_25d

__all__ = ["TWOutput", "TWStage"]


@dataclass
class TWOutput:
    """What the TW-stage returns (B = batch, J = TW joints).

    Attributes:
        features: (B, C_b, H/s, W/s) the backbone map F (the PG-stage samples it).
        heatmaps: per hourglass stack, (B, J, H/4, W/4) 2D heatmap logits (eq. 3's H_pred).
        latent: (B, C, H/4, W/4) the refinement module's output F_p.
        volume: (B, J, d, H/4, W/4) 2.5D heatmap logits.
        coords: (B, J, 3) soft-argmax (x, y) in heatmap cells and z in depth bins (eq. 2).
    """

    features: Tensor
    heatmaps: list[Tensor]
    latent: Tensor
    volume: Tensor
    coords: Tensor


class TWStage(nn.Module):
    """Backbone → hourglass → refinement → 2.5D heatmap → soft-argmax.

    Args:
        backbone: a :class:`~handpose.models.backbones.Backbone` returning one level, at
            ``config.feature_stride``.
        num_joints: J, the TW joints.
        config: :class:`~handpose.models.ehpe.config.TWConfig`.
    """

    def __init__(self, backbone: Backbone, num_joints: int, config: TWConfig) -> None:
        super().__init__()
        self.config = config
        self.num_joints = int(num_joints)
        self.backbone = backbone
        c_b = self.backbone.channels[0]
        c = config.channels
        self.project = nn.Sequential(
            nn.Conv2d(c_b, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)
        )
        self.hourglass = StackedHourglass(c, self.num_joints, config.stacks, config.depth)
        self.refine = RefinementModule(c + self.num_joints, c, config.refine_levels)
        self.to_volume = nn.Conv2d(c, self.num_joints * config.depth_bins, 1)
        nn.init.normal_(self.to_volume.weight, std=0.001)
        nn.init.zeros_(self.to_volume.bias)

    @property
    def feature_channels(self) -> int:
        return self.backbone.channels[0]

    def forward(self, image: Tensor) -> TWOutput:
        """image (B, 3, H, W), ImageNet-normalised; H, W multiples of the strides."""
        feats = self.backbone(image)[0]
        hs = self.config.heatmap_stride
        size = (image.shape[-2] // hs, image.shape[-1] // hs)
        x = F.interpolate(self.project(feats), size=size, mode="bilinear", align_corners=False)
        heatmaps, _ = self.hourglass(x)
        latent = self.refine(x, heatmaps[-1])
        maps = self.to_volume(latent)
        volume = maps.reshape(-1, self.num_joints, self.config.depth_bins, *maps.shape[-2:])
        coords = soft_argmax_25d(volume, self.config.temperature)
        return TWOutput(feats, heatmaps, latent, volume, coords)
