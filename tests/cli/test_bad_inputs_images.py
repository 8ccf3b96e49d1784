"""Every image-era ``handpose`` command survives bad input (issues 17 and 12): the table.

The same contract and harness as :mod:`tests.cli.test_bad_inputs` (exit 2, one
``handpose: error:`` line naming the file, field or option, no traceback, the disk unchanged, no
code run) for ``synth images``, ``data show|convert`` of image data, ``train`` of the image
methods, ``eval`` of image checkpoints, ``infer image|video``, ``export onnx`` of image models and
the image experiments. The shared inputs are tiny and built once per module, without training:
shard folders of disc pictures (32 px), a 4-frame video folder, and randomly initialised
checkpoints of the ``tiny`` presets written the way the harness writes them.
"""

from __future__ import annotations

import pytest

from tests.cli.badinput import (
    Files,
    case,
    check_case,
    code_pickle,
    copy,
    data,
    folder,
    garbage,
    setups,
    text,
)


# ------------------------------------------------------------------------------ shared inputs
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Files:
    import imageio.v2 as iio
    import torch
    from PIL import Image

    from handpose.training import harness
    from handpose.training.config import config_to_dict
    from handpose.training.registry import get_method
    from tests.inference.conftest import _write_student
    from tests.inference_image.conftest import picture
    from tests.inference_image.image_models import write_baseline_checkpoint, write_checkpoint
    from tests.training.imagedata import write_tiny_shards
    from tests.training.tinydata import write_imu_file, write_stick_hand
    from tests.training.videodata import write_tiny_video

    root = tmp_path_factory.mktemp("badinput_image_files")
    paths = {
        "shards": root / "shards",
        "video": root / "video",
        "baseline": write_baseline_checkpoint(root / "baseline.ckpt"),
        "student": _write_student(root / "student.ckpt"),
        "png": root / "a.png",
        "mp4": root / "clip.mp4",
    }
    write_tiny_shards(paths["shards"], train=4, val=2, test=2, size=32)
    write_tiny_video(paths["video"], clips=(1, 1, 1), frames=4)
    paths["imu"] = write_imu_file(root / "imu.h5", write_stick_hand(root / "stick.npz"), frames=24)
    for name in ("ehpe", "pgte", "dir"):  # the first stage of each, randomly initialised
        stage = get_method(name).stages[0]
        cfg = harness.load_method_config(name, "tiny")
        torch.manual_seed(0)
        model = stage.build_model(cfg)
        paths[name] = write_checkpoint(
            root / f"{name}.ckpt", name, stage.name, config_to_dict(cfg), model
        )
    Image.fromarray(picture(40, 48)).save(paths["png"])
    with iio.get_writer(paths["mp4"], fps=10) as w:
        for i in range(4):
            w.append_data(picture(48, 64, seed=i))
    return Files(root, paths)


# ------------------------------------------------------------------------------ bad files
def image(name: str, w: int, h: int):
    """A ``w``×``h`` PNG ``ws/name``."""

    def run(ws, files):
        import numpy as np
        from PIL import Image

        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(ws / name)

    return run


def old_output(name: str = "o"):
    """A finished output folder ``ws/name`` that a failed run must keep as it is."""
    return setups(folder(name), text(f"{name}/predictions.json", '{"previous": true}'))


def wrong_weights(name: str):
    """A safetensors file whose tensors are not those of any backbone."""

    def run(ws, files):
        import torch
        from safetensors.torch import save_file

        save_file({"conv.weight": torch.zeros(3, 3)}, str(ws / name))

    return run


def preset(content: str, name: str = "p.yaml"):
    return text(name, content)


MANIFEST_ONE_SHARD = (
    '{"format": "handpose-images", "format_version": 1, "kind": "single", "meta": {}, '
    '"splits": {"train": [{"file": "train-00000.h5", "count": 4}]}}'
)

# ------------------------------------------------------------------------------ the table
SYN = "synth images --kind single --train 2 --val 1 --test 1 --size 32 --subjects 1,1,1"
SYNV = "synth images --kind video --train 1 --val 1 --test 1 --size 32 --subjects 1,1,1 --frames 2"
SHOW = "data show {shards}:test 0 {ws}/s.png"
TRB = "train baseline --preset tiny --data {shards} --out {ws}/run"
TRE = "train ehpe --preset tiny --data {shards} --out {ws}/run"
EVB = "eval --quiet --checkpoint {baseline}"
IMG = "infer image {png} --checkpoint {baseline} --out {ws}/o"
VID = "infer video {mp4} --checkpoint {baseline} --no-overlay --out {ws}/o"
EXB = "export onnx --checkpoint {baseline} --out {ws}/m.onnx"
XE = "experiment ehpe --no-progress --out {ws}/exp --doc {ws}/doc.md"
XD = "experiment dir --no-progress --out {ws}/exp --doc {ws}/doc.md"
XP = "experiment pgte --no-progress --out {ws}/exp --doc {ws}/doc.md"

