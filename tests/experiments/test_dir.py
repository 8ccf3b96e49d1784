"""The DIR experiment runner: run definitions, summaries, and a tiny end-to-end resumable run."""

import json

import numpy as np
import pytest
from training.dir_data import write_two_hand_shards

from handpose.errors import HandposeError
from handpose.experiments.dir import (
    RUNS,
    paired,
    plan_runs,
    run_experiment,
    run_overrides,
    summarize,
    write_report,
)


def test_run_overrides():
    assert run_overrides("stages1", "cpu-small") == ["model.num_stages=1"]
    assert run_overrides("wo_attn", "cpu-small") == [
        "model.num_stages=0",
        "model.attention_pooling=false",
    ]
    # the learning rate of the preset (and of the experiment's overrides) divided by 3
    assert run_overrides("wo_largelr", "cpu-small") == [
        "model.num_stages=0",
        "train.lr=0.000333333",
    ]
    assert run_overrides("wo_largelr", "cpu-small", ["train.lr=3e-4"])[-1] == "train.lr=0.0001"
    allv = run_overrides("wo_all", "cpu-small")
    assert allv[0] == "model.num_stages=0" and len(allv) == 5
    assert "loss.position_loss=l1" in allv and "data.augmentation.motion_blur_p=0.0" in allv
    # ours: L1 with the Huber loss's slope, not part of "w/o all"
    assert run_overrides("wo_smoothl1_delta", "cpu-small") == [
        "model.num_stages=0",
        "loss.position_loss=l1_delta",
    ]
    assert "loss.position_loss=l1_delta" not in allv
    assert run_overrides("layout0", "cpu-small") == [
        "model.num_stages=0",
        "model.offset_layout=true",
    ]
    assert run_overrides("layout2", "cpu-small")[0] == "model.num_stages=2"
    assert run_overrides("where0", "cpu-small") == [
        "model.num_stages=0",
        "model.position_pooling=true",
        "model.offset_layout=true",
    ]
    with pytest.raises(HandposeError, match="unknown DIR run"):
        run_overrides("stages3", "cpu-small")


def test_cli_run_choices_are_the_runner_runs():
    from handpose.cli.experiment import _DIR_PAPER_RUNS, _DIR_RUNS
    from handpose.experiments.dir import PAPER_RUNS

    assert tuple(_DIR_RUNS) == tuple(RUNS) and tuple(_DIR_PAPER_RUNS) == PAPER_RUNS


def test_offset_table_pairs_each_layout_run_with_dirs_head():
    from handpose.experiments.dir import _table_offset

    def res(run, seed, mrrpe, mpjpe):
        return {"preset": "p", "run": run, "seed": seed,
                "test": {"mrrpe_offset": mrrpe, "mpjpe_all": mpjpe}, "heldout": {}}  # fmt: skip

    s = summarize([res("stages0", 0, 150.0, 80.0), res("stages0", 1, 148.0, 82.0),
                   res("layout0", 0, 90.0, 81.0), res("layout0", 1, 100.0, 81.0)])  # fmt: skip
    rows = _table_offset(s, "p", {"mrrpe_zero_offset": {"test": 147.0}})
    layout = next(r for r in rows if r.startswith("| initial regression + layout"))
    # per seed 90 − 150 = −60 and 100 − 148 = −48; MPJPE +1 and −1
    assert "-54.00 ± 8.49 (2/2 lower)" in layout and "+0.00 ± 1.41 (1/2 lower)" in layout
    assert any("not run" in r for r in rows if r.startswith("| 2 refinement stages + layout"))
    assert rows[-1].startswith("| *reference: zero offset") and "147.00" in rows[-1]


def test_ablation_table_pairs_each_variant_with_the_basic_model():
    from handpose.experiments.dir import _table_ablation

    def res(run, seed, v):
        return {"preset": "p", "run": run, "seed": seed, "test": {"mpjpe_all": v},
                "heldout": {}}  # fmt: skip

    runs = [res("stages0", 0, 80.0), res("stages0", 1, 82.0), res("wo_smoothl1", 0, 98.0),
            res("wo_smoothl1", 1, 84.0), res("wo_attn", 0, 79.0)]  # fmt: skip
    rows = _table_ablation(summarize(runs), "p")
    l1 = next(r for r in rows if r.startswith("| w/o Smooth L1 (L1)"))
    # per seed +18 and +2 → +10 ± 11.31, none lower; the paper's 12.49 mm beside it
    assert "| 12.49 |" in l1 and "+10.00 ± 11.31 (0/2 lower)" in l1 and l1.endswith("| 2 |")
    assert "| -1.00 | 1 |" in next(r for r in rows if r.startswith("| w/o attention"))  # one seed
    assert any(r.startswith("| w/o all") and "not run" in r for r in rows)
    assert not any("δ·L1" in r for r in rows)  # our variant: a row only once it has run
    rows = _table_ablation(summarize([*runs, res("wo_smoothl1_delta", 0, 81.0)]), "p")
    assert [r.split(" |")[0] for r in rows[4:6]] == [
        "| w/o Smooth L1 (L1)", "| w/o Smooth L1 (δ·L1: the Huber loss's slope; ours)"]  # fmt: skip


