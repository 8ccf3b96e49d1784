"""Mesh errors: MPVPE, PA-MPVPE and the FreiHAND F-score.

Definitions (../shared/reference/metrics.md §1, §2):

- MPVPE = mean over valid vertices and samples of ``‖v̂ − v‖₂`` (778 MANO vertices), optionally
  after subtracting a root point from each mesh (e.g. each hand's root joint).
- PA-MPVPE: the same after a Procrustes alignment fitted **on the vertices themselves**, as
  FreiHAND aligns joints and vertices separately.
- F-score at a threshold ``th`` (FreiHAND ``calculate_fscore``): nearest-neighbour distances
  from each predicted vertex to the ground-truth set and from each ground-truth vertex to the
  predicted set, compared with a **strict** ``<``; precision and recall are the fractions
  below ``th``; ``F = 2PR/(P + R)`` and ``F = 0`` when ``P + R = 0``. FreiHAND's code calls the
  two fractions the other way round; F is symmetric, so the value is the same. The default
  thresholds are 5 mm and 15 mm.

Nearest neighbours are exact. On CUDA (and for small sets) they come from a chunked batched
``cdist``; on CPU, for mesh-sized sets, a per-sample k-d tree (scipy) is faster than any
brute-force search. Either way the returned distance is recomputed in torch from the two
points, so it is exact and differentiable with respect to the point positions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from handpose.errors import HandposeError
from handpose.geometry.procrustes import ProcrustesMode
from handpose.metrics._common import (
    Reduction,
    check_mask,
    check_pair,
    check_points,
    check_reduction,
    mask_shape,
    reduce_errors,
)
from handpose.metrics.joints import pa_mpjpe

__all__ = [
    "FREIHAND_FSCORE_THRESHOLDS",
    "FScore",
    "NearestNeighbors",
    "mpvpe",
    "pa_mpvpe",
    "nearest_neighbor_distances",
    "f_score",
]

FREIHAND_FSCORE_THRESHOLDS: tuple[float, ...] = (0.005, 0.015)  # metres (5 mm, 15 mm)

NNMethod = Literal["auto", "brute", "kdtree"]
# "auto" uses the k-d tree on CPU once N·M reaches this (below, brute force is cheap).
_KDTREE_MIN_PAIRS = 256 * 256
# Brute-force search processes this many bytes of distance matrix at a time.
_CHUNK_BYTES = 64 * 2**20


def mpvpe(
    pred: Tensor,
    gt: Tensor,
    valid: Tensor | None = None,
    pred_root: Tensor | None = None,
    gt_root: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """Mean per-vertex position error.

    Args:
        pred: (..., V, 3) predicted vertices, metres.
        gt: (..., V, 3) ground-truth vertices, metres.
        valid: optional (..., V) bool mask.
        pred_root, gt_root: optional (..., 3) points subtracted from each mesh first (e.g.
            ``pred_joints[..., 0, :]`` for wrist-relative vertices). Give both or neither.
        reduction: ``"mean"``, ``"per_sample"`` or ``"none"`` (see :func:`~handpose.metrics.mpjpe`).
    Returns:
        Errors in metres.
    """
    check_reduction(reduction)
    p, g = check_pair(pred, gt)
    if (pred_root is None) != (gt_root is None):
        raise HandposeError("pred_root and gt_root must be given together.")
    if pred_root is not None:
        pr = torch.as_tensor(pred_root, dtype=p.dtype, device=p.device)
        gr = torch.as_tensor(gt_root, dtype=g.dtype, device=g.device)
        if pr.shape[-1:] != (3,) or gr.shape[-1:] != (3,):
            raise HandposeError(
                f"pred_root and gt_root must have shape (..., 3), got {tuple(pr.shape)} and "
                f"{tuple(gr.shape)}."
            )
        p, g = p - pr[..., None, :], g - gr[..., None, :]
    mask = check_mask(valid, mask_shape(p, g), "valid")
    return reduce_errors((p - g).norm(dim=-1), mask, reduction)


def pa_mpvpe(
    pred: Tensor,
    gt: Tensor,
    valid: Tensor | None = None,
    mode: ProcrustesMode = "similarity",
    reduction: Reduction = "mean",
) -> Tensor:
    """Procrustes-aligned MPVPE, the alignment fitted on the (valid) vertices.

    Args:
        pred: (..., V, 3) metres.
        gt: (..., V, 3) metres.
        valid: optional (..., V) bool mask.
        mode: ``"similarity"`` (default) or ``"freihand"``.
        reduction: as in :func:`mpvpe`.
    Returns:
        Errors in metres.
    """
    return pa_mpjpe(pred, gt, valid, mode=mode, reduction=reduction)  # points are points


@dataclass(frozen=True)
class NearestNeighbors:
    """Nearest-neighbour distances between two point sets (metres).

    Attributes:
        x_to_y: (..., N) distance from each point of x to the closest valid point of y (inf
            where none is valid or, with ``max_distance``, none is closer than it).
        y_to_x: (..., M) the same from y to x.
    """

    x_to_y: Tensor
    y_to_x: Tensor


@dataclass(frozen=True)
class FScore:
    """F-score per sample and threshold.

    Attributes:
        f: (..., T) F-score in [0, 1].
        precision: (..., T) fraction of valid predicted points closer than the threshold to
            the ground truth.
        recall: (..., T) fraction of valid ground-truth points closer than the threshold to
            the prediction.
        thresholds: (T,) metres.
    """

    f: Tensor
    precision: Tensor
    recall: Tensor
    thresholds: Tensor


def _brute_indices(x: Tensor, y: Tensor, xv: Tensor | None, yv: Tensor | None):
    """Indices of nearest neighbours, both ways, for (B, N, 3) and (B, M, 3), by chunked cdist."""
    B, N, M = x.shape[0], x.shape[1], y.shape[1]
    idx_xy = torch.empty(B, N, dtype=torch.long, device=x.device)
    idx_yx = torch.empty(B, M, dtype=torch.long, device=x.device)
    step = max(1, _CHUNK_BYTES // max(1, N * M * x.element_size()))
    for s in range(0, B, step):
        e = min(B, s + step)
        # Distances are translation invariant; centring first keeps the matrix-product form of
        # cdist accurate for points far from the origin (camera coordinates).
        c = y[s:e].mean(-2, keepdim=True)
        d = torch.cdist(x[s:e] - c, y[s:e] - c)
        if yv is not None:
            d = d.masked_fill(~yv[s:e, None, :], math.inf)
        idx_xy[s:e] = d.argmin(-1)
        if xv is not None:
            d = d.masked_fill(~xv[s:e, :, None], math.inf)
        idx_yx[s:e] = d.argmin(-2)
    return idx_xy, idx_yx


def _kdtree_indices(
    x: Tensor, y: Tensor, xv: Tensor | None, yv: Tensor | None, max_distance: float | None
):
    """Per-sample k-d tree search (scipy); index -1 where nothing is within ``max_distance``."""
    from scipy.spatial import cKDTree

    xn = x.detach().to("cpu", torch.float64).numpy()
    yn = y.detach().to("cpu", torch.float64).numpy()
    xvn = None if xv is None else xv.cpu().numpy()
    yvn = None if yv is None else yv.cpu().numpy()
    B, N, M = xn.shape[0], xn.shape[1], yn.shape[1]
    idx_xy = np.full((B, N), -1, dtype=np.int64)
    idx_yx = np.full((B, M), -1, dtype=np.int64)
    bound = np.inf if max_distance is None else max_distance

    def one_way(a: np.ndarray, b: np.ndarray, ids_a: np.ndarray, ids_b: np.ndarray, out):
        """Nearest valid point of b for each valid point of a; writes b's indices into out."""
        if len(ids_b) == 0 or len(ids_a) == 0:
            return
        _, j = cKDTree(b[ids_b]).query(a[ids_a], distance_upper_bound=bound)
        found = j < len(ids_b)  # scipy returns len(b) for "nothing within the bound"
        out[ids_a[found]] = ids_b[j[found]]

    all_x, all_y = np.arange(N), np.arange(M)
    for i in range(B):
        ids_x = all_x if xvn is None else np.flatnonzero(xvn[i])
        ids_y = all_y if yvn is None else np.flatnonzero(yvn[i])
        one_way(xn[i], yn[i], ids_x, ids_y, idx_xy[i])
        one_way(yn[i], xn[i], ids_y, ids_x, idx_yx[i])
    return torch.from_numpy(idx_xy).to(x.device), torch.from_numpy(idx_yx).to(x.device)


