"""Heatmaps: Gaussian targets, soft-argmax (2D and 2.5D) and deconvolution heads.

Conventions (pinned by tests):

- **Heatmap coordinates** ``(x, y)``: cell ``(i, j)`` (row i, column j) has its centre at
  ``x = j, y = i`` (pixel centres at integer coordinates, as the image pixels of the sample
  schema). A heatmap of stride ``s`` over an image has cell centre ``x`` at image pixel
  ``u = (x + ½)·s − ½`` (:func:`heatmap_to_image`): the ``s × s`` block of image pixels
  ``s·j … s·j + s − 1`` has its centre there.
- **Depth bins**: a 2.5D volume (J, D, H, W) has D bins over a root-relative metric range
  ``[−R/2, R/2]`` (``depth_range = R``, metres); bin ``k`` is the interval
  ``[−R/2 + k·R/D, −R/2 + (k + 1)·R/D]`` with its centre at the integer bin coordinate k, so
  ``z = (k + ½)·R/D − R/2`` (:func:`bins_to_depth`). The soft-argmax reaches the bin centres
  ``±(R/2 − R/2D)`` at most. EHPE: D = 8, R = 0.2 m (±100 mm about the wrist).
- **Soft-argmax with a temperature** T: ``p = softmax(logits / T)`` over all cells (H·W, or
  D·H·W for one joint's volume), coordinates = expectation under p. T = 1 is EHPE's β = 1 (the
  joint 3D softmax, whose marginals are the xy and z softmaxes of its code); T → 0 approaches
  the arg-max.
- **Gaussian targets**: ``exp(−‖c − p‖² / 2σ²)`` per cell centre c, peak 1 at the point (the
  usual MSE target), σ in cells (2D) and cells / bins (3D); invalid joints give all-zero maps.

The heads (:class:`HeatmapHead2D`, :class:`HeatmapHead25D`) are SimpleBaseline / ViTPose
deconvolution heads: ``num_deconv`` × (ConvTranspose2d k4 s2 + BN + ReLU) and a 1×1 conv to
J (2D) or J·D (2.5D) channels, so the output stride is ``in_stride / 2**num_deconv``
(ResNet stride 32 with 3 deconvs → 64×64 at 256 px, like SimpleBaseline and EHPE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError

__all__ = [
    "heatmap_to_image",
    "image_to_heatmap",
    "bins_to_depth",
    "depth_to_bins",
    "gaussian_heatmaps",
    "gaussian_heatmaps_3d",
    "soft_argmax_2d",
    "soft_argmax_25d",
    "HeatmapOutput",
    "HeatmapHead2D",
    "HeatmapHead25D",
]


# ----------------------------------------------------------------------------- conventions


def heatmap_to_image(xy: Tensor, stride: float) -> Tensor:
    """Heatmap coordinates → image pixels: ``u = (x + ½)·stride − ½``. (..., 2) → (..., 2)."""
    return (xy + 0.5) * stride - 0.5


def image_to_heatmap(uv: Tensor, stride: float) -> Tensor:
    """Image pixels → heatmap coordinates: ``x = (u + ½)/stride − ½``. (..., 2) → (..., 2)."""
    return (uv + 0.5) / stride - 0.5


def bins_to_depth(z_bin: Tensor, depth_bins: int, depth_range: float) -> Tensor:
    """Bin coordinate (centres at integers 0 … D−1) → root-relative depth in metres.

    ``z = (z_bin + ½)·R/D − R/2`` with ``R = depth_range``. (...) → (...).
    """
    return (z_bin + 0.5) * (depth_range / depth_bins) - 0.5 * depth_range


def depth_to_bins(z: Tensor, depth_bins: int, depth_range: float) -> Tensor:
    """Root-relative depth in metres → bin coordinate; inverse of :func:`bins_to_depth`."""
    return (z + 0.5 * depth_range) * (depth_bins / depth_range) - 0.5


# ----------------------------------------------------------------------------- targets


def _check_points(points: Tensor, dim: int, name: str) -> None:
    if not isinstance(points, Tensor) or points.ndim < 2 or points.shape[-1] != dim:
        shape = tuple(points.shape) if isinstance(points, Tensor) else type(points).__name__
        raise HandposeError(f"{name} must have shape (..., J, {dim}), got {shape}.")


def _axis(n: int, like: Tensor) -> Tensor:
    return torch.arange(n, dtype=like.dtype, device=like.device)


def gaussian_heatmaps(
    points: Tensor, size: Sequence[int], sigma: float = 2.0, valid: Tensor | None = None
) -> Tensor:
    """2D Gaussian targets.

    Args:
        points: (..., J, 2) (x, y) in heatmap coordinates (cell centres at integers).
        size: (H, W) of the heatmap.
        sigma: standard deviation in cells (ViTPose / EHPE: 2 at 64×64).
        valid: optional (..., J) bool; invalid joints get all-zero maps.
    Returns:
        (..., J, H, W), peak 1 at the point.

    Example:
        >>> hm = gaussian_heatmaps(torch.tensor([[2.0, 1.0]]), (3, 4), sigma=1.0)
        >>> float(hm[0, 1, 2]), round(float(hm[0, 1, 3]), 4)  # centre, one cell to the right
        (1.0, 0.6065)
    """
    _check_points(points, 2, "points")
    h, w = int(size[0]), int(size[1])
    dx = _axis(w, points) - points[..., 0, None]  # (..., J, W)
    dy = _axis(h, points) - points[..., 1, None]  # (..., J, H)
    inv = -0.5 / (sigma * sigma)
    out = torch.exp(inv * dy * dy)[..., :, None] * torch.exp(inv * dx * dx)[..., None, :]
    if valid is not None:
        out = out * valid[..., None, None].to(out.dtype)
    return out


def gaussian_heatmaps_3d(
    points: Tensor,
    size: Sequence[int],
    sigma: float = 2.0,
    sigma_z: float | None = None,
    valid: Tensor | None = None,
) -> Tensor:
    """3D Gaussian targets for 2.5D volumes.

    Args:
        points: (..., J, 3) (x, y, z_bin): heatmap coordinates and the bin coordinate
            (:func:`depth_to_bins`).
        size: (D, H, W) of the volume.
        sigma: standard deviation in cells along x and y.
        sigma_z: standard deviation in bins (default ``sigma``).
        valid: optional (..., J) bool; invalid joints get all-zero volumes.
    Returns:
        (..., J, D, H, W), peak 1 at the point.
    """
    _check_points(points, 3, "points")
    d = int(size[0])
    sz = sigma if sigma_z is None else sigma_z
    plane = gaussian_heatmaps(points[..., :2], size[1:], sigma, valid)  # (..., J, H, W)
    dz = _axis(d, points) - points[..., 2, None]  # (..., J, D)
    return torch.exp(-0.5 * dz * dz / (sz * sz))[..., :, None, None] * plane[..., None, :, :]


# ----------------------------------------------------------------------------- soft-argmax


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise HandposeError(f"temperature must be positive, got {temperature}.")


def _softmax_last(logits: Tensor, ndims: int) -> Tensor:
    """Softmax over the last ``ndims`` dimensions together, without reshaping the leading
    ones (so that an exported graph keeps a dynamic batch axis)."""
    dims = tuple(range(-ndims, 0))
    return torch.exp(logits - torch.logsumexp(logits, dim=dims, keepdim=True))


def soft_argmax_2d(heatmaps: Tensor, temperature: float = 1.0) -> Tensor:
    """Expected (x, y) under ``softmax(heatmaps / T)`` over each map's H·W cells.

    Args:
        heatmaps: (..., J, H, W) logits.
        temperature: T > 0.
    Returns:
        (..., J, 2) (x, y) in heatmap coordinates. Differentiable.
    """
    if not isinstance(heatmaps, Tensor) or heatmaps.ndim < 3:
        raise HandposeError(
            f"heatmaps must have shape (..., J, H, W), got {getattr(heatmaps, 'shape', heatmaps)}."
        )
    _check_temperature(temperature)
    h, w = heatmaps.shape[-2:]
    p = _softmax_last(heatmaps / temperature, 2)
    x = (p.sum(-2) * _axis(w, p)).sum(-1)
    y = (p.sum(-1) * _axis(h, p)).sum(-1)
    return torch.stack([x, y], dim=-1)


def soft_argmax_25d(volume: Tensor, temperature: float = 1.0) -> Tensor:
    """Expected (x, y, z_bin) under ``softmax(volume / T)`` over each joint's D·H·W cells.

    Args:
        volume: (..., J, D, H, W) logits.
        temperature: T > 0.
    Returns:
        (..., J, 3): x, y in heatmap coordinates and z in bin coordinates (centres at
        integers; metres via :func:`bins_to_depth`). Differentiable.
    """
    if not isinstance(volume, Tensor) or volume.ndim < 4:
        raise HandposeError(
            f"volume must have shape (..., J, D, H, W), got {getattr(volume, 'shape', volume)}."
        )
    _check_temperature(temperature)
    d, h, w = volume.shape[-3:]
    p = _softmax_last(volume / temperature, 3)
    x = (p.sum((-3, -2)) * _axis(w, p)).sum(-1)
    y = (p.sum((-3, -1)) * _axis(h, p)).sum(-1)
    z = (p.sum((-2, -1)) * _axis(d, p)).sum(-1)
    return torch.stack([x, y, z], dim=-1)


# ----------------------------------------------------------------------------- heads


@dataclass
class HeatmapOutput:
    """Output of the heatmap heads (B = batch, J = joints).

    Attributes:
        logits: (B, J, H, W) (2D) or (B, J, D, H, W) (2.5D) heatmap logits.
        xy: (B, J, 2) soft-argmax in heatmap coordinates.
        uv: (B, J, 2) the same in input-image pixels.
        z_bin: (B, J) depth in bin coordinates (2.5D), else None.
        z: (B, J) root-relative depth in metres (2.5D), else None.
    """

    logits: Tensor
    xy: Tensor
    uv: Tensor
    z_bin: Tensor | None = None
    z: Tensor | None = None


def _deconv_stack(in_channels: int, hidden: int, num_deconv: int) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    c = in_channels
    for _ in range(num_deconv):
        deconv = nn.ConvTranspose2d(c, hidden, kernel_size=4, stride=2, padding=1, bias=False)
        nn.init.normal_(deconv.weight, std=0.001)
        layers += [deconv, nn.BatchNorm2d(hidden), nn.ReLU(inplace=True)]
        c = hidden
    return nn.Sequential(*layers), c


class _HeatmapHead(nn.Module):
    def __init__(self, in_channels, out_channels, in_stride, num_deconv, hidden, temperature):
        super().__init__()
        if num_deconv < 0:
            raise HandposeError(f"num_deconv must be ≥ 0, got {num_deconv}.")
        _check_temperature(temperature)
        self.deconv, c = _deconv_stack(int(in_channels), int(hidden), int(num_deconv))
        self.final = nn.Conv2d(c, out_channels, kernel_size=1)
        nn.init.normal_(self.final.weight, std=0.001)
        nn.init.zeros_(self.final.bias)
        self.in_stride = float(in_stride)
        self.out_stride = self.in_stride / 2**num_deconv
        self.temperature = float(temperature)

    def _maps(self, features: Tensor) -> Tensor:
        if not isinstance(features, Tensor) or features.ndim != 4:
            raise HandposeError(
                f"the heatmap head takes one (B, C, h, w) feature map, got {getattr(features, 'shape', type(features).__name__)}."
            )
        return self.final(self.deconv(features))


class HeatmapHead2D(_HeatmapHead):
    """(B, C, h, w) features of stride ``in_stride`` → J 2D heatmaps and their soft-argmax.

    Args:
        in_channels: C.
        num_joints: J.
        in_stride: stride of the input map w.r.t. the image (for :attr:`HeatmapOutput.uv`).
        num_deconv: 2× upsampling layers (0: a 1×1 conv on the map as it is, e.g. HRNet's
            stride-4 branch).
        hidden: channels of the deconvolutions (256 in SimpleBaseline / ViTPose).
        temperature: soft-argmax temperature.
    """

    def __init__(
        self, in_channels, num_joints, in_stride=32, num_deconv=3, hidden=256, temperature=1.0
    ):
        super().__init__(in_channels, num_joints, in_stride, num_deconv, hidden, temperature)
        self.num_joints = int(num_joints)

    def forward(self, features: Tensor) -> HeatmapOutput:
        logits = self._maps(features)
        xy = soft_argmax_2d(logits, self.temperature)
        return HeatmapOutput(logits=logits, xy=xy, uv=heatmap_to_image(xy, self.out_stride))


class HeatmapHead25D(_HeatmapHead):
    """(B, C, h, w) features → a (B, J, D, H, W) volume, (u, v) pixels and root-relative z.

    Args:
        in_channels, num_joints, in_stride, num_deconv, hidden, temperature: as
            :class:`HeatmapHead2D`.
        depth_bins: D (EHPE: 8).
        depth_range: R, metres spanned by the bins about the root (EHPE: 0.2).
    """

    def __init__(
        self,
        in_channels,
        num_joints,
        in_stride=32,
        num_deconv=3,
        hidden=256,
        temperature=1.0,
        depth_bins=8,
        depth_range=0.2,
    ):
        super().__init__(
            in_channels, num_joints * depth_bins, in_stride, num_deconv, hidden, temperature
        )
        if depth_range <= 0 or depth_bins < 1:
            raise HandposeError("depth_bins must be ≥ 1 and depth_range positive.")
        self.num_joints = int(num_joints)
        self.depth_bins = int(depth_bins)
        self.depth_range = float(depth_range)

    def forward(self, features: Tensor) -> HeatmapOutput:
        maps = self._maps(features)
        logits = maps.reshape(-1, self.num_joints, self.depth_bins, *maps.shape[-2:])
        xyz = soft_argmax_25d(logits, self.temperature)
        z_bin = xyz[..., 2]
        return HeatmapOutput(
            logits=logits,
            xy=xyz[..., :2],
            uv=heatmap_to_image(xyz[..., :2], self.out_stride),
            z_bin=z_bin,
            z=bins_to_depth(z_bin, self.depth_bins, self.depth_range),
        )
