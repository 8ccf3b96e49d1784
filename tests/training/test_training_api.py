"""The training API and CLI on tiny data: loss goes down, evaluation, user errors."""

import csv
import json
import sys

import pytest
import torch

import handpose.cli as cli
from handpose.cli.train import VARIANT_NAMES
from handpose.errors import HandposeError
from handpose.losses.distill import VARIANTS
from handpose.training import evaluate, load_mgdhand, train_student, train_teacher
from handpose.training.data import build_dataset
from handpose.training.factory import student_sensor_indices


def epoch_means(run, key="train/loss"):
    rows = list(csv.DictReader(open(run / "csv" / "metrics.csv")))
    by_epoch = {}
    for r in rows:
        if r.get(key):
            by_epoch.setdefault(int(r["epoch"]), []).append(float(r[key]))
    return [sum(v) / len(v) for _, v in sorted(by_epoch.items())]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_files):
    from handpose.training import load_config

    cfg = load_config("tiny", [f"hand_model={tiny_files['hand']}", "train.epochs=6"])
    root = tmp_path_factory.mktemp("api")
    teacher = train_teacher(cfg, tiny_files["data"], root / "teacher")
    student = train_student(cfg, teacher, tiny_files["data"], root / "student",
                            variant="mgdistill", sensors="sparse3")  # fmt: skip
    return {"cfg": cfg, "root": root, "teacher": teacher, "student": student}


def test_short_training_lowers_the_loss(trained):
    for run in ("teacher", "student"):
        losses = epoch_means(trained["root"] / run)
        assert len(losses) == 6
        assert losses[-1] < 0.9 * losses[0], (run, losses)
    recon = epoch_means(trained["root"] / "student", "train/recon")
    assert recon[-1] < recon[0]
    assert epoch_means(trained["root"] / "student", "train/kd_pose")  # distillation is logged
    assert (trained["root"] / "teacher" / "config.yaml").exists()
    assert list((trained["root"] / "teacher" / "tensorboard").glob("events.out.tfevents.*"))


def test_evaluate_matches_a_manual_computation(trained, tiny_files):
    res = evaluate(trained["student"], tiny_files["data"], progress=False)
    assert res["kind"] == "student" and res["variant"] == "mgdistill" and res["split"] == "test"
    assert res["student_sensors"] == ["thumb", "index", "back"]
    model, meta = load_mgdhand(trained["student"])
    ds = build_dataset(trained["cfg"], tiny_files["data"], "test", train=False)
    batch = torch.utils.data.default_collate([ds[i] for i in range(len(ds))])
    idx = student_sensor_indices(trained["cfg"].__class__(**{
        **trained["cfg"].__dict__,
        "data": trained["cfg"].data.__class__(**{**trained["cfg"].data.__dict__,
                                                 "student_sensors": "sparse3"}),
    }))  # fmt: skip
    with torch.no_grad():
        out = model(batch["imu"][:, :, idx])
    mpjpe = (out.joints - batch["joints"]).norm(dim=-1).mean().item() * 1000
    assert res["mpjpe_mm"] == pytest.approx(mpjpe, rel=1e-5)
    assert res["num_frames"] == len(ds) * 8 and res["mpvpe_mm"] > 0
    teacher = evaluate(trained["teacher"], tiny_files["data"], progress=False)
    assert teacher["kind"] == "teacher" and teacher["mpjpe_mm"] > 0


def test_evaluate_decomposition_swaps_in_ground_truth_parts(trained, tiny_files):
    from handpose.geometry.rotations import rotation_6d_to_matrix

    res = evaluate(trained["teacher"], tiny_files["data"], progress=False, decompose=True)
    model, _ = load_mgdhand(trained["teacher"])
    ds = build_dataset(trained["cfg"], tiny_files["data"], "test", train=False)
    b = torch.utils.data.default_collate([ds[i] for i in range(len(ds))])
    with torch.no_grad():
        out = model(b["pose6d"], b["betas"], b["imu"], b["mask"])
        gt = rotation_6d_to_matrix(b["pose6d"])

        def mm(rot, betas):
            joints, _ = model.decoder(rot, betas, return_vertices=False)
            return (joints - b["joints"]).norm(dim=-1).mean().item() * 1000

        root = out.rotmats.clone()
        root[:, :, 0] = gt[:, :, 0]
        fingers = gt.clone()
        fingers[:, :, 0] = out.rotmats[:, :, 0]
        expected = {"gt_root": mm(root, out.betas), "gt_betas": mm(out.rotmats, b["betas"]),
                    "gt_fingers": mm(fingers, out.betas)}  # fmt: skip
        everything = mm(gt, b["betas"])
    for name, value in expected.items():
        assert res[f"mpjpe_{name}_mm"] == pytest.approx(value, rel=1e-5)
    assert res["mpjpe_mm"] == pytest.approx(mm(out.rotmats, out.betas), rel=1e-5)
    assert everything < 1e-3  # all parts swapped in: the decoder reproduces the labels
    assert "mpjpe_gt_root_mm" not in evaluate(trained["teacher"], tiny_files["data"],
                                              progress=False)  # fmt: skip


def test_run_folder_rules(trained, tiny_files, tiny_cfg, tmp_path):
    with pytest.raises(HandposeError, match="already holds a run"):
        train_teacher(trained["cfg"], tiny_files["data"], trained["root"] / "teacher")
    with pytest.raises(HandposeError, match="nothing to resume"):
        train_teacher(trained["cfg"], tiny_files["data"], tmp_path / "new", resume=True)


