"""PerHandSource: one sample per hand slot, boxed around that hand."""

import numpy as np
import pytest
from training.imagedata import make_samples

from handpose.datasets.per_hand import PerHandSource, hand_only


def _two_hands():
    a, b = make_samples(2, seed=5, size=48)
    s = {k: (np.array(v, copy=True) if not isinstance(v, str) else v) for k, v in a.items()}
    src_b = 1 if b["hand_valid"][1] else 0
    dst = 1 - int(np.argmax(a["hand_valid"]))  # the free slot of a
    for k in ("joints3d", "joints2d", "joint_valid", "vertices", "hand_valid"):
        s[k][dst] = b[k][src_b]
    s["joints2d"][dst] = s["joints2d"][dst] * 0.2 + 2.0  # a small hand in the top-left corner
    s["vertices"][dst] = 0  # (no mesh for the moved hand)
    return s, 1 - dst


def test_each_slot_becomes_its_own_sample():
    s, first = _two_hands()
    src = PerHandSource([s])
    assert len(src) == 2
    for slot in (0, 1):
        h = src[slot]
        assert h["hand_valid"].tolist() == [slot == 0, slot == 1]
        assert not h["joint_valid"][1 - slot].any() and h["joint_valid"][slot].all()
        j = h["joints2d"][slot]
        x0, y0, x1, y1 = h["bbox"]
        assert x0 <= j[:, 0].min() and j[:, 0].max() <= x1 and y0 <= j[:, 1].min()
        if slot != first:  # the small moved hand (no mesh): the box is tight on its joints
            np.testing.assert_allclose(h["bbox"], [*j.min(0), *j.max(0)], atol=1e-4)
    # the union box of the source covers both hands; each hand's box is smaller
    assert (src[0]["bbox"][2:] - src[0]["bbox"][:2]).prod() < (s["bbox"][2:] - s["bbox"][:2]).prod()
    assert s["hand_valid"].all()  # the source sample is not modified


def test_empty_slot_has_no_valid_hand_and_bad_index():
    (a,) = make_samples(1, seed=1, size=48)
    empty = 1 - int(np.argmax(a["hand_valid"]))
    h = hand_only(a, empty)
    assert not h["hand_valid"].any() and not h["joint_valid"].any()
    np.testing.assert_array_equal(h["bbox"], a["bbox"])
    with pytest.raises(IndexError):
        PerHandSource([a])[2]
