"""Any registered image model behind one interface: what it needs, what it returns.

Image inference (:mod:`handpose.inference.image`) and the image ONNX export
(:mod:`handpose.inference.image_onnx`) work for every method that registers with the training
harness, through :func:`handpose.training.harness.load_model`, with no method-specific code.
:class:`ImageModelGraph` wraps a loaded model into one graph with fixed inputs and outputs;
:class:`ImageModelSpec` says what the graph needs and returns (stored in ONNX files, so that
an exported model runs without the method's torch code).

**Graph.** Inputs: ``image`` (B, 3, S, S) float32, ImageNet-normalised crops (the design
contract's model input), and ``K`` (B, 3, 3) the crops' intrinsics. Outputs, always with a hand
axis H (1 for single-hand models, 2 for two-hand models with slot 0 = right, 1 = left as in
the sample schema): ``joints3d`` (B, H, 21, 3) metres in the crop's camera frame, ``joints2d``
(B, H, 21, 2) crop pixels, and when the model has them ``vertices`` (B, H, V, 3) and
``mano_global_orient``, ``mano_hand_pose``, ``mano_betas``, ``mano_transl`` (B, H, 3 | 45 |
10 | 3) (axis-angle, full articulation, camera frame). Video models (a temporal window) take
(B, T, 3, S, S) and (B, T, 3, 3) and return (B, T, H, ...).

**What a model provides** (duck-typed; the first that applies is used):

- the input side S: ``model.input_size``, ``model.image_size``, ``model.config.image_size`` or
  the checkpoint config's ``data.size``;
- its forward: ``model(image, K)`` when ``forward`` has a parameter ``K``, else
  ``model(image)``; the output is a dataclass (or mapping) with fields named like the schema;
- camera-frame joints: the output's ``joints3d``; else ``model.joints3d(output, K)``; else
  2.5D fields ``uv`` (pixels) and ``z_rel`` (wrist-relative depth) lifted with the wrist depth
  at which the wrist → middle-MCP bone has ``model.config.bone_length`` metres
  (:func:`~handpose.geometry.camera.root_depth_from_bone`); else a weak-perspective crop camera
  ``camera`` (s, t_x, t_y) with model-frame ``joints`` (and ``vertices``), placed with
  :func:`~handpose.geometry.camera.cam_crop_to_full` (the crop is the box: centre
  ((S − 1)/2, (S − 1)/2), side S, intrinsics K);
- 2D joints: the output's ``joints2d`` (or ``uv``); else the projection of ``joints3d``;
- optional declarations: ``model.output_kind`` ("one_hand" | "two_hands" | "video"; otherwise
  a model with ``window > 1`` is a video model and the hand count comes from the output's
  shape), ``model.input_sides`` ("any", the default: the model sees either side in the crop;
  "right": a single-hand model trained on right hands only, whose left hands inference flips),
  ``model.stream()`` (a live sliding-window API for video models: an object with
  ``step(image, K)`` and ``reset()`` that encodes only the new frame; PGTE and its VIBE-style
  baseline return :class:`~handpose.models.pgte.stream.WindowStream`; without it video
  inference runs the window forward on the last T crops).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError

__all__ = [
    "IMAGE_FORMAT",
    "IMAGE_FORMAT_VERSION",
    "MANO_KEYS",
    "OUTPUT_KINDS",
    "ImageModelSpec",
    "ImageModelGraph",
    "model_spec",
    "load_image_model",
]

IMAGE_FORMAT = "handpose-image-model"
IMAGE_FORMAT_VERSION = 1
OUTPUT_KINDS = ("one_hand", "two_hands", "video")
MANO_KEYS = ("mano_global_orient", "mano_hand_pose", "mano_betas", "mano_transl")
_DEFAULT_BONE = 0.0898  # wrist → middle MCP of the open hand model's mean shape, metres
IMAGENET_NORMALIZATION = {
    "range": [0.0, 1.0],
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
}


@dataclass(frozen=True)
class ImageModelSpec:
    """What an image model graph needs and returns (also the ONNX metadata).

    Attributes:
        method, stage: the harness method and stage of the checkpoint.
        input_size: S, the square crop side in pixels.
        hands: H, hands per crop (1 or 2; 2 = slots right, left).
        window: frames per temporal window (1 for image models).
        input_sides: "any" or "right" (see the module docstring).
        outputs: output names in graph order.
        num_vertices: V, or 0 without a mesh.
        pad: box enlargement the model was trained with (the crop is a square of side
            ``pad · max(box w, box h)`` about the box centre).
        normalization: the image normalisation (``range``, ``mean``, ``std``).
        config: the checkpoint's resolved config (for reference).
    """

    method: str
    stage: str
    input_size: int
    hands: int
    window: int = 1
    input_sides: str = "any"
    outputs: tuple[str, ...] = ("joints3d", "joints2d")
    num_vertices: int = 0
    pad: float = 1.3
    normalization: dict = field(default_factory=lambda: dict(IMAGENET_NORMALIZATION))
    config: dict = field(default_factory=dict)

    @property
    def output_kind(self) -> str:
        if self.window > 1:
            return "video"
        return "two_hands" if self.hands == 2 else "one_hand"

    @property
    def has_mano(self) -> bool:
        return "mano_hand_pose" in self.outputs

    def to_json(self) -> str:
        d = asdict(self)
        d["outputs"] = list(self.outputs)
        return json.dumps(
            {"format": IMAGE_FORMAT, "format_version": IMAGE_FORMAT_VERSION, **d},
            default=str,
        )

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> ImageModelSpec:
        try:
            d = json.loads(text)
        except ValueError:
            raise HandposeError(f"'{source}' has unreadable handpose metadata.") from None
        if not isinstance(d, dict) or d.get("format") != IMAGE_FORMAT:
            what = d.get("format") if isinstance(d, dict) else None
            raise HandposeError(
                f"'{source}' is not a handpose image model (its metadata format is {what!r}, "
                f"not {IMAGE_FORMAT!r}); export image checkpoints with `handpose export onnx`."
            )
        if int(d.get("format_version", 0)) > IMAGE_FORMAT_VERSION:
            raise HandposeError(
                f"'{source}' was written by a newer handpose (image model format version "
                f"{d['format_version']}); upgrade handpose to read it."
            )
        names = {f.name for f in fields(cls)}
        try:
            kw = {k: v for k, v in d.items() if k in names}
            kw["outputs"] = tuple(kw.get("outputs", ()))
            spec = cls(**kw)
        except TypeError as err:
            raise HandposeError(f"'{source}' has incomplete image model metadata: {err}") from None
        _check_spec(spec, source)
        return spec


def _check_spec(spec: ImageModelSpec, source: str) -> None:
    ok = (
        isinstance(spec.input_size, int)
        and spec.input_size >= 8
        and spec.hands in (1, 2)
        and isinstance(spec.window, int)
        and spec.window >= 1
        and spec.input_sides in ("any", "right")
        and {"joints3d", "joints2d"} <= set(spec.outputs)
    )
    if not ok:
        raise HandposeError(f"'{source}' has inconsistent image model metadata.")


# ---------------------------------------------------------------------------------- discovery


def _field(out: Any, name: str):
    if isinstance(out, Mapping):
        return out.get(name)
    return getattr(out, name, None)


def _takes(model: nn.Module, name: str) -> bool:
    try:
        return name in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


def _input_size(model: nn.Module, meta: Mapping[str, Any]) -> int | None:
    for value in (
        getattr(model, "input_size", None),
        getattr(model, "image_size", None),
        getattr(getattr(model, "config", None), "image_size", None),
        ((meta.get("config") or {}).get("data") or {}).get("size"),
    ):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 8:
            return value
    return None


def _pad(meta: Mapping[str, Any]) -> float:
    pad = ((meta.get("config") or {}).get("data") or {}).get("pad")
    return float(pad) if isinstance(pad, int | float) and pad > 0 else 1.3


class ImageModelGraph(nn.Module):
    """``(image, K) → (joints3d, joints2d[, vertices][, mano_*])`` for any image model (module
    docstring). Plain tensor code around the model's forward, so it exports to ONNX.

    Args:
        model: a loaded image model (eval mode).
        outputs: names to return, in order (default: all the model has; see :func:`model_spec`).
    """

    def __init__(self, model: nn.Module, outputs: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.model = model
        self.takes_K = _takes(model, "K")
        self.outputs = tuple(outputs) if outputs is not None else None

    def standard(self, image: Tensor, K: Tensor) -> dict[str, Tensor]:
        """The standard outputs as a dict (every one the model has), hand axis included."""
        lead = image.ndim - 3  # 1: (B,), 2: (B, T)
        out = self.model(image, K) if self.takes_K else self.model(image)
        return self.standardize(out, K, image.shape[-1], lead)

    def standardize(self, out: Any, K: Tensor, size: int, lead: int = 1) -> dict[str, Tensor]:
        """A model output (its forward's, or its streaming API's) → the standard outputs.

        Args:
            out: the model's output dataclass / mapping.
            K: (lead..., 3, 3) crop intrinsics.
            size: S.
            lead: leading dims of the output (1: (B,), 2: (B, T)).
        """
        res: dict[str, Tensor] = {}
        j3 = _field(out, "joints3d")
        verts = _field(out, "vertices")
        if j3 is None and callable(getattr(self.model, "joints3d", None)):
            j3 = self.model.joints3d(out, K)
        uv = _field(out, "joints2d")
        if uv is None:
            uv = _field(out, "uv")
        if j3 is None and uv is not None and _field(out, "z_rel") is not None:
            from handpose.geometry.camera import root_depth_from_bone, uvz_to_xyz

            z_rel = _field(out, "z_rel")
            bone = float(getattr(getattr(self.model, "config", None), "bone_length", _DEFAULT_BONE))
            Kx = K.to(uv.dtype)
            if uv.ndim == Kx.ndim:  # a hand axis: one K for both hands
                Kx = Kx.unsqueeze(-3)
            z_root = root_depth_from_bone(uv, z_rel, Kx, bone, (0, 9))
            j3 = uvz_to_xyz(uv, z_rel, z_root, Kx)
        if j3 is None and _field(out, "camera") is not None and _field(out, "joints") is not None:
            j3, verts = _weak_to_camera(out, K, size, verts)
        if j3 is None:
            raise HandposeError(
                "the model's output has no camera-frame joints (joints3d), no 2.5D joints "
                "(uv, z_rel) and no weak-perspective camera with model-frame joints."
            )
        res["joints3d"] = j3
        if uv is None:
            from handpose.geometry.camera import project

            Kx = K.to(j3.dtype)
            uv = project(j3, Kx.unsqueeze(-3) if j3.ndim == Kx.ndim + 1 else Kx)
        res["joints2d"] = uv
        if verts is not None:
            res["vertices"] = verts
        for key in MANO_KEYS:
            value = _field(out, key)
            if isinstance(value, Tensor):
                res[key] = value
        return {k: _with_hand_axis(k, v, lead) for k, v in res.items()}

    def forward(self, image: Tensor, K: Tensor) -> tuple[Tensor, ...]:
        res = self.standard(image, K)
        names = self.outputs if self.outputs is not None else tuple(res)
        missing = [n for n in names if n not in res]
        if missing:
            raise HandposeError(f"the model did not return {missing}.")
        return tuple(res[n].float() for n in names)


def _with_hand_axis(name: str, value: Tensor, lead: int) -> Tensor:
    """Insert the hand axis (size 1) for single-hand outputs."""
    tail = 2 if name in ("joints3d", "joints2d", "vertices") else 1
    if value.ndim == lead + tail:
        return value.unsqueeze(lead)
    if value.ndim != lead + tail + 1:
        raise HandposeError(f"the model's {name} has an unexpected shape {tuple(value.shape)}.")
    return value


def _weak_to_camera(out, K: Tensor, size: int, verts):
    """Model-frame joints (and vertices) placed with the weak-perspective crop camera."""
    from handpose.geometry.camera import cam_crop_to_full

    cam = _field(out, "camera")
    joints = _field(out, "joints")
    Kx = K.to(cam.dtype)
    while Kx.ndim < cam.ndim + 1:
        Kx = Kx.unsqueeze(-3)
    Kx = Kx.expand(*cam.shape[:-1], 3, 3)
    centre = cam.new_full((*cam.shape[:-1], 2), (size - 1) / 2.0)
    side = cam.new_full(cam.shape[:-1], float(size))
    T = cam_crop_to_full(cam, centre, side, Kx)
    j3 = joints + T[..., None, :]
    model_verts = _field(out, "model_vertices")
    if verts is None and model_verts is not None:
        verts = model_verts + T[..., None, :]
    return j3, verts


def model_spec(
    model: nn.Module, meta: Mapping[str, Any], source: str = "checkpoint"
) -> ImageModelSpec:
    """Inspect a loaded model (one probe forward at batch 1) and describe its graph.

    Raises:
        HandposeError: an IMU model, or a model that does not take image crops.
    """
    method = str(meta.get("method", "?"))
    if method == "mgdhand":
        raise HandposeError(
            f"'{source}' is an MGDHand IMU checkpoint, not an image model; run it with "
            "`handpose infer imu`."
        )
    size = _input_size(model, meta)
    if size is None:
        raise HandposeError(
            f"'{source}' holds method '{method}', which does not declare an image input size; "
            "it is not an image model."
        )
    declared = getattr(model, "output_kind", None)
    if declared is not None and declared not in OUTPUT_KINDS:
        raise HandposeError(f"'{source}': unknown output_kind {declared!r} declared by the model.")
    window = int(getattr(model, "window", 1) or 1)
    if declared in ("one_hand", "two_hands"):
        window = 1
    sides = str(getattr(model, "input_sides", "any"))
    if sides not in ("any", "right"):
        raise HandposeError(f"'{source}': input_sides must be 'any' or 'right', got {sides!r}.")
    graph = ImageModelGraph(model)
    x = torch.zeros(1, 3, size, size)
    K = torch.tensor([[[1.2 * size, 0.0, (size - 1) / 2], [0.0, 1.2 * size, (size - 1) / 2],
                       [0.0, 0.0, 1.0]]])  # fmt: skip
    try:
        with torch.no_grad():
            res = graph.standard(x, K)
    except HandposeError:
        raise
    except Exception as err:
        raise HandposeError(
            f"'{source}' (method '{method}') does not run on image crops of {size}×{size} px: "
            f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from None
    hands = int(res["joints3d"].shape[1])
    if declared == "two_hands" and hands != 2 or declared == "one_hand" and hands != 1:
        raise HandposeError(f"'{source}' declares {declared} but returns {hands} hand(s).")
    verts = res.get("vertices")
    return ImageModelSpec(
        method=method,
        stage=str(meta.get("stage", "?")),
        input_size=size,
        hands=hands,
        window=window,
        input_sides=sides,
        outputs=tuple(res),
        num_vertices=0 if verts is None else int(verts.shape[-2]),
        pad=_pad(meta),
        config=dict(meta.get("config") or {}),
    )


def load_image_model(
    checkpoint, method: str | None = None
) -> tuple[nn.Module, ImageModelSpec, dict]:
    """Load any image checkpoint with the harness and describe it.

    Args:
        checkpoint: a harness checkpoint (``last.ckpt``).
        method: when given, the checkpoint must belong to this method.
    Returns:
        ``(model in eval mode, ImageModelSpec, checkpoint metadata)``.
    """
    from handpose.training.checkpoints import read_checkpoint
    from handpose.training.harness import checkpoint_info, load_model

    meta = checkpoint_info(read_checkpoint(checkpoint), checkpoint)
    if meta["method"] == "mgdhand":
        model_spec(nn.Identity(), meta, str(checkpoint))  # the IMU error, before building it
    if method is not None and meta["method"] != method:
        raise HandposeError(
            f"'{checkpoint}' is a checkpoint of method '{meta['method']}', not of '{method}'."
        )
    model, meta = load_model(checkpoint)
    model = model.float().eval()
    return model, model_spec(model, meta, str(checkpoint)), meta
