"""The EHPE experiment runner: the plan, the configs of each run, summaries and the report
(from made-up results: training is covered by tests/training/test_ehpe_method.py)."""

import json

import pytest

from handpose.errors import HandposeError
from handpose.experiments.ehpe import (
    ALLOCATIONS,
    MESH_RUN,
    RunSpec,
    baseline_config,
    collect_results,
    ehpe_config,
    main_backbone,
    paired_delta,
    plan_runs,
    planned_tables,
    plot_tables,
    select_runs,
    summarize,
    write_report,
)


def test_plan_orders_dependencies_and_covers_the_tables():
    runs = plan_runs(["1", "2", "3", "4", "5", "6", "fig1"], [0, 1], ["a", "b"], investigate=True)
    keys = [r.key for r in runs]
    assert runs[0] == MESH_RUN and len(keys) == len(set(keys))
    for i, r in enumerate(runs):
        if r.kind == "pg":
            assert r.tw_key in keys[:i]  # its TW run comes first
    pg = {(r.seed, r.alloc, r.variant) for r in runs if r.kind == "pg" and r.backbone == "a"
          and r.data == "single"}  # fmt: skip
    for s in (0, 1):
        assert {(s, a, "full") for a in ALLOCATIONS} <= pg
        for v in ("neither", "fem_only", "spi_only", "fixed", "layers1", "layers3", "token_init"):
            assert (s, "W+T", v) in pg
    tw = {(r.seed, r.alloc) for r in runs if r.kind == "tw" and r.backbone == "a"}
    assert {(0, "all"), (0, "none"), (1, "all")} <= tw
    assert {r.backbone for r in runs if r.kind == "baseline"} == {"a", "b"}
    assert {r.data for r in runs if r.kind == "pg"} == {"single", "twohand"}
    # the main backbone's seeds come before Table 4 and Table 1's other backbones
    first_alloc = next(i for i, r in enumerate(runs) if r.alloc == "T")
    assert all(i < first_alloc for i, r in enumerate(runs) if r.variant == "layers3")
    assert plan_runs(["5"], [0], ["a"])[1:3] == [RunSpec("tw", 0, "a", "W+T"),
                                                 RunSpec("pg", 0, "a", "W+T", "full")]  # fmt: skip
    with pytest.raises(HandposeError, match="unknown table"):
        plan_runs(["7"], [0], ["a"])


def test_only_keeps_the_named_runs_and_what_they_need():
    plan = plan_runs(["3", "5"], [0, 1], ["m"], investigate=True)
    assert select_runs(plan, []) == plan
    kept = select_runs(plan, ["tw_all", "pg_WT_true_tw"])
    assert [r.key for r in kept] == [r.key for r in plan if r in kept]  # plan order
    assert {(r.kind, r.name, r.seed) for r in kept} == {("mesh", "mesh_regressor", 0)} | {
        (k, n, s) for s in (0, 1)
        for k, n in (("tw", "tw_all"), ("tw", "tw_WT"), ("pg", "pg_WT_true_tw"))}  # fmt: skip
    with pytest.raises(HandposeError, match="no planned run is named tw_al; the plan has"):
        select_runs(plan, ["tw_al"])


