"""Video clips and windows of image samples for temporal models (PGTE), at a low resolution.

**Clips.** :func:`video_clips` groups the samples of a source into clips — one per
(sequence, view), frames in order:

- shard folders (``handpose synth images --kind video``, converted datasets): the ``sequence``
  string, ``frame`` and ``view`` of every sample are read straight from the shards' label
  tables (no image is decoded);
- real loaders with ``video_position(i) → (clip key, frame)`` (DexYCB, HanCo);
- anything else: every sample is read once (slow, but any schema source works).

**Windows.** :class:`VideoWindowDataset` returns windows of T consecutive frames of one clip,
each frame cropped to its hand with :class:`~handpose.datasets.image_dataset.ImageDataset`
(a square of ``pad`` × the per-frame label box, upsampled to S × S; K moved with the crop) and
reduced to the one hand of the clip (its valid slot; ``side`` 0 = right, 1 = left).

**Low resolution** (``level=px``): the frames are read at ladder level ``px`` (the long side of
the whole frame in pixels). Shard folders with that level stored read it directly; other
sources (real DexYCB / HanCo frames) are degraded the same way on the fly by
:class:`LowResolutionView` (:mod:`handpose.simulators.images.degrade`: optical blur, area
sampling, sensor noise, JPEG; one degradation per clip, fresh noise per frame, deterministic in
``seed``). A frame whose long side is not a multiple of the level is first trimmed
symmetrically to the nearest multiple of the factor (K shifted accordingly).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from handpose.errors import HandposeError

__all__ = [
    "Clip",
    "video_clips",
    "window_starts_for_clip",
    "VideoWindowDataset",
    "LowResolutionView",
    "degrade_frame",
    "open_video_source",
]


@dataclass(frozen=True)
class Clip:
    """One video: ``key`` (sequence, view), the source ``indices`` of its frames in order, and
    their ``frames`` numbers."""

    key: tuple
    indices: np.ndarray
    frames: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)


def _shard_positions(split) -> list[tuple[tuple, int]]:
    """(clip key, frame) of every sample of a :class:`ShardSplit`, from the label tables."""
    shards = split.shards
    files, bounds = shards._index[split.name]
    out: list[tuple[tuple, int]] = []
    for i, name in enumerate(files):
        f = shards._file(name)["file"]
        labels = f["labels"]
        n = int(bounds[i + 1] - bounds[i])
        frame = np.asarray(labels["frame"]) if "frame" in labels.dtype.names else np.arange(n)
        view = np.asarray(labels["view"]) if "view" in labels.dtype.names else np.zeros(n)
        seq = f["sequence"][:] if "sequence" in f else [b""] * n
        for j in range(n):
            s = seq[j].decode("utf-8") if isinstance(seq[j], bytes) else str(seq[j])
            out.append(((s, int(view[j])), int(frame[j])))
    return out


def video_clips(source) -> list[Clip]:
    """The clips of a source of schema samples (module docstring), in order of first sample."""
    from handpose.formats.shards import ShardSplit

    base = source.source if isinstance(source, LowResolutionView) else source
    if isinstance(base, ShardSplit):
        positions = _shard_positions(base)
    elif hasattr(base, "video_position"):
        positions = [base.video_position(i) for i in range(len(base))]
    else:
        positions = []
        for i in range(len(base)):
            s = base[i]
            positions.append(
                ((str(s.get("sequence", "")), int(s.get("view", 0))), int(s.get("frame", i)))
            )
    groups: dict[tuple, list[tuple[int, int]]] = {}
    for i, (key, frame) in enumerate(positions):
        groups.setdefault(key, []).append((frame, i))
    clips = []
    for key, items in groups.items():
        items.sort()
        clips.append(
            Clip(key, np.array([i for _, i in items], np.int64), np.array([f for f, _ in items]))
        )
    return clips


def window_starts_for_clip(length: int, window: int, stride: int) -> list[int]:
    """Window starts 0, stride, … with the last window ending at the clip's last frame (one
    window from 0 when the clip is shorter than ``window``)."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


# ----------------------------------------------------------------------------- low resolution


