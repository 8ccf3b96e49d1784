"""Geometry: rotations, Procrustes and scale alignment, and pinhole camera helpers.

- :mod:`handpose.geometry.rotations`: axis-angle, matrices, quaternions (w first), 6D.
- :mod:`handpose.geometry.procrustes`: batched Procrustes (``similarity`` / ``freihand``) and
  the IntagHand / HO3D scale alignments.
- :mod:`handpose.geometry.camera`: projection, back-projection, 2.5D ↔ 3D.
"""

from handpose.geometry.camera import UVZ, backproject, project, uvz_to_xyz, xyz_to_uvz
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
]
