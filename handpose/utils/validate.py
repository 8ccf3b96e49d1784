"""Input checks every command shares: paths, file schemas, option ranges, finite values.

Each check raises :class:`~handpose.errors.HandposeError` with one sentence naming the file,
field or option, and returns the checked (converted) value, so checks compose::

    data = input_file(args.data, "data file")
    out = output_file(args.out, "output", suffixes=(".npz",))
    p.add_argument("--threads", type=positive_int)          # argparse: one-line usage error
    frames = h5_dataset(group, "hand_pose", ("T", 45), dims, where="'x.h5' subject01/ROM01")

The helpers are small on purpose; a reader, writer or command combines them. numpy is imported
where it is needed, so that the command line can use the option types and stay fast to start.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handpose.errors import HandposeError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "input_file",
    "input_folder",
    "output_file",
    "output_folder",
    "shard_folder",
    "int_range",
    "float_range",
    "positive_int",
    "nonnegative_int",
    "finite_float",
    "positive_float",
    "nonnegative_float",
    "port",
    "any_port",
    "seed",
    "choice",
    "check_int",
    "check_float",
    "check_choice",
    "check_finite",
    "check_shape",
    "h5_dataset",
    "h5_attr",
    "read_json",
    "parse_json",
    "read_yaml",
    "json_field",
    "number_list",
    "check_row",
    "MAX_SEED",
]

MAX_SEED = 2**32 - 1  # numpy's and Lightning's seed range is [0, 2³² − 1]


# ------------------------------------------------------------------------------ paths
def input_file(path: str | os.PathLike, what: str = "input file") -> Path:
    """``path`` as a :class:`Path` if it is an existing, readable file (not a folder)."""
    p = Path(path)
    if p.is_dir():
        raise HandposeError(f"the {what} '{p}' is a folder, not a file.")
    if not p.exists():
        raise HandposeError(f"the {what} '{p}' does not exist.")
    if not p.is_file():
        raise HandposeError(f"the {what} '{p}' is not a regular file.")
    if not os.access(p, os.R_OK):
        raise HandposeError(f"the {what} '{p}' cannot be read (permission denied).")
    return p


def input_folder(path: str | os.PathLike, what: str = "folder") -> Path:
    """``path`` as a :class:`Path` if it is an existing folder."""
    p = Path(path)
    if not p.exists():
        raise HandposeError(f"the {what} '{p}' does not exist.")
    if not p.is_dir():
        raise HandposeError(f"the {what} '{p}' is a file, not a folder.")
    return p


def _file_above(p: Path) -> Path | None:
    """The nearest existing ancestor of ``p`` if it is not a folder (so ``p`` cannot exist)."""
    for parent in p.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def _writable_parent(p: Path, what: str) -> None:
    for parent in p.parents:
        if parent.exists():
            if not os.access(parent, os.W_OK | os.X_OK):
                raise HandposeError(
                    f"the {what} '{p}' cannot be written: no permission to write in '{parent}'."
                )
            return


def output_file(
    path: str | os.PathLike, what: str = "output file", suffixes: Sequence[str] | None = None
) -> Path:
    """``path`` as a :class:`Path` if a file can be written there (checked before any work).

    Refuses a folder, a path under a file, a folder without write permission and, with
    ``suffixes`` (lower case, e.g. ``(".npz",)``), another file extension. An existing file is
    fine: writers replace it atomically (:func:`handpose.utils.io.atomic_path`).
    """
    p = Path(path)
    if str(path) == "" or p.name in ("", ".", ".."):
        raise HandposeError(f"the {what} '{path}' is not a file name.")
    if p.is_dir():
        raise HandposeError(f"the {what} '{p}' is a folder; give a file name.")
    above = _file_above(p)
    if above is not None:
        raise HandposeError(f"the {what} '{p}' lies under '{above}', which is a file.")
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise HandposeError(
            f"the {what} '{p}' must end in {' or '.join(suffixes)}, not '{p.suffix or p.name}'."
        )
    _writable_parent(p, what)
    return p


def output_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """``path`` as a :class:`Path` if it is a folder or one can be made there."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise HandposeError(f"the {what} '{p}' is a file, not a folder.")
    above = _file_above(p)
    if above is not None:
        raise HandposeError(f"the {what} '{p}' lies under '{above}', which is a file.")
    if not p.exists():
        _writable_parent(p, what)
    return p


