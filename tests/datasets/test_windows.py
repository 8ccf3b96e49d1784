"""Windowed dataset: item contract, splits by gesture, sensor subsets, masks, and no-leak."""

import dataclasses
import shutil

import h5py
import numpy as np
import pytest
import torch

from handpose.datasets.normalize import imu_tokens_from_quaternion
from handpose.datasets.windows import (
    ImuWindowDataset,
    rom_number,
    sequence_split,
    teacher_mask,
)
from handpose.errors import HandposeError
from handpose.formats.imu_file import read_sequences
from handpose.geometry.rotations import axis_angle_to_matrix, rotation_6d_to_matrix
from handpose.handmodel import HandModel
from handpose.simulators.synth import SynthConfig, synthesize_file
from tests.simulators.standin import stick_hand_data

SEQS = (
    "ROM01_Finger_Counting",
    "ROM02_Finger_Bending",
    "ROM13_Finger_Interlocking",
    "ROM15_Calibration",
)
KEYS = {"imu", "pose6d", "pose_aa", "betas", "joints", "mask", "subject", "sequence"}


@pytest.fixture(scope="module")
def synth_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("synth") / "s.h5"
    cfg = SynthConfig(subjects=2, sequences=SEQS, frames_per_sequence=80, seed=3)
    synthesize_file(cfg, path, HandModel(stick_hand_data()))
    return path


def test_item_contract(synth_file):
    ds = ImuWindowDataset(synth_file, window=32, stride=16, split="all")
    # 80 frames, T = 32, stride 16 → starts 0, 16, 32, 48 → 4 windows × 8 sequences.
    assert len(ds) == 4 * 8
    item = ds[3]
    assert set(item) == KEYS
    assert item["imu"].shape == (32, 7, 12) and item["imu"].dtype == torch.float32
    assert item["pose6d"].shape == (32, 16, 6) and item["pose_aa"].shape == (32, 16, 3)
    assert item["betas"].shape == (10,) and item["joints"].shape == (32, 21, 3)
    assert item["mask"].shape == (32, 16) and item["mask"].dtype == torch.bool
    assert isinstance(item["subject"], int) and isinstance(item["sequence"], str)
    # pose6d and pose_aa agree; joints are wrist-relative.
    torch.testing.assert_close(
        rotation_6d_to_matrix(item["pose6d"]),
        axis_angle_to_matrix(item["pose_aa"]),
        atol=1e-5,
        rtol=0,
    )
    assert item["joints"][:, 0].abs().max() == 0
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["imu"].shape == (4, 32, 7, 12) and len(batch["sequence"]) == 4


def test_imu_tokens_come_from_the_files_imu_data(synth_file):
    ds = ImuWindowDataset(synth_file, window=20, stride=20, split=["ROM02_Finger_Bending"])
    with h5py.File(synth_file) as h:
        g = h["sequences/subject01/ROM02_Finger_Bending/imu"]
        q, a = torch.from_numpy(g["quaternion"][()]), torch.from_numpy(g["free_acceleration"][()])
    expected = imu_tokens_from_quaternion(q, a, root=5)
    assert torch.equal(ds[1]["imu"], expected[20:40])


def test_split_by_gesture(synth_file):
    train = ImuWindowDataset(synth_file, split="train")
    test = ImuWindowDataset(synth_file, split="test")
    tr = {train[i]["sequence"] for i in range(len(train))}
    te = {test[i]["sequence"] for i in range(len(test))}
    assert tr == {"ROM01_Finger_Counting", "ROM02_Finger_Bending"}
    assert te == {"ROM13_Finger_Interlocking", "ROM15_Calibration"}
    assert sequence_split("ROM12_Finger_Crossing") == "train" and rom_number("rom07") == 7
    with pytest.raises(HandposeError):
        sequence_split("ROM16_Extra")
    with pytest.raises(HandposeError, match="split"):
        ImuWindowDataset(synth_file, split="val")


def test_subject_and_gesture_subsets(synth_file):
    """The data-size study's filters: the N lowest subject ids, the N lowest-numbered gestures."""
    full = ImuWindowDataset(synth_file, split="train")
    subjects = sorted({full[i]["subject"] for i in range(len(full))})
    assert len(subjects) == 2
    one = ImuWindowDataset(synth_file, split="train", subjects=1)
    assert {one[i]["subject"] for i in range(len(one))} == {subjects[0]}
    assert len(one) == len(full) // 2
    g = ImuWindowDataset(synth_file, split="train", gestures=1)
    assert {g[i]["sequence"] for i in range(len(g))} == {"ROM01_Finger_Counting"}
    t = ImuWindowDataset(synth_file, split="test", subjects=1, gestures=1)
    assert {(t[i]["subject"], t[i]["sequence"]) for i in range(len(t))} == {
        (subjects[0], "ROM13_Finger_Interlocking")
    }
    assert len(ImuWindowDataset(synth_file, split="train", subjects=5)) == len(full)
    with pytest.raises(HandposeError, match="subjects"):
        ImuWindowDataset(synth_file, subjects=0)


