"""Comparison rendering: panel layout, a shared fixed camera, captions, MP4/GIF/PNG outputs."""

import os

import imageio.v3 as iio
import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.render.compare import (
    GT_COLOR,
    PRED_COLOR,
    comparison_camera,
    render_comparison_frame,
    render_comparison_frames,
    write_comparison_strip,
    write_comparison_video,
)


def _box(size=0.04):
    """A closed cube mesh (8 vertices, 12 triangles), metres."""
    v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) * size / 2
    f = np.array(
        [
            [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
            [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],
        ]
    )  # fmt: skip
    return v, f


def _dominant_color(img):
    fg = img.reshape(-1, 3)
    fg = fg[(fg < 250).any(-1)]
    return fg.mean(0) / 255.0


def test_panels_colours_and_shared_camera():
    v, f = _box()
    cam = comparison_camera(v, v + [0.03, 0, 0], image_size=(64, 64))
    img = render_comparison_frame(v, v + [0.03, 0, 0], f, cam)
    assert img.shape == (64, 192, 3) and img.dtype == np.uint8
    pred, gt, both = img[:, :64], img[:, 64:128], img[:, 128:]
    # Prediction is skin-coloured, ground truth green (hue order of the channels).
    cp, cg = _dominant_color(pred[:48]), _dominant_color(gt[:48])
    assert np.argmax(cp) == int(np.argmax(PRED_COLOR)) and np.argmax(cg) == int(np.argmax(GT_COLOR))
    # Same camera: the shifted ground truth lands to the right of the prediction.
    cols = lambda im: np.nonzero((im[:48] < 250).any(-1).any(0))[0].mean()  # noqa: E731
    assert cols(gt) > cols(pred) + 3
    # The overlay shows both hands: more covered pixels than either alone.
    covered = lambda im: int((im[:48] < 250).any(-1).sum())  # noqa: E731
    assert covered(both) > max(covered(pred), covered(gt))


def test_prediction_only_has_one_panel_and_caption_changes_pixels():
    v, f = _box()
    cam = comparison_camera(v, image_size=(64, 96))
    plain = render_comparison_frame(v, None, f, cam)
    captioned = render_comparison_frame(v, None, f, cam, caption=[("error 3.0 mm", (0, 0, 0))])
    assert plain.shape == (64, 96, 3)
    assert (plain != captioned).any()


def test_video_mp4_and_gif_frame_count(tmp_path):
    v, f = _box()
    F = 5
    pred = np.stack([v + [0.005 * t, 0, 0] for t in range(F)])
    dropped = np.zeros((F, 3), bool)
    dropped[2, 1] = True
    mp4 = write_comparison_video(
        tmp_path / "c.mp4", pred, pred[::-1], f, image_size=(48, 48), errors_mm=np.arange(F),
        dropped=dropped, sensor_names=["a", "b", "c"],
    )  # fmt: skip
    frames = iio.imread(mp4)
    assert frames.shape == (F, 48, 144, 3)
    gif = write_comparison_video(
        tmp_path / "c.gif", pred, None, f, image_size=(48, 48), frames=[0, 4]
    )
    assert iio.imread(gif).shape[0] == 2
    assert sorted(os.listdir(tmp_path)) == ["c.gif", "c.mp4"]


def test_strip_layout(tmp_path):
    v, f = _box()
    pred = np.stack([v + [0.004 * t, 0, 0] for t in range(10)])
    path = write_comparison_strip(
        tmp_path / "s.png", pred, pred, f, num_frames=4, image_size=(40, 40)
    )
    img = iio.imread(path)
    assert img.shape == (3 * 40, 4 * 40, 3)  # rows: prediction, ground truth, overlay


def test_frames_generator_respects_subset():
    v, f = _box()
    pred = np.stack([v] * 6)
    out = list(render_comparison_frames(pred, None, f, image_size=(32, 32), frames=[1, 3]))
    assert len(out) == 2


def test_bad_inputs_raise_and_write_nothing(tmp_path):
    v, f = _box()
    pred = np.stack([v] * 3)
    with pytest.raises(HandposeError, match="must end in .mp4 or .gif"):
        write_comparison_video(tmp_path / "c.avi", pred, None, f)
    with pytest.raises(HandposeError, match="do not match"):
        write_comparison_video(tmp_path / "c.mp4", pred, pred[:, :4], f)
    bad = pred.copy()
    bad[1, 0, 0] = np.nan
    with pytest.raises(HandposeError, match="NaN"):
        write_comparison_video(tmp_path / "c.mp4", bad, None, f)
    assert os.listdir(tmp_path) == []
