"""The shared validation layer: one HandposeError sentence naming the file, field or option."""

import argparse
import math
import os

import h5py
import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.utils import validate as v


# ------------------------------------------------------------------------------ paths
def test_input_file(tmp_path):
    f = tmp_path / "a.h5"
    f.write_text("x")
    assert v.input_file(str(f), "data file") == f
    with pytest.raises(HandposeError, match=r"the data file '.*none.h5' does not exist\.$"):
        v.input_file(tmp_path / "none.h5", "data file")
    (tmp_path / "d.h5").mkdir()
    with pytest.raises(HandposeError, match=r"'.*d.h5' is a folder, not a file"):
        v.input_file(tmp_path / "d.h5", "data file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_input_file_unreadable(tmp_path):
    f = tmp_path / "a.h5"
    f.write_text("x")
    f.chmod(0)
    with pytest.raises(HandposeError, match="permission denied"):
        v.input_file(f)


def test_input_folder(tmp_path):
    assert v.input_folder(tmp_path) == tmp_path
    (tmp_path / "f").write_text("x")
    with pytest.raises(HandposeError, match="is a file, not a folder"):
        v.input_folder(tmp_path / "f", "VIHand root")
    with pytest.raises(HandposeError, match="the VIHand root '.*none' does not exist"):
        v.input_folder(tmp_path / "none", "VIHand root")


def test_output_file(tmp_path):
    assert v.output_file(tmp_path / "new" / "deeper" / "o.npz") == tmp_path / "new/deeper/o.npz"
    assert not (tmp_path / "new").exists()  # checking writes nothing
    (tmp_path / "o.npz").write_text("old")
    assert v.output_file(tmp_path / "o.npz", suffixes=(".npz",)) == tmp_path / "o.npz"
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(HandposeError, match="the output '.*dir.npz' is a folder; give a file"):
        v.output_file(tmp_path / "dir.npz", "output")
    (tmp_path / "f").write_text("x")
    with pytest.raises(HandposeError, match=r"'.*f/a/o.npz' lies under '.*f', which is a file"):
        v.output_file(tmp_path / "f" / "a" / "o.npz")
    with pytest.raises(HandposeError, match=r"must end in \.npz or \.npy, not '\.txt'"):
        v.output_file(tmp_path / "o.txt", suffixes=(".npz", ".npy"))
    with pytest.raises(HandposeError, match="not a file name"):
        v.output_file("")


def test_output_folder(tmp_path):
    assert v.output_folder(tmp_path / "run") == tmp_path / "run"
    assert not (tmp_path / "run").exists()
    (tmp_path / "f").write_text("x")
    with pytest.raises(HandposeError, match="the run folder '.*f' is a file, not a folder"):
        v.output_folder(tmp_path / "f", "run folder")
    with pytest.raises(HandposeError, match="lies under '.*f', which is a file"):
        v.output_folder(tmp_path / "f" / "run", "run folder")


# ------------------------------------------------------------------------------ numbers
@pytest.mark.parametrize(
    "factory, good, bad",
    [
        (v.positive_int, [("1", 1), ("70", 70)], ["0", "-3", "1.5", "x", ""]),
        (v.nonnegative_int, [("0", 0)], ["-1"]),
        (v.port, [("1", 1), ("65535", 65535)], ["0", "65536", "-1"]),
        (v.any_port, [("0", 0)], ["70000"]),
        (v.seed, [("0", 0), ("4294967295", 2**32 - 1)], ["-1", "4294967296"]),
        (v.positive_float, [("0.5", 0.5), ("3e2", 300.0)], ["0", "-1", "nan", "inf", "-inf", "a"]),
        (v.nonnegative_float, [("0", 0.0)], ["-0.1", "nan"]),
        (v.finite_float, [("-2", -2.0)], ["nan", "inf"]),
        (v.choice("cpu", "cuda"), [("cpu", "cpu")], ["gpu", ""]),
    ],
)
def test_option_types(factory, good, bad):
    for text, value in good:
        assert factory(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match=f"got '{text}'"):
            factory(text)


def test_option_type_messages():
    with pytest.raises(argparse.ArgumentTypeError, match=r"^expected an integer ≥ 8, got '3'$"):
        v.int_range(8)("3")
    with pytest.raises(argparse.ArgumentTypeError, match=r"≥ 1 and ≤ 65535, got '0'$"):
        v.port("0")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^expected a number > 0, got '0'$"):
        v.positive_float("0")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^expected a finite number, got 'nan'"):
        v.positive_float("nan")


def test_option_error_through_the_cli_is_one_line(capsys):
    from handpose.cli import main

    argv = ["infer", "imu", "x.csv", "--checkpoint", "c.ckpt", "--out", "o.npz", "--threads", "0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        "handpose: error: argument --threads: expected an integer ≥ 1, got '0' "
        "(see `handpose infer imu --help`).\n"
    )


def test_check_int_and_float():
    assert v.check_int(3, "--jobs", 1) == 3
    assert v.check_int(np.int64(4), "n") == 4 and v.check_int(5.0, "n") == 5
    for bad, match in [(0, r"--jobs must be an integer ≥ 1, got 0\."), (True, "integer")]:
        with pytest.raises(HandposeError, match=match):
            v.check_int(bad, "--jobs", 1)
    with pytest.raises(HandposeError, match="must be an integer, got 2.5"):
        v.check_int(2.5, "n")
    assert v.check_float(2, "fps", 0, lo_open=True) == 2.0
    for bad in (0.0, -1.0):
        with pytest.raises(HandposeError, match=r"fps must be a number > 0"):
            v.check_float(bad, "fps", 0, lo_open=True)
    for bad in (math.nan, math.inf):
        with pytest.raises(HandposeError, match="fps must be a finite number"):
            v.check_float(bad, "fps")
    with pytest.raises(HandposeError, match="must be a number, got 'x'"):
        v.check_float("x", "fps")
    assert v.check_choice("a", ["a", "b"], "mode") == "a"
    with pytest.raises(HandposeError, match="mode must be one of a, b, got 'c'"):
        v.check_choice("c", ["a", "b"], "mode")


# ------------------------------------------------------------------------------ arrays
def test_check_finite():
    a = np.zeros((5, 7, 3), np.float32)
    assert v.check_finite(a, "x") is not None
    a[3, 2, 1] = np.nan
    with pytest.raises(HandposeError, match=r"^'f.h5' ROM01: hand_pose holds NaN at frame 3\.$"):
        v.check_finite(a, "'f.h5' ROM01: hand_pose", first_axis="frame")
    a[4, 0, 0] = -np.inf
    a[3, 2, 1] = 0
    with pytest.raises(HandposeError, match=r"holds an infinite value at index \(4, 0, 0\)\.$"):
        v.check_finite(a, "acc")
    a[0, 0, 0] = np.nan
    with pytest.raises(HandposeError, match=r"NaN at index \(0, 0, 0\) \(2 non-finite values"):
        v.check_finite(a, "acc")
    v.check_finite(np.arange(3), "ints")  # integers are always finite


def test_check_shape_binds_names():
    dims = {}
    assert v.check_shape((24, 7, 4), ("T", "N", 4), "quaternion", dims) == (24, 7, 4)
    assert dims == {"T": 24, "N": 7}
    with pytest.raises(HandposeError, match=r"acc has shape \(24, 6, 3\), expected \(24, 7, 3\)"):
        v.check_shape((24, 6, 3), ("T", "N", 3), "acc", dims)
    with pytest.raises(HandposeError, match=r"expected \(24,\)"):
        v.check_shape((24, 1), ("T",), "t", dims)


# ------------------------------------------------------------------------------ HDF5
def test_h5_dataset_and_attr(tmp_path):
    with h5py.File(tmp_path / "f.h5", "w") as f:
        g = f.create_group("seq")
        g.create_dataset("pose", data=np.zeros((4, 45), np.float32))
        g.create_dataset("names", data=np.array([b"a", b"b"]))
        g.create_group("sub")
        g.attrs["fps"] = 30
        g.attrs["name"] = "ROM01"
        g.attrs["flag"] = True
    with h5py.File(tmp_path / "f.h5", "r") as f:
        g = f["seq"]
        dims = {}
        assert v.h5_dataset(g, "pose", ("T", 45), dims, where="W").shape == (4, 45)
        assert dims == {"T": 4}
        with pytest.raises(HandposeError, match="^W has no dataset 'betas'.$"):
            v.h5_dataset(g, "betas", ("T", 10), dims, where="W")
        with pytest.raises(HandposeError, match="'sub' is a group, not a dataset"):
            v.h5_dataset(g, "sub", where="W")
        with pytest.raises(HandposeError, match="dataset 'names' has type"):
            v.h5_dataset(g, "names", where="W")
        with pytest.raises(HandposeError, match=r"dataset 'pose' has shape \(4, 45\), expected"):
            v.h5_dataset(g, "pose", ("T", 48), dims, where="W")
        assert v.h5_attr(g, "fps", float, where="W") == 30.0
        assert v.h5_attr(g, "name", str, where="W") == "ROM01"
        with pytest.raises(HandposeError, match="attribute 'name' must be a number"):
            v.h5_attr(g, "name", float, where="W")
        with pytest.raises(HandposeError, match="attribute 'flag' must be int"):
            v.h5_attr(g, "flag", int, where="W")
        with pytest.raises(HandposeError, match="W has no attribute 'subject'"):
            v.h5_attr(g, "subject", int, where="W")


# ------------------------------------------------------------------------------ JSON, YAML, CSV
def test_json_helpers(tmp_path):
    p = tmp_path / "a.json"
    p.write_text('{"sensors": [1, 2], "t": 0.5}')
    obj = v.read_json(p, "frame file")
    assert v.json_field(obj, "sensors", "list", "W") == [1, 2]
    assert v.json_field(obj, "q", "list", "W", optional=True) is None
    with pytest.raises(HandposeError, match="^W: field 't' must be a list, got a number.$"):
        v.json_field(obj, "t", "list", "W")
    with pytest.raises(HandposeError, match="W has no field 'q'"):
        v.json_field(obj, "q", "list", "W")
    with pytest.raises(HandposeError, match="W must be a JSON object, got a list"):
        v.json_field([1], "q", "list", "W")
    with pytest.raises(HandposeError, match="field 'flag' must be a number, got a boolean"):
        v.json_field({"flag": True}, "flag", "number", "W")
    p.write_text('{"a": 1,\n "b": }')
    with pytest.raises(HandposeError, match=r"'.*a.json' is not valid JSON \(line 2, column 7"):
        v.read_json(p, "frame file")
    with pytest.raises(HandposeError, match="nests JSON too deeply"):
        v.parse_json("[" * 100_000 + "]" * 100_000, "the line")
    with pytest.raises(HandposeError, match="not UTF-8"):
        v.parse_json(b"\xff\xfe\xcd", "the line")


def test_number_list():
    assert v.number_list([1, 2.5], 2, "q").tolist() == [1.0, 2.5]
    with pytest.raises(HandposeError, match="q must hold 4 numbers, got 2"):
        v.number_list([1, 2], 4, "q")
    with pytest.raises(HandposeError, match="q must hold numbers only, got a string"):
        v.number_list([1, "x"], None, "q")
    with pytest.raises(HandposeError, match="q must be a list of numbers, got an object"):
        v.number_list({}, None, "q")


def test_read_yaml_is_one_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("data:\n  window: 8\n stride: [1,\n")
    with pytest.raises(HandposeError) as exc:
        v.read_yaml(p, "config file")
    msg = str(exc.value)
    assert "\n" not in msg and "c.yaml' is not valid YAML (line 3, column 2:" in msg
    p.write_text("a: 1\n")
    assert v.read_yaml(p) == {"a": 1}


def test_check_row():
    assert v.check_row(["1", "2"], 2, "row 3") == ["1", "2"]
    with pytest.raises(HandposeError, match="^row 3 has 3 cells but the header has 2 columns.$"):
        v.check_row(["1", "2", "3"], 2, "row 3")
