"""The IMU pose estimator: normalise IMU windows, run the student, assemble per-frame poses.

:class:`ImuPoseEstimator` is backend-agnostic: it holds a *predictor* (a callable that maps
normalised IMU windows to MANO parameters and joints, see :mod:`handpose.inference.backends`),
the normalisation the student was trained with, and the hand model that turns parameters into a
mesh. File inference (:meth:`ImuPoseEstimator.infer`) and streaming
(:class:`handpose.inference.streaming.StreamingEstimator`) share it, so both give identical
numbers for identical windows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from handpose.errors import HandposeError
from handpose.inference.dropout import hold_missing
from handpose.inference.recording import ImuRecording, check_finite, select_sensors
from handpose.inference.streaming import StreamingEstimator
from handpose.inference.windows import causal_window_indices, tiled_window_indices

__all__ = ["WindowPredictor", "PoseSequence", "ImuPoseEstimator", "POSE_KEYS"]

# What every predictor returns per window (B windows, T frames), numpy float32:
#   rotmats (B, T, 16, 3, 3) global orientation + 15 local rotations (full articulation,
#   flat_hand_mean=True); betas (B, 10) or (B, T, 10); joints (B, T, 21, 3) OpenPose-21,
#   wrist at the origin, metres.
PREDICTOR_KEYS = ("rotmats", "betas", "joints")
# What the estimator reports per frame: axis-angle global_orient (3) and hand_pose (45),
# betas (10), joints (21, 3).
POSE_KEYS = ("global_orient", "hand_pose", "betas", "joints")


class WindowPredictor(Protocol):
    """Maps normalised IMU windows (B, T, N, C) float32 to a dict with :data:`PREDICTOR_KEYS`."""

    def __call__(self, imu: np.ndarray) -> dict[str, np.ndarray]: ...


def rotmats_to_axis_angle(rotmats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 16, 3, 3) → global_orient (..., 3) and hand_pose (..., 45), float32 radians."""
    import torch

    from handpose.geometry.rotations import matrix_to_axis_angle

    r = torch.from_numpy(np.ascontiguousarray(rotmats, dtype=np.float64))
    aa = matrix_to_axis_angle(r).to(torch.float32).numpy()  # (..., 16, 3)
    return aa[..., 0, :], aa[..., 1:, :].reshape(*aa.shape[:-2], 45)


