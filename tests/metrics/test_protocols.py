"""Named image evaluation protocols against naive per-hand loops and hand-computed cases."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.handmodel.conventions import OPENPOSE_JOINT_GROUPS
from handpose.metrics import InterHandEvaluator
from handpose.metrics.protocols import (
    PROTOCOLS,
    InterHandProtocol,
    ProtocolResult,
    evaluate_predictions,
    get_protocol,
)
from metrics.metrics_naive import align_freihand, freihand_auc, fscore, naive_interhand
from metrics.test_penetration import cube as box

CAM = np.array([0.0, 0.0, 0.6])


def _sets(seed=0, n=10, v=60, single=True):
    """Two-slot targets (slot 1 valid for half the samples if ``single``) and noisy predictions."""
    rng = np.random.default_rng(seed)
    gj = rng.normal(size=(n, 2, 21, 3)) * 0.04 + CAM
    gj[:, 1] += [0.12, 0.0, 0.0]
    gv = rng.normal(size=(n, 2, v, 3)) * 0.04 + gj[:, :, :1]
    scale = rng.uniform(0.003, 0.02, size=(n, 2, 1, 1))
    pj = gj * rng.uniform(0.9, 1.1, size=(n, 2, 1, 1)) + rng.normal(size=gj.shape) * scale
    pv = gv + rng.normal(size=gv.shape) * scale
    hv = np.ones((n, 2), bool)
    if single:
        hv[: n // 2, 1] = False
        hv[n - 2, 0] = False  # a left-hand-only sample
        pj[~hv] = np.nan  # predictions in invalid slots are ignored
        pv[~hv] = np.nan
    targets = {"joints3d": gj, "vertices": gv, "hand_valid": hv}
    return {"joints3d": pj, "vertices": pv}, targets


def _hands(preds, targets, key):
    sel = targets["hand_valid"]
    return preds[key][sel], targets[key][sel]


def _evalutil_mean(errors, valid=None):
    """FreiHAND EvalUtil: per keypoint over its valid samples, then over keypoints."""
    valid = np.ones_like(errors, bool) if valid is None else valid
    per_kp = [errors[valid[:, k], k].mean() for k in range(errors.shape[1]) if valid[:, k].any()]
    return float(np.mean(per_kp))


def test_registry_and_options():
    assert set(PROTOCOLS) == {"freihand", "interhand", "dexycb", "hanco"}
    assert get_protocol("interhand", intaghand_root="wrist").intaghand_root == "wrist"
    proto = get_protocol("dexycb")
    assert get_protocol(proto) is proto
    with pytest.raises(HandposeError, match="unknown evaluation protocol"):
        get_protocol("ho3d")
    with pytest.raises(HandposeError, match="no option"):
        get_protocol("freihand", intaghand_root="wrist")
    with pytest.raises(HandposeError):
        get_protocol(proto, units="cm")
    with pytest.raises(HandposeError):
        get_protocol("interhand", intaghand_root="thumb")


def test_freihand_matches_naive_eval_py():
    preds, targets = _sets(0)
    preds["joints3d"][1, 0, :, 0] *= -1  # a mirrored hand: FreiHAND's Procrustes allows it
    res = evaluate_predictions("freihand", preds, targets, batch_size=3)
    pj, gj = _hands(preds, targets, "joints3d")
    pv, gv = _hands(preds, targets, "vertices")
    M = len(pj)
    aj = np.stack([align_freihand(gj[i], pj[i]) for i in range(M)])
    av = np.stack([align_freihand(gv[i], pv[i]) for i in range(M)])
    errors = {
        "mpjpe": np.linalg.norm(pj - gj, axis=-1),
        "pa_mpjpe": np.linalg.norm(aj - gj, axis=-1),
        "mpvpe": np.linalg.norm(pv - gv, axis=-1),
        "pa_mpvpe": np.linalg.norm(av - gv, axis=-1),
    }
    for key, e in errors.items():
        assert res[key] == pytest.approx(1000 * e.mean(), abs=1e-9)
        assert res[f"auc_{key}"] == pytest.approx(freihand_auc(e), abs=1e-12)
    for th in (0.005, 0.015):
        mm = f"{th * 1000:g}mm"
        f_un = np.mean([fscore(gv[i], pv[i], th) for i in range(M)])
        f_al = np.mean([fscore(gv[i], av[i], th) for i in range(M)])
        assert res[f"f@{mm}"] == pytest.approx(f_un, abs=1e-12)
        assert res[f"pa_f@{mm}"] == pytest.approx(f_al, abs=1e-12)
    assert res.counts["hands"] == M == 14 and res.counts["samples"] == 10
    assert res.headline == ["pa_mpjpe", "pa_mpvpe", "pa_f@5mm", "pa_f@15mm", "auc_pa_mpjpe"]
    # Per-group errors on the aligned joints, pooled over the group's joints.
    for g, idx in OPENPOSE_JOINT_GROUPS.items():
        ref = 1000 * errors["pa_mpjpe"][:, list(idx)].mean()
        assert res.groups["pa_mpjpe"][g] == pytest.approx(ref, abs=1e-9)
    # The PCK curve's normalised area is the AUC.
    c = res.pck["pa_mpjpe"]
    t, p = np.array(c["thresholds_mm"]), np.array(c["pck"])
    assert t[0] == 0.0 and t[-1] == pytest.approx(50.0) and len(t) == 100
    assert np.trapezoid(p, t) / 50.0 == pytest.approx(res["auc_pa_mpjpe"], abs=1e-12)


def test_freihand_hand_computed_translation():
    """Prediction = GT + (3.6, 4.8, 0) mm: every unaligned error is 6 mm, aligned 0."""
    grid = np.stack(np.meshgrid(*[np.arange(4) * 0.05] * 3, indexing="ij"), -1).reshape(-1, 3)
    gv = np.zeros((2, 2, 64, 3))
    gv[:, 0] = grid + CAM  # vertices 5 cm apart: each one's nearest neighbour is itself
    gj = np.zeros((2, 2, 21, 3))
    gj[:, 0] = np.random.default_rng(1).normal(size=(21, 3)) * 0.04 + CAM
    hv = np.array([[True, False], [True, False]])
    shift = np.array([0.0036, 0.0048, 0.0])
    preds = {"joints3d": gj + shift, "vertices": gv + shift}
    res = evaluate_predictions(
        "freihand", preds, {"joints3d": gj, "vertices": gv, "hand_valid": hv}
    )
    assert res["mpjpe"] == pytest.approx(6.0, abs=1e-9) and res["mpvpe"] == pytest.approx(6.0)
    # FreiHAND adds 1e-8 to both Frobenius norms: a ~1e-8 relative scale error remains.
    assert res["pa_mpjpe"] == pytest.approx(0.0, abs=1e-5)
    assert res["pa_mpvpe"] == pytest.approx(0.0, abs=1e-5)
    assert (res["f@5mm"], res["f@15mm"]) == (0.0, 1.0)
    assert (res["pa_f@5mm"], res["pa_f@15mm"]) == (1.0, 1.0)
    # PCK(τ) = [6 mm ≤ τ] on linspace(0, 50 mm, 100): the first threshold ≥ 6 mm is index 12
    # (6.06 mm); trapezoid area = (0.5 + 87)·h over 99·h.
    assert res["auc_mpjpe"] == pytest.approx(87.5 / 99.0, abs=1e-12)
    # Aligned errors are ~1e-9 m, not 0: PCK(0) = 0 loses half of the first segment, as in
    # FreiHAND's own evaluation.
    assert res["auc_pa_mpjpe"] == pytest.approx(98.5 / 99.0, abs=1e-12)


def test_joints_only_methods_get_absent_mesh_metrics_not_zero():
    preds, targets = _sets(2)
    del preds["vertices"]
    res = evaluate_predictions("freihand", preds, targets)
    for key in ("mpvpe", "pa_mpvpe", "f@5mm", "pa_f@15mm", "auc_pa_mpvpe"):
        assert res[key] is None and res.absent[key] == "prediction has no vertices"
    assert res["pa_mpjpe"] > 0 and "pa_mpvpe" not in res.pck
    d = res.to_dict()
    assert d["metrics"]["pa_mpvpe"] is None
    assert "— (prediction has no vertices)" in res.to_markdown()
    # Ground truth without vertices: same, with its own reason.
    preds, targets = _sets(2)
    del targets["vertices"]
    res = evaluate_predictions("hanco", preds, targets)
    assert res["mpvpe"] is None and res.absent["mpvpe"] == "ground truth has no vertices"
    ih = evaluate_predictions("interhand", {"joints3d": preds["joints3d"]}, _sets(2)[1])
    assert ih["mpvpe_all"] is None and ih["rr_mpvpe_ih"] is None and ih["mpjpe_all"] > 0


def test_other_mesh_topology_reuses_the_joint_transform_for_f_scores():
    """FreiHAND align_by_trafo: a 30-vertex prediction moved with the joints' similarity."""
    preds, targets = _sets(3, single=False, n=4)
    gj, gv = targets["joints3d"], targets["vertices"]
    R = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    preds = {"joints3d": 1.3 * gj @ R.T + 0.1, "vertices": 1.3 * gv[:, :, :30] @ R.T + 0.1}
    res = evaluate_predictions("freihand", preds, targets)
    assert res["pa_mpjpe"] == pytest.approx(0.0, abs=1e-5)
    assert res["mpvpe"] is None and "topology" in res.absent["pa_mpvpe"]
    # The 30 predicted vertices land on their GT vertices: F as for gv[:, :, :30] itself.
    ref = np.mean([fscore(gv[i, h], gv[i, h, :30], 0.005) for i in range(4) for h in range(2)])
    assert ref < 0.9 and res["pa_f@5mm"] == pytest.approx(ref, abs=1e-12)


