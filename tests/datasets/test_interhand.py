"""InterHand2.6M v1.0 loader on a fixture written in the exact on-disk layout."""

import json
import shutil

import numpy as np
import pytest

from handpose.datasets.interhand import InterHand, interhand_to_camera
from handpose.datasets.mano_convert import ManoModels
from handpose.errors import HandposeError
from tests.datasets.real_fixtures import colour, mano_models, write_interhand


@pytest.fixture(scope="module")
def ih(tmp_path_factory):
    root = tmp_path_factory.mktemp("interhand")
    return root, write_interhand(root)


def test_interhand_order_and_units_constants():
    world = np.zeros((42, 3))
    world[20] = [100.0, 200.0, 1300.0]  # right wrist (IH 20)
    world[0] = [150.0, 200.0, 1300.0]  # right thumb tip (IH 0)
    world[41] = [0.0, 200.0, 1300.0]  # left wrist (IH 41)
    world[21 + 8] = [100.0, 260.0, 1300.0]  # left middle tip (IH 8)
    R = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    cam = interhand_to_camera(world, R, [100.0, 200.0, 300.0])
    # X_cam = R (X − campos) / 1000: right wrist (0, 0, 1000) mm → (0, 0, 1) m in OpenPose 0
    np.testing.assert_allclose(cam[0, 0], [0, 0, 1.0])
    np.testing.assert_allclose(cam[0, 4], [0, 0.05, 1.0])  # thumb tip → OpenPose 4
    np.testing.assert_allclose(cam[1, 0], [0, -0.1, 1.0])  # left wrist, slot 1
    np.testing.assert_allclose(cam[1, 12], [-0.06, 0, 1.0])  # middle tip → OpenPose 12


def test_samples(ih):
    root, data = ih
    ds = InterHand(root, "test", mano=None)
    assert len(ds) == 3 and ds.meta["fps"] == 5 and ds.meta["subset"] == "H+M"
    assert ds.meta["mano_convention"]["fix_left_shapedirs"] is True
    right, left, inter = ds[0], ds[1], ds[2]
    assert right["hand_valid"].tolist() == [True, False] and not right["interacting"]
    assert left["hand_valid"].tolist() == [False, True]
    assert inter["hand_valid"].tolist() == [True, True] and inter["interacting"]
    # pinned: right wrist (100, 200, 1300) mm, campos (100, 200, 300), R = I → (0, 0, 1) m
    np.testing.assert_allclose(right["joints3d"][0, 0], [0, 0, 1.0], atol=1e-6)
    np.testing.assert_allclose(right["joints2d"][0, 0], [256.0, 167.0], atol=1e-4)
    np.testing.assert_allclose(left["joints3d"][1, 4], [0.03, -0.02, 1.0], atol=1e-6)
    np.testing.assert_allclose(left["joints2d"][1, 4], [256 + 36.0, 167 - 24.2], atol=1e-3)
    assert not right["joints3d"][1].any() and not right["joint_valid"][1].any()
    # interacting frame: left wrist invalid → whole left hand invalid; right OpenPose 7 invalid
    assert not inter["joint_valid"][1].any()
    assert inter["joint_valid"][0].sum() == 20 and not inter["joint_valid"][0, 7]
    assert not inter["joints3d"][0, 7].any()
    cam = interhand_to_camera(data["world"]["11"], *[data["cams"]["400263"][i] for i in (0, 1)])
    np.testing.assert_allclose(inter["joints3d"][0, :7], cam[0, :7], atol=1e-6)
    assert inter["image"].shape == (334, 512, 3) and tuple(inter["capture_hw"]) == (334, 512)
    assert np.abs(inter["image"][3, 3].astype(int) - colour(2)).max() <= 3
    assert inter["sequence"] == "Capture0/ROM01_Seq" and inter["frame"] == 11
    assert inter["view"] == 400263
    K = inter["K"]
    np.testing.assert_allclose(K, [[1000, 0, 250], [0, 1000, 170], [0, 0, 1]])
    assert "vertices" not in inter and "mano_hand_pose" not in inter


