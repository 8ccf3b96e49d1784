"""MGDHand on the harness: stage ``teacher`` (MANO + IMU), stage ``student`` (IMU only,
distilled from the frozen teacher).

The config schema is :class:`~handpose.training.config.ExperimentConfig`, the presets are
``handpose/configs/mgdhand/*.yaml``, the modules are
:class:`~handpose.training.modules.TeacherModule` and :class:`~handpose.training.modules.StudentModule`,
and the data are windowed IMU files (:mod:`handpose.training.data`). Checkpoints keep the
``handpose-mgdhand`` format that :func:`handpose.training.load_mgdhand` and the IMU inference
read, with the harness's ``method`` / ``stage`` / ``data_fingerprint`` added. The student's
teacher is not stored in its checkpoint (it is re-read from ``teacher_checkpoint``).

``handpose train mgdhand --preset cpu-small --data D --out O`` trains both stages into
``O/teacher`` and ``O/student``; the distillation variant and the student's sensors are config
keys (``--set distill.variant=dpd --set data.student_sensors=sparse3``).
``handpose train teacher|student`` are the older single-stage commands (same code path).
"""

from __future__ import annotations

import lightning as L

from handpose.errors import HandposeError
from handpose.training.config import ExperimentConfig, config_from_dict
from handpose.training.registry import Method, Stage, StageContext

__all__ = ["MGDHandData", "METHOD", "check_teacher_compatible"]


class MGDHandData(L.LightningDataModule):
    """Windowed IMU training and evaluation sets with epoch-seeded (distributed) sampling."""

    def __init__(self, cfg: ExperimentConfig, data: str) -> None:
        super().__init__()
        self.cfg, self.data = cfg, str(data)

    def setup(self, stage: str) -> None:
        from handpose.training.data import build_dataset

        cfg = self.cfg
        if not hasattr(self, "train_set"):
            self.train_set = build_dataset(cfg, self.data, cfg.data.train_split, train=True)
            self.val_set = build_dataset(cfg, self.data, cfg.data.eval_split, train=False)
        if self.trainer is not None:  # the checkpoint metadata records the frame rate
            self.trainer.lightning_module.data_fps = self.train_set.fps

    def _loader(self, ds, shuffle: bool):
        from handpose.training.data import make_loader

        world = self.trainer.world_size if self.trainer else 1
        rank = self.trainer.global_rank if self.trainer else 0
        c = self.cfg
        return make_loader(
            ds, c.train.batch_size // world, shuffle, c.seed, c.data.num_workers, world, rank
        )

    def train_dataloader(self):
        if len(self.train_set) < self.cfg.train.batch_size:
            raise HandposeError(
                f"the training split has {len(self.train_set)} windows, fewer than one "
                f"batch of {self.cfg.train.batch_size}"
            )
        return self._loader(self.train_set, True)

    def val_dataloader(self):
        return self._loader(self.val_set, False)


def check_teacher_compatible(cfg: ExperimentConfig, tcfg: ExperimentConfig, path) -> None:
    """The student's config must build the teacher the checkpoint holds."""
    pairs = {
        "teacher": (cfg.teacher, tcfg.teacher),
        "priors": (cfg.priors, tcfg.priors),
        "hand_model": (cfg.hand_model, tcfg.hand_model),
        "data.window": (cfg.data.window, tcfg.data.window),
        "data.teacher_sensors": (cfg.data.teacher_sensors, tcfg.data.teacher_sensors),
    }
    for key, (mine, theirs) in pairs.items():
        if mine != theirs:
            raise HandposeError(
                f"the config's {key} ({mine}) differs from the teacher checkpoint's "
                f"({theirs}) in '{path}'"
            )


def _teacher(ctx: StageContext):
    from handpose.training.modules import TeacherModule

    return TeacherModule(ctx.cfg)


def _student(ctx: StageContext):
    from handpose.training.checkpoints import model_state, read_checkpoint
    from handpose.training.factory import student_sensor_indices
    from handpose.training.modules import StudentModule

    student_sensor_indices(ctx.cfg)  # validate the sensor subset
    path = ctx.frozen_checkpoints["teacher"]
    check_teacher_compatible(ctx.cfg, config_from_dict(ctx.frozen_meta["teacher"]["config"]), path)
    # The module builds its own frozen teacher from the state (as the pre-harness API did, so
    # that the same seed gives the same student).
    state = model_state(read_checkpoint(path), "teacher")
    return StudentModule(ctx.cfg, state, teacher_checkpoint=str(path))


def _data(ctx: StageContext) -> MGDHandData:
    return MGDHandData(ctx.cfg, ctx.data)


def _load(path):
    from handpose.training.checkpoints import load_mgdhand

    return load_mgdhand(path)


METHOD = Method(
    name="mgdhand",
    config=ExperimentConfig,
    stages=(
        Stage("teacher", _teacher, _data, load=_load, help="stage 1: the MANO + IMU teacher"),
        Stage(
            "student",
            _student,
            _data,
            requires=("teacher",),
            load=_load,
            weights_prefix="student.",
            help="stage 2: an IMU-only student distilled from the frozen teacher",
        ),
    ),
    description="MGDHand: IMU-only hand pose via multi-granularity distillation",
    checkpoint_format="handpose-mgdhand",
)
