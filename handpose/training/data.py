"""Data loading for MGDHand training: windowed IMU datasets, epoch-seeded distributed sampling.

Sampling is arranged so that a run on P processes with per-process batch b sees, at every step,
exactly the samples a single process with batch P·b sees: both use a ``DistributedSampler`` over
the same seeded permutation (seed + epoch), rank r taking every P-th index from r. The union of
the P per-rank batches of a step is therefore the single-process batch of that step; with
LayerNorm-only networks and mean losses, DDP's averaged gradient equals the single-process one.
Resuming at an epoch boundary reproduces the same order, and the dataset's masks are drawn from
(seed, epoch, index), so a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import os

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from handpose.errors import HandposeError
from handpose.training.config import ExperimentConfig
from handpose.training.factory import sensor_names

__all__ = ["EpochSampler", "StepSampler", "build_dataset", "make_loader"]


class EpochSampler(DistributedSampler):
    """``DistributedSampler`` whose ``set_epoch`` also re-seeds the dataset's mask draws."""

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)


class StepSampler(Sampler):
    """A fixed number of samples per epoch, whatever the dataset size (``train.steps_per_epoch``).

    Epoch e draws seeded permutations of the dataset (seed + e) one after the other until
    ``num_samples × num_replicas`` indices are drawn; rank r takes every ``num_replicas``-th
    from r, as :class:`EpochSampler` does, so a DDP run sees the single-process batches.
    """

    def __init__(
        self, dataset: Dataset, num_samples: int, num_replicas: int = 1, rank: int = 0, seed=0
    ) -> None:
        self.dataset, self.num_samples = dataset, int(num_samples)
        self.num_replicas, self.rank, self.seed, self.epoch = num_replicas, rank, int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        total, n = self.num_samples * self.num_replicas, len(self.dataset)
        parts = [torch.randperm(n, generator=g) for _ in range(-(-total // n))]
        order = torch.cat(parts)[:total]
        return iter(order[self.rank :: self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples


def build_dataset(cfg: ExperimentConfig, data: str | os.PathLike, split: str, train: bool):
    """An :class:`~handpose.datasets.ImuWindowDataset` with the teacher's sensors.

    Args:
        cfg: the experiment config (window, strides, masking, sensors, seed).
        data: handpose IMU file (HDF5).
        split: "train", "test", "all" (VIHand's gesture split).
        train: training windows (``stride``) or evaluation windows (``eval_stride``).
    """
    from handpose.datasets import ImuWindowDataset

    d = cfg.data
    kwargs = {}
    if d.acc_scale is not None:
        kwargs["acc_scale"] = d.acc_scale
    stride = d.stride if train else (d.eval_stride or d.window)
    # Evaluation masks use another seed stream than training masks.
    seed = cfg.seed if train else cfg.seed + 1_000_003
    ds = ImuWindowDataset(
        data,
        window=d.window,
        stride=stride,
        split=split,
        sensors=d.teacher_sensors,
        p_mask=d.p_mask,
        seed=seed,
        subjects=d.train_subjects if train else d.eval_subjects,
        gestures=d.train_gestures if train else None,
        **kwargs,
    )
    if len(ds) == 0:
        raise HandposeError(
            f"'{data}' has no '{split}' windows of {d.window} frames; check the file and split"
        )
    expected = sensor_names(d.teacher_sensors)
    if tuple(ds.sensor_names) != expected:
        raise HandposeError(f"'{data}' orders its sensors {ds.sensor_names}, expected {expected}")
    return ds


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    num_workers: int = 0,
    world_size: int = 1,
    rank: int = 0,
    steps_per_epoch: int | None = None,
) -> DataLoader:
    """A loader with an :class:`EpochSampler` (training: shuffled, incomplete batches dropped),
    or with ``steps_per_epoch`` a :class:`StepSampler` of that many batches per epoch.

    Args:
        batch_size: per-process batch.
    """
    if steps_per_epoch is not None:
        sampler = StepSampler(dataset, steps_per_epoch * batch_size, world_size, rank, seed)
    else:
        sampler = EpochSampler(
            dataset,
            num_replicas=world_size,
            rank=rank,
            shuffle=shuffle,
            seed=seed,
            drop_last=shuffle,
        )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=shuffle,
        persistent_workers=False,
    )
