"""Evaluation reports: a protocol result as Markdown, JSON and pictures in one folder.

``handpose eval`` is a thin wrapper over::

    result = handpose.metrics.protocols.evaluate_predictions("freihand", preds, targets)
    write_evaluation_report(result, "runs/x/eval")   # eval.md, eval.json, eval_groups.png, ...

The pictures: per-joint-group errors as bars (one bar per error type, e.g. MPJPE before and
after alignment) and the PCK curves behind the AUCs (0–50 mm). Every file is written
atomically; a saved JSON can be read back with :func:`load_evaluation_result` (e.g. to plot
several methods together with :func:`plot_group_means` / :func:`plot_pck_curves`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handpose.errors import HandposeError
from handpose.metrics.plots import _figure, _save
from handpose.metrics.protocols import ProtocolResult
from handpose.utils.io import atomic_write_text

__all__ = [
    "EvaluationFiles",
    "plot_group_means",
    "plot_pck_curves",
    "write_evaluation_report",
    "load_evaluation_result",
]


@dataclass(frozen=True)
class EvaluationFiles:
    """Paths written by :func:`write_evaluation_report` (plots absent when nothing to draw)."""

    markdown: Path
    json: Path
    groups_plot: Path | None
    pck_plot: Path | None


def plot_group_means(
    groups: Mapping[str, Mapping[str, float | None]],
    path: str | os.PathLike,
    *,
    units: str = "mm",
    title: str = "Error per joint group",
) -> Path:
    """Bar chart of mean error per joint group, one bar series per entry.

    Args:
        groups: series label → {group name → error} (e.g. ``result.groups`` with labels, or
            one entry per method). Missing values (None / NaN) are left out.
        path: output image (atomic; format from the suffix).
        units: length unit of the values, for the axis label.
        title: figure title.
    Returns:
        the written path.
    """
    if not groups:
        raise HandposeError("nothing to plot: no per-group errors given.")
    names = list(dict.fromkeys(g for series in groups.values() for g in series))
    fig = _figure(max(5.0, 1.2 * len(names) + 2.0), 3.6)
    ax = fig.subplots()
    x = np.arange(len(names))
    width = 0.8 / len(groups)
    for m, (label, series) in enumerate(groups.items()):
        values = [series.get(g) for g in names]
        heights = [math.nan if v is None else float(v) for v in values]
        bars = ax.bar(x + (m - (len(groups) - 1) / 2) * width, heights, width, label=label)
        ax.bar_label(
            bars,
            labels=["" if math.isnan(h) else f"{h:.1f}" for h in heights],
            fontsize=7,
            padding=1,
        )
    ax.set_xticks(x, names)
    ax.set_xlabel("joint group")
    ax.set_ylabel(f"mean error [{units}]")
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return _save(fig, path)


def _curve_auc(t: np.ndarray, pck: np.ndarray) -> float:
    return float(np.trapezoid(pck, t) / (t[-1] - t[0]))


def plot_pck_curves(
    curves: Mapping[str, Mapping[str, list[float]]],
    path: str | os.PathLike,
    *,
    title: str = "PCK",
) -> Path:
    """PCK curves (fraction of keypoints within a threshold), with their AUC in the legend.

    Args:
        curves: label → {"thresholds_mm": [...], "pck": [...]} (``ProtocolResult.pck``).
        path: output image (atomic).
        title: figure title.
    Returns:
        the written path.
    """
    if not curves:
        raise HandposeError("nothing to plot: no PCK curves given.")
    fig = _figure(6.0, 4.0)
    ax = fig.subplots()
    for label, c in curves.items():
        try:
            t = np.asarray(c["thresholds_mm"], dtype=np.float64)
            p = np.asarray(c["pck"], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            raise HandposeError(
                f"PCK curve {label!r} needs 'thresholds_mm' and 'pck' lists of numbers."
            ) from None
        if t.ndim != 1 or t.shape != p.shape or t.size < 2:
            raise HandposeError(f"PCK curve {label!r}: thresholds and pck must be equal 1D lists.")
        ax.plot(t, p, lw=1.5, label=f"{label} (AUC {_curve_auc(t, p):.3f})")
    ax.set_xlabel("threshold [mm]")
    ax.set_ylabel("PCK")
    ax.set_ylim(0.0, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title)
    return _save(fig, path)


def write_evaluation_report(
    result: ProtocolResult,
    folder: str | os.PathLike,
    *,
    name: str = "eval",
    title: str | None = None,
    plots: bool = True,
) -> EvaluationFiles:
    """Write ``<name>.md``, ``<name>.json`` and the pictures into ``folder``.

    Args:
        result: from :func:`handpose.metrics.protocols.evaluate_predictions`.
        folder: output folder (created if missing).
        name: file stem.
        title: Markdown heading (default: the protocol's title).
        plots: also draw ``<name>_groups.png`` and ``<name>_pck.png`` (needs matplotlib).
    Returns:
        :class:`EvaluationFiles`.
    """
    if not isinstance(result, ProtocolResult):
        raise HandposeError(f"result must be a ProtocolResult, got {type(result).__name__}.")
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise HandposeError(f"name must be a plain file stem, got {name!r}.")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise HandposeError(f"{folder} exists and is not a folder.")
    groups_plot = pck_plot = None
    images: dict[str, str] = {}
    if plots and any(v is not None for g in result.groups.values() for v in g.values()):
        groups_plot = plot_group_means(
            {result.label(k): v for k, v in result.groups.items()},
            folder / f"{name}_groups.png",
            units=result.units,
            title=f"{result.title}: error per joint group",
        )
        images["Error per joint group"] = groups_plot.name
    if plots and result.pck:
        pck_plot = plot_pck_curves(
            {result.label(k): v for k, v in result.pck.items()},
            folder / f"{name}_pck.png",
            title=f"{result.title}: PCK",
        )
        images["PCK curves"] = pck_plot.name
    md = folder / f"{name}.md"
    js = folder / f"{name}.json"
    atomic_write_text(
        js, json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    )
    atomic_write_text(md, result.to_markdown(title, images=images))
    return EvaluationFiles(markdown=md, json=js, groups_plot=groups_plot, pck_plot=pck_plot)


def load_evaluation_result(path: str | os.PathLike) -> ProtocolResult:
    """Read a ``<name>.json`` written by :func:`write_evaluation_report`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HandposeError(f"{path}: no such file.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise HandposeError(f"{path}: not a readable JSON file ({e.__class__.__name__}).") from None
    if not isinstance(data, dict):
        raise HandposeError(f"{path}: not a handpose evaluation result.")
    try:
        return ProtocolResult.from_dict(data)
    except HandposeError as e:
        raise HandposeError(f"{path}: {e}") from None
