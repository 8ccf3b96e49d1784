"""Rendering: pinhole cameras, scenes, a numpy z-buffer rasterizer and an OpenGL renderer.

- :mod:`.camera`: look-at extrinsics, intrinsics, projection (OpenCV conventions).
- :mod:`.rasterizer`: the numpy z-buffer rasterizer (no OpenGL), the reference.
- :mod:`.scene`: :class:`Scene` / :class:`Mesh` / :class:`Lights`, the shading formula and
  :func:`render_scene_numpy` (the reference of the GL renderer).
- :mod:`.gl` (imported on demand; needs ``pip install 'handpose[render]'`` and Mesa EGL):
  :class:`~handpose.render.gl.GLRenderer`, batched offscreen rendering of scenes.
- :mod:`.primitives`: box, sphere, cylinder and plane meshes.

``handpose.render.gallery`` (imported on demand, it needs torch and Pillow) draws the hand model
gallery PNG.
"""

from handpose.render.camera import (
    frame_points,
    intrinsics_from_fov,
    look_at,
    project,
    scale_intrinsics,
    world_to_camera,
)
from handpose.render.primitives import Primitive, box, cylinder, plane, uv_sphere
from handpose.render.rasterizer import (
    Fragments,
    RenderResult,
    rasterize,
    render,
    render_mesh,
    shade,
    vertex_normals,
)
from handpose.render.scene import (
    Lights,
    Mesh,
    Scene,
    SceneRender,
    render_scene_numpy,
    shade_points,
)

__all__ = [
    "Lights",
    "Mesh",
    "Primitive",
    "Scene",
    "SceneRender",
    "box",
    "cylinder",
    "plane",
    "render_scene_numpy",
    "shade_points",
    "uv_sphere",
    "Fragments",
    "RenderResult",
    "frame_points",
    "intrinsics_from_fov",
    "look_at",
    "project",
    "rasterize",
    "render",
    "render_mesh",
    "scale_intrinsics",
    "shade",
    "vertex_normals",
    "world_to_camera",
]
