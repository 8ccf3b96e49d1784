"""A tiny dataset in VIHand's exact on-disk layout (datasets.md §5.3–5.5), built for tests.

``make_vihand(root)`` writes ``multidata/subjectK/ROMxx/IMU.json``, ``camera_params.json`` (subject
1) / ``camera_paras.json`` (subject 2), and ``annotations/subjectK/ROMxx/{mano,joint}.json`` for 2
subjects × 3 ROMs × ``T`` frames, and returns the ground truth it used. IMU.json follows the
documented schema: ``{"<frame>": {"Frames_Data": [7 × {acc_x, acc_y, acc_z, q_0..q_3}]}}`` in
**file order** (default assumption: wrist, back, thumb, index, middle, ring, pinky), acc in g
including gravity in the sensor frame of a z-up IMU world, quaternions w first. Out-of-range
samples are injected, including at frame 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from handpose.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_quaternion,
    matrix_to_rotation_6d,
)

SUBJECTS = (1, 2)
ROMS = ("ROM01", "ROM02", "ROM13")
# (frame, file sensor index, field, value): out-of-range or broken samples.
INJECTED = (
    (0, 2, "acc_x", 7.5),  # first frame: no previous value (the public loader crashes here)
    (0, 4, "q_1", 1.7),
    (5, 0, "q_2", -3.0),
    (6, 3, "acc_z", float("nan")),
    (7, 6, "acc_y", "garbage"),
    (8, 1, "acc_y", -5.2),
)


def _imu_truth(T, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(T) / 30.0
    rv = rng.normal(size=(1, 7, 3)) + 0.4 * np.sin(2 * t)[:, None, None] * rng.normal(
        size=(1, 7, 3)
    )
    R = axis_angle_to_matrix(torch.from_numpy(rv)).numpy()  # (T, 7, 3, 3) sensor-to-world
    up = np.array([0.0, 0.0, 1.0])  # z-up IMU world: specific force at rest = +1 g on z
    free = 0.05 * rng.normal(size=(T, 7, 3))  # small hand accelerations, in g
    acc = np.einsum("tnji,tnj->tni", R, free + up)
    quat = matrix_to_quaternion(torch.from_numpy(R)).numpy()
    return acc, quat, R, free


def make_vihand(root: Path, T: int = 12, mano_as_list: bool = False) -> dict:
    root = Path(root)
    truth = {}
    for si, s in enumerate(SUBJECTS):
        sdir = root / "multidata" / f"subject{s}"
        sdir.mkdir(parents=True, exist_ok=True)
        cam = {
            f"camera{k}": {"intrinsic": np.eye(3).tolist(), "extrinsic": np.eye(4).tolist()}
            for k in range(5)
        }
        (sdir / ("camera_params.json" if s == 1 else "camera_paras.json")).write_text(
            json.dumps(cam)
        )
        for ri, rom in enumerate(ROMS):
            seed = 100 * si + ri
            acc, quat, R, free = _imu_truth(T, seed)
            frames = {}
            for t in range(T):
                data = []
                for i in range(7):
                    d = {"acc_x": acc[t, i, 0], "acc_y": acc[t, i, 1], "acc_z": acc[t, i, 2]}
                    d.update({f"q_{k}": quat[t, i, k] for k in range(4)})
                    data.append({k: float(v) for k, v in d.items()})
                frames[str(t)] = {"Frames_Data": data}
            for t, i, key, val in INJECTED:
                if t < T:
                    frames[str(t)]["Frames_Data"][i][key] = val
            rdir = sdir / rom
            rdir.mkdir(exist_ok=True)
            (rdir / "IMU.json").write_text(json.dumps(frames))  # NaN is written as the NaN token

            rng = np.random.default_rng(1000 + seed)
            go = rng.normal(size=(T, 3)) * 0.5
            mano = np.concatenate(
                [
                    matrix_to_rotation_6d(axis_angle_to_matrix(torch.from_numpy(go))).numpy(),
                    rng.normal(size=(T, 45)) * 0.3,
                    np.repeat(rng.normal(size=(1, 10)), T, 0),
                    rng.normal(size=(T, 4)),
                ],
                axis=1,
            )
            joints = rng.normal(size=(T, 21, 3)) * 0.05
            adir = root / "annotations" / f"subject{s}" / rom
            adir.mkdir(parents=True, exist_ok=True)
            m = mano.tolist() if mano_as_list else {str(t): mano[t].tolist() for t in range(T)}
            (adir / "mano.json").write_text(json.dumps(m))
            (adir / "joint.json").write_text(
                json.dumps({str(t): joints[t].tolist() for t in range(T)})
            )
            truth[(s, rom)] = dict(
                acc=acc, quat=quat, R=R, free=free, mano=mano, joints=joints, go=go
            )
    return truth
