"""The low-resolution ladder: area downsampling, blur, sensor noise and JPEG, with labels.

A level of long side ``px`` is made from the full-size N×N render (``factor = N / px``, an
integer) the way a low-resolution camera would see the scene:

1. optical blur: a Gaussian of σ (in *low-resolution* pixels) applied at full resolution
   (σ·factor);
2. area sampling: each low-resolution pixel is the mean of its factor×factor block
   (:func:`area_downsample`);
3. sensor noise: Gaussian with variance ``σ_read² + k·I`` (read noise plus shot noise, I the
   intensity in [0, 1]), then 8-bit quantisation;
4. JPEG compression at a random quality (or none).

Labels follow the pixel-centre convention (:mod:`handpose.render.camera`): low-resolution pixel
``j`` covers full-resolution pixels ``factor·j … factor·j + factor − 1``, whose centre is
``factor·j + (factor − 1)/2``, so a point moves as ``u' = (u + ½)/factor − ½``
(:func:`level_points`) and K as :func:`handpose.render.camera.scale_intrinsics` with
``1/factor`` (:func:`level_intrinsics`). Masks take the most frequent label of each block
(ties → the larger label, so thin fingers survive against the background).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from handpose.errors import HandposeError
from handpose.render.camera import project, scale_intrinsics

__all__ = [
    "Degradation",
    "sample_degradation",
    "area_downsample",
    "mode_downsample",
    "level_intrinsics",
    "level_points",
    "degrade_image",
    "make_ladder",
    "check_levels",
]


@dataclass(frozen=True)
class Degradation:
    """Parameters of one level's degradation.

    Attributes:
        blur: Gaussian σ in low-resolution pixels (0: none).
        read_noise: σ of the Gaussian read noise, intensity units (1 = full scale).
        shot_noise: k of the signal-dependent variance k·I.
        jpeg_quality: 1..95, or 0 for no JPEG.
    """

    blur: float = 0.0
    read_noise: float = 0.0
    shot_noise: float = 0.0
    jpeg_quality: int = 0


def sample_degradation(rng: np.random.Generator) -> Degradation:
    """Random degradation: blur σ 0–0.8 px, read noise 0–3/255, shot noise k 0–0.004,
    JPEG quality 40–95 for 80 % of images (else none)."""
    return Degradation(
        blur=float(rng.uniform(0.0, 0.8)),
        read_noise=float(rng.uniform(0.0, 3.0 / 255.0)),
        shot_noise=float(rng.uniform(0.0, 0.004)),
        jpeg_quality=int(rng.integers(40, 96)) if rng.uniform() < 0.8 else 0,
    )


def check_levels(size: int, levels) -> tuple[int, ...]:
    """Validated ladder levels: each a divisor of ``size`` smaller than it; sorted descending."""
    out = []
    for px in levels:
        px = int(px)
        if px < 1 or px >= size or size % px:
            raise HandposeError(
                f"ladder level {px} must be smaller than the image size {size} and divide it."
            )
        out.append(px)
    if len(set(out)) != len(out):
        raise HandposeError(f"ladder levels must be distinct, got {list(levels)}.")
    return tuple(sorted(out, reverse=True))


def _factor(shape: tuple[int, ...], factor: int) -> int:
    f = int(factor)
    if f < 1 or shape[0] % f or shape[1] % f:
        raise HandposeError(f"cannot area-downsample a {shape[0]}×{shape[1]} image by {factor}.")
    return f


def area_downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Block means (float64): (H, W[, C]) → (H/f, W/f[, C])."""
    f = _factor(image.shape, factor)
    H, W = image.shape[:2]
    x = np.asarray(image, dtype=np.float64).reshape(H // f, f, W // f, f, *image.shape[2:])
    return x.mean(axis=(1, 3))


def mode_downsample(mask: np.ndarray, factor: int, num_labels: int = 4) -> np.ndarray:
    """Most frequent label per block (ties → larger label): (H, W) uint8 → (H/f, W/f)."""
    f = _factor(mask.shape, factor)
    H, W = mask.shape
    blocks = mask.reshape(H // f, f, W // f, f)
    counts = np.stack([(blocks == k).sum(axis=(1, 3)) for k in range(num_labels)], -1)
    # argmax returns the first maximum: reverse the label axis to prefer larger labels on ties.
    return (num_labels - 1 - counts[..., ::-1].argmax(-1)).astype(np.uint8)


def level_intrinsics(K, factor: int) -> np.ndarray:
    """K of the image downsampled by ``factor`` (block-mean pixels)."""
    return scale_intrinsics(K, 1.0 / float(factor))


def level_points(uv, factor: int) -> np.ndarray:
    """Pixel coordinates (..., 2) in the image downsampled by ``factor``."""
    return (np.asarray(uv, dtype=np.float64) + 0.5) / float(factor) - 0.5


def degrade_image(
    image: np.ndarray, factor: int, d: Degradation, rng: np.random.Generator
) -> np.ndarray:
    """Blur, area-downsample, add noise, quantise, JPEG: (H, W, 3) uint8 → (H/f, W/f, 3) uint8."""
    x = np.asarray(image, dtype=np.float64) / 255.0
    if d.blur > 0:
        from scipy.ndimage import gaussian_filter

        s = d.blur * factor
        x = gaussian_filter(x, sigma=(s, s, 0), mode="nearest")
    x = area_downsample(x, factor)
    if d.read_noise > 0 or d.shot_noise > 0:
        std = np.sqrt(d.read_noise**2 + d.shot_noise * np.clip(x, 0, 1))
        x = x + rng.normal(size=x.shape) * std
    out = np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    if d.jpeg_quality:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=int(d.jpeg_quality))
        buf.seek(0)
        with Image.open(buf) as im:
            out = np.asarray(im.convert("RGB"))
    return out


def make_ladder(
    sample: dict[str, Any],
    levels,
    degradations: dict[int, Degradation],
    rng: np.random.Generator,
) -> dict[int, dict[str, Any]]:
    """The ladder of a full-size sample: ``{px: {"image", "K", "joints2d", "bbox", "mask"}}``.

    Args:
        sample: a schema sample with a square N×N ``image`` (and optional ``mask``).
        levels: long sides (divisors of N).
        degradations: per level (e.g. fixed per sequence).
        rng: noise stream.
    """
    N = int(sample["image"].shape[0])
    out = {}
    for px in check_levels(N, levels):
        f = N // px
        K = level_intrinsics(sample["K"], f)
        j2 = np.zeros(sample["joints2d"].shape, dtype=np.float32)
        for k in np.flatnonzero(sample["hand_valid"]):
            j2[k] = project(sample["joints3d"][k].astype(np.float64), K)
        lv = {
            "image": degrade_image(sample["image"], f, degradations[px], rng),
            "K": K.astype(np.float32),
            "joints2d": j2,
        }
        b = np.asarray(sample["bbox"], dtype=np.float64)
        lo = np.clip(level_points(b[:2], f), -0.5, px - 0.5)
        hi = np.clip(level_points(b[2:], f), -0.5, px - 0.5)
        lv["bbox"] = np.concatenate([lo, np.maximum(hi, lo)]).astype(np.float32)
        if "mask" in sample:
            lv["mask"] = mode_downsample(sample["mask"], f)
        out[px] = lv
    return out