def test_partial_joint_validity_uses_per_keypoint_means():
    preds, targets = _sets(4, single=False, n=12)
    rng = np.random.default_rng(4)
    jv = rng.random((12, 2, 21)) > 0.3
    jv[:, :, 0] = True
    targets["joint_valid"] = jv
    res = evaluate_predictions("dexycb", preds, targets)
    pj, gj = preds["joints3d"].reshape(-1, 21, 3), targets["joints3d"].reshape(-1, 21, 3)
    v = jv.reshape(-1, 21)
    e_abs = np.linalg.norm(pj - gj, axis=-1)
    e_rel = np.linalg.norm((pj - pj[:, :1]) - (gj - gj[:, :1]), axis=-1)
    e_pa = np.zeros_like(e_abs)
    for i in range(len(pj)):  # alignment fitted on the valid joints only
        e_pa[i, v[i]] = np.linalg.norm(
            align_freihand(gj[i, v[i]], pj[i, v[i]]) - gj[i, v[i]], axis=-1
        )
    for key, e in (("mpjpe_abs", e_abs), ("mpjpe", e_rel), ("pa_mpjpe", e_pa)):
        assert res[key] == pytest.approx(1000 * _evalutil_mean(e, v), abs=1e-9)
        assert res[f"auc_{key}"] == pytest.approx(freihand_auc(e, v), abs=1e-12)
    # Per keypoint, then over keypoints, differs from the pooled mean here.
    assert abs(res["mpjpe"] - 1000 * e_rel[v].mean()) > 1e-6
    assert res.groups["mpjpe"]["wrist"] == 0.0
    # The mesh errors DexYCB papers add: root-relative MPVPE and PA-MPVPE, without AUC.
    pv, gv = preds["vertices"].reshape(-1, 60, 3), targets["vertices"].reshape(-1, 60, 3)
    ref = np.linalg.norm((pv - pj[:, :1]) - (gv - gj[:, :1]), axis=-1).mean()
    assert res["mpvpe"] == pytest.approx(1000 * ref, abs=1e-9)
    assert "auc_mpvpe" not in res.metrics and "f@5mm" not in res.metrics


