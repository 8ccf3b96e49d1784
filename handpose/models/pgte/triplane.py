"""Triplane encoding of the fused joint features (supplement eq. 4–5; EG3D's triplanes,
../shared/reference/vision_methods.md §3.4).

Points live in the normalised 2.5D frame of :mod:`handpose.models.pgte.mesh` (x, y: image
axes, ±1 = the edges of the heatmap; z: root-relative depth / (R/2)). The three planes and
their projections are written out **explicitly** — EG3D's ``generate_planes`` +
``project_onto_planes`` actually produce (x, y), (x, z), (z, x) and never the yz plane::

    plane   columns (grid x)   rows (grid y)
    xy      x                  y
    xz      x                  z
    yz      y                  z

A plane of R × R cells has cell (row i, column j) centred at normalised
``((2j + 1)/R − 1, (2i + 1)/R − 1)`` (align_corners = False), so cell indices of a projected
point are ``c = ((n + 1)·R − 1)/2``.

- **eq. 4** (per joint j and plane): ``H_j(p) = softmax_p((K − ‖p − p_j‖₂)/K)`` over the
  plane's cells p, distances in cells, K = ``spread`` (a distance scale; the softmax makes the
  constant K/K irrelevant, so H_j ∝ exp(−‖p − p_j‖/K)).
- **eq. 5**: ``F(p) = Σ_j H_j(p)·J_j`` with the fused joint features J_j.
- optional 3×3 residual convolutions within each plane (Table 4's "w/ conv");
- sampling at query points (the coarse vertices): bilinear, border padding, per plane at the
  point's own projection; the three features are summed (EG3D's paper), averaged (its code) or
  concatenated.

``planes="single"`` keeps only the xy (image) plane — Table 4's single-plane variant.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handpose.errors import HandposeError

__all__ = [
    "PLANE_AXES",
    "project_to_plane",
    "plane_cell_coords",
    "plane_heatmaps",
    "splat_features",
    "sample_plane",
    "TriplaneEncoder",
]

# (column axis, row axis) of each plane, as indices into (x, y, z).
PLANE_AXES: dict[str, tuple[int, int]] = {"xy": (0, 1), "xz": (0, 2), "yz": (1, 2)}


def project_to_plane(points: Tensor, plane: str) -> Tensor:
    """(..., 3) normalised points → (..., 2) (column, row) coordinates on ``plane``.

    Example:
        >>> p = torch.tensor([0.5, -0.5, 0.25])
        >>> project_to_plane(p, "yz").tolist()
        [-0.5, 0.25]
    """
    if plane not in PLANE_AXES:
        raise HandposeError(f"plane must be one of {sorted(PLANE_AXES)}, got {plane!r}.")
    a, b = PLANE_AXES[plane]
    return torch.stack([points[..., a], points[..., b]], dim=-1)


def plane_cell_coords(coords: Tensor, size: int) -> Tensor:
    """Normalised plane coordinates (..., 2) → cell coordinates ``((n + 1)·R − 1)/2``."""
    return ((coords + 1.0) * size - 1.0) / 2.0


def plane_heatmaps(coords: Tensor, size: int, spread: float) -> Tensor:
    """Eq. 4: ``softmax_p((K − ‖p − p_j‖)/K)`` over the R × R cells of one plane.

    Args:
        coords: (..., J, 2) normalised (column, row) projections of the joints.
        size: R.
        spread: K in cells.
    Returns:
        (..., J, R, R), each map summing to 1 (rows = second coordinate).
    """
    c = plane_cell_coords(coords, size)
    grid = torch.arange(size, dtype=coords.dtype, device=coords.device)
    dx = grid - c[..., 0:1]  # (..., J, R) along columns
    dy = grid - c[..., 1:2]  # (..., J, R) along rows
    d = torch.sqrt(dy[..., :, None] ** 2 + dx[..., None, :] ** 2 + 1e-12)
    logits = (spread - d) / spread
    return torch.exp(logits - torch.logsumexp(logits, dim=(-2, -1), keepdim=True))


def splat_features(heatmaps: Tensor, features: Tensor) -> Tensor:
    """Eq. 5: ``F(p) = Σ_j H_j(p)·J_j``.

    Args:
        heatmaps: (B, J, R, R); features: (B, J, C).
    Returns:
        (B, C, R, R).
    """
    return torch.einsum("bjhw,bjc->bchw", heatmaps, features)


def sample_plane(plane: Tensor, coords: Tensor) -> Tensor:
    """Bilinear sample of a (B, C, R, R) plane at (B, N, 2) normalised (column, row) points
    (align_corners = False, border padding) → (B, N, C)."""
    out = F.grid_sample(
        plane, coords[:, :, None, :].to(plane.dtype), mode="bilinear", padding_mode="border",
        align_corners=False,
    )  # fmt: skip
    return out[..., 0].transpose(1, 2)


class _PlaneConv(nn.Module):
    """3×3 conv → GroupNorm → GELU, residual."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm = nn.GroupNorm(min(8, channels), channels)
        self.act = nn.GELU()

    def forward(self, x: Tensor) -> Tensor:
        return x + self.act(self.norm(self.conv(x)))


class TriplaneEncoder(nn.Module):
    """Joint features → planes (eq. 4–5) → [plane convs] → features at query points.

    Args:
        channels: C, the joint feature width.
        size: R.
        spread: K of eq. 4 (cells).
        planes: "tri" (xy, xz, yz) or "single" (xy).
        convs: residual conv layers per plane.
        aggregate: "sum", "mean" or "concat" of the planes' samples.
    Shapes: joint features (B, J, C), joint points (B, J, 3), query points (B, N, 3) →
    (B, N, C) (3C for "concat" with three planes; :attr:`out_dim`).
    """

    def __init__(
        self,
        channels: int,
        size: int = 32,
        spread: float = 2.0,
        planes: str = "tri",
        convs: int = 1,
        aggregate: str = "sum",
    ) -> None:
        super().__init__()
        if planes not in ("tri", "single"):
            raise HandposeError(f"planes must be 'tri' or 'single', got {planes!r}.")
        if aggregate not in ("sum", "mean", "concat"):
            raise HandposeError(f"aggregate must be sum, mean or concat, got {aggregate!r}.")
        self.names = ("xy", "xz", "yz") if planes == "tri" else ("xy",)
        self.size, self.spread, self.aggregate = int(size), float(spread), aggregate
        self.convs = nn.ModuleDict(
            {n: nn.Sequential(*(_PlaneConv(channels) for _ in range(convs))) for n in self.names}
        )
        self.out_dim = channels * (len(self.names) if aggregate == "concat" else 1)

    def planes(self, joint_feats: Tensor, joint_points: Tensor) -> dict[str, Tensor]:
        """Eq. 4–5 and the plane convolutions: {name: (B, C, R, R)}."""
        out = {}
        for name in self.names:
            H = plane_heatmaps(project_to_plane(joint_points, name), self.size, self.spread)
            out[name] = self.convs[name](splat_features(H.to(joint_feats.dtype), joint_feats))
        return out

    def forward(self, joint_feats: Tensor, joint_points: Tensor, query_points: Tensor) -> Tensor:
        planes = self.planes(joint_feats, joint_points)
        samples = [sample_plane(planes[n], project_to_plane(query_points, n)) for n in self.names]
        if self.aggregate == "concat":
            return torch.cat(samples, dim=-1)
        total = torch.stack(samples).sum(0)
        return total / len(samples) if self.aggregate == "mean" else total
