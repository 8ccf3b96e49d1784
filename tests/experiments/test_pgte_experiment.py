"""``handpose experiment pgte`` on the tiny video fixture: planning, a subset, resume, report."""

import json

import pytest

from handpose.errors import HandposeError
from handpose.experiments import pgte
from tests.training.videodata import write_tiny_video


def test_plan_shares_runs_between_tables():
    runs = pgte.plan_runs([0, 1])
    keys = [r.key for r in runs]
    assert len(keys) == len(set(keys))
    per_seed = len(runs) // 2
    # main: 2 × 4; planes: 3 new (the triplane w/ conv is main's temporal); resolution: 6
    # levels × 4 models, minus the temporal 64 / 32 and the single / vibe 64 of main
    assert per_seed == 8 + 3 + (24 - 4)
    assert runs[0].seed == 0 and runs[-1].seed == 1
    sub = pgte.plan_runs([0], ["main"], variants=["temporal"], datasets=["hanco"])
    assert [r.key for r in sub] == ["hanco/r64/temporal/seed0", "hanco/r32/temporal/seed0"]
    with pytest.raises(HandposeError, match="unknown table"):
        pgte.plan_runs([0], ["tables"])


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_tiny_video(tmp_path_factory.mktemp("video") / "data")


@pytest.mark.slow
def test_subset_runs_resumes_and_reports(video, tmp_path):
    out, doc = tmp_path / "exp", tmp_path / "docs" / "pgte.md"
    kw = dict(
        out=out, preset="tiny", seeds=[0], jobs=1, tables=["main"], variants=["single"],
        datasets=["hanco"], data={"hanco": video}, sets=["train.epochs=1"], doc=doc,
        progress=False,
    )  # fmt: skip
    summary = pgte.run_experiment(**kw)
    assert set(summary) == {("tiny", "hanco", "single", 64)}
    res = json.loads((out / "hanco/r64/single/seed0/result.json").read_text())
    assert res["one_euro"]["params"]["method"] == "one_euro"  # smoothed at the main resolution
    assert res["test"]["metrics"]["mpjpe"] > 0 and res["cpu_s"] > 0
    assert "handpose train pgte --preset tiny" in res["command"]
    text = doc.read_text()
    assert "Table 3: HanCo-like" in text and "10.75" in text
    mtime = (out / "hanco/r64/single/seed0/result.json").stat().st_mtime
    pgte.run_experiment(**kw)  # resumed: nothing to do
    assert (out / "hanco/r64/single/seed0/result.json").stat().st_mtime == mtime
    strip = pgte.qualitative_strip(res["checkpoint"], video, tmp_path / "strip.png", frames=3)
    assert strip.stat().st_size > 1000


def test_image_baseline_run_is_evaluated_on_clips(video, tmp_path):
    payload = {
        "spec": {"dataset": "dexycb", "variant": "image_baseline", "resolution": 32, "seed": 0},
        "preset": "tiny", "data": video, "run_dir": str(tmp_path / "run"), "sets": [],
        "baseline_sets": ["train.batch_size=6", "train.epochs=1"], "smooth": True,
    }  # fmt: skip
    res = pgte.run_one(payload)
    m = res["test"]["metrics"]
    assert m["mpjpe"] > 0 and "mpvpe" not in m  # joints only: mesh metrics absent
    assert "accel_error" in res["one_euro"]["metrics"]
