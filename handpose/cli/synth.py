"""``handpose synth imu`` (synthetic VIHand-like IMU data) and ``handpose synth images``
(rendered hand images: ``single``, ``twohand``, ``video``)."""

from __future__ import annotations

import argparse

from handpose.cli import add_group
from handpose.utils.validate import float_range, int_range, nonnegative_int, positive_int, seed


def register(subparsers) -> None:
    grp = add_group(subparsers, "synth", "generate synthetic data")
    p = grp.add_parser(
        "imu",
        help="synthetic hand motion + simulated glove IMUs → HDF5",
        description=(
            "Generate VIHand-structured synthetic data: SUBJECTS × 15 gesture sequences "
            "(ROM01–ROM12 train, ROM13–ROM15 test) of hand-model motion with simulated IMUs "
            "(orientation, specific force, free acceleration, angular velocity; m/s², rad/s)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--subjects", type=positive_int, default=15, help="number of synthetic subjects")
    p.add_argument("--out", required=True, help="output .h5 file (written atomically)")
    p.add_argument("--fps", type=float_range(1.0, 10_000.0), default=30.0, help="frame rate, Hz")
    p.add_argument(
        "--seed", type=seed, default=0, help="the same seed gives the same file, byte for byte"
    )
    p.add_argument(
        "--layout", default="vihand7", help="IMU layout (vihand7, sparse3, sparse2, vifnet4)"
    )
    p.add_argument(
        "--frames-per-sequence",
        type=int_range(8),
        default=1200,  # = simulators.synth.DEFAULT_FRAMES_PER_SEQUENCE (40 s, VIHand-like)
        help="frames per sequence",
    )
    p.add_argument(
        "--sequences", default="all", help="comma-separated subset, e.g. ROM01,ROM13, or all"
    )
    p.add_argument("--no-noise", action="store_true", help="ideal sensors (no IMU error model)")
    p.add_argument(
        "--acc-smoothing",
        type=positive_int,
        default=2,
        help="n of the ±n-frame second difference (2 at 30 fps = TransPose's 4 at 60 fps)",
    )
    p.add_argument("--model", default="open", help="hand model: open, mano, or a model file")
    p.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="generator processes (one torch thread each); the output does not depend on it",
    )
    p.set_defaults(func=_synth_imu)
    _register_images(grp)


