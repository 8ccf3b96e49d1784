"""The gesture library: VIHand's names and split, distinct choreographies, limits, variation."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handpose.errors import HandposeError
from handpose.simulators.motion import (
    GESTURES,
    SEQUENCE_NAMES,
    TEST_SEQUENCES,
    TRAIN_SEQUENCES,
    axis_angle_to_anatomical,
    generate_sequence,
    joint_limits,
    sample_subject,
)
from handpose.simulators.motion.generator import _finger_track, soft_clamp
from handpose.simulators.motion.subjects import subject_rng

VIHAND_NAMES = (
    "ROM01_Finger_Counting",
    "ROM02_Finger_Bending",
    "ROM03_Finger_Tapping",
    "ROM04_Finger_Pinching",
    "ROM05_Thumb_Tap_Palm",
    "ROM06_Thumb_Tap_Back",
    "ROM07_Finger_Walking",
    "ROM08_Finger_Snapping",
    "ROM09_Thumb_Sliding_Palm",
    "ROM10_Thumb_Sliding_Back",
    "ROM11_Finger_Wiggling",
    "ROM12_Finger_Crossing",
    "ROM13_Finger_Interlocking",
    "ROM14_Random_Gestures",
    "ROM15_Calibration",
)


def test_names_and_split_are_vihands():
    assert SEQUENCE_NAMES == VIHAND_NAMES
    assert TRAIN_SEQUENCES == VIHAND_NAMES[:12] and TEST_SEQUENCES == VIHAND_NAMES[12:]


def _descriptor(name: str) -> np.ndarray:
    """Mean and spread of the anatomical angles over the keyframes of a few cycles."""
    rng = np.random.default_rng(0)
    poses = np.concatenate([[k.pose for k in GESTURES[name].cycle(rng)] for _ in range(5)])
    return np.concatenate([poses.mean(0).ravel(), poses.std(0).ravel()])


def test_every_gesture_is_a_distinct_choreography():
    d = {n: _descriptor(n) for n in SEQUENCE_NAMES}
    for i, a in enumerate(SEQUENCE_NAMES):
        for b in SEQUENCE_NAMES[i + 1 :]:
            dist = np.linalg.norm(d[a] - d[b])
            assert dist > 0.3, (a, b, dist)


@settings(max_examples=25, deadline=None)
@given(subject=st.integers(1, 40), seed=st.integers(0, 2**16), rom=st.integers(0, 14))
def test_all_gestures_respect_joint_limits(subject, seed, rom):
    seq = generate_sequence(SEQUENCE_NAMES[rom], sample_subject(subject, seed), 240, seed=seed)
    ang = axis_angle_to_anatomical(seq.hand_pose)
    lo, hi = joint_limits()
    assert (ang >= lo - 1e-12).all() and (ang <= hi + 1e-12).all()
    assert np.isfinite(seq.global_orient).all() and np.isfinite(seq.transl).all()


def test_soft_clamp_is_identity_inside_and_c1_at_the_margin():
    lo, hi, m = np.array(-1.0), np.array(1.0), 0.2
    x = np.linspace(-3, 3, 60001)
    y = soft_clamp(x, lo, hi, m)
    inside = np.abs(x) <= 0.8
    np.testing.assert_array_equal(y[inside], x[inside])
    assert (y > -1).all() and (y < 1).all()
    dy = np.diff(y) / np.diff(x)
    assert np.abs(np.diff(dy)).max() < 1e-3  # no slope jump


def test_deterministic_and_seed_dependent():
    p = sample_subject(3, seed=0)
    a = generate_sequence("ROM04_Finger_Pinching", p, 120, seed=0)
    b = generate_sequence("ROM04_Finger_Pinching", p, 120, seed=0)
    c = generate_sequence("ROM04_Finger_Pinching", p, 120, seed=1)
    for f in ("hand_pose", "global_orient", "transl", "betas"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(a.hand_pose, c.hand_pose)


def test_subjects_differ_in_shape_and_style():
    a, b = sample_subject(1), sample_subject(2)
    assert not np.array_equal(a.betas, b.betas) and a.tempo != b.tempo
    assert a.betas.shape == (10,) and np.abs(a.betas).max() <= 2.0
    assert sample_subject(1).tempo == a.tempo


def test_tempo_scales_keyframe_times():
    p = sample_subject(5)
    g = GESTURES["ROM02_Finger_Bending"]
    slow = dataclasses.replace(p, tempo=1.0)
    fast = dataclasses.replace(p, tempo=2.0)
    t1, p1 = _finger_track(g, slow, 10.0, subject_rng(0, 9))
    t2, p2 = _finger_track(g, fast, 10.0, subject_rng(0, 9))
    n = min(len(t1), len(t2))
    np.testing.assert_allclose(t2[:n], t1[:n] / 2.0, atol=1e-12)
    np.testing.assert_allclose(p2[:n], p1[:n])


def test_amplitude_scales_the_gesture():
    p = sample_subject(5)
    g = GESTURES["ROM02_Finger_Bending"]
    full = dataclasses.replace(p, amplitude=1.0, jitter=0.0)
    half = dataclasses.replace(p, amplitude=0.5, jitter=0.0)
    _, a = _finger_track(g, full, 5.0, subject_rng(0, 9))
    _, b = _finger_track(g, half, 5.0, subject_rng(0, 9))
    np.testing.assert_allclose(b - p.rest_offset, 0.5 * (a - p.rest_offset), atol=1e-12)


def test_fps_samples_the_same_motion():
    p = sample_subject(2)
    a = generate_sequence("ROM11_Finger_Wiggling", p, 150, fps=30.0)
    b = generate_sequence("ROM11_Finger_Wiggling", p, 300, fps=60.0)
    np.testing.assert_allclose(b.hand_pose[::2], a.hand_pose, atol=1e-12)
    np.testing.assert_allclose(b.global_orient[::2], a.global_orient, atol=1e-12)
    assert b.fps == 60.0


def test_wrist_moves_and_walking_travels():
    p = sample_subject(1)
    walk = generate_sequence("ROM07_Finger_Walking", p, 240)
    still = generate_sequence("ROM03_Finger_Tapping", p, 240)
    assert np.ptp(walk.transl, axis=0).max() > np.ptp(still.transl, axis=0).max()
    assert np.ptp(still.global_orient, axis=0).max() > 0.05


def test_unknown_gesture_is_a_user_error():
    with pytest.raises(HandposeError, match="unknown gesture"):
        generate_sequence("ROM99_Juggling", sample_subject(1), 10)
