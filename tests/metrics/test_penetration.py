"""Inter-penetration: winding numbers, point-to-mesh distances, cubes and spheres by hand."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from handpose.errors import HandposeError
from handpose.metrics.penetration import (
    interpenetration,
    penetration_depth,
    point_mesh_distance,
    winding_number,
)


def cube(lo=(0.0, 0.0, 0.0), hi=(1.0, 1.0, 1.0)):
    """Axis-aligned box, 8 vertices, 12 outward-oriented triangles."""
    v = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    f = np.array([
        [0, 2, 3], [0, 3, 1], [4, 5, 7], [4, 7, 6], [0, 1, 5], [0, 5, 4],
        [2, 6, 7], [2, 7, 3], [0, 4, 6], [0, 6, 2], [1, 3, 7], [1, 7, 5],
    ])  # fmt: skip
    return v, f[:, ::-1].copy()  # outward: counter-clockwise seen from outside


def icosphere(subdivisions=3):
    """Unit icosphere (642 vertices for 3 subdivisions), outward triangles."""
    p = (1 + 5**0.5) / 2
    v = [[-1, p, 0], [1, p, 0], [-1, -p, 0], [1, -p, 0], [0, -1, p], [0, 1, p],
         [0, -1, -p], [0, 1, -p], [p, 0, -1], [p, 0, 1], [-p, 0, -1], [-p, 0, 1]]  # fmt: skip
    f = [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
         [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
         [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]]  # fmt: skip
    v = [np.array(x, float) / np.linalg.norm(x) for x in v]
    for _ in range(subdivisions):
        cache, nf = {}, []

        def mid(a, b, cache=cache):
            key = (min(a, b), max(a, b))
            if key not in cache:
                m = v[a] + v[b]
                v.append(m / np.linalg.norm(m))
                cache[key] = len(v) - 1
            return cache[key]

        for a, b, c in f:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            nf += [[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]
        f = nf
    return np.array(v), np.array(f)


def naive_winding(p, v, f):
    total = 0.0
    for a, b, c in v[f] - p:
        la, lb, lc = map(np.linalg.norm, (a, b, c))
        num = np.dot(a, np.cross(b, c))
        den = la * lb * lc + np.dot(a, b) * lc + np.dot(a, c) * lb + np.dot(b, c) * la
        total += 2 * math.atan2(num, den)
    return total / (4 * math.pi)


def naive_triangle_distance(p, a, b, c):
    """Ericson, Real-Time Collision Detection §5.1.5: closest point by Voronoi regions."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = ab @ ap, ac @ ap
    if d1 <= 0 and d2 <= 0:
        return np.linalg.norm(p - a)
    bp = p - b
    d3, d4 = ab @ bp, ac @ bp
    if d3 >= 0 and d4 <= d3:
        return np.linalg.norm(p - b)
    vc = d1 * d4 - d3 * d2
    if vc <= 0 and d1 >= 0 and d3 <= 0:
        return np.linalg.norm(p - (a + d1 / (d1 - d3) * ab))
    cp = p - c
    d5, d6 = ab @ cp, ac @ cp
    if d6 >= 0 and d5 <= d6:
        return np.linalg.norm(p - c)
    vb = d5 * d2 - d1 * d6
    if vb <= 0 and d2 >= 0 and d6 <= 0:
        return np.linalg.norm(p - (a + d2 / (d2 - d6) * ac))
    va = d3 * d6 - d5 * d4
    if va <= 0 and (d4 - d3) >= 0 and (d5 - d6) >= 0:
        w = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        return np.linalg.norm(p - (b + w * (c - b)))
    denom = 1.0 / (va + vb + vc)
    return np.linalg.norm(p - (a + ab * vb * denom + ac * vc * denom))


