"""Every ``handpose`` command survives bad input (issue 17): the table.

Each row feeds one command a missing, misplaced, empty, garbage, truncated or wrongly shaped
file, NaN/Inf data, an out-of-range option or an output it cannot write, and checks the
contract of :mod:`tests.cli.badinput`: exit 2, one ``handpose: error:`` line naming the file,
field or option, no traceback, the disk unchanged, no code run. New commands add rows here;
the image-era commands (their shared inputs are image shards and image checkpoints) have theirs
in :mod:`tests.cli.test_bad_inputs_images`.
"""

from __future__ import annotations

import json

import numpy as np
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
    h5_edit,
    setups,
    text,
)

SEQ = "sequences/subject01/ROM01_Train"


# ------------------------------------------------------------------------------ shared inputs
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Files:
    import torch

    from handpose.handmodel.mano_pickle import export_mano_pickle
    from handpose.inference.csv_format import write_imu_csv
    from handpose.inference.recording import ImuRecording
    from tests.inference.conftest import _write_student
    from tests.inference.standins import SENSORS, random_motion
    from tests.simulators.standin import save_stick_hand
    from tests.training.tinydata import stick_hand_data, write_imu_file, write_stick_hand

    root = tmp_path_factory.mktemp("badinput_files")
    stick = write_stick_hand(root / "stick.npz")
    synth_model = root / "synth_stick.npz"  # a stick hand with the IMU sites synth needs
    save_stick_hand(synth_model)
    paths = {
        "stick": stick,
        "synth_model": synth_model,
        "data": write_imu_file(root / "data.h5", stick, frames=24, train_sequences=4),
        "student": _write_student(root / "student.ckpt"),
        "teacher": _write_student(root / "teacher.ckpt", kind="teacher"),
        "csv": root / "rec.csv",
        "mano": root / "mano.pkl",
    }
    q, a = random_motion(12, len(SENSORS))
    write_imu_csv(paths["csv"], ImuRecording(q, a, 30.0, tuple(SENSORS)))
    export_mano_pickle(stick_hand_data().to_mano_dict(), paths["mano"])
    for kind in ("student", "teacher"):  # the checkpoints of a diverged run
        ckpt = torch.load(paths[kind], weights_only=True)
        ckpt["state_dict"] = {
            k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
            for k, v in ckpt["state_dict"].items()
        }
        paths[f"{kind}_nan"] = root / f"{kind}_nan.ckpt"
        torch.save(ckpt, paths[f"{kind}_nan"])
    return Files(root, paths)


# ------------------------------------------------------------------------------ bad files
def h5_set(name: str, dataset: str, index, value, src: str = "data"):
    """A copy of the data file with ``dataset[index] = value``."""

    def edit(f):
        arr = f[dataset][()]
        arr[index] = value
        f[dataset][...] = arr

    return h5_edit(src, name, edit)


def h5_del(name: str, path: str, attr: str | None = None):
    """A copy of the data file without the dataset/group ``path`` (or its attribute)."""

    def edit(f):
        if attr is None:
            del f[path]
        else:
            del f[path].attrs[attr]

    return h5_edit("data", name, edit)


def h5_reshape(name: str, dataset: str, shape):
    def edit(f):
        del f[dataset]
        f.create_dataset(dataset, data=np.zeros(shape, np.float32))

    return h5_edit("data", name, edit)


def plain_h5(name: str):
    def run(ws, files):
        import h5py

        with h5py.File(ws / name, "w") as f:
            f.create_dataset("x", data=np.zeros(3))

    return run


def npz(name: str, allow_objects: bool = False, **arrays):
    def run(ws, files):
        if allow_objects:
            np.savez(ws / name, bad=np.array([{"a": 1}], dtype=object))
        else:
            np.savez(ws / name, **arrays)

    return run


def csv_lines(name: str, edit):
    """A copy of the shared CSV with its lines changed by ``edit(lines)``."""

    def run(ws, files):
        lines = files.csv.read_text().splitlines()
        edit(lines)
        (ws / name).write_text("\n".join(lines) + "\n")

    return run


def csv_recording(name: str, frames: int = 12, sensors=None):
    """A CSV recording of ``frames`` frames of random motion (default: the 7 glove sensors)."""

    def run(ws, files):
        from handpose.inference.csv_format import write_imu_csv
        from handpose.inference.recording import ImuRecording
        from tests.inference.standins import SENSORS, random_motion

        names = tuple(SENSORS if sensors is None else sensors)
        q, a = random_motion(frames, len(names))
        write_imu_csv(ws / name, ImuRecording(q, a, 30.0, names))

    return run


def _cell(value: str):
    """Replace the ``ay`` cell of frame 5, sensor middle."""

    def edit(lines):
        i = next(k for k, ln in enumerate(lines) if ln.startswith("5,middle,"))
        cells = lines[i].split(",")
        cells[7] = value  # frame,sensor,qw,qx,qy,qz,ax,[ay],az
        lines[i] = ",".join(cells)

    return edit


def foreign_checkpoint(name: str):
    def run(ws, files):
        import torch

        torch.save({"state_dict": {"fc.weight": torch.zeros(2, 2)}}, ws / name)

    return run


def _longer_row(lines):
    i = next(k for k, ln in enumerate(lines) if ln.startswith("3,"))
    lines[i] += ",0.5"


def _huge_frame(lines):
    i = next(k for k, ln in enumerate(lines) if ln.startswith("3,"))
    lines[i] = "99999999999" + lines[i][1:]


def _fps_nan(lines):
    lines[0] = "# fps=nan"


def vihand(mutate=None):
    """A small VIHand tree in ``ws/vh``, optionally changed by ``mutate(root)``."""

    def run(ws, files):
        from tests.datasets.vihand_fixture import make_vihand

        make_vihand(ws / "vh", T=6)
        if mutate is not None:
            mutate(ws / "vh")

    return run


IMU1 = "multidata/subject1/ROM01/IMU.json"
MANO1 = "annotations/subject1/ROM01/mano.json"
JOINT1 = "annotations/subject1/ROM01/joint.json"


