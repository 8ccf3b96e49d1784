"""Named image evaluation protocols: FreiHAND, InterHand2.6M, DexYCB and HanCo.

A protocol accumulates predictions and ground truth in the image sample schema
(docs/design/image_track.md) over batches and returns a :class:`ProtocolResult`: numbers in
millimetres (or unitless), per-joint-group errors, PCK curves, counts and the conventions used.
:func:`evaluate_predictions` is the one-call API (``handpose eval`` is a thin wrapper over it and
:func:`handpose.reports.evaluation.write_evaluation_report`).

Inputs (``...`` = one leading batch axis N; numpy arrays or tensors, float32 or float64)::

    targets["joints3d"]     (N, 2, 21, 3) metres, camera frame, OpenPose-21; slot 0 right, 1 left
    targets["joint_valid"]  (N, 2, 21) bool        (default: all True)
    targets["hand_valid"]   (N, 2) bool            (default: all True)
    targets["vertices"]     (N, 2, V, 3) metres    (optional: mesh metrics)
    targets["interacting"]  (N,) bool              (InterHand2.6M; default: both hands valid)
    targets["K"]            (N, 3, 3)              (optional: ``mesh_reprojection_px``)
    preds["joints3d"]       (N, 2, 21, 3) metres, camera frame
    preds["vertices"]       (N, 2, V', 3) metres   (optional: joints-only methods omit it)

``preds`` may also be a model output dataclass with those attribute names. A hand slot counts
only where ``hand_valid`` is set; predictions in other slots are ignored (they may be NaN). When
the prediction (or the ground truth) has no vertices, every mesh metric is reported **absent**
(``None`` with a reason), never as zero.

Protocols (definitions and sources: ../shared/reference/metrics.md):

``freihand`` (§2)
    Per valid hand: unaligned MPJPE / MPVPE in absolute camera coordinates and PA-MPJPE /
    PA-MPVPE after FreiHAND's ``align_w_scale`` (reflections allowed; joints and vertices
    aligned **separately**), each with its AUC (0–50 mm, 100 thresholds, PCK with ``≤``, per
    keypoint, then averaged); F-scores at 5 and 15 mm (strict ``<``) on unaligned and aligned
    vertices. Papers' "F@5 / F@15" are the aligned ones (``pa_f@5mm``, ``pa_f@15mm``). Means
    are FreiHAND's ``EvalUtil`` means: per keypoint (joint or vertex) over its valid samples,
    then over keypoints (identical to the pooled mean when everything is valid, as on
    FreiHAND). If the predicted mesh has another topology than the ground truth, vertex errors
    are absent and the F-scores reuse the joint transform (FreiHAND's ``align_by_trafo``).
``interhand`` (§4, §5)
    Two hands. Headline: IntagHand / EANet / EHPE / DIR scale alignment (root at the middle MCP
    by default, ``intaghand_root="wrist"`` for DIR's variant; prediction scaled by the
    wrist→middle-MCP bone ratio), MPJPE with InterHand2.6M's per-joint-then-mean aggregation
    and MPVPE pooled over vertices, each for single-hand (SH), interacting (IH) and all frames;
    per-hand MPJPE; MRRPE (interacting frames with both wrists valid). Also the official
    root-relative variant (``rr_*``: wrist-rooted, no scaling). Optional two-hand extras:
    inter-penetration of the predicted meshes (``faces=...``; see
    :mod:`handpose.metrics.penetration`) and ``mesh_reprojection_px`` (``targets["K"]``; see
    :mod:`handpose.metrics.reprojection`: our definition, **not** DIR's unpublished MIAA).
    Built on :class:`~handpose.metrics.InterHandEvaluator`.
``dexycb`` (§6)
    dex-ycb-toolkit's three joint variants, each with MPJPE and AUC (FreiHAND ``EvalUtil``):
    absolute (``mpjpe_abs``), root-relative at the wrist (``mpjpe``) and Procrustes
    (``pa_mpjpe``, FreiHAND alignment); plus the mesh errors papers add: root-relative MPVPE
    (vertices minus the hand's own wrist joint) and PA-MPVPE (no AUC: not in the toolkit).
``hanco`` (§8)
    No official script exists; HanCo is evaluated with FreiHAND's conventions. Reported:
    root-relative and Procrustes-aligned MPJPE and MPVPE (the before/after-alignment pair that
    video papers such as PGTE report), each with its FreiHAND AUC, and the aligned F-scores.

Every protocol also reports the per-joint-group errors (wrist, MCP, PIP, DIP, TIP of
OpenPose-21) of each joint error it computes. Sums and counts are float64 (hits and counts
int64), so splitting the data into batches does not change the result beyond rounding.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from handpose.errors import HandposeError
from handpose.geometry.procrustes import (
    procrustes_align,
    procrustes_residuals,
    procrustes_transform,
    scale_align_intaghand,
)
from handpose.handmodel.conventions import OPENPOSE_JOINT_GROUPS
from handpose.metrics._common import UNIT_SCALE, format_value
from handpose.metrics.auc import auc_from_curve, freihand_thresholds, pck_counts
from handpose.metrics.mesh import FREIHAND_FSCORE_THRESHOLDS, f_score
from handpose.metrics.penetration import interpenetration
from handpose.metrics.reprojection import reprojection_errors_px
from handpose.metrics.twohand import InterHandEvaluator

__all__ = [
    "PROTOCOLS",
    "ProtocolResult",
    "Protocol",
    "SingleHandProtocol",
    "InterHandProtocol",
    "get_protocol",
    "evaluate_predictions",
]

RESULT_FORMAT = "handpose-eval"
RESULT_FORMAT_VERSION = 1
NUM_JOINTS = 21
WRIST = 0
MIDDLE_MCP = 9


# ---------------------------------------------------------------------------------------------
# The result


@dataclass
class ProtocolResult:
    """What a protocol returns.

    Attributes:
        protocol: registry name ("freihand", "interhand", "dexycb", "hanco").
        title: human-readable protocol name.
        units: length unit of the reported lengths ("mm" by default).
        metrics: key → value (lengths in ``units``, pixels for ``*_px``, F-scores and AUCs in
            [0, 1]) in report order; ``None`` where the metric is absent (see ``absent``).
        metric_units: key → unit string ("" for unitless).
        labels: key → label for tables.
        headline: the keys of the protocol's headline numbers (papers' table columns).
        absent: key → why the metric could not be computed (no predicted vertices, no frames).
        groups: joint error key → {group: error in ``units``} (wrist, mcp, pip, dip, tip).
        pck: joint/vertex error key → {"thresholds_mm": [...], "pck": [...]}: PCK averaged over
            keypoints (its normalised area is the FreiHAND AUC).
        counts: how much was evaluated (samples, hands, frames per split...).
        notes: the conventions behind the numbers, one sentence each.
    """

    protocol: str
    title: str
    units: str
    metrics: dict[str, float | None]
    metric_units: dict[str, str]
    labels: dict[str, str]
    headline: list[str]
    absent: dict[str, str] = field(default_factory=dict)
    groups: dict[str, dict[str, float | None]] = field(default_factory=dict)
    pck: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, key: str) -> float | None:
        return self.metrics[key]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (absent values are ``None``)."""
        out = {"format": RESULT_FORMAT, "format_version": RESULT_FORMAT_VERSION}
        out.update(dataclasses.asdict(self))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProtocolResult:
        """Inverse of :meth:`to_dict` (e.g. to re-plot a saved result)."""
        if data.get("format") != RESULT_FORMAT:
            raise HandposeError(
                f"not a handpose evaluation result (format {data.get('format')!r}, expected "
                f"{RESULT_FORMAT!r})."
            )
        names = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(n for n in ("protocol", "title", "units", "metrics") if n not in data)
        if missing:
            raise HandposeError(f"evaluation result is missing the field(s) {missing}.")
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs.setdefault("metric_units", {})
        kwargs.setdefault("labels", {})
        kwargs.setdefault("headline", [])
        return cls(**kwargs)

    def label(self, key: str) -> str:
        return self.labels.get(key, key)

    def _value_cell(self, key: str) -> str:
        v = self.metrics.get(key)
        if v is None:
            return f"— ({self.absent.get(key, 'absent')})"
        unit = self.metric_units.get(key, "")
        return format_value(v, 4 if unit == "" else 2)

    def to_markdown(self, title: str | None = None, images: Mapping[str, str] | None = None) -> str:
        """Markdown: headline table, all metrics, per-group errors, counts and conventions.

        Args:
            title: heading (default: the protocol's title).
            images: optional caption → relative path of pictures to embed at the end.
        """
        lines = [f"## {title or self.title}", ""]
        if self.headline:
            keys = [k for k in self.headline if k in self.metrics]
            lines += [
                "| " + " | ".join(self._column(k) for k in keys) + " |",
                "|" + "---:|" * len(keys),
                "| " + " | ".join(self._value_cell(k) for k in keys) + " |",
                "",
            ]
        lines += ["| metric | value | unit |", "|---|---:|---|"]
        for k in self.metrics:
            lines.append(f"| {self.label(k)} | {self._value_cell(k)} | {self.metric_units[k]} |")
        if self.groups:
            keys = list(self.groups)
            names = list(next(iter(self.groups.values())))
            lines += [
                "",
                f"Per-joint-group errors ({self.units}):",
                "",
                "| group | " + " | ".join(self.label(k) for k in keys) + " |",
                "|---|" + "---:|" * len(keys),
            ]
            for g in names:
                cells = [format_value(math.nan if (v := self.groups[k].get(g)) is None else v)
                         for k in keys]  # fmt: skip
                lines.append(f"| {g} | " + " | ".join(cells) + " |")
        if self.counts:
            lines += [
                "",
                "Evaluated: " + ", ".join(f"{v} {k}" for k, v in self.counts.items()) + ".",
            ]
        if self.notes:
            lines += [""] + [f"- {n}" for n in self.notes]
        for caption, path in (images or {}).items():
            lines += ["", f"![{caption}]({path})"]
        return "\n".join(lines) + "\n"

    def _column(self, key: str) -> str:
        unit = self.metric_units.get(key, "")
        return f"{self.label(key)} ({unit})" if unit else self.label(key)