def degrade_frame(
    sample: dict[str, Any], px: int, degradation, rng: np.random.Generator
) -> dict[str, Any]:
    """A sample at ladder level ``px`` (long side), made like the synthetic ladder.

    The factor is ``f = ⌊max(H, W)/px⌋``; the frame is trimmed symmetrically to multiples of f
    (K's principal point shifted by the trimmed margin), then blurred, area-sampled, noised and
    JPEG-compressed (:func:`handpose.simulators.images.degrade.degrade_image`); K, joints2d,
    bbox and mask follow (:func:`level_intrinsics`, :func:`level_points`,
    :func:`mode_downsample`). 3D labels are unchanged.
    """
    from handpose.render.camera import project
    from handpose.simulators.images.degrade import (
        degrade_image,
        level_intrinsics,
        level_points,
        mode_downsample,
    )

    img = sample["image"]
    H, W = img.shape[:2]
    f = max(H, W) // int(px)
    if f < 1:
        raise HandposeError(f"level {px} px is larger than the {W}×{H} frame.")
    h2, w2 = (H // f) * f, (W // f) * f
    y0, x0 = (H - h2) // 2, (W - w2) // 2
    out = dict(sample)
    K = np.asarray(sample["K"], np.float64).copy()
    K[0, 2] -= x0
    K[1, 2] -= y0
    K = level_intrinsics(K, f)
    out["image"] = degrade_image(img[y0 : y0 + h2, x0 : x0 + w2], f, degradation, rng)
    out["K"] = K.astype(np.float32)
    j2 = np.zeros(np.shape(sample["joints2d"]), np.float32)
    for k in np.flatnonzero(sample["hand_valid"]):
        j2[k] = project(np.asarray(sample["joints3d"][k], np.float64), K)
    out["joints2d"] = j2
    b = np.asarray(sample["bbox"], np.float64) - np.array([x0, y0, x0, y0])
    hh, ww = h2 // f, w2 // f
    lo = np.clip(level_points(b[:2], f), -0.5, [ww - 0.5, hh - 0.5])
    hi = np.clip(level_points(b[2:], f), -0.5, [ww - 0.5, hh - 0.5])
    out["bbox"] = np.concatenate([lo, np.maximum(hi, lo)]).astype(np.float32)
    if "mask" in sample:
        out["mask"] = mode_downsample(np.asarray(sample["mask"])[y0 : y0 + h2, x0 : x0 + w2], f)
    return out


def _seed(*parts) -> int:
    return zlib.crc32(repr(parts).encode())


class LowResolutionView:
    """A source of schema samples seen at ladder level ``px`` (:func:`degrade_frame`).

    One random degradation (:func:`~handpose.simulators.images.degrade.sample_degradation`)
    per clip key (a camera property, as in the synthetic ladder), fresh noise per sample; all
    draws are seeded by (``seed``, px, clip key / index), so a sample always looks the same.
    """

    def __init__(self, source, px: int, seed: int = 0) -> None:
        self.source, self.px, self.seed = source, int(px), int(seed)
        self.meta = dict(getattr(source, "meta", {}))
        self.meta["level"] = self.px

    def __len__(self) -> int:
        return len(self.source)

    def _key(self, index: int):
        if hasattr(self.source, "video_position"):
            return self.source.video_position(index)[0]
        if hasattr(self.source, "sequence_key"):
            return self.source.sequence_key(index)
        return index

    def __getitem__(self, index: int) -> dict[str, Any]:
        from handpose.simulators.images.degrade import sample_degradation

        s = self.source[index]
        deg = sample_degradation(np.random.default_rng(_seed(self.seed, self.px, self._key(index))))
        rng = np.random.default_rng(_seed(self.seed, self.px, "noise", int(index)))
        return degrade_frame(s, self.px, deg, rng)


def open_video_source(data: str, split: str, level: int | None, seed: int = 0):
    """A source string's split at ladder level ``level``: the stored level of a shard folder
    when it has it, else the frames degraded on the fly (:class:`LowResolutionView`)."""
    from handpose.datasets.sources import open_source
    from handpose.formats.shards import ShardSplit

    src = open_source(str(data), split)
    kind = getattr(src, "meta", {}).get("kind")
    if kind is not None and kind != "video":
        raise HandposeError(
            f"'{data}' holds {kind} images, not video clips; give a video source (a video shard "
            "folder, dexycb or hanco)."
        )
    if level is None:
        return src
    if isinstance(src, ShardSplit) and int(level) in src.shards.levels:
        return src.shards.split(split, int(level))
    return LowResolutionView(src, int(level), seed)


# ----------------------------------------------------------------------------- windows


def _read_level_only(split, index: int) -> dict[str, Any]:
    """Sample ``index`` of a :class:`ShardSplit` at its level: the main label table and the
    level's group, skipping the main image and mask (which the level replaces; decoding a
    full-size frame costs more than everything else a small model's step reads)."""
    from handpose.formats.shards import _read_sample

    shards = split.shards
    files, bounds = shards._index[split.name]
    s = int(np.searchsorted(bounds, index, side="right") - 1)
    j = int(index) - int(bounds[s])
    h = shards._file(files[s])
    where = f"{shards.root / files[s]} sample {j}"
    main = {"table": h["main"]["table"], "fields": h["main"]["fields"],
            "columns": {k: v for k, v in h["main"]["columns"].items() if k not in ("image", "mask")}}  # fmt: skip
    out = _read_sample(main, j, where)
    out.update(_read_sample(h["levels"][int(split.level)], j, where))
    return out


def _hand_slot(hand_valid: np.ndarray) -> int:
    valid = np.flatnonzero(np.asarray(hand_valid))
    return int(valid[0]) if len(valid) else 0


class VideoWindowDataset(torch.utils.data.Dataset):
    """Windows of T frames of one clip, cropped to the hand and resized (module docstring).

    Args:
        source: a sequence of schema samples (e.g. :func:`open_video_source`), or a source
            string (then ``split`` and ``level`` are used).
        window: T.
        stride: frames between window starts (default T: non-overlapping).
        size: crop side S.
        pad, min_side: crop box enlargement and smallest side (source pixels), as
            :class:`~handpose.datasets.image_dataset.ImageDataset`.
        split, level, seed: for source strings.
        clips: restrict to the first N clips (None: all).
        cache: keep every prepared frame in memory after its first read (a 64-px frame with a
            1379-vertex mesh is about 66 kB; the shard reader decodes the full-size image too,
            so reading is the slow part of a small model's training step).

    Item (tensors, float32 unless noted): ``image`` (T, 3, S, S) in [0, 1], ``K`` (T, 3, 3),
    ``joints3d`` (T, 21, 3), ``joints2d`` (T, 21, 2) crop pixels, ``vertices`` (T, V, 3) if the
    source has them, ``joint_valid`` (T, 21) bool, ``valid`` (T,) bool (the clip's hand is in
    the frame), ``bbox`` (T, 4) crop pixels, ``side`` () int64, ``frame`` (T,) int64, and
    ``clip`` () int64 (index into :attr:`clips`).
    """

    def __init__(
        self,
        source,
        window: int,
        stride: int | None = None,
        size: int = 64,
        *,
        pad: float = 1.3,
        min_side: int = 8,
        split: str | None = None,
        level: int | None = None,
        seed: int = 0,
        clips: int | None = None,
        cache: bool = False,
    ) -> None:
        from handpose.datasets.image_dataset import ImageDataset

        if isinstance(source, str):
            source = open_video_source(source, split or "train", level, seed)
        if int(window) < 1:
            raise HandposeError(f"window must be ≥ 1, got {window}.")
        self.source = source
        self.window = int(window)
        self.stride = int(stride or window)
        if self.stride < 1:
            raise HandposeError(f"stride must be ≥ 1, got {stride}.")
        self.crop = ImageDataset(source, size, pad=pad, min_side=min_side)
        self.size = int(size)
        self.clips = video_clips(source)[:clips] if clips else video_clips(source)
        if not self.clips:
            raise HandposeError("the video source has no samples.")
        self.items = [
            (c, s)
            for c, clip in enumerate(self.clips)
            for s in window_starts_for_clip(len(clip), self.window, self.stride)
        ]
        self.meta = dict(getattr(source, "meta", {}))
        self.cache = bool(cache)
        self._frames: dict[tuple[int, int], dict[str, Any]] = {}
        self._slots: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.items)

    def clip_slot(self, clip: int) -> int:
        """The hand slot of a clip (the valid slot of its first frame; 1 = left)."""
        clip = int(clip)
        if clip not in self._slots:
            first = self.crop.source[int(self.clips[clip].indices[0])]
            self._slots[clip] = _hand_slot(first["hand_valid"])
        return self._slots[clip]

    def frame(self, index: int, slot: int | None = None) -> dict[str, Any]:
        """One cropped frame (source index), reduced to hand ``slot`` (default: its valid one)."""
        key = (int(index), -1 if slot is None else int(slot))
        if key in self._frames:
            return self._frames[key]
        out = self._frame(int(index), slot)
        if self.cache:
            self._frames[key] = out
        return out

    def _read(self, index: int) -> dict[str, Any]:
        """The schema sample; from a shard level without decoding the full-size image."""
        from handpose.formats.shards import ShardSplit

        src = self.crop.source
        if isinstance(src, ShardSplit) and src.level is not None:
            return _read_level_only(src, index)
        return src[index]

    def _frame(self, index: int, slot: int | None) -> dict[str, Any]:
        s = self.crop.prepare(self._read(index))
        k = _hand_slot(s["hand_valid"].numpy()) if slot is None else int(slot)
        valid = bool(s["hand_valid"][k])
        out = {
            "image": s["image"],
            "K": s["K"],
            "joints3d": s["joints3d"][k].float(),
            "joints2d": s["joints2d"][k].float(),
            "joint_valid": s["joint_valid"][k].bool() & valid,
            "valid": torch.tensor(valid),
            "bbox": s["bbox"],
            "frame": torch.as_tensor(s.get("frame", index)).long().reshape(()),
        }
        if "vertices" in s:
            out["vertices"] = s["vertices"][k].float()
        return out

    def clip_frames(self, clip: int, start: int = 0, length: int | None = None) -> dict[str, Any]:
        """Frames ``start … start + length − 1`` of clip ``clip`` stacked (T, ...), one hand."""
        c = self.clips[int(clip)]
        idx = c.indices[start : None if length is None else start + length]
        slot = self.clip_slot(clip)
        frames = [self.frame(int(i), slot) for i in idx]
        out = {k: torch.stack([f[k] for f in frames]) for k in frames[0]}
        out["side"] = torch.tensor(slot, dtype=torch.int64)
        out["clip"] = torch.tensor(int(clip), dtype=torch.int64)
        return out

    def __getitem__(self, index: int) -> dict[str, Any]:
        c, s = self.items[int(index)]
        return self.clip_frames(c, s, self.window)


def collate_windows(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack windows (all of the same T) into (B, T, ...) and ImageNet-normalise ``image``."""
    from handpose.datasets.image_dataset import normalize_image

    out = {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
    out["image"] = normalize_image(out["image"])
    return out
