"""Image crops with 2D joint sets drawn side by side (qualitative grids of the image methods).

One row per crop: a tile per joint set (the ground truth, then each method), the skeleton in
the set's colour, its label in the corner; rows in two columns; written atomically as PNG.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["joint_grid"]

JointSet = tuple[str, np.ndarray, tuple[int, int, int]]


def _tile(image: np.ndarray, uv: np.ndarray, colour, label: str, scale: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    from handpose.handmodel.conventions import OPENPOSE_PARENTS

    big = np.repeat(np.repeat(image, scale, 0), scale, 1)
    tile = Image.fromarray(big.copy())
    d = ImageDraw.Draw(tile)
    p = (np.asarray(uv, dtype=np.float64) + 0.5) * scale - 0.5
    for c, par in enumerate(OPENPOSE_PARENTS):
        if par >= 0:
            d.line([tuple(p[par]), tuple(p[c])], fill=colour, width=2)
    for u, v in p:
        d.ellipse([u - 2, v - 2, u + 2, v + 2], fill=colour)
    d.text((3, 2), label, fill=(255, 255, 255))
    return np.asarray(tile)


def joint_grid(
    images: Sequence[np.ndarray],
    sets: Sequence[Sequence[JointSet]],
    path: str | os.PathLike,
    min_side: int = 192,
) -> Path:
    """Write the grid.

    Args:
        images: per crop, (S, S, 3) uint8.
        sets: per crop, ``(label, uv (21, 2) crop pixels (centres at integers), RGB)``.
        path: the PNG to write.
        min_side: crops are enlarged by an integer factor to at least this side.
    """
    from PIL import Image

    from handpose.utils.io import atomic_path

    if not images or len(images) != len(sets):
        raise ValueError("joint_grid needs one list of joint sets per image, and an image")
    width = max(len(s) for s in sets)
    tiles = []
    for img, row_sets in zip(images, sets):
        scale = max(1, min_side // img.shape[0])
        row = [_tile(img, uv, colour, label, scale) for label, uv, colour in row_sets]
        while len(row) < width:
            row.append(np.zeros_like(row[0]))
        tiles.append(np.concatenate(row, 1))
    half = (len(tiles) + 1) // 2  # two columns of rows
    right = tiles[half:] + [np.zeros_like(tiles[0])] * (2 * half - len(tiles))
    gap = np.full((tiles[0].shape[0] * half, 6, 3), 255, np.uint8)
    grid = np.concatenate([np.concatenate(tiles[:half], 0), gap, np.concatenate(right, 0)], 1)
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(grid).save(tmp, format="PNG")
    return path
