"""DIR (ICCV 2023): two interacting hands from one RGB crop by decoupled 2D/3D iterative refinement.

- :mod:`.network`: :class:`DIRNetwork` (backbone, initial regression, refinement stages, heads)
  and :class:`DIROutput`.
- :mod:`.config`: :class:`DIRConfig` (sizes and switches; DIR's values by default).
- :mod:`.mano`: the per-hand MANO vector (6D root, PCA pose, shape, weak camera), its decoding,
  camera-frame placement.
- :mod:`.graph`: the hand skeleton graph and the per-node semantic GCN.
- :mod:`.transformer`: the inter-hand transformer over 42 joint tokens.
- :mod:`.projection`: the 3D→2D bone projection (one channel block per bone and hand).
- :mod:`.size`: parameters and FLOPs.

The losses are in :mod:`handpose.losses.dir`.
"""

from handpose.models.dir.config import DIRConfig
from handpose.models.dir.graph import HAND_BONES, SemGCN, SemGraphConv, hand_adjacency
from handpose.models.dir.mano import (
    POSITION_UNIT,
    HandsEstimate,
    ManoVectorDecoder,
    normalised_to_pixels,
    pixels_to_normalised,
    to_camera_frame,
)
from handpose.models.dir.network import DIRNetwork, DIROutput
from handpose.models.dir.projection import BoneProjection, bone_projection
from handpose.models.dir.transformer import InterHandTransformer

__all__ = [
    "DIRConfig",
    "DIRNetwork",
    "DIROutput",
    "HandsEstimate",
    "ManoVectorDecoder",
    "POSITION_UNIT",
    "normalised_to_pixels",
    "pixels_to_normalised",
    "to_camera_frame",
    "HAND_BONES",
    "hand_adjacency",
    "SemGraphConv",
    "SemGCN",
    "InterHandTransformer",
    "BoneProjection",
    "bone_projection",
]
