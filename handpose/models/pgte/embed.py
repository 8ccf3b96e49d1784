"""PGTE's ViT: ViTPose's transformer with the two-convolution patch embedding of Table 1.

Supplement §2 ("Network Architecture", Table 1): the patch embedding *and* the position
encoding of ViTPose-B are replaced by two convolutions with zero padding, whose padding serves
as the positional cue (Chu et al., "Conditional positional encodings for vision
transformers", 2021):

=====  ======  ==============  ======  =======
layer  kernel  output channels stride  padding
=====  ======  ==============  ======  =======
1      7×7     64              4       2
2      3×3     768             2       1
=====  ======  ==============  ======  =======

Between the two convolutions we put BatchNorm + ReLU (the table lists only the convolutions;
a normalised non-linearity between two stacked convolutions is the usual conv-stem design).

Output grid: ``H₁ = ⌊(H + 4 − 7)/4⌋ + 1``, ``H₂ = ⌊(H₁ + 2 − 3)/2⌋ + 1`` (the same for W), so
the tokens have stride 8: 32×24 = 768 tokens at ViTPose's 256×192 (4× ViTPose's 192), 32×32 at
256×256, 8×8 at 64×64. Token (i, j) of the second layer is centred on input pixel
``(8j + 1, 8i + 1)`` (layer 1 cell j covers ``4j − 2 … 4j + 4``, centre 4j + 1; layer 2 cell j
is centred on layer-1 cell 2j): 2.5 px above-left of the ``(j + ½)·8 − ½`` of
:mod:`handpose.models.heads.sampling`'s stride convention, an offset the heads learn.

The transformer blocks are :class:`handpose.models.backbones.vit.ViT`'s (pre-LN, fused SDPA
attention), built with ``patch_embed=ConvPatchEmbed(...)`` and ``pos_embed=False``.
"""

from __future__ import annotations

from torch import Tensor, nn

from handpose.models.backbones.vit import ViT

__all__ = ["ConvPatchEmbed", "conv_embed_grid", "build_pgte_vit", "STEM"]

# (kernel, stride, padding) of the two layers (Table 1).
STEM = ((7, 4, 2), (3, 2, 1))


def conv_embed_grid(height: int, width: int) -> tuple[int, int]:
    """Token grid (H₂, W₂) of :class:`ConvPatchEmbed` for an input of ``height`` × ``width``.

    Example:
        >>> conv_embed_grid(256, 192)
        (32, 24)
    """
    h, w = int(height), int(width)
    for k, s, p in STEM:
        h = (h + 2 * p - k) // s + 1
        w = (w + 2 * p - k) // s + 1
    return h, w


class ConvPatchEmbed(nn.Module):
    """Conv(7×7/4, 64, pad 2) → BN → ReLU → Conv(3×3/2, C, pad 1).

    Args:
        in_chans: input channels.
        embed_dim: C (768).
        stem_channels: channels of the first layer (64).
    Shapes: (B, in_chans, H, W) → (B, C, H₂, W₂) (:func:`conv_embed_grid`).
    """

    stride = 8

    def __init__(self, in_chans: int = 3, embed_dim: int = 768, stem_channels: int = 64) -> None:
        super().__init__()
        (k1, s1, p1), (k2, s2, p2) = STEM
        self.conv1 = nn.Conv2d(in_chans, stem_channels, k1, s1, p1, bias=False)
        self.norm = nn.BatchNorm2d(stem_channels)
        self.act = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(stem_channels, embed_dim, k2, s2, p2)

    def grid(self, height: int, width: int) -> tuple[int, int]:
        return conv_embed_grid(height, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(self.act(self.norm(self.conv1(x))))


def build_pgte_vit(
    image_size: int,
    embed_dim: int = 768,
    depth: int = 12,
    num_heads: int = 12,
    mlp_ratio: float = 4.0,
    stem_channels: int = 64,
    drop_path_rate: float = 0.0,
) -> ViT:
    """The ViT of PGTE: ViTPose's blocks, :class:`ConvPatchEmbed`, no positional embedding.

    Returns:
        a :class:`~handpose.models.backbones.vit.ViT` mapping (B, 3, S, S) to
        (B, embed_dim, H₂, W₂) at stride 8.
    """
    return ViT(
        img_size=image_size,
        in_chans=3,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        mlp_ratio=mlp_ratio,
        qkv_bias=True,
        drop_path_rate=drop_path_rate,
        patch_embed=ConvPatchEmbed(3, embed_dim, stem_channels),
        pos_embed=False,
    )
