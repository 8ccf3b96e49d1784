"""The 2D-layout → offset probe of DIR's relative root offset."""

import json

import pytest
from training.dir_data import write_two_hand_shards

from handpose.experiments.dir import zero_offset_mrrpe
from handpose.experiments.dir_probe import layout_probe, main


def test_probe_scores_on_the_evaluators_frames_and_learns_the_fixture_offset(tmp_path):
    data = write_two_hand_shards(tmp_path / "d", train=24, val=1, test=8)
    res = layout_probe(data, steps=300, batch_size=16, seed=0)
    # the zero offset on the probe's test frames is the report's zero-offset reference
    assert res["mrrpe_zero"] == pytest.approx(zero_offset_mrrpe(data), rel=1e-5)
    # the fixture's hands sit 7 cm either side of the centre: the offset is nearly a constant
    # ≈ 14 cm, which the probe learns from the layout
    assert res["mrrpe_probe"] < 0.5 * res["mrrpe_zero"]
    assert res["frames"]["train"] == 18 and res["layout"] == "ground truth"  # 3 of 4 have both


def test_cli_prints_json_and_refuses_a_missing_checkpoint(tmp_path, capsys):
    data = write_two_hand_shards(tmp_path / "d", train=8, val=1, test=4)
    assert main(["--data", str(data), "--steps", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["frames"]["test"] > 0
    assert main(["--data", str(data), "--checkpoint", str(tmp_path / "none.ckpt")]) == 2
    assert "none.ckpt" in capsys.readouterr().err