def test_filters_and_subsets(ih, tmp_path):
    root, _ = ih
    assert len(InterHand(root, "test", mano=None, interacting_only=True)) == 1
    assert len(InterHand(root, "test", mano=None, hand_type_valid_only=True)) == 2
    with pytest.raises(HandposeError, match="subset H .*human_annot"):
        InterHand(root, "test", subset="H", mano=None)
    write_interhand(tmp_path, "val", subdir="machine_annot")
    assert len(InterHand(tmp_path, "val", subset="M", fps=30, mano=None)) == 3
    with pytest.raises(HandposeError, match="fps must be 5 or 30"):
        InterHand(root, "test", fps=10)


def test_mano_world_to_camera(ih):
    root, data = ih
    models = mano_models()
    ds = InterHand(root, "test", mano=models)
    assert ds.meta["mano_params"] is True and ds.meta["num_vertices"] == 778
    inter = ds[2]
    # frame 11 has a right fit and no left fit (None)
    assert inter["mano_valid"].tolist() == [True, False]
    assert not inter["vertices"][1].any()
    fit = data["mano"]["0"]["11"]["right"]
    R, campos = data["cams"]["400263"][0], np.array(data["cams"]["400263"][1])
    t = -R @ campos / 1000.0
    conv = ManoModels(models, fix_left_shapedirs=True)
    theta = np.array(fit["pose"][3:]) + models["right"].hands_mean
    np.testing.assert_allclose(inter["mano_hand_pose"][0], theta, atol=1e-6)
    v_world, _, _ = conv.forward("right", fit["pose"][:3], theta, fit["shape"], fit["trans"])
    np.testing.assert_allclose(inter["vertices"][0], v_world @ R.T + t, atol=1e-5)
    # the stored camera-frame parameters reproduce the stored vertices
    v, _, _ = conv.forward(
        "right",
        *(inter[k][0] for k in ("mano_global_orient", "mano_hand_pose", "mano_betas")),
        inter["mano_transl"][0],
    )
    np.testing.assert_allclose(v, inter["vertices"][0], atol=1e-5)
    left = ds[1]
    assert left["mano_valid"].tolist() == [False, True] and left["vertices"][1].any()


def test_bad_input(ih, tmp_path):
    root, _ = ih
    with pytest.raises(HandposeError, match="InterHand2.6M root"):
        InterHand(tmp_path / "missing")
    r = tmp_path / "a"
    shutil.copytree(root, r)
    ann = r / "annotations" / "test"
    (ann / "InterHand2.6M_test_camera.json").unlink()
    with pytest.raises(HandposeError, match="missing InterHand2.6M annotation file .*camera.json"):
        InterHand(r, "test", mano=None)
    shutil.rmtree(r)
    shutil.copytree(root, r)
    p = ann / "InterHand2.6M_test_data.json"
    d = json.loads(p.read_text())
    del d["annotations"][1]["hand_type"]
    p.write_text(json.dumps(d))
    with pytest.raises(
        HandposeError, match=r"data.json' annotations\[1\]: field 'hand_type' is missing"
    ):
        InterHand(r, "test", mano=None)
    d["annotations"][1]["hand_type"] = "both"
    p.write_text(json.dumps(d))
    with pytest.raises(HandposeError, match="field 'hand_type' must be right, left or interacting"):
        InterHand(r, "test", mano=None)
    shutil.rmtree(r)
    shutil.copytree(root, r)
    p = ann / "InterHand2.6M_test_joint_3d.json"
    j = json.loads(p.read_text())
    j["0"]["10"]["world_coord"][3][0] = float("nan")
    del j["0"]["11"]
    p.write_text(json.dumps(j))
    ds = InterHand(r, "test", mano=None)
    with pytest.raises(
        HandposeError,
        match="joint_3d.json': field 'world_coord' of capture 0 frame 10 contains NaN",
    ):
        ds[0]
    with pytest.raises(HandposeError, match="joint_3d.json' capture 0: field '11' is missing"):
        ds[2]
    p = ann / "InterHand2.6M_test_data.json"
    d = json.loads(p.read_text())
    d["images"][0]["width"] = 640
    p.write_text(json.dumps(d))
    with pytest.raises(
        HandposeError,
        match="image10.jpg' is 512x334 pixels but its annotation in 'InterHand2.6M_test_data.json' says 640x334",
    ):
        InterHand(r, "test", mano=None)[0]
