"""Losses of PGTE and of the VIBE-style baseline (our choices; the supplement gives none).

PGTE (:func:`pgte_loss`), every term an L1 over valid frames, with positions normalised so
that each term is O(1) at the start of training: heatmap coordinates by the heatmap side,
depths and 3D positions by R/2 (half the depth range, 0.15 m by default):

- ``vertex_uv``, ``vertex_z``: the per-vertex 2.5D outputs of eq. 1–2 against the projected
  ground-truth vertices and their depth relative to the ground-truth wrist (SAR's L1 on uvd);
- ``joint_init``, ``joint_refined``: the initial and the token-refined 2.5D joints;
- ``vertices3d``, ``joints3d``: wrist-relative camera-frame vertices and joints after eq. 3
  (joints from the regressor when the whole mesh is predicted);
- ``edge`` (weight 1) and ``normal`` (weight 0.1): SAR's mesh regularisers — edge-length
  differences, and the predicted edges' alignment with the ground-truth face normals;
- ``velocity`` (default 0): L1 between predicted and true frame-to-frame joint motion within
  a window (a temporal-smoothness option).

Training on a subset of the mesh (:func:`face_subset`: the vertices of k random faces, so that
the edge and normal terms keep whole triangles) computes every term on that subset.

VIBE-style (:func:`vibe_loss`): L1 on wrist-relative joints and vertices (/ R/2), on the 2D
joints in the crop (/ S), and the optional velocity term; VIBE's adversarial motion loss and
its SMPL parameter loss are not used (no motion prior; the supervision is the mesh itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from handpose.geometry.camera import project
from handpose.models.heads import image_to_heatmap

__all__ = [
    "PGTELossConfig",
    "VibeLossConfig",
    "mesh_edges",
    "face_subset",
    "edge_length_loss",
    "normal_loss",
    "pgte_loss",
    "vibe_loss",
]


@dataclass(frozen=True)
class PGTELossConfig:
    """Weights of the PGTE loss terms (module docstring)."""

    vertex_uv: float = 1.0
    vertex_z: float = 1.0
    joint_init: float = 1.0
    joint_refined: float = 1.0
    vertices3d: float = 1.0
    joints3d: float = 1.0
    edge: float = 1.0
    normal: float = 0.1
    velocity: float = 0.0

    def __post_init__(self) -> None:
        _check_weights(self)


def _check_weights(cfg) -> None:
    for name, value in cfg.__dict__.items():
        if value < 0:
            raise ValueError(f"loss weight {name} must be ≥ 0, got {value}")


@dataclass(frozen=True)
class VibeLossConfig:
    """Weights of the VIBE-style baseline's loss terms."""

    joints3d: float = 1.0
    vertices3d: float = 1.0
    joints2d: float = 1.0
    velocity: float = 0.0

    def __post_init__(self) -> None:
        _check_weights(self)


def mesh_edges(faces: Tensor) -> Tensor:
    """(F, 3) triangles → (E, 2) unique undirected edges (smaller index first)."""
    e = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = torch.sort(e, dim=1).values
    return torch.unique(e, dim=0)


