"""``handpose demo``: the main job on the embedded default (see :mod:`handpose.demo`);
``handpose demo image``: the image track, 13 CPU-min at its defaults (see :mod:`handpose.demo_image`)."""

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
            "Finished steps are reused when run again. `handpose demo image`: render synthetic "
            "hand crops, train EHPE and the image baseline briefly, evaluate them (FreiHAND "
            "protocol) and draw their 2D joints (13 CPU-min; outputs/demo_image)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    from handpose.demo import DemoSettings
    from handpose.demo_image import ImageDemoSettings
    from handpose.utils.validate import int_range, positive_int, seed

    d, di = DemoSettings(), ImageDemoSettings()
    p.add_argument("track", nargs="?", choices=("imu", "image"), default="imu",
                   help="imu: MGDHand (the main job); image: EHPE and the baseline")  # fmt: skip
    p.add_argument("--out", type=Path, default=None,
                   help=f"output folder (default: {d.out}, image: {di.out})")  # fmt: skip
    p.add_argument("--subjects", type=positive_int, default=d.subjects, help="synthetic subjects")
    p.add_argument("--frames-per-sequence", type=int_range(8), default=d.frames_per_sequence)
    p.add_argument("--teacher-epochs", type=positive_int, default=d.teacher_epochs)
    p.add_argument("--student-epochs", type=positive_int, default=d.student_epochs)
    p.add_argument("--config", default=d.config, help="MGDHand preset or YAML file")
    p.add_argument("--seed", type=seed, default=d.seed)
    img = p.add_argument_group("image track")
    img.add_argument("--train", type=positive_int, default=di.train, help="training crops")
    img.add_argument("--val", type=positive_int, default=di.val, help="validation crops")
    img.add_argument("--test", type=positive_int, default=di.test, help="test crops")
    img.add_argument("--tw-epochs", type=positive_int, default=di.tw_epochs)
    img.add_argument("--pg-epochs", type=positive_int, default=di.pg_epochs)
    img.add_argument("--preset", default=di.preset, help="EHPE preset or YAML file")
    p.set_defaults(func=_run)


def _run(args) -> int:
    if args.track == "image":
        from handpose.demo_image import ImageDemoSettings, run_image_demo

        d = ImageDemoSettings()
        run_image_demo(
            ImageDemoSettings(
                out=args.out or d.out,
                train=args.train,
                val=args.val,
                test=args.test,
                tw_epochs=args.tw_epochs,
                pg_epochs=args.pg_epochs,
                preset=args.preset,
                seed=args.seed,
            )
        )
        return 0
    from handpose.demo import DemoSettings, run_demo

    run_demo(
        DemoSettings(
            out=args.out or DemoSettings().out,
            subjects=args.subjects,
            frames_per_sequence=args.frames_per_sequence,
            teacher_epochs=args.teacher_epochs,
            student_epochs=args.student_epochs,
            config=args.config,
            seed=args.seed,
        )
    )
    return 0
