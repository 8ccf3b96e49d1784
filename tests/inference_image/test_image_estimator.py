"""ImagePoseEstimator: crop convention, original camera frame, assumed K, left hands, meshes,
every model kind through the harness."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.geometry.camera import cam_crop_to_full, project
from handpose.inference.image import (
    ImagePoseEstimator,
    as_rgb,
    default_intrinsics,
    parse_intrinsics,
)
from inference_image.conftest import picture

K_FULL = np.array([[150.0, 0.0, 81.0], [0.0, 140.0, 57.5], [0.0, 0.0, 1.0]])


def test_default_intrinsics_pinned():
    # 60° across the longer side: f = (L/2)/tan 30° = 0.8660·L; centre at ((W−1)/2, (H−1)/2)
    K = default_intrinsics(640, 480)
    np.testing.assert_allclose(K, [[554.2562584, 0, 319.5], [0, 554.2562584, 239.5], [0, 0, 1]])
    Kp = default_intrinsics(480, 640)  # portrait: the same focal length
    np.testing.assert_allclose(Kp[0, 0], K[0, 0])
    np.testing.assert_allclose(Kp[:2, 2], [239.5, 319.5])
    np.testing.assert_allclose(default_intrinsics(100, 50, 90.0)[0, 0], 50.0)
    with pytest.raises(HandposeError, match="field of view"):
        default_intrinsics(100, 100, 180.0)


def test_parse_intrinsics():
    np.testing.assert_array_equal(
        parse_intrinsics("500,510,320,240"), [[500, 0, 320], [0, 510, 240], [0, 0, 1]]
    )
    np.testing.assert_array_equal(parse_intrinsics("1,0,2,0,3,4,0,0,1")[1], [0, 3, 4])
    for bad in ("1,2,3", "a,b,c,d", "-5,5,1,1", "1,0,2,0,3,4,0,1,1"):
        with pytest.raises(HandposeError, match="--K|fx"):
            parse_intrinsics(bad)


def test_as_rgb_accepts_grey_rgba_float_and_refuses_tiny():
    grey = np.full((10, 12), 7, np.uint8)
    assert as_rgb(grey).shape == (10, 12, 3)
    rgba = np.zeros((9, 9, 4), np.uint8)
    assert as_rgb(rgba).shape == (9, 9, 3)
    f = as_rgb(np.full((8, 8, 3), 0.5))
    assert f.dtype == np.uint8 and f[0, 0, 0] == 128
    for bad, what in (
        (np.zeros((7, 20, 3), np.uint8), "at least 8 px"),
        (np.zeros((0, 0, 3), np.uint8), "at least 8 px"),
        (np.zeros((10, 10, 2), np.uint8), "shape"),
        (np.full((10, 10, 3), np.nan), "NaN"),
        (np.array([["a"]]), "dtype"),
    ):
        with pytest.raises(HandposeError, match=what):
            as_rgb(bad)


def test_box_crop_equals_the_crop_given_as_it_is(baseline, image):
    """A box crops exactly like the datasets: with pad 1 and a 64-px box (= S, no resize) the
    crop is pixels x0 … x0+63, K moves by (x0, y0), 3D is unchanged and 2D shifts back."""
    est = ImagePoseEstimator(baseline.backend, baseline.spec, pad=1.0)
    x0, y0 = 50, 30
    full = est.predict(image, box=(x0 - 0.5, y0 - 0.5, x0 + 63.5, y0 + 63.5), K=K_FULL)
    crop = image[y0 : y0 + 64, x0 : x0 + 64]
    Kc = K_FULL.copy()
    Kc[:2, 2] -= (x0, y0)
    alone = est.predict(crop, K=Kc)
    h, c = full.hands[0], alone.hands[0]
    np.testing.assert_array_equal(h.crop, [x0, y0, 64])
    np.testing.assert_allclose(h.joints3d, c.joints3d, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h.joints2d, c.joints2d + (x0, y0), atol=1e-4)
    assert not full.K_assumed and full.fov_deg is None


def test_outputs_are_in_the_original_camera_frame(baseline, image):
    """The baseline's 2D joints are the projection of its 3D joints in the crop; after the
    crop is undone that holds with the ORIGINAL K (resized, zero-padded crop)."""
    pred = baseline.predict(image, box=[(-20, -10, 30, 45), (90, 40, 150, 110)], K=K_FULL)
    assert len(pred.hands) == 2
    for h in pred.hands:
        uv = project(torch.as_tensor(h.joints3d), torch.as_tensor(K_FULL)).numpy()
        np.testing.assert_allclose(uv, h.joints2d, atol=2e-3)
        assert h.side == "unknown" and h.side_source == "unknown" and h.vertices is None
    # the first box leaves the image: its crop starts outside
    assert pred.hands[0].crop[0] < 0 and pred.hands[0].crop[1] < 0


def test_assumed_K_is_reported_and_used(baseline, image):
    a = baseline.predict(image, box=(40, 30, 90, 80))
    assert a.K_assumed and a.fov_deg == 60.0
    np.testing.assert_allclose(a.K, default_intrinsics(160, 120))
    b = baseline.predict(image, box=(40, 30, 90, 80), K=default_intrinsics(160, 120))
    np.testing.assert_allclose(a.hands[0].joints3d, b.hands[0].joints3d)
    assert not b.K_assumed
    c = baseline.predict(image, box=(40, 30, 90, 80), fov_deg=30.0)
    # the 2D joints do not depend on the focal length, the 3D ones do
    np.testing.assert_allclose(a.hands[0].joints2d, c.hands[0].joints2d, atol=1e-3)
    assert not np.allclose(a.hands[0].joints3d, c.hands[0].joints3d)
    d = a.to_dict()
    assert d["camera"]["assumed"] and "depth" in d["camera"]["note"]


def test_batch_equals_single_images(baseline):
    imgs = [picture(seed=s) for s in range(3)]
    boxes = [(40, 30, 90, 80), None, [(10, 10, 50, 60), (60, 20, 140, 100)]]
    sides = ["left", None, ["right", "left"]]
    est = ImagePoseEstimator(baseline.backend, baseline.spec, batch_size=2)
    many = est.predict_batch(imgs, boxes, None, sides)
    for img, b, s, p in zip(imgs, boxes, sides, many):
        one = baseline.predict(img, box=b, side=s)
        assert [h.side for h in one.hands] == [h.side for h in p.hands]
        for h1, h2 in zip(one.hands, p.hands):
            np.testing.assert_allclose(h1.joints3d, h2.joints3d, rtol=1e-5, atol=1e-6)


def _mirror_case(est, image, *, left_side: str, right_side: str):
    """Predict on the image (box b) and on its mirror image (box b'), for the flip tests.
    Box width 30 and pad 1.5 give a 45-px crop whose mirror is exactly the mirrored crop."""
    H, W = image.shape[:2]
    box = (40.0, 30.0, 70.0, 60.0)
    mbox = (W - 1 - box[2], box[1], W - 1 - box[0], box[3])
    Km = K_FULL.copy()
    Km[0, 2] = W - 1 - K_FULL[0, 2]
    p = est.predict(image, box=box, K=K_FULL, side=left_side)
    m = est.predict(np.ascontiguousarray(image[:, ::-1]), box=mbox, K=Km, side=right_side)
    return p.hands[0], m.hands[0], W


def test_left_hands_flip_for_right_only_models(ckpts, image):
    """A left hand given to a right-hand-only model = the mirrored picture's right hand,
    mirrored back (x → −x, u → W−1−u, axis-angles (x, −y, −z), transl (−x, y, z))."""
    est = ImagePoseEstimator.load(ckpts["right_only"], pad=1.5)
    assert est.flip_left and est.spec.input_sides == "right"
    left, right, W = _mirror_case(est, image, left_side="left", right_side="right")
    assert left.flipped and not right.flipped and left.side == "left"
    Q = np.diag([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(left.joints3d, right.joints3d @ Q, atol=2e-6)
    np.testing.assert_allclose(left.vertices, right.vertices @ Q, atol=2e-6)
    np.testing.assert_allclose(left.joints2d[:, 0], W - 1 - right.joints2d[:, 0], atol=2e-4)
    np.testing.assert_allclose(left.joints2d[:, 1], right.joints2d[:, 1], atol=2e-4)
    sign = np.array([1.0, -1.0, -1.0])
    np.testing.assert_allclose(left.mano["global_orient"], right.mano["global_orient"] * sign,
                               atol=2e-6)  # fmt: skip
    np.testing.assert_allclose(
        left.mano["hand_pose"], (right.mano["hand_pose"].reshape(15, 3) * sign).ravel(), atol=2e-6
    )
    np.testing.assert_allclose(left.mano["transl"], right.mano["transl"] * [-1, 1, 1], atol=2e-6)
    # the same left hand without flipping is a different prediction
    noflip = ImagePoseEstimator(est.backend, est.spec, pad=1.5, flip_left=False)
    other = noflip.predict(image, box=(40, 30, 70, 60), K=K_FULL, side="left").hands[0]
    assert not other.flipped and not np.allclose(other.joints3d, left.joints3d)


def test_models_for_both_sides_do_not_flip_unless_asked(baseline, image):
    assert not baseline.flip_left
    h = baseline.predict(image, box=(40, 30, 70, 60), side="left").hands[0]
    assert not h.flipped and h.side == "left" and h.side_source == "given"
    forced = ImagePoseEstimator(baseline.backend, baseline.spec, pad=1.5, flip_left=True)
    left, right, W = _mirror_case(forced, image, left_side="left", right_side="right")
    assert left.flipped
    np.testing.assert_allclose(left.joints3d, right.joints3d * [-1, 1, 1], rtol=1e-5, atol=1e-5)


def test_two_hand_models_fill_right_and_left(ckpts, image):
    est = ImagePoseEstimator.load(ckpts["two_hands"])
    assert est.spec.hands == 2 and est.spec.output_kind == "two_hands"
    pred = est.predict(image, box=(30, 20, 130, 100), K=K_FULL, side="left")
    assert [(h.side, h.side_source, h.flipped) for h in pred.hands] == [
        ("right", "model", False),
        ("left", "model", False),
    ]
    for h in pred.hands:
        assert h.vertices.shape == (8, 3) and h.mesh == "model"
        assert set(h.mano) == {"global_orient", "hand_pose", "betas", "transl"}
        uv = project(torch.as_tensor(h.joints3d), torch.as_tensor(K_FULL)).numpy()
        np.testing.assert_allclose(uv, h.joints2d, atol=1e-3)


def test_weak_perspective_models_are_placed_with_cam_crop_to_full(ckpts, image):
    """The crop-frame placement equals HaMeR's crop-to-full conversion with the box in the
    ORIGINAL image (centre x0 + (side−1)/2, side) and the original K."""
    est = ImagePoseEstimator.load(ckpts["weak"])
    box = (35.0, 25.0, 95.0, 75.0)
    pred = est.predict(image, box=box, K=K_FULL)
    (c,) = est.plan_crops(0, image, box, K_FULL, None, "test")
    x = torch.from_numpy(est.crop_pixels(image, c))[None]
    model = est.backend.model
    with torch.no_grad():
        out = model(x, torch.as_tensor(c.K_crop, dtype=torch.float32)[None])
    centre = torch.tensor([[c.x0 + (c.side_px - 1) / 2, c.y0 + (c.side_px - 1) / 2]],
                          dtype=torch.float64)  # fmt: skip
    T = cam_crop_to_full(
        out.camera.double(), centre, torch.tensor([float(c.side_px)], dtype=torch.float64),
        torch.as_tensor(K_FULL)[None],
    )  # fmt: skip
    expect = (out.joints.double() + T[:, None]).numpy()[0]
    np.testing.assert_allclose(pred.hands[0].joints3d, expect, rtol=1e-5, atol=1e-6)


def test_video_models_predict_single_images_from_one_frame(ckpts, image):
    est = ImagePoseEstimator.load(ckpts["video"])
    assert est.spec.window == 3 and est.spec.output_kind == "video"
    pred = est.predict(image, box=(40, 30, 90, 80))
    assert pred.hands[0].joints3d.shape == (21, 3)


def test_fit_mesh_gives_vertices_mano_and_a_side(baseline, image):
    est = ImagePoseEstimator(baseline.backend, baseline.spec, fit_mesh="open")
    # joints of a real right hand: the fit must choose the right side
    from handpose.handmodel import HandModel

    hand = HandModel("open", side="right", flat_hand_mean=True)
    with torch.no_grad():
        out = hand(
            global_orient=torch.tensor([[0.3, -0.2, 0.1]]), transl=torch.tensor([[0, 0, 0.5]])
        )
    from handpose.inference.image import HandPrediction

    h = HandPrediction("unknown", "unknown", out.joints21[0].double().numpy(), np.zeros((21, 2)),
                       None, None, None, np.zeros(4), np.zeros(3))  # fmt: skip
    est.fit_meshes([h])
    assert h.side == "right" and h.side_source == "fit" and h.mesh == "fit"
    assert h.vertices.shape == (hand.num_vertices, 3) and h.fit_error_mm < 1.0
    pred = est.predict(image, box=(40, 30, 90, 80), side="left")
    assert pred.hands[0].mesh == "fit" and pred.hands[0].side == "left"


def test_bad_boxes_and_sides(baseline, image):
    for box, what in (
        ((10, 10, 5, 20), "empty"),
        ((200, 10, 260, 50), "outside"),
        ((-60, -60, -1, -1), "outside"),
        ((1, 2, 3), "4 finite"),
        ((0, 0, math.nan, 9), "4 finite"),
        ([], "empty list"),
    ):
        with pytest.raises(HandposeError, match=what):
            baseline.predict(image, box=box)
    with pytest.raises(HandposeError, match="side"):
        baseline.predict(image, box=(10, 10, 50, 50), side="middle")
    with pytest.raises(HandposeError, match="2 box"):
        baseline.predict(image, box=[(10, 10, 50, 50), (60, 10, 90, 50)], side=["left"])
    with pytest.raises(HandposeError, match="K of"):
        baseline.predict(image, K=np.eye(2))


def test_wrong_checkpoints(ckpts, tmp_path):
    with pytest.raises(HandposeError, match="method 'baseline', not of 'ehpe'"):
        ImagePoseEstimator.load(ckpts["baseline"], method="ehpe")
    with pytest.raises(HandposeError, match="does not exist"):
        ImagePoseEstimator.load(tmp_path / "missing.ckpt")
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(HandposeError, match="junk.ckpt"):
        ImagePoseEstimator.load(junk)
