"""mesh_reprojection_px: hand-computed pixels, masks, bad input."""

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.metrics.reprojection import mesh_reprojection_px, reprojection_errors_px

K = torch.tensor([[400.0, 0.0, 128.0], [0.0, 500.0, 96.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def test_hand_computed_pixels():
    gt = torch.tensor([[[0.0, 0.0, 0.5], [0.1, -0.05, 0.5]]], dtype=torch.float64)
    # Vertex 0 moves 1 cm along x at 0.5 m: 400·0.01/0.5 = 8 px. Vertex 1 slides along its own
    # viewing ray (depth error only): 0 px.
    pred = gt.clone()
    pred[0, 0, 0] += 0.01
    pred[0, 1] *= 1.2
    err = reprojection_errors_px(pred, gt, K)
    assert err[0].tolist() == pytest.approx([8.0, 0.0], abs=1e-9)
    assert float(mesh_reprojection_px(pred, gt, K)) == pytest.approx(4.0, abs=1e-9)
    assert float(mesh_reprojection_px(pred, gt, K, valid=torch.tensor([[True, False]]))) == (
        pytest.approx(8.0, abs=1e-9)
    )
    # y uses f_y: 1 cm at 0.5 m = 10 px.
    pred2 = gt + torch.tensor([0.0, 0.01, 0.0], dtype=torch.float64)
    assert mesh_reprojection_px(pred2, gt, K, reduction="per_sample").tolist() == pytest.approx(
        [10.0], abs=1e-9
    )


def test_per_sample_intrinsics_and_numpy():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(4, 30, 3)) * 0.05 + [0.0, 0.0, 0.6]
    pred = gt + rng.normal(size=gt.shape) * 0.005
    Ks = np.stack([K.numpy() * [[s, 1, 1], [1, s, 1], [1, 1, 1]] for s in (1.0, 2.0, 0.5, 1.5)])
    e = reprojection_errors_px(pred, gt, Ks)
    for i in range(4):

        def proj(x, k=Ks[i]):
            h = x @ k.T
            return h[:, :2] / h[:, 2:]

        ref = np.linalg.norm(proj(pred[i]) - proj(gt[i]), axis=-1)
        assert np.abs(e[i].numpy() - ref).max() < 1e-9


def test_points_behind_the_camera_are_refused():
    gt = torch.tensor([[0.0, 0.0, 0.5]], dtype=torch.float64)
    with pytest.raises(HandposeError, match="z ≤ 0"):
        mesh_reprojection_px(gt - torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64), gt, K)
    with pytest.raises(HandposeError, match="same number of points"):
        mesh_reprojection_px(torch.ones(5, 3), torch.ones(4, 3), K)
