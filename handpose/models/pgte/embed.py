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

**A pretrained convolutional embedding (our option, not the paper's).** The paper's ViTPose-B
starts from pretrained weights; on CPU we can only train a small ViT from scratch, and a
from-scratch ``cpu-small`` PGTE did not learn the hand (docs/results/pgte.md). EHPE's and
DIR's CPU presets needed ImageNet weights to learn. :class:`PretrainedPatchEmbed` keeps the
supplement's idea (convolutions in place of the patch embedding and of the position encoding,
zero padding as the positional cue) but makes the convolutions the first stages of a registry
backbone with local ImageNet weights (``efficientnet_lite0``: its stem and blocks up to stride
8), followed by a 1×1 convolution to the token width. The token grid is the same as
:class:`ConvPatchEmbed`'s for inputs that are multiples of 8 (stride 8; token (i, j) centred on
pixel ``(8j, 8i)``: three stride-2 convolutions with symmetric padding, 1 px above-left of
:class:`ConvPatchEmbed`'s centre). Chosen with ``model.patch_embed``.
"""

from __future__ import annotations

from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.models.backbones.vit import ViT

__all__ = [
    "ConvPatchEmbed",
    "PretrainedPatchEmbed",
    "PATCH_EMBEDS",
    "build_patch_embed",
    "conv_embed_grid",
    "build_pgte_vit",
    "STEM",
]

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


class PretrainedPatchEmbed(nn.Module):
    """The first stages of a registry backbone up to stride 8, then a 1×1 conv to C.

    Only the stem and the blocks that produce the stride-8 level are kept (the later stages
    are dropped, not run). Needs a timm EfficientNet / MobileNet-style body (``conv_stem``,
    ``bn1``, ``blocks``).

    Args:
        backbone: registry name (:mod:`handpose.models.backbones.registry`).
        embed_dim: C.
        weights: as :func:`~handpose.models.backbones.registry.create_backbone` ("imagenet", a
            local file, or None for a random initialisation).
    Shapes: (B, 3, H, W) → (B, C, ⌈H/8⌉, ⌈W/8⌉).
    Raises:
        HandposeError: an unknown backbone, one without a stride-8 level or of another kind.
    """

    stride = 8

    def __init__(
        self, backbone: str = "efficientnet_lite0", embed_dim: int = 768, weights: str | None = None
    ) -> None:
        super().__init__()
        from handpose.models.backbones import create_backbone

        net = create_backbone(backbone, weights=weights, strides=(8,))
        body = getattr(net, "body", None)
        if not all(hasattr(body, a) for a in ("conv_stem", "bn1", "blocks", "feature_info")):
            raise HandposeError(
                f"patch_embed {backbone!r}: only EfficientNet / MobileNet-style backbones "
                "(a conv stem and blocks) can serve as PGTE's patch embedding."
            )
        last = body.feature_info.module_name()[0]  # e.g. "blocks.2": the stride-8 level
        if not last.startswith("blocks."):
            raise HandposeError(f"patch_embed {backbone!r}: unexpected level {last!r}.")
        self.backbone_name = backbone
        self.conv_stem, self.bn1 = body.conv_stem, body.bn1
        self.blocks = nn.Sequential(*list(body.blocks)[: int(last.split(".")[1]) + 1])
        self.proj = nn.Conv2d(int(net.channels[0]), embed_dim, 1)

    def grid(self, height: int, width: int) -> tuple[int, int]:
        return -(-int(height) // 8), -(-int(width) // 8)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.blocks(self.bn1(self.conv_stem(x))))


PATCH_EMBEDS = ("conv", "efficientnet_lite0", "mobilenetv3_large_100", "mobilenetv3_small_050")


def build_patch_embed(
    kind: str, embed_dim: int, stem_channels: int = 64, weights: str | None = "imagenet"
) -> nn.Module:
    """``"conv"``: :class:`ConvPatchEmbed` (Table 1); a backbone name:
    :class:`PretrainedPatchEmbed` with ``weights``."""
    if kind == "conv":
        return ConvPatchEmbed(3, embed_dim, stem_channels)
    if kind not in PATCH_EMBEDS:
        raise HandposeError(f"patch_embed must be one of {PATCH_EMBEDS}, got {kind!r}.")
    return PretrainedPatchEmbed(kind, embed_dim, weights)


def build_pgte_vit(
    image_size: int,
    embed_dim: int = 768,
    depth: int = 12,
    num_heads: int = 12,
    mlp_ratio: float = 4.0,
    stem_channels: int = 64,
    drop_path_rate: float = 0.0,
    patch_embed: str = "conv",
    patch_weights: str | None = "imagenet",
) -> ViT:
    """The ViT of PGTE: ViTPose's blocks, :class:`ConvPatchEmbed` (or, with ``patch_embed`` a
    backbone name, :class:`PretrainedPatchEmbed` with ``patch_weights``), no positional
    embedding.

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
        patch_embed=build_patch_embed(patch_embed, embed_dim, stem_channels, patch_weights),
        pos_embed=False,
    )
