"""Rotation conversions: axis-angle, rotation matrix, quaternion (w first) and 6D.

Conventions (pinned by tests):

- Rotation matrices act on column vectors: ``x' = R @ x``. A positive rotation about +z maps +x to +y.
- Quaternions are ``(w, x, y, z)``, scalar first, like VIHand's ``q_0..q_3`` and most IMU vendors
  (scipy uses ``(x, y, z, w)``; convert with :func:`quaternion_wxyz_to_xyzw`). Hamilton product.
- Axis-angle ``ω`` (a.k.a. rotation vector) has angle ``|ω|`` about axis ``ω/|ω|``.
- The 6D representation (Zhou et al., CVPR 2019) is the first two **rows** of ``R`` flattened,
  as in pytorch3d's ``matrix_to_rotation_6d`` (the convention VIHand's ``mano.json`` was written
  with). Gram–Schmidt maps any non-degenerate 6-vector back to a rotation.

Every function takes any number of leading batch dimensions and works in float32 and float64.
Small angles are handled with Taylor branches instead of ``+eps`` hacks, so values and gradients
are finite at zero and the matrices stay orthonormal.
"""

from __future__ import annotations

import torch
from torch import Tensor

from handpose.errors import HandposeError

__all__ = [
    "skew",
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "quaternion_to_matrix",
    "matrix_to_quaternion",
    "axis_angle_to_quaternion",
    "quaternion_to_axis_angle",
    "rotation_6d_to_matrix",
    "matrix_to_rotation_6d",
    "quaternion_multiply",
    "quaternion_conjugate",
    "quaternion_apply",
    "standardize_quaternion",
    "quaternion_wxyz_to_xyzw",
    "quaternion_xyzw_to_wxyz",
    "geodesic_angle",
]

# Below this squared angle the Taylor branches are used (error terms are O(θ⁶) ≈ 1e-16).
_SMALL_ANGLE_SQ = 1e-4


def _check_last(x: Tensor, shape: tuple[int, ...], name: str) -> None:
    if tuple(x.shape[-len(shape) :]) != shape:
        want = "(..., " + ", ".join(str(s) for s in shape) + ")"
        raise HandposeError(f"{name} must have shape {want}, got {tuple(x.shape)}.")


def skew(v: Tensor) -> Tensor:
    """Cross-product matrix ``[v]ₓ`` with ``[v]ₓ @ u = v × u``.

    Args:
        v: (..., 3)
    Returns:
        (..., 3, 3)
    """
    _check_last(v, (3,), "v")
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(v.shape + (3,))


def axis_angle_to_matrix(axis_angle: Tensor) -> Tensor:
    """Rodrigues' formula ``R = I + a[ω]ₓ + b[ω]ₓ²`` with ``a = sinθ/θ``, ``b = (1−cosθ)/θ²``.

    For θ² < 1e-4 the coefficients come from their Taylor series, so the output is orthonormal
    to machine precision and gradients are finite at ω = 0 (no ``|ω| + 1e-8``).

    Args:
        axis_angle: (..., 3) rotation vectors, radians.
    Returns:
        (..., 3, 3) rotation matrices.

    Example:
        >>> R = axis_angle_to_matrix(torch.tensor([0.0, 0.0, torch.pi / 2]))
        >>> (R @ torch.tensor([1.0, 0.0, 0.0])).round(decimals=6)
        tensor([0., 1., 0.])
    """
    _check_last(axis_angle, (3,), "axis_angle")
    theta_sq = (axis_angle * axis_angle).sum(-1)
    small = theta_sq < _SMALL_ANGLE_SQ
    safe_sq = torch.where(small, torch.ones_like(theta_sq), theta_sq)
    theta = safe_sq.sqrt()
    half = 0.5 * theta
    a_big = torch.sin(theta) / theta
    b_big = 2.0 * (torch.sin(half) / theta) ** 2  # (1 − cos θ)/θ² without cancellation
    a_small = 1.0 - theta_sq / 6.0 + theta_sq * theta_sq / 120.0
    b_small = 0.5 - theta_sq / 24.0 + theta_sq * theta_sq / 720.0
    a = torch.where(small, a_small, a_big)[..., None, None]
    b = torch.where(small, b_small, b_big)[..., None, None]
    K = skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a * K + b * (K @ K)


