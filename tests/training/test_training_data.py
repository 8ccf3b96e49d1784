"""Training data loading: the fixed-steps sampler of the data-size study."""

import torch
from torch.utils.data import DistributedSampler

from handpose.training.data import StepSampler, make_loader


class Items(torch.utils.data.Dataset):
    def __init__(self, n):
        self.n, self.epochs = n, []

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i

    def set_epoch(self, epoch):
        self.epochs.append(epoch)


def test_step_sampler_draws_a_fixed_number_of_samples_per_epoch():
    ds = Items(5)
    s = StepSampler(ds, num_samples=12, seed=3)
    s.set_epoch(0)
    first = list(s)
    assert len(first) == len(s) == 12
    # Whole permutations one after the other: every item once per block of 5.
    assert sorted(first[:5]) == sorted(first[5:10]) == list(range(5))
    assert list(s) == first  # deterministic
    s.set_epoch(1)
    assert list(s) != first and ds.epochs == [0, 1]  # another epoch, another order + masks


def test_step_sampler_matches_one_pass_and_splits_across_ranks():
    ds = Items(8)
    one_pass = StepSampler(ds, num_samples=8, seed=4)
    ref = DistributedSampler(ds, num_replicas=1, rank=0, shuffle=True, seed=4)
    for e in (0, 2):
        one_pass.set_epoch(e)
        ref.set_epoch(e)
        assert list(one_pass) == list(ref)  # one pass = the default sampler's order
    full = StepSampler(ds, num_samples=6, seed=1)
    parts = [StepSampler(ds, num_samples=3, num_replicas=2, rank=r, seed=1) for r in (0, 1)]
    merged = [x for pair in zip(*(list(p) for p in parts)) for x in pair]
    assert merged == list(full)


def test_make_loader_steps_per_epoch():
    loader = make_loader(Items(5), batch_size=2, shuffle=True, seed=0, steps_per_epoch=7)
    batches = list(loader)
    assert len(batches) == len(loader) == 7 and all(len(b) == 2 for b in batches)
    assert len(make_loader(Items(5), batch_size=2, shuffle=True, seed=0)) == 2  # one pass
