"""Tiny copies of the real datasets' on-disk layouts, written by the tests.

Each writer creates the exact folder and file names, JSON / YAML / npz field names and image
sizes of the dataset (../shared/reference/datasets.md), with a handful of samples. Images are
flat colours that encode their file id, so a test can tell which file a loader read.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from tests.handmodel.mano_fixtures import random_model_data


def colour(i: int) -> tuple[int, int, int]:
    return (10 + 20 * (i % 12), 40 + 50 * ((i // 12) % 4), 200)


def write_jpeg(path: Path, hw: tuple[int, int], rgb, square: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.zeros((*hw, 3), np.uint8)
    arr[:] = rgb
    Image.fromarray(arr).save(path, quality=95)


def write_mask_jpeg(path: Path, hw: tuple[int, int], box: tuple[int, int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    m = np.zeros(hw, np.uint8)
    x0, y0, x1, y1 = box
    m[y0:y1, x0:x1] = 255
    Image.fromarray(m).save(path, quality=95)


def dump(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def mano_models() -> dict:
    """MANO-layout fixture models (random arrays; the real files are licensed)."""
    return {"right": random_model_data(3, side="right"), "left": random_model_data(4, side="left")}


# --- FreiHAND ----------------------------------------------------------------------------------

FH_K = [[500.0, 0.0, 112.0], [0.0, 500.0, 112.0], [0.0, 0.0, 1.0]]


def write_freihand(root: Path, n_train: int = 3, n_eval: int = 2, seed: int = 0) -> dict:
    """FreiHAND v2 layout; returns the arrays written per set."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("training", n_train), ("evaluation", n_eval)):
        xyz = rng.normal(0, 0.03, (n, 21, 3)) + [0, 0, 0.6]
        xyz[0, 0] = [0.1, -0.05, 0.5]  # pinned: projects to (212, 62) with FH_K
        verts = rng.normal(0, 0.03, (n, 778, 3)) + [0, 0, 0.6]
        mano = rng.normal(0, 0.3, (n, 61))
        mano[:, 58:60] = [120.0, 100.0]
        mano[:, 60] = 2.5
        scale = np.linalg.norm(xyz[:, 9] - xyz[:, 10], axis=-1)
        K = [FH_K] * n
        dump(root / f"{split}_K.json", K)
        dump(root / f"{split}_xyz.json", xyz.tolist())
        dump(root / f"{split}_verts.json", verts.tolist())
        dump(root / f"{split}_mano.json", [[m] for m in mano.tolist()])  # 1×61 as FreiHAND
        dump(root / f"{split}_scale.json", scale.tolist())
        versions = 4 if split == "training" else 1
        for fid in range(n * versions):
            write_jpeg(root / split / "rgb" / f"{fid:08d}.jpg", (224, 224), colour(fid))
        if split == "training":
            for uid in range(n):
                write_mask_jpeg(
                    root / split / "mask" / f"{uid:08d}.jpg", (224, 224), (50, 60, 150, 170)
                )
        out[split] = {"xyz": xyz, "verts": verts, "mano": mano, "scale": scale}
    return out


# --- InterHand2.6M -----------------------------------------------------------------------------

IH_HW = (334, 512)


