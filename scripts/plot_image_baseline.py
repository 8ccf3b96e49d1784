"""Figures and the summary of the image baseline runs (docs/results/image_baseline.md).

Reads run folders written by ``handpose train baseline`` and evaluated with
``handpose eval --out RUN/eval``, and writes

- ``PREFIX.json``: every seed's headline and per-group numbers, their mean and sample std;
- ``PREFIX_curves.png``: learning curves (training loss per step, smoothed; validation
  PA-MPJPE and MPJPE per epoch), one line per seed;
- ``PREFIX_grid.png``: test crops with the predicted (red) and ground-truth (green) skeleton,
  from the first run's checkpoint.

Usage:
    python scripts/plot_image_baseline.py --data data/single runs/baseline-s0 runs/baseline-s1 ...
    [--prefix docs/results/image_baseline] [--grid 12]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose.handmodel.conventions import OPENPOSE_PARENTS  # noqa: E402
from handpose.utils.io import atomic_path, atomic_write_text  # noqa: E402

KEYS = ("pa_mpjpe", "pa_mpvpe", "pa_f@5mm", "pa_f@15mm", "auc_pa_mpjpe", "mpjpe", "mpvpe")


def summary(runs: list[Path]) -> dict:
    per_seed = {}
    for run in runs:
        res = json.loads((run / "eval" / "eval.json").read_text())
        cfg = json.loads(
            json.dumps(__import__("yaml").safe_load((run / "main" / "config.yaml").read_text()))
        )
        per_seed[str(cfg["seed"])] = {
            "metrics": {k: res["metrics"].get(k) for k in KEYS},
            "groups": res["groups"].get("pa_mpjpe", {}),
            "counts": res["counts"],
        }
    out = {"per_seed": per_seed, "mean": {}, "std": {}, "groups_mean": {}, "groups_std": {}}
    for k in KEYS:
        vals = [s["metrics"][k] for s in per_seed.values() if s["metrics"][k] is not None]
        out["mean"][k] = float(np.mean(vals))
        out["std"][k] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    groups = next(iter(per_seed.values()))["groups"]
    for g in groups:
        vals = [s["groups"][g] for s in per_seed.values()]
        out["groups_mean"][g] = float(np.mean(vals))
        out["groups_std"][g] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    return out


def curves(runs: list[Path], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from handpose.training import read_metrics

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for run in runs:
        rows = read_metrics(run / "main")
        seed = run.name
        tr = [(int(r["step"]), float(r["train/loss"])) for r in rows if r.get("train/loss")]
        steps, loss = np.array(tr).T
        k = 5
        smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
        a.plot(steps[k - 1 :], smooth, label=seed)
        val = [(int(r["epoch"]) + 1, float(r["val/pa_mpjpe_mm"]), float(r["val/mpjpe_mm"]))
               for r in rows if r.get("val/pa_mpjpe_mm")]  # fmt: skip
        ep, pa, mp = np.array(val).T
        (line,) = b.plot(ep, pa, "o-", label=f"{seed} PA-MPJPE")
        b.plot(ep, mp, "s--", color=line.get_color(), label=f"{seed} MPJPE (GT root depth)")
    a.set_xlabel("training step (batch 32)")
    a.set_ylabel("training loss (moving mean of 5 logs)")
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
    b.set_xlabel("epoch")
    b.set_ylabel("validation error (mm)")
    b.grid(alpha=0.3)
    b.legend(fontsize=7)
    fig.suptitle("Image baseline, cpu-small: learning curves")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


@torch.no_grad()
def grid(run: Path, data: str, path: Path, n: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from handpose.datasets.image_dataset import normalize_image
    from handpose.training import harness
    from handpose.training.config import _from_dict
    from handpose.training.image_data import ImageDataConfig, open_image_split

    model, meta = harness.load_model(run / "main" / "checkpoints" / "last.ckpt")
    dcfg = _from_dict(ImageDataConfig, meta["config"]["data"], "data")
    ds = open_image_split(data, "test", dcfg)
    idx = np.linspace(0, len(ds) - 1, n).astype(int)
    cols = min(n, 6)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.0 * cols, 2.1 * rows))
    for ax, i in zip(np.ravel(axes), idx):
        s = ds[int(i)]
        slot = 0 if s["hand_valid"][0] else 1
        gt = s["joints3d"][slot]
        out = model(normalize_image(s["image"])[None], s["K"][None], gt[None, 0, 2])
        pred2d, gt2d = out.joints2d[0].numpy(), s["joints2d"][slot].numpy()
        err = (out.joints3d[0] - gt).norm(dim=-1).mean().item() * 1000
        ax.imshow(s["image"].permute(1, 2, 0).numpy())
        for j, p in enumerate(OPENPOSE_PARENTS):
            if p < 0:
                continue
            ax.plot(*gt2d[[p, j]].T, color=(0.1, 0.9, 0.2), lw=1.2)
            ax.plot(*pred2d[[p, j]].T, color=(0.95, 0.1, 0.1), lw=1.2)
        ax.set_title(f"#{i} {'right' if slot == 0 else 'left'}, {err:.0f} mm", fontsize=7)
        ax.set_axis_off()
    for ax in np.ravel(axes)[len(idx) :]:
        ax.set_axis_off()
    fig.suptitle("Test crops: prediction (red) vs ground truth (green); MPJPE with GT root depth",
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--data", required=True)
    ap.add_argument("--prefix", default=str(ROOT / "docs/results/image_baseline"))
    ap.add_argument("--grid", type=int, default=12)
    args = ap.parse_args()
    torch.set_num_threads(1)
    prefix = Path(args.prefix)
    s = summary(args.runs)
    atomic_write_text(prefix.with_suffix(".json"), json.dumps(s, indent=2) + "\n")
    curves(args.runs, prefix.with_name(prefix.name + "_curves.png"))
    grid(args.runs[0], args.data, prefix.with_name(prefix.name + "_grid.png"), args.grid)
    print(json.dumps({"mean": s["mean"], "std": s["std"]}, indent=2))


if __name__ == "__main__":
    main()
