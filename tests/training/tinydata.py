"""Tiny stand-ins for the training tests: a rigid stick-hand model file and an IMU file.

Both are written with the project's own formats (a MANO-layout ``.npz`` for ``HandModel``, the
handpose IMU HDF5 via ``open_writer``), so the real layer, dataset and CLI code paths run, but
in milliseconds: 37 vertices, no pose correctives, a few 24-frame sequences.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from handpose.formats.imu_file import SequenceRecord, open_writer
from handpose.geometry.rotations import matrix_to_quaternion
from handpose.handmodel import HandModel
from handpose.handmodel.conventions import MANO_PARENTS
from handpose.handmodel.data import HandModelData

# Right hand, MANO rest layout: fingers along −x, thumb towards +z (metres).
_JOINTS = np.array(
    [
        [0.0, 0.0, 0.0],
        [-0.09, 0.0, 0.025], [-0.125, 0.0, 0.025], [-0.15, 0.0, 0.025],
        [-0.095, 0.0, 0.005], [-0.135, 0.0, 0.005], [-0.16, 0.0, 0.005],
        [-0.08, 0.0, -0.035], [-0.105, 0.0, -0.035], [-0.12, 0.0, -0.035],
        [-0.09, 0.0, -0.015], [-0.125, 0.0, -0.015], [-0.15, 0.0, -0.015],
        [-0.02, -0.01, 0.03], [-0.045, -0.01, 0.05], [-0.07, -0.01, 0.065],
    ]
)  # fmt: skip
_TIPS = {
    15: [-0.02, 0.0, 0.012],
    3: [-0.022, 0, 0],
    6: [-0.024, 0, 0],
    12: [-0.022, 0, 0],
    9: [-0.018, 0, 0],
}  # thumb, index, middle, ring, pinky distal joint → tip offset
# fmt: skip
SENSORS = ("thumb", "index", "middle", "ring", "pinky", "back", "wrist")
SENSOR_JOINT = (15, 3, 6, 12, 9, 0, 0)


def stick_hand_data() -> HandModelData:
    """16 joint markers + 5 tips + 16 dorsal points, rigidly skinned; β₀ scales the hand."""
    V = 37
    v = np.zeros((V, 3))
    owner = np.zeros(V, dtype=np.int64)
    v[:16] = _JOINTS
    owner[1:16] = [MANO_PARENTS[j] for j in range(1, 16)]
    for k, (j, off) in enumerate(_TIPS.items()):
        v[16 + k] = _JOINTS[j] + np.asarray(off)
        owner[16 + k] = j
    for j in range(16):
        v[21 + j] = _JOINTS[j] + np.array([0.0, 0.006, 0.0])
        owner[21 + j] = j
    weights = np.zeros((V, 16))
    weights[np.arange(V), owner] = 1.0
    J_reg = np.zeros((16, V))
    J_reg[np.arange(16), np.arange(16)] = 1.0
    shapedirs = np.zeros((V, 3, 10))
    shapedirs[:, :, 0] = 0.05 * v  # β₀ = 1 → 5 % larger
    faces = np.array([[0, 1, 4], [0, 4, 10], [0, 10, 7], [0, 13, 1]], dtype=np.int64)
    return HandModelData(
        v_template=v,
        faces=faces,
        shapedirs=shapedirs,
        posedirs=np.zeros((V, 3, 135)),
        J_regressor=J_reg,
        weights=weights,
        parents=MANO_PARENTS,
        hands_components=np.eye(45),
        hands_mean=np.zeros(45),
        side="right",
        name="stick",
        tip_ids=(16, 17, 18, 19, 20),
    )


def write_stick_hand(path: Path) -> Path:
    stick_hand_data().save_npz(path)
    return path


def _sequence(hand: HandModel, subject: int, name: str, frames: int, seed: int, fps: float):
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / fps
    freq = rng.uniform(0.3, 1.5, size=(1, 48))
    phase = rng.uniform(0, 2 * np.pi, size=(1, 48))
    amp = np.concatenate([np.full(3, 0.6), np.full(45, 0.5)])[None]
    aa = amp * np.sin(2 * np.pi * freq * t + phase)  # (T, 48): global orient + 45
    betas = np.repeat(rng.normal(0, 1, size=(1, 10)), frames, axis=0)
    with torch.no_grad():
        out = hand(
            global_orient=torch.as_tensor(aa[:, :3], dtype=torch.float32),
            hand_pose=torch.as_tensor(aa[:, 3:], dtype=torch.float32),
            betas=torch.as_tensor(betas, dtype=torch.float32),
        )
    rot = out.global_rotations[:, list(SENSOR_JOINT)]  # (T, 7, 3, 3)
    pos = out.joints[:, list(SENSOR_JOINT)].numpy().astype(np.float64)
    pos[:, 6] += np.array([0.02, 0.0, 0.0])  # wrist strap sits proximal to the wrist joint
    acc = np.zeros_like(pos)
    acc[1:-1] = (pos[2:] - 2 * pos[1:-1] + pos[:-2]) * fps**2
    n = len(SENSORS)
    return SequenceRecord(
        subject=subject,
        sequence=name,
        fps=fps,
        layout="vihand7",
        sensor_names=SENSORS,
        global_orient=aa[:, :3].astype(np.float32),
        hand_pose=aa[:, 3:].astype(np.float32),
        betas=betas.astype(np.float32),
        transl=np.zeros((frames, 3), np.float32),
        joints21=out.joints21.numpy(),
        quaternion=matrix_to_quaternion(rot).numpy(),
        specific_force=np.zeros((frames, n, 3), np.float32),
        free_acceleration=acc.astype(np.float32),
        angular_velocity=np.zeros((frames, n, 3), np.float32),
    )


def write_imu_file(
    path: Path,
    hand_npz: Path,
    frames: int = 24,
    train_sequences: int = 4,
    test_sequences: int = 1,
    subjects: int = 1,
    seed: int = 0,
) -> Path:
    """A handpose IMU file with ROM01.. (train) and ROM13.. (test) sequences of the stick hand."""
    hand = HandModel(str(hand_npz), side="right", flat_hand_mean=True)
    roms = [f"ROM{i:02d}_Train" for i in range(1, train_sequences + 1)]
    roms += [f"ROM{i:02d}_Test" for i in range(13, 13 + test_sequences)]
    with open_writer(path, {"seed": seed, "generator": "tests/training/tinydata.py"}) as w:
        for s in range(1, subjects + 1):
            for k, name in enumerate(roms):
                w.write(_sequence(hand, s, name, frames, seed + 1000 * s + k, 30.0))
    return path
