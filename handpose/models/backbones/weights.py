"""Local pretrained weights: read a state dict safely, match it to a module, explain mismatches.

Pretrained weights cannot be downloaded by handpose; a backbone loads them from a local file:

- ``*.safetensors`` (read with ``safetensors.torch.load_file``), or
- a plain PyTorch state dict (``.pth`` / ``.pt`` / ``.bin`` / ``.ckpt``), read with
  ``torch.load(weights_only=True)``: tensors, numbers, strings and containers only, never an
  arbitrary pickle. A checkpoint that nests its state dict under one of the usual keys
  (``state_dict``, ``model``, ``net``, ``module``) is unwrapped.

Matching (:func:`load_weights`) tolerates what public checkpoints routinely contain and refuses
everything else with one :class:`~handpose.errors.HandposeError` that lists the first few
missing, unexpected and mismatched keys:

- a common prefix (``backbone.``, ``module.``, ``model.``, ``encoder.``, ``body.``) is detected
  and stripped when more model keys match with it than without; keys outside the prefix belong
  to other parts of a full model (a ViTPose checkpoint's ``keypoint_head.*``) and are ignored;
- ``ignore`` names keys the module deliberately lacks, e.g. the classifier of an ImageNet
  checkpoint loaded into a feature extractor;
- a missing ``num_batches_tracked`` (BatchNorm's step counter) is not an error;
- ``adapt`` converts another naming scheme to the module's (see the backbone registry).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError

__all__ = ["WeightsReport", "read_state_dict", "load_weights"]

_NESTED_KEYS = ("state_dict", "model", "net", "module")
_PREFIXES = ("backbone.", "module.", "model.", "encoder.", "body.")
_SHOW = 5  # keys listed per category in an error message


@dataclass(frozen=True)
class WeightsReport:
    """What :func:`load_weights` did.

    Attributes:
        loaded: number of tensors copied into the module.
        prefix: the prefix stripped from the file's keys ('' for none).
        ignored: file keys not loaded on purpose (outside ``prefix``, or in ``ignore``).
    """

    loaded: int
    prefix: str
    ignored: tuple[str, ...]


def read_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read a state dict from a safetensors file or a plain (weights-only) PyTorch file.

    Args:
        path: the file.
    Returns:
        ``{name: tensor}`` on the CPU.
    Raises:
        HandposeError: the file is missing, unreadable, an arbitrary pickle, or not a mapping
            of names to tensors.
    """
    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not found"
        raise HandposeError(f"weights file {path} is {what}; give a .safetensors or .pth file.")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:  # pragma: no cover - safetensors ships with the vision extra
            raise HandposeError(
                f"reading {path} needs safetensors: pip install safetensors."
            ) from None
        try:
            obj = load_file(str(path), device="cpu")
        except Exception as err:
            raise HandposeError(
                f"weights file {path} is not a valid safetensors file: {err}"
            ) from None
    else:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise HandposeError(
                f"weights file {path} is not a plain state dict readable with "
                f"torch.load(weights_only=True) ({reason[:200]})."
            ) from None
    if isinstance(obj, Mapping) and not any(isinstance(v, Tensor) for v in obj.values()):
        for key in _NESTED_KEYS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise HandposeError(f"weights file {path} does not hold a state dict of named tensors.")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, Tensor)}
    if not tensors:
        raise HandposeError(f"weights file {path} does not hold a state dict of named tensors.")
    return tensors


def _choose_prefix(keys: Collection[str], model_keys: Collection[str]) -> str:
    best, best_hits = "", sum(k in model_keys for k in keys)
    for prefix in _PREFIXES:
        hits = sum(k[len(prefix) :] in model_keys for k in keys if k.startswith(prefix))
        if hits > best_hits:
            best, best_hits = prefix, hits
    return best


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOW])
    return shown + (f", … (+{len(keys) - _SHOW})" if len(keys) > _SHOW else "")


def load_weights(
    module: nn.Module,
    source: str | os.PathLike | Mapping[str, Tensor],
    *,
    what: str = "the module",
    ignore: Collection[str] = (),
    adapt: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
) -> WeightsReport:
    """Copy a local state dict into ``module``; every tensor must match by name and shape.

    Args:
        module: the receiving module (its ``state_dict`` names are the reference).
        source: a file (see :func:`read_state_dict`) or an in-memory state dict.
        what: how the module is named in error messages (e.g. ``"backbone 'resnet50'"``).
        ignore: file keys (after prefix stripping and ``adapt``) that may be present but are
            not loaded, e.g. an ImageNet classifier.
        adapt: converts the (prefix-stripped) state dict to the module's names and layouts.
    Returns:
        A :class:`WeightsReport`.
    Raises:
        HandposeError: one sentence naming the file and listing the first few missing,
            unexpected and shape-mismatched keys. The module is left unchanged.
    """
    name = str(source) if not isinstance(source, Mapping) else "the given state dict"
    state = read_state_dict(source) if not isinstance(source, Mapping) else dict(source)
    target = module.state_dict()
    prefix = _choose_prefix(state.keys(), target.keys())
    ignored = [k for k in state if not k.startswith(prefix)]
    state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if adapt is not None:
        state = adapt(state)
    ignored += [k for k in state if k in ignore and k not in target]
    state = {k: v for k, v in state.items() if k not in ignore or k in target}

    missing = [k for k in target if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in target]
    mismatched = [
        f"{k} (file {tuple(v.shape)}, model {tuple(target[k].shape)})"
        for k, v in state.items()
        if k in target and tuple(v.shape) != tuple(target[k].shape)
    ]
    mismatched += [
        f"{k} (file {v.dtype}, model {target[k].dtype})"
        for k, v in state.items()
        if k in target and v.is_floating_point() and not target[k].is_floating_point()
    ]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing: {_listing(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected: {_listing(unexpected)}")
        if mismatched:
            parts.append(f"{len(mismatched)} of another shape or type: {_listing(mismatched)}")
        raise HandposeError(f"weights {name} do not match {what} ({'; '.join(parts)}).")
    with torch.no_grad():
        for k, v in state.items():
            target[k].copy_(v.to(dtype=target[k].dtype))
    return WeightsReport(loaded=len(state), prefix=prefix, ignored=tuple(sorted(ignored)))
