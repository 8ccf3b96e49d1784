"""The trained IMU student from its checkpoint: :func:`load_student` → (model, :class:`StudentSpec`).

Used by file / live inference (:mod:`.api`) and by the ONNX export (:mod:`.onnx_export`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from torch import nn

from handpose.errors import HandposeError
from handpose.inference.backends import StudentSpec

__all__ = ["load_student", "ROOT_SENSOR", "DEFAULT_FPS"]

ROOT_SENSOR = "back"
DEFAULT_FPS = 30.0


def load_student(checkpoint: str | os.PathLike) -> tuple[nn.Module, StudentSpec]:
    """Rebuild a trained student from a checkpoint, safely.

    The file is read with ``torch.load(weights_only=True)`` (a pickle carrying code is refused,
    never executed) and must be a handpose MGDHand **student** checkpoint.

    Args:
        checkpoint: the ``.ckpt`` written by ``handpose train student`` (``last.ckpt``).
    Returns:
        ``(student in eval mode, StudentSpec)``.
    Raises:
        HandposeError: missing, corrupt, foreign or teacher checkpoint.
    """
    from handpose.datasets.normalize import DEFAULT_ACC_SCALE
    from handpose.training.checkpoints import checkpoint_metadata, load_mgdhand, read_checkpoint
    from handpose.training.config import config_from_dict

    path = Path(checkpoint)
    ckpt = read_checkpoint(path)  # HandposeError, one line, for anything unreadable
    meta = checkpoint_metadata(ckpt, path)
    if meta.get("kind") != "student":
        raise HandposeError(
            f"'{path}' holds a {meta.get('kind', 'unknown')} model; inference needs an IMU-only "
            "student checkpoint (from `handpose train student`)."
        )
    del ckpt
    try:
        cfg = config_from_dict(meta["config"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            student, meta = load_mgdhand(path)
        names = tuple(meta["student_sensors"])
    except HandposeError:
        raise
    except Exception as err:  # a damaged config or state dict inside a readable file
        raise HandposeError(f"'{path}' is a damaged student checkpoint ({err}).") from None
    if ROOT_SENSOR not in names:
        raise HandposeError(f"'{path}': the student's sensors lack the '{ROOT_SENSOR}' root.")
    spec = StudentSpec(
        window=int(cfg.data.window),
        sensor_names=names,
        root=ROOT_SENSOR,
        acc_scale=float(cfg.data.acc_scale or DEFAULT_ACC_SCALE),
        fps=float(meta.get("fps", DEFAULT_FPS)),
        hand_model=str(cfg.hand_model),
        name=str(cfg.name),
        variant=str(meta.get("variant", "")),
    )
    return student, spec
