"""Can an image network memorise a few training images? (docs/results/image_baseline.md,
"What made it learn"; docs/results/ehpe.md for EHPE's TW-stage).

Trains the network on the first N training images of a `single` data set, without
augmentation, with Adam at the preset's learning rate, batches of 16 drawn at random from
them, and prints the mean 2D error on those same images (train-mode and eval-mode batch norm)
every 25 steps. ``--method baseline`` trains the baseline (all 21 joints); ``--method ehpe``
trains EHPE's TW-stage alone with L_total1 and measures its TW joints. Config overrides are
``key=value`` pairs, as ``handpose train --set``.

Usage:
    python scripts/baseline_memorise.py --data data/single128 --steps 100 \\
        model.level=32 model.num_deconv=3 model.temperature=1     # the first row of the table
    python scripts/baseline_memorise.py --method ehpe --data data/single128 --steps 300
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handpose.models.heads import heatmap_to_image  # noqa: E402
from handpose.training import harness  # noqa: E402
from handpose.training.image_data import ImageDataModule  # noqa: E402
from handpose.training.methods.baseline import BaselineModule, single_hand_targets  # noqa: E402
from handpose.training.methods.ehpe import TWModule  # noqa: E402


def _baseline(cfg, batch):
    mod = BaselineModule(cfg)
    tg = single_hand_targets(batch)
    root = tg["joints3d"][:, 0, 2]

    def uv_error() -> float:
        uv = mod.model(batch["image"], batch["K"], root).joints2d
        return (uv - tg["joints2d"]).norm(dim=-1)[tg["valid"]].mean().item()

    return mod, uv_error


def _ehpe_tw(cfg, batch):
    mod = TWModule(cfg)
    tw = mod.model
    idx = list(tw.tw_joints)
    tg = single_hand_targets(batch)

    def uv_error() -> float:
        coords = tw.tw(batch["image"]).coords
        uv = heatmap_to_image(coords[..., :2], tw.config.tw.heatmap_stride)
        return (uv - tg["joints2d"][:, idx]).norm(dim=-1)[tg["valid"][:, idx]].mean().item()

    return mod, uv_error


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--method", choices=("baseline", "ehpe"), default="baseline")
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
    cfg = harness.load_method_config(args.method, args.preset, sets)
    dm = ImageDataModule(args.data, cfg.data, n, args.seed)
    dm.setup("fit")
    batch = next(iter(dm._loader(dm.train_set, False)))
    torch.manual_seed(args.seed)
    mod, uv_error = (_baseline if args.method == "baseline" else _ehpe_tw)(cfg, batch)
    mod.log = lambda *a, **k: None  # no trainer: the step's logging is not needed
    lr = (cfg.train if args.method == "baseline" else cfg.tw_train).lr
    opt = torch.optim.Adam([p for p in mod.parameters() if p.requires_grad], lr=lr)
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
                    err[mode] = uv_error()
            print(
                f"step {step + 1}: loss {loss.item():.3f}, 2D error {err['train']:.1f} px "
                f"(eval-mode batch norm {err['eval']:.1f}) of {cfg.data.size}, "
                f"{time.time() - t0:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
