"""Streaming: one frame in, the pose out; identical to offline causal windows; dropout."""

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.inference.recording import ImuRecording

from .standins import SENSORS, make_estimator, random_motion


def _recording(q, a):
    return ImuRecording(q, a, fps=30.0, sensor_names=SENSORS, source="test")


def test_streaming_equals_offline_causal_inference():
    est = make_estimator(window=6)
    q, a = random_motion(20)
    offline = est.infer(_recording(q, a), mode="causal", return_vertices=True)
    stream = est.stream(return_vertices=True)
    poses = [stream.push(q[t], a[t], t / 30) for t in range(20)]
    for key in ("global_orient", "hand_pose", "betas", "joints", "vertices"):
        live = np.stack([getattr(p, key) for p in poses])
        np.testing.assert_allclose(live, getattr(offline, key), rtol=0, atol=1e-6, err_msg=key)
    assert [p.window_fill for p in poses] == [min(t + 1, 6) for t in range(20)]
    assert [p.frame for p in poses] == list(range(20))


def test_streaming_uses_no_future_frames():
    est = make_estimator(window=5)
    q, a = random_motion(12)
    stream = est.stream()
    first = [stream.push(q[t], a[t]).joints for t in range(8)]
    q2, a2 = q.copy(), a.copy()
    q2[8:] = q[::-1][: 12 - 8]  # change the future only
    stream2 = est.stream()
    second = [stream2.push(q2[t], a2[t]).joints for t in range(8)]
    np.testing.assert_array_equal(np.stack(first), np.stack(second))


def test_causal_differs_from_tiled_where_future_context_is_used():
    # Guards against the schedules being silently identical (the equality test above would
    # then prove nothing about causality).
    est = make_estimator(window=6)
    q, a = random_motion(18)
    causal = est.infer(_recording(q, a), mode="causal", return_vertices=False)
    tiled = est.infer(_recording(q, a), mode="tiled", return_vertices=False)
    assert not np.allclose(causal.joints[:5], tiled.joints[:5])
    # Frame 5 is the last frame of the first tile and the end of its causal window.
    np.testing.assert_allclose(causal.joints[5], tiled.joints[5], atol=1e-6)


def test_dropout_is_held_flagged_and_matches_offline_hold():
    est = make_estimator(window=4)
    q, a = random_motion(10)
    q[3:6, 2] = np.nan  # middle finger drops out for 3 frames
    a[7, 0] = np.inf  # thumb acceleration glitch
    q[0, 4] = 0.0  # pinky sends a zero quaternion on the first frame
    stream = est.stream()
    poses = [stream.push(q[t], a[t]) for t in range(10)]
    dropped = np.stack([p.dropped for p in poses])
    assert dropped[3:6, 2].all() and dropped[7, 0] and dropped[0, 4]
    assert dropped.sum() == 5
    assert all(np.isfinite(p.joints).all() for p in poses)
    offline = est.infer(_recording(q, a), mode="causal", on_missing="hold", return_vertices=False)
    np.testing.assert_array_equal(offline.dropped, dropped)
    np.testing.assert_allclose(np.stack([p.joints for p in poses]), offline.joints, atol=1e-6)
    # Holding equals feeding the last valid value explicitly.
    q_held = q.copy()
    q_held[3:6, 2] = q[2, 2]
    a_held = a.copy()
    a_held[3:6, 2] = a[2, 2]
    a_held[7, 0] = a[6, 0]
    q_held[7, 0] = q[6, 0]  # the whole sample is held, not only the broken acceleration
    q_held[0, 4] = q[0, 5]  # never seen before → the root's sample
    a_held[0, 4] = a[0, 5]
    manual = est.infer(_recording(q_held, a_held), mode="causal", return_vertices=False)
    np.testing.assert_allclose(manual.joints, offline.joints, atol=1e-6)


def test_stream_reset_restarts_padding():
    est = make_estimator(window=4)
    q, a = random_motion(6)
    stream = est.stream()
    for t in range(6):
        stream.push(q[t], a[t])
    stream.reset()
    again = stream.push(q[0], a[0])
    fresh = est.stream().push(q[0], a[0])
    np.testing.assert_array_equal(again.joints, fresh.joints)
    assert again.frame == 0 and again.window_fill == 1


def test_wrong_sensor_count_in_a_frame_is_a_clear_error():
    stream = make_estimator().stream()
    with pytest.raises(HandposeError, match="7 sensors"):
        stream.push(np.ones((6, 4)), np.zeros((6, 3)))


def test_pose_json_is_serialisable_and_flags_names():
    import json

    stream = make_estimator().stream()
    q, a = random_motion(1)
    q[0, 3] = np.nan
    line = json.dumps(stream.push(q[0], a[0], 0.5).to_json(SENSORS))
    obj = json.loads(line)
    assert obj["dropped_sensors"] == ["ring"] and obj["t"] == 0.5
    assert np.asarray(obj["joints"]).shape == (21, 3)
