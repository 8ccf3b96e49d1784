"""DIR's bone projection: a hand-computed map, channel blocks that never mix, naive reference."""

import math

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.models.dir.graph import HAND_BONES
from handpose.models.dir.projection import BoneProjection, bone_projection, normalised_to_cells

NB = len(HAND_BONES)


def _cells_to_normalised(xy, size):
    h, w = size
    xy = torch.as_tensor(xy, dtype=torch.float64)
    return (2.0 * xy + 1.0) / torch.tensor([w, h], dtype=torch.float64) - 1.0


def _naive(features, joints, size, threshold):
    """Loop over hands, bones and cells (the module docstring, literally)."""
    B, H, _, C = features.shape
    h, w = size
    out = np.zeros((B, H, NB, C, h, w))
    p = normalised_to_cells(joints, size).numpy()
    f = features.numpy()
    for b in range(B):
        for hand in range(H):
            for k, (i, j) in enumerate(HAND_BONES):
                a, e = p[b, hand, i], p[b, hand, j]
                for y in range(h):
                    for x in range(w):
                        c = np.array([x, y], dtype=float)
                        seg = e - a
                        L2 = seg @ seg
                        t = 0.0 if L2 == 0 else min(max((c - a) @ seg / L2, 0.0), 1.0)
                        if np.linalg.norm(c - (a + t * seg)) > threshold:
                            continue
                        da, db = np.linalg.norm(c - a), np.linalg.norm(c - e)
                        wa, wb = (0.5, 0.5) if da + db == 0 else (db / (da + db), da / (da + db))
                        out[b, hand, k, :, y, x] = wa * f[b, hand, i] + wb * f[b, hand, j]
    return out.reshape(B, H * NB * C, h, w)


def test_cell_coordinates_convention():
    # cell j of a w-wide map is centred at x_n = (2j + 1)/w − 1; ±1 are the outer edges
    size = (4, 8)
    p = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [-0.75, -0.75], [0.0, 0.0]])
    np.testing.assert_allclose(
        normalised_to_cells(p, size).numpy(), [[-0.5, -0.5], [7.5, 3.5], [0.5, 0.0], [3.5, 1.5]]
    )


def test_hand_computed_bone():
    """One bone (wrist → thumb CMC) along row 0 from cell (0, 0) to (2, 0), radius 1, on 4×4."""
    size = (4, 4)
    joints = torch.zeros(1, 1, 21, 2, dtype=torch.float64)
    joints[0, 0, :] = _cells_to_normalised([3.0, 3.0], size)  # every other joint at cell (3, 3)
    joints[0, 0, 0] = _cells_to_normalised([0.0, 0.0], size)
    joints[0, 0, 1] = _cells_to_normalised([2.0, 0.0], size)
    feats = torch.zeros(1, 1, 21, 2, dtype=torch.float64)
    feats[0, 0, 0] = torch.tensor([1.0, 0.0])  # f_a
    feats[0, 0, 1] = torch.tensor([0.0, 1.0])  # f_b
    out = bone_projection(feats, joints, size, threshold=1.0)
    assert out.shape == (1, 1 * NB * 2, 4, 4)
    bone0 = out[0, 0:2]  # HAND_BONES[0] = (0, 1): channels 0, 1
    assert HAND_BONES[0] == (0, 1)
    r5 = math.sqrt(5.0)
    want_a = np.zeros((4, 4))
    want_b = np.zeros((4, 4))
    # row 0: on the segment (x = 0, 1, 2) and 1 cell beyond its end (x = 3)
    want_a[0, :4] = [1.0, 0.5, 0.0, 1 / 4]
    want_b[0, :4] = [0.0, 0.5, 1.0, 3 / 4]
    # row 1: distance 1 from the segment for x = 0, 1, 2; (3, 1) is √2 from b: outside
    want_a[1, 0], want_b[1, 0] = r5 / (1 + r5), 1 / (1 + r5)
    want_a[1, 1], want_b[1, 1] = 0.5, 0.5
    want_a[1, 2], want_b[1, 2] = 1 / (1 + r5), r5 / (1 + r5)
    np.testing.assert_allclose(bone0[0].numpy(), want_a, atol=1e-12)
    np.testing.assert_allclose(bone0[1].numpy(), want_b, atol=1e-12)
    # the bones from the wrist to the other fingers' MCPs (cell (3, 3)) are separate blocks
    k = HAND_BONES.index((0, 5))
    blk = out[0, 2 * k : 2 * k + 2]
    assert blk[0, 0, 0] == 1.0 and blk[1, 0, 0] == 0.0  # the wrist cell: f_a only
    # bones whose two ends sit at (3, 3) with zero features are zero everywhere
    k = HAND_BONES.index((5, 6))
    assert torch.count_nonzero(out[0, 2 * k : 2 * k + 2]) == 0


