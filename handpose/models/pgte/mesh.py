"""Mesh regression from per-vertex 2.5D heatmaps (supplement eq. 1–3, after SAR, Zheng et al.
ISMAR 2021; ../shared/reference/vision_methods.md §3.3).

Every vertex k has a latent 2D heatmap ``B_k`` and a depth map ``D_k`` of h_u × w_u cells:

- eq. 1: ``p_k = Σ_p softmax(B_k)(p) · p``: its position in heatmap cells (soft-argmax);
- eq. 2: ``z_k = Σ_p softmax(B_k)(p) · D_k(p)``: its depth relative to the root (the wrist
  joint), metres;
- eq. 3: ``(x_k, y_k, z_k)ᵀ = (z_k + z_r) · K⁻¹ (u_k, v_k, 1)ᵀ`` with ``(u_k, v_k)`` = p_k in
  input pixels (:func:`handpose.models.heads.heatmap_to_image`), the root's absolute depth z_r
  and the crop's intrinsics K (:func:`handpose.geometry.camera.uvz_to_xyz`).

Joints come from the camera-frame vertices through the hand model's regressor
(:func:`openpose_regressor`: its 16 ``J_regressor`` rows plus the 5 fingertip vertices, in
OpenPose-21 order), so any vertex count works (open hand 1379, MANO 778).

Heatmap coordinates follow :mod:`handpose.models.heads.heatmaps`: cell (i, j) is centred at
x = j, y = i. The *normalised* 2.5D frame used by the tokens and the triplane maps a heatmap
position to ``grid_sample`` coordinates (``x_n = (2x + 1)/w − 1``, ±1 = the outer edges of the
map, align_corners = False) and a root-relative depth to ``z_n = z / (R/2)`` (R =
``depth_range``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.handmodel import HandModel
from handpose.handmodel.conventions import MANO_PARENTS, MANO_TO_OPENPOSE

__all__ = [
    "heatmap_uvz",
    "vertices_from_uvz",
    "openpose_regressor",
    "vertex_joint_weights",
    "to_normalized",
    "from_normalized",
    "JointHeatmapHead",
    "VertexHeatmapHead",
]


def heatmap_uvz(
    logits: Tensor, depth_maps: Tensor, temperature: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Eq. 1–2: soft-argmax position and heatmap-weighted depth.

    Args:
        logits: (..., N, h, w) heatmap logits B_k.
        depth_maps: (..., N, h, w) depth maps D_k (broadcastable to ``logits``).
        temperature: softmax temperature (1 = eq. 1–2 as written).
    Returns:
        ``xy`` (..., N, 2) in heatmap cells (x = column, y = row, centres at integers) and
        ``z`` (..., N) in the depth maps' unit.
    """
    if not isinstance(logits, Tensor) or logits.ndim < 3:
        raise HandposeError(
            f"logits must have shape (..., N, h, w), got {getattr(logits, 'shape', logits)}."
        )
    if not temperature > 0:
        raise HandposeError(f"temperature must be positive, got {temperature}.")
    h, w = logits.shape[-2:]
    s = logits / temperature
    # softmax over the last two axes without flattening them (an exported graph keeps the
    # leading axes dynamic)
    p = torch.exp(s - torch.logsumexp(s, dim=(-2, -1), keepdim=True))
    xs = torch.arange(w, dtype=p.dtype, device=p.device)
    ys = torch.arange(h, dtype=p.dtype, device=p.device)
    x = (p.sum(-2) * xs).sum(-1)
    y = (p.sum(-1) * ys).sum(-1)
    z = (p * depth_maps).sum((-2, -1))
    return torch.stack([x, y], dim=-1), z


def vertices_from_uvz(uv: Tensor, z_rel: Tensor, z_root: Tensor, K: Tensor) -> Tensor:
    """Eq. 3: ``(z_rel + z_root)·K⁻¹(u, v, 1)ᵀ``.

    The same as :func:`handpose.geometry.camera.uvz_to_xyz` for pinhole intrinsics
    ``[[f_x, s, c_x], [0, f_y, c_y], [0, 0, 1]]``, written with K⁻¹ in closed form (ONNX has
    no matrix inverse): ``y = (v − c_y)/f_y``, ``x = (u − c_x − s·y)/f_x``.

    Args:
        uv: (..., N, 2) input-image pixels.
        z_rel: (..., N) root-relative depth, metres.
        z_root: (...) the root's absolute depth, metres.
        K: (..., 3, 3) intrinsics of the input image.
    Returns:
        (..., N, 3) camera frame, metres.
    """
    fx, s, cx = K[..., 0, 0, None], K[..., 0, 1, None], K[..., 0, 2, None]
    fy, cy = K[..., 1, 1, None], K[..., 1, 2, None]
    y = (uv[..., 1] - cy) / fy
    x = (uv[..., 0] - cx - s * y) / fx
    z = z_rel + z_root[..., None]
    return torch.stack([x * z, y * z, z], dim=-1)


