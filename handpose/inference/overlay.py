"""Overlay pictures of image / video predictions: mesh and skeleton drawn over the input.

Per hand: the projected mesh as a translucent wireframe in the hand's colour (right red, left
blue, unknown side grey; projected vertices as dots when the topology is unknown), the skeleton
in OpenPose-21 order with one colour per finger (the colours of ``handpose data show``), the
joints as dots ringed in the hand's colour, the box in the hand's colour and a label ("R", "L",
"?") at the wrist. Line widths grow with the image (1 px per 400 px of the longer side).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from handpose.datasets.show import faces_for, joint_colour, mesh_edges
from handpose.handmodel.conventions import OPENPOSE_PARENTS

__all__ = ["SIDE_COLOURS", "OverlayHand", "draw_hands", "hands_for_overlay"]

SIDE_COLOURS = {"right": (235, 70, 70), "left": (60, 130, 255), "unknown": (200, 200, 200)}
_LABEL = {"right": "R", "left": "L", "unknown": "?"}


@dataclass
class OverlayHand:
    """What is drawn for one hand (original image pixels)."""

    side: str
    joints2d: np.ndarray  # (21, 2)
    vertices2d: np.ndarray | None = None  # (V, 2)
    box: np.ndarray | None = None  # (4,)


def hands_for_overlay(hands, K: np.ndarray) -> list[OverlayHand]:
    """:class:`~handpose.inference.image.HandPrediction` s → :class:`OverlayHand` s, the
    vertices projected with the image's K (those behind the camera left out)."""
    out = []
    K = np.asarray(K, np.float64)
    for h in hands:
        v2 = None
        if h.vertices is not None and np.isfinite(h.vertices).all():
            v = np.asarray(h.vertices, np.float64)
            front = v[:, 2] > 1e-6
            if front.all():
                uvw = v @ K.T
                v2 = uvw[:, :2] / uvw[:, 2:]
        out.append(OverlayHand(h.side, np.asarray(h.joints2d, np.float64), v2, h.box))
    return out


def _edges_cache():
    cache: dict[int, np.ndarray | None] = {}

    def edges(num_vertices: int) -> np.ndarray | None:
        if num_vertices not in cache:
            faces = faces_for(num_vertices)
            cache[num_vertices] = None if faces is None else mesh_edges(faces)
        return cache[num_vertices]

    return edges


_EDGES = _edges_cache()


def draw_hands(
    image: np.ndarray,
    hands: Sequence[OverlayHand],
    *,
    caption: str = "",
    faces: np.ndarray | None = None,
) -> np.ndarray:
    """Draw the hands over a copy of ``image`` (H, W, 3) uint8; returns (H, W, 3) uint8.

    Args:
        faces: the mesh triangles (default: looked up by vertex count: the open model, or MANO
            when installed; projected vertices as dots otherwise).
        caption: text in the top-left corner.
    """
    from PIL import Image, ImageDraw

    base = Image.fromarray(np.ascontiguousarray(image, np.uint8)).convert("RGBA")
    H, W = image.shape[:2]
    lw = max(1, round(max(H, W) / 400))
    r = lw + 1
    mesh = Image.new("RGBA", base.size, (0, 0, 0, 0))
    dm = ImageDraw.Draw(mesh)
    for h in hands:
        if h.vertices2d is None:
            continue
        col = SIDE_COLOURS.get(h.side, SIDE_COLOURS["unknown"]) + (110,)
        edges = mesh_edges(faces) if faces is not None else _EDGES(len(h.vertices2d))
        uv = h.vertices2d
        if edges is not None:
            for a, b in edges:
                dm.line([tuple(uv[a]), tuple(uv[b])], fill=col, width=1)
        else:
            for u, v in uv:
                dm.ellipse([u - lw, v - lw, u + lw, v + lw], fill=col)
    out = Image.alpha_composite(base, mesh)
    d = ImageDraw.Draw(out)
    for h in hands:
        col = SIDE_COLOURS.get(h.side, SIDE_COLOURS["unknown"])
        if h.box is not None and np.isfinite(h.box).all():
            d.rectangle([float(v) for v in h.box], outline=col, width=lw)
        uv = h.joints2d
        if not np.isfinite(uv).all():
            continue
        for j, p in enumerate(OPENPOSE_PARENTS):
            if p >= 0:
                d.line([tuple(uv[p]), tuple(uv[j])], fill=joint_colour(j), width=lw + 1)
        for j in range(21):
            u, v = uv[j]
            d.ellipse([u - r, v - r, u + r, v + r], fill=joint_colour(j), outline=col)
        d.text((uv[0, 0] + r + 2, uv[0, 1] + r), _LABEL.get(h.side, "?"), fill=col)
    if caption:
        d.text((4, 3), caption, fill=(255, 255, 255))
    return np.asarray(out.convert("RGB"))
