"""Primitive meshes for objects and occluders: box, UV sphere, capped cylinder, plane.

Each function returns a :class:`Primitive` centred at the origin, with outward
counter-clockwise faces (right-hand rule), unit outward normals (flat on box faces and cylinder
caps: those vertices are duplicated per face) and texture coordinates in [0, 1]² for procedural
textures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from handpose.errors import HandposeError

__all__ = ["Primitive", "box", "uv_sphere", "cylinder", "plane"]


@dataclass
class Primitive:
    """A mesh with normals and texture coordinates.

    Attributes:
        vertices: (V, 3) metres. faces: (F, 3) int64. normals: (V, 3) unit, outward.
        uv: (V, 2) texture coordinates in [0, 1].
    """

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    uv: np.ndarray

    def transformed(self, R, t) -> Primitive:
        """The primitive rotated by ``R`` (3, 3) and moved by ``t`` (3,): ``x ↦ R x + t``."""
        R = np.asarray(R, dtype=np.float64)
        t = np.asarray(t, dtype=np.float64)
        return Primitive(self.vertices @ R.T + t, self.faces, self.normals @ R.T, self.uv)


def _positive(name: str, *values: float) -> None:
    if not all(np.isfinite(v) and v > 0 for v in values):
        raise HandposeError(f"{name} dimensions must be positive, got {values}.")


def box(size=(1.0, 1.0, 1.0), subdivisions: int = 4) -> Primitive:
    """Axis-aligned box with side lengths ``size`` (3,), each face a ``subdivisions``² grid."""
    sx, sy, sz = (float(s) for s in size)
    _positive("box", sx, sy, sz)
    n = max(1, int(subdivisions))
    g = np.linspace(-0.5, 0.5, n + 1)
    a, b = np.meshgrid(g, g, indexing="ij")
    a, b = a.ravel(), b.ravel()
    quad = []
    for i in range(n):
        for j in range(n):
            p00, p10, p01, p11 = (
                i * (n + 1) + j,
                (i + 1) * (n + 1) + j,
                i * (n + 1) + j + 1,
                (i + 1) * (n + 1) + j + 1,
            )
            quad += [[p00, p10, p11], [p00, p11, p01]]
    quad = np.asarray(quad)
    verts, faces, normals, uvs = [], [], [], []
    base = 0
    # Each face: normal axis k with sign s, tangent axes (u_axis, v_axis) with u × v = s·e_k.
    for k in range(3):
        for s in (1.0, -1.0):
            u_ax, v_ax = (k + 1) % 3, (k + 2) % 3
            if s < 0:
                u_ax, v_ax = v_ax, u_ax
            p = np.zeros((len(a), 3))
            p[:, k] = 0.5 * s
            p[:, u_ax] = a
            p[:, v_ax] = b
            verts.append(p)
            nrm = np.zeros((len(a), 3))
            nrm[:, k] = s
            normals.append(nrm)
            uvs.append(np.stack([a + 0.5, b + 0.5], 1))
            faces.append(quad + base)
            base += len(a)
    v = np.concatenate(verts) * np.array([sx, sy, sz])
    return Primitive(
        v, np.concatenate(faces).astype(np.int64), np.concatenate(normals), np.concatenate(uvs)
    )


def uv_sphere(radius: float = 1.0, n_lat: int = 16, n_lon: int = 32) -> Primitive:
    """Sphere of ``radius`` with ``n_lat`` latitude bands and ``n_lon`` longitude segments."""
    _positive("sphere", radius)
    n_lat, n_lon = max(3, int(n_lat)), max(4, int(n_lon))
    th = np.linspace(0.0, math.pi, n_lat + 1)
    ph = np.linspace(0.0, 2.0 * math.pi, n_lon + 1)  # seam duplicated for the texture
    T, P = np.meshgrid(th, ph, indexing="ij")
    d = np.stack([np.sin(T) * np.cos(P), np.sin(T) * np.sin(P), np.cos(T)], -1).reshape(-1, 3)
    uv = np.stack([P / (2 * math.pi), T / math.pi], -1).reshape(-1, 2)
    faces = []
    for i in range(n_lat):
        for j in range(n_lon):
            a, b = i * (n_lon + 1) + j, (i + 1) * (n_lon + 1) + j
            if i > 0:
                faces.append([a, b, a + 1])
            if i < n_lat - 1:
                faces.append([a + 1, b, b + 1])
    return Primitive(d * float(radius), np.asarray(faces, np.int64), d.copy(), uv)


def cylinder(radius: float = 1.0, height: float = 1.0, segments: int = 32) -> Primitive:
    """Capped cylinder along z, centred at the origin (z from −height/2 to +height/2)."""
    _positive("cylinder", radius, height)
    n = max(3, int(segments))
    ph = np.linspace(0.0, 2.0 * math.pi, n + 1)
    c, s = np.cos(ph), np.sin(ph)
    h = 0.5 * float(height)
    r = float(radius)
    # Side: two rings (seam duplicated), outward radial normals.
    side_v = np.concatenate([np.stack([r * c, r * s, -h * np.ones_like(c)], 1),
                             np.stack([r * c, r * s, h * np.ones_like(c)], 1)])  # fmt: skip
    side_n = np.concatenate([np.stack([c, s, 0 * c], 1)] * 2)
    side_uv = np.concatenate([np.stack([ph / (2 * math.pi), 0 * c], 1),
                              np.stack([ph / (2 * math.pi), 0 * c + 1], 1)])  # fmt: skip
    faces = []
    for j in range(n):
        a, b = j, n + 1 + j
        faces += [[a, a + 1, b + 1], [a, b + 1, b]]
    verts, normals, uvs = [side_v], [side_n], [side_uv]
    base = len(side_v)
    for sign in (1.0, -1.0):  # caps: centre + ring, flat normals
        ring = np.stack([r * c[:-1], r * s[:-1], sign * h * np.ones(n)], 1)
        v = np.concatenate([[[0.0, 0.0, sign * h]], ring])
        verts.append(v)
        normals.append(np.tile([0.0, 0.0, sign], (n + 1, 1)))
        uvs.append(0.5 + 0.5 * np.concatenate([[[0.0, 0.0]], np.stack([c[:-1], s[:-1]], 1)]))
        for j in range(n):
            k0, k1 = base + 1 + j, base + 1 + (j + 1) % n
            faces.append([base, k0, k1] if sign > 0 else [base, k1, k0])
        base += n + 1
    return Primitive(
        np.concatenate(verts),
        np.asarray(faces, np.int64),
        np.concatenate(normals),
        np.concatenate(uvs),
    )


def plane(size=(1.0, 1.0), subdivisions: int = 1) -> Primitive:
    """Square grid in the z = 0 plane, normal +z, side lengths ``size`` (x, y)."""
    sx, sy = (float(s) for s in size)
    _positive("plane", sx, sy)
    n = max(1, int(subdivisions))
    g = np.linspace(0.0, 1.0, n + 1)
    U, V = np.meshgrid(g, g, indexing="ij")
    uv = np.stack([U.ravel(), V.ravel()], 1)
    verts = np.stack([(uv[:, 0] - 0.5) * sx, (uv[:, 1] - 0.5) * sy, np.zeros(len(uv))], 1)
    faces = []
    for i in range(n):
        for j in range(n):
            a, b = i * (n + 1) + j, (i + 1) * (n + 1) + j
            faces += [[a, b, b + 1], [a, b + 1, a + 1]]
    return Primitive(verts, np.asarray(faces, np.int64), np.tile([0.0, 0.0, 1.0], (len(uv), 1)), uv)
