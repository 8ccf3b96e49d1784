"""The handpose IMU sequence file: HDF5 (h5py), chunked and compressed, written atomically.

Layout (``FORMAT = "handpose-imu"``, version 1)::

    /                                   attrs: format, format_version, generator,
                                               generator_version, seed, units (JSON),
                                               hand_model, mano_flat_hand_mean, gravity,
                                               + anything the writer passes (layout, noise, …)
    /sequences/subject01/ROM01_Finger_Counting/
        attrs: subject (int), sequence (str), fps, layout, sensor_names (JSON), root,
               num_frames
        global_orient      (T, 3)     float32  axis-angle, rad, world frame
        hand_pose          (T, 45)    float32  axis-angle, rad, full articulation
        betas              (T, 10)    float32
        transl             (T, 3)     float32  m
        joints21           (T, 21, 3) float32  m, OpenPose order, world frame (with transl)
        imu/quaternion         (T, N, 4) float32  (w, x, y, z), sensor-to-world
        imu/specific_force     (T, N, 3) float32  m/s², sensor frame, gravity included
        imu/free_acceleration  (T, N, 3) float32  m/s², world frame, gravity removed
        imu/angular_velocity   (T, N, 3) float32  rad/s, sensor frame
        imu/<flag>             (T, N)    bool     optional (e.g. VIHand repair flags)
        extra/<name>           (T, ...)  optional per-frame arrays (e.g. VIHand camera)

Vertices are not stored: recompute them from the parameters with the hand model named in
``hand_model``. Datasets are chunked along time (≤ 256 frames) with gzip level 4 + shuffle.
Writes go to a temporary file renamed into place on success (:func:`handpose.utils.io.atomic_path`),
so an interrupted generation leaves neither a partial file nor a temporary one behind. No
modification times are stored, so the same data always gives the same bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handpose.errors import HandposeError
from handpose.utils.io import atomic_path

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "UNITS",
    "SequenceRecord",
    "ImuFileWriter",
    "ImuFile",
    "open_writer",
    "write_sequences",
    "read_sequences",
]

FORMAT = "handpose-imu"
FORMAT_VERSION = 1
UNITS: dict[str, str] = {
    "global_orient": "axis-angle rad, world frame (y up for synthetic data)",
    "hand_pose": "axis-angle rad, full articulation (see mano_flat_hand_mean)",
    "transl": "m",
    "joints21": "m, OpenPose-21 order, world frame",
    "quaternion": "unit quaternion (w, x, y, z), sensor-to-world",
    "specific_force": "m/s^2, sensor frame, gravity included",
    "free_acceleration": "m/s^2, world frame, gravity removed",
    "angular_velocity": "rad/s, sensor frame",
}
_FRAME_FIELDS = ("global_orient", "hand_pose", "betas", "transl", "joints21")
_IMU_FIELDS = ("quaternion", "specific_force", "free_acceleration", "angular_velocity")
_CHUNK = 256


@dataclass
class SequenceRecord:
    """One sequence in memory (numpy arrays; shapes and units as in the module docstring)."""

    subject: int
    sequence: str
    fps: float
    layout: str
    sensor_names: tuple[str, ...]
    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    joints21: np.ndarray
    quaternion: np.ndarray
    specific_force: np.ndarray
    free_acceleration: np.ndarray
    angular_velocity: np.ndarray
    flags: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    root: str = "back"  # the layout's normalisation root sensor

    @property
    def num_frames(self) -> int:
        return int(self.hand_pose.shape[0])

    @property
    def key(self) -> str:
        return f"subject{self.subject:02d}/{self.sequence}"

    def validate(self) -> None:
        """Raise HandposeError unless every array has the documented shape for T frames."""
        T, N = self.num_frames, len(self.sensor_names)
        want = {
            "global_orient": (T, 3),
            "hand_pose": (T, 45),
            "betas": (T, 10),
            "transl": (T, 3),
            "joints21": (T, 21, 3),
            "quaternion": (T, N, 4),
            "specific_force": (T, N, 3),
            "free_acceleration": (T, N, 3),
            "angular_velocity": (T, N, 3),
        }
        for name, shape in want.items():
            got = tuple(np.shape(getattr(self, name)))
            if got != shape:
                raise HandposeError(f"{self.key}: {name} has shape {got}, expected {shape}.")
        for name, arr in self.flags.items():
            if tuple(np.shape(arr)) != (T, N):
                raise HandposeError(f"{self.key}: flag {name} must be {(T, N)}.")
        for name, arr in self.extra.items():
            if np.shape(arr)[:1] != (T,):
                raise HandposeError(f"{self.key}: extra {name} must have {T} frames.")


def _attr(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)) and not (
        isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value)
    ):
        return json.dumps(value)
    return value


class ImuFileWriter:
    """Adds sequences to an open HDF5 file (use :func:`open_writer`)."""

    def __init__(self, h5file, compression: str | None = "gzip") -> None:
        self._f = h5file
        self._compression = compression
        self._root = h5file.require_group("sequences")

    def _dataset(self, group, name: str, data: np.ndarray, dtype) -> None:
        data = np.ascontiguousarray(data, dtype=dtype)
        # No modification times in the file: the same data gives the same bytes.
        kwargs: dict[str, Any] = {"track_times": False}
        if data.ndim >= 1 and data.shape[0] > 0 and self._compression:
            kwargs.update(
                chunks=(min(_CHUNK, data.shape[0]),) + data.shape[1:],
                compression=self._compression,
                compression_opts=4 if self._compression == "gzip" else None,
                shuffle=True,
            )
        group.create_dataset(name, data=data, **kwargs)

    def write(self, rec: SequenceRecord) -> None:
        rec.validate()
        if rec.key in self._root:
            raise HandposeError(f"sequence {rec.key} is already in the file.")
        g = self._root.create_group(rec.key)
        g.attrs["subject"] = int(rec.subject)
        g.attrs["sequence"] = str(rec.sequence)
        g.attrs["fps"] = float(rec.fps)
        g.attrs["layout"] = str(rec.layout)
        g.attrs["sensor_names"] = json.dumps(list(rec.sensor_names))
        g.attrs["root"] = str(rec.root)
        g.attrs["num_frames"] = rec.num_frames
        for k, v in rec.attrs.items():
            g.attrs[k] = _attr(v)
        for name in _FRAME_FIELDS:
            self._dataset(g, name, getattr(rec, name), np.float32)
        imu = g.create_group("imu")
        for name in _IMU_FIELDS:
            self._dataset(imu, name, getattr(rec, name), np.float32)
        for name, arr in rec.flags.items():
            self._dataset(imu, name, arr, np.bool_)
        if rec.extra:
            ex = g.create_group("extra")
            for name, arr in rec.extra.items():
                self._dataset(ex, name, arr, np.float32)


def _base_attrs() -> dict[str, Any]:
    from handpose import __version__

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generator_version": __version__,
        "units": json.dumps(UNITS),
        "mano_flat_hand_mean": True,
    }


@contextlib.contextmanager
def open_writer(
    path: str | os.PathLike, attrs: dict[str, Any] | None = None, compression: str | None = "gzip"
) -> Iterator[ImuFileWriter]:
    """Write a new file atomically: nothing appears at ``path`` unless the block completes.

    Example:
        >>> with open_writer("data/x.h5", {"seed": 0, "generator": "me"}) as w:  # doctest: +SKIP
        ...     w.write(record)
    """
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for k, v in {**_base_attrs(), **(attrs or {})}.items():
                f.attrs[k] = _attr(v)
            yield ImuFileWriter(f, compression=compression)


def write_sequences(path: str | os.PathLike, records, attrs: dict[str, Any] | None = None) -> None:
    """Write an iterable of :class:`SequenceRecord` to ``path`` atomically."""
    with open_writer(path, attrs) as w:
        for rec in records:
            w.write(rec)


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        with contextlib.suppress(ValueError):
            return json.loads(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


class ImuFile:
    """Read-only access to a handpose IMU file.

    Example:
        >>> with ImuFile("data/synth_vihand.h5") as f:  # doctest: +SKIP
        ...     rec = f.read(1, "ROM01_Finger_Counting")
        ...     rec.free_acceleration.shape   # (T, 7, 3)
    """

    def __init__(self, path: str | os.PathLike) -> None:
        import h5py

        path = Path(path)
        if not path.is_file():
            raise HandposeError(f"the file '{path}' does not exist.")
        try:
            self._f = h5py.File(path, "r")
        except OSError as err:
            raise HandposeError(f"'{path}' is not an HDF5 file ({err}).") from err
        if self._f.attrs.get("format") != FORMAT:
            self._f.close()
            raise HandposeError(f"'{path}' is not a handpose IMU file (no format='{FORMAT}').")
        self.path = path

    def __enter__(self) -> ImuFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._f.close()

    @property
    def attrs(self) -> dict[str, Any]:
        """File metadata, JSON values decoded."""
        return {k: _decode(v) for k, v in self._f.attrs.items()}

    def keys(self) -> list[tuple[int, str]]:
        """(subject, sequence) pairs in file order (subject, then sequence name)."""
        out = []
        root = self._f.get("sequences", {})
        for sk in sorted(root):
            for q in sorted(root[sk]):
                out.append((int(root[sk][q].attrs["subject"]), str(root[sk][q].attrs["sequence"])))
        return out

    def __len__(self) -> int:
        return len(self.keys())

    def read(self, subject: int, sequence: str) -> SequenceRecord:
        """Load one sequence fully into memory."""
        key = f"sequences/subject{int(subject):02d}/{sequence}"
        if key not in self._f:
            raise HandposeError(f"no sequence {sequence!r} for subject {subject} in '{self.path}'.")
        g = self._f[key]
        ga = {k: _decode(v) for k, v in g.attrs.items()}
        imu = g["imu"]
        known = {"subject", "sequence", "fps", "layout", "sensor_names", "num_frames", "root"}
        return SequenceRecord(
            subject=int(ga["subject"]),
            sequence=str(ga["sequence"]),
            fps=float(ga["fps"]),
            layout=str(ga["layout"]),
            sensor_names=tuple(ga["sensor_names"]),
            **{name: g[name][()] for name in _FRAME_FIELDS},
            **{name: imu[name][()] for name in _IMU_FIELDS},
            flags={k: imu[k][()] for k in imu if k not in _IMU_FIELDS},
            extra={k: g["extra"][k][()] for k in g["extra"]} if "extra" in g else {},
            attrs={k: v for k, v in ga.items() if k not in known},
            root=str(ga.get("root", "back")),
        )

    def __iter__(self) -> Iterator[SequenceRecord]:
        for s, q in self.keys():
            yield self.read(s, q)


def read_sequences(path: str | os.PathLike) -> list[SequenceRecord]:
    """All sequences of a file, in file order."""
    with ImuFile(path) as f:
        return list(f)
