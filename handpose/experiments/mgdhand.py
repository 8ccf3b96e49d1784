"""The MGDHand comparison: one teacher and every student variant, several seeds, one report.

:func:`run_experiment` (CLI: ``handpose experiment mgdhand``) does, in order:

1. synthesises the VIHand-like data if the file is missing (``handpose synth imu``; the exact
   command and size are recorded);
2. for every seed, trains the 7-IMU teacher, then every student: all variants of
   :data:`handpose.losses.distill.VARIANTS` at 7 IMUs and ``none``, ``global``, ``mgdistill`` at
   3 (``sparse3``) and 2 (``sparse2``) IMUs;
3. evaluates each checkpoint on the test split (MPJPE, PA-MPJPE, MPVPE, acceleration error);
4. writes the report (:func:`write_report`): markdown tables with mean ± std over seeds beside
   the paper's numbers, a bar chart, the commands, the data, the hardware and the wall time.

Each run is two child processes (``python -m handpose train …`` then ``handpose eval``) with one
torch thread each; a failed run is tried once more (it resumes) before it counts as failed; ``jobs`` of them run at a time, a student only after its seed's teacher. Layout::

    OUT/experiment.json              settings, data description, sessions (start, end, wall time)
    OUT/data/synth.h5                the data (unless ``data`` points elsewhere)
    OUT/seed<S>/teacher/             a run folder (checkpoints, logs, config.yaml)
    OUT/seed<S>/<variant>_imu<N>/    a student run folder
    OUT/<run>/log.txt                the child processes' output
    OUT/<run>/result.json            written last (atomically): metrics, timings, commands

**Resumable**: a run whose ``result.json`` exists is skipped. A run that was killed while
training continues from its ``last.ckpt`` (``--resume``). One killed after training but before
its ``result.json`` is only evaluated again. Run the same command again to continue.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from handpose.errors import HandposeError
from handpose.experiments import common
from handpose.utils.io import atomic_path, atomic_write_text
from handpose.utils.validate import (
    MAX_SEED,
    check_int,
    input_file,
    input_folder,
    json_field,
    output_file,
    output_folder,
    read_json,
)

__all__ = [
    "ALL_VARIANTS",
    "SPARSE_VARIANTS",
    "PAPER_RESULTS",
    "VARIANT_LABELS",
    "RunSpec",
    "SynthSize",
    "plan_runs",
    "run_experiment",
    "collect_results",
    "summarize",
    "write_report",
]

# The twelve variants in the order of the paper's tables (handpose.losses.distill.VARIANTS).
ALL_VARIANTS = (
    "none", "global", "ssd", "dpd", "tmd", "wo_ssd", "wo_dpd", "wo_tmd", "mgdistill",
    "simkd", "dkd", "scjd",
)  # fmt: skip
SPARSE_VARIANTS = ("none", "global", "mgdistill")
SPARSE_IMUS = (3, 2)
SENSORS = {7: "vihand7", 3: "sparse3", 2: "sparse2"}

# MGDHand (CVPR 2026), VIHand, 7 IMUs: (MPJPE, MPVPE) in mm; None = not reported.
PAPER_RESULTS: dict[str, tuple[float, float | None]] = {
    "teacher": (5.84, None),
    "none": (15.40, 17.15),
    "global": (12.92, 14.43),
    "ssd": (14.72, 16.97),
    "dpd": (10.36, 12.52),
    "tmd": (12.68, 14.71),
    "wo_ssd": (9.87, 12.58),
    "wo_dpd": (12.39, 13.90),
    "wo_tmd": (9.65, 10.74),
    "mgdistill": (9.13, 10.46),
    "simkd": (13.78, 15.89),
    "dkd": (11.92, 13.37),
    "scjd": (11.24, 13.50),
}
VARIANT_LABELS = {
    "teacher": "Teacher (MANO + 7 IMUs)",
    "none": "No distillation",
    "global": "Global feature (w/o decouple)",
    "ssd": "SSD only",
    "dpd": "DPD only",
    "tmd": "TMD only",
    "wo_ssd": "w/o SSD",
    "wo_dpd": "w/o DPD",
    "wo_tmd": "w/o TMD",
    "mgdistill": "MGDistill (full)",
    "simkd": "SimKD",
    "dkd": "DKD (regression)",
    "scjd": "SCJD-style",
}
METRICS = (
    ("mpjpe_mm", "MPJPE"),
    ("mpvpe_mm", "MPVPE"),
    ("pa_mpjpe_mm", "PA-MPJPE"),
    ("accel_error", "Accel"),
)


@dataclass(frozen=True)
class SynthSize:
    """Size of the synthetic data set made when the data file is missing."""

    subjects: int = 6
    frames_per_sequence: int = 500
    seed: int = 0

    def command(self, out: str | os.PathLike) -> list[str]:
        return [
            "handpose", "synth", "imu",
            "--subjects", str(self.subjects),
            "--frames-per-sequence", str(self.frames_per_sequence),
            "--seed", str(self.seed),
            "--out", str(out),
        ]  # fmt: skip


@dataclass(frozen=True)
class RunSpec:
    """One training + evaluation run.

    Attributes:
        kind: "teacher" or "student".
        seed: the config seed (initialisation, sampling, masks).
        variant: the student's distillation variant ("" for the teacher).
        imus: the student's IMU count (7, 3, 2); the teacher always reads 7.
        level: a study level (:mod:`handpose.experiments.mgdhand_factors`): the run lives
            under ``OUT/<level>/``; "" = ``OUT/`` (the comparison).
        sets: config overrides of this run, after the experiment's own.
        teacher_level: the level whose teacher a student distils from (None = its own).
    """

    kind: str
    seed: int
    variant: str = ""
    imus: int = 7
    level: str = ""
    sets: tuple[str, ...] = ()
    teacher_level: str | None = None

    @property
    def name(self) -> str:
        return "teacher" if self.kind == "teacher" else f"{self.variant}_imu{self.imus}"

    @property
    def key(self) -> str:
        base = f"seed{self.seed}/{self.name}"
        return f"{self.level}/{base}" if self.level else base

    @property
    def teacher_key(self) -> str:
        """The key of the teacher this run needs (its own key for a teacher)."""
        level = self.level if self.teacher_level is None else self.teacher_level
        return RunSpec("teacher", self.seed, level=level).key

    @property
    def group(self) -> tuple[str, int]:
        """What the seeds are averaged over: (variant or "teacher", imus)."""
        return ("teacher" if self.kind == "teacher" else self.variant, self.imus)


def plan_runs(
    seeds: Sequence[int],
    variants: Sequence[str] = ALL_VARIANTS,
    sparse_variants: Sequence[str] = SPARSE_VARIANTS,
    sparse_imus: Sequence[int] = SPARSE_IMUS,
) -> list[RunSpec]:
    """Every run of the comparison, in the order they start.

    Seed by seed: each seed's teacher, then its students; the next seed's teacher comes right
    after the current teacher, so that with two jobs the second slot is busy while the first
    teacher trains, and the first seed's rows are complete as early as possible.
    """
    from handpose.losses.distill import VARIANTS

    for v in (*variants, *sparse_variants):
        if v not in VARIANTS:
            raise HandposeError(f"unknown variant {v!r}; choose from {', '.join(VARIANTS)}")
    for n in sparse_imus:
        if n not in SENSORS:
            raise HandposeError(f"unknown IMU count {n}; choose from {sorted(SENSORS)}")
    if not seeds:
        raise HandposeError("give at least one seed")
    runs = [RunSpec("teacher", seeds[0])]
    for i, s in enumerate(seeds):
        if i + 1 < len(seeds):
            runs.append(RunSpec("teacher", seeds[i + 1]))
        runs += [RunSpec("student", s, v, 7) for v in variants]
        runs += [RunSpec("student", s, v, n) for n in sparse_imus for v in sparse_variants]
    return runs


# ------------------------------------------------------------------------------ running
def _train_command(
    spec: RunSpec, preset: str, data: Path, out: Path, sets: Sequence[str]
) -> list[str]:
    opts = [
        "--config", preset, "--data", str(data), "--seed", str(spec.seed),
        "--set", "train.threads=1", "--set", "train.progress_bar=false",
    ]  # fmt: skip
    for s in (*sets, *spec.sets):
        opts += ["--set", s]
    run_dir = out / spec.key
    if spec.kind == "teacher":
        return ["handpose", "train", "teacher", *opts, "--out", str(run_dir)]
    teacher = out / spec.teacher_key / "checkpoints" / "last.ckpt"
    return [
        "handpose", "train", "student", *opts, "--teacher", str(teacher),
        "--variant", spec.variant, "--imus", str(spec.imus), "--out", str(run_dir),
    ]  # fmt: skip


def _execute(spec: RunSpec, preset: str, data: Path, out: Path, sets: Sequence[str]) -> dict:
    """Train (or resume) and evaluate one run; write its ``result.json`` last."""
    run_dir = out / spec.key
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "log.txt"
    trained = run_dir / "trained.json"
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    train_cmd = _train_command(spec, preset, data, out, sets)
    if trained.exists():
        timing = json.loads(trained.read_text())
    else:
        resumed = ckpt.exists()
        cmd = [*train_cmd, "--resume"] if resumed else train_cmd
        t0 = time.perf_counter()
        cpu = common.run_handpose(cmd, log)
        # A resumed run's first segment is not timed: report None rather than a part.
        timing = {
            "train_s": None if resumed else time.perf_counter() - t0,
            "train_cpu_s": None if resumed else cpu,
        }
        atomic_write_text(trained, json.dumps(timing) + "\n")
    eval_json = run_dir / "eval.json"
    eval_cmd = [
        "handpose", "eval", "--checkpoint", str(ckpt), "--data", str(data),
        "--json", str(eval_json), "--quiet",
    ]  # fmt: skip
    # Evaluation in a fresh child process too: a long experiment must not keep modules of a
    # checkout that is being edited meanwhile (a stale import once failed every evaluation).
    t0 = time.perf_counter()
    eval_cpu = common.run_handpose(eval_cmd, log)
    eval_s = time.perf_counter() - t0
    extra, commands = {}, [common.shown(train_cmd), common.shown(eval_cmd)]
    if spec.kind == "teacher":
        # The teacher with every pose token masked (IMUs and β only): what it knows without
        # its target in the input (no shortcut: this is far from its masked-input error).
        full_json = run_dir / "eval_full_mask.json"
        full_cmd = [*eval_cmd[:-3], "--json", str(full_json), "--quiet", "--p-mask", "1"]
        common.run_handpose(full_cmd, log)
        extra["full_mask"] = json.loads(full_json.read_text())
        commands.append(common.shown(full_cmd))
    result = {
        **json.loads(eval_json.read_text()),
        **extra,
        "seed": spec.seed,
        "group": list(spec.group),
        "imus": spec.imus,
        **timing,
        "eval_s": eval_s,
        "eval_cpu_s": eval_cpu,
        "commands": commands,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write_text(run_dir / "result.json", json.dumps(result, indent=2) + "\n")
    return result


def _ensure_data(data: Path, synth: SynthSize, log: Callable[[str], None]) -> dict:
    cmd = synth.command(data)
    if not data.exists():
        common.synthesise(cmd, data, "the data", log)
        return {"command": common.shown(cmd), "made_here": True}
    return {"command": None, "made_here": False}


def describe_data(path: str | os.PathLike) -> dict:
    """Subjects, sequences, frames (per split), sensors, fps and noise of a handpose IMU file."""
    import h5py

    from handpose.datasets.windows import sequence_split
    from handpose.formats.imu_file import read_sequences

    recs = read_sequences(path)
    with h5py.File(path, "r") as f:
        attrs = {k: f.attrs[k] for k in ("fps", "noise", "seed", "generator") if k in f.attrs}
    frames = {"train": 0, "test": 0}
    seqs = {"train": 0, "test": 0}
    for r in recs:
        split = sequence_split(r.sequence)
        frames[split] += int(r.num_frames)
        seqs[split] += 1
    noise = attrs.get("noise")
    if isinstance(noise, bytes):
        noise = noise.decode()
    return {
        "path": str(path),
        "size_mb": round(os.path.getsize(path) / 1e6, 1),
        "subjects": len({int(r.subject) for r in recs}),
        "sequences": seqs,
        "frames": frames,
        "sensors": list(recs[0].sensor_names) if recs else [],
        "fps": float(attrs.get("fps", 30.0)),
        "noise": str(noise) if noise is not None else None,
        "generator": str(attrs.get("generator", "")),
        "seed": int(attrs["seed"]) if "seed" in attrs else None,
    }


def run_experiment(
    out: str | os.PathLike = "runs/mgdhand_exp",
    preset: str = "cpu-small",
    seeds: Sequence[int] = (0, 1, 2),
    jobs: int = 2,
    data: str | os.PathLike | None = None,
    variants: Sequence[str] = ALL_VARIANTS,
    sparse_variants: Sequence[str] = SPARSE_VARIANTS,
    sparse_imus: Sequence[int] = SPARSE_IMUS,
    sets: Sequence[str] = (),
    synth: SynthSize | None = None,
    doc: str | os.PathLike | None = "docs/results/mgdhand.md",
    bar: str | os.PathLike | None = None,
    notes: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict:
    """Run (or continue) the whole comparison and write the report.

    Args:
        out: experiment folder (see the module docstring).
        preset: config preset or YAML file for every run.
        seeds: one teacher and one set of students per seed.
        jobs: child processes at a time (one torch thread each).
        data: the handpose IMU file; None = ``OUT/data/synth.h5``, synthesised when missing
            (as is any missing path).
        variants: the 7-IMU student variants; ``sparse_variants`` at each of ``sparse_imus``.
        sets: config overrides ``key=value`` passed to every training run.
        synth: the size of the synthesised data (default :class:`SynthSize`).
        doc: the markdown report (None = no report); ``bar`` its bar chart (default: next to
            the report, ``<doc stem>_bar.png``); ``notes`` a markdown file included verbatim.
        progress: a tqdm bar over the runs.
    Returns:
        the :func:`summarize` dict of all finished runs.
    """
    for s in seeds:
        check_int(s, "--seeds", 0, MAX_SEED)
    specs = plan_runs(seeds, variants, sparse_variants, sparse_imus)
    if doc is not None:
        _report_paths(doc, bar, notes)  # checked before any work
    command = [
        "handpose", "experiment", "mgdhand", "--preset", preset,
        "--seeds", *map(str, seeds), "--out", str(out), "--jobs", str(jobs),
    ]  # fmt: skip
    settings = dict(
        seeds=list(seeds),
        variants=list(variants),
        sparse_variants=list(sparse_variants),
        sparse_imus=list(sparse_imus),
    )

    def report() -> None:
        if doc is not None:
            _report(Path(out), doc, bar, notes)

    execute_runs(specs, out, preset, jobs, data, sets, synth, command, settings, report, progress)
    return summarize(collect_results(out))


def execute_runs(
    specs: Sequence[RunSpec],
    out: str | os.PathLike,
    preset: str,
    jobs: int,
    data: str | os.PathLike | None,
    sets: Sequence[str],
    synth: SynthSize | None,
    command: list[str],
    settings: dict,
    report: Callable[[], None],
    progress: bool = True,
) -> None:
    """Run the runs that have no ``result.json`` yet, ``jobs`` at a time, each student after
    the teacher it needs; record the session in ``OUT/experiment.json``; call ``report`` after
    every finished run and at the end. The machinery of :func:`run_experiment` and of the
    factor study (:mod:`handpose.experiments.mgdhand_factors`).

    Args:
        command: the user-facing command (``--data`` and ``--set`` are appended here).
        settings: what else to record in ``experiment.json`` (seeds, variants, levels ...).
    Raises:
        HandposeError: after all other runs, when some failed.
    """

    from handpose.training.config import load_config

    # Everything a user can get wrong is checked before the experiment folder is touched.
    check_int(jobs, "--jobs", 1)
    load_config(preset, list(sets))  # validate the config and overrides before any work
    for spec in specs:
        if spec.sets:
            load_config(preset, [*sets, *spec.sets])
    out = output_folder(out, "experiment folder")
    data = Path(data) if data is not None else out / "data" / "synth.h5"
    synth = synth or SynthSize()
    if data.exists():
        describe_data(input_file(data, "data file"))  # readable, the layout checked
    else:
        output_file(data, "data file")
        check_int(synth.subjects, "--subjects", 1)
        check_int(synth.frames_per_sequence, "--frames", 8)
    out.mkdir(parents=True, exist_ok=True)
    common.lock_folder(out)  # one experiment per folder at a time
    log = common.make_log(progress)

    meta_path = out / "experiment.json"
    meta = read_json(meta_path, "experiment description") if meta_path.exists() else {}
    if not isinstance(meta, dict) or not isinstance(meta.setdefault("sessions", []), list):
        raise HandposeError(f"the experiment description '{meta_path}' is malformed.")
    made = _ensure_data(data, synth, log)
    if made["made_here"] or "synth_command" not in meta:
        meta["synth_command"] = made["command"]
    started = time.time()
    session = {
        "start": datetime.now(UTC).isoformat(timespec="seconds"),
        "jobs": jobs,
        "runs_done_before": 0,
    }
    meta.update(
        preset=preset,
        **settings,
        sets=list(sets),
        data=describe_data(data),
        hardware=common.hardware(),
        command=common.shown(
            list(command)
            + ([] if data == out / "data" / "synth.h5" else ["--data", str(data)])
            + [x for s in sets for x in ("--set", s)]
        ),
    )
    meta["sessions"].append(session)
    common.write_meta(meta_path, meta)

    done, pending, bar_ = common.resume_runs(specs, out, jobs, "mgdhand runs", progress, log)
    session["runs_done_before"] = len(done)

    def ready(s: RunSpec, failed: Mapping[str, str]) -> bool | None:
        """True = can start, False = wait for its teacher, None = its teacher failed."""
        if s.kind == "teacher":
            return True
        if s.teacher_key in failed:
            return None
        return s.teacher_key in done

    def finished(s: RunSpec, res: dict) -> None:
        done.add(s.key)
        bar_.update(1)
        t = res["train_cpu_s"]
        log(
            f"done {s.key}: MPJPE {res['mpjpe_mm']:.2f} mm, MPVPE "
            f"{res['mpvpe_mm']:.2f} mm, train "
            f"{'?' if t is None else f'{t:.0f}'} CPU-s, eval "
            f"{res['eval_cpu_s']:.0f} CPU-s"
        )
        report()

    execute = common.retry_once(
        lambda s: _execute(s, preset, data, out, sets), log, "it resumes where it stopped"
    )
    try:
        failed = common.schedule_runs(
            pending, jobs, execute, finished, log, ready, "its teacher failed"
        )
    finally:
        bar_.close()
        common.end_session(meta_path, meta, session, started, runs_done_after=len(done))
        report()
        common.release_folder(out)
    common.raise_failed(failed)


def _p_mask(meta: dict) -> float | None:
    """The teachers' masking probability from the experiment's preset and overrides."""
    from handpose.training.config import load_config

    try:
        return load_config(meta["preset"], meta.get("sets", [])).data.p_mask
    except (KeyError, HandposeError):
        return None


def _report_paths(doc, bar, notes) -> tuple[Path, Path, Path | None]:
    """The report, its bar chart (default ``<doc stem>_bar.png`` beside it) and the notes file,
    checked before any work."""
    doc = output_file(doc, "report")
    bar = output_file(bar if bar is not None else doc.with_name(f"{doc.stem}_bar.png"), "chart")
    return doc, bar, (input_file(notes, "notes file") if notes is not None else None)


def _report(out: Path, doc, bar, notes) -> None:
    if not any(Path(out).glob("seed*/*/result.json")):
        return  # nothing finished yet: keep the existing report
    write_report(out, *_report_paths(doc, bar, notes))


# ------------------------------------------------------------------------------ results
_RESULT_NUMBERS = ("mpjpe_mm", "mpvpe_mm", "pa_mpjpe_mm", "accel_error")


def _check_result(r, path: Path) -> dict:
    """A run's ``result.json`` with the fields the report reads, or one HandposeError line."""
    where = f"the run result '{path}'"
    json_field(r, "kind", "string", where)
    json_field(r, "seed", "integer", where)
    group = json_field(r, "group", "list", where)
    if len(group) != 2 or not isinstance(group[0], str) or not isinstance(group[1], int):
        raise HandposeError(f"{where}: field 'group' must be [variant, IMU count].")
    for key in _RESULT_NUMBERS:
        json_field(r, key, "number", where)
    json_field(r, "commands", "list", where)
    for t in ("", "_cpu"):
        if json_field(r, f"train{t}_s", "number", where, optional=True) is not None:
            json_field(r, f"eval{t}_s", "number", where)
    return r


