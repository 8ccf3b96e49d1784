"""Temporal smoothing of per-frame predictions on video: One-Euro and Savitzky–Golay filters.

Single-frame estimators (HaMeR, FrankMocap, the image baseline) jitter on video; these filters
smooth their joint / vertex sequences (T, ..., 3) — or any (T, ...) array — along time, each
element (coordinate) independently. Effect on a noisy synthetic sequence:
docs/benchmarks/smoothing.md.

**One-Euro filter** (Casiez, Roussel & Vogel, "1€ Filter: A Simple Speed-based Low-pass Filter
for Noisy Input in Interactive Systems", CHI 2012). Causal; an exponential low-pass whose cutoff
rises with speed::

    α(f_c, Δt) = 1 / (1 + τ/Δt),  τ = 1/(2π f_c)
    ẋᵢ = (xᵢ − xᵢ₋₁)/Δt                       (raw finite difference)
    ẋ̂ᵢ = α(d_cutoff)·ẋᵢ + (1 − α(d_cutoff))·ẋ̂ᵢ₋₁
    f_c = min_cutoff + beta·|ẋ̂ᵢ|
    x̂ᵢ = α(f_c)·xᵢ + (1 − α(f_c))·x̂ᵢ₋₁

with x̂₀ = x₀ and ẋ̂₀ = 0. The derivative is the difference of the raw samples, as in the
authors' reference implementation (some ports differentiate the filtered signal instead).
``min_cutoff`` and ``d_cutoff`` are in Hz, ``beta`` in Hz per (unit of x)/s — with positions in
metres, Hz per m/s. Lag: on a ramp of speed v the steady-state lag is exactly
``v·τ = v / (2π (min_cutoff + beta·|v|))`` (for ``beta·|v| ≫ min_cutoff`` it tends to
``1/(2π·beta)`` whatever the speed): ``min_cutoff`` sets the smoothing at rest, ``beta`` how
fast motion is followed.

**Savitzky–Golay smoother** (Savitzky & Golay 1964): each output is the value at one sample of
the least-squares polynomial of degree ``order`` fitted to ``window`` consecutive samples
(uniform sampling assumed). Polynomials of degree ≤ ``order`` pass unchanged.

- :func:`savgol_smooth` (offline): centred windows; near the ends the first / last ``window``
  samples are fitted and evaluated at the sample's own position (SciPy's ``mode="interp"``), so
  there is no lag and no edge padding. A sequence shorter than ``window`` is fitted as a whole.
- :func:`savgol_causal` / :class:`SavitzkyGolayFilter` (streaming): the fit over the last
  ``window`` samples evaluated at the newest one. Why offer it: it is the only causal filter
  here with **zero lag on every polynomial motion of degree ≤ order** (order 1: constant
  velocity, order 2: constant acceleration), where a causal low-pass (One-Euro at rest, a
  moving average) always trails moving joints. The price is less noise reduction than the
  centred version — the endpoint of a fit is its least certain value (noise gain
  ``Σ hₖ²``, the output noise variance over the input's, is 0.26 for window 9 / order 2
  centred and 0.66 at the window's end; 0.36 at the end of window 21) — so it needs longer
  windows. The first ``window − 1`` frames use the samples available so far (with the order
  capped at their count − 1), so streaming and batch outputs are identical.
"""

from __future__ import annotations

import math
from collections import deque
from functools import lru_cache

import numpy as np

from handpose.errors import HandposeError

__all__ = [
    "OneEuroFilter",
    "one_euro_filter",
    "savgol_coefficients",
    "savgol_smooth",
    "savgol_causal",
    "SavitzkyGolayFilter",
    "SMOOTHERS",
    "smooth_sequence",
]


# ---------------------------------------------------------------------------------------------
# Array helpers: numpy or torch in, the same type and dtype out; float64 inside.


def _as_float64(x, name: str) -> tuple[np.ndarray, object]:
    """Return (float64 array, restore function) for numpy arrays, torch tensors or lists."""
    try:
        import torch

        if isinstance(x, torch.Tensor):
            dtype, device = x.dtype, x.device
            arr = x.detach().cpu().to(torch.float64).numpy()
            out_dtype = dtype if dtype.is_floating_point else torch.float32

            def restore_torch(a: np.ndarray):
                return torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=out_dtype)

            return arr, restore_torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    try:
        a = np.asarray(x)
    except (TypeError, ValueError):
        raise HandposeError(f"{name} must be a numeric array, got {type(x).__name__}.") from None
    if a.dtype.kind not in "fiu":
        raise HandposeError(f"{name} must be a numeric array, got dtype {a.dtype}.")
    out_dtype = a.dtype if a.dtype.kind == "f" else np.float64
    return a.astype(np.float64), (lambda b: b.astype(out_dtype, copy=False))


