"""The image baseline: shapes and camera geometry, a tiny run lowering the loss, checkpoints,
evaluation with the image protocols, and user errors."""

import math

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.geometry.camera import project
from handpose.geometry.procrustes import procrustes_align
from handpose.models.baseline import BaselineEstimator, BaselineNetConfig
from handpose.training import harness, read_metrics
from handpose.training.fingerprint import data_fingerprint
from training.imagedata import write_tiny_shards

TINY = BaselineNetConfig(
    backbone="mobilenetv3_small_050", level=16, num_deconv=1, hidden=16, depth_bins=8
)


def crop_K(b, size=64, dtype=torch.float32):
    K = torch.tensor([[90.0, 0, 31.5], [0, 95.0, 30.0], [0, 0, 1]], dtype=dtype)
    return K.expand(b, 3, 3).clone()


@pytest.mark.parametrize("dtype, batch", [(torch.float32, 1), (torch.float64, 3)])
def test_shapes_and_camera_geometry(dtype, batch):
    torch.manual_seed(0)
    model = BaselineEstimator(TINY, 64).to(dtype).eval()
    x = torch.randn(batch, 3, 64, 64, dtype=dtype)
    K = crop_K(batch, dtype=dtype)
    root = torch.linspace(0.4, 0.6, batch, dtype=dtype)
    out = model(x, K, root)
    assert out.joints3d.shape == (batch, 21, 3) and out.joints2d.shape == (batch, 21, 2)
    assert out.joints3d.dtype == dtype and out.vertices is None
    assert out.heatmap_xyz.shape == (batch, 21, 3)
    # the wrist sits at the given depth; every joint projects onto its predicted pixel
    torch.testing.assert_close(out.joints3d[:, 0, 2], root)
    torch.testing.assert_close(project(out.joints3d, K), out.joints2d)
    torch.testing.assert_close(out.joints3d[..., 2] - root[:, None], out.z_rel)
    assert torch.all(out.z_rel[:, 0] == 0)
    # heatmap stride: 64 px at level 16 with one deconvolution → 8×8 cells of 8 px
    assert model.heatmap_stride == 8.0
    torch.testing.assert_close((out.heatmap_xyz[..., :2] + 0.5) * 8 - 0.5, out.joints2d)


def test_root_depth_from_the_bone_length():
    """Without a root depth the wrist → middle-MCP bone gets exactly ``bone_length``."""
    torch.manual_seed(1)
    model = BaselineEstimator(TINY, 64).eval()
    with torch.no_grad():  # spread the heatmaps so that the bone has some image length
        model.head.final.weight.normal_(0, 0.5)
        out = model(torch.randn(4, 3, 64, 64), crop_K(4))
    bone = (out.joints3d[:, 0] - out.joints3d[:, 9]).norm(dim=-1)
    torch.testing.assert_close(bone, torch.full((4,), TINY.bone_length), rtol=1e-4, atol=1e-6)
    assert torch.all(out.root_depth > 0)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_tiny_shards(tmp_path_factory.mktemp("baseline") / "shards")


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    cfg = harness.load_method_config("baseline", "tiny", ["train.epochs=6"])
    out = tmp_path_factory.mktemp("baseline_run") / "run"
    paths = harness.train("baseline", cfg, data, out)
    return {"cfg": cfg, "out": out, "ckpt": paths["main"]}


def test_tiny_run_lowers_the_loss(run):
    rows = read_metrics(run["out"] / "main")
    by_epoch = {}
    for r in rows:
        if r.get("train/loss"):
            by_epoch.setdefault(int(r["epoch"]), []).append(float(r["train/loss"]))
    means = [np.mean(v) for _, v in sorted(by_epoch.items())]
    assert len(means) == 6 and means[-1] < 0.9 * means[0], means
    val = [float(r["val/pa_mpjpe_mm"]) for r in rows if r.get("val/pa_mpjpe_mm")]
    assert len(val) == 6 and val[-1] < val[0]
    assert (run["out"] / "main" / "config.yaml").exists()
    assert list((run["out"] / "main" / "tensorboard").glob("events.out.tfevents.*"))


