"""Sensor dropout: hold each sensor's last valid sample, and say which ones were held.

A glove loses samples (radio drops, a saturated sensor, a NaN from a fusion filter). A window
model cannot take holes, so a missing sample is replaced by that sensor's last valid one
(a zero-order hold, causal: it never looks ahead) and the sensor is flagged for that frame.

A sensor that has not delivered a single valid sample yet has nothing to hold. It then copies the
root sensor's (back of hand) current sample, which makes its root-relative token the identity
rotation and zero relative acceleration — "finger rigid with the back of the hand", a neutral
guess rather than garbage. If the root has never been valid either, the identity quaternion and
zero acceleration are used. Both cases are flagged like any other dropout.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SampleHold", "sample_is_valid", "hold_missing"]

_IDENTITY_Q = np.array([1.0, 0.0, 0.0, 0.0])


def sample_is_valid(quaternions: np.ndarray, accelerations: np.ndarray) -> np.ndarray:
    """(..., N, 4), (..., N, 3) → (..., N) bool: finite values and a non-zero quaternion."""
    q = np.asarray(quaternions, dtype=np.float64)
    a = np.asarray(accelerations, dtype=np.float64)
    finite = np.isfinite(q).all(-1) & np.isfinite(a).all(-1)
    with np.errstate(invalid="ignore"):
        nonzero = np.linalg.norm(np.where(np.isfinite(q), q, 0.0), axis=-1) > 1e-6
    return finite & nonzero


class SampleHold:
    """Causal per-sensor zero-order hold of the last valid IMU sample.

    Args:
        num_sensors: N.
        root_index: index of the root (back-of-hand) sensor in the canonical order, used for
            sensors that have never been valid.

    Example:
        >>> hold = SampleHold(2, root_index=1)
        >>> q = np.array([[1.0, 0, 0, 0], [np.nan] * 4]); a = np.zeros((2, 3))
        >>> q2, a2, dropped = hold(q, a)
        >>> dropped.tolist()
        [False, True]
    """

    def __init__(self, num_sensors: int, root_index: int = 0) -> None:
        if not 0 <= root_index < num_sensors:
            raise ValueError(f"root_index {root_index} out of range for {num_sensors} sensors")
        self.num_sensors = num_sensors
        self.root_index = root_index
        self.reset()

    def reset(self) -> None:
        self.last_q = np.tile(_IDENTITY_Q, (self.num_sensors, 1))
        self.last_a = np.zeros((self.num_sensors, 3))
        self.seen = np.zeros(self.num_sensors, dtype=bool)

    def __call__(
        self, quaternions: np.ndarray, accelerations: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fill one frame.

        Args:
            quaternions: (N, 4) ``(w, x, y, z)``; NaN/inf/zero rows are missing.
            accelerations: (N, 3) m/s²; NaN/inf rows are missing.
        Returns:
            ``(quaternions (N, 4), accelerations (N, 3), dropped (N,) bool)`` float64, complete.
        """
        q = np.asarray(quaternions, dtype=np.float64).reshape(self.num_sensors, 4)
        a = np.asarray(accelerations, dtype=np.float64).reshape(self.num_sensors, 3)
        valid = sample_is_valid(q, a)
        self.last_q = np.where(valid[:, None], q, self.last_q)
        self.last_a = np.where(valid[:, None], a, self.last_a)
        self.seen |= valid
        out_q, out_a = self.last_q.copy(), self.last_a.copy()
        never = ~self.seen
        if never.any() and self.seen[self.root_index]:
            out_q[never] = self.last_q[self.root_index]
            out_a[never] = self.last_a[self.root_index]
        return out_q, out_a, ~valid


def hold_missing(
    quaternions: np.ndarray, accelerations: np.ndarray, root_index: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply :class:`SampleHold` frame by frame to a whole recording.

    Args:
        quaternions: (F, N, 4); accelerations: (F, N, 3) with missing samples as NaN.
    Returns:
        ``(quaternions (F, N, 4), accelerations (F, N, 3), dropped (F, N) bool)``.
    """
    q = np.asarray(quaternions, dtype=np.float64)
    a = np.asarray(accelerations, dtype=np.float64)
    hold = SampleHold(q.shape[1], root_index)
    out_q, out_a = np.empty_like(q), np.empty_like(a)
    dropped = np.empty(q.shape[:2], dtype=bool)
    for t in range(q.shape[0]):
        out_q[t], out_a[t], dropped[t] = hold(q[t], a[t])
    return out_q, out_a, dropped
