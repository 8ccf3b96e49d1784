"""Sharded HDF5 storage for image samples (the schema of :mod:`handpose.formats.sample`).

Layout::

    ROOT/manifest.json        {"format": "handpose-images", "format_version": 1, "kind": ...,
                               "meta": {...}, "generator": {...config, seed...},
                               "levels": [256, 128, ...], "keys": {split: [schema keys]},
                               "splits": {"train": [{"file": "train-00000.h5", "count": N}]}}
    ROOT/<split>-<nnnnn>.h5   one shard (attrs: format "handpose-images-shard", format_version,
                              count, keys, encoding, levels)
        labels                (N,) compound       every other schema key as a named field
                                                  (``f["labels"]["joints3d"]`` is (N, 2, 21, 3)):
                                                  one read per sample for all labels
        image                 (N,) vlen uint8     encoded RGB (PNG lossless, or JPEG)
        mask                  (N,) vlen uint8     encoded PNG, always lossless (optional key)
        sequence              (N,) vlen str
        extra_<name>          (N, ...)            extra arrays, gzip, one chunk per sample
        levels/<px>/labels    (N,) compound       the low-resolution ladder: that level's K,
                                                  joints2d, bbox
        levels/<px>/image, [mask]                 that level's encoded image (and mask)

``<px>`` is the long side of the level's image. (The design note's ``images/<px>``, ``K/<px>``
naming is refined to ``levels/<px>/...`` because a group ``K`` cannot sit beside the dataset
``K``.) A reader picks a level; the level's ``image``, ``K``, ``joints2d``, ``bbox`` and ``mask``
replace the full-size ones and everything else (3D labels, ``capture_hw``) is shared.

Writing: :class:`ShardWriter` buffers one shard's samples (validated) and writes the file
atomically on close (temp + rename, no timestamps: same arrays → same bytes). After all shards,
:func:`write_manifest` scans ROOT and writes ``manifest.json`` last. An interrupted generation
resumes by skipping shards for which :func:`is_complete` is true.

Reading: :func:`open_shards` → :class:`ShardSet` with ``.meta``, ``.manifest``, ``.levels``,
``len()`` (all splits), ``num_samples(split)``, random access ``get(split, index, level=None)``
(also ``shards[split, index]``) and ``split(name, level=None)``, a sequence view for a torch
``Dataset``. HDF5 handles are opened lazily per process, so a ShardSet can go to DataLoader
workers (fork or spawn). Every read problem raises :class:`~handpose.errors.HandposeError`
naming the file (and index / field).

Example:
    >>> with ShardWriter(shard_path("out", "train", 0)) as w:  # doctest: +SKIP
    ...     for s in samples:
    ...         w.add(s)
    >>> write_manifest("out", kind="single", meta=dataset_meta("synthetic", "single"))  # doctest: +SKIP
    >>> ds = open_shards("out")  # doctest: +SKIP
    >>> ds.get("train", 0)["image"].shape  # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from handpose.errors import HandposeError
from handpose.formats.sample import FIELDS, validate_sample
from handpose.utils.io import atomic_path, atomic_write_text

__all__ = [
    "FORMAT",
    "SHARD_FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "LEVEL_KEYS",
    "ShardWriter",
    "ShardSet",
    "ShardSplit",
    "shard_path",
    "is_complete",
    "write_manifest",
    "open_shards",
    "encode_image",
    "decode_image",
]

FORMAT = "handpose-images"
SHARD_FORMAT = "handpose-images-shard"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
LEVEL_KEYS = ("image", "K", "joints2d", "bbox", "mask")
_ENCODED = ("image", "mask")
_TABLE = "labels"
_SHARD_RE = re.compile(r"^(?P<split>[A-Za-z0-9_]+)-(?P<index>\d{5})\.h5$")


def shard_path(root: str | os.PathLike, split: str, index: int) -> Path:
    """``ROOT/<split>-<nnnnn>.h5``."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", split):
        raise HandposeError(f"split name {split!r} must be letters, digits or '_'.")
    return Path(root) / f"{split}-{int(index):05d}.h5"


# --- image encoding ---------------------------------------------------------------------------


