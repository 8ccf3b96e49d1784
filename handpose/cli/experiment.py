"""``handpose experiment …``: each paper's comparison in one resumable command.

Example::

    handpose experiment mgdhand --preset cpu-small --seeds 0 1 2 --jobs 2 --out runs/mgdhand_exp
    handpose experiment mgdhand-factors --seeds 0 1 2 --jobs 2 --out runs/mgdhand_factors
    handpose experiment ehpe --preset cpu-small --seeds 0 1 2 --jobs 2 --out runs/ehpe_exp
    handpose experiment dir --preset cpu-small --seeds 0 1 2 --jobs 2 --out runs/dir_exp
    handpose experiment pgte --preset cpu-small --seeds 0 1 2 --jobs 2 --out runs/pgte_exp

Runs whose ``result.json`` exists are skipped, so the same command continues a killed run.
``--report-only`` rewrites the report from the finished runs without training anything.
"""

from __future__ import annotations

import argparse

from handpose.cli import add_group
from handpose.utils.validate import int_range, positive_int, seed

# Repeated from handpose.experiments.* so that `handpose --help` does not import torch.
_VARIANTS = (
    "none", "global", "ssd", "dpd", "tmd", "wo_ssd", "wo_dpd", "wo_tmd", "mgdistill",
    "simkd", "dkd", "scjd",
)  # fmt: skip

_FACTORS = ("data", "capacity", "teacher", "weight")

_EHPE_TABLES = ("1", "2", "3", "4", "5", "6", "fig1")

_DIR_PAPER_RUNS = (
    "stages0", "stages1", "stages2", "wo_attn", "wo_smoothl1", "wo_motionblur", "wo_largelr",
    "wo_all",
)  # fmt: skip
_DIR_RUNS = (*_DIR_PAPER_RUNS, "wo_smoothl1_delta", "layout0", "layout2", "where0", "where2")


def register(subparsers) -> None:
    grp = add_group(subparsers, "experiment", "run the papers' comparisons end to end")
    _register_mgdhand(grp)
    _register_factors(grp)
    _register_ehpe(grp)
    _register_dir(grp)
    _register_pgte(grp)


def _register_mgdhand(grp) -> None:
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