def shard_folder(
    path: str | os.PathLike,
    what: str = "shard folder",
    kinds: Sequence[str] | None = None,
    *,
    may_create: bool = False,
) -> Path:
    """``path`` if it is a shard folder (``manifest.json``) whose ``kind`` is one of ``kinds``.

    With ``may_create`` a path that does not exist yet is fine too (it will be generated there),
    provided a folder can be made there. Checks the manifest only, not the shards.
    """
    p = Path(path)
    if may_create and not p.exists():
        return output_folder(p, what)
    p = input_folder(p, what)
    manifest = p / "manifest.json"
    if not manifest.is_file():
        raise HandposeError(f"the {what} '{p}' is not a shard folder (it has no manifest.json).")
    data = read_json(manifest, f"{what} manifest")
    kind = data.get("kind") if isinstance(data, dict) else None
    if kinds is not None and kind not in kinds:
        raise HandposeError(
            f"the {what} '{p}' holds {kind or 'unknown'} data, not {' or '.join(kinds)} data."
        )
    return p


# ------------------------------------------------------------------------------ numbers
def _num(x) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def _bounds(lo, hi, lo_open: bool = False, hi_open: bool = False) -> str:
    lo_s = None if lo is None else f"{'>' if lo_open else '≥'} {_num(lo)}"
    hi_s = None if hi is None else f"{'<' if hi_open else '≤'} {_num(hi)}"
    if lo_s and hi_s:
        return f"{lo_s} and {hi_s}"
    return lo_s or hi_s or ""


def _in_range(x, lo, hi, lo_open: bool = False, hi_open: bool = False) -> bool:
    if lo is not None and (x <= lo if lo_open else x < lo):
        return False
    return not (hi is not None and (x >= hi if hi_open else x > hi))


