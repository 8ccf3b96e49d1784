"""``handpose experiment mgdhand``: the whole MGDHand comparison in one resumable command.

Example::

    handpose experiment mgdhand --preset cpu-small --seeds 0 1 2 --jobs 2 --out runs/mgdhand_exp

Runs whose ``result.json`` exists are skipped, so the same command continues a killed run.
``--report-only`` rewrites the report from the finished runs without training anything.
"""

from __future__ import annotations

import argparse

from handpose.cli import add_group

# Repeated from handpose.experiments.mgdhand so that `handpose --help` does not import torch.
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
    _register_pgte(grp)


def _register_pgte(grp) -> None:
    p = grp.add_parser(
        "pgte",
        help="PGTE: Tables 2-4, error vs resolution, smoothness; several seeds → markdown report",
        description=(
            "Synthesise the DexYCB-like and HanCo-like video data if missing, train the "
            "VIBE-style baseline, PGTE single and temporal (and the Table 4 ablations, the "
            "resolution sweep with the image baseline) per seed, evaluate on the test split "
            "and write the report. Resumable: finished runs are skipped."
        ),
    )
    p.add_argument("--preset", default="cpu-small", help="PGTE preset or YAML file")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds")
    p.add_argument("--out", default="runs/pgte_exp", help="experiment folder")
    p.add_argument("--jobs", type=int, default=2, help="runs at a time (one thread each)")
    p.add_argument(
        "--tables", nargs="+", default=["main", "planes", "resolution"],
        choices=["main", "planes", "resolution"], help="groups of runs",
    )  # fmt: skip
    p.add_argument(
        "--resolutions", type=int, nargs="+", default=[16, 24, 32, 48, 64, 128],
        help="ladder levels (px) of the resolution sweep",
    )  # fmt: skip
    p.add_argument("--data-dexycb", help="DexYCB-like video folder (default OUT/data/dexycb)")
    p.add_argument("--data-hanco", help="HanCo-like video folder (default OUT/data/hanco)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="config override for every PGTE run (repeatable)",
    )  # fmt: skip
    p.add_argument("--no-image-baseline", action="store_true", help="leave the image baseline out")
    p.add_argument(
        "--variants", nargs="+", default=None,
        choices=["vibe", "single", "temporal", "tri_noconv", "single_plane", "single_plane_noconv",
                 "image_baseline"],
        help="run only these variants (a subset; e.g. for a GPU run at --preset paper)",
    )  # fmt: skip
    p.add_argument(
        "--datasets", nargs="+", default=None, choices=["dexycb", "hanco"],
        help="run only on these data sets",
    )  # fmt: skip
    p.add_argument("--doc", default="docs/results/pgte.md", help="the markdown report")
    p.add_argument(
        "--merge",
        nargs="*",
        default=[],
        help="other experiment folders whose results join the report",
    )
    p.add_argument("--report-only", action="store_true", help="only rewrite the report")
    p.add_argument(
        "--strip", help="checkpoint to draw the qualitative strip from (with --report-only)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--run-one", help=argparse.SUPPRESS)
    p.set_defaults(func=_pgte)


def _pgte(args) -> int:
    import json
    from pathlib import Path

    from handpose.experiments import pgte

    if args.run_one:
        pgte.run_one(json.loads(args.run_one))
        return 0
    if args.report_only:
        if args.strip:
            meta = json.loads((Path(args.out) / "experiment.json").read_text())
            data = meta["data"]["dexycb"]["path"]
            doc = Path(args.doc)
            pgte.qualitative_strip(args.strip, data, doc.with_name(f"{doc.stem}_strip.png"))
        pgte.write_report(args.out, args.doc, args.merge)
        print(f"wrote {args.doc}")
        return 0
    data = {k: v for k, v in (("dexycb", args.data_dexycb), ("hanco", args.data_hanco)) if v}
    pgte.run_experiment(
        out=args.out, preset=args.preset, seeds=args.seeds, jobs=args.jobs, tables=args.tables,
        resolutions=args.resolutions, data=data, sets=args.set,
        image_baseline=not args.no_image_baseline, variants=args.variants,
        datasets=args.datasets, doc=args.doc, merge=args.merge,
        progress=not args.no_progress,
    )  # fmt: skip
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