def test_winding_number_inside_outside_and_orientation():
    v, f = cube()
    pts = np.array([[0.5, 0.5, 0.5], [0.1, 0.9, 0.2], [1.5, 0.5, 0.5], [-3.0, 2.0, 7.0]])
    w = winding_number(torch.from_numpy(pts), torch.from_numpy(v), f)
    assert torch.allclose(w, torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=torch.float64), atol=1e-12)
    w_inv = winding_number(torch.from_numpy(pts), torch.from_numpy(v), f[:, ::-1].copy())
    assert torch.allclose(w_inv, -w, atol=1e-12)  # inward-oriented faces: −1 inside


def test_winding_number_matches_naive_loop_on_a_sphere():
    v, f = icosphere(1)
    pts = np.random.default_rng(0).uniform(-1.3, 1.3, size=(40, 3))
    w = winding_number(torch.from_numpy(pts), torch.from_numpy(v), f).numpy()
    ref = np.array([naive_winding(p, v, f) for p in pts])
    assert np.abs(w - ref).max() < 1e-12
    # Batched: leading dims broadcast between points and vertices.
    wb = winding_number(torch.from_numpy(pts).expand(3, 40, 3), torch.from_numpy(v), f)
    assert wb.shape == (3, 40) and torch.allclose(wb[2], torch.from_numpy(w))


def test_point_mesh_distance_matches_voronoi_region_reference():
    v, f = icosphere(1)
    v = v * np.array([1.0, 0.6, 0.8])  # an ellipsoid: all Voronoi regions get visited
    pts = np.random.default_rng(1).normal(size=(60, 3)) * 0.9
    d = point_mesh_distance(torch.from_numpy(pts), torch.from_numpy(v), f).numpy()
    ref = np.array([min(naive_triangle_distance(p, *v[t]) for t in f) for p in pts])
    assert np.abs(d - ref).max() < 1e-12


def test_cube_depths_by_hand():
    v, f = cube()
    pts = torch.tensor([[0.5, 0.5, 0.2], [0.5, 0.5, 0.5], [0.9, 0.3, 0.5], [1.5, 1.5, 1.5],
                        [0.5, 0.5, -0.1]], dtype=torch.float64)  # fmt: skip
    depth = penetration_depth(pts, torch.from_numpy(v), f)
    assert depth.tolist() == pytest.approx([0.2, 0.5, 0.1, 0.0, 0.0], abs=1e-12)
    dist = point_mesh_distance(pts, torch.from_numpy(v), f)
    assert dist.tolist() == pytest.approx([0.2, 0.5, 0.1, math.sqrt(0.75), 0.1], abs=1e-12)


def test_two_overlapping_boxes_by_hand():
    """A = unit cube, B = [0.7, 1.7] × [0.2, 0.8]²: B's four x = 0.7 corners are 0.2 deep in A."""
    va, fa = cube()
    vb, fb = cube((0.7, 0.2, 0.2), (1.7, 0.8, 0.8))
    pen = interpenetration(torch.from_numpy(va), fa, torch.from_numpy(vb), fb)
    assert pen.depth_a.tolist() == [0.0] * 8  # A's x = 1 corners have y ∈ {0, 1}: outside B
    assert sorted(pen.depth_b.tolist()) == pytest.approx([0.0] * 4 + [0.2] * 4, abs=1e-12)
    assert float(pen.max_depth) == pytest.approx(0.2, abs=1e-12)
    assert float(pen.inside_fraction) == 0.25
    assert float(pen.mean_depth) == pytest.approx(0.8 / 16, abs=1e-12)
    # Symmetric in the roles of A and B.
    rev = interpenetration(torch.from_numpy(vb), fb, torch.from_numpy(va), fa)
    assert float(rev.max_depth) == float(pen.max_depth)
    assert torch.equal(rev.depth_a, pen.depth_b)


