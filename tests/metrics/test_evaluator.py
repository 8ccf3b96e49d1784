"""The Evaluator accumulator: batches, protocols, units and the results table."""

import math

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.geometry import scale_align_ho3d, scale_align_intaghand
from handpose.metrics import (
    METRICS,
    Evaluator,
    accel_error,
    f_score,
    jitter,
    mpjpe,
    mpvpe,
    pa_mpjpe,
    pa_mpvpe,
    per_group_mpjpe,
)
from metrics.metrics_naive import align_freihand, freihand_auc, fscore


def _data(seed=0, n=24, v=120):
    rng = np.random.default_rng(seed)
    gj = rng.normal(size=(n, 21, 3)) * 0.04 + np.array([0.0, 0.0, 0.6])
    pj = gj + rng.normal(size=gj.shape) * rng.uniform(0.003, 0.02, size=(n, 1, 1))
    gv = rng.normal(size=(n, v, 3)) * 0.04 + np.array([0.0, 0.0, 0.6])
    pv = gv + rng.normal(size=gv.shape) * rng.uniform(0.002, 0.01, size=(n, 1, 1))
    return pj, gj, pv, gv


def test_freihand_protocol_matches_naive_evaluation():
    """FreiHAND eval.py, end to end: unaligned + aligned errors, AUCs and F-scores."""
    pj, gj, pv, gv = _data(0)
    pj[3, :, 0] *= -1  # one mirrored hand: FreiHAND's Procrustes allows the reflection
    ev = Evaluator(
        metrics=["mpjpe", "pa_mpjpe", "mpvpe", "pa_mpvpe", "f_score", "pa_f_score", "auc"],
        root=None,
        procrustes="freihand",
        units="mm",
    )
    for s in (slice(0, 10), slice(10, 24)):
        ev.update(pred_joints=pj[s], gt_joints=gj[s], pred_verts=pv[s], gt_verts=gv[s])
    res = ev.compute()
    # Naive per-sample loop (metrics.md §2).
    ej = np.linalg.norm(pj - gj, axis=-1)
    ev_ = np.linalg.norm(pv - gv, axis=-1)
    aj = np.stack([align_freihand(gj[i], pj[i]) for i in range(24)])
    av = np.stack([align_freihand(gv[i], pv[i]) for i in range(24)])
    eaj, eav = np.linalg.norm(aj - gj, axis=-1), np.linalg.norm(av - gv, axis=-1)
    tol = 1e-9  # mm
    assert abs(res["mpjpe"] - 1000 * ej.mean()) < tol
    assert abs(res["pa_mpjpe"] - 1000 * eaj.mean()) < tol
    assert abs(res["mpvpe"] - 1000 * ev_.mean()) < tol
    assert abs(res["pa_mpvpe"] - 1000 * eav.mean()) < tol
    for key, e in (("mpjpe", ej), ("pa_mpjpe", eaj), ("mpvpe", ev_), ("pa_mpvpe", eav)):
        assert abs(res[f"auc_{key}"] - freihand_auc(e)) < 1e-12
    for th, name in ((0.005, "5mm"), (0.015, "15mm")):
        f = np.mean([fscore(gv[i], pv[i], th) for i in range(24)])
        fa = np.mean([fscore(gv[i], av[i], th) for i in range(24)])
        assert abs(res[f"f@{name}"] - f) < 1e-12
        assert abs(res[f"pa_f@{name}"] - fa) < 1e-12
    md = ev.to_markdown("FreiHAND")
    assert "### FreiHAND" in md and "| PA-MPJPE |" in md and "| F@5mm |" in md
    assert f"| {res['pa_mpjpe']:.2f} | mm |" in md
    assert "24 samples; absolute coordinates; Procrustes: freihand" in md


