"""``handpose train METHOD``, ``handpose train teacher|student`` and ``handpose eval``.

Examples::

    handpose train baseline --preset cpu-small --data data/single --out runs/baseline
    handpose eval --checkpoint runs/baseline/main/checkpoints/last.ckpt --data data/single \
        --out runs/baseline/eval
    handpose train mgdhand --preset cpu-small --data data/synth.h5 --out runs/mgdhand \
        --set data.student_sensors=sparse3
    handpose train teacher --config cpu-small --data data/synth.h5 --out runs/teacher
    handpose train student --config cpu-small --data data/synth.h5 \
        --teacher runs/teacher/checkpoints/last.ckpt --variant mgdistill --imus 3 --out runs/mgd3
    handpose eval --checkpoint runs/mgd3/checkpoints/last.ckpt --data data/synth.h5

``handpose train METHOD`` runs the training harness (:mod:`handpose.training.harness`);
``teacher`` / ``student`` are MGDHand's single stages with their older options and run-folder
layout. ``eval`` reads the checkpoint's method: MGDHand on an IMU file (JSON), image methods
with the image protocols (Markdown, JSON and plots). Needs the ``train`` extra (Lightning,
TensorBoard) for training; ``eval`` needs only torch.
"""

from __future__ import annotations

import argparse
import json

from handpose.cli import add_group
from handpose.errors import HandposeError
from handpose.utils.validate import (
    float_range,
    int_range,
    nonnegative_float,
    positive_float,
    positive_int,
    seed,
)

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
    p.add_argument("--seed", type=seed, help="override the config's seed")
    p.add_argument("--epochs", type=positive_int, help="override train.epochs")
    p.add_argument("--devices", type=positive_int, help="override train.devices (DDP when > 1)")
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


# The names of handpose.training.registry.METHODS, repeated here so that `handpose --help` does
# not import torch (tests/training/test_harness_cli.py keeps the two lists equal).
METHOD_NAMES = ("baseline", "mgdhand", "ehpe", "dir", "pgte")


def _method_config(args):
    from handpose.training.harness import load_method_config
    from handpose.training.registry import get_method

    method = get_method(args.method)
    overrides = list(args.set)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    stages = [method.stage(args.stage)] if args.stage else list(method.stages)
    for key, value in (("epochs", args.epochs), ("devices", args.devices),
                       ("accelerator", args.accelerator)):  # fmt: skip
        if value is not None:
            overrides += sorted({f"{st.train_key}.{key}={value}" for st in stages})
    return method, load_method_config(method, args.preset, overrides)


def _train_method(args) -> int:
    from handpose.training.harness import train

    method, cfg = _method_config(args)
    requires = {}
    for item in args.load:
        stage, sep, path = item.partition("=")
        if not sep or not stage or not path:
            raise HandposeError(f"--load {item!r} must look like STAGE=CHECKPOINT")
        method.stage(stage)
        requires[stage] = path
    paths = train(
        method,
        cfg,
        args.data,
        args.out,
        stages=[args.stage] if args.stage else None,
        resume=args.resume,
        requires=requires,
    )
    for stage, path in paths.items():
        print(f"{method.name} {stage} checkpoint: {path}")
    return 0


def _add_method_parser(grp, name: str) -> None:
    p = grp.add_parser(
        name,
        help=f"train {name} with the harness (every stage, or --stage)",
        description=(
            f"Train {name} with the training harness: each stage in OUT/<stage>/ (config.yaml, "
            "checkpoints/last.ckpt written every epoch, tensorboard/, csv/). Later stages load "
            "and freeze earlier ones from OUT/<stage>/checkpoints/last.ckpt (or --load)."
        ),
    )
    p.add_argument(
        "--preset",
        default="cpu-small",
        help="tiny, cpu-small, paper or a YAML file (default: cpu-small)",
    )
    p.add_argument("--data", required=True, help="training data: a file, shard folder or source")
    p.add_argument("--out", required=True, help="run folder (one subfolder per stage)")
    p.add_argument("--stage", help="train only this stage (default: all, in order)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set train.epochs=3 (repeatable)",
    )
    p.add_argument("--seed", type=seed, help="override the config's seed")
    p.add_argument("--epochs", type=positive_int, help="override the trained stages' epochs")
    p.add_argument(
        "--devices", type=positive_int, help="override the trained stages' devices (DDP > 1)"
    )
    p.add_argument("--accelerator", help="override the trained stages' accelerator")
    p.add_argument(
        "--load",
        action="append",
        default=[],
        metavar="STAGE=CKPT",
        help="checkpoint of an earlier stage to load and freeze (default: OUT/STAGE)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="skip finished stages, continue an interrupted one, start the missing ones",
    )
    p.set_defaults(func=_train_method, method=name)


