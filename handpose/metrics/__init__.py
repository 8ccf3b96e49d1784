"""Hand pose and mesh metrics: batched torch, metres in, millimetres in reports.

Exact definitions and their sources: ../shared/reference/metrics.md, restated in each module.

- :mod:`~handpose.metrics.joints`: MPJPE (absolute / root-relative), PA-MPJPE.
- :mod:`~handpose.metrics.mesh`: MPVPE, PA-MPVPE, nearest neighbours, FreiHAND F-score.
- :mod:`~handpose.metrics.auc`: PCK curves and FreiHAND AUC.
- :mod:`~handpose.metrics.sequence`: acceleration error, jitter.
- :mod:`~handpose.metrics.groups`: per-joint-group errors (wrist, MCP, PIP, DIP, TIP).
- :mod:`~handpose.metrics.twohand`: MRRPE, InterHand2.6M aggregation, two-hand evaluator.
- :mod:`~handpose.metrics.evaluator`: :class:`Evaluator`, the accumulator every estimator uses.
- :mod:`~handpose.metrics.penetration`: inter-penetration of two meshes (winding numbers).
- :mod:`~handpose.metrics.reprojection`: ``mesh_reprojection_px`` (our definition, not MIAA).
- :mod:`~handpose.metrics.protocols`: the named image protocols (FreiHAND, InterHand2.6M,
  DexYCB, HanCo) and :func:`evaluate_predictions`.
- :mod:`~handpose.metrics.plots` (imported on demand, needs matplotlib): per-joint errors in
  mm and their pictures (per-group bars, per-frame curves), for inference and reports.
"""

from handpose.metrics._common import UNIT_SCALE
from handpose.metrics.auc import (
    PCKCurve,
    auc,
    auc_from_curve,
    freihand_thresholds,
    pck_counts,
    pck_curve,
)
from handpose.metrics.evaluator import METRICS, Evaluator
from handpose.metrics.groups import group_errors, per_group_mpjpe
from handpose.metrics.joints import mpjpe, pa_mpjpe, point_errors, root_relative
from handpose.metrics.mesh import (
    FREIHAND_FSCORE_THRESHOLDS,
    FScore,
    NearestNeighbors,
    f_score,
    mpvpe,
    nearest_neighbor_distances,
    pa_mpvpe,
)
from handpose.metrics.penetration import Interpenetration, interpenetration
from handpose.metrics.protocols import (
    PROTOCOLS,
    ProtocolResult,
    evaluate_predictions,
    get_protocol,
)
from handpose.metrics.reprojection import mesh_reprojection_px
from handpose.metrics.sequence import accel_error, jitter, second_difference, third_difference
from handpose.metrics.twohand import (
    HANDS,
    InterHandEvaluator,
    PerJointMean,
    interhand_mpjpe,
    mrrpe,
    per_joint_mean,
)

__all__ = [
    "UNIT_SCALE",
    "METRICS",
    "Evaluator",
    "InterHandEvaluator",
    "point_errors",
    "root_relative",
    "mpjpe",
    "pa_mpjpe",
    "mpvpe",
    "pa_mpvpe",
    "NearestNeighbors",
    "nearest_neighbor_distances",
    "FScore",
    "FREIHAND_FSCORE_THRESHOLDS",
    "f_score",
    "PCKCurve",
    "freihand_thresholds",
    "pck_counts",
    "pck_curve",
    "auc",
    "auc_from_curve",
    "second_difference",
    "third_difference",
    "accel_error",
    "jitter",
    "group_errors",
    "per_group_mpjpe",
    "HANDS",
    "PerJointMean",
    "per_joint_mean",
    "interhand_mpjpe",
    "mrrpe",
    "Interpenetration",
    "interpenetration",
    "mesh_reprojection_px",
    "PROTOCOLS",
    "ProtocolResult",
    "evaluate_predictions",
    "get_protocol",
]
