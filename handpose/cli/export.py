"""``handpose export``: trained models in deployment formats.

handpose export onnx --checkpoint runs/student/last.ckpt --out student.onnx
handpose export onnx --checkpoint runs/dir/main/checkpoints/last.ckpt --out dir.onnx
"""

from __future__ import annotations

from handpose.cli import add_group


def register(subparsers) -> None:
    grp = add_group(subparsers, "export", "export trained models (ONNX)")
    p = grp.add_parser(
        "onnx",
        help="export an MGDHand student or a DIR model to ONNX and check parity with onnxruntime",
        description="Export the IMU-only student (fixed window T, dynamic batch) or a DIR "
        "network (image crops, dynamic batch) to ONNX with its metadata, then compare torch and "
        "onnxruntime joints on random inputs; the file is written only if they agree within "
        "the tolerance.",
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
    from handpose.training.checkpoints import read_checkpoint

    meta = read_checkpoint(path).get("handpose") or {}
    return meta.get("method") if isinstance(meta, dict) else None


def _export_onnx(args) -> int:
    from handpose.inference.onnx_export import export_onnx

    if _checkpoint_method(args.checkpoint) == "dir":
        from handpose.models.dir.export import PARITY_TOLERANCE_MM, export_dir_onnx
        from handpose.training.harness import load_model

        if args.int8:
            from handpose.errors import HandposeError

            raise HandposeError("--int8 is not available for DIR models.")
        net, _ = load_model(args.checkpoint, method="dir")
        report = export_dir_onnx(
            net,
            args.out,
            opset=args.opset,
            verify=not args.no_verify,
            num_images=min(args.windows, 8),
            tolerance_mm=args.tolerance_mm or PARITY_TOLERANCE_MM,
        )
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
