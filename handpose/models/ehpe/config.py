"""EHPE's configuration: joint allocations (Table 4), the two stages' sizes and the variants
of Tables 3, 5 and 6 as data.

A config is YAML data: :meth:`EHPENetConfig.from_dict` builds it from the ``model:`` section of
a preset (unknown keys and bad values raise one HandposeError naming the key) and
:meth:`EHPENetConfig.to_dict` writes it back. The dataclasses are frozen and validate in
``__post_init__`` (ValueError), as the training harness's config sections do.

**Joint allocation.** Which joints the TW-stage estimates is a list of OpenPose-21 joint groups
(``tw_joints``), letters as in the paper's Table 4: ``W`` wrist, ``T`` tips, ``D`` DIPs, ``P``
PIPs, ``M`` MCPs (for the thumb OpenPose's mcp/pip/dip stand for CMC/MCP/IP). The PG-stage
estimates the others. :data:`ALLOCATIONS` lists Table 4's eight rows; the paper's choice is
``W+T``. ``tw_joints: none`` is Table 3's "PG only" (no TW-stage) and all five groups with
``pg.enabled = false`` is "TW only".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from handpose.errors import HandposeError
from handpose.handmodel.conventions import OPENPOSE_JOINT_GROUPS

__all__ = [
    "GROUP_LETTERS",
    "ALLOCATIONS",
    "PAPER_ALLOCATION",
    "allocation_joints",
    "parse_allocation",
    "allocation_name",
    "TWConfig",
    "PGConfig",
    "EHPENetConfig",
]

NUM_JOINTS = 21
# Table 4's letters → OpenPose-21 groups.
GROUP_LETTERS: dict[str, str] = {"W": "wrist", "T": "tip", "D": "dip", "P": "pip", "M": "mcp"}
# Table 4, in the paper's row order: (TW-stage groups, PG-stage groups).
ALLOCATIONS: tuple[str, ...] = (
    "W+T+D",
    "W+T+D+P",
    "T+D",
    "T+D+P",
    "T",
    "W",
    "W+D+P+M",
    "W+T",
)
PAPER_ALLOCATION = "W+T"


def parse_allocation(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``"W+T"`` or ``["W", "T"]`` (letters or group names) → letters in Table 4's order,
    e.g. ``("W", "T")``.

    ``"none"``, the empty string or list mean no TW-stage joints ("PG only").
    """
    if isinstance(spec, str):
        text = spec.strip()
        parts = [p.strip() for p in text.split("+")] if text and text.lower() != "none" else []
    else:
        parts = [str(p).strip() for p in spec]
    names = {v: k for k, v in GROUP_LETTERS.items()}
    letters = []
    for p in parts:
        letter = p.upper() if p.upper() in GROUP_LETTERS else names.get(p.lower())
        if letter is None:
            raise HandposeError(
                f"unknown joint group {p!r} in the TW allocation; use letters "
                f"{'/'.join(GROUP_LETTERS)} or names {'/'.join(GROUP_LETTERS.values())}."
            )
        if letter in letters:
            raise HandposeError(f"joint group {p!r} appears twice in the TW allocation.")
        letters.append(letter)
    order = list(GROUP_LETTERS)
    return tuple(sorted(letters, key=order.index))


def allocation_name(letters: Sequence[str]) -> str:
    """Letters in Table 4's spelling (``W`` first, then T, D, P, M), e.g. ``"W+T"``."""
    order = list(GROUP_LETTERS)
    return "+".join(sorted(letters, key=order.index)) if letters else "none"


def allocation_joints(spec: str | Sequence[str]) -> tuple[int, ...]:
    """The OpenPose-21 joint indices of an allocation, ascending.

    Example:
        >>> allocation_joints("W+T")
        (0, 4, 8, 12, 16, 20)
    """
    letters = parse_allocation(spec)
    return tuple(sorted(j for s in letters for j in OPENPOSE_JOINT_GROUPS[GROUP_LETTERS[s]]))


