"""Scoring predicted clips: protocol numbers and temporal metrics."""

import numpy as np
import pytest

from handpose.reports.video_eval import evaluate_clips, smooth_clips


def _clip(F=8, side=1, seed=0, V=30):
    rng = np.random.default_rng(seed)
    t = np.arange(F)[:, None, None]
    gj = rng.normal(0, 0.03, (1, 21, 3)) + [0, 0, 0.5] + 0.002 * t * np.array([1.0, 0, 0])
    gv = rng.normal(0, 0.03, (1, V, 3)) + [0, 0, 0.5] + 0.002 * t * np.array([1.0, 0, 0])
    return {
        "joints3d": gj.copy(), "vertices": gv.copy(), "gt_joints3d": gj, "gt_vertices": gv,
        "joint_valid": np.ones((F, 21), bool), "valid": np.ones(F, bool), "side": side,
        "key": ("c", 0),
    }  # fmt: skip


def test_perfect_prediction():
    res = evaluate_clips([_clip(side=0), _clip(side=1, seed=1)], "hanco")
    m = res["metrics"]
    assert res["frames"] == 16 and res["clips"] == 2
    for k in ("mpjpe", "pa_mpjpe", "mpvpe", "pa_mpvpe", "accel_error"):
        assert m[k] == pytest.approx(0.0, abs=1e-4), k  # mm
    # constant velocity: no jerk
    assert m["jitter"] == pytest.approx(0.0, abs=1e-6) and m["gt_jitter"] == pytest.approx(
        0.0, abs=1e-6
    )


def test_offsets_and_noise():
    c = _clip()
    c["joints3d"] = c["joints3d"] + 0.01  # a whole-hand shift: invisible wrist-relative
    assert evaluate_clips([c], "dexycb")["metrics"]["mpjpe"] == pytest.approx(0.0, abs=1e-6)
    n = _clip()
    n["joints3d"] = n["joints3d"] + np.random.default_rng(5).normal(0, 0.002, n["joints3d"].shape)
    m = evaluate_clips([n], "hanco")["metrics"]
    assert m["mpjpe"] > 1.0 and m["accel_error"] > 1.0 and m["jitter"] > m["gt_jitter"]
    s = evaluate_clips(smooth_clips([n], "one_euro", fps=30.0, min_cutoff=0.5), "hanco")["metrics"]
    assert s["jitter"] < m["jitter"]
