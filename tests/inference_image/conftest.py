"""Session fixtures for image / video inference: checkpoints, estimators, pictures, a video.

Checkpoints are written without training (``image_models``): a randomly initialised baseline
of the ``tiny`` preset, and toy models of every other output kind registered with the harness.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from inference_image.image_models import (
    register_toy_methods,
    write_baseline_checkpoint,
    write_toy_checkpoint,
)

torch.set_num_threads(1)
register_toy_methods()  # every process (xdist worker) needs the toy methods registered


@pytest.fixture(scope="session")
def ckpts(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("image_ckpts")
    out = {"baseline": write_baseline_checkpoint(root / "baseline.ckpt")}
    for kind in ("two_hands", "weak", "right_only", "video"):
        out[kind] = write_toy_checkpoint(root / f"{kind}.ckpt", kind)
    return out


@pytest.fixture(scope="session")
def baseline(ckpts):
    from handpose.inference.image import ImagePoseEstimator

    return ImagePoseEstimator.load(ckpts["baseline"])


def picture(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    """A smooth colourful picture (blobs), so that resizing and flips matter."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for _ in range(12):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(5, 30)
        col = rng.uniform(0, 1, 3)
        img += col * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[..., None]
    img += 0.1 * rng.random((h, w, 3))
    return (255 * img / img.max()).astype(np.uint8)


@pytest.fixture(scope="session")
def image() -> np.ndarray:
    return picture()


@pytest.fixture(scope="session")
def student_ckpt(tmp_path_factory) -> Path:
    """An MGDHand IMU student (the wrong kind of checkpoint for image inference)."""
    from inference.conftest import _write_student

    return _write_student(tmp_path_factory.mktemp("imu") / "student.ckpt")


@pytest.fixture(scope="session")
def student_onnx(student_ckpt) -> Path:
    from handpose.inference.onnx_export import export_onnx

    out = student_ckpt.parent / "student.onnx"
    export_onnx(student_ckpt, out, verify=False)
    return out