def _json_edit(rel: str, edit):
    def mutate(root):
        p = root / rel
        p.write_text(json.dumps(edit(json.loads(p.read_text()))))

    return mutate


def _sensors_not_objects(d):
    d["2"]["Frames_Data"] = [1, 2, 3, 4, 5, 6, 7]
    return d


def _mano_strings(d):
    d["1"] = ["x"] * 65
    return d


def _mano_objects(d):
    d["1"] = {"a": 1}
    return d


def _joints_short(d):
    d["0"] = [[0.0, 0.0, 0.0]] * 20
    return d


def lone_imu_json(name: str, edit=None):
    """A lone VIHand IMU.json (no annotations), optionally edited."""

    def run(ws, files):
        from tests.datasets.vihand_fixture import make_vihand

        make_vihand(ws / "tmpvh", T=10)
        d = json.loads((ws / "tmpvh" / IMU1).read_text())
        if edit is not None:
            d = edit(d)
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_text(json.dumps(d))
        import shutil

        shutil.rmtree(ws / "tmpvh")

    return run


def run_folder(ckpt: str | None = None, maker=None):
    """A teacher run folder ``ws/run`` with config.yaml and checkpoints/last.ckpt."""

    def run(ws, files):
        (ws / "run" / "checkpoints").mkdir(parents=True)
        (ws / "run" / "config.yaml").write_text("name: tiny\n")
        if ckpt is not None:
            copy(ckpt, "run/checkpoints/last.ckpt")(ws, files)
        if maker is not None:
            maker(ws, files)

    return run


GOOD_RESULT = {
    "kind": "teacher",
    "group": ["teacher", 7],
    "seed": 0,
    "imus": 7,
    "mpjpe_mm": 6.0,
    "mpvpe_mm": 7.0,
    "pa_mpjpe_mm": 3.0,
    "accel_error": 100.0,
    "train_s": 10.0,
    "eval_s": 1.0,
    "train_cpu_s": 9.0,
    "eval_cpu_s": 1.0,
    "commands": ["handpose train teacher", "handpose eval"],
}


def experiment_runs(result: str | None = None):
    """An experiment folder ``ws/exp`` (with one run's result.json if given) and an existing
    report ``ws/doc.md`` that a failed --report-only must keep."""

    def run(ws, files):
        (ws / "doc.md").write_text("# the existing report\n")
        (ws / "exp").mkdir()
        if result is not None:
            (ws / "exp" / "seed0" / "teacher").mkdir(parents=True)
            (ws / "exp" / "seed0" / "teacher" / "result.json").write_text(result)

    return run


# ------------------------------------------------------------------------------ the table
TRAIN = "train teacher --config tiny --out {ws}/run"
TRAIN_S = "train student --config tiny --out {ws}/run --teacher {teacher}"
EVAL = "eval --quiet --checkpoint {student}"
INFER = "infer imu --checkpoint {student} --out {ws}/o.npz"
EXPORT = "export onnx --checkpoint {student}"
EXP = "experiment mgdhand --no-progress --out {ws}/exp --doc {ws}/doc.md"
SYNTH = "synth imu --subjects 1 --frames-per-sequence 8 --sequences ROM01 --model {synth_model}"

