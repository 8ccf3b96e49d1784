"""``handpose export``: trained models in deployment formats.

handpose export onnx --checkpoint runs/student/last.ckpt --out student.onnx
handpose export onnx --checkpoint runs/baseline/main/checkpoints/last.ckpt --out baseline.onnx

The checkpoint's method decides: an MGDHand student goes to
:func:`handpose.inference.onnx_export.export_onnx`, every image method of the training harness
(the baseline, EHPE, DIR, PGTE, ...) to :func:`handpose.inference.image_onnx.export_image_onnx`:
the generic image graph that ``handpose infer image`` / ``infer video`` run from the file alone
(crops and K in; camera-frame joints, 2D joints, mesh and MANO parameters out; PGTE as its
window graph), parity-checked to 1e-4.

The methods' own graphs stay Python APIs for what the generic one does not carry:
:func:`handpose.models.dir.export.export_dir_onnx` (model-frame hands, the wrist offset, PCA
pose, and the segmentation / dense heads; the DIR speed benchmark),
:func:`handpose.models.ehpe.export.export_ehpe_onnx` (the 2.5D outputs, or the TW-stage alone
for the EHPE benchmark) and :func:`handpose.inference.pgte_onnx.export_pgte_onnx` (the root
depth as an input, for a tracked or known depth).
"""

from __future__ import annotations

from handpose.cli import add_group
from handpose.utils.validate import int_range, positive_float


def register(subparsers) -> None:
    grp = add_group(subparsers, "export", "export trained models (ONNX)")
    p = grp.add_parser(
        "onnx",
        help="export an MGDHand student or any image model to ONNX, parity-checked",
        description="Export the IMU-only student (fixed window T, dynamic batch) or an image "
        "model (crops and their K in; joints, 2D joints, mesh and MANO parameters out; dynamic "
        "batch) to ONNX with its metadata, then compare torch and onnxruntime on random inputs; "
        "the file is written only if they agree within the tolerance.",
    )
    p.add_argument("--checkpoint", required=True, help="student or image-model checkpoint (.ckpt)")
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
        help="student: largest accepted joint difference (default 0.01 mm; 1 mm with --int8)",
    )
    p.add_argument(
        "--tolerance",
        type=positive_float,
        default=None,
        help="image models: accepted |onnx - torch| per output value, times (1 + |value|) "
        "(default 1e-4)",
    )
    p.add_argument(
        "--int8",
        action="store_true",
        help="dynamic int8 quantisation (onnxruntime): faster on CPU, not exact",
    )
    p.add_argument("--no-verify", action="store_true", help="skip the onnxruntime parity check")
    p.set_defaults(func=_export_onnx)


def _checkpoint_method(path: str) -> str | None:
    """The harness method of a checkpoint (None when it has no harness metadata: the MGDHand
    exporter then explains what is wrong with the file)."""
    from handpose.errors import HandposeError
    from handpose.training.checkpoints import read_checkpoint
    from handpose.training.harness import checkpoint_info

    ckpt = read_checkpoint(path)  # unreadable: one error here
    try:
        return checkpoint_info(ckpt, path).get("method")
    except HandposeError:
        return None


def _export_onnx(args) -> int:
    from handpose.errors import HandposeError
    from handpose.inference.onnx_export import export_onnx
    from handpose.utils.validate import output_file

    output_file(args.out, "ONNX output", suffixes=(".onnx",))  # every exporter, before any work
    method = _checkpoint_method(args.checkpoint)
    if method not in (None, "mgdhand"):
        from handpose.inference.image_onnx import PARITY_TOLERANCE, export_image_onnx

        if args.int8:
            raise HandposeError("--int8 is available for the MGDHand student only.")
        if args.tolerance_mm is not None:
            raise HandposeError("--tolerance-mm is for the MGDHand student; use --tolerance.")
        report = export_image_onnx(
            args.checkpoint,
            args.out,
            opset=args.opset,
            verify=not args.no_verify,
            tolerance=PARITY_TOLERANCE if args.tolerance is None else args.tolerance,
        )
        print(report.summary())
        return 0
    if args.tolerance is not None:
        raise HandposeError("--tolerance is for image models; the student takes --tolerance-mm.")

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
