"""Batched augmentation: labels, K and pixels stay consistent; hand-written ops vs naive code."""

import colorsys
import io

import numpy as np
import pytest
import torch
from PIL import Image

from handpose.datasets.augment import (
    AugmentConfig,
    add_noise,
    augment,
    batch_label_bbox,
    colour_jitter,
    erase_boxes,
    gaussian_blur,
    geometry_maps,
    jpeg_compress,
    low_resolution,
    random_erase,
    rest_root_from_models,
)
from handpose.errors import HandposeError
from handpose.geometry.camera import project

H, W = 48, 64


def _blob_image(uv: np.ndarray, sigma: float = 1.6) -> np.ndarray:
    ys, xs = np.mgrid[0:H, 0:W]
    img = np.exp(-((xs - uv[0]) ** 2 + (ys - uv[1]) ** 2) / (2 * sigma**2))
    return img


def _batch(B=6, seed=0, vertices=True, mask=True):
    g = np.random.default_rng(seed)
    K = np.zeros((B, 3, 3))
    K[:, 0, 0] = g.uniform(60, 80, B)
    K[:, 1, 1] = K[:, 0, 0] * g.uniform(0.95, 1.05, B)  # slightly anisotropic pixels
    K[:, 0, 1] = g.uniform(-1, 1, B)  # and a skew
    K[:, 0, 2] = g.uniform(28, 36, B)
    K[:, 1, 2] = g.uniform(20, 28, B)
    K[:, 2, 2] = 1
    j3 = g.normal(0, 0.02, (B, 2, 21, 3)) + [0, 0, 0.5]
    j2 = np.einsum("bij,bsnj->bsni", K, j3)
    j2 = j2[..., :2] / j2[..., 2:]
    img = np.zeros((B, 3, H, W))
    for b in range(B):
        img[b, 0] = _blob_image(j2[b, 0, 0])  # red dot on the right wrist
        img[b, 1] = _blob_image(j2[b, 1, 5])  # green dot on the left index MCP
    batch = {
        "image": torch.tensor(img, dtype=torch.float32),
        "K": torch.tensor(K, dtype=torch.float32),
        "joints3d": torch.tensor(j3, dtype=torch.float32),
        "joints2d": torch.tensor(j2, dtype=torch.float32),
        "joint_valid": torch.ones(B, 2, 21, dtype=torch.bool),
        "hand_valid": torch.ones(B, 2, dtype=torch.bool),
        "bbox": torch.zeros(B, 4),
        "sequence": [""] * B,
    }
    if vertices:
        batch["vertices"] = torch.tensor(g.normal(0, 0.02, (B, 2, 9, 3)) + [0, 0, 0.5]).float()
    if mask:
        m = torch.zeros(B, H, W, dtype=torch.uint8)
        m[:, 5:15, 5:20] = 1
        m[:, 30:40, 40:60] = 2
        batch["mask"] = m
    return batch


def _centroid(ch: torch.Tensor) -> np.ndarray:
    a = ch.double().numpy()
    a = np.where(a > 0.05 * a.max(), a, 0.0)
    ys, xs = np.mgrid[0 : a.shape[0], 0 : a.shape[1]]
    return np.array([(a * xs).sum(), (a * ys).sum()]) / a.sum()


GEOMETRY = AugmentConfig(
    flip_p=0.5, rotation_deg=40.0, scale=(0.8, 1.2), translate=0.08, **{
        k: 0.0 for k in ("colour_p", "blur_p", "motion_blur_p", "noise_p", "jpeg_p", "lowres_p", "erase_p")
    }
)  # fmt: skip


def test_projection_consistent_after_geometry():
    batch = _batch(B=8)
    out = augment(batch, GEOMETRY, torch.Generator().manual_seed(1))
    proj = project(out["joints3d"].double(), out["K"].double()[:, None])
    np.testing.assert_allclose(proj.numpy(), out["joints2d"].double().numpy(), atol=1e-3)
    # K stays a pinhole matrix with positive focal lengths
    K = out["K"]
    assert torch.all(K[:, 2] == torch.tensor([0.0, 0.0, 1.0])) and torch.all(K[:, 1, 0] == 0)
    assert torch.all(K[:, 0, 0] > 0) and torch.all(K[:, 1, 1] > 0)
    # the box is the tight box of the new labels (joints and projected vertices)
    vp = project(out["vertices"].double(), out["K"].double()[:, None]).reshape(8, -1, 2)
    pts = torch.cat([out["joints2d"].double().reshape(8, -1, 2), vp], 1)
    np.testing.assert_allclose(
        out["bbox"].numpy(), torch.cat([pts.amin(1), pts.amax(1)], 1).numpy(), atol=1e-3
    )


