"""``handpose export``: trained models in deployment formats.

handpose export onnx --checkpoint runs/student/last.ckpt --out student.onnx
"""

from __future__ import annotations

from handpose.cli import add_group
from handpose.utils.validate import int_range, positive_float


def register(subparsers) -> None:
    grp = add_group(subparsers, "export", "export trained models (ONNX)")
    p = grp.add_parser(
        "onnx",
        help="export an MGDHand student to ONNX and check parity with onnxruntime",
        description="Export the IMU-only student (fixed window T, dynamic batch) to ONNX with "
        "its metadata, then compare torch and onnxruntime joints on random IMU windows; the "
        "file is written only if they agree within the tolerance.",
    )
    p.add_argument("--checkpoint", required=True, help="student checkpoint (.ckpt)")
    p.add_argument("--out", required=True, help="output .onnx")
    p.add_argument(
        "--opset",
        type=int_range(13, 20),
        default=17,
        help="ONNX opset, 13 to 20 (the student needs 13; torch's exporter writes up to 20)",
    )
    p.add_argument(
        "--windows", type=int_range(1, 4096), default=32, help="windows for the parity check"
    )
    p.add_argument(
        "--tolerance-mm",
        type=positive_float,
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


def _export_onnx(args) -> int:
    from handpose.inference.onnx_export import export_onnx

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
