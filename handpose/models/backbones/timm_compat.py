"""Import timm on a torch without torchvision.

timm (the model library the backbones come from) imports ``torchvision`` in a few places:
``torchvision.ops.misc.FrozenBatchNorm2d`` in ``timm.layers`` and ``timm.utils.model``, and the
transforms / datasets in ``timm.data`` (which every model module imports for its mean and std
constants). On these machines the PyPI torchvision wheel for our CPU torch is a CUDA build that
does not import (../shared/reference/rendering.md), so timm is installed with ``--no-deps``.

:func:`import_timm` first tries the real ``import torchvision``. Only when that fails does it
install an import hook that provides

- ``torchvision.ops.misc.FrozenBatchNorm2d``: a real implementation (below; the same buffers and
  arithmetic as torchvision's, so state dicts and outputs match);
- ``torchvision.models.feature_extraction``: an ``ImportError``, so that timm reports FX feature
  extraction as unavailable and uses its hook-based feature wrappers instead;
- every other ``torchvision.*`` name: a placeholder class that can be subclassed and have
  attributes read at import time, but raises ``ImportError`` when instantiated or called (the
  data-loading transforms are not used by handpose).

A working torchvision is never shadowed: the hook is installed only after a real import failed,
and ``torchvision.__handpose_shim__`` tells the two apart.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

import torch
from torch import Tensor, nn

__all__ = ["FrozenBatchNorm2d", "import_timm", "torchvision_is_shim"]

_SHIM_FLAG = "__handpose_shim__"
_MISSING_MESSAGE = (
    "torchvision is not installed (handpose provides only the parts timm's models need); "
    "install a torchvision matching your torch for {name}."
)
# Submodules that must look absent, so that the importer takes its fallback path.
_ABSENT = ("torchvision.models.feature_extraction",)


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed statistics and affine parameters (all buffers, no gradients).

    ``y = (x − running_mean) / sqrt(running_var + eps) · weight + bias`` per channel, as
    torchvision's ``FrozenBatchNorm2d``; the state-dict keys are the same (a stray
    ``num_batches_tracked`` from a BatchNorm2d checkpoint is dropped).

    Args:
        num_features: number of channels C of the (B, C, H, W) input.
        eps: added to the variance.
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: D401
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


class _PlaceholderMeta(type):
    """Attribute reads on a placeholder class give further placeholders (``Mode.BILINEAR``)."""

    def __getattr__(cls, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _placeholder(f"{cls.__qualname__}.{name}")


def _placeholder(qualname: str) -> type:
    def fail(self, *args, **kwargs):
        raise ImportError(_MISSING_MESSAGE.format(name=f"torchvision {qualname}"))

    return _PlaceholderMeta(
        qualname.rsplit(".", 1)[-1],
        (),
        {"__init__": fail, "__call__": fail, "__qualname__": qualname},
    )


class _ShimModule(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _placeholder(f"{self.__name__}.{name}")
        setattr(self, name, value)
        return value


class _ShimFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves ``torchvision`` and its submodules from :class:`_ShimModule` objects."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torchvision" and not fullname.startswith("torchvision."):
            return None
        if fullname in _ABSENT:
            raise ImportError(_MISSING_MESSAGE.format(name=fullname))
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        module = _ShimModule(spec.name)
        module.__path__ = []  # a package, so that submodule imports reach this finder
        setattr(module, _SHIM_FLAG, True)
        if spec.name == "torchvision":
            module.__version__ = "0.0.0+handpose.shim"
        if spec.name == "torchvision.ops.misc":
            module.FrozenBatchNorm2d = FrozenBatchNorm2d
        return module

    def exec_module(self, module):
        pass


def torchvision_is_shim() -> bool:
    """True when ``torchvision`` in ``sys.modules`` is this module's placeholder."""
    return getattr(sys.modules.get("torchvision"), _SHIM_FLAG, False)


def _install_shim_if_needed() -> None:
    if "torchvision" in sys.modules:
        return
    try:
        importlib.import_module("torchvision")
        return
    except Exception:  # ImportError, or a broken binary build (RuntimeError, OSError)
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
    if not any(isinstance(f, _ShimFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _ShimFinder())


def import_timm():
    """Import and return the ``timm`` module, installing the torchvision shim if needed.

    Raises:
        HandposeError: timm is not installed (with the install command).
    """
    from handpose.errors import HandposeError

    if "timm" in sys.modules:
        return sys.modules["timm"]
    _install_shim_if_needed()
    try:
        return importlib.import_module("timm")
    except ModuleNotFoundError as err:
        if err.name != "timm":
            raise
        raise HandposeError(
            "the image backbones need timm: pip install timm "
            "(or, beside a torch without torchvision: pip install --no-deps timm)."
        ) from None