def encode_image(image: np.ndarray, encoding: str = "png", quality: int = 95) -> np.ndarray:
    """Encode an (H, W, 3) or (H, W) uint8 image as PNG or JPEG bytes (uint8 array)."""
    from PIL import Image

    pil = Image.fromarray(np.ascontiguousarray(image))
    buf = io.BytesIO()
    if encoding == "png":
        pil.save(buf, format="PNG", compress_level=4)
    elif encoding == "jpeg":
        pil.save(buf, format="JPEG", quality=int(quality))
    else:
        raise HandposeError(f"image encoding must be 'png' or 'jpeg', got {encoding!r}.")
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def decode_image(data: np.ndarray | bytes, channels: int = 3) -> np.ndarray:
    """Decode PNG/JPEG bytes to (H, W, 3) uint8 (``channels=3``) or (H, W) (``channels=1``)."""
    from PIL import Image

    mode = "RGB" if channels == 3 else "L"
    with Image.open(io.BytesIO(np.asarray(data, dtype=np.uint8).tobytes())) as im:
        if im.mode != mode:
            im = im.convert(mode)
        return np.asarray(im)


# --- writing ----------------------------------------------------------------------------------


class ShardWriter:
    """Collects validated samples for one shard; writes ``path`` atomically on :meth:`close`.

    Args:
        path: the shard file (use :func:`shard_path`).
        encoding: "png" (lossless, default) or "jpeg" for ``image`` (masks are always PNG).
        quality: JPEG quality.
        attrs: extra JSON-serialisable shard attributes (e.g. generator seed of the shard).

    Use as a context manager: on an exception inside the block nothing is written. Every sample
    of a shard has the same keys and the same ladder levels.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        encoding: str = "png",
        quality: int = 95,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        if encoding not in ("png", "jpeg"):
            raise HandposeError(f"image encoding must be 'png' or 'jpeg', got {encoding!r}.")
        self.path = Path(path)
        self.encoding = encoding
        self.quality = int(quality)
        self.attrs = dict(attrs or {})
        self._rows: list[dict[str, Any]] = []
        self._keys: tuple[str, ...] | None = None
        self._levels: tuple[int, ...] | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._rows)

    def add(
        self, sample: Mapping[str, Any], levels: Mapping[int, Mapping[str, Any]] | None = None
    ) -> None:
        """Validate and buffer one sample (images are encoded now).

        Args:
            sample: a schema sample (full-size image).
            levels: optional low-resolution ladder ``{px: {"image", "K", "joints2d", "bbox",
                ["mask"]}}``; ``px`` is the long side of that level's image.
        """
        i = len(self._rows)
        where = f"{self.path.name} sample {i}"
        validate_sample(sample, where)
        keys = tuple(sorted(sample.keys()))
        if self._keys is not None and keys != self._keys:
            diff = sorted(set(keys) ^ set(self._keys))
            raise HandposeError(f"{where}: keys differ from the shard's first sample in {diff}.")
        lv = tuple(sorted(int(p) for p in (levels or {})))
        if self._levels is not None and lv != self._levels:
            raise HandposeError(
                f"{where}: ladder levels {list(lv)} differ from the shard's {list(self._levels)}."
            )
        row: dict[str, Any] = {}
        for k, v in sample.items():
            if k == "image":
                row[k] = encode_image(v, self.encoding, self.quality)
            elif k == "mask":
                row[k] = encode_image(v, "png")
            elif k == "sequence":
                row[k] = str(v)
            else:
                row[k] = np.array(v, copy=True)
        for px in lv:
            row[("levels", px)] = self._level(sample, levels[px], px, where)
        self._keys, self._levels = keys, lv  # a rejected sample changes nothing
        self._rows.append(row)

    def _level(self, sample, level: Mapping[str, Any], px: int, where: str) -> dict[str, Any]:
        w = f"{where} level {px}"
        want = {"image", "K", "joints2d", "bbox"} | ({"mask"} if "mask" in sample else set())
        if set(level) != want:
            raise HandposeError(f"{w}: needs exactly the keys {sorted(want)}, got {sorted(level)}.")
        # Validate the level as a sample of its own (shared keys from the full-size sample).
        as_sample = {**sample, **level}
        validate_sample(as_sample, w)
        h, wd = level["image"].shape[:2]
        if max(h, wd) != px:
            raise HandposeError(f"{w}: field 'image' is {h}x{wd}, its long side must be {px}.")
        out = {
            "image": encode_image(level["image"], self.encoding, self.quality),
            "K": np.array(level["K"]),
            "joints2d": np.array(level["joints2d"]),
            "bbox": np.array(level["bbox"]),
        }
        if "mask" in level:
            out["mask"] = encode_image(level["mask"], "png")
        return out

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._closed = True  # discard: nothing is written

    def close(self) -> None:
        """Write the shard atomically (an empty writer writes nothing)."""
        if self._closed:
            return
        self._closed = True
        if not self._rows:
            return
        import h5py

        n = len(self._rows)
        keys = self._keys or ()
        with atomic_path(self.path) as tmp:
            with h5py.File(tmp, "w", track_order=False) as f:
                f.attrs["format"] = SHARD_FORMAT
                f.attrs["format_version"] = FORMAT_VERSION
                f.attrs["count"] = n
                f.attrs["keys"] = json.dumps(list(keys))
                f.attrs["encoding"] = self.encoding
                f.attrs["levels"] = json.dumps(list(self._levels or ()))
                for k, v in sorted(self.attrs.items()):
                    f.attrs[k] = json.dumps(v)
                _write_group(f, keys, self._rows)
                for px in self._levels or ():
                    g = f.create_group(f"levels/{px}", track_order=False)
                    rows = [r[("levels", px)] for r in self._rows]
                    _write_group(g, sorted(rows[0]), rows)
        self._rows = []


def _is_table_key(k: str) -> bool:
    return k not in _ENCODED and k != "sequence" and not k.startswith("extra_")


def _write_group(group, keys, rows: list[dict[str, Any]]) -> None:
    """Plain keys → one compound table ``labels`` (one read per sample); the rest → columns."""
    table = [k for k in keys if _is_table_key(k)]
    if table:
        cols = {k: np.stack([np.asarray(r[k]) for r in rows]) for k in table}
        dt = np.dtype([(k, cols[k].dtype, cols[k].shape[1:]) for k in table])
        data = np.empty(len(rows), dtype=dt)
        for k in table:
            data[k] = cols[k]
        group.create_dataset(_TABLE, data=data, track_times=False)
    for k in keys:
        if not _is_table_key(k):
            _write_column(group, k, [r[k] for r in rows])


def _write_column(group, name: str, values: list[Any]) -> None:
    import h5py

    kw: dict[str, Any] = {"track_times": False}
    if name in _ENCODED:
        ds = group.create_dataset(name, (len(values),), dtype=h5py.vlen_dtype(np.uint8), **kw)
        for i, v in enumerate(values):
            ds[i] = v
    elif name == "sequence":
        dt = h5py.string_dtype("utf-8")
        group.create_dataset(name, data=np.array(values, dtype=object), dtype=dt, **kw)
    else:
        data = np.stack(values)
        if name.startswith("extra_"):
            kw.update(chunks=(1,) + data.shape[1:], compression="gzip", compression_opts=4)
        group.create_dataset(name, data=data, **kw)


def is_complete(path: str | os.PathLike) -> bool:
    """True when ``path`` is a readable, complete shard (resume skips it).

    Shards are written atomically, so a file that exists is normally complete; this also opens
    it and checks the format and that every column has ``count`` rows.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != SHARD_FORMAT:
                return False
            n = int(f.attrs["count"])
            keys = json.loads(f.attrs["keys"])
            names = [_TABLE if _is_table_key(k) else k for k in keys]
            if any(k not in f or len(f[k]) != n for k in names):
                return False
            for px in json.loads(f.attrs["levels"]):
                g = f.get(f"levels/{px}")
                if g is None or any(len(g[k]) != n for k in g):
                    return False
    except (OSError, KeyError, ValueError):
        return False
    return True


