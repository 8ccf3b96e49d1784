"""Geometry: rotations, Procrustes and scale alignment, and pinhole camera helpers.

- :mod:`handpose.geometry.rotations`: axis-angle, matrices, quaternions (w first), 6D.
- :mod:`handpose.geometry.procrustes`: batched Procrustes (``similarity`` / ``freihand``) and
  the IntagHand / HO3D scale alignments.
- :mod:`handpose.geometry.camera`: projection, back-projection, 2.5D ↔ 3D, root depth and
  translation recovery, weak-perspective crop camera ↔ full-perspective translation.
"""

from handpose.geometry.camera import (
    UVZ,
    backproject,
    cam_crop_to_full,
    cam_full_to_crop,
    crop_to_image,
    image_to_crop,
    project,
    root_depth_from_bone,
    solve_translation,
    uvz_to_xyz,
    weak_perspective_project,
    xyz_to_uvz,
)
from handpose.geometry.procrustes import (
    ScaleAlignment,
    SimilarityTransform,
    procrustes_align,
    procrustes_residuals,
    procrustes_transform,
    scale_align_ho3d,
    scale_align_intaghand,
)
from handpose.geometry.rotations import *  # noqa: F401,F403
from handpose.geometry.rotations import __all__ as _rot_all

__all__ = list(_rot_all) + [
    "SimilarityTransform",
    "ScaleAlignment",
    "procrustes_transform",
    "procrustes_align",
    "procrustes_residuals",
    "scale_align_intaghand",
    "scale_align_ho3d",
    "UVZ",
    "project",
    "backproject",
    "uvz_to_xyz",
    "xyz_to_uvz",
    "root_depth_from_bone",
    "solve_translation",
    "weak_perspective_project",
    "crop_to_image",
    "image_to_crop",
    "cam_crop_to_full",
    "cam_full_to_crop",
]
