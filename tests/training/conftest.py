"""Shared fixtures: a stick-hand model file, a tiny IMU file and the tiny config using them."""

import pytest
import torch

from handpose.training import load_config
from training.tinydata import write_imu_file, write_stick_hand

# One intra-op thread: the tiny tensors here run ~40× faster than with 2 contended threads.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("mgdhand_tiny")
    hand = write_stick_hand(root / "stick.npz")
    data = write_imu_file(root / "tiny.h5", hand, frames=24, train_sequences=4)
    return {"hand": hand, "data": data}


@pytest.fixture
def tiny_cfg(tiny_files):
    def make(*overrides):
        return load_config("tiny", [f"hand_model={tiny_files['hand']}", *overrides])

    return make
