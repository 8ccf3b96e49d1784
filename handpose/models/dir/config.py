"""DIR's network configuration (the ``model:`` section of a DIR config; YAML data)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handpose.errors import HandposeError

__all__ = ["DIRConfig"]


@dataclass(frozen=True)
class DIRConfig:
    """Sizes and switches of :class:`~handpose.models.dir.network.DIRNetwork`.

    Defaults are DIR's (ICCV 2023; ../shared/reference/vision_methods.md §2.3 and the
    supplement §1): ResNet-50 at 256×256, two refinement stages at strides 16 and 8
    (16×16 and 32×32), 256-channel fused maps, a 4-layer 128-channel SemGCN per hand, a
    4-layer inter-hand transformer (4 heads, MLP ratio 2) to 64-channel joint features, bone
    projection within 1 and 2 cells.

    Attributes:
        backbone: registry name (:func:`handpose.models.backbones.create_backbone`); it must
            have levels at strides 8, 16 and 32.
        backbone_weights: local pretrained weights (None: from scratch).
        image_size: input side S (square crops).
        num_stages: refinement stages, 0 (the "basic model": initial regression only), 1 or 2.
        fused_channels: channels of the fused / enhanced visual maps (256).
        joint_channels: joint feature width in the GCN and the transformer (128).
        joint_out_channels: transformer output width = per-bone channels of the projection (64).
        gcn_layers, transformer_depth, transformer_heads, mlp_ratio: as named.
        projection_thresholds: bone projection radius in cells, per stage.
        attention_pooling: per-hand spatial-attention pooling in the initial regression
            (False: global average pooling shared by both hands; supplement Table 2 "w/o Attn").
        position_pooling: ours, not DIR's. Each hand's attention-pooled features also carry the
            centroid of its attention map (normalised crop coordinates): where the hand is.
            An average pool keeps little of that, and the weak-perspective camera's translation
            and the offset need it. Tested only together with ``offset_layout``: no measurable
            effect after 3 or 6 cpu-small epochs (one seed each; docs/results/dir_offset.md).
            False: DIR's pooling.
        offset_layout: ours, not DIR's. Every relative-offset estimate (the initial one and
            each stage's) adds an MLP of the estimate's 2D layout: both hands' projected joints
            and weak-perspective cameras (detached), which is where the two hands are in the
            crop and how large. DIR's offset reads globally pooled c4 features (and, in the
            stages, joint tokens without their 2D positions); on the ``twohand`` data that head
            predicts the zero offset after 3 epochs (docs/results/dir_offset.md: the model's
            2D layout is the limit, and this option did not change that). False: DIR's heads
            alone.
        heads: segmentation and dense-correspondence heads after the last stage.
        hand_model: "open", "mano" or a model file.
        num_pca: finger-pose PCA components (45).
        camera_init: initial weak-perspective camera (s, t_x, t_y).
    """

    backbone: str = "resnet50"
    backbone_weights: str | None = None
    image_size: int = 256
    num_stages: int = 2
    fused_channels: int = 256
    joint_channels: int = 128
    joint_out_channels: int = 64
    gcn_layers: int = 4
    transformer_depth: int = 4
    transformer_heads: int = 4
    mlp_ratio: float = 2.0
    projection_thresholds: tuple[float, ...] = (1.0, 2.0)
    attention_pooling: bool = True
    position_pooling: bool = False
    offset_layout: bool = False
    heads: bool = True
    hand_model: str = "open"
    num_pca: int = 45
    camera_init: tuple[float, float, float] = (5.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if self.num_stages not in (0, 1, 2):
            raise HandposeError(f"model.num_stages must be 0, 1 or 2, got {self.num_stages}.")
        if len(self.projection_thresholds) < self.num_stages:
            raise HandposeError(
                f"model.projection_thresholds needs one radius per stage ({self.num_stages}), "
                f"got {list(self.projection_thresholds)}."
            )
        if self.image_size < 32 or self.image_size % 32:
            raise HandposeError(
                f"model.image_size must be a multiple of 32 (≥ 32), got {self.image_size}."
            )
        if self.joint_channels % self.transformer_heads:
            raise HandposeError(
                f"model.joint_channels ({self.joint_channels}) must be divisible by "
                f"model.transformer_heads ({self.transformer_heads})."
            )
        for name in ("fused_channels", "joint_channels", "joint_out_channels", "num_pca"):
            if getattr(self, name) < 1:
                raise HandposeError(f"model.{name} must be ≥ 1, got {getattr(self, name)}.")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> DIRConfig:
        """Build from a mapping; unknown keys raise naming the key."""
        data = dict(data or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise HandposeError(
                f"unknown DIR model option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}."
            )
        for key in ("projection_thresholds", "camera_init"):
            if key in data and data[key] is not None:
                data[key] = tuple(float(v) for v in data[key])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
