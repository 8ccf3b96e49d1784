"""Sharded HDF5 storage: schema round trip, ladder levels, determinism, resume, bad input."""

import json
import pickle

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.formats.sample import dataset_meta
from handpose.formats.shards import (
    ShardWriter,
    decode_image,
    encode_image,
    is_complete,
    open_shards,
    shard_path,
    write_manifest,
)
from tests.datasets.image_fixtures import make_level, make_sample


def _assert_same(a, b):
    assert set(a) == set(b)
    for k in a:
        if isinstance(a[k], str):
            assert a[k] == b[k], k
        else:
            assert np.asarray(a[k]).dtype == np.asarray(b[k]).dtype, k
            np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=k)


def _write(root, splits=(("train", [3, 2]), ("val", [2])), levels=(), encoding="png"):
    samples: dict[str, list] = {}
    seed = 0
    for split, counts in splits:
        samples[split] = []
        for si, n in enumerate(counts):
            with ShardWriter(shard_path(root, split, si), encoding=encoding) as w:
                for _ in range(n):
                    s = make_sample(seed, two=seed % 2 == 1)
                    w.add(s, {px: make_level(s, px) for px in levels} or None)
                    samples[split].append(s)
                    seed += 1
    write_manifest(root, kind="single", meta=dataset_meta("test", "single"), generator={"seed": 1})
    return samples


def test_round_trip_png(tmp_path):
    samples = _write(tmp_path)
    ds = open_shards(tmp_path)
    assert len(ds) == 7 and ds.num_samples("train") == 5 and ds.num_samples("val") == 2
    assert ds.splits == ["train", "val"] and ds.kind == "single"
    assert ds.meta["dataset"] == "test" and ds.manifest["generator"] == {"seed": 1}
    for split, lst in samples.items():
        for i, s in enumerate(lst):
            _assert_same(s, ds.get(split, i))
    _assert_same(samples["train"][4], ds["train", -1])
    view = ds.split("val")
    assert len(view) == 2 and view.meta["dataset"] == "test"
    _assert_same(samples["val"][1], view[1])
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["splits"]["train"] == [
        {"file": "train-00000.h5", "count": 3},
        {"file": "train-00001.h5", "count": 2},
    ]
    assert m["format"] == "handpose-images" and m["format_version"] == 1


def test_jpeg_images_lossy_masks_lossless(tmp_path):
    samples = _write(tmp_path, splits=(("test", [2]),), encoding="jpeg")
    got = open_shards(tmp_path).get("test", 0)
    s = samples["test"][0]
    np.testing.assert_array_equal(got["mask"], s["mask"])
    np.testing.assert_array_equal(got["joints3d"], s["joints3d"])
    assert got["image"].shape == s["image"].shape
    assert not np.array_equal(got["image"], s["image"])  # random noise does not survive JPEG


def test_ladder_levels(tmp_path):
    samples = _write(tmp_path, splits=(("train", [2]),), levels=(16, 8))
    ds = open_shards(tmp_path)
    assert ds.levels == [8, 16]
    s = samples["train"][1]
    lv = make_level(s, 8)
    got = ds.get("train", 1, level=8)
    for k in ("image", "K", "joints2d", "bbox", "mask"):
        np.testing.assert_array_equal(got[k], lv[k], err_msg=k)
    np.testing.assert_array_equal(got["joints3d"], s["joints3d"])
    np.testing.assert_array_equal(got["capture_hw"], s["capture_hw"])
    assert got["image"].shape == (6, 8, 3)
    assert ds.split("train", level=16)[0]["image"].shape == (12, 16, 3)
    with pytest.raises(HandposeError, match="no ladder level 32"):
        ds.get("train", 0, level=32)


def test_ladder_level_errors(tmp_path):
    s = make_sample(0)
    w = ShardWriter(tmp_path / "train-00000.h5")
    lv = make_level(s, 8)
    with pytest.raises(HandposeError, match="long side must be 16"):
        w.add(s, {16: lv})
    with pytest.raises(HandposeError, match="needs exactly the keys"):
        w.add(s, {8: {k: v for k, v in lv.items() if k != "bbox"}})
    w.add(s, {8: lv})
    with pytest.raises(HandposeError, match="ladder levels"):
        w.add(make_sample(1))


