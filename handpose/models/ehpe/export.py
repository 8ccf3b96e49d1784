"""ONNX export of EHPE with an onnxruntime parity check.

The exported graph is :class:`EHPEGraph`: input ``image`` (B, 3, S, S) float32, ImageNet-
normalised, with a dynamic batch axis and the fixed side S of the config; outputs ``uv``
(B, 21, 2) pixels of the input and ``z_rel`` (B, 21) wrist-relative depth in metres. The
camera-frame lift needs the crop's K and is done outside the graph
(:func:`handpose.models.ehpe.lift_to_camera`). ``part="tw"`` exports only the frozen part
(backbone + TW-stage: its 2.5D TW joints ``tw_coords`` (B, J, 3)), which the speed benchmark
uses to measure the PG-stage's share.

The legacy TorchScript exporter (``dynamo=False``) is used, as for the IMU student
(:mod:`handpose.inference.onnx_export`). Parity is the largest |torch − onnxruntime| difference
of ``uv`` in pixels and of ``z_rel`` in millimetres on random images.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.utils.io import atomic_path

__all__ = ["EHPEGraph", "ExportParity", "export_ehpe_onnx", "onnx_parity"]

DEFAULT_OPSET = 17


class EHPEGraph(nn.Module):
    """``image → (uv, z_rel)`` (``part="full"``) or ``image → tw_coords`` (``part="tw"``)."""

    def __init__(self, model: nn.Module, part: str = "full") -> None:
        super().__init__()
        if part not in ("full", "tw"):
            raise HandposeError(f"part must be 'full' or 'tw', got {part!r}.")
        if part == "tw" and model.tw is None:
            raise HandposeError("this EHPE has no TW-stage to export (tw_joints is empty).")
        self.model = model
        self.part = part

    def forward(self, image: Tensor):
        if self.part == "tw":
            return self.model.tw(image).coords
        out = self.model(image)
        return out.uv, out.z_rel

    @property
    def output_names(self) -> list[str]:
        return ["tw_coords"] if self.part == "tw" else ["uv", "z_rel"]


@dataclass
class ExportParity:
    """Largest torch − onnxruntime differences: ``uv_px`` and ``z_mm`` (full graph) or
    ``tw_cells`` (TW graph), over ``samples`` random images."""

    uv_px: float | None
    z_mm: float | None
    tw_cells: float | None
    samples: int


def export_ehpe_onnx(
    model: nn.Module,
    path: str | os.PathLike | None = None,
    *,
    part: str = "full",
    opset: int = DEFAULT_OPSET,
) -> bytes:
    """Export to ``path`` (atomically) and return the ONNX bytes.

    Args:
        model: an :class:`~handpose.models.ehpe.EHPE` (put in eval mode for the export and left
            in eval mode).
        path: the ``.onnx`` file (None: only return the bytes).
        part: "full" or "tw" (:class:`EHPEGraph`).
    """
    model.eval()
    graph = EHPEGraph(model, part).eval()
    size = int(model.input_size)
    example = torch.zeros(1, 3, size, size)
    dynamic = {"image": {0: "batch"}} | {n: {0: "batch"} for n in graph.output_names}
    buf = io.BytesIO()
    level = logging.getLogger("torch.onnx").level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        try:
            torch.onnx.export(
                graph,
                (example,),
                buf,
                input_names=["image"],
                output_names=graph.output_names,
                dynamic_axes=dynamic,
                opset_version=opset,
                dynamo=False,
            )
        finally:
            logging.getLogger("torch.onnx").setLevel(level)
    model.eval()  # the exporter restores the wrapper's mode on the way out
    data = buf.getvalue()
    if path is not None:
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(data)
    return data


def onnx_parity(
    model: nn.Module, onnx_bytes: bytes, *, part: str = "full", seed: int = 0
) -> ExportParity:
    """Run torch and onnxruntime on random images in batches of 1 and 2 (the batch axis is
    dynamic)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    size = int(model.input_size)
    g = torch.Generator().manual_seed(seed)
    model.eval()
    uv_d = z_d = tw_d = 0.0
    n = 0
    for b in (1, 2):
        x = torch.randn(b, 3, size, size, generator=g)
        got = sess.run(None, {"image": x.numpy()})
        with torch.no_grad():
            if part == "tw":
                tw_d = max(tw_d, float(np.abs(got[0] - model.tw(x).coords.numpy()).max()))
            else:
                out = model(x)
                uv_d = max(uv_d, float(np.abs(got[0] - out.uv.numpy()).max()))
                z_d = max(z_d, 1000 * float(np.abs(got[1] - out.z_rel.numpy()).max()))
        n += b
    if part == "tw":
        return ExportParity(None, None, tw_d, n)
    return ExportParity(uv_d, z_d, None, n)
