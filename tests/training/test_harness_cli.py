"""``handpose train METHOD`` and ``handpose eval`` dispatch; user errors exit 2 on one line."""

import json

import pytest

import handpose.cli as cli
from handpose.cli.train import METHOD_NAMES
from handpose.training.registry import METHODS
from training.imagedata import write_tiny_shards


def test_cli_method_names_match_the_registry():
    assert tuple(sorted(METHODS)) == tuple(sorted(METHOD_NAMES))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = write_tiny_shards(root / "shards", train=8, val=4, test=4)
    out = root / "run"
    code = cli.main(["train", "baseline", "--preset", "tiny", "--data", data, "--out", str(out),
                     "--epochs", "1", "--seed", "5", "--set", "train.batch_size=4"])  # fmt: skip
    assert code == 0
    return {"data": data, "out": out, "ckpt": out / "main" / "checkpoints" / "last.ckpt"}


def test_train_writes_the_stage_folder(trained):
    from handpose.training import harness

    _, meta = harness.load_model(trained["ckpt"])
    assert meta["config"]["seed"] == 5 and meta["config"]["train"]["epochs"] == 1
    assert (trained["out"] / "main" / "config.yaml").exists()
    assert (trained["out"] / "main" / "csv" / "metrics.csv").exists()


def test_eval_dispatches_image_checkpoints_to_the_protocols(trained, tmp_path, capsys):
    capsys.readouterr()
    code = cli.main(["eval", "--checkpoint", str(trained["ckpt"]), "--data", trained["data"],
                     "--out", str(tmp_path / "eval"), "--json", str(tmp_path / "r.json"),
                     "--mesh", "none", "--quiet"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "## FreiHAND" in printed and "PA-MPJPE" in printed
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["protocol"] == "freihand" and res["counts"]["samples"] == 4
    assert (tmp_path / "eval" / "eval.md").exists() and (tmp_path / "eval" / "eval.json").exists()


def one_error_line(capsys, *fragments):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("handpose: error:"), err
    for f in fragments:
        assert f in err[0], (f, err[0])


def test_user_errors_exit_2_with_one_line(trained, tmp_path, capsys):
    base = ["train", "baseline", "--data", trained["data"], "--out", str(tmp_path / "x")]
    capsys.readouterr()
    assert cli.main([*base, "--preset", "cpu-smal"]) == 2
    one_error_line(capsys, "preset 'cpu-smal'", "tiny, cpu-small, paper")
    assert cli.main(["train", "baseline", "--preset", "tiny", "--data", str(tmp_path / "none"),
                     "--out", str(tmp_path / "x")]) == 2  # fmt: skip
    one_error_line(capsys, "does not exist")
    assert cli.main([*base, "--preset", "tiny", "--stage", "tw"]) == 2
    one_error_line(capsys, "no stage 'tw'")
    assert cli.main([*base, "--preset", "tiny", "--set", "model.depth_bins=0"]) == 2
    one_error_line(capsys, "depth_bins")
    # a checkpoint of another method where an MGDHand teacher is expected
    assert cli.main(["train", "mgdhand", "--preset", "tiny", "--data", trained["data"],
                     "--out", str(tmp_path / "m"), "--stage", "student",
                     "--load", f"teacher={trained['ckpt']}"]) == 2  # fmt: skip
    one_error_line(capsys, "checkpoint of method 'baseline'", "mgdhand teacher")
    assert cli.main([*base, "--preset", "tiny", "--load", "nonsense"]) == 2
    one_error_line(capsys, "STAGE=CHECKPOINT")
    assert not (tmp_path / "x").exists() and not (tmp_path / "m").exists()
    # eval: not a checkpoint, an image checkpoint on another protocol name
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"nope")
    assert cli.main(["eval", "--checkpoint", str(bad), "--data", trained["data"]]) == 2
    one_error_line(capsys, "cannot be read safely")
    assert cli.main(["eval", "--checkpoint", str(trained["ckpt"]), "--data", trained["data"],
                     "--protocol", "ego4d", "--quiet"]) == 2  # fmt: skip
    one_error_line(capsys, "unknown evaluation protocol 'ego4d'")
    assert cli.main(["eval", "--checkpoint", str(trained["ckpt"]), "--data",
                     str(tmp_path / "none"), "--quiet"]) == 2  # fmt: skip
    one_error_line(capsys)
