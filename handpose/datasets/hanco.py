"""HanCo (lmb-freiburg/contra-hand) → the image sample schema.

On disk (../shared/reference/datasets.md §4)::

    ROOT/meta.json                          dict of per-sequence per-frame lists: is_train,
                                            subject_id, is_valid, object_id, has_fit
    ROOT/rgb/{sid:04d}/cam{cid}/{fid:08d}.jpg     8 cameras (cid 0–7); also rgb_merged,
                                            rgb_homo, rgb_color_auto, rgb_color_sample
    ROOT/mask_hand/{sid:04d}/cam{cid}/{fid:08d}.jpg
    ROOT/xyz/{sid:04d}/{fid:08d}.json       (21, 3) world, metres, OpenPose-21
    ROOT/calib/{sid:04d}/{fid:08d}.json     K (8, 3, 3), M (8, 4, 4) world → camera
    ROOT/shape/{sid:04d}/cam{cid}/{fid:08d}.json   camera-space 61 values: poses 48 +
                                            shapes 10 + cams 3 (root u, v, scale)

One sample per (sequence, frame, camera); ``sequence`` = the sid, ``frame`` = the fid,
``view`` = the cid. HanCo hands are right hands (slot 0), as in FreiHAND.
Splits: "train" = frames with ``is_train``, "test" = the others, "all".

Conversions:

- ``xyz`` → camera frame with ``M[cid]``: ``x_cam = M[:3, :3] x + M[:3, 3]``; ``joints2d`` = its
  projection with ``K[cid]``.
- The per-camera MANO vector (read as 61 numbers, any nesting): θ_flat = θ + hands_mean;
  the middle MCP (OpenPose 9, the centre of HanCo's layer) goes to
  :func:`~handpose.datasets.mano_convert.hanco_root` ``(u, v, scale, K)``; vertices from the
  model. Frames without a per-camera fit file have ``mano_valid`` false.
- The hand mask (JPEG, thresholded at 128) → ``mask`` label 1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from handpose.datasets.mano_convert import ManoModels, hanco_root, nonflat_to_flat
from handpose.datasets.real_common import (
    RealImageDataset,
    as_array,
    check_choice,
    field,
    label_bbox,
    project_np,
    read_image,
    read_json,
    read_mask,
    require_root,
    set_mano,
)
from handpose.errors import HandposeError
from handpose.formats.sample import dataset_meta, empty_sample

__all__ = ["HanCo", "HANCO_SPLITS", "HANCO_VERSIONS", "HANCO_VIEWS"]

HANCO_SPLITS = ("all", "train", "test")
HANCO_VERSIONS = ("rgb", "rgb_merged", "rgb_homo", "rgb_color_auto", "rgb_color_sample")
HANCO_VIEWS = 8
_META_KEYS = ("is_train", "subject_id", "is_valid", "object_id", "has_fit")


class HanCo(RealImageDataset):
    """HanCo as schema samples.

    Args:
        root: the folder with ``meta.json``, ``rgb/``, ``calib/``, ``xyz/``, ``shape/``.
        split: "all", "train" (``is_train`` frames) or "test".
        version: image folder, one of :data:`HANCO_VERSIONS`.
        views: camera ids to include (default all 8).
        mano: MANO models (:class:`ManoModels`).
        masks: read ``mask_hand``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "all",
        version: str = "rgb",
        views: tuple[int, ...] | None = None,
        *,
        mano: Any = "auto",
        masks: bool = True,
    ) -> None:
        self.root = require_root(root, "HanCo")
        check_choice(split, HANCO_SPLITS, "HanCo split")
        check_choice(version, HANCO_VERSIONS, "HanCo version")
        views = tuple(range(HANCO_VIEWS)) if views is None else tuple(int(v) for v in views)
        if not views or any(not 0 <= v < HANCO_VIEWS for v in views):
            raise HandposeError(f"HanCo views must be camera ids 0–7, got {views}.")
        self.split, self.version, self.views, self.masks = split, version, views, bool(masks)
        self.name = f"HanCo {split}"
        mpath = self.root / "meta.json"
        meta = read_json(mpath, "HanCo")
        for key in _META_KEYS:
            if not isinstance(field(meta, key, mpath), list):
                raise HandposeError(f"'{mpath}': field '{key}' must be a list of sequences.")
        is_train = meta["is_train"]
        rows = []
        for sid, frames in enumerate(is_train):
            if not isinstance(frames, list):
                raise HandposeError(f"'{mpath}': field 'is_train' entry {sid} must be a list.")
            for fid, flag in enumerate(frames):
                if split == "all" or bool(flag) == (split == "train"):
                    rows.extend((sid, fid, cid) for cid in views)
        self.rows = np.array(rows, np.int64).reshape(-1, 3)
        self.mano_models = ManoModels(mano)
        self.has_mano = self.mano_models.available("right")
        self.meta = dataset_meta(
            "hanco",
            "video",
            num_vertices=778 if self.has_mano else None,
            split=split,
            version=version,
            views=list(views),
            mano_params=self.has_mano,
            source_conventions={
                "joints": "world m (xyz) → camera with calib M",
                "mano": "per-camera 48 axis-angle relative to hands_mean + root uv, scale",
            },
        )

    def __len__(self) -> int:
        return len(self.rows)

    def _ids(self, index: int) -> tuple[int, int, int]:
        sid, fid, cid = (int(v) for v in self.rows[index])
        return sid, fid, cid

    def sequence_key(self, index: int) -> int:
        return int(self.rows[index][0])  # all frames and views of a sequence

    def video_position(self, index: int) -> tuple[tuple[int, int], int]:
        """((sequence, camera), frame): one video per camera of a sequence, without reading
        the sample (:func:`handpose.datasets.video.video_clips`)."""
        sid, fid, cid = self._ids(index)
        return (sid, cid), fid

    def source(self, index: int) -> str:
        sid, fid, cid = self._ids(index)
        return str(self.root / self.version / f"{sid:04d}" / f"cam{cid}" / f"{fid:08d}.jpg")

    def _load(self, index: int) -> dict[str, Any]:
        sid, fid, cid = self._ids(index)
        img = read_image(Path(self.source(index)))
        hw = img.shape[:2]
        cpath = self.root / "calib" / f"{sid:04d}" / f"{fid:08d}.json"
        calib = read_json(cpath, "HanCo")
        Ks = as_array(field(calib, "K", cpath), (HANCO_VIEWS, 3, 3), cpath, "K")
        Ms = as_array(field(calib, "M", cpath), (HANCO_VIEWS, 4, 4), cpath, "M")
        xpath = self.root / "xyz" / f"{sid:04d}" / f"{fid:08d}.json"
        xyz = as_array(read_json(xpath, "HanCo"), (21, 3), xpath, "xyz")
        K, M = Ks[cid], Ms[cid]
        cam = xyz @ M[:3, :3].T + M[:3, 3]
        spath = self.root / "shape" / f"{sid:04d}" / f"cam{cid}" / f"{fid:08d}.json"
        s = empty_sample(
            *hw, num_vertices=778 if self.has_mano else None, mano=self.has_mano, mask=self.masks
        )
        s["image"][:] = img
        s["K"][:] = K
        s["hand_valid"][0] = True
        s["joint_valid"][0] = True
        s["joints3d"][0] = cam
        s["joints2d"][0] = project_np(cam, K)
        if self.has_mano and spath.is_file():
            raw = read_json(spath, "HanCo")
            try:
                flat = np.asarray(raw, dtype=object).reshape(-1).tolist()
            except ValueError:
                flat = raw
            v = as_array(flat, (61,), spath, "the MANO vector (poses 48, shapes 10, cams 3)")
            go, betas = v[:3], v[48:58]
            theta = nonflat_to_flat(v[3:48], self.mano_models.hands_mean("right"))
            _, j21, _ = self.mano_models.forward("right", go, theta, betas)
            transl = hanco_root(v[58:60], v[60], K) - j21[9]
            verts, _, _ = self.mano_models.forward("right", go, theta, betas, transl)
            set_mano(s, 0, go, theta, betas, transl, verts)
        if self.masks:
            path = self.root / "mask_hand" / f"{sid:04d}" / f"cam{cid}" / f"{fid:08d}.jpg"
            s["mask"][:] = np.where(read_mask(path, hw) >= 128, 1, 0).astype(np.uint8)
        s["bbox"][:] = label_bbox(s)
        s["sequence"] = f"{sid:04d}"
        s["frame"][()] = fid
        s["view"][()] = cid
        s["capture_hw"][:] = hw
        return s
