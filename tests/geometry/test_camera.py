"""Pinhole projection, back-projection and the 2.5D (u, v, z_rel) + z_root representation."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from handpose.errors import HandposeError
from handpose.geometry import backproject, project, uvz_to_xyz, xyz_to_uvz

K = torch.tensor([[500.0, 0.0, 320.0], [0.0, 400.0, 240.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def test_pin_hand_computed_projection():
    # u = fx·x/z + cx = 500·0.1/0.5 + 320 = 420; v = fy·y/z + cy = 400·(−0.05)/0.5 + 240 = 200
    uv = project(torch.tensor([[0.1, -0.05, 0.5]], dtype=torch.float64), K)
    torch.testing.assert_close(uv, torch.tensor([[420.0, 200.0]], dtype=torch.float64))
    # The principal point projects from the optical axis at any depth.
    axis = torch.tensor([[0.0, 0.0, 0.3], [0.0, 0.0, 7.0]], dtype=torch.float64)
    torch.testing.assert_close(
        project(axis, K), torch.tensor([[320.0, 240.0]] * 2, dtype=torch.float64)
    )
    # A skew term adds s·y/z to u.
    Ks = K.clone()
    Ks[0, 1] = 10.0
    uv = project(torch.tensor([[0.1, -0.05, 0.5]], dtype=torch.float64), Ks)
    torch.testing.assert_close(uv, torch.tensor([[419.0, 200.0]], dtype=torch.float64))


def test_pin_backprojection_and_2p5d_formula():
    xyz = backproject(
        torch.tensor([[420.0, 200.0]], dtype=torch.float64),
        torch.tensor([0.5], dtype=torch.float64),
        K,
    )
    torch.testing.assert_close(xyz, torch.tensor([[0.1, -0.05, 0.5]], dtype=torch.float64))
    # (x, y, z) = (z_rel + z_root)·K⁻¹(u, v, 1): the pixel (420, 200) at z_root 0.4, z_rel 0.1.
    out = uvz_to_xyz(
        torch.tensor([[420.0, 200.0]], dtype=torch.float64),
        torch.tensor([0.1], dtype=torch.float64),
        torch.tensor(0.4, dtype=torch.float64),
        K,
    )
    torch.testing.assert_close(out, xyz)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), root=st.integers(0, 20))
def test_round_trips(seed, root):
    rng = np.random.default_rng(seed)
    xyz = rng.normal(size=(3, 21, 3)) * 0.05
    xyz[..., 2] += rng.uniform(0.3, 2.0, size=(3, 1))
    x = torch.from_numpy(xyz)
    Kb = K.expand(3, 3, 3).clone()
    Kb[:, 0, 0] = torch.from_numpy(rng.uniform(200, 1500, size=3))
    uv = project(x, Kb)
    torch.testing.assert_close(backproject(uv, x[..., 2], Kb), x, atol=1e-12, rtol=0)
    out = xyz_to_uvz(x, Kb, root=root)
    assert out.uv.shape == (3, 21, 2) and out.z_rel.shape == (3, 21) and out.z_root.shape == (3,)
    torch.testing.assert_close(out.z_rel[:, root], torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(uvz_to_xyz(out.uv, out.z_rel, out.z_root, Kb), x, atol=1e-12, rtol=0)
    # (..., 1) root depths are accepted as well as (...).
    torch.testing.assert_close(
        uvz_to_xyz(out.uv, out.z_rel, out.z_root[:, None], Kb), x, atol=1e-12, rtol=0
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtypes_and_batch_dims(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 21, 3, generator=g, dtype=dtype) * 0.05
    x[..., 2] += 0.6
    uv = project(x, K.to(dtype))
    assert uv.shape == (2, 4, 21, 2) and uv.dtype == dtype
    back = backproject(uv, x[..., 2], K.to(dtype))
    torch.testing.assert_close(back, x, atol=1e-5 if dtype == torch.float32 else 1e-12, rtol=0)


def test_gradcheck():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, 3, generator=g, dtype=torch.float64) * 0.05
    x[..., 2] += 0.5
    x.requires_grad_()
    Kg = K.clone().requires_grad_()
    assert torch.autograd.gradcheck(project, (x, Kg))
    uv = project(x, K).detach().requires_grad_()
    z_rel = (x[..., 2] - x[..., :1, 2]).detach().requires_grad_()
    z_root = x[:, 0, 2].detach().requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b, c: uvz_to_xyz(a, b, c, K), (uv, z_rel, z_root))


def test_bad_input_raises_user_error():
    with pytest.raises(HandposeError):
        project(torch.zeros(5, 2), K)
    with pytest.raises(HandposeError):
        project(torch.zeros(5, 3), torch.eye(4))
    with pytest.raises(HandposeError):
        backproject(torch.zeros(5, 2), torch.zeros(4), K)
    with pytest.raises(HandposeError):
        xyz_to_uvz(torch.zeros(5, 3), K, root=5)
