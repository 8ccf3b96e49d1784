"""PGTE on the harness: the tiny preset trains, resumes and reloads (both variants)."""

import math

import pytest
import torch

from handpose.training import harness
from handpose.training.registry import get_method

from .videodata import write_tiny_video


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_tiny_video(tmp_path_factory.mktemp("video") / "data")


def test_registered_with_presets():
    m = get_method("pgte")
    assert m.stage_names == ("main",)
    for p in ("tiny", "cpu-small", "paper"):
        cfg = harness.load_method_config("pgte", p)
        assert cfg.name == p


@pytest.mark.parametrize("variant", ["pgte", "vibe"])
def test_tiny_trains_and_reloads(video, tmp_path, variant):
    cfg = harness.load_method_config("pgte", "tiny", [f"variant={variant}", "train.threads=1"])
    paths = harness.train("pgte", cfg, video, tmp_path / "run")
    model, meta = harness.load_model(paths["main"])
    assert meta["method"] == "pgte" and meta["config"]["variant"] == variant
    x = torch.zeros(1, 2, 3, 32, 32)
    K = torch.tensor([[51.2, 0, 15.5], [0, 51.2, 15.5], [0, 0, 1]]).expand(1, 2, 3, 3)
    out = model(x, K, torch.full((1, 2), 0.5))
    assert out.vertices.shape[-2:] == (1379, 3)
    from handpose.training import read_metrics

    rows = read_metrics(tmp_path / "run" / "main")
    assert any("val/mpjpe_mm" in r and r["val/mpjpe_mm"] != "" for r in rows)
    if variant == "pgte":  # ONNX export through the CLI, with onnxruntime parity
        import json

        import onnx

        from handpose.cli import main

        out = tmp_path / "pgte.onnx"
        assert main(["export", "onnx", "--checkpoint", str(paths["main"]), "--out", str(out)]) == 0
        proto = onnx.load(str(out))
        meta = json.loads({p.key: p.value for p in proto.metadata_props}["handpose"])
        assert meta["method"] == "pgte" and meta["window"] == 4 and meta["num_vertices"] == 1379


def test_video_evaluation(video, tmp_path):
    from handpose.reports.video_eval import evaluate_video_checkpoint

    cfg = harness.load_method_config("pgte", "tiny", ["train.epochs=1", "train.threads=1"])
    ckpt = harness.train("pgte", cfg, video, tmp_path / "run")["main"]
    res = evaluate_video_checkpoint(ckpt, video, split="test")
    m = res["metrics"]
    assert res["frames"] == 6 and res["clips"] == 1 and res["resolution"] == 32
    for k in ("mpjpe", "pa_mpjpe", "mpvpe", "pa_mpvpe", "accel_error", "jitter", "gt_jitter"):
        assert math.isfinite(m[k]), k
    assert m["pa_mpjpe"] <= m["mpjpe"] + 1e-6
    smooth = evaluate_video_checkpoint(
        ckpt, video, split="test", smoothing={"method": "one_euro", "fps": 30.0, "min_cutoff": 0.5}
    )
    assert smooth["metrics"]["jitter"] < m["jitter"]


def test_cli_train_and_eval(video, tmp_path, capsys):
    import json

    from handpose.cli import main

    out = tmp_path / "cli"
    rc = main(["train", "pgte", "--preset", "tiny", "--data", video, "--out", str(out),
               "--set", "train.epochs=1", "--set", "train.threads=1"])  # fmt: skip
    assert rc == 0
    ckpt = out / "main" / "checkpoints" / "last.ckpt"
    js = tmp_path / "eval.json"
    rc = main(["eval", "--checkpoint", str(ckpt), "--data", video, "--json", str(js), "--quiet",
               "--smooth", "one_euro", "--one-euro", "0.5", "0"])  # fmt: skip
    assert rc == 0
    res = json.loads(js.read_text())
    assert res["protocol"] == "hanco" and res["smoothing"]["min_cutoff"] == 0.5
    assert "| mpjpe (mm) |" in capsys.readouterr().out


