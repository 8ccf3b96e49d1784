"""Reconstruction loss: weighted smooth L1 on joints, mesh vertices, rotations θ and shape β.

From the paper's text (MGDHand): reconstruction = weighted smooth L1 on joints, vertices, θ and
β. The weights and smooth-L1 thresholds are not published; ours are configuration
(:class:`ReconstructionConfig`). θ is compared as rotation matrices, not 6D codes: the 6D code of
a rotation is not unique (Gram–Schmidt accepts any scaled/sheared pair of rows), the matrix is.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from handpose.models.mgdhand.outputs import MGDHandOutput

__all__ = ["ReconstructionConfig", "reconstruction_loss", "smooth_l1"]


@dataclass(frozen=True)
class ReconstructionConfig:
    """Weights (λ) and smooth-L1 thresholds (β_sl1, in the term's unit) of the reconstruction loss.

    Positions are in metres, so a position weight of 100 with a 0.01 m threshold behaves like a
    unit weight on centimetres.
    """

    joints: float = 100.0
    vertices: float = 100.0
    pose: float = 1.0
    betas: float = 0.1
    position_threshold: float = 0.01  # metres
    rotation_threshold: float = 0.05  # rotation-matrix entries
    shape_threshold: float = 0.1  # β units
    # The vertex term uses every k-th mesh vertex (1 = all). Skinning all 1379 open-hand
    # vertices of every frame cost ~25 % of a cpu-small step; a fixed every-8th subset (173
    # vertices spread over the whole mesh) keeps the term's role at a fraction of the cost.
    # Evaluation (MPVPE) always uses the full mesh.
    vertex_stride: int = 1

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if value < 0:
                raise ValueError(f"reconstruction {name} must be ≥ 0, got {value}")
        for name in ("position_threshold", "rotation_threshold", "shape_threshold"):
            if getattr(self, name) <= 0:
                raise ValueError(f"reconstruction {name} must be > 0")
        if self.vertex_stride < 1:
            raise ValueError(f"reconstruction vertex_stride must be ≥ 1, got {self.vertex_stride}")


def smooth_l1(pred: Tensor, target: Tensor, threshold: float) -> Tensor:
    """Mean element-wise smooth L1 (Huber/threshold): 0.5x²/β for |x| < β, |x| − 0.5β beyond."""
    return F.smooth_l1_loss(pred, target, beta=threshold)


def reconstruction_loss(
    pred: MGDHandOutput,
    joints: Tensor,
    rotmats: Tensor,
    betas: Tensor,
    vertices: Tensor | None = None,
    config: ReconstructionConfig | None = None,
) -> dict[str, Tensor]:
    """Weighted smooth L1 between a prediction and ground truth.

    Args:
        pred: the model output (``joints``, ``vertices``, ``rotmats``, ``betas``).
        joints: (B, T, 21, 3) metres, wrist-relative.
        rotmats: (B, T, 16, 3, 3) ground-truth rotations.
        betas: (B, 10).
        vertices: (B, T, V, 3) wrist-relative, or None to skip the mesh term.
        config: weights and thresholds.
    Returns:
        ``{"joints", "vertices", "pose", "betas"}`` unweighted terms (vertices only when both
        sides have them) and ``"recon"``, their weighted sum.
    """
    cfg = config or ReconstructionConfig()
    terms = {
        "joints": smooth_l1(pred.joints, joints, cfg.position_threshold),
        "pose": smooth_l1(pred.rotmats, rotmats, cfg.rotation_threshold),
        "betas": smooth_l1(pred.betas, betas, cfg.shape_threshold),
    }
    if vertices is not None and pred.vertices is not None:
        terms["vertices"] = smooth_l1(pred.vertices, vertices, cfg.position_threshold)
    total = torch.zeros((), dtype=pred.joints.dtype, device=pred.joints.device)
    for name, value in terms.items():
        total = total + getattr(cfg, name) * value
    terms["recon"] = total
    return terms
