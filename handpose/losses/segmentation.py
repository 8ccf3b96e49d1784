"""Segmentation losses: class-weighted cross-entropy and the Lovász-softmax loss.

Lovász-softmax (Berman, Rannen Triki & Blaschko, "The Lovász-Softmax loss: a tractable surrogate
for the optimization of the intersection-over-union measure in neural networks", CVPR 2018,
Eq. 8–9 and Alg. 1): for each class c, the pixel errors ``m_i(c) = |[y_i = c] − p_i(c)|`` sorted
in decreasing order are weighted by the gradient of the Lovász extension of the Jaccard loss
``Δ_J(M) = 1 − |y_c ∩ ¬M| / |y_c ∪ M|`` at the sorted prefixes. The loss is the mean over
classes (only those present in the labels: the paper's "present" variant), computed over all
pixels of the batch together. For one-hot probabilities it equals the mean of ``1 − IoU_c``
exactly (the extension agrees with the set function on binary vectors).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from handpose.errors import HandposeError

__all__ = ["lovasz_jaccard_gradient", "lovasz_softmax", "weighted_cross_entropy"]


def lovasz_jaccard_gradient(fg_sorted: Tensor) -> Tensor:
    """(P,) 0/1 ground truth in the order of decreasing error → (P,) Lovász weights
    ``Δ_J(prefix_i) − Δ_J(prefix_{i−1})``."""
    total = fg_sorted.sum()
    intersection = total - fg_sorted.cumsum(0)
    union = total + (1.0 - fg_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    return torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])


def lovasz_softmax(probabilities: Tensor, labels: Tensor, ignore: int | None = None) -> Tensor:
    """Lovász-softmax over a batch (module docstring).

    Args:
        probabilities: (B, C, H, W) class probabilities (softmax of the logits).
        labels: (B, H, W) integer labels in [0, C).
        ignore: a label whose pixels are left out.
    Returns:
        () the mean over present classes; 0 when no pixel counts.
    """
    if probabilities.ndim != 4 or labels.shape != probabilities.shape[:1] + probabilities.shape[2:]:
        raise HandposeError(
            f"lovasz_softmax takes (B, C, H, W) probabilities and (B, H, W) labels, got "
            f"{tuple(probabilities.shape)} and {tuple(labels.shape)}."
        )
    C = probabilities.shape[1]
    p = probabilities.permute(0, 2, 3, 1).reshape(-1, C)
    y = labels.reshape(-1)
    if ignore is not None:
        keep = y != ignore
        p, y = p[keep], y[keep]
    losses = []
    for c in range(C):
        fg = (y == c).to(p.dtype)
        if fg.sum() == 0:
            continue
        errors = (fg - p[:, c]).abs()
        errors_sorted, order = torch.sort(errors, descending=True)
        losses.append(torch.dot(errors_sorted, lovasz_jaccard_gradient(fg[order])))
    if not losses:
        return probabilities.sum() * 0.0
    return torch.stack(losses).mean()


def weighted_cross_entropy(logits: Tensor, labels: Tensor, weights: Sequence[float]) -> Tensor:
    """Cross-entropy with per-class weights (PyTorch's weighted mean: Σ w_y·ℓ / Σ w_y).

    Args:
        logits: (B, C, H, W); labels: (B, H, W) long; weights: C class weights.
    """
    w = torch.as_tensor(list(weights), dtype=logits.dtype, device=logits.device)
    if w.numel() != logits.shape[1]:
        raise HandposeError(f"{w.numel()} class weights for {logits.shape[1]} classes.")
    return F.cross_entropy(logits, labels.long(), weight=w)
