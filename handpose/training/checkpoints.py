"""Reading MGDHand checkpoints safely (``weights_only=True``) and rebuilding their models.

A checkpoint is a Lightning checkpoint whose ``"handpose"`` entry holds our own metadata as
builtins only: ``format``, ``format_version``, ``kind`` ("teacher" / "student"), ``config`` (the
resolved :class:`~handpose.training.config.ExperimentConfig` as a dict), ``teacher_sensors`` and
``student_sensors`` (names, canonical order), ``variant`` and ``teacher_checkpoint`` (students).
The weights are under ``state_dict`` with the prefixes ``model.`` (teacher) and ``student.``
(student). Nothing here imports Lightning, so inference needs only torch.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from handpose.errors import HandposeError

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FORMAT_VERSION",
    "read_checkpoint",
    "checkpoint_metadata",
    "model_state",
    "load_mgdhand",
]

CHECKPOINT_FORMAT = "handpose-mgdhand"
CHECKPOINT_FORMAT_VERSION = 1
PREFIX = {"teacher": "model.", "student": "student."}


def read_checkpoint(path: str | os.PathLike) -> dict:
    """``torch.load(path, weights_only=True)`` on CPU; every failure is one HandposeError line."""
    path = Path(path)
    if path.is_dir():
        raise HandposeError(f"checkpoint '{path}' is a folder, not a checkpoint file.")
    if not path.is_file():
        raise HandposeError(f"checkpoint '{path}' does not exist.")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on stderr
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # refused global, truncated zip (OSError/RuntimeError), EOF, …
        raise HandposeError(
            f"checkpoint '{path}' cannot be read safely: it is damaged or not a plain-tensor "
            f"PyTorch checkpoint (torch.load with weights_only=True: {load_failure_reason(err)})."
        ) from None


def load_failure_reason(err: Exception) -> str:
    """The informative part of torch.load's multi-line, advice-laden refusal, on one line."""
    text = " ".join(str(err).split())
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
        text = text.split(" Check the documentation", 1)[0]
        text = text.split(" Please use `torch.serialization", 1)[0]
    text = text.strip().rstrip(".") or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def checkpoint_metadata(ckpt: dict, path: str | os.PathLike = "checkpoint") -> dict:
    """The ``"handpose"`` metadata of a loaded checkpoint (HandposeError if it has none)."""
    meta = ckpt.get("handpose") if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise HandposeError(f"'{path}' is not a handpose MGDHand checkpoint")
    if meta.get("format_version", 0) > CHECKPOINT_FORMAT_VERSION:
        raise HandposeError(
            f"'{path}' was written by a newer handpose (format version "
            f"{meta['format_version']}); upgrade handpose to read it"
        )
    return meta


def model_state(
    ckpt: dict, kind: str, path: str | os.PathLike = "checkpoint"
) -> dict[str, torch.Tensor]:
    """The teacher's or the student's own weights (prefix stripped), all finite.

    Raises:
        HandposeError: no state dict, or a NaN/inf weight (the run that wrote it diverged).
    """
    prefix = PREFIX[kind]
    state = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise HandposeError(f"'{path}' has no state_dict of model weights")
    own = {
        k[len(prefix) :]: v
        for k, v in state.items()
        if isinstance(k, str) and k.startswith(prefix) and isinstance(v, torch.Tensor)
    }
    for name, value in own.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            kind_of = "NaN" if bool(value.isnan().any()) else "infinite"
            raise HandposeError(
                f"'{path}' holds {kind_of} weights ({prefix}{name}); the run that wrote it "
                "diverged, so it cannot be used"
            )
    return own


def load_mgdhand(
    path: str | os.PathLike, hand_model: nn.Module | None = None
) -> tuple[nn.Module, dict]:
    """Rebuild the teacher or student stored in a checkpoint, in eval mode on CPU.

    Args:
        path: a ``.ckpt`` written by :func:`handpose.training.train_teacher` /
            :func:`~handpose.training.train_student`.
        hand_model: decoder hand model (default: the one named in the checkpoint's config).
    Returns:
        ``(model, metadata)``; a student's forward takes only ``imu`` (B, T, N, 12) with the
        sensors ``metadata["student_sensors"]`` in that order.
    """
    from handpose.training.config import config_from_dict
    from handpose.training.factory import build_student, build_teacher

    ckpt = read_checkpoint(path)
    meta = checkpoint_metadata(ckpt, path)
    if not isinstance(meta.get("config"), dict):
        raise HandposeError(f"'{path}' has no config in its handpose metadata")
    try:
        cfg = config_from_dict(meta["config"])
    except HandposeError as err:
        raise HandposeError(f"'{path}' holds an invalid config: {err}") from None
    kind = meta.get("kind")
    if kind == "teacher":
        model = build_teacher(cfg, hand_model)
    elif kind == "student":
        model = build_student(cfg, hand_model)
    else:
        raise HandposeError(f"'{path}' holds an unknown model kind {kind!r}")
    try:
        missing, unexpected = model.load_state_dict(model_state(ckpt, kind, path), strict=False)
    except RuntimeError as err:  # a weight of the wrong shape
        reason = " ".join(str(err).split())[:200]
        raise HandposeError(f"'{path}' does not match its own config ({reason})") from None
    if missing or unexpected:
        raise HandposeError(
            f"'{path}' does not match its own config: missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}"
        )
    return model.eval(), meta
