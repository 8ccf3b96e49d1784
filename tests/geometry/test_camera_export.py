"""The closed-form 3×3 inverse behind back-projection, and ONNX export of the camera ops."""

import io
import warnings

import numpy as np
import torch

from handpose.geometry.camera import backproject, inverse_3x3, root_depth_from_bone


def test_inverse_3x3_matches_linalg_inv():
    g = torch.Generator().manual_seed(0)
    K = torch.randn(4, 5, 3, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(inverse_3x3(K), torch.linalg.inv(K), rtol=1e-10, atol=1e-10)
    intr = torch.tensor([[500.0, 2.0, 320.0], [0.0, 480.0, 240.0], [0.0, 0.0, 1.0]])
    torch.testing.assert_close(inverse_3x3(intr) @ intr, torch.eye(3), rtol=0, atol=1e-6)
    K = K.requires_grad_()
    assert torch.autograd.gradcheck(lambda k: inverse_3x3(k), (K[0, :2],))


def test_back_projection_exports_to_onnx():
    import onnxruntime as ort

    class Lift(torch.nn.Module):
        def forward(self, uv, z, K):
            root = root_depth_from_bone(uv, z, K, 0.09, (0, 1))
            return backproject(uv, z + root[..., None], K)

    uv = torch.tensor([[[320.0, 240.0], [350.0, 260.0], [300.0, 200.0]]])
    z = torch.tensor([[0.0, 0.01, -0.02]])
    K = torch.tensor([[[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]])
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Lift(), (uv, z, K), buf, dynamo=False, opset_version=17)
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    (got,) = sess.run(None, dict(zip(names, (uv.numpy(), z.numpy(), K.numpy()))))
    np.testing.assert_allclose(got, Lift()(uv, z, K).numpy(), rtol=1e-5, atol=1e-6)