def collect_results(out: str | os.PathLike) -> list[dict]:
    """Every ``result.json`` under ``out`` (sorted by path), checked (one line if malformed)."""
    return [
        _check_result(read_json(p, "run result"), p)
        for p in sorted(Path(out).glob("seed*/*/result.json"))
    ]


def summarize(results: list[dict]) -> dict:
    """Mean and sample standard deviation over seeds per (variant, imus).

    Returns:
        ``{(group, imus): {"n": seeds, "seeds": [...], metric: (mean, std), "train_s": ...}}``
    """
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in results:
        groups.setdefault((r["group"][0], int(r["group"][1])), []).append(r)
    summary = {}
    for key, rs in groups.items():
        entry: dict = {"n": len(rs), "seeds": sorted(r["seed"] for r in rs)}
        entry["mpjpe_by_seed"] = {int(r["seed"]): float(r["mpjpe_mm"]) for r in rs}
        for m, _ in METRICS:
            entry[m] = common.mean_std([float(r[m]) for r in rs])
        times = [r["train_s"] + r["eval_s"] for r in rs if r.get("train_s") is not None]
        entry["run_s"] = common.mean_std(times) if times else None
        summary[key] = entry
    return summary


def paired_delta(entry: dict, ref: dict) -> tuple[float, float, float, int, int] | None:
    """MPJPE difference to ``ref`` over the seeds both have (paired by seed).

    Returns:
        ``(mean Δ mm, sample std of Δ, mean Δ in % of ref's mean on those seeds, seeds where
        Δ < 0, seeds compared)``, or None without a common seed.
    """
    return common.seed_delta(entry["mpjpe_by_seed"], ref["mpjpe_by_seed"], percent=True)


