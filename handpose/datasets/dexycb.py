"""DexYCB (NVlabs/dex-ycb-toolkit) → the image sample schema.

On disk (../shared/reference/datasets.md §3)::

    ROOT/{20200709-subject-01 … 20201022-subject-10}/{sequence}/meta.yml
         (num_frames, ycb_ids, ycb_grasp_ind, mano_sides, mano_calib)
    ROOT/<subject>/<sequence>/<serial>/color_%06d.jpg, labels_%06d.npz   (640×480)
    ROOT/calibration/intrinsics/<serial>_640x480.yml    color: fx, fy, ppx, ppy
    ROOT/calibration/mano_<calib>/mano.yml              betas (10), per subject

Subjects are taken in name order (= subject 01 … 10), sequences in name order within a subject
(index i), cameras in serial order of ``calibration/intrinsics`` (index c). Official splits
(``dex_ycb.py``): **s0** train = i % 5 ≠ 4, val = subjects 0–1 with i % 5 = 4, test = subjects
2–9 with i % 5 = 4; **s1** (unseen subjects) train 0–5 and 9, val 6, test 7–8; **s2** (unseen
cameras) train cameras 0–5, val 6, test 7. (s3, unseen objects, is not provided: its object lists
are not in our reference.) Every frame of a selected sequence and camera is a sample, as in the
toolkit; frames without a hand have ``hand_valid`` false.

Conversions (camera frame, metres, OpenPose-21 already):

- ``joint_3d`` (1, 21, 3) → ``joints3d`` in the slot of ``mano_sides[0]``; all −1 = no hand.
- ``joints2d`` = projection with ``K`` (the label's ``joint_2d`` is the same projection).
- ``pose_m`` (1, 51) = 3 global + 45 PCA coefficients (non-flat) + translation:
  θ_flat = c · hands_components + hands_mean (:func:`~handpose.datasets.mano_convert.pca_to_flat`),
  ``mano_transl`` = ``pose_m[48:51]``, betas from ``mano.yml``; vertices from the model. The left
  model is built **without** the shapedirs fix (dex-ycb-toolkit#28).
- ``seg``: 255 (hand) → the hand's label (1 right, 2 left), 1–21 (YCB objects) → 3.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from handpose.datasets.mano_convert import ManoModels, pca_to_flat
from handpose.datasets.real_common import (
    RealImageDataset,
    as_array,
    check_choice,
    field,
    label_bbox,
    project_np,
    read_image,
    read_yaml,
    require_root,
    set_mano,
)
from handpose.errors import HandposeError
from handpose.formats.sample import dataset_meta, empty_sample

__all__ = ["DexYCB", "DEXYCB_SPLITS", "DEXYCB_SETUPS", "dexycb_split_filter"]

DEXYCB_SPLITS = ("train", "val", "test")
DEXYCB_SETUPS = ("s0", "s1", "s2")
_SUBJECT_RE = re.compile(r"^\d{8}-subject-\d{2}$")
_SIZE = (480, 640)


def dexycb_split_filter(setup: str, split: str, subject: int, sequence: int, camera: int) -> bool:
    """Whether (subject index 0–9, sequence index within the subject, camera index 0–7) is in
    ``split`` of ``setup`` (dex_ycb.py's official definitions)."""
    if setup == "s0":
        if split == "train":
            return sequence % 5 != 4
        if split == "val":
            return subject in (0, 1) and sequence % 5 == 4
        return subject >= 2 and sequence % 5 == 4
    if setup == "s1":
        return subject in {"train": (0, 1, 2, 3, 4, 5, 9), "val": (6,), "test": (7, 8)}[split]
    if setup == "s2":
        return camera in {"train": (0, 1, 2, 3, 4, 5), "val": (6,), "test": (7,)}[split]
    raise HandposeError(f"DexYCB setup must be one of {DEXYCB_SETUPS}, got {setup!r}.")


class DexYCB(RealImageDataset):
    """DexYCB as schema samples.

    Args:
        root: ``$DEX_YCB_DIR`` (subject folders and ``calibration/``).
        split: "train", "val" or "test".
        setup: "s0" (default), "s1" or "s2".
        mano: MANO models (:class:`ManoModels`; the left model without the shapedirs fix).
        masks: read ``seg`` into ``mask``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        setup: str = "s0",
        *,
        mano: Any = "auto",
        masks: bool = True,
    ) -> None:
        self.root = require_root(root, "DexYCB")
        check_choice(split, DEXYCB_SPLITS, "DexYCB split")
        if setup not in DEXYCB_SETUPS:
            raise HandposeError(
                f"DexYCB setup must be one of {DEXYCB_SETUPS} (s3 is not supported), got {setup!r}."
            )
        self.split, self.setup, self.masks = split, setup, bool(masks)
        self.name = f"DexYCB {setup}_{split}"
        idir = self.root / "calibration" / "intrinsics"
        if not idir.is_dir():
            raise HandposeError(f"missing DexYCB calibration folder '{idir}'.")
        self.serials = sorted(p.name.split("_")[0] for p in idir.glob("*_640x480.yml"))
        if not self.serials:
            raise HandposeError(f"no <serial>_640x480.yml intrinsics in '{idir}'.")
        subjects = sorted(p.name for p in self.root.iterdir() if _SUBJECT_RE.match(p.name))
        if not subjects:
            raise HandposeError(
                f"no DexYCB subject folders (YYYYMMDD-subject-NN) in '{self.root}'."
            )
        self.sequences: list[dict[str, Any]] = []
        rows = []
        for si, subj in enumerate(subjects):
            seqs = sorted(p.name for p in (self.root / subj).iterdir() if p.is_dir())
            for qi, seq in enumerate(seqs):
                cams = [
                    ci
                    for ci in range(len(self.serials))
                    if dexycb_split_filter(setup, split, si, qi, ci)
                ]
                if not cams:
                    continue
                meta_path = self.root / subj / seq / "meta.yml"
                meta = read_yaml(meta_path, "DexYCB")
                n = int(field(meta, "num_frames", meta_path))
                sides = field(meta, "mano_sides", meta_path)
                calib = field(meta, "mano_calib", meta_path)
                if not sides or sides[0] not in ("right", "left") or not calib:
                    raise HandposeError(
                        f"'{meta_path}': fields 'mano_sides' / 'mano_calib' must name one hand."
                    )
                q = len(self.sequences)
                self.sequences.append(
                    {"dir": self.root / subj / seq, "side": sides[0], "calib": str(calib[0])}
                )
                for ci in cams:
                    rows.append(np.stack([np.full(n, q), np.full(n, ci), np.arange(n)], 1))
        self.rows = np.concatenate(rows) if rows else np.zeros((0, 3), np.int64)
        self._K: dict[int, np.ndarray] = {}
        self._betas: dict[str, np.ndarray] = {}
        self.mano_models = ManoModels(mano, fix_left_shapedirs=False)
        self.has_mano = self.mano_models.available("right") and self.mano_models.available("left")
        self.meta = dataset_meta(
            "dexycb",
            "video",
            num_vertices=778 if self.has_mano else None,
            fix_left_shapedirs=False,
            split=split,
            setup=setup,
            fps=30,
            mano_params=self.has_mano,
            source_conventions={"mano": "3 global + 45 PCA (non-flat) + transl; no left fix"},
        )

    def __len__(self) -> int:
        return len(self.rows)

    def _paths(self, index: int) -> tuple[dict[str, Any], int, int]:
        q, ci, fr = (int(v) for v in self.rows[index])
        return self.sequences[q], ci, fr

    def sequence_key(self, index: int) -> tuple[int, int]:
        return int(self.rows[index][0]), int(self.rows[index][1])  # (sequence, camera)

    def video_position(self, index: int) -> tuple[tuple[int, int], int]:
        """((sequence, camera), frame) without reading the sample
        (:func:`handpose.datasets.video.video_clips`)."""
        q, ci, fr = (int(v) for v in self.rows[index])
        return (q, ci), fr

    def source(self, index: int) -> str:
        seq, ci, fr = self._paths(index)
        return str(seq["dir"] / self.serials[ci] / f"color_{fr:06d}.jpg")

    def intrinsics(self, camera: int) -> np.ndarray:
        if camera not in self._K:
            path = self.root / "calibration" / "intrinsics" / f"{self.serials[camera]}_640x480.yml"
            c = field(read_yaml(path, "DexYCB"), "color", path)
            fx, fy, px, py = (float(field(c, k, path, "color")) for k in ("fx", "fy", "ppx", "ppy"))
            self._K[camera] = np.array([[fx, 0, px], [0, fy, py], [0, 0, 1.0]])
        return self._K[camera]

    def betas(self, calib: str) -> np.ndarray:
        if calib not in self._betas:
            path = self.root / "calibration" / f"mano_{calib}" / "mano.yml"
            b = field(read_yaml(path, "DexYCB"), "betas", path)
            self._betas[calib] = as_array(b, (10,), path, "field 'betas'")
        return self._betas[calib]

    def _load(self, index: int) -> dict[str, Any]:
        seq, ci, fr = self._paths(index)
        img = read_image(Path(self.source(index)), _SIZE, "DexYCB's 640x480 intrinsics need")
        lpath = seq["dir"] / self.serials[ci] / f"labels_{fr:06d}.npz"
        if not lpath.is_file():
            raise HandposeError(f"missing DexYCB label file '{lpath}'.")
        try:
            with np.load(lpath, allow_pickle=False) as z:
                labels = {k: z[k] for k in z.files}
        except (OSError, ValueError) as err:
            raise HandposeError(f"'{lpath}' is not a readable .npz file ({err}).") from None
        j3 = as_array(field(labels, "joint_3d", lpath), (1, 21, 3), lpath, "field 'joint_3d'")[0]
        pose_m = as_array(field(labels, "pose_m", lpath), (1, 51), lpath, "field 'pose_m'")[0]
        K = self.intrinsics(ci)
        slot = 0 if seq["side"] == "right" else 1
        s = empty_sample(
            *_SIZE, num_vertices=778 if self.has_mano else None, mano=self.has_mano, mask=self.masks
        )
        s["image"][:] = img
        s["K"][:] = K
        has_hand = not np.all(j3 == -1)
        if has_hand:
            s["hand_valid"][slot] = True
            s["joint_valid"][slot] = True
            s["joints3d"][slot] = j3
            s["joints2d"][slot] = project_np(j3, K)
            if self.has_mano:
                side = seq["side"]
                betas = self.betas(seq["calib"])
                theta = pca_to_flat(
                    pose_m[3:48],
                    self.mano_models.hands_components(side),
                    self.mano_models.hands_mean(side),
                )
                verts, _, _ = self.mano_models.forward(side, pose_m[:3], theta, betas, pose_m[48:])
                set_mano(s, slot, pose_m[:3], theta, betas, pose_m[48:51], verts)
        if self.masks:
            seg = np.asarray(field(labels, "seg", lpath))
            if seg.shape != _SIZE:
                raise HandposeError(f"'{lpath}': field 'seg' has shape {seg.shape}, not {_SIZE}.")
            m = np.zeros(_SIZE, np.uint8)
            m[(seg >= 1) & (seg <= 21)] = 3
            m[seg == 255] = slot + 1
            s["mask"][:] = m
        s["bbox"][:] = label_bbox(s)
        s["sequence"] = f"{seq['dir'].parent.name}/{seq['dir'].name}"
        s["frame"][()] = fr
        s["view"][()] = ci
        return s
