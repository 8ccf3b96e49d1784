"""``handpose data``: convert datasets to the handpose IMU format, inspect and plot them."""

from __future__ import annotations

import argparse

from handpose.cli import add_group
from handpose.utils.validate import int_range, nonnegative_float, positive_float


def register(subparsers) -> None:
    grp = add_group(subparsers, "data", "convert, inspect and plot datasets")

    c = grp.add_parser(
        "convert",
        help="convert a dataset to the handpose IMU HDF5 format",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    c.add_argument("kind", choices=["vihand"], help="source dataset")
    c.add_argument(
        "root", help="dataset root (VIHand: the folder with multidata/ and annotations/)"
    )
    c.add_argument("out", help="output .h5 file (written atomically)")
    c.add_argument(
        "--imu-order",
        default="wrist,back,thumb,index,middle,ring,pinky",
        help="sensor names in IMU.json 'Frames_Data' order (undocumented by VIHand)",
    )
    c.add_argument("--acc-unit", choices=["g", "m/s^2"], default="g", help="IMU.json acc unit")
    c.add_argument("--acc-frame", choices=["sensor", "world"], default="sensor")
    c.add_argument(
        "--acc-gravity",
        choices=["auto", "yes", "no"],
        default="auto",
        help="whether IMU.json acc includes gravity (auto: median |a| ≈ 1 g)",
    )
    c.add_argument(
        "--joints-scale", type=positive_float, default=1.0, help="joint.json units → metres"
    )
    c.add_argument(
        "--quat-world-to-sensor",
        action="store_true",
        help="IMU.json quaternions rotate world → sensor (default: sensor → world)",
    )
    c.add_argument(
        "--hands-mean",
        choices=["flat", "relative"],
        default="flat",
        help="whether mano.json θ is full articulation (flat) or relative to hands_mean",
    )
    c.set_defaults(func=_convert)

    i = grp.add_parser("info", help="print the metadata and sequences of a handpose IMU file")
    i.add_argument("file")
    i.set_defaults(func=_info)

    p = grp.add_parser(
        "plot",
        help="plot one sequence: per-sensor IMU signals and rendered hand frames",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("file", help="handpose IMU .h5 file")
    p.add_argument("--subject", type=int, required=True)
    p.add_argument("--sequence", required=True, help="sequence name or ROMxx")
    p.add_argument("--out", required=True, help="output .png")
    p.add_argument("--start", type=nonnegative_float, default=0.0, help="first second to show")
    p.add_argument("--seconds", type=positive_float, default=8.0, help="length of the plotted span")
    p.add_argument(
        "--frames", type=int_range(0, 32), default=6, help="rendered hand frames in the strip"
    )
    p.add_argument("--model", default=None, help="hand model for the strip (default: the file's)")
    p.set_defaults(func=_plot)


def _convert(args) -> int:
    from tqdm import tqdm

    from handpose.datasets.vihand import CANONICAL_ORDER, VIHandOptions, convert_vihand
    from handpose.errors import HandposeError
    from handpose.utils.validate import input_folder, output_file

    input_folder(args.root, "VIHand root")
    output_file(args.out, "output", suffixes=(".h5", ".hdf5"))
    order = tuple(s.strip() for s in args.imu_order.split(","))
    if sorted(order) != sorted(CANONICAL_ORDER):
        raise HandposeError(
            f"--imu-order must name each of {', '.join(CANONICAL_ORDER)} once, got "
            f"'{args.imu_order}'."
        )
    opts = VIHandOptions(
        imu_order=order,
        acc_unit=args.acc_unit,
        acc_frame=args.acc_frame,
        acc_includes_gravity={"auto": None, "yes": True, "no": False}[args.acc_gravity],
        joints_scale=args.joints_scale,
        quat_world_to_sensor=args.quat_world_to_sensor,
        flat_hand_mean=args.hands_mean == "flat",
    )
    n = convert_vihand(
        args.root,
        args.out,
        opts,
        # On a terminal only: a malformed file mid-way then ends in one error line.
        progress=lambda s: tqdm(s, desc="convert vihand", unit="seq", disable=None),
    )
    print(f"wrote {args.out}: {n} sequences")
    return 0


def _info(args) -> int:
    from handpose.datasets.storage import ImuFile

    with ImuFile(args.file) as f:
        for k, v in f.attrs.items():
            print(f"{k}: {v}")
        keys = f.keys()
        print(f"sequences: {len(keys)}")
        for s, q in keys:
            print(f"  subject {s:2d}  {q}")
    return 0


def _plot(args) -> int:
    from handpose.datasets.plot import plot_sequence
    from handpose.datasets.storage import ImuFile
    from handpose.errors import HandposeError
    from handpose.utils.validate import input_file, output_file

    output_file(args.out, "output", suffixes=(".png",))
    if args.model not in (None, "open", "mano"):
        input_file(args.model, "hand model file")
    with ImuFile(args.file) as f:
        names = {q for _, q in f.keys()}
        seq = args.sequence
        if seq not in names:
            match = sorted(n for n in names if n.split("_")[0].upper() == seq.upper())
            if not match:
                raise HandposeError(f"no sequence {seq!r} in '{args.file}'.")
            seq = match[0]
        rec = f.read(args.subject, seq)
        attrs = f.attrs
    plot_sequence(
        rec,
        args.out,
        start=args.start,
        seconds=args.seconds,
        num_frames=args.frames,
        model=args.model or attrs.get("hand_model", "open"),
        flat_hand_mean=bool(attrs.get("mano_flat_hand_mean", True)),
    )
    print(f"wrote {args.out}")
    return 0
