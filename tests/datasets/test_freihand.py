"""FreiHAND v2 loader on a fixture written in the exact on-disk layout."""

import json

import numpy as np
import pytest

from handpose.datasets.freihand import FreiHAND
from handpose.datasets.mano_convert import ManoModels, freihand_root
from handpose.errors import HandposeError
from tests.datasets.real_fixtures import FH_K, colour, mano_models, write_freihand


@pytest.fixture(scope="module")
def fh(tmp_path_factory):
    root = tmp_path_factory.mktemp("freihand")
    return root, write_freihand(root)


def test_joints_projection_and_versions(fh):
    root, data = fh
    ds = FreiHAND(root, "training", "gs", mano=None)
    assert len(ds) == 3
    s = ds[0]
    np.testing.assert_allclose(s["joints3d"][0], data["training"]["xyz"][0], atol=1e-7)
    # pinned: (0.1, −0.05, 0.5) with f = 500, c = 112 → (212, 62)
    np.testing.assert_allclose(s["joints2d"][0, 0], [212.0, 62.0], atol=1e-4)
    assert s["hand_valid"].tolist() == [True, False] and s["joint_valid"][0].all()
    assert not s["joint_valid"][1].any() and not s["mano_valid"].any()
    np.testing.assert_allclose(s["vertices"][0], data["training"]["verts"][0], atol=1e-7)
    assert "mano_hand_pose" not in s and ds.meta["mano_params"] is False
    assert s["image"].shape == (224, 224, 3) and tuple(s["capture_hw"]) == (224, 224)
    assert np.abs(s["image"][100, 100].astype(int) - colour(0)).max() <= 3
    # mask: the white box (x 50–150, y 60–170) is label 1
    assert s["mask"][100, 100] == 1 and s["mask"][10, 10] == 0 and s["mask"].max() == 1
    assert s["extra_scale"] == pytest.approx(data["training"]["scale"][0], rel=1e-6)
    K = np.array(FH_K)
    uv_v = data["training"]["verts"][0] @ K.T
    pts = np.concatenate([s["joints2d"][0], uv_v[:, :2] / uv_v[:, 2:]])
    np.testing.assert_allclose(s["bbox"], [*pts.min(0), *pts.max(0)], atol=1e-3)
    # versions: file id = idx + N·k with k = gs, hom, sample, auto
    hom = FreiHAND(root, "training", "hom", mano=None)
    assert hom.source(1).endswith("00000004.jpg")
    assert np.abs(hom[1]["image"][5, 5].astype(int) - colour(4)).max() <= 3
    nov = FreiHAND(root, "training", mano=None, vertices=False)[0]
    assert "vertices" not in nov and nov["bbox"][2] - nov["bbox"][0] > 0
    allv = FreiHAND(root, "training", "all", mano=None)
    assert len(allv) == 12 and allv.source(11).endswith("00000011.jpg")
    np.testing.assert_array_equal(allv[7]["joints3d"], allv[1]["joints3d"])  # same unique id


def test_evaluation_set(fh):
    root, data = fh
    ev = FreiHAND(root, "evaluation", mano=None)
    assert len(ev) == 2 and "mask" not in ev[1]
    np.testing.assert_allclose(ev[1]["joints3d"][0], data["evaluation"]["xyz"][1], atol=1e-7)
    with pytest.raises(HandposeError, match="only the 'gs' version"):
        FreiHAND(root, "evaluation", "hom")


