"""Bad input in file inference beyond the table of ``tests/cli/test_bad_inputs.py``.

The exit-2 cases of issue 6 item 7 (unknown format, wrong sensor count, NaN/inf cells, fewer
frames than the window, foreign / corrupt / teacher / code-carrying checkpoints, output names)
are rows of that table. Here: the documented way around NaN samples, and a failure after
inference (in the video writer) that must not leave the npz behind.
"""

import os

import numpy as np
import pytest

import handpose.cli as cli
from handpose.inference.csv_format import write_imu_csv
from handpose.inference.recording import ImuRecording

from .standins import SENSORS, random_motion


def _csv(path, frames=12, sensors=SENSORS, mutate=None):
    q, a = random_motion(frames, len(sensors))
    if mutate is not None:
        mutate(q, a)
    write_imu_csv(path, ImuRecording(q, a, 30.0, tuple(sensors)))
    return path


@pytest.fixture
def out_dir(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    return d


def test_hold_missing_turns_nan_into_flagged_dropouts(student_ckpt, tmp_path, out_dir, capsys):
    def poison(q, a):
        q[5:7, 3] = np.nan

    inp = _csv(tmp_path / "gap.csv", mutate=poison)
    argv = ["infer", "imu", inp, "--checkpoint", student_ckpt, "--out", out_dir / "o.npz"]
    assert cli.main([str(x) for x in argv]) == 2  # NaN samples are refused by default
    assert "--hold-missing" in capsys.readouterr().err
    assert cli.main([str(x) for x in argv] + ["--hold-missing"]) == 0
    with np.load(out_dir / "o.npz") as z:
        assert z["dropped"][:, 3].tolist() == [f in (5, 6) for f in range(12)]
        assert np.isfinite(z["joints"]).all()


def test_failed_render_leaves_no_npz(student_ckpt, tmp_path, out_dir, capsys, monkeypatch):
    # An error after inference (here: in the video writer) must not leave the npz behind.
    import handpose.render.compare as compare

    def boom(*args, **kwargs):
        from handpose.errors import HandposeError

        raise HandposeError("rendering failed")

    monkeypatch.setattr(compare, "write_comparison_video", boom)
    inp = _csv(tmp_path / "ok.csv")
    argv = ["infer", "imu", inp, "--checkpoint", student_ckpt, "--out", out_dir / "sub" / "o.npz",
            "--video", out_dir / "sub" / "o.mp4"]  # fmt: skip
    assert cli.main([str(x) for x in argv]) == 2
    assert capsys.readouterr().err == "handpose: error: rendering failed\n"
    assert os.listdir(out_dir) == []  # no output, no temporary file, no folder made for them
