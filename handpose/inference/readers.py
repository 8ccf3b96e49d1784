"""Read an IMU recording from any supported file, chosen by its name.

=========================  ==================================================================
file                       reader
=========================  ==================================================================
``*.h5``, ``*.hdf5``       handpose IMU file (:mod:`handpose.formats.imu_file`): quaternions
                           and global free acceleration, plus ground truth
``IMU.json`` / ``*.json``  VIHand's per-frame ``Frames_Data`` (:mod:`handpose.datasets.vihand`);
                           inside a VIHand tree (``ROOT/multidata/subjectK/ROMxx/IMU.json``
                           with ``ROOT/annotations/...``) the ground truth is loaded too
``*.csv``                  the handpose IMU CSV (:mod:`handpose.inference.csv_format`)
=========================  ==================================================================

Every reader returns an :class:`ImuRecording` with quaternions ``(w, x, y, z)`` (sensor →
world) and **global free acceleration** in m/s² (world frame, gravity removed): the student's
input convention (:mod:`handpose.datasets.normalize`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from handpose.errors import HandposeError
from handpose.inference.csv_format import read_imu_csv
from handpose.inference.recording import GroundTruth, ImuRecording
from handpose.utils.validate import check_finite, input_file

__all__ = ["read_imu", "read_imu_h5", "read_vihand_imu", "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = (".h5", ".hdf5", ".json", ".csv")


def read_imu(
    path: str | os.PathLike,
    *,
    sequence: str | None = None,
    fps: float | None = None,
) -> ImuRecording:
    """Read a recording (format from the suffix, see the module docstring).

    Args:
        path: the file.
        sequence: for multi-sequence HDF5 files, ``"ROM13_Finger_Interlocking"`` (if one subject
            has it) or ``"subject01/ROM13_Finger_Interlocking"``.
        fps: frame rate of a CSV file without a ``# fps=`` line (Hz).
    Returns:
        :class:`ImuRecording` (all sensors of the file, canonical order where known).
    Raises:
        HandposeError: missing file, unknown format, unreadable content.
    """
    path = input_file(path, "input file")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return read_imu_h5(path, sequence=sequence)
    if suffix == ".json":
        return read_vihand_imu(path)
    if suffix == ".csv":
        return read_imu_csv(path, fps=fps)
    raise HandposeError(
        f"unknown IMU file format '{path.suffix or path.name}' for '{path}'; use a handpose HDF5 "
        "(.h5/.hdf5), a VIHand IMU.json or a handpose IMU CSV (.csv)."
    )


def _pick_sequence(keys: list[tuple[int, str]], sequence: str | None, path: Path):
    if not keys:
        raise HandposeError(f"'{path}' holds no sequences.")
    if sequence is None:
        if len(keys) == 1:
            return keys[0]
        examples = ", ".join(f"subject{s:02d}/{q}" for s, q in keys[:3])
        raise HandposeError(
            f"'{path}' holds {len(keys)} sequences; choose one with --sequence (e.g. {examples})."
        )
    match = re.fullmatch(r"subject0*(\d+)/(.+)", sequence)
    if match:
        want = (int(match.group(1)), match.group(2))
        if want in keys:
            return want
    else:
        hits = [k for k in keys if k[1] == sequence]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise HandposeError(
                f"'{path}' has sequence '{sequence}' for {len(hits)} subjects; write it as "
                f"subject{hits[0][0]:02d}/{sequence}."
            )
    raise HandposeError(f"'{path}' has no sequence '{sequence}'.")


def read_imu_h5(path: str | os.PathLike, *, sequence: str | None = None) -> ImuRecording:
    """One sequence of a handpose IMU HDF5 file, with its ground truth.

    Args:
        path: ``.h5`` written by ``handpose synth imu`` or ``handpose data convert vihand``.
        sequence: see :func:`read_imu` (optional when the file holds one sequence).
    """
    from handpose.formats.imu_file import ImuFile

    path = Path(path)
    with ImuFile(path) as f:
        subject, name = _pick_sequence(f.keys(), sequence, path)
        rec = f.read(subject, name)
        attrs = f.attrs
    flags = [np.asarray(v, dtype=bool) for k, v in rec.flags.items() if k.endswith("_valid")]
    held = ~np.logical_and.reduce(flags) if flags else None
    where = f"'{path}' sequence {rec.key}: ground truth"
    gt = GroundTruth(
        **{
            name: check_finite(
                np.asarray(getattr(rec, name), dtype=np.float64), f"{where} {name}", "frame"
            )
            for name in ("global_orient", "hand_pose", "betas")
        },
        hand_model=str(attrs.get("hand_model", "")),
    )
    return ImuRecording(
        quaternions=rec.quaternion,
        accelerations=rec.free_acceleration,
        fps=rec.fps,
        sensor_names=tuple(rec.sensor_names),
        source=str(path),
        sequence=f"subject{rec.subject:02d}/{rec.sequence}",
        ground_truth=gt,
        held=held,
        meta={"layout": rec.layout, "file": attrs},
    )


def _vihand_tree(path: Path) -> tuple[Path, int, str] | None:
    """(root, subject, ROM folder) when ``path`` sits in a VIHand tree with annotations."""
    try:
        rom_dir, subject_dir, multidata, root = path.parents[0], *path.parents[1:4]
    except ValueError:
        return None
    match = re.fullmatch(r"subject0*(\d+)", subject_dir.name)
    if multidata.name != "multidata" or not match:
        return None
    if not (root / "annotations" / subject_dir.name / rom_dir.name / "mano.json").is_file():
        return None
    return root, int(match.group(1)), rom_dir.name


def read_vihand_imu(path: str | os.PathLike) -> ImuRecording:
    """A VIHand ``IMU.json`` in canonical sensor order, global free acceleration in m/s².

    Inside a VIHand tree with annotations, the whole sequence is loaded with
    :func:`handpose.datasets.vihand.load_vihand_sequence` (ground truth included, frames without
    annotations dropped). A lone ``IMU.json`` goes through
    :func:`handpose.datasets.vihand.read_imu_json` and the same IMU-only conversion (unit g →
    m/s², sensor → world frame, gravity estimated from the IMU data and removed). VIHand's
    documented assumptions (sensor order in the file, units) are those of
    :class:`handpose.datasets.vihand.VIHandOptions`. Out-of-range samples are repaired by the
    VIHand reader (last valid value) and reported in ``held``.
    """
    from handpose.datasets import vihand

    path = Path(path)
    tree = _vihand_tree(path)
    if tree is not None:
        root, subject, rom = tree
        rec = vihand.load_vihand_sequence(root, subject, rom)
        held = ~(np.asarray(rec.flags["acc_valid"]) & np.asarray(rec.flags["quat_valid"]))
        return ImuRecording(
            quaternions=rec.quaternion,
            accelerations=rec.free_acceleration,
            fps=rec.fps,
            sensor_names=tuple(rec.sensor_names),
            source=str(path),
            sequence=f"subject{subject:02d}/{rec.sequence}",
            ground_truth=GroundTruth(
                global_orient=np.asarray(rec.global_orient, dtype=np.float64),
                hand_pose=np.asarray(rec.hand_pose, dtype=np.float64),
                betas=np.asarray(rec.betas, dtype=np.float64),
                hand_model="mano",
            ),
            held=held,
            meta={"layout": "vihand7", "source": "VIHand"},
        )
    options = vihand.VIHandOptions()
    _, acc_raw, quat, acc_valid, quat_valid = vihand.read_imu_json(path, options)
    free = vihand.imu_signals(acc_raw, quat, options).free
    return ImuRecording(
        quaternions=quat,
        accelerations=free,
        fps=options.fps,
        sensor_names=tuple(vihand.CANONICAL_ORDER),
        source=str(path),
        held=~(acc_valid & quat_valid),
        meta={"layout": "vihand7", "source": "VIHand"},
    )
