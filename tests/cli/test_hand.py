"""``handpose hand``: convert, export, info and render through ``handpose.cli.main``."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from handmodel.mano_fixtures import random_mano_arrays, write_mano_pickle

from handpose.cli import main
from handpose.handmodel import load_hand_model_data
from handpose.handmodel.data import MANO_ENV_VAR, open_model_path


@pytest.fixture(scope="module")
def mano_pkl(tmp_path_factory):
    path = tmp_path_factory.mktemp("mano") / "MANO_RIGHT.pkl"
    write_mano_pickle(path, random_mano_arrays(0))
    return path


def test_convert_writes_plain_npz_equal_to_pickle(mano_pkl, tmp_path, capsys):
    out = tmp_path / "mano_right.npz"
    assert main(["hand", "convert", str(mano_pkl), str(out)]) == 0
    assert "778 vertices" in capsys.readouterr().out
    with np.load(out, allow_pickle=False) as z:
        assert str(z["side"]) == "right"
    a, b = load_hand_model_data(mano_pkl), load_hand_model_data(out)
    for k in ("v_template", "faces", "shapedirs", "posedirs", "J_regressor", "weights"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))


def test_convert_errors_exit_2(mano_pkl, tmp_path, capsys):
    assert main(["hand", "convert", str(mano_pkl), str(tmp_path / "x.pkl")]) == 2
    assert "must end in .npz" in capsys.readouterr().err
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    assert main(["hand", "convert", str(evil), str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("handpose: error:") and "refusing" in err
    assert not (tmp_path / "x.npz").exists()


def test_export_round_trip_from_a_model_path(mano_pkl, tmp_path):
    out = tmp_path / "exported.pkl"
    assert main(["hand", "export", "--model", str(mano_pkl), str(out)]) == 0
    with open(out, "rb") as fh:
        plain = pickle.load(fh, encoding="latin1")  # our own file: trusted
    np.testing.assert_array_equal(plain["weights"], load_hand_model_data(mano_pkl).weights)


@pytest.mark.skipif(not open_model_path().is_file(), reason="open hand asset not generated yet")
def test_export_open_left_and_info(tmp_path, capsys):
    out = tmp_path / "open_left.pkl"
    assert main(["hand", "export", "--model", "open", "--side", "left", str(out)]) == 0
    back = load_hand_model_data(out, "left")
    ref = load_hand_model_data("open", "left")
    np.testing.assert_array_equal(back.v_template, ref.v_template)
    np.testing.assert_array_equal(back.faces, ref.faces)
    capsys.readouterr()
    assert main(["hand", "info", "--side", "left"]) == 0
    out_text = capsys.readouterr().out
    assert "open (left hand)" in out_text and "mirrored from the right hand" in out_text


def test_missing_mano_is_a_user_error(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv(MANO_ENV_VAR, raising=False)
    assert main(["hand", "info", "--model", "mano"]) == 2
    assert "mano.is.tue.mpg.de" in capsys.readouterr().err


def test_render_calls_the_gallery(monkeypatch, tmp_path):
    import handpose.render.gallery as gallery

    calls = []

    def fake(out_path, model="open", side="right", size=256, **kw):
        calls.append((str(out_path), model, side, size))
        return out_path

    monkeypatch.setattr(gallery, "render_hand_gallery", fake)
    out = tmp_path / "g.png"
    assert main(["hand", "render", "--side", "left", "--size", "128", "--out", str(out)]) == 0
    assert calls == [(str(out), "open", "left", 128)]