def test_same_arrays_same_bytes(tmp_path):
    _write(tmp_path / "a", levels=(8,))
    _write(tmp_path / "b", levels=(8,))
    for name in ("train-00000.h5", "train-00001.h5", "val-00000.h5", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_writer_is_atomic_and_resume_hooks(tmp_path):
    p = shard_path(tmp_path, "train", 0)
    assert p.name == "train-00000.h5" and not is_complete(p)
    with pytest.raises(RuntimeError):
        with ShardWriter(p) as w:
            w.add(make_sample(0))
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []  # nothing partial, no temp file
    with ShardWriter(p) as w:
        w.add(make_sample(0))
    assert is_complete(p)
    p.write_bytes(p.read_bytes()[:500])  # truncated
    assert not is_complete(p)
    with pytest.raises(HandposeError, match="split name"):
        shard_path(tmp_path, "a/b", 0)


def test_writer_rejects_bad_samples(tmp_path):
    w = ShardWriter(tmp_path / "train-00000.h5")
    bad = make_sample(0)
    bad["joints2d"][0, 0, 0] = np.nan
    with pytest.raises(HandposeError, match="train-00000.h5 sample 0: field 'joints2d'.*NaN"):
        w.add(bad)
    w.add(make_sample(0))
    other = make_sample(1, mask=False)
    with pytest.raises(HandposeError, match=r"sample 1: keys differ .*mask"):
        w.add(other)
    with pytest.raises(HandposeError, match="encoding"):
        ShardWriter(tmp_path / "x.h5", encoding="gif")


def test_extra_keys_round_trip(tmp_path):
    s = make_sample(0)
    s["extra_corr"] = np.arange(24 * 32 * 3, dtype=np.float32).reshape(24, 32, 3)
    with ShardWriter(shard_path(tmp_path, "train", 0)) as w:
        w.add(s)
    write_manifest(tmp_path, kind="single", meta={})
    _assert_same(s, open_shards(tmp_path).get("train", 0))


def test_pickle_and_fresh_handles(tmp_path):
    samples = _write(tmp_path, splits=(("train", [2]),))
    ds = open_shards(tmp_path)
    ds.get("train", 0)
    ds2 = pickle.loads(pickle.dumps(ds))  # what a spawn DataLoader worker receives
    _assert_same(samples["train"][1], ds2.get("train", 1))
    ds.close()
    ds2.close()


def test_encode_decode():
    img = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode_image(encode_image(img)), img)
    m = np.arange(35, dtype=np.uint8).reshape(5, 7) % 4
    np.testing.assert_array_equal(decode_image(encode_image(m), channels=1), m)


# --- bad input ------------------------------------------------------------------------------


def test_missing_root_and_manifest(tmp_path):
    with pytest.raises(HandposeError, match="dataset root .*nope.* does not exist"):
        open_shards(tmp_path / "nope")
    with pytest.raises(HandposeError, match="manifest.json' is missing"):
        open_shards(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(HandposeError, match="manifest.json' is not valid JSON"):
        open_shards(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(HandposeError, match="not a handpose image manifest"):
        open_shards(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "handpose-images"}))
    with pytest.raises(HandposeError, match="format_version"):
        open_shards(tmp_path)
    with pytest.raises(HandposeError, match="no shards"):
        write_manifest(tmp_path, kind="x", meta={})


def test_missing_and_corrupt_shard(tmp_path):
    _write(tmp_path)
    (tmp_path / "val-00000.h5").unlink()
    with pytest.raises(HandposeError, match="val-00000.h5' listed in .* is missing"):
        open_shards(tmp_path)
    p = tmp_path / "train-00001.h5"
    data = p.read_bytes()
    p.write_bytes(b"\0" * len(data))  # garbage, same size
    (tmp_path / "val-00000.h5").write_bytes(data)
    ds = open_shards(tmp_path)
    ds.get("train", 0)  # the intact shard still reads
    with pytest.raises(HandposeError, match="train-00001.h5' is unreadable or corrupt"):
        ds.get("train", 3)
    with pytest.raises(HandposeError, match="out of range"):
        ds.get("train", 5)
    with pytest.raises(HandposeError, match="no split 'test'"):
        ds.get("test", 0)
    with pytest.raises(HandposeError, match="train-00001.h5' is unreadable or corrupt"):
        write_manifest(tmp_path, kind="x", meta={})


def test_corrupt_image_bytes_and_nan_labels(tmp_path):
    import h5py

    _write(tmp_path, splits=(("train", [2]),))
    p = tmp_path / "train-00000.h5"
    with h5py.File(p, "r+") as f:
        f["image"][1] = np.zeros(20, np.uint8)
        row = f["labels"][0]
        row["joints3d"][0, 0, 0] = np.nan
        f["labels"][0] = row
    ds = open_shards(tmp_path)
    with pytest.raises(HandposeError, match="sample 0: field 'joints3d' contains NaN"):
        ds.get("train", 0)
    with pytest.raises(HandposeError, match="sample 1: field 'image' is not a decodable image"):
        ds.get("train", 1)
