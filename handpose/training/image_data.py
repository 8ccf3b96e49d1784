"""Image training data for every image method: one config section, one LightningDataModule.

The ``data:`` section of an image method's config is an :class:`ImageDataConfig`. The data
argument of a run is any image source string (:func:`handpose.datasets.sources.open_source`): a
shard folder written by ``handpose synth images`` / ``handpose data convert``, or a real
dataset ``freihand:/data/FreiHAND``. Samples are cropped to the hand and resized
(:class:`~handpose.datasets.image_dataset.ImageDataset`), batched, augmented (training only) and
ImageNet-normalised in the collate function.

**Determinism.** Sampling uses :class:`handpose.training.data.EpochSampler` (a permutation
seeded by seed + epoch, split across DDP ranks so that P processes with batch b see exactly
the batches of one process with batch P·b). Augmentation draws come from a generator seeded by
(seed, epoch, the batch's sample indices), so they do not depend on worker processes, and a run
resumed at an epoch boundary continues exactly as an uninterrupted one. (Under DDP each rank
augments its half of a batch with its own draws: DDP equals one process only without
augmentation; the tests compare them that way.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import torch

from handpose.datasets.augment import AugmentConfig
from handpose.errors import HandposeError

__all__ = [
    "ImageDataConfig",
    "IndexedDataset",
    "SeededAugmentCollate",
    "open_image_split",
    "image_loader",
    "ImageDataModule",
]


@dataclass(frozen=True)
class ImageDataConfig:
    """The ``data:`` section of an image method.

    Attributes:
        train_split, val_split: split names of the source (shards: train / val / test).
        size: crop side S in pixels (the network's input).
        crop: "bbox" (a square about the hand's label box) or "none" (the whole image).
        pad: box enlargement for "bbox".
        min_side: smallest crop side in source pixels.
        level: ladder level (px) of a video shard folder to read (None: full resolution).
        num_workers: DataLoader worker processes (one torch thread each).
        augment: augment training batches (False: none; validation is never augmented).
        augmentation: the :class:`~handpose.datasets.augment.AugmentConfig` used when
            ``augment`` is true.
        limit_train, limit_val: use only the first N samples of a split (None: all).
    """

    train_split: str = "train"
    val_split: str = "val"
    size: int = 256
    crop: str = "bbox"
    pad: float = 1.3
    min_side: int = 16
    level: int | None = None
    num_workers: int = 0
    augment: bool = True
    augmentation: AugmentConfig = field(default_factory=AugmentConfig)
    limit_train: int | None = None
    limit_val: int | None = None

    def __post_init__(self) -> None:
        if self.size < 8:
            raise ValueError(f"size must be at least 8 px, got {self.size}")
        if self.crop not in ("bbox", "none"):
            raise ValueError(f"crop must be 'bbox' or 'none', got {self.crop!r}")
        if self.pad <= 0 or self.min_side < 1 or self.num_workers < 0:
            raise ValueError("pad must be > 0, min_side ≥ 1 and num_workers ≥ 0")
        for name in ("limit_train", "limit_val"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"{name} must be ≥ 1 or null")


class IndexedDataset(torch.utils.data.Dataset):
    """A dataset whose samples also carry ``_index`` and ``_epoch`` (for seeded augmentation).

    ``set_epoch`` is called by :class:`~handpose.training.data.EpochSampler`.
    """

    def __init__(self, dataset, limit: int | None = None) -> None:
        self.dataset = dataset
        self.length = len(dataset) if limit is None else min(int(limit), len(dataset))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        s = dict(self.dataset[index])
        s["_index"] = torch.tensor(int(index))
        s["_epoch"] = torch.tensor(self.epoch)
        return s


def _batch_seed(seed: int, epoch: int, indices: Sequence[int]) -> int:
    text = f"{seed}:{epoch}:" + ",".join(str(int(i)) for i in indices)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") & (2**63 - 1)


class SeededAugmentCollate:
    """Collate :class:`IndexedDataset` samples: stack, augment with a generator seeded by
    (seed, epoch, sample indices), ImageNet-normalise; ``_index`` / ``_epoch`` are dropped.

    Args:
        config: augmentation, or None for none.
        seed: the run's seed.
        normalize: ImageNet normalisation of ``image``.
    """

    def __init__(self, config: AugmentConfig | None, seed: int, normalize: bool = True) -> None:
        self.config = config
        self.seed = int(seed)
        self.normalize = normalize

    def __call__(self, samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        from handpose.datasets.augment import augment
        from handpose.datasets.image_dataset import normalize_image
        from handpose.formats.sample import collate

        batch = collate(samples)
        indices = batch.pop("_index").tolist()
        epoch = int(batch.pop("_epoch")[0])
        if self.config is not None:
            g = torch.Generator().manual_seed(_batch_seed(self.seed, epoch, indices))
            batch = augment(batch, self.config, g)
        if self.normalize:
            batch["image"] = normalize_image(batch["image"])
        return batch


def open_image_split(data: str, split: str, cfg: ImageDataConfig):
    """The :class:`~handpose.datasets.image_dataset.ImageDataset` of one split."""
    from handpose.datasets.image_dataset import ImageDataset
    from handpose.datasets.sources import open_source

    source = open_source(str(data), split, level=cfg.level)
    return ImageDataset(source, cfg.size, crop=cfg.crop, pad=cfg.pad, min_side=cfg.min_side)


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def image_loader(
    dataset: IndexedDataset,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    augmentation: AugmentConfig | None,
    num_workers: int = 0,
    world_size: int = 1,
    rank: int = 0,
) -> torch.utils.data.DataLoader:
    """A loader with an epoch-seeded (distributed) sampler and the seeded augmenting collate.

    Args:
        batch_size: per-process batch.
        shuffle: training order (incomplete last batch dropped) or evaluation order.
    """
    from handpose.training.data import EpochSampler

    sampler = EpochSampler(
        dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed, drop_last=shuffle
    )
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=shuffle,
        collate_fn=SeededAugmentCollate(augmentation, seed),
        worker_init_fn=_worker_init if num_workers else None,
        persistent_workers=False,
    )


class ImageDataModule(L.LightningDataModule):
    """Training and validation loaders of an image method.

    Args:
        data: source string.
        cfg: :class:`ImageDataConfig`.
        batch_size: the global batch (divided by the DDP world size).
        seed: the run's seed.
    """

    def __init__(self, data: str, cfg: ImageDataConfig, batch_size: int, seed: int) -> None:
        super().__init__()
        self.data, self.cfg, self.batch_size, self.seed = str(data), cfg, int(batch_size), seed
        self.train_set: IndexedDataset | None = None
        self.val_set: IndexedDataset | None = None

    def setup(self, stage: str) -> None:
        if self.train_set is None:
            c = self.cfg
            self.train_set = IndexedDataset(
                open_image_split(self.data, c.train_split, c), c.limit_train
            )
            self.val_set = IndexedDataset(open_image_split(self.data, c.val_split, c), c.limit_val)
            if len(self.train_set) < self.batch_size:
                raise HandposeError(
                    f"the '{c.train_split}' split of '{self.data}' has {len(self.train_set)} "
                    f"samples, fewer than one batch of {self.batch_size} (train.batch_size)"
                )

    @property
    def meta(self) -> dict:
        return dict(getattr(self.train_set.dataset, "meta", {})) if self.train_set else {}

    def _loader(self, ds: IndexedDataset, train: bool):
        world = self.trainer.world_size if self.trainer else 1
        rank = self.trainer.global_rank if self.trainer else 0
        return image_loader(
            ds,
            self.batch_size // world,
            shuffle=train,
            seed=self.seed,
            augmentation=self.cfg.augmentation if (train and self.cfg.augment) else None,
            num_workers=self.cfg.num_workers,
            world_size=world,
            rank=rank,
        )

    def train_dataloader(self):
        return self._loader(self.train_set, True)

    def val_dataloader(self):
        return self._loader(self.val_set, False)
