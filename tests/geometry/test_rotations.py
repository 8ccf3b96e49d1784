"""Rotation conversions: round trips, orthonormality, convention pins, gradients."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.transform import Rotation

from handpose.errors import HandposeError
from handpose.geometry import rotations as rot

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}

finite = st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False)
# Axis-angle batches that include exact zeros and tiny angles (the Taylor branches).
small = st.one_of(finite, st.floats(-1e-3, 1e-3), st.just(0.0))
axis_angles = st.integers(1, 6).flatmap(lambda n: arrays(np.float64, (n, 3), elements=small))
quats = st.integers(1, 6).flatmap(
    lambda n: arrays(np.float64, (n, 4), elements=finite).filter(
        lambda a: bool((np.linalg.norm(a, axis=-1) > 1e-3).all())
    )
)
six_d = (
    st.integers(1, 6)
    .flatmap(lambda n: arrays(np.float64, (n, 6), elements=finite))
    .filter(
        lambda a: bool(
            (
                np.linalg.norm(np.cross(a[:, :3], a[:, 3:]), axis=-1) > 1e-2 * (1 + (a * a).sum(-1))
            ).all()
        )
    )
)
SETTINGS = settings(max_examples=40, deadline=None)


def _assert_rotation(R: torch.Tensor, tol: float) -> None:
    eye = torch.eye(3, dtype=R.dtype).expand_as(R)
    assert torch.allclose(R.mT @ R, eye, atol=tol)
    assert torch.allclose(torch.linalg.det(R), torch.ones(R.shape[:-2], dtype=R.dtype), atol=tol)


# --- convention pins (hand-computed constants) -------------------------------------------


def test_pin_positive_rotation_about_z_maps_x_to_y():
    R = rot.axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64))
    expected = torch.tensor(
        [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64
    )
    torch.testing.assert_close(R, expected, atol=1e-15, rtol=0)
    x = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(R @ x, torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))


def test_pin_quaternion_is_scalar_first():
    c = math.cos(math.pi / 4)
    q = rot.axis_angle_to_quaternion(torch.tensor([math.pi / 2, 0.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(q, torch.tensor([c, c, 0.0, 0.0], dtype=torch.float64))
    R = rot.quaternion_to_matrix(q)
    # 90° about x maps y to z.
    torch.testing.assert_close(
        R @ torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64),
        torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64),
    )
    torch.testing.assert_close(rot.matrix_to_quaternion(R), q)


def test_pin_wxyz_xyzw_and_scipy_order():
    q = torch.tensor([0.1, 0.2, 0.3, 0.4])
    torch.testing.assert_close(rot.quaternion_wxyz_to_xyzw(q), torch.tensor([0.2, 0.3, 0.4, 0.1]))
    torch.testing.assert_close(rot.quaternion_xyzw_to_wxyz(q), torch.tensor([0.4, 0.1, 0.2, 0.3]))
    # scipy is scalar-last: the same rotation through both libraries.
    qn = (q / q.norm()).double()
    ours = rot.quaternion_to_matrix(qn).numpy()
    theirs = Rotation.from_quat(rot.quaternion_wxyz_to_xyzw(qn).numpy()).as_matrix()
    np.testing.assert_allclose(ours, theirs, atol=1e-14)


def test_pin_6d_is_first_two_rows():
    R = rot.axis_angle_to_matrix(torch.tensor([0.3, -1.1, 0.7], dtype=torch.float64))
    d6 = rot.matrix_to_rotation_6d(R)
    torch.testing.assert_close(d6, torch.cat([R[0], R[1]]))
    # Hand-computed: the 6D of the +90° z rotation is rows (0,-1,0), (1,0,0).
    Rz = rot.axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64))
    torch.testing.assert_close(
        rot.matrix_to_rotation_6d(Rz),
        torch.tensor([0.0, -1.0, 0.0, 1.0, 0.0, 0.0], dtype=torch.float64),
        atol=1e-15,
        rtol=0,
    )
    # Gram–Schmidt keeps the first row's direction and the second's plane.
    out = rot.rotation_6d_to_matrix(torch.tensor([2.0, 0.0, 0.0, 1.0, 3.0, 0.0]))
    torch.testing.assert_close(out, torch.eye(3))


def test_pin_hamilton_product():
    i = torch.tensor([0.0, 1.0, 0.0, 0.0])
    j = torch.tensor([0.0, 0.0, 1.0, 0.0])
    k = torch.tensor([0.0, 0.0, 0.0, 1.0])
    torch.testing.assert_close(rot.quaternion_multiply(i, j), k)  # ij = k
    torch.testing.assert_close(rot.quaternion_multiply(j, i), -k)


def test_skew_is_cross_product():
    v = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    u = torch.tensor([-0.5, 0.25, 2.0], dtype=torch.float64)
    torch.testing.assert_close(rot.skew(v) @ u, torch.linalg.cross(v, u))
    torch.testing.assert_close(rot.skew(v), -rot.skew(v).T)


# --- properties ----------------------------------------------------------------------------


@SETTINGS
@given(aa=axis_angles)
def test_axis_angle_matrix_matches_scipy_and_round_trips(aa):
    w = torch.from_numpy(aa)
    R = rot.axis_angle_to_matrix(w)
    _assert_rotation(R, 1e-12)
    np.testing.assert_allclose(R.numpy(), Rotation.from_rotvec(aa).as_matrix(), atol=1e-12)
    back = rot.matrix_to_axis_angle(R)
    assert bool((back.norm(dim=-1) <= math.pi + 1e-9).all())
    # Same rotation (axis-angle is unique only modulo 2π).
    torch.testing.assert_close(rot.axis_angle_to_matrix(back), R, atol=1e-10, rtol=0)
    inside = w.norm(dim=-1) < math.pi - 1e-3
    torch.testing.assert_close(back[inside], w[inside], atol=1e-9, rtol=0)


@SETTINGS
@given(q=quats)
def test_quaternion_matrix_round_trip(q):
    qt = torch.from_numpy(q)
    R = rot.quaternion_to_matrix(qt)
    _assert_rotation(R, 1e-12)
    q2 = rot.matrix_to_quaternion(R)
    assert bool((q2[..., 0] >= 0).all())
    qn = rot.standardize_quaternion(qt / qt.norm(dim=-1, keepdim=True))
    # q and −q are the same rotation; at w = 0 the sign is a free choice.
    err = torch.minimum((q2 - qn).abs().amax(-1), (q2 + qn).abs().amax(-1))
    assert float(err.max()) < 1e-9
    np.testing.assert_allclose(
        R.numpy(),
        Rotation.from_quat(rot.quaternion_wxyz_to_xyzw(qt).numpy()).as_matrix(),
        atol=1e-12,
    )


@SETTINGS
@given(aa=axis_angles)
def test_axis_angle_quaternion_round_trip(aa):
    w = torch.from_numpy(aa)
    q = rot.axis_angle_to_quaternion(w)
    torch.testing.assert_close(q.norm(dim=-1), torch.ones(len(aa), dtype=w.dtype))
    torch.testing.assert_close(
        rot.quaternion_to_matrix(q), rot.axis_angle_to_matrix(w), atol=1e-12, rtol=0
    )
    back = rot.quaternion_to_axis_angle(q)
    torch.testing.assert_close(
        rot.axis_angle_to_matrix(back), rot.axis_angle_to_matrix(w), atol=1e-10, rtol=0
    )
    inside = w.norm(dim=-1) < math.pi - 1e-3
    torch.testing.assert_close(back[inside], w[inside], atol=1e-9, rtol=0)


@SETTINGS
@given(x=six_d)
def test_6d_gives_rotations_and_round_trips(x):
    R = rot.rotation_6d_to_matrix(torch.from_numpy(x))
    _assert_rotation(R, 1e-10)
    d6 = rot.matrix_to_rotation_6d(R)
    torch.testing.assert_close(rot.rotation_6d_to_matrix(d6), R, atol=1e-12, rtol=0)


@SETTINGS
@given(q1=quats, q2=quats, v=arrays(np.float64, (3,), elements=finite))
def test_quaternion_algebra_matches_matrices(q1, q2, v):
    n = min(len(q1), len(q2))
    a, b = torch.from_numpy(q1[:n]), torch.from_numpy(q2[:n])
    a, b = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    Ra, Rb = rot.quaternion_to_matrix(a), rot.quaternion_to_matrix(b)
    torch.testing.assert_close(rot.quaternion_to_matrix(rot.quaternion_multiply(a, b)), Ra @ Rb)
    vv = torch.from_numpy(v).expand(n, 3)
    torch.testing.assert_close(rot.quaternion_apply(a, vv), (Ra @ vv[..., None])[..., 0])
    # Leading dims broadcast both ways: n rotations of one point, one rotation of n points.
    torch.testing.assert_close(
        rot.quaternion_apply(a, torch.from_numpy(v)), (Ra @ torch.from_numpy(v))
    )
    torch.testing.assert_close(rot.quaternion_apply(a[:1], vv), (Ra[:1] @ vv[..., None])[..., 0])
    ident = rot.quaternion_multiply(a, rot.quaternion_conjugate(a))
    torch.testing.assert_close(ident, torch.tensor([1.0, 0, 0, 0], dtype=a.dtype).expand(n, 4))
    # Geodesic distance: the angle of RaᵀRb.
    rel = rot.quaternion_multiply(rot.quaternion_conjugate(a), b)
    torch.testing.assert_close(
        rot.geodesic_angle(Ra, Rb),
        rot.quaternion_to_axis_angle(rel).norm(dim=-1),
        atol=1e-7,
        rtol=0,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtypes_and_arbitrary_batch_dims(dtype):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(2, 3, 4, 3, generator=g, dtype=dtype)
    R = rot.axis_angle_to_matrix(w)
    assert R.shape == (2, 3, 4, 3, 3) and R.dtype == dtype
    _assert_rotation(R, TOL[dtype] * 10)
    q = rot.matrix_to_quaternion(R)
    assert q.shape == (2, 3, 4, 4) and q.dtype == dtype
    torch.testing.assert_close(rot.quaternion_to_matrix(q), R, atol=TOL[dtype] * 10, rtol=0)
    d6 = rot.matrix_to_rotation_6d(R)
    assert d6.shape == (2, 3, 4, 6)
    torch.testing.assert_close(rot.rotation_6d_to_matrix(d6), R, atol=TOL[dtype] * 10, rtol=0)
    back = rot.matrix_to_axis_angle(R)
    assert back.shape == w.shape and back.dtype == dtype
    assert rot.geodesic_angle(R, R).shape == (2, 3, 4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_small_angle_branch_is_continuous_and_orthonormal(dtype):
    # Both sides of the Taylor switch (θ² = 1e-4) and far inside it.
    for theta in [0.0, 1e-12, 1e-6, 1e-3, 0.00999, 0.01001, 0.02]:
        w = torch.tensor([theta, -0.5 * theta, 0.25 * theta], dtype=dtype)
        R = rot.axis_angle_to_matrix(w)
        _assert_rotation(R, TOL[dtype])
        ref = Rotation.from_rotvec(w.double().numpy()).as_matrix()
        np.testing.assert_allclose(R.double().numpy(), ref, atol=TOL[dtype])
        torch.testing.assert_close(rot.matrix_to_axis_angle(R), w, atol=TOL[dtype] * 10, rtol=0)
        q = rot.axis_angle_to_quaternion(w)
        torch.testing.assert_close(rot.quaternion_to_axis_angle(q), w, atol=TOL[dtype], rtol=0)


def test_angle_pi_is_recovered():
    for axis in ([1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 0]):
        a = torch.tensor(axis, dtype=torch.float64)
        w = math.pi * a / a.norm()
        back = rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(w))
        assert abs(float(back.norm()) - math.pi) < 1e-7
        # ±π about the same axis are the same rotation.
        assert float(torch.minimum((back - w).abs().max(), (back + w).abs().max())) < 1e-7


# --- gradients -----------------------------------------------------------------------------


def _gc(fn, *inputs):
    return torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-7)


def test_gradcheck_random_inputs():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    q = torch.randn(4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    d6 = torch.randn(4, 6, generator=g, dtype=torch.float64, requires_grad=True)
    R = rot.axis_angle_to_matrix(w.detach()).requires_grad_()
    assert _gc(rot.axis_angle_to_matrix, w)
    assert _gc(rot.axis_angle_to_quaternion, w)
    assert _gc(rot.quaternion_to_matrix, q)
    assert _gc(rot.quaternion_to_axis_angle, q)
    assert _gc(rot.matrix_to_quaternion, R)
    assert _gc(rot.matrix_to_axis_angle, R)
    assert _gc(rot.rotation_6d_to_matrix, d6)
    assert _gc(rot.quaternion_multiply, q, q.detach().flip(0).clone().requires_grad_())
    target = R.detach().flip(0).clone()  # a copy: gradcheck perturbs R in place
    assert _gc(lambda a: rot.geodesic_angle(a, target), R)


def test_gradcheck_at_exactly_zero_angle():
    zero = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    assert _gc(rot.axis_angle_to_matrix, zero)
    assert _gc(rot.axis_angle_to_quaternion, zero)
    ident_q = torch.tensor([[1.0, 0, 0, 0]], dtype=torch.float64, requires_grad=True)
    assert _gc(rot.quaternion_to_axis_angle, ident_q)
    eye = torch.eye(3, dtype=torch.float64).expand(2, 3, 3).clone().requires_grad_()
    assert _gc(rot.matrix_to_axis_angle, eye)
    # The derivative of exp at 0 is the skew map: dR/dω_z · x = e_z × x.
    J = torch.autograd.functional.jacobian(rot.axis_angle_to_matrix, zero.detach()[0])
    torch.testing.assert_close(J[:, :, 2], rot.skew(torch.tensor([0.0, 0, 1], dtype=torch.float64)))
    assert bool(torch.isfinite(J).all())


def test_bad_shapes_raise_user_error():
    with pytest.raises(HandposeError):
        rot.axis_angle_to_matrix(torch.zeros(4))
    with pytest.raises(HandposeError):
        rot.quaternion_to_matrix(torch.zeros(2, 3))
    with pytest.raises(HandposeError):
        rot.rotation_6d_to_matrix(torch.zeros(5))
    with pytest.raises(HandposeError):
        rot.matrix_to_quaternion(torch.zeros(3, 4))
    with pytest.raises(HandposeError):
        rot.quaternion_apply(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(HandposeError):
        rot.quaternion_wxyz_to_xyzw(torch.zeros(3))
