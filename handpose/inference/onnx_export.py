"""Export the MGDHand student to ONNX and check it against torch.

The exported graph is :class:`~handpose.inference.backends.StudentInference`: input ``imu``
(B, T, N, 12) float32 with a dynamic batch axis and a **fixed** window T (the temporal positional
embedding has T entries); outputs ``rotmats`` (B, T, 16, 3, 3), ``betas`` (B, 10) and
``joints`` (B, T, 21, 3) metres. The student's window, sensors, normalisation constants and hand
model are stored as JSON in the model's metadata (key ``handpose``), so an ``.onnx`` file is a
complete checkpoint for the onnxruntime backend.

The legacy TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``) is used: it
handles the student's plain tensor ops on CPU without the dynamo exporter's extra dependencies.
Parity is measured as the largest joint difference between torch and onnxruntime on IMU windows
(:func:`onnx_parity_mm`); the export fails if it exceeds the tolerance (0.01 mm).

``int8=True`` additionally applies onnxruntime's dynamic int8 quantisation (weights int8,
activations quantised per call): 2–3× faster on CPUs with VNNI (docs/benchmarks/inference.md)
but no longer exact; its joint deviation from torch is measured and reported, and checked
against a looser tolerance (1 mm by default) that catches broken exports, not precision loss.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from handpose.errors import HandposeError
from handpose.inference.backends import (
    ONNX_METADATA_KEY,
    ONNX_OUTPUTS,
    StudentInference,
    StudentSpec,
    onnx_session,
)

__all__ = [
    "DEFAULT_OPSET",
    "opset_range",
    "PARITY_TOLERANCE_MM",
    "ExportReport",
    "student_to_onnx",
    "quantize_int8",
    "onnx_parity_mm",
    "random_imu_windows",
    "export_onnx",
    "read_onnx_spec",
]

DEFAULT_OPSET = 17
PARITY_TOLERANCE_MM = 0.01
INT8_TOLERANCE_MM = 1.0


@dataclass
class ExportReport:
    """What :func:`export_onnx` did.

    Attributes:
        path: the written ``.onnx``.
        size_bytes: file size.
        max_joint_diff_mm: largest |torch − onnxruntime| joint coordinate difference over the
            check windows, mm (None when not verified).
        num_windows: windows used for the check.
        spec: the student's :class:`StudentSpec` (also in the file's metadata).
    """

    path: Path
    size_bytes: int
    max_joint_diff_mm: float | None
    num_windows: int
    spec: StudentSpec

    def summary(self) -> str:
        parity = (
            f"max joint difference torch vs onnxruntime {self.max_joint_diff_mm:.2e} mm on "
            f"{self.num_windows} windows"
            if self.max_joint_diff_mm is not None
            else "parity not checked"
        )
        return (
            f"wrote {self.path} ({self.size_bytes / 1e6:.2f} MB, {self.spec.precision}, "
            f"T={self.spec.window}, {len(self.spec.sensor_names)} sensors); {parity}"
        )


def student_to_onnx(
    student: nn.Module, spec: StudentSpec, *, opset: int = DEFAULT_OPSET, lockstep: bool = True
) -> bytes:
    """Serialise a student to ONNX bytes (metadata included), with a dynamic batch axis.

    Args:
        student: the trained student (any dtype; exported in float32, eval mode).
        spec: its :class:`StudentSpec`, stored in the metadata.
        opset: ONNX opset version.
        lockstep: the backbone's streams side by side (see :class:`StudentInference`).
    """
    import onnx

    module = StudentInference(student, lockstep=lockstep).float().eval()
    dummy = torch.zeros(1, spec.window, len(spec.sensor_names), 12)
    dummy[..., 0] = dummy[..., 4] = dummy[..., 8] = 1.0  # identity rotations
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad(), _exporter_errors(opset):
        # TracerWarnings about shape-dependent Python branches: the window T is fixed by design.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (dummy,),
            buf,
            dynamo=False,
            input_names=["imu"],
            output_names=list(ONNX_OUTPUTS),
            dynamic_axes={name: {0: "batch"} for name in ("imu", *ONNX_OUTPUTS)},
            opset_version=opset,
            do_constant_folding=True,
        )
    model = onnx.load_from_string(buf.getvalue())
    entry = model.metadata_props.add()
    entry.key = ONNX_METADATA_KEY
    entry.value = spec.to_json()
    model.producer_name = "handpose"
    return model.SerializeToString()


def opset_range() -> tuple[int, int]:
    """The ONNX opsets torch's TorchScript-based exporter writes (7..20 for torch 2.x)."""
    from torch.onnx import _constants

    lo = getattr(_constants, "ONNX_MIN_OPSET", 7)
    hi = getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", None)
    return lo, hi or getattr(_constants, "ONNX_MAX_OPSET", DEFAULT_OPSET)


@contextlib.contextmanager
def _exporter_errors(opset: int):
    """The exporter's refusal (an operator without a symbolic at this opset) as one line."""
    from torch.onnx.errors import OnnxExporterError, UnsupportedOperatorError

    try:
        yield
    except (OnnxExporterError, UnsupportedOperatorError) as err:
        reason = " ".join(str(err).split())[:200]
        raise HandposeError(
            f"the student cannot be exported at ONNX opset {opset}: {reason}"
        ) from None


