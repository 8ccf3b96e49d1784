"""Convention pins for joint orders, the kinematic tree and the mapping lists (mano.md §3)."""

from __future__ import annotations

from handpose.handmodel.conventions import (
    INTERHAND_TO_OPENPOSE,
    MANO_JOINT_NAMES,
    MANO_LEVELS,
    MANO_PARENTS,
    MANO_TO_OPENPOSE,
    OPENPOSE_JOINT_GROUPS,
    OPENPOSE_JOINT_NAMES,
    OPENPOSE_PARENTS,
    OPENPOSE_TIPS,
    OPENPOSE_TO_INTERHAND,
    OPENPOSE_TO_MANO,
)


def test_mano_order_and_tree():
    # Finger order index, middle, PINKY, ring, thumb (pinky before ring).
    fingers = [MANO_JOINT_NAMES[k][:-1] for k in (1, 4, 7, 10, 13)]
    assert fingers == ["index", "middle", "pinky", "ring", "thumb"]
    assert MANO_JOINT_NAMES[0] == "wrist" and len(MANO_JOINT_NAMES) == 16
    assert MANO_PARENTS == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)
    # Levels: level ℓ holds the joints at depth ℓ; every parent sits one level up.
    depth = [0] * 16
    for k in range(1, 16):
        depth[k] = depth[MANO_PARENTS[k]] + 1
    for lvl, joints in enumerate(MANO_LEVELS, start=1):
        assert all(depth[k] == lvl for k in joints)
    assert sorted(k for lvl in MANO_LEVELS for k in lvl) == list(range(1, 16))


def test_openpose_order_and_mapping():
    assert OPENPOSE_JOINT_NAMES[:5] == ("wrist", "thumb_mcp", "thumb_pip", "thumb_dip", "thumb_tip")
    assert OPENPOSE_TIPS == (4, 8, 12, 16, 20)
    assert MANO_TO_OPENPOSE == (
        0,
        13,
        14,
        15,
        16,
        1,
        2,
        3,
        17,
        4,
        5,
        6,
        18,
        10,
        11,
        12,
        19,
        7,
        8,
        9,
        20,
    )
    # Names agree through the mapping (MANO joints 0..15, tips 16..20 thumb..pinky).
    tips = ("thumb", "index", "middle", "ring", "pinky")
    for op, src in enumerate(MANO_TO_OPENPOSE):
        name = OPENPOSE_JOINT_NAMES[op]
        if src >= 16:
            assert name == f"{tips[src - 16]}_tip"
        else:
            assert name.split("_")[0] == MANO_JOINT_NAMES[src].rstrip("123")
    # OpenPose → MANO is the inverse on the 16 joints.
    assert all(MANO_TO_OPENPOSE[OPENPOSE_TO_MANO[k]] == k for k in range(16))
    # Parent structure is consistent across the mapping for the 16 non-tip joints.
    for op in range(21):
        src = MANO_TO_OPENPOSE[op]
        if src < 16 and op > 0:
            assert MANO_TO_OPENPOSE[OPENPOSE_PARENTS[op]] == MANO_PARENTS[src]


def test_interhand_round_trip_and_groups():
    assert all(INTERHAND_TO_OPENPOSE[OPENPOSE_TO_INTERHAND[k]] == k for k in range(21))
    assert INTERHAND_TO_OPENPOSE[0] == 20  # the InterHand wrist is its last joint
    groups = sorted(k for g in OPENPOSE_JOINT_GROUPS.values() for k in g)
    assert groups == list(range(21))
    assert OPENPOSE_JOINT_GROUPS["tip"] == OPENPOSE_TIPS