def test_plan_and_summary():
    specs = plan_runs("cpu-small", [0, 1], ["stages2", "stages0"])
    assert [s.key for s in specs] == [
        "cpu-small/seed0/stages0", "cpu-small/seed0/stages2",
        "cpu-small/seed1/stages0", "cpu-small/seed1/stages2",
    ]  # fmt: skip
    # by default the paper's runs, without our offset variants
    assert len(plan_runs("paper", [0])) == len(RUNS) - 5 == 8
    assert "wo_smoothl1_delta" not in {s.run for s in plan_runs("paper", [0])}
    with pytest.raises(HandposeError):
        plan_runs("cpu-small", [])

    def res(run, seed, v):
        return {"preset": "cpu-small", "run": run, "seed": seed, "train_s": 1.0, "eval_s": 1.0,
                "test": {"mpjpe_all": v, "mpvpe_all": None}, "heldout": {"mpjpe_all": v + 5}}  # fmt: skip

    s = summarize([res("stages0", 0, 20.0), res("stages0", 1, 22.0), res("stages2", 0, 18.0),
                   res("stages2", 1, 21.0)])  # fmt: skip
    e0, e2 = s[("cpu-small", "stages0")], s[("cpu-small", "stages2")]
    assert e0["test"]["mpjpe_all"] == pytest.approx((21.0, 2**0.5))
    assert "mpvpe_all" not in e0["test"] and e0["heldout"]["mpjpe_all"][0] == 26.0
    mean, std, lower, n = paired(e2, e0, "mpjpe_all")
    assert (mean, lower, n) == (pytest.approx(-1.5), 2, 2) and std == pytest.approx(0.5**0.5)


@pytest.mark.slow
def test_tiny_experiment_end_to_end_and_resume(tmp_path):
    data = write_two_hand_shards(tmp_path / "main", train=8, val=4, test=4)
    held = write_two_hand_shards(tmp_path / "held", train=4, val=4, test=4)
    doc = tmp_path / "docs" / "dir.md"
    out = tmp_path / "exp"
    kw = dict(out=out, preset="tiny", seeds=[0], runs=["stages1"], jobs=1,
              data=data, heldout=held, sets=["train.epochs=1"], doc=doc, progress=False)  # fmt: skip
    summary = run_experiment(**kw)
    assert set(summary) == {("tiny", "stages1")}
    r = json.loads((out / "tiny/seed0/stages1/result.json").read_text())
    assert r["test"]["mpjpe_all"] > 0 and r["heldout"]["mpjpe_all"] > 0
    assert "model.num_stages=1" in r["overrides"] and r["train_s"] > 0
    recorded = json.loads((out / "experiment.json").read_text())["commands"][0]
    assert f"--data {data} --heldout {held}" in recorded  # the command reruns on the same data
    text = doc.read_text()
    assert "Refinement stages" in text and "Supplement Table 2" in text and "not run" in text
    assert (doc.parent / "dir_tiny_bar.png").exists()
    # a second call finds everything done and trains nothing
    before = (out / "tiny/seed0/stages1/main/checkpoints/last.ckpt").stat().st_mtime
    run_experiment(**kw)
    assert (out / "tiny/seed0/stages1/main/checkpoints/last.ckpt").stat().st_mtime == before
    assert len(json.loads((out / "experiment.json").read_text())["sessions"]) == 2
    assert "## Preset `tiny`" in write_report(out, doc)
    # a session that never recorded its end (killed) is not reported as finished
    meta = json.loads((out / "experiment.json").read_text())
    del meta["sessions"][-1]["wall_s"]
    (out / "experiment.json").write_text(json.dumps(meta))
    assert "session 2 (tiny, 1 jobs): started" in (text := write_report(out, doc))
    assert "still running (or killed) when this report was written" in text


def test_reference_metrics_rank_the_orientation_oracle_below_the_initialisation(tmp_path):
    from handpose.experiments.dir import REFERENCES, load_references, reference_metrics

    data = write_two_hand_shards(tmp_path / "main", train=1, val=1, test=8)
    refs = reference_metrics(data)
    assert set(refs) == set(REFERENCES)
    init, oracle = refs["initialisation"], refs["orientation oracle"]
    # the fixture's hands differ from the mean pose only by N(0, 0.2) finger angles
    assert 0 < oracle["mpjpe_all"] < init["mpjpe_all"]
    assert 0 < oracle["mpvpe_all"] < init["mpvpe_all"]
    meta = {"data": {"main": {"path": data}, "heldout": {"path": data}}}
    cached = load_references(tmp_path, meta)
    assert cached["test"] == cached["heldout"] and (tmp_path / "references.json").exists()
    # the zero-offset MRRPE is the mean wrist-to-wrist distance on the frames DIR's evaluator
    # measures (interacting, both wrists valid)
    from handpose.experiments.dir import zero_offset_mrrpe
    from handpose.formats.shards import open_shards

    ds = open_shards(data)
    d = []
    for i in range(8):
        smp = ds.get("test", i)
        if smp["hand_valid"].all() and smp["joint_valid"][:, 0].all() and smp["interacting"]:
            d.append(np.linalg.norm(smp["joints3d"][0, 0] - smp["joints3d"][1, 0]))
    assert d and zero_offset_mrrpe(data) == pytest.approx(1000 * np.mean(d))
    assert cached["mrrpe_zero_offset"]["test"] == pytest.approx(1000 * np.mean(d))
    assert load_references(tmp_path / "none", {}) == {}
