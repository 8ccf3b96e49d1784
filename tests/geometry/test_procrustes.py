"""Procrustes alignment (freihand / similarity) and the two-hand scale alignments."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from metrics.metrics_naive import align_freihand, align_umeyama
from scipy.spatial.transform import Rotation

from handpose.errors import HandposeError
from handpose.geometry import (
    procrustes_align,
    procrustes_residuals,
    procrustes_transform,
    scale_align_ho3d,
    scale_align_intaghand,
)

SETTINGS = settings(max_examples=30, deadline=None)


# Naive per-sample references: tests/metrics/metrics_naive.py.
NAIVE = {"freihand": align_freihand, "similarity": align_umeyama}


def _loop(fn, gt: torch.Tensor, pred: torch.Tensor) -> np.ndarray:
    g, p = gt.reshape(-1, *gt.shape[-2:]).numpy(), pred.reshape(-1, *pred.shape[-2:]).numpy()
    return np.stack([fn(g[i], p[i]) for i in range(len(g))]).reshape(pred.shape)


def _random_rotation(rng: np.random.Generator, n: int) -> np.ndarray:
    return Rotation.random(n, random_state=rng).as_matrix()


# --- hand-computed example ------------------------------------------------------------------


def test_tiny_example_recovers_hand_computed_transform():
    gt = torch.tensor(
        [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]], dtype=torch.float64
    )
    Rz = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    pred = 2.0 * gt @ Rz.T + torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    # pred = 2·Rz·g + (1, 2, 3)  ⇒  g = ½·Rzᵀ·pred − ½·Rzᵀ·(1, 2, 3) = ½·Rzᵀ·pred − (1, −½, 1.5)
    aligned, T = procrustes_align(pred, gt, return_transform=True)
    torch.testing.assert_close(T.s, torch.tensor(0.5, dtype=torch.float64))
    torch.testing.assert_close(T.R, Rz.T, atol=1e-14, rtol=0)
    torch.testing.assert_close(T.t, torch.tensor([-1.0, 0.5, -1.5], dtype=torch.float64))
    torch.testing.assert_close(aligned, gt, atol=1e-14, rtol=0)
    torch.testing.assert_close(T.apply(pred), gt, atol=1e-14, rtol=0)
    # FreiHAND mode: the same up to its +1e-8 on the Frobenius norms.
    torch.testing.assert_close(procrustes_align(pred, gt, mode="freihand"), gt, atol=1e-7, rtol=0)


def test_freihand_eps_is_reproduced_exactly():
    # pred = gt: FreiHAND's scale is ‖G‖²/(‖G‖+1e-8)² instead of 1, visible for tiny sets.
    gt = torch.tensor([[0.0, 0.0, 0.0], [1e-7, 0.0, 0.0], [0.0, 1e-7, 0.0]], dtype=torch.float64)
    _, T = procrustes_align(gt, gt, mode="freihand", return_transform=True)
    n = float((gt - gt.mean(0)).norm())
    assert T.s.item() == pytest.approx(n**2 / (n + 1e-8) ** 2, rel=1e-12)
    assert T.s.item() < 0.99
    np.testing.assert_allclose(
        procrustes_align(gt, gt, mode="freihand").numpy(),
        align_freihand(gt.numpy(), gt.numpy()),
        atol=1e-20,
        rtol=1e-12,
    )


# --- properties -----------------------------------------------------------------------------


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(4, 30), batch=st.integers(1, 4))
def test_recovers_random_similarity_transform(seed, n, batch):
    rng = np.random.default_rng(seed)
    gt = rng.normal(size=(batch, n, 3)) * 0.05
    R = _random_rotation(rng, batch)
    s = rng.uniform(0.2, 5.0, size=batch)
    t = rng.normal(size=(batch, 3))
    pred = s[:, None, None] * gt @ R.transpose(0, 2, 1) + t[:, None, :]
    g, p = torch.from_numpy(gt), torch.from_numpy(pred)
    aligned, T = procrustes_align(p, g, mode="similarity", return_transform=True)
    torch.testing.assert_close(aligned, g, atol=1e-12, rtol=0)
    # The inverse transform: s' = 1/s, R' = Rᵀ, t' = −Rᵀt/s.
    torch.testing.assert_close(T.s, torch.from_numpy(1.0 / s), atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(T.R, torch.from_numpy(R.transpose(0, 2, 1)), atol=1e-10, rtol=0)
    t_inv = -(R.transpose(0, 2, 1) @ t[..., None])[..., 0] / s[:, None]
    torch.testing.assert_close(T.t, torch.from_numpy(t_inv), atol=1e-9, rtol=0)
    # FreiHAND mode finds the same map (no reflection needed), up to its 1e-8 regulariser.
    fh = procrustes_align(p, g, mode="freihand")
    torch.testing.assert_close(fh, g, atol=1e-7, rtol=0)


@SETTINGS
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(3, 40),
    noise=st.sampled_from([0.0, 1e-3, 0.01, 0.1, 1.0]),
    mirror=st.booleans(),
)
def test_matches_naive_per_sample_references(seed, n, noise, mirror):
    rng = np.random.default_rng(seed)
    gt = rng.normal(size=(3, n, 3)) * 0.05 + rng.normal(size=(3, 1, 3))
    pred = gt @ _random_rotation(rng, 3) + noise * 0.05 * rng.normal(size=gt.shape)
    if mirror:
        pred[..., 0] *= -1
    g, p = torch.from_numpy(gt), torch.from_numpy(pred)
    for mode, fn in NAIVE.items():
        ours = procrustes_align(p, g, mode=mode).numpy()
        np.testing.assert_allclose(ours, _loop(fn, g, p), atol=1e-9, rtol=0)


def test_reflection_case_freihand_and_similarity_differ():
    rng = np.random.default_rng(3)
    gt = rng.normal(size=(21, 3)) * np.array([0.08, 0.05, 0.02])
    pred = gt * np.array([-1.0, 1.0, 1.0])  # a mirror image: no rotation can undo it
    g, p = torch.from_numpy(gt), torch.from_numpy(pred)
    fh, T_fh = procrustes_align(p, g, mode="freihand", return_transform=True)
    sim, T_sim = procrustes_align(p, g, mode="similarity", return_transform=True)
    # FreiHAND allows the reflection and undoes the mirror (up to its 1e-8 regulariser).
    assert float(torch.linalg.det(T_fh.R)) == pytest.approx(-1.0, abs=1e-12)
    assert float((fh - g).norm(dim=-1).max()) < 1e-7
    # The det = +1 solution cannot, and leaves a clear error.
    assert float(torch.linalg.det(T_sim.R)) == pytest.approx(1.0, abs=1e-12)
    assert float((sim - g).norm(dim=-1).mean()) > 0.01
    np.testing.assert_allclose(fh.numpy(), align_freihand(gt, pred), atol=1e-12)
    np.testing.assert_allclose(sim.numpy(), align_umeyama(gt, pred), atol=1e-12)


def test_degenerate_inputs_follow_the_references():
    rng = np.random.default_rng(5)
    gt = rng.normal(size=(4, 21, 3)) * 0.05
    pred = gt + 0.01 * rng.normal(size=gt.shape)
    pred[0] = 0.0  # zero predictor
    pred[1, :, 2] = 0.0  # planar prediction
    gt[1, :, 2] = 0.0  # … and planar ground truth (rank-2 cross-covariance)
    pred[2] = pred[2, :1]  # all points collapsed onto one
    g, p = torch.from_numpy(gt), torch.from_numpy(pred)
    for mode, fn in NAIVE.items():
        ours = procrustes_align(p, g, mode=mode)
        assert bool(torch.isfinite(ours).all())
        # A prediction without spread (zero predictor, collapsed points) maps onto the
        # ground-truth centroid: FreiHAND does the same thanks to its +1e-8, HMR's Umeyama
        # would divide 0 by 0 (NaN), so it is compared on the other samples only.
        for i in (0, 2):
            torch.testing.assert_close(ours[i], g[i].mean(0).expand(21, 3), atol=1e-12, rtol=0)
        rows = [0, 1, 2, 3] if mode == "freihand" else [1, 3]
        np.testing.assert_allclose(ours[rows].numpy(), _loop(fn, g[rows], p[rows]), atol=1e-9)


def test_valid_mask_fits_on_valid_points_only():
    rng = np.random.default_rng(7)
    gt = rng.normal(size=(2, 21, 3)) * 0.05
    pred = gt @ _random_rotation(rng, 1)[0].T + 0.01 * rng.normal(size=gt.shape)
    valid = rng.random((2, 21)) > 0.3
    pred[~valid] = 10.0  # garbage where invalid must not affect the fit
    g, p, v = torch.from_numpy(gt), torch.from_numpy(pred), torch.from_numpy(valid)
    for mode, fn in NAIVE.items():
        aligned, T = procrustes_align(p, g, mode=mode, valid=v, return_transform=True)
        for i in range(2):
            ref_T = procrustes_transform(p[i][v[i]], g[i][v[i]], mode=mode)
            torch.testing.assert_close(T.R[i], ref_T.R, atol=1e-12, rtol=0)
            np.testing.assert_allclose(
                aligned[i][v[i]].numpy(), fn(gt[i][valid[i]], pred[i][valid[i]]), atol=1e-10
            )
        # Invalid points are transformed too.
        torch.testing.assert_close(aligned, T.apply(p))


def test_masked_nan_and_inf_never_reach_the_fit():
    """Points switched off by the mask may hold NaN/inf: the fit and the valid residuals are
    exactly those of the same data with finite values there (issue 17: the SVD crashed)."""
    rng = np.random.default_rng(11)
    gt = rng.normal(size=(3, 21, 3)) * 0.05
    pred = gt @ _random_rotation(rng, 1)[0].T + 0.01 * rng.normal(size=gt.shape)
    valid = np.ones((3, 21), bool)
    valid[0, 4] = valid[1, [0, 9]] = valid[2, 20] = False
    bad_p, bad_g = pred.copy(), gt.copy()
    bad_p[0, 4] = np.nan
    bad_p[1, 0, 1] = np.inf
    bad_g[1, 9] = np.nan
    bad_g[2, 20, 2] = -np.inf
    v = torch.from_numpy(valid)
    for mode, fn in NAIVE.items():
        ref = procrustes_residuals(torch.from_numpy(pred), torch.from_numpy(gt), mode, v)
        res = procrustes_residuals(torch.from_numpy(bad_p), torch.from_numpy(bad_g), mode, v)
        torch.testing.assert_close(res[v], ref[v], atol=0, rtol=0)
        T = procrustes_transform(torch.from_numpy(bad_p), torch.from_numpy(bad_g), mode, v)
        assert bool(torch.isfinite(T.R).all() & torch.isfinite(T.s).all())
        for i in range(3):  # and the fit is the naive one on the valid points alone
            aligned = fn(gt[i][valid[i]], pred[i][valid[i]])
            ours = T.apply(torch.from_numpy(pred[i][valid[i]]))[i]
            np.testing.assert_allclose(ours.numpy(), aligned, atol=1e-10)
    # Gradients reach the valid points only, finitely.
    p = torch.from_numpy(bad_p).requires_grad_()
    procrustes_residuals(p, torch.from_numpy(bad_g), valid=v)[v].sum().backward()
    assert bool(torch.isfinite(p.grad).all()) and bool((p.grad[~v] == 0).all())


def test_nan_at_a_valid_point_gives_nan_for_that_sample_only():
    rng = np.random.default_rng(12)
    gt = torch.from_numpy(rng.normal(size=(4, 21, 3)) * 0.05)
    pred = gt + 0.01 * torch.from_numpy(rng.normal(size=(4, 21, 3)))
    ref = procrustes_residuals(pred, gt)
    pred[2, 3, 0] = float("nan")
    for mode in ("similarity", "freihand"):
        res = procrustes_residuals(pred, gt, mode=mode)  # no crash in the SVD
        assert bool(res[2].isnan().all())
        if mode == "similarity":
            torch.testing.assert_close(res[[0, 1, 3]], ref[[0, 1, 3]], atol=0, rtol=0)
        aligned = procrustes_align(pred, gt, mode=mode)
        assert bool(aligned[2].isnan().all()) and bool(aligned[[0, 1, 3]].isfinite().all())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batch_dims_broadcast_and_dtypes(dtype):
    g = torch.Generator().manual_seed(0)
    gt = torch.randn(2, 3, 21, 3, generator=g, dtype=torch.float64) * 0.05
    pred = gt + 0.005 * torch.randn(2, 3, 21, 3, generator=g, dtype=torch.float64)
    ref = procrustes_align(pred, gt)
    out, T = procrustes_align(pred.to(dtype), gt.to(dtype), return_transform=True)
    assert out.shape == (2, 3, 21, 3) and out.dtype == dtype
    assert T.R.shape == (2, 3, 3, 3) and T.s.shape == (2, 3) and T.t.shape == (2, 3, 3)
    assert T.R.dtype == dtype
    torch.testing.assert_close(
        out.double(), ref, atol=1e-6 if dtype == torch.float32 else 1e-14, rtol=0
    )
    # One prediction against a batch of ground truths broadcasts.
    bc = procrustes_align(pred[0, 0], gt[0])
    assert bc.shape == (3, 21, 3)
    torch.testing.assert_close(
        bc[1].to(torch.float64), procrustes_align(pred[0, 0], gt[0, 1]).double()
    )


def test_many_samples_agree_with_reference():
    # A larger batch exercises the closed form and its SVD fallback side by side.
    rng = np.random.default_rng(11)
    gt = rng.normal(size=(300, 21, 3)) * 0.05
    pred = gt + rng.choice([0.001, 0.05, 0.3], size=(300, 1, 1)) * rng.normal(size=gt.shape)
    pred[::7, :, 1] *= -1
    g, p = torch.from_numpy(gt), torch.from_numpy(pred)
    for mode, fn in NAIVE.items():
        np.testing.assert_allclose(
            procrustes_align(p, g, mode=mode).numpy(), _loop(fn, g, p), atol=1e-9
        )


def test_closed_form_serves_regular_samples_and_svd_the_degenerate(monkeypatch):
    from handpose.geometry import procrustes as pr

    calls = []
    real = pr._svd_polar
    monkeypatch.setattr(
        pr, "_svd_polar", lambda H, special: calls.append(len(H)) or real(H, special)
    )
    rng = np.random.default_rng(4)
    gt = rng.normal(size=(50, 21, 3)) * 0.05
    pred = gt + 0.01 * rng.normal(size=gt.shape)
    pred[:10, :, 0] *= -1  # mirrored: still the closed form
    for mode in NAIVE:
        procrustes_align(torch.from_numpy(pred), torch.from_numpy(gt), mode=mode)
    assert calls == []
    gt[3, :, 2] = 0.0
    pred[3, :, 2] = 0.0  # planar: rank-2 H goes to the SVD
    for mode, fn in NAIVE.items():
        out = procrustes_align(torch.from_numpy(pred), torch.from_numpy(gt), mode=mode)
        np.testing.assert_allclose(out[3].numpy(), fn(gt[3], pred[3]), atol=1e-10)
    assert calls == [1, 1]


def test_residuals_equal_distances_of_aligned_points():
    rng = np.random.default_rng(8)
    gt = rng.normal(size=(2, 3, 21, 3)) * 0.05
    pred = gt + 0.01 * rng.normal(size=gt.shape)
    valid = torch.from_numpy(rng.random((2, 3, 21)) > 0.2)
    g, p = torch.from_numpy(gt), torch.from_numpy(pred)
    for mode in NAIVE:
        res = procrustes_residuals(p, g, mode=mode, valid=valid)
        assert res.shape == (2, 3, 21)
        ref = (procrustes_align(p, g, mode=mode, valid=valid) - g).norm(dim=-1)
        torch.testing.assert_close(res, ref, atol=1e-15, rtol=0)
    assert procrustes_residuals(p.float(), g.float()).dtype == torch.float32
    # An exact fit has zero residuals, with finite (zero) gradients.
    x = (2.0 * g[0, 0]).clone().requires_grad_()
    r = procrustes_residuals(x, g[0, 0])
    assert float(r.detach().max()) < 1e-15
    r.sum().backward()
    assert bool(torch.isfinite(x.grad).all())


def test_gradcheck_both_modes_and_svd_fallback():
    g = torch.Generator().manual_seed(2)
    gt = torch.randn(2, 7, 3, generator=g, dtype=torch.float64)
    pred = (gt + 0.3 * torch.randn(2, 7, 3, generator=g, dtype=torch.float64)).requires_grad_()
    gt.requires_grad_()
    for mode in ("similarity", "freihand"):
        assert torch.autograd.gradcheck(
            lambda a, b, mode=mode: procrustes_align(a, b, mode=mode), (pred, gt)
        )
        assert torch.autograd.gradcheck(
            lambda a, b, mode=mode: procrustes_residuals(a, b, mode=mode), (pred, gt)
        )
    # Mirrored prediction: det H < 0, so the det = +1 solution flips the smallest singular pair.
    mirrored = (
        pred.detach() * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    ).requires_grad_()
    for mode in ("similarity", "freihand"):
        assert torch.autograd.gradcheck(
            lambda a, b, mode=mode: procrustes_align(a, b, mode=mode), (mirrored, gt)
        )
    # Planar ground truth: rank-2 H, SVD path; the det = +1 solution is unique and smooth.
    planar = gt.detach().clone()
    planar[..., 2] = 0.0
    planar.requires_grad_()
    assert torch.autograd.gradcheck(lambda a: procrustes_align(a, planar.detach()), (pred,))


def test_bad_input_raises_user_error():
    x = torch.zeros(5, 3)
    with pytest.raises(HandposeError):
        procrustes_align(x, torch.zeros(6, 3))
    with pytest.raises(HandposeError):
        procrustes_align(torch.zeros(5, 2), torch.zeros(5, 2))
    with pytest.raises(HandposeError):
        procrustes_align(x, x, mode="umeyama")
    with pytest.raises(HandposeError):
        procrustes_align(x, x, valid=torch.ones(4, dtype=torch.bool))


# --- scale alignment ------------------------------------------------------------------------


def _hand(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    gt = torch.randn(21, 3, generator=g, dtype=torch.float64) * 0.05
    pred = torch.randn(21, 3, generator=g, dtype=torch.float64) * 0.05
    # Hand-set bone: |G9 − G0| = 0.1, |P9 − P0| = 0.05, so the scale is exactly 2.
    gt[0] = torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64)
    gt[9] = torch.tensor([0.0, 0.1, 0.5], dtype=torch.float64)
    pred[0] = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)
    pred[9] = torch.tensor([1.0, 1.0, 1.05], dtype=torch.float64)
    return pred, gt


def test_intaghand_hand_computed():
    pred, gt = _hand()
    pv, gv = pred[:5] + 0.01, gt[:5] - 0.01
    out = scale_align_intaghand(pred, gt, pred_verts=pv, gt_verts=gv)
    assert float(out.scale) == pytest.approx(2.0, rel=1e-12)
    torch.testing.assert_close(out.pred_joints, (pred - pred[9]) * 2.0)
    torch.testing.assert_close(out.gt_joints, gt - gt[9])
    torch.testing.assert_close(out.pred_verts, (pv - pred[9]) * 2.0)
    torch.testing.assert_close(out.gt_verts, gv - gt[9])
    # Both roots land on the origin; the bone has the GT length.
    assert float(out.pred_joints[9].norm()) == 0.0
    assert float((out.pred_joints[0] - out.pred_joints[9]).norm()) == pytest.approx(0.1, rel=1e-12)
    # DIR's wrist root: same scale, different offset.
    w = scale_align_intaghand(pred, gt, root="wrist")
    torch.testing.assert_close(w.pred_joints, (pred - pred[0]) * 2.0)
    torch.testing.assert_close(w.gt_joints, gt - gt[0])
    torch.testing.assert_close(scale_align_intaghand(pred, gt, root=0).pred_joints, w.pred_joints)


def test_ho3d_hand_computed():
    pred, gt = _hand(1)
    pv = pred[:5] * 1.5
    out = scale_align_ho3d(pred, gt, pred_verts=pv)
    assert float(out.scale) == pytest.approx(2.0, rel=1e-12)
    torch.testing.assert_close(out.pred_joints, (pred - pred[0]) * 2.0 + gt[0])
    torch.testing.assert_close(out.pred_verts, (pv - pred[0]) * 2.0 + gt[0])
    assert out.gt_joints is gt
    torch.testing.assert_close(out.pred_joints[0], gt[0])  # wrist onto the GT wrist


def test_scale_alignment_is_batched_and_checks_input():
    pred, gt = _hand(2)
    pb = torch.stack([pred, pred * 3.0])
    gb = torch.stack([gt, gt])
    out = scale_align_intaghand(pb, gb)
    torch.testing.assert_close(out.scale, torch.tensor([2.0, 2.0 / 3.0], dtype=torch.float64))
    torch.testing.assert_close(out.pred_joints[0], out.pred_joints[1])  # scale-invariant
    out = scale_align_ho3d(pb, gb)
    torch.testing.assert_close(out.pred_joints[0], out.pred_joints[1])
    with pytest.raises(HandposeError):
        scale_align_intaghand(pred, gt, root="palm")
    with pytest.raises(HandposeError):
        scale_align_ho3d(pred[:5], gt[:5])  # no joint 9
    # A collapsed predicted bone gives a finite result.
    bad = pred.clone()
    bad[9] = bad[0]
    assert bool(torch.isfinite(scale_align_intaghand(bad, gt).scale))
    assert not math.isnan(float(scale_align_ho3d(bad, gt).pred_joints.sum()))
