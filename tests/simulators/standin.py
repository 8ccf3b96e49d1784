"""A tiny stick hand in MANO layout, for pipeline tests that must not depend on the open asset.

Right hand, MANO rest layout: fingers along −x, palm facing −y, thumb towards +z. Every joint
has a marker vertex exactly at the joint (the regressor is one-hot on it), each bone has a
dorsal vertex 5 mm above its middle (+y), every vertex is rigidly skinned to one joint, and
β₀ scales the whole hand. Vertex ids: 0–15 joint markers, 16–20 tips, 21–36 dorsal.
"""

from __future__ import annotations

import numpy as np

from handpose.handmodel.conventions import MANO_PARENTS, TIP_FINGER_ORDER
from handpose.handmodel.data import HandModelData
from handpose.handmodel.mano_pickle import save_npz_model

# MANO order: wrist, index1-3, middle1-3, pinky1-3, ring1-3, thumb1-3.
_JOINTS = np.array(
    [
        [0.00, 0.0, 0.000],
        [-0.09, 0.0, 0.025], [-0.125, 0.0, 0.025], [-0.15, 0.0, 0.025],
        [-0.095, 0.0, 0.005], [-0.135, 0.0, 0.005], [-0.16, 0.0, 0.005],
        [-0.08, 0.0, -0.035], [-0.105, 0.0, -0.035], [-0.12, 0.0, -0.035],
        [-0.09, 0.0, -0.015], [-0.125, 0.0, -0.015], [-0.15, 0.0, -0.015],
        [-0.02, -0.01, 0.03], [-0.045, -0.01, 0.05], [-0.07, -0.01, 0.065],
    ]
)  # fmt: skip
_TIP_OF = {"thumb": 15, "index": 3, "middle": 6, "ring": 12, "pinky": 9}
_TIP_OFFSET = {"thumb": [-0.02, 0.0, 0.012], "index": [-0.022, 0, 0], "middle": [-0.024, 0, 0],
               "ring": [-0.022, 0, 0], "pinky": [-0.018, 0, 0]}  # fmt: skip


def stick_hand_data() -> HandModelData:
    return HandModelData.from_arrays(stick_hand_arrays(), side="right", name="stick")


def save_stick_hand(path) -> None:
    """Write the stick hand as a handpose model .npz (loadable with ``HandModel(path)``)."""
    save_npz_model(stick_hand_arrays(), path)


def stick_hand_arrays() -> dict[str, np.ndarray]:
    V = 16 + 5 + 16
    v = np.zeros((V, 3))
    owner = np.zeros(V, dtype=np.int64)
    v[:16] = _JOINTS
    owner[:16] = np.arange(16)
    owner[0] = 0
    for k, f in enumerate(TIP_FINGER_ORDER):
        j = _TIP_OF[f]
        v[16 + k] = _JOINTS[j] + np.array(_TIP_OFFSET[f])
        owner[16 + k] = j
    children = {p: c for c, p in enumerate(MANO_PARENTS) if p >= 0}
    for j in range(16):
        end = _JOINTS[children[j]] if j in children and j != 0 else None
        if j == 0:
            end = _JOINTS[4]
        if end is None:
            f = next(f for f, t in _TIP_OF.items() if t == j)
            end = v[16 + TIP_FINGER_ORDER.index(f)]
        v[21 + j] = 0.5 * (_JOINTS[j] + end) + np.array([0.0, 0.005, 0.0])
        owner[21 + j] = j
    # Joint markers skin to their parent's bone so they move with the joint position.
    for j in range(1, 16):
        owner[j] = MANO_PARENTS[j]
    weights = np.zeros((V, 16))
    weights[np.arange(V), owner] = 1.0
    J_reg = np.zeros((16, V))
    J_reg[np.arange(16), np.arange(16)] = 1.0
    shapedirs = np.zeros((V, 3, 10))
    shapedirs[:, :, 0] = 0.05 * v  # β₀ = 1 makes the hand 5 % larger
    kintree = np.stack([np.array(MANO_PARENTS), np.arange(16)]).astype(np.int64)
    faces = np.array([[0, 1, 4], [0, 4, 10], [0, 10, 7], [0, 13, 1]], dtype=np.int64)
    return {
        "v_template": v,
        "f": faces,
        "shapedirs": shapedirs,
        "posedirs": np.zeros((V, 3, 135)),
        "J_regressor": J_reg,
        "weights": weights,
        "kintree_table": kintree,
        "hands_components": np.eye(45),
        "hands_mean": np.zeros(45),
        "dorsal_tip_ids": np.array([21 + _TIP_OF[f] for f in TIP_FINGER_ORDER]),
        "back_vertex_id": np.array(21),
        "wrist_vertex_id": np.array(0),
        "tip_ids": np.arange(16, 21),
    }
