"""Figures and the summary of the image baseline runs (docs/results/image_baseline.md).

Reads run folders written by ``handpose train baseline`` and evaluated with
``handpose eval --out RUN/eval``, and writes

- ``PREFIX.json``: every seed's headline and per-group numbers, their mean and sample std, the
  joints' spread about their centroid (predicted vs true, :func:`spread`), and
  two constant-pose references on the same test split (:func:`reference`);
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
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose.handmodel.conventions import OPENPOSE_PARENTS  # noqa: E402
from handpose.utils.io import atomic_path, atomic_write_text  # noqa: E402

KEYS = (
    "pa_mpjpe",
    "pa_mpvpe",
    "pa_f@5mm",
    "pa_f@15mm",
    "auc_pa_mpjpe",
    "mpjpe",
    "auc_mpjpe",
    "mpvpe",
)


def summary(runs: list[Path]) -> dict:
    per_seed = {}
    for run in runs:
        res = json.loads((run / "eval" / "eval.json").read_text())
        cfg = yaml.safe_load((run / "main" / "config.yaml").read_text())
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


def _target_hands(data: str, split: str) -> dict[str, np.ndarray]:
    """Labels of a split (no images decoded for the caller): the schema keys the protocol needs
    and ``slot``, the target hand of every sample (slot 0 = right when both are valid, as in
    training)."""
    from handpose.formats.shards import open_shards

    shards = open_shards(data)
    keys = ("joints3d", "joint_valid", "hand_valid", "vertices")
    rows: dict[str, list] = {k: [] for k in keys}
    for i in range(shards.num_samples(split)):
        s = shards.get(split, i)
        for k in keys:
            rows[k].append(np.asarray(s[k]))
    out = {k: np.stack(v) for k, v in rows.items()}
    out["slot"] = np.where(out["hand_valid"][:, 0], 0, 1)
    return out


def mean_shape(joints: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Generalised Procrustes mean of wrist-relative right-hand joints (N, 21, 3): the constant
    pose with the smallest PA error on the set (rotation, scale and translation are free)."""
    from handpose.geometry.procrustes import procrustes_align

    x = torch.as_tensor(joints, dtype=torch.float64)
    ref = x[0]
    for _ in range(iterations):
        aligned = procrustes_align(x, ref.expand_as(x), mode="similarity")
        ref = aligned.mean(0)
        # fix the scale of the reference to the set's mean size (GPA is defined up to scale)
        ref = ref - ref.mean(0)
        ref = ref * (x - x.mean(1, keepdim=True)).norm(dim=(1, 2)).mean() / ref.norm()
    return ref.numpy()


def reference(data: str, splits: tuple[str, ...] = ("test", "val")) -> dict:
    """Constant-pose references evaluated on each split with the FreiHAND protocol, as
    ``handpose eval`` evaluates a checkpoint (target hand only, joints only: meshes absent):

    - ``mean_camera_pose``: the mean wrist-relative training pose in the camera frame, one per
      hand side, put at the ground-truth wrist (3D, so unaligned MPJPE here is root-relative);
    - ``procrustes_mean_shape``: the Procrustes mean of the training hands (left hands mirrored
      to right), mirrored back for left test hands, at the ground-truth wrist; only its aligned
      (PA) numbers mean anything, its orientation is arbitrary.
    """
    from handpose.metrics.protocols import evaluate_predictions

    train = _target_hands(data, "train")
    idx = np.arange(len(train["slot"]))
    rel = train["joints3d"][idx, train["slot"]] - train["joints3d"][idx, train["slot"], :1]
    camera_mean = {s: rel[train["slot"] == s].mean(0) for s in (0, 1)}
    mirror = np.array([-1.0, 1.0, 1.0])
    right = np.where((train["slot"] == 1)[:, None, None], rel * mirror, rel)
    shape = mean_shape(right)
    shape = shape - shape[:1]
    shapes = {0: shape, 1: shape * mirror}
    out: dict = {"train_hands": len(idx)}
    for split in splits:
        test = _target_hands(data, split)
        targets = {k: test[k] for k in ("joints3d", "joint_valid", "hand_valid", "vertices")}
        tidx = np.arange(len(test["slot"]))
        wrist = test["joints3d"][tidx, test["slot"], :1]
        out[split] = {"hands": len(tidx)}
        for name, pose in (("mean_camera_pose", camera_mean), ("procrustes_mean_shape", shapes)):
            joints = np.full((len(tidx), 2, 21, 3), np.nan, dtype=np.float32)
            joints[tidx, test["slot"]] = np.stack([pose[s] for s in test["slot"]]) + wrist
            res = evaluate_predictions("freihand", {"joints3d": joints}, targets)
            out[split][name] = {
                "metrics": {k: res.metrics.get(k) for k in KEYS},
                "groups": res.groups.get("pa_mpjpe", {}),
            }
    return out