# ---------------------------------------------------------------------------------------------
# Accumulators


class _PointStats:
    """Per-keypoint sums, counts and PCK hits of one error type (float64 / int64)."""

    def __init__(self, thresholds: Tensor | None) -> None:
        self.thresholds = thresholds
        self.sums: Tensor | None = None
        self.counts: Tensor | None = None
        self.hits: Tensor | None = None

    def add(self, errors: Tensor, mask: Tensor | None) -> None:
        """errors (M, K) metres, mask (M, K) bool or None."""
        e = errors.detach().to(torch.float64)
        m = torch.ones_like(e, dtype=torch.bool) if mask is None else mask.expand(e.shape)
        sums = torch.where(m, e, 0.0).sum(0)
        counts = m.sum(0)
        if self.sums is None:
            self.sums, self.counts = sums, counts
        else:
            self.sums, self.counts = self.sums + sums, self.counts + counts
        if self.thresholds is not None:
            hits, _ = pck_counts(e, self.thresholds, m)
            self.hits = hits if self.hits is None else self.hits + hits

    @property
    def empty(self) -> bool:
        return self.counts is None or int(self.counts.sum()) == 0

    def mean(self, per_keypoint: bool) -> float:
        """Per-keypoint means averaged over keypoints with data (``EvalUtil``), or pooled."""
        if self.empty:
            return math.nan
        if not per_keypoint:
            return float(self.sums.sum() / self.counts.sum())
        has = self.counts > 0
        return float((self.sums[has] / self.counts[has]).mean())

    def group_means(self, groups: Mapping[str, Sequence[int]]) -> dict[str, float]:
        """Pooled mean over each group's valid (sample, joint) pairs."""
        out = {}
        for name, idx in groups.items():
            c = int(self.counts[list(idx)].sum()) if self.counts is not None else 0
            out[name] = float(self.sums[list(idx)].sum()) / c if c else math.nan
        return out

    def pck(self) -> Tensor | None:
        """(T,) PCK averaged over keypoints with data."""
        if self.hits is None or self.empty:
            return None
        has = self.counts > 0
        return (self.hits[has].to(torch.float64) / self.counts[has, None]).mean(0)

    def auc(self) -> float:
        if self.hits is None or self.empty:
            return math.nan
        pck = self.hits.to(torch.float64) / self.counts.clamp_min(1)[:, None]
        return float(auc_from_curve(pck, self.thresholds, self.counts))