def test_each_run_gets_its_config():
    def cfg(**kw):
        return ehpe_config(RunSpec(**{"kind": "pg", "seed": 3, "backbone": "resnet18", **kw}),
                           "tiny", ["tw_train.epochs=1"])  # fmt: skip

    c = cfg(alloc="T+D", variant="fixed")
    assert c.seed == 3 and c.model.backbone == "resnet18" and c.model.tw_joints == "T+D"
    assert c.model.pg.edge_weights == "fixed" and c.tw_train.epochs == 1
    assert cfg(alloc="W+T", variant="spi_only").model.pg.fem is False
    assert cfg(alloc="W+T", variant="layers3").model.pg.gat_layers == 3
    assert cfg(alloc="W+T", variant="refine_tw").model.pg.keep_tw is False
    t = cfg(alloc="W+T", variant="true_tw")
    assert t.pg_input == "labels" and cfg(alloc="W+T", variant="full").pg_input == "estimates"
    c = cfg(alloc="all", kind="tw")
    assert c.model.tw_joints == "W+T+D+P+M" and not c.model.pg.enabled
    assert cfg(alloc="none", kind="tw").model.tw_joints == "none"
    assert cfg(alloc="W+T", variant="full", data="twohand").hands == "each"
    b = baseline_config(RunSpec("baseline", 2, "mobilenetv3_small_050"), "tiny",
                        ["tw_train.epochs=1", "tw_schedule.milestones=[1]",
                         "model.tw.temperature=0.05", "model.tw.depth_range=0.4"])  # fmt: skip
    e = cfg(alloc="W+T", variant="full")
    assert b.seed == 2 and b.model.level == e.model.tw.feature_stride == 8
    assert b.model.num_deconv == 1 and b.data.size == e.data.size  # stride 8 → 4
    assert b.train.epochs == e.tw_train.epochs and b.train.lr == e.tw_train.lr
    assert b.train.min_lr_ratio == 0.1  # the TW-stage's step decay (× 0.1), as a cosine
    assert b.model.temperature == 0.05 and b.model.depth_range == 0.4  # the TW-stage's


def _fake(out, spec, pa, seed_offset=0.0, groups=None, oracle=None):
    d = out / spec.key
    d.mkdir(parents=True)
    res = {
        "spec": {**spec.__dict__},
        "key": spec.key,
        "preset": "cpu-small",
        "metrics": {
            "pa_mpjpe": pa + seed_offset,
            "pa_mpvpe": pa + 1,
            "pa_f@5mm": 0.3,
            "pa_f@15mm": 0.8,
        },  # fmt: skip
        "groups": {
            "pa_mpjpe": groups or {"wrist": 4.0, "mcp": 6.0, "pip": 7.0, "dip": 8.0, "tip": 10.0}
        },  # fmt: skip
        "fps_torch": 50.0,
        "train_cpu_s": 100.0,
        "val": {},
    }
    if oracle is not None:  # PA-MPJPE with the true TW joints
        g = {"wrist": 3.0, "mcp": 5.0, "pip": 5.5, "dip": 6.0, "tip": 2.0}
        res["oracle_tw"] = {"metrics": {"pa_mpjpe": oracle}, "groups": {"pa_mpjpe": g}}
    (d / "result.json").write_text(json.dumps(res))


