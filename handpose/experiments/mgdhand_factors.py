"""What makes distillation matter: the MGDistill − no-distillation gap against four factors.

:func:`run_factors` (CLI: ``handpose experiment mgdhand-factors``) trains, per seed, a base
setting and one level at a time away from it, and reports the outcome of every level: the
paired difference of test MPJPE between the MGDistill student and the no-distillation student
of the same seed (the paper: −40.7 %). The factors:

- **data**: the training data size, in subjects and gestures (the base's 6 subjects × 12
  gestures, 6 × 4 and 12 × 12). Every level trains for the same number of steps
  (``train.steps_per_epoch``), so data size and training length are not confounded, and every
  level is tested on the same split (the first 6 subjects' test gestures ROM13–15: subjects
  every level trains on, as in VIHand). Each level has its own teacher and students.
- **capacity**: the student's width (16, the base's 32, 64), with the base's teacher.
- **teacher**: the teacher's masking ratio (``data.p_mask``; 0.15, the base's 0.5, 0.85), i.e.
  how much of its target the teacher sees, hence its error. Each level has its own teacher;
  the no-distillation student does not depend on the teacher, so the base's is the reference.
- **weight**: the distillation weight (0.3, the base's 1, 3, 10), with the base's teacher and
  no-distillation student.

The runs are the comparison's runs (:func:`handpose.experiments.mgdhand.execute_runs`: child
processes with one thread, resumable, ``result.json`` per run), laid out as
``OUT/<level>/seed<S>/<run>/``, on one data file of 12 subjects (``OUT/data/synth.h5``). The
base level is the comparison's 7-IMU setting on the same windows: the file's first 6 subjects
are those of the comparison's 6-subject file (the synthesiser keys every sequence by (seed,
subject, gesture)), the test split is theirs, and 135 steps per epoch is one pass in the same
order. So ``base_from`` can point at a finished comparison (``handpose experiment mgdhand``
with the same preset and seeds): ``OUT/base`` then links to it and its teacher and
no-distillation and MGDistill students at 7 IMUs are the base level's runs.

The report (:func:`write_factors_report`) has one table per factor and a figure with one panel
per factor, and extrapolates the data-size trend to VIHand's size.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from handpose.errors import HandposeError
from handpose.experiments.common import mean_std
from handpose.experiments.mgdhand import RunSpec, SynthSize, execute_runs, save_figure
from handpose.utils.io import atomic_write_text
from handpose.utils.validate import MAX_SEED, check_int

__all__ = [
    "FACTORS",
    "Level",
    "LEVELS",
    "VIHAND_TRAIN_FRAMES",
    "plan_factor_runs",
    "factor_outcomes",
    "run_factors",
    "write_factors_report",
]

FACTORS = ("data", "capacity", "teacher", "weight")
# One pass over the base level's windows: 6 subjects × 12 gestures × 500 frames, windows of
# 32 frames every 16 → 2160 windows, batch 16 → 135 steps.
STEPS_PER_EPOCH = 135
BASE_SETS = ("data.train_subjects=6", "data.eval_subjects=6")
# VIHand (Wang et al., ACM MM 2025): 15 subjects × 15 gestures, over 1.4 M frames at 30 Hz;
# the training gestures are ROM01–ROM12 of every subject, 12/15 of the frames.
VIHAND_TRAIN_FRAMES = 1.4e6 * 12 / 15
VIHAND_SUBJECTS = 15


@dataclass(frozen=True)
class Level:
    """One setting of the study.

    Attributes:
        factor: "base" or one of :data:`FACTORS`.
        name: folder name under ``OUT/``.
        label: how tables and figures name it.
        x: its position on the factor's axis (training frames, width, p_mask, weight).
        sets: config overrides (after the study's own).
        own_teacher: trains its own teacher (else the base's).
        own_none: trains its own no-distillation student (else the base's is the reference).
    """

    factor: str
    name: str
    label: str
    x: float
    sets: tuple[str, ...] = ()
    own_teacher: bool = False
    own_none: bool = False


def _frames(subjects: int, gestures: int, frames_per_sequence: int = 500) -> float:
    return float(subjects * gestures * frames_per_sequence)


BASE = Level("base", "base", "base: 6 subjects × 12 gestures, width 32, p_mask 0.5, weight 1",
             _frames(6, 12), (), True, True)  # fmt: skip
LEVELS: tuple[Level, ...] = (
    BASE,
    Level("data", "data_s6g4", "6 subjects × 4 gestures", _frames(6, 4),
          ("data.train_gestures=4",), True, True),
    Level("data", "data_s12g12", "12 subjects × 12 gestures", _frames(12, 12),
          ("data.train_subjects=12",), True, True),
    Level("capacity", "width16", "student width 16", 16, ("student.dim=16",), False, True),
    Level("capacity", "width64", "student width 64", 64, ("student.dim=64",), False, True),
    Level("teacher", "mask0.15", "teacher p_mask 0.15", 0.15, ("data.p_mask=0.15",), True),
    Level("teacher", "mask0.85", "teacher p_mask 0.85", 0.85, ("data.p_mask=0.85",), True),
    Level("weight", "w0.3", "distillation weight 0.3", 0.3, ("distill.weight=0.3",)),
    Level("weight", "w3", "distillation weight 3", 3.0, ("distill.weight=3",)),
    Level("weight", "w10", "distillation weight 10", 10.0, ("distill.weight=10",)),
)  # fmt: skip
# Where the base sits on each factor's axis.
BASE_X = {"data": _frames(6, 12), "capacity": 32.0, "teacher": 0.5, "weight": 1.0}
X_LABELS = {
    "data": "training frames (subjects × gestures × 500)",
    "capacity": "student width",
    "teacher": "teacher masking probability p_mask",
    "weight": "distillation weight",
}


def _levels(factors: Sequence[str]) -> list[Level]:
    for f in factors:
        if f not in FACTORS:
            raise HandposeError(f"unknown factor {f!r}; choose from {', '.join(FACTORS)}")
    return [lv for lv in LEVELS if lv.factor == "base" or lv.factor in factors]


def plan_factor_runs(
    seeds: Sequence[int], factors: Sequence[str] = FACTORS, steps_per_epoch: int = STEPS_PER_EPOCH
) -> list[RunSpec]:
    """Every run of the study, in the order they start: per seed, the teachers, then the
    students (7 IMUs, ``none`` and ``mgdistill``), so that two jobs stay busy."""
    if not seeds:
        raise HandposeError("give at least one seed")
    levels = _levels(factors)
    common = (*BASE_SETS, f"train.steps_per_epoch={steps_per_epoch}")
    runs: list[RunSpec] = []
    for s in seeds:
        for lv in levels:
            if lv.own_teacher:
                runs.append(RunSpec("teacher", s, level=lv.name, sets=(*common, *lv.sets)))
        for lv in levels:
            teacher = None if lv.own_teacher else BASE.name
            variants = ("none", "mgdistill") if lv.own_none else ("mgdistill",)
            for v in variants:
                runs.append(RunSpec("student", s, v, 7, lv.name, (*common, *lv.sets), teacher))
    return runs


def _collect(out: Path) -> dict[tuple[str, str, int], dict]:
    """``{(level, run name, seed): result}`` of every finished run under ``out``."""
    found = {}
    for p in sorted(out.glob("*/seed*/*/result.json")):
        level, seed, name = p.parts[-4], p.parts[-3], p.parts[-2]
        found[(level, name, int(seed[4:]))] = json.loads(p.read_text())
    return found


def factor_outcomes(out: str | os.PathLike, factors: Sequence[str] = FACTORS) -> list[dict]:
    """Per level: teacher, no-distillation and MGDistill MPJPE (mean, std over seeds) and the
    paired outcome Δ = MGDistill − none per seed (mm and % of that seed's none)."""
    found = _collect(Path(out))
    rows = []
    for lv in _levels(factors):
        none_level = lv.name if lv.own_none else BASE.name
        teacher_level = lv.name if lv.own_teacher else BASE.name
        seeds = sorted({s for (lvl, _, s) in found if lvl == lv.name})
        per_seed = []
        for s in seeds:
            m = found.get((lv.name, "mgdistill_imu7", s))
            n = found.get((none_level, "none_imu7", s))
            if m is None or n is None:
                continue
            d = m["mpjpe_mm"] - n["mpjpe_mm"]
            per_seed.append({"seed": s, "delta_mm": d, "delta_pct": 100 * d / n["mpjpe_mm"]})

        def stat(level: str, name: str, key: str = "mpjpe_mm") -> tuple | None:
            vals = [r[key] for (lvl, nm, _), r in found.items() if lvl == level and nm == name]
            return (*mean_std(vals), len(vals)) if vals else None

        full = [
            r["full_mask"]["mpjpe_mm"]
            for (lvl, nm, _), r in found.items()
            if lvl == teacher_level and nm == "teacher" and "full_mask" in r
        ]
        rows.append(
            {
                "factor": lv.factor,
                "level": lv.name,
                "label": lv.label,
                "x": lv.x,
                "teacher": stat(teacher_level, "teacher"),
                "teacher_full_mask": (*mean_std(full), len(full)) if full else None,
                "none": stat(none_level, "none_imu7"),
                "mgdistill": stat(lv.name, "mgdistill_imu7"),
                "per_seed": per_seed,
                "delta_mm": mean_std([p["delta_mm"] for p in per_seed]) if per_seed else None,
                "delta_pct": mean_std([p["delta_pct"] for p in per_seed]) if per_seed else None,
                "lower": sum(p["delta_mm"] < 0 for p in per_seed),
                "n": len(per_seed),
            }
        )
    return rows


def log_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """Least-squares ``y = a + b·log10(x)``; None with fewer than two distinct x."""
    if len(set(xs)) < 2:
        return None
    lx = [math.log10(x) for x in xs]
    mx, my = sum(lx) / len(lx), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in lx)
    b = sum((x - mx) * (y - my) for x, y in zip(lx, ys)) / sxx
    return my - b * mx, b


def run_factors(
    out: str | os.PathLike = "runs/mgdhand_factors",
    preset: str = "cpu-small",
    seeds: Sequence[int] = (0, 1, 2),
    jobs: int = 2,
    data: str | os.PathLike | None = None,
    factors: Sequence[str] = FACTORS,
    sets: Sequence[str] = (),
    steps_per_epoch: int = STEPS_PER_EPOCH,
    doc: str | os.PathLike | None = "docs/results/mgdhand_factors.md",
    progress: bool = True,
    base_from: str | os.PathLike | None = None,
    notes: str | os.PathLike | None = None,
) -> list[dict]:
    """Run (or continue) the factor study and write its report; returns
    :func:`factor_outcomes`. Arguments as :func:`handpose.experiments.mgdhand.run_experiment`;
    the data file defaults to ``OUT/data/synth.h5`` with 12 subjects × 500 frames.
    ``base_from``: a finished comparison's folder to use as the base level (module docstring;
    ``OUT/base`` becomes a link to it)."""
    for s in seeds:
        check_int(s, "--seeds", 0, MAX_SEED)
    specs = plan_factor_runs(seeds, factors, steps_per_epoch)
    base = Path(out) / BASE.name
    if base_from is not None:
        source = Path(base_from).resolve()
        if not (source / "experiment.json").is_file():
            raise HandposeError(f"'{base_from}' is not an experiment folder (no experiment.json)")
        if base.is_symlink() and base.resolve() != source:
            raise HandposeError(f"'{base}' already links to '{base.resolve()}', not '{source}'")
        if not base.exists():
            base.parent.mkdir(parents=True, exist_ok=True)
            base.symlink_to(source, target_is_directory=True)
        elif not base.is_symlink():
            raise HandposeError(f"'{base}' exists and is not a link; remove it or drop --base-runs")
    command = [
        "handpose", "experiment", "mgdhand-factors", "--preset", preset,
        "--seeds", *map(str, seeds), "--factors", *factors, "--out", str(out),
        "--jobs", str(jobs),
    ]  # fmt: skip
    if base_from is not None:
        command += ["--base-runs", str(base_from)]
    settings = {
        "seeds": list(seeds),
        "factors": list(factors),
        "steps_per_epoch": steps_per_epoch,
        "base_from": None if base_from is None else str(base_from),
    }

    def report() -> None:
        if doc is not None:
            write_factors_report(out, doc, factors, notes)

    execute_runs(
        specs, out, preset, jobs, data, sets, SynthSize(subjects=12), command, settings,
        report, progress,
    )  # fmt: skip
    return factor_outcomes(out, factors)


def _ms(v: tuple | None, digits: int = 2) -> str:
    """``(mean, std[, n])`` → "mean ± std" ("mean" alone for one value)."""
    if v is None:
        return "—"
    n = v[2] if len(v) > 2 else 2
    return f"{v[0]:.{digits}f} ± {v[1]:.{digits}f}" if n > 1 else f"{v[0]:.{digits}f}"


def plot_factors(rows: list[dict], path: str | os.PathLike, factors: Sequence[str]) -> None:
    """One panel per factor: Δ% per seed (dots) and its mean ± std (line), base marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(factors), figsize=(4.2 * len(factors), 3.8), squeeze=False)
    base = next((r for r in rows if r["level"] == BASE.name), None)
    for ax, f in zip(axes[0], factors):
        pts = [r for r in rows if r["factor"] == f and r["n"]]
        if base is not None and base["n"]:
            pts.append({**base, "x": BASE_X[f]})
        pts.sort(key=lambda r: r["x"])
        for r in pts:
            ax.scatter([r["x"]] * r["n"], [p["delta_pct"] for p in r["per_seed"]], s=14,
                       color="tab:blue", alpha=0.5)  # fmt: skip
        if pts:
            ax.errorbar([r["x"] for r in pts], [r["delta_pct"][0] for r in pts],
                        yerr=[r["delta_pct"][1] for r in pts], color="tab:blue", capsize=3,
                        marker="o", label="ours, mean ± std over seeds")  # fmt: skip
        ax.axhline(-40.7, color="tab:gray", ls="--", label="paper (VIHand): −40.7 %")
        ax.axhline(0, color="black", lw=0.6)
        if f in ("data", "weight"):
            ax.set_xscale("log")
        ax.set_xlabel(X_LABELS[f])
        ax.set_title(f)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("MPJPE: MGDistill − none (% of none)")
    axes[0][0].legend(fontsize=7, loc="lower left")
    save_figure(fig, path)


def write_factors_report(
    out: str | os.PathLike,
    doc: str | os.PathLike,
    factors: Sequence[str] = FACTORS,
    notes: str | os.PathLike | None = None,
) -> str:
    """The study's markdown report and figure (``<doc stem>.png``) from the finished runs;
    ``notes``: a markdown file included verbatim before the command."""
    out, doc = Path(out), Path(doc)
    meta_path = out / "experiment.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    rows = factor_outcomes(out, factors)
    fig = doc.with_suffix(".png")
    doc.parent.mkdir(parents=True, exist_ok=True)
    if any(r["n"] for r in rows):
        plot_factors(rows, fig, factors)
    seeds = meta.get("seeds", [])
    specs = plan_factor_runs(seeds, factors) if seeds else []
    found = _collect(out)  # the base may link to a whole comparison: count the planned runs
    planned = len(specs)
    finished = sum((sp.level, sp.name, sp.seed) in found for sp in specs)
    L = [
        "# MGDHand: what makes distillation matter (factor study)",
        "",
        f"Generated by `handpose.experiments.mgdhand_factors` from {finished} of {planned} "
        f"planned runs (preset `{meta.get('preset', '?')}`, seeds {seeds}, "
        f"{meta.get('steps_per_epoch', '?')} steps per epoch at every level). Outcome: test "
        "MPJPE of the MGDistill student minus that of the no-distillation student of the same "
        "seed and level (Δ, mean ± sample std over seeds; % of the no-distillation MPJPE); "
        "the paper reports −40.7 % on VIHand. Test split: the test gestures (ROM13–15) of "
        "the first 6 subjects, the same at every level. 7 IMUs.",
        "",
    ]
    if planned and finished < planned:
        L += [f"**Partial:** {planned - finished} runs have not finished.", ""]
    L += [
        "| factor | level | teacher MPJPE (all pose masked) | no distillation | MGDistill "
        "| Δ mm | Δ % | seeds lower |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        t = _ms(r["teacher"])
        if r["teacher_full_mask"] is not None:
            t += f" ({_ms(r['teacher_full_mask'])})"
        L.append(
            f"| {r['factor']} | {r['label']} | {t} | {_ms(r['none'])} | {_ms(r['mgdistill'])} "
            f"| {_ms(r['delta_mm'])} | {_ms(r['delta_pct'], 1)} | {r['lower']}/{r['n']} |"
        )
    L.append("")
    if any(r["n"] for r in rows):
        L += [f"![Δ per factor]({fig.name})", ""]
    data_rows = [r for r in rows if r["factor"] in ("base", "data") and r["n"]]
    pts = [(r["x"], p["delta_pct"]) for r in data_rows for p in r["per_seed"]]
    fit = log_fit([x for x, _ in pts], [y for _, y in pts]) if pts else None
    if fit is not None:
        a, b = fit
        pred = a + b * math.log10(VIHAND_TRAIN_FRAMES)
        L += [
            "**Extrapolation to VIHand's size.** A least-squares line through the per-seed "
            f"Δ % of the data levels against log10(training frames): Δ % = {a:+.1f} "
            f"{b:+.1f}·log10(frames), i.e. {b:+.1f} percentage points per tenfold data. At "
            f"VIHand's ~{VIHAND_TRAIN_FRAMES / 1e6:.2f} M training frames "
            f"({VIHAND_SUBJECTS} subjects × 12 gestures) it predicts Δ ≈ {pred:+.1f} % "
            "(an extrapolation over more than a decade beyond the data; synthetic motion).",
            "",
        ]
    if notes is not None and Path(notes).exists():
        L += [Path(notes).read_text(encoding="utf-8").rstrip(), ""]
    L += [
        "Command (resumable): `" + meta.get("command", "handpose experiment mgdhand-factors") + "`",
        "",
    ]
    text = "\n".join(L)
    atomic_write_text(doc, text)
    return text