def test_hanco_root_relative_and_aligned_with_auc():
    preds, targets = _sets(5)
    res = evaluate_predictions("hanco", preds, targets, batch_size=4)
    pj, gj = _hands(preds, targets, "joints3d")
    pv, gv = _hands(preds, targets, "vertices")
    ev = np.linalg.norm((pv - pj[:, :1]) - (gv - gj[:, :1]), axis=-1)
    av = np.stack([align_freihand(gv[i], pv[i]) for i in range(len(pv))])
    assert res["mpvpe"] == pytest.approx(1000 * ev.mean(), abs=1e-9)
    assert res["auc_mpvpe"] == pytest.approx(freihand_auc(ev), abs=1e-12)
    f5 = np.mean([fscore(gv[i], av[i], 0.005) for i in range(len(pv))])
    assert res["pa_f@5mm"] == pytest.approx(f5, abs=1e-12)
    assert "f@5mm" not in res.metrics  # HanCo reports the aligned F-scores only


@pytest.mark.parametrize("root", ["mcp", "wrist"])
def test_interhand_matches_naive_and_the_evaluator(root):
    preds, targets = _sets(6, n=16, single=False)
    rng = np.random.default_rng(6)
    inter = rng.random(16) > 0.4
    hv = np.ones((16, 2), bool)
    hv[~inter, 1] = False  # single-hand frames: right hand only
    jv = (rng.random((16, 2, 21)) > 0.1) & hv[..., None]
    targets.update(interacting=inter, hand_valid=hv, joint_valid=jv)
    res = evaluate_predictions("interhand", preds, targets, batch_size=5, intaghand_root=root)
    r = 9 if root == "mcp" else 0
    pj, gj = preds["joints3d"], targets["joints3d"]
    sa = naive_interhand(pj, gj, jv, inter, scale_align=(r, 0, 9))
    rr = naive_interhand(pj, gj, jv, inter)
    for split in ("sh", "ih", "all"):
        assert res[f"mpjpe_{split}"] == pytest.approx(1000 * sa[split], abs=1e-9)
        assert res[f"rr_mpjpe_{split}"] == pytest.approx(1000 * rr[split], abs=1e-9)
    assert res["mrrpe"] == pytest.approx(1000 * rr["mrrpe"], abs=1e-9)
    # MPVPE exactly as InterHandEvaluator computes it (one batch, same masks).
    ev = InterHandEvaluator(align="intaghand", intaghand_root=root)
    t = {k: torch.from_numpy(v) for k, v in targets.items()}
    ev.update(
        torch.from_numpy(pj), t["joints3d"], valid=t["joint_valid"], interacting=t["interacting"],
        pred_verts=torch.from_numpy(preds["vertices"]), gt_verts=t["vertices"],
        verts_valid=t["hand_valid"],
    )  # fmt: skip
    ref = ev.compute()
    for k in ("mpvpe_sh", "mpvpe_ih", "mpvpe_all", "mpjpe_right", "mpjpe_left"):
        assert res[k] == pytest.approx(ref[k], abs=1e-9)
    assert res.counts == {
        "single-hand frames": int((~inter).sum()),
        "interacting frames": int(inter.sum()),
    }
    # Per-group errors on the scale-aligned joints of both hands.
    ok = jv & jv[..., [0]] & jv[..., [9]]
    s = np.linalg.norm(gj[..., 9, :] - gj[..., 0, :], axis=-1) / np.linalg.norm(
        pj[..., 9, :] - pj[..., 0, :], axis=-1
    )
    e = np.linalg.norm(
        (pj - pj[..., [r], :]) * s[..., None, None] - (gj - gj[..., [r], :]), axis=-1
    )
    for g, idx in OPENPOSE_JOINT_GROUPS.items():
        ref_g = 1000 * e[..., list(idx)][ok[..., list(idx)]].mean()
        assert res.groups["mpjpe"][g] == pytest.approx(ref_g, abs=1e-9)
    assert "mesh_reprojection_px" in res.metrics and res["mesh_reprojection_px"] is None
    assert res.absent["mesh_reprojection_px"] == "no intrinsics K in the targets"