def _eval_any(args) -> int:
    """MGDHand checkpoints: the IMU evaluation; image checkpoints: the image protocols."""
    from handpose.training.checkpoints import read_checkpoint
    from handpose.training.harness import checkpoint_info
    from handpose.utils.validate import output_file, output_folder

    meta = checkpoint_info(read_checkpoint(args.checkpoint), args.checkpoint)
    if args.json:  # the outputs are checked before the evaluation, not after it
        output_file(args.json, "JSON output")
    if args.out:
        output_folder(args.out, "report folder")
    if meta["method"] == "mgdhand":
        return _eval(args)
    if meta["method"] == "dir":
        return _eval_dir(args)
    if meta["method"] == "pgte":
        return _eval_video(args)
    return _eval_image(args)


def _eval_dir(args) -> int:
    """DIR: the interhand protocol with DIR's own numbers (offset-head MRRPE, penetration)."""
    from handpose.reports.evaluation import write_evaluation_report
    from handpose.training.methods.dir import evaluate_checkpoint
    from handpose.utils.io import atomic_write_text

    if args.protocol not in (None, "interhand"):
        raise HandposeError(
            f"DIR checkpoints are evaluated with the interhand protocol, not --protocol "
            f"{args.protocol!r}."
        )
    if args.threads is not None:
        import torch

        torch.set_num_threads(int(args.threads))
    result = evaluate_checkpoint(
        args.checkpoint,
        args.data,
        args.split or "test",
        batch_size=args.batch_size,
        limit=args.limit,
        progress=not args.quiet,
    )
    if args.json:
        atomic_write_text(args.json, json.dumps(result.to_dict(), indent=2) + "\n")
    print(result.to_markdown(), end="")
    if args.out:
        files = write_evaluation_report(result, args.out, title="DIR (interhand protocol)")
        print(f"report: {files.markdown}")


def _eval_video(args) -> int:
    """PGTE / VIBE-style checkpoints: whole clips in file mode (handpose.reports.video_eval)."""
    from handpose.reports.video_eval import evaluate_video_checkpoint
    from handpose.utils.io import atomic_write_text

    smoothing = None
    if args.smooth == "one_euro":
        mc, beta = args.one_euro
        if mc <= 0:  # beta may be 0 (no speed adaptation); the cutoff may not
            raise HandposeError(f"--one-euro: MIN_CUTOFF must be > 0 Hz, got {mc:g}.")
        smoothing = {"method": "one_euro", "fps": args.fps, "min_cutoff": mc, "beta": beta}
    res = evaluate_video_checkpoint(
        args.checkpoint, args.data, split=args.split or "test", resolution=args.resolution,
        protocol=args.protocol, root_depth=args.root_depth, smoothing=smoothing,
        clips=args.limit, progress=not args.quiet,
    )  # fmt: skip
    if args.json:
        atomic_write_text(args.json, json.dumps(res, indent=2) + "\n")
    m = res["metrics"]
    print(
        f"{res['variant']} (window {res['window']}) on {res['clips']} clips / {res['frames']} "
        f"frames of '{args.data}' ({res['split']}), level {res['resolution']} px, protocol "
        f"{res['protocol']}, root depth {res['root_depth']}"
        + (f", {smoothing['method']} {smoothing['min_cutoff']} Hz / β {smoothing['beta']}" if smoothing else "")
    )  # fmt: skip
    print("| metric | value |\n|---|---:|")
    for k in ("mpjpe", "mpvpe", "pa_mpjpe", "pa_mpvpe", "accel_error", "jitter", "gt_jitter"):
        if k in m:
            unit = {
                "accel_error": "mm/frame²",
                "jitter": "mm/frame³",
                "gt_jitter": "mm/frame³",
            }.get(k, "mm")
            print(f"| {k} ({unit}) | {m[k]:.2f} |")
    return 0


