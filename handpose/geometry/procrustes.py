"""Procrustes and scale alignment of predicted hands to ground truth, batched.

Alignment protocols (exact definitions: ../shared/reference/metrics.md §2, §3, §5, §7):

``procrustes_align(..., mode="freihand")``
    FreiHAND's ``align_w_scale`` (also used by HO3D and DexYCB): centre both sets, divide each by
    its Frobenius norm ``+ 1e-8``, solve the orthogonal Procrustes problem (``R = UVᵀ`` from the
    SVD of ``AᵀB``, **reflections allowed**), scale by the sum of singular values, then undo the
    ground-truth normalisation. Needed to reproduce the FreiHAND leaderboard exactly.
``procrustes_align(..., mode="similarity")``
    Umeyama (1991) / HMR & HaMeR ``compute_similarity_transform``: ``R`` with ``det R = +1``,
    scale ``tr(RK)/‖X₁‖²``. The default.
``scale_align_intaghand``
    IntagHand / EANet / EHPE / DIR two-hand protocol: root at the middle MCP (or the wrist, as DIR
    allows), prediction rescaled by the ground-truth/predicted wrist→middle-MCP bone ratio.
``scale_align_ho3d``
    HO3D ``align_sc_tr``: rescale by that bone ratio, then move the wrist onto the GT wrist.

Implementation notes. The 3×3 fit runs in float64 with autocast disabled whatever the input
dtype. The rotation is the orthogonal polar factor of the cross-covariance ``H = Σ gᵢ pᵢᵀ``
(``UVᵀ`` for ``H = USVᵀ``; with ``det = +1`` enforced in ``similarity`` mode), computed in
closed form from the invariants of ``HᵀH`` (see :func:`_closed_form_polar`). It is fully
vectorised over the batch and several times faster than a batched LAPACK SVD of many 3×3
matrices on CPU (docs/benchmarks/metrics.md). Samples where the closed form is ill-conditioned (nearly singular ``H``,
or ``σ₂ ≈ σ₃`` with a determinant flip) fall back to ``torch.linalg.svd``. Both paths are
differentiable (the SVD path only away from repeated singular values, as any SVD).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from handpose.errors import HandposeError

__all__ = [
    "SimilarityTransform",
    "ScaleAlignment",
    "procrustes_transform",
    "procrustes_align",
    "procrustes_residuals",
    "scale_align_intaghand",
    "scale_align_ho3d",
]

ProcrustesMode = Literal["similarity", "freihand"]
_MODES = ("similarity", "freihand")

# FreiHAND adds 1e-8 to both Frobenius norms before dividing (metrics.md §2, step 2).
_FREIHAND_EPS = 1e-8
# Newton iterations for the quartic's root (it converges in well under 10 from the upper bound).
_MAX_ITERS = 50
# The closed-form R must satisfy max |RᵀR − I| below this, or the sample goes to the SVD.
_ORTHO_TOL = 1e-12
# |det H| below this fraction of ‖H‖³ (H scaled to max |entry| = 1) means a condition number
# around 1e9 or worse: the SVD handles those.
_SINGULAR_DET = 1e-9


@dataclass(frozen=True)
class SimilarityTransform:
    """The map ``x ↦ s·R·x + t`` on column vectors; for points stored as rows,
    ``s · x @ Rᵀ + t``.

    Attributes:
        R: (..., 3, 3) orthogonal. ``det R = +1`` in ``similarity`` mode; may be −1 (a
            reflection) in ``freihand`` mode.
        s: (...) scale.
        t: (..., 3) translation, metres.
    """

    R: Tensor
    s: Tensor
    t: Tensor

    def apply(self, points: Tensor) -> Tensor:
        """Transform points: (..., N, 3) → (..., N, 3). Leading dims broadcast."""
        _check_points(points, "points")
        return self.s[..., None, None] * (points @ self.R.mT) + self.t[..., None, :]


@dataclass(frozen=True)
class ScaleAlignment:
    """Result of :func:`scale_align_intaghand` / :func:`scale_align_ho3d`.

    Attributes:
        pred_joints: (..., J, 3) aligned prediction, metres.
        gt_joints: (..., J, 3) ground truth in the same frame (root-centred for IntagHand,
            unchanged for HO3D).
        scale: (...) the factor applied to the prediction, ``‖G_mcp − G_wrist‖/‖P_mcp − P_wrist‖``.
        pred_verts: (..., V, 3) prediction vertices carried along with the same transform, or
            None.
        gt_verts: (..., V, 3) ground-truth vertices in the same frame as ``gt_joints``, or None.
    """

    pred_joints: Tensor
    gt_joints: Tensor
    scale: Tensor
    pred_verts: Tensor | None = None
    gt_verts: Tensor | None = None


# --------------------------------------------------------------------------------------------
# Input checks


def _check_points(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor):
        raise HandposeError(f"{name} must be a torch.Tensor, got {type(x).__name__}.")
    if x.ndim < 2 or x.shape[-1] != 3:
        raise HandposeError(f"{name} must have shape (..., N, 3), got {tuple(x.shape)}.")
    if not x.is_floating_point():
        raise HandposeError(f"{name} must be a floating-point tensor, got {x.dtype}.")


def _check_pair(pred: Tensor, gt: Tensor) -> torch.Size:
    _check_points(pred, "pred")
    _check_points(gt, "gt")
    if pred.shape[-2] != gt.shape[-2]:
        raise HandposeError(
            f"pred and gt must have the same number of points, got {pred.shape[-2]} and "
            f"{gt.shape[-2]}."
        )
    try:
        return torch.broadcast_shapes(pred.shape, gt.shape)
    except RuntimeError:
        raise HandposeError(
            f"pred {tuple(pred.shape)} and gt {tuple(gt.shape)} have incompatible batch shapes."
        ) from None


def _check_index(index: int, n: int, name: str) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not -n <= index < n:
        raise HandposeError(f"{name} must be a joint index in [0, {n}), got {index!r}.")
    return index % n


# --------------------------------------------------------------------------------------------
# The 3×3 core. Matrices are stored component-major, (3, 3, B), so that every step below is one
# vectorised call over the batch instead of a loop over tiny 3×3 problems.


def _matmul_cm(A: Tensor, B: Tensor) -> Tensor:
    """(3, 3, B) @ (3, 3, B) → (3, 3, B)."""
    # Three broadcast products instead of a strided reduction over a (3, 3, 3, B) tensor.
    return A[:, 0, None] * B[0] + A[:, 1, None] * B[1] + A[:, 2, None] * B[2]


def _sym_cofactor(a, b, c, d, e, f):
    """Cofactors of symmetric [[a, b, c], [b, d, e], [c, e, f]] as its 6 unique entries.

    The cofactor matrix of a symmetric matrix is symmetric (and equals its adjugate).
    """
    return (
        torch.addcmul(d * f, e, e, value=-1.0),  # (0, 0)
        torch.addcmul(c * e, b, f, value=-1.0),  # (0, 1)
        torch.addcmul(b * e, c, d, value=-1.0),  # (0, 2)
        torch.addcmul(a * f, c, c, value=-1.0),  # (1, 1)
        torch.addcmul(b * c, a, e, value=-1.0),  # (1, 2)
        torch.addcmul(a * d, b, b, value=-1.0),  # (2, 2)
    )


def _det_cm(X: Tensor) -> Tensor:
    """Determinant of component-major (3, 3, B) matrices: c₀ · (c₁ × c₂) over columns."""
    (x00, x01, x02), (x10, x11, x12), (x20, x21, x22) = (row.unbind(0) for row in X.unbind(0))
    return (
        x00 * torch.addcmul(x11 * x22, x21, x12, value=-1.0)
        + x10 * torch.addcmul(x21 * x02, x01, x22, value=-1.0)
        + x20 * torch.addcmul(x01 * x12, x11, x02, value=-1.0)
    )


def _closed_form_polar(H: Tensor, special: bool) -> tuple[Tensor, Tensor]:
    """Closed-form orthogonal polar factor of (3, 3, B) float64 matrices.

    With ``H = USVᵀ``, the wanted ``R = U·diag(1, 1, d)·Vᵀ`` (``d = 1``, or
    ``d = sign det H`` when ``special``) satisfies ``H = R·P`` with ``P`` a symmetric square
    root of ``M = HᵀH`` whose invariants are ``I₁ = σ₁ + σ₂ + dσ₃ = tr(RᵀH)``,
    ``I₂ = (I₁² − tr M)/2`` and ``I₃ = det P`` (``|det H|``, or ``det H`` when special).
    ``I₁`` is the largest root of the quartic ``(x² − tr M)² − 8·I₃·x − 4·II(M) = 0``
    (from ``I₁² = tr M + 2I₂`` and ``I₂² = II(M) + 2I₁I₃``; it is the characteristic
    polynomial of Horn's 4×4 quaternion matrix, as in Theobald's QCP method). Newton's method
    from the upper bound ``√(tr M + 2√(3·II(M)))`` (Cauchy–Schwarz on ``I₂``) converges to it
    monotonically: the quartic has only real roots, so it is convex to the right of the
    largest. Cayley–Hamilton for ``P`` gives ``P·(M + I₂I) = I₁M + I₃I``, so
    ``R = H·P⁻¹ = H·(M + I₂I)·(I₁M + I₃I)⁻¹``; the last two factors commute (both are
    polynomials in M), so their product is symmetric.

    Everything is written on the 9 entries as (B,) tensors: a few hundred tiny vectorised
    operations instead of a batched LAPACK call per 3×3 problem.

    Returns (R (3, 3, B), I₁ (B,)). Callers check the result and fall back to the SVD where
    the problem is ill-conditioned.
    """
    (h00, h01, h02), (h10, h11, h12), (h20, h21, h22) = (row.unbind(0) for row in H.unbind(0))
    cols = ((h00, h10, h20), (h01, h11, h21), (h02, h12, h22))

    def dot(u, v):
        return torch.addcmul(torch.addcmul(u[0] * v[0], u[1], v[1]), u[2], v[2])

    # M = HᵀH (symmetric): Mⱼₖ = column j · column k.
    m00, m01, m02 = dot(cols[0], cols[0]), dot(cols[0], cols[1]), dot(cols[0], cols[2])
    m11, m12, m22 = dot(cols[1], cols[1]), dot(cols[1], cols[2]), dot(cols[2], cols[2])
    tr_m = m00 + m11 + m22
    c = _sym_cofactor(m00, m01, m02, m11, m12, m22)
    ii_m = c[0] + c[3] + c[5]  # sum of the principal 2×2 minors
    i3 = _det_cm(H)
    if not special:
        i3 = i3.abs()
    # Newton on f(x) = (x² − a)² − 8cx − 4b, written with fused multiply-adds.
    neg_a, neg_4b, c8 = -tr_m, -4.0 * ii_m, 8.0 * i3

    def newton_step(x: Tensor) -> Tensor:
        y = torch.addcmul(neg_a, x, x)
        f = torch.addcmul(neg_4b, y, y) - c8 * x
        return torch.addcdiv(x, f, torch.addcmul(-c8, x, y, value=4.0), value=-1.0)

    with torch.no_grad():
        x = (tr_m + 2.0 * (3.0 * ii_m.clamp_min(0.0)).sqrt()).sqrt()
        tol = 4.0 * torch.finfo(x.dtype).eps
        for _ in range(_MAX_ITERS // 2):
            x_prev, x = x, newton_step(newton_step(x))
            if bool(((x_prev - x).abs() <= tol * x).all()):
                break
    # One more step with autograd on: its derivative at the converged root is exactly the
    # implicit-function derivative of the root with respect to H.
    i1 = newton_step(x) if torch.is_grad_enabled() else x
    i2 = 0.5 * torch.addcmul(neg_a, i1, i1)
    # N = I₁M + I₃I and W = M + I₂I; T = W·adj(N)/det N is symmetric.
    n00, n11, n22 = (
        torch.addcmul(i3, i1, m00),
        torch.addcmul(i3, i1, m11),
        torch.addcmul(i3, i1, m22),
    )
    n01, n02, n12 = i1 * m01, i1 * m02, i1 * m12
    a00, a01, a02, a11, a12, a22 = _sym_cofactor(n00, n01, n02, n11, n12, n22)
    inv_det = 1.0 / dot((n00, n01, n02), (a00, a01, a02))
    w = ((m00 + i2, m01, m02), (m01, m11 + i2, m12), (m02, m12, m22 + i2))
    adj = ((a00, a01, a02), (a01, a11, a12), (a02, a12, a22))
    t00, t01, t02 = (dot(w[0], adj[j]) * inv_det for j in range(3))
    t11, t12, t22 = (
        dot(w[1], adj[1]) * inv_det,
        dot(w[1], adj[2]) * inv_det,
        dot(w[2], adj[2]) * inv_det,
    )
    T = ((t00, t01, t02), (t01, t11, t12), (t02, t12, t22))  # symmetric
    rows = ((h00, h01, h02), (h10, h11, h12), (h20, h21, h22))
    R = torch.stack([torch.stack([dot(rows[i], T[j]) for j in range(3)]) for i in range(3)])
    return R, i1


def _svd_polar(H: Tensor, special: bool) -> Tensor:
    """``U diag(1, 1, d) Vᵀ`` from the SVD of (B, 3, 3) H; ``d = sign det(UVᵀ)`` if special."""
    U, _, Vh = torch.linalg.svd(H)
    if special:
        d = torch.where(torch.linalg.det(U @ Vh) < 0, -1.0, 1.0).to(H.dtype)
        U = torch.cat([U[..., :2], U[..., 2:] * d[:, None, None]], dim=-1)
    return U @ Vh


def _orthogonal_polar(H: Tensor, special: bool) -> Tensor:
    """Orthogonal R maximising ``tr(RᵀH)`` for (3, 3, B) float64 H (det R = +1 if special).

    Returns R as (3, 3, B).
    """
    if H.shape[-1] == 0:
        return H.clone()
    eye = torch.eye(3, dtype=H.dtype, device=H.device)[..., None]
    # A sample with NaN/inf points (valid ones: masked points never reach H) has no fit: its R
    # is NaN, and the SVD never sees it (LAPACK refuses non-finite input).
    nonfinite = ~torch.isfinite(H.detach()).all(0).all(0)
    if bool(nonfinite.any()):
        R = _orthogonal_polar(torch.where(nonfinite, eye, H), special)
        return torch.where(nonfinite, torch.full_like(R, float("nan")), R)
    # R is invariant to a positive scale of H: normalise to max |entry| = 1 for the tests below
    # and to keep the quartic's coefficients O(1).
    mag = H.detach().abs().amax((0, 1))
    Hn = H / torch.where(mag > 0, mag, 1.0)
    det = _det_cm(Hn.detach())
    ok = det.abs() > _SINGULAR_DET
    # Degenerate samples get the identity so the closed form stays finite (and so do its
    # gradients); they are replaced by the SVD result below.
    R, _ = _closed_form_polar(torch.where(ok, Hn, eye), special)
    # A-posteriori check: R must be orthogonal to near machine precision; ill-conditioned cases
    # (e.g. σ₂ ≈ σ₃ with a det flip) show up here and go to the SVD.
    with torch.no_grad():
        gram_err = (_matmul_cm(R.transpose(0, 1), R) - eye).abs().amax((0, 1))
        ok = ok & (gram_err < _ORTHO_TOL)  # also False for NaN
    if not bool(ok.all()):
        idx = (~ok).nonzero().squeeze(1)
        R_svd = _svd_polar(H.permute(2, 0, 1)[idx], special)
        R = R.permute(2, 0, 1).index_put((idx,), R_svd).permute(1, 2, 0)
    return R


def _fit(p: Tensor, g: Tensor, w: Tensor | None, mode: str) -> tuple[Tensor, Tensor, Tensor]:
    """float64 fit on component-major inputs: p, g (3, B, N), w (B, N) in {0, 1} or None.

    Returns component-major R (3, 3, B), s (B,), t (3, B); NaN for a sample with a non-finite
    point among those fitted.
    """
    if w is not None:
        # Masked points never enter the fit, whatever they hold (NaN included: 0·NaN = NaN).
        p, g = torch.where(w > 0, p, 0.0), torch.where(w > 0, g, 0.0)
    if w is None:
        mu_p, mu_g = p.mean(-1), g.mean(-1)
        Pc, Gc = p - mu_p[..., None], g - mu_g[..., None]
    else:
        n = w.sum(-1).clamp_min(1.0)
        mu_p, mu_g = (p * w).sum(-1) / n, (g * w).sum(-1) / n
        Pc, Gc = (p - mu_p[..., None]) * w, (g - mu_g[..., None]) * w
    # Hᵢⱼ = Σₙ gᵢpⱼ: R = polar(H) maximises Σ gᵀRp. einsum returns a (B, 3, 3)-strided view;
    # the batch must be the contiguous axis for the elementwise 3×3 algebra below to be fast.
    H = torch.einsum("ibn,jbn->ijb", Gc, Pc).contiguous()
    R = _orthogonal_polar(H, special=(mode == "similarity"))
    trace = (R * H).sum((0, 1))  # tr(RᵀH): the sum of (signed) singular values
    if mode == "freihand":
        # s₁, s₂ = Frobenius norms + 1e-8; singular values of AᵀB = H/(s₁s₂) sum to trace/(s₁s₂);
        # aligned = s·s₁·R(p − t₂)/s₂ + t₁ (metrics.md §2, step 4).
        s1 = (Gc * Gc).sum(0).sum(-1).sqrt() + _FREIHAND_EPS
        s2 = (Pc * Pc).sum(0).sum(-1).sqrt() + _FREIHAND_EPS
        s = trace / (s1 * s2) * s1 / s2
    else:
        # Umeyama: scale = tr(RK)/‖X₁‖² with K = Hᵀ (metrics.md §3).
        var = (Pc * Pc).sum(0).sum(-1)
        s = trace / torch.where(var > 0, var, 1.0)
    t = mu_g - s * (R * mu_p[None]).sum(1)
    return R, s, t


def _apply_cm(R: Tensor, s: Tensor, t: Tensor, p: Tensor) -> Tensor:
    """``s·R·p + t`` for component-major R (3, 3, B), s (B,), t (3, B), p (3, B, N)."""
    sR = s * R  # (3, 3, B)
    return torch.stack(
        [
            t[i, :, None]
            + sR[i, 0, :, None] * p[0]
            + sR[i, 1, :, None] * p[1]
            + sR[i, 2, :, None] * p[2]
            for i in range(3)
        ]
    )


def _residuals_cm(R: Tensor, s: Tensor, t: Tensor, p: Tensor, g: Tensor) -> Tensor:
    """``‖s·R·p + t − g‖`` per point for component-major inputs → (B, N).

    Accumulated one coordinate at a time, so no aligned copy of the points is materialised.
    """
    sR = s * R
    sq = None
    for i in range(3):
        d = torch.addcmul(t[i, :, None] - g[i], sR[i, 0, :, None], p[0])
        d = torch.addcmul(d, sR[i, 1, :, None], p[1])
        d = torch.addcmul(d, sR[i, 2, :, None], p[2])
        sq = d * d if sq is None else torch.addcmul(sq, d, d)
    # sqrt with a finite (zero) gradient where a residual is exactly zero; NaN stays NaN.
    pos = sq > 0
    return torch.where(pos, torch.where(pos, sq, 1.0).sqrt(), sq)


def _finite_points(x: Tensor) -> tuple[Tensor, Tensor]:
    """Component-major (3, B, N) points with non-finite ones zeroed, and where they were (B, N).

    Their outputs are set to NaN afterwards; computing them from zeros keeps a NaN out of the
    gradients of the shared transform (0 · NaN = NaN would reach every point of the sample).
    """
    bad = ~torch.isfinite(x).all(0)
    if not bool(bad.any()):
        return x, bad
    return torch.where(bad, 0.0, x), bad


def _to_cm(x: Tensor, shape: torch.Size) -> Tensor:
    """(..., N, 3) broadcast to ``shape`` → (3, B, N) float64 contiguous."""
    n = shape[-2]
    return x.to(torch.float64).expand(shape).reshape(-1, n, 3).permute(2, 0, 1).contiguous()


def _to_transform(R: Tensor, s: Tensor, t: Tensor, batch, dtype) -> SimilarityTransform:
    """Component-major fit → a :class:`SimilarityTransform` with the caller's batch dims."""
    return SimilarityTransform(
        R=R.permute(2, 0, 1).reshape(batch + (3, 3)).to(dtype),
        s=s.reshape(batch).to(dtype),
        t=t.T.reshape(batch + (3,)).to(dtype),
    )


