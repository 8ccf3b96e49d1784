"""A disk cache of a frozen stage's features, so that later-stage ablations skip the frozen
network.

A two-stage method whose second stage reads a frozen first stage's outputs (EHPE's PG-stage
reads the TW-stage's feature map and joints) can run the frozen network once per sample and
train every later-stage variant from the stored result. The cache is only valid for the exact
inputs that made it, so it is **keyed**: :func:`cache_key` hashes

- the frozen checkpoint's fingerprint (SHA-256 of the file),
- the data fingerprint (:func:`handpose.training.fingerprint.data_fingerprint`) and split,
- everything else that changes the features (``extra``: input size, crop, dtype, the
  extractor's name and version),

and the cache folder is ``ROOT/<name>-<key[:16]>/``. A changed checkpoint or dataset gives
another key, hence another folder: a stale cache is never read. A folder whose stored key differs
from its name's (edited, or copied from elsewhere) or that is incomplete is rebuilt.

Layout (written into a temporary folder and renamed, so a killed build leaves nothing)::

    ROOT/<name>-<key16>/meta.json          {"format": "handpose-features", "key": ..., "parts":
                                            {...}, "count": N, "chunk_size": C, "fields": {...}}
    ROOT/<name>-<key16>/chunk-00000.pt     dict field → (≤ C, ...) tensor, plain tensors only
                                            (read with torch.load(weights_only=True, mmap=True))

``extract`` returns every field the later stage reads, labels included (e.g. the feature map,
the frozen stage's joints and the ground-truth joints), so that training from the cache reads
no image at all. Build it in the DataModule's ``prepare_data`` (rank 0) and open it in
``setup``; concurrent builds of the same key are safe (the first complete one is kept).

Features are extracted **without augmentation** (a cached feature stands for one fixed input);
a stage trained from the cache therefore equals the same stage trained on the fly without
augmentation (tests/training/test_harness_cache.py).

Example::

    cache = FeatureCache(run.cache_dir, "tw", cache_key(ckpt_fp, data_fp, "train", size=128))
    features = cache.get_or_build(extract, loader, len(dataset))   # a Dataset of dicts
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from handpose.errors import HandposeError

__all__ = ["FeatureCache", "CachedFeatures", "cache_key", "CACHE_FORMAT"]

CACHE_FORMAT = "handpose-features"
CACHE_FORMAT_VERSION = 1


def cache_key(
    checkpoint_fingerprint: str, data_fingerprint: str, split: str, **extra: Any
) -> dict[str, Any]:
    """The key parts of a feature cache (JSON builtins); see the module docstring."""
    parts = {
        "checkpoint": str(checkpoint_fingerprint),
        "data": str(data_fingerprint),
        "split": str(split),
    }
    for k, v in sorted(extra.items()):
        parts[k] = v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
    return parts


def _digest(parts: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class CachedFeatures(torch.utils.data.Dataset):
    """Read side of a cache: ``dataset[i]`` → dict field → tensor of sample i."""

    def __init__(self, folder: Path, meta: Mapping[str, Any]) -> None:
        self.folder = Path(folder)
        self.count = int(meta["count"])
        self.chunk_size = int(meta["chunk_size"])
        self.fields = dict(meta["fields"])
        self._chunks: dict[int, dict[str, Tensor]] = {}

    def __len__(self) -> int:
        return self.count

    def _chunk(self, c: int) -> dict[str, Tensor]:
        if c not in self._chunks:
            self._chunks[c] = torch.load(
                self.folder / f"chunk-{c:05d}.pt", map_location="cpu", weights_only=True, mmap=True
            )
        return self._chunks[c]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        if not 0 <= index < self.count:
            raise IndexError(index)
        c, j = divmod(int(index), self.chunk_size)
        return {k: v[j] for k, v in self._chunk(c).items()}

    def __getstate__(self) -> dict:  # DataLoader workers reopen the memory maps
        state = dict(self.__dict__)
        state["_chunks"] = {}
        return state


class FeatureCache:
    """One keyed cache folder (see the module docstring).

    Args:
        root: the caches' parent folder (the harness passes ``OUT/cache``).
        name: what is cached, e.g. the frozen stage's name ("tw").
        parts: :func:`cache_key` output.
        chunk_size: samples per chunk file.
    """

    def __init__(
        self, root: str | os.PathLike, name: str, parts: Mapping[str, Any], chunk_size: int = 1024
    ) -> None:
        if not name or any(c in name for c in "/\\") or name.startswith("."):
            raise HandposeError(f"feature cache name must be a plain name, got {name!r}.")
        self.root = Path(root)
        self.name = name
        self.parts = dict(parts)
        self.key = _digest(self.parts)
        self.folder = self.root / f"{name}-{self.key[:16]}"
        self.chunk_size = int(chunk_size)

    def _meta(self) -> dict | None:
        try:
            return json.loads((self.folder / "meta.json").read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def status(self) -> str:
        """ "missing", "valid" or "stale" (the folder exists but its key or files disagree)."""
        if not self.folder.exists():
            return "missing"
        meta = self._meta()
        if (
            meta is None
            or meta.get("format") != CACHE_FORMAT
            or meta.get("key") != self.key
            or meta.get("parts") != self.parts
        ):
            return "stale"
        chunks = -(-int(meta["count"]) // int(meta["chunk_size"]))
        if any(not (self.folder / f"chunk-{c:05d}.pt").is_file() for c in range(chunks)):
            return "stale"
        return "valid"

    def open(self) -> CachedFeatures:
        """The cached features (HandposeError unless :meth:`status` is "valid")."""
        status = self.status()
        if status != "valid":
            raise HandposeError(f"feature cache '{self.folder}' is {status}; build it first.")
        return CachedFeatures(self.folder, self._meta())

    def others(self) -> list[Path]:
        """Other caches of the same name under ``root`` (made with other keys: stale)."""
        return sorted(
            p for p in self.root.glob(f"{self.name}-*") if p.is_dir() and p != self.folder
        )

    def build(
        self,
        extract: Callable[[Any], Mapping[str, Tensor]],
        batches: Iterable[Any],
        count: int,
        progress: bool = False,
    ) -> CachedFeatures:
        """Run ``extract`` over ``batches`` (in dataset order, no shuffling, no augmentation)
        and store the result, replacing a stale folder.

        Args:
            extract: batch → dict field → (B, ...) tensor (run under ``torch.no_grad``).
            batches: an iterable of batches covering the dataset in order.
            count: number of samples (checked against what ``extract`` returns).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", dir=self.root))
        try:
            buffers: dict[str, list[Tensor]] = {}
            fields: dict[str, dict] = {}
            written = pending = chunk = 0

            def flush(final: bool) -> None:
                nonlocal pending, chunk
                while pending >= self.chunk_size or (final and pending > 0):
                    n = min(self.chunk_size, pending)
                    out = {}
                    for k, parts in buffers.items():
                        cat = torch.cat(parts)
                        out[k] = cat[:n].clone()
                        buffers[k] = [cat[n:]]
                    torch.save(out, tmp / f"chunk-{chunk:05d}.pt")
                    chunk += 1
                    pending -= n

            if progress:
                from tqdm.auto import tqdm

                batches = tqdm(batches, desc=f"cache {self.name}", unit="batch")
            with torch.no_grad():
                for batch in batches:
                    out = extract(batch)
                    sizes = {int(v.shape[0]) for v in out.values()}
                    if len(sizes) != 1:
                        raise ValueError(
                            f"extract returned fields of different batch sizes {sizes}"
                        )
                    for k, v in out.items():
                        v = v.detach().cpu().contiguous()
                        buffers.setdefault(k, []).append(v)
                        fields[k] = {"shape": list(v.shape[1:]), "dtype": str(v.dtype)}
                    b = sizes.pop()
                    written += b
                    pending += b
                    flush(False)
            flush(True)
            if written != count:
                raise HandposeError(
                    f"feature cache '{self.name}': extracted {written} samples, expected {count}."
                )
            meta = {
                "format": CACHE_FORMAT,
                "format_version": CACHE_FORMAT_VERSION,
                "key": self.key,
                "parts": self.parts,
                "count": written,
                "chunk_size": self.chunk_size,
                "fields": fields,
            }
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
            if self.folder.exists():
                shutil.rmtree(self.folder, ignore_errors=True)
            try:
                os.replace(tmp, self.folder)
            except OSError:
                # Another process (a DDP rank) finished the same cache first: keep theirs.
                if self.status() != "valid":
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self.open()

    def get_or_build(
        self,
        extract: Callable[[Any], Mapping[str, Tensor]],
        batches: Iterable[Any] | Callable[[], Iterable[Any]],
        count: int,
        progress: bool = False,
    ) -> CachedFeatures:
        """:meth:`open` a valid cache, else :meth:`build` it (``batches`` may be a zero-argument
        callable so that nothing is loaded when the cache is valid)."""
        if self.status() == "valid":
            return self.open()
        it = batches() if callable(batches) else batches
        return self.build(extract, it, count, progress)
