"""``handpose experiment pgte`` on the tiny video fixture: planning, a subset, resume, report."""

import json

import pytest

from handpose.errors import HandposeError
from handpose.experiments import pgte
from handpose.training import read_metrics
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
    # every VIBE-style run comes after the single run its frozen encoder is taken from
    for i, r in enumerate(runs):
        if r.variant == "vibe":
            assert pgte.encoder_run(r) in runs[:i]
    only = pgte.plan_runs([0], ["resolution"], [16], variants=["vibe"])
    assert [r.key for r in only] == ["dexycb/r16/single/seed0", "dexycb/r16/vibe/seed0"]


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
    refs = json.loads((out / "references.json").read_text())
    assert refs["hanco"]["path"] == str(video)
    assert refs["hanco"]["metrics"]["training mean"]["mpjpe"] > 0
    assert "| HanCo-like | mean hand, oracle rotation |" in text
    mtime = (out / "hanco/r64/single/seed0/result.json").stat().st_mtime
    pgte.run_experiment(**kw)  # resumed: nothing to do
    assert (out / "hanco/r64/single/seed0/result.json").stat().st_mtime == mtime
    strip = pgte.qualitative_strip(res["checkpoint"], video, tmp_path / "strip.png", frames=3)
    assert strip.stat().st_size > 1000
    notes = tmp_path / "notes.md"
    notes.write_text("## Status\n\nA hand-written finding.\n")
    text = pgte.write_report(out, doc, notes=notes)
    assert text.index("A hand-written finding.") < text.index("Table 3: HanCo-like")
    assert doc.read_text() == text


@pytest.mark.slow
def test_vibe_runs_after_its_encoder_and_takes_it(video, tmp_path):
    out = tmp_path / "exp"
    pgte.run_experiment(
        out=out, preset="tiny", seeds=[0], jobs=2, tables=["main"], variants=["vibe"],
        datasets=["dexycb"], data={"dexycb": video}, sets=["train.epochs=1"], progress=False,
        doc=tmp_path / "pgte.md",
    )  # fmt: skip
    single = json.loads((out / "dexycb/r64/single/seed0/result.json").read_text())
    vibe = json.loads((out / "dexycb/r64/vibe/seed0/result.json").read_text())
    assert single["finished"] <= vibe["finished"]
    enc = out / "dexycb/r64/single/seed0/main/checkpoints/last.ckpt"
    assert f"vibe_encoder={enc}" in vibe["config_overrides"]
    assert "vibe_freeze_encoder=true" in vibe["config_overrides"]
    assert vibe["config_overrides"][-1] == f"train.epochs={2 * 1}"  # factor × the given epochs
    assert f"--set vibe_encoder={enc}" in vibe["command"]
    rows = [r for r in read_metrics(out / "dexycb/r64/vibe/seed0/main") if r.get("val/mpjpe_mm")]
    assert len(rows) == pgte.VIBE_EPOCH_FACTOR * 1  # one validation per epoch


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


def _two_slot(joints, verts, valid):
    """(N, 21, 3) / (N, V, 3) right-hand arrays in slot 0 → the two-slot label schema."""
    import numpy as np

    n = joints.shape[0]
    j = np.zeros((n, 2, 21, 3))
    v = np.zeros((n, 2, verts.shape[1], 3))
    j[:, 0], v[:, 0] = joints, verts
    hv = np.zeros((n, 2), bool)
    hv[:, 0] = valid
    return {
        "joints3d": j,
        "vertices": v,
        "hand_valid": hv,
        "joint_valid": hv[..., None].repeat(21, -1),
    }


def test_reference_predictions_on_hand_made_labels():
    import numpy as np
    import torch

    from handpose.handmodel import HandModel

    hand = HandModel("open", side="right", flat_hand_mean=False, dtype=torch.float64)
    aa = torch.tensor([[0.3, -1.2, 0.5], [2.0, 0.1, -0.4]], dtype=torch.float64)
    t = torch.tensor([[0.1, 0.0, 0.5], [0.0, 0.05, 0.6]], dtype=torch.float64)
    h = hand(global_orient=aa, hand_pose=torch.zeros(2, 45, dtype=torch.float64), transl=t)
    test = _two_slot(h.joints21.numpy(), h.vertices.numpy(), [True, True])
    train = _two_slot(h.joints21.numpy()[:1], h.vertices.numpy()[:1], [True])
    pred = pgte.reference_predictions(train, test)
    # the mean hand turned onto a rotated mean hand: exact, wherever it is
    oracle = pred["mean hand, oracle rotation"]
    np.testing.assert_allclose(oracle["joints3d"][:, 0], test["joints3d"][:, 0], atol=1e-9)
    np.testing.assert_allclose(oracle["vertices"][:, 0], test["vertices"][:, 0], atol=1e-9)
    # the training mean of one frame is that frame, moved to each test wrist
    mean = pred["training mean"]["joints3d"]
    np.testing.assert_allclose(mean[0, 0], test["joints3d"][0, 0], atol=1e-12)
    rel = test["joints3d"][0, 0] - test["joints3d"][0, 0, :1]
    np.testing.assert_allclose(mean[1, 0] - test["joints3d"][1, 0, :1], rel, atol=1e-12)
    assert not np.allclose(mean[1, 0], test["joints3d"][1, 0], atol=1e-3)  # other orientation
    # no left hands in training: the right mean mirrored in x
    np.testing.assert_allclose(
        mean[0, 1] - test["joints3d"][0, 1, :1], rel * [-1, 1, 1], atol=1e-12
    )


def test_reference_predictions_need_a_valid_training_hand():
    import numpy as np

    labels = _two_slot(np.zeros((1, 21, 3)), np.zeros((1, 5, 3)), [False])
    with pytest.raises(HandposeError, match="no valid hands"):
        pgte.reference_predictions(labels, labels)
