"""Open any image data source by one string, and convert real datasets to shard storage.

Source syntax (``handpose data show`` and :func:`open_source`)::

    PATH[:SPLIT]            a shard folder (with manifest.json), e.g. data/single:val
    NAME:ROOT[:SPLIT]       a real dataset, NAME ∈ freihand | interhand | dexycb | hanco,
                            e.g. freihand:/data/FreiHAND_pub_v2:evaluation

``:SPLIT`` is taken off the end only when it names one of the source's splits, so roots that
contain ':' still work. Loader options (FreiHAND ``version``, InterHand ``subset`` / ``fps``,
DexYCB ``setup``, HanCo ``version`` / ``views``) are keyword arguments (CLI: ``--set KEY=VALUE``).

:func:`convert_dataset` writes every split of a real dataset into a shard folder, atomically as
a whole: it builds ``.OUT.tmp-*`` beside ``OUT`` and renames it at the end; on any error the
temporary folder is removed and ``OUT`` does not appear.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handpose.errors import HandposeError
from handpose.formats.shards import MANIFEST, ShardWriter, open_shards, shard_path, write_manifest
from handpose.utils.validate import output_folder

__all__ = ["REAL_DATASETS", "RealDatasetInfo", "parse_source", "open_source", "convert_dataset"]


@dataclass(frozen=True)
class RealDatasetInfo:
    """How to open one real dataset.

    Attributes:
        splits: the loader's split names (the first is the default).
        convert: shard split name → loader split name, for ``data convert``.
        options: option name → type converter for ``--set KEY=VALUE``.
        convert_options: options ``data convert`` uses per shard split (e.g. all four FreiHAND
            training versions).
    """

    factory: str
    splits: tuple[str, ...]
    convert: dict[str, str]
    options: dict[str, Callable[[str], Any]]
    kind: str
    convert_options: dict[str, dict[str, Any]] | None = None


def _views(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in str(text).split(",") if v.strip())


def _bool(text: str) -> bool:
    t = str(text).lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


REAL_DATASETS: dict[str, RealDatasetInfo] = {
    "freihand": RealDatasetInfo(
        "handpose.datasets.freihand:FreiHAND",
        ("training", "evaluation"),
        {"train": "training", "test": "evaluation"},
        {"version": str, "masks": _bool, "vertices": _bool},
        "single",
        {"train": {"version": "all"}},
    ),
    "interhand": RealDatasetInfo(
        "handpose.datasets.interhand:InterHand",
        ("train", "val", "test"),
        {"train": "train", "val": "val", "test": "test"},
        {
            "subset": str,
            "fps": int,
            "hand_type_valid_only": _bool,
            "interacting_only": _bool,
        },
        "twohand",
    ),
    "dexycb": RealDatasetInfo(
        "handpose.datasets.dexycb:DexYCB",
        ("train", "val", "test"),
        {"train": "train", "val": "val", "test": "test"},
        {"setup": str, "masks": _bool},
        "video",
    ),
    "hanco": RealDatasetInfo(
        "handpose.datasets.hanco:HanCo",
        ("all", "train", "test"),
        {"train": "train", "test": "test"},
        {"version": str, "views": _views, "masks": _bool},
        "video",
    ),
}


def _factory(info: RealDatasetInfo):
    import importlib

    mod, cls = info.factory.split(":")
    return getattr(importlib.import_module(mod), cls)


def parse_source(spec: str) -> tuple[str | None, str, str | None]:
    """``spec`` → (dataset name or None for shards, root, split or None)."""
    spec = str(spec)
    name, sep, rest = spec.partition(":")
    if sep and name.lower() in REAL_DATASETS:
        info = REAL_DATASETS[name.lower()]
        root, sep2, last = rest.rpartition(":")
        if sep2 and last in info.splits:
            return name.lower(), root, last
        if not rest:
            raise HandposeError(f"'{spec}': give the dataset root after '{name}:'.")
        return name.lower(), rest, None
    root, sep2, last = spec.rpartition(":")
    if (
        sep2
        and root
        and (Path(root) / MANIFEST).is_file()
        and not (Path(spec) / MANIFEST).is_file()
    ):
        return None, root, last
    return None, spec, None


def parse_options(name: str | None, pairs: Iterable[str]) -> dict[str, Any]:
    """``["version=hom", "fps=30"]`` → typed loader options for dataset ``name``."""
    out: dict[str, Any] = {}
    allowed = REAL_DATASETS[name].options if name else {}
    for pair in pairs or ():
        key, sep, value = str(pair).partition("=")
        if not sep:
            raise HandposeError(f"option '{pair}' must be KEY=VALUE.")
        if key not in allowed:
            names = ", ".join(allowed) or "none (shard folders take no options)"
            raise HandposeError(
                f"unknown option '{key}' for {name or 'shards'} (options: {names})."
            )
        try:
            out[key] = allowed[key](value)
        except ValueError:
            raise HandposeError(f"option '{key}' has an invalid value {value!r}.") from None
    return out


def open_source(
    spec: str,
    split: str | None = None,
    *,
    level: int | None = None,
    mano: Any = "auto",
    **options: Any,
):
    """Open a source string (module docstring) as a sequence of schema samples with ``.meta``.

    Args:
        spec: ``PATH[:SPLIT]`` or ``NAME:ROOT[:SPLIT]``.
        split: overrides the split in ``spec``; default: the spec's, else "train" (shards:
            "train" when present, else the first split; real datasets: their first split).
        level: ladder level (px) for shard folders that store one.
        mano: MANO models for real loaders' conversions (see ``ManoModels``).
        **options: loader options (see :data:`REAL_DATASETS`).
    """
    name, root, spec_split = parse_source(spec)
    split = split or spec_split
    if name is None:
        if options:
            raise HandposeError(f"shard folders take no loader options, got {sorted(options)}.")
        shards = open_shards(root)
        default = "train" if "train" in shards.splits else shards.splits[0]
        return shards.split(split or default, level=level)
    if level is not None:
        raise HandposeError("--level applies to shard folders with a low-resolution ladder only.")
    info = REAL_DATASETS[name]
    split = split or info.splits[0]
    if split not in info.splits:
        raise HandposeError(f"{name} has no split {split!r} (splits: {', '.join(info.splits)}).")
    return _factory(info)(root, split, mano=mano, **options)


def convert_dataset(
    name: str,
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    splits: Iterable[str] | None = None,
    shard_size: int = 1000,
    encoding: str = "png",
    limit: int | None = None,
    mano: Any = "auto",
    progress: Callable[[int], Any] | None = None,
    **options: Any,
) -> dict[str, int]:
    """Convert a real dataset into a shard folder ``out`` (all or nothing).

    Args:
        name: freihand | interhand | dexycb | hanco.
        root: the dataset root.
        out: the new shard folder; must not exist (or be an empty folder).
        splits: shard split names to write (default: all of :attr:`RealDatasetInfo.convert`).
        shard_size: samples per shard; a shard is cut only between sequences for video data.
        encoding: "png" (lossless) or "jpeg" (quality 95) for the images.
        limit: at most this many samples per split (quick looks, tests).
        mano: MANO models for the parameter conversions.
        progress: ``progress(total)`` → a tqdm-like object with ``update(n)`` and ``close()``.
        **options: loader options.
    Returns:
        samples written per split.
    """
    name = name.lower()
    if name not in REAL_DATASETS:
        raise HandposeError(f"unknown dataset {name!r} (known: {', '.join(REAL_DATASETS)}).")
    info = REAL_DATASETS[name]
    if shard_size < 1:
        raise HandposeError(f"--shard-size must be at least 1, got {shard_size}.")
    if limit is not None and (isinstance(limit, bool) or int(limit) < 1):
        raise HandposeError(f"--limit must be at least 1, got {limit}.")
    out = output_folder(out, "output folder")  # a path under a file: before reading the source
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise HandposeError(f"the output '{out}' already exists; choose a new folder.")
    wanted = list(splits) if splits else list(info.convert)
    for s in wanted:
        if s not in info.convert:
            raise HandposeError(f"{name} converts splits {', '.join(info.convert)}, not {s!r}.")
    factory = _factory(info)
    loaders = {}
    for s in wanted:
        opts = {**(info.convert_options or {}).get(s, {}), **options}
        loaders[s] = factory(root, info.convert[s], mano=mano, **opts)
    counts = {
        s: len(ld) if limit is None else min(len(ld), int(limit)) for s, ld in loaders.items()
    }
    if not any(counts.values()):
        raise HandposeError(
            f"the {name} splits {', '.join(wanted)} under '{root}' hold no samples."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    bar = progress(sum(counts.values())) if progress else None
    try:
        for s, loader in loaders.items():
            _write_split(tmp, s, loader, counts[s], shard_size, encoding, bar)
        first = next(iter(loaders.values()))
        meta = {k: v for k, v in first.meta.items() if k != "split"}
        meta["source_splits"] = {s: info.convert[s] for s in loaders if counts[s]}
        generator = {
            "converted_from": name,
            "root": str(Path(root).resolve()),
            "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()},
            "limit": limit,
            "encoding": encoding,
        }
        write_manifest(tmp, kind=info.kind, meta=meta, generator=generator)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    return {s: n for s, n in counts.items() if n}


def _write_split(tmp: Path, split: str, loader, count: int, size: int, encoding: str, bar) -> None:
    shard, i = 0, 0
    key = getattr(loader, "sequence_key", lambda i: None)
    while i < count:
        with ShardWriter(shard_path(tmp, split, shard), encoding=encoding) as w:
            while i < count:
                if len(w) >= size and (key(i) is None or key(i) != key(i - 1)):
                    break
                w.add(loader[i])
                i += 1
                if bar is not None:
                    bar.update(1)
        shard += 1
