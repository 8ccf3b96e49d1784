"""Evaluate an image model checkpoint on a data split with the field's protocols.

``handpose eval --checkpoint CKPT --data D`` on an image checkpoint (any method trained with the
harness) is a thin wrapper over :func:`evaluate_image_checkpoint`:

1. the model comes from :func:`handpose.training.harness.load_model`, the samples from the
   split (default ``test``) of any image source (:func:`handpose.datasets.sources.open_source`),
   cropped to the hand at the model's input size exactly as in training (the crop changes K
   only, so 3D labels are untouched);
2. the model runs on ImageNet-normalised crops with the crop's K. Models whose forward takes a
   ``root_depth`` get the ground-truth wrist depth (``root_depth="gt"``, default: what
   FreiHAND-style evaluation with Procrustes alignment allows, since the alignment removes
   translation and scale) or none (``"model"``: the model's own estimate, e.g. the baseline's
   bone-length recovery; needed for meaningful unaligned errors);
3. single-hand predictions (``joints3d`` (B, 21, 3)) go into the target's hand slot (the valid
   one, slot 0 = right when both are); two-hand models return (B, 2, 21, 3);
4. models without a mesh get one fitted to their predicted joints
   (:func:`handpose.handmodel.fitting.fit_to_joints`, ``mesh="fit"``) with the dataset's hand
   model (``meta["hand_model"]``: the open model for synthetic data, MANO for real data, which
   needs the user's MANO files) and the slot's side; by default one start (the relaxed pose)
   and 25 Levenberg–Marquardt iterations (0.3 s per hand on one CPU core; three starts give
   the same vertex error to 0.1 mm at 5× the time on joints that are already ~mm-noisy);
5. the protocol (default by dataset: FreiHAND for ``single`` data, InterHand2.6M for
   ``twohand``, HanCo for ``video``; a real dataset's own protocol) accumulates everything and
   :func:`handpose.reports.evaluation.write_evaluation_report` writes ``eval.md``,
   ``eval.json`` and the plots.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handpose.errors import HandposeError

__all__ = [
    "default_protocol",
    "predict_split",
    "fit_meshes",
    "evaluate_image_checkpoint",
    "TARGET_KEYS",
]

TARGET_KEYS = ("joints3d", "joint_valid", "hand_valid", "vertices", "interacting", "K")
_PROTOCOL_BY_KIND = {"single": "freihand", "twohand": "interhand", "video": "hanco"}


def default_protocol(meta: dict) -> str:
    """The protocol of a dataset: a real dataset's own, else by ``kind``."""
    name = str(meta.get("dataset", "")).lower()
    if name in ("freihand", "interhand", "dexycb", "hanco"):
        return name
    kind = str(meta.get("kind", "single"))
    if kind not in _PROTOCOL_BY_KIND:
        raise HandposeError(f"no default protocol for data of kind {kind!r}; pass --protocol.")
    return _PROTOCOL_BY_KIND[kind]


def _takes_root_depth(model: torch.nn.Module) -> bool:
    return "root_depth" in inspect.signature(model.forward).parameters


class _ImageOnly:
    """Outputs of a model whose forward takes the image alone (EHPE: 2.5D joints ``uv``,
    ``z_rel``) in the shape :func:`predict_split` reads: ``joints3d`` from the ground-truth
    wrist depth (``root`` given) or the generic graph's bone-length depth
    (:class:`~handpose.inference.image_model.ImageModelGraph`), ``joints2d`` the crop pixels."""

    def __init__(self, model: torch.nn.Module) -> None:
        from handpose.inference.image_model import ImageModelGraph

        self.graph = ImageModelGraph(model)

    def __call__(self, x: torch.Tensor, K: torch.Tensor, root: torch.Tensor | None):
        from types import SimpleNamespace

        from handpose.geometry.camera import uvz_to_xyz

        out = self.graph.model(x)
        uv, z_rel = getattr(out, "uv", None), getattr(out, "z_rel", None)
        if root is not None and uv is not None and z_rel is not None:
            j3 = uvz_to_xyz(uv, z_rel, root.to(uv.dtype), K.to(uv.dtype))
            return SimpleNamespace(joints3d=j3, joints2d=uv)
        res = self.graph.standardize(out, K, x.shape[-1])
        return SimpleNamespace(
            **{k: v.squeeze(1) if v.shape[1] == 1 else v for k, v in res.items()}
        )


