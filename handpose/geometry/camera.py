"""Pinhole camera: projection, back-projection and the 2.5D (u, v, z) hand representation.

Conventions: camera coordinates in metres with +z pointing away from the camera (OpenCV); pixel
coordinates ``(u, v)`` with ``(u, v, 1)ᵀ ∝ K·(x, y, z)ᵀ``; intrinsics
``K = [[f_x, s, c_x], [0, f_y, c_y], [0, 0, 1]]`` (a skew ``s`` is allowed).

The 2.5D representation used by PGTE and EHPE stores each joint as its pixel position plus its
depth relative to a root joint; the root's absolute depth ``z_root`` restores metric 3D:
``(x, y, z)ᵀ = (z_rel + z_root) · K⁻¹ (u, v, 1)ᵀ``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from handpose.errors import HandposeError

__all__ = ["UVZ", "project", "backproject", "uvz_to_xyz", "xyz_to_uvz"]


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
    h = points @ K.mT
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
    return (rays @ torch.linalg.inv(K).mT) * depth[..., None]


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