@torch.no_grad()
def spread(run: Path, data: str, limit: int = 200) -> dict:
    """How far the joints lie from their centroid, predicted vs ground truth, on the first
    ``limit`` test samples (target hand, ground-truth root depth): a collapsed prediction (the
    network still near one blob) shows as a predicted spread well below the true one."""
    from handpose.reports.image_eval import predict_split
    from handpose.training import harness
    from handpose.training.config import _from_dict
    from handpose.training.image_data import ImageDataConfig, open_image_split

    model, meta = harness.load_model(run / "main" / "checkpoints" / "last.ckpt")
    dcfg = _from_dict(ImageDataConfig, meta["config"]["data"], "data")
    preds, targets = predict_split(model, open_image_split(data, "test", dcfg), limit=limit,
                                   progress=False)  # fmt: skip
    slot = np.where(targets["hand_valid"][:, 0], 0, 1)
    i = np.arange(len(slot))

    def mean_dist(j: np.ndarray) -> float:
        return float(np.linalg.norm(j - j.mean(1, keepdims=True), axis=-1).mean())

    return {
        "samples": len(slot),
        "pred_3d_mm": 1000 * mean_dist(preds["joints3d"][i, slot]),
        "gt_3d_mm": 1000 * mean_dist(targets["joints3d"][i, slot]),
        "pred_2d_px": mean_dist(preds["joints2d"][i, slot]),
        "gt_2d_px": mean_dist(targets["joints2d"][i, slot]),
        "crop_px": dcfg.size,
    }


def curves(runs: list[Path], path: Path, ref: dict | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from handpose.training import read_metrics

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 3.6))
    batch = yaml.safe_load((runs[0] / "main" / "config.yaml").read_text())["train"]["batch_size"]
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
    a.set_xlabel(f"training step (batch {batch})")
    a.set_ylabel("training loss (moving mean of 5 logs)")
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
    if ref is not None and "val" in ref:
        for name, style in (("mean_camera_pose", ":"), ("procrustes_mean_shape", "-.")):
            pa = ref["val"][name]["metrics"]["pa_mpjpe"]
            b.axhline(pa, color="0.4", ls=style, lw=1, label=f"constant {name} PA-MPJPE")
    b.set_xticks(
        sorted({int(r["epoch"]) + 1 for r in read_metrics(runs[0] / "main") if r.get("epoch")})
    )
    b.set_xlabel("epoch")
    b.set_ylabel("validation error (mm)")
    b.grid(alpha=0.3)
    b.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
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
    ap.add_argument("--no-reference", action="store_true", help="skip the constant-pose references")
    args = ap.parse_args()
    torch.set_num_threads(1)
    prefix = Path(args.prefix)
    s = summary(args.runs)
    for run in args.runs:
        s["per_seed"][str(yaml.safe_load((run / "main" / "config.yaml").read_text())["seed"])][
            "spread"
        ] = spread(run, args.data)
    if not args.no_reference:
        s["reference"] = reference(args.data)
    atomic_write_text(prefix.with_suffix(".json"), json.dumps(s, indent=2) + "\n")
    curves(args.runs, prefix.with_name(prefix.name + "_curves.png"), s.get("reference"))
    grid(args.runs[0], args.data, prefix.with_name(prefix.name + "_grid.png"), args.grid)
    print(json.dumps({k: s[k] for k in ("mean", "std", "reference") if k in s}, indent=2))


if __name__ == "__main__":
    main()
