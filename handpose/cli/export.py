"""``handpose export``: trained models in deployment formats.

handpose export onnx --checkpoint runs/student/last.ckpt --out student.onnx
"""

from __future__ import annotations

from handpose.cli import add_group


def register(subparsers) -> None:
    grp = add_group(subparsers, "export", "export trained models (ONNX)")
    p = grp.add_parser(
        "onnx",
        help="export an MGDHand student or a PGTE model to ONNX and check parity with onnxruntime",
        description="Export the IMU-only student (fixed window T, dynamic batch) or a PGTE "
        "checkpoint (its window forward: images, K, root depth → vertices, joints) to ONNX with "
        "its metadata, then compare torch and onnxruntime on random inputs; the file is written "
        "only if they agree within the tolerance.",
    )
    p.add_argument("--checkpoint", required=True, help="student checkpoint (.ckpt)")
    p.add_argument("--out", required=True, help="output .onnx")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--windows", type=int, default=32, help="windows for the parity check")
    p.add_argument(
        "--tolerance-mm",
        type=float,
        default=None,
        help="largest accepted joint difference (default 0.01 mm; 1 mm with --int8)",
    )
    p.add_argument(
        "--int8",
        action="store_true",
        help="dynamic int8 quantisation (onnxruntime): faster on CPU, not exact",
    )
    p.add_argument("--no-verify", action="store_true", help="skip the onnxruntime parity check")
    p.set_defaults(func=_export_onnx)


def _checkpoint_method(path: str) -> str | None:
    """The harness method of a checkpoint (None when it has no harness metadata)."""
    from handpose.training.checkpoints import read_checkpoint
    from handpose.training.harness import checkpoint_info

    try:
        return checkpoint_info(read_checkpoint(path), path).get("method")
    except Exception:  # older / foreign files: the MGDHand exporter explains what is wrong
        return None


def _export_onnx(args) -> int:
    from handpose.inference.onnx_export import export_onnx

    if _checkpoint_method(args.checkpoint) == "pgte":
        from handpose.inference.pgte_onnx import TOLERANCE_MM, export_pgte_onnx

        if args.int8:
            from handpose.errors import HandposeError

            raise HandposeError("--int8 is available for the MGDHand student only.")
        report = export_pgte_onnx(
            args.checkpoint, args.out, opset=args.opset, verify=not args.no_verify,
            windows=max(1, min(args.windows, 4)),
            tolerance_mm=TOLERANCE_MM if args.tolerance_mm is None else args.tolerance_mm,
        )  # fmt: skip
        print(report.summary())
        return 0

    report = export_onnx(
        args.checkpoint,
        args.out,
        opset=args.opset,
        verify=not args.no_verify,
        num_windows=args.windows,
        tolerance_mm=args.tolerance_mm,
        int8=args.int8,
    )
    print(report.summary())
    return 0
