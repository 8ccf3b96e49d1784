"""Training and evaluation of MGDHand with PyTorch Lightning (the ``train`` extra).

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

__all__ = [
    "evaluate",
    "last_checkpoint",
    "read_metrics",
    "train_student",
    "train_teacher",
    "load_mgdhand",
    "read_checkpoint",
    "PRESETS",
    "ExperimentConfig",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "save_config",
]
