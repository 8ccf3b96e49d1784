"""Small backbones + a 2.5D heatmap head (and feature sampling) export to ONNX (legacy
exporter, opset 17) and match onnxruntime to 1e-4 (max |difference| / max(1, max |output|)). The big backbones are exported and
compared in benchmarks/bench_backbones.py (docs/benchmarks/backbones.md)."""

import io

import numpy as np
import pytest
import torch
from torch import nn

from handpose.models.backbones import ViT, create_backbone
from handpose.models.backbones.base import ViTBackbone
from handpose.models.heads import HeatmapHead25D, sample_points

ort = pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning"
)


class Estimator(nn.Module):
    """Backbone → the coarsest level → 2.5D head; features sampled at the decoded joints."""

    def __init__(self, backbone, depth_bins=4):
        super().__init__()
        self.backbone = backbone
        stride = backbone.strides[-1]
        self.head = HeatmapHead25D(
            backbone.channels[-1],
            5,
            in_stride=stride,
            num_deconv=2,
            hidden=16,
            depth_bins=depth_bins,
        )
        self.finest = backbone.strides[0]

    def forward(self, x):
        feats = self.backbone(x)
        out = self.head(feats[-1])
        tokens = sample_points(feats[0], out.uv, self.finest)
        return out.uv, out.z, out.logits, tokens


def _parity(model, x):
    model = model.eval()
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            model,
            (x,),
            buf,
            dynamo=False,
            opset_version=17,
            input_names=["image"],
            output_names=["uv", "z", "logits", "tokens"],
            dynamic_axes={"image": {0: "batch"}},
        )
        sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
        for batch in (x, torch.cat([x, x.flip(0), x], 0)):  # the batch axis is dynamic
            want = model(batch)
            got = sess.run(None, {"image": batch.numpy()})
            for name, w, g in zip(["uv", "z", "logits", "tokens"], want, got):
                # absolute for O(1) outputs, relative to the scale of pixel-valued ones (uv up
                # to 64 px: float32 rounding alone is ~1e-5 there)
                err = float(np.abs(w.numpy() - g).max()) / max(1.0, float(w.abs().max()))
                assert err <= 1e-4, (name, err)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["efficientnet_lite0", "mobilenetv3_small_050", "resnet18"])
def test_cnn_backbones_export(name):
    torch.manual_seed(0)
    # eval-mode BN of an untrained net blows activations up; real weights keep them O(1)
    model = Estimator(create_backbone(name))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.fill_(4.0)
    _parity(model, torch.randn(2, 3, 96, 96))


def test_vitpose_vit_exports():
    torch.manual_seed(0)
    vit = ViT(img_size=64, embed_dim=32, depth=2, num_heads=4)
    with torch.no_grad():
        vit.pos_embed.normal_(std=0.5)
    backbone = ViTBackbone("vit_small_test", vit)
    model = Estimator(backbone)
    model.head.final.weight.data.normal_(std=0.1)  # a non-flat volume
    _parity(model, torch.randn(2, 3, 64, 64))
