"""Generation: schema round trip through the shard storage, determinism, resume, the CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from handpose.cli import main
from handpose.errors import HandposeError
from handpose.formats.sample import validate_sample
from handpose.formats.shards import open_shards
from handpose.simulators.images.generate import (
    ImageSynthConfig,
    ShardGenerator,
    generate_images,
    plan_jobs,
)
from tests.render.gl_support import needs_gl

pytestmark = needs_gl

TINY = dict(size=64, subjects={"train": 2, "val": 1, "test": 1}, distractors=1, antialias=0)


def single_cfg(**kw) -> ImageSynthConfig:
    return ImageSynthConfig(
        kind="single", counts={"train": 3, "val": 1, "test": 1}, shard_size=2, **{**TINY, **kw}
    )


def read_all(root) -> dict:
    ds = open_shards(root)
    return {(sp, i): ds.get(sp, i) for sp in ds.splits for i in range(ds.num_samples(sp))}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].keys() == b[k].keys(), k
        for key in a[k]:
            if isinstance(a[k][key], str):
                assert a[k][key] == b[k][key]
            else:
                np.testing.assert_array_equal(a[k][key], b[k][key], err_msg=f"{k} {key}")


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    root = tmp_path_factory.mktemp("single")
    summary = generate_images(single_cfg(), root)
    return root, summary


def test_round_trip_through_storage(single):
    root, summary = single
    assert summary == {
        "samples": 5,
        "shards": 4,
        "skipped": 0,
        "manifest": str(root / "manifest.json"),
    }
    ds = open_shards(root)
    assert ds.kind == "single" and ds.num_samples("train") == 3 and ds.num_samples("test") == 1
    meta = ds.meta
    assert (
        meta["hand_model"] == "open" and meta["num_vertices"] == 1379 and meta["domain"] == "main"
    )
    cfg = single_cfg()
    gen = ShardGenerator(cfg)
    memory = [s for job in plan_jobs(cfg) if job.split == "train" for s, _ in gen.samples(job)]
    for i, ref in enumerate(memory):
        got = ds.get("train", i)
        validate_sample(got, "stored")
        assert got.keys() == ref.keys()
        for k in ref:
            if isinstance(ref[k], str):
                assert got[k] == ref[k]
            else:
                np.testing.assert_array_equal(got[k], np.asarray(ref[k]), err_msg=k)
        assert got["image"].shape == (64, 64, 3) and got["mask"].max() >= 1
    assert json.loads((root / "manifest.json").read_text())["generator"]["seed"] == 0


def test_same_seed_identical_other_seed_different(single, tmp_path):
    root, _ = single
    generate_images(single_cfg(), tmp_path / "again")
    assert_same(read_all(root), read_all(tmp_path / "again"))
    generate_images(single_cfg(seed=1), tmp_path / "other")
    a, b = read_all(root), read_all(tmp_path / "other")
    assert not np.array_equal(a[("train", 0)]["image"], b[("train", 0)]["image"])


def test_resume_skips_complete_shards_and_redoes_broken_ones(single, tmp_path):
    root, _ = single
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    (copy / "manifest.json").unlink()
    (copy / "train-00001.h5").unlink()
    (copy / "val-00000.h5").write_bytes(b"not an hdf5 file")  # a corrupt shard is redone
    summary = generate_images(single_cfg(), copy)
    assert summary["skipped"] == 2
    assert_same(read_all(root), read_all(copy))
    with pytest.raises(HandposeError, match="another configuration"):
        generate_images(single_cfg(seed=5), copy)


@pytest.mark.slow
def test_workers_do_not_change_the_output(single, tmp_path):
    root, _ = single
    generate_images(single_cfg(), tmp_path / "w2", workers=2)
    assert_same(read_all(root), read_all(tmp_path / "w2"))


def test_twohand_and_dense(tmp_path):
    cfg = ImageSynthConfig(kind="twohand", counts={"train": 3, "val": 0, "test": 0}, dense=True,
                           single_hand_prob=0.0, **TINY)  # fmt: skip
    generate_images(cfg, tmp_path)
    ds = open_shards(tmp_path)
    for i in range(3):
        s = ds.get("train", i)
        assert s["interacting"] and s["hand_valid"].all() and s["image"].shape == (64, 64, 3)
        d = s["extra_dense"]
        assert d.dtype == np.float16 and d.shape == (64, 64, 3)
        hand = (s["mask"] == 1) | (s["mask"] == 2)
        assert (d[~hand] == 0).all()
        # Template coordinates: within the rest hand's box (fingers −x for the right hand).
        assert np.abs(d[hand].astype(np.float32)).max() < 0.2 and np.abs(d[hand]).sum() > 0


def test_video_ladder_and_sequences(tmp_path):
    cfg = ImageSynthConfig(kind="video", counts={"train": 2, "val": 0, "test": 1}, frames=(3, 4), views=2,
                           ladder=(32, 16), shard_size=1, domain="heldout", **TINY)  # fmt: skip
    summary = generate_images(cfg, tmp_path)
    ds = open_shards(tmp_path)
    assert ds.levels == [16, 32] or sorted(ds.levels) == [16, 32]
    assert ds.meta["domain"] == "heldout" and ds.meta["fps"] == 30.0
    n = ds.num_samples("train")
    assert summary["samples"] == n + ds.num_samples("test")
    seqs = [ds.get("train", i)["sequence"] for i in range(n)]
    assert seqs == sorted(seqs) and set(seqs) == {"train-000000", "train-000001"}
    for i in (0, n - 1):
        full = ds.get("train", i)
        for px in (32, 16):
            lv = ds.get("train", i, level=px)
            f = 64 // px
            assert lv["image"].shape == (px, px, 3) and lv["mask"].shape == (px, px)
            np.testing.assert_allclose(lv["K"][:2, :2], full["K"][:2, :2] / f, rtol=1e-6)
            k = int(np.flatnonzero(full["hand_valid"])[0])
            np.testing.assert_allclose(
                lv["joints2d"][k], (full["joints2d"][k] + 0.5) / f - 0.5, atol=1e-3
            )
            np.testing.assert_array_equal(lv["joints3d"], full["joints3d"])
            assert lv["capture_hw"].tolist() == [64, 64]


def run(args, capsys):
    code = main(["synth", "images", *args])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def test_cli_generates(tmp_path, capsys):
    code = main(["synth", "images", "--kind", "single", "--out", str(tmp_path / "d"), "--train", "2", "--val", "0",
                 "--test", "1", "--size", "64", "--subjects", "1,1,1", "--antialias", "0"])  # fmt: skip
    out = capsys.readouterr()
    assert (
        code == 0 and "3 single images in 2 shards" in out.out and "synth images single" in out.err
    )
    assert open_shards(tmp_path / "d").num_samples("test") == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--kind", "triple"], "--kind must be one of"),
        (["--kind", "single", "--train", "-1"], "argument --train"),
        (["--kind", "single", "--train", "0", "--val", "0", "--test", "0"], "nothing to generate"),
        (["--kind", "single", "--domain", "mars"], "unknown rendering domain"),
        (["--kind", "single", "--subjects", "3,2"], "--subjects must be 3"),
        (["--kind", "single", "--size", "8"], "argument --size"),
        (["--kind", "video", "--frames", "x-3"], "--frames must be N or MIN-MAX"),
        (["--kind", "video", "--frames", "9-3"], "--frames must be"),
        (["--kind", "video", "--ladder", "100"], "ladder level 100"),
        (["--kind", "single", "--workers", "0"], "argument --workers"),
        (["--kind", "single", "--antialias", "1"], "--antialias"),
        (["--kind", "single", "--occluders", "1.5"], "argument --occluders"),
    ],
)
def test_cli_bad_input(tmp_path, capsys, args, message):
    size = [] if "--size" in args else ["--size", "64"]
    code, line = run(["--out", str(tmp_path / "o"), *size, *args], capsys)
    assert code == 2 and line.startswith("handpose: error:") and message in line, line
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_cli_output_under_a_file(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    for out in (f, f / "sub"):
        code, line = run(["--kind", "single", "--out", str(out), "--size", "64"], capsys)
        assert code == 2 and "handpose: error:" in line and str(f) in line, line


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"counts": {"train": -1, "val": 0, "test": 0}}, "--train must be a count"),
        ({"size": 8}, "--size must be between"),
        ({"seed": -1}, "--seed must be between"),
        ({"occluder_prob": float("nan")}, "--occluders must be a probability"),
        ({"kind": "video", "fps": float("nan")}, "--fps"),
        ({"model": "no/such/model.npz"}, "no/such/model.npz"),
    ],
)
def test_config_validate_names_the_option(fields, message):
    """The Python API refuses what the command line's option types refuse, naming the option."""
    from handpose.simulators.images.generate import ImageSynthConfig

    with pytest.raises(HandposeError, match=message):
        ImageSynthConfig(**fields).validate()


def test_check_output_refuses_a_folder_of_other_files(tmp_path):
    from handpose.simulators.images.generate import ImageSynthConfig, check_output

    cfg = ImageSynthConfig(size=64)
    assert check_output(tmp_path / "new", cfg) == tmp_path / "new"  # missing: fine, not made
    assert not (tmp_path / "new").exists()
    (tmp_path / "mine").mkdir()
    assert check_output(tmp_path / "mine", cfg) == tmp_path / "mine"  # empty: fine
    (tmp_path / "mine" / "notes.txt").write_text("x")
    with pytest.raises(HandposeError, match="folder of other files"):
        check_output(tmp_path / "mine", cfg)
