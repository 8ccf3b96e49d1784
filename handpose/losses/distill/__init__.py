"""Distillation losses for the MGDHand student: MGDistill and the baselines, plus the registry."""

from handpose.losses.distill.base import (
    Distiller,
    NoDistillation,
    normalized_sq_distance,
    weighted_total,
)
from handpose.losses.distill.dkd import DKDLoss, dkd_terms
from handpose.losses.distill.global_feature import GlobalFeatureDistill
from handpose.losses.distill.mgdistill import MGDistill, mgdistill_terms
from handpose.losses.distill.registry import VARIANTS, DistillSpec, build_distiller, get_variant
from handpose.losses.distill.scjd import (
    SCJDLoss,
    adjacent_attention,
    kinematic_neighbourhood,
    temporal_correlation,
)
from handpose.losses.distill.simkd import SimKDLoss

__all__ = [
    "Distiller",
    "NoDistillation",
    "normalized_sq_distance",
    "weighted_total",
    "DKDLoss",
    "dkd_terms",
    "GlobalFeatureDistill",
    "MGDistill",
    "mgdistill_terms",
    "VARIANTS",
    "DistillSpec",
    "build_distiller",
    "get_variant",
    "SCJDLoss",
    "adjacent_attention",
    "kinematic_neighbourhood",
    "temporal_correlation",
    "SimKDLoss",
]
