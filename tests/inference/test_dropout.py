"""Sensor dropout: causal hold of the last valid sample, flags, and the never-seen fallback."""

import numpy as np

from handpose.inference.dropout import SampleHold, hold_missing, sample_is_valid


def test_validity_rules():
    q = np.array([[1.0, 0, 0, 0], [np.nan, 0, 0, 0], [0.0, 0, 0, 0], [1.0, 0, 0, 0]])
    a = np.array([[0.0, 0, 0], [0, 0, 0], [0, 0, 0], [np.inf, 0, 0]])
    assert sample_is_valid(q, a).tolist() == [True, False, False, False]


def test_hold_repeats_last_valid_sample_and_flags_it():
    q = np.zeros((4, 2, 4))
    q[..., 0] = 1.0
    q[:, 0, 1] = np.arange(4) * 0.1  # sensor 0 changes each frame
    a = np.arange(24, dtype=float).reshape(4, 2, 3)
    q[2, 0] = np.nan  # frame 2: sensor 0 drops out
    a[3, 0, 1] = np.nan  # frame 3: sensor 0 acceleration drops out
    out_q, out_a, dropped = hold_missing(q, a, root_index=1)
    assert dropped.tolist() == [[False, False], [False, False], [True, False], [True, False]]
    np.testing.assert_array_equal(out_q[2, 0], q[1, 0])
    np.testing.assert_array_equal(out_q[3, 0], q[1, 0])  # whole sample held, not half of it
    np.testing.assert_array_equal(out_a[3, 0], a[1, 0])
    np.testing.assert_array_equal(out_q[:, 1], q[:, 1])  # the healthy sensor is untouched
    assert np.isfinite(out_q).all() and np.isfinite(out_a).all()


def test_never_seen_sensor_copies_root_then_its_own_samples():
    hold = SampleHold(3, root_index=2)
    q = np.array([[np.nan] * 4, [0.0, 1, 0, 0], [0.0, 0, 0, 1]])
    a = np.array([[np.nan] * 3, [1.0, 2, 3], [4.0, 5, 6]])
    out_q, out_a, dropped = hold(q, a)
    assert dropped.tolist() == [True, False, False]
    np.testing.assert_array_equal(out_q[0], q[2])  # root's sample
    np.testing.assert_array_equal(out_a[0], a[2])
    q2 = q.copy()
    q2[0] = [1.0, 0, 0, 0]
    a2 = a.copy()
    a2[0] = [7.0, 8, 9]
    out_q, out_a, dropped = hold(q2, a2)
    assert not dropped.any()
    np.testing.assert_array_equal(out_q[0], q2[0])


def test_all_missing_from_the_start_gives_identity_and_zero():
    hold = SampleHold(2, root_index=0)
    out_q, out_a, dropped = hold(np.full((2, 4), np.nan), np.full((2, 3), np.nan))
    assert dropped.all()
    np.testing.assert_array_equal(out_q, [[1, 0, 0, 0], [1, 0, 0, 0]])
    np.testing.assert_array_equal(out_a, np.zeros((2, 3)))


def test_reset_forgets_history():
    hold = SampleHold(1)
    hold(np.array([[0.0, 1, 0, 0]]), np.array([[1.0, 1, 1]]))
    hold.reset()
    out_q, _, _ = hold(np.full((1, 4), np.nan), np.full((1, 3), np.nan))
    np.testing.assert_array_equal(out_q, [[1, 0, 0, 0]])
