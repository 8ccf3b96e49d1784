"""ONNX export of any image model, with an onnxruntime parity check, and its runtime backend.

The exported graph is :class:`~handpose.inference.image_model.ImageModelGraph`: inputs
``image`` (B, 3, S, S) float32 (ImageNet-normalised crops) and ``K`` (B, 3, 3) float32 (the
crops' intrinsics), dynamic batch; outputs ``joints3d``, ``joints2d`` and, when the model has
them, ``vertices`` and ``mano_*`` with a hand axis (names and shapes in
:mod:`handpose.inference.image_model`). Video models export their window graph: ``image``
(B, T, 3, S, S) and ``K`` (B, T, 3, 3) with T fixed to the model's window. The model's
:class:`~handpose.inference.image_model.ImageModelSpec` (method, stage, input size, hands,
window, sides, normalisation, output names, training pad, config) is stored as JSON under the
metadata key ``handpose``, so :class:`OnnxImageBackend` (and
:class:`~handpose.inference.image.ImagePoseEstimator`) runs the file without the method's
torch code.

**Parity.** Before anything is written, torch and onnxruntime run the same random crops at
batch 1 and batch 3; every output value must agree to ``|onnx − torch| ≤ tol·(1 + |torch|)``
with ``tol`` = 1e-4 (numpy's ``allclose`` with ``atol = rtol = tol``: absolute in each output's
unit — metres for 3D, pixels for 2D, radians for axis-angles — for values up to 1, relative
above, e.g. 0.006 px at a crop's far edge of 64 px), otherwise nothing is written. The report
gives the largest absolute difference per output.

*Ill-conditioned values.* Float32 rounding differs between torch and onnxruntime (convolution
algorithms, fused operators, summation order), and a value that amplifies rounding cannot agree
to 1e-4 in any two float32 runtimes. The case that occurs: a camera-frame depth lifted from 2D
joints and one bone length (:func:`~handpose.geometry.camera.root_depth_from_bone`: EHPE, PGTE,
the baseline) is ``≈ L·f / (bone length in pixels)``, so when an untrained model (or a model on
the random parity crops) puts the wrist and the middle knuckle 0.001 px apart, its depth
(kilometres) changes by per cents with the rounding. Each value therefore also gets the
allowance ``10·R``, with ``R`` the largest ``|torch float32 − torch float64|`` of that output
over the sample (the crop, or the frame of a window: a lifted depth moves the whole hand), the
model's own float32 rounding error: ``|onnx − torch| ≤ tol·(1 + |torch|) + 10·R``.
Well-conditioned values (2D joints, meshes and MANO parameters of models that do not lift depth,
everything of a model whose hands have a real size in the crop) have ``R`` ~ 1e-7, so for them
the check is the plain 1e-4 one; a graph that computes something else (other weights, a wrong
operator) is caught as before.
"""

from __future__ import annotations

import copy
import io
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from handpose.errors import HandposeError
from handpose.inference.image_model import ImageModelGraph, ImageModelSpec

__all__ = [
    "DEFAULT_OPSET",
    "PARITY_TOLERANCE",
    "METADATA_KEY",
    "ImageExportReport",
    "image_model_to_onnx",
    "image_onnx_parity",
    "export_image_onnx",
    "read_image_onnx_spec",
    "OnnxImageBackend",
]

DEFAULT_OPSET = 17
PARITY_TOLERANCE = 1e-4
METADATA_KEY = "handpose"
CONDITIONING_FACTOR = 10.0  # a value may differ by this many times its float32 rounding error


