"""Atomic writes: success renames into place; failure leaves the destination untouched, and a
destination that cannot be a file is refused before anything is written."""

import os

import numpy as np
import pytest

from handpose.errors import HandposeError
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


def test_refuses_a_folder_before_writing(tmp_path):
    (tmp_path / "o.npz").mkdir()
    with pytest.raises(HandposeError, match="the output '.*o.npz' is a folder; give a file name"):
        with atomic_path(tmp_path / "o.npz"):
            raise AssertionError("the body must not run")
    assert os.listdir(tmp_path) == ["o.npz"] and os.listdir(tmp_path / "o.npz") == []


def test_refuses_a_path_under_a_file(tmp_path):
    (tmp_path / "f").write_text("a file")
    with pytest.raises(HandposeError, match="lies under '.*f', which is a file"):
        atomic_write_text(tmp_path / "f" / "sub" / "a.txt", "x")
    assert os.listdir(tmp_path) == ["f"] and (tmp_path / "f").read_text() == "a file"


def test_failure_removes_the_folders_it_made(tmp_path):
    target = tmp_path / "new" / "deeper" / "a.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.parent.is_dir()
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []  # new/ and new/deeper/ are gone again


def test_failure_keeps_folders_that_existed_or_were_filled(tmp_path):
    (tmp_path / "old").mkdir()
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "old" / "a.txt"):
        raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == ["old"]
    # A folder made for this write but holding another (finished) file stays.
    with atomic_path(tmp_path / "n" / "first.txt") as first:
        first.write_text("kept")
        with pytest.raises(RuntimeError), atomic_path(tmp_path / "n" / "second.txt"):
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path / "n") == ["first.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_folder_is_one_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(HandposeError, match="no permission to write in"):
            atomic_write_text(ro / "a.txt", "x")
    finally:
        ro.chmod(0o700)
