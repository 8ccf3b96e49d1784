"""Evaluate a windowed video model (PGTE, the VIBE-style baseline) on whole clips.

:func:`predict_clips` runs a model over every clip of a split in file mode
(:func:`handpose.models.pgte.stream.run_sequence`: each frame from its causal window, exactly
what streaming computes), each frame read at the ladder level the model was trained at (or
another ``resolution``), cropped to its per-frame hand box, with the ground-truth wrist depth
as the root depth of eq. 3 (``root_depth="gt"``, default; ``"model"``: the model's own
estimate) and the clip's hand side.

:func:`evaluate_clips` scores the predictions:

- the protocol (``dexycb`` or ``hanco``, :mod:`handpose.metrics.protocols`): MPJPE / MPVPE
  wrist-relative ("before PA") and after Procrustes alignment ("PA-"), the numbers of the
  supplement's Tables 2–4;
- temporal quality per clip, averaged over clips weighted by their frames: acceleration error
  (VIBE's; mm/frame²) and jitter of the prediction and of the ground truth (mean jerk;
  mm/frame³), both on wrist-relative joints (:mod:`handpose.metrics.sequence`);
- optionally after smoothing the per-frame predictions of each clip
  (:func:`handpose.inference.smoothing.smooth_sequence`, e.g. One-Euro), the way a single-frame
  model is used on video.

:func:`evaluate_video_checkpoint` does both for a harness checkpoint.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch

from handpose.errors import HandposeError

__all__ = [
    "predict_clips",
    "evaluate_clips",
    "smooth_clips",
    "evaluate_video_checkpoint",
    "video_protocol",
]


def video_protocol(meta: dict) -> str:
    """``dexycb`` for DexYCB data, else ``hanco`` (FreiHAND conventions, before and after PA).
    A synthetic folder may say which real dataset it imitates in ``meta["like"]``."""
    name = str(meta.get("like") or meta.get("dataset", "")).lower()
    return "dexycb" if name == "dexycb" else "hanco"


@torch.no_grad()
def predict_clips(
    model,
    dataset,
    *,
    root_depth: str = "gt",
    chunk: int = 32,
    clips: int | None = None,
    progress: bool = False,
) -> list[dict[str, np.ndarray]]:
    """Run a windowed model over whole clips of a :class:`~handpose.datasets.video.VideoWindowDataset`.

    Returns:
        one dict per clip: ``joints3d`` / ``vertices`` (F, ·, 3) predicted camera frame,
        ``gt_joints3d``, ``gt_vertices``, ``joint_valid`` (F, 21), ``valid`` (F,), ``side``,
        ``key`` (the clip key), float64 numpy in metres. A joints-only model's
        ``vertices`` are (F, 0, 3): its mesh metrics are reported absent.
    """
    from handpose.datasets.image_dataset import normalize_image
    from handpose.models.pgte.stream import run_sequence

    if root_depth not in ("gt", "model"):
        raise HandposeError(f"root_depth must be 'gt' or 'model', got {root_depth!r}.")
    n = len(dataset.clips) if clips is None else min(int(clips), len(dataset.clips))
    it = range(n)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="clips", unit="clip")
    out = []
    model.eval()
    for c in it:
        f = dataset.clip_frames(c)
        F = f["image"].shape[0]
        rd = f["joints3d"][:, 0, 2] if root_depth == "gt" else None
        side = f["side"].expand(F)
        pred = run_sequence(model, normalize_image(f["image"]), f["K"], rd, side, chunk=chunk)
        item = {
            "joints3d": pred.joints3d.double().numpy(),
            "vertices": pred.vertices.double().numpy(),
            "gt_joints3d": f["joints3d"].double().numpy(),
            "joint_valid": f["joint_valid"].numpy(),
            "valid": f["valid"].numpy(),
            "side": int(f["side"]),
            "key": dataset.clips[c].key,
        }
        if "vertices" in f:
            item["gt_vertices"] = f["vertices"].double().numpy()
        out.append(item)
    return out


def smooth_clips(clips: list[dict], method: str = "one_euro", **params) -> list[dict]:
    """Each clip's predicted joints and vertices smoothed over time (a copy)."""
    from handpose.inference.smoothing import smooth_sequence

    out = []
    for c in clips:
        d = dict(c)
        for k in ("joints3d", "vertices"):
            if c[k].size:  # joints-only models have (F, 0, 3) vertices
                d[k] = np.asarray(smooth_sequence(c[k], method, **params))
        out.append(d)
    return out


