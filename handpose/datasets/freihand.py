"""FreiHAND v2 (lmb-freiburg/freihand) → the image sample schema.

On disk (../shared/reference/datasets.md §1)::

    ROOT/training_{K,xyz,verts,mano,scale}.json    lists indexed by the unique sample id
    ROOT/evaluation_{K,xyz,verts,mano,scale}.json
    ROOT/training/rgb/%08d.jpg      224×224; 4 versions: file id = idx + N·k,
                                    k = 0 gs, 1 hom, 2 sample, 3 auto (N = 32,560)
    ROOT/training/mask/%08d.jpg     one hand mask per unique id
    ROOT/evaluation/rgb/%08d.jpg    gs only

Conversions (all right hands, slot 0; camera frame, metres; OpenPose-21 order as stored):

- ``xyz`` (21, 3) → ``joints3d``; ``joints2d`` = its projection with ``K``.
- ``verts`` (778, 3) → ``vertices``.
- ``mano`` (61) = pose 48 (3 global + 45 relative to ``hands_mean``) + betas 10 + uv_root 2 +
  weak-perspective scale 1. θ_flat = θ + hands_mean; ``mano_transl`` puts the model's middle MCP
  (OpenPose 9) at FreiHAND's ``recover_root`` point
  (:func:`~handpose.datasets.mano_convert.freihand_root`). Needs a MANO model
  (:class:`~handpose.datasets.mano_convert.ManoModels`); without one the MANO keys are left out.
- ``scale`` (the metric middle MCP→PIP length, not the weak-perspective scale) → ``extra_scale``.
- The training mask (JPEG, thresholded at 128) → ``mask`` label 1 (right hand).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from handpose.datasets.mano_convert import ManoModels, freihand_root, nonflat_to_flat
from handpose.datasets.real_common import (
    RealImageDataset,
    as_array,
    check_choice,
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

__all__ = ["FreiHAND", "FREIHAND_SPLITS", "FREIHAND_VERSIONS", "FREIHAND_SIZE"]

FREIHAND_SPLITS = ("training", "evaluation")
FREIHAND_VERSIONS = ("gs", "hom", "sample", "auto")
FREIHAND_SIZE = 224


class FreiHAND(RealImageDataset):
    """FreiHAND v2 as schema samples.

    Args:
        root: the folder holding ``training/``, ``evaluation/`` and the JSON files.
        split: "training" or "evaluation".
        version: "gs", "hom", "sample", "auto" or "all" (training only; "all" = 4·N samples,
            version-major like FreiHAND's file ids). Evaluation has only "gs".
        mano: MANO models for the parameter conversion (see :class:`ManoModels`).
        masks: read the training masks.
        vertices: read ``{split}_verts.json`` (the largest file: 32,560 × 778 × 3 numbers; kept
            as float32) into ``vertices``; False leaves the key out.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "training",
        version: str = "gs",
        *,
        mano: Any = "auto",
        masks: bool = True,
        vertices: bool = True,
    ) -> None:
        self.root = require_root(root, "FreiHAND")
        check_choice(split, FREIHAND_SPLITS, "FreiHAND split")
        if version not in (*FREIHAND_VERSIONS, "all"):
            raise HandposeError(
                f"FreiHAND version must be one of {FREIHAND_VERSIONS} or 'all', got {version!r}."
            )
        if split == "evaluation" and version != "gs":
            raise HandposeError("the FreiHAND evaluation set has only the 'gs' version.")
        self.split, self.version = split, version
        self.name = f"FreiHAND {split}"
        p = lambda kind: self.root / f"{split}_{kind}.json"  # noqa: E731
        self.K = as_array(read_json(p("K"), "FreiHAND"), (-1, 3, 3), p("K"), "K")
        n = len(self.K)
        self.xyz = self._per_sample(p("xyz"), (-1, 21, 3), "xyz", n)
        self.verts = None
        if vertices:
            self.verts = self._per_sample(p("verts"), (-1, 778, 3), "verts", n).astype(np.float32)
        mano_raw = read_json(p("mano"), "FreiHAND")
        if not isinstance(mano_raw, list) or len(mano_raw) != n:
            raise HandposeError(f"'{p('mano')}' must hold {n} entries like '{p('K')}'.")
        self.mano = as_array(
            [np.asarray(m, dtype=object).reshape(-1).tolist() for m in mano_raw],
            (-1, 61),
            p("mano"),
            "mano",
        )
        self.scale = self._per_sample(p("scale"), (-1,), "scale", n, squeeze=True)
        self.num_unique = n
        self.versions = FREIHAND_VERSIONS if version == "all" else (version,)
        self.masks = bool(masks) and split == "training"
        self.mano_models = ManoModels(mano)
        self.has_mano = self.mano_models.available("right")
        self.meta = dataset_meta(
            "freihand",
            "single",
            num_vertices=778 if vertices else None,
            split=split,
            version=version,
            mano_params=self.has_mano,
            source_conventions={
                "mano": "48 axis-angle relative to hands_mean (+ hands_mean → flat)",
                "mano_transl": "middle MCP at recover_root(uv_root, scale, K)",
                "extra_scale": "FreiHAND scale: |xyz[9] - xyz[10]| in metres",
            },
        )

    def _per_sample(self, path: Path, shape, what: str, n: int, squeeze: bool = False):
        raw = read_json(path, "FreiHAND")
        if squeeze and isinstance(raw, list):
            raw = [np.asarray(v, dtype=object).reshape(-1).tolist() for v in raw]
            arr = as_array(raw, (-1, 1), path, what)[:, 0]
        else:
            arr = as_array(raw, shape, path, what)
        if len(arr) != n:
            raise HandposeError(f"'{path}' has {len(arr)} entries but the K file has {n}.")
        return arr

    def __len__(self) -> int:
        return self.num_unique * len(self.versions)

    def _ids(self, index: int) -> tuple[int, int]:
        k_local, uid = divmod(index, self.num_unique)
        k = FREIHAND_VERSIONS.index(self.versions[k_local])
        return uid, uid + self.num_unique * k

    def source(self, index: int) -> str:
        _, fid = self._ids(index)
        return str(self.root / self.split / "rgb" / f"{fid:08d}.jpg")

    def _load(self, index: int) -> dict[str, Any]:
        uid, fid = self._ids(index)
        size = (FREIHAND_SIZE, FREIHAND_SIZE)
        img = read_image(Path(self.source(index)), size, "FreiHAND images are")
        nv = 778 if self.verts is not None else None
        s = empty_sample(*size, num_vertices=nv, mano=self.has_mano, mask=self.masks)
        s["image"][:] = img
        K = self.K[uid]
        s["K"][:] = K
        s["hand_valid"][0] = True
        s["joints3d"][0] = self.xyz[uid]
        s["joints2d"][0] = project_np(self.xyz[uid], K)
        s["joint_valid"][0] = True
        if self.verts is not None:
            s["vertices"][0] = self.verts[uid]
        if self.has_mano:
            m = self.mano[uid]
            go, theta = m[:3], nonflat_to_flat(m[3:48], self.mano_models.hands_mean("right"))
            betas = m[48:58]
            _, j21, _ = self.mano_models.forward("right", go, theta, betas)
            root = freihand_root(m[58:60], m[60], K)
            set_mano(s, 0, go, theta, betas, root - j21[9])
        if self.masks:
            mask = read_mask(self.root / "training" / "mask" / f"{uid:08d}.jpg", size)
            s["mask"][:] = np.where(mask >= 128, 1, 0).astype(np.uint8)
        s["extra_scale"] = np.asarray(self.scale[uid], np.float32)
        s["bbox"][:] = label_bbox(s)
        s["frame"][()] = uid  # the unique sample id (FreiHAND has no sequences)
        return s
