"""Error pictures: per-joint-group bars and per-frame error curves (matplotlib, Agg, no pyplot).

Inputs are per-joint errors in **millimetres** (the report unit), e.g.
``1000 * np.linalg.norm(pred_joints - gt_joints, axis=-1)`` for (F, 21) OpenPose-21 joints.
Several methods can be drawn side by side by passing a dict ``{label: errors}``. Files are
written atomically; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from handpose.errors import HandposeError
from handpose.handmodel.conventions import OPENPOSE_JOINT_GROUPS, OPENPOSE_JOINT_NAMES

__all__ = [
    "per_joint_errors_mm",
    "group_errors_mm",
    "plot_joint_group_errors",
    "plot_frame_errors",
    "FINGER_GROUPS",
]

# OpenPose-21 joints of each finger (mcp, pip, dip, tip); the wrist belongs to none.
FINGER_GROUPS: dict[str, tuple[int, ...]] = {
    finger: tuple(i for i, n in enumerate(OPENPOSE_JOINT_NAMES) if n.startswith(finger + "_"))
    for finger in ("thumb", "index", "middle", "ring", "pinky")
}


def per_joint_errors_mm(pred_joints: np.ndarray, gt_joints: np.ndarray) -> np.ndarray:
    """Euclidean joint errors in millimetres: (..., J, 3) metres × 2 → (..., J)."""
    pred = np.asarray(pred_joints, dtype=np.float64)
    gt = np.asarray(gt_joints, dtype=np.float64)
    if pred.shape != gt.shape or pred.shape[-1] != 3:
        raise HandposeError(
            f"predicted and ground-truth joints must have the same (..., J, 3) shape, got "
            f"{pred.shape} and {gt.shape}."
        )
    return 1000.0 * np.linalg.norm(pred - gt, axis=-1)


def group_errors_mm(
    errors_mm: np.ndarray, groups: Mapping[str, tuple[int, ...]] = OPENPOSE_JOINT_GROUPS
) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation per joint group.

    Args:
        errors_mm: (F, 21) or (21,) per-joint errors, mm.
        groups: name → joint indices (default: wrist, mcp, pip, dip, tip).
    Returns:
        ``{group: (mean, std)}`` over all frames and joints of the group, mm.
    """
    e = np.asarray(errors_mm, dtype=np.float64)
    e = e.reshape(-1, e.shape[-1])
    return {
        name: (float(e[:, list(idx)].mean()), float(e[:, list(idx)].std()))
        for name, idx in groups.items()
    }


def _as_methods(errors: Mapping[str, np.ndarray] | np.ndarray, default: str):
    if isinstance(errors, Mapping):
        if not errors:
            raise HandposeError("nothing to plot: no error arrays given.")
        return {str(k): np.asarray(v, dtype=np.float64) for k, v in errors.items()}
    return {default: np.asarray(errors, dtype=np.float64)}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> Path:
    from handpose.utils.io import atomic_path

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt)
    return path


def plot_joint_group_errors(
    errors_mm: Mapping[str, np.ndarray] | np.ndarray,
    path: str | os.PathLike,
    *,
    title: str = "Joint error by joint group and finger",
) -> Path:
    """Bar chart of mean ± std error per joint group (wrist, mcp, pip, dip, tip) and per finger.

    Args:
        errors_mm: (F, 21) per-joint errors in mm (OpenPose-21 order), or ``{label: (F, 21)}``
            for several methods side by side.
        path: output image (atomic).
        title: figure title.
    Returns:
        the written path.
    """
    methods = _as_methods(errors_mm, "prediction")
    for label, e in methods.items():
        if e.shape[-1] != 21:
            raise HandposeError(f"'{label}': expected (F, 21) per-joint errors, got {e.shape}.")
    fig = _figure(10, 4)
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [5, 5]})
    panels = (("joint group", OPENPOSE_JOINT_GROUPS), ("finger", FINGER_GROUPS))
    width = 0.8 / len(methods)
    for ax, (what, groups) in zip(axes, panels):
        x = np.arange(len(groups))
        for m, (label, e) in enumerate(methods.items()):
            stats = group_errors_mm(e, groups)
            means = [stats[g][0] for g in groups]
            stds = [stats[g][1] for g in groups]
            bars = ax.bar(
                x + (m - (len(methods) - 1) / 2) * width,
                means,
                width,
                yerr=stds,
                capsize=3,
                label=label,
                alpha=0.9,
            )
            # Values inside the bars, so they do not collide with the std whiskers.
            ax.bar_label(
                bars,
                labels=[f"{v:.1f}" for v in means],
                label_type="center",
                fontsize=7,
                color="white",
            )
        ax.set_xticks(x, list(groups))
        ax.set_xlabel(what)
        ax.set_ylabel("error [mm] (mean ± std over frames)")
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
    if len(methods) > 1:
        axes[0].legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def plot_frame_errors(
    errors_mm: Mapping[str, np.ndarray] | np.ndarray,
    path: str | os.PathLike,
    *,
    fps: float = 30.0,
    dropped: np.ndarray | None = None,
    title: str = "Mean joint error per frame",
) -> Path:
    """Error curve over time, one line per method.

    Args:
        errors_mm: (F,) per-frame errors or (F, J) per-joint errors (averaged over joints), mm;
            or ``{label: array}`` for several methods.
        path: output image (atomic).
        fps: frame rate for the time axis, Hz.
        dropped: optional (F, N) or (F,) bool; frames with a dropped sensor are shaded.
        title: figure title.
    Returns:
        the written path.
    """
    methods = _as_methods(errors_mm, "prediction")
    fig = _figure(10, 3.2)
    ax = fig.subplots()
    for label, e in methods.items():
        curve = e.mean(-1) if e.ndim == 2 else e
        if curve.ndim != 1:
            raise HandposeError(f"'{label}': expected (F,) or (F, J) errors, got {e.shape}.")
        t = np.arange(curve.shape[0]) / fps
        ax.plot(t, curve, lw=1.2, label=f"{label} (mean {curve.mean():.1f} mm)")
    if dropped is not None:
        d = np.asarray(dropped, dtype=bool)
        d = d.any(-1) if d.ndim == 2 else d
        if d.any():
            t = np.arange(d.shape[0]) / fps
            ax.fill_between(
                t,
                0,
                1,
                where=d,
                transform=ax.get_xaxis_transform(),
                color="tab:red",
                alpha=0.12,
                step="mid",
                label="sensor dropout",
            )
    ax.set_xlabel("time [s]")
    ax.set_ylabel("error [mm]")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title)
    return _save(fig, path)
