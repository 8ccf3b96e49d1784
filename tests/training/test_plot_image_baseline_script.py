"""The constant-pose reference of scripts/plot_image_baseline.py (docs/results/image_baseline.md)."""

import importlib.util
from pathlib import Path

import numpy as np
import torch

from handpose.geometry.procrustes import procrustes_residuals

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "plot_image_baseline.py"
_spec = importlib.util.spec_from_file_location("plot_image_baseline", _PATH)
plot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plot)


def _random_rotations(rng, n):
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    ).transpose(2, 0, 1)


def _pa_error(pose, hands):
    p = torch.as_tensor(np.broadcast_to(pose, hands.shape).copy())
    return procrustes_residuals(p, torch.as_tensor(hands)).mean().item()


def test_mean_shape_recovers_a_shape_seen_in_random_poses():
    rng = np.random.default_rng(0)
    shape = rng.normal(scale=0.05, size=(21, 3))
    R = _random_rotations(rng, 64)
    scale = rng.uniform(0.8, 1.2, size=(64, 1, 1))
    hands = scale * np.einsum("nij,kj->nki", R, shape) + rng.normal(size=(64, 1, 3))
    mean = plot.mean_shape(hands)
    assert _pa_error(mean, hands) < 1e-6
    # the camera-frame mean of the same hands is a collapsed blob: far worse under Procrustes
    assert _pa_error(hands.mean(0), hands) > 100 * _pa_error(mean, hands) + 1e-3


def test_mean_shape_beats_the_plain_mean_on_noisy_hands():
    rng = np.random.default_rng(1)
    shape = rng.normal(scale=0.05, size=(21, 3))
    R = _random_rotations(rng, 128)
    noisy = shape + rng.normal(scale=0.01, size=(128, 21, 3))
    hands = np.einsum("nij,nkj->nki", R, noisy)
    gpa = _pa_error(plot.mean_shape(hands), hands)
    assert gpa < _pa_error(hands.mean(0), hands)
    assert gpa <= _pa_error(shape, hands) + 1e-4  # at least as good as the generating shape
