"""One accumulator so that every estimator is evaluated the same way.

>>> ev = Evaluator(metrics=["mpjpe", "pa_mpjpe", "auc"], units="mm", root=0)
>>> for pred, gt in batches:                       # doctest: +SKIP
...     ev.update(pred_joints=pred, gt_joints=gt)
>>> ev.compute()                                   # doctest: +SKIP
{'mpjpe': 12.3, 'pa_mpjpe': 6.1, 'auc_mpjpe': 0.77, 'auc_pa_mpjpe': 0.88}
>>> print(ev.to_markdown("FreiHAND test"))         # doctest: +SKIP

Metric names (inputs in metres; lengths reported in ``units``):

=============== =========================================================================
``mpjpe``       joint error, root-relative at ``root`` (absolute if ``root=None``)
``pa_mpjpe``    after per-sample Procrustes (``procrustes="similarity"`` or ``"freihand"``)
``sa_mpjpe``    IntagHand scale-aligned (root ``intaghand_root``, wrist→middle-MCP bone)
``st_mpjpe``    HO3D scale + translation aligned (``align_sc_tr``)
``mpvpe`` …     the same four for vertices (``pa_mpvpe`` fits on the vertices themselves;
                ``mpvpe`` subtracts each mesh's root *joint*; ``sa``/``st`` reuse the joint
                transform)
``f_score``     FreiHAND F-score at ``fscore_thresholds`` on the (root-relative) vertices
``pa_f_score``  F-score on Procrustes-aligned vertices
``auc``         FreiHAND AUC (0–50 mm, 100 steps, ``≤``, per keypoint) of each error above
``groups``      MPJPE per joint group (wrist, mcp, pip, dip, tip of OpenPose-21)
``accel_error`` acceleration error on sequences (..., T, J, 3); per frame² or, with ``fps``, s²
``jitter``      jerk of the predicted (``jitter``) and ground-truth (``jitter_gt``) sequences
=============== =========================================================================

Sums and counts are accumulated in float64, so the result over many batches equals the result
over their concatenation: a mean over all valid (sample, joint) pairs for errors, the FreiHAND
per-keypoint AUC, and a mean over samples for F-scores. Definitions and sources are in the
modules that implement them (:mod:`~handpose.metrics.joints`, :mod:`~handpose.metrics.mesh`,
:mod:`~handpose.metrics.auc`, :mod:`~handpose.metrics.sequence`, :mod:`~handpose.metrics.groups`)
and in ../shared/reference/metrics.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor

from handpose.errors import HandposeError
from handpose.geometry.procrustes import (
    procrustes_align,
    procrustes_residuals,
    scale_align_ho3d,
    scale_align_intaghand,
)
from handpose.handmodel.conventions import OPENPOSE_JOINT_GROUPS
from handpose.metrics._common import (
    UNIT_SCALE,
    check_finite_points,
    check_index,
    check_mask,
    check_pair,
    format_markdown,
)
from handpose.metrics.auc import auc_from_curve, freihand_thresholds, pck_counts
from handpose.metrics.mesh import FREIHAND_FSCORE_THRESHOLDS, f_score
from handpose.metrics.sequence import second_difference, third_difference, window_mask

__all__ = ["Evaluator", "METRICS"]

_JOINT_ERRORS = ("mpjpe", "pa_mpjpe", "sa_mpjpe", "st_mpjpe")
_VERT_ERRORS = ("mpvpe", "pa_mpvpe", "sa_mpvpe", "st_mpvpe")
METRICS: tuple[str, ...] = _JOINT_ERRORS + _VERT_ERRORS + (
    "f_score",
    "pa_f_score",
    "auc",
    "groups",
    "accel_error",
    "jitter",
)  # fmt: skip
_NEEDS_JOINTS = set(_JOINT_ERRORS) | {"groups", "accel_error", "jitter", "sa_mpvpe", "st_mpvpe"}
_NEEDS_VERTS = set(_VERT_ERRORS) | {"f_score", "pa_f_score"}

_LABELS = {
    "mpjpe": "MPJPE",
    "pa_mpjpe": "PA-MPJPE",
    "sa_mpjpe": "SA-MPJPE (IntagHand scale-aligned)",
    "st_mpjpe": "ST-MPJPE (HO3D scale + translation)",
    "mpvpe": "MPVPE",
    "pa_mpvpe": "PA-MPVPE",
    "sa_mpvpe": "SA-MPVPE (IntagHand scale-aligned)",
    "st_mpvpe": "ST-MPVPE (HO3D scale + translation)",
    "accel_error": "Acceleration error",
    "jitter": "Jitter (prediction)",
    "jitter_gt": "Jitter (ground truth)",
}


def _mm(th: float) -> str:
    return f"{th * 1000:g}mm"


class Evaluator:
    """Accumulate hand pose/mesh metrics over batches and report them as a dict or a table.

    Args:
        metrics: names from :data:`METRICS` (see the module docstring).
        units: ``"mm"`` (default), ``"cm"`` or ``"m"`` for reported lengths.
        root: root joint for root-relative ``mpjpe``/``mpvpe``/``f_score``/``groups`` and the
            sequence metrics (OpenPose wrist 0 by default); None for absolute coordinates
            (FreiHAND's unaligned numbers). A joint counts only if it and the root are valid.
        procrustes: ``"similarity"`` (det = +1, default) or ``"freihand"`` (reflections
            allowed; the official FreiHAND/HO3D/DexYCB protocol).
        fscore_thresholds: metres (default 5 mm and 15 mm).
        auc_thresholds: (T,) metres; default FreiHAND's ``linspace(0, 0.05, 100)``.
        auc_inclusive: ``≤`` (FreiHAND, default) or ``<``.
        fps: frame rate for ``accel_error``/``jitter`` (per second instead of per frame).
        groups: joint groups for ``groups`` (default OpenPose-21 wrist/mcp/pip/dip/tip).
        intaghand_root: ``"mcp"`` or ``"wrist"`` for the ``sa_*`` metrics.
        wrist, middle_mcp: joint indices of the scale bone (OpenPose 0 and 9).
        nn_method: nearest-neighbour search for F-scores (``"auto"``, ``"brute"``, ``"kdtree"``).
    """

    def __init__(
        self,
        metrics: Iterable[str] = ("mpjpe", "pa_mpjpe"),
        *,
        units: str = "mm",
        root: int | None = 0,
        procrustes: str = "similarity",
        fscore_thresholds: Sequence[float] = FREIHAND_FSCORE_THRESHOLDS,
        auc_thresholds: Tensor | Sequence[float] | None = None,
        auc_inclusive: bool = True,
        fps: float | None = None,
        groups: Mapping[str, Sequence[int]] = OPENPOSE_JOINT_GROUPS,
        intaghand_root: str = "mcp",
        wrist: int = 0,
        middle_mcp: int = 9,
        nn_method: str = "auto",
    ) -> None:
        if isinstance(metrics, str):
            metrics = [metrics]
        self.metrics = tuple(dict.fromkeys(metrics))
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown:
            raise HandposeError(f"unknown metric(s) {unknown}; choose from {list(METRICS)}.")
        if not self.metrics:
            raise HandposeError("metrics must name at least one metric.")
        if units not in UNIT_SCALE:
            raise HandposeError(f"units must be one of {tuple(UNIT_SCALE)}, got {units!r}.")
        if procrustes not in ("similarity", "freihand"):
            raise HandposeError(
                f"procrustes must be 'similarity' or 'freihand', got {procrustes!r}."
            )
        if intaghand_root not in ("mcp", "wrist"):
            raise HandposeError(f"intaghand_root must be 'mcp' or 'wrist', got {intaghand_root!r}.")
        if fps is not None and (isinstance(fps, bool) or not fps > 0):
            raise HandposeError(f"fps must be a positive number, got {fps!r}.")
        if root is not None and (isinstance(root, bool) or not isinstance(root, int)):
            raise HandposeError(f"root must be a joint index or None, got {root!r}.")
        self.units, self.root, self.procrustes = units, root, procrustes
        self.fscore_thresholds = tuple(float(t) for t in fscore_thresholds)
        if not self.fscore_thresholds or min(self.fscore_thresholds) <= 0:
            raise HandposeError("fscore_thresholds must be positive distances in metres.")
        th = freihand_thresholds() if auc_thresholds is None else auc_thresholds
        self.auc_thresholds = torch.as_tensor(th, dtype=torch.float64).reshape(-1)
        if self.auc_thresholds.numel() < 2 or not bool(
            (self.auc_thresholds[1:] > self.auc_thresholds[:-1]).all()
        ):
            raise HandposeError("auc_thresholds must be at least two increasing distances.")
        self.auc_inclusive = bool(auc_inclusive)
        self.fps = None if fps is None else float(fps)
        self.groups = {k: tuple(v) for k, v in groups.items()}
        self.intaghand_root, self.wrist, self.middle_mcp = intaghand_root, wrist, middle_mcp
        self.nn_method = nn_method
        self.reset()

    # ----------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._pck: dict[str, tuple[Tensor, Tensor]] = {}
        self.num_samples = 0

    def _add(self, key: str, errors: Tensor, mask: Tensor | None) -> None:
        """Accumulate the sum and count of valid (..., K) errors (and AUC counts if asked)."""
        e = errors.detach().to(torch.float64)
        if mask is None:
            s, c = float(e.sum()), e.numel()
        else:
            mask = mask.expand(e.shape)
            s, c = float(e[mask].sum()), int(mask.sum())
        self._sums[key] = self._sums.get(key, 0.0) + s
        self._counts[key] = self._counts.get(key, 0) + c
        if "auc" in self.metrics and key in _JOINT_ERRORS + _VERT_ERRORS:
            th = self.auc_thresholds.to(e.device)
            hits, counts = pck_counts(e, th, mask, self.auc_inclusive)
            prev = self._pck.get(key)
            hits, counts = hits.cpu(), counts.cpu()
            self._pck[key] = (hits, counts) if prev is None else (prev[0] + hits, prev[1] + counts)

    def _add_mean(self, key: str, values: Tensor) -> None:
        """Accumulate a per-sample quantity (F-score), skipping NaN samples."""
        v = values.detach().to(torch.float64).reshape(-1)
        ok = ~v.isnan()
        self._sums[key] = self._sums.get(key, 0.0) + float(v[ok].sum())
        self._counts[key] = self._counts.get(key, 0) + int(ok.sum())

    @torch.no_grad()
    def update(
        self,
        pred_joints: Tensor | None = None,
        gt_joints: Tensor | None = None,
        pred_verts: Tensor | None = None,
        gt_verts: Tensor | None = None,
        valid: Tensor | None = None,
        verts_valid: Tensor | None = None,
    ) -> None:
        """Add a batch.

        A NaN or infinite coordinate at a valid point raises :class:`HandposeError` (invalid
        points may hold anything).

        Args:
            pred_joints, gt_joints: (..., J, 3) metres; (..., T, J, 3) for sequence metrics.
            pred_verts, gt_verts: (..., V, 3) metres.
            valid: optional (..., J) bool joint validity.
            verts_valid: optional (..., V) bool vertex validity.
        """
        wants_j = any(m in _NEEDS_JOINTS for m in self.metrics) or (
            self.root is not None and any(m in ("mpvpe", "f_score") for m in self.metrics)
        )
        wants_v = any(m in _NEEDS_VERTS for m in self.metrics)
        pj = gj = pv = gv = None
        jmask = vmask = None
        if wants_j:
            if pred_joints is None or gt_joints is None:
                raise HandposeError(f"metrics {list(self.metrics)} need pred_joints and gt_joints.")
            pj, gj = check_pair(pred_joints, gt_joints, ("pred_joints", "gt_joints"))
            shape = torch.broadcast_shapes(pj.shape, gj.shape)
            pj, gj = pj.expand(shape), gj.expand(shape)
            jmask = check_mask(valid, shape[:-1], "valid")
            jmask = None if jmask is None else jmask.to(pj.device)
            check_finite_points(pj, jmask, "pred_joints")
            check_finite_points(gj, jmask, "gt_joints")
        if wants_v:
            if pred_verts is None or gt_verts is None:
                raise HandposeError(f"metrics {list(self.metrics)} need pred_verts and gt_verts.")
            pv, gv = check_pair(pred_verts, gt_verts, ("pred_verts", "gt_verts"))
            shape = torch.broadcast_shapes(pv.shape, gv.shape)
            pv, gv = pv.expand(shape), gv.expand(shape)
            vmask = check_mask(verts_valid, shape[:-1], "verts_valid")
            vmask = None if vmask is None else vmask.to(pv.device)
            check_finite_points(pv, vmask, "pred_verts")
            check_finite_points(gv, vmask, "gt_verts")
            if pj is not None and pj.shape[:-2] != pv.shape[:-2]:
                raise HandposeError(
                    f"joints {tuple(pj.shape)} and vertices {tuple(pv.shape)} must share their "
                    "batch dims."
                )
        batch = (pj if pj is not None else pv).shape[:-2]
        self.num_samples += math.prod(batch)
        J = None if pj is None else pj.shape[-2]
        root = None if self.root is None or J is None else check_index(self.root, J, "root")

        def sample_ok(idx: Sequence[int]) -> Tensor | None:
            """(..., 1) True where all joints in idx are valid (None: no joint mask)."""
            if jmask is None:
                return None
            return jmask[..., list(idx)].all(-1, keepdim=True)

        def both(a: Tensor | None, b: Tensor | None) -> Tensor | None:
            if a is None:
                return b
            if b is None:
                return a
            return a & b

        m = self.metrics
        # --- joints
        if "mpjpe" in m or "groups" in m:
            if root is None:
                p, g, mk = pj, gj, jmask
            else:
                p, g = pj - pj[..., root : root + 1, :], gj - gj[..., root : root + 1, :]
                mk = both(jmask, sample_ok((root,)))
            err = (p - g).norm(dim=-1)
            if "mpjpe" in m:
                self._add("mpjpe", err, mk)
            if "groups" in m:
                for name, idx in self.groups.items():
                    if any(not 0 <= i < J for i in idx):
                        raise HandposeError(
                            f"joint group {name!r} indexes joints outside [0, {J})."
                        )
                    sel = list(idx)
                    self._add(
                        f"mpjpe_{name}",
                        err[..., sel],
                        None if mk is None else mk.expand(err.shape)[..., sel],
                    )
        if "pa_mpjpe" in m:
            res = procrustes_residuals(pj, gj, mode=self.procrustes, valid=jmask)
            self._add("pa_mpjpe", res, jmask)
        sa = st = None
        if "sa_mpjpe" in m or "sa_mpvpe" in m:
            sa = scale_align_intaghand(
                pj, gj, pred_verts=pv if "sa_mpvpe" in m else None,
                gt_verts=gv if "sa_mpvpe" in m else None, root=self.intaghand_root,
                wrist=self.wrist, middle_mcp=self.middle_mcp,
            )  # fmt: skip
            r = self.middle_mcp if self.intaghand_root == "mcp" else self.wrist
            sa_ok = sample_ok((r, self.wrist, self.middle_mcp))
            if "sa_mpjpe" in m:
                self._add(
                    "sa_mpjpe", (sa.pred_joints - sa.gt_joints).norm(dim=-1), both(jmask, sa_ok)
                )
            if "sa_mpvpe" in m:
                self._add(
                    "sa_mpvpe", (sa.pred_verts - sa.gt_verts).norm(dim=-1), both(vmask, sa_ok)
                )
        if "st_mpjpe" in m or "st_mpvpe" in m:
            st = scale_align_ho3d(
                pj, gj, pred_verts=pv if "st_mpvpe" in m else None,
                wrist=self.wrist, middle_mcp=self.middle_mcp,
            )  # fmt: skip
            st_ok = sample_ok((self.wrist, self.middle_mcp))
            if "st_mpjpe" in m:
                self._add("st_mpjpe", (st.pred_joints - gj).norm(dim=-1), both(jmask, st_ok))
            if "st_mpvpe" in m:
                self._add("st_mpvpe", (st.pred_verts - gv).norm(dim=-1), both(vmask, st_ok))
        # --- vertices
        if "mpvpe" in m or "f_score" in m:
            if root is None:
                p, g, mk = pv, gv, vmask
            else:
                p = pv - pj[..., root : root + 1, :]
                g = gv - gj[..., root : root + 1, :]
                mk = both(vmask, sample_ok((root,)))
            if "mpvpe" in m:
                self._add("mpvpe", (p - g).norm(dim=-1), mk)
            if "f_score" in m:
                self._add_fscore("", p, g, None if mk is None else mk.expand(p.shape[:-1]))
        if "pa_mpvpe" in m and "pa_f_score" not in m:
            res = procrustes_residuals(pv, gv, mode=self.procrustes, valid=vmask)
            self._add("pa_mpvpe", res, vmask)
        elif "pa_f_score" in m:  # the F-score needs the aligned vertices themselves
            a = procrustes_align(pv, gv, mode=self.procrustes, valid=vmask)
            if "pa_mpvpe" in m:
                self._add("pa_mpvpe", (a - gv).norm(dim=-1), vmask)
            self._add_fscore("pa_", a, gv, vmask)
        # --- sequences
        if "accel_error" in m or "jitter" in m:
            if pj.ndim < 4 or pj.shape[-3] < (4 if "jitter" in m else 3):
                raise HandposeError(
                    "accel_error/jitter need sequences (..., T, J, 3) with T ≥ 3 (4 for jitter), "
                    f"got {tuple(pj.shape)}."
                )
            if root is None:
                p, g, mk = pj, gj, jmask
            else:
                p, g = pj - pj[..., root : root + 1, :], gj - gj[..., root : root + 1, :]
                mk = both(jmask, sample_ok((root,)))
            mk = None if mk is None else mk.expand(p.shape[:-1])
            if "accel_error" in m:
                err = (second_difference(p) - second_difference(g)).norm(dim=-1)
                self._add("accel_error", err * self._fps_scale(2), window_mask(mk, 3))
            if "jitter" in m:
                wm = window_mask(mk, 4)
                self._add("jitter", third_difference(p).norm(dim=-1) * self._fps_scale(3), wm)
                self._add("jitter_gt", third_difference(g).norm(dim=-1) * self._fps_scale(3), wm)

    def _fps_scale(self, power: int) -> float:
        return 1.0 if self.fps is None else self.fps**power

    def _add_fscore(self, prefix: str, p: Tensor, g: Tensor, mask: Tensor | None) -> None:
        fs = f_score(
            p, g, self.fscore_thresholds, pred_valid=mask, gt_valid=mask, method=self.nn_method
        )
        for i, th in enumerate(self.fscore_thresholds):
            self._add_mean(f"{prefix}f@{_mm(th)}", fs.f[..., i])

    # ----------------------------------------------------------------------------------------

    def _keys(self) -> list[str]:
        """Result keys in report order."""
        keys: list[str] = []
        errs = [k for k in _JOINT_ERRORS + _VERT_ERRORS if k in self.metrics]
        keys += errs
        if "groups" in self.metrics:
            keys += [f"mpjpe_{g}" for g in self.groups]
        for prefix, name in (("", "f_score"), ("pa_", "pa_f_score")):
            if name in self.metrics:
                keys += [f"{prefix}f@{_mm(th)}" for th in self.fscore_thresholds]
        if "auc" in self.metrics:
            keys += [f"auc_{k}" for k in errs]
        if "accel_error" in self.metrics:
            keys.append("accel_error")
        if "jitter" in self.metrics:
            keys += ["jitter", "jitter_gt"]
        return keys

    def unit_of(self, key: str) -> str:
        """The unit of a result key ("" for F-scores and AUCs)."""
        if key.startswith(("auc_", "f@", "pa_f@")):
            return ""
        time = "frame" if self.fps is None else "s"
        if key == "accel_error":
            return f"{self.units}/{time}²"
        if key.startswith("jitter"):
            return f"{self.units}/{time}³"
        return self.units

    def compute(self) -> dict[str, float]:
        """The accumulated results: lengths in ``units``, F-scores and AUCs unitless.

        NaN marks a metric with nothing valid to average (e.g. no batch yet).
        """
        k = UNIT_SCALE[self.units]
        out: dict[str, float] = {}
        for key in self._keys():
            if key.startswith("auc_"):
                src = key[4:]
                if src in self._pck:
                    hits, counts = self._pck[src]
                    pck = hits.to(torch.float64) / counts.clamp_min(1)[:, None]
                    out[key] = float(auc_from_curve(pck, self.auc_thresholds, counts))
                else:
                    out[key] = math.nan
                continue
            c = self._counts.get(key, 0)
            value = self._sums.get(key, 0.0) / c if c else math.nan
            out[key] = value if self.unit_of(key) == "" else value * k
        return out

    def _label(self, key: str) -> str:
        if key in _LABELS:
            return _LABELS[key]
        if key.startswith("mpjpe_"):
            return f"MPJPE {key[6:]}"
        if key.startswith("auc_"):
            lo, hi = float(self.auc_thresholds[0]), float(self.auc_thresholds[-1])
            return f"AUC {_LABELS[key[4:]].split(' (')[0]} ({lo * 1000:g}–{hi * 1000:g} mm)"
        if key.startswith("pa_f@"):
            return f"PA-F@{key[5:]}"
        if key.startswith("f@"):
            return f"F@{key[2:]}"
        return key

    def to_markdown(self, title: str | None = None) -> str:
        """The results as a ``| metric | value | unit |`` markdown table with a protocol note."""
        rows = [(self._label(k), v, self.unit_of(k)) for k, v in self.compute().items()]
        root = "absolute coordinates" if self.root is None else f"root joint {self.root}"
        parts = [f"{self.num_samples} samples", root, f"Procrustes: {self.procrustes}"]
        if "auc" in self.metrics:
            n = self.auc_thresholds.numel()
            op = "≤" if self.auc_inclusive else "<"
            parts.append(f"AUC: {n} thresholds, PCK with {op}, per keypoint")
        if "f_score" in self.metrics or "pa_f_score" in self.metrics:
            parts.append("F-score: nearest neighbours, strict <")
        if "sa_mpjpe" in self.metrics or "sa_mpvpe" in self.metrics:
            parts.append(f"IntagHand root: {self.intaghand_root}")
        return format_markdown(rows, title=title, note="; ".join(parts) + ".")
