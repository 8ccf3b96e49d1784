"""What the experiment runners share: child processes, the run scheduler, one experiment per
folder at a time, the session record in ``experiment.json``, and the mean ± std and
paired-by-seed summaries of their reports."""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from handpose.errors import HandposeError
from handpose.utils.io import atomic_write_text

Log = Callable[[str], None]


# ------------------------------------------------------------------------------ child processes
def shown(cmd: Sequence[str]) -> str:
    """A command line as a user would type it (shell-quoted)."""
    return shlex.join(cmd)


def handpose_argv(cmd: Sequence[str]) -> list[str]:
    """``handpose …`` as a child-process command line (the interpreter running us)."""
    return [sys.executable, "-m", "handpose", *cmd[1:]]


def run_child(argv: Sequence[str], log: Path, cmd: Sequence[str] | None = None) -> float:
    """Run ``argv`` with one torch thread, its output appended to ``log``.

    Args:
        argv: the child's command line.
        log: the log file; it gets ``$ <cmd>`` before the output.
        cmd: the command as shown in the log and in errors (default ``argv``).
    Returns:
        the child's CPU seconds (user + system: on a shared machine the CPU time, not the wall
        time, says what a run costs).
    Raises:
        RuntimeError: the child exited with a non-zero code.
    """
    cmd = argv if cmd is None else cmd
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"$ {shown(cmd)}\n")
        fh.flush()
        proc = subprocess.Popen(list(argv), stdout=fh, stderr=subprocess.STDOUT, env=env)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            raise
        code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"exit code {code}: {shown(cmd)} (see {log})")
    return usage.ru_utime + usage.ru_stime


def run_handpose(cmd: Sequence[str], log: Path) -> float:
    """:func:`run_child` of a ``handpose …`` command line; returns its CPU seconds."""
    return run_child(handpose_argv(cmd), log, cmd)


