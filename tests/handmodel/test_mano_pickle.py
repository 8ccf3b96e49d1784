"""The restricted MANO unpickler, plain-array npz copies and the MANO-layout export."""

from __future__ import annotations

import os
import pickle
import pickletools
import sys

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.handmodel.mano_pickle import (
    MANO_KEYS,
    export_mano_pickle,
    load_mano_pickle,
    load_model_npz,
    save_npz_model,
    validate_mano_arrays,
)

from .mano_fixtures import (
    FakeCh,
    mano_pickle_payload,
    py2_pickle_bytes,
    random_mano_arrays,
    write_mano_pickle,
)


@pytest.fixture(scope="module")
def arrays():
    return random_mano_arrays(0)


def _expected(arrays, key):
    a = np.asarray(arrays[key])
    if key == "kintree_table":
        a = a.astype(np.int64).copy()
        a[0, 0] = -1
    return a


def _assert_same_model(loaded, arrays):
    for k in MANO_KEYS:
        np.testing.assert_array_equal(loaded[k], _expected(arrays, k), err_msg=k)


# ----------------------------------------------------------------------------- the MANO layout
def test_fixture_has_the_official_structure_and_no_chumpy(arrays, tmp_path):
    raw = py2_pickle_bytes(mano_pickle_payload(arrays))
    globals_ = {arg for op, arg, _ in pickletools.genops(raw) if op.name == "GLOBAL"}
    assert "chumpy.ch Ch" in globals_ and "chumpy.reordering Select" in globals_
    assert "scipy.sparse.csc csc_matrix" in globals_
    assert "numpy.core.multiarray _reconstruct" in globals_  # the Python 2 era module path
    assert raw[:2] == b"\x80\x02"  # protocol 2
    assert "chumpy" not in sys.modules


def test_loads_mano_layout_pickle_without_chumpy(arrays, tmp_path):
    path = tmp_path / "MANO_RIGHT.pkl"
    write_mano_pickle(path, arrays)
    loaded = load_mano_pickle(path)
    _assert_same_model(loaded, arrays)
    assert loaded["shapedirs"].shape == (778, 3, 10)  # Select picked 10 of the Ch's 20
    assert loaded["J_regressor"].shape == (16, 778)  # CSC densified
    assert loaded["bs_type"] == "lrotmin" and loaded["bs_style"] == "lbs"
    assert loaded["hands_coeffs"].shape == (4, 45) and loaded["J"].shape == (16, 3)
    assert "chumpy" not in sys.modules


def test_protocol_0_copyreg_reconstructor_variant(arrays, tmp_path):
    # Older pickles rebuild objects through copy_reg._reconstructor instead of NEWOBJ.
    payload = {"x": FakeCh(np.arange(6.0).reshape(2, 3))}
    raw = py2_pickle_bytes(payload, protocol=0)
    assert b"copy_reg\n_reconstructor" in raw
    path = tmp_path / "p0.pkl"
    path.write_bytes(raw)
    full = mano_pickle_payload(arrays)
    full["x"] = payload["x"]
    path.write_bytes(py2_pickle_bytes(full, protocol=0))
    loaded = load_mano_pickle(path)
    np.testing.assert_array_equal(loaded["x"], np.arange(6.0).reshape(2, 3))
    _assert_same_model(loaded, arrays)


def test_python3_plain_pickle_loads(arrays, tmp_path):
    path = tmp_path / "plain.pkl"
    with open(path, "wb") as fh:
        pickle.dump(dict(arrays), fh, protocol=2)  # bytes as _codecs.encode, numpy._core
    _assert_same_model(load_mano_pickle(path), arrays)


# ----------------------------------------------------------------------------- safety
MARKER_PAYLOADS = {
    "os.system": lambda m: b"cos\nsystem\n(S'touch " + m + b"'\ntR.",
    "posix.system": lambda m: b"cposix\nsystem\n(S'touch " + m + b"'\ntR.",
    "subprocess.call": lambda m: b"csubprocess\ncall\n((S'touch'\nS'" + m + b"'\nltR.",
    "builtins.eval": lambda m: b"c__builtin__\neval\n(S'open(\"" + m + b'", "w")\'\ntR.',
    "builtins.exec": lambda m: b"cbuiltins\nexec\n(S'open(\"" + m + b'", "w")\'\ntR.',
    "builtins.getattr": lambda m: (
        b"c__builtin__\ngetattr\n(c__builtin__\nobject\nS'__subclasses__'\ntR."
    ),
}


