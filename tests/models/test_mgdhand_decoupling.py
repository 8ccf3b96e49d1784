"""Prior decoupling: the paper's MSEM/CEM/ISEM formulas, pooling and the ISEM kernel."""

import torch

from handpose.models.mgdhand.decoupling import (
    MotionEnhancement,
    PriorDecoupling,
    cem_input,
    msem_input,
)


def test_enhancement_inputs_follow_the_paper_formulas():
    fm = torch.tensor([1.0, 2.0, -1.0])
    fk = torch.tensor([3.0, 0.5, 2.0])
    # MSEM = (F^m − F^k) ⊕ (F^m ⊙ F^k)
    assert msem_input(fm, fk).tolist() == [-2.0, 1.5, -3.0, 3.0, 1.0, -2.0]
    # CEM = (F^m ⊙ F^k) ⊕ (F^m + F^k)
    assert cem_input(fm, fk).tolist() == [3.0, 1.0, -2.0, 4.0, 2.5, 1.0]
    # ISEM mirrors MSEM: (F^k − F^m) ⊕ (F^k ⊙ F^m)
    assert msem_input(fk, fm).tolist() == [2.0, -1.5, 3.0, 3.0, 1.0, -2.0]


def _frame_influence(module, t=7, j=16, d=8, frame=3):
    x = torch.randn(1, t, j, 2 * d)
    x2 = x.clone()
    x2[0, frame] += torch.randn(j, 2 * d)
    return (module(x2) - module(x)).abs().amax(dim=(-1, -2))[0] > 1e-6  # (T,)


def test_motion_kernel_size_sets_the_temporal_reach():
    torch.manual_seed(0)
    assert _frame_influence(MotionEnhancement(8, 4, 1)).tolist() == [0, 0, 0, 1, 0, 0, 0]
    assert _frame_influence(MotionEnhancement(8, 4, 3)).tolist() == [0, 0, 1, 1, 1, 0, 0]
    assert _frame_influence(MotionEnhancement(8, 4, 5)).tolist() == [0, 1, 1, 1, 1, 1, 0]
    # Even kernels (the paper preset's k = 4): one frame before, two after, as torch's "same".
    assert _frame_influence(MotionEnhancement(8, 4, 4)).tolist() == [0, 1, 1, 1, 1, 0, 0]
    assert _frame_influence(MotionEnhancement(8, 4, 2)).tolist() == [0, 0, 1, 1, 0, 0, 0]


def test_prior_granularity():
    torch.manual_seed(0)
    dec = PriorDecoupling(8, 2, 2.0, shape_dim=3, pose_dim=4, motion_dim=5).eval()
    z, fm, fk = torch.randn(2, 6, 16, 8), torch.randn(2, 6, 16, 8), torch.randn(2, 6, 7, 8)
    priors, aux = dec(z, fm, fk)
    assert priors["shape"].shape == (2, 3)  # one vector per clip
    assert priors["pose"].shape == (2, 6, 16, 4)  # per frame, per joint
    assert priors["motion"].shape == (2, 6, 16, 5)
    assert aux["pose6d"].shape == (2, 6, 16, 6)
    # The shape prior is a clip-level pool: reversing time does not change it.
    rev = dec(z.flip(1), fm.flip(1), fk.flip(1))[0]
    assert torch.allclose(rev["shape"], priors["shape"], atol=1e-6)
    assert torch.allclose(rev["pose"], priors["pose"].flip(1), atol=1e-6)
    # The kinematic branch enters through N IMU tokens; different N are fine.
    assert dec(z, fm, fk[:, :, :2])[0]["pose"].shape == (2, 6, 16, 4)
