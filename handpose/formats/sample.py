"""The one image sample schema shared by synthetic data, real loaders, storage and training.

A sample is a ``dict`` of numpy arrays (plus the string ``sequence``); a torch batch from
:func:`collate` has the same keys with a leading batch axis. Hands live in **two slots:
index 0 = right, 1 = left** (InterHand2.6M's order); a single-hand sample fills one slot and
marks the other invalid (``hand_valid``, ``joint_valid`` and ``mano_valid`` false, its arrays
zero). The table :data:`SCHEMA` is the contract (docs/design/image_track.md); shapes use the
symbols ``H``, ``W`` (image size) and ``V`` (vertex count), which must agree across keys.

Conventions: metres, camera frame (OpenCV: x right, y down, z forward), joints in OpenPose-21
order (mano.md §3.2), pixels ``(u, v)`` with pixel centres at integer coordinates, MANO
parameters as full articulation (``flat_hand_mean = True``) with the right-hand model for slot 0
and the left-hand model for slot 1.

Optional keys are present for all samples of a dataset or for none; within a present key, the
arrays of an invalid slot are zeros, and a valid hand's ``vertices`` are zeros when its mesh is
unknown (e.g. no MANO fit for that hand; ``mano_valid`` is false then).

Extra keys named ``extra_<name>`` (numeric arrays, e.g. dense correspondence maps) are allowed,
stored and collated like the others; any other unknown key is an error.

API:

- :data:`SCHEMA` / :data:`FIELDS`: the key table as data (:class:`Field`).
- :func:`empty_sample`: a valid sample with both slots invalid, to fill in place.
- :func:`validate_sample`: shapes, dtypes, finite values, slot consistency;
  raises :class:`~handpose.errors.HandposeError` naming where / index / field.
- :func:`collate`: a list of samples → a dict of torch tensors (strings → list).
- :func:`dataset_meta`: the dataset-level metadata dict every loader exposes as ``.meta``.

Example:
    >>> s = empty_sample(224, 224)
    >>> s["hand_valid"][0] = True
    >>> validate_sample(s, "example")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from handpose.errors import HandposeError

__all__ = [
    "Field",
    "SCHEMA",
    "FIELDS",
    "REQUIRED",
    "MANO_KEYS",
    "RIGHT",
    "LEFT",
    "NUM_JOINTS",
    "MASK_LABELS",
    "empty_sample",
    "validate_sample",
    "collate",
    "dataset_meta",
]

RIGHT, LEFT = 0, 1
NUM_JOINTS = 21
MASK_LABELS: dict[str, int] = {"background": 0, "right": 1, "left": 2, "object": 3}


@dataclass(frozen=True)
class Field:
    """One key of the schema.

    Attributes:
        name: the key.
        shape: dimensions; ints are fixed, "H", "W", "V" are symbols shared across keys.
        dtype: numpy dtype name, or "str" for a Python string.
        required: every sample has it (optional keys are present for all samples of a dataset
            or for none).
        doc: meaning and units.
    """

    name: str
    shape: tuple[int | str, ...]
    dtype: str
    required: bool
    doc: str


SCHEMA: tuple[Field, ...] = (
    Field("image", ("H", "W", 3), "uint8", True, "RGB image"),
    Field("K", (3, 3), "float32", True, "intrinsics of this image (after crop / resize)"),
    Field("hand_valid", (2,), "bool", True, "slot holds a hand (0 right, 1 left)"),
    Field("joints3d", (2, 21, 3), "float32", True, "metres, camera frame, OpenPose-21 order"),
    Field("joints2d", (2, 21, 2), "float32", True, "pixels (u, v) in this image"),
    Field("joint_valid", (2, 21), "bool", True, "per-joint validity (false for invalid slots)"),
    Field("vertices", (2, "V", 3), "float32", False, "metres, camera frame"),
    Field("mano_global_orient", (2, 3), "float32", False, "axis-angle, camera frame"),
    Field("mano_hand_pose", (2, 45), "float32", False, "axis-angle, full articulation"),
    Field("mano_betas", (2, 10), "float32", False, "shape coefficients"),
    Field("mano_transl", (2, 3), "float32", False, "metres, camera frame"),
    Field("mano_valid", (2,), "bool", True, "MANO parameters known for the slot"),
    Field("mask", ("H", "W"), "uint8", False, "0 background, 1 right, 2 left, 3 object"),
    Field("bbox", (4,), "float32", True, "x0, y0, x1, y1 pixels of the hand(s), union"),
    Field("interacting", (), "bool", True, "InterHand2.6M's IH label"),
    Field("sequence", (), "str", True, "sequence id ('' for single images)"),
    Field("frame", (), "int64", True, "frame index in the sequence"),
    Field("view", (), "int64", True, "camera index for multi-view data (0 otherwise)"),
    Field("capture_hw", (2,), "int32", True, "(H, W) captured / rendered before degradation"),
)
FIELDS: dict[str, Field] = {f.name: f for f in SCHEMA}
REQUIRED: tuple[str, ...] = tuple(f.name for f in SCHEMA if f.required)
MANO_KEYS: tuple[str, ...] = ("mano_global_orient", "mano_hand_pose", "mano_betas", "mano_transl")
EXTRA_PREFIX = "extra_"


def empty_sample(
    height: int,
    width: int,
    *,
    num_vertices: int | None = None,
    mano: bool = False,
    mask: bool = False,
) -> dict[str, Any]:
    """A valid sample of the given image size with both hand slots invalid, all zeros.

    Args:
        height, width: image size in pixels (also ``capture_hw``).
        num_vertices: add ``vertices`` (2, V, 3) when given.
        mano: add the four ``mano_*`` parameter arrays.
        mask: add ``mask`` (H, W).
    Returns:
        dict with every required key (and the requested optional ones), correct dtypes.
        Fill it in place: ``s["joints3d"][0] = xyz`` casts to float32.
    """
    s: dict[str, Any] = {}
    for f in SCHEMA:
        if not f.required:
            continue
        if f.dtype == "str":
            s[f.name] = ""
            continue
        shape = tuple(height if d == "H" else width if d == "W" else d for d in f.shape)
        s[f.name] = np.zeros(shape, dtype=f.dtype)
    s["K"][2, 2] = 1.0
    s["K"][0, 0] = s["K"][1, 1] = float(max(height, width))
    s["K"][0, 2], s["K"][1, 2] = (width - 1) / 2.0, (height - 1) / 2.0
    s["capture_hw"][:] = (height, width)
    if num_vertices is not None:
        s["vertices"] = np.zeros((2, int(num_vertices), 3), np.float32)
    if mano:
        for k in MANO_KEYS:
            s[k] = np.zeros(FIELDS[k].shape, np.float32)
    if mask:
        s["mask"] = np.zeros((height, width), np.uint8)
    return s


def _fail(where: str, name: str, msg: str) -> HandposeError:
    return HandposeError(f"{where}: field '{name}' {msg}.")


def validate_sample(sample: Mapping[str, Any], where: str = "sample") -> None:
    """Check one sample against :data:`SCHEMA`; raise :class:`HandposeError` on the first problem.

    Checks: required keys present, no unknown keys (except ``extra_*``), exact shapes (with
    ``H``, ``W``, ``V`` consistent) and dtypes, finite float values, ``K`` a pinhole matrix
    (last row 0 0 1, positive focal lengths), mask labels ≤ 3, invalid slots without valid joints,
    all four ``mano_*`` keys together, ``bbox`` ordered.

    Args:
        sample: mapping of the schema's keys.
        where: names the origin in the message, e.g. ``"train-00003.h5 sample 17"`` or
            ``"FreiHAND training_xyz.json index 5"``.
    """
    if not isinstance(sample, Mapping):
        raise HandposeError(f"{where}: a sample must be a mapping, got {type(sample).__name__}.")
    for name in REQUIRED:
        if name not in sample:
            raise _fail(where, name, "is missing")
    for name in sample:
        if name not in FIELDS and not str(name).startswith(EXTRA_PREFIX):
            raise _fail(where, str(name), "is not part of the sample schema")
    present_mano = [k for k in MANO_KEYS if k in sample]
    if present_mano and len(present_mano) != len(MANO_KEYS):
        missing = next(k for k in MANO_KEYS if k not in sample)
        raise _fail(where, missing, "is missing (the mano_* parameters come together)")
    sizes: dict[str, int] = {}
    for name, value in sample.items():
        f = FIELDS.get(name)
        if f is None:  # extra_*: any numeric array, finite
            arr = np.asarray(value)
            if arr.dtype.kind not in "biuf":
                raise _fail(where, name, f"must be a numeric array, got dtype {arr.dtype}")
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                raise _fail(where, name, "contains NaN or infinite values")
            continue
        if f.dtype == "str":
            if not isinstance(value, str):
                raise _fail(where, name, f"must be a str, got {type(value).__name__}")
            continue
        if not isinstance(value, (np.ndarray, np.generic)):
            raise _fail(where, name, f"must be a numpy array, got {type(value).__name__}")
        arr = np.asarray(value)
        if arr.dtype != np.dtype(f.dtype):
            raise _fail(where, name, f"must have dtype {f.dtype}, got {arr.dtype}")
        if arr.ndim != len(f.shape):
            raise _fail(where, name, f"must have shape {_fmt(f.shape)}, got {arr.shape}")
        for dim, want in zip(arr.shape, f.shape):
            if isinstance(want, str):
                if sizes.setdefault(want, dim) != dim:
                    raise _fail(where, name, f"has {want} = {dim}, other fields have {sizes[want]}")
            elif dim != want:
                raise _fail(where, name, f"must have shape {_fmt(f.shape)}, got {arr.shape}")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise _fail(where, name, "contains NaN or infinite values")
    if sizes.get("H", 1) < 1 or sizes.get("W", 1) < 1 or sizes.get("V", 1) < 1:
        raise _fail(where, "image", f"has an empty dimension {sample['image'].shape}")
    K = sample["K"]
    if not (K[2, 0] == 0 and K[2, 1] == 0 and K[2, 2] == 1 and K[1, 0] == 0):
        raise _fail(where, "K", "must be a pinhole matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]]")
    if not (K[0, 0] > 0 and K[1, 1] > 0):
        raise _fail(where, "K", "must have positive focal lengths")
    hv, jv = sample["hand_valid"], sample["joint_valid"]
    for slot in range(2):
        if not hv[slot] and jv[slot].any():
            raise _fail(where, "joint_valid", f"is true in slot {slot}, which holds no hand")
        if not hv[slot] and sample["mano_valid"][slot]:
            raise _fail(where, "mano_valid", f"is true in slot {slot}, which holds no hand")
    if sample["mano_valid"].any() and not present_mano:
        raise _fail(where, "mano_hand_pose", "is missing although mano_valid is true")
    if "mask" in sample and sample["mask"].size and sample["mask"].max() > 3:
        raise _fail(where, "mask", f"has label {int(sample['mask'].max())} (allowed 0–3)")
    b = sample["bbox"]
    if b[2] < b[0] or b[3] < b[1]:
        raise _fail(where, "bbox", f"must be x0, y0, x1, y1 with x1 ≥ x0 and y1 ≥ y0, got {b}")
    if np.any(sample["capture_hw"] < 1):
        raise _fail(where, "capture_hw", f"must be positive, got {sample['capture_hw']}")


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def collate(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stack samples into a torch batch: arrays → tensors (B, ...), strings → list of str.

    Usable as a ``DataLoader`` ``collate_fn``. All samples must have the same keys and, per key,
    the same shape (e.g. one image size); images stay uint8 (B, H, W, 3).
    """
    import torch

    if not samples:
        raise HandposeError("collate needs at least one sample.")
    keys = list(samples[0].keys())
    out: dict[str, Any] = {}
    for i, s in enumerate(samples):
        if set(s.keys()) != set(keys):
            diff = sorted(set(s.keys()) ^ set(keys))
            raise HandposeError(f"collate: sample {i} differs from sample 0 in keys {diff}.")
    for k in keys:
        first = samples[0][k]
        if isinstance(first, str):
            out[k] = [str(s[k]) for s in samples]
            continue
        if isinstance(first, torch.Tensor):
            vals = list(s[k] for s in samples)
        else:
            vals = [torch.as_tensor(np.asarray(s[k])) for s in samples]
        shapes = {tuple(v.shape) for v in vals}
        if len(shapes) > 1:
            raise HandposeError(f"collate: field '{k}' has different shapes {sorted(shapes)}.")
        out[k] = torch.stack(vals)
    return out


def dataset_meta(
    dataset: str,
    kind: str,
    *,
    hand_model: str = "mano",
    num_vertices: int | None = 778,
    fix_left_shapedirs: bool | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The dataset-level metadata of the design contract (manifest ``meta`` and loader ``.meta``).

    Args:
        dataset: e.g. "freihand", "interhand", "synthetic".
        kind: e.g. "single", "twohand", "video".
        hand_model: "open" | "mano".
        num_vertices: V of ``vertices`` (None when the dataset has no meshes).
        fix_left_shapedirs: whether the left MANO model had the shapedirs fix applied (None:
            unknown / not applicable).
        **extra: more JSON-serialisable entries (e.g. ``split``, ``fps``).
    """
    return {
        "dataset": dataset,
        "kind": kind,
        "hand_model": hand_model,
        "num_vertices": num_vertices,
        "units": "m",
        "frame": "camera",
        "joint_order": "openpose21",
        "hand_slots": ["right", "left"],
        "mano_convention": {
            "flat_hand_mean": True,
            "use_pca": False,
            "fix_left_shapedirs": fix_left_shapedirs,
        },
        **extra,
    }
