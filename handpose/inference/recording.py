"""An IMU recording in memory: what every input reader returns and every estimator consumes.

One recording is one glove sequence: per frame and sensor a unit quaternion ``(w, x, y, z)`` and a
3-vector acceleration, in the **canonical sensor order** of the layout (for the 7-sensor glove
``vihand7``: thumb, index, middle, ring, pinky tips, back of hand, wrist). The acceleration is
the global free acceleration in m/s² (world frame, gravity removed), the students' input
convention (:mod:`handpose.datasets.normalize`); the VIHand reader converts to it. Ground
truth, when the file carries it, rides along for evaluation and the comparison video; it never
reaches the model input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from handpose.errors import HandposeError

__all__ = ["ImuRecording", "GroundTruth", "check_finite", "select_sensors"]


@dataclass
class GroundTruth:
    """Ground-truth MANO parameters of a recording (full articulation, flat_hand_mean=True).

    Attributes:
        global_orient: (F, 3) axis-angle, radians.
        hand_pose: (F, 45) axis-angle of the 15 finger joints, radians.
        betas: (F, 10) shape coefficients.
        hand_model: name of the hand model the parameters belong to ("open", "mano", ...).
    """

    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray
    hand_model: str = ""


@dataclass
class ImuRecording:
    """IMU samples of one sequence in the canonical sensor order.

    Attributes:
        quaternions: (F, N, 4) float64 unit quaternions ``(w, x, y, z)``, sensor → world.
            NaN marks a missing sample.
        accelerations: (F, N, 3) float64 global free acceleration, m/s² (world frame, gravity
            removed). NaN marks a missing sample.
        fps: frame rate in Hz.
        sensor_names: N names in canonical order.
        source: where the samples came from (a path, "stream", ...), for messages.
        sequence: sequence name when the file holds several (or "").
        ground_truth: optional :class:`GroundTruth` for evaluation and rendering.
        held: optional (F, N) bool, samples the reader already repaired (e.g. VIHand's
            out-of-range values, replaced by the last valid one); reported as dropouts.
        meta: free-form file metadata.
    """

    quaternions: np.ndarray
    accelerations: np.ndarray
    fps: float
    sensor_names: tuple[str, ...]
    source: str = ""
    sequence: str = ""
    ground_truth: GroundTruth | None = None
    held: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.quaternions = np.asarray(self.quaternions, dtype=np.float64)
        self.accelerations = np.asarray(self.accelerations, dtype=np.float64)
        q, a = self.quaternions, self.accelerations
        if q.ndim != 3 or q.shape[-1] != 4:
            raise HandposeError(
                f"{self._where()}quaternions must have shape (frames, sensors, 4), got {q.shape}."
            )
        if a.shape != q.shape[:2] + (3,):
            raise HandposeError(
                f"{self._where()}accelerations must have shape {q.shape[:2] + (3,)} to match the "
                f"quaternions, got {a.shape}."
            )
        if len(self.sensor_names) != q.shape[1]:
            raise HandposeError(
                f"{self._where()}{q.shape[1]} sensors in the data but {len(self.sensor_names)} "
                "sensor names."
            )
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise HandposeError(f"{self._where()}the frame rate must be positive, got {self.fps}.")

        if self.held is not None and np.shape(self.held) != q.shape[:2]:
            raise HandposeError(f"{self._where()}held must have shape {q.shape[:2]}.")

    def _where(self) -> str:
        return f"{self.source}: " if self.source else ""

    @property
    def num_frames(self) -> int:
        return int(self.quaternions.shape[0])

    @property
    def num_sensors(self) -> int:
        return int(self.quaternions.shape[1])

    def missing(self) -> np.ndarray:
        """(F, N) bool: True where a sample is missing or not finite (NaN/inf) or q ≈ 0."""
        bad_q = ~np.isfinite(self.quaternions).all(-1)
        bad_a = ~np.isfinite(self.accelerations).all(-1)
        with np.errstate(invalid="ignore"):
            zero_q = np.linalg.norm(np.nan_to_num(self.quaternions), axis=-1) < 1e-6
        return bad_q | bad_a | zero_q


def check_finite(recording: ImuRecording) -> None:
    """Raise :class:`HandposeError` naming the first missing/NaN/inf sample of a file input."""
    bad = recording.missing()
    if bad.any():
        frame, sensor = np.argwhere(bad)[0]
        raise HandposeError(
            f"{recording._where()}{int(bad.sum())} IMU samples are missing, NaN, infinite or a zero "
            f"quaternion (first: frame {int(frame)}, sensor "
            f"'{recording.sensor_names[int(sensor)]}'); fix the file or pass --hold-missing to "
            "hold each sensor's last valid sample."
        )


def select_sensors(recording: ImuRecording, names: tuple[str, ...]) -> ImuRecording:
    """The recording restricted to ``names``, in that (canonical) order.

    A 7-sensor recording can feed a 3-sensor student. Files that name their sensors only by
    position (CSV numeric ids → ``sensor0``, ``sensor1``, ...) are taken to be in the student's
    canonical order when the count matches.

    Raises:
        HandposeError: a sensor the student needs is absent (the wrong-sensor-count error).
    """
    have = recording.sensor_names
    generic = all(n == f"sensor{i}" for i, n in enumerate(have))
    if generic and len(have) == len(names):
        idx = list(range(len(names)))
    else:
        missing = [n for n in names if n not in have]
        if missing:
            raise HandposeError(
                f"{recording._where()}the recording has {len(have)} sensors "
                f"({', '.join(have)}) but the student needs {len(names)} "
                f"({', '.join(names)}); missing: {', '.join(missing)}."
            )
        idx = [have.index(n) for n in names]
    if idx == list(range(len(have))) and tuple(names) == have:
        return recording
    return ImuRecording(
        quaternions=recording.quaternions[:, idx],
        accelerations=recording.accelerations[:, idx],
        fps=recording.fps,
        sensor_names=tuple(names),
        source=recording.source,
        sequence=recording.sequence,
        ground_truth=recording.ground_truth,
        held=None if recording.held is None else recording.held[:, idx],
        meta=recording.meta,
    )