def _eval_image(args) -> int:
    from handpose.reports.image_eval import evaluate_image_checkpoint
    from handpose.utils.io import atomic_write_text

    out = evaluate_image_checkpoint(
        args.checkpoint,
        args.data,
        split=args.split or "test",
        protocol=args.protocol,
        out=args.out,
        batch_size=args.batch_size,
        root_depth=args.root_depth,
        mesh=args.mesh,
        limit=args.limit,
        threads=args.threads,
        progress=not args.quiet,
    )
    result = out["result"]
    if args.json:
        atomic_write_text(args.json, json.dumps(result.to_dict(), indent=2) + "\n")
    print(result.to_markdown(), end="")
    if out["files"] is not None:
        print(f"report: {out['files'].markdown}")
    return 0


def _eval(args) -> int:
    from handpose.training.api import evaluate
    from handpose.utils.io import atomic_write_text
    from handpose.utils.validate import output_file

    if args.json:  # checked before the evaluation, not after it
        output_file(args.json, "JSON output")
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
    grp = add_group(
        subparsers,
        "train",
        "train a method (baseline, mgdhand, ...) with the harness; 'teacher' and 'student' are "
        "MGDHand's single stages",
    )
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
    for name in METHOD_NAMES:
        _add_method_parser(grp, name)

    p = subparsers.add_parser(
        "eval",
        help="evaluate a checkpoint: MGDHand on IMU data, image models with the image protocols",
    )
    p.add_argument("--checkpoint", required=True, help="a .ckpt of any method")
    p.add_argument(
        "--data", required=True, help="handpose IMU file (MGDHand) or an image source (images)"
    )
    p.add_argument("--split", help="train, test or all (default: the config's eval split)")
    p.add_argument("--batch-size", type=positive_int, default=32)
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
        type=float_range(0, 1),
        help="teacher only: its masking probability for this evaluation (default: the "
        "config's data.p_mask; 1 = every pose token masked)",
    )
    img = p.add_argument_group("image checkpoints (baseline, ehpe, dir, pgte)")
    img.add_argument("--protocol", help="freihand, interhand, dexycb or hanco (default: by data)")
    img.add_argument("--out", help="write eval.md, eval.json and plots into this folder")
    img.add_argument(
        "--root-depth",
        choices=("gt", "model"),
        default="gt",
        help="wrist depth: ground truth (default) or the model's own estimate",
    )
    img.add_argument(
        "--mesh",
        choices=("fit", "none"),
        default="fit",
        help="fit meshes to joint-only predictions for the mesh metrics (default: fit)",
    )
    img.add_argument("--limit", type=positive_int, help="evaluate only the first N samples")
    img.add_argument("--threads", type=positive_int, help="torch threads (default: torch's)")
    vid = p.add_argument_group(
        "video checkpoints (pgte); --protocol, --root-depth and --limit (clips) apply too"
    )
    vid.add_argument(
        "--resolution",
        type=int_range(8, 4096),
        help="ladder level in px (default: the training one)",
    )
    vid.add_argument(
        "--smooth", choices=("none", "one_euro"), default="none",
        help="smooth each clip's predictions over time before scoring",
    )  # fmt: skip
    vid.add_argument(
        "--one-euro", type=nonnegative_float, nargs=2, default=(1.0, 20.0), metavar=("MIN_CUTOFF", "BETA"),
        help="One-Euro min_cutoff (Hz) and beta (Hz per m/s)",
    )  # fmt: skip
    vid.add_argument(
        "--fps", type=positive_float, default=30.0, help="frame rate for the smoothing"
    )
    p.set_defaults(func=_eval_any)
