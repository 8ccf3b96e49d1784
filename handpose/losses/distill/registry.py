"""Distillation variants as data: a name → (method, weights, options) table and one builder.

The MGDHand paper's ablations and baselines (mgdhand.md §0, issue 5):

| name | what | terms |
|---|---|---|
| ``none`` | student without distillation | — |
| ``global`` | global-feature distillation, "w/o decouple" (VIFNet-S idea) | pooled Z |
| ``ssd`` / ``dpd`` / ``tmd`` | one MGDistill term only | shape / pose / motion |
| ``wo_ssd`` / ``wo_dpd`` / ``wo_tmd`` | MGDistill without one term | the other two |
| ``mgdistill`` | full MGDistill | shape + pose + motion |
| ``simkd`` | SimKD: projector + reused frozen teacher MANO head | feature MSE |
| ``dkd`` | DKD adapted to per-joint features | TCKD + NCKD |
| ``scjd`` | SCJD-style (our reconstruction) | joint + attention + temporal |

Loss weights of the paper are not published. The MGDistill weights are 1 per term before the
config's global ``distill.weight`` multiplier; DKD uses its CIFAR defaults (α 1, β 8, T 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from handpose.losses.distill.base import Distiller, NoDistillation
from handpose.losses.distill.dkd import DKDLoss
from handpose.losses.distill.global_feature import GlobalFeatureDistill
from handpose.losses.distill.mgdistill import MGDistill
from handpose.losses.distill.scjd import SCJDLoss
from handpose.losses.distill.simkd import SimKDLoss

__all__ = ["DistillSpec", "VARIANTS", "build_distiller", "get_variant"]

METHODS = ("none", "mgdistill", "global", "simkd", "dkd", "scjd")


@dataclass(frozen=True)
class DistillSpec:
    """One distillation variant.

    Attributes:
        method: one of ``none``, ``mgdistill``, ``global``, ``simkd``, ``dkd``, ``scjd``.
        weights: per-term weights (the term names of the method's distiller).
        options: other method parameters (``temperature``, ``warmup``, ``tau``).
        student_head: ``"own"`` or ``"teacher"`` (SimKD reuses the frozen teacher head).
    """

    method: str
    weights: Mapping[str, float] = field(default_factory=dict)
    options: Mapping[str, float] = field(default_factory=dict)
    student_head: str = "own"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown distillation method {self.method!r}; one of {METHODS}")
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))


def _mgd(shape: float, pose: float, motion: float) -> DistillSpec:
    return DistillSpec("mgdistill", {"shape": shape, "pose": pose, "motion": motion})


VARIANTS: Mapping[str, DistillSpec] = MappingProxyType(
    {
        "none": DistillSpec("none"),
        "global": DistillSpec("global", {"global": 1.0}),
        "ssd": _mgd(1.0, 0.0, 0.0),
        "dpd": _mgd(0.0, 1.0, 0.0),
        "tmd": _mgd(0.0, 0.0, 1.0),
        "wo_ssd": _mgd(0.0, 1.0, 1.0),
        "wo_dpd": _mgd(1.0, 0.0, 1.0),
        "wo_tmd": _mgd(1.0, 1.0, 0.0),
        "mgdistill": _mgd(1.0, 1.0, 1.0),
        "simkd": DistillSpec("simkd", {"feature": 1.0}, student_head="teacher"),
        "dkd": DistillSpec("dkd", {"tckd": 1.0, "nckd": 8.0}, {"temperature": 4.0, "warmup": 0.0}),
        "scjd": DistillSpec(
            "scjd", {"joint": 1.0, "attention": 1.0, "temporal": 1.0}, {"tau": 0.1}
        ),
    }
)


def get_variant(name: str) -> DistillSpec:
    """The :class:`DistillSpec` of a variant name (ValueError listing the names otherwise)."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(
            f"unknown distillation variant {name!r}; one of {', '.join(VARIANTS)}"
        ) from None


def build_distiller(
    spec: DistillSpec | str, student_dim: int, teacher_dim: int, scale: float = 1.0
) -> Distiller:
    """Instantiate the distiller of a variant.

    Args:
        spec: a :class:`DistillSpec` or a variant name.
        student_dim, teacher_dim: feature widths d of the student and teacher.
        scale: global multiplier of every weight (the config's ``distill.weight``).
    """
    if isinstance(spec, str):
        spec = get_variant(spec)
    w = {k: scale * v for k, v in spec.weights.items()}
    o = dict(spec.options)
    if spec.method == "none":
        return NoDistillation()
    if spec.method == "mgdistill":
        return MGDistill(w.get("shape", 0.0), w.get("pose", 0.0), w.get("motion", 0.0))
    if spec.method == "global":
        return GlobalFeatureDistill(student_dim, teacher_dim, w.get("global", 0.0))
    if spec.method == "simkd":
        return SimKDLoss(w.get("feature", 0.0))
    if spec.method == "dkd":
        return DKDLoss(
            student_dim,
            teacher_dim,
            alpha=w.get("tckd", 0.0),
            beta=w.get("nckd", 0.0),
            temperature=o.get("temperature", 4.0),
            warmup=o.get("warmup", 0.0),
        )
    return SCJDLoss(
        student_dim,
        teacher_dim,
        joint=w.get("joint", 0.0),
        attention=w.get("attention", 0.0),
        temporal=w.get("temporal", 0.0),
        tau=o.get("tau", 0.1),
    )
