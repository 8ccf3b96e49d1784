"""One experiment per folder at a time: the folder lock of every experiment runner."""

import importlib
import subprocess
import sys

import pytest

from handpose.errors import HandposeError
from handpose.experiments import common

HOLDER = """
import sys
from pathlib import Path
from handpose.experiments.common import lock_folder
lock_folder(Path(sys.argv[1]))
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def held(tmp_path):
    """A folder claimed by another process (until the fixture ends)."""
    out = tmp_path / "exp"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "held"
    yield out, proc
    proc.stdin.close()
    proc.wait(timeout=30)


def test_a_folder_held_by_another_process_is_refused_until_it_ends(held):
    out, proc = held
    with pytest.raises(HandposeError, match=rf"another experiment \(pid {proc.pid}\)"):
        common.lock_folder(out)
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    common.lock_folder(out)  # the holder's end released it
    common.lock_folder(out)  # claiming it again in this process is fine
    assert (out / common.LOCK_NAME).read_text().strip() == str(__import__("os").getpid())
    common.release_folder(out)
    common.release_folder(out)  # nothing held: nothing to do


@pytest.mark.parametrize("module", ["ehpe", "dir", "pgte", "mgdhand"])
def test_every_experiment_refuses_a_folder_in_use(held, module):
    out, proc = held
    mod = importlib.import_module(f"handpose.experiments.{module}")
    with pytest.raises(HandposeError, match="another experiment"):
        mod.run_experiment(out=out, doc=None, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [common.LOCK_NAME]  # nothing written


def test_archive_copies_only_the_records_under_the_same_paths(tmp_path):
    out, dest = tmp_path / "exp", tmp_path / "repo" / "records"
    run = out / "single" / "seed0" / "b" / "pg_WT_full"
    (run / "pg" / "checkpoints").mkdir(parents=True)
    (out / "data" / "single").mkdir(parents=True)
    (out / "experiment.json").write_text('{"runs": []}')
    (run / "result.json").write_text('{"metrics": {"pa_mpjpe": 26.0}}')
    (run / "pg" / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    (run / "log.txt").write_text("log")
    (out / "data" / "single" / "result.json").write_text("{}")  # not a record
    assert common.archive_records(out, dest) == 2
    copied = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert copied == ["experiment.json", "single/seed0/b/pg_WT_full/result.json"]
    assert (dest / "single/seed0/b/pg_WT_full/result.json").read_text() == (
        '{"metrics": {"pa_mpjpe": 26.0}}'
    )
    (run / "result.json").write_text('{"metrics": {"pa_mpjpe": 25.0}}')  # a rerun overwrites
    common.archive_records(out, dest)
    assert "25.0" in (dest / "single/seed0/b/pg_WT_full/result.json").read_text()


@pytest.mark.parametrize("inside", [".", "sub/records"])
def test_an_archive_inside_the_experiment_folder_is_refused(tmp_path, inside):
    out = tmp_path / "exp"
    out.mkdir()
    with pytest.raises(HandposeError, match="must lie outside the experiment folder"):
        common.archive_records(out, out / inside)
