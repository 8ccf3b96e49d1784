"""EHPE's losses: TW-stage (eq. 3–6) and PG-stage (eq. 12–14), and the targets they compare to.

**Units.** Joint targets are in the TW-stage's 2.5D space (:func:`joint_targets`): x, y in
heatmap cells (stride ``heatmap_stride`` = 4 of the input, cell centres at integers) and z in
depth bins of the wrist-relative depth (d bins over ``depth_range`` metres). Eq. 4 and eq. 12
are squared distances in these units (the public code mixes heatmap pixels and bins the same
way; the paper does not say).

- **L_H (eq. 1, 3).** Targets are eq. 1's normalised Gaussians ``exp(−‖c − p‖²/2σ²)/(2πσ²)`` on
  the h/4 × w/4 heatmap grid (σ in cells, σ_x = σ_y); the loss sums the squared error over the
  cells, averages over the valid joints (1/J) and over the batch. With a stacked hourglass every
  stack's heatmap is supervised (the mean over stacks; Newell et al.'s intermediate
  supervision).
- **L_ED (eq. 4).** Mean over valid joints of the squared 2.5D distance, mean over the batch.
- **L_R (eq. 5).** ``Σ_k ‖W_k‖₁`` over the weight matrices and convolution kernels of the
  trained modules (biases and normalisation parameters excluded), **divided by the number of
  those weights**, i.e. the mean absolute weight. The literal sum (≈ 10⁵–10⁶ for a ResNet-50)
  times λ_R = 10⁻² would swamp every other term; the public code multiplies it by 10⁻⁸, which
  also makes it negligible but ties the strength to the model size. The mean keeps λ_R's
  meaning the same for every backbone.
- **L_P (eq. 12).** Mean over the valid nodes (all 21 joints, the paper's N) of ‖ĉ_i − c_i‖².
- **L_E (eq. 13).** Edge set E = the 20 bones of the skeleton in both directions (40 directed
  edges i → j, each a weight α_ij of node i's softmax). α is softmax-normalised over a
  neighbourhood, so (α − 1)² cannot vanish; its minimum is at uniform weights, i.e. L_E pulls
  the dynamic weights toward the fixed mean graph: the paper's "to prevent extreme variations
  in edge weights". We take the mean over E, heads and layers (the sum over E divided by |E|,
  so that λ_E does not depend on the edge and layer counts of Table 6's variants). Zero for the
  fixed variant and without SPI.
- Totals: ``L_total1 = λ_H L_H + λ_ED L_ED + λ_R L_R`` (eq. 6), ``L_total2 = λ_P L_P + λ_E L_E``
  (eq. 14) with the paper's λ_H = 3, λ_ED = λ_R = 10⁻², λ_P = 2·10⁻², λ_E = 0.2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.handmodel.conventions import OPENPOSE_PARENTS
from handpose.models.heads import depth_to_bins, gaussian_heatmaps, image_to_heatmap

__all__ = [
    "EHPELossConfig",
    "joint_targets",
    "heatmap_targets",
    "heatmap_loss",
    "euclidean_distance_loss",
    "weight_l1",
    "position_loss",
    "edge_loss",
    "tw_loss",
    "pg_loss",
]


@dataclass(frozen=True)
class EHPELossConfig:
    """Loss weights (paper §3.2, §3.3): λ_H, λ_ED, λ_R (eq. 6) and λ_P, λ_E (eq. 14)."""

    lambda_h: float = 3.0
    lambda_ed: float = 1e-2
    lambda_r: float = 1e-2
    lambda_p: float = 2e-2
    lambda_e: float = 2e-1

    def __post_init__(self) -> None:
        for k, v in asdict(self).items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ValueError(f"{k} must be a non-negative number, got {v!r}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> EHPELossConfig:
        """Build from a YAML mapping; unknown keys and bad values raise HandposeError."""
        names = {f.name for f in fields(cls)}
        for k in d or {}:
            if k not in names:
                raise HandposeError(f"unknown option 'loss.{k}' in the EHPE config.")
        try:
            return cls(**dict(d or {}))
        except (TypeError, ValueError) as err:
            raise HandposeError(f"invalid 'loss' section of the EHPE config: {err}") from None

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def joint_targets(
    joints2d: Tensor,
    joints3d: Tensor,
    heatmap_stride: float,
    depth_bins: int,
    depth_range: float,
) -> Tensor:
    """Labels → the 2.5D space: (x, y) heatmap cells and the wrist-relative depth in bins.

    Args:
        joints2d: (..., 21, 2) pixels of the network's input image.
        joints3d: (..., 21, 3) camera frame, metres (only z is used).
        heatmap_stride, depth_bins, depth_range: the TW-stage's grid.
    Returns:
        (..., 21, 3).
    """
    xy = image_to_heatmap(joints2d, heatmap_stride)
    z_rel = joints3d[..., 2] - joints3d[..., :1, 2]
    return torch.cat([xy, depth_to_bins(z_rel, depth_bins, depth_range)[..., None]], -1)


def heatmap_targets(
    points: Tensor, size: tuple[int, int], sigma: float, valid: Tensor | None = None
) -> Tensor:
    """eq. 1: (..., J, 2) heatmap-cell points → (..., J, H, W) Gaussians of unit mass
    ``exp(−‖c − p‖²/2σ²)/(2πσ²)`` (zero for invalid joints)."""
    return gaussian_heatmaps(points, size, sigma, valid) / (2.0 * math.pi * sigma * sigma)


def _joint_mean(per_joint: Tensor, valid: Tensor | None) -> Tensor:
    """(B, J) → scalar: mean over each sample's valid joints, then over samples with any."""
    if valid is None:
        return per_joint.mean()
    v = valid.to(per_joint.dtype)
    counts = v.sum(-1)
    per_sample = (per_joint * v).sum(-1) / counts.clamp(min=1)
    has = (counts > 0).to(per_joint.dtype)
    return (per_sample * has).sum() / has.sum().clamp(min=1)


