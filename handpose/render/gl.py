"""A batched offscreen OpenGL renderer (moderngl over Mesa EGL): RGB, depth, masks, attributes.

Why moderngl/EGL: it installs from PyPI (``pip install 'handpose[render]'``) and renders without a
GPU or a display through Mesa's llvmpipe (``libegl-mesa0``, ``libgl1-mesa-dri``), and it was the
fastest deterministic option measured on these machines (../shared/reference/rendering.md;
``benchmarks/bench_render.py`` measures it against the numpy rasterizer).

One call renders a batch of :class:`~handpose.render.scene.Scene` s into tiles of one large
framebuffer (one draw per scene and pass, one read-back per output for the whole batch), with
deferred shading (:class:`GLRenderer`). Outputs and shading are those of
:func:`handpose.render.scene.render_scene_numpy`, the numpy reference:

- ``rgb``: the meshes shaded in linear RGB (ambient + directional and point lights, Lambert +
  Blinn–Phong) and encoded to sRGB, over the background image; with ``antialias = k`` the
  colour comes from an extra k-sample multisampled pass (labels stay single-sample: each label
  pixel is what covers the pixel centre);
- ``mask`` (uint8 instance ids), ``depth`` (metres, ``inf`` on background) and ``attributes``
  (interpolated per-vertex values) from the single-sample G-buffer.

Camera: the GL projection is built from K so that window coordinates are ``(u + ½, v + ½)``
with ``(u, v, 1)ᵀ ∝ K·x`` (OpenCV, pixel centres at integers, v down). GL's window y grows with
the row index read back first, so row r of the returned image is ``v = r``: no flip anywhere
(see :func:`projection_from_K`; pinned by ``tests/render/test_gl.py``).

Each process creates its own EGL context lazily (worker processes of a generator each get
theirs); a context made in a parent is never reused in a child.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from handpose.errors import HandposeError
from handpose.render.scene import (
    MAX_ATTRIBUTES,
    MAX_LIGHTS,
    Scene,
    SceneRender,
    _merge,
)

__all__ = ["GLRenderer", "projection_from_K", "gl_available", "INSTALL_HINT"]

INSTALL_HINT = (
    "GPU-free offscreen rendering needs OpenGL over EGL: install the system packages "
    "libegl-mesa0 and libgl1-mesa-dri (apt) and the Python extra: pip install 'handpose[render]'"
)

_CONTEXT: dict[int, object] = {}  # pid → moderngl context (one per process)


def _moderngl():
    try:
        import moderngl
    except ImportError as err:
        raise HandposeError(f"{INSTALL_HINT} (moderngl is not installed: {err}).") from None
    return moderngl


def _context():
    """This process's standalone EGL context (created on first use)."""
    pid = os.getpid()
    ctx = _CONTEXT.get(pid)
    if ctx is None:
        moderngl = _moderngl()
        try:
            ctx = moderngl.create_standalone_context(backend="egl")
        except Exception as err:  # glcontext raises plain Exceptions for a missing EGL
            msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise HandposeError(f"{INSTALL_HINT} (EGL said: {msg}).") from None
        _CONTEXT.clear()  # drop a context inherited from a parent process
        _CONTEXT[pid] = ctx
    return ctx


def gl_available() -> tuple[bool, str]:
    """(True, renderer name) if an EGL context can be created here, else (False, reason)."""
    try:
        ctx = _context()
    except HandposeError as err:
        return False, str(err)
    return True, str(ctx.info.get("GL_RENDERER", "unknown"))


def projection_from_K(K, width: int, height: int, near: float, far: float) -> np.ndarray:
    """The 4×4 GL clip matrix of intrinsics K for a ``width`` × ``height`` viewport.

    Clip coordinates ``P·(x, y, z, 1)ᵀ`` have w = z, and after the viewport transform the window
    coordinates are ``(u + ½, v + ½)`` where ``(u, v, 1)ᵀ ∝ K·(x, y, z)ᵀ``: OpenGL samples pixel
    (row r, column c) at window ``(c + ½, r + ½)``, which is then the pinhole point
    ``(u, v) = (c, r)``. Depth maps z ∈ [near, far] to NDC [−1, 1].

    Args:
        K: (3, 3) intrinsics (skew allowed). width, height: viewport size in pixels.
        near, far: clipping distances in metres, 0 < near < far.
    Returns:
        (4, 4) float64, row-major (transpose it for GL's column-major upload).
    """
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all():
        raise HandposeError(f"K must be a finite (3, 3) matrix, got shape {K.shape}.")
    if not 0.0 < near < far:
        raise HandposeError(f"need 0 < near < far, got near={near}, far={far}.")
    W, H = float(width), float(height)
    fx, s, cx = K[0]
    _, fy, cy = K[1]
    return np.array(
        [
            [2.0 * fx / W, 2.0 * s / W, 2.0 * (cx + 0.5) / W - 1.0, 0.0],
            [0.0, 2.0 * fy / H, 2.0 * (cy + 0.5) / H - 1.0, 0.0],
            [0.0, 0.0, (far + near) / (far - near), -2.0 * far * near / (far - near)],
            [0.0, 0.0, 1.0, 0.0],
        ]
    )