def _register_factors(grp) -> None:
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
    p.add_argument("--seeds", type=seed, nargs="+", default=[0, 1, 2], help="seeds")
    p.add_argument(
        "--backbones",
        nargs="+",
        default=["efficientnet_lite0", "mobilenetv3_small_050", "resnet50"],
        help="Table 1's backbones (the first one serves the other tables)",
    )
    p.add_argument("--out", default="runs/ehpe_exp", help="experiment folder")
    p.add_argument("--jobs", type=positive_int, default=2, help="runs at a time (one thread each)")
    p.add_argument("--data", help="single-hand shard folder (default OUT/data/single)")
    p.add_argument("--twohand-data", help="two-hand shard folder (default OUT/data/twohand)")
    p.add_argument(
        "--twohand-heldout",
        help="a held-out-domain two-hand shard folder (e.g. the DIR experiment's): Table 2's "
        "models are also scored on it, wrist-rooted, for DIR's generalisation table",
    )
    p.add_argument("--train", type=positive_int, default=6000, help="train images if synthesised")
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
        "joints, 1-hop layers, the PG-stage trained on the true TW joints)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        default=[],
        metavar="NAME",
        help="keep only the planned runs with these names (e.g. tw_all pg_WT_true_tw) and the "
        "runs they need",
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
    p.add_argument(
        "--archive",
        metavar="DIR",
        help="copy the records (experiment.json, each run's result.json; no checkpoints) to "
        "DIR after every finished run, e.g. into a repository so the results outlive OUT; "
        "--report-only --out DIR reports from them and a copy of DIR as OUT continues",
    )
    p.add_argument("--report-only", action="store_true", help="only rewrite the report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_ehpe)


def _register_dir(grp) -> None:
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
    p.add_argument("--seeds", type=seed, nargs="+", default=[0, 1, 2], help="seeds")
    p.add_argument(
        "--runs",
        nargs="+",
        choices=_DIR_RUNS,
        default=list(_DIR_PAPER_RUNS),
        help="runs (default: the paper's, without our variants wo_smoothl1_delta, layout*, where*)",
    )
    p.add_argument("--out", default="runs/dir_exp", help="experiment folder")
    p.add_argument("--jobs", type=positive_int, default=2, help="runs at a time (one thread each)")
    p.add_argument("--data", help="main-domain shard folder (default OUT/data/twohand_main)")
    p.add_argument(
        "--heldout", help="held-out-domain shard folder (default OUT/data/twohand_heldout)"
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override for every run (repeatable)")  # fmt: skip
    p.add_argument("--doc", default="docs/results/dir.md", help="the markdown report")
    p.add_argument(
        "--ehpe",
        action="append",
        default=[],
        metavar="DIR",
        help="an EHPE experiment folder whose two-hand runs (scored with --twohand-heldout) join "
        "the generalisation table (repeatable)",
    )
    p.add_argument("--notes", help="a markdown file included verbatim in the report")
    p.add_argument("--report-only", action="store_true", help="only rewrite the report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_dir)


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
    p.add_argument("--seeds", type=seed, nargs="+", default=[0, 1, 2], help="seeds")
    p.add_argument("--out", default="runs/pgte_exp", help="experiment folder")
    p.add_argument("--jobs", type=positive_int, default=2, help="runs at a time (one thread each)")
    p.add_argument(
        "--tables", nargs="+", default=["main", "planes", "resolution"],
        choices=["main", "planes", "resolution"], help="groups of runs",
    )  # fmt: skip
    p.add_argument(
        "--resolutions", type=int_range(8, 4096), nargs="+", default=[16, 24, 32, 48, 64, 128],
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
    p.add_argument("--notes", help="a markdown file included verbatim in the report")
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


def _check_report_only(args, merge, collect) -> None:
    """--report-only: the experiment folder, report, notes and merged folders, and at least one
    finished run, checked before the report is written."""
    from handpose.errors import HandposeError
    from handpose.experiments import check_experiment_paths

    notes = getattr(args, "notes", None)
    check_experiment_paths(args.out, args.doc, notes, merge, report_only=True)
    if not collect():
        raise HandposeError(f"'{args.out}' holds no finished run to report on.")


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


def _ehpe(args) -> int:
    from handpose.experiments.ehpe import SynthSize, collect_results, run_experiment, write_report

    if args.report_only:
        _check_report_only(args, args.merge, lambda: collect_results([args.out, *args.merge]))
        write_report([args.out, *args.merge], args.doc, args.notes)
        print(f"wrote {args.doc}")
        if args.archive:
            from handpose.experiments.common import archive_records

            n = archive_records(args.out, args.archive)
            print(f"archived {n} records in {args.archive}")
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
        twohand_heldout=args.twohand_heldout,
        sets=args.set,
        investigate=args.investigate,
        only=args.only,
        synth=SynthSize(train=args.train),
        doc=args.doc,
        merge=args.merge,
        notes=args.notes,
        progress=not args.no_progress,
        archive=args.archive,
    )
    print(f"wrote {args.doc}")
    return 0


def _dir(args) -> int:
    from handpose.experiments.dir import collect_results, run_experiment, write_report

    if args.report_only:
        _check_report_only(args, (), lambda: collect_results(args.out))
        write_report(args.out, args.doc, args.notes, qualitative=True, ehpe=args.ehpe)
        print(f"wrote {args.doc}")
        return 0
    if args.notes is not None:  # used by --report-only; checked so that a typo shows now
        from handpose.utils.validate import input_file

        input_file(args.notes, "notes file")
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
        ehpe=args.ehpe,
        progress=not args.no_progress,
    )
    print(f"wrote {args.doc}")
    return 0


def _pgte(args) -> int:
    import json
    from pathlib import Path

    from handpose.experiments import pgte

    if args.run_one:
        pgte.run_one(json.loads(args.run_one))
        return 0
    if args.report_only:
        if args.strip:
            from handpose.utils.validate import input_file

            input_file(args.strip, "--strip checkpoint")
        _check_report_only(args, args.merge, lambda: pgte.collect_results(args.out, args.merge))
        if args.strip:
            meta = json.loads((Path(args.out) / "experiment.json").read_text())
            data = meta["data"]["dexycb"]["path"]
            doc = Path(args.doc)
            pgte.qualitative_strip(args.strip, data, doc.with_name(f"{doc.stem}_strip.png"))
        pgte.write_report(args.out, args.doc, args.merge, args.notes)
        print(f"wrote {args.doc}")
        return 0
    data = {k: v for k, v in (("dexycb", args.data_dexycb), ("hanco", args.data_hanco)) if v}
    pgte.run_experiment(
        out=args.out, preset=args.preset, seeds=args.seeds, jobs=args.jobs, tables=args.tables,
        resolutions=args.resolutions, data=data, sets=args.set,
        image_baseline=not args.no_image_baseline, variants=args.variants,
        datasets=args.datasets, doc=args.doc, merge=args.merge, notes=args.notes,
        progress=not args.no_progress,
    )  # fmt: skip
    print(f"wrote {args.doc}")
    return 0