CASES = [
    # --- the command line itself
    case("cli-unknown-command", "nosuch", "nosuch"),
    case("cli-missing-option", "infer imu {csv}", "--checkpoint"),
    case("cli-not-an-integer", "synth imu --out {ws}/o.h5 --subjects two", "--subjects"),
    case("cli-unknown-choice", "hand info --side up", "--side"),
    case("cli-group-without-subcommand", "hand", "handpose hand"),
    # --- hand
    case("hand-convert-missing", "hand convert {ws}/none.pkl {ws}/o.npz", ("none.pkl", "not")),
    case(
        "hand-convert-folder",
        "hand convert {ws}/dir.pkl {ws}/o.npz",
        ("dir.pkl", "folder"),
        folder("dir.pkl"),
    ),
    case("hand-convert-empty", "hand convert {ws}/e.pkl {ws}/o.npz", "e.pkl", data("e.pkl", b"")),
    case("hand-convert-garbage", "hand convert {ws}/g.pkl {ws}/o.npz", "g.pkl", garbage("g.pkl")),
    case(
        "hand-convert-truncated",
        "hand convert {ws}/t.pkl {ws}/o.npz",
        "t.pkl",
        copy("mano", "t.pkl", 0.5),
    ),
    case(
        "hand-convert-code-pickle",
        "hand convert {ws}/evil.pkl {ws}/o.npz",
        "evil.pkl",
        code_pickle("evil.pkl", wrap=lambda x: {"v_template": x}, torch_save=False),
        marker="{ws}/pwned",
    ),
    case(
        "hand-convert-out-folder",
        "hand convert {mano} {ws}/o.npz",
        ("o.npz", "folder"),
        folder("o.npz"),
    ),
    case(
        "hand-convert-out-under-file",
        "hand convert {mano} {ws}/f/o.npz",
        ("f/o.npz", "file"),
        text("f", "a file"),
    ),
    case(
        "hand-convert-keeps-old-output",
        "hand convert {ws}/g.pkl {ws}/o.npz",
        "g.pkl",
        setups(garbage("g.pkl"), text("o.npz", "the old output")),
    ),
    case(
        "hand-convert-out-suffix",
        "hand convert {mano} {ws}/o.txt",
        ("o.txt", ".npz"),
    ),
    case("hand-export-out-folder", "hand export {ws}/o.pkl", ("o.pkl", "folder"), folder("o.pkl")),
    case(
        "hand-export-out-under-file",
        "hand export {ws}/f/o.pkl",
        ("f/o.pkl", "file"),
        text("f", "a file"),
    ),
    case("hand-export-model-missing", "hand export --model {ws}/none.npz {ws}/o.pkl", "none.npz"),
    case(
        "hand-export-model-folder",
        "hand export --model {ws}/m.npz {ws}/o.pkl",
        ("m.npz", "folder"),
        folder("m.npz"),
    ),
    case(
        "hand-info-model-garbage",
        "hand info --model {ws}/m.npz",
        "m.npz",
        garbage("m.npz"),
    ),
    case(
        "hand-info-model-object-arrays",
        "hand info --model {ws}/m.npz",
        "m.npz",
        npz("m.npz", allow_objects=True),
    ),
    case(
        "hand-info-model-wrong-arrays",
        "hand info --model {ws}/m.npz",
        ("m.npz", "MANO entries"),
        npz("m.npz", v_template=np.zeros((5, 2))),
    ),
    case(
        "hand-info-mano-dir-missing",
        "hand info --model mano --mano-dir {ws}/none",
        "MANO",
    ),
    case("hand-render-size-0", "hand render --size 0 --out {ws}/g.png", "--size"),
    case("hand-render-size-negative", "hand render --size -5 --out {ws}/g.png", "--size"),
    case("hand-render-out-folder", "hand render --out {ws}/g.png", "g.png", folder("g.png")),
    case("hand-render-out-under-file", "hand render --out {ws}/f/g.png", "f/g.png", text("f", "x")),
    case("hand-render-out-suffix", "hand render --out {ws}/g.jpg", "g.jpg"),
    case(
        "hand-render-model-missing",
        "hand render --model {ws}/none.npz --out {ws}/g.png",
        "none.npz",
    ),
    # --- synth imu
    case("synth-subjects-0", f"{SYNTH} --out {{ws}}/o.h5 --subjects 0", "--subjects"),
    case("synth-subjects-negative", f"{SYNTH} --out {{ws}}/o.h5 --subjects -1", "--subjects"),
    case("synth-fps-nan", f"{SYNTH} --out {{ws}}/o.h5 --fps nan", "--fps"),
    case("synth-fps-inf", f"{SYNTH} --out {{ws}}/o.h5 --fps inf", "--fps"),
    case("synth-fps-0", f"{SYNTH} --out {{ws}}/o.h5 --fps 0", "--fps"),
    case("synth-fps-huge", f"{SYNTH} --out {{ws}}/o.h5 --fps 1e300", "--fps"),
    case("synth-fps-tiny", f"{SYNTH} --out {{ws}}/o.h5 --fps 1e-300", "--fps"),
    case(
        "synth-model-too-coarse",
        "synth imu --subjects 1 --frames-per-sequence 8 --sequences ROM01 --out {ws}/o.h5 "
        "--model {stick}",
        ("stick", "IMU site"),
    ),
    case("synth-frames-0", f"{SYNTH} --out {{ws}}/o.h5 --frames-per-sequence 0", "--frames"),
    case("synth-workers-0", f"{SYNTH} --out {{ws}}/o.h5 --workers 0", "--workers"),
    case(
        "synth-acc-smoothing-0", f"{SYNTH} --out {{ws}}/o.h5 --acc-smoothing 0", "--acc-smoothing"
    ),
    case("synth-seed-negative", f"{SYNTH} --out {{ws}}/o.h5 --seed -1", "--seed"),
    case("synth-layout-unknown", f"{SYNTH} --out {{ws}}/o.h5 --layout bogus", "bogus"),
    case("synth-sequence-unknown", f"{SYNTH} --out {{ws}}/o.h5 --sequences ROM99", "ROM99"),
    case("synth-sequences-empty", f"{SYNTH} --out {{ws}}/o.h5 --sequences ,", "--sequences"),
    case("synth-out-suffix", f"{SYNTH} --out {{ws}}/o.csv", ("o.csv", ".h5")),
    case(
        "synth-model-missing",
        "synth imu --subjects 1 --frames-per-sequence 8 --sequences ROM01 --out {ws}/o.h5 "
        "--model {ws}/none.npz",
        "none.npz",
    ),
    case("synth-out-folder", f"{SYNTH} --out {{ws}}/o.h5", ("o.h5", "folder"), folder("o.h5")),
    case(
        "synth-out-under-file", f"{SYNTH} --out {{ws}}/f/o.h5", ("f/o.h5", "file"), text("f", "x")
    ),
    case(
        "synth-keeps-old-output",
        "synth imu --subjects 1 --frames-per-sequence 8 --sequences ROM01 --out {ws}/o.h5 "
        "--model {ws}/none.npz",
        "none.npz",
        text("o.h5", "the old output"),
    ),
    # --- data info / plot / convert
    case("data-info-missing", "data info {ws}/none.h5", ("none.h5", "does not exist")),
    case("data-info-folder", "data info {ws}/d.h5", ("d.h5", "folder"), folder("d.h5")),
    case("data-info-empty", "data info {ws}/e.h5", "e.h5", data("e.h5", b"")),
    case("data-info-garbage", "data info {ws}/g.h5", "g.h5", garbage("g.h5")),
    case("data-info-truncated", "data info {ws}/t.h5", "t.h5", copy("data", "t.h5", 0.5)),
    case("data-info-not-handpose", "data info {ws}/p.h5", "p.h5", plain_h5("p.h5")),
    case(
        "data-info-no-subject-attr",
        "data info {ws}/b.h5",
        ("b.h5", "subject"),
        h5_del("b.h5", SEQ, attr="subject"),
    ),
    case(
        "data-plot-missing-dataset",
        "data plot {ws}/b.h5 --subject 1 --sequence ROM01 --out {ws}/p.png --model {stick}",
        ("b.h5", "hand_pose"),
        h5_del("b.h5", f"{SEQ}/hand_pose"),
    ),
    case(
        "data-plot-wrong-shape",
        "data plot {ws}/b.h5 --subject 1 --sequence ROM01 --out {ws}/p.png --model {stick}",
        ("b.h5", "hand_pose"),
        h5_reshape("b.h5", f"{SEQ}/hand_pose", (24, 44)),
    ),
    case(
        "data-plot-frames-negative",
        "data plot {data} --subject 1 --sequence ROM01 --out {ws}/p.png --frames -1",
        "--frames",
    ),
    case(
        "data-plot-seconds-0",
        "data plot {data} --subject 1 --sequence ROM01 --out {ws}/p.png --seconds 0",
        "--seconds",
    ),
    case(
        "data-plot-start-nan",
        "data plot {data} --subject 1 --sequence ROM01 --out {ws}/p.png --start nan",
        "--start",
    ),
    case(
        "data-plot-subject-unknown",
        "data plot {data} --subject 99 --sequence ROM01 --out {ws}/p.png",
        "99",
    ),
    case(
        "data-plot-sequence-unknown",
        "data plot {data} --subject 1 --sequence ROM09 --out {ws}/p.png",
        "ROM09",
    ),
    case(
        "data-plot-out-folder",
        "data plot {data} --subject 1 --sequence ROM01 --out {ws}/p.png --model {stick}",
        ("p.png", "folder"),
        folder("p.png"),
    ),
    case(
        "data-plot-out-under-file",
        "data plot {data} --subject 1 --sequence ROM01 --out {ws}/f/p.png --model {stick}",
        ("f/p.png", "file"),
        text("f", "x"),
    ),
    case(
        "data-plot-out-suffix",
        "data plot {data} --subject 1 --sequence ROM01 --out {ws}/p.txt --model {stick}",
        "p.txt",
    ),
    case("data-convert-root-missing", "data convert vihand {ws}/none {ws}/o.h5", "none"),
    case("data-convert-root-file", "data convert vihand {ws}/f {ws}/o.h5", "f", text("f", "x")),
    case(
        "data-convert-sensors-not-objects",
        "data convert vihand {ws}/vh {ws}/o.h5",
        ("IMU.json", "sensor"),
        vihand(_json_edit(IMU1, _sensors_not_objects)),
    ),
    case(
        "data-convert-imu-not-json",
        "data convert vihand {ws}/vh {ws}/o.h5",
        "IMU.json",
        vihand(lambda root: (root / IMU1).write_text("{not json")),
    ),
    case(
        "data-convert-mano-strings",
        "data convert vihand {ws}/vh {ws}/o.h5",
        "mano.json",
        vihand(_json_edit(MANO1, _mano_strings)),
    ),
    case(
        "data-convert-mano-objects",
        "data convert vihand {ws}/vh {ws}/o.h5",
        "mano.json",
        vihand(_json_edit(MANO1, _mano_objects)),
    ),
    case(
        "data-convert-joints-short",
        "data convert vihand {ws}/vh {ws}/o.h5",
        "joint.json",
        vihand(_json_edit(JOINT1, _joints_short)),
    ),
    case(
        "data-convert-out-folder",
        "data convert vihand {ws}/vh {ws}/o.h5",
        ("o.h5", "folder"),
        setups(vihand(), folder("o.h5")),
    ),
    case(
        "data-convert-out-under-file",
        "data convert vihand {ws}/vh {ws}/f/o.h5",
        ("f/o.h5", "file"),
        setups(vihand(), text("f", "x")),
    ),
    case(
        "data-convert-joints-scale-nan",
        "data convert vihand {ws}/vh {ws}/o.h5 --joints-scale nan",
        "--joints-scale",
        vihand(),
    ),
    case(
        "data-convert-imu-order",
        "data convert vihand {ws}/vh {ws}/o.h5 --imu-order a,b",
        "--imu-order",
        vihand(),
    ),
    # --- train teacher / student
    case("train-data-missing", f"{TRAIN} --data {{ws}}/none.h5", "none.h5"),
    case("train-data-folder", f"{TRAIN} --data {{ws}}/d.h5", ("d.h5", "folder"), folder("d.h5")),
    case("train-data-garbage", f"{TRAIN} --data {{ws}}/g.h5", "g.h5", garbage("g.h5")),
    case(
        "train-data-missing-dataset",
        f"{TRAIN} --data {{ws}}/b.h5",
        ("b.h5", "free_acceleration"),
        h5_del("b.h5", f"{SEQ}/imu/free_acceleration"),
    ),
    case(
        "train-data-nan",
        f"{TRAIN} --data {{ws}}/b.h5",
        ("b.h5", "ROM01_Train", "hand_pose"),
        h5_set("b.h5", f"{SEQ}/hand_pose", (3, 5), np.nan),
    ),
    case(
        "train-data-inf",
        f"{TRAIN} --data {{ws}}/b.h5",
        ("b.h5", "ROM01_Train", "free_acceleration"),
        h5_set("b.h5", f"{SEQ}/imu/free_acceleration", (2, 1, 0), np.inf),
    ),
    case(
        "train-data-no-train-windows",
        f"{TRAIN} --data {{data}} --set data.window=100",
        "window",
    ),
    case(
        "train-data-fewer-windows-than-a-batch",
        f"{TRAIN} --data {{data}} --set train.batch_size=64",
        "batch",
    ),
    case(
        "train-config-missing",
        "train teacher --config {ws}/none.yaml --data {data} --out {ws}/run",
        "none.yaml",
    ),  # fmt: skip
    case(
        "train-config-folder",
        "train teacher --config {ws}/c.yaml --data {data} --out {ws}/run",
        ("c.yaml", "folder"),
        folder("c.yaml"),
    ),
    case(
        "train-config-malformed",
        "train teacher --config {ws}/c.yaml --data {data} --out {ws}/run",
        "c.yaml",
        text("c.yaml", "data:\n  window: 8\n stride: [1,\n"),
    ),
    case(
        "train-config-unknown-key",
        "train teacher --config {ws}/c.yaml --data {data} --out {ws}/run",
        "data.windw",
        text("c.yaml", "data:\n  windw: 8\n"),
    ),
    case(
        "train-config-wrong-type",
        "train teacher --config {ws}/c.yaml --data {data} --out {ws}/run",
        "train.epochs",
        text("c.yaml", "train:\n  epochs: many\n"),
    ),
    case(
        "train-config-not-a-mapping",
        "train teacher --config {ws}/c.yaml --data {data} --out {ws}/run",
        ("c.yaml", "mapping"),
        text("c.yaml", "- 1\n- 2\n"),
    ),
    case("train-set-window-0", f"{TRAIN} --data {{data}} --set data.window=0", "window"),
    case("train-set-lr-nan", f"{TRAIN} --data {{data}} --set train.lr=nan", "train.lr"),
    case("train-set-acc-scale-0", f"{TRAIN} --data {{data}} --set data.acc_scale=0", "acc_scale"),
    case(
        "train-set-val-every-0",
        f"{TRAIN} --data {{data}} --set train.val_every_n_epochs=0",
        "val_every_n_epochs",
    ),
    case("train-set-bad-yaml-value", f"{TRAIN} --data {{data}} --set train.lr=[1,", "train.lr"),
    case(
        "train-hand-model-missing",
        f"{TRAIN} --data {{data}} --set hand_model={{ws}}/none.npz",
        "none.npz",
    ),
    case(
        "train-data-only-test-sequences",
        f"{TRAIN} --data {{ws}}/b.h5",
        ("b.h5", "train"),
        h5_edit(
            "data",
            "b.h5",
            lambda f: [f["sequences/subject01"].pop(f"ROM0{i}_Train") for i in range(1, 5)],
        ),
    ),
    case(
        "train-accelerator-absent",
        f"{TRAIN} --data {{data}} --set train.accelerator=tpu",
        "tpu",
    ),
    case("train-set-no-equals", f"{TRAIN} --data {{data}} --set train.epochs", "train.epochs"),
    case("train-set-unknown-key", f"{TRAIN} --data {{data}} --set train.epoch=2", "train.epoch"),
    case("train-epochs-0", f"{TRAIN} --data {{data}} --epochs 0", "epochs"),
    case("train-devices-0", f"{TRAIN} --data {{data}} --devices 0", "devices"),
    case("train-seed-negative", f"{TRAIN} --data {{data}} --seed -1", "seed"),
    case("train-accelerator-unknown", f"{TRAIN} --data {{data}} --accelerator bogus", "bogus"),
    case("train-threads-0", f"{TRAIN} --data {{data}} --set train.threads=0", "threads"),
    case("train-out-file", f"{TRAIN} --data {{data}}", ("run", "file"), text("run", "x")),
    case(
        "train-out-under-file",
        "train teacher --config tiny --data {data} --out {ws}/f/run",
        ("f/run", "file"),
        text("f", "x"),
    ),
    case(
        "train-existing-run",
        f"{TRAIN} --data {{data}}",
        ("run", "--resume"),
        run_folder("teacher"),
    ),
    case(
        "train-resume-nothing",
        f"{TRAIN} --data {{data}} --resume",
        "last.ckpt",
        run_folder(),
    ),
    case(
        "train-resume-garbage",
        f"{TRAIN} --data {{data}} --resume",
        "last.ckpt",
        run_folder(maker=garbage("run/checkpoints/last.ckpt")),
    ),
    case(
        "train-resume-student-checkpoint",
        f"{TRAIN} --data {{data}} --resume",
        ("last.ckpt", "student"),
        run_folder("student"),
    ),
    case(
        "train-resume-code-pickle",
        f"{TRAIN} --data {{data}} --resume",
        "last.ckpt",
        run_folder(maker=code_pickle("run/checkpoints/last.ckpt")),
        marker="{ws}/pwned",
        subprocess=True,
    ),
    case(
        "train-resume-other-config",
        f"{TRAIN} --data {{data}} --resume --set teacher.dim=32",
        "last.ckpt",
        run_folder("teacher"),
    ),
    case(
        "train-student-teacher-missing",
        "train student --config tiny --data {data} --out {ws}/run --teacher {ws}/none.ckpt",
        "none.ckpt",
    ),  # fmt: skip
    case(
        "train-student-teacher-is-student",
        "train student --config tiny --data {data} --out {ws}/run --teacher {student}",
        ("student.ckpt", "teacher"),
    ),
    case(
        "train-student-teacher-nan",
        "train student --config tiny --data {data} --out {ws}/run --teacher {teacher_nan}",
        ("teacher_nan.ckpt", "NaN"),
    ),
    case("train-student-imus-unknown", f"{TRAIN_S} --data {{data}} --imus 5", "5"),
    case(
        "train-student-data-nan",
        f"{TRAIN_S} --data {{ws}}/b.h5",
        ("b.h5", "ROM01_Train", "joints21"),
        h5_set("b.h5", f"{SEQ}/joints21", (0, 4, 1), np.nan),
    ),
    # --- eval
    case("eval-checkpoint-missing", "eval --checkpoint {ws}/none.ckpt --data {data}", "none.ckpt"),
    case(
        "eval-checkpoint-folder",
        "eval --checkpoint {ws}/c.ckpt --data {data}",
        ("c.ckpt", "folder"),
        folder("c.ckpt"),
    ),
    case(
        "eval-checkpoint-truncated",
        "eval --checkpoint {ws}/t.ckpt --data {data}",
        "t.ckpt",
        copy("student", "t.ckpt", 0.5),
    ),
    case(
        "eval-checkpoint-code-pickle",
        "eval --checkpoint {ws}/evil.ckpt --data {data}",
        "evil.ckpt",
        code_pickle("evil.ckpt"),
        marker="{ws}/pwned",
    ),
    case(
        "eval-checkpoint-nan-weights",
        "eval --checkpoint {student_nan} --data {data}",
        ("student_nan.ckpt", "NaN"),
    ),
    case("eval-data-missing", f"{EVAL} --data {{ws}}/none.h5", "none.h5"),
    case("eval-data-truncated", f"{EVAL} --data {{ws}}/t.h5", "t.h5", copy("data", "t.h5", 0.6)),
    case(
        "eval-data-missing-dataset",
        f"{EVAL} --data {{ws}}/b.h5",
        ("b.h5", "joints21"),
        h5_del("b.h5", "sequences/subject01/ROM13_Test/joints21"),
    ),
    case(
        "eval-data-missing-attr",
        f"{EVAL} --data {{ws}}/b.h5",
        ("b.h5", "fps"),
        h5_del("b.h5", "sequences/subject01/ROM13_Test", attr="fps"),
    ),
    case(
        "eval-data-nan-labels",
        f"{EVAL} --data {{ws}}/b.h5",
        ("b.h5", "ROM13_Test", "joints21"),
        h5_set("b.h5", "sequences/subject01/ROM13_Test/joints21", (5, 3, 0), np.nan),
    ),
    case(
        "eval-data-nan-imu",
        f"{EVAL} --data {{ws}}/b.h5",
        ("b.h5", "ROM13_Test", "quaternion"),
        h5_set("b.h5", "sequences/subject01/ROM13_Test/imu/quaternion", (5, 3, 0), np.nan),
    ),
    case("eval-batch-size-0", f"{EVAL} --data {{data}} --batch-size 0", "--batch-size"),
    case("eval-batch-size-negative", f"{EVAL} --data {{data}} --batch-size -1", "--batch-size"),
    case("eval-device-unknown", f"{EVAL} --data {{data}} --device bogus", "bogus"),
    case("eval-split-unknown", f"{EVAL} --data {{data}} --split bogus", "bogus"),
    case("eval-device-absent", f"{EVAL} --data {{data}} --device cuda:99", "cuda:99"),
    case(
        "eval-json-folder",
        f"{EVAL} --data {{data}} --json {{ws}}/r.json",
        "r.json",
        folder("r.json"),
    ),  # fmt: skip
    case(
        "eval-json-under-file",
        f"{EVAL} --data {{data}} --json {{ws}}/f/r.json",
        "f/r.json",
        text("f", "x"),
    ),  # fmt: skip
    case(
        "eval-keeps-old-json",
        f"{EVAL} --data {{ws}}/none.h5 --json {{ws}}/r.json",
        "none.h5",
        text("r.json", '{"old": 1}'),
    ),
    # --- export onnx
    case(
        "export-checkpoint-missing",
        "export onnx --checkpoint {ws}/n.ckpt --out {ws}/s.onnx",
        "n.ckpt",
    ),  # fmt: skip
    case(
        "export-teacher",
        "export onnx --checkpoint {teacher} --out {ws}/s.onnx",
        ("teacher.ckpt", "teacher"),
    ),
    case(
        "export-nan-weights",
        "export onnx --checkpoint {student_nan} --out {ws}/s.onnx",
        ("student_nan.ckpt", "NaN"),
    ),
    case("export-out-folder", f"{EXPORT} --out {{ws}}/s.onnx", "s.onnx", folder("s.onnx")),
    case("export-out-under-file", f"{EXPORT} --out {{ws}}/f/s.onnx", "f/s.onnx", text("f", "x")),
    case("export-out-suffix", f"{EXPORT} --out {{ws}}/s.txt", "s.txt"),
    case("export-windows-0", f"{EXPORT} --out {{ws}}/s.onnx --windows 0", "--windows"),
    case("export-opset-0", f"{EXPORT} --out {{ws}}/s.onnx --opset 0", "--opset"),
    case("export-opset-too-old", f"{EXPORT} --out {{ws}}/s.onnx --opset 11", "--opset"),
    case(
        "export-tolerance-negative",
        f"{EXPORT} --out {{ws}}/s.onnx --tolerance-mm -1",
        "--tolerance-mm",
    ),  # fmt: skip
    case(
        "export-tolerance-nan", f"{EXPORT} --out {{ws}}/s.onnx --tolerance-mm nan", "--tolerance-mm"
    ),  # fmt: skip
    case(
        "export-keeps-old-output",
        "export onnx --checkpoint {teacher} --out {ws}/s.onnx",
        "teacher",
        text("s.onnx", "the old model"),
    ),
    # --- infer imu
    case("infer-input-missing", f"{INFER} {{ws}}/none.csv", ("none.csv", "does not exist")),
    case("infer-input-folder", f"{INFER} {{ws}}/d.csv", ("d.csv", "folder"), folder("d.csv")),
    case("infer-input-empty-csv", f"{INFER} {{ws}}/e.csv", "e.csv", data("e.csv", b"")),
    case("infer-input-binary-csv", f"{INFER} {{ws}}/g.csv", "g.csv", garbage("g.csv")),
    case("infer-input-garbage-h5", f"{INFER} {{ws}}/g.h5", "g.h5", garbage("g.h5")),
    case(
        "infer-input-truncated-h5",
        f"{INFER} {{ws}}/t.h5 --sequence ROM13_Test",
        "t.h5",
        copy("data", "t.h5", 0.5),
    ),  # fmt: skip
    case(
        "infer-input-h5-missing-dataset",
        f"{INFER} {{ws}}/b.h5 --sequence ROM13_Test",
        ("b.h5", "quaternion"),
        h5_del("b.h5", "sequences/subject01/ROM13_Test/imu/quaternion"),
    ),
    case(
        "infer-input-h5-wrong-shape",
        f"{INFER} {{ws}}/b.h5 --sequence ROM13_Test",
        ("b.h5", "quaternion"),
        h5_reshape("b.h5", "sequences/subject01/ROM13_Test/imu/quaternion", (24, 7, 3)),
    ),
    case(
        "infer-input-h5-sensor-names-not-json",
        f"{INFER} {{ws}}/b.h5 --sequence ROM13_Test",
        ("b.h5", "sensor_names"),
        h5_edit(
            "data",
            "b.h5",
            lambda f: f["sequences/subject01/ROM13_Test"].attrs.__setitem__("sensor_names", 7),
        ),
    ),
    case(
        "infer-input-h5-nan-ground-truth",
        f"{INFER} {{ws}}/b.h5 --sequence ROM13_Test",
        ("b.h5", "hand_pose"),
        h5_set("b.h5", "sequences/subject01/ROM13_Test/hand_pose", (2, 7), np.nan),
    ),
    case(
        "infer-csv-row-longer-than-header",
        f"{INFER} {{ws}}/b.csv",
        ("b.csv", "row"),
        csv_lines("b.csv", _longer_row),
    ),
    case(
        "infer-csv-huge-frame",
        f"{INFER} {{ws}}/b.csv",
        ("b.csv", "99999999999"),
        csv_lines("b.csv", _huge_frame),
    ),
    case(
        "infer-csv-wrong-sensor-count",
        f"{INFER} {{ws}}/five.csv",
        ("five.csv", "has 5 sensors", "missing: pinky, wrist"),
        csv_recording("five.csv", sensors=("thumb", "index", "middle", "ring", "back")),
    ),
    *[
        case(
            f"infer-csv-{kind}-cell",
            f"{INFER} {{ws}}/b.csv",
            ("b.csv", "frame 5, sensor 'middle'", "--hold-missing"),
            csv_lines("b.csv", _cell(cell)),
        )
        for kind, cell in (("nan", "nan"), ("inf", "inf"), ("minus-inf", "-inf"), ("empty", ""))
    ],
    case(
        "infer-csv-fewer-frames-than-the-window",
        f"{INFER} {{ws}}/short.csv",
        ("short.csv", "fewer than the student's window of 8"),
        csv_recording("short.csv", frames=7),
    ),
    case(
        "infer-checkpoint-not-ours",
        "infer imu {csv} --checkpoint {ws}/resnet.pt --out {ws}/o.npz",
        ("resnet.pt", "is not a handpose MGDHand checkpoint"),
        foreign_checkpoint("resnet.pt"),
    ),
    case(
        "infer-checkpoint-teacher",
        "infer imu {csv} --checkpoint {teacher} --out {ws}/o.npz",
        ("teacher.ckpt", "holds a teacher model"),
    ),
    *[
        case(
            f"infer-checkpoint-{kind}",
            "infer imu {csv} --checkpoint {ws}/bad.ckpt --out {ws}/o.npz",
            ("bad.ckpt", "cannot be read safely"),
            maker("bad.ckpt"),
        )
        for kind, maker in (
            ("truncated", lambda n: copy("student", n, 0.5)),
            ("garbage", garbage),
            ("empty", lambda n: data(n, b"")),
        )
    ],
    case(
        "infer-csv-fps-nan", f"{INFER} {{ws}}/b.csv", ("b.csv", "fps"), csv_lines("b.csv", _fps_nan)
    ),
    case(
        "infer-imu-json-sensors-not-objects",
        f"{INFER} {{ws}}/IMU.json",
        ("IMU.json", "sensor"),
        lone_imu_json("IMU.json", _sensors_not_objects),
    ),
    case(
        "infer-imu-json-list",
        f"{INFER} {{ws}}/IMU.json",
        "IMU.json",
        text("IMU.json", "[1, 2, 3]"),
    ),
    case(
        "infer-imu-json-deep",
        f"{INFER} {{ws}}/IMU.json",
        "IMU.json",
        text("IMU.json", "[" * 100000 + "]" * 100000),
    ),
    case("infer-out-folder", f"{INFER} {{csv}}", ("o.npz", "folder"), folder("o.npz")),
    case(
        "infer-out-under-file",
        "infer imu {csv} --checkpoint {student} --out {ws}/f/o.npz",
        ("f/o.npz", "file"),
        text("f", "x"),
    ),
    case(
        "infer-video-under-file",
        f"{INFER} {{csv}} --video {{ws}}/f/v.mp4",
        ("f/v.mp4", "file"),
        text("f", "x"),
    ),
    case(
        "infer-video-folder",
        f"{INFER} {{csv}} --video {{ws}}/v.mp4",
        ("v.mp4", "folder"),
        folder("v.mp4"),
    ),
    case(
        "infer-plots-is-file",
        f"{INFER} {{data}} --sequence ROM13_Test --plots {{ws}}/p",
        ("p", "file"),
        text("p", "x"),
    ),
    case("infer-threads-0", f"{INFER} {{csv}} --threads 0", "--threads"),
    case("infer-threads-negative", f"{INFER} {{csv}} --threads -2", "--threads"),
    case("infer-fps-nan", f"{INFER} {{csv}} --fps nan", "--fps"),
    case("infer-fps-negative", f"{INFER} {{csv}} --fps -30", "--fps"),
    case(
        "infer-plots-without-ground-truth",
        f"{INFER} {{csv}} --plots {{ws}}/plots",
        ("rec.csv", "ground truth"),
    ),
    case(
        "infer-onnx-garbage",
        "infer imu {csv} --checkpoint {ws}/m.onnx --out {ws}/o.npz",
        "m.onnx",
        garbage("m.onnx"),
    ),
    case(
        "infer-onnx-with-torch-backend",
        "infer imu {csv} --checkpoint {ws}/m.onnx --backend torch --out {ws}/o.npz",
        ("m.onnx", "onnx"),
        garbage("m.onnx"),
    ),
    case("infer-sequence-unknown", f"{INFER} {{data}} --sequence ROM77", "ROM77"),
    case(
        "infer-checkpoint-nan-weights",
        "infer imu {csv} --checkpoint {student_nan} --out {ws}/o.npz",
        ("student_nan.ckpt", "NaN"),
    ),
    case(
        "infer-checkpoint-code-pickle",
        "infer imu {csv} --checkpoint {ws}/evil.ckpt --out {ws}/o.npz",
        "evil.ckpt",
        code_pickle("evil.ckpt"),
        marker="{ws}/pwned",
        subprocess=True,
    ),
    case(
        "infer-keeps-old-output",
        f"{INFER} {{ws}}/g.csv",
        "g.csv",
        setups(garbage("g.csv"), text("o.npz", "the old output")),
    ),
    # --- infer stream / replay
    case("stream-udp-port-too-big", "infer stream --checkpoint {student} --udp 70000", "--udp"),
    case("stream-udp-port-negative", "infer stream --checkpoint {student} --udp -1", "--udp"),
    case(
        "stream-idle-timeout-negative",
        "infer stream --checkpoint {student} --udp 0 --idle-timeout -1",
        "--idle-timeout",
    ),
    case(
        "stream-idle-timeout-nan",
        "infer stream --checkpoint {student} --udp 0 --idle-timeout nan",
        "--idle-timeout",
    ),
    case(
        "stream-idle-timeout-huge",
        "infer stream --checkpoint {student} --udp 0 --idle-timeout 1e300",
        "--idle-timeout",
    ),
    case("stream-threads-0", "infer stream --checkpoint {student} --threads 0", "--threads"),
    case("stream-checkpoint-missing", "infer stream --checkpoint {ws}/n.ckpt", "n.ckpt"),
    case(
        "stream-checkpoint-nan-weights",
        "infer stream --checkpoint {student_nan}",
        ("student_nan.ckpt", "NaN"),
    ),
    case("replay-input-missing", "infer replay {ws}/none.csv --udp 9", "none.csv"),
    case("replay-udp-port-too-big", "infer replay {csv} --udp 70000", "--udp"),
    case("replay-udp-port-0", "infer replay {csv} --udp 0", "--udp"),
    case("replay-speed-negative", "infer replay {csv} --udp 9 --speed -1", "--speed"),
    case("replay-speed-nan", "infer replay {csv} --udp 9 --speed nan", "--speed"),
    case("replay-fps-0", "infer replay {csv} --udp 9 --fps 0", "--fps"),
    # --- experiment mgdhand
    case("experiment-subjects-0", f"{EXP} --subjects 0", "--subjects"),
    case("experiment-frames-0", f"{EXP} --frames 0", "--frames"),
    case("experiment-jobs-0", f"{EXP} --jobs 0", "--jobs"),
    case("experiment-seeds-empty", f"{EXP} --seeds", "--seeds"),
    case("experiment-seed-negative", f"{EXP} --seeds -1", "seed"),
    case("experiment-variants-empty", f"{EXP} --variants", "--variants"),
    case("experiment-sparse-imus-5", f"{EXP} --sparse-imus 5", "5"),
    case("experiment-preset-missing", f"{EXP} --preset {{ws}}/none.yaml", "none.yaml"),
    case(
        "experiment-preset-malformed",
        f"{EXP} --preset {{ws}}/c.yaml",
        "c.yaml",
        text("c.yaml", "train: [1,\n"),
    ),
    case("experiment-set-bad", f"{EXP} --set train.epochs", "train.epochs"),
    case(
        "experiment-data-folder", f"{EXP} --data {{ws}}/d.h5", ("d.h5", "folder"), folder("d.h5")
    ),  # fmt: skip
    case("experiment-data-garbage", f"{EXP} --data {{ws}}/g.h5", "g.h5", garbage("g.h5")),
    case(
        "experiment-out-under-file",
        "experiment mgdhand --out {ws}/f/exp --doc {ws}/doc.md",
        ("f/exp", "file"),
        text("f", "x"),
    ),
    case("experiment-doc-folder", f"{EXP}", ("doc.md", "folder"), folder("doc.md")),
    case(
        "experiment-notes-missing",
        f"{EXP} --notes {{ws}}/notes.md",
        ("notes.md", "does not exist"),
    ),
    case(
        "experiment-report-only-no-runs",
        f"{EXP} --report-only",
        ("exp", "no finished run"),
        experiment_runs(),
    ),
    case(
        "experiment-report-only-out-missing",
        "experiment mgdhand --out {ws}/none --doc {ws}/doc.md --report-only",
        ("none", "does not exist"),
        experiment_runs(),
    ),
    case(
        "experiment-report-only-malformed-result",
        f"{EXP} --report-only",
        "result.json",
        experiment_runs("{not json"),
    ),
    case(
        "experiment-report-only-result-missing-keys",
        f"{EXP} --report-only",
        ("result.json", "mpjpe_mm"),
        experiment_runs('{"kind": "teacher", "group": ["teacher", 7], "seed": 0}'),
    ),
    case(
        "experiment-report-only-notes-missing",
        f"{EXP} --report-only --notes {{ws}}/notes.md",
        "notes.md",
        experiment_runs(json.dumps(GOOD_RESULT)),
    ),
    case(
        "experiment-report-only-doc-under-file",
        "experiment mgdhand --out {ws}/exp --doc {ws}/f/doc.md --report-only",
        ("f/doc.md", "file"),
        setups(experiment_runs(json.dumps(GOOD_RESULT)), text("f", "x")),
    ),
    case(
        "experiment-bar-under-file",
        f"{EXP} --bar {{ws}}/f/bar.png",
        ("f/bar.png", "file"),
        text("f", "x"),
    ),
    # --- demo
    case("demo-out-file", "demo --out {ws}/o", ("o", "file"), text("o", "x")),
    case("demo-out-under-file", "demo --out {ws}/f/o", ("f/o", "file"), text("f", "x")),
    case("demo-subjects-0", "demo --out {ws}/o --subjects 0", "--subjects"),
    case("demo-frames-0", "demo --out {ws}/o --frames-per-sequence 0", "--frames-per-sequence"),
    case("demo-teacher-epochs-0", "demo --out {ws}/o --teacher-epochs 0", "--teacher-epochs"),
    case(
        "demo-student-epochs-negative", "demo --out {ws}/o --student-epochs -1", "--student-epochs"
    ),  # fmt: skip
    case("demo-config-missing", "demo --out {ws}/o --config {ws}/none.yaml", "none.yaml"),
    case(
        "demo-config-malformed",
        "demo --out {ws}/o --config {ws}/c.yaml",
        "c.yaml",
        text("c.yaml", "train: {epochs: 3\n"),
    ),
    case("demo-seed-negative", "demo --out {ws}/o --seed -1", "--seed"),
]


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c, files, tmp_path, capfd):
    check_case(c, files, tmp_path, capfd)


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
