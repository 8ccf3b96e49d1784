"""MPVPE, PA-MPVPE, nearest neighbours and the FreiHAND F-score against naive loops."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from handpose.errors import HandposeError
from handpose.metrics import f_score, mpvpe, nearest_neighbor_distances, pa_mpvpe
from handpose.metrics.mesh import FREIHAND_FSCORE_THRESHOLDS
from metrics.metrics_naive import ALIGN
from metrics.metrics_naive import fscore as naive_fscore

TOL = 1e-12


def _mesh(seed=0, n=6, v=200, m=None):
    rng = np.random.default_rng(seed)
    gt = rng.normal(size=(n, v, 3)) * 0.04 + np.array([0.05, -0.02, 0.7])
    m = v if m is None else m
    base = gt[:, :m] if m <= v else np.concatenate([gt, gt[:, : m - v]], 1)
    pred = base + rng.normal(size=(n, m, 3)) * rng.uniform(0.001, 0.01, size=(n, 1, 1))
    return pred, gt


def test_mpvpe_matches_naive_loop_with_roots_and_masks():
    pred, gt = _mesh(1)
    rng = np.random.default_rng(1)
    pr, gr = rng.normal(size=(6, 3)) * 0.01, rng.normal(size=(6, 3)) * 0.01
    valid = rng.random((6, 200)) > 0.3
    errs = [
        np.linalg.norm((pred[i] - pr[i]) - (gt[i] - gr[i]), axis=-1)[valid[i]] for i in range(6)
    ]
    ref = np.concatenate(errs).mean()
    out = mpvpe(
        torch.from_numpy(pred),
        torch.from_numpy(gt),
        valid=torch.from_numpy(valid),
        pred_root=torch.from_numpy(pr),
        gt_root=torch.from_numpy(gr),
    )
    assert abs(float(out) - ref) < TOL
    # Hand-computed: every vertex 2 mm off along z.
    g = torch.from_numpy(gt)
    assert float(mpvpe(g + torch.tensor([0, 0, 0.002], dtype=torch.float64), g)) == pytest.approx(
        0.002
    )


@pytest.mark.parametrize("mode", ["freihand", "similarity"])
def test_pa_mpvpe_fits_on_vertices(mode):
    pred, gt = _mesh(2)
    pred[1, :, 0] *= -1
    rng = np.random.default_rng(2)
    valid = rng.random((6, 200)) > 0.3
    errs = [
        np.linalg.norm(ALIGN[mode](gt[i][valid[i]], pred[i][valid[i]]) - gt[i][valid[i]], axis=-1)
        for i in range(6)
    ]
    out = pa_mpvpe(
        torch.from_numpy(pred), torch.from_numpy(gt), valid=torch.from_numpy(valid), mode=mode
    )
    assert abs(float(out) - np.concatenate(errs).mean()) < TOL


def test_nearest_neighbours_both_methods_match_cdist():
    pred, gt = _mesh(3, v=150, m=120)
    rng = np.random.default_rng(3)
    pv, gv = rng.random((6, 120)) > 0.2, rng.random((6, 150)) > 0.2
    for method in ("brute", "kdtree"):
        for masks in (False, True):
            nn = nearest_neighbor_distances(
                torch.from_numpy(pred),
                torch.from_numpy(gt),
                x_valid=torch.from_numpy(pv) if masks else None,
                y_valid=torch.from_numpy(gv) if masks else None,
                method=method,
            )
            assert nn.x_to_y.shape == (6, 120) and nn.y_to_x.shape == (6, 150)
            for i in range(6):
                x = pred[i][pv[i]] if masks else pred[i]
                y = gt[i][gv[i]] if masks else gt[i]
                D = cdist(x, y)
                got_xy = nn.x_to_y[i][torch.from_numpy(pv[i])] if masks else nn.x_to_y[i]
                got_yx = nn.y_to_x[i][torch.from_numpy(gv[i])] if masks else nn.y_to_x[i]
                np.testing.assert_allclose(got_xy.numpy(), D.min(1), atol=TOL, rtol=0)
                np.testing.assert_allclose(got_yx.numpy(), D.min(0), atol=TOL, rtol=0)
                if masks:  # invalid points have no distance
                    assert bool(nn.x_to_y[i][~torch.from_numpy(pv[i])].isinf().all())


@pytest.mark.parametrize("method", ["brute", "kdtree", "auto"])
def test_fscore_matches_naive_freihand_loop(method):
    pred, gt = _mesh(4, n=5, v=300)
    fs = f_score(torch.from_numpy(pred), torch.from_numpy(gt), method=method)
    assert fs.f.shape == (5, 2) and fs.precision.shape == (5, 2)
    for i in range(5):
        for k, th in enumerate(FREIHAND_FSCORE_THRESHOLDS):
            assert float(fs.f[i, k]) == pytest.approx(naive_fscore(gt[i], pred[i], th), abs=1e-15)
    # Different vertex counts are fine (e.g. a non-MANO mesh).
    pred2, gt2 = _mesh(5, n=2, v=100, m=130)
    fs2 = f_score(torch.from_numpy(pred2), torch.from_numpy(gt2), thresholds=0.004, method=method)
    for i in range(2):
        assert float(fs2.f[i, 0]) == pytest.approx(naive_fscore(gt2[i], pred2[i], 0.004), abs=1e-15)


@pytest.mark.parametrize("method", ["brute", "kdtree"])
def test_fscore_boundary_is_strict(method):
    gt = torch.zeros(1, 1, 3, dtype=torch.float64)
    # Exactly 5 mm away (a single-axis offset is exact in floating point).
    at = gt + torch.tensor([0.005, 0.0, 0.0], dtype=torch.float64)
    fs = f_score(at, gt, thresholds=(0.005, 0.015), method=method)
    torch.testing.assert_close(fs.f, torch.tensor([[0.0, 1.0]], dtype=torch.float64))
    just_inside = gt + torch.tensor([np.nextafter(0.005, 0.0), 0.0, 0.0], dtype=torch.float64)
    fs = f_score(just_inside, gt, thresholds=(0.005,), method=method)
    torch.testing.assert_close(fs.f, torch.tensor([[1.0]], dtype=torch.float64))
    # Points far from the origin (camera coordinates), many of them at a distance that
    # rounds to exactly the threshold or next to it: still the exact comparison of the
    # naive reference.
    rng = np.random.default_rng(0)
    base = rng.uniform(-1, 1, size=(200, 3)) + np.array([0, 0, 1.5])
    offs = np.array([0.005, 0.015])[rng.integers(0, 2, 200)]
    offs = np.where(rng.random(200) < 0.5, offs, np.nextafter(offs, 0))
    moved = base.copy()
    moved[:, 2] += offs
    for i in range(0, 200, 25):
        p, g = moved[i : i + 1][None], base[i : i + 1][None]
        fs = f_score(torch.from_numpy(p), torch.from_numpy(g), method=method)
        for k, th in enumerate(FREIHAND_FSCORE_THRESHOLDS):
            assert float(fs.f[0, k]) == naive_fscore(g[0], p[0], th)


def test_fscore_zero_when_nothing_matches_and_masks():
    gt = torch.zeros(2, 10, 3, dtype=torch.float64)
    far = gt + 1.0
    fs = f_score(far, gt)
    torch.testing.assert_close(fs.f, torch.zeros(2, 2, dtype=torch.float64))  # P + R = 0 → 0
    # Masks: invalid predicted points are neither matched nor counted.
    pred = gt.clone()
    pred[:, 5:] = 1.0
    valid = torch.zeros(2, 10, dtype=torch.bool)
    valid[:, :5] = True
    fs = f_score(pred, gt, pred_valid=valid, gt_valid=valid)
    torch.testing.assert_close(fs.f, torch.ones(2, 2, dtype=torch.float64))
    fs = f_score(pred, gt, pred_valid=valid)  # all GT points count: recall = 1, precision = 1
    torch.testing.assert_close(fs.recall, torch.ones(2, 2, dtype=torch.float64))
    fs = f_score(pred, gt)  # precision 0.5, recall 1 → F = 2/3
    torch.testing.assert_close(fs.f, torch.full((2, 2), 2 / 3, dtype=torch.float64))
    none = torch.zeros(2, 10, dtype=torch.bool)
    assert bool(f_score(pred, gt, pred_valid=none).f.isnan().all())


def test_zero_predictor_fscore():
    pred, gt = _mesh(6, n=3, v=300)
    g = torch.from_numpy(gt)
    zero = torch.zeros_like(g)
    # Unaligned, every predicted vertex is ~0.7 m away: F = 0 at both thresholds.
    torch.testing.assert_close(f_score(zero, g).f, torch.zeros(3, 2, dtype=torch.float64))
    # Aligned, the prediction collapses onto the GT centroid (FreiHAND: F_aligned ≈ 0).
    aligned = zero + g.mean(1, keepdim=True)
    fs = f_score(aligned, g)
    for i in range(3):
        for k, th in enumerate(FREIHAND_FSCORE_THRESHOLDS):
            ref = naive_fscore(gt[i], aligned[i].numpy(), th)
            assert float(fs.f[i, k]) == pytest.approx(ref, abs=1e-15)
    assert float(fs.f.max()) < 0.2


def test_bad_input():
    x = torch.zeros(2, 5, 3)
    with pytest.raises(HandposeError):
        f_score(x, x, thresholds=(0.0,))
    with pytest.raises(HandposeError):
        nearest_neighbor_distances(x, x, method="octree")
    with pytest.raises(HandposeError):
        mpvpe(x, x, pred_root=torch.zeros(2, 3))
    with pytest.raises(HandposeError):
        pa_mpvpe(x, torch.zeros(2, 6, 3))
