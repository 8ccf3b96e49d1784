"""Training throughput of the image baseline's cpu-small preset beside the image loader's.

Measured in one run, on one shard folder (``--data``: e.g. the synthetic ``single`` shards; by
default ``--samples`` FreiHAND-like samples made with bench_image_loader's ``make_sample``):

1. **loader** — bench_image_loader's ``time_loader`` (ImageDataset crop + resize, DataLoader,
   the default ``AugmentConfig`` and ImageNet normalisation in the collate function) at the
   preset's input size and batch, with 0, 1 and 2 worker processes;
2. **loader, cpu-small settings** — the harness's own loader (:func:`handpose.training.image_data.
   image_loader`: epoch-seeded sampling, seeded augmentation with the preset's
   ``AugmentConfig``) with the preset's worker count;
3. **training step** — forward + loss + backward + AdamW step of the cpu-small
   :class:`~handpose.training.methods.baseline.BaselineModule` on a fixed, pre-loaded batch, with
   the preset's torch threads (1) and with 2 threads;
4. **end to end** — ``handpose train baseline --preset cpu-small`` for ``--steps`` training
   steps (Lightning, the preset's loader process and threads; validation off): images/s between
   the first and the last measured step.

Goal: the loader (2) at least 1.5 × the training step (3), so that the network, not the input,
limits training; reported as the ratio (2) / (3).

Usage:
    python benchmarks/bench_training.py [--data data/single] [--samples 256] [--steps 12]
    [--out docs/benchmarks/training]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_image_loader import make_sample, time_loader  # noqa: E402

from handpose.utils.io import atomic_write_text  # noqa: E402
from handpose.utils.machine import cpu_name  # noqa: E402


def write_samples(root: Path, n: int) -> None:
    from handpose.formats.sample import dataset_meta
    from handpose.formats.shards import ShardWriter, shard_path, write_manifest

    rng = np.random.default_rng(0)
    for split, count in (("train", n), ("val", 32)):
        for si in range(0, count, 128):
            with ShardWriter(shard_path(root, split, si // 128)) as w:
                for _ in range(min(128, count - si)):
                    w.add(make_sample(rng))
    write_manifest(root, kind="single", meta=dataset_meta("bench", "single"))


def harness_loader_rate(data: str, cfg, batches: int) -> dict:
    from handpose.training.image_data import IndexedDataset, image_loader, open_image_split

    c = cfg.data
    ds = IndexedDataset(open_image_split(data, c.train_split, c))
    loader = image_loader(
        ds,
        cfg.train.batch_size,
        shuffle=True,
        seed=0,
        augmentation=c.augmentation if c.augment else None,
        num_workers=c.num_workers,
    )
    it = iter(loader)
    next(it)  # worker start, first shard open
    t0 = time.perf_counter()
    n = 0
    for _ in range(batches):
        try:
            n += next(it)["image"].shape[0]
        except StopIteration:
            break
    dt = time.perf_counter() - t0
    return {"images_per_s": n / dt, "images": n, "workers": c.num_workers}


def step_rate(data: str, cfg, threads: int, steps: int) -> dict:
    from handpose.training.harness import optimizer_and_schedule
    from handpose.training.image_data import IndexedDataset, image_loader, open_image_split
    from handpose.training.methods.baseline import BaselineModule

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c = cfg.data
    ds = IndexedDataset(open_image_split(data, c.train_split, c))
    batch = next(iter(image_loader(ds, cfg.train.batch_size, shuffle=True, seed=0,
                                   augmentation=None)))  # fmt: skip
    module = BaselineModule(cfg)
    module.log = lambda *a, **k: None  # no trainer attached
    opt = optimizer_and_schedule(module.parameters(), cfg.train, 1000)["optimizer"]

    def step():
        loss = module._step(batch, "train")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    torch.set_num_threads(1)
    return {
        "images_per_s": steps * cfg.train.batch_size / dt,
        "seconds_per_step": dt / steps,
        "threads": threads,
        "parameters": sum(p.numel() for p in module.parameters()),
    }


def end_to_end_rate(data: str, steps: int) -> dict:
    import lightning as L

    from handpose.training import harness

    class Clock(L.Callback):
        def __init__(self):
            self.times = []

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.times.append(time.perf_counter())

    cfg = harness.load_method_config(
        "baseline",
        "cpu-small",
        ["train.epochs=1", "train.progress_bar=false", "train.val_every_n_epochs=1000"],
    )
    n_train = len(harness_split_len(data, cfg))
    frac = min(1.0, (steps + 1) * cfg.train.batch_size / n_train)
    cfg = harness.load_method_config(
        "baseline",
        "cpu-small",
        ["train.epochs=1", "train.progress_bar=false", f"train.limit_train_batches={frac}",
         "data.limit_val=32"],
    )  # fmt: skip
    clock = Clock()
    with tempfile.TemporaryDirectory() as d:
        harness.train("baseline", cfg, data, Path(d) / "run", callbacks=[clock])
    t = clock.times
    n = len(t) - 1
    return {
        "images_per_s": n * cfg.train.batch_size / (t[-1] - t[0]),
        "steps": n,
        "threads": cfg.train.threads,
        "workers": cfg.data.num_workers,
    }


def harness_split_len(data: str, cfg):
    from handpose.training.image_data import open_image_split

    return open_image_split(data, cfg.data.train_split, cfg.data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", help="a shard folder (default: generated FreiHAND-like samples)")
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks/training"))
    args = ap.parse_args()
    from handpose.training import harness

    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    cfg = harness.load_method_config("baseline", "cpu-small")
    size, batch = cfg.data.size, cfg.train.batch_size
    with tempfile.TemporaryDirectory() as d:
        data = args.data
        if data is None:
            data = str(Path(d) / "shards")
            write_samples(Path(data), args.samples)
        n_batches = max(2, min(8, args.samples // batch))
        loader = {w: time_loader(Path(data.split(":")[0]), size, batch, w) for w in (0, 1, 2)}
        own = harness_loader_rate(data, cfg, n_batches)
        steps = {th: step_rate(data, cfg, th, args.steps) for th in (1, 2)}
        e2e = end_to_end_rate(data, args.steps)
    load_after = os.getloadavg()[0]
    train = steps[cfg.train.threads or 1]
    ratio = own["images_per_s"] / train["images_per_s"]
    result = {
        "machine": {
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "load_average_1min_before_after": [load_before, load_after],
        },
        "workload": {
            "data": args.data or f"{args.samples} generated FreiHAND-like 224×224 samples",
            "preset": "baseline cpu-small",
            "backbone": cfg.model.backbone,
            "input_size": size,
            "batch": batch,
        },
        "loader_default_augment_images_per_s": {
            str(w): r["images_per_s"] for w, r in loader.items()
        },
        "loader_cpu_small_images_per_s": own["images_per_s"],
        "loader_cpu_small_workers": own["workers"],
        "training_step": {str(k): v for k, v in steps.items()},
        "end_to_end": e2e,
        "ratio_loader_to_training_step": ratio,
        "target_ratio": 1.5,
    }
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
    md = [
        "# Training throughput: the image baseline (cpu-small) beside its loader",
        "",
        f"`python benchmarks/bench_training.py{' --data ' + args.data if args.data else ''}` — "
        f"{result['workload']['data']}, cropped to the hand and resized to {size} px, batch "
        f"{batch}; {cfg.model.backbone} baseline ({train['parameters'] / 1e6:.2f} M parameters); "
        f"{cpu_name()}, {os.cpu_count()} cores. The machine was shared (1-min load "
        f"{load_before:.1f} before, {load_after:.1f} after): compare the rows with each other, "
        "not with other runs.",
        "",
        "| | images/s | × training step |",
        "|---|---:|---:|",
    ]
    for w, r in loader.items():
        md.append(
            f"| loader, default `AugmentConfig` (bench_image_loader), {w} worker"
            f"{'s' if w != 1 else ''} | {r['images_per_s']:,.1f} | "
            f"{r['images_per_s'] / train['images_per_s']:.1f} |"
        )
    md.append(
        f"| **loader, cpu-small settings** (harness loader, {own['workers']} worker) | "
        f"**{own['images_per_s']:,.1f}** | **{ratio:.1f}** |"
    )
    for th, r in steps.items():
        md.append(
            f"| training step (forward + loss + backward + AdamW), {th} torch thread"
            f"{'s' if th > 1 else ''} | {r['images_per_s']:,.1f} | "
            f"{r['images_per_s'] / train['images_per_s']:.1f} |"
        )
    md += [
        f"| end to end: `handpose train baseline --preset cpu-small`, {e2e['steps']} steps "
        f"({e2e['workers']} loader worker, {e2e['threads']} thread) | "
        f"{e2e['images_per_s']:,.1f} | {e2e['images_per_s'] / train['images_per_s']:.1f} |",
        "",
        f"Goal: the cpu-small loader at least 1.5 × the training step; measured "
        f"{ratio:.1f}× ({'met' if ratio >= 1.5 else 'not met'}).",
        "",
    ]
    atomic_write_text(out.with_suffix(".md"), "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
