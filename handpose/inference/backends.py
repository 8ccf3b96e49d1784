"""Inference backends: the trained student in eager torch or in onnxruntime.

Both implement :class:`~handpose.inference.estimator.WindowPredictor`: normalised IMU windows
(B, T, N, 12) float32 in; ``rotmats`` (B, T, 16, 3, 3), ``betas`` (B, 10) and ``joints``
(B, T, 21, 3) out. The network part is the same graph in both (:class:`StudentInference`); the
estimator converts the rotations of the frames it keeps to axis-angle afterwards, identically
for both backends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from handpose.errors import HandposeError
from handpose.models.dstformer import DSTformer, LockstepEncoder

__all__ = [
    "StudentInference",
    "TorchPredictor",
    "OnnxPredictor",
    "StudentSpec",
    "ONNX_METADATA_KEY",
    "ONNX_OUTPUTS",
]

ONNX_METADATA_KEY = "handpose"
ONNX_FORMAT = "handpose-mgdhand-student-onnx"
ONNX_OUTPUTS = ("rotmats", "betas", "joints")


@dataclass(frozen=True)
class StudentSpec:
    """What a caller must know to feed a student (stored in checkpoints and ONNX metadata).

    Attributes:
        window: T, frames per window.
        sensor_names: N sensors in canonical order.
        root: the normalisation root sensor's name ("back").
        acc_scale: accelerometer divisor of the tokens, m/s².
        fps: the frame rate of the training data, Hz.
        hand_model: the decoder's hand model ("open", "mano" or a path).
        name: the experiment/config name.
        variant: the distillation variant the student was trained with.
        precision: "fp32", or "int8" for a dynamically quantised ONNX export.
    """

    window: int
    sensor_names: tuple[str, ...]
    root: str
    acc_scale: float
    fps: float
    hand_model: str
    name: str = ""
    variant: str = ""
    precision: str = "fp32"

    @property
    def root_index(self) -> int:
        return self.sensor_names.index(self.root)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": ONNX_FORMAT,
                "window": self.window,
                "sensor_names": list(self.sensor_names),
                "root": self.root,
                "acc_scale": self.acc_scale,
                "fps": self.fps,
                "hand_model": self.hand_model,
                "name": self.name,
                "variant": self.variant,
                "precision": self.precision,
            }
        )

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> StudentSpec:
        try:
            d = json.loads(text)
            if d.get("format") != ONNX_FORMAT:
                raise ValueError("wrong format tag")
            return cls(
                window=int(d["window"]),
                sensor_names=tuple(str(n) for n in d["sensor_names"]),
                root=str(d["root"]),
                acc_scale=float(d["acc_scale"]),
                fps=float(d["fps"]),
                hand_model=str(d["hand_model"]),
                name=str(d.get("name", "")),
                variant=str(d.get("variant", "")),
                precision=str(d.get("precision", "fp32")),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise HandposeError(
                f"'{source}' has no valid handpose student metadata; export it with "
                "`handpose export onnx`."
            ) from None


class StudentInference(nn.Module):
    """The student reduced to what inference needs: IMU tokens → rotations, shape, joints.

    Args:
        student: a trained :class:`~handpose.models.mgdhand.MGDHandStudent` (eval mode).
        lockstep: run the backbone's two streams side by side
            (:class:`~handpose.models.dstformer.LockstepEncoder`: the same arithmetic, batched
            GEMMs; it copies the backbone's weights when this module is built).

    Forward:
        imu (B, T, N, 12) float32 → ``rotmats`` (B, T, 16, 3, 3) (global orientation + 15 local,
        full articulation), ``betas`` (B, 10), ``joints`` (B, T, 21, 3) OpenPose-21 metres,
        wrist at the origin. The mesh is not skinned here (vertices are computed only for the
        frames that are kept, see :meth:`ImuPoseEstimator.vertices`).
    """

    def __init__(self, student: nn.Module, lockstep: bool = True) -> None:
        super().__init__()
        self.student = student
        self.encoder = None
        if lockstep and isinstance(getattr(student, "backbone", None), DSTformer):
            self.encoder = LockstepEncoder(student.backbone)

    def forward(self, imu: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # The student's own forward without the three prior heads (shape, pose, motion): they
        # exist for distillation only and cost ~18 % of the paper preset's FLOPs. One forward
        # for training and inference, so the two cannot drift apart.
        if imu.shape[2] != getattr(self.student, "num_imus", imu.shape[2]):
            raise ValueError(
                f"student expects {self.student.num_imus} IMU tokens, got {imu.shape[2]}"
            )
        if self.encoder is None:
            out = self.student(imu, return_vertices=False, priors=False)
        else:
            out = self.student(imu, return_vertices=False, priors=False, encoder=self.encoder)
        return out.rotmats, out.betas, out.joints


class TorchPredictor:
    """Eager-torch backend (``torch.inference_mode``; optional thread count).

    Args:
        module: a :class:`StudentInference` (or any module with the same forward).
        threads: torch intra-op threads (process-wide setting), None to keep the current.
    """

    backend = "torch"

    def __init__(self, module: nn.Module, threads: int | None = None) -> None:
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.module = module.eval()

    def __call__(self, imu: np.ndarray) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            rotmats, betas, joints = self.module(torch.from_numpy(np.ascontiguousarray(imu)))
            return {"rotmats": rotmats.numpy(), "betas": betas.numpy(), "joints": joints.numpy()}


def onnx_session(model: bytes | str, threads: int | None = None):
    """An onnxruntime CPU session with all graph optimisations enabled."""
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - an optional dependency
        raise HandposeError(
            "the onnx backend needs onnxruntime: pip install 'handpose[onnx]'."
        ) from None
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    # No busy-waiting between calls: a live stream idles ~33 ms between frames, and spinning
    # worker threads would only take CPU from everything else (torch, the renderer, the OS).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types
        where = model if isinstance(model, str) else "the exported model"
        raise HandposeError(f"onnxruntime cannot load {where}: {err}") from None


class OnnxPredictor:
    """onnxruntime backend over an exported student (see :mod:`.onnx_export`).

    Args:
        session: an ``onnxruntime.InferenceSession`` with input ``imu`` and outputs
            :data:`ONNX_OUTPUTS`.
    """

    backend = "onnx"

    def __init__(self, session) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def __call__(self, imu: np.ndarray) -> dict[str, np.ndarray]:
        rotmats, betas, joints = self.session.run(
            list(ONNX_OUTPUTS), {self.input_name: np.ascontiguousarray(imu, dtype=np.float32)}
        )
        return {"rotmats": rotmats, "betas": betas, "joints": joints}