def openpose_regressor(hand: HandModel) -> Tensor:
    """(21, V) float64: OpenPose-21 joints from a mesh, ``joints = R @ vertices``.

    Rows are the hand model's 16 ``J_regressor`` rows and one-hot rows of its 5 fingertip
    vertices, reordered by :data:`~handpose.handmodel.conventions.MANO_TO_OPENPOSE`. Every row
    sums to 1 (translation-equivariant).
    """
    J = hand.J_regressor.to(torch.float64)
    V = J.shape[1]
    tips = torch.zeros(5, V, dtype=torch.float64)
    tips[torch.arange(5), hand.tip_ids.long()] = 1.0
    return torch.cat([J, tips])[list(MANO_TO_OPENPOSE)].contiguous()


# OpenPose child of each MANO joint: the bone a vertex skinned to that joint lies along.
# MANO 0 (wrist) → middle MCP (palm); a third phalanx → the fingertip.
def _mano_bone_ends() -> list[tuple[int, int]]:
    op = {m: MANO_TO_OPENPOSE.index(m) for m in range(16)}
    tips = {3: 8, 6: 12, 9: 20, 12: 16, 15: 4}  # MANO last phalanx → OpenPose tip
    ends = []
    for m in range(16):
        if m == 0:
            ends.append((op[0], 9))
            continue
        children = [c for c, p in enumerate(MANO_PARENTS) if p == m]
        ends.append((op[m], op[children[0]] if children else tips[m]))
    return ends


def vertex_joint_weights(hand: HandModel) -> Tensor:
    """(V, 21) float64 initial weights of the joint → coarse-vertex map: a vertex skinned to
    MANO joint m with weight w sits on that joint's bone, so w is split equally between the
    bone's two OpenPose joints (the wrist's bone ends at the middle MCP). Rows sum to 1."""
    W = hand.weights.to(torch.float64)  # (V, 16)
    out = torch.zeros(W.shape[0], 21, dtype=torch.float64)
    for m, (a, b) in enumerate(_mano_bone_ends()):
        out[:, a] += 0.5 * W[:, m]
        out[:, b] += 0.5 * W[:, m]
    return out / out.sum(1, keepdim=True)


def to_normalized(xy: Tensor, z: Tensor, size: tuple[int, int], half_range: float) -> Tensor:
    """Heatmap cells + root-relative metres → the normalised 2.5D frame (module docstring).

    Args:
        xy: (..., N, 2) heatmap cells; z: (..., N) metres; size: (h, w) of the heatmap;
        half_range: R/2 in metres.
    Returns:
        (..., N, 3) ``((2x + 1)/w − 1, (2y + 1)/h − 1, z/(R/2))``.
    """
    h, w = size
    xn = (2.0 * xy[..., 0] + 1.0) / w - 1.0
    yn = (2.0 * xy[..., 1] + 1.0) / h - 1.0
    return torch.stack([xn, yn, z / half_range], dim=-1)