class _SampleMean:
    """Mean of a per-sample quantity (F-scores, penetration) over samples, float64."""

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def add(self, values: Tensor) -> None:
        v = values.detach().to(torch.float64).reshape(-1)
        ok = ~v.isnan()
        self.total += float(v[ok].sum())
        self.count += int(ok.sum())

    def value(self) -> float:
        return self.total / self.count if self.count else math.nan


# ---------------------------------------------------------------------------------------------
# Input parsing


@dataclass
class _Batch:
    """One parsed batch, float64 on the CPU."""

    pred_joints: Tensor  # (N, 2, 21, 3)
    gt_joints: Tensor  # (N, 2, 21, 3)
    joint_valid: Tensor  # (N, 2, 21) bool, already False in invalid hand slots
    hand_valid: Tensor  # (N, 2) bool
    interacting: Tensor  # (N,) bool
    pred_verts: Tensor | None  # (N, 2, V', 3)
    gt_verts: Tensor | None  # (N, 2, V, 3)
    K: Tensor | None  # (N, 3, 3)


def _get(obj, key: str, name: str):
    if isinstance(obj, Mapping):
        return obj.get(key)
    if dataclasses.is_dataclass(obj) or hasattr(obj, key):
        return getattr(obj, key, None)
    raise HandposeError(
        f"{name} must be a mapping of arrays (image sample schema) or a model output with "
        f"attributes, got {type(obj).__name__}."
    )


def _float(x, name: str, tail: tuple[int | None, ...], n: int | None = None) -> Tensor:
    """Array → CPU float64 tensor of shape (N, *tail) (None in ``tail`` = any size)."""
    try:
        t = torch.as_tensor(x.detach().cpu() if isinstance(x, Tensor) else x)
    except (TypeError, ValueError, RuntimeError):
        raise HandposeError(f"{name} must be a numeric array, got {type(x).__name__}.") from None
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64)):
        raise HandposeError(f"{name} must be a floating-point array, got {t.dtype}.")
    want = "(N, " + ", ".join("V" if d is None else str(d) for d in tail) + ")"
    ok = t.ndim == len(tail) + 1 and all(d is None or s == d for s, d in zip(t.shape[1:], tail))
    if not ok or (n is not None and t.shape[0] != n):
        got = tuple(t.shape)
        extra = "" if n is None else f" with N = {n}"
        raise HandposeError(f"{name} must have shape {want}{extra}, got {got}.")
    return t.to(torch.float64)


def _bool(x, name: str, shape: tuple[int, ...]) -> Tensor:
    try:
        t = torch.as_tensor(x.detach().cpu() if isinstance(x, Tensor) else x)
    except (TypeError, ValueError, RuntimeError):
        raise HandposeError(f"{name} must be a boolean array, got {type(x).__name__}.") from None
    if tuple(t.shape) != shape:
        raise HandposeError(f"{name} must have shape {shape}, got {tuple(t.shape)}.")
    return t != 0


def _check_finite(x: Tensor, sel: Tensor, name: str) -> None:
    """Values of the evaluated hand slots ``sel`` (N, 2) must be finite."""
    if not bool(torch.isfinite(x[sel]).all()):
        raise HandposeError(f"{name} has non-finite values in a valid hand slot.")


