"""Evaluation reports: Markdown + JSON + pictures in a folder, atomic, readable back."""

import json

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.metrics.protocols import evaluate_predictions
from handpose.reports.evaluation import (
    load_evaluation_result,
    plot_group_means,
    plot_pck_curves,
    write_evaluation_report,
)

PNG = b"\x89PNG\r\n\x1a\n"


def _result(vertices=True, protocol="freihand"):
    rng = np.random.default_rng(0)
    gj = rng.normal(size=(6, 2, 21, 3)) * 0.04 + [0.0, 0.0, 0.6]
    gv = rng.normal(size=(6, 2, 40, 3)) * 0.04 + [0.0, 0.0, 0.6]
    targets = {"joints3d": gj, "vertices": gv, "hand_valid": np.array([[1, 0]] * 6, bool)}
    preds = {"joints3d": gj + rng.normal(size=gj.shape) * 0.01}
    if vertices:
        preds["vertices"] = gv + rng.normal(size=gv.shape) * 0.01
    return evaluate_predictions(protocol, preds, targets)


def test_report_folder_contents(tmp_path):
    res = _result()
    files = write_evaluation_report(res, tmp_path / "eval", title="Baseline on FreiHAND")
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == [
        "eval.json",
        "eval.md",
        "eval_groups.png",
        "eval_pck.png",
    ]
    for p in (files.groups_plot, files.pck_plot):
        assert p.read_bytes()[:8] == PNG
    md = files.markdown.read_text()
    assert md.startswith("## Baseline on FreiHAND")
    assert f"| {res['pa_mpjpe']:.2f} |" in md  # the headline row
    assert "![PCK curves](eval_pck.png)" in md and "| tip |" in md
    data = json.loads(files.json.read_text())
    assert data["format"] == "handpose-eval" and data["protocol"] == "freihand"
    assert data["metrics"]["pa_mpjpe"] == pytest.approx(res["pa_mpjpe"])
    assert load_evaluation_result(files.json) == res


def test_absent_mesh_metrics_are_null_in_json_and_named_in_markdown(tmp_path):
    res = _result(vertices=False)
    files = write_evaluation_report(res, tmp_path, name="joints_only", plots=False)
    data = json.loads(files.json.read_text())  # strict JSON: no NaN anywhere
    assert data["metrics"]["pa_mpvpe"] is None
    assert data["absent"]["pa_mpvpe"] == "prediction has no vertices"
    assert "— (prediction has no vertices)" in files.markdown.read_text()
    assert files.groups_plot is None and sorted(p.name for p in tmp_path.iterdir()) == [
        "joints_only.json",
        "joints_only.md",
    ]


def test_interhand_report(tmp_path):
    res = _result(protocol="interhand")
    files = write_evaluation_report(res, tmp_path)
    md = files.markdown.read_text()
    assert "MPJPE interacting" in md and "root-relative (official)" in md
    assert load_evaluation_result(files.json).metrics == res.metrics


def test_plots_compare_methods(tmp_path):
    a, b = _result(), _result(vertices=False)
    p = plot_group_means(
        {"with mesh": a.groups["pa_mpjpe"], "joints only": b.groups["pa_mpjpe"]},
        tmp_path / "groups.svg",
    )
    assert p.read_text().lstrip().startswith("<?xml")
    q = plot_pck_curves({"A": a.pck["pa_mpjpe"], "B": b.pck["pa_mpjpe"]}, tmp_path / "pck.png")
    assert q.read_bytes()[:8] == PNG
    with pytest.raises(HandposeError):
        plot_group_means({}, tmp_path / "x.png")
    with pytest.raises(HandposeError, match="thresholds_mm"):
        plot_pck_curves({"bad": {"pck": [0.1]}}, tmp_path / "x.png")


def test_bad_input_leaves_nothing_behind(tmp_path):
    res = _result()
    with pytest.raises(HandposeError, match="plain file stem"):
        write_evaluation_report(res, tmp_path, name="../x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(HandposeError, match="not a folder"):
        write_evaluation_report(res, tmp_path / "file")
    with pytest.raises(HandposeError, match="ProtocolResult"):
        write_evaluation_report({"pa_mpjpe": 1.0}, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
    with pytest.raises(HandposeError, match="no such file"):
        load_evaluation_result(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text('{"format": "something-else"}')
    with pytest.raises(HandposeError, match="not a handpose evaluation result"):
        load_evaluation_result(tmp_path / "other.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(HandposeError, match="not a readable JSON"):
        load_evaluation_result(tmp_path / "broken.json")
