"""The PGTE comparison: the supplement's Tables 2–4 and more, several seeds, one report.

:func:`run_experiment` (CLI: ``handpose experiment pgte``) does, in order:

1. synthesises the two video data sets if missing (``handpose synth images --kind video``; the
   exact commands are recorded): **DexYCB-like** (one camera, a grasped object in every
   sequence) and **HanCo-like** (two cameras per sequence, no object), both rendered at 384 px
   with the ladder 128, 64, 48, 32, 24, 16 px;
2. trains every planned run (child processes, one torch thread each, ``jobs`` at a time) and
   evaluates it on the test split in file mode (each frame from its causal window, the
   ground-truth wrist depth in eq. 3), before and after Procrustes alignment, with the
   acceleration error and jitter; at the main resolution also after One-Euro smoothing whose
   two parameters are tuned on the validation split;
3. writes the report (:func:`write_report`): the paper's numbers beside ours (mean ± std over
   seeds), paired deltas, the resolution curve, the smoothness table, a qualitative strip, the
   commands, the data, the hardware and the times.

Runs (:func:`plan_runs`; ``tables`` selects the groups):

- ``main`` (Tables 2–3): on each data set at the main resolution the VIBE-style baseline, PGTE
  ``single`` (window 1) and the temporal PGTE; the temporal PGTE at 32 px (``ours(32)``);
- ``planes`` (Table 4, HanCo-like): triplane and single plane, each with and without the plane
  convolutions (the triplane with convolutions is the ``main`` temporal run);
- ``resolution``: on the DexYCB-like set, ``single``, temporal, VIBE-style and the harness's
  image baseline estimator at every resolution of ``resolutions``.

**The VIBE-style baseline starts as VIBE does** (VIBE freezes SPIN's image-trained encoder):
its ViT is the ``single`` run's of the same data set, resolution and seed, frozen
(``vibe_encoder``, ``vibe_freeze_encoder``: :mod:`handpose.training.methods.pgte`); the GRU and
the iterative regressor are trained, for ``VIBE_EPOCH_FACTOR`` × ``train.epochs`` (an epoch on
a frozen encoder is cheap, and at ``cpu-small`` the validation error was still falling after
the PGTE runs' 6 epochs: DexYCB-like seed 0 at 64 px, 98.8 mm after 6 epochs, 95.2 after 12;
docs/results/pgte.md).
So every planned VIBE-style run brings its ``single`` run into the plan and starts after it (a
failed ``single`` drops it).

Layout::

    OUT/experiment.json                    settings, data, sessions
    OUT/data/{dexycb,hanco}/               the data (unless given)
    OUT/<data>/r<px>/<variant>/seed<S>/    a run: main/ (harness run folder), log.txt,
                                           eval.json, result.json (written last)

**Resumable**: a run with a ``result.json`` is skipped; an interrupted training continues from
its ``last.ckpt``. ``preset`` and ``sets`` apply to every PGTE run, so a GPU run of a subset at
another preset (``--preset paper --tables main --seeds 0``) can be written to another folder and
its results merged with ``--merge`` into the report.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from handpose.errors import HandposeError
from handpose.experiments import check_experiment_paths, common
from handpose.utils.io import atomic_write_text

__all__ = [
    "DATASETS",
    "VARIANTS",
    "VARIANT_LABELS",
    "PAPER",
    "TABLES",
    "DataSpec",
    "RunSpec",
    "plan_runs",
    "run_experiment",
    "collect_results",
    "summarize",
    "write_report",
]

VIBE_EPOCH_FACTOR = 2
MAIN_RESOLUTION = 64
LOW_RESOLUTION = 32
RESOLUTIONS = (16, 24, 32, 48, 64, 128)
TABLES = ("main", "planes", "resolution")


@dataclass(frozen=True)
class DataSpec:
    """One synthetic video data set (``handpose synth images --kind video``)."""

    name: str
    label: str
    protocol: str
    train: int
    val: int
    test: int
    views: int
    object_prob: float
    subjects: str
    seed: int
    frames: int = 32
    size: int = 384
    ladder: str = "128,64,48,32,24,16"

    def command(self, out: str | os.PathLike) -> list[str]:
        return [
            "handpose", "synth", "images", "--kind", "video", "--out", str(out),
            "--train", str(self.train), "--val", str(self.val), "--test", str(self.test),
            "--frames", str(self.frames), "--views", str(self.views),
            "--object-prob", str(self.object_prob), "--size", str(self.size),
            "--ladder", self.ladder, "--subjects", self.subjects, "--encoding", "jpeg",
            "--seed", str(self.seed),
        ]  # fmt: skip


DATASETS: dict[str, DataSpec] = {
    "dexycb": DataSpec("dexycb", "DexYCB-like", "dexycb", 48, 6, 12, 1, 1.0, "24,6,6", 0),
    "hanco": DataSpec("hanco", "HanCo-like", "hanco", 24, 3, 6, 2, 0.0, "24,3,6", 1),
}

# variant name → (method, config overrides)
VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "vibe": ("pgte", ("variant=vibe", "vibe_freeze_encoder=true")),  # + vibe_encoder (single's)
    "single": ("pgte", ("model.window=1",)),
    "temporal": ("pgte", ()),
    "tri_noconv": ("pgte", ("model.plane_convs=0",)),
    "single_plane": ("pgte", ("model.planes=single",)),
    "single_plane_noconv": ("pgte", ("model.planes=single", "model.plane_convs=0")),
    "image_baseline": ("baseline", ()),
}
VARIANT_LABELS = {
    "vibe": "VIBE + LR ViT",
    "single": "ours-single",
    "temporal": "ours",
    "tri_noconv": "triplane w/o conv",
    "single_plane": "single plane w/ conv",
    "single_plane_noconv": "single plane w/o conv",
    "image_baseline": "image baseline (harness)",
}
# The harness's image baseline estimator (its cpu-small preset: MobileNetV3-Small-0.5, 2.5D
# heatmaps, its own augmentation) at the PGTE crop size (64 px, read from the same ladder level,
# stride-16 features → 16×16 heatmaps like PGTE's), on all training frames for the same
# 6 epochs, without loader processes.
IMAGE_BASELINE_SETS = (
    "data.size=64", "model.level=16", "data.num_workers=0", "data.limit_train=null",
    "train.epochs=6", "train.progress_bar=false", "train.threads=1",
)  # fmt: skip

# The supplement's tables (mm). Tables 2–3: before PA; Table 4: after PA, HanCo.
PAPER: dict[str, dict[str, dict[str, float]]] = {
    "dexycb": {
        "vibe": {"mpjpe": 18.22, "mpvpe": 15.41},
        "single": {"mpjpe": 14.05, "mpvpe": 13.54},
        "temporal": {"mpjpe": 13.21, "mpvpe": 12.73},
        "temporal@32": {"mpjpe": 14.56, "mpvpe": 14.00},
    },
    "hanco": {
        "vibe": {"mpjpe": 13.25, "mpvpe": 12.50},
        "single": {"mpjpe": 12.50, "mpvpe": 12.34},
        # Table 3 (before PA) and Table 4's triplane w/ conv (after PA) are the same model
        "temporal": {"mpjpe": 10.75, "mpvpe": 10.69, "pa_mpjpe": 5.77, "pa_mpvpe": 5.74},
        "temporal@32": {"mpjpe": 11.90, "mpvpe": 11.76},
        "single_plane_noconv": {"pa_mpjpe": 6.03, "pa_mpvpe": 6.07},
        "single_plane": {"pa_mpjpe": 5.85, "pa_mpvpe": 5.90},
        "tri_noconv": {"pa_mpjpe": 5.79, "pa_mpvpe": 5.84},
    },
}

# Where the supplement is silent: what we chose (the report lists it; details in the modules).
CHOICES = (
    "Temporal fusion: the six pose-aware tokens of every frame of a window (T = 8 in `cpu-small`, "
    "16 in `paper`) form one sequence of 6·T tokens with learned token-type and time embeddings; "
    "pre-LN transformer blocks attend over them with a causal mask (frame t sees frames ≤ t), so "
    "streaming equals offline inference (`handpose/models/pgte/temporal.py`).",
    "Pose-aware tokens: ViT features sampled at the initial joint estimate (eq. 1–2 for the 21 "
    "joints), concatenated with the joint's normalised 2.5D position, per-joint linear maps summed "
    "over the token's joints; the pose template is a per-joint linear map of the fused token plus a "
    "skip from the joint's own feature. The fused joint features also refine the joints' 2.5D "
    "positions (zero-initialised offsets).",
    "Mesh from the triplane: coarse vertex positions are a learned V × 21 map of the refined "
    "joints (initialised from the hand model's skinning weights); the triplane is sampled there; "
    "each vertex's feature (plus a learned vertex embedding) becomes a query whose dot product with "
    "the heatmap feature map gives B_k, plus a Gaussian prior (σ = 2 cells) around the coarse "
    "vertex; D_k is a second read-out around the coarse depth.",
    "Eq. 4's K is read as a distance scale in plane cells (1.5 in `cpu-small`, 2 in `paper`); the "
    "plane convolutions are one residual 3×3 conv + GroupNorm + GELU per plane; the three samples "
    "are summed (EG3D's paper).",
    "Between the two patch-embedding convolutions: BatchNorm + ReLU (Table 1 lists only the "
    "convolutions).",
    "Losses: L1 on the per-vertex 2.5D coordinates, the initial and refined joints, wrist-relative "
    "3D vertices and joints, SAR's edge (×1) and normal (×0.1) terms; 96 random mesh faces per "
    "training step (`cpu-small`; the whole mesh in `paper`); no augmentation; the ground-truth "
    "wrist depth in eq. 3 for training and evaluation.",
    "VIBE-style baseline: the same ViT, average-pooled, a 2-layer GRU with VIBE's residual, HMR's "
    "iterative MANO regressor (3 steps) with a weak-perspective camera; left hands as mirrored "
    "right hands; no motion discriminator. As VIBE freezes SPIN's image-trained encoder, its ViT "
    "is the `single` run's (same data, resolution and seed), frozen; the GRU and the regressor "
    "train for twice the epochs.",
    "Schedule (`cpu-small`): AdamW 1e-3, weight decay 0.01, half an epoch of warm-up, cosine to "
    "5 %, batch 4 windows of 8 frames, 6 epochs (ViTPose-B's AdamW 5e-4 / 0.1 / drop path 0.3 in "
    "`paper`).",
)

ONE_EURO_GRID = {"min_cutoff": (0.5, 1.0, 2.0, 4.0), "beta": (0.0, 5.0, 20.0, 80.0)}


@dataclass(frozen=True)
class RunSpec:
    """One training + evaluation run."""

    dataset: str
    variant: str
    resolution: int
    seed: int

    @property
    def key(self) -> str:
        return f"{self.dataset}/r{self.resolution}/{self.variant}/seed{self.seed}"

    @property
    def group(self) -> tuple[str, str, int]:
        return (self.dataset, self.variant, self.resolution)


def plan_runs(
    seeds: Sequence[int],
    tables: Sequence[str] = TABLES,
    resolutions: Sequence[int] = RESOLUTIONS,
    image_baseline: bool = True,
    variants: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
) -> list[RunSpec]:
    """Every run of the selected tables, seed-major (the first seed's rows complete first),
    without duplicates (the main temporal run is also Table 4's triplane w/ conv and the
    resolution sweep's 64 / 32 px point); ``variants`` / ``datasets`` keep only those (a
    subset, e.g. for a GPU run)."""
    for v in variants or ():
        if v not in VARIANTS:
            raise HandposeError(f"unknown variant {v!r}; choose from {', '.join(VARIANTS)}")
    for d in datasets or ():
        if d not in DATASETS:
            raise HandposeError(f"unknown data set {d!r}; choose from {', '.join(DATASETS)}")
    if not seeds:
        raise HandposeError("give at least one seed")
    bad = [t for t in tables if t not in TABLES]
    if bad:
        raise HandposeError(f"unknown table(s) {bad}; choose from {', '.join(TABLES)}")
    runs: list[RunSpec] = []
    for s in seeds:
        group: list[RunSpec] = []
        if "main" in tables:
            for ds in DATASETS:
                group += [
                    RunSpec(ds, v, MAIN_RESOLUTION, s) for v in ("single", "temporal", "vibe")
                ]
                group.append(RunSpec(ds, "temporal", LOW_RESOLUTION, s))
        if "planes" in tables:
            group += [
                RunSpec("hanco", v, MAIN_RESOLUTION, s)
                for v in ("temporal", "tri_noconv", "single_plane", "single_plane_noconv")
            ]
        if "resolution" in tables:
            sweep = ("single", "temporal", "vibe") + (("image_baseline",) if image_baseline else ())
            group += [RunSpec("dexycb", v, int(r), s) for r in resolutions for v in sweep]
        for r in group:
            keep = (variants is None or r.variant in variants) and (
                datasets is None or r.dataset in datasets
            )
            if not keep:
                continue
            if r.variant == "vibe" and encoder_run(r) not in runs:
                runs.append(encoder_run(r))  # its frozen encoder comes from there
            if r not in runs:
                runs.append(r)
    return runs


def encoder_run(spec: RunSpec) -> RunSpec:
    """The ``single`` run whose ViT a VIBE-style run starts from (module docstring)."""
    return RunSpec(spec.dataset, "single", spec.resolution, spec.seed)


def encoder_checkpoint(out: Path, spec: RunSpec) -> Path:
    return out / encoder_run(spec).key / "main" / "checkpoints" / "last.ckpt"


# ------------------------------------------------------------------------------ one run
def _overrides(
    spec: RunSpec,
    sets: Sequence[str],
    baseline_sets: Sequence[str] = (),
    encoder: str | None = None,
) -> list[str]:
    method, extra = VARIANTS[spec.variant]
    if spec.variant == "vibe":
        if not encoder:
            raise HandposeError(
                f"{spec.key}: the VIBE-style baseline needs its encoder checkpoint."
            )
        extra = (*extra, f"vibe_encoder={encoder}")
    if method == "baseline":
        return [
            *IMAGE_BASELINE_SETS, f"data.level={spec.resolution}", f"seed={spec.seed}",
            *baseline_sets,
        ]  # fmt: skip
    return [
        *extra, f"data.resolution={spec.resolution}", f"seed={spec.seed}", "train.threads=1",
        "train.progress_bar=false", *sets,
    ]  # fmt: skip


def _child_command(
    spec: RunSpec,
    preset: str,
    data: Path,
    run_dir: Path,
    sets,
    smooth: bool,
    baseline_sets=(),
    encoder: Path | None = None,
):
    payload = {
        "spec": spec.__dict__, "preset": preset, "data": str(data), "run_dir": str(run_dir),
        "sets": list(sets), "baseline_sets": list(baseline_sets), "smooth": smooth,
    }  # fmt: skip
    if encoder is not None:
        payload["encoder"] = str(encoder)
    return ["handpose", "experiment", "pgte", "--run-one", json.dumps(payload)]


def _tune_one_euro(val_clips, protocol: str, fps: float) -> dict:
    """The One-Euro parameters (grid :data:`ONE_EURO_GRID`) with the lowest validation MPJPE."""
    from handpose.reports.video_eval import evaluate_clips, smooth_clips

    best = None
    for mc in ONE_EURO_GRID["min_cutoff"]:
        for beta in ONE_EURO_GRID["beta"]:
            params = {"fps": fps, "min_cutoff": mc, "beta": beta}
            m = evaluate_clips(smooth_clips(val_clips, "one_euro", **params), protocol)["metrics"]
            if best is None or m["mpjpe"] < best[0]:
                best = (m["mpjpe"], params)
    return {"method": "one_euro", **best[1]}


@dataclass
class FrameOutput:
    """A joints-only model's output: ``joints3d`` (N, 21, 3), ``vertices`` (N, 0, 3)."""

    joints3d: Any
    vertices: Any


class FrameModel:
    """A single-frame image model (the harness's baseline estimator) with the windowed
    ``encode`` / ``fuse`` / ``decode`` interface (window 1), for the clip evaluation."""

    window = 1

    def __init__(self, model) -> None:
        self.model = model

    def eval(self):
        self.model.eval()
        return self

    def encode(self, images):
        from handpose.models.pgte.vibe import VibeEncoding

        return VibeEncoding(images)

    def fuse(self, tokens):
        return tokens

    def decode(self, enc, fused, K, root_depth=None, side=None):
        out = self.model(fused, K, root_depth)
        return FrameOutput(joints3d=out.joints3d, vertices=out.joints3d[:, :0])


def run_one(payload: dict) -> dict:
    """Train (or resume) one run and evaluate it (the child process's work)."""
    import torch

    from handpose.reports.video_eval import evaluate_clips, predict_clips, smooth_clips
    from handpose.training import harness
    from handpose.training.methods.pgte import window_dataset

    torch.set_num_threads(1)
    spec = RunSpec(**payload["spec"])
    method, _ = VARIANTS[spec.variant]
    data, run_dir = payload["data"], Path(payload["run_dir"])
    protocol = DATASETS[spec.dataset].protocol
    overrides = _overrides(
        spec, payload["sets"], payload.get("baseline_sets", ()), payload.get("encoder")
    )
    preset = payload["preset"] if method == "pgte" else "cpu-small"
    cfg = harness.load_method_config(method, preset, overrides)
    if spec.variant == "vibe":  # module docstring: the GRU and regressor train longer
        overrides.append(f"train.epochs={VIBE_EPOCH_FACTOR * cfg.train.epochs}")
        cfg = harness.load_method_config(method, preset, overrides)
    t0 = time.process_time()
    ckpt = harness.train(method, cfg, data, run_dir, resume=True)["main"]
    train_cpu = time.process_time() - t0
    model, meta = harness.load_model(ckpt)
    if method == "pgte":
        vcfg = harness.method_config_from_dict("pgte", meta["config"])
    else:  # evaluate the image model on the same clips, frames and crops as PGTE
        vcfg = harness.load_method_config(
            "pgte", payload["preset"], [f"data.resolution={spec.resolution}", "model.window=1"]
        )
        model = FrameModel(model)
    t0 = time.process_time()
    test = predict_clips(model, window_dataset(data, vcfg, "test", train=False))
    result = {"test": evaluate_clips(test, protocol)}
    mesh = method == "pgte"
    if not mesh:
        for c in test:
            c.pop("gt_vertices", None)
    if payload["smooth"]:
        val = predict_clips(model, window_dataset(data, vcfg, "val", train=False))
        fps = 30.0
        params = _tune_one_euro(val, protocol, fps)
        result["one_euro"] = {
            "params": params,
            **evaluate_clips(smooth_clips(test, **params), protocol),
        }
    result["eval_cpu_s"] = time.process_time() - t0
    result["train_cpu_s_child"] = train_cpu
    result["checkpoint"] = str(ckpt)
    result["config_overrides"] = overrides
    result["preset"] = preset
    result["mesh"] = mesh
    atomic_write_text(run_dir / "eval.json", json.dumps(result, indent=2) + "\n")
    return result


def _execute(
    spec: RunSpec, preset: str, data: Path, out: Path, sets, smooth: bool, baseline_sets=()
) -> dict:
    run_dir = out / spec.key
    run_dir.mkdir(parents=True, exist_ok=True)
    encoder = encoder_checkpoint(out, spec) if spec.variant == "vibe" else None
    cmd = _child_command(spec, preset, data, run_dir, sets, smooth, baseline_sets, encoder)
    t0 = time.perf_counter()
    cpu = common.run_handpose(cmd, run_dir / "log.txt")
    wall = time.perf_counter() - t0
    ev = json.loads((run_dir / "eval.json").read_text())
    method, _ = VARIANTS[spec.variant]
    train = ["handpose", "train", method, "--preset", ev["preset"], "--data", str(data),
             "--out", str(run_dir)] + [x for s in ev["config_overrides"] for x in ("--set", s)]  # fmt: skip
    result = {
        **ev,
        "dataset": spec.dataset,
        "variant": spec.variant,
        "resolution": spec.resolution,
        "seed": spec.seed,
        "wall_s": wall,
        "cpu_s": cpu,
        "command": common.shown(train),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write_text(run_dir / "result.json", json.dumps(result, indent=2) + "\n")
    return result


def _ensure_data(spec: DataSpec, path: Path, log: Callable[[str], None]) -> str:
    cmd = spec.command(path)
    if not (path / "manifest.json").exists():
        common.synthesise(cmd, path, spec.label, log)
    return common.shown(cmd)


def describe_data(path: str | os.PathLike) -> dict:
    """Clips, frames per split, levels and the generator settings of a video shard folder."""
    from handpose.formats.shards import open_shards

    s = open_shards(path)
    gen = s.manifest.get("generator", {})
    return {
        "path": str(path),
        "frames": {k: s.num_samples(k) for k in s.splits},
        "levels": s.levels,
        "size": gen.get("size"),
        "views": gen.get("views"),
        "object_prob": gen.get("object_prob"),
        "frames_per_sequence": gen.get("frames"),
        "seed": gen.get("seed"),
    }


def run_experiment(
    out: str | os.PathLike = "runs/pgte_exp",
    preset: str = "cpu-small",
    seeds: Sequence[int] = (0, 1, 2),
    jobs: int = 2,
    tables: Sequence[str] = TABLES,
    resolutions: Sequence[int] = RESOLUTIONS,
    data: dict[str, str] | None = None,
    sets: Sequence[str] = (),
    baseline_sets: Sequence[str] = (),
    image_baseline: bool = True,
    variants: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
    doc: str | os.PathLike | None = "docs/results/pgte.md",
    merge: Sequence[str | os.PathLike] = (),
    notes: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict:
    """Run (or continue) the comparison and write the report.

    Args:
        out: experiment folder (module docstring).
        preset: PGTE preset or YAML file for every PGTE run.
        seeds, jobs: seeds; child processes at a time (one torch thread each).
        tables: which groups of runs (:data:`TABLES`).
        resolutions: the resolution sweep's ladder levels (px).
        data: data set name → folder (default ``OUT/data/<name>``, synthesised when missing).
        sets: config overrides for every PGTE run; baseline_sets: for the image baseline's.
        image_baseline: include the harness's image baseline in the resolution sweep.
        variants, datasets: run only these (None: all).
        doc: the markdown report (None: none); merge: other experiment folders whose results
            join the report (e.g. a GPU run at another preset); notes: a markdown file included
            verbatim in the report.
    Returns:
        the :func:`summarize` dict.
    """

    from handpose.training import harness

    if jobs < 1:
        raise HandposeError(f"--jobs must be ≥ 1, got {jobs}")
    harness.load_method_config("pgte", preset, list(sets))  # validate before any work
    given = {f"--data-{k}": ((data or {}).get(k), ("video",)) for k in DATASETS}
    out = check_experiment_paths(out, doc, notes, merge, given)
    out.mkdir(parents=True, exist_ok=True)
    common.lock_folder(out)  # one experiment per folder at a time
    specs = plan_runs(seeds, tables, resolutions, image_baseline, variants, datasets)
    log = common.make_log(progress)

    paths = {k: Path((data or {}).get(k) or out / "data" / k) for k in DATASETS}
    meta_path = out / "experiment.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"sessions": []}
    meta["data"] = {}
    needed = sorted({s.dataset for s in specs})
    for k in needed:
        cmd = _ensure_data(DATASETS[k], paths[k], log)
        meta["data"][k] = {"command": cmd, **describe_data(paths[k])}
    started = time.time()
    session = {"start": datetime.now(UTC).isoformat(timespec="seconds"), "jobs": jobs}
    meta.update(
        preset=preset, seeds=list(seeds), tables=list(tables), resolutions=list(resolutions),
        sets=list(sets), image_baseline=image_baseline, hardware=common.hardware(),
        variants=None if variants is None else list(variants),
        datasets=None if datasets is None else list(datasets),
        command=common.shown(
            ["handpose", "experiment", "pgte", "--preset", preset, "--seeds", *map(str, seeds),
             "--tables", *tables, "--resolutions", *map(str, resolutions), "--out", str(out),
             "--jobs", str(jobs)] + [x for s in sets for x in ("--set", s)]
            + ([] if image_baseline else ["--no-image-baseline"])
            + ([] if variants is None else ["--variants", *variants])
            + ([] if datasets is None else ["--datasets", *datasets])
        ),
    )  # fmt: skip
    meta["sessions"].append(session)
    common.write_meta(meta_path, meta)

    done, pending, bar = common.resume_runs(specs, out, jobs, "pgte runs", progress, log)

    def work(s: RunSpec) -> dict:
        smooth = s.resolution == MAIN_RESOLUTION and s.variant in (
            "single",
            "temporal",
            "vibe",
            "image_baseline",
        )
        return _execute(s, preset, paths[s.dataset], out, sets, smooth, baseline_sets)

    def finished(s: RunSpec, res: dict) -> None:
        done.add(s.key)
        bar.update(1)
        m = res["test"]["metrics"]
        log(
            f"done {s.key}: MPJPE {m['mpjpe']:.2f} mm, PA-MPJPE {m['pa_mpjpe']:.2f} "
            f"mm, {res['cpu_s']:.0f} CPU-s"
        )
        if doc is not None:
            write_report(out, doc, merge, notes)

    def ready(s: RunSpec, failed: dict) -> bool | None:
        if s.variant != "vibe":
            return True
        need = encoder_run(s).key
        return None if need in failed else need in done

    execute = common.retry_once(work, log, "it resumes where it stopped")
    try:
        failed = common.schedule_runs(
            pending, jobs, execute, finished, log, ready, "its single run (the encoder) failed"
        )
    finally:
        bar.close()
        common.end_session(meta_path, meta, session, started, runs_done=len(done))
        if doc is not None:
            write_report(out, doc, merge, notes)
        common.release_folder(out)
    summary = summarize(collect_results(out, merge))
    common.raise_failed(failed)
    return summary


# ------------------------------------------------------------------------------ references
REFERENCES = {
    "training mean": "a constant: the training frames' mean wrist-relative joints and vertices "
    "of the hand's side, at the true wrist (no image)",
    "mean hand, oracle rotation": "the hand model's mean pose and shape turned onto the true "
    "joints (best rotation, about the true wrist; no image)",
}
_REF_KEYS = ("joints3d", "joint_valid", "hand_valid", "vertices")


def _labels(ds, split: str) -> dict:
    import numpy as np

    n = ds.num_samples(split)
    samples = [ds.get(split, i) for i in range(n)]
    return {k: np.stack([np.asarray(s[k]) for s in samples]) for k in _REF_KEYS}


def reference_predictions(train: dict, test: dict) -> dict[str, dict]:
    """The :data:`REFERENCES` predictions for the ``test`` labels (two-slot image schema:
    ``joints3d`` (N, 2, 21, 3), ``vertices`` (N, 2, V, 3), ``hand_valid`` (N, 2)), the training
    mean from the ``train`` labels. Name → {"joints3d", "vertices"} (N, 2, ·, 3) float64.

    A side without training frames takes the other side's mean mirrored in x (camera frame).
    """
    import numpy as np
    import torch

    from handpose.geometry.procrustes import procrustes_transform
    from handpose.handmodel import HandModel

    flip = np.array([-1.0, 1.0, 1.0])
    means = {}
    for key in ("joints3d", "vertices"):
        x = np.asarray(train[key], np.float64)
        rel = x - np.asarray(train["joints3d"], np.float64)[:, :, :1]
        hv = np.asarray(train["hand_valid"], bool)
        m = [rel[hv[:, s], s].mean(0) if hv[:, s].any() else None for s in (0, 1)]
        if m[0] is None and m[1] is None:
            raise HandposeError("the training split has no valid hands.")
        means[key] = np.stack([m[s] if m[s] is not None else m[1 - s] * flip for s in (0, 1)])
    gt_j = np.asarray(test["joints3d"], np.float64)
    wrist = gt_j[:, :, :1]
    out = {"training mean": {k: means[k][None] + wrist for k in means}}

    joints, verts = [], []
    for slot, side in enumerate(("right", "left")):
        m = HandModel("open", side=side, flat_hand_mean=False, dtype=torch.float64)
        h = m(hand_pose=torch.zeros(1, 45, dtype=torch.float64))
        j0, v0 = h.joints21[0], h.vertices[0]
        j0, v0 = j0 - j0[:1], v0 - j0[:1]
        g = torch.as_tensor(gt_j[:, slot] - wrist[:, slot])
        R = procrustes_transform(j0.expand_as(g), g).R  # (N, 3, 3)
        joints.append((j0 @ R.transpose(-1, -2)).numpy() + wrist[:, slot])
        verts.append((v0 @ R.transpose(-1, -2)).numpy() + wrist[:, slot])
    out["mean hand, oracle rotation"] = {
        "joints3d": np.stack(joints, 1),
        "vertices": np.stack(verts, 1),
    }
    return out


def reference_metrics(data: str | os.PathLike, protocol: str) -> dict[str, dict]:
    """:data:`REFERENCES` name → the test split's metrics with ``protocol`` (no image is read
    by the predictions; the samples are read whole)."""
    from handpose.formats.shards import open_shards
    from handpose.metrics.protocols import evaluate_predictions

    ds = open_shards(data)
    train, test = _labels(ds, "train"), _labels(ds, "test")
    preds = reference_predictions(train, test)
    return {
        name: {k: v for k, v in evaluate_predictions(protocol, p, test).metrics.items()
               if v is not None}
        for name, p in preds.items()
    }  # fmt: skip


def load_references(out: Path, meta: dict) -> dict:
    """``OUT/references.json``: data set name → :func:`reference_metrics`, computed on first use
    and again when the data folders change; {} for data that is not described or missing."""
    path = out / "references.json"
    cached = json.loads(path.read_text()) if path.exists() else {}
    data = {k: d for k, d in (meta.get("data") or {}).items() if k in DATASETS}
    changed = False
    for k, d in data.items():
        p = str(d.get("path"))
        if cached.get(k, {}).get("path") == p or not Path(p).exists():
            continue
        cached[k] = {"path": p, "metrics": reference_metrics(p, DATASETS[k].protocol)}
        changed = True
    if changed:
        atomic_write_text(path, json.dumps(cached, indent=2) + "\n")
    return cached


# ------------------------------------------------------------------------------ results
def collect_results(out: str | os.PathLike, merge: Sequence[str | os.PathLike] = ()) -> list[dict]:
    """Every ``result.json`` under ``out`` and the ``merge`` folders (tagged with the preset)."""
    results = []
    for root in (out, *merge):
        for p in sorted(Path(root).glob("*/r*/*/seed*/result.json")):
            results.append(json.loads(p.read_text()))
    return results


METRIC_KEYS = ("mpjpe", "mpvpe", "pa_mpjpe", "pa_mpvpe", "accel_error", "jitter", "gt_jitter")


def summarize(results: list[dict]) -> dict:
    """Mean and sample std over seeds per (preset, dataset, variant, resolution).

    Returns:
        ``{(preset, dataset, variant, px): {"n", "seeds", metric: (mean, std), "by_seed":
        {metric: {seed: value}}, "one_euro": {...same...}, "cpu_s": (mean, std)}}``
    """
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        key = (r.get("preset", "?"), r["dataset"], r["variant"], int(r["resolution"]))
        groups.setdefault(key, []).append(r)
    summary = {}
    for key, rs in groups.items():
        entry: dict[str, Any] = {"n": len(rs), "seeds": sorted(r["seed"] for r in rs)}
        for section, getter in (("test", lambda r: r["test"]["metrics"]),
                                ("one_euro", lambda r: r.get("one_euro", {}).get("metrics"))):  # fmt: skip
            part: dict[str, Any] = {"by_seed": {}}
            for m in METRIC_KEYS:
                vals = {int(r["seed"]): getter(r).get(m) for r in rs if getter(r) is not None}
                vals = {s: float(v) for s, v in vals.items() if v is not None and math.isfinite(v)}
                if vals:
                    part[m] = common.mean_std(list(vals.values()))
                    part["by_seed"][m] = vals
            entry[section] = part
        entry["one_euro_params"] = [r["one_euro"]["params"] for r in rs if "one_euro" in r]
        entry["cpu_s"] = common.mean_std([float(r["cpu_s"]) for r in rs])
        summary[key] = entry
    return summary


def paired(entry: dict | None, ref: dict | None, metric: str, section: str = "test"):
    """(mean Δ, std Δ, seeds where entry < ref, n) over the seeds both have, or None."""
    if entry is None or ref is None:
        return None
    return common.seed_delta(
        entry[section]["by_seed"].get(metric, {}), ref[section]["by_seed"].get(metric, {})
    )


def _fmt_delta(d) -> str:
    if d is None:
        return "—"
    mean, std, lower, n = d
    spread = f" ± {std:.2f}" if n > 1 else ""
    return f"{mean:+.2f}{spread} ({lower}/{n} seeds lower)"


# ------------------------------------------------------------------------------ report
def _entry(summary: dict, preset: str, dataset: str, variant: str, px: int):
    return summary.get((preset, dataset, variant, int(px)))


def _m(e, metric: str, section: str = "test"):
    return None if e is None else e[section].get(metric)


def level_crop_sizes(path: str | os.PathLike, split: str = "test", pad: float = 1.3) -> dict:
    """Median crop side (px of the level) of the hand boxes at every ladder level: what the
    model actually sees before upsampling."""
    import h5py
    import numpy as np

    from handpose.formats.shards import open_shards

    s = open_shards(path)
    files, _ = s._index[split]
    out = {}
    for px in s.levels:
        sides = []
        for name in files:
            with h5py.File(Path(path) / name, "r") as f:
                b = np.asarray(f[f"levels/{px}/labels"]["bbox"])
            sides.append(pad * np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]))
        out[int(px)] = float(np.median(np.concatenate(sides)))
    return out


def plot_resolution(summary: dict, preset: str, path: Path, variants: Sequence[str]) -> bool:
    """MPJPE and PA-MPJPE against the ladder level, one line per model (mean ± std)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    drawn = False
    for ax, metric, title in ((axes[0], "mpjpe", "MPJPE (wrist-relative)"),
                              (axes[1], "pa_mpjpe", "PA-MPJPE")):  # fmt: skip
        for v in variants:
            pts = sorted(
                (k[3], e["test"][metric]) for k, e in summary.items()
                if k[0] == preset and k[1] == "dexycb" and k[2] == v and metric in e["test"]
            )  # fmt: skip
            if not pts:
                continue
            xs = [p[0] for p in pts]
            ax.errorbar(xs, [p[1][0] for p in pts], yerr=[p[1][1] for p in pts], marker="o",
                        capsize=3, label=VARIANT_LABELS[v])  # fmt: skip
            drawn = True
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(RESOLUTIONS), [str(r) for r in RESOLUTIONS])
        ax.set_xlabel("ladder level (px, long side of the frame)")
        ax.set_ylabel("mm")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    if drawn:
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return drawn


def qualitative_strip(
    checkpoint: str | os.PathLike,
    data: str,
    path: str | os.PathLike,
    *,
    split: str = "test",
    clip: int = 0,
    frames: int = 6,
    resolution: int | None = None,
) -> Path:
    """Rows: the low-resolution crop the model sees (upsampled), the prediction (mesh vertices
    and skeleton projected into the crop) and the ground truth, over ``frames`` frames spread
    over one test clip."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    from handpose.datasets.image_dataset import normalize_image
    from handpose.geometry.camera import project
    from handpose.handmodel.conventions import OPENPOSE_PARENTS
    from handpose.models.pgte.stream import run_sequence
    from handpose.training import harness
    from handpose.training.methods.pgte import window_dataset

    model, meta = harness.load_model(checkpoint, method="pgte")
    cfg = harness.method_config_from_dict("pgte", meta["config"])
    if resolution is not None:
        from dataclasses import replace

        cfg = replace(cfg, data=replace(cfg.data, resolution=int(resolution)))
    ds = window_dataset(data, cfg, split, train=False, clips=clip + 1)
    f = ds.clip_frames(clip)
    F = f["image"].shape[0]
    with torch.no_grad():
        pred = run_sequence(model, normalize_image(f["image"]), f["K"], f["joints3d"][:, 0, 2],
                            f["side"].expand(F))  # fmt: skip
    idx = np.linspace(0, F - 1, frames).round().astype(int)
    rows = ("input", "prediction", "ground truth")
    fig, axes = plt.subplots(3, frames, figsize=(1.6 * frames, 1.7 * 3))
    S = f["image"].shape[-1]
    for c, t in enumerate(idx):
        img = f["image"][t].permute(1, 2, 0).numpy()
        for r in range(3):
            ax = axes[r, c]
            ax.imshow(img, interpolation="nearest")
            ax.set_xlim(-0.5, S - 0.5)
            ax.set_ylim(S - 0.5, -0.5)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(rows[r], fontsize=8)
            if r == 0:
                ax.set_title(f"frame {int(f['frame'][t])}", fontsize=8)
            if r == 0:
                continue
            if r == 1:
                v2 = project(pred.vertices[t], f["K"][t]).numpy()
                j2 = project(pred.joints3d[t], f["K"][t]).numpy()
            else:
                v2 = project(f["vertices"][t], f["K"][t]).numpy() if "vertices" in f else None
                j2 = f["joints2d"][t].numpy()
            if v2 is not None:
                ax.scatter(v2[::3, 0], v2[::3, 1], s=0.3, c="#ffd24d", alpha=0.5, linewidths=0)
            for j, p in enumerate(OPENPOSE_PARENTS):
                if p >= 0:
                    ax.plot(
                        j2[[p, j], 0], j2[[p, j], 1], c="#d62728" if r == 1 else "#2ca02c", lw=0.8
                    )
    level = cfg.data.resolution
    fig.suptitle(f"{cfg.variant} (window {cfg.window}), ladder level {level} px, crops resized to {S} px",
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _table_before_after(
    summary, preset, dataset, metrics: tuple[str, str], paper: bool
) -> list[str]:
    cols = [("vibe", MAIN_RESOLUTION, "vibe"), ("single", MAIN_RESOLUTION, "single"),
            ("temporal", MAIN_RESOLUTION, "temporal"), ("temporal", LOW_RESOLUTION, "temporal@32")]  # fmt: skip
    names = [
        "VIBE + LR ViT",
        "ours-single",
        f"ours ({MAIN_RESOLUTION} px)",
        f"ours({LOW_RESOLUTION})",
    ]
    head = "| | " + " | ".join(names) + " |"
    L = [head, "|---|" + "---:|" * len(names)]
    for metric in metrics:
        label = {
            "mpjpe": "MPJPE",
            "mpvpe": "MPVPE",
            "pa_mpjpe": "PA-MPJPE",
            "pa_mpvpe": "PA-MPVPE",
        }[metric]
        if paper:
            cells = [common.fmt_value(PAPER[dataset].get(p, {}).get(metric)) for _, _, p in cols]
            L.append(f"| {label}, paper | " + " | ".join(cells) + " |")
        cells = []
        for v, px, _ in cols:
            e = _entry(summary, preset, dataset, v, px)
            cells.append(common.fmt_mean_std(_m(e, metric), e["n"]) if e else "not run")
        L.append(f"| {label}, ours | " + " | ".join(cells) + " |")
    return L


def _deltas(summary, preset, dataset, metric: str) -> list[str]:
    g = lambda v, px=MAIN_RESOLUTION: _entry(summary, preset, dataset, v, px)  # noqa: E731
    pairs = [("ours − ours-single", g("temporal"), g("single")),
             ("ours − VIBE + LR ViT", g("temporal"), g("vibe")),
             (f"ours({LOW_RESOLUTION}) − ours", g("temporal", LOW_RESOLUTION), g("temporal"))]  # fmt: skip
    return [f"- {name}: {_fmt_delta(paired(a, b, metric))} mm {metric.upper().replace('_', '-')}"
            for name, a, b in pairs]  # fmt: skip


def write_report(
    out: str | os.PathLike,
    doc: str | os.PathLike,
    merge: Sequence[str | os.PathLike] = (),
    notes: str | os.PathLike | None = None,
) -> str:
    """Write the markdown report (and its pictures beside it) from the finished runs;
    ``notes``, a markdown file, is included verbatim after the introduction."""
    out, doc = Path(out), Path(doc)
    meta_path = out / "experiment.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    results = collect_results(out, merge)
    summary = summarize(results)
    preset = meta.get("preset", "cpu-small")
    seeds = meta.get("seeds", [])
    planned = (
        len(
            plan_runs(
                seeds,
                meta.get("tables", TABLES),
                meta.get("resolutions", RESOLUTIONS),
                meta.get("image_baseline", True),
            )
        )  # fmt: skip
        if seeds
        else 0
    )
    own = [r for r in results if r.get("preset") in (preset, "tiny")]
    doc.parent.mkdir(parents=True, exist_ok=True)
    res_png = doc.with_name(f"{doc.stem}_resolution.png")
    sweep = ("single", "temporal", "vibe", "image_baseline")
    has_plot = plot_resolution(summary, preset, res_png, sweep) if results else False

    L = ["# PGTE on synthetic low-resolution video: measured results", ""]
    L += [
        f"Generated by `handpose.experiments.pgte` from {len(own)} of {planned} planned runs "
        f"(preset `{preset}`, seeds {seeds}). Errors are in mm on the test split (subjects and "
        "gestures unseen in training), mean ± sample standard deviation over seeds; paired "
        "deltas are per-seed differences. The paper's numbers come from ViTPose-B-sized "
        "models trained on the real DexYCB and HanCo; ours from `cpu-small` models (ViTs of a few "
        "layers and 64-d tokens, 8-frame windows, minutes of CPU training) on small synthetic look-alikes: "
        "**compare trends, not absolute values.**",
        "",
        "**Resolution** is the ladder level: the long side of the whole frame in pixels after "
        "the camera-like degradation (blur, area sampling, noise, JPEG); each frame's hand box "
        "is cropped from it and upsampled to the model's 64-px input. The hand fills most of "
        "the synthetic frames, so the crop is about the level's size (measured below).",
        "",
    ]
    if planned and len(own) < planned:
        L += [f"**Partial:** {planned - len(own)} planned runs have not finished; the command "
              "below resumes the experiment.", ""]  # fmt: skip
    if notes is not None and Path(notes).exists():
        L += [Path(notes).read_text(encoding="utf-8").rstrip(), ""]
    refs = load_references(out, meta)
    if refs:
        L += ["## Reference predictions that ignore the image", "",
              "What a model scores without learning from the image, on the same test frames "
              "and protocol as the runs: a row above the first is no better than a constant.",
              ""]  # fmt: skip
        L += ["| data | prediction | MPJPE | MPVPE | PA-MPJPE | PA-MPVPE |",
              "|---|---|---:|---:|---:|---:|"]  # fmt: skip
        for k, r in refs.items():
            for name in REFERENCES:
                m = r["metrics"].get(name, {})
                cells = [
                    common.fmt_value(m.get(x)) for x in ("mpjpe", "mpvpe", "pa_mpjpe", "pa_mpvpe")
                ]
                L.append(f"| {DATASETS[k].label} | {name} | " + " | ".join(cells) + " |")
        L += [""] + [f"- **{n}**: {d}." for n, d in REFERENCES.items()] + [""]
    for ds in DATASETS.values():
        L += [f"## Table {2 if ds.name == 'dexycb' else 3}: {ds.label}, before Procrustes "
              "alignment (wrist-relative)", ""]  # fmt: skip
        L += _table_before_after(summary, preset, ds.name, ("mpjpe", "mpvpe"), True)
        L += ["", "Paired by seed:", ""] + _deltas(summary, preset, ds.name, "mpjpe") + [""]
    L += ["## The same after Procrustes alignment", "",
          "The supplement reports after-alignment numbers only in Table 4 (HanCo, ours).", ""]  # fmt: skip
    for ds in DATASETS.values():
        L += [f"### {ds.label}", ""]
        L += _table_before_after(
            summary, preset, ds.name, ("pa_mpjpe", "pa_mpvpe"), ds.name == "hanco"
        )
        L += ["", "Paired by seed:", ""] + _deltas(summary, preset, ds.name, "pa_mpjpe") + [""]

    L += ["## Table 4: plane convolutions in the triplane encoding (HanCo-like, after PA)", ""]
    L += ["| | w/o conv J-PA | w/o conv V-PA | w/ conv J-PA | w/ conv V-PA |",
          "|---|---:|---:|---:|---:|"]  # fmt: skip
    for label, noconv, conv in (("Single Plane", "single_plane_noconv", "single_plane"),
                                ("Triplane", "tri_noconv", "temporal")):  # fmt: skip
        cells_p, cells_o = [], []
        for v in (noconv, conv):
            for metric in ("pa_mpjpe", "pa_mpvpe"):
                cells_p.append(common.fmt_value(PAPER["hanco"].get(v, {}).get(metric)))
                e = _entry(summary, preset, "hanco", v, MAIN_RESOLUTION)
                cells_o.append(common.fmt_mean_std(_m(e, metric), e["n"]) if e else "not run")
        L.append(f"| {label}, paper | " + " | ".join(cells_p) + " |")
        L.append(f"| {label}, ours | " + " | ".join(cells_o) + " |")
    g = lambda v: _entry(summary, preset, "hanco", v, MAIN_RESOLUTION)  # noqa: E731
    L += ["", "Paired by seed (PA-MPJPE):", ""]
    for name, a, b in (("triplane − single plane, w/ conv", g("temporal"), g("single_plane")),
                       ("triplane − single plane, w/o conv", g("tri_noconv"), g("single_plane_noconv")),
                       ("conv − no conv, triplane", g("temporal"), g("tri_noconv")),
                       ("conv − no conv, single plane", g("single_plane"), g("single_plane_noconv"))):  # fmt: skip
        L.append(f"- {name}: {_fmt_delta(paired(a, b, 'pa_mpjpe'))} mm")
    L += [""]

    L += ["## Error against input resolution (DexYCB-like)", ""]
    crops = {}
    dpath = meta.get("data", {}).get("dexycb", {}).get("path")
    if dpath and Path(dpath).exists():
        try:
            crops = level_crop_sizes(dpath)
        except Exception:  # a report must not fail on a data folder being rewritten
            crops = {}
    L += ["| level (px) | median crop (px) | " + " | ".join(VARIANT_LABELS[v] for v in sweep)
          + " | PA-MPJPE: " + " | ".join(VARIANT_LABELS[v] for v in sweep) + " |",
          "|---:|---:|" + "---:|" * (2 * len(sweep))]  # fmt: skip
    for px in meta.get("resolutions", RESOLUTIONS):
        cells = []
        for metric in ("mpjpe", "pa_mpjpe"):
            for v in sweep:
                e = _entry(summary, preset, "dexycb", v, px)
                cells.append(common.fmt_mean_std(_m(e, metric), e["n"]) if e else "—")
        crop = f"{crops[px]:.0f}" if px in crops else "—"
        L.append(f"| {px} | {crop} | " + " | ".join(cells) + " |")
    L += ["", "MPJPE is wrist-relative (mm). The image baseline predicts joints only (no mesh)."]
    if has_plot:
        L += ["", f"![error against resolution]({res_png.name})"]
    L += [""]

    L += [f"## Temporal quality at {MAIN_RESOLUTION} px: learned temporal model vs single-frame "
          "models with One-Euro smoothing", ""]  # fmt: skip
    L += ["Acceleration error (VIBE's, mm/frame²) and jitter (mean jerk, mm/frame³) on "
          "wrist-relative joints, per clip, averaged over frames. One-Euro (causal) parameters "
          "tuned per run for the lowest validation MPJPE over min_cutoff ∈ "
          f"{list(ONE_EURO_GRID['min_cutoff'])} Hz and β ∈ {list(ONE_EURO_GRID['beta'])} Hz/(m/s).", ""]  # fmt: skip
    for ds in DATASETS.values():
        L += [f"### {ds.label}", "", "| model | MPJPE | PA-MPJPE | accel error | jitter | seeds |",
              "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        gt_j = None
        for v in ("image_baseline", "single", "vibe", "temporal"):
            e = _entry(summary, preset, ds.name, v, MAIN_RESOLUTION)
            if e is None:
                continue
            n = e["n"]
            gt_j = gt_j or _m(e, "gt_jitter")
            for section, suffix in (("test", ""), ("one_euro", " + One-Euro")):
                if "mpjpe" not in e[section]:
                    continue
                L.append(f"| {VARIANT_LABELS[v]}{suffix} | {common.fmt_mean_std(_m(e, 'mpjpe', section), n)} "
                         f"| {common.fmt_mean_std(_m(e, 'pa_mpjpe', section), n)} | {common.fmt_mean_std(_m(e, 'accel_error', section), n)} "
                         f"| {common.fmt_mean_std(_m(e, 'jitter', section), n)} | {n} |")  # fmt: skip
        if gt_j:
            L += ["", f"Ground-truth jitter: {gt_j[0]:.2f} mm/frame³."]
        e_t, e_s = (
            _entry(summary, preset, ds.name, v, MAIN_RESOLUTION) for v in ("temporal", "single")
        )
        d = paired(e_t, None if e_s is None else {"test": e_s["one_euro"]}, "accel_error")
        if d is not None:
            L += [f"Temporal − (single + One-Euro), accel error: {_fmt_delta(d)} mm/frame²."]
        L += [""]

    strip = doc.with_name(f"{doc.stem}_strip.png")
    if strip.exists():
        L += ["## Qualitative strip", "",
              "Low-resolution input (the level crop as the model sees it, upsampled), the "
              "prediction (mesh vertices in yellow, skeleton in red) and the ground truth "
              "(skeleton in green) over one unseen test clip.", "", f"![qualitative strip]({strip.name})", ""]  # fmt: skip

    L += ["## Choices where the supplement is silent", ""] + [f"- {c}" for c in CHOICES] + [""]
    L += ["## How these numbers were made", "", "### Commands", "", "```bash"]
    for d in meta.get("data", {}).values():
        if d.get("command"):
            L.append(d["command"])
    if meta.get("command"):
        L.append(meta["command"])
    L += [
        "```",
        "",
        "One run, as a command (the experiment runs the same code in a child process):",
        "",
    ]
    if results:
        L += ["```bash", results[0].get("command", ""), "```", ""]
    L += ["### Data", ""]
    for k, d in meta.get("data", {}).items():
        L.append(f"- {DATASETS[k].label}: `{d.get('path')}`, frames per split {d.get('frames')}, "
                 f"{d.get('frames_per_sequence')} frames per sequence, {d.get('views')} view(s), "
                 f"grasped-object probability {d.get('object_prob')}, rendered at {d.get('size')} px, "
                 f"ladder {d.get('levels')}, seed {d.get('seed')}.")  # fmt: skip
    hw = meta.get("hardware", {})
    L += ["", "### Hardware and time", "",
          f"{hw.get('cpu', '?')}, {hw.get('cores', '?')} cores shared with other work, "
          f"torch {hw.get('torch', '?')}, Python {hw.get('python', '?')}; one torch thread per "
          f"run, {meta.get('sessions', [{}])[-1].get('jobs', '?')} runs at a time."]  # fmt: skip
    if results:
        cpu = [r["cpu_s"] for r in own]
        if cpu:
            L.append(f"CPU time per run (training + evaluation): median {sorted(cpu)[len(cpu) // 2] / 60:.1f} "
                     f"min, total {sum(cpu) / 3600:.1f} CPU-h over {len(cpu)} runs.")  # fmt: skip
    sess = meta.get("sessions", [])
    wall = sum(s.get("wall_s", 0) for s in sess)
    if wall:
        L.append(f"Wall time over {len(sess)} session(s): {wall / 3600:.1f} h.")
    L += [""]
    text = "\n".join(L) + "\n"
    atomic_write_text(doc, text)
    return text


if __name__ == "__main__":  # pragma: no cover
    print("run through `handpose experiment pgte`", file=sys.stderr)