def test_student_input_errors(trained, tiny_files, tiny_cfg, tmp_path):
    data = tiny_files["data"]
    with pytest.raises(HandposeError, match="differs from the teacher checkpoint"):
        train_student(tiny_cfg("teacher.dim=8"), trained["teacher"], data, tmp_path / "a")
    with pytest.raises(HandposeError, match="not a teacher"):
        train_student(tiny_cfg(), trained["student"], data, tmp_path / "b")
    with pytest.raises(HandposeError, match="unknown IMU layout"):
        train_student(tiny_cfg(), trained["teacher"], data, tmp_path / "c", sensors="vifnet4x")
    with pytest.raises(HandposeError, match="not among the teacher's"):
        train_student(tiny_cfg("data.teacher_sensors=sparse2"), trained["teacher"], data,
                      tmp_path / "c", sensors="sparse3")  # fmt: skip
    with pytest.raises(HandposeError, match="unknown distillation variant"):
        train_student(tiny_cfg(), trained["teacher"], data, tmp_path / "d", variant="kd")
    with pytest.raises(HandposeError, match="does not exist"):
        train_student(tiny_cfg(), tmp_path / "none.ckpt", data, tmp_path / "e")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(HandposeError, match="cannot be read safely"):
        train_student(tiny_cfg(), garbage, data, tmp_path / "f")


def test_cli_train_and_eval(trained, tiny_files, tmp_path, capsys):
    out = tmp_path / "cli_teacher"
    args = ["train", "teacher", "--config", "tiny", "--data", str(tiny_files["data"]),
            "--out", str(out), "--set", f"hand_model={tiny_files['hand']}", "--epochs", "1"]  # fmt: skip
    assert cli.main(args) == 0
    assert (out / "checkpoints" / "last.ckpt").exists()
    code = cli.main(["eval", "--checkpoint", str(out / "checkpoints" / "last.ckpt"),
                     "--data", str(tiny_files["data"]), "--json", str(tmp_path / "r.json"),
                     "--quiet"])  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out.split("teacher checkpoint:")[-1].split("\n", 1)[1])
    assert printed == json.loads((tmp_path / "r.json").read_text())
    assert printed["kind"] == "teacher"
    code = cli.main(["train", "student", "--config", "tiny", "--data", str(tiny_files["data"]),
                     "--out", str(tmp_path / "cli_s"), "--teacher", str(out / "checkpoints" / "last.ckpt"),
                     "--set", f"hand_model={tiny_files['hand']}", "--epochs", "1",
                     "--variant", "global", "--imus", "2"])  # fmt: skip
    assert code == 0
    meta = load_mgdhand(tmp_path / "cli_s" / "checkpoints" / "last.ckpt")[1]
    assert meta["student_sensors"] == ["index", "back"] and meta["variant"] == "global"


def test_cli_user_errors_exit_2(tiny_files, tmp_path, capsys):
    base = ["train", "teacher", "--data", str(tiny_files["data"]), "--out", str(tmp_path / "x")]
    assert cli.main([*base, "--set", "train.nope=1"]) == 2
    assert "unknown config key 'train.nope'" in capsys.readouterr().err
    assert cli.main([*base, "--config", str(tmp_path / "missing.yaml")]) == 2
    assert cli.main(["eval", "--checkpoint", str(tmp_path / "no.ckpt"), "--data", "x.h5"]) == 2


def test_cli_variant_names_match_the_registry():
    assert tuple(VARIANTS) == VARIANT_NAMES


def test_missing_lightning_is_a_user_error(monkeypatch, tiny_cfg, tiny_files, tmp_path):
    monkeypatch.setitem(sys.modules, "lightning", None)  # makes `import lightning` fail
    with pytest.raises(HandposeError, match=r"handpose\[train\]"):
        train_teacher(tiny_cfg(), tiny_files["data"], tmp_path / "x")


def test_teacher_epochs_steps_per_epoch_and_full_mask_eval(trained, tiny_files, tmp_path):
    """Issue 16: the teacher's own schedule, fixed steps per epoch, the all-masked evaluation."""
    from handpose.training import load_config

    cfg = load_config("tiny", [f"hand_model={tiny_files['hand']}", "train.epochs=5",
                               "train.teacher_epochs=2", "train.steps_per_epoch=3"])  # fmt: skip
    train_teacher(cfg, tiny_files["data"], tmp_path / "t")
    rows = list(csv.DictReader(open(tmp_path / "t" / "csv" / "metrics.csv")))
    assert {int(r["epoch"]) for r in rows if r.get("train/loss")} == {0, 1}
    assert max(int(r["step"]) for r in rows) == 2 * 3 - 1  # 2 epochs of 3 steps
    masked = evaluate(trained["teacher"], tiny_files["data"], progress=False)
    full = evaluate(trained["teacher"], tiny_files["data"], progress=False, p_mask=1.0)
    assert full["p_mask"] == 1.0 and "p_mask" not in masked
    assert full["mpjpe_mm"] != masked["mpjpe_mm"]
    with pytest.raises(HandposeError, match="p-mask"):
        evaluate(trained["teacher"], tiny_files["data"], progress=False, p_mask=1.5)
