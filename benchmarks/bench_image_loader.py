"""Image loading with augmentation vs what one training step of a small image model consumes.

Measured in one run:

1. a shard folder of ``--samples`` FreiHAND-like samples (224×224 PNG images with smooth
   shapes, gradients and sensor-like noise; 21 joints, 778 vertices, MANO parameters, a mask),
   written with :class:`~handpose.formats.shards.ShardWriter`;
2. the training input path: :class:`~handpose.datasets.image_dataset.ImageDataset` (read,
   PNG decode, validate, crop to the hand, resize to ``--size``) + a DataLoader (batch
   ``--batch``) whose ``collate_fn`` is :class:`ImageBatchCollate` with the default
   :class:`AugmentConfig` (geometry and every appearance op at its default probability) and the
   ImageNet normalisation, with 0, 1 and 2 worker processes (one torch thread each);
3. per-stage costs in one process (read + decode, crop, each augmentation op on a full batch);
4. the consumer: forward + backward + SGD step of a ResNet-18-sized CNN written here
   (BasicBlock ×[2, 2, 2, 2], widths 64–512, 11.2 M parameters; the project's backbone registry
   is built separately) with a 63-value joint head, at ``--size`` px, batch ``--batch``, with
   ``--train-threads`` torch threads (all cores, as training would use them).

Goal: loader images/s ≥ 3 × the training step's images/s.

Usage:
    python benchmarks/bench_image_loader.py [--samples 512] [--size 128] [--batch 32]
    [--train-threads 2] [--out docs/benchmarks/image_loader]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose.datasets import augment as aug  # noqa: E402
from handpose.datasets.image_dataset import ImageBatchCollate, ImageDataset  # noqa: E402
from handpose.datasets.real_common import label_bbox, project_np  # noqa: E402
from handpose.formats.sample import collate, dataset_meta, empty_sample  # noqa: E402
from handpose.formats.shards import (  # noqa: E402
    ShardWriter,
    open_shards,
    shard_path,
    write_manifest,
)
from handpose.utils.io import atomic_write_text  # noqa: E402
from handpose.utils.machine import cpu_name  # noqa: E402


def make_sample(rng: np.random.Generator, size: int = 224) -> dict:
    """A FreiHAND-like sample with a picture that compresses like a photo-ish render."""
    s = empty_sample(size, size, num_vertices=778, mano=True, mask=True)
    ys, xs = np.mgrid[0:size, 0:size] / size
    img = np.zeros((size, size, 3))
    for c in range(3):
        a, b, ph = rng.uniform(-1, 1, 3)
        img[..., c] = 0.5 + 0.25 * np.sin(6 * (a * xs + b * ys) + ph)
    for _ in range(6):  # soft blobs
        cx, cy, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.2)
        w = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * r**2))
        img += w[..., None] * rng.uniform(-0.4, 0.4, 3)
    img += rng.normal(0, 3 / 255, img.shape)
    s["image"][:] = (img.clip(0, 1) * 255).round().astype(np.uint8)
    K = np.array([[rng.uniform(400, 700), 0, 111.5], [0, 0, 111.5], [0, 0, 1]])
    K[1, 1] = K[0, 0]
    s["K"][:] = K
    j3 = rng.normal(0, 0.025, (21, 3)) + [0, 0, 0.6]
    s["hand_valid"][0] = s["joint_valid"][0] = s["mano_valid"][0] = True
    s["joints3d"][0] = j3
    s["joints2d"][0] = project_np(j3, K)
    s["vertices"][0] = rng.normal(0, 0.025, (778, 3)) + [0, 0, 0.6]
    s["mano_hand_pose"][0] = rng.normal(0, 0.3, 45)
    s["mano_betas"][0] = rng.normal(0, 1, 10)
    s["mask"][60:170, 50:160] = 1
    s["bbox"][:] = label_bbox(s)
    return s


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return torch.relu(y + (x if self.down is None else self.down(x)))


class SmallResNet(nn.Module):
    """ResNet-18 layout (written here for the benchmark) with a 21×3 joint head."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, 64, 7, 2, 3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, 1),
        ]
        cin = 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(512, 63)

    def forward(self, x):
        return self.head(self.body(x).mean((2, 3)))