@dataclass
class PoseSequence:
    """Per-frame hand poses estimated from an IMU recording.

    Attributes:
        global_orient: (F, 3) axis-angle, radians.
        hand_pose: (F, 45) axis-angle of the 15 finger joints (full articulation), radians.
        betas: (F, 10) shape coefficients (each frame's own window estimate).
        joints: (F, 21, 3) OpenPose-21 joints, wrist at the origin, metres.
        vertices: (F, V, 3) mesh vertices, wrist at the origin, metres, or None.
        dropped: (F, N) bool, True where a sensor sample was missing and held.
        fps: frame rate, Hz.
        sensor_names: the N sensors in canonical order.
        mode: "tiled" or "causal" (see :mod:`handpose.inference.windows`).
    """

    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray
    joints: np.ndarray
    vertices: np.ndarray | None
    dropped: np.ndarray
    fps: float
    sensor_names: tuple[str, ...]
    mode: str

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for ``np.savez`` (the npz layout written by :func:`infer_file`)."""
        arrays = {
            "global_orient": self.global_orient.astype(np.float32),
            "hand_pose": self.hand_pose.astype(np.float32),
            "betas": self.betas.astype(np.float32),
            "joints": self.joints.astype(np.float32),
            "dropped": self.dropped.astype(bool),
            "fps": np.float64(self.fps),
            "sensor_names": np.asarray(self.sensor_names, dtype=str),
            "mode": np.asarray(self.mode, dtype=str),
        }
        if self.vertices is not None:
            arrays["vertices"] = self.vertices.astype(np.float32)
        return arrays


class ImuPoseEstimator:
    """IMU windows → hand poses, for files and streams.

    Args:
        predictor: a :class:`WindowPredictor` (torch or onnxruntime backend).
        window: T, the student's window length in frames.
        sensor_names: the N sensors in canonical order the student expects.
        root_index: index of the root (back-of-hand) sensor, for dropout fallback.
        normalize: ``(quaternions (..., N, 4), accelerations (..., N, 3)) → (..., N, C)``, the
            student's input normalisation (IMU data only). It must act on each frame on its
            own (root-relative per frame), so tokens are computed once per frame and reused
            by every window that contains the frame.
        hand_model: optional callable ``(global_orient (F, 3), hand_pose (F, 45), betas (F, 10))
            → vertices (F, V, 3)`` numpy, metres; needed for vertices and videos.
        faces: (F, 3) int mesh faces of the hand model, for rendering.
        fps: the frame rate the student was trained at, Hz.
        batch_size: windows per predictor call.
        info: free-form description (config name, backend) for reports.
    """

    def __init__(
        self,
        predictor: WindowPredictor,
        *,
        window: int,
        sensor_names: tuple[str, ...],
        root_index: int,
        normalize: Callable[[np.ndarray, np.ndarray], np.ndarray],
        hand_model: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
        faces: np.ndarray | None = None,
        fps: float = 30.0,
        batch_size: int = 64,
        info: dict | None = None,
    ) -> None:
        self.predictor = predictor
        self.window = int(window)
        self.sensor_names = tuple(sensor_names)
        self.root_index = int(root_index)
        self.normalize = normalize
        self.hand_model = hand_model
        self.faces = faces
        self.fps = float(fps)
        self.batch_size = int(batch_size)
        self.info = dict(info or {})

    @property
    def num_sensors(self) -> int:
        return len(self.sensor_names)

    # -- core ---------------------------------------------------------------------------------
    def tokens(self, quaternions: np.ndarray, accelerations: np.ndarray) -> np.ndarray:
        """Normalised per-frame tokens: (..., N, 4), (..., N, 3) → (..., N, C) float32."""
        return np.ascontiguousarray(self.normalize(quaternions, accelerations), dtype=np.float32)

    def predict_tokens(
        self, tokens: np.ndarray, select: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Run the student on windows of tokens and read out some frames.

        Args:
            tokens: (B, T, N, C) float32 windows.
            select: (K, 2) (window, position) pairs to read out; None = every frame.
        Returns:
            dict with :data:`POSE_KEYS`: (K, ...) for ``select`` or (B, T, ...) otherwise.
            Only the selected frames are converted to axis-angle.
        """
        out = self.predictor(tokens)
        b, t = tokens.shape[:2]
        betas = np.asarray(out["betas"], dtype=np.float32)
        if betas.ndim == 2:  # one shape per window → per frame
            betas = np.broadcast_to(betas[:, None, :], (b, t, betas.shape[-1]))
        rot = np.asarray(out["rotmats"]).reshape(b, t, 16, 3, 3)
        joints = np.asarray(out["joints"], dtype=np.float32).reshape(b, t, 21, 3)
        if select is not None:
            w, k = select[:, 0], select[:, 1]
            rot, betas, joints = rot[w, k], betas[w, k], joints[w, k]
        go, hp = rotmats_to_axis_angle(rot)
        return {
            "global_orient": go,
            "hand_pose": hp,
            "betas": np.ascontiguousarray(betas),
            "joints": joints,
        }

    def predict_windows(
        self, quaternions: np.ndarray, accelerations: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Run the student on complete windows of raw samples.

        Args:
            quaternions: (B, T, N, 4) ``(w, x, y, z)``, complete (no NaN).
            accelerations: (B, T, N, 3) global free acceleration, m/s².
        Returns:
            dict with :data:`POSE_KEYS`, each (B, T, ...) (betas (B, T, 10)).
        """
        return self.predict_tokens(self.tokens(quaternions, accelerations))

    def check_recording(self, recording: ImuRecording) -> ImuRecording:
        """The recording restricted to the student's sensors, in its canonical order.

        Raises:
            HandposeError: a sensor is missing, fewer frames than the window, another rate.
        """
        recording = select_sensors(recording, self.sensor_names)
        if recording.num_frames < self.window:
            raise HandposeError(
                f"{recording._where()}the recording has {recording.num_frames} frames, fewer than "
                f"the student's window of {self.window} frames."
            )
        if abs(recording.fps - self.fps) > 1e-3 * self.fps:
            raise HandposeError(
                f"{recording._where()}the recording is at {recording.fps:g} fps but the student "
                f"was trained at {self.fps:g} fps; resample the recording first."
            )
        return recording

    def infer(
        self,
        recording: ImuRecording,
        *,
        mode: str = "tiled",
        on_missing: str = "error",
        return_vertices: bool = True,
        progress: bool = False,
    ) -> PoseSequence:
        """Estimate the pose of every frame of a recording.

        Args:
            recording: the IMU samples; the student's sensors are picked by name.
            mode: "tiled" (non-overlapping windows, uses future frames within a window) or
                "causal" (frame t from the window ending at t, identical to streaming).
            on_missing: "error" (a NaN/inf/missing sample raises :class:`HandposeError`) or
                "hold" (hold each sensor's last valid sample and flag it in ``dropped``).
            return_vertices: also compute (F, V, 3) vertices with the hand model.
            progress: show a tqdm bar over batches.
        Returns:
            :class:`PoseSequence` with F = ``recording.num_frames``.
        """
        if mode not in ("tiled", "causal"):
            raise HandposeError(f"unknown inference mode '{mode}'; use 'tiled' or 'causal'.")
        if on_missing not in ("error", "hold"):
            raise HandposeError(f"unknown on_missing '{on_missing}'; use 'error' or 'hold'.")
        recording = self.check_recording(recording)
        if on_missing == "error":
            check_finite(recording)
            q, a = recording.quaternions, recording.accelerations
            dropped = np.zeros((recording.num_frames, self.num_sensors), dtype=bool)
        else:
            q, a, dropped = hold_missing(
                recording.quaternions, recording.accelerations, self.root_index
            )
        if recording.held is not None:
            dropped = dropped | recording.held
        num_frames = recording.num_frames
        if mode == "causal":
            windows = causal_window_indices(num_frames, self.window)
            source = np.stack([np.arange(num_frames), np.full(num_frames, self.window - 1)], 1)
        else:
            windows, source = tiled_window_indices(num_frames, self.window)
        outs = self._run_batches(self.tokens(q, a), windows, source, progress)
        vertices = None
        if return_vertices:
            vertices = self.vertices(outs["global_orient"], outs["hand_pose"], outs["betas"])
        return PoseSequence(
            global_orient=outs["global_orient"],
            hand_pose=outs["hand_pose"],
            betas=outs["betas"],
            joints=outs["joints"],
            vertices=vertices,
            dropped=dropped,
            fps=recording.fps,
            sensor_names=self.sensor_names,
            mode=mode,
        )

    def _run_batches(
        self, tokens: np.ndarray, windows: np.ndarray, source: np.ndarray, progress: bool
    ) -> dict[str, np.ndarray]:
        num_frames = source.shape[0]
        result: dict[str, np.ndarray] = {}
        starts = range(0, windows.shape[0], self.batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="inference", unit="batch", leave=False)
        for start in starts:
            stop = min(start + self.batch_size, windows.shape[0])
            # Frames whose pose comes from a window of this batch.
            sel = np.nonzero((source[:, 0] >= start) & (source[:, 0] < stop))[0]
            if len(sel) == 0:
                continue
            pick = np.stack([source[sel, 0] - start, source[sel, 1]], axis=1)
            out = self.predict_tokens(tokens[windows[start:stop]], pick)
            for key, value in out.items():
                if key not in result:
                    result[key] = np.empty((num_frames,) + value.shape[1:], dtype=value.dtype)
                result[key][sel] = value
        return result

    def vertices(
        self, global_orient: np.ndarray, hand_pose: np.ndarray, betas: np.ndarray
    ) -> np.ndarray:
        """Mesh vertices (F, V, 3) metres (wrist at the origin) from (F, 3), (F, 45), (F, 10)."""
        if self.hand_model is None:
            raise HandposeError("this estimator has no hand model, so it cannot output vertices.")
        return np.asarray(self.hand_model(global_orient, hand_pose, betas), dtype=np.float32)

    def stream(self, *, return_vertices: bool = False) -> StreamingEstimator:
        """A new :class:`~handpose.inference.streaming.StreamingEstimator` on this student."""
        return StreamingEstimator(self, return_vertices=return_vertices)

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.info.items()]
        return ", ".join([f"T={self.window}", f"sensors={self.num_sensors}", *parts])


def save_pose_npz(path: str | Path, poses: PoseSequence) -> None:
    """Write a :class:`PoseSequence` to ``path`` (npz, atomic)."""
    from handpose.utils.io import atomic_path

    with atomic_path(path) as tmp:
        np.savez(tmp, **poses.to_arrays())
