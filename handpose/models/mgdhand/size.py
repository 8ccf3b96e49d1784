"""Model size: parameter counts and FLOPs of the MGDHand teacher and student.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode``, which counts a multiply-add as
2 FLOPs for matrix products (and convolutions) and ignores element-wise work (softmax, GELU,
LayerNorm, additions). MACs = FLOPs / 2. The hand model's skinning is counted separately from the
network, because the paper's counts plausibly exclude it and it depends on the hand model, not on
MGDHand. The student is counted twice: its training forward (with the three prior heads that
only distillation uses) and its inference forward (without them), the network it deploys.

:func:`measure_model_size` also works on the ``meta`` device (shapes only, no arithmetic:
``with torch.device("meta"): ...``), which is how ``benchmarks/bench_model_size.py`` sizes
hundreds of candidate configurations in seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from handpose.models.mgdhand.config import NetworkConfig, PriorConfig
from handpose.models.mgdhand.student import MGDHandStudent
from handpose.models.mgdhand.teacher import MGDHandTeacher

__all__ = ["ModelSize", "count_parameters", "measure_model_size"]


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (hand-model arrays are buffers outside the module and not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


@dataclass(frozen=True)
class ModelSize:
    """Size of one network for one input size.

    Attributes:
        name: "teacher" or "student".
        params: learned parameters.
        flops: network FLOPs of its forward for one clip (batch 1), hand model excluded.
        hand_model_flops: FLOPs of skinning T frames with the hand model (joints + vertices).
        frames, num_imus: the input size measured.
        inference_flops: the same for the inference forward (the student without its prior
            heads; the teacher's forward is its inference: its priors are what it serves).
    """

    name: str
    params: int
    flops: int
    hand_model_flops: int
    frames: int
    num_imus: int
    inference_flops: int | None = None

    @property
    def macs(self) -> int:
        return self.flops // 2

    @property
    def inference_macs(self) -> int:
        return (self.flops if self.inference_flops is None else self.inference_flops) // 2

    def as_dict(self) -> dict:
        return {**asdict(self), "macs": self.macs, "inference_macs": self.inference_macs}


def _flops(model: nn.Module, *args) -> tuple[int, int]:
    """Total FLOPs of ``model(*args)`` and the part spent inside its (outermost) ``decoder``
    submodule (``model.decoder`` or, for a wrapper, ``model.<child>.decoder``)."""
    counter = FlopCounterMode(display=False)
    # Not under no_grad: the module tracker trips over parameter views made in no-grad mode.
    with counter:
        model(*args)
    counts = counter.get_flop_counts()
    total = sum(counts.get("Global", {}).values())
    decoders = [k for k in counts if k.split(".")[-1] == "decoder"]
    decoder = 0
    if decoders:
        decoder = sum(counts[min(decoders, key=lambda k: k.count("."))].values())
    return total, decoder


def measure_model_size(
    teacher_net: NetworkConfig,
    student_net: NetworkConfig,
    priors: PriorConfig,
    frames: int = 32,
    num_imus: int = 7,
    imu_dim: int = 12,
    share_backbone: bool = True,
    hand_model: nn.Module | None = None,
) -> list[ModelSize]:
    """Parameters and FLOPs of the teacher and the student for one clip of ``frames`` frames.

    Args:
        teacher_net, student_net, priors: the networks' sizes.
        frames: T; num_imus: N.
        hand_model: decoder hand model (default the open hand).
    Returns:
        ``[teacher, student]`` as :class:`ModelSize`.
    """
    if torch.get_default_device().type != "meta":
        torch.manual_seed(0)
    teacher = MGDHandTeacher(
        teacher_net,
        priors,
        num_imus=num_imus,
        imu_dim=imu_dim,
        maxlen=frames,
        share_backbone=share_backbone,
        hand_model=hand_model,
    ).eval()
    student = MGDHandStudent(
        student_net,
        priors,
        num_imus=num_imus,
        imu_dim=imu_dim,
        maxlen=frames,
        hand_model=teacher.decoder.hand_model,
    ).eval()
    pose6d = torch.randn(1, frames, 16, 6)
    betas = torch.zeros(1, 10)
    imu = torch.randn(1, frames, num_imus, imu_dim)
    mask = torch.zeros(1, frames, 16, dtype=torch.bool)
    t_total, t_dec = _flops(teacher, pose6d, betas, imu, mask)
    s_total, s_dec = _flops(student, imu)
    i_total, i_dec = _flops(_InferenceForward(student), imu)
    return [
        ModelSize("teacher", count_parameters(teacher), t_total - t_dec, t_dec, frames, num_imus),
        ModelSize(
            "student",
            count_parameters(student),
            s_total - s_dec,
            s_dec,
            frames,
            num_imus,
            inference_flops=i_total - i_dec,
        ),
    ]


class _InferenceForward(nn.Module):
    """The student's inference forward (no prior heads), with the student as ``student``."""

    def __init__(self, student: MGDHandStudent) -> None:
        super().__init__()
        self.student = student

    def forward(self, imu):
        return self.student(imu, priors=False)
