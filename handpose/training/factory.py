"""Build hand models, teachers, students and distillers from an :class:`ExperimentConfig`."""

from __future__ import annotations

from dataclasses import fields

from torch import nn

from handpose.errors import HandposeError
from handpose.losses.distill.registry import DistillSpec, build_distiller, get_variant
from handpose.models.mgdhand.config import NetworkConfig
from handpose.models.mgdhand.student import MGDHandStudent
from handpose.models.mgdhand.teacher import MGDHandTeacher
from handpose.training.config import DistillConfig, ExperimentConfig

__all__ = [
    "build_hand_model",
    "build_teacher",
    "build_student",
    "build_stage2_distiller",
    "resolve_variant",
    "sensor_names",
    "student_sensor_indices",
]

ROOT_SENSOR = "back"


def build_hand_model(cfg: ExperimentConfig) -> nn.Module:
    """The decoder's hand model: right side, full-articulation convention."""
    from handpose.handmodel import HandModel

    return HandModel(model=cfg.hand_model, side="right", flat_hand_mean=True)


def sensor_names(layout: str) -> tuple[str, ...]:
    """Sensor names of a layout, in canonical order (HandposeError for unknown layouts)."""
    from handpose.simulators.imu.layouts import get_layout

    return tuple(get_layout(layout).names)


def student_sensor_indices(cfg: ExperimentConfig) -> list[int]:
    """Positions of the student's sensors among the teacher's (the dataset's) IMU tokens.

    The tokens are root-relative to the back-of-hand sensor (R̄ᵢ = R_rootᵀRᵢ, …), so a token
    depends only on its own sensor and the root: the student's tokens are a plain selection of
    the teacher's as long as both sets contain the root.
    """
    teacher = sensor_names(cfg.data.teacher_sensors)
    student = sensor_names(cfg.data.student_sensors)
    missing = [s for s in student if s not in teacher]
    if missing:
        raise HandposeError(
            f"student sensors {missing} are not among the teacher's ({', '.join(teacher)})"
        )
    for name, names in (("teacher", teacher), ("student", student)):
        if ROOT_SENSOR not in names:
            raise HandposeError(
                f"the {name} sensor set must contain the '{ROOT_SENSOR}' root sensor"
            )
    return sorted(teacher.index(s) for s in student)


def _net(section) -> NetworkConfig:
    return NetworkConfig(**{f.name: getattr(section, f.name) for f in fields(NetworkConfig)})


def _root_index(cfg: ExperimentConfig, layout: str) -> int:
    """Position of the root sensor among a layout's tokens (in the teacher's canonical order)."""
    teacher = sensor_names(cfg.data.teacher_sensors)
    names = sorted(sensor_names(layout), key=teacher.index)
    return names.index(ROOT_SENSOR)


def build_teacher(cfg: ExperimentConfig, hand_model: nn.Module | None = None) -> MGDHandTeacher:
    root_index = None
    if cfg.teacher.root_skip and not cfg.teacher.input_skip:
        root_index = _root_index(cfg, cfg.data.teacher_sensors)
    return MGDHandTeacher(
        _net(cfg.teacher),
        cfg.priors,
        num_imus=len(sensor_names(cfg.data.teacher_sensors)),
        maxlen=cfg.data.window,
        share_backbone=cfg.teacher.share_backbone,
        input_skip=cfg.teacher.input_skip,
        prior_skip=cfg.teacher.prior_skip,
        hand_model=hand_model if hand_model is not None else build_hand_model(cfg),
        root_index=root_index,
    )


def resolve_variant(distill: DistillConfig) -> DistillSpec:
    """The variant's :class:`DistillSpec` with the config's per-term and option overrides."""
    spec = get_variant(distill.variant)
    return DistillSpec(
        spec.method,
        {**spec.weights, **distill.weights},
        {**spec.options, **distill.options},
        spec.student_head,
    )


def build_student(cfg: ExperimentConfig, hand_model: nn.Module | None = None) -> MGDHandStudent:
    spec = resolve_variant(cfg.distill)
    root_index = None
    if cfg.student.root_skip:
        # The student's tokens are its sensors in the teacher's (canonical) order.
        root_index = _root_index(cfg, cfg.data.student_sensors)
    return MGDHandStudent(
        _net(cfg.student),
        cfg.priors,
        num_imus=len(sensor_names(cfg.data.student_sensors)),
        maxlen=cfg.data.window,
        head=spec.student_head,
        teacher_dim=cfg.teacher.dim,
        teacher_head_hidden=cfg.teacher.head_hidden,
        hand_model=hand_model if hand_model is not None else build_hand_model(cfg),
        root_index=root_index,
    )


def build_stage2_distiller(cfg: ExperimentConfig):
    return build_distiller(
        resolve_variant(cfg.distill), cfg.student.dim, cfg.teacher.dim, scale=cfg.distill.weight
    )
