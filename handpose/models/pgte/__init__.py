"""PGTE: hand meshes from low-resolution video with pose-guided temporal enhancement.

Only the supplementary material of the paper is available
(../shared/papers/002_b16189119b1abd24.txt); its building blocks are in
../shared/reference/vision_methods.md §3. Modules:

- :mod:`.config`: the network configs (PGTE, the VIBE-style baseline);
- :mod:`.embed`: the ViT with the two-conv patch embedding (Table 1);
- :mod:`.mesh`: per-vertex 2.5D heatmaps and back-projection (eq. 1–3), the joint regressor;
- :mod:`.tokens`: the six pose-aware tokens and the pose template (eq. 6);
- :mod:`.temporal`: causal temporal fusion of the tokens over a window;
- :mod:`.triplane`: the triplane encoding (eq. 4–5) and its single-plane variant;
- :mod:`.model`: :class:`PGTE` (``window = 1``: the ``single`` variant);
- :mod:`.vibe`: the VIBE-style baseline (ViT + GRU + MANO regressor);
- :mod:`.stream`: streaming (one new frame per step) and whole-video inference.

>>> from handpose.models.pgte import PGTE, PGTENetConfig  # doctest: +SKIP
>>> model = PGTE(PGTENetConfig(image_size=64, embed_dim=96, depth=2, num_heads=4, window=8))
>>> out = model(images, K, root_depth)  # (B, T, 3, 64, 64), (B, T, 3, 3), (B, T)  # doctest: +SKIP
>>> out.vertices.shape  # (B, T, 1379, 3)  # doctest: +SKIP
"""

from handpose.models.pgte.config import PGTENetConfig, VibeNetConfig
from handpose.models.pgte.embed import ConvPatchEmbed, build_pgte_vit, conv_embed_grid
from handpose.models.pgte.model import PGTE, FrameEncoding, PGTEOutput
from handpose.models.pgte.stream import WindowStream, run_sequence
from handpose.models.pgte.tokens import JOINT_TOKEN, POSE_TOKEN_JOINTS
from handpose.models.pgte.triplane import TriplaneEncoder
from handpose.models.pgte.vibe import VibeBaseline, VibeOutput

__all__ = [
    "PGTE",
    "PGTENetConfig",
    "PGTEOutput",
    "FrameEncoding",
    "VibeBaseline",
    "VibeNetConfig",
    "VibeOutput",
    "ConvPatchEmbed",
    "build_pgte_vit",
    "conv_embed_grid",
    "WindowStream",
    "run_sequence",
    "JOINT_TOKEN",
    "POSE_TOKEN_JOINTS",
    "TriplaneEncoder",
]
