"""The factor study: its plan, its paired outcomes, the log fit and its report."""

import json
import math

import pytest
from training.tinydata import write_imu_file, write_stick_hand

from handpose.cli import main
from handpose.errors import HandposeError
from handpose.experiments.mgdhand_factors import (
    FACTORS,
    LEVELS,
    factor_outcomes,
    log_fit,
    plan_factor_runs,
    run_factors,
    write_factors_report,
)


def test_plan_covers_every_level_with_the_right_runs():
    runs = plan_factor_runs([0, 1, 2])
    keys = [r.key for r in runs]
    assert len(keys) == len(set(keys))
    per_seed = [r for r in runs if r.seed == 0]
    teachers = {r.level for r in per_seed if r.kind == "teacher"}
    assert teachers == {"base", "data_s6g4", "data_s12g12", "mask0.15", "mask0.85"}
    nones = {r.level for r in per_seed if r.variant == "none"}
    assert nones == {"base", "data_s6g4", "data_s12g12", "width16", "width64"}
    assert {r.level for r in per_seed if r.variant == "mgdistill"} == {lv.name for lv in LEVELS}
    assert len(runs) == 3 * (5 + 5 + len(LEVELS))
    for i, r in enumerate(runs):  # every student comes after the teacher it distils from
        if r.kind == "student":
            assert r.teacher_key in keys[:i]
            assert "train.steps_per_epoch=135" in r.sets and "data.eval_subjects=6" in r.sets
    w3 = next(r for r in runs if r.level == "w3" and r.seed == 1)
    assert w3.teacher_key == "base/seed1/teacher" and "distill.weight=3" in w3.sets
    wide = next(r for r in runs if r.level == "data_s12g12" and r.kind == "teacher")
    # The level's own setting comes after the study's (later --set wins).
    assert wide.sets.index("data.train_subjects=12") > wide.sets.index("data.train_subjects=6")
    only = plan_factor_runs([0], ["weight"], steps_per_epoch=3)
    assert {r.level for r in only} == {"base", "w0.3", "w3", "w10"}
    assert "train.steps_per_epoch=3" in only[0].sets
    with pytest.raises(HandposeError, match="factor"):
        plan_factor_runs([0], ["colour"])
    with pytest.raises(HandposeError, match="seed"):
        plan_factor_runs([])


def _write(out, level, seed, name, mpjpe, **extra):
    d = out / level / f"seed{seed}" / name
    d.mkdir(parents=True)
    (d / "result.json").write_text(json.dumps({"mpjpe_mm": mpjpe, **extra}))


def test_outcomes_are_paired_by_seed_and_level(tmp_path):
    out = tmp_path / "study"
    for seed, (none, mgd, w3) in enumerate(((10.0, 9.0, 8.0), (14.0, 14.5, 12.0))):
        _write(out, "base", seed, "teacher", 5.0, full_mask={"mpjpe_mm": 9.0})
        _write(out, "base", seed, "none_imu7", none)
        _write(out, "base", seed, "mgdistill_imu7", mgd)
        _write(out, "w3", seed, "mgdistill_imu7", w3)  # reference: the base's none
    _write(out, "width16", 0, "none_imu7", 20.0)
    _write(out, "width16", 0, "mgdistill_imu7", 15.0)
    rows = {r["level"]: r for r in factor_outcomes(out)}
    base = rows["base"]
    assert [p["delta_mm"] for p in base["per_seed"]] == [-1.0, 0.5]
    assert base["delta_pct"][0] == pytest.approx((-10.0 + 100 * 0.5 / 14) / 2)
    assert base["lower"] == 1 and base["n"] == 2
    assert base["teacher"][:2] == (5.0, 0.0) and base["teacher_full_mask"][0] == 9.0
    assert [p["delta_mm"] for p in rows["w3"]["per_seed"]] == [-2.0, -2.0]
    assert rows["w3"]["teacher"][0] == 5.0  # the base's teacher
    assert rows["width16"]["delta_mm"][0] == -5.0 and rows["width16"]["n"] == 1
    assert rows["data_s6g4"]["n"] == 0 and rows["data_s6g4"]["delta_mm"] is None


def test_log_fit_hand_computed():
    a, b = log_fit([10.0, 100.0, 1000.0], [1.0, 3.0, 5.0])
    assert (a, b) == (pytest.approx(-1.0), pytest.approx(2.0))
    assert log_fit([5.0, 5.0], [1.0, 2.0]) is None


