"""The numpy z-buffer rasterizer against naive per-pixel references and closed-form cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.render import (
    intrinsics_from_fov,
    rasterize,
    render,
    render_mesh,
    shade,
    vertex_normals,
)

K64 = intrinsics_from_fov(40.0, 64, 48)  # W = 64, H = 48


def naive_coverage(vertices: np.ndarray, K: np.ndarray, H: int, W: int) -> np.ndarray:
    """Pixels whose centre lies inside the projected triangle: a loop over pixels."""
    uvw = vertices @ K.T
    a, b, c = uvw[:, :2] / uvw[:, 2:]
    mask = np.zeros((H, W), dtype=bool)

    def edge(p, q, x):
        return (q[0] - p[0]) * (x[1] - p[1]) - (q[1] - p[1]) * (x[0] - p[0])

    area = edge(a, b, c)
    for r in range(H):
        for col in range(W):
            x = (col, r)
            w = (edge(b, c, x) / area, edge(c, a, x) / area, edge(a, b, x) / area)
            mask[r, col] = min(w) >= 0.0
    return mask


def uv_sphere(radius: float, centre, n_lat: int = 48, n_lon: int = 96):
    """A closed UV sphere with outward (counter-clockwise from outside) faces."""
    verts = [[0.0, 0.0, radius]]
    for i in range(1, n_lat):
        th = math.pi * i / n_lat
        for j in range(n_lon):
            ph = 2 * math.pi * j / n_lon
            verts.append(
                [
                    radius * math.sin(th) * math.cos(ph),
                    radius * math.sin(th) * math.sin(ph),
                    radius * math.cos(th),
                ]
            )
    verts.append([0.0, 0.0, -radius])
    faces = []
    ring = lambda i, j: 1 + (i - 1) * n_lon + (j % n_lon)  # noqa: E731
    for j in range(n_lon):
        faces.append([0, ring(1, j), ring(1, j + 1)])
        faces.append([len(verts) - 1, ring(n_lat - 1, j + 1), ring(n_lat - 1, j)])
    for i in range(1, n_lat - 1):
        for j in range(n_lon):
            a, b, c, d = ring(i, j), ring(i + 1, j), ring(i + 1, j + 1), ring(i, j + 1)
            faces += [[a, b, c], [a, c, d]]
    return np.asarray(verts) + np.asarray(centre), np.asarray(faces)


@pytest.mark.parametrize("seed", range(6))
def test_single_triangle_covers_exactly_the_pixels_whose_centres_it_contains(seed):
    rng = np.random.default_rng(seed)
    tri = np.column_stack(
        [rng.uniform(-0.5, 0.5, 3), rng.uniform(-0.4, 0.4, 3), rng.uniform(1.0, 3.0, 3)]
    )
    frags = rasterize(tri, np.array([[0, 1, 2]]), K64, (48, 64))
    np.testing.assert_array_equal(frags.mask, naive_coverage(tri, K64, 48, 64))
    assert frags.mask.sum() > 0
    # Barycentrics of covered pixels sum to one and are non-negative.
    b = frags.bary[frags.mask]
    np.testing.assert_allclose(b.sum(1), 1.0, atol=1e-12)
    assert b.min() >= -1e-12


def test_pixel_centre_convention_pins_a_hand_computed_triangle():
    # Projected corners (10.2, 5.3), (20.9, 5.3), (10.2, 16.0): pixels with centres (c, r),
    # c ≥ 11, r ≥ 6 and c + r ≤ 26.2 (no centre lies on an edge).
    K = np.array([[100.0, 0.0, 0.0], [0.0, 100.0, 0.0], [0.0, 0.0, 1.0]])
    z = 2.0
    pts = np.array([[10.2, 5.3], [20.9, 5.3], [10.2, 16.0]])
    tri = np.column_stack([pts * z / 100.0, np.full(3, z)])
    mask = rasterize(tri, np.array([[0, 1, 2]]), K, (24, 24)).mask
    rr, cc = np.mgrid[:24, :24]
    want = (cc >= 11) & (rr >= 6) & (cc + rr <= 26)
    np.testing.assert_array_equal(mask, want)
    assert mask.sum() == 55  # 10 + 9 + … + 1


def test_image_shape_dtype_and_background():
    tri = np.array([[-0.2, -0.2, 2.0], [0.2, -0.2, 2.0], [0.0, 0.2, 2.0]])
    img = render_mesh(tri, np.array([[0, 1, 2]]), K64, (48, 64), background=(0.0, 0.5, 1.0))
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[0, 0], [0, 128, 255])
    assert (img[24, 32] != img[0, 0]).any()
    empty = render_mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=int), K64, (48, 64))
    assert (empty == 255).all()


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_z_buffer_keeps_the_nearer_of_two_overlapping_triangles(order):
    near = np.array([[-0.3, -0.3, 2.0], [0.3, -0.3, 2.0], [0.0, 0.3, 2.0]])
    far = near * np.array([1.2, 1.2, 1.0]) + np.array([0.0, 0.0, 1.0])
    verts = np.concatenate([near, far])
    tris = np.array([[0, 1, 2], [3, 4, 5]])[list(order)]
    colors = np.array([[1.0, 0.0, 0.0]] * 3 + [[0.0, 0.0, 1.0]] * 3)
    res = render(verts, tris, K64, (48, 64), color=colors, ambient=1.0, diffuse=0.0)
    frags = rasterize(verts, tris, K64, (48, 64))
    both = naive_coverage(near, K64, 48, 64) & naive_coverage(far, K64, 48, 64)
    assert both.sum() > 50
    assert (res.image[both] == [255, 0, 0]).all()  # the near (red) triangle wins
    np.testing.assert_allclose(frags.depth[both], 2.0, atol=1e-12)
    only_far = naive_coverage(far, K64, 48, 64) & ~naive_coverage(near, K64, 48, 64)
    assert (res.image[only_far] == [0, 0, 255]).all()


def test_depth_is_perspective_correct_on_a_slanted_plane():
    # Plane z = 2 + 0.5 x: the depth seen through pixel (u, v) is where its ray meets the plane.
    tri = np.array([[-0.6, -0.5, 1.7], [0.6, -0.5, 2.3], [0.0, 0.6, 2.0]])
    frags = rasterize(tri, np.array([[0, 1, 2]]), K64, (48, 64))
    rr, cc = np.nonzero(frags.mask)
    x = (cc - K64[0, 2]) / K64[0, 0]  # ray direction (x, y, 1)
    np.testing.assert_allclose(frags.depth[rr, cc], 2.0 / (1.0 - 0.5 * x), rtol=1e-10)


def test_lambert_face_towards_the_light_is_brighter_than_a_tilted_one():
    light = np.array([0.0, 0.0, -1.0])  # towards the camera
    facing = np.array([[-0.5, -0.2, 2.0], [-0.1, -0.2, 2.0], [-0.3, 0.2, 2.0]])
    # Rotated 60° about the vertical axis through its centre.
    c, s = math.cos(math.radians(60)), math.sin(math.radians(60))
    centre = np.array([0.3, 0.0, 2.0])
    base = facing - facing.mean(0)
    tilted = centre + base @ np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]]).T
    verts = np.concatenate([facing, tilted])
    faces = np.array([[0, 2, 1], [3, 5, 4]])
    res = render(verts, faces, K64, (48, 64), color=(1.0, 1.0, 1.0), light_dir=light,
                 ambient=0.2, diffuse=0.8, smooth=False, background=(0, 0, 0))  # fmt: skip
    frags = rasterize(verts, faces, K64, (48, 64))
    lit = res.image[frags.face_index == 0][:, 0]
    slanted = res.image[frags.face_index == 1][:, 0]
    assert (lit == 255).all()  # 0.2 + 0.8·cos 0°
    assert (slanted == round(255 * (0.2 + 0.8 * 0.5))).all()  # 0.2 + 0.8·cos 60°


def test_smooth_shading_interpolates_vertex_normals():
    v, f = uv_sphere(0.5, (0.0, 0.0, 3.0), 16, 32)
    res = render(v, f, K64, (48, 64), light_dir=(0, 0, -1), ambient=0.0, diffuse=1.0,
                 color=(1, 1, 1), background=(0, 0, 0))  # fmt: skip
    centre, edge = res.image[24, 32, 0], res.image[24, 40, 0]
    assert centre > 245 and 0 < edge < centre  # bright where the normal faces the light


def test_sphere_silhouette_area_matches_the_projected_disc():
    R, D = 0.5, 3.0
    v, f = uv_sphere(R, (0.0, 0.0, D))
    K = intrinsics_from_fov(30.0, 200, 200)
    mask = rasterize(v, f, K, (200, 200), cull_backfaces=True).mask
    r_px = K[0, 0] * R / math.sqrt(D * D - R * R)  # the silhouette cone's image radius
    assert mask.sum() == pytest.approx(math.pi * r_px**2, rel=0.02)


def test_backface_culling_and_chunking_do_not_change_a_closed_mesh():
    v, f = uv_sphere(0.4, (0.05, -0.02, 2.5), 12, 24)
    a = rasterize(v, f, K64, (48, 64))
    b = rasterize(v, f, K64, (48, 64), cull_backfaces=True, max_candidates=50)
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_allclose(a.depth[a.mask], b.depth[b.mask], rtol=1e-12)
    # Seen from the camera (image y down), 0 → 1 → 2 runs counter-clockwise: its right-hand
    # normal faces the camera and it is kept; the reverse winding is culled.
    tri = np.array([[-0.2, -0.2, 2.0], [0.0, 0.2, 2.0], [0.2, -0.2, 2.0]])
    assert rasterize(tri, np.array([[0, 1, 2]]), K64, (48, 64), cull_backfaces=True).mask.sum() > 0
    assert rasterize(tri, np.array([[0, 2, 1]]), K64, (48, 64), cull_backfaces=True).mask.sum() == 0


def test_supersampling_antialiases_edges_and_keeps_the_interior():
    tri = np.array([[-0.4, -0.3, 2.0], [0.45, -0.25, 2.0], [0.0, 0.35, 2.0]])
    one = render(tri, np.array([[0, 1, 2]]), K64, (48, 64), ambient=1.0, diffuse=0.0)
    four = render(
        tri, np.array([[0, 1, 2]]), K64, (48, 64), supersample=4, ambient=1.0, diffuse=0.0
    )
    assert four.image.shape == one.image.shape and four.mask.shape == (48, 64)
    values = {tuple(p) for p in four.image.reshape(-1, 3)}
    assert len(values) > len({tuple(p) for p in one.image.reshape(-1, 3)})  # blended edges
    np.testing.assert_array_equal(four.image[24, 32], one.image[24, 32])


def test_shade_and_normals_accept_torch_tensors_and_validate_shapes():
    torch = pytest.importorskip("torch")
    v, f = uv_sphere(0.5, (0.0, 0.0, 3.0), 8, 16)
    img_np = render_mesh(v, f, K64, (48, 64))
    img_t = render_mesh(torch.as_tensor(v), torch.as_tensor(f), torch.as_tensor(K64), (48, 64))
    np.testing.assert_array_equal(img_np, img_t)
    n = vertex_normals(v, f)
    np.testing.assert_allclose(np.einsum("vi,vi->v", n, (v - [0, 0, 3]) / 0.5), 1.0, atol=0.05)
    frags = rasterize(v, f, K64, (48, 64))
    assert shade(frags, v, f).shape == (48, 64, 3)
    with pytest.raises(HandposeError):
        rasterize(v[:, :2], f, K64, (48, 64))
    with pytest.raises(HandposeError):
        rasterize(v, f + len(v), K64, (48, 64))
    with pytest.raises(HandposeError):
        render(v, f, K64, (48, 64), supersample=0)
