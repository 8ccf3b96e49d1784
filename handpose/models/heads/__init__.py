"""Heads and ops shared by the image estimators.

- :mod:`.heatmaps`: Gaussian targets (2D, 3D), soft-argmax (2D, 2.5D) with a temperature, the
  pixel and depth-bin conventions, and the deconvolution heatmap heads (2D and 2.5D).
- :mod:`.sampling`: bilinear feature sampling at 2D image points (``grid_sample``, pixel
  centres at integer coordinates, ``align_corners=False``).
- :mod:`.mano`: the MANO parameter head (6D rotations, shape, weak-perspective camera) through
  :class:`handpose.handmodel.HandModel`.

Camera conversions (root depth, back-projection, weak ↔ full perspective) live in
:mod:`handpose.geometry.camera`; fitting MANO to 21 joints in :mod:`handpose.handmodel.fitting`.
"""

from handpose.models.heads.heatmaps import (
    HeatmapHead2D,
    HeatmapHead25D,
    HeatmapOutput,
    bins_to_depth,
    depth_to_bins,
    gaussian_heatmaps,
    gaussian_heatmaps_3d,
    heatmap_to_image,
    image_to_heatmap,
    soft_argmax_2d,
    soft_argmax_25d,
)
from handpose.models.heads.mano import ManoHeadOutput, ManoParameterHead
from handpose.models.heads.sampling import points_to_grid, sample_points

__all__ = [
    "HeatmapHead2D",
    "HeatmapHead25D",
    "HeatmapOutput",
    "bins_to_depth",
    "depth_to_bins",
    "gaussian_heatmaps",
    "gaussian_heatmaps_3d",
    "heatmap_to_image",
    "image_to_heatmap",
    "soft_argmax_2d",
    "soft_argmax_25d",
    "ManoHeadOutput",
    "ManoParameterHead",
    "points_to_grid",
    "sample_points",
]