def _parse(preds, targets) -> _Batch:
    gj = _get(targets, "joints3d", "targets")
    pj = _get(preds, "joints3d", "preds")
    if gj is None:
        raise HandposeError("targets has no 'joints3d' (N, 2, 21, 3).")
    if pj is None:
        raise HandposeError("preds has no 'joints3d' (N, 2, 21, 3).")
    gj = _float(gj, "targets['joints3d']", (2, NUM_JOINTS, 3))
    n = gj.shape[0]
    pj = _float(pj, "preds['joints3d']", (2, NUM_JOINTS, 3), n)
    hv = _get(targets, "hand_valid", "targets")
    hv = (
        torch.ones(n, 2, dtype=torch.bool)
        if hv is None
        else _bool(hv, "targets['hand_valid']", (n, 2))
    )
    jv = _get(targets, "joint_valid", "targets")
    jv = (
        torch.ones(n, 2, NUM_JOINTS, dtype=torch.bool)
        if jv is None
        else _bool(jv, "targets['joint_valid']", (n, 2, NUM_JOINTS))
    )
    jv = jv & hv[..., None]
    inter = _get(targets, "interacting", "targets")
    inter = hv.all(-1) if inter is None else _bool(inter, "targets['interacting']", (n,))
    gv = _get(targets, "vertices", "targets")
    pv = _get(preds, "vertices", "preds")
    gv = None if gv is None else _float(gv, "targets['vertices']", (2, None, 3), n)
    pv = None if pv is None else _float(pv, "preds['vertices']", (2, None, 3), n)
    K = _get(targets, "K", "targets")
    K = None if K is None else _float(K, "targets['K']", (3, 3), n)
    _check_finite(gj, jv.any(-1), "targets['joints3d']")
    _check_finite(pj, hv, "preds['joints3d']")
    if gv is not None:
        _check_finite(gv, hv, "targets['vertices']")
    if pv is not None:
        _check_finite(pv, hv, "preds['vertices']")
    return _Batch(pj, gj, jv, hv, inter, pv, gv, K)


# ---------------------------------------------------------------------------------------------
# Protocols


def _mm(th: float) -> str:
    return f"{th * 1000:g}mm"


class Protocol:
    """Base class: accumulate batches with :meth:`update`, read with :meth:`compute`.

    Subclasses implement ``_update(batch)`` and ``_collect()``. Construct them by name with
    :func:`get_protocol`.
    """

    name = ""
    title = ""

    def __init__(self, units: str = "mm") -> None:
        if units not in UNIT_SCALE:
            raise HandposeError(f"units must be one of {tuple(UNIT_SCALE)}, got {units!r}.")
        self.units = units
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        self._mesh: bool | None = None  # decided by the first batch
        self._mesh_reason = ""
        self._batches = 0
        self._reset()

    def _reset(self) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def update(self, preds, targets) -> None:
        """Add a batch (see the module docstring for the keys and shapes)."""
        b = _parse(preds, targets)
        self._batches += 1
        mesh, reason = self._mesh_available(b)
        if self._mesh is None:
            self._mesh, self._mesh_reason = mesh, reason
        elif mesh != self._mesh:
            raise HandposeError(
                f"batch {self._batches} {'has' if mesh else 'lacks'} vertices for the mesh "
                f"metrics but the earlier batches did not{'' if mesh else ' lack them'}; give "
                "'vertices' in every batch or in none."
            )
        self._update(b)

    def _mesh_available(self, b: _Batch) -> tuple[bool, str]:
        if b.pred_verts is None:
            return False, "prediction has no vertices"
        if b.gt_verts is None:
            return False, "ground truth has no vertices"
        return True, ""

    def _update(self, b: _Batch) -> None:
        raise NotImplementedError

    def compute(self) -> ProtocolResult:
        """The result so far (all lengths in ``units``)."""
        res = ProtocolResult(
            protocol=self.name,
            title=self.title,
            units=self.units,
            metrics={},
            metric_units={},
            labels={},
            headline=[],
        )
        self._collect(res)
        # NaN (nothing valid to average) is reported as absent, never as a number.
        for k, v in res.metrics.items():
            if v is not None and math.isnan(v):
                res.metrics[k] = None
                res.absent.setdefault(k, "nothing valid to evaluate")
        return res

    def _collect(self, res: ProtocolResult) -> None:
        raise NotImplementedError

    # helpers for _collect
    def _put(self, res, key, value, label, unit="len", absent: str | None = None) -> None:
        if unit == "len":
            unit = self.units
            value = None if value is None else value * UNIT_SCALE[self.units]
        res.metrics[key] = value
        res.metric_units[key] = unit
        res.labels[key] = label
        if absent is not None:
            res.metrics[key] = None
            res.absent[key] = absent

    def _put_groups(self, res, key: str, stats: _PointStats) -> None:
        k = UNIT_SCALE[self.units]
        g = stats.group_means(OPENPOSE_JOINT_GROUPS) if not stats.empty else {}
        res.groups[key] = {
            name: None if math.isnan(v := g.get(name, math.nan)) else v * k
            for name in OPENPOSE_JOINT_GROUPS
        }

    @staticmethod
    def _put_pck(res, key: str, stats: _PointStats) -> None:
        pck = stats.pck()
        if pck is not None:
            res.pck[key] = {
                "thresholds_mm": [float(t) * 1000.0 for t in stats.thresholds],
                "pck": [float(p) for p in pck],
            }


@dataclass(frozen=True)
class _ErrorSpec:
    """One point error of a single-hand protocol."""

    key: str
    label: str
    points: Literal["joints", "verts"]
    align: Literal["none", "root", "procrustes"]
    auc: bool