def test_two_spheres():
    """Unit spheres with centres 1.5 apart: max depth ≈ 2r − d = 0.5, caps of height 0.25."""
    v, f = icosphere(3)
    axis = v[0]  # a vertex direction, so that a vertex lies on the line of centres
    a = torch.from_numpy(v)
    b = torch.from_numpy(v + 1.5 * axis)
    pen = interpenetration(a, f, b, f)
    # The deepest vertex is 0.5 from B's centre; B's faceted surface is at most ~1.3 % inside
    # the unit sphere (3 subdivisions), so the depth is between 0.48 and 0.5.
    assert 0.48 < float(pen.max_depth) <= 0.5 + 1e-12
    # The cap of height h = 0.25 holds the fraction h/(2r) = 0.125 of each sphere's area.
    assert float(pen.inside_fraction) == pytest.approx(0.125, abs=0.02)
    apart = interpenetration(a, f, torch.from_numpy(v + 2.5 * axis), f)
    assert float(apart.max_depth) == 0.0 and float(apart.inside_fraction) == 0.0


@settings(max_examples=15, deadline=None)
@given(
    st.floats(0.05, 0.95), st.floats(0.05, 0.95), st.floats(0.05, 0.95),
    st.floats(-3.0, 3.0), st.floats(-3.0, 3.0), st.floats(-3.0, 3.0),
)  # fmt: skip
def test_depth_equals_distance_to_the_nearest_box_face(x, y, z, tx, ty, tz):
    """Property: inside a (translated) box, depth = distance to the nearest face; 0 outside."""
    v, f = cube()
    t = np.array([tx, ty, tz])
    p = np.array([[x, y, z], [x + 1.5, y, z]]) + t
    d = penetration_depth(torch.from_numpy(p), torch.from_numpy(v + t), f)
    assert float(d[0]) == pytest.approx(min(x, y, z, 1 - x, 1 - y, 1 - z), abs=1e-9)
    assert float(d[1]) == 0.0


def test_open_hand_model_meshes():
    """The embedded (watertight) hand: a copy shifted by 1 cm penetrates, one 30 cm away not."""
    from handpose.handmodel import HandModel

    model = HandModel("open", dtype=torch.float64)
    verts = model(hand_pose=torch.zeros(1, 45, dtype=torch.float64)).vertices[0]
    faces = model.model_data.faces
    w = winding_number(verts.mean(0, keepdim=True), verts, faces)
    assert float(w[0]) == pytest.approx(1.0, abs=1e-9)  # the centroid of the palm is inside
    near = interpenetration(
        verts, faces, verts + torch.tensor([0.0, 0.01, 0.0], dtype=torch.float64), faces
    )
    far = interpenetration(
        verts, faces, verts + torch.tensor([0.3, 0.0, 0.0], dtype=torch.float64), faces
    )
    assert 0.0 < float(near.max_depth) <= 0.01 + 1e-12 and float(near.inside_fraction) > 0.05
    assert float(far.max_depth) == 0.0


def test_batches_dtypes_and_bad_input():
    va, fa = cube()
    vb, fb = cube((0.7, 0.2, 0.2), (1.7, 0.8, 0.8))
    A = torch.from_numpy(np.stack([va, va + 5.0])).float()
    B = torch.from_numpy(np.stack([vb, vb])).float()
    pen = interpenetration(A, fa, B, fb)
    assert pen.max_depth.dtype == torch.float32 and pen.max_depth.shape == (2,)
    assert pen.max_depth.tolist() == pytest.approx([0.2, 0.0], abs=1e-6)
    empty = interpenetration(A[:0], fa, B[:0], fb)
    assert empty.max_depth.shape == (0,)
    with pytest.raises(HandposeError, match="faces"):
        penetration_depth(A[0], B[0], np.array([[0, 1, 8]]))
    with pytest.raises(HandposeError, match=r"\(F, 3\)"):
        winding_number(A[0], B[0], np.zeros((3, 2), dtype=np.int64))
    with pytest.raises(HandposeError, match="batch shapes"):
        point_mesh_distance(torch.zeros(2, 5, 3), torch.zeros(3, 8, 3), fa)
