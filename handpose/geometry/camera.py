"""Pinhole camera: projection, back-projection and the 2.5D (u, v, z) hand representation.

Conventions: camera coordinates in metres with +z pointing away from the camera (OpenCV); pixel
coordinates ``(u, v)`` with ``(u, v, 1)ᵀ ∝ K·(x, y, z)ᵀ``; intrinsics
``K = [[f_x, s, c_x], [0, f_y, c_y], [0, 0, 1]]`` (a skew ``s`` is allowed).

The 2.5D representation used by PGTE and EHPE stores each joint as its pixel position plus its
depth relative to a root joint; the root's absolute depth ``z_root`` restores metric 3D:
``(x, y, z)ᵀ = (z_rel + z_root) · K⁻¹ (u, v, 1)ᵀ``. The root depth itself is recovered from a
known bone length (:func:`root_depth_from_bone`) or, for a known root-relative 3D shape, by
solving for the whole translation (:func:`solve_translation`).

**Weak perspective (crop camera).** HMR-style networks (HaMeR, DIR) predict, per hand crop, a
camera ``(s, t_x, t_y)``: a model-frame point X lands at the normalised crop coordinates
``p = s·(X_xy + t)`` (HaMeR's convention: t in metres, added before scaling), where ``p = ±1``
are the edges of the crop box (:func:`weak_perspective_project`). A box of side ``b`` pixels
centred at ``(b_x, b_y)`` in the full image maps p to the pixel ``(b_x, b_y) + (b/2)·p``
(:func:`crop_to_image`).

:func:`cam_crop_to_full` turns the crop camera into a translation T for the full image's
intrinsics K (HaMeR's ``cam_crop_to_full`` for any K). Derivation: under K at translation T, a
point X near the model origin projects to ``u = f_x (X_x + T_x)/(X_z + T_z) + c_x``, whose
magnification at ``X_z = 0`` is ``f/T_z``; the weak camera's is ``(b/2)·s``, hence
``T_z = 2f/(b·s)`` with ``f = (f_x + f_y)/2``. The origin itself must land where the weak camera
puts it, ``q = (b_x, b_y) + (b/2)·s·t``, so ``T = T_z·K⁻¹(q, 1)``. For a principal point at the
image centre ``(W/2, H/2)`` and ``f_x = f_y = f`` this is HaMeR's formula
``T = (2(b_x − W/2)/(b s) + t_x, 2(b_y − H/2)/(b s) + t_y, 2f/(b s))``. Both cameras agree
exactly on the plane ``X_z = 0`` (for ``f_x = f_y``, no skew) and to first order in
``X_z/T_z`` elsewhere. :func:`cam_full_to_crop` is the inverse.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from handpose.errors import HandposeError

__all__ = [
    "UVZ",
    "inverse_3x3",
    "project",
    "backproject",
    "uvz_to_xyz",
    "xyz_to_uvz",
    "root_depth_from_bone",
    "solve_translation",
    "weak_perspective_project",
    "crop_to_image",
    "image_to_crop",
    "cam_crop_to_full",
    "cam_full_to_crop",
]


@dataclass(frozen=True)
class UVZ:
    """2.5D joints.

    Attributes:
        uv: (..., N, 2) pixel coordinates.
        z_rel: (..., N) depth relative to the root joint, metres (0 at the root).
        z_root: (...) absolute depth of the root joint, metres.
    """

    uv: Tensor
    z_rel: Tensor
    z_root: Tensor


def _check(x: Tensor, last: int, name: str, what: str) -> None:
    if not isinstance(x, Tensor):
        raise HandposeError(f"{name} must be a torch.Tensor, got {type(x).__name__}.")
    if x.ndim < 2 or x.shape[-1] != last:
        raise HandposeError(f"{name} must have shape {what}, got {tuple(x.shape)}.")


def _check_K(K: Tensor) -> None:
    if not isinstance(K, Tensor) or K.ndim < 2 or tuple(K.shape[-2:]) != (3, 3):
        shape = tuple(K.shape) if isinstance(K, Tensor) else type(K).__name__
        raise HandposeError(f"K must have shape (..., 3, 3), got {shape}.")


def inverse_3x3(K: Tensor) -> Tensor:
    """Inverse of (..., 3, 3) matrices from cofactors: ``adj(K) / det(K)``.

    Plain multiplications and additions, so graphs that back-project export to ONNX (whose
    opsets have no matrix inverse); as accurate as ``torch.linalg.inv`` for intrinsics.
    """
    a, b, c = K[..., 0, 0], K[..., 0, 1], K[..., 0, 2]
    d, e, f = K[..., 1, 0], K[..., 1, 1], K[..., 1, 2]
    g, h, i = K[..., 2, 0], K[..., 2, 1], K[..., 2, 2]
    co = torch.stack(
        [
            e * i - f * h, c * h - b * i, b * f - c * e,
            f * g - d * i, a * i - c * g, c * d - a * f,
            d * h - e * g, b * g - a * h, a * e - b * d,
        ],
        dim=-1,
    ).reshape(K.shape)  # fmt: skip
    det = a * co[..., 0, 0] + b * co[..., 1, 0] + c * co[..., 2, 0]
    return co / det[..., None, None]


def project(points: Tensor, K: Tensor) -> Tensor:
    """Perspective projection of camera-frame points to pixels.

    Args:
        points: (..., N, 3) camera coordinates, metres; z > 0 in front of the camera (points at
            z = 0 give inf/NaN, as the geometry does).
        K: (..., 3, 3) intrinsics; leading dims broadcast (right-aligned) with those of
            ``points``, e.g. K (B, 3, 3) with points (B, N, 3).
    Returns:
        (..., N, 2) pixel coordinates ``(u, v)``.

    Example:
        >>> K = torch.tensor([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
        >>> project(torch.tensor([[0.1, -0.05, 0.5]]), K)
        tensor([[420., 190.]])
    """
    _check(points, 3, "points", "(..., N, 3)")
    _check_K(K)
    h = points @ K.transpose(-1, -2)
    return h[..., :2] / h[..., 2:]


def backproject(uv: Tensor, depth: Tensor, K: Tensor) -> Tensor:
    """Lift pixels with known depth to camera coordinates: ``depth · K⁻¹ (u, v, 1)ᵀ``.

    Args:
        uv: (..., N, 2) pixel coordinates.
        depth: (..., N) z in the camera frame, metres.
        K: (..., 3, 3) intrinsics; leading dims broadcast.
    Returns:
        (..., N, 3) camera coordinates, metres. Inverse of :func:`project` for z = depth.

    Example:
        >>> K = torch.tensor([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
        >>> backproject(torch.tensor([[420.0, 190.0]]), torch.tensor([0.5]), K)
        tensor([[ 0.1000, -0.0500,  0.5000]])
    """
    _check(uv, 2, "uv", "(..., N, 2)")
    _check_K(K)
    if not isinstance(depth, Tensor) or depth.shape[-1:] != uv.shape[-2:-1]:
        shape = tuple(depth.shape) if isinstance(depth, Tensor) else type(depth).__name__
        raise HandposeError(
            f"depth must have shape (..., {uv.shape[-2]}) matching uv, got {shape}."
        )
    ones = torch.ones_like(uv[..., :1])
    rays = torch.cat([uv, ones], dim=-1)  # (..., N, 3)
    return (rays @ inverse_3x3(K).transpose(-1, -2)) * depth[..., None]


def uvz_to_xyz(uv: Tensor, z_rel: Tensor, z_root: Tensor, K: Tensor) -> Tensor:
    """2.5D → 3D (PGTE/EHPE): ``(x, y, z)ᵀ = (z_rel + z_root) · K⁻¹ (u, v, 1)ᵀ``.

    Args:
        uv: (..., N, 2) pixel coordinates.
        z_rel: (..., N) root-relative depth, metres.
        z_root: (...) or (..., 1) absolute root depth, metres.
        K: (..., 3, 3) intrinsics.
    Returns:
        (..., N, 3) camera coordinates, metres.
    """
    if not isinstance(z_root, Tensor):
        z_root = torch.as_tensor(z_root, dtype=uv.dtype, device=uv.device)
    if not isinstance(z_rel, Tensor):
        raise HandposeError(f"z_rel must be a torch.Tensor, got {type(z_rel).__name__}.")
    if z_root.ndim < z_rel.ndim:  # (...) → (..., 1); (..., 1) is used as given
        z_root = z_root[..., None]
    return backproject(uv, z_rel + z_root, K)


def xyz_to_uvz(xyz: Tensor, K: Tensor, root: int = 0) -> UVZ:
    """3D → 2.5D: pixels of every point, depth relative to ``xyz[..., root, 2]``.

    Args:
        xyz: (..., N, 3) camera coordinates, metres.
        K: (..., 3, 3) intrinsics.
        root: index of the root joint (OpenPose wrist 0 by default).
    Returns:
        :class:`UVZ` with uv (..., N, 2), z_rel (..., N), z_root (...).
        ``uvz_to_xyz(out.uv, out.z_rel, out.z_root, K)`` recovers ``xyz``.
    """
    _check(xyz, 3, "xyz", "(..., N, 3)")
    n = xyz.shape[-2]
    if isinstance(root, bool) or not isinstance(root, int) or not -n <= root < n:
        raise HandposeError(f"root must be a joint index in [0, {n}), got {root!r}.")
    z = xyz[..., 2]
    z_root = z[..., root]
    return UVZ(uv=project(xyz, K), z_rel=z - z_root[..., None], z_root=z_root)


# ----------------------------------------------------------------------------- root depth


def _as_tensor(x, like: Tensor) -> Tensor:
    return x if isinstance(x, Tensor) else torch.as_tensor(x, dtype=like.dtype, device=like.device)


def root_depth_from_bone(
    uv: Tensor,
    z_rel: Tensor,
    K: Tensor,
    length: Tensor | float,
    bone: tuple[int, int] = (0, 9),
) -> Tensor:
    """Absolute root depth from 2.5D joints and the metric length of one bone.

    With rays ``r_i = K⁻¹(u_i, v_i, 1)`` the joints are ``X_i = (z_root + z_i)·r_i``; requiring
    ``‖X_a − X_b‖ = L`` gives the quadratic ``(d·d) z² + 2(d·e) z + (e·e − L²) = 0`` in
    ``z = z_root`` with ``d = r_a − r_b`` and ``e = z_a r_a − z_b r_b`` (Iqbal et al., "Hand Pose
    Estimation via Latent 2.5D Heatmap Regression", ECCV 2018, §3.2: scale from a known bone).
    The larger root is the hand in front of the camera. When no depth gives exactly L (noisy
    input), the depth with the closest length is returned (the parabola's vertex).

    Args:
        uv: (..., N, 2) pixels.
        z_rel: (..., N) depth relative to the root joint, metres.
        K: (..., 3, 3) intrinsics.
        length: (...) or a float, the bone's length in metres (e.g. wrist → middle MCP, joints
            0 and 9 in OpenPose order: the default ``bone``).
        bone: the two joint indices.
    Returns:
        (...) root depth in metres. Differentiable.
    """
    _check(uv, 2, "uv", "(..., N, 2)")
    _check_K(K)
    n = uv.shape[-2]
    a_idx, b_idx = bone
    if not (-n <= a_idx < n and -n <= b_idx < n) or a_idx % n == b_idx % n:
        raise HandposeError(f"bone must be two different joint indices below {n}, got {bone}.")
    rays = torch.cat([uv, torch.ones_like(uv[..., :1])], dim=-1) @ inverse_3x3(K).transpose(-1, -2)
    ra, rb = rays[..., a_idx, :], rays[..., b_idx, :]
    za, zb = z_rel[..., a_idx, None], z_rel[..., b_idx, None]
    d = ra - rb
    e = za * ra - zb * rb
    length = _as_tensor(length, uv)
    qa = (d * d).sum(-1)
    qb = (d * e).sum(-1)  # half the linear coefficient
    qc = (e * e).sum(-1) - length * length
    disc = qb * qb - qa * qc
    # + tiny keeps the gradient finite (zero) where the discriminant is clamped
    return (-qb + torch.sqrt(torch.clamp(disc, min=0) + torch.finfo(uv.dtype).tiny)) / qa


def solve_translation(
    points: Tensor, uv: Tensor, K: Tensor, weights: Tensor | None = None
) -> Tensor:
    """The translation T that best makes ``project(points + T, K)`` hit ``uv`` (linear least
    squares on the algebraic error, the approach of SPIN's ``estimate_translation``).

    Each point gives two equations linear in T, from ``u·(X_z + T_z) = f_x(X_x + T_x) +
    s(X_y + T_y) + c_x(X_z + T_z)`` and likewise for v; they are solved by normal equations
    (weighted by ``weights``). Exact for noise-free input.

    Args:
        points: (..., N, 3) the hand in a root-relative or model frame, metres.
        uv: (..., N, 2) its pixels.
        K: (..., 3, 3) intrinsics.
        weights: optional (..., N) non-negative confidences (0 drops a point).
    Returns:
        (..., 3) T in metres (camera frame = points + T).
    """
    _check(points, 3, "points", "(..., N, 3)")
    _check(uv, 2, "uv", "(..., N, 2)")
    _check_K(K)
    fx, s, cx = K[..., 0, 0, None], K[..., 0, 1, None], K[..., 0, 2, None]
    fy, cy = K[..., 1, 1, None], K[..., 1, 2, None]
    x, y, z = points.unbind(-1)
    u, v = uv.unbind(-1)
    zero = torch.zeros_like(u)
    # rows (..., N, 3) of A and entries (..., N) of b for the u and the v equations
    a_u = torch.stack([fx.expand_as(u), s.expand_as(u), cx - u], dim=-1)
    b_u = (u - cx) * z - fx * x - s * y
    a_v = torch.stack([zero, fy.expand_as(v), cy - v], dim=-1)
    b_v = (v - cy) * z - fy * y
    A = torch.cat([a_u, a_v], dim=-2)
    b = torch.cat([b_u, b_v], dim=-1)
    if weights is not None:
        w = torch.cat([weights, weights], dim=-1)[..., None]
        AtA = (A * w).transpose(-1, -2) @ A
        Atb = ((A * w).transpose(-1, -2) @ b[..., None])[..., 0]
    else:
        AtA = A.transpose(-1, -2) @ A
        Atb = (A.transpose(-1, -2) @ b[..., None])[..., 0]
    return torch.linalg.solve(AtA, Atb)


# ----------------------------------------------------------------------------- weak perspective


def _check_camera(camera: Tensor) -> None:
    if not isinstance(camera, Tensor) or camera.shape[-1:] != (3,):
        shape = tuple(camera.shape) if isinstance(camera, Tensor) else type(camera).__name__
        raise HandposeError(f"camera must have shape (..., 3) = (s, t_x, t_y), got {shape}.")


def weak_perspective_project(points: Tensor, camera: Tensor) -> Tensor:
    """Normalised crop coordinates ``p = s·(X_xy + t)`` (±1 = the crop box's edges).

    Args:
        points: (..., N, 3) model-frame points, metres.
        camera: (..., 3) (s, t_x, t_y): s in 1/metres, t in metres.
    Returns:
        (..., N, 2).
    """
    _check(points, 3, "points", "(..., N, 3)")
    _check_camera(camera)
    return camera[..., None, :1] * (points[..., :2] + camera[..., None, 1:])


def crop_to_image(p: Tensor, box_center: Tensor, box_size: Tensor) -> Tensor:
    """Normalised crop coordinates (..., N, 2) → full-image pixels ``c + (b/2)·p``.

    Args:
        p: (..., N, 2).
        box_center: (..., 2) box centre in full-image pixels.
        box_size: (...) side of the square box in pixels.
    """
    return box_center[..., None, :] + 0.5 * box_size[..., None, None] * p


def image_to_crop(uv: Tensor, box_center: Tensor, box_size: Tensor) -> Tensor:
    """Full-image pixels (..., N, 2) → normalised crop coordinates; inverse of :func:`crop_to_image`."""
    return (uv - box_center[..., None, :]) / (0.5 * box_size[..., None, None])


def _focal(K: Tensor) -> Tensor:
    return 0.5 * (K[..., 0, 0] + K[..., 1, 1])


def cam_crop_to_full(camera: Tensor, box_center: Tensor, box_size: Tensor, K: Tensor) -> Tensor:
    """Weak-perspective crop camera → translation in the full image's camera frame.

    ``T_z = 2f/(b·s)``, ``T = T_z·K⁻¹(q, 1)`` with ``q = c_box + (b/2)·s·t`` (derivation in the
    module docstring; HaMeR's ``cam_crop_to_full`` for a general K).

    Args:
        camera: (..., 3) (s, t_x, t_y), s > 0.
        box_center: (..., 2) crop box centre, full-image pixels.
        box_size: (...) crop box side, pixels.
        K: (..., 3, 3) full-image intrinsics.
    Returns:
        (..., 3) T, metres: camera-frame points are ``X + T``.
    """
    _check_camera(camera)
    _check_K(K)
    s, t = camera[..., 0], camera[..., 1:]
    box_size = _as_tensor(box_size, camera)
    half = 0.5 * box_size * s  # weak magnification, pixels per metre
    q = box_center + half[..., None] * t  # where the model origin lands
    tz = _focal(K) / half
    ray = torch.cat([q, torch.ones_like(q[..., :1])], dim=-1)[..., None, :]
    ray = ray @ inverse_3x3(K).transpose(-1, -2)
    return ray[..., 0, :] * tz[..., None]


def cam_full_to_crop(transl: Tensor, box_center: Tensor, box_size: Tensor, K: Tensor) -> Tensor:
    """Translation in the full image → weak-perspective crop camera; inverse of
    :func:`cam_crop_to_full`.

    Args:
        transl: (..., 3) T, metres, T_z > 0.
        box_center: (..., 2), box_size: (...), K: (..., 3, 3) as :func:`cam_crop_to_full`.
    Returns:
        (..., 3) (s, t_x, t_y).
    """
    _check(transl[..., None, :], 3, "transl", "(..., 3)")
    _check_K(K)
    box_size = _as_tensor(box_size, transl)
    s = 2.0 * _focal(K) / (box_size * transl[..., 2])
    q = project(transl[..., None, :], K)[..., 0, :]
    t = (q - box_center) / (0.5 * box_size * s)[..., None]
    return torch.cat([s[..., None], t], dim=-1)
