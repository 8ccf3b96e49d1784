"""EHPE on the harness: config schema, the two stages (``tw`` then ``pg``), data and caching.

Config (``handpose/configs/ehpe/{tiny,cpu-small,paper,paper-freihand,paper-interhand}.yaml``)::

    name, seed
    model:       {backbone, weights, drop_path_rate, tw_joints, bone_length,
                  tw: {...}, pg: {...}}                         (EHPENetConfig)
    loss:        {lambda_h, lambda_ed, lambda_r, lambda_p, lambda_e}   (EHPELossConfig)
    data:        {size, crop, pad, augment, augmentation, ...}  (ImageDataConfig)
    tw_train:    {epochs, batch_size, lr, ...}                   (TrainConfig of stage tw)
    tw_schedule: {milestones, gamma}                             (step decay, epochs)
    pg_train, pg_schedule                                        (stage pg)
    cache: bool  the PG-stage reads the frozen TW-stage's outputs from a disk cache
    hands: "target" (the valid hand slot of each sample, cropped with the sample's box) or
           "each" (every hand slot its own sample, cropped around that hand: two-hand data)
    pg_input: what stage ``pg`` trains on (below)

**Two-stage training** exactly as the paper (§1, §4.1): stage ``tw`` trains the backbone and
the TW-stage with L_total1 (eq. 6) on the TW joints only; stage ``pg`` loads it, freezes it
(``requires_grad = False``, eval mode, no gradient reaches it) and trains the PG-stage with
L_total2 (eq. 14) on all 21 joints. Both use Adam (``weight_decay`` of the stage's train
section, 0 in the presets: the paper regularises with L_R instead) with a per-epoch step decay
(``*_schedule``: the learning rate is multiplied by ``gamma`` at each milestone epoch) after an
optional linear warm-up.

**Feature cache** (``cache: true``): the PG-stage's inputs (the backbone map F, the TW joints,
the TW latent F_p average-pooled to F's size, which is all the FEM reads of it) and the labels
are extracted once per split with the frozen TW-stage, without augmentation, and stored with
:func:`handpose.training.harness.stage_feature_cache` (keyed by the TW checkpoint and the data),
so every PG-stage ablation trained on that checkpoint reads the same files and never runs the
TW-stage. Without the cache the TW-stage runs (frozen, under ``no_grad``) on every batch, with
augmentation when ``data.augment`` is set.

**PG-stage input** (``pg_input``; the paper is silent, it feeds the TW-stage's estimates):
``"estimates"`` (default) trains the PG-stage on the frozen TW-stage's estimates, as it sees
them at test time; ``"labels"`` trains it on the true TW joints (the labels mapped to the 2.5D
grid, :func:`handpose.losses.ehpe.joint_targets`; the estimate where a label is invalid), i.e.
teacher forcing. Validation and evaluation always use the estimates. ``"labels"`` tests whether a PG-stage that learns the hand
structure from clean inputs transfers to the TW-stage's noisy ones.

**Variants without a second stage.** Table 3's "TW only" (``tw_joints: W+T+D+P+M``,
``pg.enabled: false``) is complete after stage ``tw``. "PG only" (``tw_joints: ""``) has no
TW-stage: its stage ``tw`` trains the backbone and the PG-stage together (L_total2), and the
model is complete after it. Stage ``pg`` refuses both (one clear error).

**Target hand.** As the baseline (:func:`handpose.training.methods.baseline.single_hand_targets`):
the valid hand slot of each sample (slot 0 if both), either side, no mirroring. With
``hands: each`` (two-hand data, Table 2) every hand is its own sample cropped around it
(:class:`handpose.datasets.per_hand.PerHandSource`): the per-hand stages of the two-hand
setting.

**Validation metrics** (``val/*``): ``tw_uv_px`` and ``tw_z_mm`` (the TW joints' 2D error in
crop pixels and wrist-relative depth error) and, once the model is complete, ``mpjpe_mm``
(camera frame with the ground-truth wrist depth) and ``pa_mpjpe_mm``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from handpose.errors import HandposeError
from handpose.geometry.camera import uvz_to_xyz
from handpose.geometry.procrustes import procrustes_align
from handpose.losses.ehpe import EHPELossConfig, joint_targets, pg_loss, tw_loss
from handpose.models.ehpe import EHPE, EHPENetConfig
from handpose.models.heads import heatmap_to_image
from handpose.training.config import TrainConfig
from handpose.training.harness import stage_feature_cache
from handpose.training.image_data import (
    ImageDataConfig,
    ImageDataModule,
    IndexedDataset,
    image_loader,
    open_image_split,
)
from handpose.training.methods.baseline import single_hand_targets
from handpose.training.registry import Method, Stage, StageContext

__all__ = [
    "StepSchedule",
    "EHPEConfig",
    "adam_step_schedule",
    "TWModule",
    "PGModule",
    "PGCachedData",
    "hand_targets",
    "open_split",
    "EHPEImageData",
    "METHOD",
    "CACHE_VERSION",
]

CACHE_VERSION = "ehpe-tw-1"


@dataclass(frozen=True)
class StepSchedule:
    """Step decay: the learning rate × ``gamma`` at each of ``milestones`` (epochs)."""

    milestones: tuple[int, ...] = ()
    gamma: float = 0.1

    def __post_init__(self) -> None:
        if any(m < 1 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ValueError("milestones must be increasing epochs ≥ 1")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")


def _tw_train() -> TrainConfig:
    return TrainConfig(epochs=50, lr=5e-3, weight_decay=0.0, grad_clip=None)


def _pg_train() -> TrainConfig:
    return TrainConfig(epochs=100, lr=5e-4, weight_decay=0.0, grad_clip=None)


@dataclass(frozen=True)
class EHPEConfig:
    name: str = "custom"
    seed: int = 0
    model: EHPENetConfig = field(default_factory=EHPENetConfig)
    loss: EHPELossConfig = field(default_factory=EHPELossConfig)
    data: ImageDataConfig = field(default_factory=ImageDataConfig)
    tw_train: TrainConfig = field(default_factory=_tw_train)
    tw_schedule: StepSchedule = field(default_factory=StepSchedule)
    pg_train: TrainConfig = field(default_factory=_pg_train)
    pg_schedule: StepSchedule = field(default_factory=lambda: StepSchedule((50,), 0.1))
    cache: bool = False
    hands: str = "target"
    pg_input: str = "estimates"

    def __post_init__(self) -> None:
        if self.hands not in ("target", "each"):
            raise ValueError(f"hands must be 'target' or 'each', got {self.hands!r}")
        if self.pg_input not in ("estimates", "labels"):
            raise ValueError(f"pg_input must be 'estimates' or 'labels', got {self.pg_input!r}")
        a, b = self.model.tw.heatmap_stride, self.model.tw.feature_stride
        lcm = a * b // math.gcd(a, b)
        if self.data.size % lcm:
            raise ValueError(
                f"data.size ({self.data.size}) must be a multiple of model.tw.heatmap_stride "
                f"({a}) and model.tw.feature_stride ({b})"
            )


def open_split(data: str, split: str, d: ImageDataConfig, hands: str = "target"):
    """The ImageDataset of one split; with ``hands="each"`` one item per hand slot
    (:class:`~handpose.datasets.per_hand.PerHandSource`: item 2i + s is slot s of sample i)."""
    from handpose.datasets.image_dataset import ImageDataset
    from handpose.datasets.per_hand import PerHandSource
    from handpose.datasets.sources import open_source

    if hands == "target":
        return open_image_split(data, split, d)
    source = PerHandSource(open_source(str(data), split, level=d.level))
    return ImageDataset(source, d.size, crop=d.crop, pad=d.pad, min_side=d.min_side)


_TRAIN_KEYS = ("image", "K", "joints2d", "joints3d", "joint_valid", "hand_valid", "bbox")


class MemoryCached(torch.utils.data.Dataset):
    """Keeps each item (the keys training reads) in memory after its first load: without
    augmentation every epoch sees the same crops, and decoding and cropping cost about a
    third of a small model's training step."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset
        self.meta = getattr(dataset, "meta", {})
        self._items: dict[int, dict] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        item = self._items.get(index)
        if item is None:
            full = self.dataset[index]
            item = {k: full[k] for k in _TRAIN_KEYS if k in full}
            self._items[index] = item
        return dict(item)


