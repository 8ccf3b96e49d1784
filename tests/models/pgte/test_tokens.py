"""Eq. 6: the pose-aware token partition and the pose template split."""

import torch

from handpose.handmodel.conventions import OPENPOSE_JOINT_NAMES
from handpose.models.pgte.tokens import (
    JOINT_TOKEN,
    NUM_POSE_TOKENS,
    POSE_TOKEN_JOINTS,
    POSE_TOKEN_NAMES,
    PoseTemplateSplit,
    PoseTokenizer,
)


def test_partition_hand_coded():
    assert NUM_POSE_TOKENS == 6
    assert JOINT_TOKEN == (0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5)
    # every joint in exactly one token; the wrist alone, each finger its four joints
    owned = sorted(j for js in POSE_TOKEN_JOINTS for j in js)
    assert owned == list(range(21))
    assert [len(js) for js in POSE_TOKEN_JOINTS] == [1, 4, 4, 4, 4, 4]
    for name, joints in zip(POSE_TOKEN_NAMES[1:], POSE_TOKEN_JOINTS[1:], strict=True):
        assert all(OPENPOSE_JOINT_NAMES[j].startswith(name) for j in joints)
        assert OPENPOSE_JOINT_NAMES[joints[-1]].endswith("tip")
    assert OPENPOSE_JOINT_NAMES[POSE_TOKEN_JOINTS[0][0]] == "wrist"


def test_tokenizer_routes_each_joint_to_its_token_only():
    torch.manual_seed(0)
    tok = PoseTokenizer(feat_dim=5, token_dim=7)
    tok.norm = torch.nn.Identity()
    f = torch.randn(2, 21, 5)
    p = torch.randn(2, 21, 3)
    base = tok(f, p)
    for j in (0, 3, 6, 12, 15, 20):
        f2 = f.clone()
        f2[:, j] += 1.0
        changed = (tok(f2, p) - base).abs().amax(dim=(0, 2)) > 1e-6
        expect = torch.zeros(6, dtype=torch.bool)
        expect[JOINT_TOKEN[j]] = True
        assert torch.equal(changed, expect), j


def test_split_token_reaches_exactly_its_joints():
    torch.manual_seed(1)
    split = PoseTemplateSplit(token_dim=4, feat_dim=3, joint_dim=5)
    split.norm = torch.nn.Identity()
    tokens = torch.randn(1, 6, 4)
    feats = torch.randn(1, 21, 3)
    base = split(tokens, feats)
    for t in range(6):
        t2 = tokens.clone()
        t2[:, t] += 1.0
        changed = (split(t2, feats) - base).abs().amax(dim=(0, 2)) > 1e-6
        assert changed.nonzero().flatten().tolist() == list(POSE_TOKEN_JOINTS[t])


def test_leading_dims():
    tok = PoseTokenizer(4, 6)
    out = tok(torch.randn(2, 3, 21, 4), torch.randn(2, 3, 21, 3))
    assert tuple(out.shape) == (2, 3, 6, 6)
