"""Reading and writing videos with imageio-ffmpeg (the ffmpeg binary it ships).

:func:`open_video` decodes a file frame by frame (RGB uint8) and reports its frame rate, size
and frame count; every failure (not a video, no video stream, truncated data) is one
HandposeError naming the file. :func:`write_video` encodes frames to H.264 MP4 (yuv420p; odd
sizes padded by one black row / column) or an animated GIF, atomically.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handpose.errors import HandposeError

__all__ = ["VideoInfo", "open_video", "write_video", "VIDEO_SUFFIXES"]

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".gif")


@dataclass
class VideoInfo:
    """A decodable video: ``frames()`` yields (H, W, 3) uint8 RGB frames."""

    path: Path
    fps: float
    width: int
    height: int
    num_frames: int | None  # from the container's metadata (an estimate for some formats)

    def frames(self) -> Iterator[np.ndarray]:
        import imageio_ffmpeg

        gen = imageio_ffmpeg.read_frames(str(self.path), pix_fmt="rgb24")
        try:
            meta = next(gen)
            w, h = meta["size"]
            n = 0
            for raw in gen:
                arr = np.frombuffer(raw, np.uint8)
                if arr.size != w * h * 3:
                    raise HandposeError(f"'{self.path}' has a truncated frame {n}.")
                yield arr.reshape(h, w, 3)
                n += 1
        except HandposeError:
            raise
        except (RuntimeError, OSError, StopIteration, KeyError, ValueError) as err:
            raise HandposeError(f"'{self.path}' cannot be decoded: {_first_line(err)}") from None
        finally:
            gen.close()


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    # ffmpeg's own reason is usually the last line of its log
    return (lines[-1] if lines else type(err).__name__)[:200]


def open_video(path: str | os.PathLike) -> VideoInfo:
    """Probe a video file (HandposeError if it is missing or not a decodable video)."""
    import imageio_ffmpeg

    path = Path(path)
    if path.is_dir():
        raise HandposeError(f"'{path}' is a folder, not a video file.")
    if not path.is_file():
        raise HandposeError(f"video file '{path}' does not exist.")
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        meta = next(gen)
    except (RuntimeError, OSError, StopIteration, KeyError, ValueError) as err:
        raise HandposeError(f"'{path}' is not a decodable video: {_first_line(err)}") from None
    finally:
        gen.close()
    size = meta.get("size") or (0, 0)
    fps = float(meta.get("fps") or 0.0)
    if not (size[0] > 0 and size[1] > 0):
        raise HandposeError(f"'{path}' has no video stream.")
    if not (np.isfinite(fps) and fps > 0):
        fps = 30.0
    n = None
    duration = meta.get("duration")
    if isinstance(duration, int | float) and duration > 0:
        n = int(round(duration * fps))
    return VideoInfo(path, fps, int(size[0]), int(size[1]), n)


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    quality: int = 7,
) -> Path:
    """Write (H, W, 3) uint8 frames to ``path`` (.mp4: H.264; .gif) atomically."""
    import imageio.v2 as imageio

    from handpose.utils.io import atomic_path

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise HandposeError(f"video output must end in .mp4 or .gif, got '{path.name}'.")
    if not (np.isfinite(fps) and fps > 0):
        raise HandposeError(f"the frame rate must be positive, got {fps}.")
    with atomic_path(path) as tmp:
        if suffix == ".mp4":
            writer = imageio.get_writer(
                tmp,
                format="FFMPEG",
                fps=fps,
                codec="libx264",
                quality=quality,
                pixelformat="yuv420p",
                macro_block_size=1,
                ffmpeg_log_level="error",
            )
        else:
            writer = imageio.get_writer(tmp, format="GIF", duration=1000.0 / fps, loop=0)
        try:
            for frame in frames:
                if suffix == ".mp4" and (frame.shape[0] % 2 or frame.shape[1] % 2):
                    h, w = frame.shape[:2]
                    padded = np.zeros((h + h % 2, w + w % 2, 3), np.uint8)
                    padded[:h, :w] = frame
                    frame = padded
                writer.append_data(frame)
        finally:
            writer.close()
    return path
