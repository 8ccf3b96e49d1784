"""Experiment runners that reproduce the comparisons of the papers handpose implements.

- :mod:`handpose.experiments.mgdhand`: the MGDHand comparison (teacher, twelve distillation
  variants at 7 IMUs, three at 3 and 2 IMUs, several seeds) → ``docs/results/mgdhand.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path


def check_experiment_paths(
    out: str | os.PathLike,
    doc: str | os.PathLike | None,
    notes: str | os.PathLike | None = None,
    merge: Sequence[str | os.PathLike] = (),
    data: Mapping[str, tuple[str | os.PathLike | None, Sequence[str]]] | None = None,
    *,
    report_only: bool = False,
) -> Path:
    """Check an image experiment's paths before any work (one error naming the first bad one).

    Args:
        out: the experiment folder (must exist with ``report_only``).
        doc: the markdown report to write (None: none).
        notes: a markdown file to include; merge: other experiment folders.
        data: option → (given shard folder or None, accepted kinds); a folder that does not
            exist yet is synthesised there, an existing one must be a shard folder of that kind.
    Returns:
        ``out`` as a Path.
    """
    from handpose.utils.validate import (
        input_file,
        input_folder,
        output_file,
        output_folder,
        shard_folder,
    )

    out = input_folder(out, "experiment folder") if report_only else output_folder(out, "--out")
    if doc is not None:
        output_file(doc, "report", suffixes=(".md",))
    if notes is not None:
        input_file(notes, "notes file")
    for m in merge:
        input_folder(m, "--merge folder")
    for option, (path, kinds) in (data or {}).items():
        if path is not None:
            shard_folder(path, f"{option} folder", kinds, may_create=True)
    return out
