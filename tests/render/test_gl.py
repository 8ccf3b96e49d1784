"""The OpenGL (EGL) renderer against the numpy reference, and its camera convention.

What is pinned:

- :func:`projection_from_K` maps camera points to window coordinates ``(u + ½, v + ½)`` of the
  pinhole projection (hand-computed constants; no GL needed);
- every foreground pixel of a tilted plane whose attribute is its own camera position projects
  back (with :func:`handpose.geometry.project`) onto that pixel's centre to 0.01 px: a half-pixel
  shift, a y-flip or a transposed image fails by ≥ 0.5 px;
- masks, depth, colours and attribute maps agree with :func:`render_scene_numpy` on hand scenes;
- tiles of a batch do not leak into each other; repeated renders are bit-identical.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.geometry import project as project_torch
from handpose.handmodel import HandModel
from handpose.render.camera import intrinsics_from_fov, project
from handpose.render.gl import projection_from_K
from handpose.render.primitives import box, plane, uv_sphere
from handpose.render.scene import (
    LEFT_HAND,
    OBJECT,
    RIGHT_HAND,
    Lights,
    Mesh,
    Scene,
    render_scene_numpy,
)

moderngl = pytest.importorskip(
    "moderngl", reason="moderngl not installed (pip install handpose[render])"
)
from handpose.render.gl import GLRenderer  # noqa: E402
from tests.render.gl_support import needs_gl  # noqa: E402


# ------------------------------------------------------------------ projection (no GL)
def _window(P: np.ndarray, x: np.ndarray, W: int, H: int) -> np.ndarray:
    clip = np.concatenate([x, np.ones((len(x), 1))], 1) @ P.T
    ndc = clip[:, :3] / clip[:, 3:]
    return np.stack([(ndc[:, 0] + 1) * W / 2, (ndc[:, 1] + 1) * H / 2, ndc[:, 2]], 1)


def test_projection_constants():
    # K with the principal point at the image centre of a 64×48 image: (31.5, 23.5).
    K = np.array([[100.0, 0.0, 31.5], [0.0, 80.0, 23.5], [0.0, 0.0, 1.0]])
    P = projection_from_K(K, 64, 48, near=0.1, far=10.0)
    w = _window(P, np.array([[0.0, 0.0, 1.0], [0.1, -0.05, 0.5], [0.0, 0.0, 0.1]]), 64, 48)
    # The optical axis hits window (32, 24): the centre between pixels 31 and 32 (u = 31.5).
    np.testing.assert_allclose(w[0, :2], [32.0, 24.0], atol=1e-12)
    # u = 100·0.1/0.5 + 31.5 = 51.5 → window 52; v = 80·(−0.05)/0.5 + 23.5 = 15.5 → 16.
    np.testing.assert_allclose(w[1, :2], [52.0, 16.0], atol=1e-12)
    assert w[2, 2] == pytest.approx(-1.0)  # the near plane maps to NDC −1
    np.testing.assert_allclose(P[3], [0, 0, 1, 0])


def test_projection_matches_geometry_project():
    rng = np.random.default_rng(0)
    K = np.array([[210.0, 3.0, 40.2], [0.0, 190.0, 27.9], [0.0, 0.0, 1.0]])  # skewed, off-centre
    x = rng.uniform([-0.2, -0.2, 0.3], [0.2, 0.2, 2.0], size=(50, 3))
    w = _window(projection_from_K(K, 90, 70, 0.05, 20.0), x, 90, 70)
    uv = project_torch(torch.as_tensor(x), torch.as_tensor(K)).numpy()
    np.testing.assert_allclose(w[:, :2] - 0.5, uv, atol=1e-9)


@pytest.mark.parametrize("near, far", [(0.0, 1.0), (1.0, 0.5)])
def test_projection_bad_clip(near, far):
    with pytest.raises(HandposeError, match="near"):
        projection_from_K(np.eye(3), 8, 8, near, far)


# ------------------------------------------------------------------ scenes
def _hands(pose_seed: int = 0):
    rng = np.random.default_rng(pose_seed)
    out = []
    for side, t in (("right", [-0.03, 0.0, 0.45]), ("left", [0.05, 0.01, 0.5])):
        m = HandModel("open", side=side, dtype=torch.float64)
        o = m(
            global_orient=torch.as_tensor(rng.normal(0, 1.0, (1, 3))),
            hand_pose=torch.as_tensor(rng.normal(0, 0.3, (1, 45))),
            transl=torch.as_tensor([t]),
        )
        out.append((o.vertices[0].numpy(), m.faces.numpy()))
    return out


def _scene(K, *, attr: bool = False, background=(0.2, 0.4, 0.6), pose_seed: int = 0) -> Scene:
    (vr, f), (vl, fl) = _hands(pose_seed)
    occ = box((0.03, 0.03, 0.03)).transformed(np.eye(3), [0.02, 0.03, 0.38])
    ball = uv_sphere(0.5, 12, 24).transformed(np.eye(3), [0.0, 0.0, 3.0])  # behind, instance 0
    lights = Lights(
        ambient=(0.2, 0.18, 0.15),
        directions=np.array([[-0.3, -0.5, -1.0], [0.8, 0.1, -0.3]]),
        colors=np.array([[0.9, 0.85, 0.8], [0.2, 0.25, 0.4]]),
        points=np.array([[0.1, -0.1, 0.2]]),
        point_colors=np.array([[0.6, 0.5, 0.4]]),
        point_ranges=np.array([0.3]),
    )
    rng = np.random.default_rng(1)
    meshes = [
        Mesh(vr, f, rng.uniform(0.2, 0.7, (len(vr), 3)), RIGHT_HAND, vr if attr else None, 0.3, 20.0),
        Mesh(vl, fl, (0.5, 0.35, 0.3), LEFT_HAND, vl if attr else None, 0.1, 40.0),
        Mesh(occ.vertices, occ.faces, (0.1, 0.3, 0.8), OBJECT, occ.vertices if attr else None,
             normals=occ.normals),
        Mesh(ball.vertices, ball.faces, (0.7, 0.7, 0.2), 0, ball.vertices if attr else None,
             normals=ball.normals),
    ]  # fmt: skip
    return Scene(meshes, K, lights, background)


def _interior(mask: np.ndarray) -> np.ndarray:
    """Pixels whose 4-neighbours have the same label (away from silhouettes)."""
    m = mask
    same = np.ones_like(m, dtype=bool)
    same[1:] &= m[1:] == m[:-1]
    same[:-1] &= m[:-1] == m[1:]
    same[:, 1:] &= m[:, 1:] == m[:, :-1]
    same[:, :-1] &= m[:, :-1] == m[:, 1:]
    return same


@needs_gl
@pytest.mark.parametrize("H, W, cull", [(64, 64, False), (96, 128, False), (96, 128, True)])
def test_gl_matches_numpy_reference(H, W, cull):
    """Culling back faces changes nothing for closed, outward-oriented meshes (all here)."""
    K = intrinsics_from_fov(35.0, W, H)
    K[0, 2] += 3.3  # principal point off-centre
    rng = np.random.default_rng(5)
    bg = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    scenes = [_scene(K, attr=True, background=bg, pose_seed=s) for s in range(3)]
    gl = GLRenderer(H, W, attribute_channels=3, max_batch=4, cull_backfaces=cull).render(scenes)
    for b, sc in enumerate(scenes):
        ref = render_scene_numpy(sc, (H, W), attribute_channels=3)
        m_gl, m_ref = gl.mask[b], ref.mask[0]
        assert set(np.unique(m_ref)) >= {0, RIGHT_HAND, LEFT_HAND, OBJECT}
        agree = (m_gl == m_ref).mean()
        assert agree >= 0.995, agree
        both = (m_gl == m_ref) & (m_ref > 0)
        # Depth of the same surface: float32 interpolation vs float64. Pixels on a depth edge
        # inside one instance (a finger over the palm) may see different surfaces because the
        # two rasterizers break edge ties differently.
        dz = np.abs(gl.depth[b][both] - ref.depth[0][both])
        assert (dz < 2e-5).mean() >= 0.995 and np.median(dz) < 1e-6
        assert np.isinf(gl.depth[b][(m_gl == 0) & (m_ref == 0) & ~np.isfinite(ref.depth[0])]).all()
        inner = _interior(m_ref) & _interior(m_gl) & both
        with np.errstate(invalid="ignore"):  # inf − inf on the background
            inner &= np.abs(gl.depth[b] - ref.depth[0]) < 2e-5
        np.testing.assert_allclose(gl.attributes[b][inner], ref.attributes[0][inner], atol=5e-5)
        diff = np.abs(gl.rgb[b].astype(int) - ref.rgb[0]).max(-1)
        assert np.percentile(diff[inner], 99) <= 1 and diff[inner].max() <= 3
        bgpix = (m_gl == 0) & (m_ref == 0) & ~np.isfinite(ref.depth[0])
        np.testing.assert_array_equal(gl.rgb[b][bgpix], bg[bgpix])


@needs_gl
def test_plane_attribute_projects_to_pixel_centres():
    """Each pixel's visible surface point (its attribute) projects onto that pixel's centre."""
    H, W = 40, 56  # not square: a transpose would fail
    K = np.array([[61.0, 2.5, 25.3], [0.0, 58.0, 17.8], [0.0, 0.0, 1.0]])
    p = plane((3.0, 3.0), subdivisions=6)
    c, s = np.cos(0.6), np.sin(0.6)
    R = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]]) @ np.array(
        [[np.cos(0.3), 0.0, np.sin(0.3)], [0.0, 1.0, 0.0], [-np.sin(0.3), 0.0, np.cos(0.3)]]
    )
    p = p.transformed(R, [0.05, -0.02, 1.2])
    sc = Scene([Mesh(p.vertices, p.faces, (0.5, 0.5, 0.5), 1, p.vertices)], K)
    out = GLRenderer(H, W, attribute_channels=3).render([sc])
    assert out.mask[0].all()  # the plane fills the image
    rows, cols = np.mgrid[0:H, 0:W]
    uv = project(out.attributes[0].reshape(-1, 3).astype(np.float64), K)
    err = np.abs(uv - np.stack([cols.ravel(), rows.ravel()], 1))
    assert err.max() < 0.01, err.max()
    # The depth output is the attribute's z.
    np.testing.assert_allclose(out.depth[0], out.attributes[0][..., 2], rtol=1e-6)


@needs_gl
def test_marker_centroid_is_projected_point():
    """Small spheres' mask centroids land on the projections of their centres.

    One centroid is off by up to ~0.2 px from pixel quantization (the GL and numpy masks are
    identical here); averaged over 24 sub-pixel placements that error cancels while a
    systematic error (a half-pixel shift, a flip) would not.
    """
    H, W = 48, 64
    K = np.array([[120.0, 0.0, 30.2], [0.0, 120.0, 21.7], [0.0, 0.0, 1.0]])
    rng = np.random.default_rng(3)
    centres = np.concatenate(
        [rng.uniform([-0.12, -0.08], [0.12, 0.08], (24, 2)), np.ones((24, 1))], 1
    )
    ball = uv_sphere(0.05, 32, 64)  # radius ≈ 6 px
    scenes = [
        Scene([Mesh(ball.vertices + c, ball.faces, normals=ball.normals)], K) for c in centres
    ]
    masks = GLRenderer(H, W, max_batch=24).render(scenes).mask
    errs = []
    for m, c in zip(masks, centres):
        rr, cc = np.nonzero(m)
        errs.append([cc.mean(), rr.mean()] - project(c, K))
    errs = np.asarray(errs)
    assert np.abs(errs).max() < 0.3, np.abs(errs).max()
    assert np.abs(errs.mean(0)).max() < 0.05, errs.mean(0)
    np.testing.assert_array_equal(masks[0], render_scene_numpy(scenes[0], (H, W)).mask[0])


@needs_gl
def test_tiles_do_not_leak_and_renders_are_deterministic():
    H = W = 32
    K = intrinsics_from_fov(40.0, W, H)
    big = box((2.0, 2.0, 0.1)).transformed(np.eye(3), [0.0, 0.0, 0.2])  # far beyond the frame
    near = Scene([Mesh(big.vertices, big.faces, (1.0, 0.0, 0.0), OBJECT, normals=big.normals)], K)
    empty = Scene([], K, background=(0.0, 1.0, 0.0))
    r = GLRenderer(H, W, max_batch=9)
    out = r.render([empty, near, empty, near, empty, empty, near, empty, empty, near])
    for i in (0, 2, 4, 5, 7, 8):
        assert (out.mask[i] == 0).all() and np.isinf(out.depth[i]).all()
        assert (out.rgb[i] == [0, 255, 0]).all()
    for i in (1, 3, 6, 9):
        assert (out.mask[i] == OBJECT).all()
    again = GLRenderer(H, W, max_batch=9).render([near, empty])
    np.testing.assert_array_equal(again.rgb[0], out.rgb[1])
    np.testing.assert_array_equal(again.depth[0], out.depth[1])
    K2 = intrinsics_from_fov(35.0, 64, 64)
    sc = [_scene(K2, attr=True, pose_seed=s) for s in range(2)]
    a = GLRenderer(64, 64, attribute_channels=3).render(sc)
    b = GLRenderer(64, 64, attribute_channels=3).render(sc)
    for x, y in zip((a.rgb, a.depth, a.mask, a.attributes), (b.rgb, b.depth, b.mask, b.attributes)):
        np.testing.assert_array_equal(x, y)
    # Another tile layout changes window coordinates, hence float rounding: nearly equal.
    c = GLRenderer(64, 64, attribute_channels=3, max_batch=1).render(sc)
    assert (c.mask == a.mask).mean() > 0.999
    same = (c.mask == a.mask) & (a.mask > 0)
    assert np.abs(c.depth[same] - a.depth[same]).max() < 1e-4
    assert np.abs(c.rgb.astype(int) - a.rgb)[same].max() <= 2


@needs_gl
def test_antialias_keeps_labels_and_softens_edges():
    K = intrinsics_from_fov(35.0, 64, 64)
    sc = _scene(K, background=(0.0, 0.0, 0.0))
    plain = GLRenderer(64, 64).render([sc])
    aa = GLRenderer(64, 64, antialias=4).render([sc])
    np.testing.assert_array_equal(plain.mask, aa.mask)
    np.testing.assert_array_equal(plain.depth, aa.depth)
    inner = _interior(plain.mask[0])
    d = np.abs(plain.rgb[0].astype(int) - aa.rgb[0]).max(-1)
    assert (d[inner] <= 1).mean() > 0.9  # interiors unchanged (but edges of instance-0 meshes)
    assert d[~inner].mean() > 5.0  # silhouettes blended


@needs_gl
def test_bad_input():
    with pytest.raises(HandposeError, match="image size"):
        GLRenderer(0, 10)
    with pytest.raises(HandposeError, match="attribute_channels"):
        GLRenderer(8, 8, attribute_channels=5)
    with pytest.raises(HandposeError, match="antialias"):
        GLRenderer(8, 8, antialias=1)
    r = GLRenderer(8, 8)
    K = intrinsics_from_fov(40, 8, 8)
    v = np.array([[0, 0, 1.0], [0.1, 0, 1.0], [0, np.nan, 1.0]])
    with pytest.raises(HandposeError, match="NaN"):
        r.render([Scene([Mesh(v, [[0, 1, 2]])], K)])
    with pytest.raises(HandposeError, match="at most"):
        r.render([Scene([], K, Lights(directions=np.ones((5, 3)), colors=np.ones((5, 3))))])
    with pytest.raises(HandposeError, match="background"):
        r.render([Scene([], K, background=np.zeros((4, 4, 3), np.uint8))])
    with pytest.raises(HandposeError, match="at least one"):
        r.render([])


def test_missing_egl_is_one_clear_error(monkeypatch):
    import handpose.render.gl as glmod

    def fail(**_):
        raise Exception("eglGetDisplay failed\nmore lines")

    monkeypatch.setattr(glmod, "_CONTEXT", {})
    monkeypatch.setattr(moderngl, "create_standalone_context", fail)
    with pytest.raises(HandposeError, match="libegl-mesa0 and libgl1-mesa-dri") as e:
        glmod.GLRenderer(8, 8)
    assert "handpose[render]" in str(e.value) and "\n" not in str(e.value)
    ok, why = glmod.gl_available()
    assert not ok and "eglGetDisplay failed" in why
