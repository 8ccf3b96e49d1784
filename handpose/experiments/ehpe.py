"""The EHPE experiments: Tables 1–6 and Figure 1's analysis, several seeds, one report.

:func:`run_experiment` (CLI: ``handpose experiment ehpe``) plans the runs of the chosen tables,
backbones and seeds (:func:`plan_runs`), synthesises missing data (``handpose synth images``),
trains and evaluates each run in a child process (``python -m handpose.experiments.ehpe run
OUT KEY``, one torch thread) with ``jobs`` of them at a time, and writes the report
(:func:`write_report`). Runs are:

- ``tw``: stage ``tw`` of one TW configuration (an allocation of Table 4, ``all`` = Table 3's
  "TW only", ``none`` = "PG only"); ``all`` and ``none`` are complete models and are evaluated;
- ``pg``: stage ``pg`` of one PG variant (Tables 5, 6; ``full`` = EHPE) on a finished ``tw``
  run's checkpoint, from the shared feature cache beside it (the ``full`` variant of a TW run
  builds the cache; the other variants of that TW run start after it);
- ``baseline``: the harness's baseline (backbone + 2.5D heatmap + soft-argmax for 21 joints)
  with the same backbone, input size, feature level, heatmap resolution and epochs as the
  TW-stage.

Layout (the key of a run is its folder)::

    OUT/experiment.json                                  settings, data, hardware, sessions
    OUT/data/{single,twohand}/                           the data (unless --data points away)
    OUT/<data>/seed<S>/<backbone>/tw_<alloc>/            harness run folder (tw/, its cache/)
    OUT/<data>/seed<S>/<backbone>/pg_<alloc>_<variant>/  harness run folder (pg/)
    OUT/<data>/seed<S>/<backbone>/baseline/              harness run folder (main/)
    OUT/<run>/log.txt, OUT/<run>/result.json             child output; result (written last)

**Resumable**: a run with a ``result.json`` is skipped; an interrupted one resumes its
harness stage (``resume=True``). **Archivable** (``archive``, ``--archive DIR``): after
every finished run the records (``experiment.json`` and each ``result.json``, a few kB per
run, no checkpoints) are copied to DIR, e.g. into the repository, so the results outlive the
folder; ``--report-only --out DIR`` reports from them, and a copy of DIR as the experiment
folder continues the experiment: a finished run whose checkpoint an unfinished run loads (a
TW run whose PG run has not finished, the mesh regressor) trains again
(:func:`restored_without_artefact`). **Mergeable**: every ``result.json`` carries its preset,
backbone, variant, seed and hardware, and :func:`write_report` reads any number of experiment
folders (``--merge``), so results made elsewhere (e.g. a GPU run of a Table 1 row set at the
``paper-freihand`` preset) appear beside the CPU ones, labelled by preset and hardware.

**Evaluation** (test split): the predicted 2.5D joints are lifted to the crop camera with the
wrist depth from the wrist → middle-MCP length (no ground truth used), a hand-model mesh is
fitted to them (:func:`handpose.handmodel.fitting.fit_to_joints`, the side from the hand slot;
EHPE predicts joints only, see docs/results/ehpe.md), and the named protocol scores them:
``freihand`` for single hands (PA-MPJPE, PA-MPVPE, aligned F@5 / F@15, per joint group),
``interhand`` for two hands (Table 2: MPJPE, MPVPE with the IntagHand / EANet / EHPE scale
alignment). CPU speed: images/s at batch 1 with one torch thread, measured in the child.

**Generalisation** (``--twohand-heldout``, DIR's supplement Table 1 setting): each finished
Table 2 model is also scored on the main test split and on a held-out rendering domain with
the IntagHand alignment rooted at the wrist, DIR's protocol, so that DIR's report
(``handpose experiment dir --ehpe OUT``) can put EHPE's two-hand variant beside its own rows:
``result["generalisation"] = {"root": "wrist", "test": metrics, "heldout": metrics}``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from handpose.errors import HandposeError
from handpose.experiments import check_experiment_paths, common
from handpose.utils.io import atomic_write_text

__all__ = [
    "TABLES",
    "PG_VARIANTS",
    "PAPER",
    "RunSpec",
    "SynthSize",
    "plan_runs",
    "run_experiment",
    "run_one",
    "evaluate_checkpoint",
    "collect_results",
    "summarize",
    "write_report",
]

TABLES = ("1", "2", "3", "4", "5", "6", "fig1")
# The ablation tables drawn as panels of one figure, relative to full EHPE (plot_tables).
ABLATION_TABLES = ("3", "4", "5", "6")
# Table 4's allocations in the paper's row order (handpose.models.ehpe.ALLOCATIONS).
ALLOCATIONS = ("W+T+D", "W+T+D+P", "T+D", "T+D+P", "T", "W", "W+D+P+M", "W+T")
MAIN = "W+T"
# PG-stage variants: name → (label, config overrides).
PG_VARIANTS: dict[str, tuple[str, dict]] = {
    "full": ("EHPE: SPI + FEM, dynamic, 2 layers", {}),
    "neither": (
        "w/o SPI, w/o FEM (the learned initial positions)",
        {"model.pg.spi": False, "model.pg.fem": False},
    ),
    "fem_only": ("FEM only (w/o SPI)", {"model.pg.spi": False}),
    "spi_only": ("SPI only (w/o FEM)", {"model.pg.fem": False}),
    "fixed": ("fixed edge weights, 2 layers", {"model.pg.edge_weights": "fixed"}),
    "layers1": ("dynamic, 1 layer", {"model.pg.gat_layers": 1}),
    "layers3": ("dynamic, 3 layers", {"model.pg.gat_layers": 3}),
    "token_init": ("token initialisation of the PG joints", {"model.pg.init": "token"}),
    "refine_tw": ("TW joints refined by the PG-stage", {"model.pg.keep_tw": False}),
    "one_hop": ("1-hop neighbourhoods in both layers", {"model.pg.multi_hop": False}),
    "true_tw": ("PG-stage trained on the true TW joints", {"pg_input": "labels"}),
}
INVESTIGATE = ("token_init", "refine_tw", "one_hop", "true_tw")
SMALL_BACKBONES = ("mobilenetv3_small_050", "mobilenetv3_large_100", "efficientnet_lite0")

# The paper's numbers (EHPE, ACM MM 2025): (PA-MPJPE, PA-MPVPE[, F@5, F@15, GPU FPS]).
PAPER: dict[str, dict] = {
    "1": {
        "resnet50": (5.7, 5.9, 0.788, 0.986, 28),
        "hrnet_w32": (5.6, 5.9, 0.787, 0.988, 20),
        "fastvit_ma36": (5.6, 5.7, 0.793, 0.991, 59),
        "fastvit_only": (6.6, 6.7, 0.722, 0.981, 75),
    },
    "2": {"EHPE": (5.73, 5.87), "EANet": (5.88, 6.04)},
    "3": {"all": (7.1, 7.3), "none": (7.2, 7.3), "full": (5.6, 5.7)},
    "4": {
        "W+T+D": (5.8, 5.9),
        "W+T+D+P": (6.2, 6.4),
        "T+D": (6.2, 6.3),
        "T+D+P": (6.5, 6.7),
        "T": (5.9, 6.0),
        "W": (7.2, 7.3),
        "W+D+P+M": (6.4, 6.5),
        "W+T": (5.6, 5.7),
    },  # fmt: skip
    "5": {
        "neither": (7.1, 7.3),
        "fem_only": (6.6, 6.6),
        "spi_only": (6.0, 6.1),
        "full": (5.6, 5.7),
    },
    "6": {"fixed": (6.5, 6.6), "layers1": (6.2, 6.3), "layers3": (5.9, 6.1), "full": (5.6, 5.7)},
    "fig1": {"tip": 100.0, "dip": 80.0, "pip": 72.0, "mcp": 59.0, "wrist": 40.0},
}


def _folder(alloc: str) -> str:
    return alloc.replace("+", "")


@dataclass(frozen=True)
class RunSpec:
    """One run.

    Attributes:
        kind: "tw", "pg", "baseline" or "mesh" (the joints → mesh regressor every evaluation
            uses, trained once on the single-hand training split).
        seed: the config seed.
        backbone: registry name.
        alloc: the TW configuration: an allocation ("W+T", ...), "all" (TW only) or "none"
            (PG only); "" for the baseline.
        variant: the PG variant (:data:`PG_VARIANTS`); "" otherwise.
        data: "single" or "twohand".
    """

    kind: str
    seed: int
    backbone: str
    alloc: str = ""
    variant: str = ""
    data: str = "single"

    @property
    def name(self) -> str:
        if self.kind == "mesh":
            return "mesh_regressor"
        if self.kind == "tw":
            return f"tw_{_folder(self.alloc)}"
        if self.kind == "pg":
            return f"pg_{_folder(self.alloc)}_{self.variant}"
        return "baseline"

    @property
    def key(self) -> str:
        if self.kind == "mesh":
            return f"{self.data}/mesh_regressor"
        return f"{self.data}/seed{self.seed}/{self.backbone}/{self.name}"

    @property
    def tw_key(self) -> str:
        """The TW run a PG run loads."""
        return RunSpec("tw", self.seed, self.backbone, self.alloc, "", self.data).key

    @property
    def complete(self) -> bool:
        """Whether the run yields a whole model (evaluated)."""
        return self.kind in ("pg", "baseline") or self.alloc in ("all", "none")

    @property
    def group(self) -> str:
        """What seeds are averaged over."""
        return f"{self.data}/{self.backbone}/{self.name}"


MESH_RUN = RunSpec("mesh", 0, "")


@dataclass(frozen=True)
class SynthSize:
    """The synthetic data made when a data folder is missing (``handpose synth images``): the
    ``single`` data of the cpu-small preset (128 px); ``twohand`` at the generator's size with
    half the training images."""

    train: int = 6000
    val: int = 300
    test: int = 500
    seed: int = 0
    size: int = 128

    def command(self, kind: str, out: str | os.PathLike) -> list[str]:
        if kind == "single":
            return synth_command(kind, out, self.train, self.val, self.test, self.seed, self.size)
        return synth_command(kind, out, self.train // 2, self.val, self.test, self.seed)


def synth_command(kind, out, train, val, test, seed, size=None) -> list[str]:
    """The ``handpose synth images`` command line of a data set."""
    cmd = ["handpose", "synth", "images", "--kind", kind, "--out", str(out)]
    if size is not None:
        cmd += ["--size", str(size)]
    return cmd + ["--train", str(train), "--val", str(val), "--test", str(test),
                  "--seed", str(seed)]  # fmt: skip


def plan_runs(
    tables: Sequence[str],
    seeds: Sequence[int],
    backbones: Sequence[str],
    *,
    investigate: bool = False,
    baseline: bool = True,
) -> list[RunSpec]:
    """The runs of the chosen tables in priority order, TW runs before the PG runs that need
    them: the mesh regressor; per seed EHPE and the baseline (main backbone); the cheap PG
    variants of Tables 5 and 6 (and :data:`INVESTIGATE`'s with ``investigate``) for every seed;
    Table 3's single-stage models; Table 4's allocations; Table 1's other backbones; Table 2.
    So an interrupted experiment has the most tables with every seed.

    ``backbones[0]`` is the backbone of Tables 2–6; Table 1 has one EHPE row (and one
    baseline row) per backbone.
    """
    unknown = [t for t in tables if t not in TABLES]
    if unknown or not tables:
        raise HandposeError(f"unknown table(s) {unknown}; choose from {', '.join(TABLES)}.")
    if not seeds or not backbones:
        raise HandposeError("give at least one seed and one backbone.")
    main, t = backbones[0], set(tables)
    runs: list[RunSpec] = [MESH_RUN]

    def add(spec: RunSpec) -> None:
        if spec not in runs:
            runs.append(spec)

    def ehpe(s: int, b: str, alloc: str = MAIN, data: str = "single") -> None:
        add(RunSpec("tw", s, b, alloc, data=data))
        add(RunSpec("pg", s, b, alloc, "full", data))

    for s in seeds:
        if t & {"1", "3", "4", "5", "6", "fig1"}:
            ehpe(s, main)
        if baseline and t & {"1", "fig1"}:
            add(RunSpec("baseline", s, main))
    for s in seeds:
        variants = [*(("neither", "fem_only", "spi_only") if "5" in t else ()),
                    *(("fixed", "layers1", "layers3") if "6" in t else ()),
                    *(INVESTIGATE if investigate else ())]  # fmt: skip
        for v in variants:
            add(RunSpec("pg", s, main, MAIN, v))
    if "3" in t:
        for s in seeds:
            add(RunSpec("tw", s, main, "all"))
            add(RunSpec("tw", s, main, "none"))
    if "4" in t:
        for s in seeds:
            for a in ALLOCATIONS:
                ehpe(s, main, a)
    if "1" in t:
        for b in backbones[1:]:
            for s in seeds:
                ehpe(s, b)
                if baseline:
                    add(RunSpec("baseline", s, b))
    if "2" in t:
        for s in seeds:
            ehpe(s, main, data="twohand")
    if len(runs) == 1:
        raise HandposeError(f"tables {list(tables)} plan no runs.")
    return runs


# ------------------------------------------------------------------------------ configs
def select_runs(specs: Sequence[RunSpec], only: Sequence[str]) -> list[RunSpec]:
    """The runs of ``specs`` named in ``only`` (:attr:`RunSpec.name`, e.g. ``tw_all`` or
    ``pg_WT_true_tw``, for every seed and backbone planned), with what they need: a PG run's TW
    run and the joints → mesh regressor. Empty ``only``: all of ``specs``."""
    if not only:
        return list(specs)
    names = {s.name for s in specs}
    bad = sorted(set(only) - names)
    if bad:
        raise HandposeError(
            f"--only: no planned run is named {', '.join(bad)}; the plan has "
            f"{', '.join(sorted(names))}."
        )
    keep = {s.key for s in specs if s.name in only or s.kind == "mesh"}
    keep |= {s.tw_key for s in specs if s.key in keep and s.kind == "pg"}
    return [s for s in specs if s.key in keep]


def _overrides(spec: RunSpec, sets: Sequence[str], preset_backbone: str | None = None):
    """Config overrides of a run. A backbone other than the preset's starts from scratch
    (``model.weights: null``) unless ``sets`` names weights."""
    out = [*sets, f"seed={spec.seed}", f"model.backbone={spec.backbone}"]
    named = any(s.startswith("model.weights=") for s in sets)
    if preset_backbone is not None and spec.backbone != preset_backbone and not named:
        out.append("model.weights=null")
    if spec.backbone == "vit_b16":
        out.append("model.tw.feature_stride=16")
    if spec.alloc == "all":
        out += ["model.tw_joints=W+T+D+P+M", "model.pg.enabled=false"]
    elif spec.alloc == "none":
        out.append("model.tw_joints=none")
    elif spec.alloc:
        out.append(f"model.tw_joints={spec.alloc}")
    for k, v in PG_VARIANTS.get(spec.variant, ("", {}))[1].items():
        out.append(f"{k}={json.dumps(v)}")
    if spec.data == "twohand":
        out.append("hands=each")
    return out


def ehpe_config(spec: RunSpec, preset: str, sets: Sequence[str]):
    """The EHPE config of a run (the preset, the experiment's overrides, the run's own)."""
    from handpose.training import harness

    base = harness.load_method_config("ehpe", preset, list(sets))
    return harness.load_method_config("ehpe", preset, _overrides(spec, sets, base.model.backbone))


def baseline_config(spec: RunSpec, preset: str, sets: Sequence[str]):
    """The baseline with the same backbone, input, feature level, heatmap stride, depth bins,
    soft-argmax temperature, data and TW-stage optimisation budget (epochs, batch, learning rate) as the EHPE run. The harness
    baseline's schedule is a cosine decay (AdamW without weight decay); it decays to the
    TW-stage's step factor (``gamma`` when the TW schedule has milestones, else constant)."""
    from handpose.training import harness
    from handpose.training.config import config_to_dict

    e = ehpe_config(RunSpec("tw", spec.seed, spec.backbone, MAIN), preset, sets)
    level = e.model.tw.feature_stride
    deconv = int(round(math.log2(level / e.model.tw.heatmap_stride)))
    t = config_to_dict(e.tw_train)
    decay = e.tw_schedule.gamma if e.tw_schedule.milestones else 1.0
    d = config_to_dict(e.data)
    data = {k: v for k, v in d.items() if k != "augmentation"}
    data["augmentation"] = d["augmentation"]
    cfg = {
        "name": f"baseline-for-{e.name}",
        "seed": spec.seed,
        "model": {
            "backbone": spec.backbone,
            "weights": e.model.weights,
            "level": level,
            "num_deconv": deconv,
            "hidden": e.model.tw.channels,
            "depth_bins": e.model.tw.depth_bins,
            "depth_range": e.model.tw.depth_range,
            "temperature": e.model.tw.temperature,
            "bone_length": e.model.bone_length,
        },
        "data": data,
        "train": {**t, "min_lr_ratio": decay, "warmup_epochs": 0.0},
    }
    return harness.method_config_from_dict("baseline", cfg)


# ------------------------------------------------------------------------------ evaluation
def _fps(model: Callable, example, runs: int = 20, warmup: int = 3) -> float:
    import torch

    with torch.no_grad():
        for _ in range(warmup):
            model(*example)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            model(*example)
            times.append(time.perf_counter() - t0)
    times.sort()
    return 1.0 / times[len(times) // 2]


def _predict(model, loader, bone_length: float | None, oracle_tw: bool = False):
    """Per item: camera-frame joints (n, 21, 3), crop pixels (n, 21, 2), the target slot and
    whether the item has a hand, and the label arrays (n, ...).

    ``oracle_tw``: the PG-stage reads the true TW joints (the labels on the TW-stage's 2.5D
    grid) instead of the TW-stage's estimates: what the PG-stage does with perfect inputs."""
    import torch

    from handpose.models.ehpe import EHPE, lift_to_camera
    from handpose.training.methods.baseline import single_hand_targets
    from handpose.training.methods.ehpe import hand_targets

    if oracle_tw and (not isinstance(model, EHPE) or model.pg is None or model.tw is None):
        raise HandposeError(
            "oracle TW joints need an EHPE with a TW-stage and a PG-stage (the 'pg' checkpoint)."
        )

    out3, out2, slots, labels = [], [], [], {}
    with torch.no_grad():
        for batch in loader:
            tg = single_hand_targets(batch)
            K = batch["K"].to(torch.float32)
            if isinstance(model, EHPE):
                if oracle_tw:
                    feats, tw = model.features(batch["image"])
                    true = hand_targets(batch, model)["targets"][:, list(model.tw_joints)]
                    size = tuple(batch["image"].shape[-2:])
                    out = model.head(feats, true.to(tw.coords.dtype), tw.latent, size)
                else:
                    out = model(batch["image"])
                out3.append(lift_to_camera(out.uv, out.z_rel, K, bone_length))
                out2.append(out.uv)
            else:
                out = model(batch["image"], K)
                out3.append(out.joints3d)
                out2.append(out.joints2d)
            slots.append(tg["slot"])
            for k in ("joints3d", "joint_valid", "hand_valid", "vertices", "interacting"):
                if k in batch:
                    labels.setdefault(k, []).append(batch[k])
    labels = {k: torch.cat(v) for k, v in labels.items()}
    slot = torch.cat(slots)
    n = slot.shape[0]
    has = labels["hand_valid"].bool()[torch.arange(n), slot]
    return torch.cat(out3).double(), torch.cat(out2), slot, has, labels


def per_hand_slots(hand_valid):
    """The hand slot of each item of a per-hand split and whether the item holds a hand.

    Item ``2i + s`` is slot ``s`` of image ``i``
    (:class:`~handpose.datasets.per_hand.PerHandSource`), so the slot comes from the item's
    position: the labels cannot tell it where slot ``s`` is empty (both hand flags are off
    there, and :func:`~handpose.training.methods.baseline.single_hand_targets` then names
    slot 1). An item without a hand must not write its prediction into the image's other slot.

    Args:
        hand_valid: (n, 2) the items' hand flags, n even.

    Returns:
        ``slot`` (n,) long, ``has`` (n,) bool.
    """
    import torch

    n = hand_valid.shape[0]
    if hand_valid.ndim != 2 or hand_valid.shape[1] != 2 or n % 2:
        raise HandposeError(
            f"a per-hand split has two items per image: hand_valid must be (2·images, 2), got "
            f"{tuple(hand_valid.shape)}."
        )
    slot = torch.arange(n) % 2
    return slot, hand_valid.bool()[torch.arange(n), slot]


def _fit_meshes(j3, slot, has, hand_model: str, num_vertices: int):
    """(n, V, 3) hand-model meshes fitted to the predicted joints (zeros where no hand)."""
    import torch

    from handpose.handmodel import HandModel
    from handpose.handmodel.fitting import fit_to_joints

    verts = torch.zeros(j3.shape[0], num_vertices, 3, dtype=torch.float64)
    for s, side in ((0, "right"), (1, "left")):
        sel = (slot == s) & has
        if sel.any():
            hm = HandModel(hand_model, side=side, flat_hand_mean=True, dtype=torch.float64)
            verts[sel] = fit_to_joints(j3[sel], hm).vertices.double()
    return verts


def evaluate_checkpoint(
    checkpoint: str | os.PathLike,
    data: str,
    split: str = "test",
    *,
    protocol: str = "freihand",
    mesh: str | os.PathLike | None = "fit",
    keep: int = 16,
    batch_size: int = 32,
    oracle_tw: bool = False,
    fps: bool = True,
    intaghand_root: str | None = None,
) -> dict:
    """Evaluate an EHPE or baseline checkpoint on ``split`` (module docstring).

    ``oracle_tw``: the PG-stage reads the true TW joints (:func:`_predict`). ``fps``: measure
    the torch images/s (None otherwise). ``intaghand_root``: "mcp" (the protocol's default:
    IntagHand, EANet, EHPE) or "wrist" (DIR) for ``interhand``; None = the protocol's default.

    ``mesh``: "fit" (:func:`handpose.handmodel.fitting.fit_to_joints`), the path of a
    :mod:`handpose.models.mesh_regressor` file, or None (no mesh metrics).

    ``freihand``: one item per sample (its valid hand). ``interhand``: one item per hand slot
    (:class:`~handpose.datasets.per_hand.PerHandSource`), folded back into two slots per image.

    Returns:
        JSON-ready ``{"protocol", "metrics", "groups", "counts", "mesh", "mesh_s", "fps_torch",
        "examples": {"index": [...], "uv": [[21 × 2], ...]}}``; ``examples`` are the first
        ``keep`` hands' predicted 2D joints (crop pixels) for the qualitative grid.
    """
    import numpy as np
    import torch

    from handpose.metrics.protocols import evaluate_predictions
    from handpose.models.ehpe import EHPE
    from handpose.training import harness
    from handpose.training.image_data import IndexedDataset, image_loader
    from handpose.training.methods.ehpe import open_split

    if protocol not in ("freihand", "interhand"):
        raise HandposeError(f"protocol must be 'freihand' or 'interhand', got {protocol!r}.")
    if intaghand_root is not None and protocol != "interhand":
        raise HandposeError("intaghand_root applies to the 'interhand' protocol only.")
    model, meta = harness.load_model(checkpoint)
    cfg = harness.method_config_from_dict(meta["method"], meta["config"])
    hands = "each" if protocol == "interhand" else "target"
    dataset = open_split(data, split, cfg.data, hands)
    loader = image_loader(
        IndexedDataset(dataset), batch_size, shuffle=False, seed=0, augmentation=None
    )
    is_ehpe = isinstance(model, EHPE)
    bone = model.config.bone_length if is_ehpe else None
    j3, uv, slot, has, labels = _predict(model, loader, bone, oracle_tw)
    if protocol == "interhand":
        slot, has = per_hand_slots(labels["hand_valid"])
    n = j3.shape[0]
    rows = torch.arange(n)
    pred_j = torch.zeros(n, 2, 21, 3, dtype=torch.float64)
    pred_j[rows[has], slot[has]] = j3[has]
    preds = {"joints3d": pred_j}
    fit_s = None
    if mesh is not None and "vertices" in labels:
        t0 = time.perf_counter()
        hand_model = dataset.meta.get("hand_model", "open")
        if str(mesh) == "fit":
            v = _fit_meshes(j3, slot, has, hand_model, labels["vertices"].shape[2])
        else:
            from handpose.models.mesh_regressor import load_mesh_regressor

            regressor, _ = load_mesh_regressor(mesh)
            if regressor.config.hand_model != hand_model:
                raise HandposeError(
                    f"the mesh regressor is for the {regressor.config.hand_model!r} hand model, "
                    f"the data uses {hand_model!r}."
                )
            with torch.no_grad():
                v = regressor(j3.float(), slot == 1).vertices.double()
        fit_s = time.perf_counter() - t0
        preds["vertices"] = torch.zeros(n, 2, *v.shape[1:], dtype=torch.float64)
        preds["vertices"][rows[has], slot[has]] = v[has]
    if protocol == "freihand":
        targets = dict(labels)
        targets["hand_valid"] = (
            labels["hand_valid"].bool() & torch.nn.functional.one_hot(slot, 2).bool()
        )
    else:
        # item 2i + s is slot s of image i; labels of the pair share the image's 3D arrays
        m = n // 2
        pair = {k: v.view(m, 2, *v.shape[1:]) for k, v in preds.items()}
        preds = {k: v[:, 0] + v[:, 1] for k, v in pair.items()}
        lab = {k: v.view(m, 2, *v.shape[1:]) for k, v in labels.items()}
        targets = {k: v[:, 0] for k, v in lab.items()}
        for k in ("hand_valid", "joint_valid"):
            targets[k] = lab[k][:, 0].bool() | lab[k][:, 1].bool()
    options = {} if intaghand_root is None else {"intaghand_root": intaghand_root}
    res = evaluate_predictions(protocol, preds, targets, **options)
    size = cfg.data.size
    example = (torch.zeros(1, 3, size, size),)
    if not is_ehpe:
        example = (*example, torch.eye(3)[None])
    keep_idx = [i for i in range(n) if bool(has[i])][:keep]
    return {
        "protocol": protocol,
        "metrics": res.metrics,
        "groups": res.groups,
        "counts": res.counts,
        "mesh": "fit" if str(mesh) == "fit" else ("regressor" if mesh else None),
        "mesh_s": fit_s,
        "fps_torch": _fps(model, example) if fps else None,
        "examples": {
            "index": keep_idx,
            "uv": [np.round(uv[i].double().numpy(), 2).tolist() for i in keep_idx],
        },
    }


# ------------------------------------------------------------------------------ one run
def _read_meta(out: Path) -> dict:
    path = out / "experiment.json"
    if not path.exists():
        raise HandposeError(f"'{out}' is not an EHPE experiment folder (no experiment.json).")
    return json.loads(path.read_text())


def _spec_from_key(key: str, meta: dict) -> RunSpec:
    for s in meta.get("runs", []):
        spec = RunSpec(**s)
        if spec.key == key:
            return spec
    raise HandposeError(f"run '{key}' is not planned in this experiment.")


def _resource_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_one(out: str | os.PathLike, key: str) -> dict:
    """Train (or resume) and evaluate one planned run; writes ``OUT/<key>/result.json``."""
    import torch

    from handpose.training import harness

    torch.set_num_threads(1)
    out = Path(out)
    meta = _read_meta(out)
    spec = _spec_from_key(key, meta)
    preset, sets = meta["preset"], meta.get("sets", [])
    data = meta["data"][spec.data]["path"]
    run_dir = out / spec.key
    run_dir.mkdir(parents=True, exist_ok=True)
    if spec.kind == "mesh":
        return _run_mesh(spec, data, run_dir)
    trained = run_dir / "trained.json"
    stage = _stage(spec)
    if spec.kind == "baseline":
        cfg, method, requires = baseline_config(spec, preset, sets), "baseline", {}
    else:
        cfg, method = ehpe_config(spec, preset, sets), "ehpe"
        requires = {}
        if spec.kind == "pg":
            requires = {"tw": _checkpoint(out, spec.tw_key, "tw")}
    ckpt = _checkpoint(out, spec.key, stage)
    if _trained(out, spec):  # (an archived run restored has no checkpoint: it trains again)
        timing = json.loads(trained.read_text())
    else:
        resumed = ckpt.exists()
        t0, c0 = time.perf_counter(), _resource_cpu()
        harness.train(method, cfg, data, run_dir, stages=[stage], resume=resumed, requires=requires)
        timing = {
            "train_s": None if resumed else time.perf_counter() - t0,
            "train_cpu_s": None if resumed else _resource_cpu() - c0,
        }
        atomic_write_text(trained, json.dumps(timing) + "\n")
    result = {
        "spec": asdict(spec),
        "key": spec.key,
        "group": spec.group,
        "preset": preset,
        "sets": sets,
        "hardware": hardware(),
        **timing,
    }
    from handpose.training import read_metrics

    rows = read_metrics(run_dir / stage)
    last_val = {}
    for r in rows:
        last_val.update({k: float(v) for k, v in r.items() if k.startswith("val/") and v != ""})
    result["val"] = last_val
    if spec.complete:
        t0, c0 = time.perf_counter(), _resource_cpu()
        protocol = "interhand" if spec.data == "twohand" else "freihand"
        regressor = out / MESH_RUN.key / "regressor.safetensors"
        result.update(evaluate_checkpoint(ckpt, data, "test", protocol=protocol, mesh=regressor))
        result["eval_s"] = time.perf_counter() - t0
        result["eval_cpu_s"] = _resource_cpu() - c0
        if spec.kind == "pg" and protocol == "freihand":
            result["oracle_tw"] = oracle_tw_result(ckpt, data)
        heldout = meta["data"].get("twohand_heldout")
        if spec.data == "twohand" and heldout:
            result["generalisation"] = generalisation_result(ckpt, data, heldout["path"], regressor)
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    atomic_write_text(run_dir / "result.json", json.dumps(result, indent=2) + "\n")
    return result


def generalisation_result(ckpt, data: str, heldout: str, mesh) -> dict:
    """A two-hand checkpoint on the main and the held-out domain's test splits, IntagHand
    alignment rooted at the wrist (DIR's protocol): ``{"root", "test", "heldout"}`` metrics."""
    out: dict = {"root": "wrist"}
    for where, path in (("test", data), ("heldout", heldout)):
        r = evaluate_checkpoint(ckpt, path, "test", protocol="interhand", mesh=mesh, keep=0,
                                fps=False, intaghand_root="wrist")  # fmt: skip
        out[where] = r["metrics"]
    return out


def _needs_generalisation(spec: RunSpec, meta: dict) -> bool:
    return spec.complete and spec.data == "twohand" and "twohand_heldout" in meta.get("data", {})


def oracle_tw_result(ckpt: str | os.PathLike, data: str) -> dict:
    """The PG-stage of a 'pg' checkpoint given the true TW joints on the test split: joint
    metrics and joint groups (no mesh, no timing)."""
    r = evaluate_checkpoint(ckpt, data, "test", mesh=None, oracle_tw=True, fps=False)
    return {"metrics": r["metrics"], "groups": r["groups"]}


def _run_mesh(spec: RunSpec, data: str, run_dir: Path) -> dict:
    """Train the joints → mesh regressor; measure it (and the fit, on a few hands) on the test
    split's ground-truth joints, clean and with 5 mm noise."""
    import torch

    from handpose.datasets.sources import open_source
    from handpose.geometry.procrustes import procrustes_align
    from handpose.handmodel import HandModel
    from handpose.handmodel.fitting import fit_to_joints
    from handpose.models.mesh_regressor import (
        _labels,
        save_mesh_regressor,
        train_mesh_regressor,
    )

    t0, c0 = time.perf_counter(), _resource_cpu()
    train = open_source(data, "train")
    model, info = train_mesh_regressor(train, seed=spec.seed)
    save_mesh_regressor(model, run_dir / "regressor.safetensors", info)
    result = {"spec": asdict(spec), "key": spec.key, "info": info,
              "train_s": time.perf_counter() - t0, "train_cpu_s": _resource_cpu() - c0}  # fmt: skip
    test = open_source(data, "test")
    j, v, left = _labels([test[i] for i in range(min(200, len(test)))])
    g = torch.Generator().manual_seed(0)
    checks = {}
    for noise in (0.0, 5.0):
        jn = (j + noise / 1000 * torch.randn(j.shape, generator=g)).double()
        with torch.no_grad():
            rv = model(jn.float(), left).vertices.double()
        pa = procrustes_align(rv, v.double(), mode="freihand")
        checks[f"regressor_noise{noise:g}mm"] = {
            "mpvpe_mm": float((rv - v).norm(dim=-1).mean() * 1000),
            "pa_mpvpe_mm": float((pa - v).norm(dim=-1).mean() * 1000),
            "hands": int(j.shape[0]),
        }
        right = ~left
        sel = torch.nonzero(right).flatten()[:8]
        t1 = time.perf_counter()
        fv = fit_to_joints(jn[sel], HandModel(train.meta.get("hand_model", "open"),
                                              side="right", dtype=torch.float64)).vertices  # fmt: skip
        pa = procrustes_align(fv, v[sel].double(), mode="freihand")
        checks[f"fit_noise{noise:g}mm"] = {
            "mpvpe_mm": float((fv - v[sel]).norm(dim=-1).mean() * 1000),
            "pa_mpvpe_mm": float((pa - v[sel]).norm(dim=-1).mean() * 1000),
            "hands": int(sel.numel()),
            "s_per_hand": (time.perf_counter() - t1) / max(1, sel.numel()),
        }
    result["checks"] = checks
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    atomic_write_text(run_dir / "result.json", json.dumps(result, indent=2) + "\n")
    return result


# ------------------------------------------------------------------------------ running
def hardware() -> dict:
    import torch

    from handpose.utils.machine import cpu_name

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def _execute(out: Path, spec: RunSpec) -> dict:
    run_dir = out / spec.key
    run_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "handpose.experiments.ehpe", "run", str(out), spec.key]
    common.run_child(cmd, run_dir / "log.txt")
    return json.loads((run_dir / "result.json").read_text())


def _ensure_data(path: Path, kind: str, synth: SynthSize, log) -> dict:
    cmd = synth.command(kind, path)
    made = False
    if not (path / "manifest.json").exists():
        common.synthesise(cmd, path, f"the {kind} data", log)
        made = True
    return describe_data(path, shlex.join(cmd) if made else None)


def describe_data(path: Path, command: str | None) -> dict:
    """Kind, counts per split, image size and generator settings of a shard folder."""
    man = json.loads((Path(path) / "manifest.json").read_text())
    gen = man.get("generator", {})
    counts = {s: sum(int(f["count"]) for f in files) for s, files in man["splits"].items()}
    return {
        "path": str(path),
        "kind": man.get("kind"),
        "counts": counts,
        "size": gen.get("size"),
        "seed": gen.get("seed"),
        "hand_model": man.get("meta", {}).get("hand_model"),
        "command": command,
    }


def artefact(out: Path, spec: RunSpec) -> Path | None:
    """The file of a run that later runs load: a TW run's checkpoint, the mesh regressor."""
    if spec.kind == "mesh":
        return out / spec.key / "regressor.safetensors"
    if spec.kind == "tw":
        return _checkpoint(out, spec.key, "tw")
    return None


def _checkpoint(out: Path, key: str, stage: str) -> Path:
    """Where the harness leaves run ``key``'s last checkpoint of ``stage``."""
    return Path(out) / key / stage / "checkpoints" / "last.ckpt"


def _stage(spec: RunSpec) -> str:
    """The harness stage a (non-mesh) run trains: the baseline's ``main``, else its kind."""
    return "main" if spec.kind == "baseline" else spec.kind


def _trained(out: Path, spec: RunSpec) -> bool:
    """Whether :func:`run_one` would skip the run's training (only evaluate it)."""
    ckpt = _checkpoint(out, spec.key, _stage(spec))
    return (out / spec.key / "trained.json").exists() and ckpt.exists()


def restored_without_artefact(out: Path, specs: Sequence[RunSpec], done: set) -> set[str]:
    """The finished runs (``result.json``) that must run again because their artefact is
    missing (a folder restored from :func:`~handpose.experiments.common.archive_records`)
    while a planned run that loads it has not finished: a PG run still to train needs its TW
    checkpoint, every model still to evaluate the mesh regressor."""
    again = set()
    for s in specs:
        path = artefact(out, s)
        if s.key not in done or path is None or path.exists():
            continue
        users = [p for p in specs if p.key not in done
                 and ((p.kind == "pg" and p.tw_key == s.key and not _trained(out, p))
                      or (s.kind == "mesh" and p.complete and p.kind != "mesh"))]  # fmt: skip
        if users:
            again.add(s.key)
    return again


def _ready(spec: RunSpec, done: set, failed: dict, planned: set) -> bool | None:
    """True = can start, False = wait, None = a run it needs failed."""
    needs = []
    if spec.complete and spec.kind != "mesh" and MESH_RUN.key in planned:
        needs.append(MESH_RUN.key)
    if spec.kind == "pg":
        needs.append(spec.tw_key)
        full = RunSpec("pg", spec.seed, spec.backbone, spec.alloc, "full", spec.data).key
        if spec.variant != "full" and full in planned:
            needs.append(full)  # the full variant builds the shared feature cache
    if any(n in failed for n in needs):
        return None
    return all(n in done for n in needs)


def run_experiment(
    out: str | os.PathLike = "runs/ehpe_exp",
    preset: str = "cpu-small",
    tables: Sequence[str] = ("1", "3", "4", "5", "6", "2", "fig1"),
    seeds: Sequence[int] = (0, 1, 2),
    backbones: Sequence[str] = ("efficientnet_lite0", "mobilenetv3_small_050", "resnet50"),
    jobs: int = 2,
    data: str | os.PathLike | None = None,
    twohand_data: str | os.PathLike | None = None,
    twohand_heldout: str | os.PathLike | None = None,
    sets: Sequence[str] = (),
    investigate: bool = False,
    only: Sequence[str] = (),
    synth: SynthSize | None = None,
    doc: str | os.PathLike | None = "docs/results/ehpe.md",
    merge: Sequence[str | os.PathLike] = (),
    notes: str | os.PathLike | None = None,
    progress: bool = True,
    archive: str | os.PathLike | None = None,
) -> dict:
    """Run (or continue) the chosen tables and write the report (module docstring).

    Args:
        out: experiment folder.
        preset: EHPE preset (or YAML file) of every run; the baseline is derived from it.
        tables: from :data:`TABLES`.
        seeds: one set of runs per seed.
        backbones: Table 1's rows; the first is the backbone of every other table.
        jobs: child processes at a time (one torch thread each).
        data, twohand_data: shard folders (default ``OUT/data/{single,twohand}``, synthesised
            when missing with ``synth``).
        twohand_heldout: a held-out-domain two-hand shard folder with a test split (e.g. the
            DIR experiment's): Table 2's models are also scored on it (module docstring,
            **Generalisation**); their finished runs without that score are evaluated again.
        sets: config overrides ``key=value`` for every EHPE run (and the derived baselines).
        investigate: also run :data:`INVESTIGATE`'s PG variants.
        only: keep only the planned runs with these names (:func:`select_runs`).
        doc: the markdown report (None: none); ``merge`` other experiment folders whose
            results the report includes; ``notes`` a markdown file included verbatim.
        archive: a folder outside ``out`` that gets the records (``experiment.json``, each
            run's ``result.json``) after every finished run
            (:func:`~handpose.experiments.common.archive_records`), e.g. in a repository;
            ``--report-only --out ARCHIVE`` reports from it, and a copy of it as ``out``
            continues the experiment.
    Returns:
        :func:`summarize` of every finished run.
    """
    from tqdm.auto import tqdm

    if jobs < 1:
        raise HandposeError(f"--jobs must be ≥ 1, got {jobs}")
    specs = select_runs(plan_runs(tables, seeds, backbones, investigate=investigate), only)
    for s in [s for s in specs if s.kind != "mesh"][:1]:
        ehpe_config(s, preset, sets)  # validate the preset and overrides before any work
    from handpose.models.backbones.registry import BACKBONES

    for bb in backbones:
        if bb not in BACKBONES:
            raise HandposeError(
                f"--backbones: unknown backbone {bb!r}; choose from {', '.join(BACKBONES)}."
            )
    out = check_experiment_paths(
        out, doc, notes, merge,
        {"--data": (data, ("single",)), "--twohand-data": (twohand_data, ("twohand",))},
    )  # fmt: skip
    if twohand_heldout is not None:
        from handpose.utils.validate import shard_folder

        shard_folder(twohand_heldout, "--twohand-heldout folder", ("twohand",))
    if archive is not None:
        common.check_archive(out, archive)
    out.mkdir(parents=True, exist_ok=True)
    common.lock_folder(out)  # one experiment per folder at a time
    synth = synth or SynthSize()
    log = common.make_log(progress)

    meta_path = out / "experiment.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"sessions": []}
    kinds = {s.data for s in specs}
    paths = {
        "single": Path(data) if data else out / "data" / "single",
        "twohand": Path(twohand_data) if twohand_data else out / "data" / "twohand",
    }
    described = dict(meta.get("data", {}))
    for kind in sorted(kinds):
        d = _ensure_data(paths[kind], kind, synth, log)
        if d["command"] is None and kind in described:
            d["command"] = described[kind].get("command")
        elif d["command"] is None:  # made elsewhere: the same settings, from its manifest
            c = d["counts"]
            line = synth_command(kind, paths[kind], c.get("train", 0), c.get("val", 0),
                                 c.get("test", 0), d["seed"], d["size"])  # fmt: skip
            d["command"] = shlex.join(line) + "   # (the settings of its manifest)"
        described[kind] = d
    if twohand_heldout is not None:
        described["twohand_heldout"] = describe_data(Path(twohand_heldout), None)
        if "test" not in described["twohand_heldout"]["counts"]:
            raise HandposeError(
                f"the --twohand-heldout folder '{twohand_heldout}' has no test split."
            )
    cmd = ["handpose", "experiment", "ehpe", "--preset", preset, "--tables", *tables,
           "--seeds", *map(str, seeds), "--backbones", *backbones, "--jobs", str(jobs),
           "--out", str(out)]  # fmt: skip
    if data:
        cmd += ["--data", str(data)]
    if twohand_data:
        cmd += ["--twohand-data", str(twohand_data)]
    if twohand_heldout:
        cmd += ["--twohand-heldout", str(twohand_heldout)]
    cmd += [x for s in sets for x in ("--set", s)] + (["--investigate"] if investigate else [])
    cmd += ["--only", *only] if only else []
    all_runs = list(dict.fromkeys([*[RunSpec(**r) for r in meta.get("runs", [])], *specs]))
    session = {"start": datetime.now(UTC).isoformat(timespec="seconds"), "jobs": jobs}
    meta.update(
        preset=preset,
        sets=list(sets),
        data=described,
        hardware=hardware(),
        runs=[asdict(s) for s in all_runs],
        command=shlex.join(cmd),
        commands=list(dict.fromkeys([*meta.get("commands", []), shlex.join(cmd)])),
    )
    meta.setdefault("sessions", []).append(session)
    common.write_meta(meta_path, meta)

    planned = {s.key for s in specs}

    def finished_before(s: RunSpec) -> bool:
        path = out / s.key / "result.json"
        if not path.exists():
            return False
        return not _needs_generalisation(s, meta) or "generalisation" in json.loads(
            path.read_text()
        )

    done = {s.key for s in all_runs if finished_before(s)}  # all_runs includes specs
    done -= restored_without_artefact(out, specs, done)
    pending = [s for s in specs if s.key not in done]
    started = time.time()
    log(f"{len(specs)} runs, {len(specs) - len(pending)} already done, {len(pending)} to go")
    bar = tqdm(total=len(specs), initial=len(specs) - len(pending), desc="ehpe runs",
               disable=not progress)  # fmt: skip

    def finished(s: RunSpec, res: dict) -> None:
        done.add(s.key)
        bar.update(1)
        pa = res.get("metrics", {}).get("pa_mpjpe") or res.get("metrics", {}).get("mpjpe_all")
        t = res.get("train_cpu_s")
        log(
            f"done {s.key}: "
            + (f"{pa:.2f} mm, " if pa is not None else "")
            + f"train {'?' if t is None else f'{t:.0f}'} CPU-s"
        )
        if doc is not None:
            write_report([out, *merge], doc, notes)
        if archive is not None:
            common.archive_records(out, archive)

    try:
        failed = common.schedule_runs(
            pending,
            jobs,
            common.retry_once(lambda s: _execute(out, s), log, "it resumes"),
            finished,
            log,
            lambda s, failed: _ready(s, done, failed, planned),
        )
    finally:
        bar.close()
        common.end_session(meta_path, meta, session, started, runs_done=len(done))
        if doc is not None:
            write_report([out, *merge], doc, notes)
        if archive is not None:
            common.archive_records(out, archive)
        common.release_folder(out)
    summary = summarize(collect_results([out, *merge]))
    common.raise_failed(failed)
    return summary


# ------------------------------------------------------------------------------ results
def collect_results(folders: Sequence[str | os.PathLike]) -> list[dict]:
    """Every ``result.json`` under the experiment folders (each with its ``folder``)."""
    out = []
    for f in folders:
        for p in sorted(Path(f).glob("*/seed*/*/*/result.json")):  # (not the mesh regressor)
            r = json.loads(p.read_text())
            r["folder"] = str(f)
            out.append(r)
    return out


METRIC_KEYS = (
    "pa_mpjpe", "pa_mpvpe", "pa_f@5mm", "pa_f@15mm", "mpjpe", "mpjpe_all", "mpjpe_sh",
    "mpjpe_ih", "mpvpe_all", "mrrpe",
)  # fmt: skip


def _group_mean_std(per_run: Iterable[Mapping[str, float | None]]) -> dict[str, tuple]:
    """Joint group → (mean, std) over the runs' group errors (None values skipped)."""
    g: dict[str, list[float]] = {}
    for groups in per_run:
        for name, v in groups.items():
            if v is not None:
                g.setdefault(name, []).append(v)
    return {k: common.mean_std(v) for k, v in g.items()}


def summarize(results: list[dict]) -> dict:
    """Mean ± sample std over seeds per (preset, data, backbone, run name).

    Returns:
        ``{(preset, data, backbone, name): {"n", "seeds", "by_seed": {metric: {seed: v}},
        metric: (mean, std), "groups": {group: (mean, std)}, "fps": (mean, std),
        "generalisation": {"test" | "heldout": {metric: {seed: v}}} (Table 2's runs scored on
        both domains, wrist-rooted; empty without),
        "train_cpu_s": (mean, std) | None, "hardware": ..., and for PG runs evaluated with the
        true TW joints "oracle": {"by_seed", "pa_mpjpe", "groups"}}}``
    """
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        sp = r["spec"]
        name = RunSpec(**sp).name
        groups.setdefault((r["preset"], sp["data"], sp["backbone"], name), []).append(r)
    summary = {}
    for key, rs in groups.items():
        e: dict = {"n": len(rs), "seeds": sorted(r["spec"]["seed"] for r in rs), "by_seed": {}}
        e["hardware"] = rs[0].get("hardware", {})
        for m in METRIC_KEYS:
            vals = {r["spec"]["seed"]: r["metrics"][m] for r in rs
                    if r.get("metrics", {}).get(m) is not None}  # fmt: skip
            if vals:
                e["by_seed"][m] = vals
                e[m] = common.mean_std(list(vals.values()))
        e["groups"] = _group_mean_std(
            r.get("groups", {}).get("pa_mpjpe") or r.get("groups", {}).get("mpjpe") or {}
            for r in rs
        )
        fps = [r["fps_torch"] for r in rs if r.get("fps_torch")]
        e["fps"] = common.mean_std(fps) if fps else None
        cpu = [r["train_cpu_s"] for r in rs if r.get("train_cpu_s") is not None]
        e["train_cpu_s"] = common.mean_std(cpu) if cpu else None
        tw = [r["val"]["val/tw_uv_px"] for r in rs if "val/tw_uv_px" in r.get("val", {})]
        e["tw_uv_px"] = common.mean_std(tw) if tw else None
        oracle = {r["spec"]["seed"]: r["oracle_tw"] for r in rs if r.get("oracle_tw")}
        if oracle:
            pa = {k: o["metrics"]["pa_mpjpe"] for k, o in oracle.items()}
            groups = (o.get("groups", {}).get("pa_mpjpe") or {} for o in oracle.values())
            e["oracle"] = {"by_seed": pa, "pa_mpjpe": common.mean_std(list(pa.values())),
                           "groups": _group_mean_std(groups)}  # fmt: skip
        gen: dict = {}
        for r in rs:
            for where in ("test", "heldout"):
                for m, v in r.get("generalisation", {}).get(where, {}).items():
                    if isinstance(v, (int, float)):
                        gen.setdefault(where, {}).setdefault(m, {})[r["spec"]["seed"]] = float(v)
        e["generalisation"] = gen
        summary[key] = e
    return summary


def paired_delta(entry: dict, ref: dict, metric: str = "pa_mpjpe"):
    """``metric`` difference to ``ref`` over the seeds both have: (mean Δ, std Δ, mean Δ in %
    of ref on those seeds, seeds with Δ < 0, seeds compared), or None."""
    return common.seed_delta(entry["by_seed"].get(metric, {}), ref["by_seed"].get(metric, {}), True)


# ------------------------------------------------------------------------------ report
LABELS_T3 = {"all": "TW only (all 21 joints by the TW-stage)", "none": "PG only (no TW-stage)",
             "full": "EHPE (TW + PG)"}  # fmt: skip
ROWS_T5 = ("neither", "fem_only", "spi_only", "full")
ROWS_T6 = ("fixed", "layers1", "layers3", "full")
T5_MARKS = {"neither": ("×", "×"), "fem_only": ("×", "✓"), "spi_only": ("✓", "×"),
            "full": ("✓", "✓")}  # fmt: skip
T6_MARKS = {"fixed": ("fixed", 2), "layers1": ("dynamic", 1), "layers3": ("dynamic", 3),
            "full": ("dynamic", 2)}  # fmt: skip


def _entry(summary, preset, backbone, name, data="single"):
    return summary.get((preset, data, backbone, name))


def _cells(e, keys=("pa_mpjpe", "pa_mpvpe")) -> list[str]:
    if e is None:
        return ["not run"] + [""] * (len(keys) - 1)
    return [common.fmt_mean_std(e.get(k), e["n"], 3 if "f@" in k else 2) for k in keys]


def _row_table(
    summary, preset, backbone, rows, ref_name, paper, labels, lead_cols=None
) -> list[str]:
    """Rows of (label, paper PA-MPJPE/PA-MPVPE, ours, Δ vs ref)."""
    ref = _entry(summary, preset, backbone, ref_name)
    out = []
    for name, key in rows:
        e = _entry(summary, preset, backbone, name)
        pp = paper.get(key, (None, None))
        delta = (
            "—"
            if (e is None or ref is None or name == ref_name)
            else common.fmt_delta_pct(paired_delta(e, ref))
        )
        lead = lead_cols(key) if lead_cols else [labels.get(key, key)]
        n = e["n"] if e else 0
        out.append(
            "| "
            + " | ".join(
                [
                    *lead,
                    common.fmt_value(pp[0], 1),
                    common.fmt_value(pp[1], 1),
                    *_cells(e),
                    delta,
                    str(n),
                ]
            )
            + " |"
        )
    return out


def _presets(summary) -> list[str]:
    return sorted({k[0] for k in summary}, key=lambda p: (p != "cpu-small", p))


def plot_tables(
    summary, preset: str, backbone: str, path: Path, tables: Sequence[str] = ABLATION_TABLES
) -> Path | None:
    """One panel per ablation table in ``tables`` (of 3–6; an experiment that plans Table 4 only
    draws Table 4's panel): our PA-MPJPE relative to full EHPE (bars, mean ± std over seeds)
    beside the paper's (dots), so that orderings can be compared across scales. None when no
    full EHPE result or no panel is left."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from handpose.utils.io import atomic_path

    full = _entry(summary, preset, backbone, f"pg_{_folder(MAIN)}_full")
    if full is None:
        return None
    panels = [
        ("3", [("TW only", "tw_all", PAPER["3"]["all"]), ("PG only", "tw_none",
                     PAPER["3"]["none"]), ("EHPE", "pg_WT_full", PAPER["3"]["full"])]),
        ("4", [(a, f"pg_{_folder(a)}_full", PAPER["4"][a]) for a in ALLOCATIONS]),
        ("5", [(f"SPI {T5_MARKS[v][0]} FEM {T5_MARKS[v][1]}", f"pg_WT_{v}",
                      PAPER["5"][v]) for v in ROWS_T5]),
        ("6", [(f"{T6_MARKS[v][0]} {T6_MARKS[v][1]}L", f"pg_WT_{v}", PAPER["6"][v])
                     for v in ROWS_T6]),
    ]  # fmt: skip
    panels = [(f"Table {t}", rows) for t, rows in panels if t in tables]
    if not panels:
        return None
    base = full["pa_mpjpe"][0]
    ratios = [max(len(rows), 3) for _, rows in panels]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(1 + 0.8 * sum(ratios), 4.2), squeeze=False,
        gridspec_kw={"width_ratios": ratios},
    )  # fmt: skip
    axes = axes[0]
    for ax, (title, rows) in zip(axes, panels):
        x = list(range(len(rows)))
        ours, err, paper = [], [], []
        for _, name, pp in rows:
            e = _entry(summary, preset, backbone, name)
            if e is None or "pa_mpjpe" not in e:
                ours.append(math.nan)
                err.append(0.0)
            else:
                ours.append(100 * e["pa_mpjpe"][0] / base)
                err.append(100 * e["pa_mpjpe"][1] / base)
            paper.append(100 * pp[0] / PAPER["3"]["full"][0])
        ax.bar(x, ours, yerr=err, capsize=3, color="tab:blue", label="ours (synthetic, CPU)")
        ax.plot(x, paper, "o", color="tab:red", label="paper (FreiHAND)")
        ax.axhline(100, color="gray", lw=0.8)
        ax.set_xticks(x, [r[0] for r in rows], rotation=35, ha="right", fontsize=8)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("PA-MPJPE, % of full EHPE")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path


def qualitative_grid(results: list[dict], data: str, path: Path, count: int = 8) -> Path | None:
    """Test crops with the ground truth, the baseline's and EHPE's 2D joints (one seed)."""
    import numpy as np

    from handpose.reports.joint_grid import joint_grid
    from handpose.training import harness
    from handpose.training.methods.baseline import single_hand_targets
    from handpose.training.methods.ehpe import open_split

    def pick(name):
        rs = [r for r in results if RunSpec(**r["spec"]).name == name and r.get("examples")
              and r["spec"]["data"] == "single"]  # fmt: skip
        return min(rs, key=lambda r: r["spec"]["seed"]) if rs else None

    ehpe, base = pick(f"pg_{_folder(MAIN)}_full"), pick("baseline")
    if ehpe is None:
        return None
    ckpt = _checkpoint(ehpe["folder"], ehpe["key"], "pg")
    if ckpt.exists():
        _, meta = harness.load_model(ckpt)
        cfg = harness.method_config_from_dict("ehpe", meta["config"])
    else:  # an archived run (records only): the run's config from its preset and overrides
        cfg = ehpe_config(RunSpec(**ehpe["spec"]), ehpe["preset"], ehpe.get("sets", []))
    ds = open_split(data, "test", cfg.data)
    images, sets = [], []
    for k, i in enumerate(ehpe["examples"]["index"][:count]):
        item = ds[i]
        keys = ("hand_valid", "joints3d", "joints2d", "joint_valid")
        tg = single_hand_targets({kk: v[None] for kk, v in item.items() if kk in keys})
        row = [("ground truth", tg["joints2d"][0].numpy(), (40, 220, 40))]
        if base is not None and i in base["examples"]["index"]:
            j = base["examples"]["index"].index(i)
            row.append(("baseline", np.asarray(base["examples"]["uv"][j]), (230, 140, 30)))
        row.append(("EHPE", np.asarray(ehpe["examples"]["uv"][k]), (230, 40, 40)))
        images.append((item["image"].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
        sets.append(row)
    return joint_grid(images, sets, path)


def main_backbone(runs: Sequence[RunSpec], summary: dict, preset: str) -> str:
    """The backbone of Tables 2–6: the first planned PG backbone with finished PG results, else
    any backbone with finished PG results, else the first planned PG backbone, else any with
    results. (Taking the first planned one alone showed finished runs as "not run" when an
    earlier plan with another backbone came first in experiment.json.)"""
    finished = [k[2] for k in summary if k[0] == preset and k[3].startswith("pg_")]
    planned = list(dict.fromkeys(r.backbone for r in runs if r.kind == "pg"))
    for bb in (*[b for b in planned if b in finished], *finished, *planned):
        return bb
    return next((k[2] for k in summary if k[0] == preset), "mobilenetv3_small_050")


def planned_tables(runs: Sequence[RunSpec], main_backbone: str) -> set[str]:
    """The tables (:data:`TABLES`) the experiment plans for ``main_backbone``: those all of
    whose runs it plans, and those with a planned run no other table has (``--only tw_all``
    reports Table 3, its other rows "not run"); every table when there is none. A folder made
    with ``--tables 3`` reports Table 3."""
    seeds = sorted({r.seed for r in runs if r.kind != "mesh"})
    if not seeds:
        return set(TABLES)
    have = set(runs)
    plans = {t: set(plan_runs([t], seeds, [main_backbone])) for t in TABLES}
    shown = set()
    for t, plan in plans.items():
        others = set().union(*(p for u, p in plans.items() if u != t))
        if plan <= have or (plan - others) & have:
            shown.add(t)
    return shown or set(TABLES)


def _keep_sections(lines: list[str], shown: set[str]) -> list[str]:
    """``lines`` without the "## Table N" / "## Figure 1" sections of tables not in ``shown``
    (the figure of Tables 3–6, which sits in Table 6's section, is kept)."""
    out, keep = [], True
    for line in lines:
        if line.startswith("## "):
            head = line[3:]
            t = "fig1" if head.startswith("Figure 1") else None
            if head.startswith("Table ") and head[6:7].isdigit():
                t = head[6:7]
            keep = t is None or t in shown
        if keep:
            out.append(line)
        elif line.startswith("![Table") and "relative to full EHPE" in line:
            out += [line, ""]
    return out


def _oracle_section(summary: dict, preset: str, backbone: str) -> list[str]:
    """Markdown lines: every PG variant of the main allocation on the test split with the
    TW-stage's estimates and with the true TW joints (:func:`oracle_tw_result`); [] if none."""
    rows = []
    for v, (label, _) in PG_VARIANTS.items():
        e = _entry(summary, preset, backbone, f"pg_{_folder(MAIN)}_{v}")
        if e and e.get("oracle"):
            rows.append((label, e))
    if not rows:
        return []
    order = ("tip", "dip", "pip", "mcp", "wrist")
    L = ["", "## The PG-stage given the true fingertips and wrist", "",
         "The same checkpoints, evaluated with the PG-stage reading the true TW joints (the "
         "labels on the TW-stage's 2.5D grid) instead of the TW-stage's estimates: how much of "
         "the error the TW-stage's inputs cause, and what each PG-stage does with clean ones. "
         "Groups: PA-MPJPE per joint group with the true TW joints. A PG-stage that keeps the "
         "TW joints passes them on exactly, so its TIP and W errors come only from the lift to "
         "3D and the Procrustes alignment.", "",
         "| variant | PA-MPJPE, TW estimates | PA-MPJPE, true TW joints | Δ (true − estimates) "
         "| TIP | DIP | PIP | MCP | W | seeds |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for label, e in rows:
        o = e["oracle"]
        n = len(o["by_seed"])
        d = common.seed_delta(o["by_seed"], e["by_seed"].get("pa_mpjpe", {}), percent=True)
        g = [common.fmt_mean_std(o["groups"].get(k), n) for k in order]
        L.append(f"| {label} | {common.fmt_mean_std(e.get('pa_mpjpe'), e['n'])} | "
                 f"{common.fmt_mean_std(o['pa_mpjpe'], n)} | {common.fmt_delta_pct(d)} | "
                 + " | ".join(g) + f" | {n} |")  # fmt: skip
    return L


def write_report(
    folders: Sequence[str | os.PathLike],
    doc: str | os.PathLike,
    notes: str | os.PathLike | None = None,
) -> str:
    """Write the markdown report (and its pictures beside it) from the finished runs of the
    experiment folders (the first one's experiment.json gives the commands, data, hardware).
    Works on partial experiments."""
    from handpose.reports.evaluation import plot_group_means

    folders = [Path(f) for f in folders]
    doc = Path(doc)
    doc.parent.mkdir(parents=True, exist_ok=True)
    metas = [_read_meta(f) for f in folders if (f / "experiment.json").exists()]
    meta = metas[0] if metas else {}
    results = collect_results(folders)
    summary = summarize(results)
    presets = _presets(summary) or [meta.get("preset", "cpu-small")]
    preset = presets[0]
    runs = [RunSpec(**r) for r in meta.get("runs", [])]
    main_bb = main_backbone(runs, summary, preset)
    shown = planned_tables(runs, main_bb)
    stem = doc.stem
    L: list[str] = ["# EHPE: measured results beside the paper's", ""]
    L += [
        f"Generated by `handpose.experiments.ehpe` from {len(results)} finished runs "
        f"({sum(r.kind != 'mesh' for r in runs)} planned in `{folders[0]}`, besides the "
        "joints → mesh regressor). Unless a row says otherwise: preset "
        f"`{preset}`, backbone `{main_bb}`, synthetic `single` data, test split; errors in mm "
        "after Procrustes alignment (FreiHAND protocol), mean ± sample std over seeds; Δ = "
        "paired difference to the table's reference row over the seeds both have "
        '("k/n lower" counts seeds where the row is better). The paper\'s numbers are on '
        "real FreiHAND images with 256 px inputs and ImageNet-pretrained backbones trained on a "
        "GPU: **compare orderings and relative gaps, not absolute values.**",
        "",
    ]
    # ---- Table 1
    L += ["## Table 1: backbones, EHPE vs the baseline", ""]
    L += [
        "Baseline = backbone + 2.5D heatmap + soft-argmax for all 21 joints "
        "(`handpose train baseline`), trained with the TW-stage's backbone, input, heatmap "
        "resolution and epochs. CPU speed: images/s at batch 1, one torch thread, measured "
        "inside each run on a shared machine (noisy; docs/benchmarks/ehpe.md has the "
        "controlled measurement). The paper's FPS are on a GPU.",
        "",
        "| preset | backbone | method | paper PA-MPJPE | paper PA-MPVPE | paper F@5 | paper F@15 "
        "| paper FPS (GPU) | PA-MPJPE | PA-MPVPE | F@5 | F@15 | CPU img/s | Δ PA-MPJPE vs "
        "baseline | seeds |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    t1_keys = ("pa_mpjpe", "pa_mpvpe", "pa_f@5mm", "pa_f@15mm")
    bbs = sorted({k[2] for k in summary if k[1] == "single" and k[3] in ("baseline",
                  f"pg_{_folder(MAIN)}_full")}, key=lambda b: (b != main_bb, b))  # fmt: skip
    for p in presets:
        for b in bbs:
            e = _entry(summary, p, b, f"pg_{_folder(MAIN)}_full")
            bl = _entry(summary, p, b, "baseline")
            if e is None and bl is None:
                continue
            pp = PAPER["1"].get(b, (None,) * 5)
            for label, ent, paper in (("EHPE", e, pp), ("baseline", bl, (None,) * 5)):
                if ent is None:
                    continue
                delta = (
                    common.fmt_delta_pct(paired_delta(ent, bl)) if (label == "EHPE" and bl) else "—"
                )
                paper_cells = [common.fmt_value(paper[0], 1), common.fmt_value(paper[1], 1), common.fmt_value(paper[2], 3),
                               common.fmt_value(paper[3], 3), common.fmt_value(paper[4], 0)]  # fmt: skip
                L.append(
                    "| " + " | ".join([p, b, label, *paper_cells, *_cells(ent, t1_keys),
                                       common.fmt_mean_std(ent["fps"], ent["n"], 1), delta, str(ent["n"])])
                    + " |"
                )  # fmt: skip
    L += [
        "",
        "Paper rows without a counterpart here: FastViT-MA36 alone (the FastViT regressor, "
        "PA-MPJPE 6.6, 75 FPS), and EHPE with HRNet / FastViT-MA36 at full size (too slow to "
        "train on this CPU; `--preset paper-freihand --backbones ...` on a GPU, merged with "
        "`--merge`).",
        "",
    ]
    # ---- Table 2
    L += ["## Table 2: two hands (synthetic `twohand`, per-hand stages)", ""]
    L += [
        "InterHand2.6M protocol (IntagHand / EANet / EHPE scale alignment at the middle MCP), "
        "each hand cropped and estimated on its own, the two hands' results combined per image.",
        "",
        "| method | paper MPJPE | paper MPVPE | MPJPE all | MPJPE SH | MPJPE IH | MPVPE all "
        "| MRRPE | seeds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in presets:
        e = _entry(summary, p, main_bb, f"pg_{_folder(MAIN)}_full", "twohand")
        keys = ("mpjpe_all", "mpjpe_sh", "mpjpe_ih", "mpvpe_all", "mrrpe")
        cells = _cells(e, keys) if e else ["not run", "", "", "", ""]
        L.append(
            f"| EHPE ({p}) | 5.73 | 5.87 | " + " | ".join(cells) + f" | {e['n'] if e else 0} |"
        )
    L += [""]
    for p in presets:
        e = _entry(summary, p, main_bb, f"pg_{_folder(MAIN)}_full", "twohand")
        gen = (e or {}).get("generalisation", {})
        a, b = gen.get("test", {}).get("mpjpe_all", {}), gen.get("heldout", {}).get("mpjpe_all", {})
        if a and b:
            main, held = common.fmt_over_seeds(a), common.fmt_over_seeds(b)
            d = common.seed_delta(b, a)
            gap = (
                "" if d is None else f", held-out − main {d[0]:+.2f} ± {d[1]:.2f} mm ({d[3]} seeds)"
            )
            L += [
                f"Held-out rendering domain ({p}; DIR's protocol, the IntagHand alignment rooted at "
                f"the wrist, as in docs/results/dir.md): MPJPE all {main} mm on the main test "
                f"split, {held} mm on the held-out domain{gap}.",
                "",
            ]
    # ---- Tables 3-6
    cols = ("| paper PA-MPJPE | paper PA-MPVPE | PA-MPJPE | PA-MPVPE | Δ PA-MPJPE vs EHPE "
            "| seeds |")  # fmt: skip
    sep = "|---:|---:|---:|---:|---:|---:|"
    L += ["## Table 3: segmented architecture", "", "| stages " + cols, "|---" + sep]
    rows3 = [("tw_all", "all"), ("tw_none", "none"), (f"pg_{_folder(MAIN)}_full", "full")]
    L += _row_table(summary, preset, main_bb, rows3, f"pg_{_folder(MAIN)}_full", PAPER["3"],
                    LABELS_T3)  # fmt: skip
    L += ["", "## Table 4: joint allocation between the stages", ""]
    L += ["| TW-stage | PG-stage " + cols, "|---|---" + sep]
    from handpose.models.ehpe.config import GROUP_LETTERS, parse_allocation

    def alloc_cols(a):
        tw = parse_allocation(a)
        pg = [x for x in GROUP_LETTERS if x not in tw]
        return [a, "+".join(pg)]

    rows4 = [(f"pg_{_folder(a)}_full", a) for a in ALLOCATIONS]
    L += _row_table(summary, preset, main_bb, rows4, f"pg_{_folder(MAIN)}_full", PAPER["4"], {},
                    alloc_cols)  # fmt: skip
    tw_rows = [(a, _entry(summary, preset, main_bb, f"tw_{_folder(a)}")) for a in ALLOCATIONS]
    if any(e and e.get("tw_uv_px") for _, e in tw_rows):
        L += ["", "The TW-stage's own 2D error on its joints (validation, crop pixels): "
              + ", ".join(f"{a}: {common.fmt_mean_std(e['tw_uv_px'], e['n'])}" for a, e in tw_rows
                          if e and e.get("tw_uv_px")) + "."]  # fmt: skip
    L += ["", "## Table 5: the PG-stage's two branches", ""]
    L += ["| SPI | FEM " + cols, "|---|---" + sep]
    rows5 = [(f"pg_{_folder(MAIN)}_{v}", v) for v in ROWS_T5]
    L += _row_table(summary, preset, main_bb, rows5, f"pg_{_folder(MAIN)}_full", PAPER["5"], {},
                    lambda k: list(T5_MARKS[k]))  # fmt: skip
    L += ["", "## Table 6: SPI edge weights and depth", ""]
    L += ["| edge weights | layers " + cols, "|---|---" + sep]
    rows6 = [(f"pg_{_folder(MAIN)}_{v}", v) for v in ROWS_T6]
    L += _row_table(summary, preset, main_bb, rows6, f"pg_{_folder(MAIN)}_full", PAPER["6"], {},
                    lambda k: [str(x) for x in T6_MARKS[k]])  # fmt: skip
    extra = [(f"pg_{_folder(MAIN)}_{v}", v) for v in INVESTIGATE
             if _entry(summary, preset, main_bb, f"pg_{_folder(MAIN)}_{v}")]  # fmt: skip
    if extra:
        L += ["", "## Choices where the paper is silent, measured", ""]
        L += ["| variant " + cols, "|---" + sep]
        L += _row_table(summary, preset, main_bb, extra, f"pg_{_folder(MAIN)}_full", {},
                        {v: PG_VARIANTS[v][0] for v in INVESTIGATE})  # fmt: skip
    L += _oracle_section(summary, preset, main_bb)
    drawn = [t for t in ABLATION_TABLES if t in shown]
    pic = plot_tables(summary, preset, main_bb, doc.with_name(f"{stem}_tables.png"), drawn)
    if pic:
        what = f"Table {drawn[0]}" if len(drawn) == 1 else "Tables " + ", ".join(drawn)
        L += ["", f"![{what} relative to full EHPE]({pic.name})", ""]
    # ---- Figure 1
    L += ["", "## Figure 1: error per joint group", ""]
    L += [
        "Mean PA-MPJPE per joint group (OpenPose groups; the thumb's CMC/MCP/IP count as "
        "MCP/PIP/DIP) and relative to the tips. The paper reports TIP > DIP > PIP > MCP > W "
        "with ≈ 100 / 80 / 72 / 59 / 40 % for existing methods.",
        "",
        "| method | TIP | DIP | PIP | MCP | W | relative (TIP = 100) | seeds |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
        "| paper (existing methods) | | | | | | 100 / 80 / 72 / 59 / 40 | |",
    ]
    series = {}
    for label, name in (("baseline", "baseline"), ("EHPE", f"pg_{_folder(MAIN)}_full")):
        e = _entry(summary, preset, main_bb, name)
        if not e or not e["groups"]:
            continue
        g = {k: v[0] for k, v in e["groups"].items()}
        order = ("tip", "dip", "pip", "mcp", "wrist")
        rel = " / ".join(f"{100 * g[k] / g['tip']:.0f}" for k in order)
        L.append(f"| {label} | " + " | ".join(common.fmt_mean_std(e["groups"][k], e["n"]) for k in order)
                 + f" | {rel} | {e['n']} |")  # fmt: skip
        series[label] = {k: g[k] for k in order}
    if series and "fig1" in shown:  # no picture for a section the report leaves out
        pic = plot_group_means(series, doc.with_name(f"{stem}_groups.png"),
                               title="PA-MPJPE per joint group")  # fmt: skip
        L += ["", f"![per joint group]({pic.name})", ""]
    data_single = meta.get("data", {}).get("single", {}).get("path")
    if data_single and Path(data_single).exists():
        grid = qualitative_grid(results, data_single, doc.with_name(f"{stem}_grid.png"))
        if grid:
            L += ["## Qualitative results", "",
                  "Test crops (lowest seed): ground truth (green), the baseline (orange) and "
                  "EHPE (red) 2D joints.", "", f"![qualitative]({grid.name})", ""]  # fmt: skip
    if shown != set(TABLES):
        L = _keep_sections(L, shown)
        names = [("Figure 1" if t == "fig1" else f"Table {t}") for t in TABLES if t in shown]
        L[4:4] = [
            f"This experiment plans {', '.join(names)} only; the other tables are left out.",
            "",
        ]
    if notes is not None and Path(notes).exists():
        L += [Path(notes).read_text(encoding="utf-8").rstrip(), ""]
    # ---- how
    L += ["## How these numbers were made", "", "### Commands", "", "```bash"]
    for kind, d in meta.get("data", {}).items():
        if d.get("command"):
            L.append(f"{d['command']}   # {kind} data")
    for c in meta.get("commands", []):
        L.append(c)
    for m in metas[1:]:
        for c in m.get("commands", []):
            L.append(c + "   # merged")
    L += ["```", "", "### Data", ""]
    for kind, d in meta.get("data", {}).items():
        L.append(f"- `{kind}`: `{d['path']}`, {d.get('size')} px renders of the "
                 f"`{d.get('hand_model')}` hand model, seed {d.get('seed')}, "
                 + ", ".join(f"{k} {v}" for k, v in d.get("counts", {}).items()))  # fmt: skip
    hw = meta.get("hardware")
    if hw:
        L += ["", "### Hardware and time", "",
              f"- {hw['cpu']}, {hw['cores']} cores shared with other jobs; Python {hw['python']}"
              f", torch {hw['torch']}; every run one child process with one torch thread"]  # fmt: skip
        for kind in ("tw", "pg", "baseline"):
            cpu = [r["train_cpu_s"] for r in results
                   if r["spec"]["kind"] == kind and r.get("train_cpu_s") is not None]  # fmt: skip
            if cpu:
                m, sd = common.mean_std(cpu)
                L.append(f"- {kind} runs: training {m / 60:.1f} ± {sd / 60:.1f} CPU-min "
                         f"({len(cpu)} runs)")  # fmt: skip
        for i, s in enumerate(meta.get("sessions", []), 1):
            wall = s.get("wall_s")
            L.append(f"- session {i}: started {s['start']}, "
                     + (f"wall {wall / 60:.1f} min" if wall else "running or killed"))  # fmt: skip
    for m in metas[1:]:
        h = m.get("hardware", {})
        L.append(f"- merged: {m.get('preset')} on {h.get('gpu') or h.get('cpu')}")
    L += ["", "### Configuration", "",
          f"Preset `{meta.get('preset', preset)}` (`handpose/configs/ehpe/`), overrides "
          f"{meta.get('sets') or 'none'}; each run's resolved config is in its run folder "
          "(`<stage>/config.yaml`).", ""]  # fmt: skip
    text = "\n".join(L)
    atomic_write_text(doc, text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m handpose.experiments.ehpe run OUT KEY`` (the runner's child process)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3 or args[0] != "run":
        print("usage: python -m handpose.experiments.ehpe run OUT KEY", file=sys.stderr)
        return 2
    try:
        run_one(args[1], args[2])
    except HandposeError as err:
        print(f"handpose: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
