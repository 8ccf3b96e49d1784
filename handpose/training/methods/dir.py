"""DIR on the harness: config schema, LightningModule, one stage ``main``, evaluation.

Config (``handpose/configs/dir/{tiny,cpu-small,paper}.yaml``)::

    name, seed
    model: DIRConfig        (handpose.models.dir.config: backbone, image_size, num_stages, ...)
    loss:  DIRLossConfig    (handpose.losses.dir: the term weights, position_loss, ...)
    data:  DIRDataConfig    (the harness's ImageDataConfig + ``dense``)
    train: TrainConfig      (AdamW, per-step cosine schedule to min_lr_ratio·lr)
    eval:  DIREvalConfig    (intaghand_root, penetration_frames, batch_size)

**Training** (every step): the network on the augmented crops, :func:`handpose.losses.dir.dir_targets`
of the batch, :func:`handpose.losses.dir.dir_loss` over every estimate and the heads. DIR's
paper schedule is ``paper.yaml``: AdamW, lr 5·10⁻⁴, cosine to 0 over 50 epochs, batch 64,
256×256, DIR's augmentation (scale ±10 %, rotation ±180°, shift ±10 px, flip with the
left/right swap, motion blur p = 0.3, noise 0.01).

**Validation** (every epoch, on ``data.val_split``): :class:`~handpose.models.dir.evaluation.DIREvaluator`
without penetration, logged as ``val/mpjpe_all_mm``, ``val/mpvpe_all_mm``, ``val/mrrpe_offset_mm``,
``val/reprojection_px`` (rank-local under DDP).

**Evaluation**: :func:`evaluate_checkpoint` runs a checkpoint over a split (any image source)
and returns the :class:`~handpose.metrics.ProtocolResult` of :class:`DIREvaluator`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import lightning as L
import torch
from torch import Tensor

from handpose.errors import HandposeError
from handpose.losses.dir import DIRLossConfig, dir_loss, dir_targets
from handpose.models.dir import DIRConfig, DIRNetwork
from handpose.models.dir.evaluation import DIREvaluator
from handpose.training.config import TrainConfig
from handpose.training.harness import optimizer_and_schedule
from handpose.training.image_data import ImageDataConfig, ImageDataModule
from handpose.training.registry import Method, Stage, StageContext

__all__ = [
    "DIRDataConfig",
    "DIREvalConfig",
    "DIRTrainingConfig",
    "DIRModule",
    "DIRDataModule",
    "evaluate_checkpoint",
    "METHOD",
]


@dataclass(frozen=True)
class DIRDataConfig(ImageDataConfig):
    """:class:`~handpose.training.image_data.ImageDataConfig` plus ``dense``: crop and augment
    the samples' ``extra_dense`` maps (dense-correspondence targets; ``handpose synth images
    --dense``; without them the dense head is not trained), and ``cache_in_memory``: keep
    decoded samples in memory (per DataLoader worker) after their first read."""

    dense: bool = True
    cache_in_memory: bool = False


class _CachedSource:
    """A sample source whose decoded samples are kept in memory after their first read (small
    synthetic sets trained for several epochs on a CPU: PNG decoding costs as much as a step)."""

    def __init__(self, source) -> None:
        self.source = source
        self.meta = getattr(source, "meta", {})
        self._cache: dict[int, dict] = {}

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict:
        if index not in self._cache:
            self._cache[index] = self.source[index]
        return self._cache[index]


@dataclass(frozen=True)
class DIREvalConfig:
    """Evaluation settings.

    Attributes:
        intaghand_root: root of the IntagHand scale alignment, "wrist" (DIR's README) or
            "mcp" (IntagHand, EHPE).
        penetration_frames: interacting frames on which penetration is measured (0: none).
        batch_size: images per forward pass.
    """

    intaghand_root: str = "wrist"
    penetration_frames: int = 64
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.intaghand_root not in ("wrist", "mcp"):
            raise ValueError(
                f"intaghand_root must be 'wrist' or 'mcp', got {self.intaghand_root!r}"
            )
        if self.penetration_frames < 0 or self.batch_size < 1:
            raise ValueError("penetration_frames must be ≥ 0 and batch_size ≥ 1")


@dataclass(frozen=True)
class DIRTrainingConfig:
    name: str = "custom"
    seed: int = 0
    model: DIRConfig = field(default_factory=DIRConfig)
    loss: DIRLossConfig = field(default_factory=DIRLossConfig)
    data: DIRDataConfig = field(default_factory=DIRDataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: DIREvalConfig = field(default_factory=DIREvalConfig)

    def __post_init__(self) -> None:
        if self.data.size != self.model.image_size:
            raise ValueError(
                f"data.size ({self.data.size}) must equal model.image_size "
                f"({self.model.image_size})"
            )


class DIRDataModule(ImageDataModule):
    """The harness's image data with the dense maps cropped and augmented (``data.dense``)."""

    def setup(self, stage: str) -> None:
        super().setup(stage)
        for ds in (self.train_set, self.val_set):
            if self.cfg.dense:
                ds.dataset.dense = True  # ImageDataset crops extra_dense with the image
            if self.cfg.cache_in_memory and not isinstance(ds.dataset.source, _CachedSource):
                ds.dataset.source = _CachedSource(ds.dataset.source)


class DIRModule(L.LightningModule):
    """Training of :class:`~handpose.models.dir.DIRNetwork` (module docstring)."""

    def __init__(self, cfg: DIRTrainingConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = DIRNetwork(cfg.model)
        self._val: DIREvaluator | None = None

    def forward(self, images: Tensor, K: Tensor | None = None):
        return self.model(images, K)

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        out = self.model(batch["image"])
        logs = dir_loss(out, dir_targets(batch), self.model.faces, self.cfg.loss)
        b = batch["image"].shape[0]
        last = len(out.estimates) - 1
        self.log("train/loss", logs["loss"].detach(), batch_size=b, prog_bar=True)
        for key in (f"stage{last}/joints_uv", f"stage{last}/joints_xyz", f"stage{last}/offset",
                    "segmentation_ce", "dense"):  # fmt: skip
            if key in logs:
                self.log(f"train/{key}", logs[key].detach(), batch_size=b)
        return logs["loss"]

    def on_validation_epoch_start(self) -> None:
        self._val = DIREvaluator(faces=None, intaghand_root=self.cfg.eval.intaghand_root)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        out = self.model(batch["image"], batch["K"])
        logs = dir_loss(out, dir_targets(batch), self.model.faces, self.cfg.loss)
        self.log("val/loss", logs["loss"], batch_size=batch["image"].shape[0], prog_bar=True)
        self._val.update(out, batch)

    def on_validation_epoch_end(self) -> None:
        res = self._val.compute()
        for key, name in (("mpjpe_all", "mpjpe_all_mm"), ("mpvpe_all", "mpvpe_all_mm"),
                          ("mrrpe_offset", "mrrpe_offset_mm"),
                          ("mesh_reprojection_px", "reprojection_px")):  # fmt: skip
            value = res.metrics.get(key)
            if value is not None:
                self.log(f"val/{name}", float(value), prog_bar=key == "mpjpe_all")

    def configure_optimizers(self):
        return optimizer_and_schedule(
            self.parameters(), self.cfg.train, int(self.trainer.estimated_stepping_batches)
        )


def _module(ctx: StageContext) -> DIRModule:
    return DIRModule(ctx.cfg)


def _data(ctx: StageContext) -> DIRDataModule:
    return DIRDataModule(ctx.data, ctx.cfg.data, ctx.cfg.train.batch_size, ctx.cfg.seed)


def _build(cfg: DIRTrainingConfig) -> DIRNetwork:
    return DIRNetwork(cfg.model)


def evaluate_checkpoint(
    checkpoint: str | os.PathLike,
    data: str,
    split: str = "test",
    *,
    batch_size: int | None = None,
    penetration_frames: int | None = None,
    intaghand_root: str | None = None,
    limit: int | None = None,
    progress: bool = False,
):
    """Evaluate a DIR checkpoint on one split of an image source.

    Args:
        checkpoint: a DIR ``last.ckpt``.
        data: image source (shard folder or source string).
        split: split name.
        batch_size, penetration_frames, intaghand_root: override the config's ``eval`` section.
        limit: only the first N samples.
        progress: a tqdm bar.
    Returns:
        the :class:`~handpose.metrics.ProtocolResult` (interhand protocol + DIR's numbers).
    """
    from handpose.formats.sample import collate
    from handpose.training.harness import load_model, method_config_from_dict
    from handpose.training.image_data import open_image_split

    model, meta = load_model(checkpoint, method="dir")
    cfg = method_config_from_dict("dir", meta["config"])
    ec = cfg.eval
    bs = batch_size or ec.batch_size
    pen = ec.penetration_frames if penetration_frames is None else penetration_frames
    ds = open_image_split(data, split, cfg.data)
    n = len(ds) if limit is None else min(int(limit), len(ds))
    if n == 0:
        raise HandposeError(f"split '{split}' of '{data}' is empty.")
    ev = DIREvaluator(
        faces=model.faces if pen else None,
        intaghand_root=intaghand_root or ec.intaghand_root,
        penetration_frames=pen,
    )
    from handpose.datasets.image_dataset import normalize_image

    starts = range(0, n, bs)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=f"eval dir {split}", unit="batch")
    with torch.no_grad():
        for i in starts:
            batch = collate([ds[j] for j in range(i, min(i + bs, n))])
            out = model(normalize_image(batch["image"]), batch["K"])
            ev.update(out, batch)
    res = ev.compute()
    res.counts["samples"] = n
    return res


METHOD = Method(
    name="dir",
    config=DIRTrainingConfig,
    stages=(
        Stage(
            "main",
            module=_module,
            data=_data,
            build_model=_build,
            help="DIR: initial regression + decoupled 2D/3D refinement stages, two hands",
        ),
    ),
    description="DIR (ICCV 2023): two interacting hands, decoupled iterative refinement",
)
