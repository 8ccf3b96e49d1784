"""The sample picture: overlays land where the labels are."""

import numpy as np

from handpose.datasets.show import FINGER_COLOURS, MASK_COLOURS, draw_sample, save_sample_picture
from handpose.formats.sample import empty_sample

_CAP = 16  # caption strip height


def _sample():
    s = empty_sample(64, 64, num_vertices=3, mask=True)
    s["K"][:] = [[100.0, 0, 31.5], [0, 100.0, 31.5], [0, 0, 1]]
    s["image"][:] = 100
    s["hand_valid"][0] = True
    s["joint_valid"][0] = True
    s["joints2d"][0] = np.stack([np.linspace(5, 58, 21), np.full(21, 10.0)], 1)
    s["joints2d"][0, 8] = [40.0, 40.0]  # index tip
    s["mask"][50:60, 2:12] = 2  # left-hand label
    s["vertices"][0] = [[0.0, 0.0, 1.0], [0.05, 0.0, 1.0], [0.0, 0.05, 1.0]]
    s["bbox"][:] = [5, 10, 58, 40]
    return s


def test_overlays_follow_labels():
    s = _sample()
    pic = draw_sample(s, faces=None)
    scale = 4  # 64 px → ×4 = 256
    assert pic.shape == (64 * scale + _CAP, 2 * 64 * scale + 4, 3)
    left = pic[_CAP:, : 64 * scale]
    right = pic[_CAP:, 64 * scale + 4 :]
    np.testing.assert_array_equal(left[::7, ::7], 100)  # the first panel is the plain image
    # the index tip (40, 40) → centre (40 + 0.5)·4 − 0.5 = 161.5 has the index colour
    np.testing.assert_array_equal(right[161, 161], FINGER_COLOURS["index"])
    # the mask is tinted with the left-hand colour: 0.55·100 + 0.45·colour
    want = (0.55 * 100 + 0.45 * np.array(MASK_COLOURS[2])).astype(np.uint8)
    np.testing.assert_allclose(right[55 * scale, 5 * scale], want, atol=1)
    # a projected vertex: (0.05, 0, 1) → (36.5, 31.5) → ×4: (147.5, 127.5), a 3-px dot
    np.testing.assert_array_equal(right[127:129, 147:149], np.full((2, 2, 3), (255, 200, 200)))
    # untouched background stays the image
    np.testing.assert_array_equal(right[230, 230], [100, 100, 100])


def test_wireframe_and_save(tmp_path):
    s = _sample()
    plain = draw_sample(s, faces=None)
    wire = draw_sample(s, faces=np.array([[0, 1, 2]]))
    assert (wire != plain).sum() > (plain != plain).sum()  # edges drawn between the vertices
    out = save_sample_picture(s, tmp_path / "p.png", caption="x")
    assert out.is_file() and list(tmp_path.iterdir()) == [out]