@torch.no_grad()
def predict_split(
    model: torch.nn.Module,
    dataset,
    *,
    batch_size: int = 32,
    root_depth: str = "gt",
    limit: int | None = None,
    progress: bool = True,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run an image model over an :class:`~handpose.datasets.image_dataset.ImageDataset`.

    Returns:
        ``(preds, targets)`` with a leading sample axis: ``preds["joints3d"]`` (N, 2, 21, 3)
        (NaN in slots the model did not fill), ``preds["vertices"]`` when the model outputs a
        mesh, ``preds["joints2d"]`` (N, 2, 21, 2) crop pixels; ``targets`` the schema keys of
        :data:`TARGET_KEYS` that the data has, plus ``joints2d`` (crop pixels).
    """
    from tqdm.auto import tqdm

    from handpose.datasets.image_dataset import normalize_image
    from handpose.formats.sample import collate

    if root_depth not in ("gt", "model"):
        raise HandposeError(f"root_depth must be 'gt' or 'model', got {root_depth!r}.")
    n = len(dataset) if limit is None else min(int(limit), len(dataset))
    if n == 0:
        raise HandposeError("the split has no samples to evaluate.")
    loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(dataset, range(n)), batch_size=batch_size, collate_fn=collate
    )
    image_only = not {"K", "root_depth"} & set(inspect.signature(model.forward).parameters)
    with_root = root_depth == "gt" and _takes_root_depth(model)
    wrapped = _ImageOnly(model) if image_only else None
    preds: dict[str, list] = {}
    targets: dict[str, list] = {}
    bar = tqdm(loader, desc="predict", unit="batch", disable=not progress)
    for batch in bar:
        hv = batch["hand_valid"].bool()
        slot = torch.where(hv[:, 0], 0, 1)
        idx = torch.arange(len(slot))
        x = normalize_image(batch["image"].float())
        K = batch["K"].float()
        root = batch["joints3d"][idx, slot, 0, 2].float()
        if wrapped is not None:
            out = wrapped(x, K, root if root_depth == "gt" else None)
        elif with_root:
            out = model(x, K, root_depth=root)
        else:
            out = model(x, K)
        for key in ("joints3d", "joints2d", "vertices"):
            value = getattr(out, key, None)
            if value is None:
                continue
            value = value.detach().float()
            if value.ndim == 3:  # one hand: into the target's slot
                full = value.new_full((len(slot), 2, *value.shape[1:]), math.nan)
                full[idx, slot] = value
                value = full
            preds.setdefault(key, []).append(value.numpy())
        for key in (*TARGET_KEYS, "joints2d"):
            if key in batch:
                targets.setdefault(key, []).append(batch[key].numpy())
    return (
        {k: np.concatenate(v) for k, v in preds.items()},
        {k: np.concatenate(v) for k, v in targets.items()},
    )


def fit_meshes(
    preds: dict[str, np.ndarray],
    targets: dict[str, np.ndarray],
    hand_model: str = "open",
    *,
    inits: Sequence[str] = ("relaxed",),
    iterations: int = 25,
    progress: bool = True,
) -> np.ndarray:
    """Meshes fitted to the predicted joints of every valid hand slot (right model for slot 0,
    left for slot 1); (N, 2, V, 3), NaN in invalid slots."""
    from tqdm.auto import tqdm

    from handpose.handmodel import HandModel
    from handpose.handmodel.fitting import fit_to_joints

    joints = torch.as_tensor(preds["joints3d"], dtype=torch.float32)
    valid = torch.as_tensor(targets["hand_valid"]).bool()
    out = None
    chunk = 64
    for slot, side in ((0, "right"), (1, "left")):
        rows = torch.nonzero(valid[:, slot]).flatten()
        if len(rows) == 0:
            continue
        model = HandModel(hand_model, side=side, flat_hand_mean=True)
        if out is None:
            out = torch.full((len(joints), 2, model.num_vertices, 3), math.nan)
        starts = range(0, len(rows), chunk)
        for lo in tqdm(starts, desc=f"fit {side} meshes", unit="chunk", disable=not progress):
            r = rows[lo : lo + chunk]
            target = joints[r, slot]
            if not torch.isfinite(target).all():
                raise HandposeError("the model predicted NaN or infinite joints.")
            fit = fit_to_joints(target, model, inits=tuple(inits), iterations=iterations)
            out[r, slot] = fit.vertices.float()
    if out is None:
        raise HandposeError("no valid hands to fit meshes to.")
    return out.numpy()


def evaluate_image_checkpoint(
    checkpoint: str | os.PathLike,
    data: str,
    *,
    split: str = "test",
    protocol: str | None = None,
    out: str | os.PathLike | None = None,
    batch_size: int = 32,
    root_depth: str = "gt",
    mesh: str = "fit",
    fit_iterations: int = 25,
    limit: int | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate an image checkpoint (module docstring) and optionally write the report.

    Args:
        checkpoint: a harness checkpoint of an image method.
        data: an image source (shard folder or ``NAME:ROOT``).
        split: the split to evaluate.
        protocol: "freihand", "interhand", "dexycb", "hanco" (default: by dataset).
        out: folder for ``eval.md`` / ``eval.json`` / plots (None: no files).
        root_depth: "gt" or "model" (module docstring).
        mesh: "fit" (fit meshes to joint-only predictions) or "none".
        fit_iterations: Levenberg–Marquardt iterations of the mesh fit.
        limit: evaluate only the first N samples.
        threads: torch intra-op threads (None: torch's default; on a machine shared by several
            jobs one thread is often several times faster, e.g. the mesh fit).
    Returns:
        ``{"result": ProtocolResult, "files": EvaluationFiles | None, "meta": checkpoint meta,
        "num_samples": N}``.
    """
    from handpose.metrics.protocols import evaluate_predictions
    from handpose.reports.evaluation import write_evaluation_report
    from handpose.training.harness import load_model
    from handpose.training.image_data import ImageDataConfig, open_image_split

    if mesh not in ("fit", "none"):
        raise HandposeError(f"mesh must be 'fit' or 'none', got {mesh!r}.")
    if threads is not None:
        if threads < 1:
            raise HandposeError(f"threads must be ≥ 1, got {threads}.")
        torch.set_num_threads(int(threads))
    model, meta = load_model(checkpoint)
    cfg_data = (meta.get("config") or {}).get("data")
    if not isinstance(cfg_data, dict) or "size" not in cfg_data:
        raise HandposeError(
            f"'{checkpoint}' is a {meta['method']} checkpoint, not an image model's; "
            "evaluate it with its own data"
        )
    from handpose.training.config import _from_dict

    # A method's data section may extend ImageDataConfig (e.g. DIR's dense maps): keep its keys.
    known = {f.name for f in dataclasses.fields(ImageDataConfig)}
    dcfg = _from_dict(ImageDataConfig, {k: v for k, v in cfg_data.items() if k in known}, "data")
    dataset = open_image_split(data, split, dcfg)
    data_meta = dict(getattr(dataset, "meta", {}))
    name = protocol or default_protocol(data_meta)
    preds, targets = predict_split(
        model,
        dataset,
        batch_size=batch_size,
        root_depth=root_depth,
        limit=limit,
        progress=progress,
    )
    if mesh == "fit" and "vertices" not in preds and "vertices" in targets:
        preds["vertices"] = fit_meshes(
            preds,
            targets,
            str(data_meta.get("hand_model", "mano")),
            iterations=fit_iterations,
            progress=progress,
        )
    result = evaluate_predictions(name, preds, targets)
    result.counts.setdefault("samples", len(targets["joints3d"]))
    result.notes.append(
        f"{meta['method']} checkpoint '{Path(checkpoint).name}' (stage {meta['stage']}) on "
        f"'{data}' split '{split}', root depth: "
        + ("ground truth" if root_depth == "gt" else "the model's own")
        + (", meshes fitted to the predicted joints" if mesh == "fit" else "")
        + "."
    )
    files = None
    if out is not None:
        files = write_evaluation_report(
            result, out, title=f"{meta['method']} on {Path(str(data)).name} ({name} protocol)"
        )
    return {"result": result, "files": files, "meta": meta, "num_samples": len(targets["joints3d"])}