def _from_dict(cls, d: Mapping[str, Any] | None, where: str):
    if d is not None and not isinstance(d, Mapping):
        raise HandposeError(f"'{where}' must be a mapping, got {d!r}.")
    names = {f.name for f in fields(cls)}
    for k in d or {}:
        if k not in names:
            raise HandposeError(f"unknown option '{where}.{k}' in the EHPE config.")
    vals = {}
    for k, v in (d or {}).items():
        sub = {"tw": TWConfig, "pg": PGConfig}.get(k) if cls is EHPENetConfig else None
        vals[k] = _from_dict(sub, v, f"{where}.{k}") if sub else v
    try:
        return cls(**vals)
    except (TypeError, ValueError) as err:
        raise HandposeError(f"invalid '{where}' section of the EHPE config: {err}") from None


def _positive(obj, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise ValueError(f"{n} must be a positive number, got {v!r}")


@dataclass(frozen=True)
class TWConfig:
    """TW-stage sizes (§3.2).

    Attributes:
        feature_stride: the backbone level fed to the hourglass and sampled by the PG-stage
            (the paper: ResNet-50 layer4, stride 32, 8×8 at 256 px; small inputs use 8 or 16).
        heatmap_stride: the 2D / 2.5D heatmaps' stride w.r.t. the input (eq. 1: h/4 × w/4 of
            the image, i.e. 4).
        channels: hourglass and refinement width (the public code: 256).
        stacks: stacked hourglasses (code: 2); each stack's heatmap is supervised by L_H.
        depth: pooling levels of each hourglass (code: 4).
        refine_levels: max-pools of the refinement module (paper: 4, with 2 residual modules
            per level: 8).
        depth_bins: d (paper: 8).
        depth_range: metres spanned by the depth bins about the wrist (code: 0.2 m = ±100 mm).
        sigma: Gaussian target standard deviation in heatmap cells (eq. 1; code: 2).
        temperature: soft-argmax temperature (eq. 2: 1).
    """

    feature_stride: int = 32
    heatmap_stride: int = 4
    channels: int = 256
    stacks: int = 2
    depth: int = 4
    refine_levels: int = 4
    depth_bins: int = 8
    depth_range: float = 0.2
    sigma: float = 2.0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        for n in ("feature_stride", "heatmap_stride", "channels", "stacks", "depth",
                  "refine_levels", "depth_bins"):  # fmt: skip
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{n} must be an integer ≥ 1, got {v!r}")
        _positive(self, "depth_range", "sigma", "temperature")


@dataclass(frozen=True)
class PGConfig:
    """PG-stage sizes and variants (§3.3).

    Attributes:
        enabled: False = "TW only" (Table 3): no PG-stage (the TW-stage must then hold all 21
            joints).
        dim: node / token width (the paper's FEM: 512).
        feature_dim: width of the grid-sampled visual feature F_i (1×1 projection of the
            backbone map).
        spi: use the SPI branch (Table 5).
        fem: use the FEM branch (Table 5).
        gat_layers: graph-attention layers (Table 6: 1, 2, 3; paper 2).
        heads: attention heads K, concatenated (eq. 8: 8).
        edge_weights: "dynamic" (eq. 9 attention) or "fixed" (mean over the neighbourhood;
            Table 6's first row).
        multi_hop: layer l aggregates over the l-hop skeleton neighbourhood (§3.3.2:
            "the second layer extends aggregation to two-hop neighbours"); False = 1-hop in every
            layer.
        init: how joints not estimated by the TW-stage start: "learned" (an MLP on the TW
            joints, or on the pooled image feature without TW joints) or "token" (a learnable
            per-joint feature and no position).
        fem_self_layers, fem_cross_layers, fem_heads, fem_mlp_ratio: the FEM transformers.
        dropout: in the FEM transformers and the graph attention.
        keep_tw: the TW joints keep their TW-stage estimates in the output (J_All = J_T ∪ J_W
            ∪ J_RE); False uses the PG-stage's refined coordinates for every joint.
    """

    enabled: bool = True
    dim: int = 512
    feature_dim: int = 256
    spi: bool = True
    fem: bool = True
    gat_layers: int = 2
    heads: int = 8
    edge_weights: str = "dynamic"
    multi_hop: bool = True
    init: str = "learned"
    fem_self_layers: int = 2
    fem_cross_layers: int = 2
    fem_heads: int = 8
    fem_mlp_ratio: float = 4.0
    dropout: float = 0.1
    keep_tw: bool = True

    def __post_init__(self) -> None:
        if self.edge_weights not in ("dynamic", "fixed"):
            raise ValueError(
                f"edge_weights must be 'dynamic' or 'fixed', got {self.edge_weights!r}"
            )
        if self.init not in ("learned", "token"):
            raise ValueError(f"init must be 'learned' or 'token', got {self.init!r}")
        for n in ("dim", "feature_dim", "gat_layers", "heads", "fem_heads"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{n} must be an integer ≥ 1, got {v!r}")
        for n in ("fem_self_layers", "fem_cross_layers"):
            if getattr(self, n) < 0:
                raise ValueError(f"{n} must be ≥ 0")
        for n in ("heads", "fem_heads"):
            if self.dim % getattr(self, n):
                raise ValueError(f"{n} ({getattr(self, n)}) must divide dim ({self.dim})")
        _positive(self, "fem_mlp_ratio")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class EHPENetConfig:
    """The whole network (the ``model:`` section of an EHPE config; the input side comes from
    the data section).

    Attributes:
        backbone: a registry name (:func:`handpose.models.backbones.list_backbones`).
        weights: local pretrained backbone weights (a file, or "imagenet" where installed);
            None trains from scratch.
        drop_path_rate: backbone stochastic depth.
        tw_joints: the TW-stage's joint groups (Table 4; paper ``W+T``; "" = no TW-stage).
        bone_length: wrist → middle-MCP length (m) giving the wrist depth in the camera-frame
            lift (the open hand model's mean shape, as the baseline).
        tw, pg: the stages.
    """

    backbone: str = "resnet50"
    weights: str | None = None
    drop_path_rate: float = 0.0
    tw_joints: str = PAPER_ALLOCATION
    bone_length: float = 0.0898
    tw: TWConfig = field(default_factory=TWConfig)
    pg: PGConfig = field(default_factory=PGConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.tw_joints, str):
            object.__setattr__(self, "tw_joints", allocation_name(parse_allocation(self.tw_joints)))
        try:
            tw = allocation_joints(self.tw_joints)
        except HandposeError as err:
            raise ValueError(str(err)) from None
        _positive(self, "bone_length")
        if not self.pg.enabled and len(tw) != NUM_JOINTS:
            raise ValueError(
                "without a PG-stage (pg.enabled: false) the TW-stage must estimate all 21 joints "
                f"(tw_joints: W+T+D+P+M), got {self.tw_joints!r}"
            )
        if self.pg.enabled and len(tw) == NUM_JOINTS and self.pg.keep_tw:
            raise ValueError(
                "the TW-stage estimates all 21 joints and pg.keep_tw is set: the PG-stage would "
                "change nothing; disable it (pg.enabled: false) or set pg.keep_tw: false"
            )
        if self.pg.enabled and not (self.pg.spi or self.pg.fem) and self.pg.init != "learned":
            raise ValueError(
                "a PG-stage without SPI and FEM needs pg.init: learned (its output is the "
                "initial positions)"
            )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> EHPENetConfig:
        """Build from a YAML mapping; unknown keys and bad values raise HandposeError."""
        return _from_dict(cls, d, "model")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def tw_indices(self) -> tuple[int, ...]:
        """OpenPose indices the TW-stage estimates."""
        return allocation_joints(self.tw_joints)

    @property
    def pg_indices(self) -> tuple[int, ...]:
        """OpenPose indices the PG-stage estimates (the rest)."""
        tw = set(self.tw_indices)
        return tuple(j for j in range(NUM_JOINTS) if j not in tw)

    def check_input_size(self, size: int) -> None:
        """The input side must be a multiple of both strides (HandposeError otherwise)."""
        a, b = self.tw.heatmap_stride, self.tw.feature_stride
        lcm = a * b // math.gcd(a, b)
        if int(size) % lcm:
            raise HandposeError(
                f"the input size ({size} px) must be a multiple of the heatmap stride ({a}) and "
                f"the feature stride ({b})."
            )
