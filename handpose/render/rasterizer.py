"""A small z-buffer triangle rasterizer in numpy: perspective camera, Lambert shading, no OpenGL.

Conventions (see :mod:`handpose.render.camera`): vertices are given in the OpenCV camera frame
(x right, y down, z forward, metres); pixel ``(row r, column c)`` has its centre at image
coordinates ``(u, v) = (c, r)`` with ``(u, v, 1)ᵀ ∝ K @ x``. A pixel belongs to a triangle when
its centre lies inside the projected triangle (centres exactly on a shared edge go to both
triangles and the z-buffer picks one). Depth is the camera z of the surface, interpolated
perspective-correctly (linear in 1/z on screen). Triangles with a vertex at z ≤ ``near`` are
skipped, not clipped.

The whole image is rasterized at once: every (triangle, pixel in its bounding box) pair is a
candidate fragment, barycentric coordinates come from edge functions, and the nearest inside
fragment per pixel wins (an unbuffered ``np.minimum.at`` into the z-buffer). Candidates are
processed in chunks of triangles so memory stays bounded for large triangles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handpose.errors import HandposeError
from handpose.render.camera import scale_intrinsics

__all__ = [
    "Fragments",
    "RenderResult",
    "rasterize",
    "vertex_normals",
    "shade",
    "render",
    "render_mesh",
]

DEFAULT_LIGHT_DIR = (-0.35, -0.55, -1.0)  # towards the light: above-left of the camera


@dataclass
class Fragments:
    """Per-pixel result of :func:`rasterize` for an image of H×W pixels.

    Attributes:
        face_index: (H, W) int64, the visible triangle, −1 for background.
        bary: (H, W, 3) float64 perspective-correct barycentric coordinates (0 on background).
        depth: (H, W) float64 camera z in metres, ``inf`` on background.
    """

    face_index: np.ndarray
    bary: np.ndarray
    depth: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool, True where a triangle is visible."""
        return self.face_index >= 0


@dataclass
class RenderResult:
    """Output of :func:`render`: image (H, W, 3) uint8, depth (H, W) metres (inf = background),
    mask (H, W) bool (at the output resolution; with supersampling a pixel is in the mask when
    any of its samples is)."""

    image: np.ndarray
    depth: np.ndarray
    mask: np.ndarray