def quaternion_to_matrix(quaternion: Tensor) -> Tensor:
    """Unit quaternion ``(w, x, y, z)`` → rotation matrix. The input is normalised first.

    Args:
        quaternion: (..., 4), scalar first.
    Returns:
        (..., 3, 3)
    """
    _check_last(quaternion, (4,), "quaternion")
    q = quaternion / quaternion.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    m = torch.stack(
        [
            1 - 2 * (yy + zz),
            2 * (xy - wz),
            2 * (xz + wy),
            2 * (xy + wz),
            1 - 2 * (xx + zz),
            2 * (yz - wx),
            2 * (xz - wy),
            2 * (yz + wx),
            1 - 2 * (xx + yy),
        ],
        dim=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quaternion(matrix: Tensor) -> Tensor:
    """Rotation matrix → unit quaternion ``(w, x, y, z)`` with ``w ≥ 0``.

    Shepperd's method: of the four algebraically equivalent formulas, each sample uses the one
    with the largest denominator, which is well conditioned for every rotation.

    Args:
        matrix: (..., 3, 3)
    Returns:
        (..., 4)
    """
    _check_last(matrix, (3, 3), "matrix")
    m = matrix
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # 4·(w², x², y², z²) from the diagonal.
    four_sq = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22],
        dim=-1,
    )
    r = four_sq.clamp_min(1e-12).sqrt()  # 2·|component|; clamped only to keep sqrt finite
    d21, d02, d10 = (
        m[..., 2, 1] - m[..., 1, 2],
        m[..., 0, 2] - m[..., 2, 0],
        m[..., 1, 0] - m[..., 0, 1],
    )
    s21, s02, s10 = (
        m[..., 2, 1] + m[..., 1, 2],
        m[..., 0, 2] + m[..., 2, 0],
        m[..., 1, 0] + m[..., 0, 1],
    )
    r0, r1, r2, r3 = r.unbind(-1)
    cands = torch.stack(
        [
            torch.stack([r0 * r0, d21, d02, d10], -1) / (2 * r0[..., None]),
            torch.stack([d21, r1 * r1, s10, s02], -1) / (2 * r1[..., None]),
            torch.stack([d02, s10, r2 * r2, s21], -1) / (2 * r2[..., None]),
            torch.stack([d10, s02, s21, r3 * r3], -1) / (2 * r3[..., None]),
        ],
        dim=-2,
    )  # (..., 4 candidates, 4)
    best = four_sq.argmax(dim=-1)
    q = torch.gather(cands, -2, best[..., None, None].expand(best.shape + (1, 4))).squeeze(-2)
    q = q / q.norm(dim=-1, keepdim=True)
    return standardize_quaternion(q)


def standardize_quaternion(quaternion: Tensor) -> Tensor:
    """Flip sign so that ``w ≥ 0`` (q and −q are the same rotation). (..., 4) → (..., 4)."""
    _check_last(quaternion, (4,), "quaternion")
    return torch.where(quaternion[..., :1] < 0, -quaternion, quaternion)


def axis_angle_to_quaternion(axis_angle: Tensor) -> Tensor:
    """(..., 3) → (..., 4) ``(w, x, y, z)`` with ``w = cos(θ/2)``, ``v = sin(θ/2)/θ · ω``."""
    _check_last(axis_angle, (3,), "axis_angle")
    theta_sq = (axis_angle * axis_angle).sum(-1)
    small = theta_sq < _SMALL_ANGLE_SQ
    safe_sq = torch.where(small, torch.ones_like(theta_sq), theta_sq)
    theta = safe_sq.sqrt()
    k_big = torch.sin(0.5 * theta) / theta
    k_small = 0.5 - theta_sq / 48.0 + theta_sq * theta_sq / 3840.0
    k = torch.where(small, k_small, k_big)
    w = torch.where(
        small, 1.0 - theta_sq / 8.0 + theta_sq * theta_sq / 384.0, torch.cos(0.5 * theta)
    )
    return torch.cat([w[..., None], k[..., None] * axis_angle], dim=-1)