def _prepare(pred: Tensor, gt: Tensor, mode: str, valid: Tensor | None):
    """Validate and convert to component-major float64: (p, g, w, batch shape, dtype)."""
    if mode not in _MODES:
        raise HandposeError(f"mode must be one of {_MODES}, got {mode!r}.")
    shape = _check_pair(pred, gt)
    w = None
    if valid is not None:
        valid = torch.as_tensor(valid, device=pred.device)
        try:
            vshape = torch.broadcast_shapes(valid.shape, shape[:-1])
        except RuntimeError:
            vshape = None
        if vshape != shape[:-1]:
            raise HandposeError(
                f"valid must have shape (..., {shape[-2]}) matching the points, got "
                f"{tuple(valid.shape)}."
            )
        w = (valid != 0).to(torch.float64).expand(shape[:-1]).reshape(-1, shape[-2])
    dtype = torch.promote_types(pred.dtype, gt.dtype)
    return _to_cm(pred, shape), _to_cm(gt, shape), w, shape[:-2], dtype


def procrustes_transform(
    pred: Tensor,
    gt: Tensor,
    mode: ProcrustesMode = "similarity",
    valid: Tensor | None = None,
) -> SimilarityTransform:
    """Least-squares similarity transform taking ``pred`` onto ``gt``, per sample.

    Args:
        pred: (..., N, 3) predicted points, metres.
        gt: (..., N, 3) ground-truth points, metres. Leading dims broadcast with ``pred``.
        mode: ``"similarity"`` (Umeyama, det R = +1; HMR/HaMeR) or ``"freihand"`` (FreiHAND
            ``align_w_scale``: reflections allowed, Frobenius normalisation with ``+1e-8``).
        valid: optional (..., N) bool mask; only valid points enter the fit.
    Returns:
        :class:`SimilarityTransform` with R (..., 3, 3), s (...), t (..., 3) in the promoted
        input dtype, such that ``transform.apply(pred) ≈ gt``.

    Example:
        >>> gt = torch.randn(4, 21, 3, dtype=torch.float64)
        >>> T = procrustes_transform(2.0 * gt + 1.0, gt)
        >>> bool(torch.allclose(T.s, torch.full((4,), 0.5, dtype=torch.float64)))
        True
    """
    with torch.autocast(device_type=pred.device.type, enabled=False):
        p, g, w, batch, dtype = _prepare(pred, gt, mode, valid)
        R, s, t = _fit(p, g, w, mode)
    return _to_transform(R, s, t, batch, dtype)


