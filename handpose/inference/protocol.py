"""The live IMU protocol: newline-delimited JSON (NDJSON) frames in, NDJSON poses out.

**Input**, one JSON object per line (stdin) or per line of a UDP datagram (127.0.0.1)::

    {"t": 0.033, "sensors": [{"q": [w, x, y, z], "acc": [x, y, z]}, null, ...]}

- ``sensors``: exactly N entries in the student's canonical sensor order (for ``vihand7``:
  thumb, index, middle, ring, pinky, back, wrist), or an object keyed by sensor name
  (``{"thumb": {...}, ...}``; absent names are missing).
- ``q``: unit quaternion, scalar first, sensor → world. ``acc``: global free acceleration in
  m/s² (world frame, gravity removed; ≈ 0 at rest), the student's input convention.
- A missing sensor is ``null``, lacks ``q``/``acc``, or holds ``null``/``NaN`` values: the
  estimator holds that sensor's last valid sample and flags it (``dropped``).
- ``t`` (seconds) is optional and echoed back. ``{"reset": true}`` clears the window (a new
  recording starts); ``{"end": true}`` stops the server.

**Output**, one line per input frame (see :meth:`StreamPose.to_json`)::

    {"frame": 0, "t": 0.033, "global_orient": [3], "hand_pose": [45], "betas": [10],
     "joints": [[x, y, z] × 21], "dropped": [bool × N], "dropped_sensors": ["ring"],
     "window_fill": 1, "compute_ms": 4.2}

joints are OpenPose-21, wrist at the origin, metres; rotations are axis-angle in radians. A line
that cannot be read (bad JSON, wrong sensor count) yields ``{"error": "...", "line": n}`` and the
server carries on.
"""

from __future__ import annotations

import json
import math
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from handpose.errors import HandposeError

__all__ = [
    "parse_frame",
    "encode_frame",
    "serve_lines",
    "udp_lines",
    "replay_udp",
]


def _vector(value, size: int, what: str) -> np.ndarray:
    if value is None:
        return np.full(size, np.nan)
    if not isinstance(value, list | tuple) or len(value) != size:
        raise HandposeError(f"{what} must be a list of {size} numbers or null.")
    out = np.full(size, np.nan)
    for i, v in enumerate(value):
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise HandposeError(f"{what} must be a list of {size} numbers or null.")
        out[i] = float(v)
    return out


