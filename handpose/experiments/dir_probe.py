"""Diagnostics of a trained DIR network: how much of its relative root offset a crop's 2D hand
layout determines (a probe), and what each of its estimates scores.

DIR's offset (right wrist − left wrist, metres) must come from the image. Its x and y follow
from where the two wrists are in the crop divided by how large the hands appear, its depth
from their relative apparent sizes. :func:`layout_probe` measures how much of it the 2D layout
alone gives: a small MLP from both hands' 2D joints (normalised crop coordinates, ±1 = the
crop edges) to the offset, trained on the training split and scored as MRRPE (mm) on the test
frames where :class:`~handpose.models.dir.evaluation.DIREvaluator` scores ``mrrpe_offset``
(interacting, both wrists valid), beside the zero offset on the same frames.

The layout is either the ground truth (``checkpoint=None``: what a perfect 2D estimate would
allow) or what a trained DIR checkpoint predicts (its final estimate's projected joints): if
the probe on the predictions is no better than the zero offset, no offset head reading that
layout can be, and the model's 2D localisation is what limits its MRRPE. With a checkpoint
the command also reports :func:`localisation`: how well the model places each hand in 2D.

:func:`estimate_errors` scores every estimate of one network (the initial regression, then
each refinement stage's) with the evaluator's protocol: what the stages change inside one
model, where comparing models with different numbers of stages also changes what the shared
backbone learnt.

Commands (docs/results/dir_offset.md, docs/results/dir.md)::

    python -m handpose.experiments.dir_probe --data DATA [--checkpoint CKPT] [--seed 0]
    python -m handpose.experiments.dir_probe --data DATA --checkpoint CKPT --estimates
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from handpose.errors import HandposeError

__all__ = ["estimate_errors", "layout_probe", "localisation", "main"]


def _scan(data: str, split: str, checkpoint, limit: int | None, batch_size: int = 64) -> dict:
    """One pass over a split (the model, if any, runs once per image): per frame ``"uv"``
    (n, 2, 21, 2) the layout in normalised coordinates (predicted with a checkpoint, else the
    true 2D joints), ``"joints2d"`` (n, 2, 21, 2) the true 2D joints in crop pixels,
    ``"size"`` the crop size, ``"offset"`` (n, 3) the true right − left root offset in mm,
    ``"hand_valid"`` (n, 2) and ``"scored"`` (n,) the evaluator's frames (both hands, all root
    joints valid, interacting where the data says)."""
    import torch

    from handpose.formats.sample import collate
    from handpose.models.dir.mano import pixels_to_normalised
    from handpose.training.harness import load_method_config, load_model, method_config_from_dict
    from handpose.training.image_data import open_image_split

    model = None
    if checkpoint is not None:
        from handpose.datasets.image_dataset import normalize_image

        model, meta = load_model(checkpoint, method="dir")
        model.eval()
        cfg = method_config_from_dict("dir", meta["config"]).data
    else:
        cfg = load_method_config("dir", "cpu-small").data
    ds = open_image_split(data, split, cfg)
    n = len(ds) if limit is None else min(limit, len(ds))
    cols: dict[str, list] = {k: [] for k in ("uv", "joints2d", "offset", "hand_valid", "scored")}
    size = 0
    with torch.no_grad():
        for start in range(0, n, batch_size):
            b = collate([ds[i] for i in range(start, min(n, start + batch_size))])
            hv = torch.as_tensor(b["hand_valid"]).bool()
            jv = torch.as_tensor(b["joint_valid"]).bool()
            scored = hv.all(-1) & jv[:, :, 0].all(-1)
            if "interacting" in b:
                scored = scored & torch.as_tensor(b["interacting"]).bool()
            size = b["image"].shape[-1]
            j2 = torch.as_tensor(b["joints2d"]).double()
            if model is None:
                uv = pixels_to_normalised(j2.float(), size)
            else:
                uv = model.forward_estimates(normalize_image(b["image"]))[0][-1].joints_uv
            j3 = torch.as_tensor(b["joints3d"]).to(torch.float64)
            cols["uv"].append(uv.float())
            cols["joints2d"].append(j2)
            cols["offset"].append((1000.0 * (j3[:, 0, 0] - j3[:, 1, 0])).float())
            cols["hand_valid"].append(hv)
            cols["scored"].append(scored)
    if not cols["uv"]:
        raise HandposeError(f"the {split!r} split of '{data}' is empty.")
    out = {k: torch.cat(v) for k, v in cols.items()}
    out["size"] = size
    return out


def _layouts(scan: dict, data: str, split: str):
    """(n, 84) layouts, (n, 3) offsets in mm, (n,) evaluator-frame mask, over the scanned
    frames with both hands."""
    both = scan["hand_valid"].all(-1)
    if not both.any():
        raise HandposeError(f"the {split!r} split of '{data}' has no frame with both hands.")
    uv = scan["uv"][both]
    return uv.reshape(uv.shape[0], -1), scan["offset"][both], scan["scored"][both]


def layout_probe(
    data: str | os.PathLike,
    checkpoint: str | os.PathLike | None = None,
    *,
    steps: int = 4000,
    batch_size: int = 128,
    lr: float = 1e-3,
    hidden: int = 256,
    seed: int = 0,
    limit: int | None = None,
) -> dict:
    """Train the layout → offset MLP (module docstring) and score it.

    Args:
        data: a ``twohand``-style shard folder with train and test splits.
        checkpoint: a DIR checkpoint whose predicted 2D joints are the layout (None: the
            ground-truth 2D joints).
        steps, batch_size, lr, hidden, seed: the probe's Adam training (L1 loss).
        limit: at most this many images per split (None: all).
    Returns:
        JSON-ready ``{"layout", "mrrpe_probe", "mrrpe_zero", "mrrpe_probe_train", "frames":
        {"train", "test"}, "settings"}``, MRRPE in mm; with a checkpoint also
        ``"localisation"`` (:func:`localisation` of the test split, from the same pass; over
        the first ``limit`` images when ``limit`` is set).
    """
    import torch

    torch.manual_seed(seed)
    Xtr, Ytr, _ = _layouts(_scan(str(data), "train", checkpoint, limit), str(data), "train")
    test = _scan(str(data), "test", checkpoint, limit)
    Xte, Yte, scored = _layouts(test, str(data), "test")
    if not scored.any():
        raise HandposeError(f"the test split of '{data}' has no interacting frame with both hands.")
    Xte, Yte = Xte[scored], Yte[scored]
    net = torch.nn.Sequential(
        torch.nn.Linear(Xtr.shape[1], hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, 3),
    )
    opt = torch.optim.Adam(net.parameters(), lr)
    g = torch.Generator().manual_seed(seed)
    scale = 150.0  # mm: DIR's position unit
    for _ in range(steps):
        i = torch.randint(0, Xtr.shape[0], (batch_size,), generator=g)
        loss = ((net(Xtr[i]) - Ytr[i]) / scale).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        probe = (net(Xte) - Yte).norm(dim=-1).mean()
        probe_train = (net(Xtr) - Ytr).norm(dim=-1).mean()
    res = {
        "layout": "ground truth" if checkpoint is None else f"predicted by {checkpoint}",
        "mrrpe_probe": float(probe),
        "mrrpe_zero": float(Yte.norm(dim=-1).mean()),
        "mrrpe_probe_train": float(probe_train),
        "frames": {"train": int(Xtr.shape[0]), "test": int(Xte.shape[0])},
        "settings": {
            "steps": steps,
            "batch_size": batch_size,
            "lr": lr,
            "hidden": hidden,
            "seed": seed,
            "limit": limit,
        },  # fmt: skip
    }
    if checkpoint is not None:  # from the same pass over the test split
        res["localisation"] = _localisation(test, str(data), "test")
    return res


def localisation(
    data: str | os.PathLike, checkpoint: str | os.PathLike, split: str = "test"
) -> dict:
    """How well a DIR checkpoint places each hand in 2D (crop pixels, every valid hand of
    ``split``), beside a constant guess: the wrist error and that of always predicting the
    split's mean wrist position; the hand-centre (mean of the 21 joints) error and that of the
    mean centre; the hands' 2D spread (mean joint distance from the centre: the apparent size),
    predicted and true, and their correlation. (:func:`layout_probe` with a checkpoint returns
    the same dictionary for the test split under ``"localisation"``, from its own pass.)

    Returns:
        JSON-ready ``{"wrist_px", "wrist_px_constant", "centre_px", "centre_px_constant",
        "spread_px_pred", "spread_px_true", "spread_correlation", "hands"}``.
    """
    return _localisation(_scan(str(data), split, checkpoint, None), str(data), split)


def estimate_errors(
    data: str | os.PathLike,
    checkpoint: str | os.PathLike,
    split: str = "test",
    *,
    batch_size: int = 64,
    limit: int | None = None,
) -> list[dict]:
    """The IntagHand-protocol joint errors of every estimate of a DIR checkpoint on ``split``:
    the initial regression (index 0), then each refinement stage. Each estimate is placed in
    the camera frame by its own weak-perspective camera, as the network's final output is, and
    scored by :class:`~handpose.metrics.protocols.InterHandProtocol` with the checkpoint's
    ``eval.intaghand_root`` (the last entry equals ``handpose eval``'s joint columns).

    Returns:
        one JSON-ready dict per estimate: ``{"estimate", "mpjpe_all", "mpjpe_sh",
        "mpjpe_ih"}`` (mm; None where the split has no such frame).
    """
    import torch

    from handpose.datasets.image_dataset import normalize_image
    from handpose.formats.sample import collate
    from handpose.metrics.protocols import InterHandProtocol
    from handpose.models.dir.mano import to_camera_frame
    from handpose.training.harness import load_model, method_config_from_dict
    from handpose.training.image_data import open_image_split

    model, meta = load_model(checkpoint, method="dir")
    model.eval()
    cfg = method_config_from_dict("dir", meta["config"])
    ds = open_image_split(str(data), split, cfg.data)
    n = len(ds) if limit is None else min(int(limit), len(ds))
    if n == 0:
        raise HandposeError(f"the {split!r} split of '{data}' is empty.")
    S = model.config.image_size
    protocols = [
        InterHandProtocol(units="mm", intaghand_root=cfg.eval.intaghand_root)
        for _ in range(model.config.num_stages + 1)
    ]
    keys = ("joints3d", "joint_valid", "hand_valid", "interacting", "K")
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = collate([ds[i] for i in range(start, min(n, start + batch_size))])
            estimates = model.forward_estimates(normalize_image(batch["image"]))[0]
            targets = {k: batch[k] for k in keys if k in batch}
            for est, protocol in zip(estimates, protocols, strict=True):
                joints = to_camera_frame(est, batch["K"], S)["joints3d"]
                protocol.update({"joints3d": joints}, targets)
    out = []
    for k, protocol in enumerate(protocols):
        m = protocol.compute().metrics
        name = "initial regression" if k == 0 else f"refinement stage {k}"
        out.append(
            {"estimate": name, **{c: m.get(c) for c in ("mpjpe_all", "mpjpe_sh", "mpjpe_ih")}}
        )
    return out


def _localisation(scan: dict, data: str, split: str) -> dict:
    import torch

    from handpose.models.dir.mano import normalised_to_pixels

    valid = scan["hand_valid"]
    P = normalised_to_pixels(scan["uv"], scan["size"]).double()[valid]  # (n, 21, 2) per hand
    G = scan["joints2d"][valid]
    if P.shape[0] < 2:
        raise HandposeError(f"the {split!r} split of '{data}' has fewer than two valid hands.")
    cp, cg = P.mean(1), G.mean(1)
    sp = (P - cp[:, None]).norm(dim=-1).mean(-1)
    sg = (G - cg[:, None]).norm(dim=-1).mean(-1)
    return {
        "wrist_px": float((P[:, 0] - G[:, 0]).norm(dim=-1).mean()),
        "wrist_px_constant": float((G[:, 0] - G[:, 0].mean(0)).norm(dim=-1).mean()),
        "centre_px": float((cp - cg).norm(dim=-1).mean()),
        "centre_px_constant": float((cg - cg.mean(0)).norm(dim=-1).mean()),
        "spread_px_pred": float(sp.mean()),
        "spread_px_true": float(sg.mean()),
        "spread_correlation": float(torch.corrcoef(torch.stack([sp, sg]))[0, 1]),
        "hands": int(P.shape[0]),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m handpose.experiments.dir_probe", description=__doc__.split("\n")[0]
    )
    p.add_argument("--data", required=True, help="twohand shard folder (train and test)")
    p.add_argument("--checkpoint", default=None, help="DIR checkpoint (default: true 2D joints)")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="at most this many images per split")
    p.add_argument(
        "--estimates",
        action="store_true",
        help="instead of the probe: the test-split joint errors of every estimate of "
        "--checkpoint (initial regression, then each refinement stage)",
    )
    args = p.parse_args(argv)
    try:
        if args.estimates:
            if args.checkpoint is None:
                raise HandposeError("--estimates needs --checkpoint.")
            res = estimate_errors(args.data, args.checkpoint, limit=args.limit)
        else:
            res = layout_probe(
                args.data, args.checkpoint, steps=args.steps, seed=args.seed, limit=args.limit
            )
    except HandposeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