def procrustes_align(
    pred: Tensor,
    gt: Tensor,
    mode: ProcrustesMode = "similarity",
    valid: Tensor | None = None,
    return_transform: bool = False,
) -> Tensor | tuple[Tensor, SimilarityTransform]:
    """Align ``pred`` to ``gt`` with the per-sample optimal similarity transform.

    Args:
        pred: (..., N, 3) metres.
        gt: (..., N, 3) metres; leading dims broadcast with ``pred``.
        mode: ``"similarity"`` (default; det R = +1, Umeyama scale) or ``"freihand"`` (the
            official FreiHAND/HO3D/DexYCB evaluation: reflections allowed).
        valid: optional (..., N) bool mask of the points used for the fit. All points,
            valid or not, are transformed.
        return_transform: also return the :class:`SimilarityTransform`.
    Returns:
        (..., N, 3) aligned prediction (broadcast batch shape) in the promoted input dtype,
        computed in float64; and the transform if asked.

    Example:
        >>> gt = torch.randn(21, 3, dtype=torch.float64)
        >>> R = torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype=torch.float64)
        >>> pred = 3.0 * gt @ R.T + 0.5
        >>> bool(torch.allclose(procrustes_align(pred, gt), gt))
        True
    """
    with torch.autocast(device_type=pred.device.type, enabled=False):
        p, g, w, batch, dtype = _prepare(pred, gt, mode, valid)
        R, s, t = _fit(p, g, w, mode)
        p_safe, bad = _finite_points(p)
        aligned = torch.where(bad, torch.nan, _apply_cm(R, s, t, p_safe))
        aligned = aligned.permute(1, 2, 0).reshape(batch + p.shape[-1:] + (3,))
    aligned = aligned.to(dtype).contiguous()
    if not return_transform:
        return aligned
    return aligned, _to_transform(R, s, t, batch, dtype)