def test_channels_never_mix_across_bones_or_hands():
    """Both hands with identical overlapping bones; each hand-bone block holds only its own
    features (hand 0 features are 1 … 21, hand 1 features 1000 + …)."""
    size = (8, 8)
    g = torch.Generator().manual_seed(0)
    pts = torch.rand(1, 1, 21, 2, generator=g, dtype=torch.float64) * 1.6 - 0.8
    joints = pts.expand(1, 2, 21, 2).clone()  # the two hands overlap exactly
    C = 3
    ids = torch.arange(1, 22, dtype=torch.float64)
    feats = torch.zeros(1, 2, 21, C, dtype=torch.float64)
    feats[0, 0] = ids[:, None] * torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64)
    feats[0, 1] = 1000.0 + feats[0, 0]
    out = bone_projection(feats, joints, size, threshold=2.0).reshape(2, NB, C, 8, 8)
    for hand in range(2):
        for k, (i, j) in enumerate(HAND_BONES):
            blk = out[hand, k]  # (C, 8, 8)
            on = blk.abs().sum(0) > 0
            assert on.any()
            # every non-zero cell is a convex mix of this bone's two endpoint features only
            fa, fb = feats[0, hand, i], feats[0, hand, j]
            x = blk[:, on].T  # (n, C)
            wb = (x[:, 0] - fa[0]) / (fb[0] - fa[0])
            np.testing.assert_allclose(x.numpy(), (fa + wb[:, None] * (fb - fa)).numpy(), atol=1e-9)
            assert bool(((wb >= -1e-12) & (wb <= 1 + 1e-12)).all())
    # the two hands' blocks differ by exactly the 1000 offset where a bone is drawn
    diff = out[1] - out[0]
    drawn = out[0].abs() > 0
    np.testing.assert_allclose(diff[drawn].numpy(), 1000.0)


@pytest.mark.parametrize("threshold", [1.0, 2.0])
def test_matches_naive_reference(threshold):
    g = torch.Generator().manual_seed(3)
    size = (6, 5)
    feats = torch.randn(2, 2, 21, 4, generator=g, dtype=torch.float64)
    joints = torch.rand(2, 2, 21, 2, generator=g, dtype=torch.float64) * 2.4 - 1.2
    joints[0, 0, 2] = joints[0, 0, 1]  # a zero-length bone
    got = bone_projection(feats, joints, size, threshold)
    np.testing.assert_allclose(got.numpy(), _naive(feats, joints, size, threshold), atol=1e-12)
    assert (
        got.float().dtype == torch.float32
        and bone_projection(feats.float(), joints.float(), size, threshold).dtype == torch.float32
    )


def test_gradients_reach_features_not_positions():
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(1, 2, 21, 2, generator=g, dtype=torch.float64, requires_grad=True)
    joints = (torch.rand(1, 2, 21, 2, generator=g, dtype=torch.float64) - 0.5).requires_grad_()
    out = bone_projection(feats, joints, (4, 4), 1.0)
    out.sum().backward()
    assert feats.grad is not None and feats.grad.abs().sum() > 0
    assert joints.grad is None
    torch.autograd.gradcheck(
        lambda f: bone_projection(f, joints.detach(), (4, 4), 1.0), (feats,), eps=1e-6
    )


def test_module_and_bad_input():
    m = BoneProjection(joint_channels=4, out_channels=8, threshold=1.0)
    assert m.fuse[0].in_channels == 2 * NB * 4
    y = m(torch.randn(2, 2, 21, 4), torch.rand(2, 2, 21, 2) - 0.5, (4, 4))
    assert y.shape == (2, 8, 4, 4)
    with pytest.raises(HandposeError, match="features"):
        bone_projection(torch.zeros(1, 2, 20, 4), torch.zeros(1, 2, 20, 2), (4, 4), 1.0)
    with pytest.raises(HandposeError, match="joints"):
        bone_projection(torch.zeros(1, 2, 21, 4), torch.zeros(1, 2, 21, 3), (4, 4), 1.0)
