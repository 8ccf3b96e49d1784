"""Joint-wise and frame-wise Bernoulli masks for the teacher's MANO tokens."""

import pytest
import torch

from handpose.models.mgdhand import sample_token_mask


def test_zero_probability_masks_nothing_and_one_masks_everything():
    assert not sample_token_mask(4, 10, 16, 0.0, 0.0).any()
    assert sample_token_mask(4, 10, 16, 1.0, 0.0).all()
    assert sample_token_mask(4, 10, 16, 0.0, 1.0).all()


def test_frame_wise_mask_masks_all_joints_of_a_frame():
    g = torch.Generator().manual_seed(0)
    mask = sample_token_mask(64, 20, 16, 0.0, 0.3, generator=g)
    per_frame = mask.sum(-1)
    assert set(per_frame.unique().tolist()) == {0, 16}
    assert abs(mask[..., 0].float().mean().item() - 0.3) < 0.03


def test_rates_of_the_union():
    g = torch.Generator().manual_seed(0)
    mask = sample_token_mask(200, 32, 16, 0.1, 0.2, generator=g)
    # P(masked) = 1 − (1 − 0.1)(1 − 0.2) = 0.28
    assert abs(mask.float().mean().item() - 0.28) < 0.01
    joint_only = mask[mask.sum(-1) < 16]  # frames not masked as a whole
    assert abs(joint_only.float().mean().item() - 0.1) < 0.01


def test_reproducible_with_a_generator():
    a = sample_token_mask(2, 8, 16, 0.3, 0.1, generator=torch.Generator().manual_seed(5))
    b = sample_token_mask(2, 8, 16, 0.3, 0.1, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.dtype == torch.bool and a.shape == (2, 8, 16)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_invalid_probability(p):
    with pytest.raises(ValueError):
        sample_token_mask(1, 2, 16, p, 0.0)