@pytest.mark.parametrize("name", sorted(MARKER_PAYLOADS))
def test_malicious_pickle_executes_nothing(name, tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "MANO_RIGHT.pkl"
    path.write_bytes(MARKER_PAYLOADS[name](str(marker).encode()))
    # Sanity: the payload really runs under plain pickle (except the getattr probe).
    if name != "builtins.getattr":
        control = tmp_path / "control"
        pickle.loads(MARKER_PAYLOADS[name](str(control).encode()))
        assert control.exists()
    with pytest.raises(HandposeError, match="refusing to load global"):
        load_mano_pickle(path)
    assert not marker.exists()


def test_malicious_global_nested_inside_a_model_is_refused(arrays, tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    payload = mano_pickle_payload(arrays)
    payload["hands_mean"] = Evil()
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(HandposeError, match="refusing"):
        load_mano_pickle(path)


def test_codecs_and_bytes_are_restricted(tmp_path):
    path = tmp_path / "codec.pkl"
    path.write_bytes(b"c_codecs\nencode\n(Vabc\nVrot13\ntR.")
    with pytest.raises(HandposeError, match="latin-1"):
        load_mano_pickle(path)
    path.write_bytes(b"c__builtin__\nbytes\n(I100000000000\ntR.")
    with pytest.raises(HandposeError, match="bytes"):
        load_mano_pickle(path)


def test_broken_and_wrong_files(arrays, tmp_path):
    with pytest.raises(HandposeError, match="does not exist"):
        load_mano_pickle(tmp_path / "missing.pkl")
    path = tmp_path / "trunc.pkl"
    path.write_bytes(py2_pickle_bytes(mano_pickle_payload(arrays))[:5000])
    with pytest.raises(HandposeError):
        load_mano_pickle(path)
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(HandposeError, match="not a dict"):
        load_mano_pickle(path)
    bad = dict(arrays)
    bad["weights"] = bad["weights"][:, :15]
    path.write_bytes(pickle.dumps(bad))
    with pytest.raises(HandposeError, match="weights"):
        load_mano_pickle(path)
    bad = {k: v for k, v in arrays.items() if k != "posedirs"}
    path.write_bytes(pickle.dumps(bad))
    with pytest.raises(HandposeError, match="posedirs"):
        load_mano_pickle(path)


def test_validation_messages(arrays):
    bad = dict(arrays)
    bad["weights"] = np.full((778, 16), 0.5)
    with pytest.raises(HandposeError, match="sum to 1"):
        validate_mano_arrays(bad)
    bad = dict(arrays)
    bad["f"] = np.array([[0, 1, 9999]])
    with pytest.raises(HandposeError, match="face indices"):
        validate_mano_arrays(bad)
    bad = dict(arrays)
    bad["kintree_table"] = np.array([[0] * 16, list(range(16))])
    bad["kintree_table"][0, 3] = 7
    with pytest.raises(HandposeError, match="kintree"):
        validate_mano_arrays(bad)


# ----------------------------------------------------------------------------- npz and export
def test_npz_round_trip_is_plain(arrays, tmp_path):
    path = tmp_path / "m.npz"
    save_npz_model({**arrays, "side": "left"}, path)
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    loaded = load_model_npz(path)
    _assert_same_model(loaded, arrays)
    assert loaded["side"] == "left"
    with pytest.raises(HandposeError):
        save_npz_model({**arrays, "bad": {"a": 1}}, tmp_path / "x.npz")
    obj = tmp_path / "obj.npz"
    np.savez(obj, **arrays, evil=np.array([{"a": 1}], dtype=object))
    with pytest.raises(HandposeError, match="object arrays"):
        load_model_npz(obj)


def test_export_round_trips_and_uses_only_plain_numpy(arrays, tmp_path):
    path = tmp_path / "exported.pkl"
    export_mano_pickle(arrays, path)
    raw = path.read_bytes()
    globals_ = {arg for op, arg, _ in pickletools.genops(raw) if op.name == "GLOBAL"}
    assert all(g.split()[0] in ("numpy", "numpy._core.multiarray", "_codecs") for g in globals_), (
        globals_
    )
    _assert_same_model(load_mano_pickle(path), arrays)
    # What smplx / manopth do with a MANO file: a plain latin-1 pickle.load (trusted here).
    with open(path, "rb") as fh:
        plain = pickle.load(fh, encoding="latin1")
    assert set(MANO_KEYS) <= set(plain) and plain["bs_type"] == "lrotmin"
    assert all(isinstance(plain[k], np.ndarray) for k in MANO_KEYS)
    assert plain["kintree_table"][0, 0] == 2**32 - 1  # MANO's root sentinel
    assert plain["J_regressor"].shape == (16, 778)
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left no temp file


def test_convert_npz_equals_pickle_load(arrays, tmp_path):
    from handpose.handmodel import load_hand_model_data

    pkl = tmp_path / "MANO_LEFT.pkl"
    write_mano_pickle(pkl, arrays)
    from_pkl = load_hand_model_data(pkl)
    assert from_pkl.side == "left"  # from the file name
    npz = tmp_path / "mano_left.npz"
    from_pkl.save_npz(npz)
    from_npz = load_hand_model_data(npz)
    assert from_npz.side == "left"
    for k in ("v_template", "faces", "shapedirs", "posedirs", "J_regressor", "weights"):
        np.testing.assert_array_equal(getattr(from_npz, k), getattr(from_pkl, k))
    assert from_npz.parents == from_pkl.parents and from_npz.tip_ids == from_pkl.tip_ids
