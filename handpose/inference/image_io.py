"""Files for image and video inference: input lists, box tables, result files.

**Inputs.** Image files and folders (every image file inside, recursively, sorted by path):
``.jpg .jpeg .png .bmp .tif .tiff .webp``.

**Box tables** (``--boxes FILE``), boxes ``x0, y0, x1, y1`` in pixels of the original image /
frame, optional side ``left`` / ``right`` per box:

- JSON, images: ``{"IMAGE": BOXES, ...}`` with IMAGE the file's path as given, relative to the
  folder it was found in, or its bare name; BOXES one box ``[x0, y0, x1, y1]``, a list of
  boxes, or a list of ``{"box": [...], "side": "left"}`` objects (several hands). An empty list
  skips the image.
- JSON, videos: ``{"FRAME": BOXES, ...}`` (frame numbers from 0) or a list with one entry per
  frame (``null`` / ``[]`` = no hand in that frame).
- CSV with a header row: ``file,x0,y0,x1,y1[,side]`` (images) or ``frame,x0,y0,x1,y1[,side]``
  (videos); several rows for several hands.

**Results** (written atomically, after every input was processed): ``predictions.json``
(per image: size, camera, hands with joints), ``predictions.npz`` (arrays, one row per hand;
strings as unicode arrays, readable without pickle) and overlay PNGs.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from handpose.errors import HandposeError

__all__ = [
    "IMAGE_SUFFIXES",
    "list_images",
    "BoxTable",
    "read_box_table",
    "parse_box",
    "write_image_results",
    "overlay_names",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def list_images(inputs: Sequence[str | os.PathLike]) -> list[tuple[Path, Path]]:
    """Image files of the inputs as ``(path, root)`` with ``root`` the folder it was found in
    (the file's own folder for files)."""
    out: list[tuple[Path, Path]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                raise HandposeError(
                    f"folder '{p}' contains no image files ({', '.join(IMAGE_SUFFIXES)})."
                )
            out.extend((f, p) for f in found)
        elif p.is_file():
            out.append((p, p.parent))
        else:
            raise HandposeError(f"input '{p}' does not exist.")
    if not out:
        raise HandposeError("no input images given.")
    return out


def parse_box(text: str, where: str = "--box") -> np.ndarray:
    """``"x0,y0,x1,y1"`` → (4,) float64 (finite, non-empty)."""
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise HandposeError(f"{where} must be four numbers x0,y0,x1,y1, got {text!r}.") from None
    b = np.asarray(values, np.float64)
    if b.shape != (4,) or not np.isfinite(b).all():
        raise HandposeError(f"{where} must be four finite numbers x0,y0,x1,y1, got {text!r}.")
    if not (b[2] > b[0] and b[3] > b[1]):
        raise HandposeError(f"{where} {text!r} is empty: it needs x1 > x0 and y1 > y0.")
    return b


Entry = tuple[list[np.ndarray], list[str | None]]


class BoxTable:
    """Boxes and sides per image key or frame number (:func:`read_box_table`)."""

    def __init__(self, path: Path, entries: dict[str, Entry], kind: str) -> None:
        self.path = path
        self.entries = entries
        self.kind = kind

    def for_image(self, path: Path, root: Path) -> Entry:
        keys = [str(path), path.as_posix(), path.name]
        try:
            keys.insert(1, path.relative_to(root).as_posix())
        except ValueError:
            pass
        for k in keys:
            if k in self.entries:
                return self.entries[k]
        raise HandposeError(f"'{self.path}' has no box for '{path}' (looked up as {keys[1]!r}).")

    def for_frame(self, frame: int) -> Entry:
        return self.entries.get(str(int(frame)), ([], []))

    @property
    def max_frame(self) -> int:
        return max((int(k) for k in self.entries), default=-1)


def _side(value: Any, where: str) -> str | None:
    if value in (None, ""):
        return None
    v = str(value).strip().lower()
    if v not in ("left", "right"):
        raise HandposeError(f"{where}: side must be 'left' or 'right', got {value!r}.")
    return v


def _box(value: Any, where: str) -> np.ndarray:
    try:
        b = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise HandposeError(f"{where}: a box must be four numbers, got {value!r}.") from None
    if b.shape != (4,) or not np.isfinite(b).all():
        raise HandposeError(f"{where}: a box must be four finite numbers, got {value!r}.")
    if not (b[2] > b[0] and b[3] > b[1]):
        raise HandposeError(f"{where}: the box {b.tolist()} is empty (x1 > x0 and y1 > y0).")
    return b


def _json_entry(value: Any, where: str) -> Entry:
    if value is None:
        return [], []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise HandposeError(f"{where}: expected a box, a list of boxes or objects, got {value!r}.")
    if len(value) == 4 and all(isinstance(v, int | float) for v in value):
        return [_box(value, where)], [None]
    boxes, sides = [], []
    for i, item in enumerate(value):
        w = f"{where}[{i}]"
        if isinstance(item, dict):
            unknown = set(item) - {"box", "side"}
            if "box" not in item or unknown:
                raise HandposeError(f"{w}: an object needs 'box' (and optionally 'side').")
            boxes.append(_box(item["box"], w))
            sides.append(_side(item.get("side"), w))
        else:
            boxes.append(_box(item, w))
            sides.append(None)
    return boxes, sides


def read_box_table(path: str | os.PathLike, kind: str = "image") -> BoxTable:
    """Read a JSON or CSV box table (module docstring); ``kind`` is "image" or "video"."""
    path = Path(path)
    if not path.is_file():
        raise HandposeError(f"box table '{path}' does not exist.")
    key_name = "file" if kind == "image" else "frame"
    entries: dict[str, Entry] = {}
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise HandposeError(f"box table '{path}' cannot be read ({err}).") from None
    if suffix == ".json":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as err:
            raise HandposeError(f"box table '{path}' is not valid JSON ({err}).") from None
        if kind == "video" and isinstance(data, list):
            data = {str(i): v for i, v in enumerate(data)}
        if not isinstance(data, dict):
            raise HandposeError(f"box table '{path}' must be a JSON object {{{key_name}: boxes}}.")
        for k, v in data.items():
            if kind == "video":
                try:
                    frame = int(k)
                except ValueError:
                    raise HandposeError(
                        f"'{path}': frame keys must be integers, got {k!r}."
                    ) from None
                if frame < 0:
                    raise HandposeError(f"'{path}': frame numbers start at 0, got {frame}.")
                k = str(frame)
            entries[k] = _json_entry(v, f"'{path}' entry {k!r}")
    elif suffix == ".csv":
        rows = list(csv.reader(text.splitlines()))
        if not rows:
            raise HandposeError(f"box table '{path}' is empty.")
        header = [h.strip().lower() for h in rows[0]]
        need = [key_name, "x0", "y0", "x1", "y1"]
        if header[:5] != need or len(header) > 6 or (len(header) == 6 and header[5] != "side"):
            raise HandposeError(
                f"box table '{path}' needs the header {','.join(need)}[,side], got {rows[0]}."
            )
        for n, row in enumerate(rows[1:], start=2):
            if not row or all(not c.strip() for c in row):
                continue
            where = f"'{path}' line {n}"
            if len(row) != len(header):
                raise HandposeError(f"{where}: expected {len(header)} fields, got {len(row)}.")
            key = row[0].strip()
            if kind == "video":
                try:
                    key = str(int(key))
                except ValueError:
                    raise HandposeError(
                        f"{where}: frame must be an integer, got {row[0]!r}."
                    ) from None
                if int(key) < 0:
                    raise HandposeError(f"{where}: frame numbers start at 0, got {key}.")
            try:
                box = _box([float(v) for v in row[1:5]], where)
            except ValueError:
                raise HandposeError(
                    f"{where}: x0,y0,x1,y1 must be numbers, got {row[1:5]}."
                ) from None
            side = _side(row[5] if len(row) == 6 else None, where)
            b, s = entries.setdefault(key, ([], []))
            b.append(box)
            s.append(side)
    else:
        raise HandposeError(f"box table '{path}' must be a .json or .csv file.")
    return BoxTable(path, entries, kind)


_NUMBER_LIST = re.compile(r"\[\s*(-?[0-9.eE+-]+(?:,\s*-?[0-9.eE+-]+)*)\s*\]")


def dumps_results(doc: Any) -> str:
    """JSON with one level of indentation per object and every innermost list of numbers on
    one line (a joint, a row of K), so that result files stay readable and short."""
    text = json.dumps(doc, indent=1)
    return _NUMBER_LIST.sub(lambda m: "[" + re.sub(r"\s+", " ", m.group(1)) + "]", text) + "\n"


def overlay_names(paths: Sequence[Path]) -> list[str]:
    """Unique PNG names from the inputs' stems (``a.png``, ``a-2.png``, ...)."""
    seen: dict[str, int] = {}
    names = []
    for p in paths:
        stem = p.stem or "image"
        k = seen.get(stem, 0) + 1
        seen[stem] = k
        names.append(f"{stem}.png" if k == 1 else f"{stem}-{k}.png")
    return names


def _stack(values: list[np.ndarray | None], shape: tuple[int, ...]) -> np.ndarray:
    out = np.full((len(values), *shape), np.nan)
    for i, v in enumerate(values):
        if v is not None:
            out[i] = v
    return out


def image_results_arrays(preds) -> dict[str, np.ndarray]:
    """The NPZ arrays of a list of :class:`~handpose.inference.image.ImagePrediction`."""
    hands = [(i, h) for i, p in enumerate(preds) for h in p.hands]
    arrays: dict[str, np.ndarray] = {
        "files": np.array([p.source for p in preds], dtype=str),
        "image_size": np.array([p.image_size for p in preds], np.int64).reshape(-1, 2),
        "K": np.array([p.K for p in preds], np.float64).reshape(-1, 3, 3),
        "K_assumed": np.array([p.K_assumed for p in preds], bool),
        "hand_image": np.array([i for i, _ in hands], np.int64),
        "side": np.array([h.side for _, h in hands], dtype=str),
        "box": np.array([h.box for _, h in hands], np.float64).reshape(-1, 4),
        "crop": np.array([h.crop for _, h in hands], np.float64).reshape(-1, 3),
        "flipped": np.array([h.flipped for _, h in hands], bool),
        "joints3d": np.array([h.joints3d for _, h in hands], np.float64).reshape(-1, 21, 3),
        "joints2d": np.array([h.joints2d for _, h in hands], np.float64).reshape(-1, 21, 2),
    }
    verts = [h.vertices for _, h in hands]
    sizes = {v.shape[0] for v in verts if v is not None}
    if len(sizes) == 1:
        arrays["vertices"] = _stack(verts, (sizes.pop(), 3))
        arrays["mesh"] = np.array([h.mesh or "" for _, h in hands], dtype=str)
    manos = [h.mano for _, h in hands]
    if any(m is not None for m in manos):
        for key in ("global_orient", "hand_pose", "betas", "transl"):
            vals = [None if m is None else m.get(key) for m in manos]
            dims = {v.shape[0] for v in vals if v is not None}
            if len(dims) == 1:
                arrays[f"mano_{key}"] = _stack(vals, (dims.pop(),))
    return arrays


def write_image_results(
    preds,
    out_dir: str | os.PathLike,
    *,
    overlays: bool = True,
    vertices_in_json: bool = False,
    extra: dict[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, Path]:
    """Write ``predictions.json``, ``predictions.npz`` and ``overlays/*.png`` into ``out_dir``.

    Returns:
        name → path of what was written.
    """
    from PIL import Image
    from tqdm.auto import tqdm

    from handpose.inference.image import as_rgb
    from handpose.inference.overlay import draw_hands, hands_for_overlay
    from handpose.utils.io import atomic_path, atomic_write_text

    out = Path(out_dir)
    written: dict[str, Path] = {}
    if overlays:
        folder = out / "overlays"
        names = overlay_names([Path(p.source) for p in preds])
        for p, name in tqdm(
            list(zip(preds, names)), desc="overlays", unit="image", disable=not progress
        ):
            pic = draw_hands(as_rgb(p.source), hands_for_overlay(p.hands, p.K))
            with atomic_path(folder / name, suffix=".png") as tmp:
                Image.fromarray(pic).save(tmp, format="PNG")
        written["overlays"] = folder
    doc = {"format": "handpose-image-predictions", "format_version": 1, **(extra or {})}
    doc["images"] = [p.to_dict(vertices=vertices_in_json) for p in preds]
    atomic_write_text(out / "predictions.json", dumps_results(doc))
    written["json"] = out / "predictions.json"
    with atomic_path(out / "predictions.npz") as tmp:
        np.savez_compressed(tmp, **image_results_arrays(preds))
    written["npz"] = out / "predictions.npz"
    return written


def check_output_dir(out_dir: str | os.PathLike) -> Path:
    """An output folder that is a folder (or does not exist yet)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise HandposeError(f"the output '{out}' exists and is not a folder.")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise HandposeError(f"the output '{out}' cannot be created: '{probe}' is not a folder.")
    if not os.access(probe, os.W_OK):
        raise HandposeError(f"the output folder '{probe}' is not writable.")
    return out


def infer_image_files(
    estimator,
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    box: np.ndarray | None = None,
    boxes: str | os.PathLike | None = None,
    K: np.ndarray | None = None,
    fov_deg: float | None = None,
    side: str | None = None,
    overlays: bool = True,
    vertices_in_json: bool = False,
    progress: bool = False,
) -> tuple[list, dict[str, Path]]:
    """``handpose infer image``: every input image through ``estimator``, then the result files.

    Images are decoded and predicted in chunks of the estimator's batch size (memory stays
    bounded); every input is read and checked before anything is written.

    Args:
        estimator: an :class:`~handpose.inference.image.ImagePoseEstimator`.
        inputs: image files and folders.
        out_dir: the output folder.
        box: one box for every image; ``boxes``: a box table (exclusive with ``box``).
        K: intrinsics of every image, or None (assumed from ``fov_deg``).
        side: "left" / "right" for hands without a side in the table.
    Returns:
        (predictions, written paths).
    """
    from tqdm.auto import tqdm

    from handpose.inference.image import DEFAULT_FOV_DEG

    if box is not None and boxes is not None:
        raise HandposeError("give either --box or --boxes, not both.")
    out = check_output_dir(out_dir)
    files = list_images(inputs)
    table = read_box_table(boxes, "image") if boxes is not None else None
    jobs = []
    for path, root in files:
        if table is not None:
            bs, ss = table.for_image(path, root)
            if not bs:
                continue  # an empty entry skips the image
            ss = [s if s is not None else side for s in ss]
        else:
            bs, ss = (None if box is None else [box]), side
        jobs.append((path, bs, ss))
    if not jobs:
        raise HandposeError("every input image was skipped by the box table; nothing to do.")
    fov = DEFAULT_FOV_DEG if fov_deg is None else fov_deg
    preds = []
    chunk = max(1, estimator.batch_size)
    bar = tqdm(total=len(jobs), desc="images", unit="image", disable=not progress)
    for lo in range(0, len(jobs), chunk):
        part = jobs[lo : lo + chunk]
        preds.extend(
            estimator.predict_batch(
                [str(p) for p, _, _ in part],
                [b for _, b, _ in part],
                [K] * len(part),
                [s for _, _, s in part],
                fov_deg=fov,
            )
        )
        bar.update(len(part))
    bar.close()
    extra = {"model": estimator.describe()}
    written = write_image_results(
        preds,
        out,
        overlays=overlays,
        vertices_in_json=vertices_in_json,
        extra=extra,
        progress=progress,
    )
    return preds, written