def test_sensor_subsets(synth_file):
    ds = ImuWindowDataset(synth_file, sensors="sparse3", split="test")
    assert ds.sensor_names == ("thumb", "index", "back") and ds[0]["imu"].shape == (32, 3, 12)
    full = ImuWindowDataset(synth_file, split="test")
    # The root (back) token is the same; leaves are the same sensors relative to it.
    torch.testing.assert_close(ds[0]["imu"][:, 2], full[0]["imu"][:, 5])
    torch.testing.assert_close(ds[0]["imu"][:, :2], full[0]["imu"][:, :2])
    two = ImuWindowDataset(synth_file, sensors=["back", "index"], split="test")
    assert two.sensor_names == ("index", "back")
    with pytest.raises(HandposeError, match="not in"):
        ImuWindowDataset(synth_file, sensors=["elbow"])


def test_masks_are_deterministic_and_have_rate_p(synth_file):
    a = ImuWindowDataset(synth_file, split="all", seed=1, p_mask=0.3)
    b = ImuWindowDataset(synth_file, split="all", seed=1, p_mask=0.3)
    c = ImuWindowDataset(synth_file, split="all", seed=2, p_mask=0.3)
    assert torch.equal(a[5]["mask"], b[5]["mask"]) and not torch.equal(a[5]["mask"], c[5]["mask"])
    a.set_epoch(1)
    assert not torch.equal(a[5]["mask"], b[5]["mask"])
    # Rate: P(masked) = 1 − (1 − p)² for joint-wise OR frame-wise Bernoulli(p).
    g = torch.Generator().manual_seed(0)
    m = torch.stack([teacher_mask(32, 0.3, g) for _ in range(400)])
    assert abs(m.float().mean().item() - (1 - 0.7**2)) < 0.01
    whole = m.all(-1).float().mean().item()  # whole frames masked ≈ p (+ p^16 joint-wise)
    assert abs(whole - 0.3) < 0.02
    assert not ImuWindowDataset(synth_file, split="all", p_mask=0.0)[0]["mask"].any()


def test_no_leak_changing_labels_leaves_student_inputs_identical(synth_file, tmp_path):
    leaked = tmp_path / "labels_changed.h5"
    shutil.copy(synth_file, leaked)
    rng = np.random.default_rng(0)
    with h5py.File(leaked, "r+") as h:
        for s in h["sequences"]:
            for q in h["sequences"][s]:
                g = h["sequences"][s][q]
                for name in ("global_orient", "hand_pose", "betas", "transl", "joints21"):
                    g[name][...] = rng.normal(size=g[name].shape)
    a = ImuWindowDataset(synth_file, split="all", seed=0)
    b = ImuWindowDataset(leaked, split="all", seed=0)
    assert len(a) == len(b)
    for i in range(len(a)):
        x, y = a[i], b[i]
        assert torch.equal(x["imu"], y["imu"])  # bit-identical student inputs
        assert not torch.equal(x["pose_aa"], y["pose_aa"])  # while the labels did change
        assert not torch.equal(x["joints"], y["joints"])


def test_short_sequences_are_skipped_and_bad_args_rejected(synth_file):
    assert len(ImuWindowDataset(synth_file, window=81, split="all")) == 0
    assert len(ImuWindowDataset(synth_file, window=80, split="all")) == 8
    with pytest.raises(HandposeError):
        ImuWindowDataset(synth_file, window=0)
    with pytest.raises(HandposeError):
        ImuWindowDataset(synth_file, p_mask=1.5)
    with pytest.raises(IndexError):
        ImuWindowDataset(synth_file, split="all")[10_000]


def test_custom_layout_root_is_used(tmp_path):
    from handpose.geometry.rotations import quaternion_to_matrix
    from handpose.simulators.imu.layouts import custom_layout

    lay = custom_layout("two", [("palm", 0, "back"), ("tip", 3, "dorsal_tip:index")], root="palm")
    path = tmp_path / "c.h5"
    cfg = SynthConfig(
        subjects=1, sequences=("ROM13_Finger_Interlocking",), frames_per_sequence=40, layout=lay
    )
    synthesize_file(cfg, path, HandModel(stick_hand_data()))
    ds = ImuWindowDataset(path, window=40, split="test")
    assert ds.sensor_names == ("palm", "tip")
    with h5py.File(path) as h:
        q = torch.from_numpy(h["sequences/subject01/ROM13_Finger_Interlocking/imu/quaternion"][()])
        assert h["sequences/subject01/ROM13_Finger_Interlocking"].attrs["root"] == "palm"
    # The root token (index 0) keeps the palm sensor's global rotation.
    torch.testing.assert_close(ds[0]["imu"][:, 0, :9], quaternion_to_matrix(q[:, 0]).flatten(-2))


def test_refuses_files_with_hands_mean_relative_poses(tmp_path):
    import h5py

    from handpose.datasets.windows import ImuWindowDataset
    from handpose.errors import HandposeError
    from handpose.simulators.synth import SynthConfig, synthesize_file

    path = tmp_path / "s.h5"
    synthesize_file(
        SynthConfig(subjects=1, sequences=("ROM01_Finger_Counting",), frames_per_sequence=40), path
    )
    assert len(ImuWindowDataset(path, split="all")) > 0
    with h5py.File(path, "r+") as f:
        f.attrs["mano_flat_hand_mean"] = False
    with pytest.raises(HandposeError, match="hands_mean"):
        ImuWindowDataset(path, split="all")


def test_frame_rate_is_recorded_and_must_be_one(synth_file):
    records = read_sequences(synth_file)
    assert ImuWindowDataset(records, split="all").fps == records[0].fps == 30.0
    mixed = [records[0], dataclasses.replace(records[1], fps=60.0)]
    with pytest.raises(HandposeError, match="60 fps, others at 30 fps"):
        ImuWindowDataset(mixed, split="all")