def face_subset(
    faces: Tensor, num_faces: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """The vertices of ``num_faces`` random faces and those faces re-indexed into them.

    Returns:
        ``vertex_ids`` (n,) sorted unique mesh indices, ``local_faces`` (num_faces, 3) indices
        into ``vertex_ids``.
    """
    pick = torch.randperm(faces.shape[0], generator=generator)[: int(num_faces)]
    sub = faces[pick]
    ids, inverse = torch.unique(sub.reshape(-1), return_inverse=True)
    return ids, inverse.reshape(-1, 3)


def _masked_mean(x: Tensor, valid: Tensor) -> Tensor:
    """Mean of x (N, ...) over the N entries with ``valid`` (N,) true."""
    w = valid.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
    count = (w.sum() * (x[0].numel() if x.ndim > 1 else 1)).clamp(min=1.0)
    return (x * w).sum() / count


def edge_length_loss(pred: Tensor, gt: Tensor, edges: Tensor, valid: Tensor) -> Tensor:
    """Mean |‖p_a − p_b‖ − ‖g_a − g_b‖| over edges (E, 2) and valid meshes (N,); (N, V, 3)."""
    lp = (pred[:, edges[:, 0]] - pred[:, edges[:, 1]]).norm(dim=-1)
    lg = (gt[:, edges[:, 0]] - gt[:, edges[:, 1]]).norm(dim=-1)
    return _masked_mean((lp - lg).abs(), valid)


def normal_loss(pred: Tensor, gt: Tensor, faces: Tensor, valid: Tensor) -> Tensor:
    """Mean |cos| between the predicted edges of each face and its ground-truth normal."""
    g0, g1, g2 = (gt[:, faces[:, k]] for k in range(3))
    n = torch.nn.functional.normalize(torch.cross(g1 - g0, g2 - g0, dim=-1), dim=-1)
    p0, p1, p2 = (pred[:, faces[:, k]] for k in range(3))
    terms = []
    for a, b in ((p0, p1), (p1, p2), (p2, p0)):
        e = torch.nn.functional.normalize(b - a, dim=-1)
        terms.append((e * n).sum(-1).abs())
    return _masked_mean(torch.stack(terms, -1), valid)


def _velocity(pred: Tensor, gt: Tensor, frames: int, valid: Tensor) -> Tensor:
    """L1 between frame-to-frame differences of (B·T, J, 3) sequences."""
    if frames < 2:
        return pred.new_zeros(())
    p = pred.reshape(-1, frames, *pred.shape[1:])
    g = gt.reshape(-1, frames, *gt.shape[1:])
    v = valid.reshape(-1, frames)
    both = (v[:, 1:] & v[:, :-1]).reshape(-1)
    dp = (p[:, 1:] - p[:, :-1]).reshape(-1, *pred.shape[1:])
    dg = (g[:, 1:] - g[:, :-1]).reshape(-1, *gt.shape[1:])
    return _masked_mean((dp - dg).abs(), both)


def pgte_loss(
    out,
    targets: dict[str, Tensor],
    cfg: PGTELossConfig,
    *,
    stride: float,
    heatmap_size: tuple[int, int],
    half_range: float,
    faces: Tensor,
    frames: int = 1,
) -> dict[str, Tensor]:
    """PGTE's training loss on N = B·T frames (module docstring).

    Args:
        out: :class:`~handpose.models.pgte.PGTEOutput` with (N, ...) fields (the vertex
            fields on the mesh subset that ``targets["vertices"]`` holds).
        targets: ``joints3d`` (N, 21, 3) and ``vertices`` (N, n, 3) camera frame (metres),
            ``K`` (N, 3, 3), ``valid`` (N,) bool frames, ``joint_valid`` (N, 21) bool.
        cfg: weights.
        stride: input pixels per heatmap cell; heatmap_size: (h, w); half_range: R/2 (m).
        faces: (F, 3) faces indexing the subset's vertices (edge / normal terms).
        frames: T, for the velocity term.
    Returns:
        every unweighted term and ``"loss"``, the weighted sum.
    """
    gj, gv, K = targets["joints3d"], targets["vertices"], targets["K"]
    valid = targets["valid"].bool()
    jvalid = targets["joint_valid"].bool() & valid[:, None]
    h, w = heatmap_size
    norm_xy = gj.new_tensor([w, h])
    wrist = gj[:, :1]
    z_root = wrist[..., 2]  # (N, 1)

    def uvz_err(xy: Tensor, z: Tensor, pts: Tensor) -> tuple[Tensor, Tensor]:
        gxy = image_to_heatmap(project(pts, K), stride)
        exy = ((xy - gxy).abs() / norm_xy).sum(-1)
        ez = (z - (pts[..., 2] - z_root)).abs() / half_range
        return exy, ez

    terms: dict[str, Tensor] = {}
    exy, ez = uvz_err(out.vertex_xy, out.vertex_z, gv)
    terms["vertex_uv"] = _masked_mean(exy, valid)
    terms["vertex_z"] = _masked_mean(ez, valid)
    jw = jvalid.to(gj.dtype)
    for name, xy, z in (("joint_init", out.joint_xy_init, out.joint_z_init),
                        ("joint_refined", out.joint_xy, out.joint_z)):  # fmt: skip
        exy, ez = uvz_err(xy, z, gj)
        terms[name] = ((exy + ez) * jw).sum() / jw.sum().clamp(min=1.0)
    # wrist-relative 3D: the predicted wrist is the regressor's (whole mesh) or the
    # back-projected refined wrist (mesh subset), see PGTE.decode
    pred_wrist = out.joints3d[:, :1]
    rel_pv = out.vertices - pred_wrist
    rel_gv = gv - wrist
    terms["vertices3d"] = _masked_mean((rel_pv - rel_gv).abs().sum(-1) / half_range, valid)
    rel_pj = out.joints3d - pred_wrist
    ej = (rel_pj - (gj - wrist)).abs().sum(-1) / half_range
    terms["joints3d"] = (ej * jw).sum() / jw.sum().clamp(min=1.0)
    edges = mesh_edges(faces)
    terms["edge"] = edge_length_loss(out.vertices, gv, edges, valid) / half_range
    terms["normal"] = normal_loss(out.vertices, gv, faces, valid)
    if cfg.velocity > 0:
        terms["velocity"] = _velocity(rel_pj, gj - wrist, frames, valid) / half_range
    total = gj.new_zeros(())
    for name, value in terms.items():
        total = total + getattr(cfg, name) * value
    terms["loss"] = total
    return terms


def vibe_loss(
    out,
    targets: dict[str, Tensor],
    cfg: VibeLossConfig,
    *,
    image_size: int,
    half_range: float,
    frames: int = 1,
) -> dict[str, Tensor]:
    """The VIBE-style baseline's loss on N frames (module docstring); ``targets`` as for
    :func:`pgte_loss` plus ``joints2d`` (N, 21, 2) crop pixels."""
    gj, gv = targets["joints3d"], targets["vertices"]
    valid = targets["valid"].bool()
    jw = (targets["joint_valid"].bool() & valid[:, None]).to(gj.dtype)
    rel_gj, rel_gv = gj - gj[:, :1], gv - gj[:, :1]
    terms = {
        "joints3d": ((out.joints_rel - rel_gj).abs().sum(-1) * jw).sum()
        / jw.sum().clamp(min=1)
        / half_range,
        "vertices3d": _masked_mean((out.vertices_rel - rel_gv).abs().sum(-1), valid) / half_range,
        "joints2d": ((out.joints2d - targets["joints2d"]).abs().sum(-1) * jw).sum()
        / jw.sum().clamp(min=1)
        / float(image_size),
    }
    if cfg.velocity > 0:
        terms["velocity"] = _velocity(out.joints_rel, rel_gj, frames, valid) / half_range
    total = gj.new_zeros(())
    for name, value in terms.items():
        total = total + getattr(cfg, name) * value
    terms["loss"] = total
    return terms
