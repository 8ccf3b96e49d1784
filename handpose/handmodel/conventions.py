"""Joint orders, kinematic tree, fingertip vertex presets and mapping lists.

Every mapping list follows ``out = inp[..., LIST, :]`` (``out[k] = inp[LIST[k]]``).
Sources: ../shared/reference/mano.md §3–4 (smplx ``joint_names.py``, manopth/manotorch
``manolayer.py``, HaMeR ``mano_wrapper.py``, FreiHAND ``mano_utils.py``, InterHand2.6M
``dataset.py``). Pinned by ``tests/handmodel/test_conventions.py``.
"""

from __future__ import annotations

# --- MANO native order (16): wrist, index×3, middle×3, pinky×3, ring×3, thumb×3 -------------
# Note the finger order index, middle, PINKY, ring, thumb.
MANO_JOINT_NAMES: tuple[str, ...] = (
    "wrist",
    "index1",
    "index2",
    "index3",
    "middle1",
    "middle2",
    "middle3",
    "pinky1",
    "pinky2",
    "pinky3",
    "ring1",
    "ring2",
    "ring3",
    "thumb1",
    "thumb2",
    "thumb3",
)
MANO_PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)
# Level-parallel kinematics: 3 levels × 5 fingers (index, middle, pinky, ring, thumb).
MANO_LEVELS: tuple[tuple[int, ...], ...] = (
    (1, 4, 7, 10, 13),
    (2, 5, 8, 11, 14),
    (3, 6, 9, 12, 15),
)
NUM_MANO_JOINTS = 16

# --- OpenPose / FreiHAND / DexYCB / HanCo order (21) --------------------------------------
# 0 wrist; 1–4 thumb (base→tip); 5–8 index; 9–12 middle; 13–16 ring; 17–20 pinky.
OPENPOSE_JOINT_NAMES: tuple[str, ...] = (
    "wrist",
    "thumb_mcp",
    "thumb_pip",
    "thumb_dip",
    "thumb_tip",
    "index_mcp",
    "index_pip",
    "index_dip",
    "index_tip",
    "middle_mcp",
    "middle_pip",
    "middle_dip",
    "middle_tip",
    "ring_mcp",
    "ring_pip",
    "ring_dip",
    "ring_tip",
    "pinky_mcp",
    "pinky_pip",
    "pinky_dip",
    "pinky_tip",
)
NUM_OPENPOSE_JOINTS = 21
OPENPOSE_PARENTS: tuple[int, ...] = (
    -1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19,
)  # fmt: skip

# MANO-16 followed by 5 tips (thumb, index, middle, ring, pinky at 16..20) → OpenPose-21.
MANO_TO_OPENPOSE: tuple[int, ...] = (
    0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20,
)  # fmt: skip
# OpenPose-21 → MANO-16 (tips are OpenPose 4, 8, 12, 16, 20).
OPENPOSE_TO_MANO: tuple[int, ...] = (0, 5, 6, 7, 9, 10, 11, 17, 18, 19, 13, 14, 15, 1, 2, 3)
OPENPOSE_TIPS: tuple[int, ...] = (4, 8, 12, 16, 20)

# InterHand2.6M per-hand 21 (tip→palm per finger, wrist last) ↔ OpenPose-21.
INTERHAND_TO_OPENPOSE: tuple[int, ...] = (
    20, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 19, 18, 17, 16,
)  # fmt: skip
OPENPOSE_TO_INTERHAND: tuple[int, ...] = (
    4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13, 20, 19, 18, 17, 0,
)  # fmt: skip

# Per-joint groups in OpenPose-21 order (EHPE's analysis: TIP, DIP, PIP, MCP, wrist). For the
# thumb, OpenPose's mcp/pip/dip names stand for the CMC/MCP/IP joints.
OPENPOSE_JOINT_GROUPS: dict[str, tuple[int, ...]] = {
    "wrist": (0,),
    "mcp": (1, 5, 9, 13, 17),
    "pip": (2, 6, 10, 14, 18),
    "dip": (3, 7, 11, 15, 19),
    "tip": (4, 8, 12, 16, 20),
}

# --- Fingertip vertex presets (thumb, index, middle, ring, pinky) for the 778-vertex MANO mesh
TIP_PRESETS: dict[str, tuple[int, ...]] = {
    "smplx": (744, 320, 443, 554, 671),  # smplx vertex_ids['mano'], HaMeR, WiLoR
    "freihand": (744, 320, 443, 555, 672),  # FreiHAND mano_utils
    "manopth": (745, 317, 444, 556, 673),  # manopth right hand
    "manopth_left": (745, 317, 445, 556, 673),  # manopth left hand (middle 445)
    "interhand": (745, 317, 445, 556, 673),  # InterHand2.6M J_regressor_mano_ih26m tip rows
    "intaghand": (745, 317, 444, 556, 673),  # IntagHand/EHPE/DIR evaluation (= manopth right)
}
TIP_FINGER_ORDER: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")
