"""The qualitative joint grid: tile layout, where the joints are drawn, bad input."""

import numpy as np
import pytest
from PIL import Image

from handpose.reports.joint_grid import joint_grid


def test_tiles_rows_columns_and_joint_positions(tmp_path):
    img = np.zeros((48, 48, 3), np.uint8)
    uv = np.tile([[10.0, 30.0]], (21, 1))  # every joint at pixel (x=10, y=30)
    rows = [[("a", uv, (255, 0, 0)), ("b", uv + [20, -20], (0, 0, 255))]] * 3
    path = joint_grid([img] * 3, rows, tmp_path / "g.png")
    grid = np.asarray(Image.open(path).convert("RGB"))
    s = 192 // 48  # enlarged ×4
    assert grid.shape == (2 * 48 * s, 2 * 2 * 48 * s + 6, 3)  # 3 rows → 2 + 1, 2 tiles each
    # pixel (x, y) maps to the block centre ((x + 0.5)·s − 0.5): first tile red, second blue
    y, x = int(30.5 * s - 0.5), int(10.5 * s - 0.5)
    assert tuple(grid[y, x]) == (255, 0, 0)
    y2, x2 = int(10.5 * s - 0.5), 48 * s + int(30.5 * s - 0.5)
    assert tuple(grid[y2, x2]) == (0, 0, 255)
    assert tuple(grid[y, 48 * s + x]) == (0, 0, 0)  # nothing of set b at set a's joints
    assert (grid[:, 2 * 48 * s : 2 * 48 * s + 6] == 255).all()  # the white gap
    assert not list(tmp_path.glob("*.tmp*"))


def test_bad_input():
    with pytest.raises(ValueError, match="one list of joint sets per image"):
        joint_grid([np.zeros((8, 8, 3), np.uint8)], [], "x.png")
