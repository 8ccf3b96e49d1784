"""A batched offscreen OpenGL renderer (moderngl over Mesa EGL): RGB, depth, masks, attributes.

Why moderngl/EGL: it installs from PyPI (``pip install 'handpose[render]'``) and renders without a
GPU or a display through Mesa's llvmpipe (``libegl-mesa0``, ``libgl1-mesa-dri``), and it was the
fastest deterministic option measured on these machines (../shared/reference/rendering.md;
``benchmarks/bench_render.py`` measures it against the numpy rasterizer).

One call renders a batch of :class:`~handpose.render.scene.Scene` s into tiles of one large
framebuffer (one draw per scene, one read-back per output for the whole batch). Outputs and
shading are those of :func:`handpose.render.scene.render_scene_numpy`, the numpy reference:

- ``rgb``: the background image, then the meshes shaded in linear RGB (ambient + directional and
  point lights, Lambert + Blinn–Phong) and encoded to sRGB; with ``antialias = k`` the colour
  comes from a separate k-sample multisampled pass (labels stay single-sample: each label pixel
  is what covers the pixel centre);
- ``mask`` (uint8 instance ids), ``depth`` (metres, ``inf`` on background) and ``attributes``
  (interpolated per-vertex values) from a single-sample pass.

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
flat out uint v_inst;
out vec4 v_attr;
void main() {
    v_pos = in_pos;
    v_normal = in_normal;
    v_albedo = in_albedo;
    v_spec = in_mat.yz;
    v_inst = uint(in_mat.x + 0.5);
    v_attr = in_attr;
    gl_Position = u_proj * vec4(in_pos, 1.0);
}
"""

_FRAGMENT = """
#version 330
#define MAXL %(maxl)d
uniform vec3 u_ambient;
uniform int u_ndir;
uniform vec3 u_dir[MAXL];
uniform vec3 u_dir_col[MAXL];
uniform int u_npt;
uniform vec3 u_pt[MAXL];
uniform vec3 u_pt_col[MAXL];
uniform float u_pt_range[MAXL];
in vec3 v_pos;
in vec3 v_normal;
in vec3 v_albedo;
in vec2 v_spec;
flat in uint v_inst;
in vec4 v_attr;
layout(location = 0) out vec3 f_color;
#if LABELS
layout(location = 1) out uint f_mask;
layout(location = 2) out float f_depth;
#if ATTR
layout(location = 3) out vec4 f_attr;
#endif
#endif

vec3 light(vec3 n, vec3 to_cam, vec3 l, vec3 col) {
    float ndl = dot(n, l);
    vec3 h = normalize(l + to_cam);
    float spec = ndl > 0.0 ? pow(max(dot(n, h), 0.0), v_spec.y) : 0.0;
    return col * (v_albedo * max(ndl, 0.0) + v_spec.x * spec);
}

vec3 to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(12.92 * c, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(vec3(0.0031308), c));
}

void main() {
    vec3 n = normalize(v_normal);
    vec3 to_cam = normalize(-v_pos);
    if (dot(n, to_cam) < 0.0) n = -n;
    vec3 rgb = u_ambient * v_albedo;
    for (int i = 0; i < u_ndir; ++i) rgb += light(n, to_cam, u_dir[i], u_dir_col[i]);
    for (int i = 0; i < u_npt; ++i) {
        vec3 to_l = u_pt[i] - v_pos;
        float d2 = dot(to_l, to_l);
        float att = 1.0 / (1.0 + d2 / (u_pt_range[i] * u_pt_range[i]));
        rgb += light(n, to_cam, to_l * inversesqrt(d2), u_pt_col[i] * att);
    }
    f_color = to_srgb(rgb);
#if LABELS
    f_mask = v_inst;
    f_depth = v_pos.z;
#if ATTR
    f_attr = v_attr;
#endif
#endif
}
"""

_BG_VERTEX = """
#version 330
in vec2 in_xy;
void main() { gl_Position = vec4(in_xy, 0.0, 1.0); }
"""

_BG_FRAGMENT = """
#version 330
uniform sampler2D u_bg;
layout(location = 0) out vec3 f_color;
#if LABELS
layout(location = 1) out uint f_mask;
layout(location = 2) out float f_depth;
#if ATTR
layout(location = 3) out vec4 f_attr;
#endif
#endif
void main() {
    f_color = texelFetch(u_bg, ivec2(gl_FragCoord.xy), 0).rgb;
#if LABELS
    f_mask = 0u;
    f_depth = 0.0;
#if ATTR
    f_attr = vec4(0.0);
#endif
#endif
}
"""

_FLOATS_PER_VERTEX = 16  # pos 3, normal 3, albedo 3, (instance, specular, shininess) 3, attr 4


