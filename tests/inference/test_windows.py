"""Window schedules: causal (streaming) and tiled (offline)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handpose.inference.windows import causal_window_indices, tiled_window_indices


def test_causal_windows_pad_with_first_frame_and_end_at_t():
    idx = causal_window_indices(5, 3)
    assert idx.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4]]


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(1, 12))
def test_causal_windows_never_look_ahead(num_frames, window):
    idx = causal_window_indices(num_frames, window)
    t = np.arange(num_frames)[:, None]
    assert (idx <= t).all()
    assert (idx[:, -1] == t[:, 0]).all()
    assert (np.diff(idx, axis=1) >= 0).all()


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.integers(0, 40))
def test_tiled_windows_cover_every_frame_once(window, extra):
    num_frames = window + extra
    windows, source = tiled_window_indices(num_frames, window)
    assert windows.shape[1] == window
    assert windows.min() == 0 and windows.max() == num_frames - 1
    # Each frame is read from a window that contains it, at the right position.
    assert (windows[source[:, 0], source[:, 1]] == np.arange(num_frames)).all()
    # Non-overlapping except the last window, which is shifted back to end at the last frame.
    assert len(windows) == -(-num_frames // window)


def test_tiled_rejects_short_recordings():
    with pytest.raises(ValueError):
        tiled_window_indices(3, 4)
