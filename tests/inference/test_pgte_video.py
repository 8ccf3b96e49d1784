"""The PGTE video API: per-frame boxes on full frames, streaming, the overlay MP4."""

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.inference.pgte_video import PGTEVideo, write_overlay_video
from handpose.models.pgte import PGTE, run_sequence
from tests.models.pgte.tiny import sensitive, tiny_config


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return sensitive(PGTE(tiny_config(window=3))).eval()


def _video(n=5, H=60, W=80):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(n)]
    boxes = [(20 + t, 15, 44 + t, 39) for t in range(n)]
    K = np.array([[90.0, 0, 40], [0, 90.0, 30], [0, 0, 1]])
    return frames, boxes, K


def test_stream_equals_crops_through_file_mode(model):
    from handpose.datasets.image_dataset import (
        crop_matrix,
        crop_to_square,
        normalize_image,
        square_box,
    )

    frames, boxes, K = _video()
    est = PGTEVideo(model, pad=1.3)
    res = est.run(frames, boxes, K, root_depths=[0.5] * 5, side=1)
    crops, Ks = [], []
    for f, b in zip(frames, boxes, strict=True):
        x0, y0, s = square_box(np.asarray(b, float), f.shape[:2], 1.3, 4)
        img, _ = crop_to_square(f, x0, y0, s, 32)
        crops.append(normalize_image(img))
        Ks.append(torch.as_tensor(crop_matrix(x0, y0, s, 32) @ K, dtype=torch.float32))
    ref = run_sequence(model, torch.stack(crops), torch.stack(Ks), torch.full((5,), 0.5))
    for t in range(5):
        assert np.allclose(res[t].vertices, ref.vertices[t].numpy(), atol=1e-5)
        # the crop is a change of intrinsics only: 2D joints are in frame pixels
        uvw = res[t].joints3d @ K.T
        assert np.allclose(res[t].joints2d, uvw[:, :2] / uvw[:, 2:], atol=1e-3)


def test_bad_input(model):
    est = PGTEVideo(model)
    frames, boxes, K = _video(1)
    with pytest.raises(HandposeError, match="box"):
        est.step(frames[0], (10, 10, 5, 20), K)
    with pytest.raises(HandposeError, match="uint8"):
        est.step(frames[0].astype(np.float32), boxes[0], K)


def test_overlay_mp4(model, tmp_path):
    import imageio.v2 as imageio

    frames, boxes, K = _video(4)
    res = PGTEVideo(model).run(frames, boxes, K)
    out = tmp_path / "overlay.mp4"
    write_overlay_video(frames, res, out, fps=10, scale=2)
    r = imageio.get_reader(str(out))
    first = r.get_data(0)
    assert first.shape == (120, 160, 3) and r.count_frames() == 4
