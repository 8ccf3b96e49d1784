"""``handpose infer``: hand poses from IMU recordings (files) or live IMU frames (NDJSON), and
from images and videos (``infer image``, ``infer video``: :mod:`handpose.cli._image_infer`).

    handpose infer imu INPUT --checkpoint CKPT --out OUT.npz [--video OUT.mp4] [--backend onnx]
    handpose infer stream --checkpoint CKPT [--udp PORT] [--backend onnx]
    handpose infer replay INPUT --udp PORT          # send a recording in real time, for testing

INPUT is our HDF5 (``.h5``/``.hdf5``), VIHand's ``IMU.json`` or the handpose IMU CSV
(``.csv``, layout in :mod:`handpose.inference.csv_format`). The NDJSON frame schema is in
:mod:`handpose.inference.protocol`.
"""

from __future__ import annotations

import sys

from handpose.cli import add_group
from handpose.utils.validate import (
    any_port,
    float_range,
    nonnegative_float,
    port,
    positive_float,
    positive_int,
)


def register(subparsers) -> None:
    grp = add_group(
        subparsers, "infer", "estimate hand poses from IMU files, live IMU frames, images or videos"
    )

    p = grp.add_parser(
        "imu",
        help="run a trained student on an IMU recording (HDF5, VIHand IMU.json, CSV)",
        description="Estimate MANO parameters, joints and vertices for every frame of an IMU "
        "recording and write them to an npz file (optionally an MP4 of the rendered hand, side "
        "by side with the ground truth when the file has it).",
    )
    p.add_argument("input", help="recording: .h5/.hdf5 (handpose), IMU.json (VIHand) or .csv")
    _add_model_args(p)
    p.add_argument("--out", required=True, help="output .npz (MANO parameters, joints, vertices)")
    p.add_argument("--video", default=None, help="also write an MP4 (or .gif) of the hands")
    p.add_argument("--plots", default=None, help="folder for error plots (needs ground truth)")
    p.add_argument(
        "--mode",
        choices=("tiled", "causal"),
        default="tiled",
        help="tiled: non-overlapping windows (uses future frames within a window, like "
        "evaluation); causal: each frame from the window ending at it (identical to streaming)",
    )
    p.add_argument("--sequence", default=None, help="sequence name in a multi-sequence HDF5")
    p.add_argument("--fps", type=positive_float, default=None, help="frame rate of a CSV file (Hz)")
    p.add_argument(
        "--hold-missing",
        action="store_true",
        help="treat NaN/missing samples as sensor dropouts (hold the last valid sample) instead "
        "of rejecting the file",
    )
    p.add_argument("--no-vertices", action="store_true", help="do not store mesh vertices")
    p.set_defaults(func=_infer_imu)

    s = grp.add_parser(
        "stream",
        help="live: read NDJSON IMU frames from stdin or UDP, write one NDJSON pose per frame",
        description="Read newline-delimited JSON IMU frames from stdin (default) or a UDP port "
        'on 127.0.0.1 ({"t": 0.033, "sensors": [{"q": [w,x,y,z], "acc": [x,y,z]}, null, ...]}) '
        "and write one JSON pose line per frame to stdout. Missing sensors are held and flagged.",
    )
    _add_model_args(s)
    s.add_argument(
        "--udp", type=any_port, default=None, metavar="PORT", help="listen on UDP PORT (0: any)"
    )
    s.add_argument(
        "--idle-timeout",
        type=float_range(0.0, 1e6, lo_open=True),
        default=None,
        help="with --udp: stop after this many seconds without data (default: never)",
    )
    s.add_argument("--vertices", action="store_true", help="include mesh vertices per frame")
    s.set_defaults(func=_infer_stream)

    r = grp.add_parser(
        "replay",
        help="send a recording as NDJSON frames over UDP in real time (a test client)",
    )
    r.add_argument("input", help="recording: .h5/.hdf5, IMU.json or .csv")
    r.add_argument("--udp", type=port, required=True, metavar="PORT", help="destination port")
    r.add_argument("--sequence", default=None, help="sequence name in a multi-sequence HDF5")
    r.add_argument("--fps", type=positive_float, default=None, help="frame rate of a CSV file (Hz)")
    r.add_argument(
        "--speed", type=nonnegative_float, default=1.0, help="playback speed (0 = unpaced)"
    )
    r.add_argument("--no-end", action="store_true", help='do not send {"end": true} at the end')
    r.set_defaults(func=_replay)

    from handpose.cli._image_infer import register_image_commands

    register_image_commands(grp)  # infer image, infer video


def _add_model_args(p) -> None:
    p.add_argument("--checkpoint", required=True, help="student checkpoint (.ckpt/.pt) or .onnx")
    p.add_argument(
        "--backend",
        choices=("torch", "onnx"),
        default=None,
        help="torch (eager) or onnxruntime (a .ckpt is exported in memory first); default: "
        "torch for .ckpt, onnx for .onnx",
    )
    p.add_argument(
        "--threads", type=positive_int, default=None, help="CPU threads (default: torch's)"
    )


def _infer_imu(args) -> int:
    from handpose.inference.api import infer_file

    result = infer_file(
        args.input,
        args.checkpoint,
        args.out,
        video=args.video,
        plots=args.plots,
        backend=args.backend,
        mode=args.mode,
        hold_missing=args.hold_missing,
        sequence=args.sequence,
        fps=args.fps,
        return_vertices=not args.no_vertices,
        threads=args.threads,
        progress=sys.stderr.isatty(),
    )
    print(result.summary())
    return 0


def _infer_stream(args) -> int:
    from handpose.inference.api import load_estimator
    from handpose.inference.protocol import serve_lines, stdin_lines, udp_lines

    estimator = load_estimator(args.checkpoint, backend=args.backend, threads=args.threads)
    stream = estimator.stream(return_vertices=args.vertices)

    def write(line: str) -> None:
        sys.stdout.write(line)
        sys.stdout.flush()

    if args.udp is not None:

        def ready(port: int) -> None:
            print(
                f"handpose: listening on udp://127.0.0.1:{port} "
                f"({estimator.describe()}, sensors: {', '.join(estimator.sensor_names)})",
                file=sys.stderr,
                flush=True,
            )

        lines = udp_lines(args.udp, idle_timeout=args.idle_timeout, on_ready=ready)
    else:
        lines = stdin_lines()
    frames = serve_lines(stream, lines, write)
    print(f"handpose: {frames} frames estimated", file=sys.stderr)
    return 0


def _replay(args) -> int:
    from handpose.inference.protocol import replay_udp
    from handpose.inference.readers import read_imu

    rec = read_imu(args.input, sequence=args.sequence, fps=args.fps)
    realtime = args.speed > 0
    fps = rec.fps * (args.speed if realtime else 1.0)
    sent = replay_udp(
        rec.quaternions,
        rec.accelerations,
        args.udp,
        fps=fps,
        realtime=realtime,
        send_end=not args.no_end,
    )
    print(f"sent {sent} frames of {rec.source} to udp://127.0.0.1:{args.udp}", file=sys.stderr)
    return 0
