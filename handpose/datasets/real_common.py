"""Shared pieces of the real image dataset loaders (FreiHAND, InterHand2.6M, DexYCB, HanCo).

- :class:`RealImageDataset`: the base class (``len``, ``[i]`` → a validated schema sample,
  ``.meta``, ``.source(i)`` naming the image file).
- Reading with one clear error per problem: :func:`require_root`, :func:`read_json`,
  :func:`read_yaml`, :func:`field`, :func:`as_array`, :func:`read_image`.
- :func:`bbox_from_points`, :func:`project_np`: the box and projection every loader uses.

Every message names the file (and the index / field) so that a user can find the bad entry.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from handpose.errors import HandposeError
from handpose.formats.sample import validate_sample

__all__ = [
    "RealImageDataset",
    "require_root",
    "read_json",
    "read_yaml",
    "field",
    "as_array",
    "read_image",
    "read_mask",
    "bbox_from_points",
    "label_bbox",
    "project_np",
    "set_mano",
    "check_choice",
]


def require_root(root: str | os.PathLike, dataset: str) -> Path:
    """The dataset root as a Path; raises when it is not a folder."""
    root = Path(root)
    if not root.is_dir():
        raise HandposeError(f"the {dataset} root '{root}' does not exist or is not a folder.")
    return root


def read_json(path: Path, dataset: str) -> Any:
    """Parse a JSON annotation file; missing or truncated files raise naming the file."""
    if not path.is_file():
        raise HandposeError(f"missing {dataset} annotation file '{path}'.")
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise HandposeError(f"'{path}' is not valid JSON (truncated or corrupt? {err}).") from None


def read_yaml(path: Path, dataset: str) -> Any:
    """Parse a YAML file (safe loader); missing or malformed files raise naming the file."""
    import yaml

    if not path.is_file():
        raise HandposeError(f"missing {dataset} file '{path}'.")
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise HandposeError(f"'{path}' is not valid YAML ({msg}).") from None


def field(obj: Any, key: str | int, path: Path | str, where: str = "") -> Any:
    """``obj[key]`` or an error naming the file, the location and the missing field."""
    try:
        return obj[key]
    except (KeyError, IndexError, TypeError):
        loc = f" {where}" if where else ""
        raise HandposeError(f"'{path}'{loc}: field '{key}' is missing.") from None


def as_array(
    value: Any,
    shape: Sequence[int],
    path: Path | str,
    what: str,
    *,
    dtype=np.float64,
    finite: bool = True,
) -> np.ndarray:
    """Convert a JSON value to an array of ``shape`` (-1 = any length), checking finiteness.

    For a list of entries (``shape[0] == -1`` and a per-entry shape), a ragged or malformed
    entry is reported with its index.
    """
    try:
        arr = np.asarray(value, dtype=dtype)
        ok = arr.ndim == len(shape) and all(s in (-1, d) for s, d in zip(shape, arr.shape))
    except (ValueError, TypeError):
        arr, ok = None, False
    if not ok:
        if isinstance(value, list) and len(shape) > 1 and shape[0] == -1:
            for i, item in enumerate(value):
                try:
                    a = np.asarray(item, dtype=dtype)
                except (ValueError, TypeError):
                    a = None
                if a is None or a.shape != tuple(shape[1:]):
                    got = "malformed" if a is None else f"shape {a.shape}"
                    raise HandposeError(
                        f"'{path}' index {i}: {what} must have shape {tuple(shape[1:])}, got {got}."
                    )
        got = "malformed" if arr is None else f"shape {arr.shape}"
        want = tuple("N" if s == -1 else s for s in shape)
        raise HandposeError(f"'{path}': {what} must have shape {want}, got {got}.")
    if finite and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        idx = f" index {bad[0]}" if len(shape) > 1 and shape[0] == -1 else ""
        raise HandposeError(f"'{path}'{idx}: {what} contains NaN or infinite values.")
    return arr


def read_image(
    path: Path,
    expect_hw: tuple[int, int] | None = None,
    reason: str = "its annotation says",
    *,
    exif_orientation: bool = False,
) -> np.ndarray:
    """Decode an RGB image (H, W, 3) uint8; check its size against the annotation.

    A size mismatch reads "'PATH' is WxH pixels but {reason} W'xH'." With
    ``exif_orientation`` the picture is turned as its EXIF orientation tag says (photos from
    phones; as image viewers show them); dataset annotations refer to the stored pixels.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise HandposeError(f"missing image file '{path}'.")
    try:
        with Image.open(path) as im:
            if exif_orientation:
                im = ImageOps.exif_transpose(im)
            arr = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as err:
        raise HandposeError(f"'{path}' is not a readable image ({err}).") from None
    if expect_hw is not None and arr.shape[:2] != tuple(expect_hw):
        h, w = arr.shape[:2]
        eh, ew = expect_hw
        raise HandposeError(f"'{path}' is {w}x{h} pixels but {reason} {ew}x{eh}.")
    return arr


