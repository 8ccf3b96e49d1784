"""Masks for the teacher's MANO tokens: joint-wise and frame-wise Bernoulli masking.

From the paper's text: the teacher reads a *masked* MANO sequence with joint-wise and frame-wise
masks, and masked entries are replaced by a learned noise token. The mask probabilities are not
published; they are configuration (``data.mask_joint_prob`` / ``data.mask_frame_prob``).

The windowed IMU dataset already provides a ``mask`` per item (True = masked); this module
samples the same kind of mask when a batch comes without one, and documents the convention.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["sample_token_mask"]


def sample_token_mask(
    batch_size: int,
    num_frames: int,
    num_tokens: int,
    joint_prob: float,
    frame_prob: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Union of a joint-wise and a frame-wise Bernoulli mask.

    Each (frame, token) entry is masked with probability ``joint_prob``; independently, each
    frame is masked entirely (all its tokens) with probability ``frame_prob``.

    Args:
        batch_size, num_frames, num_tokens: output shape (B, T, J).
        joint_prob, frame_prob: probabilities in [0, 1].
        generator: optional CPU generator for reproducible masks.
    Returns:
        (B, T, J) bool, True = masked.
    """
    for name, p in (("joint_prob", joint_prob), ("frame_prob", frame_prob)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {p}")
    shape = (batch_size, num_frames, num_tokens)
    joint = torch.rand(shape, generator=generator) < joint_prob
    frame = torch.rand((batch_size, num_frames, 1), generator=generator) < frame_prob
    mask = joint | frame
    return mask.to(device) if device is not None else mask
