"""Bilinear sampling of feature maps at 2D image points (EHPE's PG-stage, DIR's "FS" lifting,
pose-aware tokens).

Pixel convention: image pixel centres are at integer coordinates, so a W-pixel-wide image spans
``[−½, W − ½]``; a feature map of stride ``s`` has cell ``j`` centred at image ``(j + ½)·s − ½``
(:mod:`handpose.models.backbones.base`), i.e. at feature coordinate ``x_f = (u + ½)/s − ½``.

``grid_sample`` with ``align_corners=False`` takes normalised coordinates in which −1 and +1
are the outer *edges* of the border cells, i.e. ``x_f = ((x_n + 1)·w − 1)/2``. With
``w = W/s`` both conventions give

    x_n = (2u + 1)/W − 1,

independent of the stride: the same normalisation serves every level of a pyramid, and a point
at an image pixel centre lands on the matching position of each level. (``align_corners=True``
would put ±1 on the border cell *centres*, which shifts the map by half a cell per level: the
convention EHPE's code uses, at a cost of ½ cell of misalignment.)

Outside the map, ``padding_mode="zeros"`` (default, as DIR) treats missing neighbours as 0;
``"border"`` clamps the point to the outermost cell centres first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from handpose.errors import HandposeError

__all__ = ["points_to_grid", "sample_points"]


def points_to_grid(points: Tensor, image_size: tuple[float, float]) -> Tensor:
    """Image pixels → ``grid_sample`` coordinates (``align_corners=False``).

    Args:
        points: (..., 2) (u, v) pixels, centres at integers.
        image_size: (H, W) of the image the points live in (= stride × feature size).
    Returns:
        (..., 2) normalised ``(2u + 1)/W − 1, (2v + 1)/H − 1``.
    """
    h, w = image_size
    u = (2.0 * points[..., 0] + 1.0) / w - 1.0
    v = (2.0 * points[..., 1] + 1.0) / h - 1.0
    return torch.stack([u, v], dim=-1)


def sample_points(
    features: Tensor, points: Tensor, stride: float, padding_mode: str = "zeros"
) -> Tensor:
    """Bilinearly sample a feature map at image points.

    Args:
        features: (B, C, h, w) feature map of stride ``stride`` (image = h·s × w·s pixels).
        points: (B, N, 2) (u, v) image pixels, centres at integers.
        stride: the map's stride in image pixels (may be fractional).
        padding_mode: "zeros" or "border".
    Returns:
        (B, N, C). Differentiable w.r.t. the features and the points.

    Example:
        >>> f = torch.arange(4.0).reshape(1, 1, 1, 4)  # one row, stride 2: centres at u = 0.5, 2.5, …
        >>> sample_points(f, torch.tensor([[[2.5, 0.5], [1.5, 0.5]]]), stride=2)[..., 0]
        tensor([[1.0000, 0.5000]])
    """
    if not isinstance(features, Tensor) or features.ndim != 4:
        raise HandposeError(
            f"features must have shape (B, C, h, w), got {getattr(features, 'shape', features)}."
        )
    if not isinstance(points, Tensor) or points.ndim != 3 or points.shape[-1] != 2:
        raise HandposeError(
            f"points must have shape (B, N, 2), got {getattr(points, 'shape', points)}."
        )
    if not torch.jit.is_tracing() and points.shape[0] != features.shape[0]:
        raise HandposeError(
            f"points and features have different batch sizes ({points.shape[0]} vs {features.shape[0]})."
        )
    if padding_mode not in ("zeros", "border"):
        raise HandposeError(f"padding_mode must be 'zeros' or 'border', got {padding_mode!r}.")
    h, w = features.shape[-2:]
    grid = points_to_grid(points.to(features.dtype), (h * stride, w * stride))
    out = F.grid_sample(
        features,
        grid[:, :, None, :],
        mode="bilinear",
        padding_mode=padding_mode,
        align_corners=False,
    )  # (B, C, N, 1)
    return out[..., 0].transpose(1, 2)
