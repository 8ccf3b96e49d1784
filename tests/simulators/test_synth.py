"""The synthetic dataset pipeline: motion → hand model → IMU, end to end."""

import numpy as np
import pytest
import torch

from handpose.formats.imu_file import ImuFile
from handpose.geometry.rotations import axis_angle_to_matrix, quaternion_to_matrix
from handpose.handmodel import HandModel
from handpose.simulators.imu.noise import NoiseConfig
from handpose.simulators.synth import ImuSynthesizer, SynthConfig, synthesize_file
from tests.simulators.standin import stick_hand_data


@pytest.fixture(scope="module")
def model():
    return HandModel(stick_hand_data())


@pytest.fixture(scope="module", params=["stick", "open"])
def any_model(request):
    return HandModel(stick_hand_data() if request.param == "stick" else "open")


def _cfg(**kw):
    base = dict(
        subjects=2, sequences=("ROM02_Finger_Bending", "ROM15_Calibration"), frames_per_sequence=90
    )
    base.update(kw)
    return SynthConfig(**base)


def test_ideal_sensors_follow_their_bones(any_model):
    model = any_model
    s = ImuSynthesizer(_cfg(noise=NoiseConfig.off()), model)
    motion = s.motion(1, "ROM02_Finger_Bending")
    rec = s.simulate(motion)
    R = quaternion_to_matrix(torch.as_tensor(rec.quaternion, dtype=torch.float64))
    R_root = axis_angle_to_matrix(torch.as_tensor(motion.global_orient))
    back, wrist = rec.sensor_names.index("back"), rec.sensor_names.index("wrist")
    torch.testing.assert_close(R[:, back], R_root, atol=1e-5, rtol=0)
    torch.testing.assert_close(R[:, wrist], R_root, atol=1e-5, rtol=0)
    out = model(
        global_orient=torch.as_tensor(motion.global_orient, dtype=torch.float32),
        hand_pose=torch.as_tensor(motion.hand_pose, dtype=torch.float32),
        betas=torch.as_tensor(motion.betas, dtype=torch.float32),
        return_vertices=False,
    )
    torch.testing.assert_close(R[:, 1].float(), out.global_rotations[:, 3], atol=1e-5, rtol=0)
    # |free acceleration| of a hand is far below g; specific force ≈ g at the static holds.
    assert np.abs(rec.free_acceleration).max() < 30
    calib = s(1, "ROM15_Calibration")
    norms = np.linalg.norm(calib.specific_force[:, back], axis=-1)
    assert abs(np.median(norms) - 9.81) < 0.2
    np.testing.assert_allclose(
        rec.joints21, out.joints21.numpy() + motion.transl[:, None], atol=1e-5
    )


def test_records_are_deterministic_and_independent_of_the_job_list(model):
    a = ImuSynthesizer(_cfg(), model)(2, "ROM15_Calibration")
    b = ImuSynthesizer(_cfg(sequences=("ROM15_Calibration",), subjects=3), model)(
        2, "ROM15_Calibration"
    )
    c = ImuSynthesizer(_cfg(seed=1), model)(2, "ROM15_Calibration")
    for f in ("hand_pose", "quaternion", "specific_force", "free_acceleration", "angular_velocity"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
        assert not np.array_equal(getattr(a, f), getattr(c, f)), f


def test_file_metadata_and_bit_identical_files(model, tmp_path):
    p1, p2 = tmp_path / "a.h5", tmp_path / "b.h5"
    n = synthesize_file(_cfg(), p1, model)
    synthesize_file(_cfg(), p2, model, workers=2)
    assert n == 2 * 2 * 90
    assert p1.read_bytes() == p2.read_bytes()  # same seed, same bytes (whatever the workers)
    with ImuFile(p1) as f1, ImuFile(p2) as f2:
        attrs = f1.attrs
        assert attrs["mano_flat_hand_mean"] is True or attrs["mano_flat_hand_mean"] == 1
        assert attrs["gravity"] == [0.0, -9.81, 0.0] and attrs["seed"] == 0
        assert attrs["layout"] == "vihand7" and attrs["hand_model"] == "stick"
        assert "generator_version" in attrs and "units" in attrs
        for (s, q), (s2, q2) in zip(f1.keys(), f2.keys()):
            r1, r2 = f1.read(s, q), f2.read(s2, q2)
            assert np.array_equal(r1.specific_force, r2.specific_force)


def test_interrupted_generation_leaves_no_file(model, tmp_path, monkeypatch):
    out = tmp_path / "synth.h5"
    calls = {"n": 0}
    orig = ImuSynthesizer.simulate

    def boom(self, motion):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed mid-generation")
        return orig(self, motion)

    monkeypatch.setattr(ImuSynthesizer, "simulate", boom)
    with pytest.raises(RuntimeError, match="killed"):
        synthesize_file(_cfg(), out, model)
    assert calls["n"] == 3
    assert list(tmp_path.iterdir()) == []  # neither OUT nor a temporary file


def test_worker_processes_give_the_same_records(model):
    from handpose.simulators.synth import iter_records

    cfg = _cfg(subjects=1)
    one = list(iter_records(cfg, model, workers=1))
    two = list(iter_records(cfg, model, workers=2))
    assert [r.key for r in one] == [r.key for r in two]
    for a, b in zip(one, two):
        for f in ("hand_pose", "joints21", "quaternion", "specific_force", "angular_velocity"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