def quaternion_to_axis_angle(quaternion: Tensor) -> Tensor:
    """(..., 4) ``(w, x, y, z)`` → (..., 3) with angle in [0, π].

    ``θ = 2·atan2(|v|, w)`` after making ``w ≥ 0``; the factor ``θ/|v|`` uses its series
    ``2/w·(1 − |v|²/(3w²))`` near the identity.
    """
    _check_last(quaternion, (4,), "quaternion")
    q = standardize_quaternion(quaternion / quaternion.norm(dim=-1, keepdim=True))
    w, v = q[..., 0], q[..., 1:]
    n_sq = (v * v).sum(-1)
    small = n_sq < _SMALL_ANGLE_SQ * 1e-2
    safe_sq = torch.where(small, torch.ones_like(n_sq), n_sq)
    n = safe_sq.sqrt()
    f_big = 2.0 * torch.atan2(n, w) / n
    w_safe = torch.where(small, w, torch.ones_like(w))
    f_small = 2.0 / w_safe * (1.0 - n_sq / (3.0 * w_safe * w_safe))
    f = torch.where(small, f_small, f_big)
    return f[..., None] * v


def matrix_to_axis_angle(matrix: Tensor) -> Tensor:
    """(..., 3, 3) → (..., 3), through the quaternion (robust near 0 and π)."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def rotation_6d_to_matrix(rot6d: Tensor) -> Tensor:
    """6D (first two rows of R, pytorch3d convention) → rotation matrix by Gram–Schmidt.

    Args:
        rot6d: (..., 6)
    Returns:
        (..., 3, 3) with rows ``b1, b2, b1 × b2``.
    """
    _check_last(rot6d, (6,), "rot6d")
    a1, a2 = rot6d[..., :3], rot6d[..., 3:]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-2)


def matrix_to_rotation_6d(matrix: Tensor) -> Tensor:
    """(..., 3, 3) → (..., 6): the first two rows, flattened."""
    _check_last(matrix, (3, 3), "matrix")
    return matrix[..., :2, :].reshape(matrix.shape[:-2] + (6,))


def quaternion_multiply(q1: Tensor, q2: Tensor) -> Tensor:
    """Hamilton product ``q1 ⊗ q2`` (apply q2 first, then q1). (..., 4) × (..., 4) → (..., 4)."""
    _check_last(q1, (4,), "q1")
    _check_last(q2, (4,), "q2")
    w1, x1, y1, z1 = q1.unbind(-1)
    w2, x2, y2, z2 = q2.unbind(-1)
    return torch.stack(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ],
        dim=-1,
    )


def quaternion_conjugate(q: Tensor) -> Tensor:
    """``(w, −x, −y, −z)``: the inverse of a unit quaternion. (..., 4) → (..., 4)."""
    _check_last(q, (4,), "q")
    return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])


def quaternion_apply(q: Tensor, points: Tensor) -> Tensor:
    """Rotate points by unit quaternions: (..., 4), (..., 3) → (..., 3); leading dims broadcast."""
    _check_last(q, (4,), "q")
    _check_last(points, (3,), "points")
    w, v = q[..., :1], q[..., 1:]
    v, points = torch.broadcast_tensors(v, points)
    t = 2.0 * torch.linalg.cross(v, points, dim=-1)
    return points + w * t + torch.linalg.cross(v, t, dim=-1)


def quaternion_wxyz_to_xyzw(q: Tensor) -> Tensor:
    """Scalar-first → scalar-last (scipy's order). (..., 4) → (..., 4)."""
    _check_last(q, (4,), "q")
    return torch.cat([q[..., 1:], q[..., :1]], dim=-1)


def quaternion_xyzw_to_wxyz(q: Tensor) -> Tensor:
    """Scalar-last (scipy's order) → scalar-first. (..., 4) → (..., 4)."""
    _check_last(q, (4,), "q")
    return torch.cat([q[..., 3:], q[..., :3]], dim=-1)


def geodesic_angle(R1: Tensor, R2: Tensor) -> Tensor:
    """Angle of ``R1ᵀR2`` in radians, in [0, π]. (..., 3, 3) × (..., 3, 3) → (...)."""
    rel = R1.transpose(-1, -2) @ R2
    return matrix_to_axis_angle(rel).norm(dim=-1)