_VERTEX = """
#version 330
uniform mat4 u_proj;
in vec3 in_pos;
in vec3 in_normal;
in vec3 in_albedo;
in vec3 in_mat;   // instance, specular strength, shininess
in vec4 in_attr;
out vec3 v_pos;
out vec3 v_normal;
out vec3 v_albedo;
out vec2 v_spec;
flat out float v_inst;
out vec4 v_attr;
void main() {
    v_pos = in_pos;
    v_normal = in_normal;
    v_albedo = in_albedo;
    v_spec = in_mat.yz;
    v_inst = in_mat.x;
    v_attr = in_attr;
    gl_Position = u_proj * vec4(in_pos, 1.0);
}
"""

# The shading formula of handpose.render.scene.shade_points, shared by both colour paths.
_SHADING = """
#define MAXL %(maxl)d
uniform vec3 u_ambient;
uniform int u_ndir;
uniform vec3 u_dir[MAXL];
uniform vec3 u_dir_col[MAXL];
uniform int u_npt;
uniform vec3 u_pt[MAXL];
uniform vec3 u_pt_col[MAXL];
uniform float u_pt_range[MAXL];

vec3 light(vec3 n, vec3 to_cam, vec3 l, vec3 col, vec3 albedo, vec2 spec) {
    float ndl = dot(n, l);
    vec3 h = normalize(l + to_cam);
    float s = ndl > 0.0 ? pow(max(dot(n, h), 0.0), spec.y) : 0.0;
    return col * (albedo * max(ndl, 0.0) + spec.x * s);
}

vec3 to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(12.92 * c, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(vec3(0.0031308), c));
}

vec3 shade(vec3 pos, vec3 normal, vec3 albedo, vec2 spec) {
    vec3 n = normalize(normal);
    vec3 to_cam = normalize(-pos);
    if (dot(n, to_cam) < 0.0) n = -n;
    vec3 rgb = u_ambient * albedo;
    for (int i = 0; i < u_ndir; ++i) rgb += light(n, to_cam, u_dir[i], u_dir_col[i], albedo, spec);
    for (int i = 0; i < u_npt; ++i) {
        vec3 to_l = u_pt[i] - pos;
        float d2 = dot(to_l, to_l);
        float att = 1.0 / (1.0 + d2 / (u_pt_range[i] * u_pt_range[i]));
        rgb += light(n, to_cam, to_l * inversesqrt(d2), u_pt_col[i] * att, albedo, spec);
    }
    return to_srgb(rgb);
}
"""

# Pass 1: the visible surface of every pixel (G-buffer). The background keeps the clear value
# 0 (position z = 0, instance 0).
_GBUFFER_FRAGMENT = """
#version 330
in vec3 v_pos;
in vec3 v_normal;
in vec3 v_albedo;
in vec2 v_spec;
flat in float v_inst;
in vec4 v_attr;
layout(location = 0) out vec4 g_pos;     // camera position, instance
layout(location = 1) out vec4 g_normal;  // interpolated normal, specular strength
layout(location = 2) out vec4 g_albedo;  // albedo, shininess
#if ATTR
layout(location = 3) out vec4 g_attr;
#endif
void main() {
    g_pos = vec4(v_pos, v_inst);
    g_normal = vec4(v_normal, v_spec.x);
    g_albedo = vec4(v_albedo, v_spec.y);
#if ATTR
    g_attr = v_attr;
#endif
}
"""

_SCREEN_VERTEX = """
#version 330
in vec2 in_xy;
void main() { gl_Position = vec4(in_xy, 0.0, 1.0); }
"""