def test_batches_equal_functions_on_concatenation():
    pj, gj, pv, gv = map(torch.from_numpy, _data(1))
    rng = np.random.default_rng(1)
    valid = torch.from_numpy(rng.random((24, 21)) > 0.2)
    vvalid = torch.from_numpy(rng.random((24, 120)) > 0.1)
    metrics = ["mpjpe", "pa_mpjpe", "sa_mpjpe", "st_mpjpe", "mpvpe", "pa_mpvpe", "groups"]
    ev = Evaluator(metrics=metrics, units="m", root=0)
    for s in (slice(0, 5), slice(5, 17), slice(17, 24)):
        ev.update(pj[s], gj[s], pv[s], gv[s], valid=valid[s], verts_valid=vvalid[s])
    res = ev.compute()
    tol = 1e-12  # metres
    assert abs(res["mpjpe"] - float(mpjpe(pj, gj, valid=valid, root=0))) < tol
    assert abs(res["pa_mpjpe"] - float(pa_mpjpe(pj, gj, valid=valid))) < tol
    assert abs(res["pa_mpvpe"] - float(pa_mpvpe(pv, gv, valid=vvalid))) < tol
    root_ok = valid[:, :1]
    ref = mpvpe(pv, gv, valid=vvalid & root_ok, pred_root=pj[:, 0], gt_root=gj[:, 0])
    assert abs(res["mpvpe"] - float(ref)) < tol
    groups = per_group_mpjpe(pj, gj, valid=valid, root=0)
    for name, value in groups.items():
        assert abs(res[f"mpjpe_{name}"] - float(value)) < tol
    sa = scale_align_intaghand(pj, gj)
    sa_valid = valid & valid[:, [0, 9]].all(-1, keepdim=True)
    ref = mpjpe(sa.pred_joints, sa.gt_joints, valid=sa_valid)
    assert abs(res["sa_mpjpe"] - float(ref)) < tol
    st = scale_align_ho3d(pj, gj)
    assert abs(res["st_mpjpe"] - float(mpjpe(st.pred_joints, gj, valid=sa_valid))) < tol


def test_units_and_aligned_vertex_metrics():
    pj, gj, pv, gv = _data(2)
    metrics = ["mpjpe", "sa_mpvpe", "st_mpvpe", "f_score"]
    out = {}
    for units in ("m", "cm", "mm"):
        ev = Evaluator(metrics=metrics, units=units)
        ev.update(pj, gj, pv, gv)
        out[units] = ev.compute()
        assert ev.unit_of("mpjpe") == units and ev.unit_of("f@5mm") == ""
    assert out["mm"]["mpjpe"] == pytest.approx(1000 * out["m"]["mpjpe"], rel=1e-14)
    assert out["cm"]["sa_mpvpe"] == pytest.approx(100 * out["m"]["sa_mpvpe"], rel=1e-14)
    assert out["mm"]["f@5mm"] == out["m"]["f@5mm"]  # unitless
    sa = scale_align_intaghand(
        torch.from_numpy(pj), torch.from_numpy(gj), torch.from_numpy(pv), torch.from_numpy(gv)
    )
    assert out["m"]["sa_mpvpe"] == pytest.approx(
        float(mpvpe(sa.pred_verts, sa.gt_verts)), abs=1e-12
    )
    st = scale_align_ho3d(torch.from_numpy(pj), torch.from_numpy(gj), torch.from_numpy(pv))
    assert out["m"]["st_mpvpe"] == pytest.approx(
        float(mpvpe(st.pred_verts, torch.from_numpy(gv))), abs=1e-12
    )
    # Root-relative F-score: vertices minus each hand's root joint.
    f = f_score(
        torch.from_numpy(pv - pj[:, :1]),
        torch.from_numpy(gv - gj[:, :1]),
        thresholds=(0.005, 0.015),
    ).f.mean(0)
    assert out["m"]["f@5mm"] == pytest.approx(float(f[0]), abs=1e-12)
    assert out["m"]["f@15mm"] == pytest.approx(float(f[1]), abs=1e-12)


def test_sequence_metrics():
    rng = np.random.default_rng(3)
    g = torch.from_numpy(np.cumsum(rng.normal(size=(2, 3, 9, 21, 3)) * 0.002, axis=2))
    p = g + 0.002 * torch.from_numpy(rng.normal(size=g.shape))
    ev = Evaluator(metrics=["accel_error", "jitter"], units="mm", fps=30, root=None)
    ev.update(p[0], g[0])
    ev.update(p[1], g[1])
    res = ev.compute()
    assert res["accel_error"] == pytest.approx(1000 * float(accel_error(p, g, fps=30)), rel=1e-12)
    assert res["jitter"] == pytest.approx(1000 * float(jitter(p, fps=30)), rel=1e-12)
    assert res["jitter_gt"] == pytest.approx(1000 * float(jitter(g, fps=30)), rel=1e-12)
    assert ev.unit_of("accel_error") == "mm/s²" and ev.unit_of("jitter") == "mm/s³"
    assert Evaluator(metrics=["accel_error"]).unit_of("accel_error") == "mm/frame²"
    with pytest.raises(HandposeError):
        Evaluator(metrics=["jitter"]).update(p[0, :, :3], g[0, :, :3])  # T = 3 < 4


