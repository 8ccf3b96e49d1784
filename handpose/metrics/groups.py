"""Per-joint-group errors: wrist, MCP, PIP, DIP and TIP (OpenPose-21 order).

EHPE's analysis reports the error of each joint type separately (fingertips are the hardest).
The groups come from :data:`handpose.handmodel.conventions.OPENPOSE_JOINT_GROUPS`; for the
thumb, OpenPose's mcp/pip/dip names stand for its CMC/MCP/IP joints. Each group's error is the
mean over its valid joints and all samples (pooled), in metres.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from handpose.errors import HandposeError
from handpose.handmodel.conventions import OPENPOSE_JOINT_GROUPS
from handpose.metrics._common import as_tensor, check_index, check_mask, root_mask
from handpose.metrics.joints import mpjpe

__all__ = ["group_errors", "per_group_mpjpe"]


def _check_groups(groups: Mapping[str, Sequence[int]], J: int) -> None:
    for name, idx in groups.items():
        if len(idx) == 0 or any(not isinstance(i, int) or not 0 <= i < J for i in idx):
            raise HandposeError(
                f"joint group {name!r} must list joint indices in [0, {J}), got {tuple(idx)}."
            )


def group_errors(
    errors: Tensor,
    valid: Tensor | None = None,
    groups: Mapping[str, Sequence[int]] = OPENPOSE_JOINT_GROUPS,
) -> dict[str, Tensor]:
    """Mean error of each joint group.

    Args:
        errors: (..., J) per-joint errors (any alignment), metres.
        valid: optional (..., J) bool mask.
        groups: group name → joint indices (default: wrist/mcp/pip/dip/tip of OpenPose-21).
    Returns:
        Group name → scalar mean over the group's valid joints of all samples (NaN if none).

    Example:
        >>> e = torch.zeros(2, 21, dtype=torch.float64); e[:, [4, 8, 12, 16, 20]] = 0.01
        >>> {k: round(float(v), 3) for k, v in group_errors(e).items()}["tip"]
        0.01
    """
    e = as_tensor(errors, "errors")
    if e.ndim < 1:
        raise HandposeError(f"errors must have shape (..., J), got {tuple(e.shape)}.")
    _check_groups(groups, e.shape[-1])
    mask = check_mask(valid, e.shape, "valid")
    out = {}
    for name, idx in groups.items():
        sel = torch.as_tensor(list(idx), device=e.device)
        eg = e.index_select(-1, sel)
        if mask is None:
            out[name] = eg.mean()
        else:
            mg = mask.to(e.device).index_select(-1, sel)
            out[name] = torch.where(mg, eg, 0.0).sum() / mg.sum()
    return out


def per_group_mpjpe(
    pred: Tensor,
    gt: Tensor,
    valid: Tensor | None = None,
    root: int | None = None,
    groups: Mapping[str, Sequence[int]] = OPENPOSE_JOINT_GROUPS,
) -> dict[str, Tensor]:
    """MPJPE per joint group (OpenPose-21 by default).

    Args:
        pred: (..., J, 3) metres.
        gt: (..., J, 3) metres.
        valid: optional (..., J) bool mask.
        root: root joint for root-relative errors (the root's own group is then 0 by
            construction; e.g. use the middle MCP, 9, to keep a wrist error), or None.
        groups: group name → joint indices.
    Returns:
        Group name → scalar error in metres.
    """
    per_joint = mpjpe(pred, gt, root=root, reduction="none")
    mask = check_mask(valid, per_joint.shape, "valid")
    if root is not None:
        mask = root_mask(mask, check_index(root, per_joint.shape[-1], "root"))
    return group_errors(per_joint, mask, groups)
