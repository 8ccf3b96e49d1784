"""``handpose data``: convert datasets (VIHand → the IMU format; FreiHAND, InterHand2.6M, DexYCB,
HanCo → image shards), inspect, plot and show them."""

from __future__ import annotations

import argparse

from handpose.cli import add_group
from handpose.utils.validate import (
    int_range,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
)


def register(subparsers) -> None:
    grp = add_group(subparsers, "data", "convert, inspect and plot datasets")

    c = grp.add_parser(
        "convert",
        help="convert a dataset: VIHand → handpose IMU HDF5; FreiHAND, InterHand2.6M, DexYCB, "
        "HanCo → sharded image storage",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    c.add_argument("kind", choices=["vihand", *IMAGE_DATASETS], help="source dataset")
    c.add_argument(
        "root", help="dataset root (VIHand: the folder with multidata/ and annotations/)"
    )
    c.add_argument(
        "out",
        help="output: a .h5 file (vihand) or a new folder of image shards (written as a whole, "
        "nothing left on failure)",
    )
    img = c.add_argument_group("image datasets (freihand, interhand, dexycb, hanco)")
    img.add_argument("--splits", default=None, help="comma-separated shard splits (default all)")
    img.add_argument("--shard-size", type=positive_int, default=1000, help="samples per shard")
    img.add_argument("--encoding", choices=["png", "jpeg"], default="png", help="image encoding")
    img.add_argument("--limit", type=positive_int, default=None, help="at most N samples per split")
    _add_loader_options(img)
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

    sh = grp.add_parser(
        "show",
        help="draw one image sample with skeleton, mesh, mask and box overlays",
        description="DATASET is a shard folder PATH[:SPLIT] or NAME:ROOT[:SPLIT] with NAME one "
        "of freihand, interhand, dexycb, hanco (e.g. freihand:/data/FreiHAND_pub_v2:evaluation).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sh.add_argument("dataset", help="PATH[:SPLIT] (shards) or NAME:ROOT[:SPLIT] (real dataset)")
    sh.add_argument("index", type=nonnegative_int, help="sample index in the split")
    sh.add_argument("out", help="output .png")
    sh.add_argument("--split", default=None, help="split (overrides the one in DATASET)")
    sh.add_argument("--level", type=positive_int, default=None, help="ladder level in px (shards)")
    _add_loader_options(sh)
    sh.set_defaults(func=_show)

    i = grp.add_parser(
        "info",
        help="print the metadata and sequences of a handpose IMU file, or the manifest summary "
        "of an image shard folder",
    )
    i.add_argument("file", help="IMU .h5 file or image shard folder")
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


IMAGE_DATASETS = ("freihand", "interhand", "dexycb", "hanco")


def _add_loader_options(p) -> None:
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="loader option, repeatable: freihand version=gs|hom|sample|auto|all, masks=, vertices=; "
        "interhand subset=H+M|H|M, fps=5|30, hand_type_valid_only=, interacting_only=; "
        "dexycb setup=s0|s1|s2, masks=; hanco version=rgb|rgb_merged|..., views=0,3, masks=",
    )
    m = p.add_mutually_exclusive_group()
    m.add_argument(
        "--mano-dir",
        default=None,
        help="folder with MANO_RIGHT/LEFT for the MANO parameter conversions "
        "(default: $HANDPOSE_MANO_DIR when set up, else the MANO keys are left out)",
    )
    m.add_argument("--no-mano", action="store_true", help="leave the MANO keys out")


def _mano_arg(args):
    if args.mano_dir is not None:
        from handpose.utils.validate import input_folder

        input_folder(args.mano_dir, "--mano-dir folder")
    return None if args.no_mano else (args.mano_dir or "auto")


def _convert_images(args) -> int:
    from tqdm import tqdm

    from handpose.datasets.sources import convert_dataset, parse_options

    counts = convert_dataset(
        args.kind,
        args.root,
        args.out,
        splits=args.splits.split(",") if args.splits else None,
        shard_size=args.shard_size,
        encoding=args.encoding,
        limit=args.limit,
        mano=_mano_arg(args),
        progress=lambda n: tqdm(total=n, desc=f"convert {args.kind}", unit="img"),
        **parse_options(args.kind, args.set),
    )
    total = ", ".join(f"{s} {n}" for s, n in counts.items())
    print(f"wrote {args.out}: {total} samples")
    return 0


def _show(args) -> int:
    from handpose.datasets.show import save_sample_picture
    from handpose.datasets.sources import open_source, parse_options, parse_source
    from handpose.utils.validate import output_file

    output_file(args.out, "picture", suffixes=(".png",))  # before any reading
    name, _, _ = parse_source(args.dataset)
    ds = open_source(
        args.dataset,
        args.split,
        level=args.level,
        mano=_mano_arg(args),
        **parse_options(name, args.set),
    )
    sample = ds[args.index]
    caption = f"{ds.meta.get('dataset', name or 'shards')} #{args.index}"
    save_sample_picture(sample, args.out, caption=caption)
    print(f"wrote {args.out}")
    return 0


def _convert(args) -> int:
    if args.kind != "vihand":
        return _convert_images(args)
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
    from pathlib import Path

    if Path(args.file).is_dir():
        return _info_shards(args.file)
    from handpose.formats.imu_file import ImuFile

    with ImuFile(args.file) as f:
        for k, v in f.attrs.items():
            print(f"{k}: {v}")
        keys = f.keys()
        print(f"sequences: {len(keys)}")
        for s, q in keys:
            print(f"  subject {s:2d}  {q}")
    return 0


def _info_shards(root) -> int:
    import json

    from handpose.formats.shards import open_shards

    shards = open_shards(root)
    print(f"kind: {shards.kind}")
    for k, v in shards.meta.items():
        print(f"{k}: {json.dumps(v) if isinstance(v, (dict, list)) else v}")
    print(f"ladder levels: {shards.levels or 'none'}")
    for s in shards.splits:
        files = shards.manifest["splits"][s]
        print(f"  {s}: {shards.num_samples(s)} samples in {len(files)} shards")
    return 0


def _plot(args) -> int:
    from handpose.datasets.plot import plot_sequence
    from handpose.errors import HandposeError
    from handpose.formats.imu_file import ImuFile
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
