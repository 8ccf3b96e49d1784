"""Primitive meshes: closed, outward-oriented, with the stated sizes and unit outward normals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.render.primitives import box, cylinder, plane, uv_sphere


def signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    """Divergence theorem: Σ det(a, b, c) / 6 over faces; positive for outward faces."""
    return float(np.einsum("fi,fi->f", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6.0)


def face_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    return n / np.linalg.norm(n, axis=1, keepdims=True)


@pytest.mark.parametrize(
    "prim, volume",
    [
        (box((0.1, 0.2, 0.3), subdivisions=3), 0.1 * 0.2 * 0.3),
        (uv_sphere(0.05, 24, 48), 4.0 / 3.0 * math.pi * 0.05**3),
        (cylinder(0.02, 0.1, 48), math.pi * 0.02**2 * 0.1),
    ],
)
def test_closed_outward_and_volume(prim, volume):
    v, f = prim.vertices, prim.faces
    vol = signed_volume(v, f)
    # Boxes are exact; tessellated spheres/cylinders are inscribed (a little smaller).
    assert vol == pytest.approx(volume, rel=0.02)
    assert vol <= volume * (1 + 1e-9)
    # Vertex normals are unit and agree with the faces they belong to.
    np.testing.assert_allclose(np.linalg.norm(prim.normals, axis=1), 1.0, atol=1e-12)
    fn = face_normals(v, f)
    for k in range(3):
        assert (np.einsum("fi,fi->f", fn, prim.normals[f[:, k]]) > 0.3).all()
    assert prim.uv.min() >= 0.0 and prim.uv.max() <= 1.0


def test_box_extent_and_transform():
    b = box((0.1, 0.2, 0.3))
    np.testing.assert_allclose(b.vertices.max(0) - b.vertices.min(0), [0.1, 0.2, 0.3])
    R = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # +90° about z
    t = np.array([1.0, 2.0, 3.0])
    m = b.transformed(R, t)
    np.testing.assert_allclose(m.vertices.mean(0), t, atol=1e-12)
    np.testing.assert_allclose(m.vertices.max(0) - m.vertices.min(0), [0.2, 0.1, 0.3])
    assert signed_volume(m.vertices, m.faces) == pytest.approx(0.006)


def test_plane_faces_up():
    p = plane((0.4, 0.2), subdivisions=2)
    assert (face_normals(p.vertices, p.faces)[:, 2] > 0.999).all()
    np.testing.assert_allclose(p.vertices.max(0) - p.vertices.min(0), [0.4, 0.2, 0.0])


@pytest.mark.parametrize(
    "make", [lambda: box((0, 1, 1)), lambda: uv_sphere(-1), lambda: cylinder(1, np.nan)]
)
def test_bad_sizes(make):
    with pytest.raises(HandposeError, match="positive"):
        make()
