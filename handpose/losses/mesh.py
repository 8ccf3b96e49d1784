"""Mesh smoothness losses: edge-length and normal consistency (DIR supplement §2).

DIR (after Pixel2Mesh, I2L-MeshNet and IntagHand, the supplement's [9, 4, 3]) keeps the
predicted mesh geometry plausible with two terms over the triangles f of the hand mesh, with
``e_ij`` the edges of f and ``n_f`` the unit normal of the **ground-truth** face:

    L_norm = mean over f and its three edges of |⟨e_ij / ‖e_ij‖, n_f⟩|          (pred edges)
    L_edge = mean over f and its three edges of | ‖e_ij‖ − ‖e_ij^gt‖ |

(DIR's ``NormalVectorLoss`` and ``EdgeLengthLoss``; ../shared/reference/vision_methods.md §2.4:
weights 0.1 and 1, per hand, on normalised coordinates.) A predicted mesh equal to the ground
truth up to a rigid motion has zero edge loss; one equal to it up to a translation has zero
normal loss. Means are over the valid meshes only.
"""

from __future__ import annotations

import torch
from torch import Tensor

from handpose.errors import HandposeError

__all__ = ["face_edges", "edge_length_loss", "normal_consistency_loss"]


def face_edges(vertices: Tensor, faces: Tensor) -> Tensor:
    """(..., V, 3), (F, 3) → (..., F, 3, 3): the edges v1 − v0, v2 − v1, v0 − v2 of each face."""
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise HandposeError(f"faces must be (F, 3), got {tuple(faces.shape)}.")
    v = vertices[..., faces, :]  # (..., F, 3 corners, 3)
    return v.roll(-1, dims=-2) - v


def _masked_mean(per_mesh: Tensor, valid: Tensor | None) -> Tensor:
    if valid is None:
        return per_mesh.mean()
    w = valid.to(per_mesh.dtype)
    return (per_mesh * w).sum() / w.sum().clamp_min(1.0)


def edge_length_loss(
    pred: Tensor, gt: Tensor, faces: Tensor, valid: Tensor | None = None
) -> Tensor:
    """Mean absolute edge-length difference (module docstring).

    Args:
        pred, gt: (..., V, 3) meshes of the same topology.
        faces: (F, 3) triangles.
        valid: optional (...) bool, which meshes count.
    Returns:
        () the mean over the valid meshes' 3F edges.
    """
    d = (face_edges(pred, faces).norm(dim=-1) - face_edges(gt, faces).norm(dim=-1)).abs()
    return _masked_mean(d.mean((-1, -2)), valid)


def normal_consistency_loss(
    pred: Tensor, gt: Tensor, faces: Tensor, valid: Tensor | None = None, eps: float = 1e-12
) -> Tensor:
    """Mean |cos| between the predicted edges and the ground-truth face normals.

    Args: as :func:`edge_length_loss`. Degenerate edges or faces count as 0.
    """
    e_gt = face_edges(gt, faces)
    n = torch.cross(e_gt[..., 0, :], -e_gt[..., 2, :], dim=-1)  # (v1 − v0) × (v2 − v0)
    n = n / n.norm(dim=-1, keepdim=True).clamp_min(eps)
    e = face_edges(pred, faces)
    e = e / e.norm(dim=-1, keepdim=True).clamp_min(eps)
    cos = (e * n[..., None, :]).sum(-1).abs()  # (..., F, 3)
    return _masked_mean(cos.mean((-1, -2)), valid)
