"""Video clips, windows and the on-the-fly low-resolution ladder for real frames."""

import numpy as np
import pytest
import torch

from handpose.datasets.video import (
    LowResolutionView,
    VideoWindowDataset,
    degrade_frame,
    video_clips,
    window_starts_for_clip,
)
from handpose.render.camera import project
from handpose.simulators.images.degrade import Degradation


def test_window_starts_hand_computed():
    assert window_starts_for_clip(10, 4, 4) == [0, 4, 6]
    assert window_starts_for_clip(10, 4, 3) == [0, 3, 6]
    assert window_starts_for_clip(3, 4, 2) == [0]
    assert window_starts_for_clip(4, 4, 1) == [0]


def _sample(seq: str, frame: int, view: int, H=48, W=64, slot=1):
    rng = np.random.default_rng(frame + 100 * view)
    j3 = np.zeros((2, 21, 3), np.float32)
    j3[slot] = rng.normal(0, 0.02, (21, 3)) + [0.0, 0.0, 0.4]
    K = np.array([[100.0, 0, W / 2], [0, 100.0, H / 2], [0, 0, 1]], np.float32)
    j2 = np.zeros((2, 21, 2), np.float32)
    j2[slot] = project(j3[slot].astype(np.float64), K)
    hv = np.zeros(2, bool)
    hv[slot] = True
    jv = np.zeros((2, 21), bool)
    jv[slot] = True
    lo, hi = j2[slot].min(0), j2[slot].max(0)
    return {
        "image": rng.integers(0, 255, (H, W, 3), dtype=np.uint8),
        "K": K,
        "hand_valid": hv,
        "joints3d": j3,
        "joints2d": j2,
        "joint_valid": jv,
        "bbox": np.concatenate([lo, hi]).astype(np.float32),
        "sequence": seq,
        "frame": np.int64(frame),
        "view": np.int64(view),
        "interacting": np.bool_(False),
        "capture_hw": np.array([H, W], np.int32),
    }


class ListSource(list):
    meta = {"dataset": "test"}


@pytest.fixture
def source():
    order = [("a", 2, 0), ("b", 0, 0), ("a", 0, 0), ("a", 1, 0), ("a", 0, 1), ("b", 1, 0),
             ("a", 3, 0), ("a", 1, 1)]  # fmt: skip
    return ListSource(_sample(*o) for o in order)


def test_clips_group_by_sequence_and_view_in_frame_order(source):
    clips = {c.key: c for c in video_clips(source)}
    assert set(clips) == {("a", 0), ("b", 0), ("a", 1)}
    assert clips[("a", 0)].indices.tolist() == [2, 3, 0, 6]
    assert clips[("a", 0)].frames.tolist() == [0, 1, 2, 3]
    assert clips[("b", 0)].indices.tolist() == [1, 5]


def test_windows(source):
    ds = VideoWindowDataset(source, window=2, stride=1, size=16, min_side=4)
    # clip (a, 0): 4 frames → 3 windows; (b, 0) and (a, 1): 2 frames → 1 each
    assert len(ds) == 5
    w = ds[0]
    assert tuple(w["image"].shape) == (2, 3, 16, 16)
    assert w["frame"].tolist() == [0, 1]
    assert int(w["side"]) == 1  # the left-hand slot
    assert torch.allclose(w["joints3d"][0], torch.as_tensor(source[2]["joints3d"][1]))
    # crop pixels: the joints' projection with the crop K
    from handpose.geometry.camera import project as project_t

    assert torch.allclose(
        project_t(w["joints3d"].double(), w["K"].double()).float(), w["joints2d"], atol=1e-3
    )


def test_degrade_frame_keeps_labels_consistent():
    s = _sample("a", 0, 0, H=48, W=64, slot=0)
    out = degrade_frame(s, 24, Degradation(), np.random.default_rng(0))
    # f = 64 // 24 = 2: the frame is trimmed to 48 × 64 (nothing to trim) and halved
    assert out["image"].shape == (24, 32, 3)
    assert np.allclose(project(s["joints3d"][0].astype(np.float64), out["K"].astype(np.float64)),
                       out["joints2d"][0], atol=1e-3)  # fmt: skip
    # pixel centres: u' = (u + ½)/2 − ½
    assert np.allclose(out["joints2d"][0], (s["joints2d"][0] + 0.5) / 2 - 0.5, atol=1e-3)
    # no degradation: each low-resolution pixel is the mean of its 2 × 2 block
    block = s["image"][:2, :2].astype(np.float64).mean((0, 1))
    assert np.allclose(out["image"][0, 0], np.round(block), atol=1)


def test_degrade_frame_trims_to_a_multiple_of_the_factor():
    s = _sample("a", 0, 0, H=50, W=70, slot=0)
    out = degrade_frame(s, 16, Degradation(), np.random.default_rng(0))
    # f = 70 // 16 = 4: 48 × 68 kept (1 row, 1 column trimmed on each side) → 12 × 17
    assert out["image"].shape == (12, 17, 3)
    assert np.allclose(project(s["joints3d"][0].astype(np.float64), out["K"].astype(np.float64)),
                       out["joints2d"][0], atol=1e-3)  # fmt: skip
    assert np.allclose(out["joints2d"][0], (s["joints2d"][0] - 1 + 0.5) / 4 - 0.5, atol=1e-3)


def test_low_resolution_view_is_deterministic(source):
    v = LowResolutionView(source, 16, seed=3)
    a, b = v[0], v[0]
    assert np.array_equal(a["image"], b["image"])
    assert a["image"].shape[1] == 16
    assert video_clips(v)[0].key == video_clips(source)[0].key
