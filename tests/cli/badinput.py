"""A harness for bad-input tests: run one ``handpose`` command, check it fails cleanly.

The contract every command meets on bad input (README, Conventions):

- exit status 2;
- exactly one line on stderr, ``handpose: error: <one sentence naming the file, field or
  option>``, and no traceback (warnings count as lines);
- the disk as it was: no new, changed or removed file in the working folder or in the shared
  input files (outputs, temporary files, run folders, clobbered results);
- no code from the input runs (a code-carrying pickle creates a marker file if it does).

A :class:`Case` is one row of a table: argv with ``{placeholders}``, the words the error line
must contain, and an optional ``setup`` that writes the bad inputs into the working folder.
Rows run in-process through :func:`handpose.cli.main` (fast) unless ``subprocess=True``; set
``HANDPOSE_BADINPUT_SUBPROCESS=1`` to run every row as a real ``python -m handpose`` process
(with a timeout), which is how the table is run against older code. New commands join by
adding rows (see ``tests/cli/test_bad_inputs.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess as sp
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ERROR_PREFIX = "handpose: error: "


@dataclass(frozen=True)
class Files:
    """Shared valid inputs (built once per session) the rows refer to as placeholders."""

    root: Path
    paths: dict[str, Path] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Path:
        try:
            return self.paths[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class Case:
    """One bad-input row.

    Attributes:
        id: test id, ``<command>-<what is wrong>``.
        argv: the command line after ``handpose``; ``{ws}`` is the working folder (also the
            current directory), other ``{name}`` the shared :class:`Files`.
        expect: substrings the error line must contain (formatted like ``argv``).
        setup: ``setup(ws, files)`` writes the bad inputs before the run.
        subprocess: run as ``python -m handpose`` (for what needs a real process).
        marker: a path (formatted) that must not exist afterwards (code from the input ran).
        stdin: text fed to a subprocess's stdin.
    """

    id: str
    argv: tuple[str, ...]
    expect: tuple[str, ...]
    setup: Callable[[Path, Files], None] | None = None
    subprocess: bool = False
    marker: str | None = None
    stdin: str | None = None


def case(id, argv, expect, setup=None, **kw) -> Case:
    """Shorthand: ``argv`` as a string split on spaces (or a list), ``expect`` a str or tuple."""
    argv = tuple(argv.split()) if isinstance(argv, str) else tuple(argv)
    expect = (expect,) if isinstance(expect, str) else tuple(expect)
    return Case(id, argv, expect, setup, **kw)


# ------------------------------------------------------------------------------ snapshots
def snapshot(*roots: Path) -> dict[str, tuple]:
    """Every file and folder under ``roots``: (kind, size, sha1) by path."""
    out: dict[str, tuple] = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for d in dirnames:
                out[os.path.join(dirpath, d)] = ("dir",)
            for f in filenames:
                p = os.path.join(dirpath, f)
                if os.path.islink(p) or not os.path.isfile(p):
                    out[p] = ("other",)
                    continue
                with open(p, "rb") as fh:
                    digest = hashlib.sha1(fh.read()).hexdigest()
                out[p] = ("file", os.path.getsize(p), digest)
    return out


def _diff(before: dict, after: dict) -> list[str]:
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return (
        [f"new {p}" for p in added]
        + [f"removed {p}" for p in removed]
        + [f"changed {p}" for p in changed]
    )


# ------------------------------------------------------------------------------ running
@dataclass
class Outcome:
    code: int | None
    stderr: str


def _python_default_warning_filters() -> None:
    """What a plain ``python -m handpose`` shows (pytest's own filters hide more)."""
    warnings.resetwarnings()
    warnings.simplefilter("default")
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
    for cat in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.filterwarnings("ignore", category=cat)


def run_in_process(argv: list[str], ws: Path, capfd) -> Outcome:
    from handpose.cli import main

    threads = None
    if "torch" in sys.modules:
        threads = sys.modules["torch"].get_num_threads()
    old_cwd = os.getcwd()
    os.chdir(ws)
    capfd.readouterr()
    try:
        with warnings.catch_warnings(record=True) as caught:
            _python_default_warning_filters()
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse
                code = exc.code
    finally:
        os.chdir(old_cwd)
        if threads is not None:
            sys.modules["torch"].set_num_threads(threads)
    err = capfd.readouterr().err
    for w in caught:  # a real process would print these on stderr
        err += warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
    return Outcome(code, err)


def run_subprocess(argv: list[str], ws: Path, stdin: str | None, timeout: float) -> Outcome:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("HANDPOSE_BADINPUT_SUBPROCESS", None)
    proc = sp.Popen(
        [sys.executable, "-m", "handpose", *argv],
        cwd=ws,
        env=env,
        stdin=sp.PIPE if stdin is not None else sp.DEVNULL,
        stdout=sp.PIPE,
        stderr=sp.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(stdin, timeout=timeout)
    except sp.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        return Outcome(None, err + f"\n[timed out after {timeout:g} s]")
    return Outcome(proc.returncode, err)


def check_case(c: Case, files: Files, tmp_path: Path, capfd) -> None:
    """Run one row and assert the bad-input contract (see the module docstring)."""
    timeout = float(os.environ.get("HANDPOSE_BADINPUT_TIMEOUT", 120))
    ws = tmp_path / "ws"
    ws.mkdir()
    if c.setup is not None:
        c.setup(ws, files)
    fmt = {"ws": ws, **files.paths}
    argv = [a.format(**fmt) for a in c.argv]
    expect = [e.format(**fmt) for e in c.expect]
    marker = Path(c.marker.format(**fmt)) if c.marker else None
    before = snapshot(ws, files.root)
    if c.subprocess or os.environ.get("HANDPOSE_BADINPUT_SUBPROCESS"):
        out = run_subprocess(argv, ws, c.stdin, timeout)
    else:
        out = run_in_process(argv, ws, capfd)
    if os.environ.get("HANDPOSE_BADINPUT_SHOW"):  # review the messages: pytest -s
        print(f"\n[{c.id}] exit {out.code}: {out.stderr.strip()}".replace(str(ws), "WS"))
    problems = []
    lines = out.stderr.strip().splitlines()
    if out.code != 2:
        problems.append(f"exit status {out.code}, expected 2")
    if "Traceback" in out.stderr:
        problems.append("a traceback")
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines, expected 1")
    elif not lines[0].startswith(ERROR_PREFIX):
        problems.append(f"the line does not start with {ERROR_PREFIX!r}")
    else:
        missing = [e for e in expect if e not in lines[0]]
        if missing:
            problems.append(f"the error line lacks {missing}")
    changes = _diff(before, snapshot(ws, files.root))
    if marker is not None and marker.exists():
        problems.append("code from the input ran (marker file exists)")
        changes = [ch for ch in changes if str(marker) not in ch]
    if changes:
        problems.append("the disk changed: " + "; ".join(changes[:5]))
    assert not problems, f"{c.id}: {', '.join(problems)}\n--- stderr ---\n{out.stderr[-3000:]}"


# ------------------------------------------------------------------------------ bad inputs
# Setup builders: each returns ``setup(ws, files)``; combine several with :func:`setups`.
def setups(*fns: Callable[[Path, Files], None]) -> Callable[[Path, Files], None]:
    def run(ws: Path, files: Files) -> None:
        for fn in fns:
            fn(ws, files)

    return run


def text(name: str, content: str) -> Callable[[Path, Files], None]:
    """A text file ``ws/name``."""

    def run(ws: Path, files: Files) -> None:
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_text(content)

    return run


def data(name: str, content: bytes) -> Callable[[Path, Files], None]:
    """A binary file ``ws/name``."""

    def run(ws: Path, files: Files) -> None:
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_bytes(content)

    return run


def garbage(name: str, size: int = 4096) -> Callable[[Path, Files], None]:
    """Random bytes (fixed seed)."""
    import random

    return data(name, random.Random(0).randbytes(size))


def folder(name: str) -> Callable[[Path, Files], None]:
    """A folder ``ws/name`` (e.g. named like a file: ``out.npz``)."""

    def run(ws: Path, files: Files) -> None:
        (ws / name).mkdir(parents=True, exist_ok=True)

    return run


def copy(src: str, name: str, truncate: float | None = None) -> Callable[[Path, Files], None]:
    """A copy of the shared file ``src`` as ``ws/name``, optionally cut to a fraction."""

    def run(ws: Path, files: Files) -> None:
        content = files.paths[src].read_bytes()
        if truncate is not None:
            content = content[: int(len(content) * truncate)]
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_bytes(content)

    return run


class Exploit:
    """Unpickling this creates ``marker`` (``open(marker, "w")``): a stand-in for any code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def code_pickle(
    name: str, marker: str = "pwned", wrap=lambda x: {"handpose": x}, torch_save: bool = True
):
    """A pickle (protocol 2) that runs code when unpickled unsafely: ``torch.save``'s zip
    container (a checkpoint) or a bare pickle (``torch_save=False``, e.g. a MANO file)."""

    def run(ws: Path, files: Files) -> None:
        import pickle

        import torch

        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        obj = wrap(Exploit(str(ws / marker)))
        if torch_save:
            torch.save(obj, ws / name, pickle_protocol=2)
        else:
            (ws / name).write_bytes(pickle.dumps(obj, protocol=2))

    return run


def h5_edit(src: str, name: str, edit: Callable) -> Callable[[Path, Files], None]:
    """A copy of the shared HDF5 file ``src`` as ``ws/name``, changed by ``edit(h5file)``."""

    def run(ws: Path, files: Files) -> None:
        import h5py

        (ws / name).write_bytes(files.paths[src].read_bytes())
        with h5py.File(ws / name, "r+") as f:
            edit(f)

    return run
