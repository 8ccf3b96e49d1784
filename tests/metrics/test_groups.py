"""Per-joint-group errors (wrist, MCP, PIP, DIP, TIP; OpenPose-21)."""

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.handmodel.conventions import OPENPOSE_JOINT_GROUPS
from handpose.metrics import group_errors, mpjpe, per_group_mpjpe


def test_groups_partition_openpose21():
    joints = sorted(j for idx in OPENPOSE_JOINT_GROUPS.values() for j in idx)
    assert joints == list(range(21))
    assert OPENPOSE_JOINT_GROUPS["tip"] == (4, 8, 12, 16, 20)


def test_hand_computed_tip_error():
    gt = torch.zeros(2, 21, 3, dtype=torch.float64)
    pred = gt.clone()
    pred[:, [4, 8, 12, 16, 20], 0] = 0.01  # only fingertips are off, by 1 cm
    out = per_group_mpjpe(pred, gt)
    assert float(out["tip"]) == pytest.approx(0.01)
    for name in ("wrist", "mcp", "pip", "dip"):
        assert float(out[name]) == 0.0
    # Weighted by group size, the groups give back MPJPE: 5 · 1 cm / 21.
    total = sum(float(v) * len(OPENPOSE_JOINT_GROUPS[k]) for k, v in out.items()) / 21
    assert total == pytest.approx(float(mpjpe(pred, gt)))


def test_matches_naive_loop_with_mask_and_root():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(30, 21, 3)) * 0.05
    pred = gt + rng.normal(size=gt.shape) * 0.01
    valid = rng.random((30, 21)) > 0.2
    out = per_group_mpjpe(*map(torch.from_numpy, (pred, gt, valid)), root=9)
    for name, idx in OPENPOSE_JOINT_GROUPS.items():
        errs = []
        for s in range(30):
            if not valid[s, 9]:
                continue
            p, g = pred[s] - pred[s, 9], gt[s] - gt[s, 9]
            errs += [np.linalg.norm(p[j] - g[j]) for j in idx if valid[s, j]]
        assert abs(float(out[name]) - np.mean(errs)) < 1e-12


def test_custom_groups_and_errors():
    e = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    out = group_errors(e, groups={"a": (0, 1), "b": (3,)})
    assert float(out["a"]) == 1.5 and float(out["b"]) == 4.0
    with pytest.raises(HandposeError):
        group_errors(e)  # the default groups need 21 joints
    with pytest.raises(HandposeError):
        group_errors(e, groups={"a": ()})
