"""DIR on the harness: presets, a short run that lowers the loss, load_model, evaluation."""

import pytest
import torch

from handpose.errors import HandposeError
from handpose.models.dir import DIRNetwork
from handpose.training import harness
from handpose.training.api import read_metrics
from handpose.training.methods.dir import evaluate_checkpoint
from training.dir_data import write_two_hand_shards


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_two_hand_shards(tmp_path_factory.mktemp("dirdata") / "shards", train=16, val=4)


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("dir") / "run"
    cfg = harness.load_method_config("dir", "tiny", ["train.epochs=6", "data.limit_val=4"])
    paths = harness.train("dir", cfg, data, out)
    return {"out": out, "ckpt": paths["main"], "cfg": cfg}


def test_presets_load():
    for preset in ("tiny", "cpu-small", "paper"):
        cfg = harness.load_method_config("dir", preset)
        assert cfg.data.size == cfg.model.image_size
    paper = harness.load_method_config("dir", "paper")
    assert paper.train.lr == 5e-4 and paper.train.epochs == 50 and paper.train.batch_size == 64
    assert paper.model.backbone == "resnet50" and paper.model.num_stages == 2
    assert paper.data.augmentation.motion_blur_p == 0.3 and paper.train.min_lr_ratio == 0.0
    # from scratch at 96 px the preset did not learn (docs/results/dir.md); it starts from
    # ImageNet weights at 128 px
    cpu = harness.load_method_config("dir", "cpu-small")
    assert cpu.model.backbone_weights == "imagenet" and cpu.model.image_size == 128
    with pytest.raises(HandposeError, match="image_size"):
        harness.load_method_config("dir", "tiny", ["data.size=96"])
    with pytest.raises(HandposeError, match="num_stages"):
        harness.load_method_config("dir", "tiny", ["model.num_stages=4"])


@pytest.mark.slow
def test_short_training_lowers_the_loss(run):
    rows = [r for r in read_metrics(run["out"] / "main") if r.get("train/loss")]
    losses = [float(r["train/loss"]) for r in rows]
    assert len(losses) == 6 * 4
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < 0.8 * first, (first, last)
    val = [r for r in read_metrics(run["out"] / "main") if r.get("val/mpjpe_all_mm")]
    assert len(val) == 6 and all(float(r["val/mpjpe_all_mm"]) > 0 for r in val)


@pytest.mark.slow
def test_load_model_and_evaluate(run, data):
    model, meta = harness.load_model(run["ckpt"], method="dir")
    assert isinstance(model, DIRNetwork) and not model.training
    assert meta["method"] == "dir" and meta["stage"] == "main"
    with torch.no_grad():
        K = torch.tensor([[80.0, 0, 31.5], [0, 80, 31.5], [0, 0, 1]]).expand(2, 3, 3)
        out = model(torch.zeros(2, 3, 64, 64), K)
    assert out.joints3d.shape == (2, 2, 21, 3)
    res = evaluate_checkpoint(run["ckpt"], data, "test", penetration_frames=2)
    for key in ("mpjpe_sh", "mpjpe_ih", "mpvpe_all", "mrrpe", "mrrpe_offset",
                "mesh_reprojection_px", "penetration_max_depth", "penetration_max_depth_gt"):  # fmt: skip
        assert res[key] is not None and res[key] >= 0, key
    assert res.counts["samples"] == 8 and res.counts["interacting frames"] == 6
    assert res.counts["penetration frames"] == 2
    with pytest.raises(HandposeError, match="empty|split"):
        evaluate_checkpoint(run["ckpt"], data, "nosuchsplit")


