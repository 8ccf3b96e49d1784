"""`handpose demo image` end to end at toy size: data, EHPE and the baseline, table, grid."""

import json
import math

import pytest
from PIL import Image

from handpose.cli import main
from tests.render.gl_support import needs_gl


@needs_gl
def test_image_demo_runs_end_to_end_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "image", "--out", str(out), "--train", "32", "--val", "4", "--test", "6",
            "--preset", "tiny", "--tw-epochs", "1", "--pg-epochs", "1"]  # fmt: skip
    assert main(args) == 0
    res = json.loads((out / "results.json").read_text())
    assert set(res["models"]) == {"EHPE", "baseline"}
    for r in res["models"].values():
        assert math.isfinite(r["pa_mpjpe"]) and r["pa_mpjpe"] > 0
        assert set(r["groups_pa"]) >= {"wrist", "mcp", "pip", "dip", "tip"}
    assert 0 < res["mean_pose_pa_mpjpe"] < 100
    table = (out / "results.md").read_text()
    assert "| EHPE |" in table and "| baseline |" in table and "mean training pose" in table
    grid = Image.open(out / "overlays.png")
    # 6 crops of 64 px (the tiny preset's input, enlarged ×3 to 192) in 2 columns of 3 rows,
    # 3 tiles per row (ground truth, EHPE, baseline) and a 6 px gap
    assert grid.size == (2 * 3 * 192 + 6, 3 * 192)
    for stage in ("tw", "pg"):
        assert (out / "runs" / "ehpe" / stage / "checkpoints" / "last.ckpt").exists()
    first = capsys.readouterr().out
    assert "EHPE: TW-stage 1 epochs" in first

    # a second run keeps the data and the trained stages
    ckpt = out / "runs" / "ehpe" / "tw" / "checkpoints" / "last.ckpt"
    mtime = ckpt.stat().st_mtime_ns
    assert main(args) == 0
    assert ckpt.stat().st_mtime_ns == mtime
    assert "complete shards kept" in capsys.readouterr().out


def test_image_demo_bad_settings_are_one_clear_error(tmp_path, capsys):
    assert main(["demo", "image", "--out", str(tmp_path), "--train", "0"]) == 2
    assert "argument --train: expected an integer ≥ 1" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
    from handpose.demo_image import ImageDemoSettings, run_image_demo
    from handpose.errors import HandposeError

    with pytest.raises(HandposeError, match="overlays must be at least 1"):
        run_image_demo(ImageDemoSettings(out=tmp_path, overlays=0))
