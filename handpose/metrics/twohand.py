"""Two-hand metrics: MRRPE and the InterHand2.6M per-joint-then-mean aggregation.

InterHand2.6M official evaluation (../shared/reference/metrics.md §4):

- Each hand is made relative to its own root (the **wrist**: InterHand joints 20 and 41), for
  prediction and ground truth alike.
- A joint counts only if it is valid **and its hand's root is valid** (InterHand multiplies each
  hand's ``joint_valid`` by its root validity, so a hand with an invalid wrist is dropped).
- For each of the 2×21 joints the errors of the samples where it counts are averaged; the
  reported MPJPE is the mean of those per-joint means. Separate lists are kept for single-hand
  (SH) and interacting (IH) frames; "all" concatenates them per joint. A joint with no valid
  sample is **excluded** from the mean over joints (the original would produce NaN).
- MRRPE, on interacting frames with both roots valid:
  ``‖(p̂_left_root − p̂_right_root) − (p_left_root − p_right_root)‖``.

The IntagHand / EANet / EHPE / DIR protocol (§5) instead scale-aligns each hand with
:func:`handpose.geometry.scale_align_intaghand`; :class:`InterHandEvaluator` offers both with
``align="root"`` or ``align="intaghand"``.

Layout: two-hand tensors are (..., 2, J, 3) with hand 0 = right and hand 1 = left (InterHand's
order of joints 0–20 and 21–41), any per-hand joint order (OpenPose-21 in handpose, so the
default root is 0; InterHand's native order has its wrist at 20).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from handpose.errors import HandposeError
from handpose.geometry.procrustes import scale_align_intaghand
from handpose.metrics._common import (
    UNIT_SCALE,
    as_tensor,
    check_index,
    check_mask,
    check_pair,
    format_markdown,
)

__all__ = [
    "HANDS",
    "PerJointMean",
    "mrrpe",
    "per_joint_mean",
    "interhand_mpjpe",
    "InterHandEvaluator",
]

HANDS: tuple[str, str] = ("right", "left")


@dataclass(frozen=True)
class PerJointMean:
    """Per-joint-then-mean aggregate (InterHand2.6M).

    Attributes:
        mean: scalar, mean over the joints that have at least one valid sample (NaN if none).
        per_joint: (..., J) mean error of each joint over its valid samples (NaN if none).
        counts: (..., J) number of valid samples per joint.
    """

    mean: Tensor
    per_joint: Tensor
    counts: Tensor


def _from_sums(sums: Tensor, counts: Tensor) -> PerJointMean:
    has = counts > 0
    per_joint = torch.where(has, sums / counts.clamp_min(1), math.nan)
    mean = per_joint[has].mean() if bool(has.any()) else sums.new_tensor(math.nan)
    return PerJointMean(mean=mean, per_joint=per_joint, counts=counts)


def per_joint_mean(
    errors: Tensor, valid: Tensor | None = None, joint_dims: int = 1
) -> PerJointMean:
    """Average each joint over its valid samples, then average over joints with data.

    Args:
        errors: (..., *J) errors, metres; the last ``joint_dims`` dims index joints (e.g. 2
            for (N, 2, 21) two-hand errors), the others are samples.
        valid: optional bool mask of the same shape.
        joint_dims: number of trailing joint dims.
    Returns:
        :class:`PerJointMean`; joints with no valid sample are excluded from ``mean``.
    """
    e = as_tensor(errors, "errors")
    if e.ndim < joint_dims:
        raise HandposeError(f"errors must have at least {joint_dims} dims, got {e.ndim}.")
    mask = check_mask(valid, e.shape, "valid")
    sample_dims = tuple(range(e.ndim - joint_dims))
    if mask is None:
        mask = torch.ones_like(e, dtype=torch.bool)
    mask = mask.to(e.device)
    sums = torch.where(mask, e, 0.0).sum(sample_dims)
    counts = mask.sum(sample_dims)
    return _from_sums(sums, counts)


def mrrpe(
    pred_left_root: Tensor,
    pred_right_root: Tensor,
    gt_left_root: Tensor,
    gt_right_root: Tensor,
    valid: Tensor | None = None,
    reduction: Literal["mean", "none"] = "mean",
) -> Tensor:
    """Mean relative-root position error between the two hands.

    Args:
        pred_left_root, pred_right_root, gt_left_root, gt_right_root: (..., 3) metres.
        valid: optional (...) bool, e.g. interacting frames with both roots valid.
        reduction: ``"mean"`` (scalar over valid samples) or ``"none"`` ((...), NaN where
            invalid).
    Returns:
        ``‖(p̂_L − p̂_R) − (p_L − p_R)‖`` in metres.
    """
    pts = [as_tensor(x, n) for x, n in zip(
        (pred_left_root, pred_right_root, gt_left_root, gt_right_root),
        ("pred_left_root", "pred_right_root", "gt_left_root", "gt_right_root"),
    )]  # fmt: skip
    for x, n in zip(pts, ("pred_left_root", "pred_right_root", "gt_left_root", "gt_right_root")):
        if x.ndim < 1 or x.shape[-1] != 3:
            raise HandposeError(f"{n} must have shape (..., 3), got {tuple(x.shape)}.")
    pl, pr, gl, gr = pts
    err = ((pl - pr) - (gl - gr).to(pl)).norm(dim=-1)
    mask = check_mask(valid, err.shape, "valid")
    if reduction not in ("mean", "none"):
        raise HandposeError(f"reduction must be 'mean' or 'none', got {reduction!r}.")
    if reduction == "none":
        return err if mask is None else err.masked_fill(~mask, math.nan)
    if mask is None:
        return err.mean()
    return torch.where(mask, err, 0.0).sum() / mask.sum()


def _check_two_hands(pred, gt) -> tuple[Tensor, Tensor]:
    p, g = check_pair(pred, gt)
    for x, n in ((p, "pred"), (g, "gt")):
        if x.ndim < 3 or x.shape[-3] != 2:
            raise HandposeError(
                f"{n} must have shape (..., 2, J, 3) (right hand, left hand), got {tuple(x.shape)}."
            )
    return p, g


def _interhand_errors(p: Tensor, g: Tensor, mask: Tensor | None, root: int):
    """Root-relative per-joint errors (..., 2, J) and the root-validated mask."""
    pr, gr = p - p[..., root : root + 1, :], g - g[..., root : root + 1, :]
    err = (pr - gr).norm(dim=-1)
    if mask is None:
        mask = torch.ones_like(err, dtype=torch.bool)
    return err, mask & mask[..., root : root + 1]


def interhand_mpjpe(
    pred: Tensor,
    gt: Tensor,
    valid: Tensor | None = None,
    interacting: Tensor | None = None,
    root: int = 0,
) -> dict[str, PerJointMean]:
    """InterHand2.6M MPJPE with the official aggregation, split SH / IH / all.

    Args:
        pred: (N, 2, J, 3) metres (hand 0 right, 1 left).
        gt: (N, 2, J, 3) metres.
        valid: optional (N, 2, J) joint validity (``joint_valid``).
        interacting: (N,) bool, True for interacting-hand frames (IH), False for single-hand
            frames (SH). Default: all interacting.
        root: per-hand root joint index (0 = OpenPose wrist; 20 in InterHand's own order).
    Returns:
        ``{"sh": ..., "ih": ..., "all": ...}`` :class:`PerJointMean` over the 2·J joints
        (per_joint of shape (2, J)), errors in metres.
    """
    p, g = _check_two_hands(pred, gt)
    if p.ndim != 4:
        raise HandposeError(f"pred must have shape (N, 2, J, 3), got {tuple(p.shape)}.")
    root = check_index(root, p.shape[-2], "root")
    mask = check_mask(valid, p.shape[:-1], "valid")
    err, mask = _interhand_errors(p, g, mask, root)
    inter = _interacting(interacting, p.shape[0], p.device)
    ih = mask & inter[:, None, None]
    sh = mask & ~inter[:, None, None]
    return {
        "sh": per_joint_mean(err, sh, joint_dims=2),
        "ih": per_joint_mean(err, ih, joint_dims=2),
        "all": per_joint_mean(err, mask, joint_dims=2),
    }


def _interacting(interacting, n: int, device) -> Tensor:
    if interacting is None:
        return torch.ones(n, dtype=torch.bool, device=device)
    t = torch.as_tensor(interacting, device=device)
    if t.shape != (n,):
        raise HandposeError(f"interacting must have shape ({n},), got {tuple(t.shape)}.")
    return t != 0


class InterHandEvaluator:
    """Accumulate two-hand results over batches; InterHand2.6M aggregation.

    Args:
        units: report units, ``"mm"`` (default), ``"cm"`` or ``"m"``.
        root: per-hand root joint (0 = OpenPose wrist, the InterHand root). Also the root used
            for MRRPE and for rooting vertices.
        align: ``"root"`` (InterHand2.6M official: root-relative) or ``"intaghand"``
            (IntagHand / EANet / EHPE / DIR: root at ``intaghand_root`` and prediction scaled
            by the wrist→middle-MCP bone ratio).
        intaghand_root: ``"mcp"`` (IntagHand, EHPE) or ``"wrist"`` (DIR's option).
        wrist, middle_mcp: joint indices for the scale bone (OpenPose 0 and 9).

    Example:
        >>> ev = InterHandEvaluator()
        >>> gt = torch.randn(4, 2, 21, 3, dtype=torch.float64) * 0.05
        >>> ev.update(pred_joints=gt, gt_joints=gt, interacting=torch.tensor([1, 1, 0, 0]))
        >>> ev.compute()["mpjpe_all"]
        0.0
    """

    def __init__(
        self,
        units: str = "mm",
        root: int = 0,
        align: Literal["root", "intaghand"] = "root",
        intaghand_root: Literal["mcp", "wrist"] = "mcp",
        wrist: int = 0,
        middle_mcp: int = 9,
    ) -> None:
        if units not in UNIT_SCALE:
            raise HandposeError(f"units must be one of {tuple(UNIT_SCALE)}, got {units!r}.")
        if align not in ("root", "intaghand"):
            raise HandposeError(f"align must be 'root' or 'intaghand', got {align!r}.")
        if intaghand_root not in ("mcp", "wrist"):
            raise HandposeError(f"intaghand_root must be 'mcp' or 'wrist', got {intaghand_root!r}.")
        self.units, self.root, self.align = units, root, align
        self.intaghand_root, self.wrist, self.middle_mcp = intaghand_root, wrist, middle_mcp
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        self._joint = {k: None for k in ("sh", "ih")}  # (sums (2, J), counts (2, J))
        self._vert = {k: [0.0, 0] for k in ("sh", "ih")}
        self._mrrpe = [0.0, 0]
        self._hand = {h: [0.0, 0] for h in HANDS}
        self._frames = {"sh": 0, "ih": 0}
        self._has_verts = False

    def _aligned(self, p: Tensor, g: Tensor, pv, gv):
        """Per-hand aligned joints (and verts) + the joints that the alignment needs valid."""
        J = p.shape[-2]
        root = check_index(self.root, J, "root")
        if self.align == "root":
            pr, gr = p[..., root : root + 1, :], g[..., root : root + 1, :]
            out = (p - pr, g - gr, None if pv is None else pv - pr, None if gv is None else gv - gr)
            return out, (root,)
        a = scale_align_intaghand(
            p, g, pred_verts=pv, gt_verts=gv, root=self.intaghand_root,
            wrist=self.wrist, middle_mcp=self.middle_mcp,
        )  # fmt: skip
        r = self.wrist if self.intaghand_root == "wrist" else self.middle_mcp
        needed = tuple(sorted({check_index(r, J, "root"), self.wrist % J, self.middle_mcp % J}))
        return (a.pred_joints, a.gt_joints, a.pred_verts, a.gt_verts), needed

    @torch.no_grad()
    def update(
        self,
        pred_joints: Tensor,
        gt_joints: Tensor,
        valid: Tensor | None = None,
        interacting: Tensor | None = None,
        pred_verts: Tensor | None = None,
        gt_verts: Tensor | None = None,
        verts_valid: Tensor | None = None,
    ) -> None:
        """Add a batch.

        Args:
            pred_joints, gt_joints: (N, 2, J, 3) metres (hand 0 right, 1 left).
            valid: optional (N, 2, J) joint validity.
            interacting: optional (N,) bool (default all True).
            pred_verts, gt_verts: optional (N, 2, V, 3) metres, for MPVPE.
            verts_valid: optional (N, 2) bool: the hand has a ground-truth mesh.
        """
        p, g = _check_two_hands(pred_joints, gt_joints)
        if p.ndim != 4:
            raise HandposeError(f"pred_joints must be (N, 2, J, 3), got {tuple(p.shape)}.")
        N = p.shape[0]
        mask = check_mask(valid, p.shape[:-1], "valid")
        if mask is None:
            mask = torch.ones(p.shape[:-1], dtype=torch.bool, device=p.device)
        mask = mask.to(p.device)
        inter = _interacting(interacting, N, p.device)
        pv = gv = None
        if (pred_verts is None) != (gt_verts is None):
            raise HandposeError("pred_verts and gt_verts must be given together.")
        if pred_verts is not None:
            pv, gv = check_pair(pred_verts, gt_verts, ("pred_verts", "gt_verts"))
            if pv.shape[:2] != (N, 2) or gv.shape[:2] != (N, 2):
                raise HandposeError(
                    f"pred_verts and gt_verts must be (N, 2, V, 3) with N = {N}, got "
                    f"{tuple(pv.shape)} and {tuple(gv.shape)}."
                )
            pv, gv = pv.to(p), gv.to(p)
            self._has_verts = True
        (pa, ga, pva, gva), needed = self._aligned(p, g, pv, gv)
        hand_ok = mask[..., list(needed)].all(-1)  # (N, 2): root (and bone) joints valid
        jmask = mask & hand_ok[..., None]
        err = (pa - ga).norm(dim=-1).to(torch.float64)  # (N, 2, J)
        for split, sel in (("sh", ~inter), ("ih", inter)):
            m = jmask & sel[:, None, None]
            sums = torch.where(m, err, 0.0).sum(0).cpu()
            counts = m.sum(0).cpu()
            prev = self._joint[split]
            self._joint[split] = (
                (sums, counts) if prev is None else (prev[0] + sums, prev[1] + counts)
            )
            self._frames[split] += int(sel.sum())
            if pva is not None:
                vm = hand_ok & sel[:, None]
                if verts_valid is not None:
                    vm = vm & check_mask(verts_valid, (N, 2), "verts_valid").to(p.device)
                verr = (pva - gva).norm(dim=-1).to(torch.float64)  # (N, 2, V)
                self._vert[split][0] += float(verr[vm].sum())
                self._vert[split][1] += int(vm.sum()) * verr.shape[-1]
        for h, name in enumerate(HANDS):
            m = jmask[:, h]
            self._hand[name][0] += float(err[:, h][m].sum())
            self._hand[name][1] += int(m.sum())
        # MRRPE on interacting frames with both roots valid (unaligned positions).
        root = check_index(self.root, p.shape[-2], "root")
        both = inter & mask[:, 0, root] & mask[:, 1, root]
        e = mrrpe(p[:, 1, root], p[:, 0, root], g[:, 1, root], g[:, 0, root], reduction="none")
        self._mrrpe[0] += float(e.to(torch.float64)[both].sum())
        self._mrrpe[1] += int(both.sum())

    def compute(self) -> dict[str, float]:
        """Results in ``units``: mpjpe_sh / mpjpe_ih / mpjpe_all (per-joint-then-mean),
        mpjpe_right / mpjpe_left (pooled), mrrpe, and mpvpe_sh / mpvpe_ih / mpvpe_all when
        vertices were given. NaN where nothing was valid."""
        k = UNIT_SCALE[self.units]
        out: dict[str, float] = {}
        parts = {s: v for s, v in self._joint.items() if v is not None}
        for split in ("sh", "ih"):
            if split in parts:
                out[f"mpjpe_{split}"] = float(_from_sums(*parts[split]).mean) * k
            else:
                out[f"mpjpe_{split}"] = math.nan
        if parts:
            sums = sum(v[0] for v in parts.values())
            counts = sum(v[1] for v in parts.values())
            out["mpjpe_all"] = float(_from_sums(sums, counts).mean) * k
        else:
            out["mpjpe_all"] = math.nan
        for h in HANDS:
            s, c = self._hand[h]
            out[f"mpjpe_{h}"] = s / c * k if c else math.nan
        out["mrrpe"] = self._mrrpe[0] / self._mrrpe[1] * k if self._mrrpe[1] else math.nan
        if self._has_verts:
            for split in ("sh", "ih"):
                s, c = self._vert[split]
                out[f"mpvpe_{split}"] = s / c * k if c else math.nan
            s = self._vert["sh"][0] + self._vert["ih"][0]
            c = self._vert["sh"][1] + self._vert["ih"][1]
            out["mpvpe_all"] = s / c * k if c else math.nan
        return out

    def to_markdown(self, title: str | None = None) -> str:
        """The results as a markdown table (metric | value | unit)."""
        res = self.compute()
        align = (
            "root-relative (InterHand2.6M)"
            if self.align == "root"
            else f"IntagHand scale-aligned, root = {self.intaghand_root}"
        )
        rows = [(_LABELS.get(k, k), v, self.units) for k, v in res.items()]
        note = f"{self._frames['sh']} single-hand and {self._frames['ih']} interacting frames; {align}."
        return format_markdown(rows, title=title, note=note)


_LABELS = {
    "mpjpe_sh": "MPJPE single hand",
    "mpjpe_ih": "MPJPE interacting",
    "mpjpe_all": "MPJPE all",
    "mpjpe_right": "MPJPE right hand",
    "mpjpe_left": "MPJPE left hand",
    "mrrpe": "MRRPE",
    "mpvpe_sh": "MPVPE single hand",
    "mpvpe_ih": "MPVPE interacting",
    "mpvpe_all": "MPVPE all",
}