class SingleHandProtocol(Protocol):
    """FreiHAND / DexYCB / HanCo: every valid hand slot is one sample.

    Args:
        name: "freihand", "dexycb" or "hanco".
        units: report units for lengths ("mm" default).
    """

    _SPECS: dict[str, tuple[str, tuple[_ErrorSpec, ...], tuple[str, ...], tuple[str, ...]]] = {
        # name: (title, errors, F-score variants ("none" / "procrustes"), headline)
        "freihand": (
            "FreiHAND",
            (
                _ErrorSpec("mpjpe", "MPJPE (unaligned)", "joints", "none", True),
                _ErrorSpec("pa_mpjpe", "PA-MPJPE", "joints", "procrustes", True),
                _ErrorSpec("mpvpe", "MPVPE (unaligned)", "verts", "none", True),
                _ErrorSpec("pa_mpvpe", "PA-MPVPE", "verts", "procrustes", True),
            ),
            ("none", "procrustes"),
            ("pa_mpjpe", "pa_mpvpe", "pa_f@5mm", "pa_f@15mm", "auc_pa_mpjpe"),
        ),
        "dexycb": (
            "DexYCB",
            (
                _ErrorSpec("mpjpe_abs", "MPJPE (absolute)", "joints", "none", True),
                _ErrorSpec("mpjpe", "MPJPE (root-relative)", "joints", "root", True),
                _ErrorSpec("pa_mpjpe", "PA-MPJPE", "joints", "procrustes", True),
                _ErrorSpec("mpvpe", "MPVPE (root-relative)", "verts", "root", False),
                _ErrorSpec("pa_mpvpe", "PA-MPVPE", "verts", "procrustes", False),
            ),
            (),
            ("mpjpe", "pa_mpjpe", "mpvpe", "pa_mpvpe", "auc_mpjpe", "auc_pa_mpjpe"),
        ),
        "hanco": (
            "HanCo",
            (
                _ErrorSpec("mpjpe", "MPJPE (root-relative)", "joints", "root", True),
                _ErrorSpec("pa_mpjpe", "PA-MPJPE", "joints", "procrustes", True),
                _ErrorSpec("mpvpe", "MPVPE (root-relative)", "verts", "root", True),
                _ErrorSpec("pa_mpvpe", "PA-MPVPE", "verts", "procrustes", True),
            ),
            ("procrustes",),
            ("mpjpe", "pa_mpjpe", "mpvpe", "pa_mpvpe", "auc_pa_mpjpe"),
        ),
    }

    def __init__(self, name: str, units: str = "mm") -> None:
        if name not in self._SPECS:
            raise HandposeError(f"unknown single-hand protocol {name!r}.")
        self.name = name
        self.title, self.specs, self.fscores, self.headline = self._SPECS[name]
        super().__init__(units)

    def _reset(self) -> None:
        th = freihand_thresholds()
        self._stats = {s.key: _PointStats(th if s.auc else None) for s in self.specs}
        self._f = {(a, t): _SampleMean() for a in self.fscores for t in FREIHAND_FSCORE_THRESHOLDS}
        self._hands = {"right": 0, "left": 0}
        self._samples = 0
        self._topology_differs = False

    def _update(self, b: _Batch) -> None:
        self._samples += int(b.hand_valid.any(-1).sum())
        self._hands["right"] += int(b.hand_valid[:, 0].sum())
        self._hands["left"] += int(b.hand_valid[:, 1].sum())
        sel = b.hand_valid
        pj, gj, jv = b.pred_joints[sel], b.gt_joints[sel], b.joint_valid[sel]  # (M, 21, ...)
        if pj.shape[0] == 0:
            return
        root_ok = jv[:, WRIST : WRIST + 1]
        pv = gv = None
        if self._mesh:
            pv, gv = b.pred_verts[sel], b.gt_verts[sel]
            if pv.shape[1] != gv.shape[1]:
                self._topology_differs = True
        same_topology = pv is not None and pv.shape[1] == gv.shape[1]
        aligned_verts = None
        for s in self.specs:
            if s.points == "verts" and not same_topology:
                continue
            p, g = (pj, gj) if s.points == "joints" else (pv, gv)
            mask = jv if s.points == "joints" else None
            if s.align == "none":
                err = (p - g).norm(dim=-1)
            elif s.align == "root":
                err = ((p - pj[:, WRIST : WRIST + 1]) - (g - gj[:, WRIST : WRIST + 1])).norm(dim=-1)
                mask = root_ok.expand(err.shape) if mask is None else mask & root_ok
            elif s.points == "verts" and "procrustes" in self.fscores:
                # The aligned F-score needs the aligned vertices themselves.
                aligned_verts = procrustes_align(pv, gv, mode="freihand")
                err = (aligned_verts - gv).norm(dim=-1)
            else:
                err = procrustes_residuals(p, g, mode="freihand", valid=mask)
            self._stats[s.key].add(err, mask)
        if pv is None or not self.fscores:
            return
        for variant in self.fscores:
            if variant == "none":
                q = pv
            elif aligned_verts is not None:
                q = aligned_verts
            else:  # other topology: FreiHAND reuses the joint transform (align_by_trafo)
                q = procrustes_transform(pj, gj, mode="freihand", valid=jv).apply(pv)
            fs = f_score(q, gv, FREIHAND_FSCORE_THRESHOLDS)
            for i, t in enumerate(FREIHAND_FSCORE_THRESHOLDS):
                self._f[(variant, t)].add(fs.f[:, i])

    def _collect(self, res: ProtocolResult) -> None:
        res.headline = list(self.headline)
        mesh_reason = None
        if self._mesh is False:
            mesh_reason = self._mesh_reason
        elif self._topology_differs:
            mesh_reason = "predicted mesh topology differs from the ground truth's"
        for s in self.specs:
            absent = mesh_reason if s.points == "verts" else None
            self._put(
                res, s.key, self._stats[s.key].mean(per_keypoint=True), s.label, absent=absent
            )
        for variant in self.fscores:
            prefix = "pa_" if variant == "procrustes" else ""
            for t in FREIHAND_FSCORE_THRESHOLDS:
                key = f"{prefix}f@{_mm(t)}"
                label = f"F@{t * 1000:g} mm" + (" (aligned)" if prefix else " (unaligned)")
                absent = self._mesh_reason if self._mesh is False else None
                self._put(res, key, self._f[(variant, t)].value(), label, "", absent)
        for s in self.specs:
            if s.auc:
                absent = mesh_reason if s.points == "verts" else None
                label = f"AUC {s.label} (0–50 mm)"
                self._put(res, f"auc_{s.key}", self._stats[s.key].auc(), label, "", absent)
        for s in self.specs:
            if s.points == "joints":
                self._put_groups(res, s.key, self._stats[s.key])
            if s.auc and not (s.points == "verts" and mesh_reason):
                self._put_pck(res, s.key, self._stats[s.key])
        res.counts = {"samples": self._samples, "hands": sum(self._hands.values())}
        res.counts.update({f"{h} hands": n for h, n in self._hands.items()})
        res.notes = self._notes()

    def _notes(self) -> list[str]:
        notes = [
            "Procrustes: FreiHAND align_w_scale (reflections allowed), fitted per hand; joints "
            "and vertices aligned separately.",
            "Means as FreiHAND's EvalUtil: per keypoint over its valid samples, then over "
            "keypoints.",
        ]
        if any(s.auc for s in self.specs):
            notes.append("AUC: PCK with ≤ at 100 thresholds over 0–50 mm, per keypoint, averaged.")
        if self.fscores:
            notes.append(
                "F-score: nearest-neighbour vertex distances, strict <; 'aligned' uses the "
                "Procrustes-aligned vertices."
            )
        if any(s.align == "root" for s in self.specs):
            notes.append(
                "Root-relative: both sets minus their own wrist (joint 0); vertices minus the "
                "hand's wrist joint; a hand counts only if its wrist is valid."
            )
        if self.name == "hanco":
            notes.append("HanCo has no official script: FreiHAND's conventions (metrics.md §8).")
        if self.name == "dexycb":
            notes.append(
                "dex-ycb-toolkit reports absolute, root-relative and Procrustes MPJPE with AUC; "
                "the mesh errors are the ones papers add (no AUC)."
            )
        notes.append(
            "Per-group errors: pooled over the group's valid joints; the wrist is 0 by "
            "construction for root-relative errors."
        )
        return notes


