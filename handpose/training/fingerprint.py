"""Fingerprints of training data and checkpoints: short content hashes recorded in checkpoints
and used as feature-cache keys.

- A **file** (an IMU HDF5 file, a checkpoint): SHA-256 of its bytes.
- A **shard folder** (``manifest.json``, :mod:`handpose.formats.shards`): SHA-256 over the
  manifest's bytes and, for every shard file it lists, the file's name and the SHA-256 of its
  bytes. Regenerating, adding, removing or editing a shard changes it; copying the folder does
  not.
- A **real dataset** source string (``freihand:/data/FreiHAND:training``) or any other folder:
  SHA-256 over the source string and every file's relative path, size and modification time
  under the root (a metadata fingerprint: the raw datasets are too large to read in full at
  every start).

Results are memoised per process by (path, size, mtime) so that repeated calls are free.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from handpose.errors import HandposeError

__all__ = ["file_sha256", "data_fingerprint", "FINGERPRINT_LENGTH"]

FINGERPRINT_LENGTH = 16  # hex digits kept (64 bits)
_CHUNK = 1 << 20
_MEMO: dict[tuple, str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """Full hex SHA-256 of a file's bytes (memoised by path, size and mtime)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        raise HandposeError(f"'{p}' does not exist.") from None
    key = ("file", str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _MEMO:
        h = hashlib.sha256()
        with p.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        _MEMO[key] = h.hexdigest()
    return _MEMO[key]


def _shard_folder(root: Path) -> str:
    manifest = root / "manifest.json"
    raw = manifest.read_bytes()
    try:
        splits = json.loads(raw).get("splits", {})
    except (json.JSONDecodeError, AttributeError):
        raise HandposeError(f"'{manifest}' is not a valid shard manifest.") from None
    h = hashlib.sha256(raw)
    for split in sorted(splits):
        for entry in splits[split]:
            name = str(entry.get("file", ""))
            h.update(name.encode())
            h.update(file_sha256(root / name).encode())
    return h.hexdigest()


def _folder_listing(root: Path, label: str) -> str:
    h = hashlib.sha256(label.encode())
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            st = p.stat()
            h.update(f"{p.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def data_fingerprint(data: str | os.PathLike) -> str:
    """A short (16 hex digits) fingerprint of a training data argument (see the module
    docstring): a file, a shard folder (``PATH[:SPLIT]``: the split suffix is ignored) or a
    real-dataset source string ``NAME:ROOT[:SPLIT]``."""
    text = str(data)
    p = Path(text)
    if p.is_file():
        return file_sha256(p)[:FINGERPRINT_LENGTH]
    if p.is_dir():
        if (p / "manifest.json").is_file():
            return _shard_folder(p)[:FINGERPRINT_LENGTH]
        return _folder_listing(p, "")[:FINGERPRINT_LENGTH]
    from handpose.datasets.sources import parse_source

    parsed = parse_source(text)
    root = Path(parsed[1])
    if not root.exists():
        raise HandposeError(f"data '{text}' does not exist.")
    if root.is_file():
        return file_sha256(root)[:FINGERPRINT_LENGTH]
    if (root / "manifest.json").is_file():
        return _shard_folder(root)[:FINGERPRINT_LENGTH]
    return _folder_listing(root, f"{parsed[0]}:")[:FINGERPRINT_LENGTH]
