"""PCK and AUC (FreiHAND protocol) against a naive EvalUtil-style loop."""

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.metrics import auc, freihand_thresholds, pck_counts, pck_curve
from metrics.metrics_naive import freihand_auc


def test_thresholds_are_freihands():
    th = freihand_thresholds()
    assert th.shape == (100,) and th.dtype == torch.float64
    np.testing.assert_array_equal(th.numpy(), np.linspace(0.0, 0.05, 100))


def test_hand_computed_values():
    # Perfect predictions: PCK = 1 everywhere → AUC 1. Everything beyond 5 cm → 0.
    assert float(auc(torch.zeros(7, 21, dtype=torch.float64))) == 1.0
    assert float(auc(torch.full((7, 21), 0.06, dtype=torch.float64))) == 0.0
    # All errors 2.5 cm: PCK steps from 0 to 1 between τ₄₉ < 0.025 < τ₅₀, so the area is
    # 49.5 steps of 0.05/99 = 0.025, over the range 0.05: exactly one half.
    assert float(auc(torch.full((3, 4), 0.025, dtype=torch.float64))) == pytest.approx(
        0.5, abs=1e-15
    )


def test_inclusive_vs_strict_boundary():
    th = freihand_thresholds()
    e = torch.full((1, 1), float(th[10]), dtype=torch.float64)  # exactly on a threshold
    inc = pck_curve(e, inclusive=True).pck[0]
    strict = pck_curve(e, inclusive=False).pck[0]
    assert float(inc[10]) == 1.0 and float(strict[10]) == 0.0
    assert float(inc[9]) == 0.0 and float(strict[11]) == 1.0
    # One trapezoid of difference: (1 − 0)/2 · step on each side of τ₁₀ → 1/99 over the range.
    diff = float(auc(e, inclusive=True) - auc(e, inclusive=False))
    assert diff == pytest.approx(1 / 99, abs=1e-15)
    assert freihand_auc(e.numpy()) - freihand_auc(e.numpy(), inclusive=False) == pytest.approx(diff)


@pytest.mark.parametrize("inclusive", [True, False])
def test_matches_naive_loop_with_masks(inclusive):
    rng = np.random.default_rng(0)
    errors = np.abs(rng.normal(size=(500, 21)) * 0.02)
    # Put some errors exactly on thresholds to exercise the comparison.
    errors[::7, 3] = np.linspace(0.0, 0.05, 100)[rng.integers(0, 100, size=72)]
    valid = rng.random((500, 21)) > 0.3
    valid[:, 5] = False  # a keypoint without data is skipped, not NaN
    valid[:2, 5] = False
    e, v = torch.from_numpy(errors), torch.from_numpy(valid)
    assert abs(float(auc(e, inclusive=inclusive)) - freihand_auc(errors, None, inclusive)) < 1e-12
    got = float(auc(e, valid=v, inclusive=inclusive))
    assert abs(got - freihand_auc(errors, valid, inclusive)) < 1e-12
    curve = pck_curve(e, valid=v, inclusive=inclusive)
    assert curve.pck.shape == (21, 100) and int(curve.counts[5]) == 0
    assert bool(curve.pck[5].isnan().all())


def test_per_keypoint_differs_from_pooled_with_unbalanced_masks():
    e = torch.tensor([[0.0, 0.04], [0.0, 0.04], [0.0, 0.04], [0.0, 0.01]], dtype=torch.float64)
    v = torch.tensor([[True, False], [True, False], [True, False], [True, True]])
    # Keypoint 0: AUC 1; keypoint 1 (one sample, 1 cm): AUC ≈ 0.8. Mean ≈ 0.9, pooled ≈ 0.95.
    per_kp = float(auc(e, valid=v))
    pooled = float(auc(e, valid=v, per_keypoint=False))
    assert per_kp == pytest.approx(freihand_auc(e.numpy(), v.numpy()), abs=1e-15)
    assert pooled > per_kp + 0.03


def test_counts_are_additive_and_batch_dims():
    g = torch.Generator().manual_seed(0)
    e = torch.rand(2, 50, 21, generator=g, dtype=torch.float64) * 0.06
    hits, counts = pck_counts(e)
    h1, c1 = pck_counts(e[0])
    h2, c2 = pck_counts(e[1])
    assert torch.equal(hits, h1 + h2) and torch.equal(counts, c1 + c2)
    assert float(auc(e)) == pytest.approx(freihand_auc(e.reshape(100, 21).numpy()), abs=1e-12)
    assert auc(e.float()).dtype == torch.float32


def test_bad_input():
    with pytest.raises(HandposeError):
        auc(torch.zeros(3, 4), thresholds=torch.tensor([0.01]))
    with pytest.raises(HandposeError):
        auc(torch.zeros(3, 4), thresholds=torch.tensor([0.02, 0.01]))
    with pytest.raises(HandposeError):
        auc(torch.zeros(3, 4), valid=torch.ones(3, 5, dtype=torch.bool))
