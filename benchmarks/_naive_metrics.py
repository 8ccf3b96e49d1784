"""Naive per-sample references for ``bench_metrics.py``: plain numpy/scipy loops.

They follow the original evaluation code's structure (../shared/reference/metrics.md): one
sample at a time, FreiHAND's ``align_w_scale`` with ``scipy.linalg.orthogonal_procrustes``,
HMR's ``compute_similarity_transform`` with ``numpy.linalg.svd``, and FreiHAND's
``calculate_fscore`` with k-d tree nearest neighbours (what open3d's point-cloud distance does).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import orthogonal_procrustes
from scipy.spatial import cKDTree
from tqdm import tqdm


def align_freihand(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """FreiHAND ``align_w_scale`` for one (N, 3) sample."""
    t1, t2 = gt.mean(0), pred.mean(0)
    a, b = gt - t1, pred - t2
    s1, s2 = np.linalg.norm(a) + 1e-8, np.linalg.norm(b) + 1e-8
    a, b = a / s1, b / s2
    R, s = orthogonal_procrustes(a, b)
    return b @ R.T * s * s1 + t1


def align_umeyama(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """HMR ``compute_similarity_transform`` (det = +1) for one (N, 3) sample."""
    X1, X2 = pred.T, gt.T
    mu1, mu2 = X1.mean(1, keepdims=True), X2.mean(1, keepdims=True)
    X1, X2 = X1 - mu1, X2 - mu2
    var1 = (X1**2).sum()
    U, _, Vt = np.linalg.svd(X1 @ X2.T)
    Z = np.eye(3)
    Z[2, 2] = np.sign(np.linalg.det(U @ Vt))
    R = Vt.T @ Z @ U.T
    scale = np.trace(R @ (X1 @ X2.T)) / var1
    t = mu2 - scale * R @ mu1
    return (scale * R @ pred.T + t).T


def pa_mpjpe_loop(pred: np.ndarray, gt: np.ndarray, mode: str, progress: bool = True) -> float:
    """Mean PA-MPJPE (metres) over (S, N, 3) arrays, one sample at a time."""
    align = align_freihand if mode == "freihand" else align_umeyama
    errors = [
        np.linalg.norm(align(gt[i], pred[i]) - gt[i], axis=1).mean()
        for i in tqdm(range(len(gt)), desc=f"naive PA-MPJPE ({mode})", disable=not progress)
    ]
    return float(np.mean(errors))


def fscore_one(gt: np.ndarray, pred: np.ndarray, thresholds) -> list[float]:
    """FreiHAND ``calculate_fscore`` for one sample at several thresholds (strict <)."""
    d1, _ = cKDTree(pred).query(gt)  # each GT vertex to the prediction
    d2, _ = cKDTree(gt).query(pred)  # each predicted vertex to the GT
    out = []
    for th in thresholds:
        recall, precision = float((d2 < th).mean()), float((d1 < th).mean())
        out.append(2 * recall * precision / (recall + precision) if recall + precision else 0.0)
    return out


def fscore_loop(pred: np.ndarray, gt: np.ndarray, thresholds, progress: bool = True) -> np.ndarray:
    """(T,) mean F-score over (S, V, 3) arrays, one sample at a time."""
    scores = [
        fscore_one(gt[i], pred[i], thresholds)
        for i in tqdm(range(len(gt)), desc="naive F-score", disable=not progress)
    ]
    return np.mean(np.asarray(scores), axis=0)
