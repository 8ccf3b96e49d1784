"""Small stand-ins for the student, so the inference plumbing is tested on its own.

The stand-in predictor mixes each frame's token with the mean of its window (like attention), so
every output depends on every frame of the window, in an order-sensitive way for the own-frame
term: a wrong window (one frame off, padding with zeros instead of the first frame) changes it.
"""

from __future__ import annotations

import numpy as np
import torch

from handpose.geometry.rotations import axis_angle_to_matrix
from handpose.inference.estimator import ImuPoseEstimator

SENSORS = ("thumb", "index", "middle", "ring", "pinky", "back", "wrist")


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) (w, x, y, z) → (..., 3, 3), normalising first (naive reference)."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def standin_normalize(q: np.ndarray, a: np.ndarray, root: int = 5) -> np.ndarray:
    """Root-relative per-frame tokens (..., N, 12), the team's contract, in plain numpy."""
    R = quat_to_matrix(q)
    Rr = R[..., root : root + 1, :, :]
    Rrel = np.swapaxes(Rr, -1, -2) @ R
    Rrel[..., root, :, :] = R[..., root, :, :]
    arel = a - a[..., root : root + 1, :]
    arel[..., root, :] = a[..., root, :]
    arel = (np.swapaxes(Rr, -1, -2) @ arel[..., None])[..., 0] / 30.0
    return np.concatenate([Rrel.reshape(*Rrel.shape[:-2], 9), arel], -1).astype(np.float32)


class StandinPredictor:
    def __init__(self, num_sensors: int = 7, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        d = num_sensors * 12
        self.w_own = rng.normal(size=(d, 121)).astype(np.float32) * 0.3
        self.w_ctx = rng.normal(size=(d, 121)).astype(np.float32) * 0.3
        self.calls = 0

    def __call__(self, imu: np.ndarray) -> dict[str, np.ndarray]:
        self.calls += 1
        b, t = imu.shape[:2]
        x = imu.reshape(b, t, -1)
        h = np.tanh(x @ self.w_own + x.mean(1, keepdims=True) @ self.w_ctx)
        aa = 1.5 * h[..., :48].reshape(b, t, 16, 3)  # axis-angle, |angle| < π
        return {
            "rotmats": axis_angle_to_matrix(torch.from_numpy(aa.astype(np.float64))).numpy(),
            "betas": h[..., 48:58].mean(1),
            "joints": 0.05 * h[..., 58:121].reshape(b, t, 21, 3),
        }


def standin_hand_model(global_orient, hand_pose, betas):
    """(F, 3), (F, 45), (F, 10) → (F, 4, 3) fake vertices that depend on every input."""
    f = global_orient.shape[0]
    base = np.concatenate([global_orient, hand_pose[:, :6], betas[:, :3]], -1)
    return base.reshape(f, 4, 3)


def make_estimator(window: int = 8, seed: int = 0) -> ImuPoseEstimator:
    return ImuPoseEstimator(
        StandinPredictor(len(SENSORS), seed),
        window=window,
        sensor_names=SENSORS,
        root_index=5,
        normalize=standin_normalize,
        hand_model=standin_hand_model,
        faces=np.array([[0, 1, 2], [0, 2, 3]]),
        fps=30.0,
        batch_size=5,
    )


def random_motion(num_frames: int, num_sensors: int = 7, seed: int = 0):
    """Smoothly varying unit quaternions (F, N, 4) and accelerations (F, N, 3) m/s²."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)[:, None, None] / 30.0
    phase = rng.uniform(0, 2 * np.pi, size=(1, num_sensors, 4))
    freq = rng.uniform(0.3, 2.0, size=(1, num_sensors, 4))
    q = np.sin(2 * np.pi * freq * t + phase) + np.array([2.0, 0, 0, 0])
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    a = 3.0 * np.sin(2 * np.pi * freq[..., :3] * t + phase[..., :3])
    return q, a
