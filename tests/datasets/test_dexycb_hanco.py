"""DexYCB and HanCo loaders on fixtures written in the exact on-disk layouts."""

import json
import shutil

import numpy as np
import pytest

from handpose.datasets.dexycb import DexYCB, dexycb_split_filter
from handpose.datasets.hanco import HanCo
from handpose.datasets.mano_convert import ManoModels, hanco_root
from handpose.errors import HandposeError
from tests.datasets.real_fixtures import colour, mano_models, write_dexycb, write_hanco


@pytest.fixture(scope="module")
def dex(tmp_path_factory):
    root = tmp_path_factory.mktemp("dexycb")
    return root, write_dexycb(root)


@pytest.fixture(scope="module")
def hanco(tmp_path_factory):
    root = tmp_path_factory.mktemp("hanco")
    return root, write_hanco(root)


# --- DexYCB -----------------------------------------------------------------------------------


def test_dexycb_official_split_rules():
    # s0: train i % 5 != 4; val subjects 0–1 with i % 5 == 4; test subjects 2–9 with i % 5 == 4
    assert dexycb_split_filter("s0", "train", 7, 3, 5)
    assert not dexycb_split_filter("s0", "train", 0, 9, 0)
    assert dexycb_split_filter("s0", "val", 1, 14, 2) and not dexycb_split_filter(
        "s0", "val", 2, 4, 0
    )
    assert dexycb_split_filter("s0", "test", 2, 4, 0) and not dexycb_split_filter(
        "s0", "test", 1, 4, 0
    )
    # s1: unseen subjects; s2: unseen cameras
    assert dexycb_split_filter("s1", "train", 9, 4, 0) and dexycb_split_filter("s1", "val", 6, 0, 0)
    assert dexycb_split_filter("s1", "test", 8, 0, 0) and not dexycb_split_filter(
        "s1", "test", 6, 0, 0
    )
    assert dexycb_split_filter("s2", "train", 3, 4, 5) and dexycb_split_filter(
        "s2", "test", 0, 0, 7
    )
    with pytest.raises(HandposeError, match="setup"):
        dexycb_split_filter("s3", "train", 0, 0, 0)


def test_dexycb_split_sizes(dex):
    root, _ = dex
    # 2 subjects × 5 sequences × 2 cameras × 2 frames
    assert len(DexYCB(root, "train", mano=None)) == 2 * 4 * 2 * 2
    assert len(DexYCB(root, "val", mano=None)) == 2 * 1 * 2 * 2
    assert len(DexYCB(root, "test", mano=None)) == 0
    assert len(DexYCB(root, "train", "s2", mano=None)) == 2 * 5 * 2 * 2
    assert len(DexYCB(root, "train", "s1", mano=None)) == 2 * 5 * 2 * 2


def test_dexycb_samples(dex):
    root, labels = dex
    ds = DexYCB(root, "train", mano=None)
    # index order: subject, sequence, camera, frame → (subject 0, seq 0, cam 1, frame 0) = 2
    s = ds[2]
    assert ds.source(2).endswith(
        "20200709-subject-01/20200709_140000/839512060362/color_000000.jpg"
    )
    j3 = labels[(0, 1, 0)]["joint_3d"][0]
    np.testing.assert_allclose(s["joints3d"][0], j3, atol=1e-6)
    K = np.array([[601.0, 0, 320], [0, 610, 240], [0, 0, 1]])  # serial 2: fx = 601
    np.testing.assert_allclose(s["K"], K)
    uv = j3 @ K.T
    np.testing.assert_allclose(s["joints2d"][0], uv[:, :2] / uv[:, 2:], atol=1e-3)
    assert s["hand_valid"].tolist() == [True, False] and s["view"] == 1 and s["frame"] == 0
    assert s["mask"][150, 150] == 1 and s["mask"][320, 350] == 3 and s["mask"][0, 0] == 0
    assert np.abs(s["image"][5, 5].astype(int) - colour(2)).max() <= 3
    assert s["sequence"] == "20200709-subject-01/20200709_140000"
    empty = ds[3]  # camera 1, frame 1: joint_3d all −1 → no hand
    assert not empty["hand_valid"].any() and not empty["joint_valid"].any()
    # subject 02 is a left hand: slot 1, mask label 2
    ds_l = DexYCB(root, "train", mano=None)
    i = 4 * 2 * 2  # first sample of subject 1
    left = ds_l[i]
    assert left["hand_valid"].tolist() == [False, True] and left["mask"][150, 150] == 2


def test_dexycb_mano_pca(dex):
    root, labels = dex
    models = mano_models()
    ds = DexYCB(root, "train", mano=models)
    assert ds.meta["mano_convention"]["fix_left_shapedirs"] is False
    s = ds[0]
    lab = labels[(0, 0, 0)]
    pose_m = lab["pose_m"][0].astype(np.float32).astype(np.float64)
    r = models["right"]
    theta = pose_m[3:48] @ r.hands_components + r.hands_mean
    np.testing.assert_allclose(s["mano_hand_pose"][0], theta, atol=1e-5)
    np.testing.assert_allclose(s["mano_transl"][0], pose_m[48:], atol=1e-7)
    np.testing.assert_allclose(s["mano_betas"][0], lab["betas"], atol=1e-6)
    v, _, _ = ManoModels(models).forward("right", pose_m[:3], theta, lab["betas"], pose_m[48:])
    np.testing.assert_allclose(s["vertices"][0], v, atol=1e-5)
    assert not ds[3]["mano_valid"].any()