def quantize_int8(model: bytes) -> bytes:
    """onnxruntime dynamic int8 quantisation of an exported student (metadata kept, marked)."""
    import onnx

    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:  # pragma: no cover - an optional dependency
        raise HandposeError(
            "int8 export needs onnxruntime: pip install 'handpose[onnx]'."
        ) from None
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(model)
        root = logging.getLogger()
        level = root.level
        # onnxruntime logs advice ("consider pre-processing") on the root logger.
        root.setLevel(max(level, logging.ERROR))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
        finally:
            root.setLevel(level)
        proto = onnx.load(str(dst))
    for entry in proto.metadata_props:
        if entry.key == ONNX_METADATA_KEY:
            spec = StudentSpec.from_json(entry.value)
            entry.value = replace(spec, precision="int8").to_json()
    return proto.SerializeToString()


def read_onnx_spec(model: bytes | str | os.PathLike) -> StudentSpec:
    """The :class:`StudentSpec` stored in an exported student (HandposeError if absent)."""
    import onnx

    source = "model bytes" if isinstance(model, bytes) else str(model)
    try:
        proto = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(str(model))
    except Exception as err:  # onnx raises DecodeError and friends
        raise HandposeError(f"'{source}' is not a readable ONNX model ({err}).") from None
    meta = {p.key: p.value for p in proto.metadata_props}
    if ONNX_METADATA_KEY not in meta:
        raise HandposeError(
            f"'{source}' is not a handpose student (no '{ONNX_METADATA_KEY}' metadata); export "
            "it with `handpose export onnx`."
        )
    return StudentSpec.from_json(meta[ONNX_METADATA_KEY], source)


def random_imu_windows(spec: StudentSpec, num_windows: int = 32, seed: int = 0) -> np.ndarray:
    """Plausible normalised IMU windows (B, T, N, 12) float32 for checks and benchmarks.

    Random smooth sensor rotations and accelerations (≈ ±10 m/s²) through the student's own
    normalisation, so the tokens have the same structure as real inputs.
    """
    from handpose.datasets.normalize import imu_tokens_from_quaternion

    rng = np.random.default_rng(seed)
    B, T, N = num_windows, spec.window, len(spec.sensor_names)
    t = np.arange(T)[None, :, None, None] / spec.fps
    phase = rng.uniform(0, 2 * np.pi, (B, 1, N, 4))
    freq = rng.uniform(0.2, 3.0, (B, 1, N, 4))
    q = np.sin(2 * np.pi * freq * t + phase) + rng.normal(0, 0.5, (B, 1, N, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    a = 10.0 * np.sin(2 * np.pi * freq[..., :3] * t + phase[..., :3])
    tokens = imu_tokens_from_quaternion(
        torch.from_numpy(q.astype(np.float32)),
        torch.from_numpy(a.astype(np.float32)),
        spec.root_index,
        spec.acc_scale,
    )
    return tokens.numpy()


def onnx_parity_mm(
    student: nn.Module,
    model: bytes | str,
    windows: np.ndarray,
    *,
    threads: int | None = None,
) -> float:
    """Largest joint coordinate difference between torch and onnxruntime, in mm.

    Args:
        student: the torch student.
        model: ONNX bytes or path.
        windows: (B, T, N, 12) float32 normalised IMU windows.
    """
    session = onnx_session(model, threads)
    module = StudentInference(student).float().eval()
    with torch.inference_mode():
        _, _, joints_torch = module(torch.from_numpy(windows))
    _, _, joints_onnx = session.run(list(ONNX_OUTPUTS), {"imu": windows})
    return float(np.abs(joints_torch.numpy() - joints_onnx).max() * 1000.0)


def export_onnx(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    *,
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
    num_windows: int = 32,
    tolerance_mm: float | None = None,
    int8: bool = False,
) -> ExportReport:
    """Export a student checkpoint to ``out`` (atomic) and verify parity with onnxruntime.

    Args:
        checkpoint: a student ``.ckpt`` (read with ``weights_only=True``).
        out: destination ``.onnx``.
        opset: ONNX opset version.
        verify: compare torch and onnxruntime joints on a batch-1 window and ``num_windows``
            random IMU windows.
        tolerance_mm: the largest accepted joint difference (default 0.01 mm, or 1 mm with
            ``int8``); above it nothing is written.
        int8: apply dynamic int8 quantisation (faster, not exact; see the module docstring).
    Returns:
        :class:`ExportReport`.
    """
    if tolerance_mm is None:
        tolerance_mm = INT8_TOLERANCE_MM if int8 else PARITY_TOLERANCE_MM
    from handpose.inference.student import load_student
    from handpose.utils.io import atomic_path
    from handpose.utils.validate import check_float, check_int, output_file

    out = output_file(out, "ONNX output", suffixes=(".onnx",))
    lo, hi = opset_range()
    check_int(opset, "the ONNX opset", lo, hi)
    check_int(num_windows, "the number of parity windows", 1)
    check_float(tolerance_mm, "the parity tolerance (mm)", 0.0, lo_open=True)
    student, spec = load_student(checkpoint)
    data = student_to_onnx(student, spec, opset=opset)
    if int8:
        data = quantize_int8(data)
        spec = replace(spec, precision="int8")
    diff = None
    if verify:
        # Batch 1 (streaming) and a full batch (files): the batch axis is dynamic.
        diff = max(
            onnx_parity_mm(student, data, random_imu_windows(spec, 1, seed=1)),
            onnx_parity_mm(student, data, random_imu_windows(spec, num_windows, seed=2)),
        )
        if not diff <= tolerance_mm:
            raise HandposeError(
                f"the ONNX export differs from torch by {diff:.3g} mm (tolerance "
                f"{tolerance_mm} mm); not written."
            )
    with atomic_path(out) as tmp:
        tmp.write_bytes(data)
    return ExportReport(out, len(data), diff, num_windows if verify else 0, spec)
