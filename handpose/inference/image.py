"""Image inference for every image method: :class:`ImagePoseEstimator`.

>>> from handpose.inference.image import ImagePoseEstimator
>>> est = ImagePoseEstimator.load("runs/baseline/main/checkpoints/last.ckpt")  # or a .onnx
>>> pred = est.predict("photo.jpg", box=(410, 220, 530, 350), side="left")  # doctest: +SKIP
>>> pred.hands[0].joints3d   # (21, 3) metres, camera frame of photo.jpg  # doctest: +SKIP

**Input.** An image (a file, a PIL image or an (H, W, 3) uint8 / float array in [0, 1]) and
per hand a box ``(x0, y0, x1, y1)`` in its pixels: the tight box around the hand, as a detector
gives it (pixel centres at integer coordinates). The crop is the square of side
``⌈pad · max(w, h)⌉`` about the box centre (``pad`` = the model's training value, 1.3 by
default), zero-padded where it leaves the image and resized to the model's input side S — the
datasets' crop (:func:`handpose.datasets.image_dataset.square_box`, :func:`crop_to_square`,
:func:`crop_matrix`). Without a box the whole image (padded to a square) is the crop: pass a
hand crop as it is.

**Camera.** Outputs are in the camera frame of the ORIGINAL image: 3D in metres (x right,
y down, z forward, OpenCV), 2D in its pixels. The crop changes only the intrinsics
(``K_crop = A·K``, :func:`crop_matrix`), so 3D points in the crop's camera frame are the same
points in the original camera frame, and 2D joints go back with ``A⁻¹``. Give ``K`` when it is
known. Otherwise ``K`` is assumed: principal point at the image centre and focal length
``f = (L/2) / tan(fov/2)`` with L the image's longer side and ``fov`` = 60° (a phone or webcam;
:func:`default_intrinsics`); the result then says ``K_assumed`` — the hand's shape and its 2D
position do not depend on this, but its absolute distance scales with ``f`` (twice the focal
length ≈ twice the distance). A crop given as it is counts as the whole picture: pass its own
K (or the full image with a box) for metric depth.

**Left hands.** Models declare which hands they were trained on (``input_sides``, see
:mod:`handpose.inference.image_model`): "any" (the baseline, EHPE, PGTE: both sides in training,
no flipping) or "right" (PGTE's VIBE-style baseline, whose head drives the right-hand model
when no side is given). For a right-only model a hand marked ``side="left"`` is mirrored:
the crop is flipped (``u' = S − 1 − u``, ``K' = [[f_x, −s, S − 1 − c_x], [0, f_y, c_y], [0, 0,
1]]``, the convention of :func:`handpose.datasets.augment.geometry_maps`), the model predicts a
right hand, and the prediction is mirrored back: ``x → −x`` for joints, vertices and the MANO
translation, ``u → S − 1 − u`` for crop pixels, axis-angles ``(ω_x, ω_y, ω_z) → (ω_x, −ω_y,
−ω_z)`` for the global and every finger rotation (then valid for the LEFT hand model, the
mirror of the right one: handpose's open model, or MANO with the left ``shapedirs`` fix).
``flip_left`` overrides the model's declaration. Two-hand models (DIR) return both slots
(right, left) for one box around both hands; ``side`` does not apply.

**Meshes.** Models that predict a mesh (DIR, PGTE) return it; for joint-only models (the
baseline, EHPE) ``fit_mesh="open"`` (or "mano") fits the hand model to the predicted joints
(:func:`handpose.handmodel.fitting.fit_to_joints`, ~0.3 s per hand), giving vertices and MANO
parameters; a hand of unknown side is fitted with both the right and the left model and gets
the side whose fit is closer (``side_source = "fit"``).

**Backends.** A checkpoint runs in torch (:func:`handpose.training.harness.load_model`); an
``.onnx`` file written by ``handpose export onnx`` runs in onnxruntime from its metadata alone
(:mod:`handpose.inference.image_onnx`). Both run the same graph
(:class:`~handpose.inference.image_model.ImageModelGraph`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handpose.errors import HandposeError
from handpose.inference.image_model import MANO_KEYS, ImageModelGraph, ImageModelSpec

__all__ = [
    "DEFAULT_FOV_DEG",
    "MIN_IMAGE_SIDE",
    "HandPrediction",
    "ImagePrediction",
    "ImagePoseEstimator",
    "TorchImageBackend",
    "default_intrinsics",
    "as_rgb",
    "check_box",
    "parse_intrinsics",
]

DEFAULT_FOV_DEG = 60.0
MIN_IMAGE_SIDE = 8
SIDES = ("right", "left")


# ---------------------------------------------------------------------------------- camera


def default_intrinsics(width: int, height: int, fov_deg: float = DEFAULT_FOV_DEG) -> np.ndarray:
    """The assumed K of a W × H image: square pixels, principal point at the centre
    ``((W − 1)/2, (H − 1)/2)``, field of view ``fov_deg`` across the LONGER side.

    Example:
        >>> default_intrinsics(640, 480).round(2)[0]  # f = 320 / tan 30°
        array([554.26,   0.  , 319.5 ])
    """
    from handpose.render.camera import intrinsics_from_fov

    if not (isinstance(fov_deg, int | float) and 0.0 < fov_deg < 180.0):
        raise HandposeError(f"the field of view must be in (0, 180) degrees, got {fov_deg!r}.")
    long = max(width, height)
    # the vertical field of view with f = (long / 2) / tan(fov / 2)
    fov_y = 2.0 * math.degrees(math.atan(height / long * math.tan(math.radians(fov_deg) / 2)))
    return intrinsics_from_fov(fov_y, width, height)


def parse_intrinsics(text: str, where: str = "--K") -> np.ndarray:
    """``"fx,fy,cx,cy"`` or 9 numbers (a row-major 3 × 3 matrix) → K (3, 3)."""
    try:
        values = [float(v) for v in str(text).replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise HandposeError(
            f"{where} must be 'fx,fy,cx,cy' or 9 comma-separated numbers, got {text!r}."
        ) from None
    if len(values) == 4:
        fx, fy, cx, cy = values
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    elif len(values) == 9:
        K = np.asarray(values, np.float64).reshape(3, 3)
    else:
        raise HandposeError(
            f"{where} must be 'fx,fy,cx,cy' or 9 comma-separated numbers, got {len(values)}."
        )
    return check_intrinsics(K, where)


def check_intrinsics(K, where: str = "K") -> np.ndarray:
    K = np.asarray(K, np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all():
        raise HandposeError(f"{where} must be a finite 3 × 3 matrix, got shape {K.shape}.")
    if not (K[0, 0] > 0 and K[1, 1] > 0) or not np.allclose(K[2], [0, 0, 1]) or K[1, 0] != 0:
        raise HandposeError(
            f"{where} must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0."
        )
    return K


# ---------------------------------------------------------------------------------- images


def as_rgb(image: Any, where: str = "image") -> np.ndarray:
    """An image as (H, W, 3) uint8: a file path, a PIL image or an array ((H, W) grey, (H, W, 3)
    RGB or (H, W, 4) RGBA; uint8, or float in [0, 1]). Files are turned upright by their EXIF
    orientation. Raises HandposeError naming ``where`` for anything else or an image smaller
    than 8 px."""
    if isinstance(image, str | os.PathLike):
        from handpose.datasets.real_common import read_image

        where = str(image)
        if Path(image).is_dir():
            raise HandposeError(f"'{where}' is a folder, not an image file.")
        arr = read_image(Path(image), exif_orientation=True)
    else:
        try:
            from PIL import Image

            if isinstance(image, Image.Image):
                image = image.convert("RGB")
        except ImportError:  # pragma: no cover - pillow is a core dependency
            pass
        arr = np.asarray(image)
        if arr.dtype == object or arr.dtype.kind not in "uif":
            raise HandposeError(f"{where} must be an image array, got dtype {arr.dtype}.")
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=-1)
        if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
            raise HandposeError(f"{where} must have shape (H, W, 3), got {arr.shape}.")
        arr = arr[..., :3]
        if arr.dtype.kind == "f":
            if arr.size and not np.isfinite(arr).all():
                raise HandposeError(f"{where} has NaN or infinite pixel values.")
            arr = (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        elif arr.dtype != np.uint8:
            if arr.size and (arr.min() < 0 or arr.max() > 255):
                raise HandposeError(f"{where}: integer pixels must be in 0 … 255.")
            arr = arr.astype(np.uint8)
    h, w = arr.shape[:2]
    if min(h, w) < MIN_IMAGE_SIDE:
        raise HandposeError(
            f"'{where}' is {w}x{h} pixels; images must be at least {MIN_IMAGE_SIDE} px on each side."
        )
    return np.ascontiguousarray(arr)


def check_box(box, hw: tuple[int, int], where: str = "image") -> np.ndarray:
    """A box (x0, y0, x1, y1) in pixels that overlaps the image (float64 (4,))."""
    b = np.asarray(box, np.float64).reshape(-1)
    H, W = hw
    if b.shape != (4,) or not np.isfinite(b).all():
        raise HandposeError(f"a box for '{where}' must be 4 finite numbers x0,y0,x1,y1, got {box}.")
    x0, y0, x1, y1 = b
    if not (x1 > x0 and y1 > y0):
        raise HandposeError(
            f"the box {b.tolist()} for '{where}' is empty (it needs x1 > x0 and y1 > y0)."
        )
    # pixel i covers [i − 0.5, i + 0.5]: the image spans [−0.5, W − 0.5] × [−0.5, H − 0.5]
    if x1 <= -0.5 or y1 <= -0.5 or x0 >= W - 0.5 or y0 >= H - 0.5:
        raise HandposeError(f"the box {b.tolist()} lies outside '{where}' ({W}x{H} pixels).")
    return b


# ---------------------------------------------------------------------------------- results


@dataclass
class HandPrediction:
    """One hand in an image (camera frame of the ORIGINAL image).

    Attributes:
        side: "right", "left" or "unknown".
        side_source: "given" (by the caller), "model" (a two-hand model's slot), "fit" (the
            closer of a left and a right mesh fit) or "unknown".
        joints3d: (21, 3) metres, OpenPose-21 order.
        joints2d: (21, 2) pixels of the original image.
        vertices: (V, 3) metres, or None.
        mano: ``global_orient`` (3,), ``hand_pose`` (45,), ``betas`` (10,), ``transl`` (3,)
            (axis-angle, full articulation, the model of ``side``), or None.
        mesh: "model", "fit" or None (where vertices / MANO come from).
        box: (4,) the box the hand was cropped from (original pixels).
        crop: (3,) ``x0, y0, side``: the square crop in original pixels (may leave the image).
        flipped: the crop was mirrored for a right-hand model.
        fit_error_mm: mean joint distance of a fitted mesh to the predicted joints, or None.
    """

    side: str
    side_source: str
    joints3d: np.ndarray
    joints2d: np.ndarray
    vertices: np.ndarray | None
    mano: dict[str, np.ndarray] | None
    mesh: str | None
    box: np.ndarray
    crop: np.ndarray
    flipped: bool = False
    fit_error_mm: float | None = None

    def to_dict(self, vertices: bool = False) -> dict[str, Any]:
        """JSON-ready (lists; metres rounded to µm, pixels to 1/1000 px)."""
        d: dict[str, Any] = {
            "side": self.side,
            "side_source": self.side_source,
            "box": _round(self.box, 3),
            "crop": _round(self.crop, 3),
            "flipped": bool(self.flipped),
            "joints3d": _round(self.joints3d, 6),
            "joints2d": _round(self.joints2d, 3),
            "mesh": self.mesh,
        }
        if self.mano is not None:
            d["mano"] = {k: _round(v, 6) for k, v in self.mano.items()}
        if self.fit_error_mm is not None:
            d["fit_error_mm"] = round(float(self.fit_error_mm), 3)
        if vertices and self.vertices is not None:
            d["vertices"] = _round(self.vertices, 6)
        return d


def _round(a, digits: int):
    return np.round(np.asarray(a, np.float64), digits).tolist()


@dataclass
class ImagePrediction:
    """Every hand of one image.

    Attributes:
        hands: one :class:`HandPrediction` per hand (two per box for two-hand models).
        K: (3, 3) intrinsics of the original image (given or assumed).
        K_assumed: True when K was not given (see the module docstring on depth).
        fov_deg: the assumed field of view (None when K was given).
        image_size: (H, W).
        source: the file name, or "" for arrays.
    """

    hands: list[HandPrediction]
    K: np.ndarray
    K_assumed: bool
    fov_deg: float | None
    image_size: tuple[int, int]
    source: str = ""

    def to_dict(self, vertices: bool = False) -> dict[str, Any]:
        camera = {"K": _round(self.K, 6), "assumed": bool(self.K_assumed)}
        if self.K_assumed:
            camera["fov_deg"] = self.fov_deg
            camera["note"] = (
                f"K assumed from a {self.fov_deg:g} degree field of view across the longer "
                "side; absolute depth (z) scales with this focal length, shape and 2D do not"
            )
        return {
            "file": self.source,
            "image_size": [int(self.image_size[0]), int(self.image_size[1])],
            "camera": camera,
            "frame": "camera frame of this image, metres; 2D in its pixels",
            "hands": [h.to_dict(vertices) for h in self.hands],
        }


# ---------------------------------------------------------------------------------- backends


class TorchImageBackend:
    """The torch model behind an :class:`ImageModelGraph`: crops in, numpy outputs out."""

    name = "torch"

    def __init__(self, model: torch.nn.Module, spec: ImageModelSpec) -> None:
        self.model = model.float().eval()
        self.spec = spec
        self.graph = ImageModelGraph(self.model, spec.outputs).eval()

    @torch.inference_mode()
    def __call__(self, images: np.ndarray, K: np.ndarray) -> dict[str, np.ndarray]:
        out = self.graph(torch.from_numpy(images), torch.from_numpy(K))
        return {n: o.numpy() for n, o in zip(self.spec.outputs, out)}


# ---------------------------------------------------------------------------------- crops


@dataclass
class _Crop:
    """One model input: where it came from and how to map its outputs back."""

    image: int  # index of the image in the call
    box: np.ndarray  # (4,)
    x0: int
    y0: int
    side_px: int
    A: np.ndarray  # (3, 3) original pixels → crop pixels
    K_crop: np.ndarray  # (3, 3) what the model sees (flipped when ``flip``)
    flip: bool
    side: str | None  # the caller's side for this box
    frame: int = 0  # video: the frame
    slot: str = ""  # video: the hand track


def _flip_maps(K: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Af, Qf, K') of a horizontal flip of an S × S crop (datasets.augment's convention)."""
    from handpose.datasets.augment import geometry_maps

    one = torch.ones(1, dtype=torch.float64)
    A, Q, K2 = geometry_maps(
        torch.as_tensor(K, dtype=torch.float64)[None],
        (size, size),
        torch.ones(1, dtype=torch.bool),
        0 * one,
        one,
        torch.zeros(1, 2, dtype=torch.float64),
    )
    return A[0].numpy(), Q[0].numpy(), K2[0].numpy()


