"""PGTE on a video or an image sequence: per-frame hand boxes, streaming over a sliding window,
and an overlay MP4.

``handpose infer video --checkpoint PGTE.ckpt`` runs PGTE through the generic video inference
(:mod:`handpose.inference.video`, the same :class:`~handpose.models.pgte.WindowStream` via
``PGTE.stream()``, plus box tables, tracks per side and result files); this module is the
PGTE-specific Python API (root depth and side as inputs, vertices in 2D)::

    from handpose.inference.pgte_video import PGTEVideo, write_overlay_video
    est = PGTEVideo.from_checkpoint("runs/pgte/main/checkpoints/last.ckpt")
    results = [est.step(frame, box, K) for frame, box in zip(frames, boxes)]   # live
    write_overlay_video(frames, results, "overlay.mp4", fps=30)

Each :meth:`PGTEVideo.step` takes one full frame (H, W, 3) uint8 RGB at whatever resolution the
camera delivers (a distant hand may be a few dozen pixels wide), the hand's box in that frame
(x0, y0, x1, y1 pixels, e.g. from a detector or tracker), the frame's intrinsics K and the hand
side. The box is enlarged (``pad``), squared, cropped and resized to the model's input exactly
as in training (:mod:`handpose.datasets.image_dataset`: the crop only changes K, so the
predicted vertices are in the frame camera's coordinates), and the model streams: only the new
frame is encoded, the window's earlier frames come from the cache
(:class:`handpose.models.pgte.WindowStream`). Without a root depth, PGTE recovers it from the
mean wrist → middle-MCP length (the VIBE-style baseline from its weak-perspective camera).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from handpose.errors import HandposeError

__all__ = ["FrameResult", "PGTEVideo", "write_overlay_video", "draw_overlay"]


@dataclass
class FrameResult:
    """One frame's prediction (float32 numpy).

    Attributes:
        vertices: (V, 3) camera frame of the input frame's K, metres.
        joints3d: (21, 3) OpenPose-21, camera frame, metres.
        joints2d: (21, 2) pixels of the input frame.
        vertices2d: (V, 2) pixels of the input frame.
        crop: (x0, y0, side) of the square crop in frame pixels.
    """

    vertices: np.ndarray
    joints3d: np.ndarray
    joints2d: np.ndarray
    vertices2d: np.ndarray
    crop: tuple[int, int, int]


class PGTEVideo:
    """Streaming PGTE (or VIBE-style baseline) inference on full frames with hand boxes.

    Args:
        model: a trained PGTE / VIBE-style model (eval mode).
        pad: box enlargement before the square crop (training used 1.3).
        min_side: smallest crop side in frame pixels.
    """

    def __init__(self, model, *, pad: float = 1.3, min_side: int = 4) -> None:
        from handpose.models.pgte import WindowStream

        self.model = model.eval()
        self.size = int(model.config.image_size)
        self.pad, self.min_side = float(pad), int(min_side)
        self.stream = WindowStream(self.model)

    @classmethod
    def from_checkpoint(cls, checkpoint: str | os.PathLike, **kw) -> PGTEVideo:
        """Load a ``handpose train pgte`` checkpoint (either variant); ``pad`` defaults to the
        training value."""
        from handpose.training.harness import load_model

        model, meta = load_model(checkpoint, method="pgte")
        kw.setdefault("pad", float(meta["config"].get("data", {}).get("pad", 1.3)))
        return cls(model, **kw)

    def reset(self) -> None:
        """Start a new video (or after losing the hand): forget the window."""
        self.stream.reset()

    @torch.no_grad()
    def step(
        self,
        frame: np.ndarray,
        box: Sequence[float],
        K: np.ndarray,
        root_depth: float | None = None,
        side: int = 0,
    ) -> FrameResult:
        """Predict the hand in one new frame (see the module docstring).

        Args:
            frame: (H, W, 3) uint8 RGB.
            box: (x0, y0, x1, y1) hand box in frame pixels.
            K: (3, 3) intrinsics of the frame.
            root_depth: the wrist's depth in metres if known.
            side: 0 right hand, 1 left hand.
        """
        from handpose.datasets.image_dataset import (
            crop_matrix,
            crop_to_square,
            normalize_image,
            square_box,
        )
        from handpose.geometry.camera import project

        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise HandposeError(
                f"frame must be an (H, W, 3) uint8 RGB image, got {frame.shape} {frame.dtype}."
            )
        b = np.asarray(box, dtype=np.float64).reshape(-1)
        if b.shape != (4,) or not np.isfinite(b).all() or b[2] <= b[0] or b[3] <= b[1]:
            raise HandposeError(f"box must be (x0, y0, x1, y1) with x1 > x0, y1 > y0, got {box}.")
        K = np.asarray(K, dtype=np.float64)
        if K.shape != (3, 3):
            raise HandposeError(f"K must be a 3 × 3 matrix, got shape {K.shape}.")
        x0, y0, side_px = square_box(b, frame.shape[:2], self.pad, self.min_side)
        image, _ = crop_to_square(frame, x0, y0, side_px, self.size)
        Kc = torch.as_tensor(crop_matrix(x0, y0, side_px, self.size) @ K, dtype=torch.float32)
        rd = None if root_depth is None else torch.tensor([float(root_depth)])
        out = self.stream.step(
            normalize_image(image)[None], Kc[None], rd, torch.tensor([int(side)])
        )
        Kt = torch.as_tensor(K, dtype=torch.float32)
        verts, joints = out.vertices[0].float(), out.joints3d[0].float()
        return FrameResult(
            vertices=verts.numpy(),
            joints3d=joints.numpy(),
            joints2d=project(joints, Kt).numpy(),
            vertices2d=project(verts, Kt).numpy(),
            crop=(int(x0), int(y0), int(side_px)),
        )

    def run(
        self,
        frames: Iterable[np.ndarray],
        boxes: Iterable[Sequence[float]],
        K: np.ndarray,
        root_depths: Iterable[float | None] | None = None,
        side: int = 0,
    ) -> list[FrameResult]:
        """A whole sequence, frame by frame (the same computation as live streaming)."""
        self.reset()
        rds = root_depths if root_depths is not None else iter(lambda: None, 0)
        return [self.step(f, b, K, r, side) for f, b, r in zip(frames, boxes, rds)]


def draw_overlay(frame: np.ndarray, result: FrameResult, vertex_step: int = 4) -> np.ndarray:
    """The frame with the predicted mesh vertices (yellow dots), skeleton (red) and the crop
    box (blue) drawn on it; (H, W, 3) uint8."""
    from PIL import Image, ImageDraw

    from handpose.handmodel.conventions import OPENPOSE_PARENTS

    img = Image.fromarray(np.ascontiguousarray(frame))
    d = ImageDraw.Draw(img)
    for u, v in result.vertices2d[::vertex_step]:
        d.point((float(u), float(v)), fill=(255, 210, 77))
    j = result.joints2d
    for k, p in enumerate(OPENPOSE_PARENTS):
        if p >= 0:
            d.line([tuple(map(float, j[p])), tuple(map(float, j[k]))], fill=(214, 39, 40), width=1)
    x0, y0, s = result.crop
    d.rectangle([x0, y0, x0 + s - 1, y0 + s - 1], outline=(31, 119, 180))
    return np.asarray(img)


def write_overlay_video(
    frames: Sequence[np.ndarray],
    results: Sequence[FrameResult],
    path: str | os.PathLike,
    fps: float = 30.0,
    scale: int = 1,
) -> None:
    """Write an MP4 (H.264 through imageio-ffmpeg) of the frames with their overlays,
    atomically; ``scale`` enlarges small frames by pixel repetition first."""
    import imageio.v2 as imageio

    from handpose.utils.io import atomic_path

    if len(frames) != len(results) or not frames:
        raise HandposeError("write_overlay_video needs one result per frame (and a frame).")
    with atomic_path(path) as tmp:
        with imageio.get_writer(str(tmp), format="FFMPEG", fps=fps, codec="libx264",
                                macro_block_size=1) as w:  # fmt: skip
            for f, r in zip(frames, results, strict=True):
                img = draw_overlay(f, r)
                if scale > 1:
                    img = img.repeat(scale, 0).repeat(scale, 1)
                w.append_data(img)
