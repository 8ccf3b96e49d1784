"""Bad input through the CLI: one clear error line, exit status 2, no output files.

Covers issue 6 item 7: unknown file format, wrong sensor count, NaN/inf values, fewer frames
than the window, a checkpoint that is not ours, corrupt, a teacher, or a pickle carrying code.
"""

import os
import pickle

import numpy as np
import pytest
import torch

import handpose.cli as cli
from handpose.inference.csv_format import write_imu_csv
from handpose.inference.recording import ImuRecording

from .conftest import WINDOW
from .standins import SENSORS, random_motion


def _csv(path, frames=12, sensors=SENSORS, mutate=None):
    q, a = random_motion(frames, len(sensors))
    if mutate is not None:
        mutate(q, a)
    write_imu_csv(path, ImuRecording(q, a, 30.0, tuple(sensors)))
    return path


def _run(argv, capsys):
    code = cli.main([str(x) for x in argv])
    err = capsys.readouterr().err.strip()
    return code, err


def _assert_clean_failure(code, err, out_dir, expect, keep=()):
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("handpose: error: "), err
    assert expect in lines[0], lines[0]
    assert sorted(os.listdir(out_dir)) == sorted(keep), "no output or temporary file may remain"


def _infer(inp, ckpt, out_dir, *extra):
    return [
        "infer", "imu", inp, "--checkpoint", ckpt, "--out", out_dir / "o.npz",
        "--video", out_dir / "o.mp4", *extra,
    ]  # fmt: skip


@pytest.fixture
def out_dir(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    return d


def test_unknown_file_format(student_ckpt, tmp_path, out_dir, capsys):
    inp = tmp_path / "rec.bvh"
    inp.write_text("HIERARCHY\n")
    code, err = _run(_infer(inp, student_ckpt, out_dir), capsys)
    _assert_clean_failure(code, err, out_dir, "unknown IMU file format '.bvh'")


def test_wrong_sensor_count(student_ckpt, tmp_path, out_dir, capsys):
    inp = _csv(tmp_path / "five.csv", sensors=SENSORS[:4] + SENSORS[5:6])
    code, err = _run(_infer(inp, student_ckpt, out_dir), capsys)
    _assert_clean_failure(code, err, out_dir, "has 5 sensors")
    assert "missing: pinky, wrist" in err


@pytest.mark.parametrize("cell", ["nan", "inf", "-inf", ""])
def test_nan_or_inf_values(student_ckpt, tmp_path, out_dir, capsys, cell):
    inp = _csv(tmp_path / "bad.csv")
    lines = inp.read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("5,middle,"))
    cells = lines[i].split(",")
    cells[7] = cell  # frame,sensor,qw,qx,qy,qz,ax,[ay],az
    lines[i] = ",".join(cells)
    inp.write_text("\n".join(lines) + "\n")
    code, err = _run(_infer(inp, student_ckpt, out_dir), capsys)
    _assert_clean_failure(code, err, out_dir, "frame 5, sensor 'middle'")
    assert "--hold-missing" in err


def test_hold_missing_turns_nan_into_flagged_dropouts(student_ckpt, tmp_path, out_dir, capsys):
    def poison(q, a):
        q[5:7, 3] = np.nan

    inp = _csv(tmp_path / "gap.csv", mutate=poison)
    argv = ["infer", "imu", inp, "--checkpoint", student_ckpt, "--out", out_dir / "o.npz"]
    assert cli.main([str(x) for x in argv] + ["--hold-missing"]) == 0
    with np.load(out_dir / "o.npz") as z:
        assert z["dropped"][:, 3].tolist() == [f in (5, 6) for f in range(12)]
        assert np.isfinite(z["joints"]).all()


def test_fewer_frames_than_the_window(student_ckpt, tmp_path, out_dir, capsys):
    inp = _csv(tmp_path / "short.csv", frames=WINDOW - 1)
    code, err = _run(_infer(inp, student_ckpt, out_dir), capsys)
    _assert_clean_failure(code, err, out_dir, f"fewer than the student's window of {WINDOW}")


def test_checkpoint_that_is_not_ours(tmp_path, out_dir, capsys):
    inp = _csv(tmp_path / "ok.csv")
    foreign = tmp_path / "resnet.pt"
    torch.save({"state_dict": {"fc.weight": torch.zeros(2, 2)}}, foreign)
    code, err = _run(_infer(inp, foreign, out_dir), capsys)
    _assert_clean_failure(code, err, out_dir, "is not a handpose MGDHand checkpoint")


def test_teacher_checkpoint_is_refused(teacher_ckpt, tmp_path, out_dir, capsys):
    inp = _csv(tmp_path / "ok.csv")
    code, err = _run(_infer(inp, teacher_ckpt, out_dir), capsys)
    _assert_clean_failure(code, err, out_dir, "holds a teacher model")


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty"])
def test_corrupt_checkpoint(student_ckpt, tmp_path, out_dir, capsys, kind):
    inp = _csv(tmp_path / "ok.csv")
    bad = tmp_path / "bad.ckpt"
    data = student_ckpt.read_bytes()
    bad.write_bytes(
        {"truncated": data[: len(data) // 2], "garbage": os.urandom(4096), "empty": b""}[kind]
    )
    code, err = _run(_infer(inp, bad, out_dir), capsys)
    _assert_clean_failure(code, err, out_dir, "cannot be read safely")


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # would create the marker file when unpickled


def test_pickle_with_code_is_not_executed(tmp_path, out_dir, capsys):
    inp = _csv(tmp_path / "ok.csv")
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    # Protocol 2, torch's default: the safe unpickler reaches the GLOBAL opcode and refuses it.
    torch.save({"handpose": _Exploit(str(marker))}, evil, pickle_protocol=2)
    # The payload is real: an ordinary unpickle runs it (here on a harmless proof file).
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(_Exploit(str(proof)))).close()
    assert proof.exists()
    code, err = _run(_infer(inp, evil, out_dir), capsys)
    _assert_clean_failure(code, err, out_dir, "Unsupported global")
    assert not marker.exists()


def test_missing_checkpoint_and_bad_output_name(student_ckpt, tmp_path, out_dir, capsys):
    inp = _csv(tmp_path / "ok.csv")
    code, err = _run(_infer(inp, tmp_path / "none.ckpt", out_dir), capsys)
    _assert_clean_failure(code, err, out_dir, "does not exist")
    argv = ["infer", "imu", inp, "--checkpoint", student_ckpt, "--out", out_dir / "o.txt"]
    code, err = _run(argv, capsys)
    _assert_clean_failure(code, err, out_dir, "must be an .npz file")


def test_failed_render_leaves_no_npz(student_ckpt, tmp_path, out_dir, capsys, monkeypatch):
    # An error after inference (here: in the video writer) must not leave the npz behind.
    import handpose.render.compare as compare

    def boom(*args, **kwargs):
        from handpose.errors import HandposeError

        raise HandposeError("rendering failed")

    monkeypatch.setattr(compare, "write_comparison_video", boom)
    inp = _csv(tmp_path / "ok.csv")
    code, err = _run(_infer(inp, student_ckpt, out_dir), capsys)
    _assert_clean_failure(code, err, out_dir, "rendering failed")