class EHPEImageData(ImageDataModule):
    """The harness's image data module over :func:`open_split`; without augmentation (and
    with ``num_workers: 0``) the crops are kept in memory after the first epoch."""

    def __init__(self, data: str, cfg: EHPEConfig, batch_size: int) -> None:
        super().__init__(data, cfg.data, batch_size, cfg.seed)
        self.ehpe = cfg

    def _open(self, split: str):
        c = self.cfg
        ds = open_split(self.data, split, c, self.ehpe.hands)
        return MemoryCached(ds) if not c.augment and c.num_workers == 0 else ds

    def setup(self, stage: str) -> None:
        if self.train_set is None:
            c = self.cfg
            self.train_set = IndexedDataset(self._open(c.train_split), c.limit_train)
            self.val_set = IndexedDataset(self._open(c.val_split), c.limit_val)
            if len(self.train_set) < self.batch_size:
                raise HandposeError(
                    f"the '{c.train_split}' split of '{self.data}' has {len(self.train_set)} "
                    f"samples, fewer than one batch of {self.batch_size}"
                )


def adam_step_schedule(params, train_cfg: TrainConfig, schedule: StepSchedule, total_steps: int):
    """Adam with a linear warm-up (``warmup_epochs``) and the step decay of ``schedule``
    (``configure_optimizers``' return value; the scheduler steps per batch)."""
    params = [p for p in params if p.requires_grad]
    opt = torch.optim.Adam(params, lr=train_cfg.lr, weight_decay=train_cfg.weight_decay)
    per_epoch = max(1, total_steps // max(train_cfg.epochs, 1))
    warmup = int(round(train_cfg.warmup_epochs * per_epoch))
    milestones, gamma = tuple(schedule.milestones), schedule.gamma

    def factor(step: int) -> float:
        w = min(1.0, (step + 1) / warmup) if warmup else 1.0
        epoch = step // per_epoch
        return w * gamma ** sum(epoch >= m for m in milestones)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def hand_targets(batch: dict, model: EHPE) -> dict[str, Tensor]:
    """The target hand (image batches: :func:`single_hand_targets`; cached batches already hold
    it) with its 2.5D targets (:func:`handpose.losses.ehpe.joint_targets`). A joint counts only
    where the wrist is valid too (depths are wrist-relative)."""
    if batch["joints2d"].ndim == 4:
        tg = single_hand_targets(batch)
        tg["K"] = batch["K"]
    else:
        tg = {k: batch[k] for k in ("joints2d", "joints3d", "valid", "K")}
    t = model.config.tw
    tg["valid"] = tg["valid"].bool() & tg["valid"][:, :1].bool()
    tg["targets"] = joint_targets(
        tg["joints2d"], tg["joints3d"], t.heatmap_stride, t.depth_bins, t.depth_range
    )
    return tg


def _masked_mean(x: Tensor, valid: Tensor) -> Tensor:
    w = valid.to(x.dtype)
    return (x * w).sum() / w.sum().clamp(min=1.0)


class _EHPEModule(L.LightningModule):
    """Shared logging and validation metrics."""

    cfg: EHPEConfig
    model: EHPE

    def _log_terms(self, terms: dict[str, Tensor], prefix: str, b: int) -> None:
        sync = prefix != "train"
        for k, v in terms.items():
            name = f"{prefix}/{k}"
            self.log(name, v.detach(), batch_size=b, sync_dist=sync, prog_bar=k == "loss")

    def _log_tw_metrics(self, coords: Tensor, tg: dict, b: int) -> None:
        t = self.model.config.tw
        idx = list(self.model.tw_joints)
        v = tg["valid"][:, idx]
        uv = heatmap_to_image(coords[..., :2], t.heatmap_stride)
        uv_px = (uv - tg["joints2d"][:, idx]).norm(dim=-1)
        z_err = (coords[..., 2] - tg["targets"][:, idx, 2]).abs() * (t.depth_range / t.depth_bins)
        self.log("val/tw_uv_px", _masked_mean(uv_px, v), batch_size=b, sync_dist=True)
        self.log("val/tw_z_mm", _masked_mean(1000 * z_err, v), batch_size=b, sync_dist=True)

    def _log_joint_metrics(self, out, tg: dict, b: int) -> None:
        gt = tg["joints3d"]
        pred = uvz_to_xyz(out.uv, out.z_rel, gt[:, 0, 2], tg["K"].to(out.uv.dtype))
        v = tg["valid"]
        err = (pred - gt).norm(dim=-1) * 1000.0
        pa = (procrustes_align(pred, gt, valid=v) - gt).norm(dim=-1) * 1000.0
        self.log("val/mpjpe_mm", _masked_mean(err, v), batch_size=b, sync_dist=True)
        self.log(
            "val/pa_mpjpe_mm", _masked_mean(pa, v), batch_size=b, sync_dist=True, prog_bar=True
        )


class TWModule(_EHPEModule):
    """Stage ``tw``: backbone + TW-stage with L_total1 (or, for "PG only", backbone + PG-stage
    with L_total2)."""

    def __init__(self, cfg: EHPEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = EHPE(cfg.model, cfg.data.size, with_pg=False)

    def _step(self, batch: dict, prefix: str) -> Tensor:
        m = self.model
        tg = hand_targets(batch, m)
        b = batch["image"].shape[0]
        if m.tw is not None:
            tw = m.tw(batch["image"])
            terms = tw_loss(
                tw, tg["targets"], tg["valid"], m.tw_joints, m.config.tw.sigma, self.cfg.loss,
                [m.tw],
            )  # fmt: skip
            out = None
            if prefix == "val" and m.pg is None and len(m.tw_joints) == 21:  # "TW only"
                out = m.head(tw.features, tw.coords, tw.latent, batch["image"].shape[-2:])
        else:  # "PG only": backbone + PG-stage end to end
            out = m(batch["image"])
            terms = pg_loss(out.pg, tg["targets"], tg["valid"], self.cfg.loss)
        self._log_terms(terms, prefix, b)
        if prefix == "val":
            with torch.no_grad():
                if m.tw is not None:
                    self._log_tw_metrics(tw.coords, tg, b)
                if out is not None:
                    self._log_joint_metrics(out, tg, b)
        return terms["loss"]

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def configure_optimizers(self):
        return adam_step_schedule(
            self.parameters(),
            self.cfg.tw_train,
            self.cfg.tw_schedule,
            int(self.trainer.estimated_stepping_batches),
        )


def _check_two_stage(cfg: EHPEConfig) -> None:
    if not cfg.model.tw_indices:
        raise HandposeError(
            "this EHPE config has no TW-stage (model.tw_joints is empty, 'PG only'): its "
            "stage 'tw' trains the whole model; there is no stage 'pg' to train."
        )
    if not cfg.model.pg.enabled:
        raise HandposeError(
            "this EHPE config has no PG-stage (model.pg.enabled: false, 'TW only'): the model "
            "is complete after stage 'tw'; there is no stage 'pg' to train."
        )


class PGModule(_EHPEModule):
    """Stage ``pg``: the PG-stage on a frozen TW-stage, L_total2 on all 21 joints.

    Args:
        cfg: the config.
        frozen: the stage-``tw`` model (frozen by the harness); its TW-stage becomes this
            model's ``tw`` submodule, so the checkpoint is self-contained.
    """

    def __init__(self, cfg: EHPEConfig, frozen: EHPE | None = None) -> None:
        super().__init__()
        _check_two_stage(cfg)
        self.cfg = cfg
        self.model = EHPE(cfg.model, cfg.data.size)
        if frozen is not None:
            self.model.tw = frozen.tw
        self.model.tw.requires_grad_(False)

    def _output(self, batch: dict, true_tw: tuple[Tensor, Tensor] | None = None):
        """The PG-stage's output. ``true_tw``: the TW joints' labels (B, T, 3) and validity
        (B, T), which replace the TW-stage's estimates where valid."""
        m = self.model
        size = (self.cfg.data.size, self.cfg.data.size)
        if "features" in batch:  # from the cache
            feats, coords, latent = batch["features"], batch["tw_coords"], batch["latent"]
        else:
            with torch.no_grad():
                feats, tw = m.features(batch["image"])
            coords, latent = tw.coords, tw.latent
        if true_tw is not None:
            labels, valid = true_tw
            coords = torch.where(valid[..., None], labels.to(coords.dtype), coords)
        return m.head(feats, coords, latent, size)

    def _step(self, batch: dict, prefix: str) -> Tensor:
        tg = hand_targets(batch, self.model)
        true_tw = None
        if prefix == "train" and self.cfg.pg_input == "labels":
            idx = torch.as_tensor(self.model.tw_joints, device=tg["targets"].device)
            true_tw = (tg["targets"].index_select(1, idx), tg["valid"].index_select(1, idx))
        out = self._output(batch, true_tw)
        b = tg["valid"].shape[0]
        terms = pg_loss(out.pg, tg["targets"], tg["valid"], self.cfg.loss)
        self._log_terms(terms, prefix, b)
        if prefix == "val":
            with torch.no_grad():
                self._log_joint_metrics(out, tg, b)
        return terms["loss"]

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def configure_optimizers(self):
        return adam_step_schedule(
            self.model.pg.parameters(),
            self.cfg.pg_train,
            self.cfg.pg_schedule,
            int(self.trainer.estimated_stepping_batches),
        )


class PGCachedData(L.LightningDataModule):
    """Stage ``pg``'s data from the frozen TW-stage's cached outputs (module docstring)."""

    def __init__(self, ctx: StageContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.train_set = self.val_set = None

    def _cache(self, split: str, limit: int | None):
        c, m = self.ctx.cfg.data, self.ctx.cfg.model
        return stage_feature_cache(
            self.ctx, "tw", split, size=c.size, crop=c.crop, pad=c.pad, min_side=c.min_side,
            level=c.level, limit=limit, hands=self.ctx.cfg.hands, tw_joints=m.tw_joints,
            version=CACHE_VERSION,
        )  # fmt: skip

    def _extract(self, batch: dict) -> dict[str, Tensor]:
        model: EHPE = self.ctx.frozen["tw"]
        feats, tw = model.features(batch["image"])
        k = model.config.tw.feature_stride // model.config.tw.heatmap_stride
        latent = F.avg_pool2d(tw.latent, k) if k > 1 else tw.latent
        tg = single_hand_targets(batch)
        return {
            "features": feats,
            "tw_coords": tw.coords,
            "latent": latent,
            "joints2d": tg["joints2d"],
            "joints3d": tg["joints3d"],
            "valid": tg["valid"],
            "K": batch["K"],
        }

    def _features(self, split: str, limit: int | None):
        c = self.ctx.cfg
        ds = IndexedDataset(open_split(self.ctx.data, split, c.data, c.hands), limit)

        def batches():
            return image_loader(
                ds, c.pg_train.batch_size, shuffle=False, seed=c.seed, augmentation=None,
                num_workers=c.data.num_workers,
            )  # fmt: skip

        cache = self._cache(split, limit)
        return cache.get_or_build(self._extract, batches, len(ds), progress=c.pg_train.progress_bar)

    def prepare_data(self) -> None:
        d = self.ctx.cfg.data
        self._features(d.train_split, d.limit_train)
        self._features(d.val_split, d.limit_val)

    def setup(self, stage: str) -> None:
        if self.train_set is None:
            d = self.ctx.cfg.data
            self.train_set = self._features(d.train_split, d.limit_train)
            self.val_set = self._features(d.val_split, d.limit_val)

    def _loader(self, ds, shuffle: bool):
        from handpose.training.data import EpochSampler

        c = self.ctx.cfg
        world = self.trainer.world_size if self.trainer else 1
        rank = self.trainer.global_rank if self.trainer else 0
        sampler = EpochSampler(ds, world, rank, shuffle=shuffle, seed=c.seed, drop_last=shuffle)
        return torch.utils.data.DataLoader(
            ds, batch_size=c.pg_train.batch_size // world, sampler=sampler, drop_last=shuffle
        )

    def train_dataloader(self):
        return self._loader(self.train_set, True)

    def val_dataloader(self):
        return self._loader(self.val_set, False)


def _tw_module(ctx: StageContext) -> TWModule:
    return TWModule(ctx.cfg)


def _pg_module(ctx: StageContext) -> PGModule:
    return PGModule(ctx.cfg, ctx.frozen["tw"])


def _tw_data(ctx: StageContext):
    return EHPEImageData(ctx.data, ctx.cfg, ctx.cfg.tw_train.batch_size)


def _pg_data(ctx: StageContext):
    _check_two_stage(ctx.cfg)
    if ctx.cfg.cache:
        return PGCachedData(ctx)
    return EHPEImageData(ctx.data, ctx.cfg, ctx.cfg.pg_train.batch_size)


METHOD = Method(
    name="ehpe",
    config=EHPEConfig,
    stages=(
        Stage(
            "tw",
            module=_tw_module,
            data=_tw_data,
            train_key="tw_train",
            build_model=lambda cfg: EHPE(cfg.model, cfg.data.size, with_pg=False),
            help="backbone + TW-stage (tips and wrist) with L_H, L_ED, L_R",
        ),
        Stage(
            "pg",
            module=_pg_module,
            data=_pg_data,
            requires=("tw",),
            train_key="pg_train",
            build_model=lambda cfg: EHPE(cfg.model, cfg.data.size),
            help="PG-stage (SPI + FEM) on the frozen TW-stage with L_P, L_E",
        ),
    ),
    description="EHPE (ACM MM 2025): TW-stage (tips + wrist), then the PG-stage (SPI + FEM)",
    extra_presets=("paper-freihand", "paper-interhand"),
)
