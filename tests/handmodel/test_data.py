"""Model sources: the open asset, MANO discovery and its error message, mirroring, the left fix."""

from __future__ import annotations

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.handmodel import HandModel
from handpose.handmodel.data import (
    MANO_ENV_VAR,
    HandModelData,
    apply_left_shapedirs_fix,
    find_mano_file,
    load_hand_model_data,
    mirror_hand_model_data,
)

from .mano_fixtures import (
    needs_open_asset,
    random_mano_arrays,
    random_model_data,
    write_mano_pickle,
)


@pytest.fixture(scope="module")
def arrays():
    return random_mano_arrays(0)


@pytest.fixture
def mano_dir(tmp_path, arrays):
    """An unzipped mano_v1_2 layout: <dir>/models/MANO_{RIGHT,LEFT}.pkl (left = same shapedirs,
    as in the official files)."""
    models = tmp_path / "mano_v1_2" / "models"
    models.mkdir(parents=True)
    write_mano_pickle(models / "MANO_RIGHT.pkl", arrays)
    left = dict(arrays)
    left["v_template"] = arrays["v_template"] * np.array([-1.0, 1.0, 1.0])
    write_mano_pickle(models / "MANO_LEFT.pkl", left)
    return tmp_path / "mano_v1_2"


# ----------------------------------------------------------------------------- discovery
def test_missing_mano_message_says_where_and_how(monkeypatch, tmp_path):
    monkeypatch.delenv(MANO_ENV_VAR, raising=False)
    with pytest.raises(HandposeError) as err:
        load_hand_model_data("mano")
    msg = str(err.value)
    for needle in (
        "https://mano.is.tue.mpg.de",
        "mano_v1_2.zip",
        "models/",
        MANO_ENV_VAR,
        "MANO_RIGHT.pkl",
    ):
        assert needle in msg, needle
    monkeypatch.setenv(MANO_ENV_VAR, str(tmp_path))
    with pytest.raises(HandposeError, match=str(tmp_path)):
        HandModel("mano", side="left")


def test_finds_mano_via_env_var_and_explicit_dir(monkeypatch, mano_dir, arrays):
    monkeypatch.setenv(MANO_ENV_VAR, str(mano_dir))  # the unzipped root: models/ is searched
    data = load_hand_model_data("mano")
    assert data.name == "mano" and data.side == "right"
    np.testing.assert_array_equal(data.v_template, arrays["v_template"])
    assert find_mano_file("left").name == "MANO_LEFT.pkl"
    monkeypatch.setenv(MANO_ENV_VAR, "/nonexistent")
    assert load_hand_model_data("mano", "left", mano_dir=mano_dir / "models").side == "left"
    model = HandModel("mano", side="left", mano_dir=mano_dir)
    assert model.side == "left" and model.tip_preset == "smplx"


def test_finds_converted_npz(monkeypatch, tmp_path, arrays):
    data = HandModelData.from_arrays(arrays, side="right", name="mano")
    data.save_npz(tmp_path / "mano_right.npz")
    monkeypatch.setenv(MANO_ENV_VAR, str(tmp_path))
    assert find_mano_file("right").name == "mano_right.npz"
    np.testing.assert_array_equal(load_hand_model_data("mano").weights, arrays["weights"])


def test_paths_side_checks_and_bad_names(mano_dir, tmp_path):
    left = mano_dir / "models" / "MANO_LEFT.pkl"
    assert load_hand_model_data(left).side == "left"
    with pytest.raises(HandposeError, match="side='left'"):
        load_hand_model_data(left, "right")
    with pytest.raises(HandposeError, match="unknown hand model"):
        load_hand_model_data("smplx")
    with pytest.raises(HandposeError, match="side"):
        load_hand_model_data("open", "both")
    with pytest.raises(HandposeError, match=".pkl or a converted .npz"):
        load_hand_model_data(tmp_path)
    with pytest.raises(HandposeError, match="does not exist"):
        load_hand_model_data(tmp_path / "nothing.pkl")
    data = random_model_data(1)
    assert load_hand_model_data(data) is data
    with pytest.raises(HandposeError):
        load_hand_model_data(data, "left")


def test_npz_round_trip_keeps_side_tips_and_sensors(tmp_path):
    data = random_model_data(2, V=50, F=20)
    data.sensor_vertex_ids = np.array([1, 2, 3])
    path = tmp_path / "small.npz"
    data.save_npz(path)
    back = load_hand_model_data(path)
    assert back.side == "right" and back.tip_ids == data.tip_ids and back.name == data.name
    np.testing.assert_array_equal(back.sensor_vertex_ids, [1, 2, 3])
    np.testing.assert_array_equal(back.posedirs, data.posedirs)