def procrustes_residuals(
    pred: Tensor,
    gt: Tensor,
    mode: ProcrustesMode = "similarity",
    valid: Tensor | None = None,
) -> Tensor:
    """Per-point distances ``‖T(pred) − gt‖`` after the per-sample Procrustes fit.

    The same fit as :func:`procrustes_align`, without materialising the aligned points: the
    PA-MPJPE / PA-MPVPE building block.

    Args:
        pred: (..., N, 3) metres.
        gt: (..., N, 3) metres; leading dims broadcast with ``pred``.
        mode: ``"similarity"`` (default) or ``"freihand"``.
        valid: optional (..., N) bool mask of the points used for the fit (residuals are
            returned for all points).
    Returns:
        (..., N) distances in metres, in the promoted input dtype (computed in float64).

    Example:
        >>> gt = torch.randn(2, 21, 3, dtype=torch.float64)
        >>> float(procrustes_residuals(5.0 * gt + 1.0, gt).max()) < 1e-12
        True
    """
    with torch.autocast(device_type=pred.device.type, enabled=False):
        p, g, w, batch, dtype = _prepare(pred, gt, mode, valid)
        R, s, t = _fit(p, g, w, mode)
        (p_safe, bad_p), (g_safe, bad_g) = _finite_points(p), _finite_points(g)
        res = torch.where(bad_p | bad_g, torch.nan, _residuals_cm(R, s, t, p_safe, g_safe))
    return res.reshape(batch + p.shape[-1:]).to(dtype)


