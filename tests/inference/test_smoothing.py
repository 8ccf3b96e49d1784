"""One-Euro and Savitzky–Golay smoothing: naive references, properties, lag, streaming = batch."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.signal import savgol_filter

from handpose.errors import HandposeError
from handpose.inference.smoothing import (
    SMOOTHERS,
    OneEuroFilter,
    SavitzkyGolayFilter,
    one_euro_filter,
    savgol_causal,
    savgol_coefficients,
    savgol_smooth,
    smooth_sequence,
)


def naive_one_euro(xs, ts, min_cutoff, beta, d_cutoff):
    """Casiez et al. 2012, one scalar at a time, straight from the equations."""

    def alpha(fc, dt):
        tau = 1.0 / (2 * math.pi * fc)
        return 1.0 / (1.0 + tau / dt)

    out = [xs[0]]
    x_prev, x_hat, dx_hat = xs[0], xs[0], 0.0
    for i in range(1, len(xs)):
        dt = ts[i] - ts[i - 1]
        dx = (xs[i] - x_prev) / dt
        dx_hat = alpha(d_cutoff, dt) * dx + (1 - alpha(d_cutoff, dt)) * dx_hat
        a = alpha(min_cutoff + beta * abs(dx_hat), dt)
        x_hat = a * xs[i] + (1 - a) * x_hat
        x_prev = xs[i]
        out.append(x_hat)
    return np.array(out)


def naive_savgol(x, window, order, causal=False):
    """np.polyfit over each output's window, evaluated at its sample (1D)."""
    T, out = len(x), np.empty(len(x))
    for t in range(T):
        if causal:
            lo = max(0, t - window + 1)
            idx = np.arange(lo, t + 1)
        else:
            w = min(window, T)
            lo = min(max(t - w // 2, 0), T - w)
            idx = np.arange(lo, lo + w)
        deg = min(order, len(idx) - 1)
        out[t] = np.polyval(np.polyfit(idx - t, x[idx], deg), 0.0)
    return out


def test_one_euro_matches_naive_scalar_loop_with_irregular_timestamps():
    rng = np.random.default_rng(0)
    ts = np.cumsum(rng.uniform(0.01, 0.05, size=60))
    x = rng.normal(size=(60, 4, 3)) * 0.01 + np.sin(ts)[:, None, None]
    out = one_euro_filter(x, t=ts, min_cutoff=1.3, beta=4.0, d_cutoff=0.8)
    for j in range(4):
        for k in range(3):
            ref = naive_one_euro(x[:, j, k], ts, 1.3, 4.0, 0.8)
            assert np.abs(out[:, j, k] - ref).max() < 1e-13


def test_one_euro_streaming_equals_batch_and_keeps_types():
    x = np.random.default_rng(1).normal(size=(20, 21, 3)).astype(np.float32)
    f = OneEuroFilter(min_cutoff=0.7, beta=2.0, fps=30.0)
    streamed = np.stack([f.step(xi) for xi in x])
    batch = one_euro_filter(x, fps=30.0, min_cutoff=0.7, beta=2.0)
    assert streamed.dtype == batch.dtype == np.float32
    assert np.array_equal(streamed, batch)
    t = one_euro_filter(torch.from_numpy(x), fps=30.0, min_cutoff=0.7, beta=2.0)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    assert np.array_equal(t.numpy(), batch)
    f.reset()
    assert np.array_equal(f.step(x[5], 0.0), x[5])  # after reset the first sample passes


@settings(max_examples=25, deadline=None)
@given(
    arrays(np.float64, st.integers(2, 30), elements=st.floats(-5, 5)),
    st.floats(0.05, 10.0),
    st.floats(0.0, 50.0),
)
def test_one_euro_output_stays_within_the_inputs_range(x, min_cutoff, beta):
    """Each output is a convex combination of the input and the previous output."""
    y = one_euro_filter(x, fps=30.0, min_cutoff=min_cutoff, beta=beta)
    for t in range(len(x)):
        assert x[: t + 1].min() - 1e-12 <= y[t] <= x[: t + 1].max() + 1e-12


def test_constant_signal_is_unchanged_by_every_smoother():
    x = np.tile(np.array([0.1, -0.2, 0.6]), (25, 21, 1))
    assert np.allclose(one_euro_filter(x, fps=30.0, beta=3.0), x, atol=1e-15)
    for w, d in ((9, 0), (9, 2), (21, 3)):
        assert np.allclose(savgol_smooth(x, w, d), x, atol=1e-13)
        assert np.allclose(savgol_causal(x, w, d), x, atol=1e-13)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_savgol_preserves_polynomials_up_to_its_order(order):
    t = np.arange(40, dtype=np.float64)
    x = np.stack(
        [0.3 + 0.01 * t + (0.001 * t**2 if order >= 2 else 0) + (1e-5 * t**3 if order >= 3 else 0)]
        * 3,
        -1,
    )
    for w in (5, 9, 15):
        assert np.abs(savgol_smooth(x, w, order) - x).max() < 1e-10
        assert np.abs(savgol_causal(x, w, order) - x).max() < 1e-10  # zero lag on a ramp
    # A degree-(order + 1) term is not preserved.
    x2 = x + 1e-4 * t[:, None] ** (order + 1)
    assert np.abs(savgol_smooth(x2, 9, order) - x2).max() > 1e-6


def test_savgol_matches_naive_polyfit_and_scipy():
    x = np.random.default_rng(2).normal(size=(33, 5, 3))
    for w, d in ((5, 2), (9, 3), (11, 1), (7, 0)):
        out = savgol_smooth(x, w, d)
        assert np.abs(out - savgol_filter(x, w, d, axis=0, mode="interp")).max() < 1e-12
        causal = savgol_causal(x, w, d)
        for j, k in ((0, 0), (4, 2)):
            assert np.abs(out[:, j, k] - naive_savgol(x[:, j, k], w, d)).max() < 1e-10
            assert (
                np.abs(causal[:, j, k] - naive_savgol(x[:, j, k], w, d, causal=True)).max() < 1e-10
            )
    # Shorter than the window: one fit over the whole sequence.
    short = x[:4, 0, 0]
    assert np.abs(savgol_smooth(short, 9, 2) - naive_savgol(short, 9, 2)).max() < 1e-12


def test_savgol_classic_coefficients_and_causality():
    assert np.allclose(savgol_coefficients(5, 2) * 35, [-3, 12, 17, 12, -3])
    assert np.allclose(savgol_coefficients(7, 2) * 21, [-2, 3, 6, 7, 6, 3, -2])
    # Endpoint of a line through 3 samples: (−1, 2, 5)/6 · ... = least-squares extrapolation.
    assert np.allclose(savgol_coefficients(3, 1, 2), [-1 / 6, 1 / 3, 5 / 6])
    x = np.random.default_rng(3).normal(size=(30, 2))
    y = savgol_causal(x, 7, 2)
    x2 = x.copy()
    x2[20:] += 100.0  # changing the future does not change the past
    assert np.array_equal(savgol_causal(x2, 7, 2)[:20], y[:20])
    f = SavitzkyGolayFilter(7, 2)
    assert np.abs(np.stack([f.step(xi) for xi in x]) - y).max() < 1e-12


def test_one_euro_lag_on_a_ramp_is_v_over_2pi_cutoff():
    """Steady state on x = v·t: lag = v·τ = v / (2π (min_cutoff + beta·v)), exactly."""
    fps, v = 30.0, 0.2  # 20 cm/s
    t = np.arange(300) / fps
    x = v * t
    for beta in (0.0, 5.0, 50.0):
        y = one_euro_filter(x, fps=fps, min_cutoff=1.0, beta=beta, d_cutoff=1.0)
        lag = x[-1] - y[-1]
        assert lag == pytest.approx(v / (2 * math.pi * (1.0 + beta * v)), rel=1e-6)


def test_large_beta_tracks_fast_motion():
    fps = 60.0
    t = np.arange(240) / fps
    x = 0.05 * np.sin(2 * np.pi * 3.0 * t)  # 3 Hz, 5 cm amplitude: a fast finger tap
    errs = {
        beta: np.abs(one_euro_filter(x, fps=fps, min_cutoff=0.5, beta=beta) - x)[60:].max()
        for beta in (0.0, 10.0, 200.0)
    }
    assert errs[200.0] < errs[10.0] < errs[0.0]
    assert errs[200.0] < 0.5 * errs[0.0]


def test_smoothing_reduces_jitter_of_a_noisy_trajectory():
    rng = np.random.default_rng(4)
    t = np.arange(300) / 30.0
    gt = np.stack([0.05 * np.sin(2 * np.pi * 0.5 * t + p) for p in range(3)], -1)[:, None]
    noisy = gt + rng.normal(size=gt.shape) * 0.004

    def err(y):
        return np.linalg.norm(y - gt, axis=-1).mean()

    def accel(y):
        return np.abs(np.diff(y, 2, axis=0)).mean()

    # Offline Savitzky–Golay removes noise without lag: lower error and much lower jitter.
    for y in (savgol_smooth(noisy, 15, 2), savgol_causal(noisy, 21, 2)):
        assert err(y) < 0.8 * err(noisy) and accel(y) < 0.3 * accel(noisy)
    # One-Euro trades accuracy on moving joints (lag) for jitter: far less jitter, error no worse.
    y = one_euro_filter(noisy, fps=30.0, min_cutoff=2.0, beta=50.0)
    assert accel(y) < 0.5 * accel(noisy) and err(y) < err(noisy)


def test_dispatch_and_bad_input():
    x = np.zeros((5, 21, 3))
    assert set(SMOOTHERS) == {"none", "one_euro", "savgol", "savgol_causal"}
    assert smooth_sequence(x, "none") is not x
    assert np.array_equal(smooth_sequence(x, "savgol", window=5, order=1), x)
    with pytest.raises(HandposeError, match="unknown smoothing method"):
        smooth_sequence(x, "kalman")
    with pytest.raises(HandposeError, match="takes no parameter"):
        smooth_sequence(x, "savgol", beta=1.0)
    with pytest.raises(HandposeError, match="odd"):
        savgol_smooth(x, 4, 1)
    with pytest.raises(HandposeError, match="order"):
        savgol_causal(x, 4, 4)
    with pytest.raises(HandposeError, match="exactly one of t"):
        one_euro_filter(x)
    with pytest.raises(HandposeError, match="strictly increasing"):
        one_euro_filter(x, t=[0.0, 0.1, 0.1, 0.2, 0.3])
    with pytest.raises(HandposeError, match="min_cutoff"):
        OneEuroFilter(min_cutoff=0.0)
    with pytest.raises(HandposeError, match="beta"):
        OneEuroFilter(beta=-1.0)
    f = OneEuroFilter()
    f.step(x[0], 0.0)
    with pytest.raises(HandposeError, match="increase strictly"):
        f.step(x[1], 0.0)
    with pytest.raises(HandposeError, match="changed shape"):
        f.step(x[1, :5], 0.1)
    with pytest.raises(HandposeError, match="needs a timestamp"):
        f.step(x[1])
    bad = x.copy()
    bad[2, 3, 1] = np.nan
    with pytest.raises(HandposeError, match="non-finite"):
        savgol_smooth(bad, 3, 1)
    with pytest.raises(HandposeError, match="non-finite"):
        OneEuroFilter().step(bad[2], 0.0)
