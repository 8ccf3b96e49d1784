"""Live streaming end to end: the `handpose infer stream` server in a subprocess, fed in real time.

The replay client (`handpose infer replay`) sends a recorded file's frames over UDP on 127.0.0.1
at 30 fps (1.5 s); every frame must get exactly one pose line, equal to offline causal inference
on the same frames. A second test drives the server over stdin with dropouts and bad lines.
"""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

import handpose.cli as cli
from handpose.inference.api import load_estimator
from handpose.inference.protocol import encode_frame
from handpose.inference.readers import read_imu

SEQ = "ROM13_Finger_Interlocking"


def _server(argv):
    return subprocess.Popen(
        [sys.executable, "-m", "handpose", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_udp_replay_in_real_time_gets_a_pose_per_frame(student_ckpt, imu_h5):
    proc = _server(
        ["infer", "stream", "--checkpoint", str(student_ckpt), "--udp", "0", "--idle-timeout", "20"]
    )
    try:
        line = proc.stderr.readline()  # blocks until the socket is bound
        assert "listening on udp://127.0.0.1:" in line, line + proc.stderr.read()
        port = int(line.split("udp://127.0.0.1:")[1].split()[0])
        start = time.perf_counter()
        code = cli.main(["infer", "replay", str(imu_h5), "--udp", str(port), "--sequence", SEQ])
        elapsed = time.perf_counter() - start
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert code == 0 and proc.returncode == 0, err
    assert elapsed >= 44 / 30 - 0.05  # paced at 30 fps: 45 frames span 1.47 s
    poses = [json.loads(x) for x in out.splitlines()]
    assert [p["frame"] for p in poses] == list(range(45))
    assert all(p["t"] == pytest.approx(p["frame"] / 30, abs=1e-6) for p in poses)
    rec = read_imu(imu_h5, sequence=SEQ)
    offline = load_estimator(student_ckpt).infer(rec, mode="causal", return_vertices=False)
    live = np.array([p["joints"] for p in poses])
    np.testing.assert_allclose(live, offline.joints, atol=2e-6)  # JSON keeps 1e-6 m
    assert "45 frames estimated" in err


def test_stdin_stream_with_dropouts_and_a_bad_line(student_ckpt, imu_h5):
    rec = read_imu(imu_h5, sequence=SEQ)
    q, a = rec.quaternions[:10].copy(), rec.accelerations[:10].copy()
    q[4, 2] = np.nan  # middle finger drops out in frame 4
    lines = [encode_frame(q[t], a[t], t / 30) for t in range(10)]
    lines.insert(3, '{"sensors": [null, null]}')  # wrong sensor count: an error line, no crash
    proc = _server(["infer", "stream", "--checkpoint", str(student_ckpt), "--backend", "onnx"])
    out, err = proc.communicate("\n".join(lines) + "\n", timeout=120)
    assert proc.returncode == 0, err
    objs = [json.loads(x) for x in out.splitlines()]
    assert len(objs) == 11
    assert "error" in objs[3] and "2 sensors" in objs[3]["error"]
    poses = [o for o in objs if "frame" in o]
    assert [p["frame"] for p in poses] == list(range(10))
    assert poses[4]["dropped_sensors"] == ["middle"]
    assert sum(any(p["dropped"]) for p in poses) == 1
