"""What a renderer draws: meshes with materials, lights, a camera and a background.

Both renderers take the same :class:`Scene` and return the same :class:`SceneRender`:

- :class:`handpose.render.gl.GLRenderer`: OpenGL over EGL (moderngl), batched, fast;
- :func:`render_scene_numpy`: the numpy z-buffer rasterizer (:mod:`.rasterizer`) with the same
  shading formula in numpy, the slow obviously-correct reference the GL renderer is tested
  against.

Conventions (those of :mod:`handpose.render.camera`): vertices are in the OpenCV camera frame
(x right, y down, z forward, metres); ``(u, v, 1)ᵀ ∝ K·x`` with the centre of pixel (row r,
column c) at ``(u, v) = (c, r)``.

Shading (:func:`shade_points`), in **linear** RGB, then encoded to sRGB for the 8-bit image::

    c = a ⊙ ρ + Σ_lights  L_i ⊙ (ρ·max(n·l_i, 0) + k_s·[n·l_i > 0]·max(n·h_i, 0)^s)

with ρ the albedo, a the ambient colour, L_i a light's colour (times its attenuation
``1 / (1 + d²/r²)`` for a point light at distance d with range r), l_i the unit direction to
the light, h_i the half vector of l_i and the direction to the camera (Blinn–Phong), k_s and s
the mesh's specular strength and shininess. Normals are smooth (interpolated vertex normals) and
two-sided (flipped towards the camera).

Labels: ``mask`` holds each mesh's ``instance`` id at the pixels it covers (0 background,
:data:`RIGHT_HAND` 1, :data:`LEFT_HAND` 2, :data:`OBJECT` 3; distractors in the background use
0), ``depth`` the camera z of the visible surface in metres (``inf`` where nothing was drawn),
and ``attributes`` the per-vertex attributes of the visible surface point, interpolated
perspective-correctly (0 where nothing was drawn).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from handpose.errors import HandposeError
from handpose.render.rasterizer import _check_mesh, rasterize, vertex_normals

__all__ = [
    "BACKGROUND",
    "RIGHT_HAND",
    "LEFT_HAND",
    "OBJECT",
    "MAX_LIGHTS",
    "MAX_ATTRIBUTES",
    "Mesh",
    "Lights",
    "Scene",
    "SceneRender",
    "srgb_to_linear",
    "linear_to_srgb",
    "shade_points",
    "render_scene_numpy",
]

BACKGROUND, RIGHT_HAND, LEFT_HAND, OBJECT = 0, 1, 2, 3
MAX_LIGHTS = 4  # directional lights, and separately point lights, per scene
MAX_ATTRIBUTES = 4  # channels of the per-vertex attribute map


def srgb_to_linear(c) -> np.ndarray:
    """sRGB-encoded values in [0, 1] → linear RGB (IEC 61966-2-1)."""
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c) -> np.ndarray:
    """Linear RGB in [0, 1] → sRGB encoding (IEC 61966-2-1); clips to [0, 1] first."""
    c = np.clip(np.asarray(c, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1.0 / 2.4) - 0.055)


@dataclass
class Mesh:
    """One triangle mesh of a scene.

    Attributes:
        vertices: (V, 3) camera-frame positions, metres.
        faces: (F, 3) vertex indices.
        colors: (3,) or (V, 3) linear-RGB albedo in [0, 1].
        instance: label written to the mask (0..255).
        attributes: optional (V, C) per-vertex attributes, C ≤ :data:`MAX_ATTRIBUTES`.
        specular: Blinn–Phong specular strength k_s (≥ 0).
        shininess: Blinn–Phong exponent s (> 0).
        normals: optional (V, 3) unit vertex normals (default: area-weighted, right-hand rule on
            the face order).
    """

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray | Sequence[float] = (0.6, 0.45, 0.4)
    instance: int = RIGHT_HAND
    attributes: np.ndarray | None = None
    specular: float = 0.0
    shininess: float = 32.0
    normals: np.ndarray | None = None

    def arrays(
        self, normals: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Validated (vertices (V,3) f64, faces (F,3) i64, colours (V,3) f64, normals (V,3));
        with ``normals=False`` the last is None unless the mesh has its own."""
        v = np.asarray(self.vertices, dtype=np.float64)
        f = np.asarray(self.faces, dtype=np.int64)
        _check_mesh(v, f)
        if not np.isfinite(v).all():
            raise HandposeError("mesh vertices contain NaN or infinite values.")
        c = np.asarray(self.colors, dtype=np.float64)
        if c.shape == (3,):
            c = np.broadcast_to(c, v.shape)
        elif c.shape != v.shape:
            raise HandposeError(f"mesh colors must be (3,) or {v.shape}, got {c.shape}.")
        if not 0 <= int(self.instance) <= 255:
            raise HandposeError(f"mesh instance must be in 0..255, got {self.instance}.")
        if self.normals is None:
            return v, f, c, vertex_normals(v, f) if normals else None
        n = np.asarray(self.normals, np.float64)
        if n.shape != v.shape:
            raise HandposeError(f"mesh normals must be {v.shape}, got {n.shape}.")
        return v, f, c, n

    def attribute_array(self, channels: int) -> np.ndarray:
        """(V, channels) float64 attributes, zero-padded (zeros when the mesh has none)."""
        V = len(self.vertices)
        out = np.zeros((V, channels))
        if self.attributes is not None and channels:
            a = np.asarray(self.attributes, dtype=np.float64).reshape(V, -1)
            if a.shape[1] > channels:
                raise HandposeError(
                    f"mesh has {a.shape[1]} attribute channels, the renderer {channels}."
                )
            out[:, : a.shape[1]] = a
        return out


