"""``handpose infer image`` and ``handpose infer video`` (added to the ``infer`` group).

    handpose infer image photo.jpg --checkpoint CKPT --box 410,220,530,350 --side left --out OUT
    handpose infer image photos/ --checkpoint model.onnx --boxes boxes.json --K 1400,1400,960,540 --out OUT
    handpose infer video clip.mp4 --checkpoint CKPT --boxes boxes.csv --smooth one-euro --out OUT

CKPT is any image checkpoint of the training harness (``--method`` checks which) or an
``.onnx`` written by ``handpose export onnx``. OUT gets ``predictions.json``,
``predictions.npz`` and overlays (``overlays/*.png`` or ``overlay.mp4``). Conventions (crops,
camera frame, assumed K, left hands, box tables): :mod:`handpose.inference.image`,
:mod:`handpose.inference.image_io`, :mod:`handpose.inference.video`.
"""

from __future__ import annotations

import sys

from handpose.utils.validate import positive_float


def register_image_commands(grp) -> None:
    """Add ``image`` and ``video`` to the ``infer`` subparsers."""
    p = grp.add_parser(
        "image",
        help="3D hands in image files or folders with any image model (checkpoint or ONNX)",
        description="Estimate 3D joints (camera frame of each image, metres), 2D joints "
        "(pixels), meshes and MANO parameters where the model has them, for image files and "
        "folders; write predictions.json, predictions.npz and overlay PNGs into --out.",
    )
    p.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    _model_args(p)
    _box_args(p, "image")
    p.add_argument(
        "--vertices-json", action="store_true", help="also put mesh vertices into the JSON"
    )
    p.add_argument("--no-overlay", action="store_true", help="do not write overlay PNGs")
    p.set_defaults(func=_infer_image)

    v = grp.add_parser(
        "video",
        help="3D hands in a video file or a folder of frames, smoothed, with an overlay MP4",
        description="Estimate hands in every frame (boxes per frame from a table, one fixed "
        "box or whole frames), smooth single-frame models over time (video models such as "
        "PGTE run over a causal sliding window), write predictions.npz, predictions.json and "
        "overlay.mp4 into --out.",
    )
    v.add_argument("input", help="a video file (.mp4, .mov, ...) or a folder of frames")
    _model_args(v)
    _box_args(v, "video")
    v.add_argument(
        "--fps", type=float, default=None, help="frame rate (default: the file's; 30 for folders)"
    )
    v.add_argument(
        "--smooth",
        choices=("none", "one-euro", "savgol", "savgol-causal"),
        default=None,
        help="temporal smoothing (default: one-euro for single-frame models, none for video "
        "models)",
    )
    v.add_argument("--min-cutoff", type=float, default=None, help="One-Euro cutoff at rest, Hz (1)")
    v.add_argument(
        "--beta", type=float, default=None, help="One-Euro speed coefficient, Hz/(m/s) (20)"
    )
    v.add_argument(
        "--d-cutoff", type=float, default=None, help="One-Euro derivative cutoff, Hz (1)"
    )
    v.add_argument("--window", type=int, default=None, help="Savitzky-Golay window, frames (9)")
    v.add_argument(
        "--order", type=int, default=None, help="Savitzky-Golay polynomial order (2; causal 1)"
    )
    v.add_argument("--max-frames", type=int, default=None, help="only the first N frames")
    v.add_argument("--no-overlay", action="store_true", help="do not write overlay.mp4")
    v.set_defaults(func=_infer_video)


def _model_args(p) -> None:
    p.add_argument("--checkpoint", required=True, help="image checkpoint (.ckpt) or .onnx export")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--method", default=None, help="require the checkpoint to be of this method")
    p.add_argument(
        "--backend",
        choices=("torch", "onnx"),
        default=None,
        help="torch (eager) or onnxruntime (a .ckpt is exported in memory first); default: "
        "torch for .ckpt, onnx for .onnx",
    )
    p.add_argument("--fit-mesh", default=None, metavar="MODEL",
                   help="fit a hand model ('open', 'mano' or a file) to the joints of models "
                   "without a mesh")  # fmt: skip
    p.add_argument(
        "--pad", type=positive_float, default=None, help="box enlargement (default: the model's)"
    )
    p.add_argument("--batch-size", type=int, default=32, help="crops per model call (32)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")


