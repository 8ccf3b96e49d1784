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

from torch.utils.data import DataLoader, Dataset, DistributedSampler

from handpose.errors import HandposeError
from handpose.training.config import ExperimentConfig
from handpose.training.factory import sensor_names

__all__ = ["EpochSampler", "build_dataset", "make_loader"]


class EpochSampler(DistributedSampler):
    """``DistributedSampler`` whose ``set_epoch`` also re-seeds the dataset's mask draws."""

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)


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
) -> DataLoader:
    """A loader with an :class:`EpochSampler` (training: shuffled, incomplete batches dropped).

    Args:
        batch_size: per-process batch.
    """
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
