"""The paper methods (EHPE, DIR, PGTE and PGTE's VIBE-style baseline) through the generic image
inference: the spec each declares, ImagePoseEstimator on a crop and on a full image with a box,
``handpose export onnx`` → onnxruntime parity and the exported file run alone, and PGTE's video
path (its streaming API in torch, its window graph in onnxruntime).

Checkpoints: each method's ``tiny`` preset built by its own ``build_model`` with trained-like
weights (``image_models.write_method_checkpoint``); that real training writes the same layout
is tested in tests/training.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import handpose.cli as cli
from handpose.geometry.camera import project
from handpose.inference.image import ImagePoseEstimator
from handpose.inference.image_model import load_image_model
from handpose.inference.image_onnx import (
    export_image_onnx,
    image_model_to_onnx,
    image_onnx_parity,
    read_image_onnx_spec,
)
from inference_image.conftest import picture
from inference_image.image_models import write_method_checkpoint

METHODS = ("ehpe", "dir", "pgte", "vibe")
BOX = (40.0, 30.0, 100.0, 90.0)
K_FULL = np.array([[150.0, 0.0, 80.0], [0.0, 150.0, 60.0], [0.0, 0.0, 1.0]])
# method → (stage, input side, hands, window, vertices (0: none), input_sides)
EXPECTED = {
    "ehpe": ("pg", 64, 1, 1, 0, "any"),
    "dir": ("main", 64, 2, 1, 1379, "any"),
    "pgte": ("main", 32, 1, 4, 1379, "any"),
    "vibe": ("main", 32, 1, 4, 1379, "right"),
}


@pytest.fixture(scope="module")
def method_ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper_ckpts")
    return {m: write_method_checkpoint(root / f"{m}.ckpt", m) for m in METHODS}


@pytest.fixture(scope="module")
def method_onnx(method_ckpts, tmp_path_factory):
    """Each method exported with the CLI (which refuses to write a file that fails parity)."""
    root = tmp_path_factory.mktemp("paper_onnx")
    out = {}
    for m in ("ehpe", "dir", "pgte"):
        out[m] = root / f"{m}.onnx"
        assert cli.main(["export", "onnx", "--checkpoint", str(method_ckpts[m]),
                         "--out", str(out[m])]) == 0  # fmt: skip
    return out


@pytest.mark.parametrize("name", METHODS)
def test_each_method_declares_its_graph(method_ckpts, name):
    _, spec, _ = load_image_model(method_ckpts[name])
    stage, size, hands, window, verts, sides = EXPECTED[name]
    assert (spec.method, spec.stage) == ("pgte" if name == "vibe" else name, stage)
    assert (spec.input_size, spec.hands, spec.window) == (size, hands, window)
    assert spec.output_kind == {1: "one_hand", 2: "two_hands"}[hands] if window == 1 else "video"
    assert spec.num_vertices == verts and spec.input_sides == sides
    assert spec.outputs[:2] == ("joints3d", "joints2d")
    assert ("vertices" in spec.outputs) == (verts > 0)
    assert spec.has_mano == (name == "dir")  # DIR's MANO parameters, axis-angle


@pytest.mark.parametrize("name", METHODS)
def test_estimator_on_a_crop_and_on_a_box(method_ckpts, name):
    est = ImagePoseEstimator.load(method_ckpts[name], method="pgte" if name == "vibe" else name)
    _, size, hands, _, verts, _ = EXPECTED[name]
    img = picture()
    crop = est.predict(img[:64, :64])
    assert len(crop.hands) == hands and crop.K_assumed
    full = est.predict(img, box=BOX, K=K_FULL)
    assert len(full.hands) == hands and not full.K_assumed
    if hands == 2:
        assert [h.side for h in full.hands] == ["right", "left"]
        assert {h.side_source for h in full.hands} == {"model"}
    for h in full.hands:
        assert h.joints3d.shape == (21, 3) and np.isfinite(h.joints3d).all()
        assert (h.joints3d[:, 2] > 0).all()
        # the camera frame is the full image's: the 2D joints are the 3D joints projected
        # (DIR's and VIBE's 2D joints are their weak-perspective projection: only the wrist,
        # where the hand is placed in the camera frame, coincides)
        uv = project(torch.from_numpy(h.joints3d), torch.from_numpy(K_FULL)).numpy()
        n = 1 if name in ("dir", "vibe") else 21
        np.testing.assert_allclose(h.joints2d[:n], uv[:n], rtol=1e-4, atol=1e-3)
        assert (h.vertices is None) == (verts == 0)
        if verts:
            assert h.vertices.shape == (verts, 3) and h.mesh == "model"
        x0, y0, side = h.crop
        assert side >= 1.3 * 60 - 1  # the model's pad about the box
    # the box changes the crop: the joints differ from the whole-image prediction
    assert not np.allclose(crop.hands[0].joints2d, full.hands[0].joints2d)


@pytest.mark.parametrize("name", ["ehpe", "dir", "pgte"])
def test_onnx_parity_and_the_file_alone(method_ckpts, method_onnx, name):
    spec = read_image_onnx_spec(method_onnx[name])
    assert spec.method == name and spec.window == EXPECTED[name][3]
    model, spec2, _ = load_image_model(method_ckpts[name])
    assert spec2.outputs == spec.outputs
    diffs = image_onnx_parity(model, spec2, method_onnx[name].read_bytes(), seed=7)
    assert all(rel <= 1e-4 for _, rel in diffs.values()), diffs
    # the 2D joints (and DIR's outputs: no depth lifted from a bone length) pass the plain check
    assert diffs["joints2d"][0] <= 1e-4 * (1 + spec.input_size)
    if name == "dir":
        assert all(absolute <= 1e-4 for absolute, _ in diffs.values()), diffs
    # the exported file runs in the estimator on its metadata alone, like the checkpoint
    a = ImagePoseEstimator.load(method_onnx[name])
    b = ImagePoseEstimator.load(method_ckpts[name])
    assert a.backend.name == "onnxruntime"
    pa = a.predict(picture(), box=BOX, K=K_FULL)
    pb = b.predict(picture(), box=BOX, K=K_FULL)
    for ha, hb in zip(pa.hands, pb.hands, strict=True):
        np.testing.assert_allclose(ha.joints2d, hb.joints2d, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(ha.joints3d, hb.joints3d, rtol=1e-3, atol=1e-4)
        if hb.vertices is not None:
            np.testing.assert_allclose(ha.vertices, hb.vertices, rtol=1e-3, atol=1e-4)


def test_parity_allowance_does_not_hide_other_weights(method_ckpts):
    """EHPE lifts depth from a bone length (the ill-conditioned case the parity check allows
    for: its float32 rounding error); a graph exported from other weights is still refused."""
    model, spec, _ = load_image_model(method_ckpts["ehpe"])
    data = image_model_to_onnx(model, spec)
    assert all(rel <= 1e-4 for _, rel in image_onnx_parity(model, spec, data).values())
    with torch.no_grad():
        next(p for p in model.parameters() if p.ndim == 1).add_(0.01)
    diffs = image_onnx_parity(model, spec, data)
    assert diffs["joints2d"][1] > 1e-4 and diffs["joints3d"][1] > 1e-4


def test_vibe_variant_runs_in_torch_and_exports_with_parity(method_ckpts, tmp_path):
    """The VIBE-style baseline declares right hands (its head drives the right-hand model
    without a side): left hands are mirrored. It exports to ONNX with parity at batches 1 and 3
    (traced at 2): the hand model layer no longer bakes the traced batch size into the graph."""
    est = ImagePoseEstimator.load(method_ckpts["vibe"])
    left = est.predict(picture(), box=BOX, K=K_FULL, side="left").hands[0]
    right = est.predict(picture(), box=BOX, K=K_FULL, side="right").hands[0]
    assert left.flipped and not right.flipped and left.vertices.shape == (1379, 3)
    assert not np.allclose(left.joints3d, right.joints3d)
    out = tmp_path / "vibe.onnx"
    report = export_image_onnx(method_ckpts["vibe"], out)
    assert out.exists() and report.max_diff is not None
    assert max(rel for _, rel in report.max_diff.values()) <= 1e-4
    onnx_est = ImagePoseEstimator.load(out)
    got = onnx_est.predict(picture(), box=BOX, K=K_FULL, side="left").hands[0]
    np.testing.assert_allclose(got.joints3d, left.joints3d, atol=1e-4)


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pgte_clip") / "frames"
    folder.mkdir()
    for f in range(6):
        Image.fromarray(picture(96, 128, seed=f)).save(folder / f"{f:04d}.png")
    return folder


def test_pgte_video_streams_in_torch_and_matches_the_onnx_window_graph(
    method_ckpts, method_onnx, frames, monkeypatch
):
    from handpose.inference.video import infer_video
    from handpose.models.pgte import WindowStream

    steps = []
    original = WindowStream.step
    monkeypatch.setattr(
        WindowStream, "step", lambda self, *a, **k: steps.append(1) or original(self, *a, **k)
    )
    box = np.array([20.0, 15.0, 80.0, 75.0])
    torch_pred = infer_video(ImagePoseEstimator.load(method_ckpts["pgte"]), frames, box=box)
    assert len(steps) == 6  # PGTE.stream(): one encoded frame per step
    assert torch_pred.smoothing == {"method": "none"} and torch_pred.valid.all()
    onnx_pred = infer_video(ImagePoseEstimator.load(method_onnx["pgte"]), frames, box=box)
    assert len(steps) == 6  # onnxruntime ran the window graph
    np.testing.assert_allclose(onnx_pred.joints2d, torch_pred.joints2d, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(onnx_pred.joints3d, torch_pred.joints3d, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(onnx_pred.vertices, torch_pred.vertices, rtol=1e-3, atol=1e-4)
    # the window matters: frame 3 is not its crop alone
    alone = ImagePoseEstimator.load(method_ckpts["pgte"]).predict(
        Image.open(frames / "0003.png"), box=box, K=torch_pred.K
    )
    assert not np.allclose(alone.hands[0].joints3d, torch_pred.joints3d[3, 0], atol=1e-6)
