"""MGDHand on the harness reproduces the pre-harness numbers for the same seed.

The constants were recorded on main before the harness existed (commit 30658e5, the old
``train_teacher`` / ``train_student`` path): the ``tiny`` preset on the tiny IMU fixture
(``tests/training/conftest.py``: stick hand, 24-frame sequences), 3 epochs, MGDistill, sparse3
student, one torch thread.
"""

import pytest

from handpose.training import evaluate, harness, load_mgdhand, read_checkpoint

pytestmark = pytest.mark.slow

RECORDED = {
    "teacher": {
        "mpjpe_mm": 60.25081228960069,
        "pa_mpjpe_mm": 20.341953904125912,
        "mpvpe_mm": 57.27677791629003,
        "pa_mpvpe_mm": 17.783584163250477,
    },
    "student": {
        "mpjpe_mm": 64.56618217958345,
        "pa_mpjpe_mm": 21.211071240638073,
        "mpvpe_mm": 61.45943374727509,
        "pa_mpvpe_mm": 18.534738030457692,
    },
}


def test_same_metrics_as_before_the_harness(tiny_files, tmp_path):
    cfg = harness.load_method_config(
        "mgdhand",
        "tiny",
        [f"hand_model={tiny_files['hand']}", "train.epochs=3", "distill.variant=mgdistill",
         "data.student_sensors=sparse3"],
    )  # fmt: skip
    paths = harness.train("mgdhand", cfg, tiny_files["data"], tmp_path / "run")
    assert set(paths) == {"teacher", "student"}
    for stage, recorded in RECORDED.items():
        res = evaluate(paths[stage], tiny_files["data"], progress=False)
        for key, value in recorded.items():
            assert res[key] == pytest.approx(value, rel=1e-5, abs=1e-4), (stage, key)
    # the checkpoints stay readable by the MGDHand loaders, with the harness's metadata added
    meta = read_checkpoint(paths["student"])["handpose"]
    assert meta["format"] == "handpose-mgdhand" and meta["kind"] == "student"
    assert meta["method"] == "mgdhand" and meta["stage"] == "student"
    assert meta["requires"]["teacher"]["checkpoint"] == str(paths["teacher"])
    assert meta["teacher_checkpoint"] == str(paths["teacher"])
    student, _ = load_mgdhand(paths["student"])
    model, meta2 = harness.load_model(paths["student"], "mgdhand", "student")
    assert type(model) is type(student) and meta2["student_sensors"] == ["thumb", "index", "back"]
    assert not any(
        k.startswith("teacher.") for k in read_checkpoint(paths["student"])["state_dict"]
    )
