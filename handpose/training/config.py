"""Experiment configuration: typed dataclasses, YAML presets, validation and overrides.

A config is one YAML mapping with the sections below (every key optional; defaults are the
dataclass defaults). Presets ship in ``handpose/configs/mgdhand/``: ``paper`` (the paper's stated
hyper-parameters), ``cpu-small`` (trains here in minutes), ``tiny`` (tests).

.. code-block:: yaml

    name: cpu-small
    seed: 0
    hand_model: open            # "open", "mano" or a model file path
    data:     {window, stride, eval_stride, p_mask, teacher_sensors, student_sensors,
               train_split, eval_split, num_workers, acc_scale}
    teacher:  {dim, depth, num_heads, mlp_ratio, head_hidden, drop_path, share_backbone,
               input_skip, prior_skip}
    student:  {dim, depth, num_heads, mlp_ratio, head_hidden, drop_path, root_skip}
    priors:   {shape_dim, pose_dim, motion_dim, motion_kernel_size}
    loss:     {reconstruction: {...}, auxiliary: {...}}
    distill:  {variant, weight, weights: {term: w}, options: {name: v}, teacher_mask}
    train:    {epochs, batch_size, lr, weight_decay, warmup_epochs, min_lr_ratio, grad_clip,
               accelerator, devices, precision, log_every_n_steps, val_every_n_epochs,
               limit_train_batches, progress_bar, threads}

Unknown keys, wrong types and out-of-range values raise :class:`HandposeError` naming the key.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from handpose.errors import HandposeError
from handpose.losses.reconstruction import ReconstructionConfig
from handpose.losses.teacher import AuxiliaryConfig
from handpose.models.mgdhand.config import NetworkConfig, PriorConfig

__all__ = [
    "DataConfig",
    "TeacherNetConfig",
    "StudentNetConfig",
    "LossConfig",
    "DistillConfig",
    "TrainConfig",
    "ExperimentConfig",
    "PRESETS",
    "load_config",
    "config_from_dict",
    "config_to_dict",
    "apply_overrides",
    "save_config",
    "sensor_set_name",
]

PRESETS = ("paper", "cpu-small", "tiny")
SENSOR_SETS = {"7": "vihand7", "3": "sparse3", "2": "sparse2"}


@dataclass(frozen=True)
class DataConfig:
    """Windowing and sensors.

    Attributes:
        window: T, frames per clip (also the networks' ``maxlen``).
        stride: frames between training windows; ``eval_stride`` for evaluation (None = window,
            so every evaluated frame is counted once).
        p_mask: the teacher's joint-wise and frame-wise masking probability.
        teacher_sensors: IMU layout the teacher reads (its tokens are loaded from the file).
        student_sensors: the student's subset of ``teacher_sensors`` ("vihand7", "sparse3",
            "sparse2", ...); it must contain the normalisation root ("back"), so its tokens are
            exactly the teacher's tokens of those sensors.
        train_split, eval_split: dataset splits ("train" = ROM01–12, "test" = ROM13–15).
        num_workers: DataLoader workers.
        acc_scale: accelerometer divisor of the tokens, m/s² (None = the dataset default).
    """

    window: int = 32
    stride: int = 16
    eval_stride: int | None = None
    p_mask: float = 0.15
    teacher_sensors: str = "vihand7"
    student_sensors: str = "vihand7"
    train_split: str = "train"
    eval_split: str = "test"
    num_workers: int = 0
    acc_scale: float | None = None

    def __post_init__(self) -> None:
        if self.window < 1 or self.stride < 1:
            raise ValueError("window and stride must be ≥ 1")
        if self.eval_stride is not None and self.eval_stride < 1:
            raise ValueError("eval_stride must be ≥ 1")
        if not 0.0 <= self.p_mask <= 1.0:
            raise ValueError(f"p_mask must lie in [0, 1], got {self.p_mask}")
        if self.num_workers < 0:
            raise ValueError("num_workers must be ≥ 0")


@dataclass(frozen=True)
class TeacherNetConfig(NetworkConfig):
    """:class:`NetworkConfig` plus whether the two streams share one DSTformer trunk and whether
    the MANO head adds its residual to the visible input pose (``input_skip``, see
    :mod:`handpose.models.mgdhand.teacher`; the presets turn it on), and whether the three
    priors get the same skip (``prior_skip``, see :mod:`handpose.models.mgdhand.decoupling`;
    off in the presets, an investigation option)."""

    share_backbone: bool = True
    input_skip: bool = False
    prior_skip: bool = False


@dataclass(frozen=True)
class StudentNetConfig(NetworkConfig):
    """:class:`NetworkConfig` plus ``root_skip``: the student's global-orientation output is a
    residual on the root (back-of-hand) IMU's orientation (see
    :mod:`handpose.models.mgdhand.student`; the cpu-small preset turns it on)."""

    root_skip: bool = False


@dataclass(frozen=True)
class LossConfig:
    reconstruction: ReconstructionConfig = field(default_factory=ReconstructionConfig)
    auxiliary: AuxiliaryConfig = field(default_factory=AuxiliaryConfig)


@dataclass(frozen=True)
class DistillConfig:
    """Stage-2 distillation.

    Attributes:
        variant: a name of :data:`handpose.losses.distill.VARIANTS`.
        weight: global multiplier of the variant's term weights.
        weights: per-term overrides (e.g. ``{pose: 2.0}``), before ``weight``.
        options: method options (``temperature``, ``warmup`` (epochs), ``tau``).
        teacher_mask: the frozen teacher reads the same masked MANO input as in stage 1 (True)
            or the unmasked sequence (False).
    """

    variant: str = "mgdistill"
    weight: float = 1.0
    weights: dict[str, float] = field(default_factory=dict)
    options: dict[str, float] = field(default_factory=dict)
    teacher_mask: bool = True

    def __post_init__(self) -> None:
        from handpose.losses.distill.registry import get_variant

        spec = get_variant(self.variant)
        unknown = set(self.weights) - set(spec.weights)
        if unknown:
            raise ValueError(
                f"variant {self.variant!r} has no terms {sorted(unknown)}; its terms are "
                f"{sorted(spec.weights) or 'none'}"
            )
        if self.weight < 0 or any(w < 0 for w in self.weights.values()):
            raise ValueError("distillation weights must be ≥ 0")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and Trainer settings (shared by both stages).

    ``batch_size`` is the *global* batch: with ``devices`` processes each one loads
    batch_size / devices samples, so a DDP run and a single-process run see the same batches.
    The learning rate follows a per-step linear warm-up then a cosine decay to
    ``min_lr_ratio``·lr. ``threads`` sets torch's intra-op CPU threads (None = torch's
    default); one thread per run is fastest when several small runs share a few cores.
    """

    epochs: int = 80
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup_epochs: float = 0.0
    min_lr_ratio: float = 0.0
    grad_clip: float | None = 1.0
    accelerator: str = "auto"
    devices: int = 1
    precision: str = "32-true"
    log_every_n_steps: int = 10
    val_every_n_epochs: int = 1
    limit_train_batches: float = 1.0
    progress_bar: bool = True
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise ValueError("threads must be ≥ 1 or null")
        if self.epochs < 1 or self.batch_size < 1 or self.devices < 1:
            raise ValueError("epochs, batch_size and devices must be ≥ 1")
        if self.batch_size % self.devices != 0:
            raise ValueError(
                f"batch_size {self.batch_size} must be divisible by devices {self.devices}"
            )
        if self.lr <= 0 or self.weight_decay < 0 or self.warmup_epochs < 0:
            raise ValueError("lr must be > 0, weight_decay and warmup_epochs ≥ 0")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError("min_lr_ratio must lie in [0, 1]")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError("grad_clip must be > 0 or null")
        if not 0.0 < self.limit_train_batches <= 1.0:
            raise ValueError("limit_train_batches is a fraction in (0, 1]")