@dataclass
class Lights:
    """Lights in the camera frame (linear RGB colours, intensities folded in).

    Attributes:
        ambient: (3,) ambient colour.
        directions: (N, 3) directions *towards* each directional light (normalised when used).
        colors: (N, 3) directional light colours.
        points: (M, 3) point-light positions, metres.
        point_colors: (M, 3) point-light colours at distance 0.
        point_ranges: (M,) metres; attenuation ``1 / (1 + d²/r²)``.
    """

    ambient: np.ndarray | Sequence[float] = (0.35, 0.35, 0.35)
    directions: np.ndarray = field(default_factory=lambda: np.array([[-0.35, -0.55, -1.0]]))
    colors: np.ndarray = field(default_factory=lambda: np.array([[0.8, 0.8, 0.8]]))
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    point_colors: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    point_ranges: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def arrays(self) -> dict[str, np.ndarray]:
        """Validated float64 arrays (directions normalised)."""
        d = np.asarray(self.directions, dtype=np.float64).reshape(-1, 3)
        dc = np.asarray(self.colors, dtype=np.float64).reshape(-1, 3)
        p = np.asarray(self.points, dtype=np.float64).reshape(-1, 3)
        pc = np.asarray(self.point_colors, dtype=np.float64).reshape(-1, 3)
        pr = np.asarray(self.point_ranges, dtype=np.float64).reshape(-1)
        if len(d) != len(dc) or len(p) != len(pc) or len(p) != len(pr):
            raise HandposeError("each light needs one colour (and each point light a range).")
        if len(d) > MAX_LIGHTS or len(p) > MAX_LIGHTS:
            raise HandposeError(f"at most {MAX_LIGHTS} directional and {MAX_LIGHTS} point lights.")
        norm = np.linalg.norm(d, axis=1, keepdims=True)
        if (norm < 1e-12).any() or (pr <= 0).any():
            raise HandposeError("light directions must be non-zero and point ranges positive.")
        ambient = np.asarray(self.ambient, dtype=np.float64).reshape(3)
        return {
            "ambient": ambient,
            "directions": d / norm,
            "colors": dc,
            "points": p,
            "point_colors": pc,
            "point_ranges": pr,
        }


@dataclass
class Scene:
    """One image to render.

    Attributes:
        meshes: the meshes (drawn with a z-buffer; order does not matter).
        K: (3, 3) intrinsics of the output image.
        lights: :class:`Lights`.
        background: (H, W, 3) uint8 sRGB image, or (3,) sRGB colour in [0, 1].
    """

    meshes: list[Mesh]
    K: np.ndarray
    lights: Lights = field(default_factory=Lights)
    background: np.ndarray | Sequence[float] = (1.0, 1.0, 1.0)

    def background_image(self, height: int, width: int) -> np.ndarray:
        """(H, W, 3) uint8 background."""
        bg = np.asarray(self.background)
        if bg.shape == (3,):
            col = np.round(np.clip(bg.astype(np.float64), 0, 1) * 255.0).astype(np.uint8)
            return np.broadcast_to(col, (height, width, 3))
        if bg.shape != (height, width, 3) or bg.dtype != np.uint8:
            raise HandposeError(
                f"scene background must be a ({height}, {width}, 3) uint8 image or an RGB "
                f"colour, got {bg.shape} {bg.dtype}."
            )
        return bg


@dataclass
class SceneRender:
    """A batch of rendered scenes (B = number of scenes).

    Attributes:
        rgb: (B, H, W, 3) uint8 sRGB.
        depth: (B, H, W) float32 camera z, metres; ``inf`` where nothing was drawn.
        mask: (B, H, W) uint8 instance ids (0 background).
        attributes: (B, H, W, C) float32 interpolated vertex attributes, or None.
    """

    rgb: np.ndarray
    depth: np.ndarray
    mask: np.ndarray
    attributes: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.rgb.shape[0])


