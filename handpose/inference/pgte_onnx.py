"""Export PGTE to ONNX and check it against torch with onnxruntime.

The exported graph is the window forward of :class:`~handpose.models.pgte.PGTE`: inputs
``images`` (B, T, 3, S, S) float32 ImageNet-normalised crops, ``K`` (B, T, 3, 3) the crops'
intrinsics and ``root_depth`` (B, T) the wrist depths in metres; outputs ``vertices``
(B, T, V, 3) and ``joints3d`` (B, T, 21, 3), camera frame, metres. The batch axis is dynamic;
T is the model's window (the time embedding has T slots). Frame t of a window uses frames ≤ t
(causal), so the last output of the window of the newest T frames is the streaming prediction.
The root depth is an input here: what this graph adds over the generic one for a tracked or
known wrist depth. ``handpose export onnx`` writes the generic image graph instead
(:mod:`handpose.inference.image_onnx`: crops and K in, the root depth recovered in-graph from
the bone length with :func:`handpose.geometry.camera.root_depth_from_bone`), which
``handpose infer image`` / ``infer video`` run from the file alone.

The legacy TorchScript-based exporter is used (as for the MGDHand student). The model's
configuration is stored as JSON in the ONNX metadata (key ``handpose``). Parity: the largest
vertex difference between torch and onnxruntime on random windows; the export fails above
the tolerance (0.01 mm).
"""

from __future__ import annotations

import io
import json
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from handpose.errors import HandposeError
from handpose.inference.backends import onnx_session
from handpose.utils.io import atomic_path

__all__ = [
    "PGTEWindowGraph",
    "pgte_to_onnx",
    "pgte_onnx_parity_mm",
    "export_pgte_onnx",
    "PGTEExportReport",
]

METADATA_KEY = "handpose"
TOLERANCE_MM = 0.01


class PGTEWindowGraph(nn.Module):
    """The exported computation: (images, K, root_depth) → (vertices, joints3d)."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, images, K, root_depth):
        out = self.model(images, K, root_depth)
        return out.vertices, out.joints3d


def _inputs(model, batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    T, S = model.window, model.config.image_size
    images = torch.randn(batch, T, 3, S, S, generator=g)
    f = S * (1.5 + torch.rand(batch, T, generator=g))
    K = torch.zeros(batch, T, 3, 3)
    K[..., 0, 0], K[..., 1, 1] = f, f
    K[..., 0, 2] = K[..., 1, 2] = (S - 1) / 2
    K[..., 2, 2] = 1.0
    root = 0.3 + 0.4 * torch.rand(batch, T, generator=g)
    return images, K, root


def pgte_to_onnx(model, config: dict | None = None, *, opset: int = 17) -> bytes:
    """Serialise a PGTE model to ONNX bytes (float32, eval mode, dynamic batch)."""
    import onnx

    module = PGTEWindowGraph(model).float().eval()
    dummy = _inputs(model, 1, 0)
    names_in, names_out = ["images", "K", "root_depth"], ["vertices", "joints3d"]
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings: the window and sizes are fixed
        torch.onnx.export(
            module, dummy, buf, dynamo=False, input_names=names_in, output_names=names_out,
            dynamic_axes={n: {0: "batch"} for n in names_in + names_out},
            opset_version=opset, do_constant_folding=True,
        )  # fmt: skip
    proto = onnx.load_from_string(buf.getvalue())
    entry = proto.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(
        {
            "method": "pgte",
            "window": model.window,
            "image_size": model.config.image_size,
            "num_vertices": model.num_vertices,
            "config": config or asdict(model.config),
        }  # fmt: skip
    )
    proto.producer_name = "handpose"
    return proto.SerializeToString()


def pgte_onnx_parity_mm(model, onnx_model: bytes, windows: int = 2, seed: int = 1) -> float:
    """Largest |torch − onnxruntime| over vertices and joints of random windows, in mm."""
    sess = onnx_session(onnx_model)
    images, K, root = _inputs(model, windows, seed)
    with torch.no_grad():
        v, j = PGTEWindowGraph(model).float().eval()(images, K, root)
    ov, oj = sess.run(None, {"images": images.numpy(), "K": K.numpy(), "root_depth": root.numpy()})
    return 1000.0 * float(max(np.abs(ov - v.numpy()).max(), np.abs(oj - j.numpy()).max()))


@dataclass
class PGTEExportReport:
    path: str
    window: int
    image_size: int
    num_vertices: int
    size_mb: float
    parity_mm: float | None
    tolerance_mm: float

    def summary(self) -> str:
        parity = "not checked" if self.parity_mm is None else f"{self.parity_mm:.2e} mm"
        return (
            f"wrote {self.path} ({self.size_mb:.1f} MB): PGTE window {self.window}, "
            f"{self.image_size} px crops, {self.num_vertices} vertices; onnxruntime vs torch "
            f"max difference {parity} (tolerance {self.tolerance_mm} mm)"
        )


def export_pgte_onnx(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    *,
    opset: int = 17,
    verify: bool = True,
    windows: int = 2,
    tolerance_mm: float = TOLERANCE_MM,
) -> PGTEExportReport:
    """Export a ``handpose train pgte`` checkpoint (PGTE variant) to ONNX, atomically; the
    file is written only if onnxruntime matches torch within ``tolerance_mm``."""
    from handpose.training.harness import load_model

    model, meta = load_model(checkpoint, method="pgte")
    if meta["config"].get("variant") != "pgte":
        raise HandposeError(
            f"'{checkpoint}' holds the VIBE-style baseline; only PGTE checkpoints are exported."
        )
    data = pgte_to_onnx(model.float(), meta["config"], opset=opset)
    parity = pgte_onnx_parity_mm(model.float(), data, windows) if verify else None
    if parity is not None and not parity <= tolerance_mm:
        raise HandposeError(
            f"onnxruntime differs from torch by {parity:.3g} mm (tolerance {tolerance_mm} mm); "
            "nothing was written."
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        Path(tmp).write_bytes(data)
    return PGTEExportReport(
        str(out), model.window, model.config.image_size, model.num_vertices,
        len(data) / 1e6, parity, tolerance_mm,
    )  # fmt: skip
