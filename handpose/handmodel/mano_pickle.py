"""Read the official MANO pickles safely, without chumpy; write plain-array copies.

The official ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl`` (``mano_v1_2.zip``, https://mano.is.tue.mpg.de)
are Python 2 pickles whose ``shapedirs`` is a chumpy object and whose ``J_regressor`` is a
``scipy.sparse`` CSC matrix (../shared/reference/mano.md §1). chumpy no longer imports on
numpy ≥ 1.24 / Python 3.11, and a plain ``pickle.load`` would run whatever code a tampered file
names. :func:`load_mano_pickle` therefore uses a restricted unpickler:

- only an allow-list of globals resolves: numpy's array/dtype/scalar reconstruction entry points
  (under ``numpy.core`` and ``numpy._core``), ``copyreg._reconstructor``, ``_codecs.encode``
  (Python 3 protocol-2 bytes), ``object`` and a few inert builtin containers;
- every ``chumpy.*`` class resolves to an inert stub and every ``scipy.sparse.*`` class to a
  sparse stub; both only record the state the pickle hands them;
- anything else (``os.system``, ``subprocess.Popen``, ``builtins.eval``, ...) raises
  :class:`pickle.UnpicklingError` before it can be called, so nothing executes.

After loading, the stubs are rebuilt into plain numpy arrays (chumpy ``Ch`` → its ``x``;
chumpy ``Select`` → ``ravel(a)[idxs]`` reshaped to ``preferred_shape``; CSC/CSR/COO → dense)
and the result is validated against MANO's layout.

:func:`save_npz_model` writes a plain-array ``.npz`` (no object arrays, loadable with
``allow_pickle=False``); :func:`export_mano_pickle` writes MANO's pickle layout with plain numpy
arrays so that other MANO layers (smplx, manopth, manotorch) can read a handpose model.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from typing import Any

import numpy as np

from handpose.errors import HandposeError
from handpose.utils.io import atomic_path
from handpose.utils.validate import input_file

__all__ = [
    "MANO_KEYS",
    "RestrictedUnpickler",
    "load_mano_pickle",
    "load_model_npz",
    "save_npz_model",
    "export_mano_pickle",
    "validate_mano_arrays",
]

# Keys of MANO's pickle that a forward model needs (mano.md §1.1).
MANO_KEYS: tuple[str, ...] = (
    "v_template",
    "f",
    "shapedirs",
    "posedirs",
    "J_regressor",
    "weights",
    "kintree_table",
    "hands_components",
    "hands_mean",
)
_NUM_JOINTS = 16
_NUM_POSE_FEATURES = 9 * (_NUM_JOINTS - 1)
_NUM_HAND_POSE = 3 * (_NUM_JOINTS - 1)


class _PickledStub:
    """Base of the inert stand-ins for chumpy / scipy classes: records state, runs nothing."""

    _source = "?"

    def __new__(cls, *args: Any, **kwargs: Any):  # NEWOBJ / REDUCE may pass arguments
        obj = object.__new__(cls)
        obj._args = args
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        # A class with __slots__ pickles (dict, slots); merge both.
        if isinstance(state, tuple) and len(state) == 2:
            merged: dict = {}
            for part in state:
                if isinstance(part, dict):
                    merged.update(part)
            state = merged
        if not isinstance(state, dict):
            state = {"_state": state}
        self._state = {_as_str(k): v for k, v in state.items()}

    def __repr__(self) -> str:
        return f"<stub of {self._source}>"


class ChumpyStub(_PickledStub):
    """Stand-in for any ``chumpy.*`` class (``Ch``, ``Select``, ...)."""


class SparseStub(_PickledStub):
    """Stand-in for any ``scipy.sparse.*`` matrix class."""


_stub_cache: dict[tuple[type, str], type] = {}


def _stub_for(base: type, module: str, name: str) -> type:
    """One stub subclass per pickled class name, so errors can name the original class."""
    key = (base, f"{module}.{name}")
    if key not in _stub_cache:
        _stub_cache[key] = type(name, (base,), {"_source": f"{module}.{name}"})
    return _stub_cache[key]


def _as_str(x: Any) -> Any:
    return x.decode("latin1") if isinstance(x, bytes) else x


def _numpy_entry_points() -> dict[str, Any]:
    # Take the reconstruction callables from numpy itself (no import of the deprecated
    # ``numpy.core`` path): what an ndarray / a scalar pickles as.
    reconstruct = np.zeros(1).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]
    return {"_reconstruct": reconstruct, "scalar": scalar}


def _latin1_encode(obj: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Python 3 writes bytes at protocol 2 as ``_codecs.encode(text, 'latin1')``. Only that codec
    # is honoured: a codec name is a module lookup, which an untrusted file must not steer.
    if not isinstance(obj, str) or encoding.replace("-", "").replace("_", "").lower() not in (
        "latin1",
        "iso88591",
        "l1",
    ):
        raise pickle.UnpicklingError("only latin-1 _codecs.encode calls are allowed")
    return obj.encode("latin1", errors)


def _empty_bytes(*args: Any) -> bytes:
    # Python 3 writes b"" at protocol 2 as ``bytes()``; ``bytes(n)`` could allocate anything.
    if args:
        raise pickle.UnpicklingError("only bytes() without arguments is allowed")
    return b""


_NP_MULTIARRAY = _numpy_entry_points()
_ALLOWED: dict[tuple[str, str], Any] = {}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    for _name, _fn in _NP_MULTIARRAY.items():
        _ALLOWED[(_mod, _name)] = _fn
_ALLOWED.update(
    {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("copy_reg", "_reconstructor"): __import__("copyreg")._reconstructor,
        ("copyreg", "_reconstructor"): __import__("copyreg")._reconstructor,
        ("_codecs", "encode"): _latin1_encode,
        ("__builtin__", "object"): object,
        ("builtins", "object"): object,
    }
)
for _mod in ("__builtin__", "builtins"):
    for _cls in (set, frozenset, complex, slice):
        _ALLOWED[(_mod, _cls.__name__)] = _cls
    _ALLOWED[(_mod, "bytes")] = _empty_bytes


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the allow-listed globals (see the module docstring).

    Python 2 module names (``copy_reg``, ``__builtin__``) are matched explicitly because
    overriding ``find_class`` bypasses pickle's own name mapping.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "chumpy" or module.startswith("chumpy."):
            return _stub_for(ChumpyStub, module, name)
        if module.startswith("scipy.sparse"):
            return _stub_for(SparseStub, module, name)
        raise pickle.UnpicklingError(
            f"refusing to load global '{module}.{name}': a MANO model pickle contains only "
            "numpy arrays, chumpy objects and scipy sparse matrices"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed in a MANO model pickle")


def _to_array(value: Any, key: str, depth: int = 0) -> Any:
    """Rebuild plain arrays from chumpy / sparse stubs (recursively); other values unchanged."""
    if depth > 32:
        raise HandposeError(f"MANO entry '{key}' nests chumpy objects too deeply")
    if isinstance(value, ChumpyStub):
        state = getattr(value, "_state", {})
        if "a" in state and "idxs" in state:  # chumpy.reordering.Select
            parent = np.asarray(_to_array(state["a"], key, depth + 1))
            idxs = np.asarray(_to_array(state["idxs"], key, depth + 1)).astype(np.int64)
            out = parent.ravel()[idxs.ravel()]
            shape = state.get("preferred_shape")
            if shape is not None:
                out = out.reshape(tuple(int(s) for s in _to_array(shape, key, depth + 1)))
            return out
        if "x" in state:  # chumpy.ch.Ch and its plain subclasses
            return np.asarray(_to_array(state["x"], key, depth + 1))
        raise HandposeError(
            f"MANO entry '{key}' is a chumpy {value._source} object this loader cannot rebuild "
            "(only Ch and Select are supported); convert the file with chumpy installed instead"
        )
    if isinstance(value, SparseStub):
        return _sparse_to_dense(value, key)
    return value


def _sparse_to_dense(stub: SparseStub, key: str) -> np.ndarray:
    state = getattr(stub, "_state", {})
    name = stub._source.rsplit(".", 1)[-1]
    shape = state.get("_shape", state.get("shape"))
    if shape is None:
        raise HandposeError(f"MANO entry '{key}' is a sparse matrix without a shape")
    n_rows, n_cols = (int(s) for s in shape)
    data = np.asarray(state.get("data"), dtype=np.float64).ravel()
    dense = np.zeros((n_rows, n_cols), dtype=np.float64)
    if name.startswith(("csc_", "csr_")):
        indices = np.asarray(state["indices"], dtype=np.int64).ravel()
        indptr = np.asarray(state["indptr"], dtype=np.int64).ravel()
        n_major = n_cols if name.startswith("csc_") else n_rows
        if indptr.shape[0] != n_major + 1 or indices.shape != data.shape:
            raise HandposeError(f"MANO entry '{key}' is a malformed {name}")
        major = np.repeat(np.arange(n_major), np.diff(indptr))
        rows, cols = (indices, major) if name.startswith("csc_") else (major, indices)
    elif name.startswith("coo_"):
        rows = np.asarray(state.get("row", state.get("coords", [[]])[0]), dtype=np.int64).ravel()
        cols = np.asarray(state.get("col", state.get("coords", [[], []])[1]), dtype=np.int64)
        cols = cols.ravel()
    else:
        raise HandposeError(f"MANO entry '{key}' is a scipy {name}, which this loader cannot read")
    if rows.size and (
        rows.max() >= n_rows or cols.max() >= n_cols or min(rows.min(), cols.min()) < 0
    ):
        raise HandposeError(f"MANO entry '{key}' has sparse indices outside its shape")
    np.add.at(dense, (rows, cols), data)  # duplicates sum, as in scipy's toarray()
    return dense


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise HandposeError(msg)


def validate_mano_arrays(arrays: dict[str, Any], source: str = "model") -> dict[str, np.ndarray]:
    """Check MANO's layout (mano.md §1.1) and return clean plain arrays.

    Returns float64 ``v_template (V,3)``, ``shapedirs (V,3,B)``, ``posedirs (V,3,135)``,
    ``J_regressor (16,V)`` (dense), ``weights (V,16)``, ``hands_components (45,45)``,
    ``hands_mean (45,)``; int64 ``f (F,3)`` and ``kintree_table (2,16)`` with the root's parent
    set to −1. V need not be 778 (the open hand model has its own mesh).

    Raises:
        HandposeError: a key is missing or has the wrong shape, dtype or values.
    """
    missing = [k for k in MANO_KEYS if k not in arrays]
    _check(not missing, f"{source} lacks the MANO entries {missing}")
    out: dict[str, np.ndarray] = {}
    for k in MANO_KEYS:
        a = np.asarray(arrays[k])
        _check(a.dtype != object, f"{source}: entry '{k}' is not a numeric array")
        out[k] = a
    v = out["v_template"]
    _check(v.ndim == 2 and v.shape[1] == 3, f"{source}: v_template must be (V, 3), got {v.shape}")
    V = v.shape[0]
    shapes = {
        "shapedirs": (V, 3, None),
        "posedirs": (V, 3, _NUM_POSE_FEATURES),
        "J_regressor": (_NUM_JOINTS, V),
        "weights": (V, _NUM_JOINTS),
        "kintree_table": (2, _NUM_JOINTS),
        "hands_components": (None, _NUM_HAND_POSE),
        "hands_mean": (_NUM_HAND_POSE,),
        "f": (None, 3),
    }
    for k, want in shapes.items():
        got = out[k].shape
        ok = len(got) == len(want) and all(w is None or w == g for w, g in zip(want, got))
        _check(ok, f"{source}: entry '{k}' must have shape {_fmt(want)}, got {got}")
    for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
        out[k] = out[k].astype(np.float64)
        _check(np.isfinite(out[k]).all(), f"{source}: entry '{k}' has non-finite values")
    for k in ("hands_components", "hands_mean"):
        out[k] = out[k].astype(np.float64)
    _check(out["shapedirs"].shape[2] >= 1, f"{source}: shapedirs has no shape components")
    f = out["f"]
    _check(np.issubdtype(f.dtype, np.integer), f"{source}: faces 'f' must be integers")
    f = f.astype(np.int64)
    _check(f.size == 0 or (f.min() >= 0 and f.max() < V), f"{source}: face indices out of range")
    out["f"] = f
    kt = out["kintree_table"].astype(np.int64)
    # The root's parent is a large sentinel (2**32 − 1) in the official files (smplx sets −1).
    kt[0, 0] = -1
    parents = kt[0]
    _check(
        all(-1 <= int(p) < k for k, p in enumerate(parents)) and (parents[1:] >= 0).all(),
        f"{source}: kintree_table does not describe a tree with parents before children",
    )
    out["kintree_table"] = kt
    row_sum = out["weights"].sum(axis=1)
    _check(np.allclose(row_sum, 1.0, atol=1e-3), f"{source}: skinning weight rows must sum to 1")
    return out


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"


def load_mano_pickle(path: str | os.PathLike) -> dict[str, Any]:
    """Load a MANO model pickle safely and return validated plain arrays.

    Args:
        path: an official ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl`` (Python 2, chumpy inside), a
            chumpy-free copy, or a pickle written by :func:`export_mano_pickle`.
    Returns:
        dict with the :data:`MANO_KEYS` arrays (see :func:`validate_mano_arrays`) plus any
        string entries (``bs_type``, ``bs_style``) and other plain arrays the file holds
        (``hands_coeffs``, ``J``, ...).
    Raises:
        HandposeError: the file is missing, is not a MANO pickle, or names a forbidden global
            (nothing from such a file is executed).
    """
    path = input_file(path, "MANO model file")
    raw = path.read_bytes()
    try:
        obj = RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except pickle.UnpicklingError as err:
        raise HandposeError(f"'{path}' was not loaded: {err}") from err
    except Exception as err:  # truncated or non-pickle data, bad reconstruction arguments
        raise HandposeError(f"'{path}' is not a readable MANO model pickle ({err})") from err
    if not isinstance(obj, dict):
        raise HandposeError(f"'{path}' is not a MANO model pickle (top level is not a dict)")
    obj = {_as_str(k): v for k, v in obj.items()}
    plain: dict[str, Any] = {}
    for k, v in obj.items():
        v = _to_array(v, k)
        if isinstance(v, bytes | str):
            plain[k] = _as_str(v)
        elif isinstance(v, np.ndarray) and v.dtype != object:
            plain[k] = v
        elif k in MANO_KEYS:
            plain[k] = np.asarray(v)
        # anything else (nested dicts of training info, ...) is not needed and is dropped
    validated = validate_mano_arrays(plain, source=f"'{path}'")
    plain.update(validated)
    return plain


def load_model_npz(path: str | os.PathLike) -> dict[str, Any]:
    """Load a plain-array model ``.npz`` with ``allow_pickle=False``.

    Returns every array; 0-d string arrays come back as ``str``. MANO entries are validated.
    """
    path = input_file(path, "hand model file")
    if not zipfile.is_zipfile(path):
        raise HandposeError(f"'{path}' is not a .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as err:  # object arrays need pickle: refused
        raise HandposeError(f"'{path}' holds object arrays; a model .npz must be plain") from err
    except Exception as err:
        raise HandposeError(f"'{path}' is not a readable .npz file ({err})") from err
    out: dict[str, Any] = {}
    for k, v in arrays.items():
        out[k] = str(v) if v.dtype.kind == "U" and v.ndim == 0 else v
    out.update(validate_mano_arrays(out, source=f"'{path}'"))
    return out


def save_npz_model(arrays: dict[str, Any], path: str | os.PathLike) -> None:
    """Write model arrays as a compressed plain ``.npz`` (atomically).

    Strings are stored as 0-d unicode arrays, so the file loads with ``allow_pickle=False``.

    Raises:
        HandposeError: an entry is neither a numeric array nor a string.
    """
    plain: dict[str, np.ndarray] = {}
    for k, v in arrays.items():
        if v is None:
            continue
        a = np.asarray(v)
        if a.dtype == object:
            raise HandposeError(f"cannot save entry '{k}' of type {type(v).__name__} to a .npz")
        plain[k] = a
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **plain)


def export_mano_pickle(arrays: dict[str, Any], path: str | os.PathLike) -> None:
    """Write MANO's pickle layout with plain numpy arrays (atomically, protocol 2).

    The file holds ``v_template, f, shapedirs, posedirs, J_regressor (dense), weights,
    kintree_table, hands_components, hands_mean`` and the strings ``bs_type='lrotmin'``,
    ``bs_style='lbs'``, as the official files do, but no chumpy or scipy objects, so smplx,
    manopth and manotorch (``pickle.load(f, encoding='latin1')``) read it without chumpy.
    The root entry of ``kintree_table`` is written as MANO's sentinel 2**32 − 1.

    Args:
        arrays: MANO arrays (e.g. ``HandModelData.to_mano_dict()``).
        path: destination ``.pkl``.
    """
    clean = validate_mano_arrays(arrays, source="model to export")
    kt = clean["kintree_table"].copy()
    kt[0, 0] = 2**32 - 1
    payload: dict[str, Any] = {
        "v_template": clean["v_template"],
        "f": clean["f"],
        "shapedirs": clean["shapedirs"],
        "posedirs": clean["posedirs"],
        "J_regressor": clean["J_regressor"],
        "weights": clean["weights"],
        "kintree_table": kt.astype(np.int64),
        "hands_components": clean["hands_components"],
        "hands_mean": clean["hands_mean"],
        "bs_type": "lrotmin",
        "bs_style": "lbs",
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        pickle.dump(payload, fh, protocol=2)