@pytest.mark.slow
def test_onnx_export_cli(run, tmp_path, capsys):
    """`handpose export onnx` writes DIR's generic image graph (what `handpose infer image`
    runs from the file alone), parity-checked; DIR's own graph stays a Python API."""
    from handpose.cli import main
    from handpose.inference.image_onnx import read_image_onnx_spec

    out = tmp_path / "dir.onnx"
    assert main(["export", "onnx", "--checkpoint", str(run["ckpt"]), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "onnxruntime parity within 0.0001" in text
    spec = read_image_onnx_spec(out)
    assert spec.method == "dir" and spec.hands == 2 and spec.num_vertices > 0 and spec.has_mano
    assert main(["export", "onnx", "--checkpoint", str(run["ckpt"]), "--out", str(out),
                 "--int8"]) == 2  # fmt: skip


@pytest.mark.slow
def test_eval_cli_dispatches_dir(run, data, tmp_path, capsys):
    import json

    from handpose.cli import main
    from handpose.reports.image_eval import evaluate_image_checkpoint

    j = tmp_path / "eval.json"
    args = ["eval", "--checkpoint", str(run["ckpt"]), "--data", data, "--json", str(j),
            "--quiet", "--out", str(tmp_path / "report")]  # fmt: skip
    assert main(args) == 0
    res = json.loads(j.read_text())
    assert res["protocol"] == "interhand" and res["metrics"]["mrrpe_offset"] is not None
    assert "penetration_max_depth" in res["metrics"] and (tmp_path / "report" / "eval.md").exists()
    assert "MRRPE, offset head" in capsys.readouterr().out
    # the generic image evaluation also reads DIR's data section (extra keys ignored)
    out = evaluate_image_checkpoint(run["ckpt"], data, limit=4, progress=False)
    assert out["result"]["mpjpe_all"] is not None


def test_localisation_and_the_layout_probe_of_a_checkpoint(run, data):
    import numpy as np

    from handpose.datasets.image_dataset import normalize_image
    from handpose.experiments.dir_probe import layout_probe, localisation
    from handpose.formats.shards import open_shards
    from handpose.models.dir.mano import normalised_to_pixels

    loc = localisation(data, run["ckpt"])
    # the naive reference: every valid hand of the test split, the model run image by image
    model, _ = harness.load_model(run["ckpt"], method="dir")
    ds = open_shards(data)
    errs, spreads = [], []
    for i in range(len(ds.split("test"))):
        s = ds.get("test", i)
        img = torch.from_numpy(np.array(s["image"])).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            est = model.forward_estimates(normalize_image(img))[0][-1]
        uv = normalised_to_pixels(est.joints_uv, 64)[0].double().numpy()
        for h in range(2):
            if s["hand_valid"][h]:
                errs.append(np.linalg.norm(uv[h, 0] - s["joints2d"][h, 0]))
                g = s["joints2d"][h]
                spreads.append(np.linalg.norm(g - g.mean(0), axis=-1).mean())
    assert loc["hands"] == len(errs)
    assert loc["wrist_px"] == pytest.approx(np.mean(errs), rel=1e-4)
    assert loc["spread_px_true"] == pytest.approx(np.mean(spreads), rel=1e-6)
    assert -1.0 <= loc["spread_correlation"] <= 1.0
    res = layout_probe(data, run["ckpt"], steps=20, batch_size=8)
    assert res["layout"].startswith("predicted by") and res["mrrpe_probe"] > 0
    # the probe's localisation comes from its own single pass over the test split
    assert res["localisation"] == pytest.approx(loc, rel=1e-6)


def test_estimate_errors_score_each_stage_as_a_truncated_network(run, data, capsys):
    """Estimate k of the full network scores what a network cut after stage k scores under the
    evaluator (same weights), and the last estimate is ``handpose eval``'s result."""
    import json
    from dataclasses import replace

    from handpose.datasets.image_dataset import normalize_image
    from handpose.experiments.dir_probe import estimate_errors, main
    from handpose.formats.sample import collate
    from handpose.models.dir.evaluation import DIREvaluator
    from handpose.training.image_data import open_image_split

    errs = estimate_errors(data, run["ckpt"])
    model, _ = harness.load_model(run["ckpt"], method="dir")
    assert [e["estimate"] for e in errs] == [
        "initial regression", "refinement stage 1", "refinement stage 2"
    ]  # fmt: skip
    full = evaluate_checkpoint(run["ckpt"], data, "test", penetration_frames=0)
    for key in ("mpjpe_all", "mpjpe_sh", "mpjpe_ih"):
        assert errs[-1][key] == pytest.approx(full[key], rel=1e-6)
    ds = open_image_split(data, "test", run["cfg"].data)
    batch = collate([ds[i] for i in range(len(ds))])
    state = model.state_dict()
    for k in (0, 1):
        cut = DIRNetwork(replace(model.config, num_stages=k)).eval()
        own = cut.state_dict()
        cut.load_state_dict(
            {n: t for n, t in state.items() if n in own and own[n].shape == t.shape},
            strict=False,
        )
        ev = DIREvaluator(intaghand_root=run["cfg"].eval.intaghand_root)
        with torch.no_grad():
            ev.update(cut(normalize_image(batch["image"]), batch["K"]), batch)
        assert errs[k]["mpjpe_all"] == pytest.approx(ev.compute()["mpjpe_all"], rel=1e-6)
    # the stages change the estimate: a cut network is not silently the full one
    assert len({round(e["mpjpe_all"], 6) for e in errs}) == 3
    assert main(["--data", str(data), "--checkpoint", str(run["ckpt"]), "--estimates"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
    assert main(["--data", str(data), "--estimates"]) == 2
    assert "--checkpoint" in capsys.readouterr().err
