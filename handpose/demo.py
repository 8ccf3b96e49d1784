"""``make demo``: the main job on the embedded default, end to end.

1. Synthesise a small VIHand-structured data set with the open hand model and the glove IMU
   simulator (train gestures ROM01–ROM12, unseen test gestures ROM13–ROM15).
2. Train the MGDHand teacher (stage 1) and two IMU-only students (stage 2): one without
   distillation and one with MGDistill, all with the ``cpu-small`` preset.
3. Evaluate the three on the test gestures and print the results table (mm).
4. Run the MGDistill student on a test sequence as a user would (``handpose infer imu``): poses
   npz, a side-by-side video of predicted and ground-truth hands, per-joint-group error plots.

Everything goes under ``outputs/demo/`` (``--out``); a finished step is reused when the demo is
run again with the same settings, so an interrupted demo continues where it stopped.
The defaults fit in about 10 minutes on 2 CPU cores.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from handpose.errors import HandposeError
from handpose.utils.io import atomic_write_text

__all__ = ["DemoSettings", "run_demo"]


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of the demo (the defaults fit the 10-minute budget on 2 cores)."""

    out: Path = Path("outputs/demo")
    subjects: int = 4
    frames_per_sequence: int = 300
    teacher_epochs: int = 5
    student_epochs: int = 8
    config: str = "cpu-small"
    seed: int = 0
    video_sequence: str = "ROM14_Random_Gestures"
    video_frames: int = 240


def _step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def _synthesise(s: DemoSettings, path: Path) -> None:
    from tqdm.auto import tqdm

    from handpose.simulators.synth import SynthConfig, synthesize_file

    cfg = SynthConfig(subjects=s.subjects, frames_per_sequence=s.frames_per_sequence, seed=s.seed)
    cfg.validate()
    total = s.subjects * len(cfg.sequences)
    frames = synthesize_file(
        cfg, path, progress=lambda it: tqdm(it, total=total, desc="synth imu", unit="seq")
    )
    print(f"wrote {path}: {s.subjects} subjects × {len(cfg.sequences)} gestures, {frames} frames")


def _train(s: DemoSettings, data: Path, runs: Path) -> dict[str, Path]:
    from handpose.training import load_config, train_student, train_teacher
    from handpose.training.api import last_checkpoint

    ckpts: dict[str, Path] = {}
    cfg = load_config(s.config, {"seed": s.seed, "train.teacher_epochs": s.teacher_epochs})
    teacher_dir = runs / "teacher"
    if not _done(teacher_dir):
        _step(f"stage 1: teacher (MANO + IMU), {s.teacher_epochs} epochs")
        train_teacher(cfg, data, teacher_dir)
        _mark_done(teacher_dir)
    ckpts["teacher"] = last_checkpoint(teacher_dir)
    scfg = load_config(s.config, {"seed": s.seed, "train.epochs": s.student_epochs})
    for variant in ("none", "mgdistill"):
        out = runs / f"student_{variant}"
        if not _done(out):
            what = "no distillation" if variant == "none" else "MGDistill"
            _step(f"stage 2: IMU-only student, {what}, {s.student_epochs} epochs")
            train_student(scfg, ckpts["teacher"], data, out, variant=variant)
            _mark_done(out)
        ckpts[variant] = last_checkpoint(out)
    return ckpts


def _done(run_dir: Path) -> bool:
    return (run_dir / "DONE").exists()


def _mark_done(run_dir: Path) -> None:
    atomic_write_text(run_dir / "DONE", time.strftime("%Y-%m-%d %H:%M:%S\n"))


def _results_table(rows: dict[str, dict]) -> str:
    head = "| model | inputs | MPJPE (mm) | PA-MPJPE (mm) | MPVPE (mm) | PA-MPVPE (mm) |"
    lines = [head, "|---|---|---:|---:|---:|---:|"]
    for name, r in rows.items():
        inputs = "masked MANO + 7 IMUs" if r["kind"] == "teacher" else "7 IMUs"
        lines.append(
            f"| {name} | {inputs} | {r['mpjpe_mm']:.2f} | {r['pa_mpjpe_mm']:.2f} | "
            f"{r['mpvpe_mm']:.2f} | {r['pa_mpvpe_mm']:.2f} |"
        )
    return "\n".join(lines)


def run_demo(settings: DemoSettings | None = None) -> Path:
    """Run the demo; returns the output folder. See the module docstring."""
    s = settings or DemoSettings()
    try:
        import lightning  # noqa: F401
        import matplotlib  # noqa: F401
    except ImportError:
        raise HandposeError(
            "the demo trains with Lightning and draws with matplotlib: "
            "pip install 'handpose[all]' (make demo installs everything)"
        ) from None
    import torch

    from handpose.inference import infer_file
    from handpose.training import evaluate, load_config
    from handpose.utils.validate import MAX_SEED, check_int, output_folder

    # Checked before anything is made: the output folder, the sizes, the config.
    out = output_folder(s.out, "demo output folder")
    check_int(s.subjects, "--subjects", 1)
    check_int(s.frames_per_sequence, "--frames-per-sequence", 8)
    check_int(s.teacher_epochs, "--teacher-epochs", 1)
    check_int(s.student_epochs, "--student-epochs", 1)
    check_int(s.seed, "--seed", 0, MAX_SEED)
    load_config(s.config, {"seed": s.seed})
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    # Lightning's info lines (accelerator summary, tips, checkpoint notes) drown the demo's own
    # progress; warnings still show.
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    data = out / "data" / "synth_vihand_small.h5"
    _step("synthetic VIHand-structured data (open hand model, 7 simulated glove IMUs)")
    if data.exists():
        print(f"reusing {data}")
    else:
        _synthesise(s, data)

    ckpts = _train(s, data, out / "runs")

    _step("evaluation on the unseen test gestures (ROM13–ROM15)")
    rows = {}
    names = {
        "teacher": "teacher",
        "none": "student, no distillation",
        "mgdistill": "student, MGDistill",
    }
    for key, ckpt in ckpts.items():
        rows[names[key]] = evaluate(ckpt, data, split="test", progress=False)
    table = _results_table(rows)
    print(table)
    report = out / "results.md"
    atomic_write_text(
        report,
        "# handpose demo: MGDHand on synthetic VIHand-structured data\n\n"
        f"{s.subjects} synthetic subjects × 15 gestures × {s.frames_per_sequence} frames at 30 fps; "
        f"`{s.config}` preset; teacher {s.teacher_epochs} epochs, students "
        f"{s.student_epochs} epochs; test = unseen gestures ROM13–ROM15. Wrist-relative errors.\n\n"
        f"{table}\n\nRaw numbers: results.json. A short demo run, not the paper's setting: see "
        "docs/results/mgdhand.md for the full comparison over seeds.\n",
    )
    atomic_write_text(out / "results.json", json.dumps(rows, indent=2) + "\n")

    _step(f"inference on {s.video_sequence} (subject 1) with the MGDistill student")
    result = infer_file(
        data,
        ckpts["mgdistill"],
        out / "poses.npz",
        video=out / "compare.mp4",
        plots=out / "plots",
        sequence=f"subject1/{s.video_sequence}",
        video_frames=s.video_frames,
        progress=True,
    )
    print(result.summary())
    print(f"\nresults table: {report}")
    print(f"demo finished in {time.monotonic() - started:.0f} s; everything is in {out}/")
    return out
