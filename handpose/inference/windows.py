"""Which frames go into which window: causal (streaming) and tiled (offline) schedules.

Both return integer index arrays into the recording's frame axis, so that gathering
``x[idx]`` builds the windows without copying logic twice.

- **Causal** (what a live estimator sees): the window for frame t is frames t−T+1 … t. Before
  frame T−1 the missing history is padded by repeating the first frame (index 0), exactly as the
  streaming ring buffer starts out filled with the first frame. Frame t's pose is the window's
  last output, so the latency is one frame and no future frame is used.
- **Tiled** (offline files, like evaluation): non-overlapping windows of T frames; the last window
  is shifted back to end at the last frame, and each frame's pose comes from the first window
  that contains it. Uses future frames inside a window; T times fewer windows than causal.
"""

from __future__ import annotations

import numpy as np

__all__ = ["causal_window_indices", "tiled_window_indices"]


def causal_window_indices(num_frames: int, window: int) -> np.ndarray:
    """(F, T) int64: row t lists frames ``max(t−T+1+k, 0)`` for k = 0 … T−1.

    Example:
        >>> causal_window_indices(3, 2).tolist()
        [[0, 0], [0, 1], [1, 2]]
    """
    if window < 1:
        raise ValueError(f"window must be ≥ 1, got {window}")
    t = np.arange(num_frames)[:, None]
    k = np.arange(window)[None, :]
    return np.maximum(t - window + 1 + k, 0).astype(np.int64)


def tiled_window_indices(num_frames: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows covering all frames (needs ``num_frames ≥ window``).

    Returns:
        ``windows (W, T)`` frame indices per window, and ``source (F, 2)``: for each frame, the
        (window, position) its pose is read from.

    Example:
        >>> w, src = tiled_window_indices(5, 2)
        >>> w.tolist(), src[:, 0].tolist()
        ([[0, 1], [2, 3], [3, 4]], [0, 0, 1, 1, 2])
    """
    if num_frames < window:
        raise ValueError(f"{num_frames} frames is fewer than the window of {window}")
    starts = list(range(0, num_frames - window + 1, window))
    if starts[-1] + window < num_frames:
        starts.append(num_frames - window)
    starts_arr = np.asarray(starts, dtype=np.int64)
    windows = starts_arr[:, None] + np.arange(window)[None, :]
    source = np.empty((num_frames, 2), dtype=np.int64)
    covered = np.zeros(num_frames, dtype=bool)
    for w, s in enumerate(starts_arr):
        frames = np.arange(s, s + window)
        new = frames[~covered[frames]]
        source[new, 0] = w
        source[new, 1] = new - s
        covered[frames] = True
    return windows, source