def test_summary_paired_deltas_and_report(tmp_path):
    out = tmp_path / "exp"
    for s in (0, 1, 2):
        _fake(out, RunSpec("pg", s, "m", "W+T", "full"), 10.0, 0.1 * s, oracle=7.0 + 0.2 * s)
        _fake(out, RunSpec("pg", s, "m", "W+T", "fixed"), 11.0, 0.3 * s)
        _fake(out, RunSpec("baseline", s, "m"), 12.0)
    (out / "experiment.json").write_text(json.dumps({"preset": "cpu-small", "runs": [],
                                                     "data": {}, "commands": ["x"]}))  # fmt: skip
    res = collect_results([out])
    assert len(res) == 9
    summ = summarize(res)
    full = summ[("cpu-small", "single", "m", "pg_WT_full")]
    assert full["n"] == 3 and full["pa_mpjpe"][0] == pytest.approx(10.1)
    assert full["pa_mpjpe"][1] == pytest.approx(0.1)  # sample std of 10, 10.1, 10.2
    d = paired_delta(summ[("cpu-small", "single", "m", "pg_WT_fixed")], full)
    # per seed: 1.0, 1.2, 1.4 → mean 1.2, std 0.2, none lower
    assert d[0] == pytest.approx(1.2) and d[1] == pytest.approx(0.2) and d[3:] == (0, 3)
    assert full["oracle"]["pa_mpjpe"] == pytest.approx((7.2, 0.2))
    assert "oracle" not in summ[("cpu-small", "single", "m", "pg_WT_fixed")]
    doc = tmp_path / "docs" / "ehpe.md"
    text = write_report([out], doc)
    assert doc.read_text() == text
    assert (
        "| fixed | 2 | 6.5 | 6.6 | 11.30 ± 0.30 | 12.00 ± 0.00 | +1.20 ± 0.20 (+11.9 %), 0/3 lower | 3 |"
        in text
    )
    assert (
        "| EHPE | — | — | — | — | — | 10.10 ± 0.10 |" in text
        and "-1.90 ± 0.10 (-15.8 %), 3/3 lower" in text
    )
    assert "| W+T+D | P+M | 5.8 | 5.9 | not run |" in text
    # with the true TW joints: per seed 7.0 − 10.0, 7.2 − 10.1, 7.4 − 10.2 → −2.9 ± 0.1
    assert (
        "| EHPE: SPI + FEM, dynamic, 2 layers | 10.10 ± 0.10 | 7.20 ± 0.20 | "
        "-2.90 ± 0.10 (-28.7 %), 3/3 lower | 2.00 ± 0.00 | 6.00 ± 0.00 | 5.50 ± 0.00 | "
        "5.00 ± 0.00 | 3.00 ± 0.00 | 3 |" in text
    )
    assert "fixed edge weights, 2 layers |" not in text.split("true fingertips and wrist")[1]
    assert (
        "| EHPE | 10.00 ± 0.00 | 8.00 ± 0.00 | 7.00 ± 0.00 | 6.00 ± 0.00 | 4.00 ± 0.00 | 100 / 80 / 70 / 60 / 40 | 3 |"
        in text
    )
    assert (tmp_path / "docs" / "ehpe_tables.png").exists()
    assert (tmp_path / "docs" / "ehpe_groups.png").exists()


def test_report_backbone_is_one_with_finished_pg_runs(tmp_path):
    """experiment.json may still plan PG runs with an earlier backbone first: the report's
    Tables 2–6 use the backbone whose PG runs finished (they showed "not run" before)."""
    out = tmp_path / "exp"
    for s in (0, 1):
        _fake(out, RunSpec("pg", s, "done", "W+T", "full"), 10.0)
        _fake(out, RunSpec("baseline", s, "other"), 12.0)
    plan = [RunSpec("pg", 0, "old", "W+T", "full"), RunSpec("pg", 0, "done", "W+T", "full")]
    summ = summarize(collect_results([out]))
    assert main_backbone(plan, summ, "cpu-small") == "done"
    assert main_backbone(plan[:1], summ, "cpu-small") == "done"  # finished beats planned
    assert main_backbone(plan, {}, "cpu-small") == "old"  # nothing finished: the plan's first
    meta = {"preset": "cpu-small", "runs": [vars(r) for r in plan], "data": {}, "commands": []}
    (out / "experiment.json").write_text(json.dumps(meta))
    text = write_report([out], tmp_path / "ehpe.md")
    assert "backbone `done`" in text and "backbone `old`" not in text