def _check_finite(a: np.ndarray, name: str) -> None:
    if not np.isfinite(a).all():
        raise HandposeError(
            f"{name} has non-finite values; fill or drop missing frames before smoothing."
        )


def _sequence(x) -> tuple[np.ndarray, object]:
    """A finite (T, ...) float64 array and its restore function."""
    a, restore = _as_float64(x, "x")
    if a.ndim < 1:
        raise HandposeError(f"x must be a sequence (T, ...), got shape {a.shape}.")
    _check_finite(a, "x")
    return a, restore


def _positive(value, name: str, allow_zero: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = "≥ 0" if allow_zero else "> 0"
        raise HandposeError(f"{name} must be a finite number {bound}, got {value!r}.")
    return float(value)


# ---------------------------------------------------------------------------------------------
# One-Euro


def _alpha(cutoff, dt: float):
    """Smoothing factor of an exponential low-pass with cutoff (Hz) at sampling interval dt."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Streaming One-Euro filter over arrays of any fixed shape (each element independently).

    Args:
        min_cutoff: cutoff at rest, Hz (lower = smoother, more lag when moving slowly).
        beta: speed coefficient, Hz per (unit of x)/s (higher = less lag on fast motion).
        d_cutoff: cutoff of the derivative's low-pass, Hz.
        fps: optional frame rate; then ``step(x)`` without ``t`` advances by ``1/fps`` s.

    Example:
        >>> f = OneEuroFilter(min_cutoff=1.0, beta=0.5)
        >>> for i, x in enumerate(noisy_joints):  # (T, 21, 3) metres at 30 fps  # doctest: +SKIP
        ...     smooth = f.step(x, i / 30.0)
    """

    def __init__(
        self,
        min_cutoff: float = 1.0,
        beta: float = 0.0,
        d_cutoff: float = 1.0,
        fps: float | None = None,
    ) -> None:
        self.min_cutoff = _positive(min_cutoff, "min_cutoff")
        self.beta = _positive(beta, "beta", allow_zero=True)
        self.d_cutoff = _positive(d_cutoff, "d_cutoff")
        self.fps = None if fps is None else _positive(fps, "fps")
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample passes through unchanged."""
        self._x_prev: np.ndarray | None = None  # last raw sample
        self._x_hat: np.ndarray | None = None  # last output
        self._dx_hat: np.ndarray | None = None  # last filtered derivative
        self._t: float | None = None

    def step(self, x, t: float | None = None):
        """Filter one sample.

        Args:
            x: array of any shape (the same at every step), e.g. (21, 3) joints.
            t: its timestamp in seconds, strictly increasing; may be omitted when ``fps`` was
                given (then one frame after the previous sample).
        Returns:
            The filtered sample, same shape, type (numpy / torch) and floating dtype as ``x``.
        """
        a, restore = _as_float64(x, "x")
        _check_finite(a, "x")
        if t is None:
            if self.fps is None:
                raise HandposeError("step() needs a timestamp t (seconds) when fps is not set.")
            t = 0.0 if self._t is None else self._t + 1.0 / self.fps
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            raise HandposeError(f"t must be a finite time in seconds, got {t!r}.")
        t = float(t)
        if self._x_hat is None:
            self._x_prev, self._x_hat = a.copy(), a.copy()
            self._dx_hat = np.zeros_like(a)
            self._t = t
            return restore(a.copy())
        if a.shape != self._x_hat.shape:
            raise HandposeError(
                f"x changed shape from {self._x_hat.shape} to {a.shape}; reset() the filter first."
            )
        dt = t - self._t
        if not dt > 0:
            raise HandposeError(
                f"timestamps must increase strictly: got t = {t} after t = {self._t}."
            )
        dx = (a - self._x_prev) / dt
        ad = _alpha(self.d_cutoff, dt)
        self._dx_hat = ad * dx + (1.0 - ad) * self._dx_hat
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx_hat)
        ax = _alpha(cutoff, dt)
        self._x_hat = ax * a + (1.0 - ax) * self._x_hat
        self._x_prev = a
        self._t = t
        return restore(self._x_hat.copy())


def _timestamps(t, fps, T: int) -> np.ndarray:
    if (t is None) == (fps is None):
        raise HandposeError("give exactly one of t (timestamps in seconds) and fps.")
    if fps is not None:
        return np.arange(T) / _positive(fps, "fps")
    ts = np.asarray(t, dtype=np.float64).reshape(-1)
    if ts.shape != (T,):
        raise HandposeError(f"t must have one timestamp per frame ({T}), got shape {ts.shape}.")
    if not np.isfinite(ts).all() or (T > 1 and not (np.diff(ts) > 0).all()):
        raise HandposeError("t must be finite and strictly increasing.")
    return ts


def one_euro_filter(
    x,
    *,
    t=None,
    fps: float | None = None,
    min_cutoff: float = 1.0,
    beta: float = 0.0,
    d_cutoff: float = 1.0,
):
    """One-Euro filter over a whole sequence (the streaming filter applied frame by frame).

    Args:
        x: (T, ...) sequence, e.g. (T, 21, 3) joints or (T, V, 3) vertices in metres.
        t: (T,) timestamps in seconds, strictly increasing; or
        fps: frame rate (uniform sampling).
        min_cutoff, beta, d_cutoff: see :class:`OneEuroFilter`.
    Returns:
        (T, ...) filtered sequence, same type and dtype as ``x``.
    """
    a, restore = _sequence(x)
    ts = _timestamps(t, fps, a.shape[0])
    f = OneEuroFilter(min_cutoff, beta, d_cutoff)
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = f.step(a[i], float(ts[i]))
    return restore(out)


# ---------------------------------------------------------------------------------------------
# Savitzky–Golay


def _check_sg(window, order, need_odd: bool) -> tuple[int, int]:
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise HandposeError(f"window must be a positive integer (frames), got {window!r}.")
    if need_odd and window % 2 == 0:
        raise HandposeError(f"window must be odd for the centred smoother, got {window}.")
    if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order < window:
        raise HandposeError(
            f"order must be an integer in [0, window) = [0, {window}), got {order!r}."
        )
    return window, order


@lru_cache(maxsize=256)
def _coefficients(window: int, order: int, position: int) -> np.ndarray:
    # Vandermonde on offsets from the evaluation point (scaled for conditioning): the value of
    # the fitted polynomial at `position` is its constant coefficient, i.e. the first row of
    # the least-squares solution operator.
    offsets = (np.arange(window) - position) / max(window - 1, 1)
    A = offsets[:, None] ** np.arange(order + 1)[None, :]
    h = np.linalg.pinv(A)[0]
    h.setflags(write=False)
    return h


def savgol_coefficients(window: int, order: int, position: int | None = None) -> np.ndarray:
    """Weights h (window,) with ``Σₖ hₖ·x[k]`` = the degree-``order`` least-squares fit to the
    ``window`` samples x[0 … window−1], evaluated at sample ``position`` (default: the centre).

    Example:
        >>> savgol_coefficients(5, 2).round(4)  # the classic (−3, 12, 17, 12, −3)/35
        array([-0.0857,  0.3429,  0.4857,  0.3429, -0.0857])
    """
    window, order = _check_sg(window, order, need_odd=position is None)
    pos = window // 2 if position is None else position
    if isinstance(pos, bool) or not isinstance(pos, int) or not 0 <= pos < window:
        raise HandposeError(f"position must be an integer in [0, {window}), got {position!r}.")
    return _coefficients(window, order, pos).copy()


def _apply_rows(a: np.ndarray, index: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """out[t] = Σₖ weights[t, k]·a[index[t, k]] without materialising (T, w, ...) arrays."""
    out = np.zeros_like(a)
    extra = (slice(None),) + (None,) * (a.ndim - 1)
    for k in range(index.shape[1]):
        out += weights[:, k][extra] * a[index[:, k]]
    return out


def savgol_smooth(x, window: int = 9, order: int = 2):
    """Offline (centred) Savitzky–Golay smoothing along the first axis.

    Args:
        x: (T, ...) sequence sampled uniformly, e.g. (T, 21, 3) joints.
        window: odd number of frames per fit.
        order: polynomial degree, 0 ≤ order < window.
    Returns:
        (T, ...) smoothed sequence, same type and dtype as ``x``. Ends: the first / last
        ``window`` samples fitted and evaluated at each end sample's position; sequences
        shorter than ``window`` are fitted whole (degree capped at T − 1).
    """
    window, order = _check_sg(window, order, need_odd=True)
    a, restore = _sequence(x)
    T = a.shape[0]
    if T == 0:
        return restore(a.copy())
    w = min(window, T)
    d = min(order, w - 1)
    half = w // 2
    starts = np.clip(np.arange(T) - half, 0, T - w)  # window start per output frame
    index = starts[:, None] + np.arange(w)[None, :]
    weights = np.stack([_coefficients(w, d, int(t - s)) for t, s in enumerate(starts)])
    return restore(_apply_rows(a, index, weights))


def savgol_causal(x, window: int = 15, order: int = 2):
    """Causal Savitzky–Golay: the fit over the last ``window`` samples, at the newest one.

    Args:
        x: (T, ...) sequence sampled uniformly.
        window: frames per fit (any positive integer).
        order: polynomial degree, 0 ≤ order < window.
    Returns:
        (T, ...) filtered sequence; frame t uses only frames ≤ t (identical to feeding
        :class:`SavitzkyGolayFilter` frame by frame).
    """
    window, order = _check_sg(window, order, need_odd=False)
    a, restore = _sequence(x)
    T = a.shape[0]
    w = window
    index = np.clip(np.arange(T)[:, None] - (w - 1) + np.arange(w)[None, :], 0, None)
    weights = np.zeros((T, w))
    for t in range(T):
        n = min(w, t + 1)  # samples available
        weights[t, w - n :] = _coefficients(n, min(order, n - 1), n - 1)
    return restore(_apply_rows(a, index, weights))


class SavitzkyGolayFilter:
    """Streaming causal Savitzky–Golay filter (uniformly sampled frames).

    Args:
        window: frames per fit.
        order: polynomial degree, 0 ≤ order < window.

    ``step(x)`` returns the degree-``order`` fit over the last ``window`` samples (fewer at the
    start) evaluated at ``x``'s frame; the same numbers as :func:`savgol_causal`.
    """

    def __init__(self, window: int = 15, order: int = 2) -> None:
        self.window, self.order = _check_sg(window, order, need_odd=False)
        self.reset()

    def reset(self) -> None:
        """Forget the past."""
        self._buf: deque[np.ndarray] = deque(maxlen=self.window)

    def step(self, x):
        """Add one frame (any fixed shape) and return its filtered value (same type / dtype)."""
        a, restore = _as_float64(x, "x")
        _check_finite(a, "x")
        if self._buf and a.shape != self._buf[0].shape:
            raise HandposeError(
                f"x changed shape from {self._buf[0].shape} to {a.shape}; reset() the filter first."
            )
        self._buf.append(a)
        n = len(self._buf)
        h = _coefficients(n, min(self.order, n - 1), n - 1)
        out = np.zeros_like(a)
        for hk, xk in zip(h, self._buf):
            out += hk * xk
        return restore(out)


# ---------------------------------------------------------------------------------------------
# One entry point for inference options (``--smooth one_euro`` etc.)

SMOOTHERS: dict[str, str] = {
    "none": "no smoothing",
    "one_euro": "One-Euro filter, causal (min_cutoff, beta, d_cutoff; needs fps or t)",
    "savgol": "Savitzky–Golay, offline centred (window, order)",
    "savgol_causal": "Savitzky–Golay, causal: fit over the last window, at its end (window, order)",
}


def smooth_sequence(x, method: str = "one_euro", **params):
    """Smooth a (T, ...) sequence with a named method from :data:`SMOOTHERS`.

    Args:
        x: (T, ...) sequence.
        method: "none", "one_euro", "savgol" or "savgol_causal".
        **params: the method's parameters (``fps`` or ``t`` for One-Euro).
    Returns:
        The smoothed sequence (a copy for "none").
    """
    allowed = {
        "none": set(),
        "one_euro": {"t", "fps", "min_cutoff", "beta", "d_cutoff"},
        "savgol": {"window", "order"},
        "savgol_causal": {"window", "order"},
    }
    if method not in allowed:
        raise HandposeError(
            f"unknown smoothing method {method!r}; choose one of {list(SMOOTHERS)}."
        )
    bad = set(params) - allowed[method]
    if bad:
        raise HandposeError(f"smoothing method {method!r} takes no parameter(s) {sorted(bad)}.")
    if method == "none":
        a, restore = _as_float64(x, "x")
        return restore(a.copy())
    if method == "one_euro":
        return one_euro_filter(x, **params)
    if method == "savgol":
        return savgol_smooth(x, **params)
    return savgol_causal(x, **params)
