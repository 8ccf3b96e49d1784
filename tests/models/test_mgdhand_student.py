"""MGDHand student: IMU-only input, 7/3/2 sensors, priors at the teacher's sizes, SimKD head."""

import inspect

import pytest
import torch

from handpose.models.mgdhand import (
    JointLift,
    MGDHandStudent,
    MGDHandTeacher,
    NetworkConfig,
    PriorConfig,
)
from models.fakes import FakeHandModel, random_batch

NET = NetworkConfig(dim=16, depth=1, num_heads=2, mlp_ratio=2.0, head_hidden=16)
T_NET = NetworkConfig(dim=24, depth=1, num_heads=2, mlp_ratio=2.0, head_hidden=12)
PRIORS = PriorConfig(shape_dim=6, pose_dim=7, motion_dim=5)


def make_student(num_imus=7, **kw):
    torch.manual_seed(0)
    return MGDHandStudent(
        NET, PRIORS, num_imus=num_imus, maxlen=8, hand_model=FakeHandModel(), **kw
    )


@pytest.mark.parametrize("num_imus", [7, 3, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_for_7_3_2_imus(num_imus, dtype):
    student = make_student(num_imus).to(dtype)
    imu = random_batch(num_imus=num_imus, frames=5, dtype=dtype)["imu"]
    out = student(imu)
    assert out.rotmats.shape == (2, 5, 16, 3, 3) and out.rotmats.dtype == dtype
    assert out.betas.shape == (2, 10)
    assert out.joints.shape == (2, 5, 21, 3)
    assert out.vertices.shape == (2, 5, 40, 3)
    assert out.features.shape == (2, 5, 16, 16)
    assert {k: tuple(v.shape) for k, v in out.priors.items()} == {
        "shape": (2, 6),
        "pose": (2, 5, 16, 7),
        "motion": (2, 5, 16, 5),
    }
    assert out.aux == {}


def test_forward_takes_only_imu():
    params = list(inspect.signature(MGDHandStudent.forward).parameters)
    # vertex_ids (phase 2) picks which mesh vertices to skin and priors switches the
    # distillation-only heads off: output options, not inputs.
    # encoder swaps in another implementation of the same encoder (the inference path's
    # lockstep encoder): also not an input.
    assert params == ["self", "imu", "return_vertices", "vertex_ids", "priors", "encoder"]


def test_inference_without_prior_heads_equals_full_forward():
    torch.manual_seed(0)
    model = MGDHandStudent(
        NET, PRIORS, num_imus=3, maxlen=8, hand_model=FakeHandModel(), root_index=2
    ).eval()
    imu = torch.randn(2, 5, 3, 12)
    full = model(imu, return_vertices=False)
    lean = model(imu, return_vertices=False, priors=False)
    assert lean.priors == {} and set(full.priors) == {"shape", "pose", "motion"}
    torch.testing.assert_close(lean.joints, full.joints, rtol=0, atol=0)
    torch.testing.assert_close(lean.rotmats, full.rotmats, rtol=0, atol=0)


def test_wrong_sensor_count_raises():
    with pytest.raises(ValueError, match="3 IMU tokens"):
        make_student(3)(random_batch(num_imus=7)["imu"])


def test_lift_gives_one_token_per_joint_from_all_sensors():
    torch.manual_seed(0)
    lift = JointLift(16, 2, 2.0).eval()
    sensors = torch.randn(1, 4, 3, 16)
    out = lift(sensors)
    assert out.shape == (1, 4, 16, 16)
    # Per frame: changing one sensor in frame 1 changes all 16 joint tokens of frame 1 only.
    s2 = sensors.clone()
    s2[0, 1, 2] += torch.randn(16)
    diff = (lift(s2) - out).abs().amax(-1)[0]
    assert (diff[1] > 1e-6).all() and (diff[[0, 2, 3]] < 1e-7).all()


def test_prior_heads_act_along_their_axis():
    student = make_student(3).eval()
    x = torch.randn(1, 5, 16, 16)
    x2 = x.clone()
    x2[0, 2, 4] += torch.randn(16)
    pose = (student.pose_head(x2) - student.pose_head(x)).abs().amax(-1)[0]
    assert (pose[2] > 1e-6).all() and (pose[[0, 1, 3, 4]] < 1e-7).all()  # joints of frame 2
    motion = (student.motion_head(x2) - student.motion_head(x)).abs().amax(-1)[0]
    assert (motion[:, 4] > 1e-6).all()  # joint 4 in every frame
    motion[:, 4] = 0
    assert (motion < 1e-7).all()
    shape = student.shape_head(x)
    assert shape.shape == (1, 6)
    assert not torch.allclose(student.shape_head(x2), shape)


def test_simkd_student_reuses_the_frozen_teacher_head():
    torch.manual_seed(1)
    teacher = MGDHandTeacher(T_NET, PRIORS, maxlen=8, hand_model=FakeHandModel())
    with torch.no_grad():
        for p in teacher.mano_head.parameters():
            p.add_(0.1 * torch.randn_like(p))
    student = make_student(7, head="teacher", teacher_dim=24, teacher_head_hidden=12)
    student.load_teacher_head(teacher.mano_head)
    assert all(not p.requires_grad for p in student.mano_head.parameters())
    for k, v in teacher.mano_head.state_dict().items():
        assert torch.equal(student.mano_head.state_dict()[k], v)
    out = student(random_batch()["imu"])
    assert out.features.shape == (2, 8, 16, 24)  # projected to the teacher width
    pose6d, betas = teacher.mano_head(out.features)
    assert torch.allclose(out.pose6d, pose6d) and torch.allclose(out.betas, betas)
    out.joints.sum().backward()
    assert student.simkd_projector.net[0].weight.grad is not None
    assert all(p.grad is None for p in student.mano_head.parameters())


def test_simkd_needs_teacher_sizes_and_own_head_refuses_copy():
    with pytest.raises(ValueError, match="teacher_dim"):
        make_student(7, head="teacher")
    with pytest.raises(ValueError, match="head='teacher'"):
        make_student(7).load_teacher_head(None)
    with pytest.raises(ValueError, match="head must be"):
        make_student(7, head="shared")


# -- phase 2: the root-orientation skip ------------------------------------------------------
def _rotation(angle, axis):
    from handpose.geometry.rotations import axis_angle_to_matrix

    return axis_angle_to_matrix(torch.tensor(axis, dtype=torch.float32) * angle)


def test_root_skip_starts_at_the_root_imu_orientation():
    student = make_student(3, root_index=1)
    b = random_batch(num_imus=3)
    imu = b["imu"].clone()
    rot = _rotation(0.7, [0.0, 0.6, 0.8])
    imu[:, :, 1, :9] = rot.reshape(9)  # the root token's R, row-major
    out = student(imu)
    assert (out.rotmats[:, :, 0] - rot).abs().max() < 0.05  # global orientation ≈ R_root
    assert (out.rotmats[:, :, 1:] - torch.eye(3)).abs().max() < 0.05  # fingers ≈ flat
    # The base reads only the root token's rotation (6D = its first two rows).
    base = student.base_pose6d(imu)
    assert torch.equal(base[:, :, 0], imu[:, :, 1, :6])
    assert torch.equal(base[:, :, 1:], torch.tensor([1.0, 0, 0, 0, 1, 0]).expand_as(base[:, :, 1:]))
    assert make_student(3).base_pose6d(imu) is None
    with pytest.raises(ValueError, match="root_index"):
        make_student(3, root_index=3)


def test_root_skip_index_from_the_config():
    from handpose.training.config import load_config
    from handpose.training.factory import build_student, student_sensor_indices

    for sensors in ("vihand7", "sparse3", "sparse2"):
        cfg = load_config("tiny", [f"data.student_sensors={sensors}", "student.root_skip=true"])
        student = build_student(cfg, hand_model=FakeHandModel())
        names = ["thumb", "index", "middle", "ring", "pinky", "back", "wrist"]
        picked = [names[i] for i in student_sensor_indices(cfg)]
        assert picked[student.root_index] == "back"
    assert build_student(load_config("tiny"), hand_model=FakeHandModel()).root_index is None
