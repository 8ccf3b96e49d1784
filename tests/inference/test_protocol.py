"""NDJSON frames: parsing, encoding, the serve loop, and UDP transport on 127.0.0.1."""

import json
import threading

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.inference.protocol import (
    encode_frame,
    parse_frame,
    replay_udp,
    serve_lines,
    udp_lines,
)
from handpose.inference.recording import ImuRecording

from .standins import SENSORS, make_estimator, random_motion


def test_encode_then_parse_round_trip_with_missing_sensor():
    q, a = random_motion(1)
    q[0, 1] = np.nan
    line = encode_frame(q[0], a[0], 0.25)
    msg = json.loads(line)
    assert msg["sensors"][1] is None and msg["t"] == 0.25
    q2, a2, t = parse_frame(msg, SENSORS)
    assert t == 0.25
    np.testing.assert_array_equal(
        np.isnan(q2).all(-1), [False, True, False, False, False, False, False]
    )
    np.testing.assert_allclose(q2[0], q[0, 0])
    np.testing.assert_allclose(a2[6], a[0, 6])


def test_parse_by_name_and_partial_nulls():
    msg = {
        "sensors": {"thumb": {"q": [1, 0, 0, 0], "acc": [0, None, 0]}, "back": {"q": [1, 0, 0, 0]}}
    }
    q, a, t = parse_frame(msg, SENSORS)
    assert t is None
    assert np.isnan(a[0, 1]) and np.isnan(a[5]).all() and np.isnan(q[1]).all()
    assert q[0, 0] == 1.0


@pytest.mark.parametrize(
    "msg, match",
    [
        ([1, 2], "JSON object"),
        ({"sensors": [None] * 6}, "6 sensors but the student expects 7"),
        ({"sensors": {"elbow": None}}, "unknown sensor names"),
        ({"sensors": [{"q": [1, 0, 0], "acc": [0, 0, 0]}] + [None] * 6}, "list of 4 numbers"),
        ({"sensors": [{"q": "x"}] + [None] * 6}, "list of 4 numbers"),
        ({"sensors": [None] * 7, "t": "now"}, "'t' must be a number"),
    ],
)
def test_malformed_frames_raise(msg, match):
    with pytest.raises(HandposeError, match=match):
        parse_frame(msg, SENSORS)


def test_serve_lines_one_output_per_frame_errors_inline_and_end():
    est = make_estimator(window=4)
    q, a = random_motion(3)
    lines = [encode_frame(q[t], a[t], t / 30) for t in range(3)]
    lines.insert(1, "{not json")
    lines.insert(2, "")
    lines.append('{"reset": true}')
    lines.append(encode_frame(q[0], a[0], 0.0))
    lines.append('{"end": true}')
    lines.append(encode_frame(q[1], a[1], 0.0))  # after end: ignored
    out = []
    n = serve_lines(est.stream(), lines, out.append)
    objs = [json.loads(x) for x in out]
    assert n == 4
    assert "error" in objs[1] and objs[1]["line"] == 2
    assert [o.get("frame") for o in objs] == [0, None, 1, 2, None, 0]
    assert objs[4] == {"reset": True, "line": 6}
    # After the reset, frame 0 again gives exactly the first answer.
    assert objs[5]["joints"] == objs[0]["joints"]


def test_udp_transport_delivers_every_frame():
    est = make_estimator(window=4)
    q, a = random_motion(12)
    ready = threading.Event()
    port = []
    out = []

    def server():
        lines = udp_lines(0, idle_timeout=5.0, on_ready=lambda p: (port.append(p), ready.set()))
        serve_lines(est.stream(), lines, out.append)

    thread = threading.Thread(target=server)
    thread.start()
    assert ready.wait(5.0)
    sent = replay_udp(q, a, port[0], fps=30.0, realtime=False)
    thread.join(10.0)
    assert not thread.is_alive()
    assert sent == 12 and len(out) == 12
    recording = ImuRecording(q, a, fps=30.0, sensor_names=SENSORS)
    expected = est.infer(recording, mode="causal", return_vertices=False)
    live = np.array([json.loads(x)["joints"] for x in out])
    np.testing.assert_allclose(live, expected.joints, atol=2e-6)  # JSON rounds to 1e-6 m


HOSTILE_LINES = [
    "[" * 100_000 + "]" * 100_000,  # RecursionError in json.loads
    '{"sensors": ' + "[" * 50_000 + "]" * 50_000 + "}",
    '{"sensors": [[[[1]]]], "t": 1e999}',
    "\ufffd\ufffd garbage",
    "null",
    '{"sensors": {"thumb": {"q": [1, 0, 0, 0], "acc": "fast"}}}',
]


def test_serve_lines_survives_hostile_lines():
    est = make_estimator(window=4)
    q, a = random_motion(2)
    good = [encode_frame(q[t], a[t], t / 30) for t in range(2)]
    out = []
    n = serve_lines(est.stream(), [good[0], *HOSTILE_LINES, good[1]], out.append)
    objs = [json.loads(x) for x in out]
    assert n == 2 and len(objs) == len(HOSTILE_LINES) + 2
    assert objs[0]["frame"] == 0 and objs[-1]["frame"] == 1
    for k, obj in enumerate(objs[1:-1], start=2):
        assert set(obj) == {"error", "line"} and obj["line"] == k, obj
    assert objs[1]["error"] == "invalid JSON: nested too deeply"


def test_stream_command_answers_bad_lines_and_stays_up(student_ckpt, monkeypatch, capsys):
    import io
    import sys

    from handpose.cli import main

    q, a = random_motion(3)
    lines = [encode_frame(q[0], a[0], 0.0), *HOSTILE_LINES, encode_frame(q[1], a[1], 0.1)]
    raw = ("\n".join(lines) + "\n").encode() + b"\xff\xfe not utf-8\n" + b'{"end": true}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    assert main(["infer", "stream", "--checkpoint", str(student_ckpt)]) == 0
    captured = capsys.readouterr()
    objs = [json.loads(x) for x in captured.out.splitlines()]
    assert [("frame" in o, "error" in o) for o in objs] == (
        [(True, False)] + [(False, True)] * (len(HOSTILE_LINES)) + [(True, False), (False, True)]
    )
    assert captured.err.strip() == "handpose: 2 frames estimated"
