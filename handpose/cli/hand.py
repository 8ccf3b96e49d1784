"""``handpose hand``: convert, export, inspect and render hand models.

handpose hand convert MANO_RIGHT.pkl mano_right.npz   # safe plain-array copy of a MANO file
handpose hand export --model open --side right OUT.pkl  # MANO pickle layout, plain arrays
handpose hand info --model open                         # sizes, tips, provenance
handpose hand render --model open --out docs/images/open_hand_gallery.png
"""

from __future__ import annotations

import argparse

from handpose.cli import add_group
from handpose.utils.validate import int_range, output_file


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default="open",
        help="'open' (embedded), 'mano' (official files via --mano-dir or $HANDPOSE_MANO_DIR), "
        "or a path to a MANO .pkl / converted .npz (default: open)",
    )
    p.add_argument("--side", choices=["right", "left"], default=None, help="default: right")
    p.add_argument("--mano-dir", default=None, help="folder with MANO_RIGHT.pkl / MANO_LEFT.pkl")


def _load(args):
    from handpose.handmodel.data import load_hand_model_data

    return load_hand_model_data(
        args.model,
        args.side,
        fix_left_shapedirs=getattr(args, "fix_left_shapedirs", False),
        mano_dir=args.mano_dir,
    )


def _cmd_convert(args) -> int:
    from pathlib import Path

    from handpose.errors import HandposeError
    from handpose.handmodel.data import load_hand_model_data

    src, dst = Path(args.src), Path(args.dst)
    if src.suffix.lower() not in (".pkl", ".npz"):
        raise HandposeError(f"the input must be a MANO .pkl (or a .npz), got '{src}'")
    output_file(dst, "output", suffixes=(".npz",))
    data = load_hand_model_data(src, args.side)
    data.save_npz(dst)
    print(
        f"wrote {dst}: {data.side} hand, {data.num_vertices} vertices, {len(data.faces)} faces, "
        f"{data.num_betas} shape components (plain arrays, loads with allow_pickle=False)"
    )
    return 0


def _cmd_export(args) -> int:
    from handpose.handmodel.mano_pickle import export_mano_pickle

    output_file(args.out, "output")
    data = _load(args)
    export_mano_pickle(data.to_mano_dict(), args.out)
    print(f"wrote {args.out}: {data.name} {data.side} hand in MANO's pickle layout")
    return 0


def _cmd_info(args) -> int:
    import numpy as np

    data = _load(args)
    corr = "yes" if np.abs(data.posedirs).max() > 0 else "none (zero posedirs)"
    lines = [
        f"model: {data.name} ({data.side} hand)",
        f"source: {data.metadata.get('source', '-')}",
        f"vertices: {data.num_vertices}, faces: {len(data.faces)}",
        f"shape components: {data.num_betas}, pose PCA components: "
        f"{data.hands_components.shape[0]}",
        f"pose correctives: {corr}",
        f"fingertip vertices (thumb, index, middle, ring, pinky): {tuple(data.tip_ids)}",
    ]
    if data.metadata.get("mirrored_from"):
        lines.append(f"mirrored from the {data.metadata['mirrored_from']} hand")
    print("\n".join(lines))
    return 0


def _cmd_render(args) -> int:
    from handpose.render.gallery import render_hand_gallery

    output_file(args.out, "output", suffixes=(".png",))
    render_hand_gallery(args.out, model=args.model, side=args.side, size=args.size)
    print(f"wrote {args.out}")
    return 0


def register(subparsers) -> None:
    grp = add_group(subparsers, "hand", "hand models: convert MANO files, export, inspect, render")

    p = grp.add_parser(
        "convert",
        help="copy a MANO .pkl into a plain-array .npz (safe loader, no chumpy)",
        description="Read an official MANO_RIGHT.pkl / MANO_LEFT.pkl with handpose's restricted "
        "unpickler (no chumpy, no code execution) and write a plain-array .npz that loads with "
        "allow_pickle=False. The arrays are copied as they are (no left-hand shapedirs fix).",
    )
    p.add_argument("src", help="MANO .pkl (or .npz)")
    p.add_argument("dst", help="output .npz")
    p.add_argument("--side", choices=["right", "left"], default=None, help="default: from name")
    p.set_defaults(func=_cmd_convert)

    p = grp.add_parser(
        "export",
        help="write a hand model in MANO's pickle layout (plain numpy arrays)",
        description="Write v_template, f, shapedirs, posedirs, J_regressor, weights, "
        "kintree_table, hands_components and hands_mean as plain numpy arrays in a pickle "
        "(MANO's layout), readable by smplx, manopth and manotorch without chumpy.",
    )
    _model_args(p)
    p.add_argument(
        "--fix-left-shapedirs",
        action="store_true",
        help="apply the MANO_LEFT shapedirs fix (InterHand2.6M convention) before exporting",
    )
    p.add_argument("out", help="output .pkl")
    p.set_defaults(func=_cmd_export)

    p = grp.add_parser("info", help="print the size, tips and provenance of a hand model")
    _model_args(p)
    p.set_defaults(func=_cmd_info)

    p = grp.add_parser(
        "render", help="render a PNG gallery of the hand in several poses and shapes"
    )
    p.add_argument("--model", default="open", help="'open', 'mano' or a model path")
    p.add_argument("--side", choices=["right", "left"], default="right")
    p.add_argument(
        "--size", type=int_range(32, 2048), default=256, help="side of one panel in pixels"
    )
    p.add_argument("--out", default="docs/images/open_hand_gallery.png", help="output PNG")
    p.set_defaults(func=_cmd_render)
