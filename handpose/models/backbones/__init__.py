"""Image backbones: ResNet, HRNet, FastViT, ViT-B/16 (ViTPose) and small CPU networks.

>>> from handpose.models.backbones import create_backbone
>>> net = create_backbone("resnet50", strides=(8, 16, 32))  # doctest: +SKIP
>>> feats = net(torch.randn(2, 3, 256, 256))  # doctest: +SKIP
>>> [tuple(f.shape) for f in feats], net.channels, net.strides  # doctest: +SKIP
([(2, 512, 32, 32), (2, 1024, 16, 16), (2, 2048, 8, 8)], (512, 1024, 2048), (8, 16, 32))

Input: (B, 3, H, W) float32 or float64 RGB normalised with the ImageNet mean (0.485, 0.456,
0.406) and std (0.229, 0.224, 0.225) (:data:`IMAGENET_MEAN`, :data:`IMAGENET_STD`); any batch
size. Output: a list of feature maps, finest first, described by ``net.channels`` and
``net.strides`` (:mod:`.base`). Which network, which levels and where its weights come from:
:mod:`.registry`. Local pretrained weights and their error messages: :mod:`.weights`. timm on a
torch without torchvision: :mod:`.timm_compat`. ViTPose's ViT: :mod:`.vit`.

A config's ``backbone:`` section is a :class:`BackboneConfig` (``name``, ``weights``,
``strides``, ``drop_path_rate``, ``img_size``); :func:`build_backbone` builds it.
"""

from handpose.models.backbones.base import Backbone, TimmBackbone, ViTBackbone, fuse_levels
from handpose.models.backbones.registry import (
    BACKBONES,
    BackboneConfig,
    BackboneSpec,
    Published,
    build_backbone,
    create_backbone,
    imagenet_weights_file,
    list_backbones,
)
from handpose.models.backbones.timm_compat import import_timm
from handpose.models.backbones.vit import ViT
from handpose.models.backbones.weights import WeightsReport, load_weights, read_state_dict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

__all__ = [
    "Backbone",
    "TimmBackbone",
    "ViTBackbone",
    "ViT",
    "fuse_levels",
    "BACKBONES",
    "BackboneConfig",
    "BackboneSpec",
    "Published",
    "build_backbone",
    "create_backbone",
    "list_backbones",
    "imagenet_weights_file",
    "import_timm",
    "WeightsReport",
    "load_weights",
    "read_state_dict",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
]
