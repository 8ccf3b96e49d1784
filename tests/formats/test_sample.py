"""The sample schema: validation messages, the empty sample, collation."""

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.formats.sample import (
    FIELDS,
    REQUIRED,
    SCHEMA,
    collate,
    dataset_meta,
    empty_sample,
    validate_sample,
)
from tests.datasets.image_fixtures import make_sample


def test_schema_table_matches_contract():
    # The design contract's keys, in order, with their dtypes.
    assert [f.name for f in SCHEMA] == [
        "image", "K", "hand_valid", "joints3d", "joints2d", "joint_valid", "vertices",
        "mano_global_orient", "mano_hand_pose", "mano_betas", "mano_transl", "mano_valid",
        "mask", "bbox", "interacting", "sequence", "frame", "view", "capture_hw",
    ]  # fmt: skip
    assert FIELDS["joints3d"].shape == (2, 21, 3) and FIELDS["joints3d"].dtype == "float32"
    assert FIELDS["mano_hand_pose"].shape == (2, 45)
    assert FIELDS["capture_hw"].dtype == "int32" and FIELDS["frame"].dtype == "int64"
    assert "vertices" not in REQUIRED and "mask" not in REQUIRED and "mano_valid" in REQUIRED


def test_empty_sample_is_valid_and_has_dtypes():
    s = empty_sample(10, 12, num_vertices=5, mano=True, mask=True)
    validate_sample(s, "empty")
    assert s["image"].shape == (10, 12, 3) and s["mask"].shape == (10, 12)
    assert s["vertices"].shape == (2, 5, 3)
    assert s["K"][0, 2] == 5.5 and s["K"][1, 2] == 4.5 and s["K"][2, 2] == 1
    assert tuple(s["capture_hw"]) == (10, 12)
    assert not s["hand_valid"].any() and s["sequence"] == ""
    for f in SCHEMA:
        if f.name in s and f.dtype != "str":
            assert s[f.name].dtype == np.dtype(f.dtype), f.name


@pytest.mark.parametrize(
    "mutate, field, words",
    [
        (lambda s: s.pop("K"), "K", "missing"),
        (lambda s: s.update(foo=np.zeros(3)), "foo", "not part"),
        (lambda s: s.update(joints3d=s["joints3d"].astype(np.float64)), "joints3d", "dtype"),
        (lambda s: s.update(joints2d=np.zeros((2, 20, 2), np.float32)), "joints2d", "shape"),
        (lambda s: s["joints3d"].__setitem__((0, 3, 1), np.nan), "joints3d", "NaN"),
        (lambda s: s.update(mask=np.zeros((5, 5), np.uint8)), "mask", "H = 5"),
        (lambda s: s["mask"].__setitem__((0, 0), 7), "mask", "label 7"),
        (lambda s: s["K"].__setitem__((2, 2), 0.0), "K", "pinhole"),
        (lambda s: s["K"].__setitem__((0, 0), -1.0), "K", "focal"),
        (lambda s: s["joint_valid"].__setitem__((1, 0), True), "joint_valid", "slot 1"),
        (lambda s: s.pop("mano_betas"), "mano_betas", "together"),
        (lambda s: s.update(vertices=np.zeros((2, 0, 3), np.float32)), "image", "empty"),
        (lambda s: s["bbox"].__setitem__(2, -5.0), "bbox", "x1"),
        (lambda s: s.update(sequence=3), "sequence", "str"),
        (lambda s: s.update(frame=5), "frame", "numpy array"),
        (lambda s: s.update(extra_x=np.full(3, np.inf)), "extra_x", "NaN"),
    ],
)
def test_validate_names_the_field(mutate, field, words):
    s = make_sample(1)
    mutate(s)
    with pytest.raises(HandposeError) as e:
        validate_sample(s, "file.h5 sample 3")
    msg = str(e.value)
    assert msg.startswith("file.h5 sample 3: field '" + field + "'"), msg
    assert words in msg, msg


def test_validate_accepts_extra_keys():
    s = make_sample(2)
    s["extra_corr"] = np.zeros((24, 32, 3), np.float32)
    validate_sample(s)


def test_collate_stacks_and_keeps_strings():
    samples = [make_sample(i) for i in range(3)]
    b = collate(samples)
    assert b["image"].shape == (3, 24, 32, 3) and b["image"].dtype == torch.uint8
    assert b["joints3d"].dtype == torch.float32 and b["hand_valid"].dtype == torch.bool
    assert b["frame"].shape == (3,) and b["frame"].tolist() == [0, 1, 2]
    assert b["sequence"] == ["seq0", "seq1", "seq2"]
    np.testing.assert_array_equal(b["joints2d"][1].numpy(), samples[1]["joints2d"])


def test_collate_errors():
    with pytest.raises(HandposeError, match="at least one"):
        collate([])
    a, b = make_sample(0), make_sample(1, h=20)
    with pytest.raises(HandposeError, match="'image' has different shapes"):
        collate([a, b])
    b = make_sample(1)
    b.pop("mask")
    with pytest.raises(HandposeError, match=r"sample 1 differs .*mask"):
        collate([a, b])


def test_dataset_meta():
    m = dataset_meta("freihand", "single", fix_left_shapedirs=None, split="training")
    assert m["units"] == "m" and m["joint_order"] == "openpose21" and m["split"] == "training"
    assert m["mano_convention"] == {
        "flat_hand_mean": True,
        "use_pca": False,
        "fix_left_shapedirs": None,
    }
