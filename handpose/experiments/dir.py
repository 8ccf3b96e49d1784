"""The DIR experiments: refinement stages, the supplement's Table 2 ablation, generalisation.

:func:`run_experiment` (CLI: ``handpose experiment dir``) does, in order:

1. synthesises the data if missing: ``twohand`` images with dense maps in the main rendering
   domain (train / val / test) and a held-out-domain test set (unseen skin tones, textures and
   light colours; ``handpose synth images --domain heldout``); the commands are recorded;
2. for every seed, trains every run of :data:`RUNS` with one preset (default ``cpu-small``):

   - ``stages0`` / ``stages1`` / ``stages2``: the initial regression only (the supplement's
     "basic model"), 1 and 2 refinement stages;
   - ``wo_attn``, ``wo_smoothl1``, ``wo_motionblur``, ``wo_largelr``, ``wo_all``: the basic
     model without per-hand attention pooling, with L1 instead of the small-threshold Huber
     loss, without motion blur, with a learning rate 3× smaller (the supplement: 3e-4 vs
     1e-4), without all four (supplement Table 2; ``stages0`` is its baseline);
   - ``wo_smoothl1_delta`` (ours, only when named in ``runs``): the basic model with
     ``δ·|e|`` instead of the Huber loss, the same slope beyond δ = 0.01; plain L1
     (``wo_smoothl1``) also makes the position terms 100 times heavier against the others;
   - ``layout0`` / ``layout2`` (ours, not in the paper; only when named in ``runs``, the
     default is :data:`PAPER_RUNS`): ``stages0`` / ``stages2`` with
     ``model.offset_layout`` (the relative-offset heads also read the estimate's 2D layout);
     ``where0`` / ``where2``: the same plus ``model.position_pooling`` (the attention-pooled
     features carry each hand's attention centroid);
3. evaluates each checkpoint on the main-domain test split (the interhand protocol with DIR's
   numbers, :func:`handpose.training.methods.dir.evaluate_checkpoint`) and on the held-out
   domain's test split (generalisation, the supplement's Table 1 setting);
4. writes the report (:func:`write_report`): tables with mean ± std over seeds and paired
   deltas beside the paper's numbers, a bar chart, a qualitative grid, commands, data, hardware;
   with ``ehpe`` (``--ehpe``) EHPE's two-hand models, scored on both domains by ``handpose
   experiment ehpe --tables 2 --twohand-heldout``, join the generalisation table.

Each run is three child processes (``handpose train dir``, then ``handpose eval`` on the two
test sets) with one torch thread each; ``jobs`` run at a time; a failed run is retried once
(it resumes). Layout::

    OUT/experiment.json                         settings, data, sessions
    OUT/data/twohand_main/, twohand_heldout/    the data (unless given)
    OUT/<preset>/seed<S>/<run>/main/            the harness run folder (checkpoints, logs)
    OUT/<preset>/seed<S>/<run>/eval_test.json, eval_heldout.json
    OUT/<preset>/seed<S>/<run>/result.json      written last (atomically)

**Resumable**: a run with ``result.json`` is skipped; one killed while training resumes from
its ``last.ckpt``. **Subsets and presets**: ``runs`` and ``preset`` select what to run (e.g. a
GPU machine runs ``--preset paper --runs stages0 stages2``); results of every preset under OUT
are reported side by side, so such a run merges into the report by copying its
``OUT/<preset>/`` folder next to the others.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from handpose.errors import HandposeError
from handpose.experiments import check_experiment_paths, common
from handpose.utils.io import atomic_path, atomic_write_text

__all__ = [
    "RUNS",
    "RUN_LABELS",
    "PAPER",
    "SynthSpec",
    "RunSpec",
    "plan_runs",
    "run_overrides",
    "run_experiment",
    "collect_results",
    "summarize",
    "write_report",
    "write_qualitative_grid",
]

# name → (group, label); the overrides are in run_overrides (the LR one depends on the preset).
RUNS: dict[str, tuple[str, str]] = {
    "stages0": ("stages", "initial regression only (basic model)"),
    "stages1": ("stages", "1 refinement stage"),
    "stages2": ("stages", "2 refinement stages (DIR)"),
    "wo_attn": ("ablation", "w/o attention"),
    "wo_smoothl1": ("ablation", "w/o Smooth L1 (L1)"),
    "wo_motionblur": ("ablation", "w/o motion blur"),
    "wo_largelr": ("ablation", "w/o large LR (lr / 3)"),
    "wo_all": ("ablation", "w/o all"),
    "wo_smoothl1_delta": ("loss", "w/o Smooth L1 (δ·L1: the Huber loss's slope; ours)"),
    "layout0": ("offset", "initial regression + layout offset (ours)"),
    "layout2": ("offset", "2 refinement stages + layout offset (ours)"),
    "where0": ("offset", "initial regression + position pooling + layout offset (ours)"),
    "where2": ("offset", "2 refinement stages + position pooling + layout offset (ours)"),
}
RUN_LABELS = {k: v[1] for k, v in RUNS.items()}
PAPER_RUNS = tuple(k for k, (group, _) in RUNS.items() if group not in ("offset", "loss"))

# The paper's numbers (mm; MIAA in px). DIR README (InterHand2.6M, interacting test frames,
# wrist-aligned): the full model. Supplement Table 2: the basic model's ablation (its column
# headers read "MPJPE MPJPE MIAA"; the caption says MPJPE, MPVPE, MIAA). Supplement Table 1:
# trained on InterHand2.6M, tested on Tzionas et al.'s two-hand sequences.
PAPER = {
    "stages2": {"mpjpe": 10.23, "mpvpe": 10.00, "mrrpe": 29.26},
    "stages0": {"mpjpe": 12.44, "mpvpe": 12.11, "miaa": 7.41},
    "wo_attn": {"mpjpe": 12.53, "mpvpe": 12.23, "miaa": 7.53},
    "wo_smoothl1": {"mpjpe": 12.49, "mpvpe": 12.20, "miaa": 7.50},
    "wo_motionblur": {"mpjpe": 12.50, "mpvpe": 12.21, "miaa": 7.51},
    "wo_largelr": {"mpjpe": 12.79, "mpvpe": 12.45, "miaa": 7.64},
    "wo_all": {"mpjpe": 13.01, "mpvpe": 12.67, "miaa": 7.83},
}
PAPER_TZIONAS = {
    "InterShape": (18.24, 17.93),
    "IntagHand": (19.21, 18.91),
    "DIR": (16.48, 16.25),
}
METRICS = (
    ("mpjpe_sh", "MPJPE SH"),
    ("mpjpe_ih", "MPJPE IH"),
    ("mpjpe_all", "MPJPE all"),
    ("mpvpe_all", "MPVPE all"),
    ("mrrpe_offset", "MRRPE (offset head)"),
    ("mrrpe", "MRRPE (per-hand cameras)"),
    ("mesh_reprojection_px", "mesh reprojection px"),
    ("penetration_max_depth", "penetration max"),
    ("penetration_inside_fraction", "inside fraction"),
)
HELDOUT_METRICS = (("mpjpe_all", "MPJPE all"), ("mpvpe_all", "MPVPE all"))


@dataclass(frozen=True)
class SynthSpec:
    """The synthesised data: ``twohand`` with dense maps, main domain train / val / test and a
    held-out-domain test set, all at ``size`` px."""

    train: int = 6000
    val: int = 200
    test: int = 300
    heldout_test: int = 300
    size: int = 128
    seed: int = 0

    def commands(self, main: Path, heldout: Path) -> list[list[str]]:
        opts = ["--size", str(self.size), "--dense", "--seed", str(self.seed)]
        return [
            ["handpose", "synth", "images", "--kind", "twohand", "--out", str(main),
             "--train", str(self.train), "--val", str(self.val), "--test", str(self.test),
             *opts, "--domain", "main"],
            ["handpose", "synth", "images", "--kind", "twohand", "--out", str(heldout),
             "--train", "0", "--val", "0", "--test", str(self.heldout_test),
             *opts, "--domain", "heldout"],
        ]  # fmt: skip


@dataclass(frozen=True)
class RunSpec:
    """One training + evaluation run."""

    preset: str
    seed: int
    run: str

    @property
    def key(self) -> str:
        return f"{Path(self.preset).stem}/seed{self.seed}/{self.run}"


def run_overrides(run: str, preset: str, sets: Sequence[str] = ()) -> list[str]:
    """Config overrides of one run (on top of the preset and ``sets``)."""
    from handpose.training.harness import load_method_config

    if run not in RUNS:
        raise HandposeError(f"unknown DIR run {run!r}; choose from {', '.join(RUNS)}")
    if run.startswith("stages"):
        return [f"model.num_stages={run[-1]}"]
    if run.startswith("layout"):
        return [f"model.num_stages={run[-1]}", "model.offset_layout=true"]
    if run.startswith("where"):
        return [
            f"model.num_stages={run[-1]}",
            "model.position_pooling=true",
            "model.offset_layout=true",
        ]
    lr = load_method_config("dir", preset, list(sets)).train.lr
    parts = {
        "wo_attn": ["model.attention_pooling=false"],
        "wo_smoothl1": ["loss.position_loss=l1"],
        "wo_smoothl1_delta": ["loss.position_loss=l1_delta"],
        "wo_motionblur": ["data.augmentation.motion_blur_p=0.0"],
        "wo_largelr": [f"train.lr={lr / 3:.6g}"],
    }
    paper = ("wo_attn", "wo_smoothl1", "wo_motionblur", "wo_largelr")
    chosen = [v for k in paper for v in parts[k]] if run == "wo_all" else parts[run]
    return ["model.num_stages=0", *chosen]


def plan_runs(preset: str, seeds: Sequence[int], runs: Sequence[str] = PAPER_RUNS) -> list[RunSpec]:
    """Seed by seed, the runs in :data:`RUNS` order (the first seed's rows complete first)."""
    if not seeds:
        raise HandposeError("give at least one seed")
    for r in runs:
        if r not in RUNS:
            raise HandposeError(f"unknown DIR run {r!r}; choose from {', '.join(RUNS)}")
    return [RunSpec(preset, s, r) for s in seeds for r in RUNS if r in runs]


# ------------------------------------------------------------------------------ running
def _execute(spec: RunSpec, out: Path, data: Path, heldout: Path, sets: Sequence[str]) -> dict:
    run_dir = out / spec.key
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "log.txt"
    trained = run_dir / "trained.json"
    ckpt = run_dir / "main" / "checkpoints" / "last.ckpt"
    overrides = [
        *sets, *run_overrides(spec.run, spec.preset, sets), "train.threads=1",
        "train.progress_bar=false",
    ]  # fmt: skip
    train_cmd = [
        "handpose", "train", "dir", "--preset", spec.preset, "--data", str(data),
        "--seed", str(spec.seed), "--out", str(run_dir),
        *[x for s in overrides for x in ("--set", s)],
    ]  # fmt: skip
    if trained.exists():
        timing = json.loads(trained.read_text())
    else:
        resumed = ckpt.exists()
        t0 = time.perf_counter()
        cpu = common.run_handpose([*train_cmd, "--resume"] if resumed else train_cmd, log)
        timing = {
            "train_s": None if resumed else time.perf_counter() - t0,
            "train_cpu_s": None if resumed else cpu,
        }
        atomic_write_text(trained, json.dumps(timing) + "\n")
    evals, eval_cmds = {}, []
    t0 = time.perf_counter()
    eval_cpu = 0.0
    for name, source in (("test", data), ("heldout", heldout)):
        target = run_dir / f"eval_{name}.json"
        cmd = ["handpose", "eval", "--checkpoint", str(ckpt), "--data", str(source),
               "--split", "test", "--json", str(target), "--quiet", "--threads", "1"]  # fmt: skip
        eval_cmds.append(cmd)
        if not target.exists():
            eval_cpu += common.run_handpose(cmd, log)
        evals[name] = json.loads(target.read_text())
    result = {
        "preset": Path(spec.preset).stem,
        "seed": spec.seed,
        "run": spec.run,
        "test": evals["test"]["metrics"],
        "heldout": evals["heldout"]["metrics"],
        "counts": evals["test"].get("counts", {}),
        **timing,
        "eval_s": time.perf_counter() - t0,
        "eval_cpu_s": eval_cpu,
        "overrides": overrides,
        "commands": [common.shown(train_cmd), *(common.shown(c) for c in eval_cmds)],
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write_text(run_dir / "result.json", json.dumps(result, indent=2) + "\n")
    return result


def _ensure_data(synth: SynthSpec, main: Path, heldout: Path, log) -> list[str]:
    cmds = synth.commands(main, heldout)
    for cmd, path in zip(cmds, (main, heldout)):
        if path.exists() and (path / "manifest.json").exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        log(f"synthesising the data: {common.shown(cmd)}")
        common.run_handpose(cmd, path.parent / f"{path.name}.log")
        if not (path / "manifest.json").exists():
            raise HandposeError(f"data synthesis did not finish: '{path}'")
    return [common.shown(c) for c in cmds]


def describe_data(path: Path) -> dict:
    """Splits, counts and generator settings of a shard folder."""
    manifest = json.loads((path / "manifest.json").read_text())
    return {
        "path": str(path),
        "kind": manifest.get("kind"),
        "domain": manifest.get("meta", {}).get("domain"),
        "size": manifest.get("meta", {}).get("size"),
        "splits": {k: sum(s["count"] for s in v) for k, v in manifest.get("splits", {}).items()},
        "seed": manifest.get("generator", {}).get("seed"),
    }


def run_experiment(
    out: str | os.PathLike = "runs/dir_exp",
    preset: str = "cpu-small",
    seeds: Sequence[int] = (0, 1, 2),
    runs: Sequence[str] = PAPER_RUNS,
    jobs: int = 2,
    data: str | os.PathLike | None = None,
    heldout: str | os.PathLike | None = None,
    sets: Sequence[str] = (),
    synth: SynthSpec | None = None,
    doc: str | os.PathLike | None = "docs/results/dir.md",
    progress: bool = True,
    ehpe: Sequence[str | os.PathLike] = (),
) -> dict:
    """Run (or continue) the DIR experiments and write the report (module docstring).

    Args:
        out: experiment folder.
        preset: DIR preset or YAML file for every run.
        seeds, runs: what to run (:data:`RUNS` names).
        jobs: child processes at a time (one thread each).
        data, heldout: shard folders (main domain with train/val/test; held-out domain with
            test); None = ``OUT/data/twohand_main`` / ``twohand_heldout``, synthesised when
            missing.
        sets: config overrides for every run.
        synth: size of the synthesised data (:class:`SynthSpec`).
        doc: the markdown report (None: no report); the pictures go beside it.
        progress: a tqdm bar over the runs.
        ehpe: EHPE experiment folders for the generalisation table (:func:`write_report`).
    Returns:
        the :func:`summarize` dict.
    """

    from handpose.training.harness import load_method_config

    if jobs < 1:
        raise HandposeError(f"--jobs must be ≥ 1, got {jobs}")
    load_method_config("dir", preset, list(sets))  # validate before any work
    _check_ehpe_folders(ehpe)
    out = check_experiment_paths(
        out, doc, None, (), {"--data": (data, ("twohand",)), "--heldout": (heldout, ("twohand",))}
    )
    out.mkdir(parents=True, exist_ok=True)
    common.lock_folder(out)  # one experiment per folder at a time
    main = Path(data) if data is not None else out / "data" / "twohand_main"
    held = Path(heldout) if heldout is not None else out / "data" / "twohand_heldout"
    synth = synth or SynthSpec()
    specs = plan_runs(preset, seeds, runs)
    log = common.make_log(progress)

    meta_path = out / "experiment.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"sessions": []}
    synth_cmds = _ensure_data(synth, main, held, log)
    meta.setdefault("synth_commands", synth_cmds)
    started = time.time()
    session = {"start": datetime.now(UTC).isoformat(timespec="seconds"), "jobs": jobs,
               "preset": str(preset), "runs": list(runs), "seeds": list(seeds)}  # fmt: skip
    cmd = ["handpose", "experiment", "dir", "--preset", str(preset), "--seeds", *map(str, seeds),
           "--out", str(out), "--jobs", str(jobs)]  # fmt: skip
    if list(runs) != list(RUNS):
        cmd += ["--runs", *runs]
    cmd += ["--data", str(data)] if data is not None else []
    cmd += ["--heldout", str(heldout)] if heldout is not None else []
    cmd += [x for s in sets for x in ("--set", s)]
    meta.setdefault("commands", [])
    if common.shown(cmd) not in meta["commands"]:
        meta["commands"].append(common.shown(cmd))
    meta.update(data={"main": describe_data(main), "heldout": describe_data(held)},
                hardware=common.hardware())  # fmt: skip
    meta["sessions"].append(session)
    common.write_meta(meta_path, meta)

    done, pending, bar = common.resume_runs(specs, out, jobs, "dir runs", progress, log)

    def finished(s: RunSpec, res: dict) -> None:
        bar.update(1)
        t = res["test"]
        log(f"done {s.key}: MPJPE all {t['mpjpe_all']:.2f} mm, MPVPE all "
            f"{t['mpvpe_all']:.2f} mm, held-out MPJPE {res['heldout']['mpjpe_all']:.2f} mm")  # fmt: skip
        if doc is not None:
            write_report(out, doc, ehpe=ehpe)

    execute = common.retry_once(lambda s: _execute(s, out, main, held, sets), log, "it resumes")
    try:
        failed = common.schedule_runs(pending, jobs, execute, finished, log)
    finally:
        bar.close()
        common.end_session(meta_path, meta, session, started)
        common.release_folder(out)
    if doc is not None:
        write_report(out, doc, qualitative=True, ehpe=ehpe)
    summary = summarize(collect_results(out))
    common.raise_failed(failed)
    return summary


# ------------------------------------------------------------------------------ references
REFERENCES = {
    "initialisation": "every DIR network before training (identity root rotations, mean pose and shape)",
    "orientation oracle": "true root rotation of each hand, mean pose and shape (no image)",
}
_REF_KEYS = ("joints3d", "joint_valid", "hand_valid", "vertices", "interacting")


def _reference_hands(R):
    """R: (N, 2, 3, 3) root rotations → mean-pose, mean-shape hands (model frame), numpy."""
    import numpy as np
    import torch

    from handpose.handmodel import HandModel

    joints, verts = [], []
    for slot, side in enumerate(("right", "left")):
        m = HandModel("open", side=side, flat_hand_mean=False, dtype=torch.float64)
        out = m(global_orient=R[:, slot], hand_pose=torch.zeros(R.shape[0], 45, dtype=R.dtype))
        joints.append(out.joints21.numpy())
        verts.append(out.vertices.numpy())
    return {"joints3d": np.stack(joints, 1), "vertices": np.stack(verts, 1)}


def _split_labels(data: str | os.PathLike, split: str = "test") -> dict:
    """The label arrays of one split, stacked (N, ...): the :data:`_REF_KEYS` and
    ``mano_global_orient`` that the samples have (each sample is read once)."""
    import numpy as np

    from handpose.formats.shards import open_shards

    ds = open_shards(data)
    samples = [ds.get(split, i) for i in range(len(ds.split(split)))]
    keys = [k for k in (*_REF_KEYS, "mano_global_orient") if samples and k in samples[0]]
    return {k: np.stack([s[k] for s in samples]) for k in keys}


def reference_metrics(
    data: str | os.PathLike, intaghand_root: str = "wrist", *, labels: dict | None = None
) -> dict:
    """Two predictions that do not look at the image, on the test split of ``data`` with the
    runs' protocol (interhand, IntagHand scale alignment): :data:`REFERENCES` name → metrics.
    ``labels``: the split's arrays when already read (:func:`_split_labels`).

    The ``twohand`` hands have uniformly random orientations, so the initialisation is what a
    network scores before it has learnt orientation, and the orientation oracle what remains
    when only the finger articulation and shape are unknown.
    """
    import torch

    from handpose.geometry.rotations import axis_angle_to_matrix
    from handpose.metrics.protocols import evaluate_predictions

    test = _split_labels(data) if labels is None else labels
    targets = {k: test[k] for k in _REF_KEYS}
    n = len(test["joints3d"])
    rotations = {
        "initialisation": torch.eye(3, dtype=torch.float64).expand(n, 2, 3, 3),
        "orientation oracle": axis_angle_to_matrix(
            torch.as_tensor(test["mano_global_orient"], dtype=torch.float64)
        ),
    }
    return {
        name: dict(
            evaluate_predictions(
                "interhand", _reference_hands(R), targets, intaghand_root=intaghand_root
            ).metrics
        )
        for name, R in rotations.items()
    }


def zero_offset_mrrpe(
    data: str | os.PathLike, split: str = "test", *, labels: dict | None = None
) -> float | None:
    """MRRPE (mm) of always predicting a zero right − left wrist offset, on the frames where
    :class:`~handpose.models.dir.evaluation.DIREvaluator` measures ``mrrpe_offset``
    (interacting, both wrists valid): the mean wrist-to-wrist distance. None without such
    frames. What an offset head that has learnt nothing from the image scores. ``labels``:
    the split's arrays when already read (:func:`_split_labels`)."""
    import numpy as np

    lab = _split_labels(data, split) if labels is None else labels
    if "joints3d" not in lab:
        return None
    scored = lab["hand_valid"].astype(bool).all(-1) & lab["joint_valid"].astype(bool)[:, :, 0].all(
        -1
    )
    if "interacting" in lab:
        scored &= lab["interacting"].astype(bool)
    if not scored.any():
        return None
    j3 = lab["joints3d"][scored].astype(np.float64)
    return 1000.0 * float(np.linalg.norm(j3[:, 0, 0] - j3[:, 1, 0], axis=-1).mean())


def load_references(out: Path, meta: dict) -> dict:
    """``OUT/references.json`` ({"test": ..., "heldout": ...} of :func:`reference_metrics`,
    and "mrrpe_zero_offset" {"test": ..., "heldout": ...} of :func:`zero_offset_mrrpe`),
    computed from the experiment's data on first use and again when the data folders change;
    {} when the data is not described."""
    path = out / "references.json"
    data = meta.get("data") or {}
    if not all(k in data and Path(data[k]["path"]).exists() for k in ("main", "heldout")):
        return json.loads(path.read_text()) if path.exists() else {}
    paths = {k: str(data[k]["path"]) for k in ("main", "heldout")}
    if path.exists():
        cached = json.loads(path.read_text())
        if cached.get("paths") == paths and "mrrpe_zero_offset" in cached:
            return cached
    refs: dict = {"paths": paths, "mrrpe_zero_offset": {}}
    for where, key in (("test", "main"), ("heldout", "heldout")):
        labels = _split_labels(data[key]["path"])  # each test split read once
        refs[where] = reference_metrics(data[key]["path"], labels=labels)
        refs["mrrpe_zero_offset"][where] = zero_offset_mrrpe(data[key]["path"], labels=labels)
    atomic_write_text(path, json.dumps(refs, indent=2) + "\n")
    return refs


# ------------------------------------------------------------------------------ results
def collect_results(out: str | os.PathLike) -> list[dict]:
    """Every ``result.json`` under ``OUT/<preset>/seed*/`` (sorted by path)."""
    return [json.loads(p.read_text()) for p in sorted(Path(out).glob("*/seed*/*/result.json"))]


def summarize(results: list[dict]) -> dict:
    """Per (preset, run): seeds, mean ± sample std per metric, per-seed values.

    Returns:
        ``{(preset, run): {"n", "seeds", "test": {metric: (mean, std)}, "heldout": {...},
        "by_seed": {("test", metric): {seed: value}}, "run_s": (mean, std) | None}}``
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["preset"], r["run"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        e: dict = {"n": len(rs), "seeds": sorted(r["seed"] for r in rs), "by_seed": {}}
        for where in ("test", "heldout"):
            e[where] = {}
            names = {m for r in rs for m, v in r[where].items() if isinstance(v, (int, float))}
            for m in names:
                vals = {r["seed"]: float(r[where][m]) for r in rs if r[where].get(m) is not None}
                if vals:
                    e[where][m] = common.mean_std(list(vals.values()))
                    e["by_seed"][(where, m)] = vals
        times = [r["train_s"] + r["eval_s"] for r in rs if r.get("train_s") is not None]
        e["run_s"] = common.mean_std(times) if times else None
        out[key] = e
    return out


def paired(entry: dict, ref: dict, metric: str, where: str = "test"):
    """Mean ± sample std of the per-seed differences entry − ref, the seeds where entry is
    lower, and the seeds compared; None without a common seed."""
    return common.seed_delta(
        entry["by_seed"].get((where, metric), {}), ref["by_seed"].get((where, metric), {})
    )


def _fmt_delta(d) -> str:
    if d is None:
        return "—"
    mean, std, lower, n = d
    return f"{mean:+.2f} ± {std:.2f} ({lower}/{n} lower)" if n > 1 else f"{mean:+.2f}"


def _paper(run: str, key: str) -> str:
    return common.fmt_value(PAPER.get(run, {}).get(key))


def plot_bars(summary: dict, preset: str, path: Path) -> None:
    """MPJPE (all frames, mean ± std over seeds) per run: main-domain test and held-out test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r for r in RUNS if (preset, r) in summary]
    fig, ax = plt.subplots(figsize=(10, 4.2))
    x = list(range(len(names)))
    w = 0.38
    for off, where, label, colour in ((-w / 2, "test", "main-domain test", "tab:blue"),
                                      (w / 2, "heldout", "held-out domain", "tab:orange")):  # fmt: skip
        vals = [summary[(preset, r)][where].get("mpjpe_all", (math.nan, 0.0)) for r in names]
        ax.bar([i + off for i in x], [v[0] for v in vals], w, yerr=[v[1] for v in vals],
               capsize=3, label=label, color=colour)  # fmt: skip
    ax.set_xticks(x, [RUN_LABELS[r] for r in names], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("MPJPE, all frames (mm)")
    ax.set_title(f"DIR ({preset}): IntagHand-aligned MPJPE, mean ± std over seeds")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def write_qualitative_grid(
    checkpoints: dict[str, str | os.PathLike],
    data: str | os.PathLike,
    path: str | os.PathLike,
    split: str = "test",
    num: int = 6,
) -> Path:
    """A grid: per test image (interacting frames first), the ground truth and each
    checkpoint's two meshes over the image (right hand red, left hand blue wireframes).

    Args:
        checkpoints: column title → DIR checkpoint.
        data: shard folder; split: its split.
        num: rows.
    """
    import numpy as np
    import torch
    from PIL import Image, ImageDraw

    from handpose.datasets.image_dataset import normalize_image
    from handpose.datasets.show import draw_sample
    from handpose.formats.sample import collate
    from handpose.training.harness import load_model, method_config_from_dict
    from handpose.training.image_data import open_image_split

    models = {}
    for title, ckpt in checkpoints.items():
        model, meta = load_model(ckpt, method="dir")
        models[title] = (model, method_config_from_dict("dir", meta["config"]))
    cfg = next(iter(models.values()))[1]
    ds = open_image_split(str(data), split, cfg.data)
    order = sorted(range(len(ds)), key=lambda i: (not bool(ds[i]["interacting"]), i))[:num]
    samples = [ds[i] for i in order]
    batch = collate(samples)
    rows = []
    for i, s in enumerate(samples):
        base = {k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in s.items()}
        base["image"] = (s["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        gt = draw_sample({k: v for k, v in base.items() if k != "mask"}, caption="ground truth")
        half = gt.shape[1] // 2
        cells = [gt[:, : half - 2], gt[:, half + 2 :]]
        for title, (model, _) in models.items():
            with torch.no_grad():
                o = model(normalize_image(batch["image"][i : i + 1]), batch["K"][i : i + 1])
            pred = dict(base)
            pred.update(
                vertices=o.vertices[0].numpy(), joints2d=o.joints2d[0].numpy(),
                hand_valid=np.ones(2, bool), joint_valid=np.ones((2, 21), bool),
                bbox=np.zeros(4, np.float32),
            )  # fmt: skip
            pred.pop("mask", None)
            pic = draw_sample(pred, caption=title)
            cells.append(pic[:, half + 2 :])
        rows.append(np.concatenate([np.concatenate([c, np.zeros((c.shape[0], 4, 3), np.uint8)], 1) for c in cells], 1))  # fmt: skip
    grid = np.concatenate(rows, 0)
    img = Image.fromarray(grid)
    ImageDraw.Draw(img)
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        img.save(tmp, format="PNG")
    return path


def _table_stages(summary: dict, preset: str, refs: dict | None = None) -> list[str]:
    ref = summary.get((preset, "stages0"))
    L = [
        "| model | paper MPJPE (IH) | paper MPVPE | paper MRRPE | MPJPE SH | MPJPE IH | MPJPE all "
        "| MPVPE all | MRRPE offset | MRRPE cameras | reproj. px | pen. max (mm) | inside | "
        "Δ MPJPE all vs initial, paired | seeds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in ("stages0", "stages1", "stages2"):
        e = summary.get((preset, r))
        paper = [_paper(r, k) if r == "stages2" else "—" for k in ("mpjpe", "mpvpe", "mrrpe")]
        if e is None:
            L.append(f"| {RUN_LABELS[r]} | {' | '.join(paper)} | not run | | | | | | | | | | 0 |")
            continue
        n, t = e["n"], e["test"]
        cells = [common.fmt_mean_std(t.get(m), n) for m, _ in METRICS[:-1]] + [
            common.fmt_mean_std(t.get(METRICS[-1][0]), n, 3)
        ]
        delta = _fmt_delta(paired(e, ref, "mpjpe_all")) if ref and r != "stages0" else "—"
        L.append(f"| {RUN_LABELS[r]} | {' | '.join(paper)} | {' | '.join(cells)} | {delta} | {n} |")
    for name, m in (refs or {}).get("test", {}).items():
        cells = [f"{m[k]:.2f}" if m.get(k) is not None else "—" for k, _ in METRICS[:4]]
        L.append(f"| *reference: {name}* | — | — | — | {' | '.join(cells)} |" + " |" * 7)
    return L


def _table_ablation(summary: dict, preset: str) -> list[str]:
    ref = summary.get((preset, "stages0"))
    L = [
        "| basic model | paper MPJPE | paper MPVPE | paper MIAA (px) | MPJPE all | MPVPE all "
        "| mesh reprojection px (ours, not MIAA) | Δ MPJPE vs baseline, paired | seeds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = ["stages0", "wo_attn", "wo_smoothl1", "wo_motionblur", "wo_largelr", "wo_all"]
    if (preset, "wo_smoothl1_delta") in summary:
        rows.insert(3, "wo_smoothl1_delta")
    for r in rows:
        label = "baseline (all components)" if r == "stages0" else RUN_LABELS[r]
        paper = " | ".join(_paper(r, k) for k in ("mpjpe", "mpvpe", "miaa"))
        e = summary.get((preset, r))
        if e is None:
            L.append(f"| {label} | {paper} | not run | | | | 0 |")
            continue
        n, t = e["n"], e["test"]
        delta = _fmt_delta(paired(e, ref, "mpjpe_all")) if ref and r != "stages0" else "—"
        L.append(
            f"| {label} | {paper} | {common.fmt_mean_std(t.get('mpjpe_all'), n)} | {common.fmt_mean_std(t.get('mpvpe_all'), n)} "
            f"| {common.fmt_mean_std(t.get('mesh_reprojection_px'), n)} | {delta} | {n} |"
        )
    return L


def _table_offset(summary: dict, preset: str, refs: dict | None = None) -> list[str]:
    """DIR's relative-offset head vs the layout offset (``model.offset_layout``), paired by
    seed against the same number of stages with DIR's head alone."""
    L = [
        "| model | MPJPE all | MRRPE offset | MRRPE cameras | pen. max (mm) | inside "
        "| Δ MRRPE offset vs DIR's head, paired | Δ MPJPE all vs DIR's head, paired | seeds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = (("stages0", None), ("layout0", "stages0"), ("where0", "stages0"),
            ("stages2", None), ("layout2", "stages2"), ("where2", "stages2"))  # fmt: skip
    for r, base in rows:
        e = summary.get((preset, r))
        if e is None:
            L.append(f"| {RUN_LABELS[r]} | not run | | | | | | | 0 |")
            continue
        n, t = e["n"], e["test"]
        ref = summary.get((preset, base)) if base else None
        d_off = _fmt_delta(paired(e, ref, "mrrpe_offset")) if ref else "—"
        d_mpj = _fmt_delta(paired(e, ref, "mpjpe_all")) if ref else "—"
        cells = [
            common.fmt_mean_std(t.get(m), n)
            for m in ("mpjpe_all", "mrrpe_offset", "mrrpe", "penetration_max_depth")
        ] + [common.fmt_mean_std(t.get("penetration_inside_fraction"), n, 3)]
        L.append(f"| {RUN_LABELS[r]} | {' | '.join(cells)} | {d_off} | {d_mpj} | {n} |")
    zero = ((refs or {}).get("mrrpe_zero_offset") or {}).get("test")
    if zero is not None:
        L.append(f"| *reference: zero offset (no image)* | | {zero:.2f} | | | | | | |")
    return L


def _check_ehpe_folders(folders: Sequence[str | os.PathLike]) -> None:
    from handpose.utils.validate import input_folder

    for f in folders:
        input_folder(f, "--ehpe folder")
        if not (Path(f) / "experiment.json").is_file():
            raise HandposeError(f"the --ehpe folder '{f}' is not an EHPE experiment folder "
                                "(it has no experiment.json).")  # fmt: skip


def ehpe_generalisation(folders: Sequence[str | os.PathLike], preset: str) -> list[dict]:
    """EHPE's two-hand models (``handpose experiment ehpe --tables 2 --twohand-heldout ...``)
    scored on both domains with DIR's protocol, one entry per (preset, backbone) of the EHPE
    runs whose preset is ``preset``: ``{"label", "data", "test": {metric: {seed: v}},
    "heldout": {...}}``; only runs that carry the generalisation score count."""
    from handpose.experiments import ehpe as E

    if not folders:
        return []
    summary = E.summarize(E.collect_results(folders))
    data = {}
    for f in folders:
        meta = json.loads((Path(f) / "experiment.json").read_text())
        data.update({k: d.get("path") for k, d in meta.get("data", {}).items()})
    out = []
    for (p, kind, backbone, name), e in sorted(summary.items()):
        gen = e.get("generalisation", {})
        if p != preset or kind != "twohand" or name != E.RunSpec("pg", 0, "", E.MAIN, "full").name:
            continue
        if gen.get("test") and gen.get("heldout"):
            label = f"EHPE, each hand on its own ({backbone})"
            out.append({"label": label, "data": (data.get("twohand"), data.get("twohand_heldout")),
                        "test": gen["test"], "heldout": gen["heldout"]})  # fmt: skip
    return out


def fmt_gap(heldout: dict, main: dict) -> str:
    """Held-out − main over the seeds both have: ``+Δ ± std`` (``+Δ`` for one seed, ``—``
    for none)."""
    d = common.seed_delta(heldout, main)
    if d is None:
        return "—"
    return f"{d[0]:+.2f} ± {d[1]:.2f}" if d[3] > 1 else f"{d[0]:+.2f}"


def _table_heldout(
    summary: dict, preset: str, refs: dict | None = None, ehpe: Sequence[dict] = ()
) -> list[str]:
    L = [
        "| model | main test MPJPE | held-out MPJPE | held-out − main, paired | main MPVPE "
        "| held-out MPVPE | seeds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in ("stages0", "stages1", "stages2"):
        e = summary.get((preset, r))
        if e is None:
            L.append(f"| {RUN_LABELS[r]} | not run | | | | | 0 |")
            continue
        n = e["n"]
        gap = fmt_gap(e["by_seed"].get(("heldout", "mpjpe_all"), {}),
                      e["by_seed"].get(("test", "mpjpe_all"), {}))  # fmt: skip
        L.append(
            f"| {RUN_LABELS[r]} | {common.fmt_mean_std(e['test'].get('mpjpe_all'), n)} "
            f"| {common.fmt_mean_std(e['heldout'].get('mpjpe_all'), n)} | {gap} "
            f"| {common.fmt_mean_std(e['test'].get('mpvpe_all'), n)} | {common.fmt_mean_std(e['heldout'].get('mpvpe_all'), n)} | {n} |"
        )
    for g in ehpe:
        main, held = g["test"], g["heldout"]
        over = common.fmt_over_seeds
        cells = [over(main.get("mpjpe_all", {})), over(held.get("mpjpe_all", {})),
                 fmt_gap(held.get("mpjpe_all", {}), main.get("mpjpe_all", {})),
                 over(main.get("mpvpe_all", {})), over(held.get("mpvpe_all", {}))]  # fmt: skip
        n = len(main.get("mpjpe_all", {}))
        L.append(f"| {g['label']} | {' | '.join(cells)} | {n} |")
    if refs:
        for name in REFERENCES:
            a, b = refs["test"][name], refs["heldout"][name]
            L.append(
                f"| *reference: {name}* | {a['mpjpe_all']:.2f} | {b['mpjpe_all']:.2f} "
                f"| {b['mpjpe_all'] - a['mpjpe_all']:+.2f} | {a['mpvpe_all']:.2f} "
                f"| {b['mpvpe_all']:.2f} | — |"
            )
    return L


def write_report(
    out: str | os.PathLike,
    doc: str | os.PathLike,
    notes: str | os.PathLike | None = None,
    qualitative: bool = False,
    ehpe: Sequence[str | os.PathLike] = (),
) -> str:
    """Write ``doc`` (markdown), its bar chart(s) and, with ``qualitative``, the grid, from the
    finished runs under ``out``. Works on a partial experiment. ``ehpe``: EHPE experiment
    folders whose two-hand models join the generalisation table (:func:`ehpe_generalisation`).
    """
    _check_ehpe_folders(ehpe)
    out, doc = Path(out), Path(doc)
    meta_path = out / "experiment.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    results = collect_results(out)
    summary = summarize(results)
    presets = sorted({p for p, _ in summary}, key=lambda p: (p != "cpu-small", p))
    refs = load_references(out, meta)
    doc.parent.mkdir(parents=True, exist_ok=True)
    L = ["# DIR on synthetic two-hand data: measured results", ""]
    L += [
        f"Generated by `handpose.experiments.dir` from {len(results)} finished runs. Errors on "
        "the test split of the synthetic `twohand` data (InterHand2.6M-like: interacting (IH) "
        "and single-hand (SH) frames), in mm, with the IntagHand-style protocol rooted at the "
        "wrist (DIR's README convention; metrics.md §5): mean ± sample standard deviation over "
        'seeds, deltas paired by seed ("k/n lower" counts the seeds where the variant\'s error '
        "is lower). The paper's numbers are on real InterHand2.6M with ResNet-50 at 256×256 "
        "trained 50 epochs on a GPU: **compare trends, not absolute values.**",
        "",
    ]
    if notes is not None and Path(notes).exists():
        L += [Path(notes).read_text(encoding="utf-8").rstrip(), ""]
    for preset in presets:
        L += [f"## Preset `{preset}`", ""]
        L += ["### Refinement stages", ""]
        L += _table_stages(summary, preset, refs) + [""]
        if refs:
            L += [
                "References (no image, the same protocol and test frames): "
                + "; ".join(f"*{k}*: {v}" for k, v in REFERENCES.items())
                + ". The `twohand` hands have uniformly random orientations, so a model below "
                "the initialisation has learnt some orientation, and the orientation oracle is "
                "what the finger articulation and shape alone leave.",
                "",
            ]
        L += [
            "MRRPE offset: DIR's relative-offset head (how DIR reports MRRPE); MRRPE cameras: the "
            "two hands placed by their own weak-perspective cameras. Penetration: the predicted "
            "meshes with the left hand placed by the offset head, on the first interacting test "
            "frames (count in `eval_test.json`); 'inside' is the fraction of vertices inside "
            "the other hand.",
            "",
        ]
        L += ["### Supplement Table 2: ablation of the basic model", ""]
        L += _table_ablation(summary, preset) + [""]
        if any((preset, r) in summary for r in ("layout0", "layout2", "where0", "where2")):
            L += ["### The relative-offset head: DIR's vs the layout offset (ours)", ""]
            L += _table_offset(summary, preset, refs) + [""]
            L += [
                "DIR's offset head reads globally pooled c4 features (the stages: joint tokens "
                "without their 2D positions). `model.offset_layout` adds to every offset "
                "estimate an MLP of the estimate's 2D layout: both hands' projected joints and "
                "weak-perspective cameras, detached (`handpose.models.dir.network.LayoutOffset`); "
                "`model.position_pooling` appends each hand's attention centroid to its pooled "
                "features. The zero-offset row is what a head that ignores the image scores.",
                "",
            ]
        L += ["### Generalisation to an unseen rendering domain (supplement Table 1 setting)", ""]
        gen = ehpe_generalisation(ehpe, preset)
        L += _table_heldout(summary, preset, refs, gen) + [""]
        main_path = meta.get("data", {}).get("main", {}).get("path")
        held_path = meta.get("data", {}).get("heldout", {}).get("path")
        for g in gen:
            same = g["data"] == (main_path, held_path)
            L += [
                f"{g['label']}: EHPE's Table 2 model with EHPE's `{preset}` preset (`handpose "
                "experiment ehpe --tables 2 --twohand-heldout ...`), each hand cropped and "
                "estimated on its own, its meshes from the joints → mesh regressor; scored with "
                "this report's protocol (wrist-rooted). "
                + ("Same main and held-out data as the DIR rows."
                   if same else f"Its data: main `{g['data'][0]}`, held-out `{g['data'][1]}`, "
                   "not the DIR rows' data."),
                "",
            ]  # fmt: skip
        L += [
            "The paper's Table 1 (trained on InterHand2.6M, tested on Tzionas et al.'s two-hand "
            "sequences, MPJPE / MPVPE mm): "
            + "; ".join(f"{k} {a:.2f} / {b:.2f}" for k, (a, b) in PAPER_TZIONAS.items())
            + ". Ours: trained on the main rendering domain, tested on the held-out domain "
            "(unseen skin tones, background textures and light colours; the same hand model "
            "and camera model).",
            "",
        ]
        if any(p == preset for p, _ in summary):
            bar = doc.with_name(f"{doc.stem}_{preset}_bar.png")
            plot_bars(summary, preset, bar)
            L += [f"![MPJPE per run, main and held-out domain]({bar.name})", ""]
    grid = doc.with_name(f"{doc.stem}_qualitative.png")
    ck = {}
    for r, title in (("stages0", "the initial regression"), ("stages2", "the 2-stage model")):
        p = sorted(out.glob(f"cpu-small/seed*/{r}/main/checkpoints/last.ckpt"))
        if p:
            ck[title] = p[0]
    if qualitative and ck and meta.get("data"):
        write_qualitative_grid(ck, meta["data"]["main"]["path"], grid)
    if grid.exists() and ck:
        L += [
            "## Qualitative",
            "",
            "Test images (interacting frames first): the ground truth, then the predicted meshes "
            f"of {' and of '.join(ck)} (first seed, `cpu-small`), right hand red, left hand "
            "blue (wireframes), skeletons coloured per finger.",
            "",
            f"![qualitative grid]({grid.name})",
            "",
        ]
    L += ["## How these numbers were made", "", "### Commands", "", "```bash"]
    for c in meta.get("synth_commands", []):
        L.append(c + "   # the data (made by the runner when missing)")
    for c in meta.get("commands", []):
        L.append(c + "   # the experiments (resumable)")
    L += ["```", ""]
    if results:
        L += ["Each run is one training and two evaluation commands, e.g.:", "", "```bash"]
        L += results[0]["commands"]
        L += ["```", ""]
    if meta.get("data"):
        L += ["### Data", ""]
        for k, d in meta["data"].items():
            L.append(
                f"- {k}: `{d['path']}`, {d['kind']}, domain {d['domain']}, {d['size']} px, "
                f"splits {d['splits']}, seed {d['seed']}"
            )
        L.append("")
    hw = meta.get("hardware")
    if hw:
        L += ["### Hardware and time", ""]
        L.append(
            f"- {hw['cpu']}, {hw['cores']} cores shared with other work; Python {hw['python']}, "
            f"torch {hw['torch']}; no GPU; one torch thread per run"
        )
        for i, s in enumerate(meta.get("sessions", []), 1):
            wall = s.get("wall_s")
            L.append(
                f"- session {i} ({s.get('preset')}, {s.get('jobs')} jobs): started {s['start']}"
                + (
                    f", wall {wall / 60:.1f} min"
                    if wall is not None
                    else ", still running (or killed) when this report was written"
                )
            )
        cpu = [r["train_cpu_s"] + r["eval_cpu_s"] for r in results if r.get("train_cpu_s")]
        wall = [r["train_s"] + r["eval_s"] for r in results if r.get("train_s")]
        if cpu:
            m, sd = common.mean_std(cpu)
            mw, sw = common.mean_std(wall)
            L.append(
                f"- per run (train + 2 evaluations): CPU {m:.0f} ± {sd:.0f} s, wall {mw:.0f} ± "
                f"{sw:.0f} s; sum of wall times {sum(wall) / 60:.0f} min"
            )
        L.append("")
    L += [
        "### Configuration",
        "",
        "Presets in `handpose/configs/dir/`; each run's resolved config is "
        "`OUT/<preset>/seed<S>/<run>/main/config.yaml`, its overrides in `result.json`.",
        "",
    ]
    text = "\n".join(L)
    atomic_write_text(doc, text)
    return text