def read_mask(path: Path, expect_hw: tuple[int, int]) -> np.ndarray:
    """Decode a grey mask image (H, W) uint8 and check its size."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise HandposeError(f"missing mask file '{path}'.")
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("L"))
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise HandposeError(f"'{path}' is not a readable image ({err}).") from None
    if arr.shape != tuple(expect_hw):
        raise HandposeError(
            f"the mask '{path}' is {arr.shape[1]}x{arr.shape[0]} pixels, the image "
            f"{expect_hw[1]}x{expect_hw[0]}."
        )
    return arr


def set_mano(
    sample: dict[str, Any],
    slot: int,
    global_orient: np.ndarray,
    hand_pose: np.ndarray,
    betas: np.ndarray,
    transl: np.ndarray,
    vertices: np.ndarray | None = None,
) -> None:
    """Fill one slot's MANO parameters (schema convention) and mark them valid; also the slot's
    vertices when given."""
    sample["mano_valid"][slot] = True
    sample["mano_global_orient"][slot] = global_orient
    sample["mano_hand_pose"][slot] = hand_pose
    sample["mano_betas"][slot] = betas
    sample["mano_transl"][slot] = transl
    if vertices is not None:
        sample["vertices"][slot] = vertices


def check_choice(value: Any, choices, what: str) -> None:
    """Raise ``"{what} must be one of (...), got value"`` unless ``value`` is a choice."""
    if value not in tuple(choices):
        raise HandposeError(f"{what} must be one of {tuple(choices)}, got {value!r}.")


def project_np(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., N, 3) camera points → (..., N, 2) pixels with (3, 3) K (float64)."""
    h = np.asarray(points, np.float64) @ np.asarray(K, np.float64).T
    with np.errstate(divide="ignore", invalid="ignore"):
        return h[..., :2] / h[..., 2:]


def bbox_from_points(points: np.ndarray) -> np.ndarray:
    """Tight (4,) float32 box x0, y0, x1, y1 of (N, 2) pixel points (zeros when N = 0)."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) == 0:
        return np.zeros(4, np.float32)
    return np.array([*pts.min(0), *pts.max(0)], np.float32)


def label_bbox(sample: Mapping[str, Any]) -> np.ndarray:
    """The schema's box: tight around the valid 2D joints of valid hands, and around the
    projected vertices of those hands when the sample has vertices."""
    pts = [sample["joints2d"][s][sample["joint_valid"][s]] for s in range(2)]
    if "vertices" in sample:
        for s in range(2):
            if sample["hand_valid"][s] and sample["vertices"][s].any():
                pts.append(project_np(sample["vertices"][s], sample["K"]))
    return bbox_from_points(np.concatenate(pts) if pts else np.zeros((0, 2)))


class RealImageDataset:
    """Base of the real loaders: a sequence of schema samples with dataset metadata.

    Subclasses set ``self.meta`` and ``self.name`` and implement ``__len__``, ``_load(i)``
    (the sample) and ``source(i)`` (the image path, for messages).
    """

    name = "dataset"
    meta: dict[str, Any]

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _load(self, index: int) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def source(self, index: int) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def sequence_key(self, index: int) -> Any:
        """Samples with equal keys belong to one video (storage keeps them in one shard);
        None for single images."""
        return None

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self)
        if isinstance(index, (bool, np.bool_)) or not -n <= int(index) < n:
            raise HandposeError(f"index {index} is out of range for {self.name} ({n} samples).")
        index = int(index) % n
        sample = self._load(index)
        validate_sample(sample, f"{self.name} sample {index} ({self.source(index)})")
        return sample

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self[i]
