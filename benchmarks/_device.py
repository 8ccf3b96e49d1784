"""Device and precision options shared by the model-speed benchmarks (``--device``, ``--dtype``).

A CUDA kernel launch returns before the kernel has run, so a wall-clock timing around a call
only measures the GPU's work if the device is synchronised after the call (and was idle before
it, which the previous timed call's synchronisation ensures). :func:`synced` wraps a callable
so that it synchronises after itself; every timing loop in ``benchmarks/`` times such wrapped
callables. ``--dtype bfloat16`` runs the torch models under ``torch.autocast`` (weights stay
float32, matmuls and convolutions run in bfloat16); onnxruntime always runs the float32 graph.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def add_device_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", default="cpu", help="torch device: cpu or cuda (cuda:N); default cpu"
    )
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=sorted(DTYPES),
        help="torch compute precision (autocast for anything but float32); default float32",
    )


def resolve_device(parser: argparse.ArgumentParser, args: argparse.Namespace) -> torch.device:
    """The device named by ``--device``; a parser error (exit 2) when it is not usable here."""
    try:
        device = torch.device(args.device)
    except RuntimeError:
        parser.error(f"--device {args.device!r} is not a torch device (use cpu or cuda)")
    if device.type not in ("cpu", "cuda"):
        parser.error(f"--device {args.device!r}: only cpu and cuda are supported")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: this torch build sees no CUDA device")
    if device.type == "cpu" and args.dtype == "float16":
        parser.error("--dtype float16 needs --device cuda (CPU autocast supports bfloat16)")
    return device


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def synced(fn, device: torch.device):
    """``fn`` followed by a device synchronisation, so that wall time covers the device's work."""
    if device.type != "cuda":
        return fn

    def call(*a, **k):
        out = fn(*a, **k)
        torch.cuda.synchronize(device)
        return out

    return call


def autocast(device: torch.device, dtype: str):
    """``torch.autocast`` to ``dtype`` on ``device``, or nothing for float32."""
    if dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[dtype])


def torch_call(fn, device: torch.device, dtype: str, grad_mode=torch.inference_mode):
    """A zero-argument torch forward: ``grad_mode`` (inference mode by default; ``torch.no_grad``
    for models that update buffers in place), autocast and synchronisation included."""

    def call():
        with grad_mode(), autocast(device, dtype):
            return fn()

    return synced(call, device)


def ort_providers(device: torch.device) -> list[str] | None:
    """onnxruntime providers for ``device``; None where onnxruntime cannot run on it (a CUDA
    device without the onnxruntime-gpu build): the caller then skips the onnxruntime rows."""
    if device.type == "cpu":
        return ["CPUExecutionProvider"]
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return None
    return [("CUDAExecutionProvider", {"device_id": device.index or 0}), "CPUExecutionProvider"]


def ort_session(data: bytes, threads: int, providers: list):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(data, opts, providers=providers)


def matmul_call(device: torch.device, dtype: str = "float32", n: int = 2048):
    """A synchronised ``n``² matmul on ``device`` in ``dtype`` and its FLOPs (2n³): the peak the
    models' FLOP/s are compared with (4096² on a GPU, where 2048² is too short to fill it)."""
    if device.type == "cuda":
        n = max(n, 4096)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=DTYPES[dtype])
    b = torch.randn(n, n, generator=g).to(device=device, dtype=DTYPES[dtype])
    return synced(lambda: a @ b, device), 2 * n**3


def describe(device: torch.device, dtype: str) -> dict:
    """What the JSON records about where and how the models ran."""
    out = {"device": str(device), "dtype": dtype, "load_average": list(os.getloadavg())}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
        out["cuda"] = torch.version.cuda
    else:
        from handpose.utils.machine import cpu_name

        out["cpu"] = cpu_name()
    out["platform"] = platform.platform()
    return out


def where(device: torch.device, dtype: str) -> str:
    """One phrase for the reports: 'CPU, float32' or 'NVIDIA H100 (CUDA 12.4), bfloat16 autocast'."""
    if device.type == "cuda":
        name = f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    else:
        from handpose.utils.machine import cpu_name

        name = f"CPU ({cpu_name()})"
    prec = "float32" if dtype == "float32" else f"{dtype} autocast (onnxruntime float32)"
    return f"{name}, {prec}"