def shade_points(pos, normal, albedo, specular, shininess, lights: Lights) -> np.ndarray:
    """Linear RGB (P, 3) of surface points under ``lights`` (the formula in the module doc).

    Args:
        pos: (P, 3) camera-frame positions. normal: (P, 3) normals (normalised and flipped
            towards the camera here). albedo: (P, 3) linear RGB. specular, shininess: (P,).
        lights: :class:`Lights`.
    """
    la = lights.arrays()
    pos = np.asarray(pos, dtype=np.float64)
    n = np.asarray(normal, dtype=np.float64)
    n = n / np.linalg.norm(n, axis=1, keepdims=True).clip(1e-12)
    to_cam = -pos / np.linalg.norm(pos, axis=1, keepdims=True).clip(1e-12)
    n = np.where((np.einsum("pi,pi->p", n, to_cam) < 0.0)[:, None], -n, n)
    rho = np.asarray(albedo, dtype=np.float64)
    ks = np.asarray(specular, dtype=np.float64)[:, None]
    s = np.asarray(shininess, dtype=np.float64)
    rgb = la["ambient"][None] * rho

    def light(l_dir: np.ndarray, color: np.ndarray) -> np.ndarray:
        ndl = np.einsum("pi,pi->p", n, l_dir)
        h = l_dir + to_cam
        h /= np.linalg.norm(h, axis=1, keepdims=True).clip(1e-12)
        spec = np.where(ndl > 0.0, np.clip(np.einsum("pi,pi->p", n, h), 0.0, None) ** s, 0.0)
        return color * (rho * np.clip(ndl, 0.0, None)[:, None] + ks * spec[:, None])

    for d, c in zip(la["directions"], la["colors"]):
        rgb = rgb + light(np.broadcast_to(d, pos.shape), c[None])
    for p, c, r in zip(la["points"], la["point_colors"], la["point_ranges"]):
        to_l = p[None] - pos
        d2 = np.einsum("pi,pi->p", to_l, to_l)
        l_dir = to_l / np.sqrt(d2).clip(1e-12)[:, None]
        att = 1.0 / (1.0 + d2 / (r * r))
        rgb = rgb + light(l_dir, c[None] * att[:, None])
    return rgb


def _merge(scene: Scene, channels: int):
    """Concatenate a scene's meshes: vertices, faces, colours, normals, per-vertex instance,
    specular, shininess and attributes (all per vertex)."""
    vs, fs, cs, ns, inst, ks, ss, attrs = [], [], [], [], [], [], [], []
    base = 0
    for m in scene.meshes:
        v, f, c, n = m.arrays(normals=False)
        vs.append(v)
        fs.append(f + base)
        cs.append(c)
        ns.append(n)
        inst.append(np.full(len(v), int(m.instance)))
        ks.append(np.full(len(v), float(m.specular)))
        ss.append(np.full(len(v), float(m.shininess)))
        attrs.append(m.attribute_array(channels))
        base += len(v)
    if not vs:
        z3 = np.zeros((0, 3))
        return z3, np.zeros((0, 3), np.int64), z3, z3, np.zeros(0), np.zeros(0), np.zeros(0), None
    cat = np.concatenate
    v, f = cat(vs), cat(fs)
    # Meshes share no vertices, so one call computes every mesh's own vertex normals.
    computed = vertex_normals(v, f) if any(n is None for n in ns) else None
    bounds = np.cumsum([0] + [len(x) for x in vs])
    n = cat([computed[a:b] if x is None else x for x, a, b in zip(ns, bounds[:-1], bounds[1:])])
    return v, f, cat(cs), n, cat(inst), cat(ks), cat(ss), cat(attrs)


def render_scene_numpy(
    scene: Scene, image_size: tuple[int, int], attribute_channels: int = 0
) -> SceneRender:
    """Render one scene with the numpy rasterizer (the reference for :mod:`.gl`).

    Args:
        scene: what to draw.
        image_size: (H, W).
        attribute_channels: C of the attribute map (0: none).
    Returns:
        :class:`SceneRender` with B = 1.
    """
    H, W = int(image_size[0]), int(image_size[1])
    if not 0 <= attribute_channels <= MAX_ATTRIBUTES:
        raise HandposeError(f"attribute_channels must be in 0..{MAX_ATTRIBUTES}.")
    v, f, c, n, inst, ks, ss, attrs = _merge(scene, attribute_channels)
    frags = rasterize(v, f, np.asarray(scene.K, dtype=np.float64), (H, W))
    rgb = scene.background_image(H, W).copy()
    depth = np.full((H, W), np.inf, dtype=np.float32)
    mask = np.zeros((H, W), dtype=np.uint8)
    attr_map = (
        np.zeros((H, W, attribute_channels), dtype=np.float32) if attribute_channels else None
    )
    hit = frags.mask
    if hit.any():
        tri = f[frags.face_index[hit]]  # (P, 3)
        bary = frags.bary[hit]

        def interp(a: np.ndarray) -> np.ndarray:
            return np.einsum("pk,pk...->p...", bary, a[tri])

        # The instance of a face is that of its first vertex (meshes do not share vertices).
        lin = shade_points(
            interp(v), interp(n), interp(c), ks[tri[:, 0]], ss[tri[:, 0]], scene.lights
        )
        rgb[hit] = np.round(linear_to_srgb(lin) * 255.0).astype(np.uint8)
        depth[hit] = frags.depth[hit]
        mask[hit] = inst[tri[:, 0]].astype(np.uint8)
        if attr_map is not None:
            attr_map[hit] = interp(attrs)
    return SceneRender(
        rgb[None], depth[None], mask[None], None if attr_map is None else attr_map[None]
    )
