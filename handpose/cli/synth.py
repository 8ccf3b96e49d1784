"""``handpose synth imu``: generate the synthetic VIHand-like IMU dataset."""

from __future__ import annotations

import argparse

from handpose.cli import add_group
from handpose.utils.validate import float_range, int_range, positive_int, seed


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
