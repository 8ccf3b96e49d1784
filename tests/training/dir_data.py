"""A tiny, learnable two-hand shard folder for the DIR training tests (no rendering).

Each sample holds a right hand (slot 0) and, in 3 of 4 samples, a left hand (slot 1): open-model
hands with random finger poses 0.45–0.55 m in front of the camera, 7 cm to either side of the
centre. The picture has one coloured disc per joint (right-hand colours differ from left-hand
ones); the mask labels the discs by hand (1 right, 2 left) and ``extra_dense`` holds the
joint's rest (template) position on its disc, as the renderer's dense map holds the template
position of the visible surface point. Labels are exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from handpose.datasets.real_common import label_bbox, project_np
from handpose.formats.sample import dataset_meta, empty_sample
from handpose.formats.shards import ShardWriter, shard_path, write_manifest
from handpose.handmodel import HandModel

_COLOURS = np.random.default_rng(7).integers(60, 256, (2, 21, 3))


def make_two_hand_samples(
    n: int, seed: int, size: int = 64, single_slots: tuple[int, ...] = (0,)
) -> list[dict]:
    """Every 4th sample is a single-hand frame, its hand taken in turn from ``single_slots``
    (0 right, 1 left); the others show both hands."""
    rng = np.random.default_rng(seed)
    models = [HandModel("open", side=s) for s in ("right", "left")]
    rest = [m(return_vertices=False).joints21.reshape(21, 3).detach().numpy() for m in models]
    f = size * 1.3
    K = np.array([[f, 0, (size - 1) / 2], [0, f, (size - 1) / 2], [0, 0, 1]])
    yy, xx = np.mgrid[0:size, 0:size]
    out = []
    for i in range(n):
        s = empty_sample(size, size, num_vertices=models[0].num_vertices, mano=True)
        s["K"][:] = K
        img = np.full((size, size, 3), 20.0)
        mask = np.zeros((size, size), np.uint8)
        dense = np.zeros((size, size, 3), np.float16)
        slots = (0, 1) if i % 4 else (single_slots[(i // 4) % len(single_slots)],)
        depth = rng.uniform(0.45, 0.55)
        for slot in slots:
            pose = torch.as_tensor(rng.normal(0, 0.2, (1, 45)), dtype=torch.float32)
            orient = torch.as_tensor(rng.normal(0, 0.3, (1, 3)), dtype=torch.float32)
            with torch.no_grad():
                h = models[slot](global_orient=orient, hand_pose=pose)
            j = h.joints21[0].numpy().astype(np.float64)
            v = h.vertices[0].numpy().astype(np.float64)
            side = 0.07 if slot == 0 else -0.07
            transl = np.array([side, rng.uniform(-0.02, 0.02), depth]) - j.mean(0)
            j, v = j + transl, v + transl
            s["hand_valid"][slot] = s["mano_valid"][slot] = True
            s["joint_valid"][slot] = True
            s["joints3d"][slot] = j
            s["joints2d"][slot] = project_np(j, K)
            s["vertices"][slot] = v
            s["mano_global_orient"][slot] = orient[0].numpy()
            s["mano_hand_pose"][slot] = pose[0].numpy()
            s["mano_transl"][slot] = transl
            for k, (u, w) in enumerate(s["joints2d"][slot]):
                disc = (xx - u) ** 2 + (yy - w) ** 2 <= 2.0**2
                img[disc] = _COLOURS[slot, k]
                mask[disc] = slot + 1
                dense[disc] = rest[slot][k]
        s["interacting"][...] = len(slots) == 2
        s["image"][:] = img.astype(np.uint8)
        s["mask"] = mask
        s["extra_dense"] = dense
        s["bbox"][:] = label_bbox(s)
        out.append(s)
    return out


def write_two_hand_shards(
    root: Path, train: int = 16, val: int = 8, test: int = 8, size: int = 64,
    single_slots: tuple[int, ...] = (0,),
):  # fmt: skip
    """Write ``root`` with train / val / test splits; returns its path as a str."""
    root = Path(root)
    for split, n, seed in (("train", train, 0), ("val", val, 1), ("test", test, 2)):
        with ShardWriter(shard_path(root, split, 0)) as w:
            for s in make_two_hand_samples(n, seed, size, single_slots):
                w.add(s)
    meta = dataset_meta("tiny-two-hand-discs", "twohand", hand_model="open", num_vertices=1379)
    write_manifest(root, kind="twohand", meta=meta, generator={"seed": 0})
    return str(root)
