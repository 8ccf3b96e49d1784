"""Predicted and ground-truth hands side by side: per-frame images, MP4 videos and PNG strips.

Each frame shows up to three panels rendered with the in-house rasterizer from **one fixed
camera** (so that sizes and positions compare across panels and frames): the prediction, the
ground truth, and both overlaid (prediction in its colour, ground truth in green) so the
difference is visible at a glance. A caption gives the frame time, the frame's mean joint error
(mm) and any sensors that dropped out.

Vertices are in the world frame the hand model outputs (wrist at the origin, metres, y up for
synthetic data). Videos are written with imageio + imageio-ffmpeg (H.264, yuv420p) to a
temporary file renamed into place, so a failed render leaves no partial file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handpose.errors import HandposeError
from handpose.render.camera import frame_points, intrinsics_from_fov, world_to_camera
from handpose.render.rasterizer import render_mesh

__all__ = [
    "ComparisonCamera",
    "comparison_camera",
    "render_comparison_frame",
    "render_comparison_frames",
    "write_comparison_video",
    "write_comparison_strip",
    "PRED_COLOR",
    "GT_COLOR",
]

PRED_COLOR = (0.86, 0.62, 0.50)  # skin-like
GT_COLOR = (0.45, 0.75, 0.45)  # green
_PANEL_BG = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class ComparisonCamera:
    """One pinhole camera shared by all panels: extrinsics ``R`` (3, 3), ``t`` (3,) world→camera,
    intrinsics ``K`` (3, 3) and ``image_size`` (H, W) of one panel."""

    R: np.ndarray
    t: np.ndarray
    K: np.ndarray
    image_size: tuple[int, int]


def comparison_camera(
    *vertex_sets: np.ndarray | None,
    image_size: tuple[int, int] = (240, 240),
    view_dir: Sequence[float] = (0.0, -0.35, -1.0),
    up: Sequence[float] = (0.0, 1.0, 0.0),
    fov_y_deg: float = 30.0,
    max_points: int = 20000,
) -> ComparisonCamera:
    """A fixed camera that keeps every given hand of every frame in view.

    Args:
        *vertex_sets: (F, V, 3) or (V, 3) arrays (None entries are skipped), metres.
        image_size: (H, W) of one panel, pixels.
        view_dir: viewing direction in the world (default: from the front, slightly above, for a
            y-up world).
        up: world direction shown upwards.
        fov_y_deg: vertical field of view, degrees.
        max_points: subsample to at most this many points when fitting (speed only).
    """
    pts = [np.asarray(v, dtype=np.float64).reshape(-1, 3) for v in vertex_sets if v is not None]
    if not pts:
        raise HandposeError("comparison_camera needs at least one set of vertices.")
    points = np.concatenate(pts)
    if not np.isfinite(points).all():
        raise HandposeError("cannot render: the vertices contain NaN or infinite values.")
    if len(points) > max_points:
        points = points[:: int(np.ceil(len(points) / max_points))]
    R, t = frame_points(points, view_dir, up=up, fov_y_deg=fov_y_deg, margin=1.05)
    H, W = image_size
    return ComparisonCamera(R, t, intrinsics_from_fov(fov_y_deg, W, H), (int(H), int(W)))


def _render(
    camera: ComparisonCamera, vertices: np.ndarray, faces: np.ndarray, color, supersample: int
) -> np.ndarray:
    cam_v = world_to_camera(vertices, camera.R, camera.t)
    return render_mesh(
        cam_v,
        faces,
        camera.K,
        camera.image_size,
        color=color,
        background=_PANEL_BG,
        supersample=supersample,
    )


def _render_overlay(camera, pred, gt, faces, supersample: int) -> np.ndarray:
    v = np.concatenate([pred, gt])
    f = np.concatenate([faces, faces + len(pred)])
    colors = np.concatenate([np.tile(PRED_COLOR, (len(pred), 1)), np.tile(GT_COLOR, (len(gt), 1))])
    return _render(camera, v, f, colors, supersample)


def _caption(image: np.ndarray, lines: Sequence[tuple[str, tuple[int, int, int]]], y0: int = 4):
    """Draw text lines on an (H, W, 3) uint8 image in place (Pillow's built-in font)."""
    from PIL import Image, ImageDraw, ImageFont

    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    font = ImageFont.load_default()
    y = y0
    for text, color in lines:
        draw.text((6, y), text, fill=color, font=font)
        y += 13
    image[:] = np.asarray(pil)


def render_comparison_frame(
    pred_vertices: np.ndarray,
    gt_vertices: np.ndarray | None,
    faces: np.ndarray,
    camera: ComparisonCamera,
    *,
    overlay: bool = True,
    caption: Sequence[tuple[str, tuple[int, int, int]]] = (),
    supersample: int = 1,
) -> np.ndarray:
    """One comparison image.

    Args:
        pred_vertices: (V, 3) predicted vertices, metres (world frame).
        gt_vertices: (V, 3) ground truth, or None (prediction panel only).
        faces: (F, 3) int.
        camera: from :func:`comparison_camera`.
        overlay: add the overlaid panel when ground truth is given.
        caption: text lines with RGB colours drawn at the top of the first panel.
        supersample: anti-aliasing factor of the rasterizer (2 looks smoother, ~4× slower).
    Returns:
        (H, k·W, 3) uint8, k = 1, 2 or 3 panels.
    """
    faces = np.asarray(faces, dtype=np.int64)
    pred = np.asarray(pred_vertices, dtype=np.float64)
    panels = [_render(camera, pred, faces, PRED_COLOR, supersample)]
    labels = ["prediction"]
    if gt_vertices is not None:
        gt = np.asarray(gt_vertices, dtype=np.float64)
        panels.append(_render(camera, gt, faces, GT_COLOR, supersample))
        labels.append("ground truth")
        if overlay:
            panels.append(_render_overlay(camera, pred, gt, faces, supersample))
            labels.append("overlay")
    H = camera.image_size[0]
    for panel, label in zip(panels, labels):
        _caption(panel, [(label, (60, 60, 60))], y0=H - 16)
    if caption:
        _caption(panels[0], caption)
    # A thin grey separator between panels.
    for panel in panels[1:]:
        panel[:, :1] = 200
    return np.concatenate(panels, axis=1)


def _check(pred, gt, faces, errors_mm, dropped):
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim != 3 or pred.shape[-1] != 3:
        raise HandposeError(f"predicted vertices must be (F, V, 3), got {pred.shape}.")
    if gt is not None:
        gt = np.asarray(gt, dtype=np.float64)
        if gt.shape != pred.shape:
            raise HandposeError(
                f"ground-truth vertices {gt.shape} do not match the prediction {pred.shape}."
            )
    faces = np.asarray(faces, dtype=np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.max() >= pred.shape[1]:
        raise HandposeError(f"faces must be (F, 3) indices into {pred.shape[1]} vertices.")
    if errors_mm is not None and len(errors_mm) != len(pred):
        raise HandposeError("errors_mm must have one value per frame.")
    if dropped is not None and len(dropped) != len(pred):
        raise HandposeError("dropped must have one row per frame.")
    return pred, gt, faces


def render_comparison_frames(
    pred_vertices: np.ndarray,
    gt_vertices: np.ndarray | None,
    faces: np.ndarray,
    *,
    fps: float = 30.0,
    errors_mm: np.ndarray | None = None,
    dropped: np.ndarray | None = None,
    sensor_names: Sequence[str] | None = None,
    image_size: tuple[int, int] = (240, 240),
    camera: ComparisonCamera | None = None,
    frames: Sequence[int] | None = None,
    overlay: bool = True,
    supersample: int = 1,
) -> Iterator[np.ndarray]:
    """Yield one comparison image per frame (see :func:`render_comparison_frame`).

    Args:
        pred_vertices: (F, V, 3) metres. gt_vertices: (F, V, 3) or None.
        faces: (F, 3).
        fps: for the time caption.
        errors_mm: (F,) per-frame mean joint error in mm, shown in the caption.
        dropped: (F, N) bool sensor dropout flags, named in the caption.
        sensor_names: the N sensor names (default "sensor i").
        image_size: (H, W) of one panel.
        camera: a fixed camera (default: fitted to all frames).
        frames: which frames to render (default: all).
        overlay, supersample: as :func:`render_comparison_frame`.
    """
    pred, gt, faces = _check(pred_vertices, gt_vertices, faces, errors_mm, dropped)
    camera = camera or comparison_camera(pred, gt, image_size=image_size)
    idx = range(len(pred)) if frames is None else frames
    for f in idx:
        lines = [(f"t = {f / fps:5.2f} s", (40, 40, 40))]
        if errors_mm is not None:
            lines.append((f"error {float(errors_mm[f]):5.1f} mm", (40, 40, 40)))
        if dropped is not None and np.any(dropped[f]):
            names = sensor_names or [f"sensor {i}" for i in range(len(dropped[f]))]
            lost = [n for n, d in zip(names, dropped[f]) if d]
            lines.append(("dropout: " + ", ".join(lost), (200, 30, 30)))
        yield render_comparison_frame(
            pred[f],
            None if gt is None else gt[f],
            faces,
            camera,
            caption=lines,
            overlay=overlay,
            supersample=supersample,
        )


def write_comparison_video(
    path: str | os.PathLike,
    pred_vertices: np.ndarray,
    gt_vertices: np.ndarray | None,
    faces: np.ndarray,
    *,
    fps: float = 30.0,
    errors_mm: np.ndarray | None = None,
    dropped: np.ndarray | None = None,
    sensor_names: Sequence[str] | None = None,
    image_size: tuple[int, int] = (240, 240),
    frames: Sequence[int] | None = None,
    overlay: bool = True,
    supersample: int = 1,
    progress: bool = False,
) -> Path:
    """Write the comparison as a video (``.mp4`` H.264, or ``.gif``), atomically.

    Args: as :func:`render_comparison_frames` (``frames`` picks a subset, e.g. the first
        10 s); ``image_size`` sides should be multiples of 8 for H.264. ``progress`` shows a
        tqdm bar. Rendering costs ~0.1 s per panel at 240×240 on one core.
    Returns:
        the written path.
    """
    from handpose.utils.video import write_video

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise HandposeError(f"video output must end in .mp4 or .gif, got '{path.name}'.")
    total = len(pred_vertices) if frames is None else len(frames)
    images = render_comparison_frames(
        pred_vertices,
        gt_vertices,
        faces,
        fps=fps,
        errors_mm=errors_mm,
        dropped=dropped,
        sensor_names=sensor_names,
        image_size=image_size,
        frames=frames,
        overlay=overlay,
        supersample=supersample,
    )
    if progress:
        from tqdm import tqdm

        images = tqdm(images, total=total, desc="render", unit="frame", leave=False)
    return write_video(path, images, fps)


def write_comparison_strip(
    path: str | os.PathLike,
    pred_vertices: np.ndarray,
    gt_vertices: np.ndarray | None,
    faces: np.ndarray,
    *,
    num_frames: int = 6,
    frames: Sequence[int] | None = None,
    fps: float = 30.0,
    errors_mm: np.ndarray | None = None,
    image_size: tuple[int, int] = (160, 160),
    supersample: int = 2,
) -> Path:
    """A PNG strip: columns are frames, rows are prediction, ground truth and overlay.

    Args:
        num_frames: evenly spaced frames to show (ignored when ``frames`` is given).
        other arguments: as :func:`render_comparison_frames`.
    Returns:
        the written path.
    """
    import imageio.v2 as imageio

    from handpose.utils.io import atomic_path

    pred, gt, faces = _check(pred_vertices, gt_vertices, faces, errors_mm, None)
    if frames is None:
        frames = np.linspace(0, len(pred) - 1, min(num_frames, len(pred))).round().astype(int)
    camera = comparison_camera(pred, gt, image_size=image_size)
    H, W = camera.image_size
    columns = []
    for f in frames:
        lines = [(f"t = {f / fps:.2f} s", (40, 40, 40))]
        if errors_mm is not None:
            lines.append((f"{float(errors_mm[f]):.1f} mm", (40, 40, 40)))
        img = render_comparison_frame(
            pred[f],
            None if gt is None else gt[f],
            faces,
            camera,
            caption=lines,
            supersample=supersample,
        )
        # (H, k·W, 3) → stack the k panels vertically: one column per frame.
        k = img.shape[1] // W
        columns.append(np.concatenate([img[:, i * W : (i + 1) * W] for i in range(k)], axis=0))
    strip = np.concatenate(columns, axis=1)
    with atomic_path(path) as tmp:
        imageio.imwrite(tmp, strip, format="PNG")
    return Path(path)