def write_interhand(root: Path, split: str = "test", seed: int = 0, subdir: str = "") -> dict:
    """InterHand2.6M v1.0 layout with 3 images: right, left, interacting (one capture, two
    cameras). Returns the world joints and camera parameters."""
    rng = np.random.default_rng(seed)
    adir = root / "annotations" / subdir / split if subdir else root / "annotations" / split
    cams = {
        "400262": (np.eye(3), [100.0, 200.0, 300.0], [1200.0, 1210.0], [256.0, 167.0]),
        "400263": (
            np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
            [0.0, 0.0, -200.0],
            [1000.0, 1000.0],
            [250.0, 170.0],
        ),
    }
    camera = {
        "0": {
            "campos": {c: v[1] for c, v in cams.items()},
            "camrot": {c: np.asarray(v[0]).tolist() for c, v in cams.items()},
            "focal": {c: v[2] for c, v in cams.items()},
            "princpt": {c: v[3] for c, v in cams.items()},
        }
    }
    world = {}
    for fr in ("10", "11"):
        w = rng.normal(0, 30.0, (42, 3)) + [100.0, 200.0, 1300.0]
        world[fr] = w
    world["10"][20] = [100.0, 200.0, 1300.0]  # right wrist: camera 400262 → (0, 0, 1.0) m
    world["10"][21] = [130.0, 180.0, 1300.0]  # left thumb tip → (0.03, -0.02, 1.0) m
    joint_3d = {
        "0": {fr: {"world_coord": w.tolist(), "joint_valid": [1] * 42} for fr, w in world.items()}
    }
    images, anns = [], []
    spec = [  # (image id, camera, frame, hand_type)
        (0, "400262", "10", "right"),
        (1, "400262", "10", "left"),
        (2, "400263", "11", "interacting"),
    ]
    for iid, cam, fr, ht in spec:
        fname = f"Capture0/ROM01_Seq/cam{cam}/image{fr}.jpg"
        images.append(
            {
                "id": iid,
                "file_name": fname,
                "width": IH_HW[1],
                "height": IH_HW[0],
                "capture": 0,
                "subject": 1,
                "seq_name": "ROM01_Seq",
                "camera": cam,
                "frame_idx": int(fr),
            }
        )
        jv = [1] * 42
        if ht == "interacting":
            jv[41] = 0  # left wrist invalid → the whole left hand invalid
            jv[5] = 0  # right Index_3 (IH 4–7 = index tip → MCP) = OpenPose 7 (index DIP)
        anns.append(
            {
                "id": iid,
                "image_id": iid,
                "bbox": [10, 10, 100, 100],
                "joint_valid": jv,
                "hand_type": ht,
                "hand_type_valid": 1 if ht != "left" else 0,
            }
        )
        write_jpeg(root / "images" / split / fname, IH_HW, colour(iid))
    mano = {
        "0": {
            fr: {
                side: {
                    "pose": rng.normal(0, 0.3, 48).tolist(),
                    "shape": rng.normal(0, 1, 10).tolist(),
                    "trans": (rng.normal(0, 0.05, 3) + [0.1, 0.2, 1.3]).tolist(),
                }
                for side in ("right", "left")
            }
            for fr in world
        }
    }
    mano["0"]["11"]["left"] = None
    dump(adir / f"InterHand2.6M_{split}_data.json", {"images": images, "annotations": anns})
    dump(adir / f"InterHand2.6M_{split}_camera.json", camera)
    dump(adir / f"InterHand2.6M_{split}_joint_3d.json", joint_3d)
    dump(adir / f"InterHand2.6M_{split}_MANO_NeuralAnnot.json", mano)
    return {"world": world, "cams": cams, "mano": mano}


# --- DexYCB ------------------------------------------------------------------------------------

DEX_SERIALS = ("836212060125", "839512060362")
DEX_SUBJECTS = ("20200709-subject-01", "20200813-subject-02")


