"""Loader and converter for the real VIHand dataset (datasets.md §5), with no ground-truth leak.

Layout read (datasets.md §5.3)::

    ROOT/multidata/subjectK/ROMxx/IMU.json        {"<frame>": {"Frames_Data": [7 × {acc_x, acc_y,
                                                   acc_z, q_0, q_1, q_2, q_3}]}, …}
    ROOT/multidata/subjectK/camera_params.json    (or camera_paras.json; optional, kept as text)
    ROOT/annotations/subjectK/ROMxx/mano.json     per frame 65 numbers: 6D global rotation (first
                                                   two rows), 45 θ, 10 β, 4 camera values
    ROOT/annotations/subjectK/ROMxx/joint.json    per frame 21 × 3 joints

Per-frame JSON may be a dict keyed by frame number (optionally wrapping the values as
``{"mano": [...]}``/``{"joint": [...]}``) or a list; frames present in IMU.json, mano.json and
joint.json are kept, in frame-number order.

What VIHand does not document, and our documented defaults (each a :class:`VIHandOptions` field):

- **IMU order** in ``Frames_Data``: assumed to follow the project page's listing "wrist, palm,
  thumb, index, middle, ring, little" (:data:`VIHAND_FILE_ORDER`); we permute it to our canonical
  order thumb, index, middle, ring, pinky, back, wrist. Unverified: check on data by correlating
  orientations with MANO bone rotations, and pass ``imu_order`` if it differs.
- **Quaternion direction:** assumed sensor-to-world (what AHRS chips report);
  ``quat_world_to_sensor=True`` conjugates them first.
- **Acceleration unit:** the ±5 sanity bound suggests g; ``acc_unit="g"`` multiplies by 9.81.
- **Acceleration frame / gravity:** assumed sensor frame; whether gravity is included is decided
  per sequence from the data (median |a| ≈ 1 g ⇒ included). The world gravity vector of the
  IMUs' own world frame is estimated from IMU data only: ``g_W = −mean(R·a_S)`` scaled to 9.81
  (a hand's mean acceleration over a sequence is ≈ 0).
- **Out-of-range samples:** the public loader clamps to the previous value but uses variables
  before initialising them (it crashes on an out-of-range first frame). Here an accelerometer
  sample with any component outside ±``acc_limit`` (file units) or non-finite, and a quaternion
  with any component outside [−1, 1], non-finite or of zero norm, is replaced by the last valid
  sample of that sensor (leading invalid samples by the first valid one) and flagged in
  ``imu/acc_valid`` / ``imu/quat_valid``.
- **Ground truth never touches the IMU signals.** The public loader left-multiplies IMU data by
  the ground-truth MANO global rotation (datasets.md §5.7); we do not.
- θ is stored as given; VIHand does not say whether it is relative to ``hands_mean``
  (``flat_hand_mean`` option, default True, recorded in the file). ``transl`` is stored as
  zeros (the 4 camera values are kept under ``extra/camera``); ``joints21`` are joint.json times
  ``joints_scale`` (unit unknown; 1.0 keeps the file's numbers), assumed to be in OpenPose-21
  order with the wrist first (the windowed dataset subtracts joint 0).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from handpose.errors import HandposeError
from handpose.formats.imu_file import SequenceRecord, open_writer
from handpose.geometry.rotations import (
    matrix_to_axis_angle,
    quaternion_to_matrix,
    rotation_6d_to_matrix,
)
from handpose.simulators.imu.kinematics import angular_velocity
from handpose.simulators.imu.layouts import LAYOUTS
from handpose.simulators.motion.gestures import GESTURES
from handpose.utils.validate import read_json

__all__ = [
    "VIHAND_FILE_ORDER",
    "VIHandOptions",
    "repair_samples",
    "read_imu_json",
    "ImuSignals",
    "imu_signals",
    "find_sequences",
    "load_vihand_sequence",
    "convert_vihand",
]

VIHAND_FILE_ORDER: tuple[str, ...] = ("wrist", "back", "thumb", "index", "middle", "ring", "pinky")
CANONICAL_ORDER: tuple[str, ...] = LAYOUTS["vihand7"].names
STANDARD_GRAVITY = 9.81
_ACC_KEYS = ("acc_x", "acc_y", "acc_z")
_QUAT_KEYS = ("q_0", "q_1", "q_2", "q_3")  # q_0 = w (datasets.md §5.4)
_ROM_NAMES = {f"ROM{g.rom:02d}": g.sequence_name for g in GESTURES.values()}


@dataclass(frozen=True)
class VIHandOptions:
    """Assumptions about VIHand's undocumented conventions (see the module docstring)."""

    imu_order: tuple[str, ...] = VIHAND_FILE_ORDER
    acc_unit: str = "g"  # "g" or "m/s^2"
    acc_frame: str = "sensor"  # "sensor" or "world"
    acc_includes_gravity: bool | None = None  # None: decide per sequence from the data
    # Sanity bound on |acc| components in file units; None: ±5 g (VIHand loader), i.e. 5 for
    # acc_unit "g" and 5·9.81 for "m/s^2".
    acc_limit: float | None = None
    quat_world_to_sensor: bool = False  # True: IMU.json quaternions rotate world → sensor
    joints_scale: float = 1.0
    flat_hand_mean: bool = True
    fps: float = 30.0

    def __post_init__(self) -> None:
        if sorted(self.imu_order) != sorted(CANONICAL_ORDER):
            raise HandposeError(
                f"imu_order must be a permutation of {', '.join(CANONICAL_ORDER)}; got "
                f"{', '.join(self.imu_order)}."
            )
        if self.acc_unit not in ("g", "m/s^2"):
            raise HandposeError(f"acc_unit must be 'g' or 'm/s^2', got {self.acc_unit!r}.")
        if self.acc_frame not in ("sensor", "world"):
            raise HandposeError(f"acc_frame must be 'sensor' or 'world', got {self.acc_frame!r}.")

    @property
    def acc_limit_file_units(self) -> float:
        """The out-of-range bound in the file's acceleration unit (±5 g by default)."""
        if self.acc_limit is not None:
            return float(self.acc_limit)
        return 5.0 if self.acc_unit == "g" else 5.0 * STANDARD_GRAVITY

    @property
    def permutation(self) -> list[int]:
        """File index of each canonical sensor: ``canonical = file[:, permutation]``."""
        return [self.imu_order.index(n) for n in CANONICAL_ORDER]