@pytest.mark.parametrize("variant", ["pgte", "vibe"])
def test_pretrained_patch_embedding_trains_reloads_and_exports(video, tmp_path, variant):
    """``model.patch_embed`` / ``vibe.patch_embed``: EfficientNet-Lite0's ImageNet stages up to
    stride 8 as the ViT's patch embedding; trained, its weights and BatchNorm statistics are
    the checkpoint's (not the ImageNet file's) after reloading."""
    from handpose.models.backbones import create_backbone

    sets = [f"variant={variant}", "train.threads=1", "train.epochs=1"]
    sets += ["model.patch_embed=efficientnet_lite0", "vibe.patch_embed=efficientnet_lite0"]
    cfg = harness.load_method_config("pgte", "tiny", sets)
    paths = harness.train("pgte", cfg, video, tmp_path / "run")
    model, _ = harness.load_model(paths["main"])
    state = torch.load(paths["main"], map_location="cpu", weights_only=True)["state_dict"]
    emb = model.backbone.patch_embed
    key = next(k for k in state if k.endswith("backbone.patch_embed.bn1.running_mean"))
    assert torch.equal(emb.bn1.running_mean, state[key])
    imagenet = create_backbone("efficientnet_lite0", weights="imagenet", strides=(8,))
    assert not torch.equal(emb.bn1.running_mean, imagenet.body.bn1.running_mean)  # trained
    x = torch.zeros(1, 2, 3, 32, 32)
    K = torch.tensor([[51.2, 0, 15.5], [0, 51.2, 15.5], [0, 0, 1]]).expand(1, 2, 3, 3)
    out = model(x, K, torch.full((1, 2), 0.5))
    assert torch.isfinite(out.joints3d).all()
    if variant == "pgte":
        from handpose.cli import main

        args = ["export", "onnx", "--checkpoint", str(paths["main"]), "--out"]
        assert main([*args, str(tmp_path / "pgte.onnx")]) == 0  # onnxruntime parity-checked


def test_vibe_encoder_from_a_pgte_checkpoint(video, tmp_path):
    """VIBE's start: the baseline's ViT is the PGTE model's; frozen, it leaves training as it
    came in (weights and batch-norm statistics)."""
    from handpose.errors import HandposeError
    from handpose.training.checkpoints import read_checkpoint

    sets = ["train.threads=1", "train.epochs=1", "model.window=1"]
    pgte = harness.train("pgte", harness.load_method_config("pgte", "tiny", sets), video,
                         tmp_path / "single")["main"]  # fmt: skip
    enc = {k: v for k, v in read_checkpoint(pgte)["state_dict"].items()
           if k.startswith("model.backbone.")}  # fmt: skip
    vsets = ["variant=vibe", "train.threads=1", "train.epochs=1", f"vibe_encoder={pgte}"]
    frozen = harness.load_method_config("pgte", "tiny", [*vsets, "vibe_freeze_encoder=true"])
    after = read_checkpoint(harness.train("pgte", frozen, video, tmp_path / "frz")["main"])
    for k, v in enc.items():
        torch.testing.assert_close(after["state_dict"][k], v, rtol=0, atol=0)
    tuned = harness.load_method_config("pgte", "tiny", vsets)
    moved = read_checkpoint(harness.train("pgte", tuned, video, tmp_path / "ft")["main"])
    assert any(not torch.equal(moved["state_dict"][k], v) for k, v in enc.items())
    with pytest.raises(HandposeError, match="does not match the baseline's ViT"):
        from handpose.training.methods.pgte import PGTEModule

        PGTEModule(harness.load_method_config("pgte", "tiny", [*vsets, "vibe.embed_dim=16"]))
    with pytest.raises(HandposeError, match="vibe_freeze_encoder needs vibe_encoder"):
        harness.load_method_config("pgte", "tiny", ["vibe_freeze_encoder=true"])


def test_temporal_model_starts_from_the_single_one(video, tmp_path):
    from handpose.errors import HandposeError
    from handpose.training.checkpoints import read_checkpoint
    from handpose.training.methods.pgte import PGTEModule

    sets = ["train.threads=1", "train.epochs=1", "model.window=1"]
    single = harness.train("pgte", harness.load_method_config("pgte", "tiny", sets), video,
                           tmp_path / "single")["main"]  # fmt: skip
    state = read_checkpoint(single)["state_dict"]
    m = PGTEModule(harness.load_method_config("pgte", "tiny", [f"pgte_init={single}"]))
    own = m.model.state_dict()
    skipped = sorted(set(own) - set(m.loaded_init))
    assert skipped and all("temporal" in k for k in skipped)  # only the window-sized parts
    for k in m.loaded_init:
        torch.testing.assert_close(own[k], state["model." + k], rtol=0, atol=0)
    with pytest.raises(HandposeError, match="not a PGTE model of this size"):
        PGTEModule(harness.load_method_config(
            "pgte", "tiny", [f"pgte_init={single}", "model.embed_dim=16", "model.num_heads=2",
                             "model.token_dim=8", "model.joint_dim=4", "model.head_channels=4",
                             "model.stem_channels=4", "model.plane_size=4"]))  # fmt: skip
