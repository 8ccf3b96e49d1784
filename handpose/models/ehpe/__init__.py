"""EHPE: "A Segmented Architecture for Enhanced Hand Pose Estimation" (Xu et al., ACM MM 2025).

The TW-stage (:mod:`.tw_stage`) finds the joints of ``tw_joints`` (the paper: the five
fingertips and the wrist) with a hourglass, a refinement module and a 2.5D heatmap read by
soft-argmax; the PG-stage (:mod:`.pg_stage`) infers the other joints from them with graph
attention over the hand skeleton (SPI, :mod:`.spi`) fused with a transformer over image tokens
(FEM, :mod:`.fem`). Blocks: :mod:`.hourglass`. Sizes and variants: :mod:`.config`. The whole
network and the lift to camera coordinates: :mod:`.model`. Losses: :mod:`handpose.losses.ehpe`.

Every choice the paper leaves open is documented beside the equation it completes, in the
module that implements it, and collected in docs/results/ehpe.md.
"""

from handpose.models.ehpe.config import (
    ALLOCATIONS,
    GROUP_LETTERS,
    PAPER_ALLOCATION,
    EHPENetConfig,
    PGConfig,
    TWConfig,
    allocation_joints,
    allocation_name,
    parse_allocation,
)
from handpose.models.ehpe.fem import FEM
from handpose.models.ehpe.hourglass import Hourglass, RefinementModule, Residual, StackedHourglass
from handpose.models.ehpe.model import EHPE, EHPEOutput, lift_to_camera
from handpose.models.ehpe.pg_stage import (
    Fusion,
    PGOutput,
    PGStage,
    denormalise_coords,
    normalise_coords,
)
from handpose.models.ehpe.spi import (
    SPI,
    GraphAttention,
    graph_attention,
    hop_neighbourhood,
    skeleton_adjacency,
    skeleton_edges,
)
from handpose.models.ehpe.tw_stage import TWOutput, TWStage

__all__ = [
    "ALLOCATIONS",
    "GROUP_LETTERS",
    "PAPER_ALLOCATION",
    "EHPENetConfig",
    "PGConfig",
    "TWConfig",
    "allocation_joints",
    "allocation_name",
    "parse_allocation",
    "FEM",
    "Hourglass",
    "RefinementModule",
    "Residual",
    "StackedHourglass",
    "EHPE",
    "EHPEOutput",
    "lift_to_camera",
    "Fusion",
    "PGOutput",
    "PGStage",
    "denormalise_coords",
    "normalise_coords",
    "SPI",
    "GraphAttention",
    "graph_attention",
    "hop_neighbourhood",
    "skeleton_adjacency",
    "skeleton_edges",
    "TWOutput",
    "TWStage",
]
