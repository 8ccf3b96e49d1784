"""``handpose data convert <image dataset>`` and ``handpose data show`` through the CLI."""

import json

import numpy as np
import pytest
from PIL import Image

from handpose.cli import main
from handpose.datasets.dexycb import DexYCB
from handpose.datasets.freihand import FreiHAND
from handpose.formats.shards import open_shards
from tests.datasets.real_fixtures import write_dexycb, write_freihand


@pytest.fixture(autouse=True)
def _no_mano(monkeypatch, tmp_path_factory):
    # "auto" must not find MANO files anywhere on the test machine
    monkeypatch.setenv("HANDPOSE_MANO_DIR", str(tmp_path_factory.mktemp("nomano")))


@pytest.fixture(scope="module")
def fh_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("fh")
    write_freihand(root)
    return root


def _same(a, b):
    assert set(a) == set(b)
    for k in a:
        if isinstance(a[k], str):
            assert a[k] == b[k]
        else:
            np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=k)


def test_convert_freihand_round_trip(fh_root, tmp_path, capsys):
    out = tmp_path / "fh_shards"
    assert main(["data", "convert", "freihand", str(fh_root), str(out), "--shard-size", "5"]) == 0
    assert "train 12, test 2" in capsys.readouterr().out
    m = json.loads((out / "manifest.json").read_text())
    assert m["kind"] == "single" and m["meta"]["dataset"] == "freihand"
    assert [e["count"] for e in m["splits"]["train"]] == [5, 5, 2]
    assert m["meta"]["source_splits"] == {"train": "training", "test": "evaluation"}
    shards = open_shards(out)
    loader = FreiHAND(fh_root, "training", "all", mano=None)
    for i in (0, 7, 11):  # PNG storage is lossless: the decoded JPEG pixels survive exactly
        _same(loader[i], shards.get("train", i))
    _same(FreiHAND(fh_root, "evaluation", mano=None)[1], shards.get("test", 1))
    assert [p.name for p in tmp_path.iterdir()] == ["fh_shards"]


def test_convert_dexycb_keeps_sequences_in_one_shard(tmp_path):
    root = tmp_path / "dex"
    write_dexycb(root, n_seq=1, n_frames=3)
    out = tmp_path / "dex_shards"
    assert main(["data", "convert", "dexycb", str(root), str(out), "--shard-size", "2"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    # 2 subjects × 1 sequence × 2 cameras × 3 frames; each (sequence, camera) video stays whole
    assert [e["count"] for e in m["splits"]["train"]] == [3, 3, 3, 3]
    loader = DexYCB(root, "train", mano=None)
    _same(loader[4], open_shards(out).get("train", 4))


def test_convert_failure_leaves_nothing(fh_root, tmp_path, capsys):
    import shutil

    root = tmp_path / "broken"
    shutil.copytree(fh_root, root)
    Image.new("RGB", (100, 224)).save(root / "training" / "rgb" / "00000009.jpg")
    out = tmp_path / "out" / "shards"
    assert main(["data", "convert", "freihand", str(root), str(out), "--shard-size", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    assert err.startswith("handpose: error: ") and "00000009.jpg' is 100x224 pixels" in err
    assert not out.exists() and list((tmp_path / "out").iterdir()) == []
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    assert main(["data", "convert", "freihand", str(fh_root), str(tmp_path / "taken")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["data", "convert", "freihand", str(tmp_path / "nope"), str(tmp_path / "o")]) == 2
    assert "FreiHAND root" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_show_real_and_shards(fh_root, tmp_path, capsys):
    png = tmp_path / "a.png"
    assert main(["data", "show", f"freihand:{fh_root}:evaluation", "1", str(png)]) == 0
    pic = np.asarray(Image.open(png))
    assert pic.shape == (224 * 2 + 16, 2 * 224 * 2 + 4, 3)  # 224 → ×2 = 448 ≥ 256
    out = tmp_path / "shards"
    assert main(["data", "convert", "freihand", str(fh_root), str(out), "--limit", "2"]) == 0
    png2 = tmp_path / "b.png"
    assert main(["data", "show", f"{out}:test", "0", str(png2)]) == 0
    assert png2.is_file()
    assert main(["data", "show", str(out), "0", str(png2), "--split", "test"]) == 0
    assert main(["data", "show", str(out), "1", str(tmp_path / "c.png")]) == 0
    hom = tmp_path / "d.png"
    assert main(["data", "show", f"freihand:{fh_root}", "0", str(hom), "--set", "version=hom"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    "argv, words",
    [
        (["freihand:{root}", "99"], "out of range"),
        (["freihand:{root}/missing", "0"], "FreiHAND root"),
        (["freihand:{root}", "0", "--set", "colour=red"], "unknown option 'colour'"),
        (["freihand:{root}", "0", "--set", "masks=maybe"], "invalid value"),
        (["freihand:{root}", "0", "--split", "val"], "no split 'val'"),
        (["{root}", "0"], "manifest.json' is missing"),
        (["freihand:", "0"], "give the dataset root"),
    ],
)
def test_show_bad_input(fh_root, tmp_path, capsys, argv, words):
    argv = [a.format(root=fh_root) for a in argv]
    out = tmp_path / "x.png"
    assert main(["data", "show", argv[0], argv[1], str(out), *argv[2:]]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and err.count("\n") == 0
    assert not out.exists()


def test_info_and_show_on_damaged_shards(fh_root, tmp_path, capsys):
    import h5py

    out = tmp_path / "s"
    assert main(["data", "convert", "freihand", str(fh_root), str(out), "--limit", "2"]) == 0
    capsys.readouterr()
    assert main(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "kind: single" in text and "train: 2 samples in 1 shards" in text
    with h5py.File(out / "train-00000.h5", "r+") as f:
        row = f["labels"][1]
        row["K"][0, 0] = np.nan
        f["labels"][1] = row
    png = tmp_path / "x.png"
    assert main(["data", "show", str(out), "1", str(png)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "train-00000.h5 sample 1: field 'K' contains NaN" in err
    (out / "test-00000.h5").write_bytes(b"\x89HDF\r\n" + b"\0" * 100)
    assert main(["data", "show", f"{out}:test", "0", str(png)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "test-00000.h5' is unreadable or corrupt" in err
    assert not png.exists()


def test_convert_interhand_and_hanco(tmp_path, capsys):
    from tests.datasets.real_fixtures import write_hanco, write_interhand

    ih = tmp_path / "ih"
    write_interhand(ih, "test")
    out = tmp_path / "ih_shards"
    assert main(["data", "convert", "interhand", str(ih), str(out), "--splits", "test"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["kind"] == "twohand" and m["meta"]["fps"] == 5
    assert [e["count"] for e in m["splits"]["test"]] == [3]
    hc = tmp_path / "hc"
    write_hanco(hc)
    out = tmp_path / "hc_shards"
    argv = [
        "data",
        "convert",
        "hanco",
        str(hc),
        str(out),
        "--set",
        "views=0,3",
        "--encoding",
        "jpeg",
    ]
    assert main(argv) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert {s: sum(e["count"] for e in v) for s, v in m["splits"].items()} == {
        "train": 4,
        "test": 2,
    }
    assert m["generator"]["options"] == {"views": [0, 3]}
    # a split without the needed annotation: nothing is written
    assert main(["data", "convert", "interhand", str(ih), str(tmp_path / "ih2")]) == 2
    assert "InterHand2.6M_train_data.json" in capsys.readouterr().err
    assert not (tmp_path / "ih2").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