def _exact_distances(a: Tensor, b: Tensor, idx: Tensor, ok: Tensor) -> Tensor:
    """‖a − b[idx]‖ per point of a (B, N, 3), inf where ``ok`` is False."""
    nb = b.gather(1, idx.clamp_min(0)[..., None].expand(-1, -1, 3))
    d = (a - nb).norm(dim=-1)
    return d.masked_fill(~ok, math.inf)


def nearest_neighbor_distances(
    x: Tensor,
    y: Tensor,
    x_valid: Tensor | None = None,
    y_valid: Tensor | None = None,
    method: NNMethod = "auto",
    max_distance: float | None = None,
) -> NearestNeighbors:
    """Exact nearest-neighbour distances between two point sets, both ways, batched.

    Args:
        x: (..., N, 3) metres.
        y: (..., M, 3) metres; leading dims broadcast with ``x``.
        x_valid, y_valid: optional (..., N) / (..., M) bool masks: invalid points are neither
            searched for nor returned as neighbours (their own distance is inf).
        method: ``"brute"`` (chunked ``cdist``, any device), ``"kdtree"`` (scipy per sample,
            CPU) or ``"auto"`` (k-d tree on CPU for mesh-sized sets, brute force otherwise).
        max_distance: with the k-d tree, neighbours farther than this are not searched
            for (distance inf); a speed-up when only ``d < threshold`` matters.
    Returns:
        :class:`NearestNeighbors` with (..., N) and (..., M) distances in metres.
    """
    xt = check_points(x, "x")
    yt = check_points(y, "y").to(device=xt.device)
    dtype = torch.promote_types(xt.dtype, yt.dtype)
    try:
        batch = torch.broadcast_shapes(xt.shape[:-2], yt.shape[:-2])
    except RuntimeError:
        raise HandposeError(
            f"x {tuple(xt.shape)} and y {tuple(yt.shape)} have incompatible batch shapes."
        ) from None
    N, M = xt.shape[-2], yt.shape[-2]
    xb = xt.to(dtype).expand(batch + (N, 3)).reshape(-1, N, 3)
    yb = yt.to(dtype).expand(batch + (M, 3)).reshape(-1, M, 3)
    xv = check_mask(x_valid, batch + (N,), "x_valid")
    yv = check_mask(y_valid, batch + (M,), "y_valid")
    xv = None if xv is None else xv.reshape(-1, N).to(xb.device)
    yv = None if yv is None else yv.reshape(-1, M).to(xb.device)
    if method not in ("auto", "brute", "kdtree"):
        raise HandposeError(f"method must be 'auto', 'brute' or 'kdtree', got {method!r}.")
    if method == "auto":
        method = "kdtree" if xb.device.type == "cpu" and N * M >= _KDTREE_MIN_PAIRS else "brute"
    if xb.shape[0] == 0 or N == 0 or M == 0:
        return NearestNeighbors(
            x_to_y=xb.new_full(batch + (N,), math.inf), y_to_x=yb.new_full(batch + (M,), math.inf)
        )
    with torch.no_grad():
        if method == "kdtree":
            idx_xy, idx_yx = _kdtree_indices(xb, yb, xv, yv, max_distance)
            ok_xy, ok_yx = idx_xy >= 0, idx_yx >= 0
        else:
            idx_xy, idx_yx = _brute_indices(xb, yb, xv, yv)
            any_y = torch.ones(xb.shape[0], 1, dtype=torch.bool, device=xb.device)
            any_x = any_y
            if yv is not None:
                any_y = yv.any(-1, keepdim=True)
            if xv is not None:
                any_x = xv.any(-1, keepdim=True)
            ok_xy = any_y.expand(-1, N).clone()
            ok_yx = any_x.expand(-1, M).clone()
    if xv is not None:
        ok_xy = ok_xy & xv
    if yv is not None:
        ok_yx = ok_yx & yv
    d_xy = _exact_distances(xb, yb, idx_xy, ok_xy)
    d_yx = _exact_distances(yb, xb, idx_yx, ok_yx)
    return NearestNeighbors(x_to_y=d_xy.reshape(batch + (N,)), y_to_x=d_yx.reshape(batch + (M,)))


