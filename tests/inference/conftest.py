"""Session fixtures: a tiny MGDHand student checkpoint and a short synthetic IMU file.

The student uses the ``tiny`` preset (open hand model, T = 8, 7 sensors). It is untrained, but
its weights are perturbed so that its outputs depend clearly on the input: plumbing tests
(streaming vs offline, ONNX parity) would prove little on a network that outputs the mean pose
whatever it sees.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

WINDOW = 8  # the tiny preset's T


def _write_student(path: Path, seed: int = 0, kind: str = "student") -> Path:
    from handpose.training.config import load_config
    from handpose.training.modules import StudentModule, TeacherModule

    cfg = load_config("tiny")
    torch.manual_seed(seed)
    module = StudentModule(cfg) if kind == "student" else TeacherModule(cfg)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ckpt = {"state_dict": module.state_dict(), "epoch": 0, "global_step": 0}
    module.on_save_checkpoint(ckpt)  # the training code's own metadata and key layout
    torch.save(ckpt, path)
    return path


@pytest.fixture(scope="session")
def student_ckpt(tmp_path_factory) -> Path:
    return _write_student(tmp_path_factory.mktemp("ckpt") / "student.ckpt")


@pytest.fixture(scope="session")
def teacher_ckpt(tmp_path_factory) -> Path:
    return _write_student(tmp_path_factory.mktemp("ckpt") / "teacher.ckpt", kind="teacher")


@pytest.fixture(scope="session")
def imu_h5(tmp_path_factory) -> Path:
    """One subject, two test sequences of 45 frames (1.5 s), simulated with noise."""
    from handpose.simulators.synth import SynthConfig, synthesize_file

    path = tmp_path_factory.mktemp("data") / "synth.h5"
    cfg = SynthConfig(
        subjects=1,
        sequences=("ROM13_Finger_Interlocking", "ROM14_Random_Gestures"),
        frames_per_sequence=45,
        seed=3,
    )
    synthesize_file(cfg, path)
    return path