def check_int(value: Any, what: str, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as an int in [lo, hi] (booleans and floats with a fraction are refused)."""
    import numpy as np

    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise HandposeError(f"{what} must be an integer, got {value!r}.")
    value = int(value)
    if not _in_range(value, lo, hi):
        raise HandposeError(f"{what} must be an integer {_bounds(lo, hi)}, got {value}.")
    return value


def check_float(
    value: Any,
    what: str,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """``value`` as a finite float in the range (open ends with ``lo_open``/``hi_open``)."""
    import numpy as np

    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise HandposeError(f"{what} must be a number, got {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise HandposeError(f"{what} must be a finite number, got {value}.")
    if not _in_range(value, lo, hi, lo_open, hi_open):
        raise HandposeError(
            f"{what} must be a number {_bounds(lo, hi, lo_open, hi_open)}, got {value:g}."
        )
    return value


def check_choice(value: Any, options: Iterable, what: str) -> Any:
    """``value`` if it is one of ``options``."""
    options = list(options)
    if value not in options:
        raise HandposeError(f"{what} must be one of {', '.join(map(str, options))}, got {value!r}.")
    return value


# argparse ``type=`` factories. argparse turns ArgumentTypeError into
# "argument --threads: <message>", which the CLI prints as one line.
def int_range(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [lo, hi]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got '{text}'") from None
        if not _in_range(value, lo, hi):
            raise argparse.ArgumentTypeError(f"expected an integer {_bounds(lo, hi)}, got '{text}'")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> Callable[[str], float]:
    """An argparse type: a finite number in the range (NaN and ±inf are refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got '{text}'")
        if not _in_range(value, lo, hi, lo_open, hi_open):
            raise argparse.ArgumentTypeError(
                f"expected a number {_bounds(lo, hi, lo_open, hi_open)}, got '{text}'"
            )
        return value

    parse.__name__ = "number"
    return parse


def choice(*options: str) -> Callable[[str], str]:
    """An argparse type: one of ``options`` (like ``choices=``, for comma lists and the like)."""

    def parse(text: str) -> str:
        if text not in options:
            raise argparse.ArgumentTypeError(f"expected one of {', '.join(options)}, got '{text}'")
        return text

    parse.__name__ = "choice"
    return parse


positive_int = int_range(1)
nonnegative_int = int_range(0)
finite_float = float_range()
positive_float = float_range(0.0, lo_open=True)
nonnegative_float = float_range(0.0)
port = int_range(1, 65535)  # a destination port
any_port = int_range(0, 65535)  # a port to listen on (0 = any free port)
seed = int_range(0, MAX_SEED)


# ------------------------------------------------------------------------------ arrays
def check_finite(array: Any, what: str, first_axis: str | None = None) -> np.ndarray:
    """``array`` as numpy if every value is finite; else name the first NaN/inf and its index.

    ``first_axis`` names the first axis in the message (e.g. "frame": "at frame 3").
    """
    import numpy as np

    a = np.asarray(array)
    if a.dtype.kind not in "fc":
        return a
    ok = np.isfinite(a)
    if ok.all():
        return a
    where = tuple(int(i) for i in np.argwhere(~ok)[0])
    kind = "NaN" if np.isnan(a[where]) else "an infinite value"
    at = ""
    if first_axis is not None and where:
        at = f" at {first_axis} {where[0]}"
    elif where:
        at = f" at index {where[0] if len(where) == 1 else where}"
    count = int((~ok).sum())
    more = f" ({count} non-finite values in all)" if count > 1 else ""
    raise HandposeError(f"{what} holds {kind}{at}{more}.")


def check_shape(
    shape: Sequence[int], pattern: Sequence[int | str], what: str, dims: dict | None = None
) -> tuple[int, ...]:
    """Check ``shape`` against ``pattern``: ints must match, names bind on first use.

    Example:
        >>> dims = {}
        >>> check_shape((24, 7, 4), ("T", "N", 4), "quaternion", dims), dims
        ((24, 7, 4), {'T': 24, 'N': 7})
    """
    shape = tuple(int(s) for s in shape)
    dims = {} if dims is None else dims
    want = tuple(dims.get(p, p) if isinstance(p, str) else p for p in pattern)
    ok = len(shape) == len(pattern)
    if ok:
        for s, p in zip(shape, pattern):
            if isinstance(p, str):
                if dims.setdefault(p, s) != s:
                    ok = False
            elif s != p:
                ok = False
    if not ok:
        shown = "(" + ", ".join(str(w) for w in want) + ("," if len(want) == 1 else "") + ")"
        raise HandposeError(f"{what} has shape {shape}, expected {shown}.")
    return shape


# ------------------------------------------------------------------------------ HDF5
def h5_dataset(
    group,
    name: str,
    pattern: Sequence[int | str] | None = None,
    dims: dict | None = None,
    *,
    where: str,
    kind: str = "f",
) -> np.ndarray:
    """Read the dataset ``group[name]`` after checking it exists with the expected shape.

    Args:
        group: an open ``h5py.Group``.
        pattern: the shape (see :func:`check_shape`), None for any.
        dims: named dimensions shared by several datasets (filled in as they bind).
        where: the file and group, for messages (``"'x.h5' subject01/ROM01"``).
        kind: numpy dtype kinds accepted (``"f"`` float, ``"b"`` bool, ``"fiu"``, ...).
    """
    import h5py

    obj = group.get(name)
    if obj is None:
        raise HandposeError(f"{where} has no dataset '{name}'.")
    if not isinstance(obj, h5py.Dataset):
        raise HandposeError(f"{where}: '{name}' is a group, not a dataset.")
    if obj.dtype.kind not in kind:
        raise HandposeError(f"{where}: dataset '{name}' has type {obj.dtype}, expected numbers.")
    if pattern is not None:
        check_shape(obj.shape, pattern, f"{where}: dataset '{name}'", dims)
    try:
        return obj[()]
    except (OSError, RuntimeError, ValueError) as err:
        raise HandposeError(f"{where}: dataset '{name}' cannot be read ({err}).") from None


def h5_attr(obj, name: str, types: type | tuple[type, ...], *, where: str) -> Any:
    """The attribute ``obj.attrs[name]`` (bytes decoded, numpy scalars as Python) if its type
    is one of ``types`` (``int`` accepts integral numbers, ``float`` any real number)."""
    import numpy as np

    if name not in obj.attrs:
        raise HandposeError(f"{where} has no attribute '{name}'.")
    value = obj.attrs[name]
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        value = value.item()
    types = types if isinstance(types, tuple) else (types,)
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        names = " or ".join("a number" if t is float else t.__name__ for t in types)
        raise HandposeError(f"{where}: attribute '{name}' must be {names}, got {value!r}.")
    return value


# ------------------------------------------------------------------------------ JSON / YAML
def parse_json(text: str | bytes, what: str) -> Any:
    """Decode JSON text; one line for malformed or too deeply nested input."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise HandposeError(
            f"{what} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})."
        ) from None
    except RecursionError:
        raise HandposeError(f"{what} nests JSON too deeply.") from None
    except UnicodeDecodeError:
        raise HandposeError(f"{what} is not UTF-8 text.") from None


def read_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    """Read and decode a JSON file (see :func:`parse_json`)."""
    p = input_file(path, what)
    try:
        raw = p.read_bytes()
    except OSError as err:
        raise HandposeError(f"the {what} '{p}' cannot be read ({err.strerror}).") from None
    return parse_json(raw, f"the {what} '{p}'")


def read_yaml(path: str | os.PathLike, what: str = "YAML file") -> Any:
    """Read a YAML file (safe loader); a syntax error is one line with its position."""
    import yaml

    p = input_file(path, what)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise HandposeError(f"the {what} '{p}' cannot be read ({err.strerror}).") from None
    except UnicodeDecodeError:
        raise HandposeError(f"the {what} '{p}' is not UTF-8 text.") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise HandposeError(f"the {what} '{p}' is not valid YAML ({at}{problem}).") from None
    except RecursionError:
        raise HandposeError(f"the {what} '{p}' nests too deeply.") from None


_KINDS: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "list": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
}


def json_field(obj: Any, key: str, kind: str, where: str, *, optional: bool = False) -> Any:
    """``obj[key]`` if ``obj`` is an object holding a ``kind`` there ("object", "list",
    "string", "number", "integer", "boolean"); None when absent and ``optional``."""
    if not isinstance(obj, dict):
        raise HandposeError(f"{where} must be a JSON object, got {_json_type(obj)}.")
    if key not in obj or (optional and obj[key] is None):
        if optional:
            return None
        raise HandposeError(f"{where} has no field '{key}'.")
    value = obj[key]
    types = _KINDS[kind]
    if not isinstance(value, types) or (isinstance(value, bool) and kind != "boolean"):
        raise HandposeError(f"{where}: field '{key}' must be a {kind}, got {_json_type(value)}.")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def number_list(value: Any, length: int | None, what: str) -> np.ndarray:
    """A flat list of ``length`` numbers (any length if None) as float64."""
    import numpy as np

    if not isinstance(value, list):
        raise HandposeError(f"{what} must be a list of numbers, got {_json_type(value)}.")
    if length is not None and len(value) != length:
        raise HandposeError(f"{what} must hold {length} numbers, got {len(value)}.")
    bad = [v for v in value if isinstance(v, bool) or not isinstance(v, (int, float))]
    if bad:
        raise HandposeError(f"{what} must hold numbers only, got {_json_type(bad[0])}.")
    return np.asarray(value, dtype=np.float64)


# ------------------------------------------------------------------------------ CSV
def check_row(cells: Sequence[str], num_columns: int, where: str) -> Sequence[str]:
    """A CSV row with exactly as many cells as the header has columns."""
    if len(cells) != num_columns:
        raise HandposeError(
            f"{where} has {len(cells)} cells but the header has {num_columns} columns."
        )
    return cells
