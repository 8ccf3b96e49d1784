"""ONNX export of image models: parity with torch on the baseline (tiny preset) and every toy
kind, metadata that lets the estimator run the file alone, and refusals."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.inference.image import ImagePoseEstimator
from handpose.inference.image_model import ImageModelSpec
from handpose.inference.image_onnx import (
    export_image_onnx,
    image_model_to_onnx,
    image_onnx_parity,
    read_image_onnx_spec,
)


@pytest.fixture(scope="module")
def baseline_onnx(ckpts, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "baseline.onnx"
    report = export_image_onnx(ckpts["baseline"], out)
    return out, report


def test_baseline_export_parity_and_metadata(baseline_onnx):
    path, report = baseline_onnx
    assert path.is_file() and report.size_bytes == path.stat().st_size
    assert set(report.max_diff) == {"joints3d", "joints2d"}
    for name, (absolute, relative) in report.max_diff.items():
        assert relative <= 1e-4, (name, absolute, relative)
    spec = read_image_onnx_spec(path)
    assert spec.method == "baseline" and spec.stage == "main" and spec.input_size == 64
    assert spec.hands == 1 and spec.window == 1 and spec.outputs == ("joints3d", "joints2d")
    assert spec.normalization["mean"] == [0.485, 0.456, 0.406] and spec.pad == 1.3
    assert spec.config["model"]["backbone"] == "mobilenetv3_small_050"


def test_onnx_estimator_matches_torch(baseline, baseline_onnx, image):
    onnx_est = ImagePoseEstimator.load(baseline_onnx[0])
    assert onnx_est.backend.name == "onnxruntime"
    boxes = [(40, 30, 90, 80), (-10, 60, 50, 130)]
    a = baseline.predict(image, box=boxes, side=["left", "right"])
    b = onnx_est.predict(image, box=boxes, side=["left", "right"])
    for ha, hb in zip(a.hands, b.hands):
        np.testing.assert_allclose(hb.joints3d, ha.joints3d, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(hb.joints2d, ha.joints2d, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("kind", ["two_hands", "weak", "right_only", "video"])
def test_every_model_kind_exports_with_parity(ckpts, kind, tmp_path):
    report = export_image_onnx(ckpts[kind], tmp_path / f"{kind}.onnx")
    assert all(rel <= 1e-4 for _, rel in report.max_diff.values())
    spec = read_image_onnx_spec(tmp_path / f"{kind}.onnx")
    assert spec.method == f"toy-{kind}"
    assert spec.hands == (2 if kind == "two_hands" else 1)
    assert spec.window == (3 if kind == "video" else 1)
    assert spec.input_sides == ("right" if kind == "right_only" else "any")


def test_checkpoint_with_the_onnx_backend(ckpts, baseline, image):
    est = ImagePoseEstimator.load(ckpts["two_hands"], backend="onnx")
    ref = ImagePoseEstimator.load(ckpts["two_hands"])
    a = est.predict(image, box=(20, 20, 120, 100)).hands
    b = ref.predict(image, box=(20, 20, 120, 100)).hands
    for ha, hb in zip(a, b):
        np.testing.assert_allclose(ha.vertices, hb.vertices, atol=1e-5)
        np.testing.assert_allclose(ha.mano["hand_pose"], hb.mano["hand_pose"], atol=1e-5)


def test_parity_failure_writes_nothing(ckpts, tmp_path, monkeypatch):
    import handpose.inference.image_onnx as mod

    out = tmp_path / "model.onnx"
    out.write_bytes(b"previous")
    monkeypatch.setattr(
        mod, "image_onnx_parity", lambda *a, **k: {"joints3d": (0.5, 0.4), "joints2d": (0, 0)}
    )
    with pytest.raises(HandposeError, match=r"0.5 in joints3d.*not written"):
        export_image_onnx(ckpts["baseline"], out)
    assert out.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_parity_measures_real_differences(ckpts):
    """A graph exported from different weights is caught by the parity check."""
    from handpose.inference.image_model import load_image_model

    model, spec, _ = load_image_model(ckpts["weak"])
    data = image_model_to_onnx(model, spec)
    with torch.no_grad():
        model.out.bias.add_(0.01)
    diffs = image_onnx_parity(model, spec, data)
    assert diffs["joints3d"][1] > 1e-4


def test_onnx_files_without_our_metadata(tmp_path, student_onnx):
    plain = tmp_path / "plain.onnx"
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(torch.nn.Linear(2, 2), (torch.zeros(1, 2),), buf, dynamo=False)
    plain.write_bytes(buf.getvalue())
    with pytest.raises(HandposeError, match="plain.onnx' has no handpose metadata"):
        ImagePoseEstimator.load(plain)
    with pytest.raises(HandposeError, match="not a handpose image model"):
        ImagePoseEstimator.load(student_onnx)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00garbage")
    with pytest.raises(HandposeError, match="junk.onnx' is not a readable ONNX model"):
        ImagePoseEstimator.load(junk)
    with pytest.raises(HandposeError, match="does not exist"):
        ImagePoseEstimator.load(tmp_path / "none.onnx")


def test_spec_json_round_trip_and_checks():
    spec = ImageModelSpec("m", "s", 64, 2, outputs=("joints3d", "joints2d", "vertices"))
    assert ImageModelSpec.from_json(spec.to_json()) == spec
    d = json.loads(spec.to_json())
    d["format_version"] = 99
    with pytest.raises(HandposeError, match="newer handpose"):
        ImageModelSpec.from_json(json.dumps(d))
    d["format_version"], d["hands"] = 1, 3
    with pytest.raises(HandposeError, match="inconsistent"):
        ImageModelSpec.from_json(json.dumps(d))


def test_parity_refuses_non_finite_outputs_on_both_sides(ckpts):
    """inf or NaN in torch and onnxruntime alike cannot be compared: an infinite difference,
    not a NaN that max() would drop (which let such an export pass)."""
    from handpose.inference.image_model import load_image_model

    model, spec, _ = load_image_model(ckpts["weak"])
    with torch.no_grad():
        model.out.bias.fill_(float("inf"))
    data = image_model_to_onnx(model, spec)
    diffs = image_onnx_parity(model, spec, data)
    assert diffs["joints3d"][1] == float("inf")
