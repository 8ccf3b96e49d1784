"""Experiment configs: presets, validation (HandposeError naming the key), overrides, files."""

import pytest

from handpose.errors import HandposeError
from handpose.training.config import (
    PRESETS,
    ExperimentConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
    sensor_set_name,
)


def test_presets_load_and_paper_values_are_pinned():
    for name in PRESETS:
        assert load_config(name).name == name
    for name in ("paper", "paper-wide"):
        cfg = load_config(name)
        assert (cfg.teacher.depth, cfg.teacher.num_heads) == (5, 8)
        assert (cfg.student.depth, cfg.student.num_heads) == (5, 8)
        assert cfg.priors.motion_kernel_size == 4  # the supplement's k = 4
        assert not cfg.teacher.input_skip  # no shortcut to the teacher's target
    assert load_config("paper-wide").student.dim == 512  # the supplement's C = 512, literally
    assert load_config("paper").student.dim == 256  # the paper's size (test_mgdhand_size.py)
    cfg = load_config("paper")
    assert cfg.data.window == 32
    assert cfg.train.lr == 1e-4 and cfg.train.epochs == 80 and cfg.train.batch_size == 32
    assert cfg.data.teacher_sensors == "vihand7"


def test_unknown_keys_raise_with_the_key_name():
    with pytest.raises(HandposeError, match="'train.foo'"):
        load_config("tiny", ["train.foo=1"])
    with pytest.raises(HandposeError, match="'bogus'"):
        config_from_dict({"bogus": 1})
    with pytest.raises(HandposeError, match="'loss.reconstruction.joint'"):
        config_from_dict({"loss": {"reconstruction": {"joint": 1.0}}})


@pytest.mark.parametrize(
    "override, match",
    [
        ("train.epochs=three", "must be an integer"),
        ("train.epochs=2.5", "must be an integer"),
        ("train.progress_bar=1", "true or false"),
        ("train.lr=fast", "must be a number"),
        ("data=5", "must be a mapping"),
        ("teacher.dim=15", "divisible"),
        ("train.batch_size=3", None),  # fine with one device
        ("distill.variant=kd", "unknown distillation variant"),
        ("distill.weights={global: 1}", "has no terms"),
        ("data.p_mask=2", "p_mask"),
    ],
)
def test_bad_values(override, match):
    if match is None:
        assert load_config("tiny", [override]).train.batch_size == 3
        return
    with pytest.raises(HandposeError, match=match):
        load_config("tiny", [override])


def test_batch_must_split_over_devices():
    with pytest.raises(HandposeError, match="divisible by devices"):
        load_config("tiny", ["train.batch_size=5", "train.devices=2"])


def test_overrides_types_and_nulls():
    cfg = load_config(
        "tiny",
        {"train.grad_clip": None, "train.lr": 1, "distill.weights": {"pose": 2}, "seed": 7},
    )
    assert cfg.train.grad_clip is None and cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.distill.weights == {"pose": 2.0} and cfg.seed == 7
    with pytest.raises(HandposeError, match="key=value"):
        apply_overrides({}, ["train.epochs"])
    with pytest.raises(HandposeError, match="not a section"):
        apply_overrides({"seed": 1}, ["seed.x=2"])


def test_round_trip_and_files(tmp_path):
    cfg = load_config("cpu-small", ["distill.variant=dkd", "distill.options={temperature: 2}"])
    assert config_from_dict(config_to_dict(cfg)) == cfg
    path = tmp_path / "exp.yaml"
    save_config(cfg, path)
    assert load_config(path) == cfg
    assert load_config(path, ["train.epochs=1"]).train.epochs == 1


def test_bad_files(tmp_path):
    with pytest.raises(HandposeError, match="neither a preset"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(HandposeError, match="not valid YAML"):
        load_config(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(HandposeError, match="mapping"):
        load_config(lst)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config(empty) == ExperimentConfig()


def test_sensor_set_names():
    assert sensor_set_name(7) == "vihand7"
    assert sensor_set_name("3") == "sparse3" and sensor_set_name(2) == "sparse2"
    assert sensor_set_name("vifnet4") == "vifnet4"


def test_issue16_keys_validate():
    cfg = load_config("tiny", ["data.train_subjects=3", "data.train_gestures=4",
                               "data.eval_subjects=2", "train.steps_per_epoch=7",
                               "teacher.root_skip=true", "train.teacher_epochs=5"])  # fmt: skip
    assert (cfg.data.train_subjects, cfg.data.train_gestures, cfg.data.eval_subjects) == (3, 4, 2)
    assert cfg.train.steps_per_epoch == 7 and cfg.teacher.root_skip
    assert cfg.train.teacher_epochs == 5
    for bad in ("data.train_subjects=0", "data.eval_subjects=-1", "train.steps_per_epoch=0",
                "train.teacher_epochs=0"):  # fmt: skip
        with pytest.raises(HandposeError, match=bad.split("=")[0].split(".")[1]):
            load_config("tiny", [bad])
    for name in PRESETS:  # no preset gives the teacher its own target through a skip
        assert not load_config(name).teacher.input_skip