# --------------------------------------------------------------------------------------------
# Scale alignment (two-hand protocols)


def _bone_scale(pred: Tensor, gt: Tensor, wrist: int, mcp: int) -> Tensor:
    """``‖G_mcp − G_wrist‖ / ‖P_mcp − P_wrist‖`` per sample, (...)."""
    g = (gt[..., mcp, :] - gt[..., wrist, :]).norm(dim=-1)
    p = (pred[..., mcp, :] - pred[..., wrist, :]).norm(dim=-1)
    # A collapsed predicted bone gives a huge but finite scale (no inf/NaN in a metric).
    return g / p.clamp_min(torch.finfo(p.dtype).tiny)


def _check_verts(verts: Tensor | None, name: str) -> None:
    if verts is not None:
        _check_points(verts, name)


def scale_align_intaghand(
    pred: Tensor,
    gt: Tensor,
    pred_verts: Tensor | None = None,
    gt_verts: Tensor | None = None,
    root: Literal["mcp", "wrist"] | int = "mcp",
    wrist: int = 0,
    middle_mcp: int = 9,
) -> ScaleAlignment:
    """IntagHand-style scale alignment (metrics.md §5).

    ``P′ = (P − P_r)·‖G₉ − G₀‖/‖P₉ − P₀‖`` and ``G′ = G − G_r``, with root ``r`` the middle
    MCP (IntagHand, EANet/EHPE) or the wrist (DIR's ``--root_joint 0``); the scale always uses
    the wrist→middle-MCP bone. Vertices get the same root offset and scale as their joints.
    The root choice changes the numbers: always report it.

    Args:
        pred: (..., J, 3) predicted joints, metres (OpenPose order by default).
        gt: (..., J, 3) ground-truth joints, metres.
        pred_verts, gt_verts: optional (..., V, 3) vertices carried along.
        root: ``"mcp"`` (default), ``"wrist"``, or a joint index.
        wrist, middle_mcp: joint indices of the bone (OpenPose 0 and 9).
    Returns:
        :class:`ScaleAlignment` with root-centred prediction and ground truth.
    """
    _check_pair(pred, gt)
    _check_verts(pred_verts, "pred_verts")
    _check_verts(gt_verts, "gt_verts")
    n = pred.shape[-2]
    wrist = _check_index(wrist, n, "wrist")
    middle_mcp = _check_index(middle_mcp, n, "middle_mcp")
    if root == "mcp":
        r = middle_mcp
    elif root == "wrist":
        r = wrist
    elif isinstance(root, int) and not isinstance(root, bool):
        r = _check_index(root, n, "root")
    else:
        raise HandposeError(f"root must be 'mcp', 'wrist' or a joint index, got {root!r}.")
    scale = _bone_scale(pred, gt, wrist, middle_mcp)
    p_root, g_root = pred[..., r : r + 1, :], gt[..., r : r + 1, :]
    s = scale[..., None, None]
    return ScaleAlignment(
        pred_joints=(pred - p_root) * s,
        gt_joints=gt - g_root,
        scale=scale,
        pred_verts=None if pred_verts is None else (pred_verts - p_root) * s,
        gt_verts=None if gt_verts is None else gt_verts - g_root,
    )