def time_training(size: int, batch: int, threads: int, steps: int) -> dict:
    torch.set_num_threads(threads)
    model = SmallResNet()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(batch, 3, size, size)
    y = torch.randn(batch, 63)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    torch.set_num_threads(1)
    return {
        "images_per_s": steps * batch / dt,
        "seconds_per_step": dt / steps,
        "parameters": sum(p.numel() for p in model.parameters()),
        "threads": threads,
        "steps": steps,
    }


def time_loader(root: Path, size: int, batch: int, workers: int) -> dict:
    ds = ImageDataset(str(root), size=size)
    dl = torch.utils.data.DataLoader(
        ds,
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        collate_fn=ImageBatchCollate(aug.AugmentConfig()),
        persistent_workers=False,
        worker_init_fn=lambda _: torch.set_num_threads(1),
        generator=torch.Generator().manual_seed(0),
    )
    it = iter(dl)
    next(it)  # warm-up: worker start, first shard open
    t0 = time.perf_counter()
    n = 0
    for b in it:
        n += b["image"].shape[0]
    dt = time.perf_counter() - t0
    return {"images_per_s": n / dt, "images": n, "seconds": dt}


def stage_costs(root: Path, size: int, batch: int) -> dict:
    shards = open_shards(root)
    split = shards.split("train")
    ds = ImageDataset(split, size=size)
    n = min(len(split), 4 * batch)
    t0 = time.perf_counter()
    raw = [split[i] for i in range(n)]
    t_read = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    prepared = [ds.prepare(s) for s in raw]
    t_crop = (time.perf_counter() - t0) / n
    b = collate(prepared[:batch])
    g = torch.Generator().manual_seed(0)
    img = b["image"]
    B = img.shape[0]
    ones = torch.ones(B, dtype=torch.float64)
    ops = {
        "geometry (flip, rotate, scale, shift; warp + labels)": lambda: aug.augment(
            b,
            aug.AugmentConfig(
                flip_p=0.5,
                colour_p=0,
                blur_p=0,
                motion_blur_p=0,
                noise_p=0,
                jpeg_p=0,
                lowres_p=0,
                erase_p=0,
            ),
            g,
        ),
        "colour jitter (own)": lambda: aug.colour_jitter(
            img, ones * 1.2, ones * 0.8, ones * 1.3, ones * 0.03
        ),
        "gaussian blur (kornia)": lambda: aug.gaussian_blur(img, ones * 1.0),
        "motion blur (kornia)": lambda: aug.motion_blur(img, 7, ones * 30, ones * 0),
        "noise": lambda: aug.add_noise(img, ones * 0.02, g),
        "jpeg (Pillow)": lambda: aug.jpeg_compress(img, torch.full((B,), 60)),
        "low resolution": lambda: aug.low_resolution(img, ones * 0.5),
        "erasing": lambda: aug.random_erase(
            img,
            aug.erase_boxes((size, size), ones * 0.1, ones, torch.rand(B, 2, dtype=torch.float64))[
                1
            ],
            torch.rand(B, 3),
        ),
        "default AugmentConfig (all ops at their probabilities)": lambda: aug.augment(
            b, aug.AugmentConfig(), g
        ),
    }
    per_op = {}
    for name, fn in ops.items():
        fn()
        t0 = time.perf_counter()
        reps = 3
        for _ in range(reps):
            fn()
        per_op[name] = (time.perf_counter() - t0) / (reps * B)
    return {
        "read_decode_validate_s": t_read,
        "crop_resize_s": t_crop,
        "augment_per_image_s": per_op,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--train-threads", type=int, default=2)
    ap.add_argument("--train-steps", type=int, default=6)
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks/image_loader"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        per_shard = 128
        t0 = time.perf_counter()
        for si in range(0, args.samples, per_shard):
            with ShardWriter(shard_path(root, "train", si // per_shard)) as w:
                for _ in range(min(per_shard, args.samples - si)):
                    w.add(make_sample(rng))
        write_manifest(root, kind="single", meta=dataset_meta("bench", "single"))
        t_write = time.perf_counter() - t0
        nbytes = sum(p.stat().st_size for p in root.glob("*.h5"))
        stages = stage_costs(root, args.size, args.batch)
        loader = {w: time_loader(root, args.size, args.batch, w) for w in (0, 1, 2)}
    train = time_training(args.size, args.batch, args.train_threads, args.train_steps)
    load_after = os.getloadavg()[0]
    ratio = {w: r["images_per_s"] / train["images_per_s"] for w, r in loader.items()}
    result = {
        "machine": {
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "load_average_1min_before_after": [load_before, load_after],
        },
        "workload": {
            "samples": args.samples,
            "source_size": 224,
            "input_size": args.size,
            "batch": args.batch,
            "storage": "PNG in HDF5 shards of 128",
            "shard_bytes_per_sample": nbytes / args.samples,
            "write_samples_per_s": args.samples / t_write,
        },
        "loader_images_per_s": {str(w): r["images_per_s"] for w, r in loader.items()},
        "training_step": train,
        "ratio_loader_to_training": {str(w): v for w, v in ratio.items()},
        "target_ratio": 3.0,
        "stages": stages,
    }
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
    ms = lambda s: f"{1000 * s:.2f}"  # noqa: E731
    md = [
        "# Image loading with augmentation vs one training step",
        "",
        f"`python benchmarks/bench_image_loader.py` — {args.samples} FreiHAND-like 224×224 samples "
        f"in PNG shards ({nbytes / args.samples / 1024:.0f} KiB/sample), cropped to the hand and "
        f"resized to {args.size} px, batch {args.batch}, default `AugmentConfig` (every op at its "
        f"default probability) + ImageNet normalisation in the collate function; "
        f"{cpu_name()}, {os.cpu_count()} cores, one torch thread per loader process. The machine "
        f"was shared (1-min load {load_before:.1f} before, {load_after:.1f} after).",
        "",
        "| | images/s | × training step |",
        "|---|---:|---:|",
    ]
    for w, r in loader.items():
        label = (
            "main process (0 workers)" if w == 0 else f"{w} DataLoader worker{'s' if w > 1 else ''}"
        )
        md.append(f"| loader, {label} | {r['images_per_s']:,.0f} | {ratio[w]:.1f} |")
    md += [
        f"| **training step** (forward + backward + SGD, ResNet-18-sized CNN written in the "
        f"benchmark, {train['parameters'] / 1e6:.1f} M parameters, {args.size} px, "
        f"{train['threads']} torch threads) | **{train['images_per_s']:,.1f}** | 1 |",
        "",
        f"Goal: loader ≥ 3 × the training step. Best loader / training = "
        f"{max(ratio.values()):.1f}×.",
        "",
        "Per-stage cost in one process (ms per image):",
        "",
        "| stage | ms / image |",
        "|---|---:|",
        f"| read shard + PNG decode + validate | {ms(stages['read_decode_validate_s'])} |",
        f"| crop to the hand + resize to {args.size} px | {ms(stages['crop_resize_s'])} |",
    ]
    for name, s in stages["augment_per_image_s"].items():
        md.append(f"| augment: {name}, batch {args.batch} | {ms(s)} |")
    md += [
        "",
        f"Writing the shards: {args.samples / t_write:,.0f} samples/s (validate + PNG encode, "
        "one process).",
        "",
    ]
    atomic_write_text(out.with_suffix(".md"), "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