def test_report_of_a_table_3_experiment_has_only_table_3(tmp_path):
    out = tmp_path / "exp"
    plan = plan_runs(["3"], [0, 1], ["m"])
    assert planned_tables(plan, "m") == {"3"}
    assert planned_tables(plan_runs(["3", "5"], [0], ["m"]), "m") == {"3", "5"}
    assert planned_tables(plan_runs(["1", "2", "3", "4", "5", "6", "fig1"], [0], ["m", "x"]), "m") == {
        "1", "2", "3", "4", "5", "6", "fig1"}  # fmt: skip
    assert planned_tables([], "m") == {"1", "2", "3", "4", "5", "6", "fig1"}
    # a run only Table 3 has (TW only, from --only tw_all) brings Table 3 in; a shared one not
    five = plan_runs(["5"], [0], ["m"])
    assert planned_tables(five + [RunSpec("tw", 0, "m", "all")], "m") == {"3", "5"}
    assert planned_tables(five, "m") == {"5"}
    for s in (0, 1):
        _fake(out, RunSpec("pg", s, "m", "W+T", "full"), 10.0)
        _fake(out, RunSpec("tw", s, "m", "all"), 9.0)
    meta = {"preset": "cpu-small", "runs": [vars(r) for r in plan], "data": {}, "commands": []}
    (out / "experiment.json").write_text(json.dumps(meta))
    text = write_report([out], tmp_path / "t3.md")
    heads = [line for line in text.splitlines() if line.startswith("## ")]
    assert heads[0] == "## Table 3: segmented architecture"
    assert not any(
        h.startswith(("## Table 1", "## Table 4", "## Table 6", "## Figure")) for h in heads
    )
    assert "This experiment plans Table 3 only" in text
    # 4 results of 8 model runs; the mesh regressor is not one of them
    assert "from 4 finished runs (8 planned in" in text
    assert "| TW only (all 21 joints by the TW-stage) | 7.1 | 7.3 | 9.00 ± 0.00 |" in text
    # the figure draws Table 3's panel alone, so it is narrower than the four-panel one
    assert "![Table 3 relative to full EHPE](t3_tables.png)" in text
    from PIL import Image

    summary = summarize(collect_results([out]))
    four = plot_tables(summary, "cpu-small", "m", tmp_path / "four.png")
    assert plot_tables(summary, "cpu-small", "m", tmp_path / "none.png", ()) is None
    with Image.open(tmp_path / "t3_tables.png") as one, Image.open(four) as all_four:
        assert one.width < all_four.width / 2


def _fake_twohand(out, seed, main, held):
    """A finished Table 2 run with its generalisation score (wrist-rooted, both domains)."""
    spec = RunSpec("pg", seed, "m", "W+T", "full", "twohand")
    d = out / spec.key
    d.mkdir(parents=True)
    res = {"spec": {**spec.__dict__}, "key": spec.key, "preset": "cpu-small",
           "metrics": {"mpjpe_all": main + 1.0, "mpvpe_all": main + 2.0},
           "generalisation": {"root": "wrist", "test": {"mpjpe_all": main, "mpvpe_all": main + 3},
                              "heldout": {"mpjpe_all": held, "mpvpe_all": held + 3}}}  # fmt: skip
    (d / "result.json").write_text(json.dumps(res))


def test_generalisation_scores_reach_both_reports(tmp_path):
    from handpose.experiments import dir as D

    ehpe_out = tmp_path / "ehpe"
    for seed, main, held in ((0, 50.0, 54.0), (1, 52.0, 55.0)):
        _fake_twohand(ehpe_out, seed, main, held)
    data = {"twohand": {"path": "/d/main"}, "twohand_heldout": {"path": "/d/held"}}
    (ehpe_out / "experiment.json").write_text(json.dumps({"preset": "cpu-small", "runs": [],
                                                          "data": data, "commands": []}))  # fmt: skip
    summ = summarize(collect_results([ehpe_out]))
    gen = summ[("cpu-small", "twohand", "m", "pg_WT_full")]["generalisation"]
    assert gen["heldout"]["mpjpe_all"] == {0: 54.0, 1: 55.0}
    text = write_report([ehpe_out], tmp_path / "ehpe.md")
    # held-out − main per seed: +4, +3 → +3.50 ± 0.71
    assert ("MPJPE all 51.00 ± 1.41 mm on the main test split, 54.50 ± 0.71 mm on the held-out "
            "domain, held-out − main +3.50 ± 0.71 mm (2 seeds)") in text  # fmt: skip

    dir_out = tmp_path / "dir"
    for seed in (0, 1):
        p = dir_out / "cpu-small" / f"seed{seed}" / "stages0" / "result.json"
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps({"preset": "cpu-small", "run": "stages0", "seed": seed,
                                 "test": {"mpjpe_all": 80.0}, "heldout": {"mpjpe_all": 84.0},
                                 "commands": ["x"]}))  # fmt: skip
    d = {"kind": "twohand", "domain": "main", "size": 64, "splits": {"test": 2}, "seed": 0}
    meta = {"data": {"main": {**d, "path": "/d/main"}, "heldout": {**d, "path": "/d/held"}}}
    (dir_out / "experiment.json").write_text(json.dumps(meta))
    text = D.write_report(dir_out, tmp_path / "dir.md", ehpe=[ehpe_out])
    row = "| EHPE, each hand on its own (m) | 51.00 ± 1.41 | 54.50 ± 0.71 | +3.50 ± 0.71 | 54.00 ± 1.41 | 57.50 ± 0.71 | 2 |"
    assert row in text and "Same main and held-out data as the DIR rows." in text
    assert D.write_report(dir_out, tmp_path / "dir2.md").count("EHPE, each hand") == 0
    with pytest.raises(HandposeError, match="not an EHPE experiment folder"):
        D.write_report(dir_out, tmp_path / "dir3.md", ehpe=[dir_out / "cpu-small"])


