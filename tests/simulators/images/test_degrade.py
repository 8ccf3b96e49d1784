"""The low-resolution ladder: K and label conventions of area downsampling, masks, noise."""

from __future__ import annotations

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.formats.sample import empty_sample
from handpose.render.camera import project
from handpose.simulators.images.degrade import (
    Degradation,
    area_downsample,
    check_levels,
    degrade_image,
    level_intrinsics,
    level_points,
    make_ladder,
    mode_downsample,
)
from tests.render.gl_support import needs_gl


@pytest.mark.parametrize("f", [2, 4, 8])
def test_block_centre_maps_to_low_res_pixel_centre(f):
    """A full-res f×f block of ones becomes one low-res pixel; the block's centre (a pixel
    centre of the high-res image when f is odd, a corner when even) maps onto that pixel's
    centre, by level_points and by the level's K."""
    j, i = 3, 5  # low-res column j, row i
    img = np.zeros((16 * f, 16 * f))
    img[f * i : f * i + f, f * j : f * j + f] = 1.0
    low = area_downsample(img, f)
    assert low[i, j] == 1.0 and low.sum() == 1.0
    centre = np.array([f * j + (f - 1) / 2.0, f * i + (f - 1) / 2.0])
    np.testing.assert_allclose(level_points(centre, f), [j, i], atol=1e-12)
    K = np.array([[300.0, 0.0, 12.3], [0.0, 310.0, 40.9], [0.0, 0.0, 1.0]])
    x = np.linalg.inv(K) @ [*centre, 1.0] * 0.7  # the 3D point seen at the block centre
    np.testing.assert_allclose(project(x, level_intrinsics(K, f)), [j, i], atol=1e-9)
    # Hand-computed: f = 2, c' = (c + ½)/2 − ½.
    K2 = level_intrinsics(K, 2)
    np.testing.assert_allclose(K2[0], [150.0, 0.0, (12.3 + 0.5) / 2 - 0.5])


def test_mode_downsample_ties_prefer_larger_labels():
    m = np.array([[0, 0, 1, 2], [0, 1, 2, 2]], dtype=np.uint8)
    m = np.concatenate([m, m])  # 4×4 → 2×2
    out = mode_downsample(m, 2)
    np.testing.assert_array_equal(out, [[0, 2], [0, 2]])
    tie = np.array([[0, 3], [3, 0]], dtype=np.uint8)
    assert mode_downsample(tie, 2)[0, 0] == 3


def test_degrade_noise_blur_jpeg():
    rng = np.random.default_rng(0)
    img = np.full((32, 32, 3), 128, np.uint8)
    img[:, 16:] = 200
    clean = degrade_image(img, 4, Degradation(), rng)
    np.testing.assert_array_equal(clean, area_downsample(img, 4).round().astype(np.uint8))
    d = Degradation(blur=0.7, read_noise=0.01, shot_noise=0.002, jpeg_quality=50)
    a = degrade_image(img, 4, d, np.random.default_rng(1))
    b = degrade_image(img, 4, d, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (8, 8, 3) and np.abs(a.astype(int) - clean).mean() > 0.5
    # Blur spreads the edge: the columns next to it move towards each other.
    blurred = degrade_image(img, 4, Degradation(blur=1.0), rng)
    assert blurred[0, 3, 0] > clean[0, 3, 0] and blurred[0, 4, 0] < clean[0, 4, 0]


def test_make_ladder_labels():
    s = empty_sample(64, 64, mask=True)
    s["hand_valid"][1] = True
    s["joints3d"][1] = np.random.default_rng(0).uniform(
        [-0.05, -0.05, 0.4], [0.05, 0.05, 0.6], (21, 3)
    )
    s["joints2d"][1] = project(s["joints3d"][1].astype(np.float64), s["K"])
    s["bbox"][:] = [10.0, 12.0, 40.0, 50.0]
    s["mask"][8:24, 32:48] = 2  # aligned with the blocks of both levels
    lad = make_ladder(s, (32, 16), {32: Degradation(), 16: Degradation()}, np.random.default_rng(0))
    assert set(lad) == {32, 16}
    for px, lv in lad.items():
        f = 64 // px
        assert lv["image"].shape == (px, px, 3) and lv["mask"].shape == (px, px)
        np.testing.assert_allclose(lv["joints2d"][1], level_points(s["joints2d"][1], f), atol=1e-3)
        assert (lv["joints2d"][0] == 0).all()
        np.testing.assert_allclose(
            lv["bbox"], level_points(s["bbox"].reshape(2, 2), f).ravel(), atol=1e-5
        )
        assert (lv["mask"] == 2).sum() == 256 // f**2


@pytest.mark.parametrize("levels", [(48,), (64,), (0,), (32, 32)])
def test_bad_levels(levels):
    with pytest.raises(HandposeError, match="ladder level"):
        check_levels(64, levels)


@needs_gl
@pytest.mark.parametrize("f", [2, 4, 8])
def test_rendered_marker_lands_on_its_projection_at_every_level(f):
    """A bright sphere rendered at 256 px and area-downsampled by f: its intensity centroid at
    low resolution is the projection of its centre with the level's K (sub-pixel)."""
    from handpose.render.gl import GLRenderer
    from handpose.render.primitives import uv_sphere
    from handpose.render.scene import Lights, Mesh, Scene

    N = 256
    K = np.array([[400.0, 0.0, 131.3], [0.0, 400.0, 121.9], [0.0, 0.0, 1.0]])
    rng = np.random.default_rng(f)
    errs = []
    scenes, centres = [], []
    for _ in range(8):
        c = np.array([*rng.uniform(-0.15, 0.15, 2), 1.0])
        s = uv_sphere(0.04, 24, 48).transformed(np.eye(3), c)  # radius 16 px at 256
        lights = Lights(
            ambient=(1.0, 1.0, 1.0), directions=np.zeros((0, 3)), colors=np.zeros((0, 3))
        )
        scenes.append(
            Scene(
                [Mesh(s.vertices, s.faces, (1.0, 1.0, 1.0), normals=s.normals)],
                K,
                lights,
                (0.0, 0.0, 0.0),
            )
        )
        centres.append(c)
    out = GLRenderer(N, N, max_batch=8).render(scenes)
    Kl = level_intrinsics(K, f)
    for img, c in zip(out.rgb, centres):
        low = degrade_image(img, f, Degradation(), rng)[..., 0].astype(np.float64)
        r, cc = np.mgrid[0 : N // f, 0 : N // f]
        w = low / low.sum()
        errs.append([(w * cc).sum(), (w * r).sum()] - project(c, Kl))
    errs = np.abs(np.asarray(errs))
    # Pixel quantisation of a 16/f-px disc; a half-pixel convention error would add 0.5·(1 − 1/f).
    assert errs.mean() < 0.05 and errs.max() < 0.15, errs
