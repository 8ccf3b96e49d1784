"""The hand gallery picture: layout, labels, PNG writing and user errors."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PIL")

from PIL import Image  # noqa: E402

from handpose.errors import HandposeError  # noqa: E402
from handpose.render.gallery import (  # noqa: E402
    BACKGROUND,
    DEFAULT_PANELS,
    SKIN,
    GalleryPanel,
    gallery_image,
    render_hand_gallery,
    skin_colors,
)

PANELS = (
    GalleryPanel("fist", "fist", view=(1.0, 0.45, -0.35), up=(0.0, 1.0, 0.0)),
    GalleryPanel("big {length}", "flat", (2.0,), (0.0, 1.0, 0.0), group="g"),
    GalleryPanel("small {length}", "flat", (-2.0,), (0.0, 1.0, 0.0), group="g"),
)


def _panel(img: np.ndarray, i: int, size: int, columns: int, title_h: int, label_h: int):
    r, c = divmod(i, columns)
    y0 = title_h + r * (size + label_h)
    return img[y0 : y0 + size, c * size : (c + 1) * size]


def test_gallery_draws_each_panel_and_shared_cameras_compare_sizes(tmp_path):
    size = 64
    img = gallery_image(size=size, panels=PANELS, columns=3, supersample=1)
    title_h, label_h = int(1.8 * 12), max(14, size // 11)
    assert img.shape == (title_h + size + label_h, 3 * size, 3) and img.dtype == np.uint8
    bg = np.round(np.asarray(BACKGROUND) * 255)
    hand_px = [
        (np.abs(_panel(img, i, size, 3, title_h, label_h) - bg).sum(-1) > 30).sum()
        for i in range(3)
    ]
    assert min(hand_px) > 0.05 * size * size  # every panel shows a shaded hand
    assert hand_px[1] > 1.2 * hand_px[2]  # same camera: the β0 = +2 hand looks bigger


def test_default_gallery_has_the_required_poses_and_shapes():
    poses = {p.pose for p in DEFAULT_PANELS}
    assert {"fist", "point", "pinch", "spread"} <= poses and poses & {"flat", "relaxed"}
    assert sum(1 for p in DEFAULT_PANELS if any(p.betas)) >= 2


def test_render_hand_gallery_writes_a_png_atomically(tmp_path):
    out = render_hand_gallery(tmp_path / "g.png", size=48, panels=PANELS[:1], supersample=1)
    assert out == tmp_path / "g.png"
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] == 48
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 8}, "at least 32"),
        ({"side": "middle"}, "side"),
        ({"panels": (GalleryPanel("x", "wave"),)}, "unknown pose"),
    ],
)
def test_bad_gallery_requests_raise_handpose_errors(tmp_path, kwargs, message):
    with pytest.raises(HandposeError, match=message):
        render_hand_gallery(tmp_path / "g.png", **kwargs)
    with pytest.raises(HandposeError, match="PNG"):
        render_hand_gallery(tmp_path / "g.jpg")
    assert not list(tmp_path.iterdir())


def test_skin_colors_paint_nails_around_the_given_vertices():
    # A flat square of vertices facing +z; the nail centre is the middle vertex.
    g = np.stack(np.meshgrid(np.linspace(-0.02, 0.02, 9), np.linspace(-0.02, 0.02, 9)), -1)
    v = np.concatenate([g.reshape(-1, 2), np.zeros((81, 1))], 1)
    idx = np.arange(81).reshape(9, 9)
    f = np.concatenate(
        [np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:]], -1).reshape(-1, 3),
         np.stack([idx[:-1, :-1], idx[1:, 1:], idx[1:, :-1]], -1).reshape(-1, 3)]
    )  # fmt: skip
    col = skin_colors(v, f, [40], nail_radius=0.006)
    np.testing.assert_allclose(col[0], SKIN)  # far corner stays skin
    assert (col[40] > np.asarray(SKIN)).all()  # the nail is lighter
    np.testing.assert_allclose(skin_colors(v, f, None), np.tile(SKIN, (81, 1)))
