"""Pinhole cameras: look-at extrinsics, intrinsics from a field of view, projection.

Conventions (pinned by ``tests/render/test_camera.py``):

- The camera frame is OpenCV's: x right, y down, z forward; a point in front of the camera has
  z > 0. Units are metres.
- Extrinsics ``(R, t)`` map world to camera: ``x_cam = R @ x_world + t``.
- Pixel coordinates ``(u, v)`` satisfy ``(u, v, 1)ᵀ ∝ K @ x_cam``; the centre of the pixel in row
  ``r`` and column ``c`` is at ``(u, v) = (c, r)``, so the image centre of a W×H image is
  ``((W − 1)/2, (H − 1)/2)``.
"""

from __future__ import annotations

import math

import numpy as np

from handpose.errors import HandposeError

__all__ = [
    "look_at",
    "intrinsics_from_fov",
    "world_to_camera",
    "project",
    "frame_points",
    "scale_intrinsics",
]


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    if n < 1e-12:
        raise HandposeError("a camera direction vector has zero length")
    return v / n


def look_at(eye, target, up=(0.0, 1.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera extrinsics of a camera at ``eye`` looking at ``target``.

    The camera's z axis points from ``eye`` to ``target``; its y axis (image down) is the
    component of ``-up`` orthogonal to the viewing direction, so ``up`` appears upwards in the
    image.

    Args:
        eye: (3,) camera centre in world coordinates, metres.
        target: (3,) point the camera looks at.
        up: (3,) world direction that should point up in the image (not parallel to the view).
    Returns:
        ``R`` (3, 3) and ``t`` (3,) with ``x_cam = R @ x_world + t``.

    Example:
        >>> R, t = look_at([0, 0, 2], [0, 0, 0], up=[0, 1, 0])
        >>> np.round(R @ np.array([0.0, 0.0, 0.0]) + t, 6)  # target is 2 m ahead
        array([0., 0., 2.])
    """
    eye = np.asarray(eye, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    up = np.asarray(up, dtype=np.float64)
    forward = _unit(target - eye)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-9:
        raise HandposeError("look_at: 'up' is parallel to the viewing direction")
    right = _unit(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])
    t = -R @ eye
    return R, t


def intrinsics_from_fov(fov_y_deg: float, width: int, height: int) -> np.ndarray:
    """Intrinsics ``K`` (3, 3) of a square-pixel pinhole camera with vertical field of view.

    Args:
        fov_y_deg: full vertical field of view in degrees, in (0, 180).
        width, height: image size in pixels.
    Returns:
        (3, 3) ``[[f, 0, cx], [0, f, cy], [0, 0, 1]]`` with the principal point at the image
        centre ``((W − 1)/2, (H − 1)/2)``.
    """
    if not 0.0 < fov_y_deg < 180.0:
        raise HandposeError(f"fov_y_deg must be in (0, 180), got {fov_y_deg}")
    f = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2.0)
    return np.array(
        [[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]],
        dtype=np.float64,
    )


def scale_intrinsics(K, factor: float) -> np.ndarray:
    """Intrinsics for the same camera on an image ``factor`` times larger in each direction.

    With pixel centres at integer coordinates, high-resolution pixel ``u'`` sees low-resolution
    coordinate ``(u' + 0.5)/factor − 0.5``, hence ``c' = factor·(c + 0.5) − 0.5``.
    """
    K = np.asarray(K, dtype=np.float64).copy()
    K[0, 0] *= factor
    K[1, 1] *= factor
    K[0, 1] *= factor
    K[0, 2] = factor * (K[0, 2] + 0.5) - 0.5
    K[1, 2] = factor * (K[1, 2] + 0.5) - 0.5
    return K


def world_to_camera(points, R, t) -> np.ndarray:
    """Transform world points (..., 3) to the camera frame: ``R @ x + t`` (metres)."""
    points = np.asarray(points, dtype=np.float64)
    return points @ np.asarray(R, dtype=np.float64).T + np.asarray(t, dtype=np.float64)


def project(points_cam, K) -> np.ndarray:
    """Pixel coordinates (..., 2) of camera-frame points (..., 3) (which must have z > 0)."""
    points_cam = np.asarray(points_cam, dtype=np.float64)
    uvw = points_cam @ np.asarray(K, dtype=np.float64).T
    return uvw[..., :2] / uvw[..., 2:3]


def frame_points(
    points, view_dir, up=(0.0, 1.0, 0.0), fov_y_deg: float = 30.0, margin: float = 1.1
) -> tuple[np.ndarray, np.ndarray]:
    """Extrinsics of a camera looking along ``view_dir`` that fits ``points`` in the view.

    The camera looks at the centre of the points' bounding box from the distance at which the
    bounding sphere (radius × ``margin``) just fits the vertical field of view.

    Args:
        points: (N, 3) world points, metres.
        view_dir: (3,) viewing direction (from the camera towards the points).
        up: (3,) world direction shown upwards in the image.
        fov_y_deg: the camera's vertical field of view (as in :func:`intrinsics_from_fov`).
        margin: ≥ 1, extra room around the points.
    Returns:
        ``R`` (3, 3), ``t`` (3,) as in :func:`look_at`.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    centre = 0.5 * (points.min(0) + points.max(0))
    radius = float(np.linalg.norm(points - centre, axis=1).max()) * margin
    distance = radius / math.sin(math.radians(fov_y_deg) / 2.0)
    eye = centre - distance * _unit(np.asarray(view_dir, dtype=np.float64))
    return look_at(eye, centre, up)
