"""Atomic writes: a temporary file in the destination folder, then ``os.replace``.

An interrupted write (an exception, Ctrl-C, a killed process) leaves no half-written file at the
destination: either the old file (or nothing) or the complete new file. A destination that
cannot be a file (a folder, a path under a file) is refused with a
:class:`~handpose.errors.HandposeError` before anything is written, and folders made for the
destination are removed again if the write fails.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from handpose.errors import HandposeError
from handpose.utils.validate import output_file

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "make_folders"]


def make_folders(path: str | os.PathLike) -> list[Path]:
    """``mkdir -p path``; returns the folders it created, outermost first.

    Raises:
        HandposeError: a parent is a file, or there is no permission to create the folders.
    """
    path = Path(path)
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    if p.exists() and not p.is_dir():
        raise HandposeError(f"cannot create the folder '{path}': '{p}' is a file.")
    created: list[Path] = []
    try:
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
    except OSError as err:
        remove_folders(created)
        raise HandposeError(f"cannot create the folder '{path}' ({err.strerror}).") from None
    return created


def remove_folders(folders: list[Path]) -> None:
    """Remove folders made by :func:`make_folders` (innermost first) if they are empty."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary file keeps the destination's suffix (or ``suffix``) so that libraries that
    choose a format by extension (numpy, imageio, h5py) behave as for the real name. On any
    exception the temporary file, and any folder created for ``path``, are removed and the
    destination is untouched.

    Raises:
        HandposeError: ``path`` is a folder, lies under a file, or cannot be written.

    Example:
        >>> with atomic_path("out.npz") as tmp:  # doctest: +SKIP
        ...     np.savez(tmp, a=1)
    """
    path = output_file(path, "output")
    created = make_folders(path.parent)
    sfx = suffix if suffix is not None else "".join(path.suffixes)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=f".tmp{sfx}", dir=path.parent
        )
    except OSError as err:
        remove_folders(created)
        raise HandposeError(f"cannot write the output '{path}' ({err.strerror}).") from None
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600; give the file the permissions a plain open() would (0666 & ~umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        if path.is_dir():  # made a folder meanwhile: refuse rather than fail in os.replace
            raise HandposeError(f"the output '{path}' is a folder; give a file name.")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        remove_folders(created)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
