"""The hand model layer traced for ONNX at one batch size runs at others: no size baked in.

As a video model calls it (PGTE's VIBE-style baseline): features (B, T, F) flattened to B·T
hands, a MANO parameter head (6D rotations, shape, camera) and the layer on the batch-last
skinning path (B·T = 8 ≥ ``batch_last_from`` at the traced B = 2), then onnxruntime at
B = 1, 3 and 5. Before the layer stopped baking sizes in, B = 1 failed in a Reshape."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch

from handpose.handmodel import HandModel
from handpose.models.heads.mano import ManoParameterHead

ort = pytest.importorskip("onnxruntime")
T, F = 4, 16


class _Video(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.head = ManoParameterHead(F, HandModel("open", side="right"), hidden=(32,))
        with torch.no_grad():  # visible articulation, not the near-identity initialisation
            self.head.out.weight.normal_(0.0, 0.3)

    def forward(self, feats):
        out = self.head(feats.flatten(0, 1))
        return out.joints21, out.vertices, out.rotmats


def _feats(n: int) -> torch.Tensor:
    return torch.randn(n, T, F, generator=torch.Generator().manual_seed(n))


def test_onnx_trace_at_one_batch_runs_at_others():
    model = _Video().float().eval()
    assert 2 * T >= model.head.hand_model.batch_last_from
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (_feats(2),), buf, dynamo=False, input_names=["f"],
            output_names=["j", "v", "r"], dynamic_axes={k: {0: "n"} for k in "fjvr"},
        )  # fmt: skip
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    for n in (1, 3, 5):
        with torch.no_grad():
            ref = model(_feats(n))
        got = session.run(None, {"f": _feats(n).numpy()})
        for a, b in zip(ref, got):
            assert b.shape == tuple(a.shape)
            np.testing.assert_allclose(b, a.numpy(), atol=1e-5)
