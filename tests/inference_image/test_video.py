"""Video inference: frame sources, per-side tracks with gaps, causal windows of video models
(streaming API, window graph, ONNX), smoothing, result files."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
import torch
from PIL import Image

from handpose.errors import HandposeError
from handpose.inference.image import ImagePoseEstimator
from handpose.inference.smoothing import one_euro_filter, savgol_smooth
from handpose.inference.video import infer_video, read_frames, write_video_results
from handpose.utils.video import open_video, write_video
from inference_image.conftest import picture

FRAMES = 9
GAP = 4  # no box in this frame


def _box(f: int) -> list[float]:
    return [20.0 + 3 * f, 15.0, 80.0 + 3 * f, 75.0]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A folder of PNG frames (lossless), a box table with a gap, and an MP4 of the frames."""
    root = tmp_path_factory.mktemp("clip")
    folder = root / "frames"
    folder.mkdir()
    frames = [picture(96, 128, seed=f) for f in range(FRAMES)]
    for f, img in enumerate(frames):
        Image.fromarray(img).save(folder / f"{f:04d}.png")
    table = root / "boxes.csv"
    rows = [f"{f},{','.join(str(v) for v in _box(f))},right" for f in range(FRAMES) if f != GAP]
    table.write_text("frame,x0,y0,x1,y1,side\n" + "\n".join(rows) + "\n")
    mp4 = write_video(root / "clip.mp4", frames, 10.0)
    return {"folder": folder, "boxes": table, "frames": frames, "mp4": mp4}


def _reference_windows(est, frames, K):
    """Naive: frame t from the model's window forward over frames s … t of its run
    (s = max(run start, t − T + 1)), read at the last position."""
    T = est.spec.window
    out = np.full((FRAMES, 21, 3), np.nan)
    run_start = 0
    graph = est.backend.graph
    for t in range(FRAMES):
        if t == GAP:
            run_start = t + 1
            continue
        s = max(run_start, t - T + 1)
        crops = [
            est.plan_crops(0, frames[u], _box(u), K, "right", "ref")[0] for u in range(s, t + 1)
        ]
        xs = torch.from_numpy(
            np.stack([est.crop_pixels(frames[u], c) for u, c in zip(range(s, t + 1), crops)])
        )[None]
        Ks = torch.as_tensor(np.stack([c.K_crop for c in crops]), dtype=torch.float32)[None]
        with torch.no_grad():
            res = graph.standardize(graph.model(xs, Ks), Ks, xs.shape[-1], lead=2)
        raw = {k: v[0, -1].numpy() for k, v in res.items()}
        out[t] = est.crop_outputs_to_image(crops[-1], raw)["joints3d"][0]
    return out


def test_video_model_sliding_windows_match_the_naive_reference(ckpts, clip):
    est = ImagePoseEstimator.load(ckpts["video"])
    pred = infer_video(est, clip["folder"], boxes=clip["boxes"])
    assert pred.smoothing == {"method": "none"}  # video models are not smoothed by default
    assert pred.sides == ["right"] and pred.valid[:, 0].tolist() == [
        f != GAP for f in range(FRAMES)
    ]
    ref = _reference_windows(est, clip["frames"], pred.K)
    np.testing.assert_allclose(pred.joints3d[:, 0], ref, rtol=1e-5, atol=1e-6, equal_nan=True)
    # the window matters: frame 3 differs from the same crop seen alone
    alone = est.predict(clip["frames"][3], box=_box(3), K=pred.K).hands[0].joints3d
    assert not np.allclose(alone, pred.joints3d[3, 0])
    # right after the gap the window restarts: frame GAP + 1 is its crop alone
    alone = est.predict(clip["frames"][GAP + 1], box=_box(GAP + 1), K=pred.K).hands[0].joints3d
    np.testing.assert_allclose(pred.joints3d[GAP + 1, 0], alone, rtol=1e-5, atol=1e-6)


class _CountingStream:
    """A streaming API for the toy video model: caches the last T crops, counts steps."""

    def __init__(self, model):
        self.model, self.buf, self.steps, self.resets = model, deque(maxlen=model.window), 0, 0

    def reset(self):
        self.buf.clear()
        self.resets += 1

    def step(self, image, K):
        self.steps += 1
        self.buf.append((image, K))
        xs = torch.stack([x for x, _ in self.buf], 1)
        Ks = torch.stack([k for _, k in self.buf], 1)
        out = self.model(xs, Ks)
        out.joints3d, out.joints2d = out.joints3d[:, -1], out.joints2d[:, -1]
        return out


def test_a_declared_streaming_api_is_used(ckpts, clip):
    est = ImagePoseEstimator.load(ckpts["video"])
    ref = infer_video(est, clip["folder"], boxes=clip["boxes"])
    model = est.backend.model
    streams = []
    model.stream = lambda: streams.append(_CountingStream(model)) or streams[-1]
    try:
        pred = infer_video(est, clip["folder"], boxes=clip["boxes"])
    finally:
        del model.stream
    assert len(streams) == 1 and streams[0].steps == FRAMES - 1 and streams[0].resets == 2
    np.testing.assert_allclose(pred.joints3d, ref.joints3d, rtol=1e-5, atol=1e-6)