def test_image_content_follows_labels():
    batch = _batch(B=8, seed=3)
    g = torch.Generator().manual_seed(5)
    out = augment(batch, GEOMETRY, g)
    flipped = 0
    for b in range(8):
        # the dot drawn at the right wrist follows its label; under a flip the hand becomes the
        # left hand (slot 1) while the red dot stays red
        swapped = bool(
            torch.equal(out["joints3d"][b, 1, :, 2], batch["joints3d"][b, 0, :, 2])
        )  # z kept
        flipped += swapped
        slot = 1 if swapped else 0
        c = _centroid(out["image"][b, 0])
        np.testing.assert_allclose(c, out["joints2d"][b, slot, 0].numpy(), atol=0.06)
        c = _centroid(out["image"][b, 1])
        np.testing.assert_allclose(c, out["joints2d"][b, 1 - slot, 5].numpy(), atol=0.06)
    assert 0 < flipped < 8  # both cases were exercised


def test_flip_and_rotation_constants():
    K = torch.tensor([[[100.0, 2.0, 30.0], [0.0, 110.0, 20.0], [0.0, 0.0, 1.0]]])
    A, Q, K2 = geometry_maps(
        K, (H, W), torch.tensor([True]), torch.zeros(1), torch.ones(1), torch.zeros(1, 2)
    )
    # u' = W − 1 − u; x → −x; K' = [[fx, −s, W − 1 − cx], [0, fy, cy], [0, 0, 1]]
    np.testing.assert_allclose(K2[0].numpy(), [[100, -2, 33], [0, 110, 20], [0, 0, 1]])
    np.testing.assert_allclose(A[0].numpy(), [[-1, 0, 63], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_allclose(Q[0].numpy(), np.diag([-1.0, 1, 1]))
    # rotation by 90° with square pixels: the image centre (31.5, 23.5) stays, K keeps f and
    # the principal point (30, 20) turns about the centre: (31.5 + 3.5, 23.5 − 1.5) = (35, 22)
    K = torch.tensor([[[100.0, 0.0, 30.0], [0.0, 100.0, 20.0], [0.0, 0.0, 1.0]]])
    A, Q, K2 = geometry_maps(
        K, (H, W), torch.tensor([False]), torch.tensor([90.0]), torch.ones(1), torch.zeros(1, 2)
    )
    np.testing.assert_allclose(K2[0].numpy(), [[100, 0, 35], [0, 100, 22], [0, 0, 1]], atol=1e-9)
    np.testing.assert_allclose(A[0, :2, :2].numpy(), [[0, -1], [1, 0]], atol=1e-12)
    np.testing.assert_allclose(
        (A[0] @ torch.tensor([31.5, 23.5, 1.0], dtype=torch.float64)).numpy(),
        [31.5, 23.5, 1],
        atol=1e-9,
    )
    # scale 2 about the centre plus a shift (3, −1)
    A, _, _ = geometry_maps(
        K,
        (H, W),
        torch.tensor([False]),
        torch.zeros(1),
        torch.tensor([2.0]),
        torch.tensor([[3.0, -1.0]]),
    )
    np.testing.assert_allclose(A[0].numpy(), [[2, 0, -31.5 + 3], [0, 2, -23.5 - 1], [0, 0, 1]])


def test_flip_swaps_slots_and_mask_labels():
    batch = _batch(B=2)
    cfg = AugmentConfig.none()
    cfg.flip_p = 1.0
    out = augment(batch, cfg, torch.Generator().manual_seed(0))
    np.testing.assert_allclose(out["joints3d"][:, 1, :, 0], -batch["joints3d"][:, 0, :, 0])
    np.testing.assert_allclose(
        out["joints2d"][:, 1, :, 0], W - 1 - batch["joints2d"][:, 0, :, 0], atol=1e-4
    )
    # mask: the right-hand block (label 1, x 5–19) is now label 2 at x 44–58
    assert out["mask"][0, 10, 50] == 2 and out["mask"][0, 35, 10] == 1
    assert out["mask"][0, 10, 10] == 0
    # the flipped image is the mirror of the input
    np.testing.assert_allclose(out["image"], batch["image"].flip(-1), atol=1e-5)


def test_mano_parameters_follow_exactly():
    from handpose.handmodel import HandModel

    right = HandModel("open", side="right", dtype=torch.float64)
    left = HandModel("open", side="left", dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    B = 4
    go = torch.randn(B, 3, generator=g, dtype=torch.float64) * 0.5
    hp = torch.randn(B, 45, generator=g, dtype=torch.float64) * 0.2
    be = torch.randn(B, 10, generator=g, dtype=torch.float64)
    tr = torch.randn(B, 3, generator=g, dtype=torch.float64) * 0.02 + torch.tensor([0, 0, 0.5])
    o = right(global_orient=go, hand_pose=hp, betas=be, transl=tr)
    V = o.vertices.shape[1]
    K = torch.tensor([[70.0, 0, 31.5], [0, 70, 23.5], [0, 0, 1]]).repeat(B, 1, 1)
    batch = {
        "image": torch.zeros(B, 3, H, W),
        "K": K,
        "joints3d": torch.stack([o.joints21, torch.zeros_like(o.joints21)], 1).float(),
        "joints2d": torch.zeros(B, 2, 21, 2),
        "joint_valid": torch.tensor([[True] * 21 + [False] * 21] * B).view(B, 2, 21),
        "hand_valid": torch.tensor([[True, False]] * B),
        "vertices": torch.stack([o.vertices, torch.zeros(B, V, 3, dtype=torch.float64)], 1).float(),
        "mano_global_orient": torch.stack([go, torch.zeros_like(go)], 1).float(),
        "mano_hand_pose": torch.stack([hp, torch.zeros_like(hp)], 1).float(),
        "mano_betas": torch.stack([be, torch.zeros_like(be)], 1).float(),
        "mano_transl": torch.stack([tr, torch.zeros_like(tr)], 1).float(),
        "mano_valid": torch.tensor([[True, False]] * B),
        "bbox": torch.zeros(B, 4),
    }
    batch["joints2d"] = project(batch["joints3d"], K[:, None])
    cfg = AugmentConfig.none()
    cfg.flip_p, cfg.rotation_deg = 0.5, 60.0
    cfg.rotation_p = 1.0
    out = augment(batch, cfg, torch.Generator().manual_seed(2), rest_root_from_models(right, left))
    assert out["mano_valid"].sum() == B
    for b in range(B):
        slot = int(out["mano_valid"][b].nonzero()[0])
        model = right if slot == 0 else left
        v = model(
            global_orient=out["mano_global_orient"][b, slot].double()[None],
            hand_pose=out["mano_hand_pose"][b, slot].double()[None],
            betas=out["mano_betas"][b, slot].double()[None],
            transl=out["mano_transl"][b, slot].double()[None],
        ).vertices[0]
        np.testing.assert_allclose(v.numpy(), out["vertices"][b, slot].double().numpy(), atol=2e-5)
    # without J0(β) the rotated parameters are marked unknown instead of being wrong
    out2 = augment(batch, cfg, torch.Generator().manual_seed(2))
    assert not out2["mano_valid"].any()
    # no sample flipped (empty selections) with MANO keys present
    cfg.flip_p = 0.0
    out3 = augment(batch, cfg, torch.Generator().manual_seed(2), rest_root_from_models(right, left))
    assert out3["mano_valid"][:, 0].all()


def test_identity_determinism_and_inputs_untouched():
    batch = _batch(B=4)
    before = {k: v.clone() for k, v in batch.items() if isinstance(v, torch.Tensor)}
    same = augment(batch, AugmentConfig.none())
    for k, v in before.items():
        assert torch.equal(same[k], v), k
    a = augment(batch, AugmentConfig(flip_p=0.5), torch.Generator().manual_seed(9))
    b = augment(batch, AugmentConfig(flip_p=0.5), torch.Generator().manual_seed(9))
    for k in before:
        assert torch.equal(a[k], b[k]), k
        assert torch.equal(batch[k], before[k]), k
    with pytest.raises(HandposeError, match="float tensor"):
        augment({**batch, "image": batch["image"].to(torch.uint8)})
    with pytest.raises(HandposeError, match="unknown augmentation option 'spin'"):
        AugmentConfig.from_dict({"spin": 3})
    assert AugmentConfig.from_dict({"scale": [0.9, 1.1]}).scale == (0.9, 1.1)


def test_full_pipeline_runs_and_keeps_geometry():
    batch = _batch(B=8)
    cfg = AugmentConfig(
        flip_p=0.5,
        colour_p=1,
        blur_p=0.5,
        motion_blur_p=0.5,
        noise_p=0.5,
        jpeg_p=0.5,
        lowres_p=0.5,
        erase_p=1.0,
    )
    out = augment(batch, cfg, torch.Generator().manual_seed(4))
    assert out["image"].shape == batch["image"].shape and out["image"].dtype == torch.float32
    assert out["image"].min() >= 0 and out["image"].max() <= 1
    proj = project(out["joints3d"].double(), out["K"].double()[:, None])
    np.testing.assert_allclose(proj.numpy(), out["joints2d"].double().numpy(), atol=1e-3)
    assert (out["mask"] == 3).any()  # erased rectangles are occluders in the mask


# --- hand-written operations against naive references ----------------------------------------


def _naive_jitter(px, b, c, s, h, mean_gray):
    r, g, bl = (min(max(v * b, 0), 1) for v in px)
    r, g, bl = (min(max((v - mean_gray) * c + mean_gray, 0), 1) for v in (r, g, bl))
    return r, g, bl


def test_colour_jitter_vs_naive():
    rng = np.random.default_rng(0)
    img = torch.tensor(rng.random((2, 3, 4, 5)), dtype=torch.float64)
    b, c, s, h = (
        torch.tensor(v, dtype=torch.float64)
        for v in ([1.2, 0.7], [0.8, 1.3], [1.4, 0.5], [0.1, -0.05])
    )
    got = colour_jitter(img, b, c, s, h).numpy()
    for n in range(2):
        x = np.clip(img[n].numpy() * float(b[n]), 0, 1)
        gray = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
        m = gray.mean()
        x = np.clip((x - m) * float(c[n]) + m, 0, 1)
        for i in range(4):
            for j in range(5):
                r, g, bl = x[:, i, j]
                gr = 0.299 * r + 0.587 * g + 0.114 * bl
                r, g, bl = (min(max(gr + (v - gr) * float(s[n]), 0), 1) for v in (r, g, bl))
                y, ii, qq = colorsys.rgb_to_yiq(r, g, bl)
                a = 2 * np.pi * float(h[n])
                ii, qq = ii * np.cos(a) - qq * np.sin(a), ii * np.sin(a) + qq * np.cos(a)
                want = colorsys.yiq_to_rgb(y, ii, qq)  # colorsys clamps to [0, 1]
                np.testing.assert_allclose(got[n, :, i, j], want, atol=2e-3)


def test_low_resolution_vs_block_mean():
    rng = np.random.default_rng(1)
    img = torch.tensor(rng.random((1, 3, 8, 8)), dtype=torch.float64)
    got = low_resolution(img, torch.tensor([0.5]))[0].numpy()
    small = img[0].numpy().reshape(3, 4, 2, 4, 2).mean((2, 4))  # area = 2×2 block means
    # naive bilinear up-sampling with half-pixel centres (edge clamped)
    want = np.zeros((3, 8, 8))
    for y in range(8):
        for x in range(8):
            sy, sx = min(max((y + 0.5) / 2 - 0.5, 0), 3), min(max((x + 0.5) / 2 - 0.5, 0), 3)
            y0, x0 = int(np.floor(sy)), int(np.floor(sx))
            y1, x1 = min(y0 + 1, 3), min(x0 + 1, 3)
            fy, fx = sy - y0, sx - x0
            want[:, y, x] = (
                small[:, y0, x0] * (1 - fy) * (1 - fx)
                + small[:, y0, x1] * (1 - fy) * fx
                + small[:, y1, x0] * fy * (1 - fx)
                + small[:, y1, x1] * fy * fx
            )
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_erase_vs_naive():
    area = torch.tensor([0.1, 0.3, 0.05])
    aspect = torch.tensor([1.0, 2.0, 0.5])
    centre = torch.tensor([[0.5, 0.5], [0.9, 0.1], [0.0, 1.0]], dtype=torch.float64)
    boxes, m = erase_boxes((H, W), area, aspect, centre)
    img = torch.rand(3, 3, H, W)
    col = torch.rand(3, 3)
    got = random_erase(img, m, col)
    for i in range(3):
        x0, y0, x1, y1 = boxes[i].tolist()
        assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H
        want = img[i].clone()
        want[:, y0:y1, x0:x1] = col[i][:, None, None]
        assert torch.equal(got[i], want)
    # box size follows the requested area and aspect (h / w) before clipping
    x0, y0, x1, y1 = boxes[0].tolist()
    assert (x1 - x0) * (y1 - y0) == pytest.approx(0.1 * H * W, rel=0.1) and (y1 - y0) == (x1 - x0)


def test_noise_jpeg_blur():
    img = torch.rand(2, 3, 16, 16)
    assert torch.equal(add_noise(img, torch.zeros(2)), img.clamp(0, 1))
    n1 = add_noise(img, torch.full((2,), 0.05), torch.Generator().manual_seed(0))
    n2 = add_noise(img, torch.full((2,), 0.05), torch.Generator().manual_seed(0))
    assert torch.equal(n1, n2) and not torch.equal(n1, img)
    # JPEG = Pillow's codec round trip on the 8-bit image
    q = torch.tensor([40, 90])
    got = jpeg_compress(img, q)
    u8 = (img[1] * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=90)
    want = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")) / 255.0
    np.testing.assert_allclose(got[1].permute(1, 2, 0).numpy(), want, atol=1e-6)
    # per-image sigma equals separate calls
    s = torch.tensor([0.6, 1.4])
    both = gaussian_blur(img, s)
    # (the kernel size follows the batch's largest sigma; compare with that size)
    np.testing.assert_allclose(both[1].numpy(), gaussian_blur(img[1:], s[1:])[0].numpy(), atol=1e-6)
    from kornia.filters import gaussian_blur2d

    want0 = gaussian_blur2d(img[:1], (11, 11), torch.tensor([[0.6, 0.6]]))[0]
    np.testing.assert_allclose(both[0].numpy(), want0.numpy(), atol=1e-6)
    assert not torch.allclose(both[0], img[0], atol=1e-3)  # it blurs


def test_batch_label_bbox_skips_invalid():
    b = _batch(B=2, vertices=False)
    b["joint_valid"][0, 0, :] = False
    b["hand_valid"][1] = False
    box = batch_label_bbox(b)
    left = b["joints2d"][0, 1].double()
    np.testing.assert_allclose(box[0].numpy(), [*left.amin(0), *left.amax(0)], atol=1e-6)
    assert torch.all(box[1] == 0)


def test_dense_map_moves_with_the_image_and_mirrors_x():
    batch = _batch(B=8, seed=4)
    batch["extra_dense"] = batch["image"].clone() - 0.5  # signed values, like template positions
    out = augment(batch, GEOMETRY, torch.Generator().manual_seed(2))
    flipped = torch.tensor(
        [
            not torch.equal(out["joints3d"][b, 0, :, 2], batch["joints3d"][b, 0, :, 2])
            for b in range(8)
        ]
    )
    assert 0 < int(flipped.sum()) < 8
    # same warp as the image (zeros outside: the warped "−0.5" is masked by the warped ones)
    ones = augment({**batch, "image": torch.ones_like(batch["image"])}, GEOMETRY,
                   torch.Generator().manual_seed(2))["image"]  # fmt: skip
    want = out["image"] - 0.5 * ones
    sign = torch.ones(8, 3, 1, 1)
    sign[flipped, 0] = -1.0
    np.testing.assert_allclose(out["extra_dense"], sign * want, atol=1e-5)
    assert torch.equal(batch["extra_dense"], batch["image"] - 0.5)  # input untouched


def test_erasing_zeroes_the_dense_map():
    batch = _batch(B=4, seed=1)
    batch["extra_dense"] = torch.ones(4, 3, H, W)
    cfg = AugmentConfig.none()
    cfg.erase_p = 1.0
    out = augment(batch, cfg, torch.Generator().manual_seed(3))
    erased = (out["mask"] == 3) & (batch["mask"] != 3)
    assert erased.any()
    assert torch.all(out["extra_dense"].permute(1, 0, 2, 3)[:, erased] == 0)
    assert torch.all(out["extra_dense"].permute(1, 0, 2, 3)[:, ~erased] == 1)