def _box_args(p, kind: str) -> None:
    where = "image" if kind == "image" else "frame"
    p.add_argument("--box", default=None, metavar="X0,Y0,X1,Y1",
                   help=f"one hand box for every {where} (pixels); default: the whole {where}")  # fmt: skip
    p.add_argument("--boxes", default=None, metavar="FILE",
                   help=f"per-{where} boxes (and sides): JSON or CSV (see handpose.inference."
                   "image_io)")  # fmt: skip
    p.add_argument("--side", choices=("left", "right"), default=None,
                   help="side of hands without one in the box table")  # fmt: skip
    cam = p.add_mutually_exclusive_group()
    cam.add_argument("--K", default=None, metavar="FX,FY,CX,CY",
                     help="intrinsics of the original images (or 9 numbers, row-major)")  # fmt: skip
    cam.add_argument("--fov", type=float, default=None, metavar="DEG",
                     help="assumed field of view across the longer side when K is unknown (60)")  # fmt: skip


def _estimator(args):
    from handpose.errors import HandposeError
    from handpose.inference.image import ImagePoseEstimator

    if args.batch_size < 1:
        raise HandposeError(f"--batch-size must be at least 1, got {args.batch_size}.")
    if args.threads is not None and args.threads < 1:
        raise HandposeError(f"--threads must be at least 1, got {args.threads}.")
    return ImagePoseEstimator.load(
        args.checkpoint,
        backend=args.backend,
        method=args.method,
        threads=args.threads,
        pad=args.pad,
        fit_mesh=args.fit_mesh,
        batch_size=args.batch_size,
    )


def _common(args):
    from handpose.inference.image import parse_intrinsics
    from handpose.inference.image_io import check_output_dir, parse_box

    check_output_dir(args.out)
    box = parse_box(args.box) if args.box is not None else None
    K = parse_intrinsics(args.K) if args.K is not None else None
    if args.fov is not None:
        from handpose.inference.image import default_intrinsics

        default_intrinsics(64, 64, args.fov)  # range check before any work
    if args.fit_mesh is not None:
        from handpose.handmodel import HandModel

        HandModel(args.fit_mesh, side="right")  # a missing model: one error before any work
    return box, K


def _infer_image(args) -> int:
    from handpose.inference.image_io import infer_image_files

    box, K = _common(args)
    est = _estimator(args)
    preds, written = infer_image_files(
        est,
        args.inputs,
        args.out,
        box=box,
        boxes=args.boxes,
        K=K,
        fov_deg=args.fov,
        side=args.side,
        overlays=not args.no_overlay,
        vertices_in_json=args.vertices_json,
        progress=sys.stderr.isatty(),
    )
    hands = sum(len(p.hands) for p in preds)
    assumed = any(p.K_assumed for p in preds)
    note = " (K assumed from the field of view: depth is up to that assumption)" if assumed else ""
    print(
        f"{len(preds)} images, {hands} hands with {est.describe()}; wrote "
        f"{', '.join(str(p) for p in written.values())}{note}"
    )
    return 0


def _infer_video(args) -> int:
    from handpose.errors import HandposeError
    from handpose.inference.video import infer_video, write_video_results

    box, K = _common(args)
    if args.max_frames is not None and args.max_frames < 1:
        raise HandposeError(f"--max-frames must be at least 1, got {args.max_frames}.")
    params = {
        k: v
        for k, v in (
            ("min_cutoff", args.min_cutoff),
            ("beta", args.beta),
            ("d_cutoff", args.d_cutoff),
            ("window", args.window),
            ("order", args.order),
        )
        if v is not None
    }
    est = _estimator(args)
    pred = infer_video(
        est,
        args.input,
        box=box,
        boxes=args.boxes,
        side=args.side,
        K=K,
        fov_deg=args.fov,
        fps=args.fps,
        smooth=args.smooth,
        smooth_params=params,
        max_frames=args.max_frames,
        progress=sys.stderr.isatty(),
    )
    written = write_video_results(
        pred,
        args.out,
        overlay=not args.no_overlay,
        extra={"model": est.describe()},
        progress=sys.stderr.isatty(),
    )
    found = int(pred.valid.any(axis=1).sum())
    print(
        f"{pred.num_frames} frames ({found} with hands) with {est.describe()}, smoothing "
        f"{pred.smoothing['method']}; wrote {', '.join(str(p) for p in written.values())}"
    )
    return 0
