"""ONNX export of EHPE: onnxruntime parity with a dynamic batch, full and TW-only graphs."""

import pytest
import torch

from handpose.errors import HandposeError
from handpose.models.ehpe import EHPE
from handpose.models.ehpe.export import export_ehpe_onnx, onnx_parity
from tests.models.ehpe.helpers import tiny

pytest.importorskip("onnxruntime")


def _trained_like(model):
    """Perturb the zero-initialised output layers so that every branch moves the output."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model.eval()


@pytest.mark.parametrize(
    "pg", [{}, pytest.param({"edge_weights": "fixed", "init": "token"}, marks=pytest.mark.slow)]
)
def test_full_graph_matches_torch(tmp_path, pg):
    torch.manual_seed(0)
    model = _trained_like(EHPE(tiny(pg=pg), 64))
    path = tmp_path / "ehpe.onnx"
    data = export_ehpe_onnx(model, path)
    assert path.read_bytes() == data
    par = onnx_parity(model, data)
    assert par.samples == 3
    assert par.uv_px < 1e-3 and par.z_mm < 1e-3
    assert not model.training


@pytest.mark.slow
def test_tw_graph_and_bad_part():
    torch.manual_seed(0)
    model = _trained_like(EHPE(tiny(), 64))
    par = onnx_parity(model, export_ehpe_onnx(model, part="tw"), part="tw")
    assert par.tw_cells < 1e-4 and par.uv_px is None
    with pytest.raises(HandposeError, match="part must be"):
        export_ehpe_onnx(model, part="pg")
    with pytest.raises(HandposeError, match="no TW-stage"):
        export_ehpe_onnx(EHPE(tiny(tw_joints="none"), 64), part="tw")
