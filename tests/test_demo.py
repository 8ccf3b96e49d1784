"""The demo end to end at toy size: data, teacher, two students, table, video, plots."""

import json

from handpose.cli import main


def test_demo_runs_end_to_end_and_reuses_finished_steps(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--subjects", "1", "--frames-per-sequence", "64",
            "--teacher-epochs", "1", "--student-epochs", "1", "--config", "tiny"]  # fmt: skip
    assert main(args) == 0
    for name in ("results.md", "results.json", "poses.npz", "compare.mp4"):
        assert (out / name).stat().st_size > 0, name
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "frame_errors.png",
        "joint_groups.png",
    ]
    rows = json.loads((out / "results.json").read_text())
    assert set(rows) == {"teacher", "student, no distillation", "student, MGDistill"}
    assert all(r["mpjpe_mm"] > 0 for r in rows.values())
    table = (out / "results.md").read_text()
    assert "| student, MGDistill | 7 IMUs |" in table
    first = capsys.readouterr().out
    assert "stage 1: teacher" in first

    # A second run reuses the data and the trained models.
    ckpt = out / "runs" / "teacher" / "checkpoints" / "last.ckpt"
    mtime = ckpt.stat().st_mtime_ns
    assert main(args) == 0
    second = capsys.readouterr().out
    assert "reusing" in second and "stage 1: teacher" not in second
    assert ckpt.stat().st_mtime_ns == mtime
