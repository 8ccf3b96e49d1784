"""InterHand2.6M v1.0 (facebookresearch/InterHand2.6M) → the image sample schema.

On disk (../shared/reference/datasets.md §2; the 5 fps and 30 fps releases share it)::

    ROOT/images/{train,val,test}/Capture{k}/{seq}/cam{cam}/image{frame}.jpg
    ROOT/annotations/{split}/InterHand2.6M_{split}_{data,camera,joint_3d,MANO_NeuralAnnot}.json

``subset``: "H+M" reads ``annotations/{split}/`` (v1.0) or ``annotations/all/{split}/``; "H" and
"M" read ``annotations/human_annot/{split}/`` and ``annotations/machine_annot/{split}/`` (the
per-subset folders of the older layout; v1.0's single folder is H+M).

Conversions:

- ``world_coord`` (42, 3) mm, world → camera with ``X_cam = R (X − campos)``, mm → m; right hand
  = joints 0–20 → slot 0, left = 21–41 → slot 1; each hand's InterHand order (tip → palm per
  finger, wrist last) → OpenPose-21 with :data:`~handpose.handmodel.conventions.INTERHAND_TO_OPENPOSE`.
- ``joint_valid`` (42) from ``_data.json``; as in InterHand2.6M's dataset code, a hand whose
  wrist is invalid has all its joints invalid. Invalid joints are stored as zeros.
- ``hand_type`` right / left / interacting → ``hand_valid``; ``interacting`` is the IH label.
- ``joints2d`` = projection with ``K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` (``focal``,
  ``princpt``).
- ``MANO_NeuralAnnot`` (world frame, metres, 48 axis-angle relative to ``hands_mean``): θ_flat =
  θ + hands_mean; global rotation and translation moved to the camera frame about J₀(β)
  (:func:`~handpose.datasets.mano_convert.mano_world_to_camera`); vertices from the model. The
  left model needs the **shapedirs fix** (mano.md §2): ``ManoModels(fix_left_shapedirs=True)``,
  recorded in ``meta["mano_convention"]["fix_left_shapedirs"]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from handpose.datasets.mano_convert import ManoModels, mano_world_to_camera, nonflat_to_flat
from handpose.datasets.real_common import (
    RealImageDataset,
    as_array,
    check_choice,
    field,
    label_bbox,
    project_np,
    read_image,
    read_json,
    require_root,
    set_mano,
)
from handpose.errors import HandposeError
from handpose.formats.sample import dataset_meta, empty_sample
from handpose.handmodel.conventions import INTERHAND_TO_OPENPOSE

__all__ = ["InterHand", "INTERHAND_SPLITS", "INTERHAND_SUBSETS", "interhand_to_camera"]

INTERHAND_SPLITS = ("train", "val", "test")
INTERHAND_SUBSETS = {
    "H+M": ("", "all"),
    "H": ("human_annot",),
    "M": ("machine_annot",),
}
_HAND_TYPES = {"right": (True, False), "left": (False, True), "interacting": (True, True)}


def interhand_to_camera(world_mm: np.ndarray, R: np.ndarray, campos_mm: np.ndarray) -> np.ndarray:
    """(42, 3) world joints in mm → (2, 21, 3) camera joints in metres, OpenPose-21 per hand.

    ``X_cam = R (X − campos)``; slot 0 = right (InterHand joints 0–20), slot 1 = left (21–41).
    """
    cam = (np.asarray(world_mm, np.float64) - np.asarray(campos_mm, np.float64)) @ np.asarray(
        R, np.float64
    ).T
    cam = cam / 1000.0
    order = list(INTERHAND_TO_OPENPOSE)
    return np.stack([cam[:21][order], cam[21:][order]])


class InterHand(RealImageDataset):
    """InterHand2.6M v1.0 as schema samples (one sample per image).

    Args:
        root: the folder with ``images/`` and ``annotations/``.
        split: "train", "val" or "test".
        subset: "H+M", "H" or "M" (see the module docstring).
        fps: 5 or 30: which release ``root`` holds (recorded in ``meta``).
        mano: MANO models for the parameter conversion (:class:`ManoModels`); the left model
            gets the shapedirs fix. Without models the MANO keys and vertices are left out and
            ``_MANO_NeuralAnnot.json`` is not read.
        hand_type_valid_only: keep only annotations with ``hand_type_valid`` (IntagHand-style).
        interacting_only: keep only IH frames.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        subset: str = "H+M",
        fps: int = 5,
        *,
        mano: Any = "auto",
        hand_type_valid_only: bool = False,
        interacting_only: bool = False,
    ) -> None:
        self.root = require_root(root, "InterHand2.6M")
        check_choice(split, INTERHAND_SPLITS, "InterHand2.6M split")
        check_choice(subset, INTERHAND_SUBSETS, "InterHand2.6M subset")
        if int(fps) not in (5, 30):
            raise HandposeError(f"InterHand2.6M fps must be 5 or 30, got {fps!r}.")
        self.split, self.subset, self.fps = split, subset, int(fps)
        self.name = f"InterHand2.6M {split} ({subset}, {fps} fps)"
        adir = self._annotation_dir()
        f = lambda kind: adir / f"InterHand2.6M_{split}_{kind}.json"  # noqa: E731
        self.files = {k: f(k) for k in ("data", "camera", "joint_3d", "MANO_NeuralAnnot")}
        data = read_json(self.files["data"], "InterHand2.6M")
        self.cameras = read_json(self.files["camera"], "InterHand2.6M")
        self.joints = read_json(self.files["joint_3d"], "InterHand2.6M")
        self.mano_models = ManoModels(mano, fix_left_shapedirs=True)
        self.has_mano = self.mano_models.available("right") and self.mano_models.available("left")
        self.mano_fits = (
            read_json(self.files["MANO_NeuralAnnot"], "InterHand2.6M") if (self.has_mano) else None
        )
        self.records = self._index(data, hand_type_valid_only, interacting_only)
        self.meta = dataset_meta(
            "interhand2.6m",
            "twohand",
            num_vertices=778 if self.has_mano else None,
            fix_left_shapedirs=True,
            split=split,
            subset=subset,
            fps=self.fps,
            mano_params=self.has_mano,
            source_conventions={
                "joints": "world mm, per-hand InterHand order → camera m, OpenPose-21",
                "mano": "world frame, 48 axis-angle relative to hands_mean; left shapedirs fix",
            },
        )

    def _annotation_dir(self) -> Path:
        base = self.root / "annotations"
        tried = []
        for sub in INTERHAND_SUBSETS[self.subset]:
            d = base / sub / self.split if sub else base / self.split
            tried.append(str(d))
            if (d / f"InterHand2.6M_{self.split}_data.json").is_file():
                return d
        raise HandposeError(
            f"missing InterHand2.6M annotation file InterHand2.6M_{self.split}_data.json for "
            f"subset {self.subset} (looked in {', '.join(tried)})."
        )

    def _index(self, data: Any, hand_type_valid_only: bool, interacting_only: bool):
        path = self.files["data"]
        images = field(data, "images", path)
        anns = field(data, "annotations", path)
        if not isinstance(images, list) or not isinstance(anns, list):
            raise HandposeError(f"'{path}': fields 'images' and 'annotations' must be lists.")
        by_id = {}
        for i, im in enumerate(images):
            for key in ("id", "file_name", "width", "height", "capture", "camera", "frame_idx"):
                field(im, key, path, f"images[{i}]")
            by_id[im["id"]] = im
        records = []
        for i, ann in enumerate(anns):
            where = f"annotations[{i}]"
            for key in ("image_id", "joint_valid", "hand_type", "hand_type_valid"):
                field(ann, key, path, where)
            if ann["hand_type"] not in _HAND_TYPES:
                raise HandposeError(
                    f"'{path}' {where}: field 'hand_type' must be right, left or interacting, "
                    f"got {ann['hand_type']!r}."
                )
            im = by_id.get(ann["image_id"])
            if im is None:
                raise HandposeError(f"'{path}' {where}: image_id {ann['image_id']} has no image.")
            if hand_type_valid_only and not ann["hand_type_valid"]:
                continue
            if interacting_only and ann["hand_type"] != "interacting":
                continue
            records.append((im, ann))
        return records

    def __len__(self) -> int:
        return len(self.records)

    def sequence_key(self, index: int) -> tuple[str, str]:
        im = self.records[index][0]
        return str(im["capture"]), str(im.get("seq_name", ""))

    def source(self, index: int) -> str:
        im, _ = self.records[index]
        return str(self.root / "images" / self.split / str(im["file_name"]))

    def _camera(self, im) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        path = self.files["camera"]
        cap, cam = str(im["capture"]), str(im["camera"])
        c = field(self.cameras, cap, path)
        where = f"capture {cap} camera {cam}"
        get = lambda k: field(field(c, k, path, f"capture {cap}"), cam, path, where)  # noqa: E731
        campos = as_array(get("campos"), (3,), path, f"field 'campos' of {where}")
        R = as_array(get("camrot"), (3, 3), path, f"field 'camrot' of {where}")
        focal = as_array(get("focal"), (2,), path, f"field 'focal' of {where}")
        princpt = as_array(get("princpt"), (2,), path, f"field 'princpt' of {where}")
        K = np.array([[focal[0], 0, princpt[0]], [0, focal[1], princpt[1]], [0, 0, 1.0]])
        return K, R, campos

    def _load(self, index: int) -> dict[str, Any]:
        im, ann = self.records[index]
        hw = (int(im["height"]), int(im["width"]))
        img = read_image(
            Path(self.source(index)), hw, f"its annotation in '{self.files['data'].name}' says"
        )
        K, R, campos = self._camera(im)
        cap, frame = str(im["capture"]), str(im["frame_idx"])
        jpath = self.files["joint_3d"]
        where = f"capture {cap} frame {frame}"
        entry = field(field(self.joints, cap, jpath), frame, jpath, f"capture {cap}")
        world = as_array(
            field(entry, "world_coord", jpath, where),
            (42, 3),
            jpath,
            f"field 'world_coord' of {where}",
        )
        dpath = self.files["data"]
        jv = np.asarray(ann["joint_valid"], dtype=object).reshape(-1)
        jv = as_array(jv.tolist(), (-1,), dpath, "field 'joint_valid'")
        if jv.size != 42:
            raise HandposeError(
                f"'{dpath}' annotation {ann.get('id')}: field 'joint_valid' must have 42 values."
            )
        cam = interhand_to_camera(world, R, campos)
        hv = _HAND_TYPES[ann["hand_type"]]
        order = list(INTERHAND_TO_OPENPOSE)
        jv2 = np.stack([jv[:21][order], jv[21:][order]]) > 0
        s = empty_sample(*hw, num_vertices=778 if self.has_mano else None, mano=self.has_mano)
        s["image"][:] = img
        s["K"][:] = K
        for slot in range(2):
            if not hv[slot]:
                continue
            valid = jv2[slot] & jv2[slot, 0]  # wrist (OpenPose 0) gates the hand
            s["hand_valid"][slot] = True
            s["joint_valid"][slot] = valid
            s["joints3d"][slot] = np.where(valid[:, None], cam[slot], 0.0)
            s["joints2d"][slot] = np.where(valid[:, None], project_np(cam[slot], K), 0.0)
        if self.has_mano:
            self._mano(s, cap, frame, R, -R @ campos / 1000.0)
        s["bbox"][:] = label_bbox(s)
        s["interacting"][()] = ann["hand_type"] == "interacting"
        s["sequence"] = f"Capture{cap}/{im.get('seq_name', '')}"
        s["frame"][()] = int(im["frame_idx"])
        s["view"][()] = int(im["camera"])
        s["capture_hw"][:] = hw
        return s

    def _mano(self, s, cap: str, frame: str, R: np.ndarray, t: np.ndarray) -> None:
        path = self.files["MANO_NeuralAnnot"]
        fits = field(field(self.mano_fits, cap, path), frame, path, f"capture {cap}")
        for slot, side in enumerate(("right", "left")):
            fit = fits.get(side) if isinstance(fits, dict) else None
            if fit is None or not s["hand_valid"][slot]:
                continue
            where = f"capture {cap} frame {frame} {side}"
            pose = as_array(
                field(fit, "pose", path, where), (48,), path, f"field 'pose' of {where}"
            )
            betas = as_array(
                field(fit, "shape", path, where), (10,), path, f"field 'shape' of {where}"
            )
            trans = as_array(
                field(fit, "trans", path, where), (3,), path, f"field 'trans' of {where}"
            )
            theta = nonflat_to_flat(pose[3:], self.mano_models.hands_mean(side))
            root = self.mano_models.rest_root(side, betas)
            go, tr = mano_world_to_camera(pose[:3], trans, R, t, root)
            verts, _, _ = self.mano_models.forward(side, go, theta, betas, tr)
            set_mano(s, slot, go, theta, betas, tr, verts)
