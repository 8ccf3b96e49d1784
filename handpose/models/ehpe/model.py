"""The EHPE network: TW-stage + PG-stage, and the lift of its 2.5D joints to the camera frame.

``EHPE(config)(image)`` returns an :class:`EHPEOutput` with the 21 joints in the 2.5D space of
the TW-stage (heatmap cells, depth bins), in input pixels ``uv`` and in wrist-relative depth
``z_rel`` (metres). :func:`lift_to_camera` (or ``EHPE.joints3d``) makes camera-frame joints
from them with the crop's intrinsics K: the wrist's absolute depth is the one at which the
wrist → middle-MCP bone has the model's ``bone_length`` (:func:`handpose.geometry.camera.
root_depth_from_bone`; ``bone_length`` of the config, the open hand model's mean shape). PA-MPJPE and the
InterHand2.6M protocol align scale anyway; this only fixes the perspective.

Variants (all from :class:`~handpose.models.ehpe.config.EHPENetConfig`): ``tw_joints`` (Table 4),
``pg.enabled = false`` (TW only), ``tw_joints = ""`` (PG only: the backbone feeds the PG-stage
directly), ``pg.spi`` / ``pg.fem`` (Table 5), ``pg.edge_weights`` / ``pg.gat_layers`` (Table 6).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.geometry.camera import root_depth_from_bone, uvz_to_xyz
from handpose.models.backbones import create_backbone
from handpose.models.ehpe.config import NUM_JOINTS, EHPENetConfig
from handpose.models.ehpe.pg_stage import PGOutput, PGStage
from handpose.models.ehpe.tw_stage import TWOutput, TWStage
from handpose.models.heads import bins_to_depth, heatmap_to_image

__all__ = ["EHPEOutput", "EHPE", "lift_to_camera"]

WRIST, MIDDLE_MCP = 0, 9


@dataclass
class EHPEOutput:
    """EHPE's prediction (B = batch).

    Attributes:
        joints: (B, 21, 3) OpenPose-21 joints as (x, y) heatmap cells and z depth bins.
        uv: (B, 21, 2) input-image pixels (centres at integers).
        z_rel: (B, 21) depth relative to the wrist, metres.
        tw: the TW-stage's output (None for "PG only").
        pg: the PG-stage's output (None for "TW only").
    """

    joints: Tensor
    uv: Tensor
    z_rel: Tensor
    tw: TWOutput | None
    pg: PGOutput | None


def lift_to_camera(uv: Tensor, z_rel: Tensor, K: Tensor, bone_length: Tensor | float) -> Tensor:
    """2.5D joints → camera frame with the wrist depth from the wrist → middle-MCP length.

    Args:
        uv: (..., 21, 2) pixels of the image K belongs to.
        z_rel: (..., 21) wrist-relative depth, metres.
        K: (..., 3, 3) intrinsics.
        bone_length: metres.
    Returns:
        (..., 21, 3) metres, camera frame.
    """
    z_root = root_depth_from_bone(uv, z_rel, K, bone_length, bone=(WRIST, MIDDLE_MCP))
    return uvz_to_xyz(uv, z_rel, z_root, K)


class EHPE(nn.Module):
    """The whole network (module docstring).

    Args:
        config: an :class:`EHPENetConfig` or its mapping (a preset's ``model:`` section).
        input_size: the square input side S in pixels (a multiple of both strides).
        with_pg: build the PG-stage (False: the TW-stage alone, the first training stage's
            model; its forward needs the TW-stage to hold all 21 joints).
    """

    def __init__(
        self,
        config: EHPENetConfig | Mapping[str, Any],
        input_size: int = 256,
        with_pg: bool = True,
    ) -> None:
        super().__init__()
        cfg = config if isinstance(config, EHPENetConfig) else EHPENetConfig.from_dict(config)
        cfg.check_input_size(input_size)
        self.config = cfg
        self.input_size = int(input_size)
        tw_idx = cfg.tw_indices
        self.tw_joints = tw_idx
        backbone = create_backbone(
            cfg.backbone,
            weights=cfg.weights,
            strides=(cfg.tw.feature_stride,),
            drop_path_rate=cfg.drop_path_rate,
            img_size=self.input_size,
        )
        if tw_idx:
            self.tw: TWStage | None = TWStage(backbone, len(tw_idx), cfg.tw)
            self.backbone = None
            feat_c = self.tw.feature_channels
        else:
            self.tw = None
            self.backbone = backbone
            feat_c = backbone.channels[0]
        self.pg: PGStage | None = None
        if cfg.pg.enabled and (with_pg or not tw_idx):
            self.pg = PGStage(
                cfg.pg,
                tw_idx,
                feat_c,
                cfg.tw.channels,
                cfg.tw.feature_stride,
                cfg.tw.heatmap_stride,
                cfg.tw.depth_bins,
            )
        order = torch.tensor(tw_idx, dtype=torch.long)
        self.register_buffer("tw_order", torch.argsort(order), persistent=False)

    # ------------------------------------------------------------------ stages
    def stage_modules(self, stage: str) -> list[nn.Module]:
        """The modules a training stage updates: "tw" (backbone + TW-stage) or "pg"."""
        if stage == "tw":
            return [m for m in (self.tw,) if m is not None]
        if stage == "pg":
            return [m for m in (self.backbone, self.pg) if m is not None]
        raise ValueError(f"unknown stage {stage!r}")

    def features(self, image: Tensor) -> tuple[Tensor, TWOutput | None]:
        """The frozen part's outputs: the backbone map F and the TW-stage output."""
        if self.tw is not None:
            tw = self.tw(image)
            return tw.features, tw
        return self.backbone(image)[0], None

    def head(
        self,
        features: Tensor,
        tw_coords: Tensor | None,
        latent: Tensor | None,
        image_size: tuple[int, int],
    ) -> EHPEOutput:
        """The PG-stage (if any) from the TW-stage's outputs (cached or fresh)."""
        hs = self.config.tw.heatmap_stride
        hm_size = (image_size[0] // hs, image_size[1] // hs)
        pg = None
        if self.pg is not None:
            pg = self.pg(features, tw_coords, latent, hm_size)
            joints = pg.joints
        elif len(self.tw_joints) == NUM_JOINTS:  # TW only: the TW-stage holds all 21 joints
            joints = tw_coords.index_select(1, self.tw_order)
        else:
            raise HandposeError(
                f"this EHPE holds only its TW-stage (joints {self.config.tw_joints}); the other "
                "joints need the PG-stage: use the checkpoint of the 'pg' training stage."
            )
        return self._finish(joints, None, pg)

    def _finish(self, joints: Tensor, tw: TWOutput | None, pg: PGOutput | None) -> EHPEOutput:
        t = self.config.tw
        uv = heatmap_to_image(joints[..., :2], t.heatmap_stride)
        z = bins_to_depth(joints[..., 2], t.depth_bins, t.depth_range)
        return EHPEOutput(joints=joints, uv=uv, z_rel=z - z[..., :1], tw=tw, pg=pg)

    def forward(self, image: Tensor) -> EHPEOutput:
        """image (B, 3, H, W), ImageNet-normalised, H and W multiples of the strides."""
        feats, tw = self.features(image)
        out = self.head(
            feats,
            None if tw is None else tw.coords,
            None if tw is None else tw.latent,
            (image.shape[-2], image.shape[-1]),
        )
        out.tw = tw
        return out

    def joints3d(self, out: EHPEOutput, K: Tensor) -> Tensor:
        """(B, 21, 3) camera-frame joints (metres) of ``out`` for crops with intrinsics K."""
        return lift_to_camera(out.uv, out.z_rel, K.to(out.uv.dtype), self.config.bone_length)