def test_video_model_onnx_matches_torch(ckpts, clip, tmp_path):
    from handpose.inference.image_onnx import export_image_onnx

    export_image_onnx(ckpts["video"], tmp_path / "video.onnx")
    a = infer_video(ImagePoseEstimator.load(tmp_path / "video.onnx"), clip["folder"],
                    boxes=clip["boxes"])  # fmt: skip
    b = infer_video(ImagePoseEstimator.load(ckpts["video"]), clip["folder"], boxes=clip["boxes"])
    np.testing.assert_allclose(a.joints3d, b.joints3d, rtol=1e-4, atol=1e-5)


def test_single_frame_models_are_smoothed_per_run(baseline, clip):
    raw = infer_video(baseline, clip["folder"], boxes=clip["boxes"], smooth="none")
    for f in (0, 3, GAP + 2):  # every frame on its own
        one = baseline.predict(clip["frames"][f], box=_box(f), side="right", K=raw.K)
        np.testing.assert_allclose(raw.joints3d[f, 0], one.hands[0].joints3d, rtol=1e-5, atol=1e-6)
    assert np.isnan(raw.joints3d[GAP]).all() and np.isnan(raw.boxes[GAP]).all()
    sm = infer_video(baseline, clip["folder"], boxes=clip["boxes"], fps=10.0)
    assert sm.smoothing == {"method": "one-euro", "min_cutoff": 1.0, "beta": 20.0, "d_cutoff": 1.0}
    np.testing.assert_allclose(sm.raw["joints3d"], raw.joints3d, equal_nan=True)
    for a, b in ((0, GAP), (GAP + 1, FRAMES)):
        expect = one_euro_filter(raw.joints3d[a:b, 0], fps=10.0, min_cutoff=1.0, beta=20.0)
        np.testing.assert_allclose(sm.joints3d[a:b, 0], expect)
    # the 2D joints move with the projected 3D change: for the baseline 2D = projection of 3D
    from handpose.geometry.camera import project

    uv = project(torch.as_tensor(sm.joints3d[:GAP, 0]), torch.as_tensor(sm.K)).numpy()
    np.testing.assert_allclose(sm.joints2d[:GAP, 0], uv, atol=5e-3)
    sg = infer_video(baseline, clip["folder"], boxes=clip["boxes"], smooth="savgol",
                     smooth_params={"window": 3, "order": 1})  # fmt: skip
    np.testing.assert_allclose(sg.joints3d[:GAP, 0], savgol_smooth(raw.joints3d[:GAP, 0], 3, 1))


def test_mano_rotations_stay_rotations(ckpts, clip):
    est = ImagePoseEstimator.load(ckpts["two_hands"])
    raw = infer_video(est, clip["folder"], box=np.array([10.0, 10.0, 110.0, 90.0]), smooth="none")
    sm = infer_video(est, clip["folder"], box=np.array([10.0, 10.0, 110.0, 90.0]),
                     smooth="savgol", smooth_params={"window": 5, "order": 1})  # fmt: skip
    assert sm.sides == ["right", "left"] and sm.valid.all()
    assert sm.vertices.shape == (FRAMES, 2, 8, 3) and sm.mano["hand_pose"].shape == (FRAMES, 2, 45)
    np.testing.assert_allclose(sm.raw["mano_hand_pose"], raw.mano["hand_pose"])
    np.testing.assert_allclose(sm.mano["betas"], savgol_smooth(raw.mano["betas"], 5, 1))
    # axis-angles of unit-free rotations: smoothing changes them, but not by more than the
    # spread of the raw sequence
    d = np.abs(sm.mano["global_orient"] - raw.mano["global_orient"]).max()
    assert 0 < d < 2 * np.ptp(raw.mano["global_orient"], axis=0).max() + 1e-9


def test_mp4_input_overlay_and_files(baseline, clip, tmp_path):
    info = open_video(clip["mp4"])
    assert (info.width, info.height) == (128, 96) and info.fps == 10.0
    pred = infer_video(baseline, clip["mp4"], box=np.array([20.0, 15.0, 80.0, 75.0]), side="left")
    assert pred.num_frames == FRAMES and pred.sides == ["left"] and pred.valid.all()
    written = write_video_results(pred, tmp_path / "out")
    back = open_video(written["video"])
    assert (back.width, back.height) == (128, 96)
    assert sum(1 for _ in back.frames()) == FRAMES
    data = np.load(written["npz"])
    assert data["joints3d"].shape == (FRAMES, 1, 21, 3) and str(data["side"][0]) == "left"
    assert "raw_joints3d" in data.files and bool(data["K_assumed"])
    import json

    doc = json.loads(written["json"].read_text())
    assert len(doc["frames"]) == FRAMES and doc["frames"][0]["hands"][0]["side"] == "left"


def test_bad_videos(baseline, clip, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 50)
    with pytest.raises(HandposeError, match="junk.mp4"):
        infer_video(baseline, junk)
    with pytest.raises(HandposeError, match="does not exist"):
        read_frames(tmp_path / "none.mp4")
    two = tmp_path / "two.json"
    two.write_text('{"0": [[0, 0, 40, 40], [50, 0, 90, 40]]}')
    with pytest.raises(HandposeError, match="same side"):
        infer_video(baseline, clip["folder"], boxes=two)
    with pytest.raises(HandposeError, match="--smooth"):
        infer_video(baseline, clip["folder"], smooth="kalman")
    with pytest.raises(HandposeError, match="no parameter"):
        infer_video(baseline, clip["folder"], smooth="one-euro", smooth_params={"window": 3})
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.fromarray(picture(40, 40)).save(mixed / "a.png")
    Image.fromarray(picture(50, 40)).save(mixed / "b.png")
    with pytest.raises(HandposeError, match="same size"):
        infer_video(baseline, mixed)