# ----------------------------------------------------------------------------- mirroring
def test_mirror_arrays_pin():
    data = random_model_data(3, V=40, F=20)
    left = mirror_hand_model_data(data)
    assert left.side == "left" and left.metadata["mirrored_from"] == "right"
    np.testing.assert_array_equal(left.v_template[:, 0], -data.v_template[:, 0])
    np.testing.assert_array_equal(left.shapedirs[:, 0], -data.shapedirs[:, 0])
    np.testing.assert_array_equal(left.shapedirs[:, 1:], data.shapedirs[:, 1:])
    np.testing.assert_array_equal(left.faces, data.faces[:, ::-1])
    # hands_mean: y and z of every triplet flip.
    np.testing.assert_array_equal(
        left.hands_mean.reshape(15, 3), data.hands_mean.reshape(15, 3) * [1, -1, -1]
    )
    # posedirs entry (v, a, 9(k−1)+3i+j) scales by m_a·m_i·m_j with m = (−1, 1, 1).
    m = np.array([-1.0, 1.0, 1.0])
    for a, i, j in [(0, 0, 0), (0, 0, 1), (1, 0, 2), (1, 1, 2), (2, 2, 0)]:
        f = 9 * 4 + 3 * i + j  # joint 5
        np.testing.assert_array_equal(
            left.posedirs[:, a, f], data.posedirs[:, a, f] * m[a] * m[i] * m[j]
        )
    twice = mirror_hand_model_data(left)
    for k in ("v_template", "shapedirs", "posedirs", "hands_components", "hands_mean", "faces"):
        np.testing.assert_array_equal(getattr(twice, k), getattr(data, k))


# ----------------------------------------------------------------------------- left fix
def test_left_shapedirs_fix_explicit_and_once(mano_dir):
    left_path = mano_dir / "models" / "MANO_LEFT.pkl"
    raw = load_hand_model_data(left_path)
    fixed = load_hand_model_data(left_path, fix_left_shapedirs=True)
    np.testing.assert_array_equal(fixed.shapedirs[:, 0], -raw.shapedirs[:, 0])
    np.testing.assert_array_equal(fixed.shapedirs[:, 1:], raw.shapedirs[:, 1:])
    assert fixed.metadata["left_shapedirs_fixed"]
    assert apply_left_shapedirs_fix(fixed) is fixed  # never twice
    # Saved and reloaded with the flag: still applied once.
    fixed.save_npz(mano_dir / "fixed_left.npz")
    again = load_hand_model_data(mano_dir / "fixed_left.npz", fix_left_shapedirs=True)
    np.testing.assert_array_equal(again.shapedirs, fixed.shapedirs)
    # Right hands ignore the option; the fix itself refuses them.
    right = load_hand_model_data(mano_dir / "models" / "MANO_RIGHT.pkl", fix_left_shapedirs=True)
    np.testing.assert_array_equal(right.shapedirs, raw.shapedirs)
    with pytest.raises(HandposeError):
        apply_left_shapedirs_fix(right)
    with pytest.raises(HandposeError):
        load_hand_model_data(left_path, fix_left_shapedirs="yes")


def test_left_shapedirs_fix_auto_rule(mano_dir, tmp_path, arrays):
    left_path = mano_dir / "models" / "MANO_LEFT.pkl"
    raw = load_hand_model_data(left_path)
    # Official-like file: left x-rows equal the right ones → the rule applies the fix.
    auto = load_hand_model_data(left_path, fix_left_shapedirs="auto")
    np.testing.assert_array_equal(auto.shapedirs[:, 0], -raw.shapedirs[:, 0])
    # Already consistent left shapedirs → the rule leaves them alone.
    other = tmp_path / "ok"
    other.mkdir()
    write_mano_pickle(other / "MANO_RIGHT.pkl", arrays)
    consistent = dict(arrays)
    consistent["shapedirs"] = arrays["shapedirs"] * np.array([-1.0, 1.0, 1.0])[None, :, None]
    write_mano_pickle(other / "MANO_LEFT.pkl", consistent)
    kept = load_hand_model_data(other / "MANO_LEFT.pkl", fix_left_shapedirs="auto")
    np.testing.assert_array_equal(kept.shapedirs, consistent["shapedirs"])
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    write_mano_pickle(lonely / "MANO_LEFT.pkl", arrays)
    with pytest.raises(HandposeError, match="needs the right model"):
        load_hand_model_data(lonely / "MANO_LEFT.pkl", fix_left_shapedirs="auto")


# ----------------------------------------------------------------------------- the open model
@needs_open_asset
def test_open_model_loads_and_mirrors():
    right = load_hand_model_data("open")
    left = load_hand_model_data("open", "left", fix_left_shapedirs=True)  # no-op when mirrored
    assert right.name == "open" and right.side == "right" and left.side == "left"
    assert right.parents == left.parents
    np.testing.assert_array_equal(left.shapedirs[:, 0], -right.shapedirs[:, 0])
    assert len(right.tip_ids) == 5 and 700 <= right.num_vertices <= 1600
    assert HandModel().name == "open"  # the default