def _example(spec: ImageModelSpec, batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crops and plausible crop intrinsics (f ≈ 1–2 S, centre near the middle)."""
    g = torch.Generator().manual_seed(seed)
    S = spec.input_size
    lead = (batch,) if spec.window == 1 else (batch, spec.window)
    x = torch.randn(*lead, 3, S, S, generator=g)
    f = S * (1.0 + torch.rand(lead, generator=g))
    c = (S - 1) / 2 + 0.05 * S * (torch.rand((*lead, 2), generator=g) - 0.5)
    K = torch.zeros(*lead, 3, 3)
    K[..., 0, 0], K[..., 1, 1], K[..., 2, 2] = f, f, 1.0
    K[..., 0, 2], K[..., 1, 2] = c[..., 0], c[..., 1]
    return x, K


def image_model_to_onnx(
    model: torch.nn.Module,
    spec: ImageModelSpec,
    *,
    opset: int = DEFAULT_OPSET,
    check: bool = False,
    tolerance: float = PARITY_TOLERANCE,
) -> bytes:
    """Serialise an image model to ONNX bytes with its spec in the metadata.

    Args:
        model: the loaded model (exported in float32, eval mode).
        spec: its :func:`~handpose.inference.image_model.model_spec`.
        check: run :func:`image_onnx_parity` and raise if above ``tolerance``.
    """
    import onnx

    graph = ImageModelGraph(model.float().eval(), spec.outputs).eval()
    # traced at batch 2: a batch-1 fast path somewhere in a model (e.g. the hand model layer's
    # skinning) would otherwise be baked into the graph; the parity check runs batches 1 and 3
    x, K = _example(spec, 2, 0)
    lead = {0: "batch"}
    buf = io.BytesIO()
    level = logging.getLogger("torch.onnx").level
    with warnings.catch_warnings(), torch.no_grad():
        # TracerWarnings about Python-side shape arithmetic: the crop side and window are fixed.
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        try:
            torch.onnx.export(
                graph,
                (x, K),
                buf,
                dynamo=False,
                input_names=["image", "K"],
                output_names=list(spec.outputs),
                dynamic_axes={n: lead for n in ("image", "K", *spec.outputs)},
                opset_version=int(opset),
                do_constant_folding=True,
            )
        except HandposeError:
            raise
        except Exception as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise HandposeError(
                f"the {spec.method} model cannot be exported to ONNX (opset {opset}): "
                f"{type(err).__name__}: {first}"
            ) from None
        finally:
            logging.getLogger("torch.onnx").setLevel(level)
    proto = onnx.load_from_string(buf.getvalue())
    entry = proto.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = spec.to_json()
    proto.producer_name = "handpose"
    data = proto.SerializeToString()
    if check:
        diffs = image_onnx_parity(model, spec, data)
        if not _within(diffs, tolerance):
            raise HandposeError(_parity_message(diffs, tolerance, "the export was refused"))
    return data


def _within(diffs: dict[str, tuple[float, float]], tolerance: float) -> bool:
    return all(rel <= tolerance for _, rel in diffs.values())


def _parity_message(diffs: dict[str, tuple[float, float]], tolerance: float, what: str) -> str:
    name = max(diffs, key=lambda k: diffs[k][1])
    return (
        f"onnxruntime differs from torch by {diffs[name][0]:.3g} in {name} (above the "
        f"tolerance {tolerance:g}·(1 + |value|)); {what}."
    )


def image_onnx_parity(
    model: torch.nn.Module, spec: ImageModelSpec, data: bytes, *, seed: int = 1
) -> dict[str, tuple[float, float]]:
    """Per output over random crops at batch 1 and 3: the largest |torch − onnxruntime| and
    the largest ``(|torch − onnxruntime| − 10·R)₊ / (1 + |torch|)``, what the tolerance bounds
    (``R``: torch's own float32 rounding error of the output in the sample, measured against a
    float64 copy of the model: the module docstring's allowance for ill-conditioned values,
    ~1e-7 for well-conditioned ones)."""
    from handpose.inference.backends import onnx_session

    session = onnx_session(data)
    graph = ImageModelGraph(model.float().eval(), spec.outputs).eval()
    graph64 = ImageModelGraph(copy.deepcopy(model).double().eval(), spec.outputs).eval()
    diffs = dict.fromkeys(spec.outputs, (0.0, 0.0))
    for batch, s in ((1, seed), (3, seed + 1)):
        x, K = _example(spec, batch, s)
        with torch.inference_mode():
            ref = graph(x, K)
            res64 = graph64.standard(x.double(), K.double())
        try:
            got = session.run(list(spec.outputs), {"image": x.numpy(), "K": K.numpy()})
        except Exception as err:  # onnxruntime's own exception types
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise HandposeError(
                f"onnxruntime cannot run the exported {spec.method} graph at batch {batch} "
                f"(traced at batch 2; a batch size baked into the graph?): {first}"
            ) from None
        for name, a, b in zip(spec.outputs, ref, got):
            a = a.numpy().astype(np.float64)
            d = np.abs(a - b.astype(np.float64))
            if not np.isfinite(d).all():
                d = np.full_like(d, np.inf)
            # torch's own float32 rounding error, per sample (a lifted depth moves the whole hand)
            rounding = np.abs(a - res64[name].numpy())
            rounding = np.where(np.isfinite(rounding), rounding, 0.0)
            lead = 1 if spec.window == 1 else 2
            rounding = rounding.reshape(*rounding.shape[:lead], -1).max(-1)
            rounding = rounding.reshape(rounding.shape + (1,) * (d.ndim - lead))
            excess = np.clip(d - CONDITIONING_FACTOR * rounding, 0.0, None)
            # a non-finite output on either side (even the same inf on both) cannot be compared:
            # count it as an infinite difference, never as NaN, which max() would drop
            rel = excess / (1 + np.abs(a))
            rel = np.where(np.isfinite(rel), rel, np.inf)
            old = diffs[name]
            diffs[name] = (
                max(old[0], float(d.max())),
                max(old[1], float(rel.max())),
            )
    return diffs


@dataclass
class ImageExportReport:
    """What :func:`export_image_onnx` did."""

    path: Path
    size_bytes: int
    spec: ImageModelSpec
    max_diff: dict[str, tuple[float, float]] | None
    tolerance: float

    def summary(self) -> str:
        s = self.spec
        if self.max_diff is None:
            parity = "parity not checked"
        else:
            parts = ", ".join(f"{k} {v[0]:.1e}" for k, v in self.max_diff.items())
            parity = (
                f"onnxruntime parity within {self.tolerance:g}·(1 + |value|): max "
                f"differences {parts}"
            )
        return (
            f"wrote {self.path} ({self.size_bytes / 1e6:.2f} MB; {s.method} {s.stage}, "
            f"{s.output_kind}, {s.input_size} px, outputs {', '.join(s.outputs)}); {parity}"
        )


def export_image_onnx(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    *,
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
    tolerance: float = PARITY_TOLERANCE,
) -> ImageExportReport:
    """Export any image checkpoint to ``out`` (atomically), refusing on a parity failure.

    Args:
        checkpoint: a harness checkpoint of an image method.
        out: destination ``.onnx`` (not touched on any error).
        opset: ONNX opset.
        verify: check onnxruntime against torch first (strongly recommended).
        tolerance: the largest accepted difference of any output, in its unit.
    """
    from handpose.inference.image_model import load_image_model
    from handpose.utils.io import atomic_write_bytes

    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise HandposeError(f"the ONNX output must end in .onnx, got '{out.name}'.")
    if out.is_dir():
        raise HandposeError(f"the ONNX output '{out}' is a folder.")
    if not (np.isfinite(tolerance) and tolerance > 0):
        raise HandposeError(f"the parity tolerance must be a positive number, got {tolerance}.")
    model, spec, _ = load_image_model(checkpoint)
    data = image_model_to_onnx(model, spec, opset=opset)
    diffs = None
    if verify:
        diffs = image_onnx_parity(model, spec, data)
        if not _within(diffs, tolerance):
            raise HandposeError(_parity_message(diffs, tolerance, f"'{out}' was not written"))
    atomic_write_bytes(out, data)
    return ImageExportReport(out, len(data), spec, diffs, tolerance)


def read_image_onnx_spec(model: bytes | str | os.PathLike) -> ImageModelSpec:
    """The :class:`ImageModelSpec` of an exported image model (HandposeError if absent)."""
    import onnx

    source = "model bytes" if isinstance(model, bytes) else str(model)
    if not isinstance(model, bytes):
        path = Path(model)
        if path.is_dir():
            raise HandposeError(f"'{source}' is a folder, not an ONNX file.")
        if not path.is_file():
            raise HandposeError(f"ONNX file '{source}' does not exist.")
    try:
        proto = (
            onnx.load_from_string(model)
            if isinstance(model, bytes)
            else onnx.load(str(model), load_external_data=False)
        )
    except Exception as err:  # onnx raises DecodeError and friends
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise HandposeError(f"'{source}' is not a readable ONNX model ({first}).") from None
    meta = {p.key: p.value for p in proto.metadata_props}
    if METADATA_KEY not in meta:
        raise HandposeError(
            f"'{source}' has no handpose metadata (key '{METADATA_KEY}'); export image "
            "checkpoints with `handpose export onnx`."
        )
    return ImageModelSpec.from_json(meta[METADATA_KEY], source)


class OnnxImageBackend:
    """onnxruntime behind the image graph: ``(images, K) → dict`` like the torch backend.

    Video-window exports (``spec.window > 1``) also run single crops: a crop is fed as a window
    of T copies and frame 0 is read, which with a causal temporal model is the crop alone.
    """

    name = "onnxruntime"

    def __init__(self, data: bytes | str, spec: ImageModelSpec, threads: int | None = None):
        from handpose.inference.backends import onnx_session

        self.session = onnx_session(data if isinstance(data, bytes) else str(data), threads)
        self.spec = spec
        names = {i.name for i in self.session.get_inputs()}
        outs = {o.name for o in self.session.get_outputs()}
        if names != {"image", "K"} or not set(spec.outputs) <= outs:
            raise HandposeError(
                "the ONNX graph's inputs/outputs do not match its handpose metadata "
                f"(inputs {sorted(names)}, outputs {sorted(outs)})."
            )

    @classmethod
    def load(cls, path: str | os.PathLike, threads: int | None = None) -> OnnxImageBackend:
        spec = read_image_onnx_spec(path)
        return cls(str(path), spec, threads)

    def __call__(self, images: np.ndarray, K: np.ndarray) -> dict[str, np.ndarray]:
        if self.spec.window > 1:
            T = self.spec.window
            out = self.windows(
                np.repeat(images[:, None], T, axis=1), np.repeat(K[:, None], T, axis=1)
            )
            return {k: v[:, 0] for k, v in out.items()}
        got = self.session.run(
            list(self.spec.outputs),
            {"image": np.ascontiguousarray(images, np.float32), "K": K.astype(np.float32)},
        )
        return dict(zip(self.spec.outputs, got))

    def windows(self, images: np.ndarray, K: np.ndarray) -> dict[str, np.ndarray]:
        """Video exports: windows (B, T, 3, S, S), (B, T, 3, 3) → (B, T, H, ...) outputs."""
        got = self.session.run(
            list(self.spec.outputs),
            {"image": np.ascontiguousarray(images, np.float32), "K": K.astype(np.float32)},
        )
        return dict(zip(self.spec.outputs, got))
