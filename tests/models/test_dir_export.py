"""DIR's own ONNX graph (:mod:`handpose.models.dir.export`): onnxruntime parity, the file's
metadata, no file when the check fails, and the caller's network left in eval mode."""

import json

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.models.dir import DIRNetwork
from handpose.models.dir.export import (
    METADATA_KEY,
    ONNX_OUTPUTS,
    DIRExport,
    dir_to_onnx,
    export_dir_onnx,
)

from .test_dir_network import TINY

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported():
    torch.manual_seed(0)
    net = DIRNetwork(TINY).eval()
    early = DIRExport(net)  # a wrapper made before the export, as the benchmark does
    return net, early, dir_to_onnx(net)


def _training_modules(module: torch.nn.Module) -> list[str]:
    return [n for n, m in module.named_modules() if m.training]


def test_export_leaves_the_network_and_earlier_wrappers_in_eval_mode(exported):
    # torch.onnx.export restores the exported module's mode recursively; before the fix the
    # wrapper was in training mode, so every export switched the network to training mode
    net, early, _ = exported
    assert _training_modules(net) == [] and _training_modules(early) == []
    assert _training_modules(DIRExport(DIRNetwork(TINY))) == []


@pytest.mark.parametrize("batch", [1, 3])
def test_onnxruntime_matches_torch_through_a_wrapper_made_before_the_export(exported, batch):
    net, early, data = exported
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    x = torch.randn(batch, 3, 64, 64, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        ref = [t.numpy() for t in early(x)]
    got = sess.run(list(early.output_names), {"image": x.numpy()})
    assert [o.name for o in sess.get_outputs()] == list(ONNX_OUTPUTS)
    for name, a, b in zip(ONNX_OUTPUTS, got, ref):
        assert a.shape == b.shape, name
    assert np.abs(got[0] - ref[0]).max() * 1000 < 0.01  # joints, mm (before the fix: 1-8 mm)


def test_export_writes_a_verified_file_with_its_config(tmp_path):
    torch.manual_seed(1)
    net = DIRNetwork(TINY).eval()
    report = export_dir_onnx(net, tmp_path / "dir.onnx", num_images=2)
    assert report.max_diff_mm is not None and report.max_diff_mm < 0.01
    assert (
        "parity" in report.summary() and report.size_bytes == (tmp_path / "dir.onnx").stat().st_size
    )
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "dir.onnx")).metadata_props}
    info = json.loads(meta[METADATA_KEY])
    assert info["method"] == "dir" and info["config"]["image_size"] == 64
    assert _training_modules(net) == []
    # a failed check writes nothing
    with pytest.raises(HandposeError, match="was not written"):
        export_dir_onnx(net, tmp_path / "bad.onnx", num_images=1, tolerance_mm=-1.0)
    assert not (tmp_path / "bad.onnx").exists()
