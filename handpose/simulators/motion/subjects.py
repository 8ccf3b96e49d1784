"""Synthetic subjects: hand shape β and a movement style, sampled once per subject."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SubjectProfile", "sample_subject", "subject_rng"]


def subject_rng(seed: int, *keys: int) -> np.random.Generator:
    """An independent PCG64 stream for ``(seed, *keys)`` (order-independent generation)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, keys)]))


@dataclass(frozen=True)
class SubjectProfile:
    """A synthetic subject.

    Attributes:
        subject: id (VIHand's subjects are 1..15).
        betas: (10,) MANO shape, ~N(0, 0.8²) clipped to ±2 (a plausible adult range).
        tempo: speed factor; all move/hold durations are divided by it (0.8–1.25).
        amplitude: scale of the gesture angles (0.8–1.05): some people move less fully.
        rest_offset: (15, 3) radians, habitual posture added to every pose (slight flexion).
        jitter: radians, std of the per-keyframe random deviation of each joint angle.
        wrist_scale: scale of the wrist-rotation wander (0.6–1.3).
        heading: radians, the subject's hand heading about world up (±30°).
        pitch: radians, forearm elevation (fingers up/down, ±15°).
    """

    subject: int
    betas: np.ndarray
    tempo: float
    amplitude: float
    rest_offset: np.ndarray
    jitter: float
    wrist_scale: float
    heading: float
    pitch: float


def sample_subject(subject: int, seed: int = 0) -> SubjectProfile:
    """Sample subject ``subject`` of a dataset with generator seed ``seed`` (deterministic)."""
    rng = subject_rng(seed, 1_000_003, subject)
    betas = np.clip(rng.normal(0.0, 0.8, size=10), -2.0, 2.0)
    rest = np.zeros((15, 3))
    rest[:, 2] = np.deg2rad(rng.uniform(0.0, 8.0, size=15))  # slight habitual flexion
    rest[:, 1] = np.deg2rad(rng.normal(0.0, 2.0, size=15))
    return SubjectProfile(
        subject=int(subject),
        betas=betas,
        tempo=float(rng.uniform(0.8, 1.25)),
        amplitude=float(rng.uniform(0.8, 1.05)),
        rest_offset=rest,
        jitter=float(np.deg2rad(rng.uniform(2.0, 4.0))),
        wrist_scale=float(rng.uniform(0.6, 1.3)),
        heading=float(np.deg2rad(rng.uniform(-30.0, 30.0))),
        pitch=float(np.deg2rad(rng.uniform(-15.0, 15.0))),
    )
