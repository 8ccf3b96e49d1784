"""Acceleration error and jitter against naive frame loops and closed-form motions."""

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.metrics import accel_error, jitter


def naive_accel(pred, gt, valid=None):
    """VIBE-style loop: second differences, frames valid only if t−1, t, t+1 are."""
    out = []
    for s in range(pred.shape[0]):
        for t in range(1, pred.shape[1] - 1):
            for j in range(pred.shape[2]):
                if valid is not None and not valid[s, t - 1 : t + 2, j].all():
                    continue
                ap = pred[s, t + 1, j] - 2 * pred[s, t, j] + pred[s, t - 1, j]
                ag = gt[s, t + 1, j] - 2 * gt[s, t, j] + gt[s, t - 1, j]
                out.append(np.linalg.norm(ap - ag))
    return np.mean(out)


def naive_jitter(x, valid=None):
    out = []
    for s in range(x.shape[0]):
        for t in range(x.shape[1] - 3):
            for j in range(x.shape[2]):
                if valid is not None and not valid[s, t : t + 4, j].all():
                    continue
                jerk = x[s, t + 3, j] - 3 * x[s, t + 2, j] + 3 * x[s, t + 1, j] - x[s, t, j]
                out.append(np.linalg.norm(jerk))
    return np.mean(out)


def test_closed_form_motions():
    t = torch.arange(10, dtype=torch.float64)
    static = torch.zeros(1, 10, 2, 3, dtype=torch.float64)
    # Constant velocity: no acceleration, no jerk.
    linear = static.clone()
    linear[..., 0] = 0.01 * t[None, :, None]
    assert float(accel_error(linear, static)) == pytest.approx(0.0, abs=1e-15)
    assert float(jitter(linear)) == pytest.approx(0.0, abs=1e-15)
    # x = a·t² has second difference 2a per frame², i.e. 2a·fps² per s².
    quad = static.clone()
    quad[..., 1] = 0.001 * t[None, :, None] ** 2
    assert float(accel_error(quad, static)) == pytest.approx(0.002, abs=1e-15)
    assert float(accel_error(quad, static, fps=30)) == pytest.approx(0.002 * 900, rel=1e-12)
    assert float(jitter(quad)) == pytest.approx(0.0, abs=1e-12)
    # x = a·t³ has third difference 6a per frame³.
    cubic = static.clone()
    cubic[..., 2] = 0.001 * t[None, :, None] ** 3
    assert float(jitter(cubic)) == pytest.approx(0.006, rel=1e-12)
    assert float(jitter(cubic, fps=60)) == pytest.approx(0.006 * 60**3, rel=1e-12)


def test_matches_naive_loops_with_masks():
    rng = np.random.default_rng(0)
    gt = np.cumsum(rng.normal(size=(3, 12, 21, 3)) * 0.002, axis=1)
    pred = gt + rng.normal(size=gt.shape) * 0.003
    valid = rng.random((3, 12, 21)) > 0.15
    p, g, v = map(torch.from_numpy, (pred, gt, valid))
    assert abs(float(accel_error(p, g)) - naive_accel(pred, gt)) < 1e-12
    assert abs(float(accel_error(p, g, valid=v)) - naive_accel(pred, gt, valid)) < 1e-12
    assert abs(float(jitter(p)) - naive_jitter(pred)) < 1e-12
    assert abs(float(jitter(p, valid=v)) - naive_jitter(pred, valid)) < 1e-12
    per = accel_error(p, g, valid=v, reduction="none")
    assert per.shape == (3, 10, 21)
    assert bool(per[~v[:, 1:-1]].isnan().all())  # a frame invalid at t is invalid at t
    assert jitter(p, reduction="per_sample").shape == (3, 9)


def test_bad_input():
    with pytest.raises(HandposeError):
        accel_error(torch.zeros(2, 21, 3), torch.zeros(2, 21, 3))  # T = 2 < 3
    with pytest.raises(HandposeError):
        jitter(torch.zeros(3, 21, 3))  # T = 3 < 4
    with pytest.raises(HandposeError):
        jitter(torch.zeros(5, 21, 3), fps=0)