def test_interhand_reprojection_and_penetration():
    cube = box()
    faces = cube[1]
    n = 3
    rng = np.random.default_rng(7)
    gj = rng.normal(size=(n, 2, 21, 3)) * 0.03 + CAM
    gv = np.stack([cube[0] * 0.1 + CAM, cube[0] * 0.1 + CAM + [0.2, 0.0, 0.0]])[None].repeat(n, 0)
    pv = gv.copy()
    # Frame 0: the left cube slides into the right one: 4 corners 2 cm deep (see the penetration
    # tests); frames 1-2 apart. Frame 2 is single-hand (no penetration counted).
    pv[0, 1] = np.array([0.07, 0.02, 0.02]) + (cube[0] * [0.1, 0.06, 0.06]) + CAM
    K = np.array([[400.0, 0.0, 128.0], [0.0, 400.0, 128.0], [0.0, 0.0, 1.0]])
    pv[1] += [0.006, 0.0, 0.0]  # frame 1: both hands 6 mm to the side
    targets = {
        "joints3d": gj,
        "vertices": gv,
        "K": np.repeat(K[None], n, 0),
        "interacting": np.array([True, True, False]),
        "hand_valid": np.array([[True, True], [True, True], [True, False]]),
    }
    preds = {"joints3d": gj, "vertices": pv}
    res = evaluate_predictions("interhand", preds, targets, faces=faces)
    assert res["penetration_max_depth"] == pytest.approx(1000 * 0.02 / 2, abs=1e-9)
    assert res["penetration_inside_fraction"] == pytest.approx(0.25 / 2)
    assert res["penetration_mean_depth"] == pytest.approx(1000 * 4 * 0.02 / 16 / 2, abs=1e-9)
    assert res["penetration_max_depth_gt"] == 0.0

    # Reprojection: by hand, per valid hand, averaged over the 5 valid hands' vertices.
    def px(p, g):
        return np.linalg.norm(p[:, :2] / p[:, 2:] - g[:, :2] / g[:, 2:], axis=-1) * 400.0

    per_hand = [
        px(pv[i, h], gv[i, h]) for i in range(n) for h in range(2) if targets["hand_valid"][i, h]
    ]
    assert res["mesh_reprojection_px"] == pytest.approx(np.concatenate(per_hand).mean(), abs=1e-9)
    assert res.metric_units["mesh_reprojection_px"] == "px"
    assert "not DIR's MIAA" in res.labels["mesh_reprojection_px"]
    with pytest.raises(HandposeError, match="needs targets"):
        evaluate_predictions("interhand", preds, {k: v for k, v in targets.items() if k != "K"},
                             reprojection=True)  # fmt: skip
    off = evaluate_predictions("interhand", preds, targets, reprojection=False)
    assert "mesh_reprojection_px" not in off.metrics and "penetration_max_depth" not in off.metrics


