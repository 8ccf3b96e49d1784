"""Pose-aware tokens (supplement §3, eq. 6): one token for the wrist/palm and one per finger.

The partition of the 21 OpenPose joints (eq. 6; each finger owns its four joints, named CMC,
MCP, IP, TIP in the supplement whatever the finger)::

    T⁰ → {wrist}                         joint 0
    T¹ → {thumb  CMC, MCP, IP, TIP}      joints 1–4
    T² → {index  …}                      joints 5–8
    T³ → {middle …}                      joints 9–12
    T⁴ → {ring   …}                      joints 13–16
    T⁵ → {pinky  …}                      joints 17–20

**Building the tokens** (:class:`PoseTokenizer`; the supplement only says the tokens follow the
palm and the fingers): each joint's image feature is sampled at its current 2D estimate
(:func:`handpose.models.heads.sample_points`), concatenated with its normalised 2.5D position,
projected by a per-joint linear map and summed over the token's joints (a linear map of the
concatenation of the group's joints), then layer-normalised.

**Splitting back** (:class:`PoseTemplateSplit`, "split into pose template based on this
mapping"): joint j receives its token through a per-joint linear map (the pose template),
plus a skip connection from its own sampled feature: a finger's four joints read the same
fused token through four different maps.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = [
    "POSE_TOKEN_JOINTS",
    "POSE_TOKEN_NAMES",
    "NUM_POSE_TOKENS",
    "JOINT_TOKEN",
    "token_matrix",
    "PoseTokenizer",
    "PoseTemplateSplit",
]

POSE_TOKEN_NAMES = ("wrist", "thumb", "index", "middle", "ring", "pinky")
POSE_TOKEN_JOINTS: tuple[tuple[int, ...], ...] = (
    (0,),
    (1, 2, 3, 4),
    (5, 6, 7, 8),
    (9, 10, 11, 12),
    (13, 14, 15, 16),
    (17, 18, 19, 20),
)
NUM_POSE_TOKENS = len(POSE_TOKEN_JOINTS)
# token index of each OpenPose joint
JOINT_TOKEN: tuple[int, ...] = tuple(
    next(t for t, js in enumerate(POSE_TOKEN_JOINTS) if j in js) for j in range(21)
)


def token_matrix() -> torch.Tensor:
    """(6, 21) one-hot: row t marks the joints of token t (eq. 6)."""
    G = torch.zeros(NUM_POSE_TOKENS, 21)
    G[torch.tensor(JOINT_TOKEN), torch.arange(21)] = 1.0
    return G


def _per_joint_linear(n: int, c_in: int, c_out: int) -> nn.Parameter:
    w = torch.empty(n, c_in, c_out)
    nn.init.trunc_normal_(w, std=(1.0 / c_in) ** 0.5)
    return nn.Parameter(w)


class PoseTokenizer(nn.Module):
    """Per-joint features and positions → the six pose-aware tokens.

    Args:
        feat_dim: width of the sampled joint features.
        token_dim: D.
    Shapes: features (..., 21, feat_dim), positions (..., 21, 3) normalised 2.5D →
    (..., 6, D).
    """

    def __init__(self, feat_dim: int, token_dim: int) -> None:
        super().__init__()
        self.weight = _per_joint_linear(21, feat_dim + 3, token_dim)
        self.bias = nn.Parameter(torch.zeros(NUM_POSE_TOKENS, token_dim))
        self.norm = nn.LayerNorm(token_dim)
        self.register_buffer("groups", token_matrix(), persistent=False)

    def forward(self, features: Tensor, positions: Tensor) -> Tensor:
        x = torch.cat([features, positions.to(features.dtype)], dim=-1)
        per_joint = torch.einsum("...jc,jcd->...jd", x, self.weight)  # (..., 21, D)
        # sum over each token's joints (a matrix product: exportable, unlike index_add)
        tokens = torch.einsum("gj,...jd->...gd", self.groups.to(per_joint.dtype), per_joint)
        return self.norm(tokens + self.bias)


class PoseTemplateSplit(nn.Module):
    """The six fused tokens → 21 per-joint features (the pose template), plus a skip from each
    joint's own sampled feature.

    Args:
        token_dim: D; feat_dim: width of the sampled joint features; joint_dim: output width.
    Shapes: tokens (..., 6, D), features (..., 21, feat_dim) → (..., 21, joint_dim).
    """

    def __init__(self, token_dim: int, feat_dim: int, joint_dim: int) -> None:
        super().__init__()
        self.template = _per_joint_linear(21, token_dim, joint_dim)
        self.skip = nn.Linear(feat_dim, joint_dim)
        self.norm = nn.LayerNorm(joint_dim)
        self.register_buffer("groups", token_matrix(), persistent=False)

    def forward(self, tokens: Tensor, features: Tensor) -> Tensor:
        per_joint = torch.einsum("gj,...gd->...jd", self.groups.to(tokens.dtype), tokens)
        out = torch.einsum("...jd,jdc->...jc", per_joint, self.template)
        return self.norm(out + self.skip(features))
