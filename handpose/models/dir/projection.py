"""DIR's 3D→2D bone projection ("MFP"): joint features written back into a feature map.

For every bone (a, b) of every hand (``HAND_BONES``, 20 per hand) and every cell of an h × w
map, with the cell centre ``c`` and the bone's projected endpoints in cell units:

- ``d`` = distance from ``c`` to the segment [a, b] (the closest point clamped to the segment);
- the cell receives the bone's feature when ``d ≤ threshold`` (DIR: 1 cell at 16×16, 2 cells at
  32×32; ../shared/reference/vision_methods.md §2.3, step 6), else zero;
- the feature is the inverse-distance-weighted mix of the two endpoint joint features:
  ``w_a = (1/d_a) / (1/d_a + 1/d_b) = d_b / (d_a + d_b)`` with ``d_a = ‖c − a‖``,
  ``d_b = ‖c − b‖`` (so the cell on joint a gets exactly ``f_a``); ``w_a = w_b = ½`` when
  both distances are 0.

**Each bone of each hand has its own block of C channels**: block ``k = hand·20 + bone``
occupies channels ``k·C … (k + 1)·C − 1`` of the (B, 2·20·C, h, w) output, so overlapping bones
of one hand or of the two hands never mix (DIR's "obfuscation-free" projection). A 3×3
convolution after it (in :mod:`.network`) fuses the blocks.

Coordinates: joints come as normalised crop coordinates (−1 and +1 = the outer edges of the
crop, the weak-perspective camera's output, :func:`handpose.geometry.camera.weak_perspective_project`);
cell ``j`` of a w-wide map is centred at ``x_n = (2j + 1)/w − 1``
(:mod:`handpose.models.heads.sampling`'s convention), i.e. at cell coordinate
``x_c = ((x_n + 1)·w − 1)/2 = j``. The positions are treated as constants (no gradient flows
into them, as in DIR where the projected joints are detached); the features get gradients.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.models.dir.graph import HAND_BONES

__all__ = ["normalised_to_cells", "bone_projection", "BoneProjection"]

_PARENT = torch.tensor([a for a, _ in HAND_BONES])
_CHILD = torch.tensor([b for _, b in HAND_BONES])


def normalised_to_cells(points: Tensor, size: tuple[int, int]) -> Tensor:
    """(..., 2) normalised (x, y) → cell coordinates of an (h, w) map (cell centres at integers)."""
    h, w = size
    scale = points.new_tensor([w, h])
    return ((points + 1.0) * scale - 1.0) / 2.0


def bone_projection(
    features: Tensor, joints: Tensor, size: tuple[int, int], threshold: float
) -> Tensor:
    """Write per-bone joint features into their own channels of an (h, w) map.

    Args:
        features: (B, H, 21, C) joint features of H hands (DIR: H = 2, right then left).
        joints: (B, H, 21, 2) projected joints, normalised crop coordinates (x, y).
        size: (h, w) of the output map.
        threshold: distance to the bone, in cells, within which a cell receives it.
    Returns:
        (B, H·20·C, h, w); block ``hand·20 + bone`` holds that bone (module docstring).
    """
    if features.ndim != 4 or features.shape[2] != 21:
        raise HandposeError(f"features must be (B, H, 21, C), got {tuple(features.shape)}.")
    if joints.shape != features.shape[:3] + (2,):
        raise HandposeError(
            f"joints must be (B, H, 21, 2) matching the features, got {tuple(joints.shape)}."
        )
    B, H, _, C = features.shape
    h, w = int(size[0]), int(size[1])
    p = normalised_to_cells(joints.detach().to(features.dtype), (h, w))
    a = p[:, :, _PARENT.to(p.device)]  # (B, H, 20, 2)
    b = p[:, :, _CHILD.to(p.device)]
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=p.dtype, device=p.device),
        torch.arange(w, dtype=p.dtype, device=p.device),
        indexing="ij",
    )
    c = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1)  # (hw, 2)
    ca = c - a[..., None, :]  # (B, H, 20, hw, 2)
    cb = c - b[..., None, :]
    seg = (b - a)[..., None, :]
    len2 = (seg * seg).sum(-1)
    t = ((ca * seg).sum(-1) / len2.clamp_min(torch.finfo(p.dtype).tiny)).clamp(0.0, 1.0)
    t = torch.where(len2 > 0, t, torch.zeros_like(t))
    d = (ca - t[..., None] * seg).norm(dim=-1)  # distance to the segment
    da, db = ca.norm(dim=-1), cb.norm(dim=-1)
    total = da + db
    half = torch.full_like(total, 0.5)
    wa = torch.where(total > 0, db / total.clamp_min(torch.finfo(p.dtype).tiny), half)
    wb = torch.where(total > 0, da / total.clamp_min(torch.finfo(p.dtype).tiny), half)
    inside = (d <= threshold).to(features.dtype)
    wa, wb = wa * inside, wb * inside  # (B, H, 20, hw)
    fa = features[:, :, _PARENT.to(p.device)]  # (B, H, 20, C)
    fb = features[:, :, _CHILD.to(p.device)]
    out = fa[..., None] * wa[..., None, :] + fb[..., None] * wb[..., None, :]  # (B, H, 20, C, hw)
    return out.reshape(B, H * len(HAND_BONES) * C, h, w)


class BoneProjection(nn.Module):
    """:func:`bone_projection` followed by DIR's 3×3 convolution to ``out_channels``.

    Args:
        joint_channels: C of the joint features.
        out_channels: channels after the fusing convolution (DIR: 256).
        threshold: cells (DIR: 1 at 16×16, 2 at 32×32).
        hands: H (2).
    """

    def __init__(
        self, joint_channels: int, out_channels: int, threshold: float, hands: int = 2
    ) -> None:
        super().__init__()
        self.threshold = float(threshold)
        self.fuse = nn.Sequential(
            nn.Conv2d(hands * len(HAND_BONES) * joint_channels, out_channels, 3, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, features: Tensor, joints: Tensor, size: tuple[int, int]) -> Tensor:
        """(B, H, 21, C), (B, H, 21, 2) normalised → (B, out_channels, h, w)."""
        return self.fuse(bone_projection(features, joints, size, self.threshold))
