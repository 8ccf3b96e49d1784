"""ONNX export: parity with torch (≤ 0.01 mm), metadata, standalone .onnx inference."""

import numpy as np
import onnx
import pytest

import handpose.cli as cli
from handpose.errors import HandposeError
from handpose.inference.api import load_estimator, load_student
from handpose.inference.onnx_export import (
    PARITY_TOLERANCE_MM,
    export_onnx,
    onnx_parity_mm,
    random_imu_windows,
    read_onnx_spec,
    student_to_onnx,
)

from .standins import random_motion


@pytest.fixture(scope="module")
def exported(student_ckpt, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "student.onnx"
    report = export_onnx(student_ckpt, path, num_windows=16)
    return path, report


def test_export_parity_and_metadata(exported, student_ckpt):
    path, report = exported
    assert report.max_joint_diff_mm is not None
    assert report.max_joint_diff_mm <= PARITY_TOLERANCE_MM
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert [o.name for o in model.graph.output] == ["rotmats", "betas", "joints"]
    spec = read_onnx_spec(path)
    _, ckpt_spec = load_student(student_ckpt)
    assert spec == ckpt_spec


def test_parity_on_fresh_windows_and_batch_sizes(exported, student_ckpt):
    path, _ = exported
    student, spec = load_student(student_ckpt)
    for b, seed in ((1, 7), (5, 8)):  # the batch axis is dynamic
        windows = random_imu_windows(spec, b, seed=seed)
        assert onnx_parity_mm(student, str(path), windows) <= PARITY_TOLERANCE_MM


def test_parity_check_detects_a_different_model(student_ckpt):
    # The check can fail: a perturbed student's ONNX disagrees with the original by far more
    # than the tolerance.
    import torch

    student, spec = load_student(student_ckpt)
    data = student_to_onnx(student, spec)
    with torch.no_grad():
        student.mano_head.pose[3].bias.add_(0.2)
    assert onnx_parity_mm(student, data, random_imu_windows(spec, 4)) > 1.0


def test_streaming_with_standalone_onnx_matches_torch(exported, student_ckpt):
    path, _ = exported
    torch_stream = load_estimator(student_ckpt).stream()
    onnx_stream = load_estimator(path).stream()  # backend chosen from the suffix
    assert onnx_stream.estimator.info["backend"] == "onnx"
    q, a = random_motion(12)
    for t in range(12):
        jt = torch_stream.push(q[t], a[t]).joints
        jo = onnx_stream.push(q[t], a[t]).joints
        assert np.abs(jt - jo).max() * 1000 <= PARITY_TOLERANCE_MM


def test_cli_export_then_infer_with_the_onnx_file(student_ckpt, imu_h5, tmp_path, capsys):
    out = tmp_path / "s.onnx"
    assert cli.main(["export", "onnx", "--checkpoint", str(student_ckpt), "--out", str(out)]) == 0
    assert "max joint difference" in capsys.readouterr().out
    poses = tmp_path / "p.npz"
    seq = "ROM14_Random_Gestures"
    argv = ["infer", "imu", imu_h5, "--checkpoint", out, "--out", poses, "--sequence", seq]
    assert cli.main([str(x) for x in argv]) == 0
    assert "onnx backend" in capsys.readouterr().out
    with np.load(poses) as z:
        assert z["joints"].shape == (45, 21, 3)


def test_onnx_file_without_metadata_is_refused(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(HandposeError, match="not a handpose student"):
        load_estimator(path)
    with pytest.raises(HandposeError, match="runs with --backend onnx"):
        load_estimator(path, backend="torch")


def test_int8_export_is_marked_and_close(student_ckpt, tmp_path):

    # The fixture student is barely trained, so int8 moves its joints more than a trained
    # model's (0.01–0.23 mm in docs/benchmarks/inference.md), and by how much depends on the
    # CPU's int8 kernels and on the student's architecture (1.3–2.5 mm before issue 16's
    # paper-sized student, 5.8 mm with it, on an AVX2-only AMD EPYC; the default
    # INT8_TOLERANCE_MM is 1 mm): the export is checked against a looser bound here.
    report = export_onnx(
        student_ckpt, tmp_path / "q.onnx", int8=True, num_windows=8, tolerance_mm=10.0
    )
    assert report.spec.precision == "int8" and "int8" in report.summary()
    assert read_onnx_spec(tmp_path / "q.onnx").precision == "int8"
    # Quantisation changes the numbers (so this is not the exact path) but stays close.
    assert 0.0 < report.max_joint_diff_mm <= 10.0
    q, a = random_motion(3)
    pose = load_estimator(tmp_path / "q.onnx").stream().push(q[0], a[0])
    assert np.isfinite(pose.joints).all()
