"""``handpose train teacher|student`` and ``handpose eval``: MGDHand training and evaluation.

Examples::

    handpose train teacher --config cpu-small --data data/synth.h5 --out runs/teacher
    handpose train student --config cpu-small --data data/synth.h5 \\
        --teacher runs/teacher/checkpoints/last.ckpt --variant mgdistill --imus 3 --out runs/mgd3
    handpose eval --checkpoint runs/mgd3/checkpoints/last.ckpt --data data/synth.h5

Needs the ``train`` extra (Lightning, TensorBoard) for training; ``eval`` needs only torch.
"""

from __future__ import annotations

import argparse
import json

from handpose.cli import add_group

# The names of handpose.losses.distill.VARIANTS, repeated here so that `handpose --help` does not
# import torch (tests/training/test_training_cli.py keeps the two lists equal).
VARIANT_NAMES = (
    "none", "global", "ssd", "dpd", "tmd", "wo_ssd", "wo_dpd", "wo_tmd", "mgdistill",
    "simkd", "dkd", "scjd",
)  # fmt: skip


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        default="cpu-small",
        help="preset (paper, cpu-small, tiny) or a YAML file (default: cpu-small)",
    )
    p.add_argument("--data", required=True, help="handpose IMU file (HDF5)")
    p.add_argument("--out", required=True, help="run folder (checkpoints, logs, config)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set train.epochs=3 (repeatable)",
    )
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--devices", type=int, help="override train.devices (DDP when > 1)")
    p.add_argument("--accelerator", help="override train.accelerator (cpu, gpu, auto)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.ckpt")


def _config(args):
    from handpose.training.config import load_config

    overrides = list(args.set)
    for key, value in (
        ("seed", args.seed),
        ("train.epochs", args.epochs),
        ("train.devices", args.devices),
        ("train.accelerator", args.accelerator),
    ):
        if value is not None:
            overrides.append(f"{key}={value}")
    return load_config(args.config, overrides)


def _teacher(args) -> int:
    from handpose.training.api import train_teacher

    path = train_teacher(_config(args), args.data, args.out, resume=args.resume)
    print(f"teacher checkpoint: {path}")
    return 0


def _student(args) -> int:
    from handpose.training.api import train_student
    from handpose.training.config import sensor_set_name

    sensors = sensor_set_name(args.imus) if args.imus is not None else None
    path = train_student(
        _config(args),
        args.teacher,
        args.data,
        args.out,
        variant=args.variant,
        sensors=sensors,
        resume=args.resume,
    )
    print(f"student checkpoint: {path}")
    return 0


def _eval(args) -> int:
    from handpose.training.api import evaluate
    from handpose.utils.io import atomic_write_text

    result = evaluate(
        args.checkpoint,
        args.data,
        split=args.split,
        batch_size=args.batch_size,
        device=args.device,
        progress=not args.quiet,
        decompose=args.decompose,
        p_mask=args.p_mask,
    )
    text = json.dumps(result, indent=2)
    if args.json:
        atomic_write_text(args.json, text + "\n")
    print(text)
    return 0


def register(subparsers) -> None:
    grp = add_group(subparsers, "train", "train MGDHand: the teacher (stage 1), students (stage 2)")
    p = grp.add_parser("teacher", help="stage 1: the MANO + IMU teacher")
    _common(p)
    p.set_defaults(func=_teacher)

    p = grp.add_parser("student", help="stage 2: an IMU-only student with the frozen teacher")
    _common(p)
    p.add_argument("--teacher", required=True, help="the teacher's last.ckpt")
    p.add_argument(
        "--variant",
        choices=VARIANT_NAMES,
        help="distillation variant (default: the config's distill.variant)",
    )
    p.add_argument(
        "--imus",
        help="student sensors: 7, 3, 2 or a layout name (default: the config's)",
    )
    p.set_defaults(func=_student)

    p = subparsers.add_parser(
        "eval", help="MPJPE/MPVPE (mm) of an MGDHand checkpoint on a data split"
    )
    p.add_argument("--checkpoint", required=True, help="a teacher's or student's .ckpt")
    p.add_argument("--data", required=True, help="handpose IMU file (HDF5)")
    p.add_argument("--split", help="train, test or all (default: the config's eval split)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="also write the result to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--decompose",
        action="store_true",
        help="also MPJPE with the ground-truth global orientation, β or finger rotations "
        "swapped in (where the error comes from)",
    )
    p.add_argument(
        "--p-mask",
        type=float,
        help="teacher only: its masking probability for this evaluation (default: the "
        "config's data.p_mask; 1 = every pose token masked)",
    )
    p.set_defaults(func=_eval)