def test_checkpoint_metadata_and_load_model(run, data):
    raw = torch.load(run["ckpt"], map_location="cpu", weights_only=True)
    meta = raw["handpose"]
    assert meta["format"] == "handpose-model" and meta["method"] == "baseline"
    assert meta["stage"] == "main" and meta["data"] == data
    assert meta["data_fingerprint"] == data_fingerprint(data) and meta["requires"] == {}
    assert harness.method_config_from_dict("baseline", meta["config"]) == run["cfg"]
    model, meta2 = harness.load_model(run["ckpt"], method="baseline", stage="main")
    assert not model.training and meta2["method"] == "baseline"
    state = {k[6:]: v for k, v in raw["state_dict"].items() if k.startswith("model.")}
    assert set(state) == set(model.state_dict())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_eval_matches_a_manual_computation(run, data, tmp_path):
    from handpose.reports.image_eval import evaluate_image_checkpoint
    from handpose.training.image_data import ImageDataConfig, open_image_split

    res = evaluate_image_checkpoint(
        run["ckpt"], data, mesh="none", out=tmp_path / "eval", progress=False
    )
    result = res["result"]
    assert result.protocol == "freihand" and res["num_samples"] == 8
    assert result["pa_mpvpe"] is None and "vertices" in result.absent["pa_mpvpe"]
    assert {p.name for p in (tmp_path / "eval").iterdir()} >= {"eval.md", "eval.json"}
    # by hand: the model on the test crops with the ground-truth wrist depth, then Procrustes
    model, _ = harness.load_model(run["ckpt"])
    ds = open_image_split(data, "test", ImageDataConfig(size=64))
    errs = []
    from handpose.datasets.image_dataset import normalize_image

    for i in range(len(ds)):
        s = ds[i]
        slot = 0 if s["hand_valid"][0] else 1
        gt = s["joints3d"][slot].double()
        with torch.no_grad():
            out = model(normalize_image(s["image"])[None], s["K"][None], gt[None, 0, 2].float())
        aligned = procrustes_align(out.joints3d[0].double(), gt, mode="freihand")
        errs.append((aligned - gt).norm(dim=-1).mean().item())
    assert result["pa_mpjpe"] == pytest.approx(1000 * np.mean(errs), rel=1e-4)
    assert math.isfinite(result["mpjpe"])


def test_eval_fits_meshes_for_mesh_metrics(run, data):
    from handpose.reports.image_eval import evaluate_image_checkpoint

    res = evaluate_image_checkpoint(
        run["ckpt"], data, limit=3, fit_iterations=5, progress=False, threads=1
    )
    result = res["result"]
    assert result["pa_mpvpe"] is not None and 0 < result["pa_mpvpe"] < 200
    assert 0 <= result["pa_f@15mm"] <= 1 and res["num_samples"] == 3


def test_checkpoint_of_another_method_is_one_clear_error(run, data, tmp_path):
    from handpose.reports.image_eval import evaluate_image_checkpoint

    with pytest.raises(HandposeError, match="checkpoint of method 'baseline'.*not the mgdhand"):
        harness.load_model(run["ckpt"], method="mgdhand")
    with pytest.raises(HandposeError, match="stage 'main'.*not the baseline teacher"):
        harness.load_model(run["ckpt"], method="baseline", stage="teacher")
    # resuming a folder that holds another method's run
    cfg = harness.load_method_config("mgdhand", "tiny")
    with pytest.raises(HandposeError, match="checkpoint of method 'baseline'"):
        harness.fit_stage("mgdhand", cfg, "teacher", data, run["out"] / "main", resume=True)
    # an MGDHand student chained onto a baseline checkpoint
    with pytest.raises(HandposeError, match="checkpoint of method 'baseline'"):
        harness.train("mgdhand", cfg, data, tmp_path / "s", stages=["student"],
                      requires={"teacher": run["ckpt"]})  # fmt: skip
    plain = tmp_path / "plain.ckpt"
    torch.save({"state_dict": {}}, plain)
    with pytest.raises(HandposeError, match="not a handpose model checkpoint"):
        harness.load_model(plain)
    with pytest.raises(HandposeError, match="does not exist"):
        evaluate_image_checkpoint(tmp_path / "none.ckpt", data)


def test_user_errors(data, tmp_path):
    cfg = harness.load_method_config("baseline", "tiny")
    with pytest.raises(HandposeError, match="does not exist"):
        harness.train("baseline", cfg, tmp_path / "missing", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(HandposeError, match="neither a preset of baseline"):
        harness.load_method_config("baseline", "cpu-smal")
    with pytest.raises(HandposeError, match="'model.backbone_name'"):
        harness.load_method_config("baseline", "tiny", ["model.backbone_name=x"])
    with pytest.raises(HandposeError, match="'data.augmentation.scale' must have 2 items"):
        harness.load_method_config("baseline", "tiny", ["data.augmentation.scale=[1, 2, 3]"])
    with pytest.raises(HandposeError, match="no split 'nope'"):
        harness.train("baseline", harness.load_method_config(
            "baseline", "tiny", ["data.val_split=nope"]), data, tmp_path / "o2")  # fmt: skip
    assert not (tmp_path / "o2").exists()
    with pytest.raises(HandposeError, match="has no stage 'tw'"):
        harness.train("baseline", cfg, data, tmp_path / "o3", stages=["tw"])


def test_presets_load():
    for preset in ("tiny", "cpu-small", "paper"):
        cfg = harness.load_method_config("baseline", preset)
        assert cfg.name == preset
    paper = harness.load_method_config("baseline", "paper")
    assert (paper.model.backbone, paper.data.size, paper.model.depth_bins) == ("resnet50", 256, 8)
    assert paper.model.depth_range == 0.2 and paper.train.lr == 5e-3
    assert paper.train.epochs == 50 and paper.train.batch_size == 32