def _variant_table(summary: dict, names: Sequence[str], imus: int, ref: dict | None) -> list:
    lines = [
        "| variant | paper MPJPE | paper MPVPE | MPJPE | MPVPE | PA-MPJPE | accel (mm/s²) "
        "| Δ MPJPE vs none, paired by seed | seeds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for v in names:
        e = summary.get((v, imus))
        paper = PAPER_RESULTS.get(v, (None, None)) if imus == 7 else (None, None)
        if e is None:
            lines.append(
                f"| {VARIANT_LABELS[v]} | {common.fmt_value(paper[0])} | {common.fmt_value(paper[1])} "
                "| not run yet | | | | | 0 |"
            )
            continue
        n = e["n"]
        delta = "—"
        if ref is not None and v != "none":
            delta = common.fmt_delta_pct(paired_delta(e, ref))
        lines.append(
            f"| {VARIANT_LABELS[v]} | {common.fmt_value(paper[0])} | {common.fmt_value(paper[1])} "
            f"| {common.fmt_mean_std(e['mpjpe_mm'], n)} | {common.fmt_mean_std(e['mpvpe_mm'], n)} "
            f"| {common.fmt_mean_std(e['pa_mpjpe_mm'], n)} | {common.fmt_mean_std(e['accel_error'], n, 0)} | {delta} | {n} |"
        )
    return lines


def plot_bars(summary: dict, path: str | os.PathLike, variants: Sequence[str]) -> None:
    """Bar chart: our MPJPE (mean ± std over seeds) beside the paper's, per 7-IMU variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [v for v in ("teacher", *variants) if (v, 7) in summary]
    sparse = [
        (v, n) for n in (3, 2) for v in SPARSE_VARIANTS if (v, n) in summary and v in variants
    ]
    fig, axes = plt.subplots(
        1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [max(len(names), 1), 4]}
    )
    ax = axes[0]
    x = list(range(len(names)))
    ours = [summary[(v, 7)]["mpjpe_mm"][0] for v in names]
    err = [summary[(v, 7)]["mpjpe_mm"][1] for v in names]
    paper = [PAPER_RESULTS.get(v, (math.nan, None))[0] for v in names]
    w = 0.4
    ax.bar([i - w / 2 for i in x], ours, w, yerr=err, capsize=3, label="ours (synthetic)")
    ax.bar([i + w / 2 for i in x], paper, w, label="paper (VIHand)", color="tab:gray")
    ax.set_xticks(x, [VARIANT_LABELS[v] for v in names], rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("MPJPE (mm)")
    ax.set_title("7 IMUs: test MPJPE, mean ± std over seeds")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax = axes[1]
    if sparse:
        labels = [f"{v}, {n} IMUs" for v, n in sparse]
        colors = {3: "tab:orange", 2: "tab:green"}
        ax.bar(
            range(len(sparse)),
            [summary[k]["mpjpe_mm"][0] for k in sparse],
            yerr=[summary[k]["mpjpe_mm"][1] for k in sparse],
            capsize=3,
            color=[colors[n] for _, n in sparse],
        )
        ax.set_xticks(range(len(sparse)), labels, rotation=40, ha="right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no sparse-IMU runs yet", ha="center", transform=ax.transAxes)
        ax.set_xticks([])
    ax.set_title("sparse IMUs (ours)")
    ax.set_ylabel("MPJPE (mm)")
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, path)


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> None:
    """Lay out, write atomically (the report's figures) and close a pyplot figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)


def write_report(
    out: str | os.PathLike,
    doc: str | os.PathLike,
    bar: str | os.PathLike,
    notes: str | os.PathLike | None = None,
) -> str:
    """Write the markdown report (and the bar chart) from the finished runs under ``out``.

    Works on a partial experiment (rows without results say so). Returns the markdown text.

    Raises:
        HandposeError: no finished run under ``out`` (an existing report is kept), a malformed
            ``result.json`` or ``experiment.json``, a missing notes file, or outputs that
            cannot be written.
    """
    out = input_folder(out, "experiment folder")
    doc, bar, notes = _report_paths(doc, bar, notes)
    meta_path = out / "experiment.json"
    meta = read_json(meta_path, "experiment description") if meta_path.exists() else {}
    if not isinstance(meta, dict):
        raise HandposeError(f"the experiment description '{meta_path}' must be a JSON object.")
    results = collect_results(out)
    if not results:
        raise HandposeError(
            f"no finished run under '{out}' (no seed*/*/result.json); the report was not written."
        )
    summary = summarize(results)
    variants = meta.get("variants", list(ALL_VARIANTS))
    sparse_variants = meta.get("sparse_variants", list(SPARSE_VARIANTS))
    sparse_imus = meta.get("sparse_imus", list(SPARSE_IMUS))
    seeds = meta.get("seeds", [])
    planned = len(plan_runs(seeds, variants, sparse_variants, sparse_imus)) if seeds else 0
    doc.parent.mkdir(parents=True, exist_ok=True)
    if results:
        plot_bars(summary, bar, variants)
    try:
        bar_ref = os.path.relpath(bar, doc.parent)
    except ValueError:
        bar_ref = str(bar)

    L: list[str] = ["# MGDHand on synthetic VIHand-like data: measured results", ""]
    L += [
        f"Generated by `handpose.experiments.mgdhand` from {len(results)} of {planned} planned "
        f"runs (preset `{meta.get('preset', '?')}`, seeds {seeds}). Errors are on the test "
        "split (ROM13–ROM15, gestures unseen in training), wrist-relative, in mm; "
        "mean ± sample standard deviation over seeds. The paper's numbers are on the real "
        "VIHand data with the paper-size networks: **the comparison is of trends, not of "
        "absolute values.**",
        "",
    ]
    if planned and len(results) < planned:
        L += [
            f"**Partial:** {planned - len(results)} runs have not finished; the experiment "
            "is resumable with the command below.",
            "",
        ]
    teacher = summary.get(("teacher", 7))
    p_mask = _p_mask(meta)
    masking = (
        f"pose masking p_mask = {p_mask:g} joint-wise or frame-wise: "
        f"{100 * (1 - (1 - p_mask) ** 2):.0f} % of the pose tokens"
        if p_mask is not None
        else "masked MANO sequence"
    )
    L += [f"## Teacher (stage 1: MANO sequence with {masking}; β visible; 7 IMUs)", ""]
    L += [
        "| | paper MPJPE | MPJPE | MPVPE | PA-MPJPE | accel (mm/s²) | MPJPE, all pose masked "
        "| seeds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if teacher:
        n = teacher["n"]
        full = [r["full_mask"]["mpjpe_mm"] for r in results if r.get("full_mask")]
        L.append(
            f"| teacher | {common.fmt_value(PAPER_RESULTS['teacher'][0])} "
            f"| {common.fmt_mean_std(teacher['mpjpe_mm'], n)} | {common.fmt_mean_std(teacher['mpvpe_mm'], n)} "
            f"| {common.fmt_mean_std(teacher['pa_mpjpe_mm'], n)} | {common.fmt_mean_std(teacher['accel_error'], n, 0)} "
            f"| {common.fmt_mean_std(common.mean_std(full), len(full)) if full else '—'} | {n} |"
        )
    else:
        L.append("| teacher | 5.84 | not run yet | | | | | 0 |")
    L += [
        "",
        "The last column evaluates the same teachers with every pose token masked (IMUs and β "
        "only): what the teacher knows without its target in its input.",
        "",
    ]
    ref7 = summary.get(("none", 7))
    L += ["## Students at 7 IMUs (all variants)", ""]
    L += _variant_table(summary, variants, 7, ref7)
    L += [""]
    d = (
        paired_delta(summary[("mgdistill", 7)], ref7)
        if ref7 and ("mgdistill", 7) in summary
        else None
    )
    if d is not None:
        L += [
            f"Full MGDistill vs no distillation, paired by seed: {common.fmt_delta_pct(d)} MPJPE "
            '(Δ = mean ± sample std of the per-seed differences; "k/n lower" counts the seeds '
            "where distillation lowered the error); the paper reports 15.40 → 9.13 mm (−40.7 %).",
            "",
        ]
    for n in sparse_imus:
        ref = summary.get(("none", n))
        L += [f"## Students at {n} IMUs ({SENSORS[n]})", ""]
        L += ["The issue gives no paper numbers for the sparse settings.", ""]
        L += _variant_table(summary, sparse_variants, n, ref)
        L += [""]
    if results:
        L += [f"![MPJPE per variant]({bar_ref})", ""]
    if notes is not None:
        try:
            L += [notes.read_text(encoding="utf-8").rstrip(), ""]
        except (OSError, UnicodeDecodeError) as err:
            raise HandposeError(f"the notes file '{notes}' cannot be read ({err}).") from None

    L += ["## How these numbers were made", ""]
    L += ["### Commands", "", "```bash"]
    if meta.get("synth_command"):
        L.append(meta["synth_command"] + "   # the data (made by the runner when missing)")
    if meta.get("command"):
        L.append(meta["command"] + "   # the whole comparison (resumable)")
    L += ["```", ""]
    example = {}
    for r in results:
        example.setdefault(r["kind"], r["commands"])
    if example:
        L += ["Each run is one training and one evaluation command, e.g.:", "", "```bash"]
        for kind in ("teacher", "student"):
            for c in example.get(kind, []):
                L.append(c)
        L += ["```", ""]
    data = meta.get("data")
    if data:
        L += ["### Data", ""]
        L += [
            f"- file `{data['path']}` ({data['size_mb']} MB), {data['generator']}, "
            f"seed {data['seed']}",
            f"- {data['subjects']} synthetic subjects; train ROM01–ROM12: "
            f"{data['sequences']['train']} sequences, {data['frames']['train']} frames; test "
            f"ROM13–ROM15: {data['sequences']['test']} sequences, {data['frames']['test']} "
            f"frames; {data['fps']:g} fps",
            f"- sensors: {', '.join(data['sensors'])} (students: vihand7 = all, sparse3, "
            "sparse2; see `handpose.simulators.imu.layouts`)",
            f"- IMU noise model: `{data['noise']}`",
            "",
        ]
    hw = meta.get("hardware")
    if hw:
        L += ["### Hardware and time", ""]
        L += [
            f"- {hw['cpu']}, {hw['cores']} cores; Python {hw['python']}, torch {hw['torch']}; "
            "no GPU",
            f"- every run: one child process with one torch thread; "
            f"{meta['sessions'][-1]['jobs'] if meta.get('sessions') else '?'} runs at a time",
        ]
        for i, s in enumerate(meta.get("sessions", []), 1):
            wall = s.get("wall_s")
            L.append(
                f"- session {i}: started {s['start']}, "
                + (
                    f"wall {wall / 60:.1f} min, runs done {s['runs_done_before']} → "
                    f"{s.get('runs_done_after', '?')}"
                    if wall is not None
                    else "still running (or killed) when this report was written"
                )
            )
        for key, what in (("", "wall"), ("_cpu", "CPU")):
            per = {
                kind: [
                    r[f"train{key}_s"] + r[f"eval{key}_s"]
                    for r in results
                    if r["kind"] == kind and r.get(f"train{key}_s") is not None
                ]
                for kind in ("teacher", "student")
            }
            both = per["teacher"] + per["student"]
            if both:
                L.append(
                    f"- {what} time per run (train + eval): teacher "
                    f"{common.fmt_mean_std(common.mean_std(per['teacher']), len(per['teacher']), 0) if per['teacher'] else '—'} s, "
                    f"student {common.fmt_mean_std(common.mean_std(per['student']), len(per['student']), 0) if per['student'] else '—'} s; "
                    f"sum {sum(both) / 60:.1f} min"
                )
        L.append("")
    L += [
        "### Configuration",
        "",
        f"Preset `{meta.get('preset', '?')}` (`handpose/configs/mgdhand/`), overrides "
        f"{meta.get('sets') or 'none'}; each run's resolved config is its `config.yaml`.",
        "",
    ]
    text = "\n".join(L)
    atomic_write_text(doc, text)
    return text
