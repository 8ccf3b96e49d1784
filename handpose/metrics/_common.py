"""Shared input checks and masked reductions for the metrics."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from handpose.errors import HandposeError

Reduction = Literal["mean", "per_sample", "none"]
_REDUCTIONS = ("mean", "per_sample", "none")

# Length units for reports; inputs are always metres.
UNIT_SCALE: dict[str, float] = {"m": 1.0, "cm": 100.0, "mm": 1000.0}


def as_tensor(x, name: str) -> Tensor:
    """Accept tensors and array-likes (numpy arrays, lists); floating point is required."""
    if isinstance(x, Tensor):
        t = x
    else:
        try:
            t = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError):
            raise HandposeError(
                f"{name} must be a tensor or an array, got {type(x).__name__}."
            ) from None
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    return t


def check_points(x, name: str, n: int | None = None) -> Tensor:
    """Return ``x`` as a (..., N, 3) floating tensor or raise :class:`HandposeError`."""
    t = as_tensor(x, name)
    if t.ndim < 2 or t.shape[-1] != 3:
        raise HandposeError(f"{name} must have shape (..., N, 3), got {tuple(t.shape)}.")
    if n is not None and t.shape[-2] != n:
        raise HandposeError(f"{name} must have {n} points, got shape {tuple(t.shape)}.")
    return t


def check_pair(pred, gt, names: tuple[str, str] = ("pred", "gt")) -> tuple[Tensor, Tensor]:
    """Check two (..., N, 3) point sets with the same N and broadcastable batch dims."""
    p = check_points(pred, names[0])
    g = check_points(gt, names[1])
    if p.shape[-2] != g.shape[-2]:
        raise HandposeError(
            f"{names[0]} and {names[1]} must have the same number of points, got "
            f"{p.shape[-2]} and {g.shape[-2]}."
        )
    try:
        torch.broadcast_shapes(p.shape, g.shape)
    except RuntimeError:
        raise HandposeError(
            f"{names[0]} {tuple(p.shape)} and {names[1]} {tuple(g.shape)} have incompatible "
            "batch shapes."
        ) from None
    dtype = torch.promote_types(p.dtype, g.dtype)
    g = g.to(device=p.device)
    return p.to(dtype), g.to(dtype)


def check_finite_points(x: Tensor, mask: Tensor | None, name: str) -> None:
    """Raise :class:`HandposeError` if a valid point of (..., N, 3) ``x`` is NaN or infinite.

    Invalid points (``mask`` False) may hold anything: they never reach a metric.
    """
    bad = ~torch.isfinite(x).all(-1)
    if mask is not None:
        bad = bad & mask.to(bad.device)
    if bool(bad.any()):
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise HandposeError(
            f"{name} holds NaN or infinite coordinates at {int(bad.sum())} valid points (first "
            f"at index {first}); mark them invalid or fix the input."
        )


def mask_shape(pred: Tensor, gt: Tensor) -> torch.Size:
    """The (..., N) shape a per-point mask must have for a broadcast pair of point sets."""
    return torch.broadcast_shapes(pred.shape, gt.shape)[:-1]


def check_mask(valid, shape: torch.Size, name: str = "valid") -> Tensor | None:
    """Return ``valid`` as a bool tensor broadcast to ``shape`` (the points' (..., N)), or None."""
    if valid is None:
        return None
    v = valid if isinstance(valid, Tensor) else torch.as_tensor(valid)
    try:
        out = torch.broadcast_shapes(v.shape, shape)
    except RuntimeError:
        out = None
    if out != torch.Size(shape):
        raise HandposeError(
            f"{name} must have shape {tuple(shape)} (one flag per point), got {tuple(v.shape)}."
        )
    return (v != 0).expand(shape)


def check_index(index, n: int, name: str) -> int:
    """A joint index in [-n, n), returned non-negative."""
    if isinstance(index, bool) or not isinstance(index, int) or not -n <= index < n:
        raise HandposeError(f"{name} must be a joint index in [0, {n}), got {index!r}.")
    return index % n


def check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise HandposeError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}.")


def reduce_errors(errors: Tensor, mask: Tensor | None, reduction: str) -> Tensor:
    """Reduce (..., N) errors over valid entries.

    ``"mean"``: scalar, sum of valid errors over their count (NaN if none is valid).
    ``"per_sample"``: (...), mean over the valid entries of each sample (NaN where none).
    ``"none"``: (..., N), invalid entries set to NaN.
    """
    check_reduction(reduction)
    if mask is None:
        if reduction == "none":
            return errors
        return errors.mean() if reduction == "mean" else errors.mean(-1)
    mask = mask.to(errors.device)
    if reduction == "none":
        return errors.masked_fill(~mask, math.nan)
    e = torch.where(mask, errors, torch.zeros((), dtype=errors.dtype, device=errors.device))
    m = mask.to(errors.dtype)
    if reduction == "mean":
        return e.sum() / m.sum()
    return e.sum(-1) / m.sum(-1)


def root_mask(mask: Tensor | None, root: int | None) -> Tensor | None:
    """InterHand2.6M convention: a point counts only if it and its root are valid."""
    if mask is None or root is None:
        return mask
    return mask & mask[..., root : root + 1]


def format_value(value: float, digits: int = 2) -> str:
    """A number for a results table: fixed digits, "–" for NaN."""
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.{digits}f}"


def format_markdown(
    rows: list[tuple[str, float, str]], title: str | None = None, note: str | None = None
) -> str:
    """A ``| metric | value | unit |`` markdown table with an optional title and note."""
    lines = []
    if title:
        lines += [f"### {title}", ""]
    lines += ["| metric | value | unit |", "|---|---:|---|"]
    for label, value, unit in rows:
        digits = 4 if unit == "" else 2
        lines.append(f"| {label} | {format_value(value, digits)} | {unit} |")
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"
