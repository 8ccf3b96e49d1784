"""The training Dataset: crop to the hand, K moved with the crop, batches through a DataLoader."""

import numpy as np
import pytest
import torch

from handpose.datasets.augment import AugmentConfig
from handpose.datasets.image_dataset import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageBatchCollate,
    ImageDataset,
    crop_matrix,
    normalize_image,
    square_box,
)
from handpose.datasets.real_common import label_bbox
from handpose.errors import HandposeError
from handpose.formats.sample import dataset_meta
from handpose.formats.shards import ShardWriter, shard_path, write_manifest
from handpose.geometry.camera import project
from tests.datasets.image_fixtures import make_sample


def _dot_sample(seed=0, h=60, w=80):
    s = make_sample(seed, h, w, num_vertices=None, mano=False, mask=True, two=True)
    # joint 0 in the middle of the hand, so that the crop never clips its dot
    s["joints3d"][0, 0] = s["joints3d"][0].mean(0)
    uvw = s["joints3d"][0, 0].astype(np.float64) @ s["K"].T.astype(np.float64)
    s["joints2d"][0, 0] = uvw[:2] / uvw[2]
    ys, xs = np.mgrid[0:h, 0:w]
    u, v = s["joints2d"][0, 0]
    blob = np.exp(-((xs - u) ** 2 + (ys - v) ** 2) / (2 * 1.5**2))
    s["image"][:] = 0
    s["image"][..., 0] = (255 * blob).round().astype(np.uint8)
    s["bbox"][:] = label_bbox(s)
    return s


class _List:
    def __init__(self, samples):
        self.samples, self.meta = samples, {"dataset": "list"}

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def test_crop_matrix_constants():
    # crop pixels 10 … 49 (side 40) to 20 px: r = 2, u → (u − 10 + 0.5)/2 − 0.5
    A = crop_matrix(10, 4, 40, 20)
    np.testing.assert_allclose(A @ [10.0, 4.0, 1.0], [-0.25, -0.25, 1.0])
    np.testing.assert_allclose(A @ [49.0, 43.0, 1.0], [19.25, 19.25, 1.0])
    np.testing.assert_allclose(A @ [29.5, 23.5, 1.0], [9.5, 9.5, 1.0])  # centre → centre
    assert square_box(np.zeros(4), (30, 50), 1.3, 16) == (0, -10, 50)  # whole image, padded
    assert square_box(np.array([10.0, 20, 30, 30]), (100, 100), 1.5, 16) == (5, 10, 30)


def test_crop_keeps_projection_and_content():
    samples = [_dot_sample(i) for i in range(4)]
    ds = ImageDataset(_List(samples), size=32, pad=1.5)
    for i in range(4):
        out = ds[i]
        assert out["image"].shape == (3, 32, 32) and out["image"].dtype == torch.float32
        assert out["mask"].shape == (32, 32) and out["mask"].dtype == torch.uint8
        proj = project(out["joints3d"].double(), out["K"].double())
        np.testing.assert_allclose(proj.numpy(), out["joints2d"].double().numpy(), atol=1e-3)
        # the dot drawn at joint 0 is at the new joint 0 (area resampling keeps the centroid)
        a = out["image"][0].double().numpy()
        a = np.where(a > 0.05 * a.max(), a, 0)
        ys, xs = np.mgrid[0:32, 0:32]
        c = np.array([(a * xs).sum(), (a * ys).sum()]) / a.sum()
        np.testing.assert_allclose(c, out["joints2d"][0, 0].numpy(), atol=0.05)
        np.testing.assert_array_equal(out["joints3d"].numpy(), samples[i]["joints3d"])
        # the label box now spans its size / ⌈1.5 · size⌉ of the crop
        b, b0 = out["bbox"].numpy(), samples[i]["bbox"]
        ext0 = max(b0[2] - b0[0], b0[3] - b0[1])
        want = ext0 * 32 / max(16, np.ceil(1.5 * ext0))
        assert max(b[2] - b[0], b[3] - b[1]) == pytest.approx(want, rel=1e-4)
    assert ds.meta == {"dataset": "list"} and len(ds) == 4


def test_crop_outside_image_is_zero_and_mask_nearest():
    s = _dot_sample(1)
    s["image"][:] = 200
    s["mask"][:] = 2
    s["bbox"][:] = [-30, -30, 10, 10]  # mostly outside
    out = ImageDataset(_List([s]), size=16, pad=1.0)[0]
    assert out["image"][:, 0, 0].max() == 0 and out["image"][:, -1, -1].min() > 0.7
    assert out["mask"][0, 0] == 0 and out["mask"][-1, -1] == 2
    assert set(out["mask"].unique().tolist()) <= {0, 2}


def test_shards_dataloader_with_augmentation(tmp_path):
    with ShardWriter(shard_path(tmp_path, "train", 0)) as w:
        for i in range(6):
            w.add(_dot_sample(i))
    write_manifest(tmp_path, kind="single", meta=dataset_meta("t", "single"))
    ds = ImageDataset(str(tmp_path), size=24)
    coll = ImageBatchCollate(AugmentConfig(flip_p=0.5), seed=3)
    batches = list(torch.utils.data.DataLoader(ds, batch_size=3, collate_fn=coll))
    assert len(batches) == 2
    b = batches[0]
    assert b["image"].shape == (3, 3, 24, 24) and b["sequence"] == ["seq0", "seq1", "seq2"]
    proj = project(b["joints3d"].double(), b["K"].double()[:, None])
    np.testing.assert_allclose(proj.numpy(), b["joints2d"].double().numpy(), atol=1e-3)
    # normalised: (x − mean) / std, so a zero pixel maps to −mean / std
    assert b["image"].min() >= min(-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)) - 1e-4
    again = list(
        torch.utils.data.DataLoader(
            ds, batch_size=3, collate_fn=ImageBatchCollate(AugmentConfig(flip_p=0.5), seed=3)
        )
    )
    assert torch.equal(again[1]["image"], batches[1]["image"])


def test_normalize_and_errors():
    x = torch.ones(2, 3, 4, 4)
    y = normalize_image(x)
    np.testing.assert_allclose(
        y[0, :, 0, 0].numpy(), [(1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)], rtol=1e-6
    )
    with pytest.raises(HandposeError, match="crop"):
        ImageDataset(_List([]), crop="centre")
    with pytest.raises(HandposeError, match="size"):
        ImageDataset(_List([]), size=4)


def test_dense_map_cropped_like_the_image():
    samples = [_dot_sample(i) for i in range(3)]
    for s in samples:
        s["extra_dense"] = (s["image"].astype(np.float32) / 255.0).astype(np.float16)
    ds = ImageDataset(_List(samples), size=24, pad=1.5, dense=True)
    for i in range(3):
        out = ds[i]
        assert out["extra_dense"].shape == (3, 24, 24) and out["extra_dense"].dtype == torch.float32
        np.testing.assert_allclose(out["extra_dense"], out["image"], atol=2e-3)  # float16 input
    # without dense=True it is dropped (not cropped) by default
    assert "extra_dense" not in ImageDataset(_List(samples), size=24)[0]
    del samples[0]["extra_dense"]
    with pytest.raises(HandposeError, match="extra_dense"):
        ImageDataset(_List(samples), size=24, dense=True)[0]
