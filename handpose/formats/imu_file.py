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
from typing import Any

import numpy as np

from handpose.errors import HandposeError
from handpose.utils.io import atomic_path
from handpose.utils.validate import check_finite, check_float, h5_attr, h5_dataset, input_file

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
    "MODEL_FIELDS",
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


# What the windowed datasets (training, evaluation) read: these must be finite there.
MODEL_FIELDS = (
    "global_orient",
    "hand_pose",
    "betas",
    "joints21",
    "quaternion",
    "free_acceleration",
)


class ImuFile:
    """Read-only access to a handpose IMU file.

    The layout is checked as it is read: a missing or misshapen dataset or attribute, or a
    damaged file, raises :class:`HandposeError` naming the file, the sequence and the field.

    Example:
        >>> with ImuFile("data/synth_vihand.h5") as f:  # doctest: +SKIP
        ...     rec = f.read(1, "ROM01_Finger_Counting")
        ...     rec.free_acceleration.shape   # (T, 7, 3)
    """

    def __init__(self, path: str | os.PathLike) -> None:
        import h5py

        path = input_file(path, "IMU file")
        try:
            self._f = h5py.File(path, "r")
        except OSError as err:
            raise HandposeError(f"'{path}' is not an HDF5 file ({_h5_reason(err)}).") from None
        self.path = path
        with self._guard():
            fmt = _decode(self._f.attrs.get("format"))
        if fmt != FORMAT:
            self._f.close()
            raise HandposeError(f"'{path}' is not a handpose IMU file (no format='{FORMAT}').")

    @contextlib.contextmanager
    def _guard(self, what: str = "") -> Iterator[None]:
        """h5py's errors on a damaged or truncated file → one HandposeError line."""
        try:
            yield
        except (OSError, RuntimeError, KeyError, ValueError, TypeError) as err:
            at = f" ({what})" if what else ""
            raise HandposeError(
                f"'{self.path}' is damaged or truncated{at}: {_h5_reason(err)}."
            ) from None

    def __enter__(self) -> ImuFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._f.close()

    @property
    def attrs(self) -> dict[str, Any]:
        """File metadata, JSON values decoded."""
        with self._guard("file attributes"):
            return {k: _decode(v) for k, v in self._f.attrs.items()}

    def _groups(self) -> list[tuple[str, Any]]:
        import h5py

        with self._guard("sequences"):
            root = self._f.get("sequences")
            if root is None:
                return []
            if not isinstance(root, h5py.Group):
                raise HandposeError(f"'{self.path}': 'sequences' must be a group.")
            out = []
            for sk in sorted(root):
                sub = root[sk]
                if not isinstance(sub, h5py.Group):
                    raise HandposeError(f"'{self.path}': 'sequences/{sk}' must be a group.")
                out += [(f"{sk}/{q}", sub[q]) for q in sorted(sub)]
            return out

    def keys(self) -> list[tuple[int, str]]:
        """(subject, sequence) pairs in file order (subject, then sequence name)."""
        out = []
        for key, g in self._groups():
            where = f"'{self.path}' sequence {key}"
            with self._guard(key):
                out.append(
                    (
                        h5_attr(g, "subject", int, where=where),
                        h5_attr(g, "sequence", str, where=where),
                    )
                )
        return out

    def __len__(self) -> int:
        return len(self.keys())

    def read(self, subject: int, sequence: str, require_finite: bool = False) -> SequenceRecord:
        """Load one sequence fully into memory, checking its layout.

        Args:
            subject, sequence: which one (see :meth:`keys`).
            require_finite: also refuse NaN/inf in :data:`MODEL_FIELDS` (what models read).
        """
        import h5py

        key = f"sequences/subject{int(subject):02d}/{sequence}"
        with self._guard(key):
            if key not in self._f:
                raise HandposeError(
                    f"no sequence {sequence!r} for subject {subject} in '{self.path}'."
                )
            g = self._f[key]
            where = f"'{self.path}' sequence subject{int(subject):02d}/{sequence}"
            fps = h5_attr(g, "fps", float, where=where)
            check_float(fps, f"{where}: attribute 'fps'", 0.0, lo_open=True)
            names = _decode(h5_attr(g, "sensor_names", str, where=where))
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise HandposeError(
                    f"{where}: attribute 'sensor_names' must be a JSON list of names."
                )
            dims = {"N": len(names)}
            arrays = {
                name: h5_dataset(g, name, shape, dims, where=where)
                for name, shape in _FRAME_SHAPES.items()
            }
            imu = g.get("imu")
            if not isinstance(imu, h5py.Group):
                raise HandposeError(f"{where} has no group 'imu'.")
            iwhere = f"{where} imu"
            arrays.update(
                {
                    name: h5_dataset(imu, name, shape, dims, where=iwhere)
                    for name, shape in _IMU_SHAPES.items()
                }
            )
            flags = {
                k: h5_dataset(imu, k, ("T", "N"), dims, where=iwhere, kind="b")
                for k in imu
                if k not in _IMU_FIELDS
            }
            extra = g.get("extra")
            extra = (
                {k: h5_dataset(extra, k, where=f"{where} extra", kind="fiub") for k in extra}
                if isinstance(extra, h5py.Group)
                else {}
            )
            ga = {k: _decode(v) for k, v in g.attrs.items()}
            rec = SequenceRecord(
                subject=h5_attr(g, "subject", int, where=where),
                sequence=h5_attr(g, "sequence", str, where=where),
                fps=fps,
                layout=str(ga.get("layout", "")),
                sensor_names=tuple(names),
                **arrays,
                flags=flags,
                extra=extra,
                attrs={k: v for k, v in ga.items() if k not in _KNOWN_ATTRS},
                root=str(ga.get("root", "back")),
            )
        rec.validate()
        if require_finite:
            for name in MODEL_FIELDS:
                check_finite(getattr(rec, name), f"{where}: {name}", first_axis="frame")
        return rec

    def __iter__(self) -> Iterator[SequenceRecord]:
        for s, q in self.keys():
            yield self.read(s, q)


_FRAME_SHAPES = {
    "global_orient": ("T", 3),
    "hand_pose": ("T", 45),
    "betas": ("T", 10),
    "transl": ("T", 3),
    "joints21": ("T", 21, 3),
}
_IMU_SHAPES = {
    "quaternion": ("T", "N", 4),
    "specific_force": ("T", "N", 3),
    "free_acceleration": ("T", "N", 3),
    "angular_velocity": ("T", "N", 3),
}
_KNOWN_ATTRS = {"subject", "sequence", "fps", "layout", "sensor_names", "num_frames", "root"}


def _h5_reason(err: Exception) -> str:
    """h5py's message without its call-stack prefix ("Unable to synchronously open ...")."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def read_sequences(path: str | os.PathLike, require_finite: bool = False) -> list[SequenceRecord]:
    """All sequences of a file, in file order (``require_finite``: see :meth:`ImuFile.read`)."""
    with ImuFile(path) as f:
        return [f.read(s, q, require_finite=require_finite) for s, q in f.keys()]