def test_report_and_vihand_extrapolation(tmp_path):
    out = tmp_path / "study"
    sizes = {"data_s6g4": 12_000, "base": 36_000, "data_s12g12": 72_000}
    for level, frames in sizes.items():
        for seed in (0, 1):
            pct = -5.0 - 10.0 * math.log10(frames / 12_000)  # Δ % grows with data
            _write(out, level, seed, "none_imu7", 10.0)
            _write(out, level, seed, "mgdistill_imu7", 10.0 * (1 + pct / 100))
    _write(out, "base", 0, "none_imu3", 12.0)  # a linked comparison's run, not the study's
    (out / "experiment.json").write_text(json.dumps({"seeds": [0, 1], "preset": "tiny"}))
    doc = tmp_path / "factors.md"
    text = write_factors_report(out, doc)
    assert "from 12 of 40 planned runs" in text  # 2 seeds × (5 teachers + 5 none + 10 MGD)
    assert doc.with_suffix(".png").stat().st_size > 0
    assert "**Partial:**" in text
    assert "-10.0 percentage points per tenfold data" in text.replace("−", "-")
    row = next(line for line in text.splitlines() if "12 subjects × 12 gestures" in line)
    assert "| -1.28 ± 0.00 | -12.8 ± 0.0 | 2/2 |" in row  # −5 − 10·log10(6) = −12.8 %
    first_cells = {line.split("|")[1].strip() for line in text.splitlines() if line[:2] == "| "}
    assert set(FACTORS) <= first_cells
    # The fit's prediction at VIHand's 1.12 M training frames: −5 − 10·log10(1.12e6 / 12e3).
    assert f"Δ ≈ {-5 - 10 * math.log10(1.12e6 / 12e3):+.1f} %" in text


def test_base_runs_link_to_a_comparison(tmp_path):
    comparison = tmp_path / "exp"
    _write(comparison, ".", 0, "none_imu7", 10.0)
    _write(comparison, ".", 0, "mgdistill_imu7", 9.0)
    with pytest.raises(HandposeError, match="experiment.json"):
        run_factors(out=tmp_path / "s", base_from=comparison, seeds=[0], doc=None)
    (comparison / "experiment.json").write_text("{}")
    # Linked before anything runs (the run itself fails here: no such preset).
    with pytest.raises(HandposeError, match="neither a preset"):
        run_factors(out=tmp_path / "s", preset="nope", base_from=comparison, seeds=[0], doc=None)
    assert (tmp_path / "s" / "base").resolve() == comparison.resolve()
    rows = {r["level"]: r for r in factor_outcomes(tmp_path / "s")}
    assert rows["base"]["delta_mm"][0] == -1.0
    (tmp_path / "t" / "base").mkdir(parents=True)
    with pytest.raises(HandposeError, match="not a link"):
        run_factors(out=tmp_path / "t", base_from=comparison, seeds=[0], doc=None)


@pytest.mark.slow
def test_tiny_study_end_to_end(tmp_path, capsys):
    hand = write_stick_hand(tmp_path / "stick.npz")
    data = write_imu_file(tmp_path / "tiny.h5", hand, frames=24, train_sequences=4)
    out, doc = tmp_path / "study", tmp_path / "f.md"
    rows = run_factors(out=out, preset="tiny", seeds=[0], jobs=2, data=data,
                       factors=["weight"], sets=[f"hand_model={hand}", "train.epochs=1"],
                       steps_per_epoch=2, doc=doc, progress=False)  # fmt: skip
    by = {r["level"]: r for r in rows}
    assert set(by) == {"base", "w0.3", "w3", "w10"} and all(r["n"] == 1 for r in rows)
    assert by["w3"]["none"] == by["base"]["none"]  # one no-distillation reference
    log = (out / "w3" / "seed0" / "mgdistill_imu7" / "log.txt").read_text()
    assert "distill.weight=3" in log and "base/seed0/teacher" in log
    metrics = (out / "base" / "seed0" / "none_imu7" / "csv" / "metrics.csv").read_text()
    assert max(int(x.split(",")[2]) for x in metrics.splitlines()[1:] if x.split(",")[2]) <= 2
    assert "distillation weight 3" in doc.read_text()
    assert main(["experiment", "mgdhand-factors", "--out", str(out), "--doc", str(doc),
                 "--factors", "weight", "--report-only"]) == 0  # fmt: skip
