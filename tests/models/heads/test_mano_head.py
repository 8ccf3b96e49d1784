"""MANO parameter head: 6D → rotations → the hand model; consistent with the axis-angle path."""

import pytest
import torch

from handpose.errors import HandposeError
from handpose.geometry import matrix_to_rotation_6d, rotation_6d_to_matrix
from handpose.handmodel import HandModel
from handpose.models.heads import ManoParameterHead


@pytest.fixture(scope="module")
def hand():
    return HandModel("open")


def test_initialisation_is_the_flat_mean_hand(hand):
    head = ManoParameterHead(16, hand, hidden=(32,), camera_init=(7.0, 0.01, -0.02))
    with torch.no_grad():
        head.out.weight.zero_()  # only the bias is left: the documented starting point
        out = head(torch.randn(4, 16))
    flat = hand(hand_pose=torch.zeros(1, 45))
    torch.testing.assert_close(out.rotmats, torch.eye(3).expand(4, 16, 3, 3))
    torch.testing.assert_close(out.joints21, flat.joints21.expand(4, 21, 3))
    torch.testing.assert_close(out.vertices, flat.vertices.expand(4, -1, 3))
    torch.testing.assert_close(out.camera, torch.tensor([7.0, 0.01, -0.02]).expand(4, 3))
    assert out.betas.shape == (4, 10) and out.betas.abs().max() == 0


def test_outputs_match_the_axis_angle_path(hand):
    torch.manual_seed(0)
    head = ManoParameterHead(8, hand, hidden=(), return_vertices=True)
    x = torch.randn(3, 8)
    with torch.no_grad():
        head.out.weight.normal_(std=0.5)
        out = head(x)
        raw = head.out(head.mlp(x))  # layout: 16 × 6D, 10 betas, 3 camera
    assert raw.shape == (3, 96 + 10 + 3)
    torch.testing.assert_close(out.rotmats, rotation_6d_to_matrix(raw[:, :96].reshape(3, 16, 6)))
    torch.testing.assert_close(out.betas, raw[:, 96:106])
    torch.testing.assert_close(out.camera, raw[:, 106:])
    again = hand(global_orient=out.global_orient, hand_pose=out.hand_pose, betas=out.betas)
    torch.testing.assert_close(out.joints21, again.joints21, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.vertices, again.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        rotation_6d_to_matrix(matrix_to_rotation_6d(out.rotmats)), out.rotmats
    )
    assert out.hand_pose.shape == (3, 45) and out.global_orient.shape == (3, 3)


def test_gradients_float64_and_options():
    torch.manual_seed(1)
    head = ManoParameterHead(
        8, "open", hidden=(16,), predict_camera=False, return_vertices=False, num_betas=4
    )
    head = head.double()
    x = torch.randn(2, 8, dtype=torch.float64)
    out = head(x)
    assert out.camera is None and out.vertices is None and out.betas.shape == (2, 4)
    assert out.joints21.dtype == torch.float64
    out.joints21.sum().backward()
    assert head.mlp[0].weight.grad.abs().sum() > 0
    assert not any(k.startswith("hand_model.") for k in head.state_dict())  # model arrays stay out


def test_iterative_error_feedback_against_a_naive_loop(hand):
    torch.manual_seed(2)
    head = ManoParameterHead(8, hand, hidden=(12,), iterations=3, camera_init=(6.0, 0.0, 0.01))
    n_out = 96 + 10 + 3
    assert head.mlp[0].in_features == 8 + n_out  # the features and the current parameters
    assert "init_params" not in head.state_dict()
    x = torch.randn(2, 8)
    with torch.no_grad():
        head.out.weight.zero_()  # zero corrections: the starting vector is the output
        flat = head(x)
        head.out.weight.normal_(std=0.3)
        head.out.bias.normal_(std=0.1)
        out = head(x)
        raw = torch.tensor([1.0, 0, 0, 0, 1, 0] * 16 + [0.0] * 10 + [6.0, 0.0, 0.01]).expand(2, -1)
        for _ in range(3):  # θ_{t+1} = θ_t + Δ([x, θ_t]), written out
            h = torch.relu(x @ head.mlp[0].weight[:, :8].T + raw @ head.mlp[0].weight[:, 8:].T
                           + head.mlp[0].bias)  # fmt: skip
            raw = raw + h @ head.out.weight.T + head.out.bias
    torch.testing.assert_close(flat.rotmats, torch.eye(3).expand(2, 16, 3, 3))
    torch.testing.assert_close(flat.camera, torch.tensor([6.0, 0.0, 0.01]).expand(2, 3))
    torch.testing.assert_close(out.rotmats, rotation_6d_to_matrix(raw[:, :96].reshape(2, 16, 6)))
    torch.testing.assert_close(out.betas, raw[:, 96:106])
    torch.testing.assert_close(out.camera, raw[:, 106:])
    one = ManoParameterHead(8, hand, hidden=(12,), iterations=1)
    assert one.mlp[0].in_features == 8  # the one-shot head keeps its layout


def test_bad_options_and_inputs(hand):
    with pytest.raises(HandposeError, match="iterations"):
        ManoParameterHead(8, hand, iterations=0)
    with pytest.raises(HandposeError, match="num_betas"):
        ManoParameterHead(8, hand, num_betas=11)
    with pytest.raises(HandposeError, match="flat_hand_mean=True"):
        ManoParameterHead(8, HandModel("open", flat_hand_mean=False))
    with pytest.raises(HandposeError, match="camera_init"):
        ManoParameterHead(8, hand, camera_init=(1.0, 0.0))
    with pytest.raises(HandposeError, match=r"\(B, F\)"):
        ManoParameterHead(8, hand)(torch.zeros(2, 8, 1))
