"""Windowed torch dataset over handpose IMU files: student IMU tokens + teacher MANO targets.

Each item is one window of T frames of one sequence (dict of float32 tensors unless noted):

- ``imu`` (T, N, 12): root-relative IMU tokens (:mod:`handpose.datasets.normalize`), from the
  file's quaternions and free accelerations only; never from the labels below.
- ``pose6d`` (T, 16, 6): ground-truth rotations, 6D (global orient + 15 local), full articulation.
- ``pose_aa`` (T, 16, 3): the same as axis-angle.
- ``betas`` (10,): the window's first frame's shape.
- ``joints`` (T, 21, 3): OpenPose-21 joints minus the wrist (world orientation, metres).
- ``mask`` (T, 16) bool: True = masked for the teacher: each (frame, joint) with probability
  ``p_mask`` (joint-wise) OR each whole frame with probability ``p_mask`` (frame-wise).
- ``subject`` (int) and ``sequence`` (str).

Splits are by sequence (gesture), as in VIHand: ``train`` = ROM01–ROM12, ``test`` = ROM13–ROM15,
so test gestures are unseen. Masks are deterministic given ``seed``, the item index and the epoch
(:meth:`ImuWindowDataset.set_epoch`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from handpose.datasets.normalize import DEFAULT_ACC_SCALE, imu_tokens_from_quaternion
from handpose.errors import HandposeError
from handpose.formats.imu_file import ImuFile, SequenceRecord, read_sequences
from handpose.geometry.rotations import axis_angle_to_matrix, matrix_to_rotation_6d
from handpose.simulators.imu.layouts import LAYOUTS

__all__ = [
    "DEFAULT_P_MASK",
    "TRAIN_ROMS",
    "TEST_ROMS",
    "ImuWindowDataset",
    "rom_number",
    "sequence_split",
    "teacher_mask",
]

TRAIN_ROMS = range(1, 13)
TEST_ROMS = range(13, 16)
# Our default masking rate for the teacher's input (MGDHand's p_m is not published).
DEFAULT_P_MASK = 0.15
_ROM = re.compile(r"ROM(\d+)", re.IGNORECASE)


def rom_number(sequence: str) -> int:
    """The ROM number of a VIHand-style sequence name ("ROM07_Finger_Walking" → 7)."""
    m = _ROM.search(sequence)
    if m is None:
        raise HandposeError(f"sequence name {sequence!r} has no ROMxx number to split on.")
    return int(m.group(1))


def sequence_split(sequence: str) -> str:
    """ "train" for ROM01–ROM12, "test" for ROM13–ROM15 (VIHand's gesture split)."""
    n = rom_number(sequence)
    if n in TRAIN_ROMS:
        return "train"
    if n in TEST_ROMS:
        return "test"
    raise HandposeError(f"sequence {sequence!r}: ROM{n:02d} is outside VIHand's ROM01–ROM15.")


def teacher_mask(num_frames: int, p_mask: float, generator: torch.Generator) -> Tensor:
    """(T, 16) bool: joint-wise Bernoulli(p) OR frame-wise Bernoulli(p) (whole frame masked)."""
    joint = torch.rand((num_frames, 16), generator=generator) < p_mask
    frame = torch.rand((num_frames, 1), generator=generator) < p_mask
    return joint | frame


def _select_sensors(rec: SequenceRecord, sensors) -> tuple[list[int], int]:
    names = list(rec.sensor_names)
    if sensors is None:
        chosen = names
    elif isinstance(sensors, str):
        if sensors not in LAYOUTS:
            raise HandposeError(f"unknown sensor subset {sensors!r}; use {', '.join(LAYOUTS)}.")
        chosen = list(LAYOUTS[sensors].names)
    else:
        chosen = list(sensors)
    missing = [s for s in chosen if s not in names]
    if missing:
        raise HandposeError(f"sensors {missing} are not in {rec.key} (it has {', '.join(names)}).")
    idx = sorted(names.index(s) for s in chosen)
    root = rec.root if rec.root in chosen else chosen[0]
    return idx, [names[i] for i in idx].index(root)


def _check_full_articulation(path: str | os.PathLike) -> None:
    """Targets are full articulation (flat_hand_mean=True); refuse files that say otherwise.

    A converted VIHand file with ``--hands-mean relative`` stores θ relative to MANO's
    ``hands_mean``; serving it as full articulation would silently train on wrong targets.
    """
    with ImuFile(path) as f:
        flat = f.attrs.get("mano_flat_hand_mean", True)
    if not flat:
        raise HandposeError(
            f"'{path}' stores hand poses relative to hands_mean (mano_flat_hand_mean=False); "
            "the windowed datasets need full articulation: add the MANO hands_mean to hand_pose "
            "first (HandModel(flat_hand_mean=False) semantics)."
        )


class ImuWindowDataset(Dataset):
    """Windows of T frames over the sequences of one or more handpose IMU files.

    Args:
        source: path to an IMU file, or a list of paths / :class:`SequenceRecord`.
        window: T, frames per item (32 default). Sequences shorter than T are skipped.
        stride: frames between window starts (default: ``window``, no overlap).
        split: "train" (ROM01–12), "test" (ROM13–15), "all", or a list of sequence names.
        sensors: None (all in the file), a layout name ("sparse3", …) or a list of sensor names;
            the root is the file's layout root ("back" for vihand7) when selected, else the
            first selected sensor.
        p_mask: teacher masking probability p_m (joint-wise and frame-wise).
        seed: seed of the masks. acc_scale: accelerometer divisor of the tokens, m/s².
        subjects: None (all), or N: only the N subjects with the lowest ids.
        gestures: None (all), or N: only the N lowest-numbered gestures (ROMs) of the
            selected sequences (e.g. ``split="train", gestures=4``: ROM01–ROM04).

    Example:
        >>> ds = ImuWindowDataset("data/synth_vihand.h5", split="train", sensors="sparse3")  # doctest: +SKIP
        >>> ds[0]["imu"].shape  # doctest: +SKIP
        torch.Size([32, 3, 12])
    """

    def __init__(
        self,
        source: str | os.PathLike | Sequence[str | os.PathLike | SequenceRecord],
        window: int = 32,
        stride: int | None = None,
        split: str | Sequence[str] = "train",
        sensors: str | Sequence[str] | None = None,
        p_mask: float = DEFAULT_P_MASK,
        seed: int = 0,
        acc_scale: float = DEFAULT_ACC_SCALE,
        subjects: int | None = None,
        gestures: int | None = None,
    ) -> None:
        if window < 1:
            raise HandposeError(f"window must be >= 1, got {window}.")
        stride = window if stride is None else stride
        if stride < 1:
            raise HandposeError(f"stride must be >= 1, got {stride}.")
        if not 0.0 <= p_mask <= 1.0:
            raise HandposeError(f"p_mask must be in [0, 1], got {p_mask}.")
        self.window, self.stride, self.p_mask, self.seed = window, stride, p_mask, seed
        self.acc_scale = acc_scale
        self.epoch = 0
        records = self._load(source)
        if isinstance(split, str) and split not in ("train", "test", "all"):
            raise HandposeError(f"split must be 'train', 'test', 'all' or a list, got {split!r}.")
        for name, n in (("subjects", subjects), ("gestures", gestures)):
            if n is not None and n < 1:
                raise HandposeError(f"{name} must be >= 1 or None, got {n}.")
        if isinstance(split, str) and split != "all":
            records = [r for r in records if sequence_split(r.sequence) == split]
        elif not isinstance(split, str):
            records = [r for r in records if r.sequence in split]
        if subjects is not None:
            keep = set(sorted({int(r.subject) for r in records})[:subjects])
            records = [r for r in records if int(r.subject) in keep]
        if gestures is not None:
            keep = set(sorted({rom_number(r.sequence) for r in records})[:gestures])
            records = [r for r in records if rom_number(r.sequence) in keep]
        self._seqs: list[dict] = []
        self.sensor_names: tuple[str, ...] = ()
        self.index: list[tuple[int, int]] = []  # (sequence slot, start frame)
        self.fps: float | None = None  # frame rate of the selected sequences (one rate)
        for rec in records:
            if rec.num_frames < window:
                continue
            if self.fps is not None and float(rec.fps) != self.fps:
                raise HandposeError(
                    f"sequence '{rec.sequence}' is at {float(rec.fps):g} fps, others at "
                    f"{self.fps:g} fps; one dataset needs one frame rate (resample first)."
                )
            self.fps = float(rec.fps)
            idx, root = _select_sensors(rec, sensors)
            self.sensor_names = tuple(rec.sensor_names[i] for i in idx)
            slot = len(self._seqs)
            self._seqs.append(self._prepare(rec, idx, root))
            for start in range(0, rec.num_frames - window + 1, stride):
                self.index.append((slot, start))

    @staticmethod
    def _load(source) -> list[SequenceRecord]:
        sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
        out: list[SequenceRecord] = []
        for s in sources:
            if isinstance(s, SequenceRecord):
                out.append(s)
            else:
                _check_full_articulation(s)
                out.extend(read_sequences(s, require_finite=True))
        return out

    def _prepare(self, rec: SequenceRecord, idx: list[int], root: int) -> dict:
        # Student inputs: IMU arrays only.
        q = torch.from_numpy(np.asarray(rec.quaternion[:, idx], dtype=np.float32))
        a = torch.from_numpy(np.asarray(rec.free_acceleration[:, idx], dtype=np.float32))
        imu = imu_tokens_from_quaternion(q, a, root, self.acc_scale)
        # Teacher targets and labels.
        aa = np.concatenate([rec.global_orient, rec.hand_pose], axis=-1).reshape(-1, 16, 3)
        pose_aa = torch.from_numpy(np.asarray(aa, dtype=np.float32))
        j = np.asarray(rec.joints21, dtype=np.float32)
        return {
            "imu": imu.contiguous(),
            "pose_aa": pose_aa,
            "pose6d": matrix_to_rotation_6d(axis_angle_to_matrix(pose_aa)),
            "betas": torch.from_numpy(np.asarray(rec.betas, dtype=np.float32)),
            "joints": torch.from_numpy(j - j[:, :1]),
            "subject": int(rec.subject),
            "sequence": str(rec.sequence),
        }

    def set_epoch(self, epoch: int) -> None:
        """Change the mask draws (masks depend on (seed, epoch, index))."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i = i % len(self)
        slot, s = self.index[i]
        seq = self._seqs[slot]
        e = s + self.window
        g = torch.Generator().manual_seed(
            int(np.random.SeedSequence([self.seed, self.epoch, i]).generate_state(1)[0])
        )
        return {
            "imu": seq["imu"][s:e],
            "pose6d": seq["pose6d"][s:e],
            "pose_aa": seq["pose_aa"][s:e],
            "betas": seq["betas"][s],
            "joints": seq["joints"][s:e],
            "mask": teacher_mask(self.window, self.p_mask, g),
            "subject": seq["subject"],
            "sequence": seq["sequence"],
        }