def _shard_info(path: Path) -> dict[str, Any]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != SHARD_FORMAT:
                raise HandposeError(f"'{path}' is not a handpose image shard.")
            return {
                "count": int(f.attrs["count"]),
                "levels": json.loads(f.attrs["levels"]),
                "keys": json.loads(f.attrs["keys"]),
            }
    except (OSError, KeyError, ValueError) as err:
        raise HandposeError(f"the shard '{path}' is unreadable or corrupt ({err}).") from err


def write_manifest(
    root: str | os.PathLike,
    *,
    kind: str,
    meta: Mapping[str, Any],
    generator: Mapping[str, Any] | None = None,
) -> Path:
    """Scan ``ROOT/<split>-<nnnnn>.h5`` and write ``ROOT/manifest.json`` (atomically, last).

    Every shard must be complete; all shards share the ladder levels and, within a split, the
    keys (splits may differ, e.g. masks only for training).

    Returns:
        the manifest path.
    """
    root = Path(root)
    splits: dict[str, list[dict[str, Any]]] = {}
    levels: list[int] | None = None
    keys: dict[str, list[str]] = {}
    for p in sorted(root.iterdir()) if root.is_dir() else []:
        m = _SHARD_RE.match(p.name)
        if not m:
            continue
        info = _shard_info(p)
        if levels is None:
            levels = info["levels"]
        elif info["levels"] != levels:
            raise HandposeError(f"the shard '{p}' has other ladder levels than the rest.")
        if keys.setdefault(m["split"], info["keys"]) != info["keys"]:
            raise HandposeError(f"the shard '{p}' has other keys than the rest of its split.")
        splits.setdefault(m["split"], []).append({"file": p.name, "count": info["count"]})
    if not splits:
        raise HandposeError(f"no shards (<split>-<nnnnn>.h5) in '{root}'.")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "meta": dict(meta),
        "generator": dict(generator or {}),
        "levels": levels or [],
        "keys": keys,
        "splits": splits,
    }
    path = root / MANIFEST
    atomic_write_text(path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return path


# --- reading ----------------------------------------------------------------------------------


class ShardSplit:
    """A sequence view of one split (``len``, ``[i]``): what a torch ``Dataset`` wraps."""

    def __init__(self, shards: ShardSet, split: str, level: int | None = None) -> None:
        self.shards, self.name, self.level = shards, split, level
        shards.num_samples(split)  # raises for an unknown split
        if level is not None:
            shards._check_level(level)

    def __len__(self) -> int:
        return self.shards.num_samples(self.name)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.shards.get(self.name, index, self.level)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self[i]

    @property
    def meta(self) -> dict[str, Any]:
        return self.shards.meta


class ShardSet:
    """Read access to a shard root (use :func:`open_shards`)."""

    def __init__(self, root: str | os.PathLike, *, validate: bool = True) -> None:
        root = Path(root)
        if not root.is_dir():
            raise HandposeError(f"the dataset root '{root}' does not exist.")
        mpath = root / MANIFEST
        if not mpath.is_file():
            raise HandposeError(
                f"'{mpath}' is missing (not a handpose image folder, or generation did not finish)."
            )
        try:
            manifest = json.loads(mpath.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise HandposeError(f"'{mpath}' is not valid JSON ({err}).") from err
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise HandposeError(f"'{mpath}' is not a handpose image manifest (format != {FORMAT}).")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise HandposeError(
                f"'{mpath}' has format_version {manifest.get('format_version')!r}; this handpose "
                f"reads version {FORMAT_VERSION}."
            )
        splits = manifest.get("splits")
        if not isinstance(splits, dict) or not splits:
            raise HandposeError(f"'{mpath}': field 'splits' is missing or empty.")
        self.root = root
        self.manifest = manifest
        self.validate = validate
        self._index: dict[str, tuple[list[str], np.ndarray]] = {}
        for name, entries in splits.items():
            try:
                files = [str(e["file"]) for e in entries]
                counts = np.array([int(e["count"]) for e in entries], dtype=np.int64)
            except (TypeError, KeyError, ValueError) as err:
                raise HandposeError(f"'{mpath}': field 'splits.{name}' is malformed.") from err
            for fn in files:
                if not (root / fn).is_file():
                    raise HandposeError(f"the shard '{root / fn}' listed in '{mpath}' is missing.")
            self._index[name] = (files, np.concatenate([[0], np.cumsum(counts)]))
        self._handles: dict[str, Any] = {}
        self._pid = os.getpid()

    # pickling for DataLoader workers (spawn): drop open handles
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handles"] = {}
        return state

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self.manifest.get("meta", {}))

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind", ""))

    @property
    def levels(self) -> list[int]:
        """Ladder levels (long side in px) stored besides the full-size image."""
        return [int(p) for p in self.manifest.get("levels", [])]

    @property
    def splits(self) -> list[str]:
        return list(self._index)

    def num_samples(self, split: str) -> int:
        if split not in self._index:
            raise HandposeError(
                f"no split {split!r} in '{self.root}' (splits: {', '.join(self._index)})."
            )
        return int(self._index[split][1][-1])

    def __len__(self) -> int:
        return sum(int(b[-1]) for _, b in self._index.values())

    def split(self, name: str, level: int | None = None) -> ShardSplit:
        return ShardSplit(self, name, level)

    def _check_level(self, level: int) -> None:
        if int(level) not in self.levels:
            raise HandposeError(
                f"no ladder level {level} in '{self.root}' (levels: {self.levels or 'none'})."
            )

    def _file(self, name: str):
        import h5py

        if os.getpid() != self._pid:  # forked worker: never share HDF5 handles across processes
            self._handles, self._pid = {}, os.getpid()
        h = self._handles.get(name)
        if h is None:
            path = self.root / name
            try:
                f = h5py.File(path, "r")
            except OSError as err:
                raise HandposeError(
                    f"the shard '{path}' is unreadable or corrupt ({err})."
                ) from err
            if f.attrs.get("format") != SHARD_FORMAT:
                f.close()
                raise HandposeError(f"'{path}' is not a handpose image shard.")
            try:  # dataset handles, looked up once per file
                h = {"file": f, "main": _handles(f), "levels": {}}
                for px in json.loads(f.attrs["levels"]):
                    h["levels"][int(px)] = _handles(f[f"levels/{px}"])
            except Exception as err:
                f.close()
                raise HandposeError(
                    f"the shard '{path}' is unreadable or corrupt ({err})."
                ) from err
            self._handles[name] = h
        return h

    def __getitem__(self, key: tuple[str, int]) -> dict[str, Any]:
        split, index = key
        return self.get(split, index)

    def get(self, split: str, index: int, level: int | None = None) -> dict[str, Any]:
        """Sample ``index`` of ``split`` (numpy arrays), at ladder level ``level`` (px) if given."""
        n = self.num_samples(split)
        if not -n <= int(index) < n:
            raise HandposeError(f"index {index} is out of range for split {split!r} ({n} samples).")
        index = int(index) % n
        files, bounds = self._index[split]
        s = int(np.searchsorted(bounds, index, side="right") - 1)
        j = index - int(bounds[s])
        if level is not None:
            self._check_level(level)
        path = self.root / files[s]
        where = f"{path} sample {j}"
        h = self._file(files[s])
        try:
            out = _read_sample(h["main"], j, where)
            if level is not None:
                out.update(_read_sample(h["levels"][int(level)], j, where))
        except HandposeError:
            raise
        except Exception as err:  # h5py raises OSError/KeyError/ValueError/RuntimeError
            raise HandposeError(f"{where}: cannot be read, the shard is corrupt ({err}).") from err
        if self.validate:
            validate_sample(out, where)
        return out

    def close(self) -> None:
        for h in self._handles.values():
            h["file"].close()
        self._handles = {}

    def __enter__(self) -> ShardSet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _handles(group) -> dict[str, Any]:
    """{"table": the labels dataset or None, "fields": its keys, "columns": {key: dataset}}."""
    import h5py

    table = group.get(_TABLE)
    return {
        "table": table,
        "fields": list(table.dtype.names) if table is not None else [],
        "columns": {k: v for k, v in group.items() if k != _TABLE and isinstance(v, h5py.Dataset)},
    }


def _read_sample(h: dict[str, Any], j: int, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if h["table"] is not None:
        row = h["table"][j]
        for k in h["fields"]:
            f = FIELDS.get(k)
            out[k] = np.array(row[k], dtype=f.dtype if f is not None and f.dtype != "str" else None)
    for k, ds in h["columns"].items():
        v = ds[j]
        if k in _ENCODED:
            try:
                out[k] = decode_image(v, 3 if k == "image" else 1)
            except Exception as err:  # PIL: UnidentifiedImageError / OSError / SyntaxError
                raise HandposeError(
                    f"{where}: field '{k}' is not a decodable image ({err})."
                ) from err
        elif k == "sequence":
            out[k] = v.decode("utf-8") if isinstance(v, bytes) else str(v)
        else:
            out[k] = np.asarray(v)
    return out


def open_shards(root: str | os.PathLike, *, validate: bool = True) -> ShardSet:
    """Open a shard root written by :class:`ShardWriter` + :func:`write_manifest`.

    Args:
        root: the folder with ``manifest.json``.
        validate: check every sample read against the schema (cheap next to image decoding).
    """
    return ShardSet(root, validate=validate)