def synthesise(cmd: Sequence[str], path: Path, what: str, log: Log) -> None:
    """Run the ``handpose synth …`` command ``cmd`` that writes ``path`` (one thread).

    Raises:
        HandposeError: the synthesis failed (with the end of its error output).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    log(f"synthesising {what}: {shown(cmd)}")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(handpose_argv(cmd), env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise HandposeError(f"data synthesis failed: {proc.stderr.strip()[-500:]}")


def hardware() -> dict:
    """CPU, core count, Python, torch and platform of this machine (for ``experiment.json``)."""
    import torch

    from handpose.utils.machine import cpu_name

    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


# ------------------------------------------------------------------------------ folder lock
_HELD: dict[str, int] = {}
LOCK_NAME = ".experiment.lock"


def lock_folder(out: Path) -> None:
    """Claim the experiment folder ``out`` for this process, or raise one HandposeError.

    Two experiments in one folder would train the same runs into the same files (checkpoints,
    metrics, ``result.json``) at once. The claim is an advisory lock (``fcntl.flock``) on
    ``OUT/.experiment.lock``, which holds the owner's pid; it ends with :func:`release_folder`
    or when the process ends, however it ends, so a killed experiment leaves nothing stale.
    Claiming a folder this process already holds does nothing. Without ``fcntl`` (Windows)
    nothing is locked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - POSIX only
        return
    key = str(Path(out).resolve())
    if key in _HELD:
        return
    fd = os.open(Path(out) / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise HandposeError(
            f"another experiment (pid {holder}) is running in '{out}'; two at once would train "
            "the same runs into the same files. Wait for it to finish, or choose another --out."
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _HELD[key] = fd


def release_folder(out: Path) -> None:
    """End this process's claim on ``out`` (:func:`lock_folder`); nothing if it holds none."""
    fd = _HELD.pop(str(Path(out).resolve()), None)
    if fd is not None:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# ------------------------------------------------------------------------------ archive
RECORDS = ("experiment.json", "result.json")


def check_archive(out: str | os.PathLike, dest: str | os.PathLike) -> tuple[Path, Path]:
    """``(out, dest)`` resolved, or one HandposeError if ``dest`` is ``out`` or inside it."""
    out, dest = Path(out).resolve(), Path(dest).resolve()
    if dest == out or out in dest.parents:
        raise HandposeError(
            f"--archive '{dest}' must lie outside the experiment folder '{out}' (--out)."
        )
    if dest.exists() and not dest.is_dir():
        raise HandposeError(f"--archive '{dest}' exists and is not a folder.")
    return out, dest


def archive_records(out: str | os.PathLike, dest: str | os.PathLike,
                    names: Sequence[str] = RECORDS) -> int:  # fmt: skip
    """Copy an experiment folder's records (the files named ``names``: by default
    ``experiment.json`` and every run's ``result.json``; no checkpoint, log or data) to
    ``dest`` under the same relative paths, each written atomically. Returns how many.

    The records are a few kB per run, small enough to keep in a repository, so the results
    outlive the folder: ``--report-only --out DEST`` reports from them, and copying ``dest``
    back as an experiment folder continues the experiment (a restored run whose checkpoint a
    pending run needs is trained again; see the runners). Files already in ``dest`` that the
    folder no longer has are kept.
    """
    out, dest = check_archive(out, dest)
    n = 0
    for path in sorted(p for name in names for p in out.rglob(name)):
        rel = path.relative_to(out)
        if rel.parts[0] == "data":  # synthesised data inside the folder is not a record
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, path.read_text(encoding="utf-8"))
        n += 1
    return n


# ------------------------------------------------------------------------------ scheduling
def make_log(progress: bool) -> Log:
    """A thread-safe ``[HH:MM:SS] message`` printer (through tqdm when a bar is shown)."""
    from tqdm.auto import tqdm

    lock = threading.Lock()

    def log(msg: str) -> None:
        line = f"[{datetime.now(UTC).strftime('%H:%M:%S')}] {msg}"
        with lock:
            tqdm.write(line) if progress else print(line, flush=True)

    return log


def resume_runs(
    specs: Sequence[Any], out: Path, jobs: int, desc: str, progress: bool, log: Log
) -> tuple[set[str], list[Any], Any]:
    """Split ``specs`` into the runs with a ``OUT/<key>/result.json`` and the rest; log the
    counts; open a tqdm bar (``desc``) over all of them, the finished ones counted.

    Returns:
        ``(keys done, specs still to run in plan order, the bar)``.
    """
    from tqdm.auto import tqdm

    done = {s.key for s in specs if (out / s.key / "result.json").exists()}
    pending = [s for s in specs if s.key not in done]
    log(f"{len(specs)} runs, {len(done)} already done, {len(pending)} to go, {jobs} at a time")
    bar = tqdm(total=len(specs), initial=len(done), desc=desc, disable=not progress)
    return done, pending, bar


def retry_once(execute: Callable[[Any], dict], log: Log, note: str) -> Callable[[Any], dict]:
    """``execute`` tried a second time, 5 s later, when it raises RuntimeError (a failed
    child process); ``note`` says in the log line why that is safe (e.g. "it resumes")."""

    def attempt(spec) -> dict:
        try:
            return execute(spec)
        except RuntimeError as err:
            log(f"retrying {spec.key} once ({note}): {err}")
            time.sleep(5)
            return execute(spec)

    return attempt


def schedule_runs(
    pending: Iterable[Any],
    jobs: int,
    execute: Callable[[Any], dict],
    finished: Callable[[Any, dict], None],
    log: Log,
    ready: Callable[[Any, Mapping[str, str]], bool | None] | None = None,
    blocked: str = "a run it needs failed",
) -> dict[str, str]:
    """Run ``execute(spec)`` for every spec in order, ``jobs`` at a time, in threads.

    A spec (anything with a ``key``) starts when ``ready(spec, failed)`` is True; False leaves
    it waiting for a run to finish, None drops it as failed with the reason ``blocked`` (no
    ``ready``: every spec is ready). A run that raises does not stop the others.

    Args:
        finished: called with the spec and its result after each successful run.
        log: gets ``start <key>`` and ``FAILED <key>: <error>`` lines.
    Returns:
        key → reason of every run that failed or was dropped.
    """
    pending = list(pending)
    failed: dict[str, str] = {}
    running: dict[Future, Any] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or running:
            for s in list(pending):
                if len(running) >= jobs:
                    break
                r = True if ready is None else ready(s, failed)
                if r is None:
                    pending.remove(s)
                    failed[s.key] = blocked
                elif r:
                    pending.remove(s)
                    log(f"start {s.key}")
                    running[pool.submit(execute, s)] = s
            if not running:
                break
            complete, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in complete:
                s = running.pop(fut)
                try:
                    res = fut.result()
                except Exception as err:  # a failed run must not stop the others
                    failed[s.key] = str(err)
                    log(f"FAILED {s.key}: {err}")
                    continue
                finished(s, res)
    return failed


def raise_failed(failed: Mapping[str, str]) -> None:
    """One HandposeError naming every failed run (key: reason); nothing when none failed."""
    if failed:
        details = "; ".join(f"{k}: {v}" for k, v in failed.items())
        raise HandposeError(f"{len(failed)} run(s) failed ({details})")


def write_meta(path: Path, meta: dict) -> None:
    """``experiment.json``, indented, written atomically."""
    atomic_write_text(path, json.dumps(meta, indent=2) + "\n")


def end_session(path: Path, meta: dict, session: dict, started: float, **counts) -> None:
    """Stamp the session's end, its wall time (s since ``started``) and ``counts``; write
    ``meta`` (which holds ``session``) to ``path``."""
    session["end"] = datetime.now(UTC).isoformat(timespec="seconds")
    session["wall_s"] = round(time.time() - started, 1)
    session.update(counts)
    write_meta(path, meta)


# ------------------------------------------------------------------------------ summaries
def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of a non-empty sequence."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def seed_delta(
    a: Mapping[int, float], b: Mapping[int, float], percent: bool = False
) -> tuple | None:
    """Paired differences a − b over the seeds both have (seed → value maps).

    Returns:
        ``(mean Δ, sample std of Δ, seeds where Δ < 0, seeds compared)``; with ``percent``
        ``(mean Δ, std Δ, mean Δ in % of b's mean on those seeds, seeds where Δ < 0, seeds
        compared)``; None without a common seed.
    """
    common = sorted(set(a) & set(b))
    if not common:
        return None
    diffs = [a[s] - b[s] for s in common]
    mean, std = mean_std(diffs)
    lower = sum(d < 0 for d in diffs)
    if not percent:
        return mean, std, lower, len(common)
    base = sum(b[s] for s in common) / len(common)
    return mean, std, 100 * mean / base, lower, len(common)


def fmt_mean_std(ms: tuple[float, float] | None, n: int, digits: int = 2) -> str:
    """``mean ± std`` over ``n`` seeds (the mean alone for one seed; ``—`` for None)."""
    if ms is None:
        return "—"
    mean, std = ms
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"


def fmt_over_seeds(by_seed: Mapping[int, float], digits: int = 2) -> str:
    """:func:`fmt_mean_std` of a seed → value map (``—`` when empty)."""
    if not by_seed:
        return "—"
    return fmt_mean_std(mean_std(list(by_seed.values())), len(by_seed), digits)


def fmt_delta_pct(d: tuple[float, float, float, int, int] | None) -> str:
    """A :func:`seed_delta` with ``percent``: ``+Δ ± std (+p %), k/n lower`` (``—`` for None)."""
    if d is None:
        return "—"
    mean, std, pct, lower, n = d
    spread = f" ± {std:.2f}" if n > 1 else ""
    return f"{mean:+.2f}{spread} ({pct:+.1f} %), {lower}/{n} lower"


def fmt_value(v: float | None, digits: int = 2) -> str:
    """A number with ``digits`` decimals, ``—`` for None."""
    return "—" if v is None else f"{v:.{digits}f}"