class InterHandProtocol(Protocol):
    """InterHand2.6M two-hand protocol (IntagHand scale alignment + the official variant).

    Args:
        units: report units for lengths ("mm" default).
        intaghand_root: root of the scale alignment: ``"mcp"`` (IntagHand, EANet, EHPE) or
            ``"wrist"`` (DIR's README numbers). The scale always uses the wrist→middle-MCP bone.
        faces: optional (F, 3) triangles of the predicted meshes, or a pair (right, left):
            enables the inter-penetration measure on interacting frames
            (:func:`handpose.metrics.penetration.interpenetration`), for the prediction and,
            as a reference, the ground truth (same faces).
        reprojection: compute ``mesh_reprojection_px`` when ``targets["K"]`` and vertices are
            given (``"auto"``), always (True: K is then required) or never (False).
    """

    name = "interhand"
    title = "InterHand2.6M"

    def __init__(
        self,
        units: str = "mm",
        intaghand_root: Literal["mcp", "wrist"] = "mcp",
        faces=None,
        reprojection: bool | Literal["auto"] = "auto",
    ) -> None:
        if intaghand_root not in ("mcp", "wrist"):
            raise HandposeError(f"intaghand_root must be 'mcp' or 'wrist', got {intaghand_root!r}.")
        if reprojection not in (True, False, "auto"):
            raise HandposeError(
                f"reprojection must be True, False or 'auto', got {reprojection!r}."
            )
        self.intaghand_root = intaghand_root
        self.faces = _check_faces(faces)
        self.reprojection = reprojection
        super().__init__(units)

    def _reset(self) -> None:
        self._sa = InterHandEvaluator(
            units="m", align="intaghand", intaghand_root=self.intaghand_root
        )
        self._rr = InterHandEvaluator(units="m", align="root", root=WRIST)
        self._stats = {k: _PointStats(freihand_thresholds()) for k in ("mpjpe", "rr_mpjpe")}
        self._pen = {f"{w}_{k}": _SampleMean() for w in ("pred", "gt") for k in _PEN_KEYS}
        self._reproj = _PointStats(None)
        self._reproj_used = False
        self._reproj_reason = "no intrinsics K in the targets"
        self._frames = {"sh": 0, "ih": 0}

    def _update(self, b: _Batch) -> None:
        hv, jv = b.hand_valid, b.joint_valid
        frame = hv.any(-1)
        self._frames["ih"] += int((frame & b.interacting).sum())
        self._frames["sh"] += int((frame & ~b.interacting).sum())
        kw = {"valid": jv, "interacting": b.interacting & frame}
        if self._mesh and b.pred_verts.shape[2] == b.gt_verts.shape[2]:
            kw.update(pred_verts=b.pred_verts, gt_verts=b.gt_verts, verts_valid=hv)
        elif self._mesh:
            raise HandposeError(
                "preds['vertices'] and targets['vertices'] must have the same number of "
                f"vertices for MPVPE, got {b.pred_verts.shape[2]} and {b.gt_verts.shape[2]}."
            )
        self._sa.update(b.pred_joints, b.gt_joints, **kw)
        self._rr.update(b.pred_joints, b.gt_joints, **kw)
        # Per-group errors and PCK on the same aligned joints (both hands pooled).
        r = MIDDLE_MCP if self.intaghand_root == "mcp" else WRIST
        sa = scale_align_intaghand(
            b.pred_joints, b.gt_joints, root=r, wrist=WRIST, middle_mcp=MIDDLE_MCP
        )
        ok = jv[..., [WRIST, MIDDLE_MCP]].all(-1, keepdim=True)
        self._stats["mpjpe"].add(
            (sa.pred_joints - sa.gt_joints).norm(dim=-1).reshape(-1, NUM_JOINTS),
            (jv & ok).reshape(-1, NUM_JOINTS),
        )
        root = slice(WRIST, WRIST + 1)
        rr = (b.pred_joints - b.pred_joints[..., root, :]) - (
            b.gt_joints - b.gt_joints[..., root, :]
        )
        self._stats["rr_mpjpe"].add(
            rr.norm(dim=-1).reshape(-1, NUM_JOINTS), (jv & jv[..., root]).reshape(-1, NUM_JOINTS)
        )
        if self._mesh:
            self._update_extras(b)

    def _update_extras(self, b: _Batch) -> None:
        hv = b.hand_valid
        use_k = self.reprojection is True or (self.reprojection == "auto" and b.K is not None)
        if use_k:
            if b.K is None:
                raise HandposeError("reprojection=True needs targets['K'] (N, 3, 3).")
            if b.pred_verts.shape[2] != b.gt_verts.shape[2]:
                raise HandposeError("mesh_reprojection_px needs the same mesh topology.")
            K = b.K[:, None].expand(-1, 2, 3, 3)
            err = reprojection_errors_px(
                b.pred_verts[hv], b.gt_verts[hv], K[hv], name="preds['vertices']"
            )
            self._reproj.add(err, None)
            self._reproj_used = True
        if self.faces is not None:
            both = hv.all(-1) & b.interacting
            if bool(both.any()):
                fr, fl = self.faces
                for who, verts in (("pred", b.pred_verts), ("gt", b.gt_verts)):
                    v = verts[both]
                    pen = interpenetration(v[:, 0], fr, v[:, 1], fl)
                    for k in _PEN_KEYS:
                        self._pen[f"{who}_{k}"].add(getattr(pen, k))

    def _collect(self, res: ProtocolResult) -> None:
        sa, rr = self._sa.compute(), self._rr.compute()
        mesh_reason = None if self._mesh else self._mesh_reason
        root = "middle MCP" if self.intaghand_root == "mcp" else "wrist"
        res.headline = ["mpjpe_sh", "mpjpe_ih", "mpjpe_all", "mpvpe_all", "mrrpe"]
        splits = {"sh": "single hand", "ih": "interacting", "all": "all"}
        for what in ("mpjpe", "mpvpe"):
            for s, name in splits.items():
                absent = mesh_reason if what == "mpvpe" else None
                self._put(
                    res,
                    f"{what}_{s}",
                    sa.get(f"{what}_{s}"),
                    f"{what.upper()} {name}",
                    absent=absent,
                )
        for h in ("right", "left"):
            self._put(res, f"mpjpe_{h}", sa[f"mpjpe_{h}"], f"MPJPE {h} hand")
        self._put(res, "mrrpe", sa["mrrpe"], "MRRPE")
        for what in ("mpjpe", "mpvpe"):
            for s, name in splits.items():
                absent = mesh_reason if what == "mpvpe" else None
                label = f"{what.upper()} {name}, root-relative (official)"
                self._put(res, f"rr_{what}_{s}", rr.get(f"{what}_{s}"), label, absent=absent)
        if self.reprojection is not False:
            absent = mesh_reason or (None if self._reproj_used else self._reproj_reason)
            self._put(
                res,
                "mesh_reprojection_px",
                self._reproj.mean(per_keypoint=False),
                "Mesh reprojection error (ours, not DIR's MIAA)",
                "px",
                absent,
            )
        if self.faces is not None:
            for who, suffix, tag in (("pred", "", "prediction"), ("gt", "_gt", "ground truth")):
                for k, (label, unit) in _PEN_LABELS.items():
                    self._put(
                        res,
                        f"penetration_{k}{suffix}",
                        self._pen[f"{who}_{k}"].value(),
                        f"{label} ({tag})",
                        unit,
                        mesh_reason,
                    )
        self._put_groups(res, "mpjpe", self._stats["mpjpe"])
        self._put_groups(res, "rr_mpjpe", self._stats["rr_mpjpe"])
        res.labels.setdefault("rr_mpjpe", "MPJPE root-relative (official)")
        res.labels["mpjpe"] = f"MPJPE (IntagHand, root {root})"
        for key in ("mpjpe", "rr_mpjpe"):
            self._put_pck(res, key, self._stats[key])
        res.counts = {
            "single-hand frames": self._frames["sh"],
            "interacting frames": self._frames["ih"],
        }
        res.notes = [
            f"Headline (EANet/EHPE/DIR): each hand rooted at the {root} and the prediction "
            "scaled by the ground-truth/predicted wrist→middle-MCP bone ratio; a hand counts "
            "only if its root and bone joints are valid.",
            "MPJPE: InterHand2.6M aggregation (per joint over its valid samples, then over the "
            "42 joints); SH / IH by the 'interacting' flag; 'all' concatenates both per joint. "
            "MPVPE: pooled over the vertices of valid hands. Per-hand MPJPE: pooled.",
            "rr_*: the official InterHand2.6M variant (root-relative at the wrist, no scaling).",
            "MRRPE: ‖(left root − right root) − the same for the ground truth‖ at the wrists, "
            "on interacting frames with both wrists valid.",
        ]
        if "mesh_reprojection_px" in res.metrics:
            res.notes.append(
                "mesh_reprojection_px: mean pixel distance between the projections (with the "
                "target K) of corresponding predicted and ground-truth vertices over valid hands; "
                "our definition (DIR's MIAA is unpublished)."
            )
        if self.faces is not None:
            res.notes.append(
                "Penetration on interacting frames with both hands: depth of each hand's "
                "vertices inside the other mesh (generalised winding number > 0.5, distance to "
                "the surface); max per frame, mean over all vertices, fraction inside; "
                "averaged over frames."
            )


