"""The MGDHand experiment runner: planning, aggregation, the report, a tiny end-to-end run."""

import json
import os

import pytest
from training.tinydata import write_imu_file, write_stick_hand

from handpose.cli import main
from handpose.errors import HandposeError
from handpose.experiments.mgdhand import (
    ALL_VARIANTS,
    RunSpec,
    paired_delta,
    plan_runs,
    run_experiment,
    summarize,
    write_report,
)


def test_plan_has_every_run_of_the_comparison():
    runs = plan_runs([0, 1, 2])
    assert len(runs) == 3 * (1 + 12 + 6) == 57
    assert len({r.key for r in runs}) == 57
    # Seed by seed, the next seed's teacher right after the current one (two jobs stay busy).
    assert [r.key for r in runs[:3]] == ["seed0/teacher", "seed1/teacher", "seed0/none_imu7"]
    assert runs.index(RunSpec("teacher", 2)) == 2 + 18
    for i, r in enumerate(runs):
        if r.kind == "student":
            assert RunSpec("teacher", r.seed) in runs[:i]
    seven = {r.variant for r in runs if r.kind == "student" and r.imus == 7}
    assert seven == set(ALL_VARIANTS)
    sparse = {(r.variant, r.imus) for r in runs if r.imus in (3, 2)}
    assert sparse == {(v, n) for v in ("none", "global", "mgdistill") for n in (3, 2)}
    assert RunSpec("student", 1, "dpd", 3).key == "seed1/dpd_imu3"
    assert RunSpec("student", 1, "dpd", 3).teacher_key == "seed1/teacher"


def test_run_spec_levels():
    """Study levels: runs under OUT/<level>/, students of another level's teacher."""
    own = RunSpec("student", 2, "none", 7, level="w3", sets=("distill.weight=3",))
    assert own.key == "w3/seed2/none_imu7" and own.teacher_key == "w3/seed2/teacher"
    shared = RunSpec("student", 2, "mgdistill", 7, level="w3", teacher_level="base")
    assert shared.teacher_key == "base/seed2/teacher"
    assert RunSpec("teacher", 0, level="base").teacher_key == "base/seed0/teacher"


def test_plan_rejects_bad_input():
    with pytest.raises(HandposeError, match="unknown variant"):
        plan_runs([0], variants=["nope"])
    with pytest.raises(HandposeError, match="IMU count"):
        plan_runs([0], sparse_imus=[5])
    with pytest.raises(HandposeError, match="seed"):
        plan_runs([])


def _result(group, imus, seed, mpjpe, kind="student"):
    return {
        "kind": kind,
        "group": [group, imus],
        "seed": seed,
        "imus": imus,
        "mpjpe_mm": mpjpe,
        "mpvpe_mm": mpjpe + 1,
        "pa_mpjpe_mm": mpjpe / 2,
        "accel_error": 100.0,
        "train_s": 10.0,
        "eval_s": 1.0,
        "train_cpu_s": 9.0,
        "eval_cpu_s": 1.0,
        "commands": ["handpose train x", "handpose eval y"],
    }


def test_summarize_mean_and_sample_std():
    s = summarize([_result("none", 7, 0, 10.0), _result("none", 7, 1, 14.0)])
    e = s[("none", 7)]
    assert e["n"] == 2 and e["seeds"] == [0, 1]
    assert e["mpjpe_mm"] == pytest.approx((12.0, 2.8284271247))  # sample std of {10, 14}
    assert s[("none", 7)]["mpvpe_mm"][0] == pytest.approx(13.0)


def test_paired_delta_hand_computed():
    rs = [_result("none", 7, s, m) for s, m in ((0, 10.0), (1, 14.0), (2, 12.0))]
    rs += [_result("mgdistill", 7, s, m) for s, m in ((0, 9.0), (1, 14.5), (2, 10.0))]
    s = summarize(rs)
    mean, std, pct, better, n = paired_delta(s[("mgdistill", 7)], s[("none", 7)])
    # differences −1, +0.5, −2: mean −5/6, sample std sqrt(((−1/6)² + (4/3)² + (7/6)²) / 2)
    assert mean == pytest.approx(-5 / 6) and std == pytest.approx(1.2583057392)
    assert pct == pytest.approx(100 * (-5 / 6) / 12.0) and (better, n) == (2, 3)


