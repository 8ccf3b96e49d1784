"""A tiny, learnable video shard folder with a low-resolution ladder (no rendering).

Each clip is one open-model hand (either side) whose fingers and orientation move smoothly over
the frames, 0.4–0.6 m in front of the camera; each frame is a dark 64 × 64 picture with one
coloured disc per joint (as :mod:`tests.training.imagedata`), stored with ladder level 32
(area-downsampled, no noise) like ``handpose synth images --kind video``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from handpose.datasets.real_common import label_bbox, project_np
from handpose.formats.sample import dataset_meta, empty_sample
from handpose.formats.shards import ShardWriter, shard_path, write_manifest
from handpose.handmodel import HandModel
from handpose.simulators.images.degrade import Degradation, make_ladder

_COLOURS = np.random.default_rng(123).integers(60, 256, (21, 3))
LEVEL = 32


def make_clip(frames: int, seed: int, name: str, size: int = 64) -> list[tuple[dict, dict]]:
    rng = np.random.default_rng(seed)
    slot = int(rng.random() < 0.5)
    model = HandModel("open", side=("right", "left")[slot])
    a, b = rng.normal(0, 0.3, (2, 45)), rng.normal(0, 0.6, (2, 3))
    t = np.linspace(0, 1, frames)[:, None]
    pose = torch.as_tensor((1 - t) * a[0] + t * a[1], dtype=torch.float32)
    orient = torch.as_tensor((1 - t) * b[0] + t * b[1], dtype=torch.float32)
    with torch.no_grad():
        out = model(global_orient=orient, hand_pose=pose)
    depth = rng.uniform(0.4, 0.6)
    yy, xx = np.mgrid[0:size, 0:size]
    items = []
    for i in range(frames):
        j = out.joints21[i].numpy().astype(np.float64)
        v = out.vertices[i].numpy().astype(np.float64)
        transl = np.array([0.0, 0.0, depth]) - j[0]
        j, v = j + transl, v + transl
        s = empty_sample(size, size, num_vertices=v.shape[0], mano=False)
        f = size * 1.6
        K = np.array([[f, 0, (size - 1) / 2], [0, f, (size - 1) / 2], [0, 0, 1]])
        s["K"][:] = K
        s["hand_valid"][slot] = True
        s["joint_valid"][slot] = True
        s["joints3d"][slot] = j
        s["joints2d"][slot] = project_np(j, K)
        s["vertices"][slot] = v
        img = np.full((size, size, 3), 20, np.float64)
        for k, (u, vv) in enumerate(s["joints2d"][slot]):
            r = 2.0 * 0.5 / j[k, 2]
            img[(xx - u) ** 2 + (yy - vv) ** 2 <= r * r] = _COLOURS[k]
        s["image"][:] = img.astype(np.uint8)
        s["bbox"][:] = label_bbox(s)
        s["sequence"] = name
        s["frame"] = np.int64(i)
        lv = make_ladder(s, [LEVEL], {LEVEL: Degradation()}, rng)
        items.append((s, lv))
    return items


def write_tiny_video(root: Path, clips=(3, 1, 1), frames: int = 6) -> str:
    """Write ``root`` with train/val/test splits of ``clips`` clips each; returns its path."""
    root = Path(root)
    for (split, n), seed0 in zip(
        zip(("train", "val", "test"), clips, strict=True), (0, 100, 200), strict=True
    ):
        with ShardWriter(shard_path(root, split, 0)) as w:
            for c in range(n):
                for s, lv in make_clip(frames, seed0 + c, f"{split}-{c:03d}"):
                    w.add(s, levels=lv)
    meta = dataset_meta("tiny-video-discs", "video", hand_model="open", num_vertices=1379, fps=30.0)
    write_manifest(root, kind="video", meta=meta, generator={"seed": 0})
    return str(root)