def test_twohand_heldout_evaluates_finished_table_2_models_again(tmp_path, monkeypatch):
    """A Table 2 model finished before --twohand-heldout was given is evaluated again (not
    trained again: its harness run is kept); other runs are not touched."""
    from training.dir_data import write_two_hand_shards
    from training.imagedata import write_tiny_shards

    import handpose.experiments.ehpe as E

    single = write_tiny_shards(tmp_path / "single", train=2, val=1, test=1)
    main = write_two_hand_shards(tmp_path / "main", train=2, val=1, test=1)
    held = write_two_hand_shards(tmp_path / "held", train=1, val=1, test=1)
    out = tmp_path / "exp"
    specs = plan_runs(["2"], [0], ["mobilenetv3_small_050"])
    assert [s.kind for s in specs] == ["mesh", "tw", "pg"]
    for s in specs:  # all finished, without the generalisation score
        (out / s.key).mkdir(parents=True)
        res = {"spec": {**s.__dict__}, "preset": "tiny", "metrics": {}}
        (out / s.key / "result.json").write_text(json.dumps(res))
        (out / s.key / "trained.json").write_text("{}")
        for path in (E.artefact(out, s), out / s.key / s.kind / "checkpoints" / "last.ckpt"):
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"weights")
    ran = []

    def execute(o, spec):
        ran.append(spec.key)
        meta = json.loads((o / "experiment.json").read_text())
        res = {"spec": {**spec.__dict__}, "preset": "tiny", "metrics": {},
               "generalisation": {"root": "wrist"}}  # fmt: skip
        assert meta["data"]["twohand_heldout"]["path"] == held
        (o / spec.key / "result.json").write_text(json.dumps(res))
        return res

    monkeypatch.setattr(E, "_execute", execute)
    kw = dict(out=out, preset="tiny", tables=["2"], seeds=[0],
              backbones=["mobilenetv3_small_050"], jobs=1, data=single, twohand_data=main,
              doc=None, progress=False)  # fmt: skip
    E.run_experiment(**kw)
    assert ran == []  # without --twohand-heldout everything is done
    E.run_experiment(**kw, twohand_heldout=held)
    assert ran == [specs[2].key]
    assert "--twohand-heldout" in json.loads((out / "experiment.json").read_text())["command"]
    E.run_experiment(**kw, twohand_heldout=held)
    assert ran == [specs[2].key]  # scored now
    with pytest.raises(HandposeError, match="holds single data"):
        E.run_experiment(**kw, twohand_heldout=single)


def _fake_execute(ran):
    """An ``_execute`` that records the run and writes its result and artefact."""
    import handpose.experiments.ehpe as E

    def execute(o, spec):
        ran.append(spec.key)
        res = {"spec": {**spec.__dict__}, "preset": "tiny", "metrics": {"pa_mpjpe": 1.0}}
        (o / spec.key).mkdir(parents=True, exist_ok=True)
        path = E.artefact(o, spec)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"weights")
        (o / spec.key / "result.json").write_text(json.dumps(res))
        return res

    return execute


