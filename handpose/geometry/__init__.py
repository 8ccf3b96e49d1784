"""Geometry: rotations, Procrustes alignment and camera projection."""

from handpose.geometry.rotations import *  # noqa: F401,F403
from handpose.geometry.rotations import __all__ as _rot_all

__all__ = list(_rot_all)
