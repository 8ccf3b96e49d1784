"""``handpose experiment mgdhand``: the whole MGDHand comparison in one resumable command.

Example::

    handpose experiment mgdhand --preset cpu-small --seeds 0 1 2 --jobs 2 --out runs/mgdhand_exp
    handpose experiment mgdhand-factors --seeds 0 1 2 --jobs 2 --out runs/mgdhand_factors

Runs whose ``result.json`` exists are skipped, so the same command continues a killed run.
``--report-only`` rewrites the report from the finished runs without training anything.
"""

from __future__ import annotations

from handpose.cli import add_group
from handpose.utils.validate import int_range, positive_int, seed

# Repeated from handpose.experiments.mgdhand so that `handpose --help` does not import torch.
_VARIANTS = (
    "none", "global", "ssd", "dpd", "tmd", "wo_ssd", "wo_dpd", "wo_tmd", "mgdistill",
    "simkd", "dkd", "scjd",
)  # fmt: skip
_FACTORS = ("data", "capacity", "teacher", "weight")


def _common(p, out: str, data: str) -> None:
    """The options both experiments share."""
    p.add_argument("--preset", default="cpu-small", help="config preset or YAML file")
    p.add_argument("--seeds", type=seed, nargs="+", default=[0, 1, 2], help="seeds")
    p.add_argument("--out", default=out, help="experiment folder")
    p.add_argument("--jobs", type=positive_int, default=2, help="runs at a time (one thread each)")
    p.add_argument("--data", help=f"handpose IMU file (default OUT/data/synth.h5, {data})")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every run, e.g. --set train.epochs=3 (repeatable)",
    )
    p.add_argument("--notes", help="a markdown file included verbatim in the report")
    p.add_argument("--report-only", action="store_true", help="only rewrite the report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(subparsers) -> None:
    grp = add_group(subparsers, "experiment", "run the papers' comparisons end to end")
    p = grp.add_parser(
        "mgdhand",
        help="MGDHand: teacher + every distillation variant, several seeds → markdown report",
        description=(
            "Synthesise the data if missing, train the 7-IMU teacher and every student variant "
            "per seed (all at 7 IMUs; none/global/mgdistill at 3 and 2 IMUs), evaluate on the "
            "test split and write the report. Resumable: finished runs are skipped."
        ),
    )
    _common(p, "runs/mgdhand_exp", "synthesised if missing")
    p.add_argument(
        "--variants", nargs="+", choices=_VARIANTS, default=list(_VARIANTS), help="7-IMU variants"
    )
    p.add_argument(
        "--sparse-variants",
        nargs="*",
        choices=_VARIANTS,
        default=["none", "global", "mgdistill"],
        help="variants also run at the sparse IMU counts",
    )
    p.add_argument(
        "--sparse-imus",
        type=int,
        nargs="*",
        choices=(3, 2),
        default=[3, 2],
        help="sparse IMU counts (3, 2)",
    )
    p.add_argument(
        "--subjects", type=positive_int, default=None, help="subjects of synthesised data"
    )
    p.add_argument(
        "--frames", type=int_range(8), default=None, help="frames per synthesised sequence"
    )
    p.add_argument("--doc", default="docs/results/mgdhand.md", help="the markdown report")
    p.add_argument("--bar", help="the bar chart PNG (default: <doc stem>_bar.png beside it)")
    p.set_defaults(func=_mgdhand)
    _register_ehpe(grp)


# Repeated from handpose.experiments.ehpe so that `handpose --help` does not import torch.
_EHPE_TABLES = ("1", "2", "3", "4", "5", "6", "fig1")


def _register_ehpe(grp) -> None:
    p = grp.add_parser(
        "ehpe",
        help="EHPE: Tables 1-6 and Figure 1 (several seeds) → markdown report",
        description=(
            "Synthesise the data if missing, train and evaluate the runs of the chosen tables "
            "(TW-stage runs, PG-stage variants on their frozen, cached TW-stage, baselines) "
            "for each seed and write docs/results/ehpe.md. Resumable: finished runs are "
            "skipped. Table 1 has one row per --backbones entry; the first backbone serves "
            "every other table."
        ),
    )
    p.add_argument("--preset", default="cpu-small", help="EHPE preset or YAML file")
    p.add_argument(
        "--tables", nargs="+", choices=_EHPE_TABLES, default=list(_EHPE_TABLES), help="tables"
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds")
    p.add_argument(
        "--backbones",
        nargs="+",
        default=["efficientnet_lite0", "mobilenetv3_small_050", "resnet50"],
        help="Table 1's backbones (the first one serves the other tables)",
    )
    p.add_argument("--out", default="runs/ehpe_exp", help="experiment folder")
    p.add_argument("--jobs", type=int, default=2, help="runs at a time (one thread each)")
    p.add_argument("--data", help="single-hand shard folder (default OUT/data/single)")
    p.add_argument("--twohand-data", help="two-hand shard folder (default OUT/data/twohand)")
    p.add_argument("--train", type=int, default=4000, help="train images if synthesised")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every EHPE run, e.g. --set tw_train.epochs=3 (repeatable)",
    )
    p.add_argument(
        "--investigate",
        action="store_true",
        help="also run PG variants for choices the paper leaves open (token init, refined TW "
        "joints, 1-hop layers)",
    )
    p.add_argument("--doc", default="docs/results/ehpe.md", help="the markdown report")
    p.add_argument(
        "--merge",
        action="append",
        default=[],
        metavar="DIR",
        help="another experiment folder whose results the report includes (repeatable)",
    )
    p.add_argument("--notes", help="a markdown file included verbatim in the report")
    p.add_argument("--report-only", action="store_true", help="only rewrite the report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_ehpe)


def _ehpe(args) -> int:
    from handpose.experiments.ehpe import SynthSize, run_experiment, write_report

    if args.report_only:
        write_report([args.out, *args.merge], args.doc, args.notes)
        print(f"wrote {args.doc}")
        return 0
    run_experiment(
        out=args.out,
        preset=args.preset,
        tables=args.tables,
        seeds=args.seeds,
        backbones=args.backbones,
        jobs=args.jobs,
        data=args.data,
        twohand_data=args.twohand_data,
        sets=args.set,
        investigate=args.investigate,
        synth=SynthSize(train=args.train),
        doc=args.doc,
        merge=args.merge,
        notes=args.notes,
        progress=not args.no_progress,
    )
    print(f"wrote {args.doc}")
    return 0

    p = grp.add_parser(
        "mgdhand-factors",
        help="MGDHand: MGDistill − no distillation against data size, student capacity, "
        "teacher quality and distillation weight → markdown report and figure",
        description=(
            "Per seed, a base setting (7 IMUs) and one level at a time away from it; the "
            "outcome of each level is the paired MPJPE difference MGDistill − none. "
            "Resumable: finished runs are skipped."
        ),
    )
    _common(p, "runs/mgdhand_factors", "12 subjects, synthesised if missing")
    p.add_argument(
        "--factors", nargs="+", choices=_FACTORS, default=list(_FACTORS), help="factors to vary"
    )
    p.add_argument(
        "--base-runs",
        help="a finished `handpose experiment mgdhand` folder (same preset and seeds) to reuse "
        "as the base level: its 7-IMU teacher, none and mgdistill runs are the base's",
    )
    p.add_argument("--doc", default="docs/results/mgdhand_factors.md", help="the report")
    p.set_defaults(func=_factors)


def _factors(args) -> int:
    from handpose.experiments.mgdhand_factors import run_factors, write_factors_report

    if args.report_only:
        write_factors_report(args.out, args.doc, args.factors, args.notes)
    else:
        run_factors(
            out=args.out,
            preset=args.preset,
            seeds=args.seeds,
            jobs=args.jobs,
            data=args.data,
            factors=args.factors,
            sets=args.set,
            doc=args.doc,
            progress=not args.no_progress,
            base_from=args.base_runs,
            notes=args.notes,
        )
    print(f"wrote {args.doc}")
    return 0


def _mgdhand(args) -> int:
    from pathlib import Path

    from handpose.experiments.mgdhand import SynthSize, run_experiment, write_report

    if args.report_only:
        doc = Path(args.doc)
        bar = Path(args.bar) if args.bar else doc.with_name(f"{doc.stem}_bar.png")
        write_report(args.out, doc, bar, args.notes)
        print(f"wrote {doc}")
        return 0
    default = SynthSize()
    synth = SynthSize(
        subjects=default.subjects if args.subjects is None else args.subjects,
        frames_per_sequence=default.frames_per_sequence if args.frames is None else args.frames,
    )
    run_experiment(
        out=args.out,
        preset=args.preset,
        seeds=args.seeds,
        jobs=args.jobs,
        data=args.data,
        variants=args.variants,
        sparse_variants=args.sparse_variants,
        sparse_imus=args.sparse_imus,
        sets=args.set,
        synth=synth,
        doc=args.doc,
        bar=args.bar,
        notes=args.notes,
        progress=not args.no_progress,
    )
    print(f"wrote {args.doc}")
    return 0
