"""Root-relative IMU tokens: formulas, invariances, and the TransPose root convention."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from handpose.datasets.normalize import imu_tokens, imu_tokens_from_quaternion
from handpose.geometry.rotations import axis_angle_to_matrix, matrix_to_quaternion

F64 = torch.float64


def _random(seed, N=7, T=5):
    g = torch.Generator().manual_seed(seed)
    R = axis_angle_to_matrix(torch.randn(T, N, 3, generator=g, dtype=F64))
    a = torch.randn(T, N, 3, generator=g, dtype=F64) * 5
    return R, a


def naive_tokens(R, a, root, scale):
    T, N = a.shape[:2]
    out = torch.zeros(T, N, 12, dtype=R.dtype)
    for t in range(T):
        Rr, ar = R[t, root], a[t, root]
        for i in range(N):
            if i == root:
                rot, acc = Rr, Rr.T @ ar
            else:
                rot, acc = Rr.T @ R[t, i], Rr.T @ (a[t, i] - ar)
            out[t, i, :9] = rot.reshape(9)
            out[t, i, 9:] = acc / scale
    return out


def test_matches_the_naive_formulas():
    R, a = _random(0)
    torch.testing.assert_close(
        imu_tokens(R, a, root=5, acc_scale=20.0), naive_tokens(R, a, 5, 20.0)
    )
    torch.testing.assert_close(imu_tokens(R, a, root=0, acc_scale=1.0), naive_tokens(R, a, 0, 1.0))


def test_quaternion_entry_point():
    R, a = _random(1)
    torch.testing.assert_close(
        imu_tokens_from_quaternion(matrix_to_quaternion(R), a, 5), imu_tokens(R, a, 5)
    )


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_leaf_tokens_are_invariant_to_a_world_rotation(seed):
    # Leaf tokens only depend on the hand's own motion, not on where the IMUs' world frame
    # points: R → QR, a → Qa leaves R̄ and ā of the leaves unchanged.
    R, a = _random(seed)
    Q = axis_angle_to_matrix(
        torch.randn(3, generator=torch.Generator().manual_seed(seed + 1), dtype=F64)
    )
    x = imu_tokens(R, a, 5)
    y = imu_tokens(Q @ R, (Q @ a[..., None])[..., 0], 5)
    leaves = [0, 1, 2, 3, 4, 6]
    torch.testing.assert_close(x[:, leaves], y[:, leaves])
    torch.testing.assert_close(x[:, 5, 9:], y[:, 5, 9:])  # R_rootᵀa_root too
    assert not torch.allclose(x[:, 5, :9], y[:, 5, :9])  # the root keeps its global R


def test_float32_and_batch_dims():
    R, a = _random(2)
    out = imu_tokens(R.float()[None], a.float()[None], 5)
    assert out.shape == (1, 5, 7, 12) and out.dtype == torch.float32