def _register_images(grp) -> None:
    p = grp.add_parser(
        "images",
        help="rendered hand images with labels → sharded HDF5 (single | twohand | video)",
        description=(
            "Render labelled hand images from the hand model (OpenGL over EGL; needs "
            "pip install 'handpose[render]'). Kinds: single (FreiHAND-like 224×224 crops, one "
            "hand, either side), twohand (InterHand2.6M-like 256×256 crops, interacting pairs "
            "and single hands), video (DexYCB/HanCo-like sequences at 30 fps with a slowly "
            "moving camera, optional grasped object and views, plus a low-resolution ladder). "
            "Splits train/val/test: test subjects and gestures (ROM13–15) are unseen. The same "
            "seed gives identical arrays; an interrupted run resumes (complete shards are kept)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--kind", required=True, help="single, twohand or video")
    p.add_argument("--out", required=True, help="output folder (shards + manifest.json)")
    p.add_argument(
        "--train", type=nonnegative_int, default=1000, help="train images (video: sequences)"
    )
    p.add_argument("--val", type=nonnegative_int, default=100, help="val images (video: sequences)")
    p.add_argument(
        "--test", type=nonnegative_int, default=100, help="test images (video: sequences)"
    )
    p.add_argument(
        "--size",
        type=int_range(16, 1024),
        default=None,
        help="image side (default 224 single, 256 others)",
    )
    p.add_argument("--seed", type=seed, default=0, help="the same seed gives identical arrays")
    p.add_argument(
        "--domain", default="main", help="rendering domain: main, or heldout (unseen skin tones, "
        "textures and light colours, for generalisation tests)"
    )  # fmt: skip
    p.add_argument(
        "--subjects", default="100,20,20", help="distinct subjects per split: TRAIN,VAL,TEST"
    )
    p.add_argument(
        "--workers", type=positive_int, default=1, help="processes (one EGL context each)"
    )
    p.add_argument(
        "--shard-size",
        type=positive_int,
        default=None,
        help="images per shard (video: sequences; default 256 / 4)",
    )
    p.add_argument(
        "--occluders", type=float_range(0, 1), default=0.3, help="probability of an occluder"
    )
    p.add_argument("--distractors", type=nonnegative_int, default=3, help="max background objects")
    p.add_argument("--frames", default="32-64", help="video: frames per sequence, N or MIN-MAX")
    p.add_argument("--views", type=int_range(1, 16), default=1, help="video: cameras per sequence")
    p.add_argument(
        "--fps", type=float_range(0, 10_000, lo_open=True), default=30.0, help="video: frame rate"
    )
    p.add_argument("--ladder", default="128,64,32,16", help="video: low-resolution levels (px)")
    p.add_argument(
        "--object-prob",
        type=float_range(0, 1),
        default=0.5,
        help="video: grasped-object probability",
    )
    p.add_argument("--dense", action="store_true", help="store extra_dense template-position maps")
    p.add_argument(
        "--antialias",
        type=nonnegative_int,
        default=0,
        help="MSAA samples of a colour pass (0 = off; 4 costs ~2-3×)",
    )
    p.add_argument("--encoding", default="png", help="stored image encoding: png or jpeg")
    p.add_argument("--model", default="open", help="hand model: open, mano, or a model file")
    p.set_defaults(func=_synth_images)


def _int_list(text: str, option: str, n: int | None = None) -> tuple[int, ...]:
    from handpose.errors import HandposeError

    try:
        vals = tuple(int(x) for x in str(text).split(",") if x.strip())
    except ValueError:
        raise HandposeError(f"{option} must be comma-separated integers, got {text!r}.") from None
    if not vals or (n is not None and len(vals) != n):
        want = f"{n} " if n else ""
        raise HandposeError(f"{option} must be {want}comma-separated integers, got {text!r}.")
    return vals


def _frames(text: str) -> tuple[int, int]:
    from handpose.errors import HandposeError

    parts = str(text).split("-")
    try:
        vals = [int(p) for p in parts]
    except ValueError:
        raise HandposeError(f"--frames must be N or MIN-MAX, got {text!r}.") from None
    if len(vals) == 1:
        return vals[0], vals[0]
    if len(vals) == 2:
        return vals[0], vals[1]
    raise HandposeError(f"--frames must be N or MIN-MAX, got {text!r}.")


def _synth_images(args) -> int:
    import time

    import torch
    from tqdm import tqdm

    from handpose.simulators.images.generate import (
        ImageSynthConfig,
        check_output,
        generate_images,
        plan_jobs,
    )

    subj = _int_list(args.subjects, "--subjects", 3)
    cfg = ImageSynthConfig(
        kind=args.kind,
        counts={"train": args.train, "val": args.val, "test": args.test},
        size=args.size,
        seed=args.seed,
        domain=args.domain,
        subjects=dict(zip(("train", "val", "test"), subj)),
        shard_size=args.shard_size,
        occluder_prob=args.occluders,
        distractors=args.distractors,
        object_prob=args.object_prob,
        dense=args.dense,
        frames=_frames(args.frames),
        views=args.views,
        fps=args.fps,
        ladder=_int_list(args.ladder, "--ladder") if args.kind == "video" else (),
        antialias=args.antialias,
        encoding=args.encoding,
        model=args.model,
    )
    cfg.validate()
    check_output(args.out, cfg)  # before the progress bar: a bad --out is the only line
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    total = sum(j.samples for j in plan_jobs(cfg))
    with tqdm(total=total, desc=f"synth images {args.kind}", unit="img") as bar:
        summary = generate_images(cfg, args.out, workers=args.workers, progress=bar.update)
    dt = time.perf_counter() - t0
    skipped = f", {summary['skipped']} complete shards kept" if summary["skipped"] else ""
    print(
        f"wrote {args.out}: {summary['samples']} {args.kind} images in {summary['shards']} shards"
        f"{skipped}, {dt:.1f} s"
    )
    return 0


def _expand_sequences(spec: str | None):
    from handpose.errors import HandposeError
    from handpose.simulators.motion.gestures import SEQUENCE_NAMES

    if not spec or spec == "all":
        return SEQUENCE_NAMES
    out = []
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        match = [n for n in SEQUENCE_NAMES if n == item or n.split("_")[0] == item.upper()]
        if not match:
            raise HandposeError(f"unknown sequence {item!r}; use ROM01..ROM15 or full names.")
        out.append(match[0])
    if not out:
        raise HandposeError(f"--sequences '{spec}' names no sequence; use ROM01..ROM15 or all.")
    return tuple(out)


def _synth_imu(args) -> int:
    import os
    import time

    import torch
    from tqdm import tqdm

    from handpose.simulators.imu.noise import NoiseConfig
    from handpose.simulators.synth import SynthConfig, synthesize_file
    from handpose.utils.validate import input_file, output_file

    cfg = SynthConfig(
        subjects=args.subjects,
        sequences=_expand_sequences(args.sequences),
        frames_per_sequence=args.frames_per_sequence,
        fps=args.fps,
        seed=args.seed,
        layout=args.layout,
        noise=NoiseConfig.off() if args.no_noise else NoiseConfig(),
        acc_smoothing=args.acc_smoothing,
        model=args.model,
    )
    cfg.validate()
    output_file(args.out, "output", suffixes=(".h5", ".hdf5"))
    if args.model not in ("open", "mano"):
        input_file(args.model, "hand model file")
    t0 = time.perf_counter()
    n = cfg.subjects * len(cfg.sequences)
    # Per-frame tensors are small: torch's intra-op threads only add overhead here, and on a
    # busy machine they oversubscribe the cores. Parallelism comes from --workers processes.
    torch.set_num_threads(1)
    frames = synthesize_file(
        cfg,
        args.out,
        progress=lambda recs: tqdm(recs, total=n, desc="synth imu", unit="seq"),
        workers=args.workers,
    )
    dt = time.perf_counter() - t0
    size = os.path.getsize(args.out) / 1e6
    print(
        f"wrote {args.out}: {cfg.subjects} subjects × {len(cfg.sequences)} sequences, "
        f"{frames} frames at {cfg.fps:g} fps, {size:.1f} MB, {dt:.1f} s"
    )
    return 0
