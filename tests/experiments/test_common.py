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