_PEN_KEYS = ("max_depth", "mean_depth", "inside_fraction")
_PEN_LABELS = {
    "max_depth": ("Penetration depth, max", "len"),
    "mean_depth": ("Penetration depth, mean over vertices", "len"),
    "inside_fraction": ("Vertices inside the other hand", ""),
}


def _check_faces(faces) -> tuple[Tensor, Tensor] | None:
    if faces is None:
        return None
    if isinstance(faces, (tuple, list)) and len(faces) == 2 and not isinstance(faces[0], int):
        pair = faces
    else:
        pair = (faces, faces)
    out = []
    for f, side in zip(pair, ("right", "left")):
        t = torch.as_tensor(f.detach().cpu() if isinstance(f, Tensor) else f)
        if t.ndim != 2 or t.shape[1] != 3 or t.is_floating_point() or t.numel() == 0:
            raise HandposeError(
                f"faces ({side} hand) must be an integer array of shape (F, 3), got "
                f"{tuple(t.shape)} {t.dtype}."
            )
        out.append(t.to(torch.long))
    return out[0], out[1]


# ---------------------------------------------------------------------------------------------
# Registry and the one-call API

PROTOCOLS: dict[str, str] = {
    "freihand": "FreiHAND: PA-MPJPE, PA-MPVPE, F@5/15 mm, AUC (metrics.md §2)",
    "interhand": "InterHand2.6M: IntagHand-aligned and root-relative MPJPE/MPVPE per SH/IH/all, MRRPE",
    "dexycb": "DexYCB: absolute, root-relative and Procrustes MPJPE with AUC; MPVPE, PA-MPVPE",
    "hanco": "HanCo: FreiHAND conventions, root-relative and Procrustes MPJPE/MPVPE with AUC",
}


