"""Plot the MGDHand distillation probes: MGDistill's MPJPE change vs no distillation, per probe.

Reads the ``result.json`` files of the probe experiment folders (written by ``handpose
experiment mgdhand``, commands in docs/results/mgdhand.md) and draws, per probe, the mean ± sample
std over seeds of the per-seed difference MGDistill − no distillation (%), with each seed as a dot.

Usage: ``python scripts/plot_mgdhand_probes.py [--runs runs] [--out docs/results/mgdhand_probes.png]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

from handpose.errors import HandposeError
from handpose.experiments.mgdhand import collect_results, summarize
from handpose.utils.io import atomic_path

ROOT = Path(__file__).resolve().parents[1]

# (label, experiment folder, variant, IMU count)
PROBES = [
    ("the comparison (weight 1)", "mgdhand_exp", "mgdistill", 7),
    ("weight 0.3", "probe_w0.3", "mgdistill", 7),
    ("weight 3", "probe_w3", "mgdistill", 7),
    ("weight 10", "probe_w10", "mgdistill", 7),
    ("weight 3, w/o SSD", "probe_wossd_w3", "wo_ssd", 7),
    ("prior-skip teacher", "probe_priorskip", "mgdistill", 7),
    ("prior-skip teacher, DPD", "probe_priorskip", "dpd", 7),
    ("3 subjects", "probe_subjects3", "mgdistill", 7),
    ("12 subjects", "probe_subjects12", "mgdistill", 7),
    ("12 subjects, weight 3", "probe_s12_w3", "mgdistill", 7),
    ("3 IMUs", "mgdhand_exp", "mgdistill", 3),
    ("3 IMUs, prior-skip teacher", "probe_priorskip", "mgdistill", 3),
    ("2 IMUs", "mgdhand_exp", "mgdistill", 2),
]


def probe_rows(runs: Path) -> list[tuple[str, float, float, list[float]]]:
    """(label, mean Δ %, std Δ %, per-seed Δ %) for every probe whose runs exist."""
    rows = []
    for label, folder, variant, imus in PROBES:
        summary = summarize(collect_results(runs / folder))
        entry, ref = summary.get((variant, imus)), summary.get(("none", imus))
        if entry is None or ref is None:
            continue
        seeds = sorted(set(entry["mpjpe_by_seed"]) & set(ref["mpjpe_by_seed"]))
        if not seeds:
            continue
        per_seed = [
            100 * (entry["mpjpe_by_seed"][s] - ref["mpjpe_by_seed"][s]) / ref["mpjpe_by_seed"][s]
            for s in seeds
        ]
        mean = sum(per_seed) / len(per_seed)
        var = sum((d - mean) ** 2 for d in per_seed) / max(len(per_seed) - 1, 1)
        rows.append((label, mean, var**0.5, per_seed))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=ROOT / "runs")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "mgdhand_probes.png")
    args = ap.parse_args()
    rows = probe_rows(args.runs)
    if not rows:
        raise HandposeError(f"no probe results under '{args.runs}'")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.42 * len(rows) + 1.2))
    y = list(range(len(rows)))[::-1]
    means = [r[1] for r in rows]
    ax.barh(y, means, xerr=[r[2] for r in rows], capsize=3, color="tab:blue", alpha=0.6)
    for yi, (_, _, _, seeds) in zip(y, rows, strict=True):
        ax.plot(seeds, [yi] * len(seeds), "k.", ms=5)
    ax.axvline(0, color="k", lw=0.8)
    ax.axvline(-40.7, color="tab:gray", ls="--", lw=1)
    ax.text(-40.2, y[0] + 0.4, "paper, 7 IMUs: −40.7 %", fontsize=8, color="tab:gray")
    ax.set_yticks(y, [r[0] for r in rows], fontsize=8)
    ax.set_xlabel("MPJPE change vs no distillation, paired by seed (%); dots = seeds")
    ax.set_title("MGDistill on synthetic VIHand-like data (cpu-small, 3 seeds)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    with atomic_path(args.out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    print(f"wrote {args.out} ({len(rows)} probes)")


if __name__ == "__main__":
    try:
        main()
    except HandposeError as err:
        raise SystemExit(f"plot_mgdhand_probes: error: {err}") from None