def _to_numpy(x, dtype=np.float64) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _check_mesh(vertices: np.ndarray, faces: np.ndarray) -> None:
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise HandposeError(f"vertices must have shape (V, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise HandposeError(f"faces must have shape (F, 3), got {faces.shape}")
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise HandposeError("faces index vertices out of range")


def rasterize(
    vertices,
    faces,
    K,
    image_size: tuple[int, int],
    *,
    cull_backfaces: bool = False,
    near: float = 1e-4,
    max_candidates: int = 4_000_000,
) -> Fragments:
    """Rasterize a triangle mesh with a z-buffer.

    Args:
        vertices: (V, 3) camera-frame positions (OpenCV axes), metres.
        faces: (F, 3) vertex indices.
        K: (3, 3) intrinsics.
        image_size: ``(H, W)`` in pixels.
        cull_backfaces: skip triangles whose counter-clockwise normal (right-hand rule on the
            vertex order) points away from the camera; right for closed meshes with outward
            normals, and it halves the work.
        near: triangles with any vertex at z ≤ near are skipped.
        max_candidates: bound on (triangle, pixel) candidates held in memory at once.
    Returns:
        :class:`Fragments`.
    """
    v = _to_numpy(vertices)
    f = _to_numpy(faces, np.int64)
    K = _to_numpy(K)
    _check_mesh(v, f)
    H, W = int(image_size[0]), int(image_size[1])
    if H <= 0 or W <= 0:
        raise HandposeError(f"image_size must be positive, got {image_size}")

    zbuf = np.full(H * W, np.inf)
    fbuf = np.full(H * W, -1, dtype=np.int64)
    bbuf = np.zeros((H * W, 3))
    frags = Fragments(fbuf.reshape(H, W), bbuf.reshape(H, W, 3), zbuf.reshape(H, W))
    if len(f) == 0:
        return frags

    z = v[:, 2]
    safe_z = np.where(z > near, z, 1.0)
    uvw = v @ K.T
    uv = uvw[:, :2] / safe_z[:, None]

    tri = v[f]  # (F, 3, 3)
    tz = z[f]
    tuv = uv[f]  # (F, 3, 2)
    e1 = tuv[:, 1] - tuv[:, 0]
    e2 = tuv[:, 2] - tuv[:, 0]
    area2 = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    keep = (tz > near).all(1) & (np.abs(area2) > 1e-12)
    if cull_backfaces:
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        keep &= np.einsum("fi,fi->f", n, tri[:, 0]) < 0.0

    umin = np.ceil(tuv[..., 0].min(1)).clip(0, W)
    umax = np.floor(tuv[..., 0].max(1)).clip(-1, W - 1)
    vmin = np.ceil(tuv[..., 1].min(1)).clip(0, H)
    vmax = np.floor(tuv[..., 1].max(1)).clip(-1, H - 1)
    bw = (umax - umin + 1).clip(0)
    bh = (vmax - vmin + 1).clip(0)
    # Triangles far outside the image have absurd boxes before clipping; clipped sizes are small.
    counts = np.where(keep, bw * bh, 0).astype(np.int64)
    face_ids = np.nonzero(counts)[0]
    if len(face_ids) == 0:
        return frags

    # Chunk the triangles so that each chunk has at most max_candidates fragments.
    cum = np.cumsum(counts[face_ids])
    starts = [0]
    while starts[-1] < len(face_ids):
        base = cum[starts[-1] - 1] if starts[-1] > 0 else 0
        end = int(np.searchsorted(cum, base + max_candidates, side="right"))
        starts.append(max(end, starts[-1] + 1))
    for s0, s1 in zip(starts[:-1], starts[1:]):
        ids = face_ids[s0:s1]
        _rasterize_chunk(ids, counts, umin, vmin, bw, tuv, tz, area2, W, zbuf, fbuf, bbuf)
    return frags


def _rasterize_chunk(ids, counts, umin, vmin, bw, tuv, tz, area2, W, zbuf, fbuf, bbuf) -> None:
    c = counts[ids]
    fid = np.repeat(ids, c)
    offset = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
    wid = bw[fid].astype(np.int64)
    px = umin[fid].astype(np.int64) + offset % wid
    py = vmin[fid].astype(np.int64) + offset // wid
    a, b, cc = tuv[fid, 0], tuv[fid, 1], tuv[fid, 2]
    x = px.astype(np.float64)
    y = py.astype(np.float64)
    inv = 1.0 / area2[fid]
    # Edge functions: l0 is the signed area of (p, b, c) over the triangle's, and so on.
    l0 = ((b[:, 0] - x) * (cc[:, 1] - y) - (b[:, 1] - y) * (cc[:, 0] - x)) * inv
    l1 = ((cc[:, 0] - x) * (a[:, 1] - y) - (cc[:, 1] - y) * (a[:, 0] - x)) * inv
    l2 = 1.0 - l0 - l1
    inside = (l0 >= 0.0) & (l1 >= 0.0) & (l2 >= 0.0)
    if not inside.any():
        return
    fid, px, py = fid[inside], px[inside], py[inside]
    lam = np.stack([l0[inside], l1[inside], l2[inside]], 1)
    # Perspective-correct interpolation: screen-space barycentrics are linear in 1/z.
    q = lam / tz[fid]
    inv_depth = q.sum(1)
    depth = 1.0 / inv_depth
    bary = q / inv_depth[:, None]
    pix = py * W + px
    # Z-test: the unbuffered minimum per pixel, then the fragments that reached it (on an exact
    # depth tie one of them is kept).
    np.minimum.at(zbuf, pix, depth)
    win = depth == zbuf[pix]
    fbuf[pix[win]] = fid[win]
    bbuf[pix[win]] = bary[win]


def vertex_normals(vertices, faces) -> np.ndarray:
    """Area-weighted unit vertex normals (V, 3) of a mesh (right-hand rule on face order)."""
    v = _to_numpy(vertices)
    f = _to_numpy(faces, np.int64)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # length = 2 × area
    idx = f.ravel()
    n = np.stack(
        [np.bincount(idx, np.repeat(fn[:, i], 3), minlength=len(v)) for i in range(3)], axis=1
    )
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    return n / np.where(norm > 0, norm, 1.0)


def shade(
    fragments: Fragments,
    vertices,
    faces,
    *,
    color=(0.85, 0.66, 0.56),
    light_dir=DEFAULT_LIGHT_DIR,
    ambient: float = 0.3,
    diffuse: float = 0.7,
    specular: float = 0.0,
    shininess: float = 20.0,
    smooth: bool = True,
    two_sided: bool = True,
    background=(1.0, 1.0, 1.0),
) -> np.ndarray:
    """Lambert (+ optional Blinn–Phong) shading of rasterized fragments.

    Intensity = ``ambient + diffuse·max(n·l, 0)`` times the surface colour, plus
    ``specular·max(n·h, 0)^shininess`` in white, where ``l`` is the unit direction towards a
    directional light and ``h`` the half vector between ``l`` and the direction to the camera.

    Args:
        fragments: from :func:`rasterize`.
        vertices: (V, 3) the camera-frame vertices that were rasterized.
        faces: (F, 3).
        color: (3,) RGB in [0, 1], or (V, 3) per-vertex colours (interpolated).
        light_dir: (3,) direction towards the light in the camera frame (normalised here).
        smooth: interpolate vertex normals (True) or use flat face normals.
        two_sided: flip normals that face away from the camera (for open or unoriented meshes).
        background: (3,) RGB in [0, 1].
    Returns:
        (H, W, 3) float64 image in [0, 1].
    """
    v = _to_numpy(vertices)
    f = _to_numpy(faces, np.int64)
    H, W = fragments.face_index.shape
    out = np.empty((H, W, 3))
    out[:] = np.asarray(background, dtype=np.float64)
    mask = fragments.mask
    if not mask.any():
        return out
    fid = fragments.face_index[mask]
    bary = fragments.bary[mask]
    tri = f[fid]  # (P, 3)
    pos = np.einsum("pk,pki->pi", bary, v[tri])
    if smooth:
        vn = vertex_normals(v, f)
        n = np.einsum("pk,pki->pi", bary, vn[tri])
    else:
        n = np.cross(v[tri[:, 1]] - v[tri[:, 0]], v[tri[:, 2]] - v[tri[:, 0]])
    n /= np.linalg.norm(n, axis=1, keepdims=True).clip(1e-12)
    to_cam = -pos / np.linalg.norm(pos, axis=1, keepdims=True).clip(1e-12)
    if two_sided:
        n = np.where((np.einsum("pi,pi->p", n, to_cam) < 0.0)[:, None], -n, n)
    light = np.asarray(light_dir, dtype=np.float64)
    light = light / np.linalg.norm(light)
    lambert = np.clip(n @ light, 0.0, None)
    col = np.asarray(color, dtype=np.float64)
    base = np.einsum("pk,pki->pi", bary, col[tri]) if col.ndim == 2 else col[None, :]
    rgb = base * (ambient + diffuse * lambert)[:, None]
    if specular > 0.0:
        half = light[None, :] + to_cam
        half /= np.linalg.norm(half, axis=1, keepdims=True).clip(1e-12)
        rgb = (
            rgb
            + specular * (np.clip(np.einsum("pi,pi->p", n, half), 0.0, None) ** shininess)[:, None]
        )
    out[mask] = rgb
    return np.clip(out, 0.0, 1.0)


def render(
    vertices,
    faces,
    K,
    image_size: tuple[int, int] = (256, 256),
    *,
    supersample: int = 1,
    cull_backfaces: bool = False,
    **shading,
) -> RenderResult:
    """Rasterize and shade a mesh; returns image, depth and mask (see :func:`render_mesh`).

    Args:
        supersample: render at this integer factor and average blocks of pixels (anti-aliasing);
            depth is the minimum over each block.
        **shading: keyword arguments of :func:`shade` (color, light_dir, background, ...).
    """
    s = int(supersample)
    if s < 1:
        raise HandposeError(f"supersample must be ≥ 1, got {supersample}")
    H, W = int(image_size[0]), int(image_size[1])
    v = _to_numpy(vertices)
    f = _to_numpy(faces, np.int64)
    K = _to_numpy(K)
    Ks = scale_intrinsics(K, s) if s > 1 else K
    frags = rasterize(v, f, Ks, (H * s, W * s), cull_backfaces=cull_backfaces)
    col = shade(frags, v, f, **shading)
    depth = frags.depth
    mask = frags.mask
    if s > 1:
        col = col.reshape(H, s, W, s, 3).mean((1, 3))
        depth = depth.reshape(H, s, W, s).min((1, 3))
        mask = mask.reshape(H, s, W, s).any((1, 3))
    image = np.round(col * 255.0).astype(np.uint8)
    return RenderResult(image=image, depth=depth, mask=mask)


def render_mesh(
    vertices,
    faces,
    K,
    image_size: tuple[int, int] = (256, 256),
    color=(0.85, 0.66, 0.56),
    light_dir=DEFAULT_LIGHT_DIR,
    background=(1.0, 1.0, 1.0),
    **kwargs,
) -> np.ndarray:
    """Render a shaded mesh to an RGB image.

    Args:
        vertices: (V, 3) camera-frame positions (OpenCV: x right, y down, z forward), metres;
            numpy array or torch tensor.
        faces: (F, 3) vertex indices.
        K: (3, 3) intrinsics.
        image_size: ``(H, W)``.
        color: (3,) RGB in [0, 1] or (V, 3) per-vertex colours.
        light_dir: (3,) direction towards a directional light, camera frame.
        background: (3,) RGB in [0, 1].
        **kwargs: ``supersample``, ``cull_backfaces`` and the other options of :func:`shade`.
    Returns:
        (H, W, 3) uint8 image.

    Example:
        >>> from handpose.render.camera import intrinsics_from_fov
        >>> v = np.array([[-0.1, -0.1, 1.0], [0.1, -0.1, 1.0], [0.0, 0.1, 1.0]])
        >>> img = render_mesh(v, np.array([[0, 1, 2]]), intrinsics_from_fov(40, 64, 64), (64, 64))
        >>> img.shape, img.dtype
        ((64, 64, 3), dtype('uint8'))
    """
    return render(
        vertices,
        faces,
        K,
        image_size,
        color=color,
        light_dir=light_dir,
        background=background,
        **kwargs,
    ).image
