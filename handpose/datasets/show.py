"""Draw one image sample with its labels: ``handpose data show``.

The picture has two panels, upscaled (nearest) so that the long side is at least 256 px: the
image as stored, and the image with overlays — the mask tinted (right red, left blue, object
green), the mesh (wireframe when the faces are known: the open model's 1,379-vertex mesh, or
MANO's 778 when the MANO files are installed; projected vertices otherwise), the skeleton in
OpenPose-21 order (thumb red, index orange, middle green, ring blue, pinky violet; invalid joints
left out) and the bounding box. A caption lists the source, index, hands and sequence / frame /
view. Works for synthetic shards and real loaders alike: it only reads schema keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from handpose.handmodel.conventions import OPENPOSE_PARENTS
from handpose.utils.io import atomic_path
from handpose.utils.validate import output_file

__all__ = [
    "draw_sample",
    "save_sample_picture",
    "faces_for",
    "mesh_edges",
    "joint_colour",
    "FINGER_COLOURS",
    "MASK_COLOURS",
    "HAND_COLOURS",
]

FINGER_COLOURS = {
    "thumb": (230, 40, 40),
    "index": (245, 150, 20),
    "middle": (40, 190, 60),
    "ring": (40, 110, 235),
    "pinky": (170, 60, 220),
}
MASK_COLOURS = {1: (255, 60, 60), 2: (60, 120, 255), 3: (60, 210, 90)}
_WRIST = (255, 255, 255)
_BBOX = (255, 230, 0)
HAND_COLOURS = ((255, 200, 200), (200, 215, 255))  # right, left
_MIN_SIDE = 256
_CAPTION_H = 16


def joint_colour(j: int) -> tuple[int, int, int]:
    """Colour of OpenPose joint j (and of the bone ending at it): white wrist, one per finger."""
    if j == 0:
        return _WRIST
    return list(FINGER_COLOURS.values())[(j - 1) // 4]


def faces_for(num_vertices: int) -> np.ndarray | None:
    """Faces of a known topology (open model, or MANO when installed), else None."""
    from handpose.errors import HandposeError
    from handpose.handmodel import load_hand_model_data

    for model in ("open", "mano"):
        try:
            data = load_hand_model_data(model, "right")
        except HandposeError:
            continue
        if data.num_vertices == num_vertices:
            return np.asarray(data.faces, np.int64)
    return None


def mesh_edges(faces: np.ndarray) -> np.ndarray:
    """(F, 3) triangles → (E, 2) unique undirected edges."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e.sort(axis=1)
    return np.unique(e, axis=0)


def draw_sample(
    sample: Mapping[str, Any],
    *,
    caption: str = "",
    faces: np.ndarray | None | str = "auto",
) -> np.ndarray:
    """Render the two-panel picture of one sample.

    Args:
        sample: a schema sample (numpy arrays).
        caption: text for the caption line (source and index).
        faces: (F, 3) mesh faces for the wireframe, None for projected vertices, "auto" to look
            up a known topology by vertex count.
    Returns:
        (H', W', 3) uint8 picture.
    """
    from PIL import Image, ImageDraw

    img = np.asarray(sample["image"])
    h, w = img.shape[:2]
    s = max(1, int(np.ceil(_MIN_SIDE / max(h, w))))
    big = np.repeat(np.repeat(img, s, axis=0), s, axis=1)
    px = lambda uv: (np.asarray(uv, np.float64) + 0.5) * s - 0.5  # noqa: E731  pixel centres

    over = big.astype(np.float32)
    if "mask" in sample:
        m = np.repeat(np.repeat(np.asarray(sample["mask"]), s, axis=0), s, axis=1)
        for label, col in MASK_COLOURS.items():
            sel = m == label
            over[sel] = 0.55 * over[sel] + 0.45 * np.asarray(col, np.float32)
    panel = Image.fromarray(over.clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(panel)
    hv = np.asarray(sample["hand_valid"])
    K = np.asarray(sample["K"], np.float64)
    b = px(np.asarray(sample["bbox"], np.float64).reshape(2, 2)).reshape(4)
    if b[2] > b[0] and b[3] > b[1]:
        d.rectangle(list(b), outline=_BBOX, width=1)
    if "vertices" in sample:
        verts = np.asarray(sample["vertices"], np.float64)
        if isinstance(faces, str):
            faces = faces_for(verts.shape[1])
        edges = mesh_edges(np.asarray(faces)) if faces is not None else None
        for slot in range(2):
            v = verts[slot]
            if not hv[slot] or not v.any() or np.any(v[:, 2] <= 0):
                continue
            uvw = v @ K.T
            uv = px(uvw[:, :2] / uvw[:, 2:])
            if edges is not None:
                for a, b in edges:
                    d.line([tuple(uv[a]), tuple(uv[b])], fill=HAND_COLOURS[slot], width=1)
            else:
                for u, vv in uv:
                    d.rectangle([u - 1, vv - 1, u + 1, vv + 1], fill=HAND_COLOURS[slot])
    j2 = np.asarray(sample["joints2d"], np.float64)
    jv = np.asarray(sample["joint_valid"])
    r = min(4, max(2, s + 1))
    for slot in range(2):
        if not hv[slot]:
            continue
        uv = px(j2[slot])
        for j, p in enumerate(OPENPOSE_PARENTS):
            if p >= 0 and jv[slot, j] and jv[slot, p]:
                d.line([tuple(uv[p]), tuple(uv[j])], fill=joint_colour(j), width=min(3, max(1, s)))
        for j in range(21):
            if jv[slot, j]:
                u, v = uv[j]
                d.ellipse([u - r, v - r, u + r, v + r], fill=joint_colour(j))

    pic = Image.new("RGB", (2 * big.shape[1] + 4, big.shape[0] + _CAPTION_H), (0, 0, 0))
    pic.paste(Image.fromarray(big), (0, _CAPTION_H))
    pic.paste(panel, (big.shape[1] + 4, _CAPTION_H))
    hands = "+".join(n for n, v in zip(("right", "left"), hv) if v) or "no hand"
    text = [caption, hands]
    if bool(np.asarray(sample.get("interacting", False))):
        text.append("IH")
    seq = sample.get("sequence", "")
    if seq:
        text.append(f"{seq} f{int(np.asarray(sample['frame']))}")
    if int(np.asarray(sample.get("view", 0))):
        text.append(f"view {int(np.asarray(sample['view']))}")
    text.append(f"{w}x{h}")
    ImageDraw.Draw(pic).text((3, 2), " | ".join(t for t in text if t), fill=(255, 255, 255))
    return np.asarray(pic)


def save_sample_picture(
    sample: Mapping[str, Any], out: str | os.PathLike, *, caption: str = "", faces="auto"
) -> Path:
    """:func:`draw_sample` written atomically as PNG."""
    from PIL import Image

    out = output_file(out, "picture", suffixes=(".png",))
    pic = draw_sample(sample, caption=caption, faces=faces)
    with atomic_path(out, suffix=".png") as tmp:
        Image.fromarray(pic).save(tmp, format="PNG")
    return out