def test_an_archived_experiment_reports_and_continues_where_it_stopped(tmp_path, monkeypatch):
    """--archive keeps only the records; a copy of the archive as the experiment folder skips
    the finished runs, and trains again a finished run whose artefact an unfinished run
    loads (the TW checkpoint, the mesh regressor), before that run."""
    import shutil

    from training.imagedata import write_tiny_shards

    import handpose.experiments.ehpe as E

    single = write_tiny_shards(tmp_path / "single", train=2, val=1, test=1)
    ran = []
    monkeypatch.setattr(E, "_execute", _fake_execute(ran))
    out, archive = tmp_path / "exp", tmp_path / "repo" / "ehpe"
    kw = dict(preset="tiny", tables=["4"], seeds=[0], backbones=["mobilenetv3_small_050"],
              jobs=1, data=single, only=["pg_WT_full"], doc=None, progress=False)  # fmt: skip
    E.run_experiment(out=out, archive=archive, **kw)
    mesh, tw, pg = (s.key for s in select_runs(plan_runs(["4"], [0], ["x"]), ["pg_WT_full"]))
    keys = [k.replace("/x/", "/mobilenetv3_small_050/") for k in (mesh, tw, pg)]
    assert ran == keys
    files = sorted(str(p.relative_to(archive)) for p in archive.rglob("*") if p.is_file())
    assert files == sorted(["experiment.json", *(f"{k}/result.json" for k in keys)])
    # --report-only --out ARCHIVE reads the runs (the mesh regressor is not one)
    assert sorted(r["spec"]["kind"] for r in collect_results([archive])) == ["pg", "tw"]

    ran.clear()  # every run finished: the restored copy has nothing to do
    shutil.copytree(archive, tmp_path / "restored")
    E.run_experiment(out=tmp_path / "restored", **kw)
    assert ran == []

    ran.clear()  # the PG run unfinished: the mesh regressor and the TW run again first
    shutil.copytree(archive, tmp_path / "partial")
    (tmp_path / "partial" / keys[2] / "result.json").unlink()
    E.run_experiment(out=tmp_path / "partial", **kw)
    assert ran == keys

    ran.clear()  # in the original folder the artefacts exist: only the PG run again
    (out / keys[2] / "result.json").unlink()
    E.run_experiment(out=out, **kw)
    assert ran == [keys[2]]
    with pytest.raises(HandposeError, match="must lie outside"):
        E.run_experiment(out=out, archive=out / "records", **kw)


def test_the_report_of_an_archive_draws_the_grid_without_checkpoints(tmp_path):
    """--report-only on archived records: the qualitative grid takes the crop settings from
    the run's preset and overrides when its checkpoint is not there."""
    from training.imagedata import write_tiny_shards

    single = write_tiny_shards(tmp_path / "single", train=2, val=1, test=3)
    out = tmp_path / "records"
    spec = RunSpec("pg", 0, "mobilenetv3_small_050", "W+T", "full")
    _fake(out, spec, 10.0)
    path = out / spec.key / "result.json"
    res = json.loads(path.read_text())
    res.update(preset="tiny", sets=["loss.lambda_ed=1.0"],
               examples={"index": [0, 2], "uv": [[[8.0, 8.0]] * 21, [[9.0, 9.0]] * 21]})  # fmt: skip
    path.write_text(json.dumps(res))
    meta = {"preset": "tiny", "runs": [spec.__dict__], "commands": ["x"],
            "data": {"single": {"path": str(single)}}}  # fmt: skip
    (out / "experiment.json").write_text(json.dumps(meta))
    text = write_report([out], tmp_path / "doc.md")
    assert "![qualitative](doc_grid.png)" in text
    assert (tmp_path / "doc_grid.png").stat().st_size > 0
