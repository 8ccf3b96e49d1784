"""A two-stage toy method for the harness tests: ``enc`` (a small CNN + 2D joint head) and
``head`` (a new 2D joint head on the frozen ``enc`` features, optionally from the feature cache).

The ``head`` stage's inference model holds the frozen encoder as a submodule (a self-contained
checkpoint, the way EHPE's PG-stage needs its TW-stage), and its data module switches between
images (the frozen encoder runs every step) and the cached encoder features.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightning as L
import torch
from torch import nn

from handpose.training.config import TrainConfig
from handpose.training.harness import optimizer_and_schedule, stage_feature_cache
from handpose.training.image_data import (
    ImageDataConfig,
    ImageDataModule,
    IndexedDataset,
    image_loader,
    open_image_split,
)
from handpose.training.methods.baseline import single_hand_targets
from handpose.training.registry import Method, Stage, register_method


@dataclass(frozen=True)
class ToyConfig:
    name: str = "toy"
    seed: int = 0
    width: int = 8
    cache: bool = False
    data: ImageDataConfig = field(default_factory=lambda: ImageDataConfig(size=32, augment=False))
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            epochs=2, batch_size=4, lr=1e-2, weight_decay=0.0, accelerator="cpu",
            log_every_n_steps=1, progress_bar=False, grad_clip=None,
        )
    )  # fmt: skip


class Encoder(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
        )  # fmt: skip
        self.head = nn.Linear(width * 16, 42)

    def features(self, images):
        return self.body(images).flatten(1)

    def forward(self, images):
        return self.head(self.features(images)).view(-1, 21, 2)


class Full(nn.Module):
    """Frozen encoder features → a new head."""

    def __init__(self, width: int, enc: Encoder | None = None) -> None:
        super().__init__()
        self.enc = enc if enc is not None else Encoder(width)
        self.head = nn.Sequential(nn.Linear(width * 16, 32), nn.ReLU(), nn.Linear(32, 42))

    def forward_features(self, feats):
        return self.head(feats).view(-1, 21, 2)

    def forward(self, images):
        return self.forward_features(self.enc.features(images))


def _uv_loss(pred, batch, size):
    tg = (
        single_hand_targets(batch) if "joints2d" in batch and batch["joints2d"].ndim == 4 else batch
    )
    w = tg["valid"].float()
    return (((pred - tg["joints2d"] / size).abs().sum(-1)) * w).sum() / w.sum().clamp(min=1)


class EncModule(L.LightningModule):
    def __init__(self, cfg: ToyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = Encoder(cfg.width)

    def training_step(self, batch, i):
        loss = _uv_loss(self.model(batch["image"]), batch, self.cfg.data.size)
        self.log("train/loss", loss, batch_size=batch["image"].shape[0])
        return loss

    def validation_step(self, batch, i):
        loss = _uv_loss(self.model(batch["image"]), batch, self.cfg.data.size)
        self.log("val/loss", loss, batch_size=batch["image"].shape[0], sync_dist=True)

    def configure_optimizers(self):
        total = int(self.trainer.estimated_stepping_batches)
        return optimizer_and_schedule(self.parameters(), self.cfg.train, total)


class HeadModule(L.LightningModule):
    def __init__(self, cfg: ToyConfig, enc: Encoder) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = Full(cfg.width, enc)

    def _pred(self, batch):
        if "features" in batch:
            return self.model.forward_features(batch["features"])
        with torch.no_grad():
            feats = self.model.enc.features(batch["image"])
        return self.model.forward_features(feats)

    def training_step(self, batch, i):
        loss = _uv_loss(self._pred(batch), batch, self.cfg.data.size)
        self.log(
            "train/loss", loss, batch_size=len(batch["valid" if "valid" in batch else "image"])
        )
        return loss

    def validation_step(self, batch, i):
        loss = _uv_loss(self._pred(batch), batch, self.cfg.data.size)
        self.log("val/loss", loss, batch_size=len(batch["valid" if "valid" in batch else "image"]))

    def configure_optimizers(self):
        total = int(self.trainer.estimated_stepping_batches)
        return optimizer_and_schedule(self.parameters(), self.cfg.train, total)


class CachedData(L.LightningDataModule):
    """The ``head`` stage's data from the feature cache (built once in ``prepare_data``)."""

    def __init__(self, ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.extract_calls = 0

    def _cache(self, split):
        c = self.ctx.cfg.data
        return stage_feature_cache(self.ctx, "enc", split, size=c.size, crop=c.crop, pad=c.pad)

    def _extract(self, batch):
        self.extract_calls += 1
        tg = single_hand_targets(batch)
        enc = self.ctx.frozen["enc"]
        return {
            "features": enc.features(batch["image"]),
            "joints2d": tg["joints2d"],
            "valid": tg["valid"],
        }

    def _features(self, split):
        c = self.ctx.cfg
        ds = IndexedDataset(open_image_split(self.ctx.data, split, c.data))

        def batches():
            return image_loader(ds, 8, shuffle=False, seed=c.seed, augmentation=None)

        return self._cache(split).get_or_build(self._extract, batches, len(ds))

    def prepare_data(self):
        for split in (self.ctx.cfg.data.train_split, self.ctx.cfg.data.val_split):
            self._features(split)

    def setup(self, stage):
        self.train_set = self._cache(self.ctx.cfg.data.train_split).open()
        self.val_set = self._cache(self.ctx.cfg.data.val_split).open()

    def _loader(self, ds, shuffle):
        from handpose.training.data import EpochSampler

        c = self.ctx.cfg
        world = self.trainer.world_size if self.trainer else 1
        rank = self.trainer.global_rank if self.trainer else 0
        sampler = EpochSampler(ds, world, rank, shuffle=shuffle, seed=c.seed, drop_last=shuffle)
        return torch.utils.data.DataLoader(
            ds, batch_size=c.train.batch_size // world, sampler=sampler, drop_last=shuffle
        )

    def train_dataloader(self):
        return self._loader(self.train_set, True)

    def val_dataloader(self):
        return self._loader(self.val_set, False)


DATA_MODULES: list = []


def _data(ctx):
    if ctx.stage == "head" and ctx.cfg.cache:
        dm = CachedData(ctx)
    else:
        dm = ImageDataModule(ctx.data, ctx.cfg.data, ctx.cfg.train.batch_size, ctx.cfg.seed)
    DATA_MODULES.append(dm)
    return dm


METHOD = Method(
    name="toy",
    config=ToyConfig,
    stages=(
        Stage("enc", lambda ctx: EncModule(ctx.cfg), _data, build_model=lambda c: Encoder(c.width)),
        Stage(
            "head",
            lambda ctx: HeadModule(ctx.cfg, ctx.frozen["enc"]),
            _data,
            requires=("enc",),
            build_model=lambda c: Full(c.width),
        ),
    ),
)


def register() -> Method:
    return register_method(METHOD, replace=True)