def test_mano_conversion(fh):
    root, data = fh
    models = mano_models()
    ds = FreiHAND(root, "training", mano=models)
    s = ds[2]
    m = data["training"]["mano"][2]
    assert ds.meta["mano_params"] is True and s["mano_valid"].tolist() == [True, False]
    np.testing.assert_allclose(s["mano_global_orient"][0], m[:3], atol=1e-6)
    np.testing.assert_allclose(
        s["mano_hand_pose"][0], m[3:48] + models["right"].hands_mean, atol=1e-6
    )
    np.testing.assert_allclose(s["mano_betas"][0], m[48:58], atol=1e-6)
    # the model with these parameters puts the middle MCP at FreiHAND's recover_root point
    root_pt = freihand_root([120.0, 100.0], 2.5, np.array(FH_K))
    np.testing.assert_allclose(root_pt, [3.2, -4.8, 200.0])  # [8, −12, 500] / 2.5
    _, j21, _ = ManoModels(models).forward(
        "right",
        s["mano_global_orient"][0],
        s["mano_hand_pose"][0],
        s["mano_betas"][0],
        s["mano_transl"][0],
    )
    np.testing.assert_allclose(j21[9], root_pt, atol=1e-4)


# --- bad input ------------------------------------------------------------------------------


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_missing_root_and_files(fh, tmp_path):
    root, _ = fh
    with pytest.raises(HandposeError, match="FreiHAND root '.*nope' does not exist"):
        FreiHAND(tmp_path / "nope")
    r = _copy(root, tmp_path / "a")
    (r / "training_xyz.json").unlink()
    with pytest.raises(
        HandposeError, match="missing FreiHAND annotation file '.*training_xyz.json'"
    ):
        FreiHAND(r, mano=None)


def test_truncated_and_malformed_json(fh, tmp_path):
    root, _ = fh
    r = _copy(root, tmp_path / "b")
    p = r / "training_verts.json"
    p.write_text(p.read_text()[:1000])
    with pytest.raises(HandposeError, match="training_verts.json' is not valid JSON"):
        FreiHAND(r, mano=None)
    r = _copy(root, tmp_path / "c")
    K = json.loads((r / "training_K.json").read_text())
    K[1] = K[1][:2]
    (r / "training_K.json").write_text(json.dumps(K))
    with pytest.raises(
        HandposeError, match=r"training_K.json' index 1: K must have shape \(3, 3\)"
    ):
        FreiHAND(r, mano=None)
    r = _copy(root, tmp_path / "d")
    xyz = json.loads((r / "training_xyz.json").read_text())
    (r / "training_xyz.json").write_text(json.dumps(xyz[:2]))
    with pytest.raises(
        HandposeError, match="training_xyz.json' has 2 entries but the K file has 3"
    ):
        FreiHAND(r, mano=None)
    r = _copy(root, tmp_path / "e")
    (r / "training_mano.json").write_text(json.dumps({"pose": []}))
    with pytest.raises(HandposeError, match="training_mano.json' must hold 3 entries"):
        FreiHAND(r, mano=None)


def test_nan_label_names_file_and_index(fh, tmp_path):
    root, _ = fh
    r = _copy(root, tmp_path / "f")
    xyz = json.loads((r / "training_xyz.json").read_text())
    xyz[2][5][1] = float("nan")
    (r / "training_xyz.json").write_text(json.dumps(xyz))
    with pytest.raises(HandposeError, match="training_xyz.json' index 2: xyz contains NaN"):
        FreiHAND(r, mano=None)


def test_image_problems(fh, tmp_path):
    from PIL import Image

    root, _ = fh
    r = _copy(root, tmp_path / "g")
    Image.new("RGB", (200, 224)).save(r / "training" / "rgb" / "00000001.jpg")
    (r / "training" / "rgb" / "00000002.jpg").unlink()
    ds = FreiHAND(r, mano=None)
    with pytest.raises(
        HandposeError, match="00000001.jpg' is 200x224 pixels but FreiHAND images are 224x224"
    ):
        ds[1]
    with pytest.raises(HandposeError, match="missing image file '.*00000002.jpg'"):
        ds[2]
    (r / "training" / "rgb" / "00000000.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(HandposeError, match="00000000.jpg' is not a readable image"):
        ds[0]
    with pytest.raises(HandposeError, match="out of range"):
        ds[3]