def parse_frame(
    message: dict, sensor_names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Decode one input frame.

    Args:
        message: the decoded JSON object.
        sensor_names: the N sensor names in canonical order.
    Returns:
        ``(quaternions (N, 4), accelerations (N, 3), t)`` float64, NaN where missing.
    Raises:
        HandposeError: the frame is malformed or has the wrong number of sensors.
    """
    if not isinstance(message, dict):
        raise HandposeError("a frame must be a JSON object with a 'sensors' list.")
    n = len(sensor_names)
    sensors = message.get("sensors")
    if isinstance(sensors, dict):
        unknown = sorted(set(sensors) - set(sensor_names))
        if unknown:
            raise HandposeError(
                f"unknown sensor names {unknown}; expected some of {list(sensor_names)}."
            )
        sensors = [sensors.get(name) for name in sensor_names]
    if not isinstance(sensors, list):
        raise HandposeError("a frame must have a 'sensors' list (or an object keyed by name).")
    if len(sensors) != n:
        raise HandposeError(
            f"the frame has {len(sensors)} sensors but the student expects {n} "
            f"({', '.join(sensor_names)})."
        )
    q = np.full((n, 4), np.nan)
    a = np.full((n, 3), np.nan)
    for i, entry in enumerate(sensors):
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise HandposeError(f"sensor {i} must be an object with 'q' and 'acc', or null.")
        q[i] = _vector(entry.get("q"), 4, f"sensor {i} 'q'")
        a[i] = _vector(entry.get("acc"), 3, f"sensor {i} 'acc'")
    t = message.get("t")
    if t is not None and (isinstance(t, bool) or not isinstance(t, int | float)):
        raise HandposeError("'t' must be a number of seconds or absent.")
    return q, a, (float(t) if t is not None else None)


def encode_frame(quaternions: np.ndarray, accelerations: np.ndarray, t: float | None) -> str:
    """One NDJSON input line (no newline) for (N, 4) and (N, 3) samples; NaN rows → null."""
    sensors = []
    for q, a in zip(np.asarray(quaternions), np.asarray(accelerations)):
        if not (np.isfinite(q).all() and np.isfinite(a).all()):
            sensors.append(None)
        else:
            sensors.append({"q": [float(x) for x in q], "acc": [float(x) for x in a]})
    msg = {"sensors": sensors}
    if t is not None:
        msg = {"t": round(float(t), 6), **msg}
    return json.dumps(msg, separators=(",", ":"))


def _clean(obj):
    """Replace NaN/inf floats (not valid JSON) by null, recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, list):
        return [_clean(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    return obj


def _decode(line: str):
    """One NDJSON line → a JSON value; HandposeError for anything that is not valid JSON."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise HandposeError(f"invalid JSON: {err.msg}") from None
    except RecursionError:  # e.g. 100 000 nested brackets
        raise HandposeError("invalid JSON: nested too deeply") from None


def serve_lines(
    stream,
    lines: Iterable[str],
    write: Callable[[str], None],
    *,
    sensor_names: tuple[str, ...] | None = None,
) -> int:
    """Feed NDJSON frames to a :class:`StreamingEstimator`, writing one NDJSON line per frame.

    Args:
        stream: the streaming estimator.
        lines: input lines (newline optional).
        write: called with each output line (ending in a newline).
        sensor_names: names for ``dropped_sensors`` (default: the estimator's).
    Returns:
        the number of frames estimated.
    """
    names = sensor_names or stream.estimator.sensor_names
    frames = 0
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            message = _decode(line)
            if isinstance(message, dict) and message.get("end"):
                break
            if isinstance(message, dict) and message.get("reset"):
                stream.reset()
                write(json.dumps({"reset": True, "line": lineno}) + "\n")
                continue
            q, a, t = parse_frame(message, names)
            pose = stream.push(q, a, t)
        except HandposeError as err:
            write(json.dumps({"error": str(err), "line": lineno}) + "\n")
            continue
        write(json.dumps(_clean(pose.to_json(names)), separators=(",", ":")) + "\n")
        frames += 1
    return frames


def udp_lines(
    port: int,
    *,
    host: str = "127.0.0.1",
    idle_timeout: float | None = None,
    on_ready: Callable[[int], None] | None = None,
) -> Iterator[str]:
    """Yield NDJSON lines received as UDP datagrams on ``host:port`` (0 = any free port).

    Each datagram holds one or more lines. Stops after ``idle_timeout`` seconds without data
    (None: never). ``on_ready(port)`` is called once the socket is bound, with the actual port.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        try:
            sock.bind((host, port))
        except OSError as err:
            raise HandposeError(f"cannot listen on UDP {host}:{port}: {err.strerror}.") from None
        sock.settimeout(idle_timeout)
        if on_ready is not None:
            on_ready(sock.getsockname()[1])
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                return
            yield from data.decode("utf-8", errors="replace").splitlines()
    finally:
        sock.close()


def replay_udp(
    quaternions: np.ndarray,
    accelerations: np.ndarray,
    port: int,
    *,
    fps: float,
    host: str = "127.0.0.1",
    realtime: bool = True,
    send_end: bool = True,
) -> int:
    """Send a recording frame by frame as NDJSON datagrams, paced at ``fps`` (real time).

    Args:
        quaternions: (F, N, 4); accelerations: (F, N, 3); NaN rows are sent as null sensors.
        port: destination UDP port on ``host``.
        fps: frame rate; frame k is sent at k / fps seconds after the first.
        realtime: pace the frames (False: send as fast as possible).
        send_end: finish with ``{"end": true}``.
    Returns:
        the number of frames sent.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        start = time.perf_counter()
        for k in range(len(quaternions)):
            if realtime:
                delay = start + k / fps - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            line = encode_frame(quaternions[k], accelerations[k], k / fps)
            sock.sendto((line + "\n").encode(), (host, port))
        if send_end:
            sock.sendto(b'{"end": true}\n', (host, port))
    finally:
        sock.close()
    return len(quaternions)


def stdin_lines() -> Iterator[str]:
    """Lines from stdin as they arrive (no read-ahead buffering beyond one line).

    Bytes that are not UTF-8 become U+FFFD (and so an error line), not a crash.
    """
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    while True:
        line = stream.readline()
        if not line:
            return
        yield line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