def test_empty_and_bad_configuration():
    ev = Evaluator(metrics=["mpjpe", "auc"])
    res = ev.compute()
    assert math.isnan(res["mpjpe"]) and math.isnan(res["auc_mpjpe"])
    assert "| MPJPE | – | mm |" in ev.to_markdown()
    with pytest.raises(HandposeError):
        Evaluator(metrics=["mpjpe", "pck"])
    with pytest.raises(HandposeError):
        Evaluator(units="inch")
    with pytest.raises(HandposeError):
        Evaluator(procrustes="kabsch")
    with pytest.raises(HandposeError):
        Evaluator(metrics=["mpvpe"]).update(
            pred_joints=torch.zeros(1, 21, 3), gt_joints=torch.zeros(1, 21, 3)
        )
    with pytest.raises(HandposeError):
        Evaluator(metrics=["mpjpe"]).update(
            pred_verts=torch.zeros(1, 778, 3), gt_verts=torch.zeros(1, 778, 3)
        )
    assert set(METRICS) >= {"mpjpe", "pa_mpjpe", "mpvpe", "pa_mpvpe", "f_score", "auc"}


def test_reset_and_invalid_roots_are_skipped():
    pj, gj, _, _ = _data(4, n=4)
    valid = np.ones((4, 21), bool)
    valid[1, 0] = False  # no root: the sample's root-relative joints do not count
    ev = Evaluator(metrics=["mpjpe"], units="m")
    ev.update(pj, gj, valid=valid)
    ref = mpjpe(torch.from_numpy(pj[[0, 2, 3]]), torch.from_numpy(gj[[0, 2, 3]]), root=0)
    assert ev.compute()["mpjpe"] == pytest.approx(float(ref), abs=1e-15)
    assert ev.num_samples == 4
    ev.reset()
    assert ev.num_samples == 0 and math.isnan(ev.compute()["mpjpe"])


def test_nan_at_masked_points_is_ignored_everywhere():
    """Issue 17: a joint switched off by the mask may hold NaN; every metric, the Procrustes
    ones included, gives what it gives with finite values there."""
    pj, gj, pv, gv = (torch.from_numpy(x) for x in _data(3, n=6, v=40))
    valid = torch.ones(6, 21, dtype=torch.bool)
    valid[1, 7] = valid[4, [2, 13]] = False
    vvalid = torch.ones(6, 40, dtype=torch.bool)
    vvalid[2, 5] = False
    metrics = ["mpjpe", "pa_mpjpe", "mpvpe", "pa_mpvpe", "auc", "groups", "f_score"]
    ref = Evaluator(metrics, root=0)
    ref.update(pj, gj, pv, gv, valid=valid, verts_valid=vvalid)
    bad = [x.clone() for x in (pj, gj, pv, gv)]
    bad[0][1, 7] = float("nan")
    bad[1][4, 13, 2] = float("inf")
    bad[2][2, 5] = float("nan")
    ev = Evaluator(metrics, root=0)
    ev.update(*bad, valid=valid, verts_valid=vvalid)
    got, want = ev.compute(), ref.compute()
    assert got.keys() == want.keys() and all(math.isfinite(v) for v in got.values())
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-12), key


@pytest.mark.parametrize("which", ["pred_joints", "gt_joints", "pred_verts", "gt_verts"])
def test_nan_at_a_valid_point_is_one_clear_error(which):
    data = dict(zip(["pred_joints", "gt_joints", "pred_verts", "gt_verts"], _data(4, n=3, v=30)))
    data = {k: torch.from_numpy(v) for k, v in data.items()}
    data[which][2, 5, 1] = float("nan")
    ev = Evaluator(["mpjpe", "pa_mpjpe", "mpvpe"])
    with pytest.raises(HandposeError, match=rf"^{which} holds NaN or infinite coordinates at 1 "
                       r"valid points \(first at index \(2, 5\)\)"):  # fmt: skip
        ev.update(**data)
    assert ev.num_samples == 0
