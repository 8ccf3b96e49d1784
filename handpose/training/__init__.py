"""Training with PyTorch Lightning (the ``train`` extra): one harness for every method
(:mod:`handpose.training.harness`), MGDHand's API, and :func:`load_model` for any checkpoint.

>>> from handpose.training import load_method_config, train_method, load_model
>>> cfg = load_method_config("baseline", "cpu-small")  # doctest: +SKIP
>>> paths = train_method("baseline", cfg, "data/single", "runs/baseline")  # doctest: +SKIP
>>> model, meta = load_model(paths["main"])  # doctest: +SKIP

>>> from handpose.training import load_config, train_teacher, train_student, evaluate
>>> cfg = load_config("cpu-small")  # doctest: +SKIP
>>> teacher = train_teacher(cfg, "data/synth.h5", "runs/teacher")  # doctest: +SKIP
>>> student = train_student(cfg, teacher, "data/synth.h5", "runs/mgd", variant="mgdistill")
... # doctest: +SKIP
>>> evaluate(student, "data/synth.h5")["mpjpe_mm"]  # doctest: +SKIP

Lightning is imported only by the functions that train, so configs, checkpoints and inference
(:func:`load_mgdhand`) work without it.
"""

from handpose.training.api import (
    evaluate,
    last_checkpoint,
    read_metrics,
    train_student,
    train_teacher,
)
from handpose.training.checkpoints import load_mgdhand, read_checkpoint
from handpose.training.config import (
    PRESETS,
    ExperimentConfig,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)
from handpose.training.harness import load_method_config, load_model
from handpose.training.harness import train as train_method

__all__ = [
    "evaluate",
    "last_checkpoint",
    "read_metrics",
    "train_student",
    "train_teacher",
    "load_mgdhand",
    "load_model",
    "load_method_config",
    "train_method",
    "read_checkpoint",
    "PRESETS",
    "ExperimentConfig",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "save_config",
]