def from_normalized(p: Tensor, size: tuple[int, int], half_range: float) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`to_normalized`: (..., N, 3) → xy (..., N, 2) cells, z (..., N) m."""
    h, w = size
    x = ((p[..., 0] + 1.0) * w - 1.0) / 2.0
    y = ((p[..., 1] + 1.0) * h - 1.0) / 2.0
    return torch.stack([x, y], dim=-1), p[..., 2] * half_range


class JointHeatmapHead(nn.Module):
    """The initial joint estimate (eq. 1–2 for 21 joints): a 1×1 conv gives each joint a
    heatmap and a depth map; the depths are re-referenced to the wrist (exactly 0 there).

    Shapes: (N, c, h, w) → xy (N, 21, 2) cells, z (N, 21) metres, logits (N, 21, h, w).
    """

    def __init__(self, channels: int, half_range: float, temperature: float = 1.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 2 * 21, 1)
        nn.init.normal_(self.conv.weight, std=1e-3)
        nn.init.zeros_(self.conv.bias)
        self.half_range = float(half_range)
        self.temperature = float(temperature)

    def forward(self, fmap: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        maps = self.conv(fmap)
        logits, depth = maps[:, :21], maps[:, 21:] * self.half_range
        xy, z = heatmap_uvz(logits, depth, self.temperature)
        return xy, z - z[:, :1], logits


class VertexHeatmapHead(nn.Module):
    """Per-vertex heatmaps B_k and depth maps D_k read from one feature map.

    Each vertex k has a feature f_k (from the triplane, plus a learned per-vertex embedding);
    an MLP turns it into a query q_k and a depth read-out r_k (c each). With the feature map
    split into a heatmap half F_B and a depth half F_D (c channels each):

    - ``B_k(p) = ⟨q_k, F_B(p)⟩/√c − ‖p − p̂_k‖²/2σ²`` (the coarse-vertex prior, σ =
      ``prior_sigma`` cells; omitted for σ = 0);
    - ``D_k(p) = ẑ_k + (R/2)·(⟨r_k, F_D(p)⟩/√c + b_k)``, around the coarse depth ẑ_k.

    Args:
        num_vertices: V.
        feat_dim: width of f_k.
        channels: c (the feature map has 2c channels).
        half_range: R/2, metres.
        prior_sigma: σ in heatmap cells (0: no prior).
        temperature: soft-argmax temperature.
    """

    def __init__(
        self,
        num_vertices: int,
        feat_dim: int,
        channels: int,
        half_range: float,
        prior_sigma: float = 2.0,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        self.num_vertices = int(num_vertices)
        self.channels = int(channels)
        self.embed = nn.Parameter(torch.zeros(num_vertices, feat_dim))
        nn.init.trunc_normal_(self.embed, std=0.02)
        self.norm = nn.LayerNorm(feat_dim)
        self.mlp = nn.Sequential(
            nn.Linear(feat_dim, feat_dim), nn.GELU(), nn.Linear(feat_dim, 2 * channels + 1)
        )
        nn.init.normal_(self.mlp[-1].weight, std=1e-3)
        nn.init.zeros_(self.mlp[-1].bias)
        self.half_range = float(half_range)
        self.prior_sigma = float(prior_sigma)
        self.temperature = float(temperature)

    def maps(
        self,
        vertex_feats: Tensor,
        fmap: Tensor,
        coarse_xy: Tensor,
        coarse_z: Tensor,
        vertex_ids: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Logits B (N, V, h, w) and depth maps D (N, V, h, w) in metres.

        Args:
            vertex_feats: (N, V, feat_dim); fmap: (N, 2c, h, w); coarse_xy: (N, V, 2) cells;
            coarse_z: (N, V) metres; vertex_ids: (V,) which vertices these are (None: all).
        """
        c = self.channels
        embed = self.embed if vertex_ids is None else self.embed[vertex_ids]
        code = self.mlp(self.norm(vertex_feats + embed))
        q, r, b = code[..., :c], code[..., c : 2 * c], code[..., 2 * c]
        scale = 1.0 / math.sqrt(c)
        logits = torch.einsum("nvc,nchw->nvhw", q, fmap[:, :c]) * scale
        if self.prior_sigma > 0:
            h, w = fmap.shape[-2:]
            inv = -0.5 / (self.prior_sigma * self.prior_sigma)
            xs = torch.arange(w, dtype=fmap.dtype, device=fmap.device)
            ys = torch.arange(h, dtype=fmap.dtype, device=fmap.device)
            dx = xs - coarse_xy[..., 0:1]  # (N, V, w)
            dy = ys - coarse_xy[..., 1:2]  # (N, V, h)
            logits = logits + inv * (dy * dy)[..., :, None] + inv * (dx * dx)[..., None, :]
        depth = torch.einsum("nvc,nchw->nvhw", r, fmap[:, c:]) * scale + b[..., None, None]
        depth = coarse_z[..., None, None] + self.half_range * depth
        return logits, depth

    def forward(
        self,
        vertex_feats: Tensor,
        fmap: Tensor,
        coarse_xy: Tensor,
        coarse_z: Tensor,
        vertex_ids: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Eq. 1–2 per vertex: xy (N, V, 2) heatmap cells and z (N, V) metres."""
        logits, depth = self.maps(vertex_feats, fmap, coarse_xy, coarse_z, vertex_ids)
        return heatmap_uvz(logits, depth, self.temperature)
