"""DIR to ONNX, with an onnxruntime parity check.

The exported graph is :class:`DIRExport`: input ``image`` (B, 3, S, S) float32
(ImageNet-normalised crops, dynamic batch), outputs of the final estimate in each hand's
**model frame** (metres; slot 0 right, 1 left) and the heads:

==============  ===================  =====================================================
output          shape                meaning
==============  ===================  =====================================================
joints          (B, 2, 21, 3)        OpenPose-21 joints, model frame
vertices        (B, 2, V, 3)         meshes, model frame
camera          (B, 2, 3)            weak-perspective crop cameras (s, t_x, t_y)
offset          (B, 3)               right wrist − left wrist, metres
joints2d        (B, 2, 21, 2)        joints in crop pixels
root_rotation   (B, 2, 3, 3)         global rotation
pose_pca        (B, 2, k)            finger pose, PCA coefficients of the hand model
betas           (B, 2, 10)           shape
segmentation    (B, 3, h, w)         logits: background, right, left (with heads)
dense           (B, 3, h, w)         template position ÷ 0.15 m (with heads)
==============  ===================  =====================================================

Camera-frame placement (:func:`handpose.models.dir.mano.to_camera_frame`, it needs the crop's
K) and the axis-angle MANO parameters are computed outside the graph. The model config is
stored as JSON in the file's metadata (key ``handpose``). Parity is the largest joint / vertex
difference between torch and onnxruntime on random images (:func:`onnx_parity`), in mm.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.models.dir.mano import POSITION_UNIT, normalised_to_pixels
from handpose.models.dir.network import DIRNetwork
from handpose.utils.io import atomic_write_bytes

__all__ = [
    "ONNX_OUTPUTS",
    "PARITY_TOLERANCE_MM",
    "DIRExport",
    "DIRExportReport",
    "dir_to_onnx",
    "onnx_parity",
    "export_dir_onnx",
]

ONNX_OUTPUTS = (
    "joints", "vertices", "camera", "offset", "joints2d", "root_rotation", "pose_pca", "betas",
    "segmentation", "dense",
)  # fmt: skip
PARITY_TOLERANCE_MM = 0.01
METADATA_KEY = "handpose"


class DIRExport(nn.Module):
    """The traced graph: image → the final estimate's tensors and the heads (module docstring)."""

    def __init__(self, net: DIRNetwork) -> None:
        super().__init__()
        self.net = net
        # The wrapper itself in eval mode too: torch.onnx.export restores the exported module's
        # mode afterwards, recursively, so a wrapper left in training mode would switch the
        # caller's network to training mode (batch-statistics BatchNorm) after every export.
        self.eval()

    @property
    def output_names(self) -> tuple[str, ...]:
        heads = self.net.segmentation_head is not None
        return ONNX_OUTPUTS if heads else ONNX_OUTPUTS[:-2]

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        estimates, seg, dense = self.net.forward_estimates(image)
        e = estimates[-1]
        S = self.net.config.image_size
        out = (
            e.joints, e.vertices, e.camera, e.offset * POSITION_UNIT,
            normalised_to_pixels(e.joints_uv, S), e.rotmat, e.pca, e.betas,
        )  # fmt: skip
        return out + ((seg, dense) if seg is not None else ())


def dir_to_onnx(net: DIRNetwork, *, opset: int = 17) -> bytes:
    """Export a DIR network (eval mode, CPU, float32) to ONNX bytes (dynamic batch)."""
    net = net.float().cpu().eval()
    wrapper = DIRExport(net)
    S = net.config.image_size
    example = torch.zeros(2, 3, S, S)  # batch 1 would bake a batch size into the hand model
    names = wrapper.output_names
    buf = io.BytesIO()
    # Not under no_grad: traced under no_grad, timm's in-place activations export wrongly
    # (onnxruntime then differs from torch by whole units in the backbone's features).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python-side shape arithmetic
        torch.onnx.export(
            wrapper, (example,), buf, input_names=["image"], output_names=list(names),
            dynamic_axes={"image": {0: "batch"}, **{n: {0: "batch"} for n in names}},
            opset_version=opset, dynamo=False,
        )  # fmt: skip
    import onnx

    model = onnx.load_from_string(buf.getvalue())
    entry = model.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps({"method": "dir", "config": net.config.to_dict(), "outputs": names})
    return model.SerializeToString()


def _session(model: bytes):
    try:
        import onnxruntime as ort
    except ImportError:
        raise HandposeError(
            "the ONNX check needs onnxruntime: pip install 'handpose[onnx]'"
        ) from None
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def onnx_parity(net: DIRNetwork, model: bytes, num_images: int = 4, seed: int = 0) -> float:
    """Largest |torch − onnxruntime| joint or vertex coordinate over random images, in mm."""
    S = net.config.image_size
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(num_images, 3, S, S, generator=g)
    sess = _session(model)
    got = sess.run(["joints", "vertices"], {"image": x.numpy()})
    with torch.no_grad():
        ref = DIRExport(net.float().eval())(x)[:2]
    return max(float(np.abs(a - b.numpy()).max()) * 1000.0 for a, b in zip(got, ref))


@dataclass
class DIRExportReport:
    path: Path
    size_bytes: int
    max_diff_mm: float | None
    num_images: int

    def summary(self) -> str:
        check = (
            "not verified"
            if self.max_diff_mm is None
            else f"onnxruntime parity {self.max_diff_mm:.2e} mm on {self.num_images} images"
        )
        return f"wrote {self.path} ({self.size_bytes / 1e6:.1f} MB), {check}"


def export_dir_onnx(
    net: DIRNetwork,
    out: str | os.PathLike,
    *,
    opset: int = 17,
    verify: bool = True,
    num_images: int = 4,
    tolerance_mm: float = PARITY_TOLERANCE_MM,
) -> DIRExportReport:
    """Export a DIR network to ``out``; with ``verify`` the file is written only if
    onnxruntime agrees with torch within ``tolerance_mm`` on random images (a checkpoint:
    ``handpose.training.harness.load_model`` first, as ``handpose export onnx`` does)."""
    data = dir_to_onnx(net, opset=opset)
    diff = None
    if verify:
        diff = onnx_parity(net, data, num_images)
        if not diff <= tolerance_mm:
            raise HandposeError(
                f"ONNX export disagrees with torch by {diff:.3g} mm (> {tolerance_mm} mm); "
                f"'{out}' was not written."
            )
    out = Path(out)
    atomic_write_bytes(out, data)
    return DIRExportReport(out, len(data), diff, num_images if verify else 0)
