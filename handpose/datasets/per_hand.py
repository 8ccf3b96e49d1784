"""One sample per hand slot: a view of a two-hand source for single-hand models.

:class:`PerHandSource` turns a sequence of schema samples into twice as many: item ``2i + s``
is sample ``i`` seen as a sample of its hand slot ``s`` only (0 right, 1 left): the other slot
is marked invalid (``hand_valid``, ``joint_valid``, ``mano_valid``; its arrays are kept) and
``bbox`` is recomputed around the remaining hand (its valid joints and projected vertices,
:func:`handpose.datasets.real_common.label_bbox`), so that
:class:`~handpose.datasets.image_dataset.ImageDataset` crops that hand. An item whose slot holds
no hand has no valid hand at all (and keeps the original box): training code masks it out and
evaluation code skips it (``hand_valid``). No index has to be built, so the view works on any
source (shard folders and the real loaders) at the cost of these empty items.

Used by EHPE's two-hand setting (Table 2: per-hand stages on InterHand2.6M / ``twohand``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from handpose.datasets.real_common import label_bbox

__all__ = ["PerHandSource", "hand_only"]

_SLOT_FLAGS = ("hand_valid", "mano_valid")


def hand_only(sample: dict[str, Any], slot: int) -> dict[str, Any]:
    """A copy of ``sample`` that keeps only hand ``slot`` valid, boxed around that hand."""
    out = dict(sample)
    if not bool(np.asarray(sample["hand_valid"])[slot]):
        hv = np.zeros_like(np.asarray(sample["hand_valid"]))
        out["hand_valid"] = hv
        out["joint_valid"] = np.zeros_like(np.asarray(sample["joint_valid"]))
        if "mano_valid" in sample:
            out["mano_valid"] = np.zeros_like(np.asarray(sample["mano_valid"]))
        return out
    other = 1 - slot
    for k in _SLOT_FLAGS:
        if k in sample:
            v = np.array(sample[k], copy=True)
            v[other] = False
            out[k] = v
    jv = np.array(sample["joint_valid"], copy=True)
    jv[other] = False
    out["joint_valid"] = jv
    out["interacting"] = np.asarray(sample.get("interacting", False))
    out["bbox"] = label_bbox(out).astype(np.float32)
    return out


class PerHandSource:
    """``len = 2 · len(source)``; item ``2i + s`` = :func:`hand_only` (source[i], s)."""

    def __init__(self, source: Sequence[dict[str, Any]]) -> None:
        self.source = source
        self.meta = dict(getattr(source, "meta", {}))

    def __len__(self) -> int:
        return 2 * len(self.source)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        i, slot = divmod(int(index), 2)
        return hand_only(self.source[i], slot)
