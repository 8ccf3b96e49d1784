"""``handpose experiment mgdhand``: the whole MGDHand comparison in one resumable command.

Example::

    handpose experiment mgdhand --preset cpu-small --seeds 0 1 2 --jobs 2 --out runs/mgdhand_exp
    handpose experiment dir --preset cpu-small --seeds 0 1 2 --jobs 2 --out runs/dir_exp

Runs whose ``result.json`` exists are skipped, so the same command continues a killed run.
``--report-only`` rewrites the report from the finished runs without training anything.
"""

from __future__ import annotations

from handpose.cli import add_group

# Repeated from handpose.experiments.mgdhand so that `handpose --help` does not import torch.
_DIR_RUNS = (
    "stages0", "stages1", "stages2", "wo_attn", "wo_smoothl1", "wo_motionblur", "wo_largelr",
    "wo_all",
)  # fmt: skip
_VARIANTS = (
    "none", "global", "ssd", "dpd", "tmd", "wo_ssd", "wo_dpd", "wo_tmd", "mgdistill",
    "simkd", "dkd", "scjd",
)  # fmt: skip


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
    p.add_argument("--preset", default="cpu-small", help="config preset or YAML file")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds")
    p.add_argument("--out", default="runs/mgdhand_exp", help="experiment folder")
    p.add_argument("--jobs", type=int, default=2, help="runs at a time (one thread each)")
    p.add_argument(
        "--data", help="handpose IMU file (default OUT/data/synth.h5, synthesised if missing)"
    )
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
        "--sparse-imus", type=int, nargs="*", default=[3, 2], help="sparse IMU counts (3, 2)"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every run, e.g. --set train.epochs=3 (repeatable)",
    )
    p.add_argument("--subjects", type=int, default=None, help="subjects of synthesised data")
    p.add_argument("--frames", type=int, default=None, help="frames per synthesised sequence")
    p.add_argument("--doc", default="docs/results/mgdhand.md", help="the markdown report")
    p.add_argument("--bar", help="the bar chart PNG (default: <doc stem>_bar.png beside it)")
    p.add_argument("--notes", help="a markdown file included verbatim in the report")
    p.add_argument("--report-only", action="store_true", help="only rewrite the report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_mgdhand)

    p = grp.add_parser(
        "dir",
        help="DIR: 0/1/2 refinement stages, the basic-model ablation, held-out domain, several "
        "seeds → markdown report",
        description=(
            "Synthesise the two-hand data if missing (main domain, and a held-out rendering "
            "domain for testing), train every run per seed, evaluate each on the main test "
            "split and the held-out domain, write the report. Resumable: finished runs are "
            "skipped. --runs and --preset select a subset (e.g. a GPU machine runs --preset "
            "paper); results of every preset under OUT are reported side by side."
        ),
    )
    p.add_argument("--preset", default="cpu-small", help="DIR preset or YAML file")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds")
    p.add_argument(
        "--runs", nargs="+", choices=_DIR_RUNS, default=list(_DIR_RUNS), help="runs (default all)"
    )
    p.add_argument("--out", default="runs/dir_exp", help="experiment folder")
    p.add_argument("--jobs", type=int, default=2, help="runs at a time (one thread each)")
    p.add_argument("--data", help="main-domain shard folder (default OUT/data/twohand_main)")
    p.add_argument(
        "--heldout", help="held-out-domain shard folder (default OUT/data/twohand_heldout)"
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override for every run (repeatable)")  # fmt: skip
    p.add_argument("--doc", default="docs/results/dir.md", help="the markdown report")
    p.add_argument("--notes", help="a markdown file included verbatim in the report")
    p.add_argument("--report-only", action="store_true", help="only rewrite the report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_dir)


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
        subjects=args.subjects or default.subjects,
        frames_per_sequence=args.frames or default.frames_per_sequence,
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


def _dir(args) -> int:
    from handpose.experiments.dir import run_experiment, write_report

    if args.report_only:
        write_report(args.out, args.doc, args.notes, qualitative=True)
        print(f"wrote {args.doc}")
        return 0
    run_experiment(
        out=args.out,
        preset=args.preset,
        seeds=args.seeds,
        runs=args.runs,
        jobs=args.jobs,
        data=args.data,
        heldout=args.heldout,
        sets=args.set,
        doc=args.doc,
        progress=not args.no_progress,
    )
    print(f"wrote {args.doc}")
    return 0