def get_protocol(name: str | Protocol, **options) -> Protocol:
    """A fresh protocol by name (options go to its constructor), or ``name`` itself.

    Example:
        >>> get_protocol("interhand", intaghand_root="wrist").title
        'InterHand2.6M'
    """
    if isinstance(name, Protocol):
        if options:
            raise HandposeError("options cannot be given with a protocol object.")
        return name
    if name not in PROTOCOLS:
        raise HandposeError(
            f"unknown evaluation protocol {name!r}; choose one of {sorted(PROTOCOLS)}."
        )
    if name == "interhand":
        return InterHandProtocol(**options)
    bad = set(options) - {"units"}
    if bad:
        raise HandposeError(f"protocol {name!r} takes no option(s) {sorted(bad)}.")
    return SingleHandProtocol(name, **options)


def _length(batch, name: str) -> int:
    j = _get(batch, "joints3d", name)
    if j is None or not hasattr(j, "shape") or len(j.shape) < 1:
        raise HandposeError(f"{name} has no 'joints3d' array (N, 2, 21, 3).")
    return int(j.shape[0])


def _slice(batch, s: slice):
    if isinstance(batch, Mapping):
        return {
            k: (v[s] if hasattr(v, "shape") and len(v.shape) >= 1 else v) for k, v in batch.items()
        }
    return {
        k: getattr(batch, k)[s]
        for k in ("joints3d", "vertices")
        if getattr(batch, k, None) is not None
    }


def evaluate_predictions(
    protocol: str | Protocol,
    preds,
    targets,
    *,
    batch_size: int = 512,
    progress: bool = False,
    **options,
) -> ProtocolResult:
    """Evaluate a whole set of predictions with a named protocol.

    Args:
        protocol: "freihand", "interhand", "dexycb", "hanco" or a :class:`Protocol` (reset
            first).
        preds: mapping (or model output) with ``joints3d`` (N, 2, 21, 3) and optionally
            ``vertices`` (N, 2, V, 3); or a sequence of such batches.
        targets: image-schema mapping with a leading axis N (see the module docstring); or a
            sequence of batches matching ``preds``.
        batch_size: whole arrays are evaluated in chunks of this many samples.
        progress: show a tqdm progress bar.
        **options: protocol options (``units``; for "interhand" also ``intaghand_root``,
            ``faces``, ``reprojection``).
    Returns:
        :class:`ProtocolResult`.

    Example:
        >>> gt = {"joints3d": np.random.rand(4, 2, 21, 3) + [0, 0, 0.5]}  # doctest: +SKIP
        >>> evaluate_predictions("freihand", gt, gt)["pa_mpjpe"]  # doctest: +SKIP
        0.0
    """
    proto = get_protocol(protocol, **options)
    proto.reset()
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise HandposeError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if isinstance(targets, (list, tuple)):
        if not isinstance(preds, (list, tuple)) or len(preds) != len(targets):
            raise HandposeError(
                "preds and targets must be sequences of batches of the same length."
            )
        pairs: Iterable = zip(preds, targets)
        total = len(targets)
    else:
        n = _length(targets, "targets")
        pairs = (
            (_slice(preds, slice(i, i + batch_size)), _slice(targets, slice(i, i + batch_size)))
            for i in range(0, n, batch_size)
        )
        total = math.ceil(n / batch_size)
        if _length(preds, "preds") != n:
            raise HandposeError(
                f"preds has {_length(preds, 'preds')} samples but targets has {n}; they must match."
            )
    if progress:
        from tqdm import tqdm

        pairs = tqdm(pairs, total=total, desc=f"eval {proto.name}", unit="batch")
    for p, t in pairs:
        proto.update(p, t)
    return proto.compute()
