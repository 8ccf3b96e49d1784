"""The backbone interface: an image batch in, a list of feature maps at known strides out.

Every backbone is an ``nn.Module`` with

- ``forward(x)``: x (B, in_chans, H, W) float32 or float64 (ImageNet-normalised RGB, see
  :mod:`handpose.models.backbones`) → ``list`` of feature maps ``(B, channels[i], ⌈H/strides[i]⌉,
  ⌈W/strides[i]⌉)``, finest first (exact sizes follow each network's padding; for H, W
  divisible by the largest stride they are exactly H/s × W/s);
- ``channels`` / ``strides``: tuples, one entry per returned map;
- ``name``: the registry name; ``load_weights(path)``: local pretrained weights (see
  :mod:`handpose.models.backbones.weights`).

A feature map of stride ``s`` has its cell ``(i, j)`` centred at image pixel
``((j + ½)·s − ½, (i + ½)·s − ½)`` (pixel centres at integer coordinates), the convention of
:func:`handpose.models.heads.sampling.sample_points` (ViTPose's padded patch grid is 2 px off
that, see :mod:`handpose.models.backbones.vit`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.models.backbones.weights import WeightsReport, load_weights

__all__ = ["Backbone", "TimmBackbone", "ViTBackbone", "fuse_levels"]


class Backbone(nn.Module):
    """Base class: input checks, the ``channels`` / ``strides`` contract, weight loading.

    Subclasses implement :meth:`features` and :meth:`weights_target`.
    """

    def __init__(
        self,
        name: str,
        channels: Sequence[int],
        strides: Sequence[int],
        in_chans: int = 3,
    ) -> None:
        super().__init__()
        self.name = name
        self.channels = tuple(int(c) for c in channels)
        self.strides = tuple(int(s) for s in strides)
        self.in_chans = int(in_chans)

    def features(self, x: Tensor) -> list[Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: Tensor) -> list[Tensor]:
        """(B, in_chans, H, W) → list of (B, channels[i], H/strides[i], W/strides[i])."""
        if torch.jit.is_tracing():  # exporting: sizes are traced values, checked when eager
            return self.features(x)
        if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] != self.in_chans:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise HandposeError(
                f"backbone {self.name!r} takes images of shape (B, {self.in_chans}, H, W), "
                f"got {shape}."
            )
        if not x.is_floating_point():
            raise HandposeError(
                f"backbone {self.name!r} takes float images (ImageNet-normalised), got {x.dtype}."
            )
        smallest = max(self.strides)
        if x.shape[2] < smallest or x.shape[3] < smallest:
            raise HandposeError(
                f"backbone {self.name!r} needs images of at least {smallest}×{smallest} px, "
                f"got {x.shape[2]}×{x.shape[3]}."
            )
        return self.features(x)

    def reparameterize(self) -> Backbone:
        """Switch to the inference form in place and return self: structurally
        re-parameterised blocks (FastViT's MobileOne / RepMixer / large-kernel convolutions)
        merge their training-time branches into single convolutions, which computes the same
        function with fewer parameters and operations. A no-op for other networks. Call after
        training (or loading weights) and before export; the result cannot be trained further
        as the original."""
        for module in list(self.modules()):
            if module is not self and hasattr(module, "reparameterize"):
                module.reparameterize()
        return self.eval()

    # ------------------------------------------------------------------ weights
    def weights_target(self) -> nn.Module:  # pragma: no cover - abstract
        """The module whose ``state_dict`` names are those of the public checkpoints."""
        raise NotImplementedError

    def weights_ignore(self) -> Collection[str]:
        """Checkpoint keys this backbone lacks on purpose (an ImageNet classifier)."""
        return ()

    def weights_adapter(self) -> Callable[[dict[str, Tensor]], dict[str, Tensor]] | None:
        """Converts other naming schemes of this network to ours (None: names must match)."""
        return None

    def load_weights(self, source: str | os.PathLike | Mapping[str, Tensor]) -> WeightsReport:
        """Load local pretrained weights (safetensors or a plain state dict).

        Raises:
            HandposeError: the file cannot be read safely, or its tensors do not match this
                backbone (the first few missing / unexpected / mismatched keys are listed).
        """
        return load_weights(
            self.weights_target(),
            source,
            what=f"backbone {self.name!r}",
            ignore=self.weights_ignore(),
            adapt=self.weights_adapter(),
        )

    def extra_repr(self) -> str:
        return f"name={self.name!r}, channels={self.channels}, strides={self.strides}"


class TimmBackbone(Backbone):
    """A timm ``features_only`` model (``body``; its keys are the timm / public checkpoint keys).

    Args:
        name: registry name.
        body: the timm features model, created with the wanted ``out_indices``.
        full_model: builds the complete classification model (used once, on the meta device,
            to know which checkpoint keys belong to the classifier and may be ignored).
        adapter: optional converter from another naming scheme (given ``body``'s full model).
    """

    def __init__(
        self,
        name: str,
        body: nn.Module,
        full_model: Callable[[], nn.Module],
        adapter: Callable[[nn.Module], Callable] | None = None,
        in_chans: int = 3,
    ) -> None:
        info = body.feature_info  # describes the selected out_indices only
        super().__init__(name, info.channels(), info.reduction(), in_chans)
        self.body = body
        self._full_model = full_model
        self._adapter = adapter

    def features(self, x: Tensor) -> list[Tensor]:
        return list(self.body(x))

    def weights_target(self) -> nn.Module:
        return self.body

    def _full_keys(self) -> set[str]:
        with torch.device("meta"):
            return set(self._full_model().state_dict())

    def weights_ignore(self) -> Collection[str]:
        return self._full_keys() - set(self.body.state_dict())

    def weights_adapter(self):
        return None if self._adapter is None else self._adapter(self.body)


class ViTBackbone(Backbone):
    """:class:`~handpose.models.backbones.vit.ViT` as a one-level backbone (stride 16)."""

    def __init__(self, name: str, vit: nn.Module, in_chans: int = 3) -> None:
        stride = getattr(vit.patch_embed, "stride", None) or 16
        super().__init__(name, (vit.embed_dim,), (stride,), in_chans)
        self.body = vit

    def features(self, x: Tensor) -> list[Tensor]:
        return [self.body(x)]

    def weights_target(self) -> nn.Module:
        return self.body

    def weights_adapter(self):
        from handpose.models.backbones.vit import vit_pos_embed_adapter

        return vit_pos_embed_adapter(self.body)


def fuse_levels(features: Sequence[Tensor], size: tuple[int, int] | None = None) -> Tensor:
    """Upsample every map to ``size`` (default: the first, finest one) and concatenate (HRNetV2's
    representation head, usable with any backbone).

    Args:
        features: maps (B, C_i, H_i, W_i).
        size: output (H, W).
    Returns:
        (B, ΣC_i, H, W); bilinear, ``align_corners=False`` (cell centres stay aligned under the
        stride convention of this module).
    """
    if not features:
        raise HandposeError("fuse_levels needs at least one feature map.")
    size = tuple(features[0].shape[-2:]) if size is None else tuple(size)
    ups = [
        f if tuple(f.shape[-2:]) == size else F.interpolate(f, size=size, mode="bilinear")
        for f in features
    ]
    return ups[0] if len(ups) == 1 else torch.cat(ups, dim=1)
