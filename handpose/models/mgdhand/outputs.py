"""The output record shared by the MGDHand teacher and student."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

__all__ = ["MGDHandOutput"]


@dataclass
class MGDHandOutput:
    """Predictions for a batch of clips of T frames.

    Attributes:
        rotmats: (B, T, 16, 3, 3) MANO rotations, index 0 = global orientation, 1..15 = local
            joint rotations in the full-articulation (``flat_hand_mean=True``) convention.
        pose6d: (B, T, 16, 6) the same rotations as the network's 6D output (first two rows).
        betas: (B, 10) one shape per clip.
        joints: (B, T, 21, 3) OpenPose-21 joints, metres, wrist at the origin (world orientation).
        vertices: (B, T, V, 3) mesh vertices, metres, relative to the same wrist; None when the
            forward was asked not to skin the mesh.
        features: (B, T, 16, d) the unified per-joint features the MANO heads read (teacher: Z;
            student: the lifted joint tokens, or their SimKD projection when the teacher's head
            is reused).
        priors: ``{"shape": (B, Ds), "pose": (B, T, 16, Dp), "motion": (B, T, 16, Dm)}``.
        aux: auxiliary predictions (teacher only): ``betas`` (B, 10), ``rotmats``
            (B, T, 16, 3, 3), ``velocity`` and ``acceleration`` (B, T, 21, 3) in m/s and m/s².
    """

    rotmats: Tensor
    pose6d: Tensor
    betas: Tensor
    joints: Tensor
    vertices: Tensor | None
    features: Tensor
    priors: dict[str, Tensor] = field(default_factory=dict)
    aux: dict[str, Tensor] = field(default_factory=dict)
