"""Error plots: numbers behind the bars, files written atomically, bad input refused."""

import os

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.handmodel.conventions import OPENPOSE_JOINT_GROUPS
from handpose.metrics.plots import (
    FINGER_GROUPS,
    group_errors_mm,
    per_joint_errors_mm,
    plot_frame_errors,
    plot_joint_group_errors,
)


def test_per_joint_errors_in_millimetres():
    gt = np.zeros((2, 21, 3))
    pred = gt.copy()
    pred[1, 4] = [0.003, 0.004, 0.0]  # a 5 mm error on frame 1's thumb tip
    e = per_joint_errors_mm(pred, gt)
    assert e.shape == (2, 21) and e[1, 4] == pytest.approx(5.0) and e.sum() == pytest.approx(5.0)
    with pytest.raises(HandposeError):
        per_joint_errors_mm(pred[:, :16], gt)


def test_group_statistics_use_the_right_joints():
    e = np.zeros((3, 21))
    e[:, list(OPENPOSE_JOINT_GROUPS["tip"])] = 10.0
    e[0, 0] = 6.0  # wrist, one frame
    stats = group_errors_mm(e)
    assert stats["tip"] == (10.0, 0.0)
    assert stats["wrist"][0] == pytest.approx(2.0) and stats["mcp"] == (0.0, 0.0)
    fingers = group_errors_mm(e, FINGER_GROUPS)
    assert fingers["thumb"][0] == pytest.approx(2.5)  # 1 of its 4 joints is the tip
    assert FINGER_GROUPS["pinky"] == (17, 18, 19, 20)


def test_plots_are_written_and_leave_no_temporaries(tmp_path):
    rng = np.random.default_rng(0)
    e = np.abs(rng.normal(8, 3, size=(40, 21)))
    p1 = plot_joint_group_errors({"student": e, "teacher": e / 2}, tmp_path / "g.png")
    p2 = plot_frame_errors(e, tmp_path / "f.png", fps=30, dropped=rng.random((40, 7)) > 0.9)
    p3 = plot_frame_errors({"a": e.mean(-1)}, tmp_path / "f.svg")
    for p in (p1, p2):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    assert p3.read_text().lstrip().startswith("<?xml")
    assert sorted(os.listdir(tmp_path)) == ["f.png", "f.svg", "g.png"]


def test_wrong_shapes_raise_and_write_nothing(tmp_path):
    with pytest.raises(HandposeError, match="per-joint errors"):
        plot_joint_group_errors(np.zeros((5, 16)), tmp_path / "g.png")
    with pytest.raises(HandposeError, match="nothing to plot"):
        plot_frame_errors({}, tmp_path / "f.png")
    assert os.listdir(tmp_path) == []