def repair_samples(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace invalid samples by the last valid one of the same sensor (forward fill), and
    leading invalid samples by the first valid one.

    Args:
        values: (T, N, D). valid: (T, N) bool.
    Returns:
        (T, N, D) repaired copy. Raises HandposeError if a sensor has no valid sample.
    """
    T, N = valid.shape
    if not valid.any(axis=0).all():
        bad = [int(i) for i in np.nonzero(~valid.any(axis=0))[0]]
        raise HandposeError(f"IMU sensor(s) {bad} have no valid sample in the whole sequence.")
    idx = np.where(valid, np.arange(T)[:, None], -1)
    last = np.maximum.accumulate(idx, axis=0)  # index of the last valid sample, −1 before any
    first = valid.argmax(axis=0)  # first valid sample per sensor
    src = np.where(last >= 0, last, first[None, :])
    return values[src, np.arange(N)[None, :]]


def _load_json(path: Path):
    if not path.exists():
        raise HandposeError(f"missing VIHand file '{path}'.")
    return read_json(path, "VIHand file")


def _frame_key(k) -> int:
    try:
        return int(k)
    except (TypeError, ValueError):
        raise HandposeError(f"frame key {k!r} is not a frame number.") from None


def _per_frame(obj, name: str, path: Path) -> dict[int, object]:
    """{frame number: value} from a dict keyed by frame or a list (index = frame)."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(v, dict) and name in v:
                v = v[name]
            out[_frame_key(k)] = v
        return out
    if isinstance(obj, list):
        return dict(enumerate(obj))
    raise HandposeError(f"'{path}' must hold a dict keyed by frame or a list of frames.")


def read_imu_json(path: str | os.PathLike, options: VIHandOptions = VIHandOptions()):
    """Parse IMU.json into canonical sensor order, repairing out-of-range samples.

    Returns:
        frames (T,) int frame numbers; acc (T, 7, 3) in **file units**, repaired; quat (T, 7, 4)
        (w, x, y, z) normalised, repaired; acc_valid, quat_valid (T, 7) bool (False = replaced).
    """
    path = Path(path)
    raw = _load_json(path)
    if not isinstance(raw, dict):
        raise HandposeError(f"'{path}' must map frame numbers to {{'Frames_Data': [...]}}.")
    frames = sorted(raw, key=_frame_key)
    T, N = len(frames), len(options.imu_order)
    if T == 0:
        raise HandposeError(f"'{path}' has no frames.")
    acc = np.full((T, N, 3), np.nan)
    quat = np.full((T, N, 4), np.nan)
    for t, k in enumerate(frames):
        entry = raw[k]
        data = entry.get("Frames_Data") if isinstance(entry, dict) else None
        if not isinstance(data, list) or len(data) != N:
            raise HandposeError(
                f"'{path}' frame {k}: 'Frames_Data' must be a list of {N} sensor dicts."
            )
        for i, d in enumerate(data):
            if not isinstance(d, dict):
                raise HandposeError(
                    f"'{path}' frame {k}: sensor {i} of 'Frames_Data' must be an object with "
                    f"{', '.join(_ACC_KEYS + _QUAT_KEYS)}."
                )
            for c, key in enumerate(_ACC_KEYS):
                acc[t, i, c] = _number(d.get(key))
            for c, key in enumerate(_QUAT_KEYS):
                quat[t, i, c] = _number(d.get(key))
    perm = options.permutation
    acc, quat = acc[:, perm], quat[:, perm]
    acc_valid = np.isfinite(acc).all(-1) & (np.abs(acc) <= options.acc_limit_file_units).all(-1)
    with np.errstate(invalid="ignore"):
        qn = np.linalg.norm(quat, axis=-1)
        quat_valid = np.isfinite(quat).all(-1) & (np.abs(quat) <= 1.0).all(-1) & (qn > 1e-6)
    acc = repair_samples(acc, acc_valid)
    quat = repair_samples(quat, quat_valid)
    quat = quat / np.linalg.norm(quat, axis=-1, keepdims=True)
    if options.quat_world_to_sensor:
        quat = quat * np.array([1.0, -1.0, -1.0, -1.0])
    return np.array([_frame_key(k) for k in frames]), acc, quat, acc_valid, quat_valid


def _numbers(values: list, path: Path) -> np.ndarray:
    """Per-frame nested lists of numbers → a float64 array (one frame, one row)."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (ValueError, TypeError) as err:
        reason = " ".join(str(err).split())[:120]
        raise HandposeError(
            f"{path}: every frame must be a list of numbers of the same length ({reason})."
        ) from None


def _number(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _subject_number(name: str) -> int:
    m = re.fullmatch(r"subject(\d+)", name)
    if m is None:
        raise HandposeError(f"'{name}' is not a VIHand subject folder (subjectK).")
    return int(m.group(1))


def find_sequences(root: str | os.PathLike) -> list[tuple[int, str, Path]]:
    """(subject, ROM folder name, folder path) for every ``multidata/subjectK/ROMxx/IMU.json``."""
    root = Path(root)
    base = root / "multidata"
    if not base.is_dir():
        raise HandposeError(f"'{root}' is not a VIHand root (no multidata/ folder).")
    out = []
    for sdir in sorted(base.iterdir()):
        if not (sdir.is_dir() and re.fullmatch(r"subject\d+", sdir.name)):
            continue
        for rdir in sorted(sdir.iterdir()):
            if (
                rdir.is_dir()
                and rdir.name.upper().startswith("ROM")
                and (rdir / "IMU.json").is_file()
            ):
                out.append((_subject_number(sdir.name), rdir.name, rdir))
    if not out:
        raise HandposeError(f"no multidata/subjectK/ROMxx/IMU.json found under '{root}'.")
    return sorted(out, key=lambda x: (x[0], x[1]))


def _sequence_name(folder: str) -> str:
    m = re.match(r"(ROM\d+)", folder, re.IGNORECASE)
    if m and m.group(1).upper() == folder.upper():
        return _ROM_NAMES.get(folder.upper(), folder)
    return folder


def _camera_params(sdir: Path) -> str | None:
    for name in ("camera_params.json", "camera_paras.json"):
        p = sdir / name
        if p.is_file():
            return json.dumps(_load_json(p))
    return None


@dataclass(frozen=True)
class ImuSignals:
    """VIHand IMU readings in handpose's units and frames (all (T, 7, 3) m/s² unless noted)."""

    free: np.ndarray  # global free acceleration (gravity removed)
    specific: np.ndarray  # specific force in the sensor frame
    gravity: np.ndarray  # (3,) the gravity vector in the IMU world frame
    includes_gravity: bool  # whether the file's accelerations included gravity
    rotations: np.ndarray  # (T, 7, 3, 3) sensor-to-world rotations


def imu_signals(acc_raw: np.ndarray, quat: np.ndarray, options: VIHandOptions) -> ImuSignals:
    """VIHand IMU data (from :func:`read_imu_json`) → free acceleration and specific force.

    Uses IMU data only (no annotations), so a lone ``IMU.json`` converts the same way as a
    sequence in a VIHand tree: scale the file's unit to m/s², rotate sensor-frame readings to
    the world with the IMU's own orientation, and, when gravity is included (``options``, or
    auto: median |a| within 30 % of 1 g), remove the gravity vector estimated as −mean(R·a)
    scaled to 9.81 m/s². Without gravity in the file, a z-up IMU world is assumed.

    Args:
        acc_raw: (T, 7, 3) accelerations in ``options.acc_unit`` and ``options.acc_frame``.
        quat: (T, 7, 4) sensor-to-world quaternions, w first.
    """
    scale = STANDARD_GRAVITY if options.acc_unit == "g" else 1.0
    acc = np.asarray(acc_raw, dtype=np.float64) * scale
    R = quaternion_to_matrix(torch.from_numpy(np.asarray(quat, dtype=np.float64))).numpy()
    if options.acc_frame == "sensor":
        a_sensor = acc
        a_world_meas = np.einsum("tnij,tnj->tni", R, acc)
    else:
        a_world_meas = acc
        a_sensor = np.einsum("tnji,tnj->tni", R, acc)
    includes_g = options.acc_includes_gravity
    if includes_g is None:
        med = float(np.median(np.linalg.norm(acc, axis=-1)))
        includes_g = abs(med - STANDARD_GRAVITY) < 0.3 * STANDARD_GRAVITY
    if includes_g:
        mean = a_world_meas.reshape(-1, 3).mean(0)
        g_world = -mean / max(np.linalg.norm(mean), 1e-9) * STANDARD_GRAVITY
        free = a_world_meas + g_world
        specific = a_sensor
    else:
        g_world = np.array([0.0, 0.0, -STANDARD_GRAVITY])  # assumed z-up IMU world
        free = a_world_meas
        specific = a_sensor - np.einsum("tnji,j->tni", R, g_world)
    return ImuSignals(free, specific, g_world, bool(includes_g), R)


def load_vihand_sequence(
    root: str | os.PathLike, subject: int, rom: str, options: VIHandOptions = VIHandOptions()
) -> SequenceRecord:
    """One VIHand sequence as a :class:`SequenceRecord` (canonical sensor order, SI units)."""
    root = Path(root)
    sdir = root / "multidata" / f"subject{subject}"
    if not sdir.is_dir():
        cands = [
            p for p in (root / "multidata").glob("subject*") if _subject_number(p.name) == subject
        ]
        if not cands:
            raise HandposeError(f"no subject {subject} under '{root / 'multidata'}'.")
        sdir = cands[0]
    adir = root / "annotations" / sdir.name / rom
    frames, acc_raw, quat, acc_valid, quat_valid = read_imu_json(sdir / rom / "IMU.json", options)

    mano_path, joint_path = adir / "mano.json", adir / "joint.json"
    mano = _per_frame(_load_json(mano_path), "mano", mano_path)
    joints = _per_frame(_load_json(joint_path), "joint", joint_path)
    keep = np.array([f in mano and f in joints for f in frames])
    if not keep.any():
        raise HandposeError(f"{sdir.name}/{rom}: no frame has IMU, mano.json and joint.json data.")
    frames, acc_raw, quat = frames[keep], acc_raw[keep], quat[keep]
    acc_valid, quat_valid = acc_valid[keep], quat_valid[keep]
    m = _numbers([mano[f] for f in frames], mano_path).reshape(len(frames), -1)
    j = _numbers([joints[f] for f in frames], joint_path)
    if j.size % (3 * len(frames)):
        raise HandposeError(f"{joint_path}: expected 21 joints × 3 numbers per frame.")
    j = j.reshape(len(frames), -1, 3)
    if m.shape[1] != 65:
        raise HandposeError(f"{mano_path}: expected 65 numbers per frame, got {m.shape[1]}.")
    if j.shape[1] != 21:
        raise HandposeError(f"{joint_path}: expected 21 joints per frame, got {j.shape[1]}.")

    # IMU signals: only IMU data enters here.
    sig = imu_signals(acc_raw, quat, options)
    free, specific, g_world, includes_g = sig.free, sig.specific, sig.gravity, sig.includes_gravity
    R = sig.rotations
    omega = (
        angular_velocity(torch.from_numpy(R), options.fps).numpy()
        if len(frames) >= 3
        else np.zeros_like(free)
    )

    # Labels.
    R_glob = rotation_6d_to_matrix(torch.from_numpy(m[:, :6]))
    global_orient = matrix_to_axis_angle(R_glob).numpy()
    T = len(frames)
    attrs = {
        "source": "VIHand",
        "frames": [int(f) for f in frames],
        "gravity_estimate": [float(x) for x in g_world],
        "acc_includes_gravity": bool(includes_g),
    }
    cam = _camera_params(sdir)
    if cam is not None:
        attrs["camera_params"] = cam
    return SequenceRecord(
        subject=int(subject),
        sequence=_sequence_name(rom),
        fps=float(options.fps),
        layout="vihand7",
        sensor_names=CANONICAL_ORDER,
        global_orient=global_orient,
        hand_pose=m[:, 6:51],
        betas=m[:, 51:61],
        transl=np.zeros((T, 3)),
        joints21=j * options.joints_scale,
        quaternion=quat,
        specific_force=specific,
        free_acceleration=free,
        angular_velocity=omega,
        flags={"acc_valid": acc_valid, "quat_valid": quat_valid},
        extra={"camera": m[:, 61:65]},
        attrs=attrs,
    )


def convert_vihand(
    root: str | os.PathLike,
    out: str | os.PathLike,
    options: VIHandOptions = VIHandOptions(),
    progress: Callable[[Iterable], Iterable] | None = None,
) -> int:
    """Convert every VIHand sequence under ``root`` into one handpose IMU file (atomic write).

    Returns:
        the number of sequences written.
    """
    seqs = find_sequences(root)
    opts = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(options).items()}
    attrs = {
        "generator": "handpose data convert vihand",
        "source": "VIHand",
        "hand_model": "mano",
        "mano_flat_hand_mean": bool(options.flat_hand_mean),
        "layout": "vihand7",
        "sensor_names": list(CANONICAL_ORDER),
        "vihand_options": opts,
        "seed": -1,
    }
    it = progress(seqs) if progress is not None else seqs
    with open_writer(out, attrs) as w:
        for subject, rom, _ in it:
            w.write(load_vihand_sequence(root, subject, rom, options))
    return len(seqs)
