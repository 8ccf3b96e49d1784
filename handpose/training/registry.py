"""The method registry: what a method tells the training harness, and nothing more.

A method (``baseline``, ``mgdhand``; later ``ehpe``, ``dir``, ``pgte``) registers one
:class:`Method`:

- ``config``: its config schema, a frozen dataclass with at least ``name: str`` and
  ``seed: int``, read from YAML with :mod:`handpose.training.config`'s dict ↔ dataclass
  machinery (unknown keys, wrong types and out-of-range values raise one
  :class:`~handpose.errors.HandposeError` naming the key);
- ``stages``, in training order, each a :class:`Stage`: a LightningModule factory, a
  LightningDataModule factory, the earlier stages it loads and freezes (``requires``), where its
  Trainer settings live in the config (``train_key``) and how to rebuild its inference model
  from a checkpoint (``build_model`` / ``load``);
- presets: YAML files ``handpose/configs/<method>/<preset>.yaml`` (``tiny`` for tests,
  ``cpu-small`` that trains on two CPU cores in minutes, ``paper`` with the paper's settings).

The harness (:mod:`handpose.training.harness`) does the rest: run folders, seeds, checkpoints
and resume, logs, progress bars, DDP, stage chaining, freezing and feature caching.

Registration is lazy: :data:`METHODS` maps a name to ``"module:attribute"``, imported on first
use, so ``handpose --help`` stays fast and a method's heavy imports happen only when it runs.
:func:`register_method` adds a method at run time (tests, plug-ins).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handpose.errors import HandposeError

__all__ = [
    "METHODS",
    "PRESET_NAMES",
    "Stage",
    "StageContext",
    "Method",
    "register_method",
    "get_method",
    "method_names",
]

# Every method ships these presets (more are allowed, e.g. MGDHand's paper-wide).
PRESET_NAMES = ("tiny", "cpu-small", "paper")

METHODS: dict[str, str] = {
    "baseline": "handpose.training.methods.baseline:METHOD",
    "ehpe": "handpose.training.methods.ehpe:METHOD",
    "mgdhand": "handpose.training.methods.mgdhand:METHOD",
    "dir": "handpose.training.methods.dir:METHOD",
    "pgte": "handpose.training.methods.pgte:METHOD",
}
_LOADED: dict[str, Method] = {}


@dataclass
class StageContext:
    """What a stage's factories receive.

    Attributes:
        method: the :class:`Method`.
        stage: this stage's name.
        cfg: the resolved method config (dataclass).
        data: the data argument of the run (a file, a shard folder or a source string).
        run_dir: this stage's run folder (``OUT/<stage>``).
        data_fingerprint: :func:`handpose.training.fingerprint.data_fingerprint` of ``data``.
        frozen: required stage name → its inference model, loaded from its checkpoint, in eval
            mode with ``requires_grad=False`` (the module may hold it as a submodule; the
            harness keeps it in eval mode during training).
        frozen_checkpoints: required stage name → the checkpoint it was loaded from.
        frozen_meta: required stage name → that checkpoint's metadata.
        cache_dir: where frozen-stage feature caches live; None: beside each frozen
            checkpoint (:func:`handpose.training.harness.stage_feature_cache`).
    """

    method: Method
    stage: str
    cfg: Any
    data: str
    run_dir: Path
    data_fingerprint: str
    frozen: dict[str, Any] = field(default_factory=dict)
    frozen_checkpoints: dict[str, Path] = field(default_factory=dict)
    frozen_meta: dict[str, dict] = field(default_factory=dict)
    cache_dir: Path | None = None


@dataclass(frozen=True)
class Stage:
    """One training stage of a method.

    Attributes:
        name: stage name (``OUT/<name>/`` is its run folder).
        module: ``StageContext → LightningModule``. The module keeps its inference model under
            ``weights_prefix`` (default ``model.``) of its state dict.
        data: ``StageContext → LightningDataModule``.
        requires: earlier stages this one loads from their checkpoints and freezes.
        train_key: dotted path of this stage's :class:`~handpose.training.config.TrainConfig`
            section in the config (``--devices`` and the Trainer read it).
        build_model: ``(cfg) → nn.Module``, the stage's inference model (weights from the
            checkpoint's ``weights_prefix`` keys); or None when ``load`` is given.
        load: ``(checkpoint path) → (model, metadata)`` for stages with their own loader.
        weights_prefix: state-dict prefix of the inference model's weights.
        help: one line for ``--help``.
    """

    name: str
    module: Callable[[StageContext], Any]
    data: Callable[[StageContext], Any]
    requires: tuple[str, ...] = ()
    train_key: str = "train"
    build_model: Callable[[Any], Any] | None = None
    load: Callable[[Any], tuple[Any, dict]] | None = None
    weights_prefix: str = "model."
    help: str = ""

    def __post_init__(self) -> None:
        if (self.build_model is None) == (self.load is None):
            raise ValueError(f"stage {self.name!r} needs exactly one of build_model and load")

    def train_config(self, cfg: Any):
        """The stage's TrainConfig section (``train_key``) of ``cfg``."""
        section = cfg
        for part in self.train_key.split("."):
            section = getattr(section, part)
        return section


@dataclass(frozen=True)
class Method:
    """A registered method.

    Attributes:
        name: registry name (``handpose train NAME``).
        config: the config dataclass.
        stages: in training order; ``requires`` may only name earlier stages.
        description: one line for ``--help``.
        checkpoint_format: the ``format`` string of its checkpoints' metadata
            (``handpose-model`` unless the method keeps an older format).
        extra_presets: presets beyond :data:`PRESET_NAMES`.
    """

    name: str
    config: type
    stages: tuple[Stage, ...]
    description: str = ""
    checkpoint_format: str = "handpose-model"
    extra_presets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.config):
            raise ValueError(f"method {self.name!r}: config must be a dataclass")
        names = {f.name for f in dataclasses.fields(self.config)}
        if not {"name", "seed"} <= names:
            raise ValueError(f"method {self.name!r}: config needs 'name' and 'seed' fields")
        seen: list[str] = []
        for st in self.stages:
            unknown = [r for r in st.requires if r not in seen]
            if unknown:
                raise ValueError(
                    f"method {self.name!r}: stage {st.name!r} requires {unknown}, which are not "
                    "earlier stages"
                )
            seen.append(st.name)
        if not self.stages:
            raise ValueError(f"method {self.name!r} has no stages")

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    @property
    def presets(self) -> tuple[str, ...]:
        return PRESET_NAMES + tuple(self.extra_presets)

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise HandposeError(
            f"method {self.name!r} has no stage {name!r}; its stages are "
            f"{', '.join(self.stage_names)}"
        )


def register_method(method: Method, *, replace: bool = False) -> Method:
    """Add a method to the registry (``replace=True`` to overwrite one of the same name)."""
    if not replace and (method.name in _LOADED or method.name in METHODS):
        existing = _LOADED.get(method.name)
        if existing is not method:
            raise ValueError(f"a method named {method.name!r} is already registered")
    _LOADED[method.name] = method
    return method


def method_names() -> list[str]:
    """Names of every registered method, sorted."""
    return sorted(set(METHODS) | set(_LOADED))


def get_method(name: str) -> Method:
    """The registered method ``name`` (imports its module on first use)."""
    if name in _LOADED:
        return _LOADED[name]
    if name not in METHODS:
        raise HandposeError(f"unknown method {name!r}; choose one of {', '.join(method_names())}")
    module_name, attr = METHODS[name].split(":")
    method = getattr(importlib.import_module(module_name), attr)
    _LOADED[name] = method
    return method
