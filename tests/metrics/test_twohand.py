"""Two-hand metrics: MRRPE and the InterHand2.6M per-joint-then-mean aggregation."""

import math

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.metrics import InterHandEvaluator, interhand_mpjpe, mrrpe, per_joint_mean
from metrics.metrics_naive import naive_interhand


def _two_hands(seed=0, n=40):
    rng = np.random.default_rng(seed)
    gt = rng.normal(size=(n, 2, 21, 3)) * 0.04
    gt[:, 1] += np.array([0.15, 0.0, 0.0])
    pred = gt * rng.uniform(0.8, 1.2, size=(n, 2, 1, 1)) + rng.normal(size=gt.shape) * 0.01
    valid = rng.random((n, 2, 21)) > 0.15
    interacting = rng.random(n) > 0.5
    return pred, gt, valid, interacting


def test_mrrpe_hand_computed():
    pl = torch.tensor([0.10, 0.0, 0.0], dtype=torch.float64)
    pr = torch.zeros(3, dtype=torch.float64)
    gl = torch.tensor([0.12, 0.0, 0.0], dtype=torch.float64)
    gr = torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64)
    # (p_L − p_R) − (g_L − g_R) = (0.1, 0, 0) − (0.12, 0, −0.5) = (−0.02, 0, 0.5)
    assert float(mrrpe(pl, pr, gl, gr)) == pytest.approx(math.hypot(0.02, 0.5), abs=1e-15)
    # A common translation of both predicted hands does not matter.
    assert float(mrrpe(pl + 1, pr + 1, gl, gr)) == pytest.approx(math.hypot(0.02, 0.5), abs=1e-12)


def test_interhand_mpjpe_matches_naive_loop():
    pred, gt, valid, inter = _two_hands(1)
    out = interhand_mpjpe(*map(torch.from_numpy, (pred, gt, valid, inter)))
    ref = naive_interhand(pred, gt, valid, inter)
    for split in ("sh", "ih", "all"):
        assert abs(float(out[split].mean) - ref[split]) < 1e-12
        assert out[split].per_joint.shape == (2, 21)


def test_joint_without_valid_samples_is_excluded_not_nan():
    pred, gt, valid, inter = _two_hands(2, n=10)
    valid[:, 0, 8] = False  # right index tip never annotated
    valid[~inter, 1, :] = False  # single-hand frames: only the right hand is annotated
    out = interhand_mpjpe(*map(torch.from_numpy, (pred, gt, valid, inter)))
    ref = naive_interhand(pred, gt, valid, inter)
    for split in ("sh", "ih", "all"):
        assert math.isfinite(float(out[split].mean))
        assert abs(float(out[split].mean) - ref[split]) < 1e-12
        assert bool(out[split].per_joint[0, 8].isnan()) and int(out[split].counts[0, 8]) == 0
    assert bool(out["sh"].per_joint[1].isnan().all())
    # per_joint_mean directly: joint 1 has no samples, the mean is over joint 0 only.
    r = per_joint_mean(torch.tensor([[1.0, 5.0], [3.0, 7.0]]), torch.tensor([[1, 0], [1, 0]]))
    assert float(r.mean) == 2.0 and r.counts.tolist() == [2, 0]


def test_root_validity_drops_the_whole_hand():
    pred, gt, valid, inter = _two_hands(3, n=6)
    valid[:] = True
    valid[2, 1, 0] = False  # sample 2, left wrist invalid
    out = interhand_mpjpe(*map(torch.from_numpy, (pred, gt, valid, inter)))
    assert int(out["all"].counts[1].min()) == 5  # 6 samples, one left hand dropped
    assert int(out["all"].counts[0].min()) == 6


@pytest.mark.parametrize("align", ["root", "intaghand"])
def test_evaluator_over_batches_matches_naive(align):
    pred, gt, valid, inter = _two_hands(4, n=30)
    ev = InterHandEvaluator(units="mm", align=align)
    for s in (slice(0, 13), slice(13, 30)):
        ev.update(
            torch.from_numpy(pred[s]),
            torch.from_numpy(gt[s]),
            valid=torch.from_numpy(valid[s]),
            interacting=torch.from_numpy(inter[s]),
        )
    res = ev.compute()
    scale = None if align == "root" else (9, 0, 9)
    ref = naive_interhand(pred, gt, valid, inter, scale_align=scale)
    for split in ("sh", "ih", "all"):
        assert abs(res[f"mpjpe_{split}"] - 1000 * ref[split]) < 1e-9
    assert abs(res["mrrpe"] - 1000 * ref["mrrpe"]) < 1e-9
    md = ev.to_markdown("InterHand2.6M")
    assert "| MPJPE interacting |" in md and "| MRRPE |" in md and "mm" in md


def test_evaluator_vertices_and_empty():
    ev = InterHandEvaluator()
    assert math.isnan(ev.compute()["mpjpe_all"])
    assert "–" in ev.to_markdown()
    pred, gt, valid, inter = _two_hands(5, n=4)
    gv = np.repeat(gt[:, :, :1], 50, axis=2) + 0.01  # 50 "vertices" per hand, 1 cm from root
    pv = gv + np.array([0.0, 0.002, 0.0])
    ev.update(
        *map(torch.from_numpy, (pred, gt)),
        interacting=torch.from_numpy(inter),
        pred_verts=torch.from_numpy(pv + pred[:, :, :1] - gt[:, :, :1]),
        gt_verts=torch.from_numpy(gv),
    )
    # Rooted at each hand's own root joint, every vertex is 2 mm off.
    assert ev.compute()["mpvpe_all"] == pytest.approx(2.0, abs=1e-9)
    with pytest.raises(HandposeError):
        ev.update(torch.zeros(2, 21, 3), torch.zeros(2, 21, 3))
    with pytest.raises(HandposeError):
        InterHandEvaluator(align="procrustes")