CASES = [
    # --- synth images
    case("synth-images-kind-unknown", "synth images --kind bogus --out {ws}/o", "bogus"),
    case("synth-images-train-negative", f"{SYN} --out {{ws}}/o --train -1", "--train"),
    case("synth-images-val-not-int", f"{SYN} --out {{ws}}/o --val two", "--val"),
    case(
        "synth-images-all-counts-0",
        f"{SYN} --out {{ws}}/o --train 0 --val 0 --test 0",
        ("--train", "--val", "--test"),
    ),
    case("synth-images-size-4", f"{SYN} --out {{ws}}/o --size 4", "--size"),
    case("synth-images-size-0", f"{SYN} --out {{ws}}/o --size 0", "--size"),
    case("synth-images-size-negative", f"{SYN} --out {{ws}}/o --size -32", "--size"),
    case("synth-images-seed-negative", f"{SYN} --out {{ws}}/o --seed -1", "--seed"),
    case("synth-images-workers-0", f"{SYN} --out {{ws}}/o --workers 0", "--workers"),
    case("synth-images-shard-size-0", f"{SYN} --out {{ws}}/o --shard-size 0", "--shard-size"),
    case("synth-images-occluders-2", f"{SYN} --out {{ws}}/o --occluders 2", "--occluders"),
    case("synth-images-occluders-nan", f"{SYN} --out {{ws}}/o --occluders nan", "--occluders"),
    case("synth-images-distractors-neg", f"{SYN} --out {{ws}}/o --distractors -1", "--distractors"),
    case("synth-images-antialias-1", f"{SYN} --out {{ws}}/o --antialias 1", "--antialias"),
    case("synth-images-encoding", f"{SYN} --out {{ws}}/o --encoding gif", ("--encoding", "gif")),
    case("synth-images-domain", f"{SYN} --out {{ws}}/o --domain bogus", ("domain", "bogus")),
    case("synth-images-subjects-two", f"{SYN} --out {{ws}}/o --subjects 1,1", "--subjects"),
    case("synth-images-subjects-0", f"{SYN} --out {{ws}}/o --subjects 0,1,1", "--subjects"),
    case("synth-images-model-missing", f"{SYN} --out {{ws}}/o --model {{ws}}/none.npz", "none.npz"),
    case("synth-images-out-file", f"{SYN} --out {{ws}}/f", ("f", "file"), text("f", "x")),
    case("synth-images-out-under-file", f"{SYN} --out {{ws}}/f/o", ("f/o", "file"), text("f", "x")),
    case(
        "synth-images-out-not-shards",
        f"{SYN} --out {{ws}}/mine",
        ("mine", "not"),
        text("mine/notes.txt", "my own files"),
    ),
    case("synth-images-ladder-text", f"{SYNV} --out {{ws}}/o --ladder 16,abc", "--ladder"),
    case("synth-images-ladder-0", f"{SYNV} --out {{ws}}/o --ladder 0", "ladder"),
    case("synth-images-ladder-too-big", f"{SYNV} --out {{ws}}/o --ladder 64", "ladder"),
    case("synth-images-ladder-empty", f"{SYNV} --out {{ws}}/o --ladder ,", "--ladder"),
    case("synth-images-frames-0", f"{SYNV} --out {{ws}}/o --frames 0", "--frames"),
    case("synth-images-frames-reversed", f"{SYNV} --out {{ws}}/o --frames 5-2", "--frames"),
    case("synth-images-views-0", f"{SYNV} --out {{ws}}/o --views 0", "--views"),
    case("synth-images-fps-nan", f"{SYNV} --out {{ws}}/o --fps nan", "--fps"),
    case("synth-images-fps-0", f"{SYNV} --out {{ws}}/o --fps 0", "--fps"),
    case("synth-images-object-prob", f"{SYNV} --out {{ws}}/o --object-prob -1", "--object-prob"),
    case("synth-images-frames-text", f"{SYNV} --out {{ws}}/o --frames many", "--frames"),
    # --- data info (shard folders)
    case(
        "info-manifest-garbage",
        "data info {ws}/d",
        "manifest.json",
        garbage("d/manifest.json"),
    ),
    case("info-manifest-list", "data info {ws}/d", "manifest.json", text("d/manifest.json", "[]")),
    case(
        "info-manifest-shard-missing",
        "data info {ws}/d",
        "train-00000.h5",
        text("d/manifest.json", MANIFEST_ONE_SHARD),
    ),
    # --- data show
    case("show-index-text", "data show {shards}:test one {ws}/s.png", "index"),
    case("show-source-missing", "data show {ws}/none 0 {ws}/s.png", "none"),
    case("show-folder-not-shards", "data show {ws}/d 0 {ws}/s.png", "d", folder("d")),
    case("show-source-file", "data show {ws}/f 0 {ws}/s.png", "f", text("f", "x")),
    case("show-freihand-missing", "data show freihand:{ws}/none 0 {ws}/s.png", "none"),
    case("show-freihand-wrong-layout", "data show freihand:{ws}/d 0 {ws}/s.png", "d", folder("d")),
    case(
        "show-interhand-wrong-layout", "data show interhand:{ws}/d 0 {ws}/s.png", "d", folder("d")
    ),
    case("show-dexycb-wrong-layout", "data show dexycb:{ws}/d 0 {ws}/s.png", "d", folder("d")),
    case("show-hanco-wrong-layout", "data show hanco:{ws}/d 0 {ws}/s.png", "d", folder("d")),
    case("show-split-unknown", "data show {shards}:bogus 0 {ws}/s.png", "bogus"),
    case("show-split-option-unknown", f"{SHOW} --split bogus", "bogus"),
    case("show-index-too-big", "data show {shards}:test 99 {ws}/s.png", "99"),
    case("show-index-negative", "data show {shards}:test -1 {ws}/s.png", "-1"),
    case("show-level-absent", f"{SHOW} --level 7", "7"),
    case("show-set-unknown", f"{SHOW} --set bogus=1", "bogus"),
    case("show-out-folder", SHOW, ("s.png", "folder"), folder("s.png")),
    case(
        "show-out-under-file", "data show {shards}:test 0 {ws}/f/s.png", "f/s.png", text("f", "x")
    ),
    case("show-out-suffix", "data show {shards}:test 0 {ws}/s.txt", "s.txt"),
    case("show-mano-dir-missing", f"{SHOW} --mano-dir {{ws}}/none", "none"),
    # --- data convert (image data sets)
    case("convert-freihand-missing", "data convert freihand {ws}/none {ws}/o", "none"),
    case("convert-freihand-root-file", "data convert freihand {ws}/f {ws}/o", "f", text("f", "x")),
    case("convert-freihand-wrong-layout", "data convert freihand {ws}/d {ws}/o", "d", folder("d")),
    case(
        "convert-interhand-wrong-layout", "data convert interhand {ws}/d {ws}/o", "d", folder("d")
    ),
    case("convert-dexycb-wrong-layout", "data convert dexycb {ws}/d {ws}/o", "d", folder("d")),
    case("convert-hanco-wrong-layout", "data convert hanco {ws}/d {ws}/o", "d", folder("d")),
    case(
        "convert-split-unknown",
        "data convert freihand {ws}/d {ws}/o --splits bogus",
        "bogus",
        folder("d"),
    ),
    case(
        "convert-out-under-file",
        "data convert freihand {ws}/d {ws}/f/o",
        ("f/o", "file"),
        setups(folder("d"), text("f", "x")),
    ),
    case(
        "convert-out-exists",
        "data convert freihand {ws}/d {ws}/o",
        "o",
        setups(folder("d"), text("o/keep.txt", "mine")),
    ),
    case(
        "convert-shard-size-0",
        "data convert freihand {ws}/d {ws}/o --shard-size 0",
        "--shard-size",
        folder("d"),
    ),
    case(
        "convert-limit-0", "data convert freihand {ws}/d {ws}/o --limit 0", "--limit", folder("d")
    ),
    case(
        "convert-set-no-equals",
        "data convert freihand {ws}/d {ws}/o --set masks",
        "masks",
        folder("d"),
    ),
    # --- train (image methods)
    case("train-method-unknown", "train bogus --data {shards} --out {ws}/run", "bogus"),
    case("train-img-stage-unknown", f"{TRB} --stage bogus", "bogus"),
    case("train-img-set-unknown-key", f"{TRB} --set train.epoch=2", "train.epoch"),
    case("train-img-set-unknown-section", f"{TRB} --set bogus.x=2", "bogus"),
    case("train-img-set-mistyped", f"{TRB} --set train.epochs=abc", "train.epochs"),
    case("train-img-set-no-equals", f"{TRB} --set train.epochs", "train.epochs"),
    case("train-img-set-nan-lr", f"{TRB} --set train.lr=nan", "train.lr"),
    case("train-img-set-size-0", f"{TRB} --set data.size=0", "size"),
    case("train-ehpe-set-unknown-key", f"{TRE} --set tw_train.epoch=2", "tw_train.epoch"),
    case(
        "train-dir-set-unknown-key",
        "train dir --preset tiny --data {shards} --out {ws}/run --set model.bogus=1",
        "model.bogus",
    ),
    case(
        "train-pgte-set-mistyped",
        "train pgte --preset tiny --data {video} --out {ws}/run --set train.batch_size=x",
        "train.batch_size",
    ),
    case(
        "train-img-preset-unknown",
        "train baseline --preset bogus --data {shards} --out {ws}/run",
        "bogus",
    ),
    case(
        "train-img-preset-missing",
        "train baseline --preset {ws}/none.yaml --data {shards} --out {ws}/run",
        "none.yaml",
    ),
    case(
        "train-img-preset-list",
        "train baseline --preset {ws}/p.yaml --data {shards} --out {ws}/run",
        "p.yaml",
        preset("- 1\n- 2\n"),
    ),
    case(
        "train-img-preset-scalar",
        "train baseline --preset {ws}/p.yaml --data {shards} --out {ws}/run",
        "p.yaml",
        preset("just text\n"),
    ),
    case(
        "train-img-preset-malformed",
        "train baseline --preset {ws}/p.yaml --data {shards} --out {ws}/run",
        "p.yaml",
        preset("train: {epochs: 3\n"),
    ),
    case(
        "train-img-preset-nan",
        "train baseline --preset {ws}/p.yaml --data {shards} --out {ws}/run",
        "lr",
        preset("train:\n  lr: .nan\n"),
    ),
    case(
        "train-img-preset-section-not-mapping",
        "train baseline --preset {ws}/p.yaml --data {shards} --out {ws}/run",
        ("p.yaml", "train"),
        preset("train: 3\n"),
    ),
    case(
        "train-img-preset-unknown-key",
        "train baseline --preset {ws}/p.yaml --data {shards} --out {ws}/run",
        "bogus",
        preset("bogus: 3\n"),
    ),
    case(
        "train-img-weights-missing",
        f"{TRB} --set model.weights={{ws}}/none.safetensors",
        "none.safetensors",
    ),
    case(
        "train-img-weights-garbage",
        f"{TRB} --set model.weights={{ws}}/w.safetensors",
        "w.safetensors",
        garbage("w.safetensors"),
    ),
    case(
        "train-img-weights-mismatch",
        f"{TRB} --set model.weights={{ws}}/w.safetensors",
        "w.safetensors",
        wrong_weights("w.safetensors"),
    ),
    case(
        "train-img-weights-code-pickle",
        f"{TRB} --set model.weights={{ws}}/w.pth",
        "w.pth",
        code_pickle("w.pth", wrap=lambda x: {"conv.weight": x}),
        marker="{ws}/pwned",
        subprocess=True,
    ),
    case(
        "train-img-data-missing",
        "train baseline --preset tiny --data {ws}/none --out {ws}/run",
        "none",
    ),
    case(
        "train-img-data-not-shards",
        "train baseline --preset tiny --data {ws}/d --out {ws}/run",
        "d",
        setups(folder("d"), text("d/x.txt", "x")),
    ),
    case(
        "train-img-data-garbage",
        "train baseline --preset tiny --data {ws}/g.h5 --out {ws}/run",
        "g.h5",
        garbage("g.h5"),
    ),
    case(
        "train-img-data-imu-file",
        "train baseline --preset tiny --data {imu} --out {ws}/run",
        "imu.h5",
    ),
    case(
        "train-pgte-data-single",
        "train pgte --preset tiny --data {shards} --out {ws}/run",
        "shards",
    ),
    case("train-img-out-file", TRB, ("run", "file"), text("run", "x")),
    case(
        "train-img-out-under-file",
        "train baseline --preset tiny --data {shards} --out {ws}/f/run",
        ("f/run", "file"),
        text("f", "x"),
    ),
    case("train-img-seed-negative", f"{TRB} --seed -1", "--seed"),
    case("train-img-epochs-0", f"{TRB} --epochs 0", "--epochs"),
    case("train-img-devices-0", f"{TRB} --devices 0", "--devices"),
    case("train-img-accelerator", f"{TRB} --accelerator bogus", "bogus"),
    case(
        "train-ehpe-load-other-method",
        f"{TRE} --stage pg --load tw={{baseline}}",
        ("baseline.ckpt", "ehpe"),
    ),
    case("train-ehpe-load-missing", f"{TRE} --stage pg --load tw={{ws}}/none.ckpt", "none.ckpt"),
    case("train-ehpe-load-no-equals", f"{TRE} --stage pg --load {{ehpe}}", "--load"),
    case("train-ehpe-load-stage-unknown", f"{TRE} --stage pg --load bogus={{ehpe}}", "bogus"),
    case(
        "train-ehpe-load-garbage",
        f"{TRE} --stage pg --load tw={{ws}}/g.ckpt",
        "g.ckpt",
        garbage("g.ckpt"),
    ),
    case("train-ehpe-load-student", f"{TRE} --stage pg --load tw={{student}}", "student.ckpt"),
    # --- eval (image checkpoints)
    case("eval-img-data-imu", f"{EVB} --data {{imu}}", "imu.h5"),
    case("eval-img-data-missing", f"{EVB} --data {{ws}}/none", "none"),
    case("eval-img-data-not-shards", f"{EVB} --data {{ws}}/d", "d", folder("d")),
    case(
        "eval-student-data-shards", "eval --quiet --checkpoint {student} --data {shards}", "shards"
    ),
    case("eval-pgte-data-single", "eval --quiet --checkpoint {pgte} --data {shards}", "shards"),
    case("eval-dir-data-imu", "eval --quiet --checkpoint {dir} --data {imu}", "imu.h5"),
    case("eval-img-protocol-unknown", f"{EVB} --data {{shards}} --protocol bogus", "bogus"),
    case("eval-img-limit-0", f"{EVB} --data {{shards}} --limit 0", "--limit"),
    case("eval-img-threads-0", f"{EVB} --data {{shards}} --threads 0", "--threads"),
    case("eval-img-split-unknown", f"{EVB} --data {{shards}} --split bogus", "bogus"),
    case(
        "eval-img-out-under-file",
        f"{EVB} --data {{shards}} --out {{ws}}/f/e",
        "f/e",
        text("f", "x"),
    ),
    case("eval-img-out-file", f"{EVB} --data {{shards}} --out {{ws}}/f", "f", text("f", "x")),
    case(
        "eval-img-json-under-file",
        f"{EVB} --data {{shards}} --json {{ws}}/f/r.json",
        "f/r.json",
        text("f", "x"),
    ),
    case(
        "eval-pgte-resolution-7",
        "eval --quiet --checkpoint {pgte} --data {video} --resolution 7",
        "--resolution",
    ),
    case(
        "eval-pgte-protocol-unknown",
        "eval --quiet --checkpoint {pgte} --data {video} --protocol bogus",
        "bogus",
    ),
    case(
        "eval-pgte-one-euro-cutoff-0",
        "eval --quiet --checkpoint {pgte} --data {video} --smooth one_euro --one-euro 0 1",
        ("--one-euro", "MIN_CUTOFF"),
    ),
    case(
        "eval-pgte-one-euro-beta-negative",
        "eval --quiet --checkpoint {pgte} --data {video} --smooth one_euro --one-euro 1 -1",
        "--one-euro",
    ),
    case(
        "eval-dir-protocol-unknown",
        "eval --quiet --checkpoint {dir} --data {shards} --protocol bogus",
        "bogus",
    ),
    case(
        "eval-img-ckpt-truncated",
        "eval --quiet --checkpoint {ws}/t.ckpt --data {shards}",
        "t.ckpt",
        copy("baseline", "t.ckpt", 0.5),
    ),
    case(
        "eval-img-ckpt-garbage",
        "eval --quiet --checkpoint {ws}/g.ckpt --data {shards}",
        "g.ckpt",
        garbage("g.ckpt"),
    ),
    case(
        "eval-img-ckpt-empty",
        "eval --quiet --checkpoint {ws}/e.ckpt --data {shards}",
        "e.ckpt",
        data("e.ckpt", b""),
    ),
    case(
        "eval-img-ckpt-code-pickle",
        "eval --quiet --checkpoint {ws}/evil.ckpt --data {shards}",
        "evil.ckpt",
        code_pickle("evil.ckpt"),
        marker="{ws}/pwned",
        subprocess=True,
    ),
    case(
        "eval-img-keeps-old-json",
        f"{EVB} --data {{ws}}/none --json {{ws}}/r.json",
        "none",
        text("r.json", '{"old": 1}'),
    ),
    # --- infer image
    case(
        "infer-image-text-png",
        "infer image {ws}/x.png --checkpoint {baseline} --out {ws}/o",
        "x.png",
        text("x.png", "not a picture"),
    ),
    case(
        "infer-image-empty-png",
        "infer image {ws}/x.png --checkpoint {baseline} --out {ws}/o",
        "x.png",
        data("x.png", b""),
    ),
    case(
        "infer-image-4px",
        "infer image {ws}/x.png --checkpoint {baseline} --out {ws}/o",
        ("x.png", "8 px"),
        image("x.png", 4, 4),
    ),
    case(
        "infer-image-missing",
        "infer image {ws}/x.png --checkpoint {baseline} --out {ws}/o",
        "x.png",
    ),
    case("infer-image-box-outside", f"{IMG} --box 500,500,600,600", ("a.png", "outside")),
    case("infer-image-box-nan", f"{IMG} --box nan,1,20,20", "--box"),
    case("infer-image-box-text", f"{IMG} --box 1,2,3", "--box"),
    case("infer-image-K-nan", f"{IMG} --K nan,100,20,20", "--K"),
    case("infer-image-fov-nan", f"{IMG} --fov nan", "field of view"),
    case("infer-image-pad-negative", f"{IMG} --pad -1", "--pad"),
    case("infer-image-pad-nan", f"{IMG} --pad nan", "--pad"),
    case("infer-image-batch-size-0", f"{IMG} --batch-size 0", "--batch-size"),
    case("infer-image-threads-0", f"{IMG} --threads 0", "--threads"),
    case("infer-image-fit-mesh-missing", f"{IMG} --fit-mesh {{ws}}/none.npz", "none.npz"),
    case("infer-image-method-unknown", f"{IMG} --method bogus", "bogus"),
    case("infer-image-out-file", IMG, ("o", "folder"), text("o", "x")),
    case(
        "infer-image-out-under-file",
        "infer image {png} --checkpoint {baseline} --out {ws}/f/o",
        "f/o",
        text("f", "x"),
    ),
    case(
        "infer-image-keeps-old-output",
        "infer image {ws}/x.png --checkpoint {baseline} --out {ws}/o",
        "x.png",
        setups(text("x.png", "not a picture"), old_output()),
    ),
    case(
        "infer-image-ckpt-truncated",
        "infer image {png} --checkpoint {ws}/t.ckpt --out {ws}/o",
        "t.ckpt",
        copy("baseline", "t.ckpt", 0.5),
    ),
    case(
        "infer-image-ckpt-imu",
        "infer image {png} --checkpoint {student} --out {ws}/o",
        ("student.ckpt", "infer imu"),
    ),
    case(
        "infer-image-ckpt-code-pickle",
        "infer image {png} --checkpoint {ws}/evil.ckpt --out {ws}/o",
        "evil.ckpt",
        code_pickle("evil.ckpt"),
        marker="{ws}/pwned",
        subprocess=True,
    ),
    case(
        "infer-image-folder-with-bad-file",
        "infer image {ws}/pics --checkpoint {baseline} --out {ws}/o",
        "b.png",
        setups(image("pics/a.png", 40, 40), text("pics/b.png", "not a picture"), old_output()),
    ),
    case("infer-image-method-mismatch", f"{IMG} --method ehpe", ("baseline", "ehpe")),
    # --- infer video
    case(
        "infer-video-undecodable",
        "infer video {ws}/v.mp4 --checkpoint {baseline} --out {ws}/o",
        "v.mp4",
        garbage("v.mp4"),
    ),
    case(
        "infer-video-empty",
        "infer video {ws}/v.mp4 --checkpoint {baseline} --out {ws}/o",
        "v.mp4",
        data("v.mp4", b""),
    ),
    case(
        "infer-video-text",
        "infer video {ws}/v.mp4 --checkpoint {baseline} --out {ws}/o",
        "v.mp4",
        text("v.mp4", "not a video"),
    ),
    case(
        "infer-video-missing",
        "infer video {ws}/v.mp4 --checkpoint {baseline} --out {ws}/o",
        "v.mp4",
    ),
    case(
        "infer-video-empty-folder",
        "infer video {ws}/frames --checkpoint {baseline} --out {ws}/o",
        "frames",
        folder("frames"),
    ),
    case("infer-video-fps-0", f"{VID} --fps 0", "--fps"),
    case("infer-video-fps-nan", f"{VID} --fps nan", "--fps"),
    case("infer-video-max-frames-0", f"{VID} --max-frames 0", "--max-frames"),
    case("infer-video-min-cutoff-nan", f"{VID} --smooth one-euro --min-cutoff nan", "--min-cutoff"),
    case("infer-video-beta-negative", f"{VID} --smooth one-euro --beta -1", "--beta"),
    case("infer-video-window-0", f"{VID} --smooth savgol --window 0", "--window"),
    case("infer-video-order-negative", f"{VID} --smooth savgol --order -1", "--order"),
    case("infer-video-box-outside", f"{VID} --box 500,500,600,600", "outside"),
    case("infer-video-out-file", VID, ("o", "folder"), text("o", "x")),
    case(
        "infer-video-out-under-file",
        "infer video {mp4} --checkpoint {baseline} --out {ws}/f/o",
        "f/o",
        text("f", "x"),
    ),
    case(
        "infer-video-keeps-old-output",
        "infer video {ws}/v.mp4 --checkpoint {baseline} --out {ws}/o",
        "v.mp4",
        setups(garbage("v.mp4"), old_output()),
    ),
    # --- export onnx (image checkpoints)
    case("export-img-tolerance-0", f"{EXB} --tolerance 0", "--tolerance"),
    case("export-img-tolerance-negative", f"{EXB} --tolerance -1", "--tolerance"),
    case("export-img-tolerance-nan", f"{EXB} --tolerance nan", "--tolerance"),
    case("export-img-tolerance-inf", f"{EXB} --tolerance inf", "--tolerance"),
    case(
        "export-img-out-under-file",
        "export onnx --checkpoint {baseline} --out {ws}/f/m.onnx",
        "f/m.onnx",
        text("f", "x"),
    ),
    case("export-img-out-folder", EXB, "m.onnx", folder("m.onnx")),
    case(
        "export-img-ckpt-truncated",
        "export onnx --checkpoint {ws}/t.ckpt --out {ws}/m.onnx",
        "t.ckpt",
        copy("baseline", "t.ckpt", 0.5),
    ),
    case("export-img-int8", f"{EXB} --int8", "--int8"),
    case("export-img-opset-12", f"{EXB} --opset 12", "--opset"),
    case(
        "export-ehpe-tolerance-0",
        "export onnx --checkpoint {ehpe} --out {ws}/m.onnx --tolerance 0",
        "--tolerance",
    ),
    case(
        "export-img-keeps-old-output",
        "export onnx --checkpoint {ws}/t.ckpt --out {ws}/m.onnx",
        "t.ckpt",
        setups(copy("baseline", "t.ckpt", 0.5), text("m.onnx", "the old model")),
    ),
    case(
        "export-pgte-tolerance-mm-nan",
        "export onnx --checkpoint {pgte} --out {ws}/m.onnx --tolerance-mm nan",
        "--tolerance-mm",
    ),
    case("export-dir-out-suffix", "export onnx --checkpoint {dir} --out {ws}/m.txt", "m.txt"),
    case(
        "export-pgte-out-under-file",
        "export onnx --checkpoint {pgte} --out {ws}/f/m.onnx",
        "f/m.onnx",
        text("f", "x"),
    ),
    case(
        "export-dir-out-under-file",
        "export onnx --checkpoint {dir} --out {ws}/f/m.onnx",
        "f/m.onnx",
        text("f", "x"),
    ),
    # --- experiment ehpe / dir / pgte
    case("exp-ehpe-seeds-empty", f"{XE} --seeds", "--seeds"),
    case("exp-ehpe-seeds-negative", f"{XE} --seeds -1", "--seeds"),
    case("exp-ehpe-seeds-text", f"{XE} --seeds a", "--seeds"),
    case("exp-ehpe-jobs-0", f"{XE} --jobs 0", "--jobs"),
    case("exp-ehpe-train-0", f"{XE} --train 0", "--train"),
    case("exp-ehpe-tables-unknown", f"{XE} --tables 9", "9"),
    case("exp-ehpe-backbone-unknown", f"{XE} --backbones bogus", ("--backbones", "bogus")),
    case("exp-ehpe-set-bad", f"{XE} --set tw_train.epochs", "tw_train.epochs"),
    case("exp-ehpe-set-unknown-key", f"{XE} --set tw_train.epoch=1", "tw_train.epoch"),
    case("exp-ehpe-preset-missing", f"{XE} --preset {{ws}}/none.yaml", "none.yaml"),
    case("exp-ehpe-data-not-shards", f"{XE} --data {{ws}}/d", "d", folder("d")),
    case("exp-ehpe-data-imu", f"{XE} --data {{imu}}", "imu.h5"),
    case(
        "exp-ehpe-out-under-file",
        "experiment ehpe --out {ws}/f/exp --doc {ws}/doc.md",
        ("f/exp", "file"),
        text("f", "x"),
    ),
    case("exp-ehpe-doc-folder", XE, ("doc.md", "folder"), folder("doc.md")),
    case("exp-ehpe-notes-missing", f"{XE} --notes {{ws}}/n.md", "n.md"),
    case("exp-ehpe-merge-missing", f"{XE} --merge {{ws}}/none", "none"),
    case("exp-ehpe-report-only-no-runs", f"{XE} --report-only", "exp", folder("exp")),
    case("exp-ehpe-archive-inside-out", f"{XE} --archive {{ws}}/exp/rec", ("exp/rec", "outside")),
    case(
        "exp-ehpe-archive-file", f"{XE} --archive {{ws}}/f", ("f", "not a folder"), text("f", "x")
    ),
    case("exp-dir-seeds-empty", f"{XD} --seeds", "--seeds"),
    case("exp-dir-jobs-0", f"{XD} --jobs 0", "--jobs"),
    case("exp-dir-runs-unknown", f"{XD} --runs bogus", "bogus"),
    case("exp-dir-set-unknown-key", f"{XD} --set model.bogus=1", "model.bogus"),
    case("exp-dir-preset-missing", f"{XD} --preset {{ws}}/none.yaml", "none.yaml"),
    case("exp-dir-data-not-shards", f"{XD} --data {{ws}}/d", "d", folder("d")),
    case("exp-dir-heldout-file", f"{XD} --heldout {{ws}}/f", ("f", "folder"), text("f", "x")),
    case("exp-dir-heldout-single", f"{XD} --heldout {{shards}}", ("shards", "twohand")),
    case(
        "exp-dir-out-under-file",
        "experiment dir --out {ws}/f/exp --doc {ws}/doc.md",
        ("f/exp", "file"),
        text("f", "x"),
    ),
    case("exp-dir-doc-folder", XD, ("doc.md", "folder"), folder("doc.md")),
    case("exp-dir-notes-missing", f"{XD} --notes {{ws}}/n.md", "n.md"),
    case("exp-dir-report-only-no-runs", f"{XD} --report-only", "exp", folder("exp")),
    case("exp-pgte-seeds-empty", f"{XP} --seeds", "--seeds"),
    case("exp-pgte-jobs-0", f"{XP} --jobs 0", "--jobs"),
    case("exp-pgte-resolutions-3", f"{XP} --resolutions 3", "--resolutions"),
    case("exp-pgte-resolutions-empty", f"{XP} --resolutions", "--resolutions"),
    case("exp-pgte-variants-unknown", f"{XP} --variants bogus", "bogus"),
    case("exp-pgte-set-unknown-key", f"{XP} --set train.epoch=1", "train.epoch"),
    case("exp-pgte-preset-missing", f"{XP} --preset {{ws}}/none.yaml", "none.yaml"),
    case("exp-pgte-data-not-video", f"{XP} --data-dexycb {{shards}}", "shards"),
    case("exp-pgte-data-not-shards", f"{XP} --data-hanco {{ws}}/d", "d", text("d/x.txt", "x")),
    case(
        "exp-pgte-out-under-file",
        "experiment pgte --out {ws}/f/exp --doc {ws}/doc.md",
        ("f/exp", "file"),
        text("f", "x"),
    ),
    case("exp-pgte-doc-folder", XP, ("doc.md", "folder"), folder("doc.md")),
    case("exp-pgte-merge-missing", f"{XP} --merge {{ws}}/none", "none"),
    case("exp-pgte-report-only-no-runs", f"{XP} --report-only", "exp", folder("exp")),
    case(
        "exp-pgte-strip-missing",
        f"{XP} --report-only --strip {{ws}}/none.ckpt",
        "none.ckpt",
        folder("exp"),
    ),
]


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c, files, tmp_path, capfd):
    check_case(c, files, tmp_path, capfd)


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
