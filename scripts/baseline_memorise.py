"""Can the image baseline memorise a few training images? (docs/results/image_baseline.md,
"What made it learn").

Trains the baseline's network on the first N training images of a `single` data set, without
augmentation, with Adam at the preset's learning rate, batches of 16 drawn at random from
them, and prints the mean 2D error on those same images (train-mode and eval-mode batch norm)
every 25 steps. Config overrides are ``key=value`` pairs, as ``handpose train --set``.

Usage:
    python scripts/baseline_memorise.py --data data/single128 --steps 100 \\
        model.level=32 model.num_deconv=3 model.temperature=1     # the first row of the table
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handpose.training import harness  # noqa: E402
from handpose.training.image_data import ImageDataModule  # noqa: E402
from handpose.training.methods.baseline import BaselineModule, single_hand_targets  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--preset", default="cpu-small")
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("sets", nargs="*", help="config overrides key=value")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    n = args.images
    sets = [*args.sets, "data.augment=false", "data.num_workers=0", f"data.limit_train={n}"]
    cfg = harness.load_method_config("baseline", args.preset, sets)
    dm = ImageDataModule(args.data, cfg.data, n, args.seed)
    dm.setup("fit")
    batch = next(iter(dm._loader(dm.train_set, False)))
    torch.manual_seed(args.seed)
    mod = BaselineModule(cfg)
    mod.log = lambda *a, **k: None  # no trainer: the step's logging is not needed
    opt = torch.optim.Adam([p for p in mod.parameters() if p.requires_grad], lr=cfg.train.lr)
    tg = single_hand_targets(batch)
    root = tg["joints3d"][:, 0, 2]
    t0 = time.time()
    for step in range(args.steps):
        idx = torch.randperm(n)[:16]
        b = {
            k: (v[idx] if torch.is_tensor(v) and v.shape[:1] == (n,) else v)
            for k, v in batch.items()
        }
        mod.train()
        loss = mod._step(b, "train")
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 25 == 0 or step + 1 == args.steps:
            err = {}
            with torch.no_grad():
                for mode in ("train", "eval"):
                    mod.train(mode == "train")
                    uv = mod.model(batch["image"], batch["K"], root).joints2d
                    err[mode] = (uv - tg["joints2d"]).norm(dim=-1)[tg["valid"]].mean().item()
            print(
                f"step {step + 1}: loss {loss.item():.3f}, 2D error {err['train']:.1f} px "
                f"(eval-mode batch norm {err['eval']:.1f}) of {cfg.data.size}, "
                f"{time.time() - t0:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
