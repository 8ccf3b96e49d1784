"""``handpose demo``: the main job on the embedded default (see :mod:`handpose.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="the main job: synthesise IMU data, train MGDHand, evaluate, render (≈10 min)",
        description=(
            "Synthesise VIHand-structured IMU data with the open hand model, train the MGDHand "
            "teacher and two IMU-only students (no distillation, MGDistill), evaluate them on "
            "unseen gestures, and write the results table, a comparison video and error plots. "
            "Finished steps are reused when run again."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    from handpose.demo import DemoSettings
    from handpose.utils.validate import int_range, positive_int, seed

    d = DemoSettings()
    p.add_argument("--out", type=Path, default=d.out, help="output folder")
    p.add_argument("--subjects", type=positive_int, default=d.subjects, help="synthetic subjects")
    p.add_argument("--frames-per-sequence", type=int_range(8), default=d.frames_per_sequence)
    p.add_argument("--teacher-epochs", type=positive_int, default=d.teacher_epochs)
    p.add_argument("--student-epochs", type=positive_int, default=d.student_epochs)
    p.add_argument("--config", default=d.config, help="MGDHand preset or YAML file")
    p.add_argument("--seed", type=seed, default=d.seed)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from handpose.demo import DemoSettings, run_demo

    run_demo(
        DemoSettings(
            out=args.out,
            subjects=args.subjects,
            frames_per_sequence=args.frames_per_sequence,
            teacher_epochs=args.teacher_epochs,
            student_epochs=args.student_epochs,
            config=args.config,
            seed=args.seed,
        )
    )
    return 0