def test_batches_and_whole_set_agree_and_batch_lists_work():
    preds, targets = _sets(8, n=9)
    whole = evaluate_predictions("freihand", preds, targets, batch_size=100)
    chunks = evaluate_predictions("freihand", preds, targets, batch_size=2)
    for k, v in whole.metrics.items():
        assert chunks[k] == pytest.approx(v, rel=1e-12, abs=1e-12)
    lists = evaluate_predictions(
        "freihand",
        [{k: v[:4] for k, v in preds.items()}, {k: v[4:] for k, v in preds.items()}],
        [{k: v[:4] for k, v in targets.items()}, {k: v[4:] for k, v in targets.items()}],
    )
    assert lists["pa_mpjpe"] == pytest.approx(whole["pa_mpjpe"], rel=1e-12)


def test_model_output_dataclass_and_float32_tensors():
    @dataclasses.dataclass
    class Out:
        joints3d: torch.Tensor
        vertices: torch.Tensor | None = None

    preds, targets = _sets(9, single=False, n=5)
    out = Out(
        torch.from_numpy(preds["joints3d"]).float(), torch.from_numpy(preds["vertices"]).float()
    )
    t = {
        k: torch.from_numpy(v).float() if v.dtype == np.float64 else torch.from_numpy(v)
        for k, v in targets.items()
    }
    a = evaluate_predictions("freihand", out, t, batch_size=2)
    b = evaluate_predictions("freihand", preds, targets)
    assert a["pa_mpjpe"] == pytest.approx(b["pa_mpjpe"], rel=1e-5)
    assert a["pa_f@15mm"] == pytest.approx(b["pa_f@15mm"], abs=0.02)