def test_report_from_partial_results(tmp_path):
    out = tmp_path / "exp"
    for r in (
        _result("teacher", 7, 0, 3.0, kind="teacher"),
        _result("none", 7, 0, 10.0),
        _result("none", 7, 1, 14.0),
        _result("mgdistill", 7, 0, 9.0),
    ):
        d = out / f"seed{r['seed']}" / f"{r['group'][0]}_imu{r['imus']}"
        d.mkdir(parents=True)
        (d / "result.json").write_text(json.dumps(r))
    (out / "experiment.json").write_text(json.dumps({"seeds": [0, 1], "preset": "tiny"}))
    text = write_report(out, tmp_path / "r.md", tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 0
    assert "**Partial:**" in text
    row = next(line for line in text.splitlines() if line.startswith("| No distillation"))
    assert "| 15.40 | 17.15 | 12.00 ± 2.83 | 13.00 ± 2.83 |" in row
    row = next(line for line in text.splitlines() if line.startswith("| MGDistill (full)"))
    # Paired by seed: only seed 0 has both (9 − 10), not the difference of means (9 − 12).
    assert "| 9.13 | 10.46 | 9.00 |" in row and "| -1.00 (-10.0 %), 1/1 lower |" in row
    assert "| SSD only | 14.72 | 16.97 | not run yet |" in text


@pytest.mark.slow
def test_tiny_experiment_end_to_end_and_resume(tmp_path):
    hand = write_stick_hand(tmp_path / "stick.npz")
    data = write_imu_file(tmp_path / "tiny.h5", hand, frames=24, train_sequences=4)
    out, doc = tmp_path / "exp", tmp_path / "docs" / "mgdhand.md"
    kwargs = dict(
        out=out,
        preset="tiny",
        seeds=[0],
        jobs=2,
        data=data,
        variants=["none", "mgdistill"],
        sparse_variants=["none"],
        sparse_imus=[],
        sets=[f"hand_model={hand}"],
        doc=doc,
        progress=False,
    )
    summary = run_experiment(**kwargs)
    assert set(summary) == {("teacher", 7), ("none", 7), ("mgdistill", 7)}
    text = doc.read_text()
    assert (tmp_path / "docs" / "mgdhand_bar.png").stat().st_size > 0
    row = next(line for line in text.splitlines() if line.startswith("| MGDistill (full)"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:3] == ["9.13", "10.46"] and float(cells[3]) > 0  # our measured MPJPE
    assert "handpose train student" in text and "--variant" in text
    results = {p: p.stat().st_mtime_ns for p in out.glob("seed0/*/result.json")}
    assert len(results) == 3
    # The teacher is also evaluated with every pose token masked (issue 16: no shortcut).
    teacher = json.loads((out / "seed0" / "teacher" / "result.json").read_text())
    assert teacher["full_mask"]["p_mask"] == 1.0 and teacher["full_mask"]["mpjpe_mm"] > 0
    assert any("--p-mask 1" in c for c in teacher["commands"])

    # Resume: finished runs are skipped; a run without result.json is evaluated again only.
    victim = out / "seed0" / "none_imu7" / "result.json"
    victim.unlink()
    train_log = (out / "seed0" / "none_imu7" / "log.txt").read_text()
    run_experiment(**kwargs)
    for p, mtime in results.items():
        if p != victim:
            assert p.stat().st_mtime_ns == mtime
    assert victim.exists()
    new_log = (out / "seed0" / "none_imu7" / "log.txt").read_text()[len(train_log) :]
    assert "handpose eval" in new_log and "handpose train" not in new_log
    meta = json.loads((out / "experiment.json").read_text())
    assert len(meta["sessions"]) == 2
    assert meta["sessions"][1]["runs_done_before"] == 2


def test_cli_report_only_and_bad_jobs(tmp_path, capsys):
    (tmp_path / "exp").mkdir()
    doc = tmp_path / "r.md"
    args = ["experiment", "mgdhand", "--out", str(tmp_path / "exp"), "--doc", str(doc)]
    # Without a finished run there is nothing to report: an existing report is kept.
    doc.write_text("the existing report")
    assert main([*args, "--report-only"]) == 2
    assert "no finished run" in capsys.readouterr().err
    assert doc.read_text() == "the existing report"
    run = tmp_path / "exp" / "seed0" / "teacher"
    run.mkdir(parents=True)
    (run / "result.json").write_text(json.dumps(_result("teacher", 7, 0, 6.0, kind="teacher")))
    assert main([*args, "--report-only"]) == 0
    assert doc.read_text().startswith("# MGDHand")
    assert main([*args, "--jobs", "0"]) == 2
    assert "jobs" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "exp" / "data")
