"""Helpers for the hand model tests: random arrays in MANO's exact layout, py2-style pickles.

The official MANO files are licensed and never available in tests, so fixtures are synthetic
arrays with MANO's shapes (V = 778, 1538 faces, 10 betas, 135 pose features, 16 joints) and
plausible structure (rows of the regressor and of the skinning weights sum to 1, an orthonormal
pose PCA basis, the real kinematic tree with MANO's 2**32 − 1 root sentinel).
"""

from __future__ import annotations

import io
import pickle
import struct

import numpy as np
import pytest
import scipy.sparse

from handpose.handmodel.conventions import MANO_PARENTS  # noqa: F401  (re-exported for tests)
from handpose.handmodel.data import HandModelData, open_model_path

MANO_V = 778
MANO_F = 1538


def random_mano_arrays(seed: int = 0, V: int = MANO_V, F: int = MANO_F) -> dict[str, np.ndarray]:
    """Random arrays with MANO's keys, shapes and dtypes (float64, metres)."""
    rng = np.random.default_rng(seed)
    v_template = rng.normal(0.0, 0.04, size=(V, 3))
    # Joint regressor: each joint averages ~20 vertices (like MANO's sparse 16×778 regressor).
    J_regressor = np.zeros((16, V))
    for j in range(16):
        m = min(20, V)
        idx = rng.choice(V, size=m, replace=False)
        w = rng.uniform(0.1, 1.0, size=m)
        J_regressor[j, idx] = w / w.sum()
    # Skinning weights: each vertex bound to 1–4 joints.
    weights = np.zeros((V, 16))
    for i in range(V):
        k = rng.integers(1, 5)
        idx = rng.choice(16, size=k, replace=False)
        w = rng.uniform(0.1, 1.0, size=k)
        weights[i, idx] = w / w.sum()
    q, _ = np.linalg.qr(rng.normal(size=(45, 45)))
    kintree = np.stack([np.array(MANO_PARENTS), np.arange(16)]).astype(np.int64)
    kintree[0, 0] = 2**32 - 1  # MANO's root sentinel
    return {
        "v_template": v_template,
        "f": rng.integers(0, V, size=(F, 3)).astype(np.uint32),
        "shapedirs": rng.normal(0.0, 0.005, size=(V, 3, 10)),
        "posedirs": rng.normal(0.0, 0.005, size=(V, 3, 135)),
        "J_regressor": J_regressor,
        "weights": weights,
        "kintree_table": kintree,
        "hands_components": q.T * rng.uniform(0.2, 1.0, size=(45, 1)),
        "hands_mean": rng.normal(0.0, 0.2, size=45),
    }


def random_model_data(seed: int = 0, side: str = "right", **kw) -> HandModelData:
    """Random MANO-layout model; smaller meshes get tips at their last five vertices."""
    arrays = random_mano_arrays(seed, **kw)
    V = arrays["v_template"].shape[0]
    tips = None if V == MANO_V else tuple(range(V - 5, V))
    return HandModelData.from_arrays(arrays, side=side, name=f"random{seed}", tip_ids=tips)


@pytest.fixture(scope="session")
def mano_arrays() -> dict[str, np.ndarray]:
    return random_mano_arrays(0)


@pytest.fixture(scope="session")
def mano_data() -> HandModelData:
    return random_model_data(0)


def open_asset_available() -> bool:
    return open_model_path().is_file()


needs_open_asset = pytest.mark.skipif(
    not open_asset_available(), reason="open hand asset not generated yet"
)


# --------------------------------------------------------------------------- MANO-style pickles
# The official files are Python 2 pickles (protocol 2) whose ``shapedirs`` is a
# ``chumpy.reordering.Select`` over a ``chumpy.ch.Ch`` and whose ``J_regressor`` is a scipy CSC
# matrix. chumpy is not installed here, so stand-in classes are pickled under chumpy's module
# names by a pickler that writes the GLOBAL opcode itself. Strings and raw array bytes are written
# as Python 2 ``str`` (BINSTRING), and numpy's reconstruct function under its Python 2 era path
# ``numpy.core.multiarray``, as in the real files.


class FakeCh:
    """Pickled as ``chumpy.ch.Ch``: its state holds the value under ``x``."""

    pickle_as = ("chumpy.ch", "Ch")

    def __init__(self, x):
        self.x = x
        self._dirty_vars = {"x"}  # chumpy keeps bookkeeping sets in its state
        self.label = None


class FakeSelect:
    """Pickled as ``chumpy.reordering.Select``: ``ravel(a)[idxs]`` shaped ``preferred_shape``."""

    pickle_as = ("chumpy.reordering", "Select")

    def __init__(self, a, idxs, preferred_shape):
        self.a = a
        self.idxs = idxs
        self.preferred_shape = preferred_shape


_PY2_MODULES = {
    "numpy._core.multiarray": "numpy.core.multiarray",
    "copyreg": "copy_reg",
    "builtins": "__builtin__",
    "scipy.sparse._csc": "scipy.sparse.csc",
}


class Py2StylePickler(pickle._Pickler):
    """Protocol-2 pickler that writes globals, ``str`` and ``bytes`` as Python 2 did."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_global(self, obj, name=None):
        module, qualname = getattr(obj, "pickle_as", (None, None))
        if module is None:
            module = getattr(obj, "__module__", None)
            qualname = name or obj.__qualname__
            module = _PY2_MODULES.get(module, module)
        self.write(pickle.GLOBAL + module.encode() + b"\n" + qualname.encode() + b"\n")
        self.memoize(obj)

    dispatch[type] = save_global

    def save_py2_str(self, obj):
        data = obj if isinstance(obj, bytes) else obj.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def py2_pickle_bytes(obj, protocol: int = 2) -> bytes:
    buf = io.BytesIO()
    Py2StylePickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def mano_pickle_payload(arrays: dict[str, np.ndarray]) -> dict:
    """The official file's structure: chumpy shapedirs (Select over a larger Ch), CSC regressor,
    ``bs_type``/``bs_style`` strings and the undocumented extras ``hands_coeffs`` and ``J``."""
    V = arrays["v_template"].shape[0]
    shapedirs = arrays["shapedirs"]
    # The parent Ch holds 20 components; the Select picks the first 10 of each (v, c) row.
    parent = np.concatenate([shapedirs, np.full_like(shapedirs, 7.0)], axis=2)  # (V, 3, 20)
    idxs = (np.arange(V * 3)[:, None] * 20 + np.arange(10)[None, :]).ravel()
    payload = {
        "v_template": arrays["v_template"],
        "f": arrays["f"],
        "shapedirs": FakeSelect(FakeCh(parent), idxs, (V, 3, 10)),
        "posedirs": arrays["posedirs"],
        "J_regressor": scipy.sparse.csc_matrix(arrays["J_regressor"]),
        "weights": arrays["weights"],
        "kintree_table": arrays["kintree_table"],
        "hands_components": arrays["hands_components"],
        "hands_mean": arrays["hands_mean"],
        "hands_coeffs": np.zeros((4, 45)),
        "J": arrays["J_regressor"] @ arrays["v_template"],
        "bs_type": "lrotmin",
        "bs_style": "lbs",
    }
    return payload


def write_mano_pickle(path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:
        fh.write(py2_pickle_bytes(mano_pickle_payload(arrays)))