def scale_align_ho3d(
    pred: Tensor,
    gt: Tensor,
    pred_verts: Tensor | None = None,
    gt_verts: Tensor | None = None,
    wrist: int = 0,
    middle_mcp: int = 9,
) -> ScaleAlignment:
    """HO3D ``align_sc_tr`` (metrics.md §7): ``P′ = (P − P₀)·‖G_m − G₀‖/‖P_m − P₀‖ + G₀``.

    Scales the prediction by the wrist→middle-MCP bone ratio and moves its wrist onto the
    ground-truth wrist. HO3D's own joint order has the middle MCP at index 4; the defaults here
    are OpenPose indices (wrist 0, middle MCP 9).

    Args:
        pred: (..., J, 3) predicted joints, metres.
        gt: (..., J, 3) ground-truth joints, metres (left unchanged).
        pred_verts: optional (..., V, 3) predicted vertices, moved with the same transform.
        gt_verts: optional (..., V, 3) ground-truth vertices, passed through unchanged.
        wrist, middle_mcp: joint indices of the bone.
    Returns:
        :class:`ScaleAlignment` (``gt_joints`` is ``gt`` itself).
    """
    _check_pair(pred, gt)
    _check_verts(pred_verts, "pred_verts")
    _check_verts(gt_verts, "gt_verts")
    n = pred.shape[-2]
    wrist = _check_index(wrist, n, "wrist")
    middle_mcp = _check_index(middle_mcp, n, "middle_mcp")
    scale = _bone_scale(pred, gt, wrist, middle_mcp)
    p0, g0 = pred[..., wrist : wrist + 1, :], gt[..., wrist : wrist + 1, :]
    s = scale[..., None, None]
    return ScaleAlignment(
        pred_joints=(pred - p0) * s + g0,
        gt_joints=gt,
        scale=scale,
        pred_verts=None if pred_verts is None else (pred_verts - p0) * s + g0,
        gt_verts=gt_verts,
    )
