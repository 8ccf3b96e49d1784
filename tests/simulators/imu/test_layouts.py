"""Sensor layouts as data: shipped layouts, subsets, custom layouts, binding to a model."""

import dataclasses

import pytest
import torch

from handpose.errors import HandposeError
from handpose.handmodel import HandModel
from handpose.simulators.imu.layouts import (
    LAYOUTS,
    custom_layout,
    dorsal_sites_from_mesh,
    get_layout,
    resolve_layout,
    sensor_sites,
)
from tests.simulators.standin import stick_hand_data


def test_vihand7_canonical_order_and_bones():
    lay = get_layout("vihand7")
    assert lay.names == ("thumb", "index", "middle", "ring", "pinky", "back", "wrist")
    # Distal phalanges thumb3, index3, middle3, ring3, pinky3; back and wrist follow the root.
    assert [s.joint for s in lay.sensors] == [15, 3, 6, 12, 9, 0, 0]
    assert lay.root == "back" and lay.root_index == 5


def test_subsets_are_documented_and_keep_the_root():
    assert LAYOUTS["sparse3"].names == ("thumb", "index", "back")
    assert LAYOUTS["sparse2"].names == ("index", "back")
    assert LAYOUTS["vifnet4"].names == ("thumb", "middle", "pinky", "back")
    for lay in LAYOUTS.values():
        assert lay.root in lay.names
    with pytest.raises(HandposeError, match="root"):
        get_layout("vihand7").subset(["thumb", "index"])


def test_custom_layout_and_errors():
    lay = custom_layout("mine", [("tip", 3, 320), ("palm", 0, "back")], root="palm")
    assert lay.root_index == 1 and lay.sensors[0].vertex == 320
    with pytest.raises(HandposeError, match="duplicate"):
        custom_layout("dup", [("a", 0, 1), ("a", 1, 2)], root="a")
    with pytest.raises(HandposeError, match="joint"):
        custom_layout("bad", [("a", 16, 1)], root="a")
    with pytest.raises(HandposeError, match="unknown IMU layout"):
        get_layout("vihand9")


def test_resolve_uses_the_models_sensor_ids():
    model = HandModel(stick_hand_data())
    sites = sensor_sites(model)
    res = resolve_layout("vihand7", sites)
    # Stand-in: dorsal vertices are 21 + joint, wrist vertex 0.
    assert res.vertices.tolist() == [36, 24, 27, 33, 30, 21, 0]
    assert res.joints.tolist() == [15, 3, 6, 12, 9, 0, 0]
    torch.testing.assert_close(res.mounting, torch.eye(3, dtype=torch.float64).expand(7, 3, 3))
    res2 = resolve_layout(custom_layout("c", [("x", 3, 5), ("back", 0, "back")], "back"), sites)
    assert res2.vertices.tolist() == [5, 21]
    with pytest.raises(HandposeError, match="site"):
        resolve_layout(custom_layout("c", [("x", 3, "nail:index")], "x"), sites)


def test_geometric_fallback_finds_dorsal_sites():
    data = stick_hand_data()
    plain = dataclasses.replace(data, metadata={})  # like an official MANO file
    sites = sensor_sites(plain)
    assert sites == sensor_sites(data)
    assert dorsal_sites_from_mesh(plain, plain.tip_ids)["back"] == 21


def test_open_hand_sites_are_dorsal_and_match_the_geometric_rule():
    model = HandModel("open")
    sites = sensor_sites(model)
    data = model.model_data
    v = torch.as_tensor(data.v_template)
    J = torch.as_tensor(data.J_regressor) @ v
    lay = get_layout("vihand7")
    for s in lay.sensors[:5]:
        # Nail side: above (+y, dorsal) the distal joint of a flat, palm-down hand.
        assert v[sites[s.vertex], 1] > J[s.joint, 1] + 0.003, s.name
    geo = dorsal_sites_from_mesh(data, data.tip_ids)
    for key, vid in geo.items():
        assert (v[vid] - v[sites[key]]).norm() < 0.012, key