# Pass 2: a screen-filling triangle on the far plane, depth-tested with ">" against pass 1's
# depth buffer, so only pixels with a surface run it (the colour target already holds the
# background); each is shaded once from the G-buffer.
_FAR_VERTEX = """
#version 330
in vec2 in_xy;
void main() { gl_Position = vec4(in_xy, 1.0, 1.0); }
"""

_DEFERRED_FRAGMENT = """
#version 330
uniform sampler2D u_pos;
uniform sampler2D u_normal;
uniform sampler2D u_albedo;
%(shading)s
out vec4 f_color;
void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    vec4 P = texelFetch(u_pos, p, 0);
    vec4 N = texelFetch(u_normal, p, 0);
    vec4 A = texelFetch(u_albedo, p, 0);
    f_color = vec4(shade(P.xyz, N.xyz, A.rgb, vec2(N.w, A.w)), 1.0);
}
"""

# Antialiased colour (MSAA): forward shading of the meshes over the background.
_FORWARD_FRAGMENT = """
#version 330
in vec3 v_pos;
in vec3 v_normal;
in vec3 v_albedo;
in vec2 v_spec;
%(shading)s
out vec4 f_color;
void main() { f_color = vec4(shade(v_pos, v_normal, v_albedo, v_spec), 1.0); }
"""

_BG_FRAGMENT = """
#version 330
uniform sampler2D u_bg;
out vec4 f_color;
void main() { f_color = vec4(texelFetch(u_bg, ivec2(gl_FragCoord.xy), 0).rgb, 1.0); }
"""

_FLOATS_PER_VERTEX = 16  # pos 3, normal 3, albedo 3, (instance, specular, shininess) 3, attr 4