def test_perfect_predictions():
    preds, targets = _sets(10)
    res = evaluate_predictions("dexycb", targets, targets)
    assert all(
        res[k] == pytest.approx(0.0, abs=1e-5)  # FreiHAND's 1e-8 norm offsets
        for k in ("mpjpe_abs", "mpjpe", "pa_mpjpe", "pa_mpvpe")
    )
    assert res["auc_mpjpe"] == pytest.approx(1.0)


def test_empty_protocol_reports_absent_values():
    res = InterHandProtocol().compute()
    assert res["mpjpe_all"] is None and res.absent["mpjpe_all"]
    assert res.groups["mpjpe"]["tip"] is None
    assert isinstance(res, ProtocolResult)


def test_result_round_trip():
    preds, targets = _sets(11)
    res = evaluate_predictions("interhand", preds, targets)
    back = ProtocolResult.from_dict(res.to_dict())
    assert back == res
    with pytest.raises(HandposeError, match="not a handpose evaluation result"):
        ProtocolResult.from_dict({"protocol": "x"})


def test_bad_inputs():
    preds, targets = _sets(12)
    with pytest.raises(
        HandposeError, match=r"targets\['joints3d'\] must have shape \(N, 2, 21, 3\)"
    ):
        evaluate_predictions("freihand", preds, {"joints3d": targets["joints3d"][:, 0]})
    with pytest.raises(HandposeError, match="preds has no 'joints3d'"):
        evaluate_predictions("freihand", {"vertices": preds["vertices"]}, targets)
    with pytest.raises(HandposeError, match="samples but targets has"):
        evaluate_predictions("freihand", {k: v[:3] for k, v in preds.items()}, targets)
    bad = {k: v.copy() for k, v in preds.items()}
    bad["joints3d"][0, 0, 3] = np.nan  # slot 0 of sample 0 is valid
    with pytest.raises(HandposeError, match="non-finite values in a valid hand slot"):
        evaluate_predictions("freihand", bad, targets)
    with pytest.raises(HandposeError, match="hand_valid"):
        evaluate_predictions("freihand", preds, {**targets, "hand_valid": np.ones((10, 3), bool)})
    with pytest.raises(HandposeError, match="vertices"):
        evaluate_predictions(
            "freihand",
            [preds, {"joints3d": preds["joints3d"]}],
            [targets, targets],
        )
    with pytest.raises(HandposeError, match="batch_size"):
        evaluate_predictions("freihand", preds, targets, batch_size=0)
    with pytest.raises(HandposeError, match="faces"):
        get_protocol("interhand", faces=np.zeros((4, 2), dtype=np.int64))
    with pytest.raises(HandposeError, match="mapping of arrays"):
        evaluate_predictions("freihand", 3.0, targets)
    assert math.isfinite(evaluate_predictions("freihand", preds, targets)["pa_mpjpe"])
