"""A labelled grid picture of the hand model in several poses and shapes.

``render_hand_gallery("docs/images/open_hand_gallery.png")`` draws the open hand flat, relaxed,
making a fist, pointing, pinching and spreading, and three body shapes (β samples) side by side
with one camera so their sizes compare. It is what ``handpose hand render`` writes.
Needs torch (the hand model) and Pillow (text and PNG writing).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handpose.errors import HandposeError
from handpose.render.camera import frame_points, intrinsics_from_fov, world_to_camera
from handpose.render.rasterizer import render_mesh
from handpose.utils.io import atomic_path

__all__ = [
    "GalleryPanel",
    "DEFAULT_PANELS",
    "skin_colors",
    "gallery_image",
    "render_hand_gallery",
]

SKIN = (0.86, 0.67, 0.57)
NAIL = (0.96, 0.84, 0.80)
BACKGROUND = (0.97, 0.97, 0.96)
_FOV = 30.0


@dataclass(frozen=True)
class GalleryPanel:
    """One picture of the grid.

    Attributes:
        label: caption; ``{length}`` is replaced by the measured wrist→middle-tip length (cm).
        pose: name in :data:`handpose.handmodel.poses.NAMED_POSES`.
        betas: shape coefficients (up to 10; missing ones are 0).
        view: (3,) viewing direction in the right hand's frame (fingers −x, thumb +z, back +y).
        up: (3,) world direction shown upwards.
        group: panels with the same non-empty group share one camera (sizes compare).
    """

    label: str
    pose: str
    betas: tuple[float, ...] = ()
    view: tuple[float, float, float] = (0.0, -1.0, 0.0)
    up: tuple[float, float, float] = (-1.0, 0.0, 0.0)
    group: str = ""


_FINGERS_UP = (-1.0, 0.0, 0.0)
DEFAULT_PANELS: tuple[GalleryPanel, ...] = (
    GalleryPanel("flat (back of the hand)", "flat", view=(0.0, -1.0, 0.0)),
    GalleryPanel("relaxed", "relaxed", view=(0.3, -1.0, -0.45)),
    GalleryPanel("fist", "fist", view=(1.0, 0.45, -0.35), up=(0.0, 1.0, 0.0)),
    GalleryPanel("pointing", "point", view=(0.15, -0.25, -1.0)),
    GalleryPanel("pinch (thumb to index)", "pinch", view=(0.1, 0.15, -1.0)),
    GalleryPanel("spread (palm)", "spread", view=(0.0, 1.0, 0.0)),
    GalleryPanel("shape beta0 = +2: {length}", "flat", (2.0,), (0.0, 1.0, 0.0), group="shapes"),
    GalleryPanel("shape beta0 = -2: {length}", "flat", (-2.0,), (0.0, 1.0, 0.0), group="shapes"),
    GalleryPanel(
        "shape beta1 = -3 (narrow): {length}", "flat", (0.0, -3.0), (0.0, 1.0, 0.0), group="shapes"
    ),
)


def skin_colors(
    vertices: np.ndarray, faces: np.ndarray, nail_vertex_ids=None, nail_radius: float = 0.0065
) -> np.ndarray:
    """Per-vertex colours (V, 3): skin, with lighter fingernails around ``nail_vertex_ids``.

    A vertex is nail when it lies within ``nail_radius`` (metres, rest pose) of a nail centre
    vertex and faces the same way (normals within 60°); the edge of the nail is blended.
    """
    from handpose.render.rasterizer import vertex_normals

    col = np.tile(np.asarray(SKIN, dtype=np.float64), (len(vertices), 1))
    if nail_vertex_ids is None:
        return col
    n = vertex_normals(vertices, faces)
    for i in np.asarray(nail_vertex_ids, dtype=np.int64).ravel():
        d = np.linalg.norm(vertices - vertices[i], axis=1)
        w = np.clip((nail_radius - d) / (0.35 * nail_radius), 0.0, 1.0)
        w *= np.clip((n @ n[i] - 0.5) / 0.2, 0.0, 1.0)
        col += w[:, None] * (np.asarray(NAIL) - col)
    return col


def _load_font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def gallery_image(
    model="open",
    side: str = "right",
    size: int = 256,
    panels: tuple[GalleryPanel, ...] = DEFAULT_PANELS,
    columns: int = 3,
    supersample: int = 2,
    title: str | None = None,
) -> np.ndarray:
    """Render the gallery and return it as an (H, W, 3) uint8 array.

    Args:
        model: anything :class:`handpose.handmodel.HandModel` accepts (``"open"``, ``"mano"``, a
            path, a HandModelData).
        side: ``"right"`` or ``"left"`` (views are mirrored for the left hand).
        size: side of each square panel in pixels (≥ 32).
        panels: what to draw.
        columns: panels per row (at most the number of panels).
        supersample: anti-aliasing factor of the rasterizer.
        title: text above the grid (default: names the model and side).
    """
    import torch
    from PIL import Image, ImageDraw

    from handpose.handmodel import HandModel
    from handpose.handmodel.poses import NAMED_POSES

    if size < 32:
        raise HandposeError(f"gallery panel size must be at least 32 pixels, got {size}")
    if side not in ("right", "left"):
        raise HandposeError(f"side must be 'right' or 'left', got {side!r}")
    for p in panels:
        if p.pose not in NAMED_POSES:
            raise HandposeError(f"unknown pose {p.pose!r}; known: {', '.join(NAMED_POSES)}")
    if not panels or columns < 1:
        raise HandposeError("the gallery needs at least one panel and one column")
    columns = min(int(columns), len(panels))
    hand = HandModel(model, side=side, flat_hand_mean=True, dtype=torch.float64)
    nb = int(hand.num_betas)
    poses = torch.as_tensor(np.stack([NAMED_POSES[p.pose] for p in panels]))
    if side == "left":  # mirror the right-hand axis-angles (negate y and z, mano.md §2)
        poses = poses * torch.tensor([1.0, -1.0, -1.0], dtype=poses.dtype).repeat(15)
    betas = torch.zeros(len(panels), nb, dtype=torch.float64)
    for i, p in enumerate(panels):
        b = torch.as_tensor(p.betas[:nb], dtype=torch.float64)
        betas[i, : len(b)] = b
    with torch.no_grad():
        out = hand(hand_pose=poses, betas=betas)
    verts = out.vertices.numpy()
    joints = out.joints.numpy()
    faces = hand.faces.cpu().numpy()
    tip = int(hand.tip_ids[2])
    with torch.no_grad():
        rest = hand(hand_pose=torch.zeros(1, 45, dtype=torch.float64)).vertices[0].numpy()
    colors = skin_colors(rest, faces, hand.model_data.metadata.get("dorsal_tip_ids"))
    mirror = np.array([-1.0, 1.0, 1.0]) if side == "left" else np.ones(3)

    groups: dict[str, np.ndarray] = {}
    for p, v in zip(panels, verts):
        if p.group:
            groups[p.group] = v if p.group not in groups else np.concatenate([groups[p.group], v])

    K = intrinsics_from_fov(_FOV, size, size)
    label_h = max(14, size // 11)
    font = _load_font(max(10, size // 18))
    title_font = _load_font(max(12, size // 14))
    rows = -(-len(panels) // columns)
    title_h = int(1.8 * max(12, size // 14))
    sheet = Image.new("RGB", (columns * size, title_h + rows * (size + label_h)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    name = model if isinstance(model, (str, os.PathLike)) else getattr(model, "name", "model")
    if title is None:
        title = f"handpose: the {Path(str(name)).name} hand model ({side} hand)"
    draw.text((8, title_h // 4), title, fill=(30, 30, 30), font=title_font)
    bg = np.asarray(BACKGROUND)
    for i, (p, v) in enumerate(zip(panels, verts)):
        view = np.asarray(p.view) * mirror
        up = np.asarray(p.up) * mirror
        R, t = frame_points(groups.get(p.group, v), view, up, _FOV, margin=1.04)
        img = render_mesh(
            world_to_camera(v, R, t),
            faces,
            K,
            (size, size),
            color=colors,
            background=bg,
            supersample=supersample,
            cull_backfaces=True,
            specular=0.12,
        )
        r, c = divmod(i, columns)
        x0, y0 = c * size, title_h + r * (size + label_h)
        sheet.paste(Image.fromarray(img), (x0, y0))
        length = np.linalg.norm(v[tip] - joints[i, 0]) * 100.0
        text = p.label.replace("{length}", f"{length:.1f} cm")
        draw.text((x0 + 6, y0 + size + label_h // 8), text, fill=(40, 40, 40), font=font)
    return np.asarray(sheet)


def render_hand_gallery(
    out_path: str | os.PathLike,
    model="open",
    side: str = "right",
    size: int = 256,
    **kwargs,
) -> Path:
    """Render :func:`gallery_image` and write it as a PNG (atomically).

    Args:
        out_path: destination ``.png``.
        model, side, size: see :func:`gallery_image` (``size`` is one panel's side in pixels).
        **kwargs: ``panels``, ``columns``, ``supersample``, ``title``.
    Returns:
        The written path.
    """
    from PIL import Image

    out_path = Path(out_path)
    if out_path.suffix.lower() != ".png":
        raise HandposeError(f"the gallery is written as PNG; got {out_path.name!r}")
    image = gallery_image(model=model, side=side, size=size, **kwargs)
    with atomic_path(out_path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG", optimize=True)
    return out_path
