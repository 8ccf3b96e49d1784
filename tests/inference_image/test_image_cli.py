"""``handpose infer image|video`` and ``handpose export onnx`` on image checkpoints, and their
bad inputs: exit 2, one ``handpose: error:`` line naming the file / option, nothing written
or clobbered (the table of tests/cli/test_bad_inputs.py is not on this branch yet: same
contract, own table)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

import handpose.cli as cli
from inference_image.conftest import picture


def _run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err.strip()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_images")
    folder = root / "photos"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(picture(seed=1)).save(folder / "a.png")
    Image.fromarray(picture(seed=2)).save(folder / "sub" / "b.jpg", quality=95)
    Image.fromarray(picture(seed=3)).save(folder / "sub" / "a.png")  # same stem, another folder
    return folder


def test_infer_image_folder_with_a_json_box_table(ckpts, images, tmp_path, capsys):
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({
        "a.png": [40, 30, 90, 80],
        "sub/b.jpg": [{"box": [10, 10, 60, 70], "side": "left"}, {"box": [80, 20, 150, 100]}],
        "sub/a.png": [],
    }))  # fmt: skip
    out = tmp_path / "out"
    code, stdout, err = _run(
        ["infer", "image", images, "--checkpoint", ckpts["baseline"], "--boxes", boxes,
         "--side", "right", "--out", out, "--K", "150,150,80,60"], capsys)  # fmt: skip
    assert code == 0, err
    assert "2 images, 3 hands" in stdout and "assumed" not in stdout
    doc = json.loads((out / "predictions.json").read_text())
    assert [os.path.basename(i["file"]) for i in doc["images"]] == ["a.png", "b.jpg"]
    sides = [[h["side"] for h in i["hands"]] for i in doc["images"]]
    assert sides == [["right"], ["left", "right"]]
    assert doc["images"][0]["camera"]["K"][0] == [150.0, 0.0, 80.0]
    data = np.load(out / "predictions.npz")
    assert data["joints3d"].shape == (3, 21, 3) and data["hand_image"].tolist() == [0, 1, 1]
    np.testing.assert_allclose(data["joints3d"][1], doc["images"][1]["hands"][0]["joints3d"],
                               atol=1e-6)  # fmt: skip
    assert sorted(p.name for p in (out / "overlays").iterdir()) == ["a.png", "b.png"]
    over = np.asarray(Image.open(out / "overlays" / "a.png"))
    assert over.shape == (120, 160, 3)


def test_infer_image_csv_table_onnx_and_fitted_mesh(ckpts, images, tmp_path, capsys):
    onnx = tmp_path / "baseline.onnx"
    code, stdout, err = _run(
        ["export", "onnx", "--checkpoint", ckpts["baseline"], "--out", onnx], capsys
    )
    assert code == 0, err
    assert "baseline main" in stdout and "parity within 0.0001" in stdout
    table = tmp_path / "boxes.csv"
    table.write_text("file,x0,y0,x1,y1,side\na.png,40,30,90,80,left\n")
    out = tmp_path / "out"
    code, stdout, err = _run(
        ["infer", "image", images / "a.png", "--checkpoint", onnx, "--boxes", table,
         "--fit-mesh", "open", "--out", out, "--no-overlay", "--vertices-json"], capsys)  # fmt: skip
    assert code == 0, err
    assert "onnxruntime" in stdout and "K assumed" in stdout
    doc = json.loads((out / "predictions.json").read_text())
    hand = doc["images"][0]["hands"][0]
    assert hand["mesh"] == "fit" and hand["side"] == "left" and len(hand["vertices"]) > 100
    assert set(hand["mano"]) == {"global_orient", "hand_pose", "betas", "transl"}
    assert not (out / "overlays").exists()


def test_infer_video_cli(ckpts, tmp_path, capsys):
    from handpose.utils.video import write_video

    clip = write_video(tmp_path / "clip.mp4", [picture(64, 96, seed=s) for s in range(5)], 15.0)
    out = tmp_path / "vid"
    code, stdout, err = _run(
        ["infer", "video", clip, "--checkpoint", ckpts["baseline"], "--box", "10,10,60,60",
         "--smooth", "savgol", "--window", "3", "--order", "1", "--out", out], capsys)  # fmt: skip
    assert code == 0, err
    assert "5 frames (5 with hands)" in stdout and "smoothing savgol" in stdout
    assert {p.name for p in out.iterdir()} == {"overlay.mp4", "predictions.json", "predictions.npz"}


# ---------------------------------------------------------------------------------- bad input


def _snapshot(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def bad(tmp_path_factory, images):
    root = tmp_path_factory.mktemp("bad")
    (root / "not_image.png").write_text("this is text, not a PNG")
    Image.fromarray(np.zeros((6, 40, 3), np.uint8)).save(root / "tiny.png")
    (root / "empty.png").write_bytes(b"")
    (root / "junk.mp4").write_bytes(b"\x00\x01junk" * 100)
    (root / "noimages").mkdir()
    (root / "boxes_bad.json").write_text('{"a.png": [1, 2, 3]}')
    (root / "boxes_nofile.json").write_text('{"zzz.png": [1, 2, 30, 40]}')
    (root / "boxes.txt").write_text("a.png 1 2 3 4")
    (root / "boxes_hdr.csv").write_text("name,a,b,c,d\n")
    import torch

    buf_path = root / "plain.onnx"
    import io
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(torch.nn.Linear(2, 2), (torch.zeros(1, 2),), buf, dynamo=False)
    buf_path.write_bytes(buf.getvalue())
    (root / "file_not_dir").write_text("x")
    (root / "out_done").mkdir()
    (root / "out_done" / "predictions.json").write_text('{"previous": true}')
    return root


CASES = [
    # id, argv (after `handpose`), expected words
    (
        "not-an-image",
        "infer image {b}/not_image.png --checkpoint {ck} --out {b}/o1",
        ("not_image.png", "not a readable image"),
    ),
    (
        "empty-image",
        "infer image {b}/empty.png --checkpoint {ck} --out {b}/o1",
        ("empty.png", "not a readable image"),
    ),
    (
        "tiny-image",
        "infer image {b}/tiny.png --checkpoint {ck} --out {b}/o1",
        ("tiny.png", "40x6", "at least 8 px"),
    ),
    (
        "missing-input",
        "infer image {b}/nope.png --checkpoint {ck} --out {b}/o1",
        ("nope.png", "does not exist"),
    ),
    (
        "empty-folder",
        "infer image {b}/noimages --checkpoint {ck} --out {b}/o1",
        ("noimages", "no image files"),
    ),
    (
        "box-outside",
        "infer image {img}/a.png --checkpoint {ck} --box 500,500,600,600 --out {b}/o1",
        ("a.png", "outside"),
    ),
    (
        "box-empty",
        "infer image {img}/a.png --checkpoint {ck} --box 50,50,40,60 --out {b}/o1",
        ("--box", "empty"),
    ),
    (
        "box-and-boxes",
        "infer image {img}/a.png --checkpoint {ck} --box 1,2,30,40 "
        "--boxes {b}/boxes_bad.json --out {b}/o1",
        ("--box", "--boxes"),
    ),
    (
        "boxes-bad-entry",
        "infer image {img}/a.png --checkpoint {ck} --boxes {b}/boxes_bad.json --out {b}/o1",
        ("boxes_bad.json", "four"),
    ),
    (
        "boxes-no-entry",
        "infer image {img}/a.png --checkpoint {ck} --boxes {b}/boxes_nofile.json --out {b}/o1",
        ("boxes_nofile.json", "no box for"),
    ),
    (
        "boxes-format",
        "infer image {img}/a.png --checkpoint {ck} --boxes {b}/boxes.txt --out {b}/o1",
        ("boxes.txt", ".json or .csv"),
    ),
    (
        "boxes-header",
        "infer image {img}/a.png --checkpoint {ck} --boxes {b}/boxes_hdr.csv --out {b}/o1",
        ("boxes_hdr.csv", "header"),
    ),
    ("bad-K", "infer image {img}/a.png --checkpoint {ck} --K 1,2,3 --out {b}/o1", ("--K",)),
    (
        "bad-fov",
        "infer image {img}/a.png --checkpoint {ck} --fov 0 --out {b}/o1",
        ("field of view",),
    ),
    (
        "other-method",
        "infer image {img}/a.png --checkpoint {ck} --method ehpe --out {b}/o1",
        ("baseline", "not of 'ehpe'"),
    ),
    (
        "imu-checkpoint",
        "infer image {img}/a.png --checkpoint {student} --out {b}/o1",
        ("student.ckpt", "IMU", "infer imu"),
    ),
    (
        "onnx-no-metadata",
        "infer image {img}/a.png --checkpoint {b}/plain.onnx --out {b}/o1",
        ("plain.onnx", "no handpose metadata"),
    ),
    (
        "imu-onnx",
        "infer image {img}/a.png --checkpoint {student_onnx} --out {b}/o1",
        ("student.onnx", "not a handpose image model"),
    ),
    (
        "out-is-file",
        "infer image {img}/a.png --checkpoint {ck} --out {b}/file_not_dir",
        ("file_not_dir", "not a folder"),
    ),
    (
        "clobber-check",
        "infer image {b}/not_image.png --checkpoint {ck} --out {b}/out_done",
        ("not_image.png",),
    ),
    ("video-undecodable", "infer video {b}/junk.mp4 --checkpoint {ck} --out {b}/o2", ("junk.mp4",)),
    (
        "video-missing",
        "infer video {b}/none.mp4 --checkpoint {ck} --out {b}/o2",
        ("none.mp4", "does not exist"),
    ),
    (
        "video-bad-smooth-param",
        "infer video {b}/junk.mp4 --checkpoint {ck} --smooth one-euro --window 3 --out {b}/o2",
        ("window",),
    ),
    (
        "export-imu-tolerance",
        "export onnx --checkpoint {ck} --out {b}/m.onnx --tolerance-mm 1",
        ("--tolerance-mm", "--tolerance"),
    ),
    ("export-bad-suffix", "export onnx --checkpoint {ck} --out {b}/m.txt", ("m.txt", ".onnx")),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, bad, images, ckpts, student_ckpt, student_onnx, capsys):
    _, argv, expect = case
    fmt = {"b": bad, "img": images, "ck": ckpts["baseline"], "student": student_ckpt,
           "student_onnx": student_onnx}  # fmt: skip
    before = _snapshot(bad)
    code, stdout, err = _run(argv.format(**fmt).split(), capsys)
    assert code == 2, (stdout, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("handpose: error: "), err
    for word in expect:
        assert word.format(**fmt) in lines[0], lines[0]
    assert _snapshot(bad) == before  # nothing written, nothing clobbered
    assert not (bad / "o1").exists() and not (bad / "o2").exists()