def _slots(clips: list[dict]) -> tuple[dict, dict]:
    """Concatenate the clips into the protocols' two-slot schema (the clip's side's slot)."""
    preds: dict[str, list] = {"joints3d": [], "vertices": []}
    tg: dict[str, list] = {"joints3d": [], "joint_valid": [], "hand_valid": [], "vertices": []}
    for c in clips:
        F, s = c["joints3d"].shape[0], c["side"]
        for key, arr, width in (("joints3d", c["joints3d"], 21), ("vertices", c["vertices"], None)):
            w = arr.shape[1] if width is None else width
            x = np.full((F, 2, w, 3), np.nan)
            x[:, s] = arr
            preds[key].append(x)
        for key, arr in (("joints3d", c["gt_joints3d"]), ("vertices", c.get("gt_vertices"))):
            if arr is None:
                continue
            x = np.zeros((F, 2, *arr.shape[1:]))
            x[:, s] = arr
            tg[key].append(x)
        jv = np.zeros((F, 2, 21), bool)
        jv[:, s] = c["joint_valid"]
        hv = np.zeros((F, 2), bool)
        hv[:, s] = c["valid"]
        tg["joint_valid"].append(jv)
        tg["hand_valid"].append(hv)
    p = {k: np.concatenate(v) for k, v in preds.items() if v and v[0].shape[2] > 0}
    t = {k: np.concatenate(v) for k, v in tg.items() if v}
    return p, t


def _temporal(clips: list[dict]) -> dict[str, float]:
    from handpose.metrics.sequence import accel_error, jitter

    sums = {"accel_error": 0.0, "jitter": 0.0, "gt_jitter": 0.0}
    weights = {"accel_error": 0, "jitter": 0, "gt_jitter": 0}
    for c in clips:
        F = c["joints3d"].shape[0]
        valid = torch.as_tensor(c["joint_valid"] & c["valid"][:, None])
        p = torch.as_tensor(c["joints3d"] - c["joints3d"][:, :1]) * 1000.0
        g = torch.as_tensor(c["gt_joints3d"] - c["gt_joints3d"][:, :1]) * 1000.0
        if F >= 3:
            sums["accel_error"] += float(accel_error(p, g, valid)) * (F - 2)
            weights["accel_error"] += F - 2
        if F >= 4:
            sums["jitter"] += float(jitter(p, valid)) * (F - 3)
            sums["gt_jitter"] += float(jitter(g, valid)) * (F - 3)
            weights["jitter"] += F - 3
            weights["gt_jitter"] += F - 3
    return {k: (sums[k] / weights[k] if weights[k] else math.nan) for k in sums}


def evaluate_clips(clips: list[dict], protocol: str = "hanco") -> dict[str, Any]:
    """Protocol metrics (mm) and temporal metrics of predicted clips (module docstring).

    Returns:
        ``{"protocol": name, "metrics": {...}, "frames": N, "clips": C}`` with the protocol's
        metrics (``mpjpe``, ``pa_mpjpe``, ``mpvpe``, ``pa_mpvpe``, AUCs, ...) and
        ``accel_error`` (mm/frame²), ``jitter`` and ``gt_jitter`` (mm/frame³).
    """
    from handpose.metrics.protocols import evaluate_predictions

    if not clips:
        raise HandposeError("no clips to evaluate.")
    preds, targets = _slots(clips)
    res = evaluate_predictions(protocol, preds, targets)
    metrics = {k: v for k, v in res.metrics.items() if v is not None}
    metrics.update(_temporal(clips))
    return {
        "protocol": protocol,
        "metrics": metrics,
        "frames": int(sum(c["joints3d"].shape[0] for c in clips)),
        "clips": len(clips),
    }


def evaluate_video_checkpoint(
    checkpoint: str | os.PathLike,
    data: str,
    *,
    split: str = "test",
    resolution: int | None = None,
    protocol: str | None = None,
    root_depth: str = "gt",
    smoothing: dict | None = None,
    clips: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate a PGTE-method checkpoint on a split of a video source.

    Args:
        checkpoint: ``last.ckpt`` of ``handpose train pgte`` (either variant).
        data: source string (shard folder or real dataset).
        split: the split.
        resolution: ladder level in px (default: the checkpoint's ``data.resolution``).
        protocol: "dexycb" or "hanco" (default: :func:`video_protocol` of the data).
        root_depth: "gt" or "model".
        smoothing: ``{"method": "one_euro", ...parameters}`` applied per clip, or None.
        clips: evaluate only the first N clips.
    Returns:
        :func:`evaluate_clips`'s dict plus ``resolution``, ``split``, ``variant``, ``window``.
    """
    from handpose.training.harness import load_model, method_config_from_dict
    from handpose.training.methods.pgte import window_dataset

    model, meta = load_model(checkpoint, method="pgte")
    cfg = method_config_from_dict("pgte", meta["config"])
    if resolution is not None:
        from dataclasses import replace

        cfg = replace(cfg, data=replace(cfg.data, resolution=int(resolution)))
    ds = window_dataset(data, cfg, split, train=False, clips=clips)
    pred = predict_clips(model, ds, root_depth=root_depth, progress=progress)
    if smoothing:
        params = dict(smoothing)
        pred = smooth_clips(pred, params.pop("method", "one_euro"), **params)
    out = evaluate_clips(pred, protocol or video_protocol(ds.meta))
    out.update(
        resolution=cfg.data.resolution, split=split, variant=cfg.variant, window=cfg.window,
        root_depth=root_depth, smoothing=smoothing,
    )  # fmt: skip
    return out
