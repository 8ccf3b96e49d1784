"""The TW-stage's convolutional blocks: residual modules, the (stacked) hourglass and the
refinement module.

- :class:`Residual`: Newell et al.'s pre-activation bottleneck (BN-ReLU-1×1, BN-ReLU-3×3,
  BN-ReLU-1×1 at half width, plus the identity or a 1×1 projection).
- :class:`Hourglass` / :class:`StackedHourglass`: Newell et al., "Stacked Hourglass Networks",
  ECCV 2016 (EHPE §3.1 cites the multipath variant [14]). Every stack emits a 2D heatmap; the
  next stack adds it back (1×1 convs) to its input, the usual intermediate supervision.
- :class:`RefinementModule`: EHPE §3.2, "eight residual modules and four max-pooling layers"
  fusing the 2D heatmap with the image features into the latent ``F_p``. **The paper gives the
  counts, not the wiring.** We read it as a four-level encoder–decoder: four × (residual module
  → 2× max-pool) down, four × (2× upsample + skip → residual module) up, so ``F_p`` has the
  heatmap's resolution (h/4 × w/4 of the image) and the 2.5D heatmap of eq. 2 can be read at
  that resolution. (The public code pools 64 → 4 and upsamples bilinearly without skips, which
  leaves no spatial detail at all for the 64–96 px inputs of the CPU presets.)

Odd sizes are handled: pools use ``ceil_mode`` and upsampling goes to the skip's exact size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Residual", "Hourglass", "StackedHourglass", "RefinementModule"]


class Residual(nn.Module):
    """Pre-activation bottleneck residual module: (B, C_in, H, W) → (B, C_out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        mid = max(out_channels // 2, 1)
        self.body = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, mid, 1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 1),
        )
        self.skip = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.skip(x) + self.body(x)


def _pool(x: Tensor) -> Tensor:
    return F.max_pool2d(x, 2, 2, ceil_mode=True)


def _up_to(x: Tensor, like: Tensor) -> Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="nearest")


class Hourglass(nn.Module):
    """One hourglass of ``depth`` pooling levels at constant width ``channels``."""

    def __init__(self, depth: int, channels: int) -> None:
        super().__init__()
        self.up = Residual(channels, channels)
        self.down = Residual(channels, channels)
        self.inner = Hourglass(depth - 1, channels) if depth > 1 else Residual(channels, channels)
        self.out = Residual(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        low = self.out(self.inner(self.down(_pool(x))))
        return self.up(x) + _up_to(low, x)


class StackedHourglass(nn.Module):
    """``stacks`` hourglasses; each one's 1×1 head gives ``num_joints`` 2D heatmaps.

    Args:
        channels: width of the input features and of every hourglass.
        num_joints: heatmaps per stack.
        stacks, depth: number of hourglasses and pooling levels of each.
    Returns (forward): list of ``stacks`` heatmaps (B, J, H, W) (logits; the last one is the
    prediction) and the last stack's features (B, channels, H, W).
    """

    def __init__(self, channels: int, num_joints: int, stacks: int = 2, depth: int = 4) -> None:
        super().__init__()
        self.hourglasses = nn.ModuleList(Hourglass(depth, channels) for _ in range(stacks))
        self.features = nn.ModuleList(
            nn.Sequential(
                Residual(channels, channels),
                nn.Conv2d(channels, channels, 1, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            )
            for _ in range(stacks)
        )
        self.heads = nn.ModuleList(nn.Conv2d(channels, num_joints, 1) for _ in range(stacks))
        self.merge_features = nn.ModuleList(
            nn.Conv2d(channels, channels, 1) for _ in range(stacks - 1)
        )
        self.merge_heatmaps = nn.ModuleList(
            nn.Conv2d(num_joints, channels, 1) for _ in range(stacks - 1)
        )

    def forward(self, x: Tensor) -> tuple[list[Tensor], Tensor]:
        heatmaps = []
        y = x
        for s, (hg, feat, head) in enumerate(zip(self.hourglasses, self.features, self.heads)):
            y = feat(hg(x))
            hm = head(y)
            heatmaps.append(hm)
            if s + 1 < len(self.hourglasses):
                x = x + self.merge_features[s](y) + self.merge_heatmaps[s](hm)
        return heatmaps, y


class RefinementModule(nn.Module):
    """EHPE's refinement module: [image features ‖ 2D heatmap] → latent ``F_p``.

    ``2·levels`` residual modules and ``levels`` max-pools (paper: 8 and 4), wired as an
    encoder–decoder with skips (module docstring).

    Args:
        in_channels: image-feature channels + heatmap channels.
        channels: width.
        levels: max-pools (4).
    Returns (forward): (B, channels, H, W), the input's resolution.
    """

    def __init__(self, in_channels: int, channels: int, levels: int = 4) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.down = nn.ModuleList(Residual(channels, channels) for _ in range(levels))
        self.up = nn.ModuleList(Residual(channels, channels) for _ in range(levels))

    def forward(self, features: Tensor, heatmap: Tensor) -> Tensor:
        x = self.stem(torch.cat([features, heatmap], dim=1))
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = _pool(x)
        for block, skip in zip(self.up, reversed(skips)):
            x = block(_up_to(x, skip) + skip)
        return x