class GLRenderer:
    """Batched offscreen renderer of :class:`~handpose.render.scene.Scene` s.

    Deferred shading: pass 1 draws every scene of the batch into its tile of a G-buffer
    (camera position, instance, normal, albedo, material and attributes of the nearest
    surface, depth-tested); pass 2 shades each pixel once with its scene's lights, or copies
    the background where no surface was drawn. On a CPU rasterizer this matters: a hand mesh
    at 256 px has triangles of a few pixels, and forward shading would evaluate the lighting
    for every pixel of every 4×4 block every small triangle touches.

    Args:
        height, width: output image size in pixels.
        max_batch: scenes per framebuffer (tiles); larger batches are split.
        attribute_channels: C of the attribute map, 0..4 (0: none).
        antialias: 0 (off) or the number of MSAA samples of an extra forward-shaded colour
            pass (labels stay single-sample: each label pixel is what covers its centre).
        cull_backfaces: skip triangles facing away from the camera (counter-clockwise faces
            seen from outside, right-hand rule): for closed, consistently oriented meshes only
            (hands, primitives), where it gives the same image faster.
        near, far: clipping distances, metres.

    Example:
        >>> r = GLRenderer(64, 64)  # doctest: +SKIP
        >>> out = r.render([scene_a, scene_b])  # doctest: +SKIP
        >>> out.rgb.shape, out.mask.shape  # doctest: +SKIP
        ((2, 64, 64, 3), (2, 64, 64))
    """

    def __init__(
        self,
        height: int,
        width: int,
        *,
        max_batch: int = 16,
        attribute_channels: int = 0,
        antialias: int = 0,
        cull_backfaces: bool = False,
        near: float = 0.01,
        far: float = 50.0,
    ) -> None:
        H, W = int(height), int(width)
        if H < 1 or W < 1 or H > 4096 or W > 4096:
            raise HandposeError(f"image size must be 1..4096 pixels, got {H}×{W}.")
        if not 0 <= int(attribute_channels) <= MAX_ATTRIBUTES:
            raise HandposeError(f"attribute_channels must be in 0..{MAX_ATTRIBUTES}.")
        if int(antialias) < 0 or int(antialias) == 1:
            raise HandposeError(f"antialias must be 0 (off) or ≥ 2 samples, got {antialias}.")
        if int(max_batch) < 1:
            raise HandposeError(f"max_batch must be ≥ 1, got {max_batch}.")
        self.height, self.width = H, W
        self.channels = int(attribute_channels)
        self.antialias = int(antialias)
        self.cull = bool(cull_backfaces)
        self.near, self.far = float(near), float(far)
        projection_from_K(np.eye(3), W, H, self.near, self.far)  # validates near/far
        moderngl = _moderngl()
        ctx = _context()
        self.ctx = ctx
        limit = int(ctx.info.get("GL_MAX_TEXTURE_SIZE", 8192))
        per_row = max(1, min(int(max_batch), limit // W))
        cols = min(per_row, math.ceil(math.sqrt(int(max_batch))))
        rows = min(math.ceil(int(max_batch) / cols), max(1, limit // H))
        self.cols, self.rows = cols, rows
        self.max_batch = cols * rows
        size = (cols * W, rows * H)
        self._size = size

        shading = _SHADING % {"maxl": MAX_LIGHTS}
        attr = f"#define ATTR {int(self.channels > 0)}\n"
        gfrag = _GBUFFER_FRAGMENT.replace("#version 330\n", "#version 330\n" + attr, 1)
        self._gprog = ctx.program(vertex_shader=_VERTEX, fragment_shader=gfrag)
        self._dprog = ctx.program(
            vertex_shader=_FAR_VERTEX, fragment_shader=_DEFERRED_FRAGMENT % {"shading": shading}
        )
        self._pos = ctx.texture(size, 4, dtype="f4")
        self._normal = ctx.texture(size, 4, dtype="f4")
        self._albedo = ctx.texture(size, 4, dtype="f4")
        gbuf = [self._pos, self._normal, self._albedo]
        if self.channels:
            self._attr = ctx.texture(size, 4, dtype="f4")
            gbuf.append(self._attr)
        self._zbuf = ctx.depth_renderbuffer(size)
        self._gfbo = ctx.framebuffer(color_attachments=gbuf, depth_attachment=self._zbuf)
        self._color = ctx.texture(size, 4, dtype="f1")
        self._cfbo = ctx.framebuffer(color_attachments=[self._color], depth_attachment=self._zbuf)
        self._bg_tex = ctx.texture(size, 3, dtype="f1")
        for t in (self._pos, self._normal, self._albedo, self._bg_tex):
            t.filter = (moderngl.NEAREST, moderngl.NEAREST)
        quad = np.array([-1, -1, 3, -1, -1, 3], dtype="f4")  # one triangle covering the screen
        self._quad = ctx.buffer(quad.tobytes())
        self._screen = ctx.vertex_array(self._dprog, [(self._quad, "2f", "in_xy")])
        if self.antialias:
            self._fprog = ctx.program(
                vertex_shader=_VERTEX, fragment_shader=_FORWARD_FRAGMENT % {"shading": shading}
            )
            self._bgprog = ctx.program(vertex_shader=_SCREEN_VERTEX, fragment_shader=_BG_FRAGMENT)
            self._bg_screen = ctx.vertex_array(self._bgprog, [(self._quad, "2f", "in_xy")])
            samples = min(self.antialias, int(ctx.info.get("GL_MAX_SAMPLES", 4)))
            self._aa_color = ctx.renderbuffer(size, 4, samples=samples)
            self._aa_zbuf = ctx.depth_renderbuffer(size, samples=samples)
            self._aa_fbo = ctx.framebuffer(
                color_attachments=[self._aa_color], depth_attachment=self._aa_zbuf
            )
        self._vbo = ctx.buffer(reserve=1 << 16, dynamic=True)
        self._ibo = ctx.buffer(reserve=1 << 16, dynamic=True)
        self._vaos: dict[int, tuple] = {}

    # ------------------------------------------------------------------ GL plumbing
    def _vao(self, prog):
        """The mesh vertex array of ``prog`` (rebuilt when the buffers were reallocated)."""
        key = id(prog)
        bufs = (self._vbo, self._ibo)
        cached = self._vaos.get(key)
        if cached is None or cached[1] != bufs:
            if cached is not None:
                cached[0].release()
            # Inputs the shader compiler optimised away become padding.
            layout = (
                ("in_pos", 3),
                ("in_normal", 3),
                ("in_albedo", 3),
                ("in_mat", 3),
                ("in_attr", 4),
            )
            fmt = " ".join(f"{k}f" if n in prog else f"{4 * k}x" for n, k in layout)
            names = tuple(n for n, _ in layout if n in prog)
            vao = self.ctx.vertex_array(
                prog, [(self._vbo, fmt, *names)], index_buffer=self._ibo, index_element_size=4
            )
            self._vaos[key] = (vao, bufs)
        return self._vaos[key][0]

    def _upload(self, scenes: Sequence[Scene]) -> list[tuple[int, int]]:
        """Write every scene's vertices and indices; returns (first index, count) per scene."""
        blocks, indices, ranges = [], [], []
        base = first = 0
        for sc in scenes:
            v, f, c, n, inst, ks, ss, attrs = _merge(sc, self.channels)
            blk = np.zeros((len(v), _FLOATS_PER_VERTEX), dtype=np.float32)
            blk[:, 0:3] = v
            blk[:, 3:6] = n
            blk[:, 6:9] = c
            blk[:, 9] = inst
            blk[:, 10] = ks
            blk[:, 11] = ss
            if attrs is not None and self.channels:
                blk[:, 12 : 12 + self.channels] = attrs
            blocks.append(blk)
            indices.append((f + base).astype(np.int32).ravel())
            ranges.append((first, 3 * len(f)))
            base += len(v)
            first += 3 * len(f)
        vdata = np.concatenate(blocks).tobytes() if base else b"\0" * 64
        idata = np.concatenate(indices).tobytes() if first else b"\0" * 12
        for buf_name, data in (("_vbo", vdata), ("_ibo", idata)):
            buf = getattr(self, buf_name)
            if len(data) > buf.size:
                buf.release()
                buf = self.ctx.buffer(reserve=1 << max(16, (len(data) - 1).bit_length()))
                setattr(self, buf_name, buf)
            buf.write(data)
        return ranges

    def _tile(self, i: int) -> tuple[int, int, int, int]:
        return (
            (i % self.cols) * self.width,
            (i // self.cols) * self.height,
            self.width,
            self.height,
        )

    def _proj(self, scene: Scene) -> np.ndarray:
        """The scene's clip matrix, column-major float32 (GL's layout)."""
        P = projection_from_K(scene.K, self.width, self.height, self.near, self.far)
        return P.T.astype("f4")

    def _set_uniforms(self, prog, scene: Scene) -> None:
        la = scene.lights.arrays()
        if "u_proj" in prog:
            prog["u_proj"].write(self._proj(scene).tobytes())

        def put(name: str, arr: np.ndarray) -> None:
            if name in prog:
                pad = np.zeros((MAX_LIGHTS,) + arr.shape[1:], dtype="f4")
                pad[: len(arr)] = arr
                prog[name].write(pad.tobytes())

        if "u_ambient" in prog:
            prog["u_ambient"].value = tuple(float(x) for x in la["ambient"])
        if "u_ndir" in prog:
            prog["u_ndir"].value = len(la["directions"])
        if "u_npt" in prog:
            prog["u_npt"].value = len(la["points"])
        put("u_dir", la["directions"])
        put("u_dir_col", la["colors"])
        put("u_pt", la["points"])
        put("u_pt_col", la["point_colors"])
        put("u_pt_range", la["point_ranges"])

    def _meshes(self, fbo, prog, scenes, ranges) -> None:
        """Draw every scene's meshes into its tile of ``fbo`` (depth test, optional culling)."""
        moderngl = _moderngl()
        ctx = self.ctx
        vao = self._vao(prog)
        ctx.enable(moderngl.DEPTH_TEST)
        if self.cull:
            # Window y grows with the image row (v down), so faces that are counter-clockwise
            # around their outward normal appear clockwise when they face the camera.
            ctx.enable(moderngl.CULL_FACE)
            ctx.front_face = "cw"
            ctx.cull_face = "back"
        for i, (sc, (first, count)) in enumerate(zip(scenes, ranges)):
            if count == 0:
                continue
            fbo.viewport = fbo.scissor = self._tile(i)
            if "u_ambient" in prog:
                self._set_uniforms(prog, sc)
            else:
                prog["u_proj"].write(self._proj(sc).tobytes())
            vao.render(moderngl.TRIANGLES, vertices=count, first=first)
        fbo.scissor = None
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)

    def _draw(self, scenes, ranges) -> None:
        moderngl = _moderngl()
        ctx = self.ctx
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE | moderngl.BLEND)
        # Pass 1: G-buffer (all attachments float, cleared to 0 = background).
        self._gfbo.use()
        self._gfbo.viewport = (0, 0, *self._size)
        self._gfbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        self._meshes(self._gfbo, self._gprog, scenes, ranges)
        # Pass 2: shade every surface pixel of a tile once with that scene's lights.
        self._cfbo.use()
        for unit, (name, tex) in enumerate(
            (("u_pos", self._pos), ("u_normal", self._normal), ("u_albedo", self._albedo))
        ):
            tex.use(unit)
            self._dprog[name].value = unit
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.depth_func = ">"
        self._cfbo.depth_mask = False
        for i, sc in enumerate(scenes):
            if ranges[i][1] == 0:
                continue
            self._cfbo.viewport = self._tile(i)
            self._set_uniforms(self._dprog, sc)
            self._screen.render(moderngl.TRIANGLES, vertices=3)
        self._cfbo.depth_mask = True
        ctx.depth_func = "<"
        ctx.disable(moderngl.DEPTH_TEST)
        if self.antialias:
            # Forward-shaded, multisampled colour over the background; resolved into _color.
            self._aa_fbo.use()
            self._aa_fbo.viewport = (0, 0, *self._size)
            self._aa_fbo.clear(depth=1.0)
            self._bg_tex.use(0)
            self._bgprog["u_bg"].value = 0
            self._bg_screen.render(moderngl.TRIANGLES, vertices=3)
            self._meshes(self._aa_fbo, self._fprog, scenes, ranges)
            ctx.copy_framebuffer(self._cfbo, self._aa_fbo)

    def _read(self, tex_or_fbo, components: int, dtype: str, n: int) -> np.ndarray:
        W, H = self._size
        data = tex_or_fbo.read(alignment=1)
        np_dtype = {"f1": np.uint8, "f4": np.float32}[dtype]
        arr = np.frombuffer(data, dtype=np_dtype).reshape(H, W, components)
        arr = arr.reshape(self.rows, self.height, self.cols, self.width, components)
        arr = arr.transpose(0, 2, 1, 3, 4).reshape(-1, self.height, self.width, components)
        return arr[:n]

    # ------------------------------------------------------------------ public
    def render(self, scenes: Sequence[Scene]) -> SceneRender:
        """Render scenes (any number; batches of ``max_batch`` per framebuffer).

        Returns:
            :class:`~handpose.render.scene.SceneRender` with B = len(scenes).
        """
        scenes = list(scenes)
        if not scenes:
            raise HandposeError("render() needs at least one scene.")
        outs = [
            self._render_chunk(scenes[i : i + self.max_batch])
            for i in range(0, len(scenes), self.max_batch)
        ]
        if len(outs) == 1:
            return outs[0]
        attr = None if outs[0].attributes is None else np.concatenate([o.attributes for o in outs])
        return SceneRender(
            np.concatenate([o.rgb for o in outs]),
            np.concatenate([o.depth for o in outs]),
            np.concatenate([o.mask for o in outs]),
            attr,
        )

    def _render_chunk(self, scenes: list[Scene]) -> SceneRender:
        n = len(scenes)
        H, W = self.height, self.width
        for sc in scenes:  # fail before drawing anything
            sc.lights.arrays()
            projection_from_K(sc.K, W, H, self.near, self.far)
        atlas = np.zeros((self.rows, H, self.cols, W, 4), dtype=np.uint8)
        for i, sc in enumerate(scenes):
            atlas[i // self.cols, :, i % self.cols, :, :3] = sc.background_image(H, W)
        atlas = atlas.reshape(self.rows * H, self.cols * W, 4)
        self._color.write(atlas.tobytes())  # pass 2 shades over it
        if self.antialias:
            self._bg_tex.write(np.ascontiguousarray(atlas[..., :3]).tobytes(), alignment=1)
        ranges = self._upload(scenes)
        self._draw(scenes, ranges)
        rgb = self._read(self._color, 4, "f1", n)[..., :3].copy()
        pos = self._read(self._pos, 4, "f4", n)
        mask = np.rint(pos[..., 3]).astype(np.uint8)  # small integers, exact in float32
        depth = pos[..., 2].copy()
        depth[depth <= 0.0] = np.inf  # background keeps the clear value; surfaces have z ≥ near
        attr = None
        if self.channels:
            attr = self._read(self._attr, 4, "f4", n)[..., : self.channels].copy()
        return SceneRender(rgb, depth, mask, attr)

    def release(self) -> None:
        """Free the GL objects (the context stays for the process)."""
        for obj in list(vars(self).values()):
            if hasattr(obj, "release") and obj is not self.ctx:
                obj.release()