def f_score(
    pred: Tensor,
    gt: Tensor,
    thresholds: float | Sequence[float] = FREIHAND_FSCORE_THRESHOLDS,
    pred_valid: Tensor | None = None,
    gt_valid: Tensor | None = None,
    method: NNMethod = "auto",
) -> FScore:
    """FreiHAND F-score between predicted and ground-truth point sets (usually vertices).

    Args:
        pred: (..., N, 3) metres.
        gt: (..., M, 3) metres (N and M may differ).
        thresholds: one or more distances in metres; default 5 mm and 15 mm.
        pred_valid, gt_valid: optional (..., N) / (..., M) bool masks.
        method: nearest-neighbour search, see :func:`nearest_neighbor_distances`.
    Returns:
        :class:`FScore` with f, precision, recall of shape (..., T). A sample with no valid
        point on one side gets NaN precision/recall and F = NaN.

    Example:
        >>> gt = torch.zeros(1, 1, 3, dtype=torch.float64)
        >>> f_score(gt + torch.tensor([0.005, 0.0, 0.0], dtype=torch.float64), gt).f
        tensor([[0., 1.]], dtype=torch.float64)
    """
    th = torch.as_tensor(thresholds, dtype=torch.float64).reshape(-1)
    if th.numel() == 0 or not bool((th > 0).all()):
        raise HandposeError(f"thresholds must be positive distances in metres, got {thresholds}.")
    p = check_points(pred, "pred")
    g = check_points(gt, "gt")
    # Only `d < max threshold` matters: the k-d tree may stop searching beyond it (a tiny
    # margin keeps exact ties on the safe side; the strict comparison is done below).
    bound = float(th.max()) * (1.0 + 1e-6)
    nn = nearest_neighbor_distances(p, g, pred_valid, gt_valid, method=method, max_distance=bound)
    th = th.to(device=nn.x_to_y.device, dtype=nn.x_to_y.dtype)
    precision = _fraction_below(nn.x_to_y, th, pred_valid)
    recall = _fraction_below(nn.y_to_x, th, gt_valid)
    denom = precision + recall
    f = torch.where(denom > 0, 2.0 * precision * recall / denom.clamp_min(1e-300), 0.0)
    f = torch.where(denom.isnan(), math.nan, f)
    return FScore(f=f, precision=precision, recall=recall, thresholds=th)


def _fraction_below(d: Tensor, th: Tensor, valid) -> Tensor:
    """Mean of ``d < th`` over valid points: (..., N), (T,) → (..., T)."""
    below = (d[..., None] < th).to(d.dtype)  # strict <, FreiHAND calculate_fscore
    if valid is None:
        return below.mean(-2)
    v = torch.as_tensor(valid, device=d.device).expand(d.shape) != 0
    v = v[..., None].to(d.dtype)
    return (below * v).sum(-2) / v.sum(-2)