class GLRenderer:
    """Batched offscreen renderer of :class:`~handpose.render.scene.Scene` s.

    Args:
        height, width: output image size in pixels.
        max_batch: scenes per framebuffer (tiles); larger batches are split.
        attribute_channels: C of the attribute map, 0..4 (0: none).
        antialias: 0 (off) or the number of MSAA samples of the colour pass (e.g. 4).
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

        def program(vs: str, fs: str, labels: bool):
            defs = f"#define LABELS {int(labels)}\n#define ATTR {int(self.channels > 0)}\n"
            fs = fs.replace("#version 330\n", "#version 330\n" + defs, 1)
            return ctx.program(vertex_shader=vs, fragment_shader=fs % {"maxl": MAX_LIGHTS})

        frag = _FRAGMENT
        self._prog = program(_VERTEX, frag, True)
        self._bg_prog = program(_BG_VERTEX, _BG_FRAGMENT.replace("%", "%%"), True)
        self._color = ctx.texture(size, 3, dtype="f1")
        self._mask = ctx.texture(size, 1, dtype="u1")
        self._depth = ctx.texture(size, 1, dtype="f4")
        attachments = [self._color, self._mask, self._depth]
        if self.channels:
            self._attr = ctx.texture(size, 4, dtype="f4")
            attachments.append(self._attr)
        self._zbuf = ctx.depth_renderbuffer(size)
        self._fbo = ctx.framebuffer(color_attachments=attachments, depth_attachment=self._zbuf)
        if self.antialias:
            self._aa_prog = program(_VERTEX, frag, False)
            self._aa_bg_prog = program(_BG_VERTEX, _BG_FRAGMENT.replace("%", "%%"), False)
            samples = min(self.antialias, int(ctx.info.get("GL_MAX_SAMPLES", 4)))
            self._aa_color = ctx.renderbuffer(size, 3, samples=samples)
            self._aa_zbuf = ctx.depth_renderbuffer(size, samples=samples)
            self._aa_fbo = ctx.framebuffer(
                color_attachments=[self._aa_color], depth_attachment=self._aa_zbuf
            )
            self._resolved = ctx.framebuffer(color_attachments=[ctx.texture(size, 3, dtype="f1")])
        self._bg_tex = ctx.texture(size, 3, dtype="f1")
        self._bg_tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        quad = np.array([-1, -1, 3, -1, -1, 3], dtype="f4")  # one triangle covering the screen
        self._quad = ctx.buffer(quad.tobytes())
        self._vbo = ctx.buffer(reserve=1 << 16, dynamic=True)
        self._ibo = ctx.buffer(reserve=1 << 16, dynamic=True)
        self._vaos: dict[int, tuple] = {}

    # ------------------------------------------------------------------ GL plumbing
    def _vao(self, prog, bg_prog):
        key = id(prog)
        # Inputs the shader compiler optimised away (in_attr without attributes) become padding.
        layout = (("in_pos", 3), ("in_normal", 3), ("in_albedo", 3), ("in_mat", 3), ("in_attr", 4))
        fmt = " ".join(f"{k}f" if n in prog else f"{4 * k}x" for n, k in layout)
        names = tuple(n for n, _ in layout if n in prog)
        bufs = (self._vbo, self._ibo)
        cached = self._vaos.get(key)
        if cached is None or cached[2] != bufs:
            if cached is not None:
                cached[0].release()
            vao = self.ctx.vertex_array(
                prog, [(self._vbo, fmt, *names)], index_buffer=self._ibo, index_element_size=4
            )
            bg = (
                cached[1]
                if cached
                else self.ctx.vertex_array(bg_prog, [(self._quad, "2f", "in_xy")])
            )
            self._vaos[key] = (vao, bg, bufs)
        return self._vaos[key][:2]

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

    def _set_uniforms(self, prog, scene: Scene) -> None:
        la = scene.lights.arrays()
        P = projection_from_K(scene.K, self.width, self.height, self.near, self.far)
        prog["u_proj"].write(P.T.astype("f4").tobytes())

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

    def _draw(self, fbo, prog, bg_prog, scenes, ranges) -> None:
        ctx = self.ctx
        moderngl = _moderngl()
        vao, bg_vao = self._vao(prog, bg_prog)
        fbo.use()
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE | moderngl.BLEND)
        ctx.scissor = None
        fbo.viewport = (0, 0, *self._size)
        fbo.clear(depth=1.0)
        self._bg_tex.use(0)
        if "u_bg" in bg_prog:
            bg_prog["u_bg"].value = 0
        bg_vao.render(moderngl.TRIANGLES, vertices=3)
        ctx.enable(moderngl.DEPTH_TEST)
        for i, (sc, (first, count)) in enumerate(zip(scenes, ranges)):
            if count == 0:
                continue
            tile = self._tile(i)
            fbo.viewport = tile
            fbo.scissor = tile
            self._set_uniforms(prog, sc)
            vao.render(moderngl.TRIANGLES, vertices=count, first=first)
        fbo.scissor = None
        ctx.disable(moderngl.DEPTH_TEST)

    def _read(self, tex_or_fbo, components: int, dtype: str, n: int) -> np.ndarray:
        W, H = self._size
        data = tex_or_fbo.read(alignment=1)
        np_dtype = {"f1": np.uint8, "u1": np.uint8, "f4": np.float32}[dtype]
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
        atlas = np.zeros((self.rows, H, self.cols, W, 3), dtype=np.uint8)
        for i, sc in enumerate(scenes):
            atlas[i // self.cols, :, i % self.cols] = sc.background_image(H, W)
        self._bg_tex.write(atlas.reshape(self.rows * H, self.cols * W, 3).tobytes(), alignment=1)
        ranges = self._upload(scenes)
        self._draw(self._fbo, self._prog, self._bg_prog, scenes, ranges)
        if self.antialias:
            self._draw(self._aa_fbo, self._aa_prog, self._aa_bg_prog, scenes, ranges)
            self.ctx.copy_framebuffer(self._resolved, self._aa_fbo)
            rgb = self._read(self._resolved.color_attachments[0], 3, "f1", n)
        else:
            rgb = self._read(self._color, 3, "f1", n)
        mask = self._read(self._mask, 1, "u1", n)[..., 0]
        depth = self._read(self._depth, 1, "f4", n)[..., 0].copy()
        depth[depth <= 0.0] = np.inf  # the background pass writes 0; surfaces have z ≥ near
        attr = None
        if self.channels:
            attr = self._read(self._attr, 4, "f4", n)[..., : self.channels].copy()
        return SceneRender(rgb.copy(), depth, mask.copy(), attr)

    def release(self) -> None:
        """Free the GL objects (the context stays for the process)."""
        for obj in list(vars(self).values()):
            if hasattr(obj, "release") and obj is not self.ctx:
                obj.release()
