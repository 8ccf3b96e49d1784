"""A tiny, learnable image shard folder for the harness and baseline tests (no rendering).

Each sample is one open-model hand (random finger pose, shape, orientation, either side) 0.4–0.6 m
in front of a camera; the picture is a dark background with one coloured disc per joint at its
projection, so a network can learn the 2D positions (and, from disc sizes, a little depth) in a
few steps. Labels (joints, vertices, MANO parameters, box) are exact; the folder is written with
the project's own :class:`~handpose.formats.shards.ShardWriter` and manifest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from handpose.datasets.real_common import label_bbox, project_np
from handpose.formats.sample import dataset_meta, empty_sample
from handpose.formats.shards import ShardWriter, shard_path, write_manifest
from handpose.handmodel import HandModel

_COLOURS = np.random.default_rng(123).integers(60, 256, (21, 3))


def _hands(n: int, rng: np.random.Generator, side: str):
    model = HandModel("open", side=side, flat_hand_mean=True)
    pose = torch.as_tensor(rng.normal(0, 0.25, (n, 45)), dtype=torch.float32)
    betas = torch.as_tensor(rng.normal(0, 0.5, (n, 10)), dtype=torch.float32)
    orient = torch.as_tensor(rng.normal(0, 0.6, (n, 3)), dtype=torch.float32)
    with torch.no_grad():
        out = model(global_orient=orient, hand_pose=pose, betas=betas)
    return out, orient.numpy(), pose.numpy(), betas.numpy()


def make_samples(n: int, seed: int, size: int = 48) -> list[dict]:
    rng = np.random.default_rng(seed)
    sides = rng.random(n) < 0.5  # True: right hand (slot 0)
    right = _hands(n, rng, "right")
    left = _hands(n, rng, "left")
    yy, xx = np.mgrid[0:size, 0:size]
    samples = []
    for i in range(n):
        slot = 0 if sides[i] else 1
        out, orient, pose, betas = right if slot == 0 else left
        j = out.joints21[i].numpy().astype(np.float64)
        v = out.vertices[i].numpy().astype(np.float64)
        shift = np.array(
            [rng.uniform(-0.02, 0.02), rng.uniform(-0.02, 0.02), rng.uniform(0.4, 0.6)]
        )
        transl = shift - j[0]
        j, v = j + transl, v + transl
        s = empty_sample(size, size, num_vertices=v.shape[0], mano=True)
        f = size * 1.6
        K = np.array([[f, 0, (size - 1) / 2], [0, f, (size - 1) / 2], [0, 0, 1]])
        s["K"][:] = K
        s["hand_valid"][slot] = s["mano_valid"][slot] = True
        s["joint_valid"][slot] = True
        s["joints3d"][slot] = j
        s["joints2d"][slot] = project_np(j, K)
        s["vertices"][slot] = v
        s["mano_global_orient"][slot] = orient[i]
        s["mano_hand_pose"][slot] = pose[i]
        s["mano_betas"][slot] = betas[i]
        s["mano_transl"][slot] = transl
        img = np.full((size, size, 3), 20, np.float64)
        for k, (u, vv) in enumerate(s["joints2d"][slot]):
            r = 1.5 * 0.5 / j[k, 2]
            img[(xx - u) ** 2 + (yy - vv) ** 2 <= r * r] = _COLOURS[k]
        s["image"][:] = img.astype(np.uint8)
        s["bbox"][:] = label_bbox(s)
        samples.append(s)
    return samples


def write_tiny_shards(root: Path, train: int = 16, val: int = 8, test: int = 8, size: int = 48):
    """Write ``root`` with train/val/test splits; returns its path as a str."""
    root = Path(root)
    for split, n, seed in (("train", train, 0), ("val", val, 1), ("test", test, 2)):
        with ShardWriter(shard_path(root, split, 0)) as w:
            for s in make_samples(n, seed, size):
                w.add(s)
    meta = dataset_meta("tiny-discs", "single", hand_model="open", num_vertices=1379)
    write_manifest(root, kind="single", meta=meta, generator={"seed": 0})
    return str(root)
