"""A torch ``Dataset`` of image samples for training: crop to the hand, resize, tensors.

:class:`ImageDataset` wraps any source of schema samples (a shard folder, a real loader, a
source string for :func:`~handpose.datasets.sources.open_source`) and returns per sample a dict
of tensors: ``image`` (3, S, S) float in [0, 1], the label keys as tensors with ``K``,
``joints2d``, ``bbox`` and ``mask`` moved into the crop (``sequence`` stays a str). 3D labels
and MANO parameters are unchanged: the crop is a change of intrinsics only.

Crop (``crop="bbox"``): a square of side ``⌈pad · max(box w, box h)⌉`` (at least
``min_side`` px) centred on the label box, zero-padded outside the image, resized to S × S with
antialiased bilinear filtering. With pixel centres at integer coordinates, a crop of pixels
``x0 … x0 + side − 1`` resized by ``r = side / S`` maps ``u → (u − x0 + 0.5) / r − 0.5``, so
``K' = A·K`` with ``A = [[1/r, 0, (0.5 − x0)/r − 0.5], [0, 1/r, (0.5 − y0)/r − 0.5], [0, 0, 1]]``.
``crop="none"`` resizes the whole image (non-square images are padded to a square first).

Dense maps: with ``dense=True`` the sample's ``extra_dense`` (H, W, C) map (the synthetic
generator's template position of the visible surface point, metres, 0 on the background) is
cropped and resized exactly like the image (zeros outside the image, antialiased bilinear) and
returned as a (C, S, S) float32 tensor under the same key; other ``extra_*`` keys follow
``drop_extra``.

:class:`ImageBatchCollate` stacks samples and applies the batched augmentation
(:mod:`handpose.datasets.augment`) and the ImageNet normalisation inside DataLoader workers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from handpose.datasets.augment import AugmentConfig, augment
from handpose.errors import HandposeError
from handpose.formats.sample import collate

__all__ = [
    "ImageDataset",
    "ImageBatchCollate",
    "crop_to_square",
    "crop_map_to_square",
    "crop_matrix",
    "normalize_image",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize_image(image: Tensor) -> Tensor:
    """(…, 3, H, W) in [0, 1] → ImageNet-normalised (the image models' input)."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=image.dtype).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=image.dtype).view(3, 1, 1)
    return (image - mean) / std


def crop_matrix(x0: int, y0: int, side: int, out_size: int) -> np.ndarray:
    """The (3, 3) pixel map ``A`` of the module docstring (crop at (x0, y0), resize)."""
    r = side / out_size
    return np.array(
        [[1 / r, 0, (0.5 - x0) / r - 0.5], [0, 1 / r, (0.5 - y0) / r - 0.5], [0, 0, 1.0]]
    )


def square_box(bbox: np.ndarray, hw: tuple[int, int], pad: float, min_side: int) -> tuple:
    """Integer square (x0, y0, side) around ``bbox`` (x0, y0, x1, y1); the whole image (padded
    to a square) when the box is empty."""
    H, W = hw
    x0, y0, x1, y1 = (float(v) for v in bbox)
    if not (x1 > x0 or y1 > y0):
        side = max(H, W)
        return -((side - W) // 2), -((side - H) // 2), side
    side = max(int(min_side), int(math.ceil(pad * max(x1 - x0, y1 - y0))))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return int(math.floor(cx - (side - 1) / 2)), int(math.floor(cy - (side - 1) / 2)), side


def crop_to_square(
    image: np.ndarray, x0: int, y0: int, side: int, out_size: int, mask: np.ndarray | None = None
) -> tuple[Tensor, Tensor | None]:
    """Crop pixels ``x0 … x0 + side − 1`` (and rows likewise; zeros outside) and resize.

    Returns:
        image (3, S, S) float in [0, 1]; mask (S, S) uint8 (nearest) or None.
    """
    H, W = image.shape[:2]
    canvas = torch.zeros((3, side, side), dtype=torch.uint8)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(W, x0 + side), min(H, y0 + side)
    if sx1 > sx0 and sy1 > sy0:
        part = torch.from_numpy(
            np.array(image[sy0:sy1, sx0:sx1])
        )  # a copy: inputs may be read-only
        canvas[:, sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = part.permute(2, 0, 1)
    x = canvas[None].float() / 255.0
    if side != out_size:
        x = F.interpolate(
            x, size=(out_size, out_size), mode="bilinear", align_corners=False, antialias=True
        ).clamp(0, 1)
    m_out = None
    if mask is not None:
        mc = torch.zeros((side, side), dtype=torch.uint8)
        if sx1 > sx0 and sy1 > sy0:
            mc[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = torch.from_numpy(
                np.array(mask[sy0:sy1, sx0:sx1])
            )
        m_out = mc
        if side != out_size:
            m_out = F.interpolate(
                mc[None, None].float(), size=(out_size, out_size), mode="nearest-exact"
            )[0, 0].to(torch.uint8)
    return x[0], m_out


def crop_map_to_square(values: np.ndarray, x0: int, y0: int, side: int, out_size: int) -> Tensor:
    """:func:`crop_to_square` for a float (H, W, C) map: zeros outside, antialiased bilinear
    resize; returns (C, S, S) float32."""
    H, W, C = values.shape
    canvas = torch.zeros((C, side, side), dtype=torch.float32)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(W, x0 + side), min(H, y0 + side)
    if sx1 > sx0 and sy1 > sy0:
        part = torch.from_numpy(np.array(values[sy0:sy1, sx0:sx1], dtype=np.float32))
        canvas[:, sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = part.permute(2, 0, 1)
    if side == out_size:
        return canvas
    return F.interpolate(
        canvas[None],
        size=(out_size, out_size),
        mode="bilinear",
        align_corners=False,
        antialias=True,
    )[0]


class ImageDataset(torch.utils.data.Dataset):
    """Schema samples as training tensors, cropped to the hand and resized.

    Args:
        source: a sequence of schema samples (shard split view, real loader) or a source string.
        size: output side S in pixels.
        crop: "bbox" (square around the label box) or "none" (whole image).
        pad: box enlargement factor for "bbox".
        min_side: smallest crop side in source pixels.
        split, level: for source strings (see :func:`~handpose.datasets.sources.open_source`).
        drop_extra: leave out ``extra_*`` keys (they are not cropped), except ``extra_dense``
            with ``dense=True``.
        dense: crop ``extra_dense`` with the image (module docstring); a sample without it
            raises.
    """

    def __init__(
        self,
        source: Any,
        size: int = 128,
        *,
        crop: str = "bbox",
        pad: float = 1.3,
        min_side: int = 16,
        split: str | None = None,
        level: int | None = None,
        drop_extra: bool = True,
        dense: bool = False,
    ) -> None:
        if isinstance(source, str):
            from handpose.datasets.sources import open_source

            source = open_source(source, split, level=level)
        if crop not in ("bbox", "none"):
            raise HandposeError(f"crop must be 'bbox' or 'none', got {crop!r}.")
        if int(size) < 8:
            raise HandposeError(f"size must be at least 8 px, got {size}.")
        self.source = source
        self.size, self.crop, self.pad, self.min_side = int(size), crop, float(pad), int(min_side)
        self.drop_extra = drop_extra
        self.dense = bool(dense)
        self.meta = dict(getattr(source, "meta", {}))

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict[str, Any]:
        s = self.source[index]
        return self.prepare(s)

    def prepare(self, s: Mapping[str, Any]) -> dict[str, Any]:
        """Crop / resize one schema sample and convert it to tensors."""
        H, W = s["image"].shape[:2]
        if self.crop == "bbox":
            x0, y0, side = square_box(s["bbox"], (H, W), self.pad, self.min_side)
        else:
            x0, y0, side = square_box(np.zeros(4), (H, W), 1.0, 1)
        image, mask = crop_to_square(s["image"], x0, y0, side, self.size, s.get("mask"))
        A = crop_matrix(x0, y0, side, self.size)
        out: dict[str, Any] = {}
        for k, v in s.items():
            if k in ("image", "mask", "extra_dense") or (
                self.drop_extra and k.startswith("extra_")
            ):
                continue
            out[k] = v if isinstance(v, str) else torch.as_tensor(np.asarray(v))
        out["image"] = image
        if mask is not None:
            out["mask"] = mask
        if self.dense:
            d = s.get("extra_dense")
            if d is None or np.ndim(d) != 3 or np.shape(d)[:2] != (H, W):
                raise HandposeError(
                    "dense=True needs an 'extra_dense' (H, W, C) map in every sample; generate "
                    "the data with 'handpose synth images --dense'."
                )
            out["extra_dense"] = crop_map_to_square(np.asarray(d), x0, y0, side, self.size)
        elif "extra_dense" in s and not self.drop_extra:
            out["extra_dense"] = torch.as_tensor(np.asarray(s["extra_dense"]))
        K = A @ np.asarray(s["K"], np.float64)
        out["K"] = torch.as_tensor(K, dtype=torch.float32)
        j2 = np.asarray(s["joints2d"], np.float64) @ A[:2, :2].T + A[:2, 2]
        out["joints2d"] = torch.as_tensor(j2, dtype=torch.float32)
        b = np.asarray(s["bbox"], np.float64).reshape(2, 2) @ A[:2, :2].T + A[:2, 2]
        out["bbox"] = torch.as_tensor(b.reshape(4), dtype=torch.float32)
        return out


class ImageBatchCollate:
    """``collate_fn`` for a DataLoader over :class:`ImageDataset`: stack, augment, normalise.

    Args:
        config: augmentation (None: no augmentation).
        normalize: apply the ImageNet normalisation to ``image`` after augmentation.
        seed: None uses torch's global generator (seeded per worker by the DataLoader);
            an int makes a private generator (deterministic in a single process).
        rest_root: see :func:`~handpose.datasets.augment.augment`.
    """

    def __init__(
        self,
        config: AugmentConfig | None = None,
        *,
        normalize: bool = True,
        seed: int | None = None,
        rest_root=None,
    ) -> None:
        self.config = config
        self.normalize = normalize
        self.seed = seed
        self.rest_root = rest_root
        self._gen: torch.Generator | None = None

    def __call__(self, samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        batch = collate(samples)
        if self.config is not None:
            if self.seed is not None and self._gen is None:
                self._gen = torch.Generator().manual_seed(int(self.seed))
            batch = augment(batch, self.config, self._gen, self.rest_root)
        if self.normalize:
            batch["image"] = normalize_image(batch["image"])
        return batch