def heatmap_loss(pred: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
    """eq. 3: (B, J, H, W) logits vs targets → Σ over cells, mean over valid joints and batch."""
    return _joint_mean((pred - target).pow(2).sum((-2, -1)), valid)


def euclidean_distance_loss(pred: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
    """eq. 4: (B, J, 3) vs (B, J, 3) → mean over valid joints of the squared distance."""
    return _joint_mean((pred - target).pow(2).sum(-1), valid)


def position_loss(pred: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
    """eq. 12: mean over valid nodes of ‖ĉ_i − c_i‖² (B, N, 3)."""
    return _joint_mean((pred - target).pow(2).sum(-1), valid)


def weight_l1(modules: Iterable[nn.Module]) -> Tensor:
    """eq. 5, normalised: Σ_k ‖W_k‖₁ / Σ_k |W_k| over Linear / Conv weights (module docstring)."""
    total, count = None, 0
    for module in modules:
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)):
                w = m.weight
                if not w.requires_grad:
                    continue
                s = w.abs().sum()
                total = s if total is None else total + s
                count += w.numel()
    if total is None:
        return torch.zeros(())
    return total / count


_BONES = [(p, c) for c, p in enumerate(OPENPOSE_PARENTS) if p >= 0]
_EDGE_SRC = torch.tensor([i for p, c in _BONES for i in (p, c)])
_EDGE_DST = torch.tensor([j for p, c in _BONES for j in (c, p)])


def edge_loss(alphas: list[Tensor]) -> Tensor:
    """eq. 13 over the skeleton's 40 directed edges: mean of (α_ij − 1)² over edges, heads,
    layers and the batch. ``alphas``: per layer (B, K, 21, 21); empty → 0."""
    if not alphas:
        return torch.zeros(())
    terms = [a[..., _EDGE_SRC.to(a.device), _EDGE_DST.to(a.device)] for a in alphas]
    return torch.stack([(t - 1).pow(2).mean() for t in terms]).mean()


def tw_loss(
    out,
    targets: Tensor,
    valid: Tensor,
    tw_joints: tuple[int, ...],
    sigma: float,
    config: EHPELossConfig,
    modules: Iterable[nn.Module] = (),
) -> dict[str, Tensor]:
    """eq. 6 for a :class:`~handpose.models.ehpe.TWOutput`.

    Args:
        out: the TW-stage output.
        targets: (B, 21, 3) :func:`joint_targets`; valid: (B, 21) bool.
        tw_joints: the TW-stage's OpenPose indices.
        sigma: Gaussian σ in cells.
        modules: the trained modules (for L_R).
    Returns:
        {"loss", "heatmap", "distance", "l1"} (unweighted terms and the weighted total).
    """
    idx = torch.as_tensor(tw_joints, device=targets.device)
    t = targets.index_select(1, idx)
    v = valid.index_select(1, idx)
    size = tuple(out.heatmaps[-1].shape[-2:])
    hm_t = heatmap_targets(t[..., :2], size, sigma, v).to(out.heatmaps[-1].dtype)
    l_h = torch.stack([heatmap_loss(h, hm_t, v) for h in out.heatmaps]).mean()
    l_ed = euclidean_distance_loss(out.coords, t.to(out.coords.dtype), v)
    l_r = weight_l1(modules).to(l_ed.device, l_ed.dtype)
    total = config.lambda_h * l_h + config.lambda_ed * l_ed + config.lambda_r * l_r
    return {"loss": total, "heatmap": l_h, "distance": l_ed, "l1": l_r}


def pg_loss(out, targets: Tensor, valid: Tensor, config: EHPELossConfig) -> dict[str, Tensor]:
    """eq. 14 for a :class:`~handpose.models.ehpe.PGOutput`: {"loss", "position", "edge"}."""
    l_p = position_loss(out.fused, targets.to(out.fused.dtype), valid)
    l_e = edge_loss(out.alphas).to(l_p.device, l_p.dtype)
    return {"loss": config.lambda_p * l_p + config.lambda_e * l_e, "position": l_p, "edge": l_e}