def write_dexycb(root: Path, n_seq: int = 5, n_frames: int = 2, seed: int = 0) -> dict:
    """DexYCB layout: 2 subjects × ``n_seq`` sequences × 2 cameras × ``n_frames`` frames.
    Images and labels only for the first sequence of each subject (the others are indexed
    but never read in the tests). Subject 02's hand is a left hand."""
    rng = np.random.default_rng(seed)
    cal = root / "calibration"
    for i, serial in enumerate(DEX_SERIALS):
        p = cal / "intrinsics" / f"{serial}_640x480.yml"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(
            yaml.safe_dump({"color": {"fx": 600.0 + i, "fy": 610.0, "ppx": 320.0, "ppy": 240.0}})
        )
    labels = {}
    for si, subj in enumerate(DEX_SUBJECTS):
        side = "right" if si == 0 else "left"
        calib = f"2020{si}_{subj}_{side}"
        betas = rng.normal(0, 1, 10)
        p = cal / f"mano_{calib}" / "mano.yml"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(yaml.safe_dump({"betas": betas.tolist()}))
        for qi in range(n_seq):
            sdir = root / subj / f"20200709_14{qi:04d}"
            sdir.mkdir(parents=True, exist_ok=True)
            (sdir / "meta.yml").write_text(
                yaml.safe_dump(
                    {
                        "num_frames": n_frames,
                        "ycb_ids": [2, 5],
                        "ycb_grasp_ind": 0,
                        "mano_sides": [side],
                        "mano_calib": [calib],
                    }
                )
            )
            if qi != 0:
                continue
            for ci, serial in enumerate(DEX_SERIALS):
                for fr in range(n_frames):
                    write_jpeg(
                        sdir / serial / f"color_{fr:06d}.jpg", (480, 640), colour(fr + 2 * ci)
                    )
                    j3 = rng.normal(0, 0.03, (1, 21, 3)) + [0, 0, 0.7]
                    pose_m = np.concatenate([rng.normal(0, 0.3, 48), [0.01, -0.02, 0.7]])[None]
                    if fr == 1 and ci == 1:
                        j3[:] = -1.0  # no hand in this frame
                        pose_m[:] = 0.0
                    seg = np.zeros((480, 640), np.uint8)
                    seg[100:200, 100:200] = 255
                    seg[300:350, 300:400] = 5
                    np.savez(
                        sdir / serial / f"labels_{fr:06d}.npz",
                        seg=seg,
                        pose_y=np.zeros((2, 3, 4), np.float32),
                        pose_m=pose_m.astype(np.float32),
                        joint_3d=j3.astype(np.float32),
                        joint_2d=np.zeros((1, 21, 2), np.float32),
                    )
                    labels[(si, ci, fr)] = {"joint_3d": j3, "pose_m": pose_m, "betas": betas}
    return labels


# --- HanCo -------------------------------------------------------------------------------------


def write_hanco(root: Path, views=(0, 3), seed: int = 0) -> dict:
    """HanCo layout: sequence 0 with 2 training frames, sequence 1 with 1 test frame; images,
    masks and per-camera MANO files for ``views``; no MANO fit for sequence 1."""
    rng = np.random.default_rng(seed)
    dump(
        root / "meta.json",
        {
            "is_train": [[True, True], [False]],
            "subject_id": [[0, 0], [1]],
            "is_valid": [[True, True], [True]],
            "object_id": [[None, None], [3]],
            "has_fit": [[True, True], [False]],
        },
    )
    data = {}
    for sid, n in ((0, 2), (1, 1)):
        for fid in range(n):
            xyz = rng.normal(0, 0.03, (21, 3)) + [0, 0, 0.5]
            K = np.tile(np.array([[480.0, 0, 112], [0, 470.0, 111], [0, 0, 1]]), (8, 1, 1))
            M = np.tile(np.eye(4), (8, 1, 1))
            M[3, :3, :3] = [[0, 0, 1.0], [0, 1, 0], [-1, 0, 0]]  # camera 3 rotated about y
            M[3, :3, 3] = [0.0, 0.0, 0.4]
            dump(root / "xyz" / f"{sid:04d}" / f"{fid:08d}.json", xyz.tolist())
            dump(
                root / "calib" / f"{sid:04d}" / f"{fid:08d}.json",
                {"K": K.tolist(), "M": M.tolist()},
            )
            for cid in views:
                write_jpeg(
                    root / "rgb" / f"{sid:04d}" / f"cam{cid}" / f"{fid:08d}.jpg",
                    (224, 224),
                    colour(cid),
                )
                write_mask_jpeg(
                    root / "mask_hand" / f"{sid:04d}" / f"cam{cid}" / f"{fid:08d}.jpg",
                    (224, 224),
                    (20, 30, 60, 90),
                )
                if sid == 0:
                    v = rng.normal(0, 0.3, 61)
                    v[58:61] = [120.0, 100.0, 2.5]
                    dump(
                        root / "shape" / f"{sid:04d}" / f"cam{cid}" / f"{fid:08d}.json",
                        [v.tolist()],
                    )
                    data[(sid, fid, cid, "mano")] = v
            data[(sid, fid)] = (xyz, K, M)
    return data