@dataclass(frozen=True)
class ExperimentConfig:
    name: str = "custom"
    seed: int = 0
    hand_model: str = "open"
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherNetConfig = field(default_factory=TeacherNetConfig)
    student: StudentNetConfig = field(default_factory=StudentNetConfig)
    priors: PriorConfig = field(default_factory=PriorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# --------------------------------------------------------------------------- dict ↔ dataclass
def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        errors = []
        for a in inner:
            try:
                return _coerce(value, a, key)
            except HandposeError as err:
                errors.append(str(err))
        raise HandposeError(errors[0])
    if origin is dict:
        if not isinstance(value, dict):
            raise HandposeError(f"config key '{key}' must be a mapping, got {value!r}")
        kt, vt = args
        return {
            _coerce(k, kt, f"{key}.{k}"): _coerce(v, vt, f"{key}.{k}") for k, v in value.items()
        }
    if origin in (tuple, list):
        # tuple[int, ...], tuple[float, float], list[str]: a YAML list (or a tuple) → a tuple.
        if not isinstance(value, (list, tuple)):
            raise HandposeError(f"config key '{key}' must be a list, got {value!r}")
        fixed = origin is tuple and not (len(args) == 2 and args[1] is Ellipsis)
        if fixed and len(value) != len(args):
            raise HandposeError(f"config key '{key}' must have {len(args)} items, got {value!r}")
        types_ = args if fixed else [args[0]] * len(value)
        return tuple(_coerce(v, t, f"{key}[{i}]") for i, (v, t) in enumerate(zip(value, types_)))
    if dataclasses.is_dataclass(tp):
        return _from_dict(tp, value, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise HandposeError(f"config key '{key}' must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise HandposeError(f"config key '{key}' must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):
            # PyYAML (YAML 1.1) reads "3e-3" as a string; accept any float literal.
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise HandposeError(f"config key '{key}' must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise HandposeError(f"config key '{key}' must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {_type_name(tp)} for '{key}'")  # a bug, not input


def _from_dict(cls, data: Any, path: str):
    where = f"section '{path}'" if path else "the config"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise HandposeError(f"{where} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            full = f"{path}.{key}" if path else str(key)
            raise HandposeError(f"unknown config key '{full}'; {where} accepts {', '.join(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{path}.{k}" if path else k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as err:
        raise HandposeError(f"invalid {where}: {err}") from None


def config_from_dict(data: dict) -> ExperimentConfig:
    """Build and validate an :class:`ExperimentConfig` from a plain (YAML-like) mapping."""
    return _from_dict(ExperimentConfig, data, "")


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def config_to_dict(cfg: ExperimentConfig) -> dict:
    """Plain nested dict of builtins (YAML- and ``weights_only``-checkpoint-safe; tuples become
    lists). Works for any config dataclass."""
    return _plain(dataclasses.asdict(cfg))


def _set_path(d: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    cur = d
    for k in keys[:-1]:
        nxt = cur.get(k)
        if nxt is None:
            nxt = cur[k] = {}
        if not isinstance(nxt, dict):
            raise HandposeError(f"config key '{dotted}': '{k}' is not a section")
        cur = nxt
    cur[keys[-1]] = value


def apply_overrides(data: dict, overrides: dict | list[str] | None) -> dict:
    """Return a copy of ``data`` with dotted-key overrides applied.

    Args:
        overrides: ``{"train.epochs": 3}`` or ``["train.epochs=3", "distill.variant=dpd"]``
            (values parsed as YAML scalars).
    """
    import copy

    out = copy.deepcopy(data)
    if not overrides:
        return out
    items = overrides.items() if isinstance(overrides, dict) else None
    if items is None:
        parsed = []
        for item in overrides:
            if "=" not in item:
                raise HandposeError(f"override {item!r} must look like key=value")
            key, raw = item.split("=", 1)
            parsed.append((key.strip(), yaml.safe_load(raw)))
        items = parsed
    for key, value in items:
        _set_path(out, key, value)
    return out


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise HandposeError(f"cannot read config file '{path}': {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise HandposeError(f"config file '{path}' is not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HandposeError(f"config file '{path}' must hold a mapping at the top level")
    return data


def load_config(
    name_or_path: str | os.PathLike = "cpu-small", overrides: dict | list[str] | None = None
) -> ExperimentConfig:
    """A preset by name (``paper``, ``cpu-small``, ``tiny``) or a YAML file, with overrides.

    Example:
        >>> cfg = load_config("tiny", ["train.epochs=2"])
        >>> cfg.train.epochs
        2
    """
    name = str(name_or_path)
    if name in PRESETS:
        text = resources.files("handpose").joinpath("configs", "mgdhand", f"{name}.yaml")
        data = yaml.safe_load(text.read_text(encoding="utf-8")) or {}
    else:
        path = Path(name)
        if not path.is_file():
            raise HandposeError(
                f"config '{name}' is neither a preset ({', '.join(PRESETS)}) nor a file"
            )
        data = _read_yaml(path)
    return config_from_dict(apply_overrides(data, overrides))


def save_config(cfg: ExperimentConfig, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML (atomically)."""
    from handpose.utils.io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


def sensor_set_name(imus: int | str) -> str:
    """``7``/``3``/``2`` (or a layout name) → the layout name ("vihand7", "sparse3", "sparse2")."""
    key = str(imus)
    return SENSOR_SETS.get(key, key)
