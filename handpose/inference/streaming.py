"""Live estimation: one IMU frame in, the current hand pose out.

:class:`StreamingEstimator` keeps the last T frames in a ring buffer and runs the student on the
window that **ends at the newest frame**; the newest frame's output is returned. The latency is
one frame (no future frame is waited for) and the result equals offline causal inference
(:meth:`ImuPoseEstimator.infer` with ``mode="causal"``) on the same frames.

- **Start-up:** until T frames have arrived, the window is padded by repeating the first frame
  (the buffer starts filled with it), as in offline causal inference. ``window_fill`` in the
  output says how many real frames the window holds.
- **Dropout:** a missing, NaN, infinite or zero-quaternion sample is replaced by the sensor's
  last valid sample (see :mod:`handpose.inference.dropout`) and flagged in ``dropped``. A frame
  never raises because of its values; only a wrong sensor count does (that is a wiring error).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from handpose.errors import HandposeError
from handpose.inference.dropout import SampleHold

__all__ = ["StreamPose", "StreamingEstimator", "WindowEstimator"]


class WindowEstimator(Protocol):
    """What :class:`StreamingEstimator` uses of its estimator;
    :class:`~handpose.inference.estimator.ImuPoseEstimator` is one. (A protocol rather than an
    import, so that this module does not import :mod:`.estimator`, which imports it.)"""

    window: int
    root_index: int

    @property
    def num_sensors(self) -> int: ...

    def tokens(self, quaternions: np.ndarray, accelerations: np.ndarray) -> np.ndarray: ...

    def predict_tokens(
        self, tokens: np.ndarray, select: np.ndarray | None = None
    ) -> dict[str, np.ndarray]: ...

    def vertices(
        self, global_orient: np.ndarray, hand_pose: np.ndarray, betas: np.ndarray
    ) -> np.ndarray: ...


@dataclass
class StreamPose:
    """The estimate for one streamed frame.

    Attributes:
        frame: 0-based index of the frame since the last reset.
        t: the frame's timestamp as given (seconds), or None.
        global_orient: (3,) axis-angle, radians.
        hand_pose: (45,) axis-angle of the 15 finger joints, radians.
        betas: (10,).
        joints: (21, 3) OpenPose-21 joints, wrist at the origin, metres.
        vertices: (V, 3) metres or None.
        dropped: (N,) bool, sensors whose sample was missing and held this frame.
        window_fill: real frames in the window (< T during start-up).
        compute_ms: wall time of this update, milliseconds.
    """

    frame: int
    t: float | None
    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray
    joints: np.ndarray
    vertices: np.ndarray | None
    dropped: np.ndarray
    window_fill: int
    compute_ms: float

    def to_json(self, sensor_names: tuple[str, ...] | None = None, decimals: int = 6) -> dict:
        """A JSON-serialisable dict (the NDJSON pose line of ``handpose infer stream``)."""

        def r(x: np.ndarray) -> list:
            return np.round(np.asarray(x, dtype=np.float64), decimals).tolist()

        out = {
            "frame": self.frame,
            "t": self.t,
            "global_orient": r(self.global_orient),
            "hand_pose": r(self.hand_pose),
            "betas": r(self.betas),
            "joints": r(self.joints),
            "dropped": [bool(d) for d in self.dropped],
            "window_fill": self.window_fill,
            "compute_ms": round(self.compute_ms, 3),
        }
        if sensor_names is not None:
            out["dropped_sensors"] = [n for n, d in zip(sensor_names, self.dropped) if d]
        if self.vertices is not None:
            out["vertices"] = r(self.vertices)
        return out


class StreamingEstimator:
    """Causal sliding-window estimator fed one frame at a time.

    Args:
        estimator: the :class:`ImuPoseEstimator` (torch or onnxruntime backend).
        return_vertices: also compute the mesh of each frame (slower).

    Example:
        >>> stream = estimator.stream()  # doctest: +SKIP
        >>> pose = stream.push(quaternions, accelerations)  # (N, 4), (N, 3); NaN = missing
        >>> pose.joints.shape, pose.dropped  # (21, 3) metres, (N,) bool
    """

    def __init__(self, estimator: WindowEstimator, *, return_vertices: bool = False) -> None:
        self.estimator = estimator
        self.return_vertices = return_vertices
        self.window = estimator.window
        self.num_sensors = estimator.num_sensors
        self._hold = SampleHold(self.num_sensors, estimator.root_index)
        # Double-written ring buffer of per-frame tokens (normalisation is per frame, so each
        # frame is normalised once): frame k lands in slots k mod T and k mod T + T, so the
        # window ending at the newest frame is always the contiguous slice [i+1, i+1+T).
        self._tokens: np.ndarray | None = None
        self._last = np.array([[0, self.window - 1]])
        self.reset()

    def reset(self) -> None:
        """Forget all frames (a new recording starts)."""
        self._hold.reset()
        self._count = 0

    @property
    def frames_seen(self) -> int:
        return self._count

    def push(
        self,
        quaternions: np.ndarray,
        accelerations: np.ndarray,
        t: float | None = None,
    ) -> StreamPose:
        """Add one frame and return the pose of that frame.

        Args:
            quaternions: (N, 4) ``(w, x, y, z)``; a NaN/inf/zero row marks a missing sample.
            accelerations: (N, 3) m/s²; a NaN/inf row marks a missing sample.
            t: optional timestamp in seconds, passed through.
        Returns:
            :class:`StreamPose` for this frame.
        """
        start = time.perf_counter()
        q = np.asarray(quaternions, dtype=np.float64)
        a = np.asarray(accelerations, dtype=np.float64)
        if q.shape != (self.num_sensors, 4) or a.shape != (self.num_sensors, 3):
            raise HandposeError(
                f"a frame must have {self.num_sensors} sensors (quaternions ({self.num_sensors}, "
                f"4), accelerations ({self.num_sensors}, 3)), got {q.shape} and {a.shape}."
            )
        q, a, dropped = self._hold(q, a)
        token = self.estimator.tokens(q, a)  # (N, C)
        T = self.window
        if self._count == 0:
            # Pad the history by repeating the first frame.
            self._tokens = np.broadcast_to(token, (2 * T,) + token.shape).copy()
        slot = self._count % T
        self._tokens[slot] = self._tokens[slot + T] = token
        window = self._tokens[slot + 1 : slot + 1 + T][None]
        out = self.estimator.predict_tokens(window, self._last)
        vertices = None
        if self.return_vertices:
            vertices = self.estimator.vertices(
                out["global_orient"], out["hand_pose"], out["betas"]
            )[0]
        self._count += 1
        return StreamPose(
            frame=self._count - 1,
            t=t,
            global_orient=out["global_orient"][0],
            hand_pose=out["hand_pose"][0],
            betas=out["betas"][0],
            joints=out["joints"][0],
            vertices=vertices,
            dropped=dropped,
            window_fill=min(self._count, T),
            compute_ms=(time.perf_counter() - start) * 1e3,
        )
