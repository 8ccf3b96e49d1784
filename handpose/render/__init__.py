"""In-house rendering: pinhole cameras and a numpy z-buffer rasterizer (no OpenGL).

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
from handpose.render.rasterizer import (
    Fragments,
    RenderResult,
    rasterize,
    render,
    render_mesh,
    shade,
    vertex_normals,
)

__all__ = [
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