def test_dexycb_bad_input(dex, tmp_path):
    root, _ = dex
    with pytest.raises(HandposeError, match="DexYCB root"):
        DexYCB(tmp_path / "none")
    r = tmp_path / "d"
    shutil.copytree(root, r)
    meta = r / "20200709-subject-01" / "20200709_140001" / "meta.yml"
    meta.write_text("num_frames: [unclosed\n")
    with pytest.raises(HandposeError, match="meta.yml' is not valid YAML"):
        DexYCB(r, mano=None)
    meta.write_text("num_frames: 2\nmano_sides: [right]\n")
    with pytest.raises(HandposeError, match="meta.yml': field 'mano_calib' is missing"):
        DexYCB(r, mano=None)
    meta.write_text("num_frames: 2\nmano_sides: [right]\nmano_calib: [x]\n")
    lab = r / "20200709-subject-01" / "20200709_140000" / "836212060125" / "labels_000001.npz"
    with np.load(lab) as z:
        d = dict(z)
    d["joint_3d"][0, 3, 2] = np.nan
    np.savez(lab, **d)
    ds = DexYCB(r, mano=None)
    with pytest.raises(HandposeError, match="labels_000001.npz': field 'joint_3d' contains NaN"):
        ds[1]
    lab.write_bytes(b"garbage")
    with pytest.raises(HandposeError, match="labels_000001.npz' is not a readable .npz"):
        ds[1]
    del d["pose_m"]
    d["joint_3d"][0, 3, 2] = 0.5
    np.savez(lab, **d)
    with pytest.raises(HandposeError, match="labels_000001.npz': field 'pose_m' is missing"):
        ds[1]


# --- HanCo ------------------------------------------------------------------------------------


def test_hanco_index_and_splits(hanco):
    root, _ = hanco
    assert len(HanCo(root, views=(0, 3), mano=None)) == 3 * 2
    assert len(HanCo(root, "train", views=(0, 3), mano=None)) == 2 * 2
    assert len(HanCo(root, "test", views=(3,), mano=None)) == 1
    assert len(HanCo(root, mano=None)) == 3 * 8
    with pytest.raises(HandposeError, match="views"):
        HanCo(root, views=(8,))


def test_hanco_samples(hanco):
    root, data = hanco
    ds = HanCo(root, "train", views=(0, 3), mano=None)
    s = ds[1]  # sequence 0, frame 0, camera 3
    xyz, K, M = data[(0, 0)]
    # camera 3: x_cam = R x + t with R = [[0,0,1],[0,1,0],[-1,0,0]], t = (0, 0, 0.4)
    want = np.stack([xyz[:, 2], xyz[:, 1], -xyz[:, 0] + 0.4], axis=1)
    np.testing.assert_allclose(s["joints3d"][0], want, atol=1e-6)
    uv = want @ K[3].T
    np.testing.assert_allclose(s["joints2d"][0], uv[:, :2] / uv[:, 2:], atol=1e-3)
    assert s["view"] == 3 and s["frame"] == 0 and s["sequence"] == "0000"
    assert s["mask"][50, 40] == 1 and s["mask"][150, 150] == 0
    assert np.abs(s["image"][3, 3].astype(int) - colour(3)).max() <= 3
    assert s["hand_valid"].tolist() == [True, False]


def test_hanco_mano(hanco):
    root, data = hanco
    models = mano_models()
    ds = HanCo(root, "all", views=(0, 3), mano=models)
    s = ds[3]  # sequence 0, frame 1, camera 3
    v = data[(0, 1, 3, "mano")]
    np.testing.assert_allclose(
        s["mano_hand_pose"][0], v[3:48] + models["right"].hands_mean, atol=1e-6
    )
    K = data[(0, 1)][1][3]
    _, j21, _ = ManoModels(models).forward(
        "right",
        s["mano_global_orient"][0],
        s["mano_hand_pose"][0],
        s["mano_betas"][0],
        s["mano_transl"][0],
    )
    np.testing.assert_allclose(j21[9], hanco_root(v[58:60], v[60], K), atol=1e-4)
    assert not ds[4]["mano_valid"].any()  # sequence 1 has no fit


def test_hanco_bad_input(hanco, tmp_path):
    root, _ = hanco
    r = tmp_path / "h"
    shutil.copytree(root, r)
    (r / "meta.json").write_text(json.dumps({"is_train": [[True]]}))
    with pytest.raises(HandposeError, match="meta.json': field 'subject_id' is missing"):
        HanCo(r)
    shutil.copy(root / "meta.json", r / "meta.json")
    c = r / "calib" / "0000" / "00000000.json"
    calib = json.loads(c.read_text())
    calib["K"] = calib["K"][:7]
    c.write_text(json.dumps(calib))
    ds = HanCo(r, views=(0,), mano=None)
    with pytest.raises(HandposeError, match=r"00000000.json': K must have shape \(8, 3, 3\)"):
        ds[0]
    (r / "xyz" / "0000" / "00000001.json").unlink()
    with pytest.raises(
        HandposeError, match="missing HanCo annotation file '.*xyz/0000/00000001.json'"
    ):
        ds[1]


def test_video_positions_match_the_samples(dex, hanco):
    """Clips of the real loaders are grouped without reading images, consistently with the
    samples' own sequence / view / frame fields; and they read at a low ladder level."""
    from handpose.datasets.video import LowResolutionView, video_clips

    for ds in (DexYCB(dex[0], "train", mano=None), HanCo(hanco[0], views=(0, 3), mano=None)):
        clips = video_clips(ds)
        assert sum(len(c) for c in clips) == len(ds)
        for c in clips[:2]:
            frames = [int(ds[int(i)]["frame"]) for i in c.indices]
            assert frames == sorted(frames) == c.frames.tolist()
            views = {int(ds[int(i)]["view"]) for i in c.indices}
            assert len(views) == 1
        low = LowResolutionView(ds, 16)
        s = low[0]
        assert max(s["image"].shape[:2]) <= 16
