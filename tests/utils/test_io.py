"""Atomic writes: success renames into place; failure leaves the destination untouched."""

import os

import numpy as np
import pytest

from handpose.utils.io import atomic_path, atomic_write_text


def test_atomic_write_text_creates_file(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "hello")
    assert target.read_text() == "hello"
    assert os.listdir(target.parent) == ["a.txt"]


def test_failure_keeps_old_content_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half-written")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_temp_keeps_suffix_for_format_sniffing_libraries(tmp_path):
    target = tmp_path / "arrays.npz"
    with atomic_path(target) as tmp:
        assert tmp.name.endswith(".npz")
        np.savez(tmp, x=np.arange(3))
    assert os.listdir(tmp_path) == ["arrays.npz"]
    with np.load(target, allow_pickle=False) as f:
        assert f["x"].tolist() == [0, 1, 2]


def test_written_file_has_default_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "p.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "p.txt").stat().st_mode & 0o777 == 0o644
