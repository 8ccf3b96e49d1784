"""Losses on 2.5D heatmap volumes: the distribution form of a heatmap loss, and the L1
coordinate loss of integral regression.

**Heatmap term** (:func:`volume_kl_loss`). A (J, D, H, W) logit volume defines, per joint, one
distribution ``p = softmax(logits / T)`` over its D·H·W cells (the one whose expectation is the
soft-argmax, :func:`handpose.models.heads.soft_argmax_25d`). Its 2D marginal (summed over
depth) is compared with a normalised 2D Gaussian at the target (x, y) and its depth marginal
with a normalised 1D Gaussian at the target depth bin, each by the KL divergence
``Σ t (log t − log p)`` (0 when the marginal equals the target). This is EHPE's heatmap loss
L_H (eq. 3: the predicted heatmap against a Gaussian at the joint) in the form that fits a
softmax volume, the distribution regulariser of DSNT (Nibali et al., 2018): unlike the
coordinate loss alone, its gradient ``p − t`` is large while the volume is still uniform, which
is what makes a network trained from scratch leave the mean pose within a few hundred steps.

**Coordinate term** (:func:`coordinate_l1_loss`): mean ``|Δx|/W + |Δy|/H + |Δz|/D`` over valid
joints (integral regression, Sun et al., ECCV 2018; EHPE's L_ED, eq. 4, squared).

Targets whose Gaussian lies (almost) entirely outside the map (less than 1e-3 of its mass
inside) are left out of the heatmap term, as are invalid joints.
"""

from __future__ import annotations

import torch
from torch import Tensor

from handpose.models.heads.heatmaps import gaussian_heatmaps

__all__ = ["volume_kl_loss", "coordinate_l1_loss", "masked_mean"]

_MIN_MASS = 1e-3


def masked_mean(x: Tensor, valid: Tensor) -> Tensor:
    """Mean of ``x`` over ``valid`` entries (0 when none is valid)."""
    w = valid.to(x.dtype)
    return (x * w).sum() / w.sum().clamp(min=1.0)


def volume_kl_loss(
    logits: Tensor,
    target: Tensor,
    valid: Tensor,
    sigma: float = 1.0,
    sigma_z: float = 1.0,
    temperature: float = 1.0,
) -> dict[str, Tensor]:
    """KL divergences of a volume's 2D and depth marginals to Gaussian targets.

    Args:
        logits: (B, J, D, H, W).
        target: (B, J, 3) heatmap coordinates (x, y) and depth bin z (centres at integers).
        valid: (B, J) bool.
        sigma: target standard deviation in cells; ``sigma_z`` in bins.
        temperature: the soft-argmax temperature (the distribution is ``softmax(logits / T)``).
    Returns:
        ``{"xy": (), "z": ()}`` mean KL over valid joints (nats).
    """
    b, j, d, h, w = logits.shape
    log_p = torch.log_softmax((logits / temperature).flatten(-3), -1).unflatten(-1, (d, h, w))
    log_xy = torch.logsumexp(log_p, dim=-3)  # (B, J, H, W)
    log_z = torch.logsumexp(log_p, dim=(-2, -1))  # (B, J, D)
    g_xy = gaussian_heatmaps(target[..., :2].to(logits.dtype), (h, w), sigma)
    bins = torch.arange(d, dtype=logits.dtype, device=logits.device)
    g_z = torch.exp(-0.5 * ((bins - target[..., 2:3].to(logits.dtype)) / sigma_z) ** 2)
    out = {}
    for name, g, lp, dims in (("xy", g_xy, log_xy, (-2, -1)), ("z", g_z, log_z, (-1,))):
        mass = g.sum(dims)
        t = g / mass.clamp(min=1e-12).reshape(*mass.shape, *([1] * len(dims)))
        kl = (t * (torch.log(t.clamp(min=1e-30)) - lp)).sum(dims)
        # a unit-peak Gaussian has mass 2πσ² (2D) or √(2π)σ (1D) when it is inside the map
        full = 2 * torch.pi * sigma**2 if name == "xy" else (2 * torch.pi) ** 0.5 * sigma_z
        out[name] = masked_mean(kl, valid & (mass > _MIN_MASS * full))
    return out


def coordinate_l1_loss(pred: Tensor, target: Tensor, valid: Tensor, size: tuple) -> Tensor:
    """Mean over valid joints of ``Σ_k |pred_k − target_k| / size_k``.

    Args:
        pred, target: (B, J, 3) heatmap (x, y) and depth bin z.
        valid: (B, J) bool.
        size: (W, H, D), the scale of each coordinate.
    """
    scale = pred.new_tensor(size)
    return masked_mean(((pred - target).abs() / scale).sum(-1), valid)
