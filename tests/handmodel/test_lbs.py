"""The functional core: each fast building block against its naive definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from handpose.geometry.rotations import axis_angle_to_matrix
from handpose.handmodel import lbs
from handpose.handmodel.conventions import MANO_PARENTS

from .mano_fixtures import random_model_data
from .naive_lbs import homogeneous, naive_lbs

f64 = torch.float64


def _arrays(data, dtype=f64):
    return {
        k: torch.as_tensor(getattr(data, k), dtype=dtype)
        for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights")
    }


# ----------------------------------------------------------------------------- Rodrigues
def test_rodrigues_matches_geometry_module_including_tiny_angles():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(50, 3, generator=g, dtype=f64) * 2.0
    w[0] = 0.0
    w[1] = torch.tensor([1e-12, 0.0, 0.0])
    w[2] = torch.tensor([0.0, 3e-5, -1e-5])
    w[3] = torch.tensor([0.0, 0.0, math.pi])
    torch.testing.assert_close(lbs.batch_rodrigues(w), axis_angle_to_matrix(w), atol=1e-12, rtol=0)


def test_rodrigues_large_batch_form_equals_small_batch_form():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(5000, 3, generator=g, dtype=f64) * 2.0
    w[0] = 0.0
    big = lbs.batch_rodrigues(w)  # > 4096 rotations: the pow-free form
    small = torch.cat([lbs.batch_rodrigues(w[:2500]), lbs.batch_rodrigues(w[2500:])])
    torch.testing.assert_close(big, small, atol=1e-15, rtol=0)
    torch.testing.assert_close(big, axis_angle_to_matrix(w), atol=1e-12, rtol=0)


def test_rodrigues_is_orthonormal_float32_and_pins_z_rotation():
    w = torch.randn(7, 5, 3) * 3
    R = lbs.batch_rodrigues(w)
    assert R.shape == (7, 5, 3, 3) and R.dtype == torch.float32
    torch.testing.assert_close(
        R @ R.transpose(-1, -2), torch.eye(3).expand_as(R), atol=1e-5, rtol=0
    )
    # Convention pin: +90° about +z maps +x to +y (column vectors).
    Rz = lbs.batch_rodrigues(torch.tensor([0.0, 0.0, math.pi / 2], dtype=f64))
    torch.testing.assert_close(
        Rz @ torch.tensor([1.0, 0, 0], dtype=f64), torch.tensor([0.0, 1, 0], dtype=f64)
    )


def test_rodrigues_gradcheck_at_zero_and_generic():
    for w in (torch.zeros(2, 3, dtype=f64), torch.randn(4, 3, dtype=f64)):
        assert torch.autograd.gradcheck(lbs.batch_rodrigues, (w.requires_grad_(),))


# ----------------------------------------------------------------------------- pieces
def test_pose_features_layout_pin():
    R = torch.eye(3, dtype=f64).repeat(16, 1, 1)
    R[2] = torch.arange(9, dtype=f64).reshape(3, 3)  # joint 2 (index2)
    f = lbs.pose_features(R)
    assert f.shape == (135,)
    # Entry 9·(k − 1) + 3·i + j = (R_k − I)_ij; joint 2 occupies entries 9..17.
    expected = (R[2] - torch.eye(3, dtype=f64)).reshape(9)
    torch.testing.assert_close(f[9:18], expected)
    assert f[:9].abs().max() == 0 and f[18:].abs().max() == 0


def test_blend_shapes_and_vertices2joints_against_loops():
    data = random_model_data(1, V=40, F=20)
    a = _arrays(data)
    betas = torch.randn(2, 10, dtype=f64)
    d = lbs.blend_shapes(betas, a["shapedirs"])
    ref = torch.stack([sum(a["shapedirs"][:, :, c] * b[c] for c in range(10)) for b in betas])
    torch.testing.assert_close(d, ref)
    # Fewer betas use the leading directions only.
    torch.testing.assert_close(
        lbs.blend_shapes(betas[:, :3], a["shapedirs"]),
        lbs.blend_shapes(
            torch.cat([betas[:, :3], torch.zeros(2, 7, dtype=f64)], 1), a["shapedirs"]
        ),
    )
    J = lbs.vertices2joints(a["J_regressor"], a["v_template"] + d)
    torch.testing.assert_close(J[1], a["J_regressor"] @ (a["v_template"] + d[1]))


def test_joint_shape_space_is_exact():
    data = random_model_data(2, V=60, F=20)
    a = _arrays(data)
    Jt, Js = lbs.joint_shape_space(a["J_regressor"], a["v_template"], a["shapedirs"])
    betas = torch.randn(5, 10, dtype=f64)
    direct = lbs.vertices2joints(
        a["J_regressor"], a["v_template"] + lbs.blend_shapes(betas, a["shapedirs"])
    )
    torch.testing.assert_close(lbs.shaped_joints(betas, Jt, Js), direct, atol=1e-15, rtol=0)


def _sequential_chain(R, J, parents):
    G = []
    for k, p in enumerate(parents):
        L = homogeneous(R[k], J[k] - (J[p] if p >= 0 else 0.0))
        G.append(L if p < 0 else G[p] @ L)
    G = torch.stack(G)
    A = torch.stack([G[k] @ homogeneous(torch.eye(3, dtype=f64), -J[k]) for k in range(len(G))])
    return G, A


def test_level_parallel_chain_equals_sequential_chain():
    R = lbs.batch_rodrigues(torch.randn(16, 3, dtype=f64))
    J = torch.randn(16, 3, dtype=f64) * 0.05
    G, A_ref = _sequential_chain(R, J, MANO_PARENTS)
    A = lbs.rigid_transforms(R, J)
    assert A.shape == (16, 3, 4)
    torch.testing.assert_close(A, A_ref[:, :3, :], atol=1e-14, rtol=0)
    torch.testing.assert_close(lbs.posed_joints(A, J), G[:, :3, 3], atol=1e-14, rtol=0)
    # The generic (non-MANO tree) fallback gives the same for the same tree given as a list.
    torch.testing.assert_close(lbs.rigid_transforms(R, J, torch.tensor(MANO_PARENTS)), A)


def test_generic_tree_fallback():
    parents = (-1, 0, 1, 1, 0)
    R = lbs.batch_rodrigues(torch.randn(5, 3, dtype=f64))
    J = torch.randn(5, 3, dtype=f64)
    _, A_ref = _sequential_chain(R, J, parents)
    torch.testing.assert_close(lbs.rigid_transforms(R, J, parents), A_ref[:, :3, :])
    with pytest.raises(ValueError):
        lbs.rigid_transforms(R, J, (-1, 2, 0, 1, 0))


def test_skin_equals_per_vertex_4x4():
    g = torch.Generator().manual_seed(3)
    V = 30
    W = torch.rand(V, 16, generator=g, dtype=f64)
    W = W / W.sum(1, keepdim=True)
    A = torch.randn(2, 16, 3, 4, generator=g, dtype=f64)
    v = torch.randn(2, V, 3, generator=g, dtype=f64)
    out = lbs.skin(v, W, A)
    A4 = torch.cat([A, torch.tensor([0, 0, 0, 1.0], dtype=f64).expand(2, 16, 1, 4)], dim=2)
    for b in range(2):
        for i in range(V):
            M = sum(W[i, k] * A4[b, k] for k in range(16))
            ref = (M @ torch.cat([v[b, i], torch.ones(1, dtype=f64)]))[:3]
            torch.testing.assert_close(out[b, i], ref, atol=1e-14, rtol=0)
    # 4×4 transforms and broadcasting of a shared rest mesh are accepted too.
    torch.testing.assert_close(
        lbs.skin(v[0], W, A4), torch.stack([lbs.skin(v[0], W, A[i]) for i in range(2)])
    )


@pytest.mark.parametrize("n", [1, 3])
def test_transposed_chain_equals_sequential_chain(n):
    g = torch.Generator().manual_seed(10 + n)
    R = lbs.batch_rodrigues(torch.randn(n, 16, 3, generator=g, dtype=f64))
    J = 0.05 * torch.randn(n, 16, 3, generator=g, dtype=f64)
    AT = lbs.rigid_transforms_t(R, J)
    assert AT.shape == (n, 16, 4, 3)
    for b in range(n):
        _, A_ref = _sequential_chain(R[b], J[b], MANO_PARENTS)
        torch.testing.assert_close(AT[b].mT, A_ref[:, :3, :], atol=1e-14, rtol=0)
    # Flat (N·16, 9) rotations, homogeneous joints and strided joints give the same.
    Jh = torch.cat([J, torch.ones(n, 16, 1, dtype=f64)], dim=-1)
    torch.testing.assert_close(lbs.rigid_transforms_t(R.reshape(-1, 9), Jh), AT)
    wide = torch.cat([J, torch.randn(n, 16, 2, dtype=f64)], dim=-1)[..., :3]
    torch.testing.assert_close(lbs.rigid_transforms_t(R, wide), AT)


@pytest.mark.parametrize("n", [1, 2])
def test_skin_t_equals_skin_and_homogeneous_points(n):
    g = torch.Generator().manual_seed(20 + n)
    W = torch.rand(9, 16, generator=g, dtype=f64)
    W = W / W.sum(1, keepdim=True)
    R = lbs.batch_rodrigues(torch.randn(n, 16, 3, generator=g, dtype=f64))
    J = torch.randn(n, 16, 3, generator=g, dtype=f64)
    v = torch.randn(n, 9, 3, generator=g, dtype=f64)
    AT = lbs.rigid_transforms_t(R, J)
    ref = lbs.skin(v, W, lbs.rigid_transforms(R, J))
    torch.testing.assert_close(lbs.skin_t(v, W, AT), ref, atol=1e-14, rtol=0)
    vh = torch.cat([v, torch.ones(n, 9, 1, dtype=f64)], dim=-1)
    torch.testing.assert_close(lbs.skin_t(vh, W, AT), ref, atol=1e-14, rtol=0)


def test_transposed_chain_and_skin_gradcheck():
    g = torch.Generator().manual_seed(30)
    W = torch.rand(5, 16, generator=g, dtype=f64)
    aa = (0.7 * torch.randn(2, 16, 3, generator=g, dtype=f64)).requires_grad_()
    J = (0.1 * torch.randn(2, 16, 3, generator=g, dtype=f64)).requires_grad_()
    v = torch.randn(2, 5, 3, generator=g, dtype=f64).requires_grad_()

    def f(aa, J, v):
        AT = lbs.rigid_transforms_t(lbs.batch_rodrigues(aa), J)
        return lbs.skin_t(v, W, AT), AT

    assert torch.autograd.gradcheck(f, (aa, J, v))


# ----------------------------------------------------------------------------- whole model
def test_functional_lbs_matches_naive_reference_float64():
    data = random_model_data(4, V=120, F=50)
    a = _arrays(data)
    g = torch.Generator().manual_seed(4)
    go = torch.randn(3, generator=g, dtype=f64)
    hp = 0.5 * torch.randn(45, generator=g, dtype=f64)
    betas = torch.randn(10, generator=g, dtype=f64)
    rot = lbs.batch_rodrigues(torch.cat([go, hp]).view(16, 3))
    out = lbs.lbs(
        betas, rot, a["v_template"], a["shapedirs"], a["posedirs"], a["J_regressor"], a["weights"]
    )
    v_ref, j_ref, r_ref = naive_lbs(data, go, hp, betas)
    torch.testing.assert_close(out.vertices, v_ref, atol=1e-9, rtol=0)
    torch.testing.assert_close(out.joints, j_ref, atol=1e-9, rtol=0)
    torch.testing.assert_close(out.transforms[..., :3, :3], r_ref, atol=1e-12, rtol=0)
    Jt, Js = lbs.joint_shape_space(a["J_regressor"], a["v_template"], a["shapedirs"])
    jo = lbs.lbs_joints(betas, rot, Jt, Js)
    assert jo.vertices is None
    torch.testing.assert_close(jo.joints, out.joints, atol=1e-12, rtol=0)


def test_functional_lbs_gradcheck_small():
    data = random_model_data(5, V=12, F=6)
    a = _arrays(data)
    proj = torch.randn(12, 3, dtype=f64)

    def f(aa, betas):
        rot = lbs.batch_rodrigues(aa.view(16, 3))
        o = lbs.lbs(
            betas,
            rot,
            a["v_template"],
            a["shapedirs"],
            a["posedirs"],
            a["J_regressor"],
            a["weights"],
        )
        return (o.vertices * proj).sum(), o.joints.sum(0)

    aa = (0.3 * torch.randn(48, dtype=f64)).requires_grad_()
    betas = torch.randn(10, dtype=f64).requires_grad_()
    assert torch.autograd.gradcheck(f, (aa, betas))


@settings(max_examples=25, deadline=None)
@given(
    batch=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    scale=st.floats(0.0, 3.0),
    seed=st.integers(0, 2**16),
)
def test_lbs_leading_batch_dims_property(batch, scale, seed):
    data = random_model_data(6, V=16, F=4)
    a = _arrays(data)
    g = torch.Generator().manual_seed(seed)
    shape = tuple(batch)
    aa = scale * torch.randn(shape + (16, 3), generator=g, dtype=f64)
    betas = torch.randn(shape + (10,), generator=g, dtype=f64)
    rot = lbs.batch_rodrigues(aa)
    out = lbs.lbs(
        betas, rot, a["v_template"], a["shapedirs"], a["posedirs"], a["J_regressor"], a["weights"]
    )
    assert out.vertices.shape == shape + (16, 3)
    flat = lbs.lbs(
        betas.reshape(-1, 10), rot.reshape(-1, 16, 3, 3), a["v_template"], a["shapedirs"],
        a["posedirs"], a["J_regressor"], a["weights"],
    )  # fmt: skip
    torch.testing.assert_close(out.vertices.reshape(-1, 16, 3), flat.vertices)
    assert np.isfinite(out.vertices.numpy()).all()


def test_one_hand_level_major_chain_equals_sequential_chain():
    g = torch.Generator().manual_seed(12)
    R = lbs.batch_rodrigues(torch.randn(16, 3, generator=g, dtype=f64))
    J = 0.05 * torch.randn(16, 3, generator=g, dtype=f64)
    _, A_ref = _sequential_chain(R, J, MANO_PARENTS)
    lm = list(lbs.LEVEL_MAJOR)
    assert sorted(lm) == list(range(16)) and lm[:6] == [0, 1, 4, 7, 10, 13]
    AT = lbs.rigid_transforms_1(R[lm].reshape(16, 9), J[lm])
    assert AT.shape == (16, 4, 3)
    torch.testing.assert_close(AT.mT, A_ref[lm, :3, :], atol=1e-14, rtol=0)
    Jh = torch.cat([J, torch.ones(16, 1, dtype=f64)], dim=-1)
    torch.testing.assert_close(lbs.rigid_transforms_1(R[lm].reshape(16, 9), Jh[lm]), AT)
    aa = (0.7 * torch.randn(16, 3, generator=g, dtype=f64)).requires_grad_()
    Jg = J.clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda a, j: lbs.rigid_transforms_1(lbs.batch_rodrigues(a[lm]).reshape(16, 9), j[lm]),
        (aa, Jg),
    )