def _mirror_mano(mano: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from handpose.datasets.augment import MIRROR_AXIS_ANGLE

    sign = np.asarray(MIRROR_AXIS_ANGLE)
    out = dict(mano)
    for key in ("mano_global_orient", "mano_hand_pose"):
        if key in out:
            v = out[key]
            out[key] = (v.reshape(*v.shape[:-1], -1, 3) * sign).reshape(v.shape)
    if "mano_transl" in out:
        out["mano_transl"] = out["mano_transl"] * np.array([-1.0, 1.0, 1.0])
    return out


# ---------------------------------------------------------------------------------- estimator


class ImagePoseEstimator:
    """3D hands from images with any image model (module docstring).

    Args:
        backend: a callable ``(images (N, 3, S, S) float32, K (N, 3, 3) float32) → dict`` of
            the spec's outputs (:class:`TorchImageBackend`, or the ONNX backend).
        spec: the model's :class:`~handpose.inference.image_model.ImageModelSpec`.
        pad: box enlargement (default: the model's training value).
        fit_mesh: None, or a hand model ("open", "mano" or a file) to fit to the joints of
            models without a mesh.
        flip_left: mirror left hands (default: when the model declares right hands only).
        batch_size: crops per model call.
        min_side: smallest crop side in original pixels.
    """

    def __init__(
        self,
        backend: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]],
        spec: ImageModelSpec,
        *,
        pad: float | None = None,
        fit_mesh: str | None = None,
        flip_left: bool | None = None,
        batch_size: int = 32,
        min_side: int = 16,
    ) -> None:
        self.backend = backend
        self.spec = spec
        self.pad = float(spec.pad if pad is None else pad)
        if not (math.isfinite(self.pad) and self.pad > 0):
            raise HandposeError(f"pad must be a positive number, got {pad!r}.")
        if int(batch_size) < 1:
            raise HandposeError(f"batch_size must be at least 1, got {batch_size}.")
        self.batch_size = int(batch_size)
        self.min_side = int(min_side)
        self.flip_left = spec.input_sides == "right" if flip_left is None else bool(flip_left)
        self.fit_mesh = fit_mesh
        self._fit_models: dict[str, Any] = {}

    # -------------------------------------------------------------- construction
    @classmethod
    def from_checkpoint(
        cls, checkpoint: str | os.PathLike, *, method: str | None = None, threads=None, **kw
    ) -> ImagePoseEstimator:
        """A harness checkpoint in eager torch (``method``: the checkpoint must be of it)."""
        from handpose.inference.image_model import load_image_model

        if threads is not None:
            torch.set_num_threads(int(threads))
        model, spec, _ = load_image_model(checkpoint, method=method)
        return cls(TorchImageBackend(model, spec), spec, **kw)

    @classmethod
    def from_onnx(
        cls, path: str | os.PathLike, *, method: str | None = None, threads=None, **kw
    ) -> ImagePoseEstimator:
        """An ``.onnx`` file written by ``handpose export onnx`` (onnxruntime)."""
        from handpose.inference.image_onnx import OnnxImageBackend

        backend = OnnxImageBackend.load(path, threads=threads)
        if method is not None and backend.spec.method != method:
            raise HandposeError(
                f"'{path}' is an ONNX export of method '{backend.spec.method}', not of '{method}'."
            )
        return cls(backend, backend.spec, **kw)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        *,
        backend: str | None = None,
        method: str | None = None,
        threads=None,
        **kw,
    ) -> ImagePoseEstimator:
        """A checkpoint (torch) or an ``.onnx`` file (onnxruntime); ``backend="onnx"`` on a
        checkpoint exports it in memory first (parity-checked)."""
        path = Path(path)
        if backend not in (None, "torch", "onnx"):
            raise HandposeError(f"backend must be 'torch' or 'onnx', got {backend!r}.")
        if path.suffix.lower() == ".onnx":
            if backend == "torch":
                raise HandposeError(f"'{path}' is an ONNX file; it runs with the onnx backend.")
            return cls.from_onnx(path, method=method, threads=threads, **kw)
        if backend == "onnx":
            from handpose.inference.image_model import load_image_model
            from handpose.inference.image_onnx import OnnxImageBackend, image_model_to_onnx

            model, spec, _ = load_image_model(path, method=method)
            data = image_model_to_onnx(model, spec, check=True)
            return cls(OnnxImageBackend(data, spec, threads=threads), spec, **kw)
        return cls.from_checkpoint(path, method=method, threads=threads, **kw)

    # -------------------------------------------------------------- properties
    @property
    def input_size(self) -> int:
        return self.spec.input_size

    def describe(self) -> str:
        s = self.spec
        kind = {"one_hand": "one hand", "two_hands": "two hands", "video": "video window"}
        name = getattr(self.backend, "name", "torch")
        return (
            f"{s.method} ({s.stage}), {kind[s.output_kind]} per crop, {s.input_size} px input, "
            f"{name}"
        )

    # -------------------------------------------------------------- preprocessing
    def plan_crops(
        self,
        index: int,
        image: np.ndarray,
        boxes,
        K: np.ndarray,
        sides,
        where: str,
    ) -> list[_Crop]:
        """The crops of one image (one per box; the whole image without boxes)."""
        from handpose.datasets.image_dataset import crop_matrix, square_box

        H, W = image.shape[:2]
        box_list = _box_list(boxes, (H, W), where)
        side_list = _side_list(sides, len(box_list), where)
        S = self.input_size
        crops = []
        for b, side in zip(box_list, side_list):
            if b is None:
                x0, y0, side_px = square_box(np.zeros(4), (H, W), 1.0, 1)
                b = np.array([-0.5, -0.5, W - 0.5, H - 0.5])
            else:
                x0, y0, side_px = square_box(b, (H, W), self.pad, self.min_side)
            A = crop_matrix(x0, y0, side_px, S)
            K_crop = A @ K
            flip = self.flip_left and side == "left" and self.spec.hands == 1
            if flip:
                K_crop = _flip_maps(K_crop, S)[2]
            crops.append(_Crop(index, b, x0, y0, side_px, A, K_crop, flip, side))
        return crops

    def crop_pixels(self, image: np.ndarray, c: _Crop) -> np.ndarray:
        """The normalised model input (3, S, S) of one crop (flipped when the crop is)."""
        from handpose.datasets.image_dataset import crop_to_square, normalize_image

        x, _ = crop_to_square(image, c.x0, c.y0, c.side_px, self.input_size)
        if c.flip:
            x = x.flip(-1)
        return normalize_image(x).numpy()

    # -------------------------------------------------------------- prediction
    def predict(
        self,
        image,
        box=None,
        K=None,
        side=None,
        *,
        fov_deg: float = DEFAULT_FOV_DEG,
    ) -> ImagePrediction:
        """Hands in one image.

        Args:
            image: a file path, PIL image or (H, W, 3) array (see :func:`as_rgb`).
            box: None (the whole image is the crop), one box (4,) or several boxes (n, 4) /
                a list, in pixels (x0, y0, x1, y1).
            K: (3, 3) intrinsics of the image, or None (assumed from ``fov_deg``).
            side: None, "left" or "right" for every box, or a list with one per box.
            fov_deg: the assumed field of view across the longer side when K is None.
        Returns:
            :class:`ImagePrediction`.
        """
        return self.predict_batch([image], [box], [K], [side], fov_deg=fov_deg)[0]

    def predict_batch(
        self,
        images: Sequence,
        boxes: Sequence | None = None,
        Ks: Sequence | None = None,
        sides: Sequence | None = None,
        *,
        fov_deg: float = DEFAULT_FOV_DEG,
        progress: bool = False,
        names: Sequence[str] | None = None,
    ) -> list[ImagePrediction]:
        """:meth:`predict` for many images; crops of all of them go through the model in
        batches of ``batch_size``. ``boxes``, ``Ks``, ``sides``: one entry per image (or None
        for all). ``names``: labels for error messages and results (default: file names)."""
        n = len(images)
        boxes = [None] * n if boxes is None else list(boxes)
        Ks = [None] * n if Ks is None else list(Ks)
        sides = [None] * n if sides is None else list(sides)
        if not (len(boxes) == len(Ks) == len(sides) == n):
            raise HandposeError("boxes, Ks and sides need one entry per image.")
        arrays, metas, crops = [], [], []
        for i, img in enumerate(images):
            where = (
                str(names[i]) if names is not None
                else str(img) if isinstance(img, str | os.PathLike) else f"image {i}"
            )  # fmt: skip
            arr = as_rgb(img, where)
            H, W = arr.shape[:2]
            if Ks[i] is None:
                K, assumed = default_intrinsics(W, H, fov_deg), True
            else:
                K, assumed = check_intrinsics(Ks[i], f"K of '{where}'"), False
            arrays.append(arr)
            metas.append((K, assumed, (H, W), where))
            crops.extend(self.plan_crops(i, arr, boxes[i], K, sides[i], where))
        outputs = self.run_crops(arrays, crops, progress)
        hands: list[list[HandPrediction]] = [[] for _ in range(n)]
        for c, out in zip(crops, outputs):
            hands[c.image].extend(self.hands_of(c, out))
        if self.fit_mesh is not None:
            self.fit_meshes([h for hs in hands for h in hs])
        source = [
            str(names[i]) if names is not None
            else str(img) if isinstance(img, str | os.PathLike) else ""
            for i, img in enumerate(images)
        ]  # fmt: skip
        return [
            ImagePrediction(
                hands[i],
                metas[i][0],
                metas[i][1],
                float(fov_deg) if metas[i][1] else None,
                metas[i][2],
                source[i],
            )
            for i in range(n)
        ]

    def run_crops(
        self, arrays, crops: list[_Crop], progress: bool = False
    ) -> list[dict[str, np.ndarray]]:
        """The model's raw outputs (crop frame, hand axis first) of every crop, in batches."""
        from tqdm.auto import tqdm

        results: list[dict[str, np.ndarray]] = []
        starts = range(0, len(crops), self.batch_size)
        for lo in tqdm(starts, desc="infer", unit="batch", disable=not progress, leave=False):
            chunk = crops[lo : lo + self.batch_size]
            x = np.stack([self.crop_pixels(arrays[c.image], c) for c in chunk]).astype(np.float32)
            K = np.stack([c.K_crop for c in chunk]).astype(np.float32)
            out = self.backend(x, K)
            results.extend({k: v[j] for k, v in out.items()} for j in range(len(chunk)))
        return results

    def crop_outputs_to_image(self, c: _Crop, out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One crop's raw outputs (H, ...) → the original image's frame (un-flip, ``A⁻¹``)."""
        S = self.input_size
        res = {k: np.asarray(v, np.float64) for k, v in out.items()}
        uv = res["joints2d"]
        if c.flip:
            Af, Q, _ = _flip_maps(np.eye(3), S)
            res["joints3d"] = res["joints3d"] @ Q.T
            if "vertices" in res:
                res["vertices"] = res["vertices"] @ Q.T
            uv = uv @ Af[:2, :2].T + Af[:2, 2]
            res.update(_mirror_mano({k: res[k] for k in MANO_KEYS if k in res}))
        Ainv = np.linalg.inv(c.A)
        res["joints2d"] = uv @ Ainv[:2, :2].T + Ainv[:2, 2]
        return res

    def hands_of(self, c: _Crop, out: dict[str, np.ndarray]) -> list[HandPrediction]:
        """One crop's raw outputs → :class:`HandPrediction` s in the original image."""
        res = self.crop_outputs_to_image(c, out)
        hands = []
        for h in range(res["joints3d"].shape[0]):
            if self.spec.hands == 2:
                side, source = SIDES[h], "model"
            elif c.side is not None:
                side, source = c.side, "given"
            else:
                side, source = "unknown", "unknown"
            mano = None
            if all(k in res for k in MANO_KEYS[:3]):
                mano = {k[5:]: res[k][h] for k in MANO_KEYS if k in res}
            verts = res["vertices"][h] if "vertices" in res else None
            hands.append(
                HandPrediction(
                    side=side,
                    side_source=source,
                    joints3d=res["joints3d"][h],
                    joints2d=res["joints2d"][h],
                    vertices=verts,
                    mano=mano,
                    mesh="model" if verts is not None else None,
                    box=np.asarray(c.box, np.float64),
                    crop=np.array([c.x0, c.y0, c.side_px], np.float64),
                    flipped=c.flip,
                )
            )
        return hands

    # -------------------------------------------------------------- mesh fitting
    def _fit_model(self, side: str):
        if side not in self._fit_models:
            from handpose.handmodel import HandModel

            self._fit_models[side] = HandModel(self.fit_mesh, side=side, flat_hand_mean=True)
        return self._fit_models[side]

    def fit_meshes(self, hands: list[HandPrediction]) -> None:
        """Fit the hand model to the joints of every hand without a mesh (module docstring)."""
        from handpose.handmodel.fitting import fit_to_joints

        todo = [h for h in hands if h.vertices is None]
        if not todo:
            return
        joints = torch.as_tensor(np.stack([h.joints3d for h in todo]), dtype=torch.float32)
        fits = {}
        for side in SIDES:
            rows = [i for i, h in enumerate(todo) if h.side in (side, "unknown")]
            if rows:
                fit = fit_to_joints(joints[rows], self._fit_model(side), inits=("relaxed",))
                fits[side] = (rows, fit)
        best: dict[int, tuple[float, str, int]] = {}
        for side, (rows, fit) in fits.items():
            for j, i in enumerate(rows):
                err = float(fit.joint_error[j])
                if i not in best or err < best[i][0]:
                    best[i] = (err, side, j)
        for i, h in enumerate(todo):
            err, side, j = best[i]
            fit = fits[side][1]
            if h.side == "unknown":
                h.side, h.side_source = side, "fit"
            h.vertices = fit.vertices[j].double().numpy()
            h.mano = {
                "global_orient": fit.global_orient[j].double().numpy(),
                "hand_pose": fit.hand_pose[j].double().numpy(),
                "betas": fit.betas[j].double().numpy(),
                "transl": fit.transl[j].double().numpy(),
            }
            h.mesh = "fit"
            h.fit_error_mm = err * 1000.0


def _box_list(boxes, hw: tuple[int, int], where: str) -> list[np.ndarray | None]:
    if boxes is None:
        return [None]
    if isinstance(boxes, np.ndarray) and boxes.ndim == 1 or (
        isinstance(boxes, Sequence) and len(boxes) == 4
        and all(isinstance(v, int | float | np.number) for v in boxes)
    ):  # fmt: skip
        return [check_box(boxes, hw, where)]
    out = [None if b is None else check_box(b, hw, where) for b in boxes]
    if not out:
        raise HandposeError(f"no box given for '{where}' (an empty list).")
    return out


def _side_list(sides, n: int, where: str) -> list[str | None]:
    if sides is None or isinstance(sides, str):
        sides = [sides] * n
    sides = list(sides)
    if len(sides) != n:
        raise HandposeError(f"'{where}' has {n} box(es) but {len(sides)} side(s).")
    for s in sides:
        if s not in (None, "left", "right"):
            raise HandposeError(f"side must be 'left', 'right' or None for '{where}', got {s!r}.")
    return sides
