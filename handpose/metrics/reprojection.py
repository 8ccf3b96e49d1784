"""Mesh-to-image alignment in pixels: ``mesh_reprojection_px`` (our definition).

DIR's supplementary material reports a "MIAA" column in pixels whose definition is not
published, and its public code has no implementation (../shared/reference/vision_methods.md
§2.1). handpose does **not** claim to reproduce it. Instead it defines

    mesh_reprojection_px = mean over valid hands and their vertices of ‖π(K, v̂ᵢ) − π(K, vᵢ)‖₂

where ``π(K, x) = (K x)₁,₂ / (K x)₃`` is the pinhole projection with the intrinsics of the
evaluated image (after crop / resize, as in the sample schema), ``v̂ᵢ`` the predicted and
``vᵢ`` the ground-truth camera-frame vertex i (same topology). It measures how well the
predicted mesh overlays the image, in pixels of the evaluated image: depth errors along the
viewing ray do not count, a wrong scale or 2D offset does. It is the 2D vertex error that DIR's
``apps/eval.py`` prints (metrics.md §5), computed on full-perspective camera-frame meshes.

Points must lie in front of the camera (z > 0): a prediction behind the camera has no
projection, and root-relative vertices passed by mistake would fail this check.
"""

from __future__ import annotations

from torch import Tensor

from handpose.errors import HandposeError
from handpose.geometry.camera import project
from handpose.metrics._common import (
    Reduction,
    as_tensor,
    check_mask,
    check_pair,
    check_reduction,
    mask_shape,
    reduce_errors,
)

__all__ = ["reprojection_errors_px", "mesh_reprojection_px"]


def reprojection_errors_px(pred: Tensor, gt: Tensor, K: Tensor, name: str = "pred") -> Tensor:
    """Pixel distance between the projections of corresponding points.

    Args:
        pred: (..., N, 3) predicted camera-frame points, metres (z > 0).
        gt: (..., N, 3) ground-truth camera-frame points, metres (z > 0).
        K: (..., 3, 3) intrinsics of the evaluated image; leading dims broadcast.
        name: what ``pred`` is called in error messages.
    Returns:
        (..., N) distances in pixels.
    """
    p, g = check_pair(pred, gt, (name, "gt"))
    k = as_tensor(K, "K").to(device=p.device, dtype=p.dtype)
    for x, n in ((p, name), (g, "gt")):
        if not bool((x[..., 2] > 0).all()):
            raise HandposeError(
                f"{n} has points with z ≤ 0: the reprojection error needs camera-frame points in "
                "front of the camera."
            )
    return (project(p, k) - project(g, k)).norm(dim=-1)


def mesh_reprojection_px(
    pred_vertices: Tensor,
    gt_vertices: Tensor,
    K: Tensor,
    valid: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """``mesh_reprojection_px``: mean 2D distance between projected predicted and GT vertices.

    Our definition (module docstring); not DIR's unpublished MIAA.

    Args:
        pred_vertices: (..., V, 3) predicted camera-frame vertices, metres.
        gt_vertices: (..., V, 3) ground-truth vertices (same topology), metres.
        K: (..., 3, 3) intrinsics of the evaluated image.
        valid: optional (..., V) bool mask (e.g. a hand's validity broadcast over vertices).
        reduction: ``"mean"``, ``"per_sample"`` or ``"none"`` (see :func:`handpose.metrics.mpjpe`).
    Returns:
        Pixels.

    Example:
        >>> K = torch.tensor([[100.0, 0, 64], [0, 100, 64], [0, 0, 1]], dtype=torch.float64)
        >>> gt = torch.tensor([[[0.0, 0.0, 0.5]]], dtype=torch.float64)
        >>> float(mesh_reprojection_px(gt + torch.tensor([0.01, 0.0, 0.0]), gt, K))  # 100·0.01/0.5
        2.0
    """
    check_reduction(reduction)
    err = reprojection_errors_px(pred_vertices, gt_vertices, K, name="pred_vertices")
    p, g = check_pair(pred_vertices, gt_vertices)
    mask = check_mask(valid, mask_shape(p, g), "valid")
    return reduce_errors(err, mask, reduction)
