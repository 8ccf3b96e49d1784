"""Naive per-sample reference implementations (numpy/scipy loops) for the metric tests.

Written straight from ../shared/reference/metrics.md, one sample at a time, with no batching
tricks, so that the batched torch metrics can be checked against them.
"""

import math

import numpy as np
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.distance import cdist


def align_freihand(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """FreiHAND ``align_w_scale`` (metrics.md §2)."""
    t1, t2 = gt.mean(0), pred.mean(0)
    a, b = gt - t1, pred - t2
    s1, s2 = np.linalg.norm(a) + 1e-8, np.linalg.norm(b) + 1e-8
    R, s = orthogonal_procrustes(a / s1, b / s2)
    return (b / s2) @ R.T * s * s1 + t1


def align_umeyama(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """HMR ``compute_similarity_transform`` (metrics.md §3)."""
    mu1, mu2 = pred.mean(0), gt.mean(0)
    X1, X2 = (pred - mu1).T, (gt - mu2).T
    U, _, Vt = np.linalg.svd(X1 @ X2.T)
    Z = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    R = Vt.T @ Z @ U.T
    scale = np.trace(R @ X1 @ X2.T) / (X1**2).sum()
    return (scale * R @ (pred - mu1).T).T + mu2


ALIGN = {"freihand": align_freihand, "similarity": align_umeyama}


def fscore(gt: np.ndarray, pred: np.ndarray, th: float) -> float:
    """FreiHAND ``calculate_fscore`` for one sample, brute force instead of open3d (strict <)."""
    D = cdist(gt, pred)
    d1, d2 = D.min(1), D.min(0)  # GT → prediction, prediction → GT
    recall = float((d2 < th).mean())  # FreiHAND's names (swapped w.r.t. the usual ones)
    precision = float((d1 < th).mean())
    return 2 * recall * precision / (recall + precision) if recall + precision > 0 else 0.0


def freihand_auc(errors: np.ndarray, valid: np.ndarray | None = None, inclusive: bool = True):
    """FreiHAND ``EvalUtil.get_measures(0, 0.05, 100)``: per-keypoint PCK (≤), trapz, mean."""
    thresholds = np.linspace(0.0, 0.05, 100)
    aucs = []
    for k in range(errors.shape[1]):
        e = errors[:, k] if valid is None else errors[valid[:, k], k]
        if len(e) == 0:
            continue  # FreiHAND skips keypoints without data
        pck = [np.mean(e <= t) if inclusive else np.mean(e < t) for t in thresholds]
        aucs.append(np.trapezoid(pck, thresholds) / np.trapezoid(np.ones(100), thresholds))
    return float(np.mean(aucs))


def naive_interhand(pred, gt, joint_valid, interacting, root=0, scale_align=None):
    """InterHand2.6M ``evaluate``-style loop over samples and the 2·J joints.

    With ``scale_align = (r, wrist, mcp)`` each hand is IntagHand-aligned instead of rooted.
    """
    N, _, J, _ = pred.shape
    sh, ih = [[] for _ in range(2 * J)], [[] for _ in range(2 * J)]
    rel = []
    for n in range(N):
        jv = joint_valid[n].copy()
        for h in range(2):
            need = [root] if scale_align is None else list(scale_align)
            jv[h] = jv[h] & jv[h, need].all()  # joint valid × root validity
            if scale_align is None:
                p = pred[n, h] - pred[n, h, root]
                g = gt[n, h] - gt[n, h, root]
            else:
                r, w, m = scale_align
                s = np.linalg.norm(gt[n, h, m] - gt[n, h, w]) / np.linalg.norm(
                    pred[n, h, m] - pred[n, h, w]
                )
                p = (pred[n, h] - pred[n, h, r]) * s
                g = gt[n, h] - gt[n, h, r]
            for j in range(J):
                if jv[h, j]:
                    (ih if interacting[n] else sh)[h * J + j].append(np.linalg.norm(p[j] - g[j]))
        if interacting[n] and joint_valid[n, 0, root] and joint_valid[n, 1, root]:
            d = (pred[n, 1, root] - pred[n, 0, root]) - (gt[n, 1, root] - gt[n, 0, root])
            rel.append(np.linalg.norm(d))

    def agg(lists):
        means = [np.mean(x) for x in lists if len(x)]
        return float(np.mean(means)) if means else math.nan

    return {
        "sh": agg(sh),
        "ih": agg(ih),
        "all": agg([a + b for a, b in zip(sh, ih)]),
        "mrrpe": float(np.mean(rel)) if rel else math.nan,
    }
