"""The image baseline on the harness: config schema, LightningModule, one stage ``main``.

Config (``handpose/configs/baseline/{tiny,cpu-small,paper}.yaml``)::

    name, seed
    model: {backbone, weights, level, drop_path_rate, num_deconv, hidden, depth_bins,
            depth_range, temperature, bone_length}        (BaselineNetConfig)
    loss:  {uv, z}
    data:  {train_split, val_split, size, crop, pad, min_side, level, num_workers, augment,
            augmentation: {...}, limit_train, limit_val}  (ImageDataConfig)
    train: {epochs, batch_size, lr, weight_decay, warmup_epochs, min_lr_ratio, grad_clip,
            accelerator, devices, precision, log_every_n_steps, val_every_n_epochs,
            limit_train_batches, progress_bar, threads}   (TrainConfig)

**Target hand.** Single-hand training: per sample the valid hand slot (slot 0, the right hand,
when both are valid). **Loss** (integral regression, Sun et al., ECCV 2018, on EHPE's 2.5D
coordinates): ``uv · mean|Δx, Δy| / heatmap side + z · mean|Δz_bin| / D`` over valid joints;
x, y in heatmap cells, z in depth bins of the wrist-relative depth (EHPE's L_ED (eq. 4) is the
squared version of this distance; L1 is the integral-regression paper's choice and is less
sensitive to the early, far-off predictions).

**Validation metrics** (``val/*``, every epoch): ``mpjpe_mm`` in the camera frame with the
ground-truth wrist depth, ``pa_mpjpe_mm`` (Procrustes, similarity), ``uv_px`` (2D error in crop
pixels), ``z_mm`` (wrist-relative depth error).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightning as L
import torch
from torch import Tensor

from handpose.geometry.procrustes import procrustes_align
from handpose.models.baseline import BaselineEstimator, BaselineNetConfig
from handpose.models.heads import depth_to_bins, image_to_heatmap
from handpose.training.config import TrainConfig
from handpose.training.harness import optimizer_and_schedule
from handpose.training.image_data import ImageDataConfig, ImageDataModule
from handpose.training.registry import Method, Stage, StageContext

__all__ = [
    "BaselineLossConfig",
    "BaselineConfig",
    "BaselineModule",
    "single_hand_targets",
    "METHOD",
]


@dataclass(frozen=True)
class BaselineLossConfig:
    """Weights of the 2D (``uv``) and depth (``z``) L1 terms."""

    uv: float = 1.0
    z: float = 1.0

    def __post_init__(self) -> None:
        if self.uv < 0 or self.z < 0 or self.uv + self.z == 0:
            raise ValueError("loss weights must be ≥ 0 and not both 0")


@dataclass(frozen=True)
class BaselineConfig:
    name: str = "custom"
    seed: int = 0
    model: BaselineNetConfig = field(default_factory=BaselineNetConfig)
    loss: BaselineLossConfig = field(default_factory=BaselineLossConfig)
    data: ImageDataConfig = field(default_factory=ImageDataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def single_hand_targets(batch: dict) -> dict[str, Tensor]:
    """The one hand a single-hand model learns, per sample: the valid slot (0 if both).

    Returns:
        ``slot`` (B,) long, ``joints3d`` (B, 21, 3), ``joints2d`` (B, 21, 2), ``valid``
        (B, 21) bool (joint valid and the sample has a hand).
    """
    hv = batch["hand_valid"].bool()
    slot = torch.where(hv[:, 0], 0, 1)
    idx = torch.arange(hv.shape[0], device=hv.device)
    has = hv[idx, slot]
    return {
        "slot": slot,
        "joints3d": batch["joints3d"][idx, slot],
        "joints2d": batch["joints2d"][idx, slot],
        "valid": batch["joint_valid"][idx, slot].bool() & has[:, None],
    }


def _masked_mean(x: Tensor, valid: Tensor) -> Tensor:
    w = valid.to(x.dtype)
    return (x * w).sum() / w.sum().clamp(min=1.0)


class BaselineModule(L.LightningModule):
    """Training of :class:`~handpose.models.baseline.BaselineEstimator` (module docstring)."""

    def __init__(self, cfg: BaselineConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = BaselineEstimator(cfg.model, cfg.data.size)

    def forward(self, images: Tensor, K: Tensor, root_depth: Tensor | None = None):
        return self.model(images, K, root_depth)

    def _step(self, batch: dict, prefix: str) -> Tensor:
        tg = single_hand_targets(batch)
        gt_root = tg["joints3d"][:, 0, 2]
        out, hm = self.model.forward_heatmaps(batch["image"], batch["K"], gt_root)
        h, w = hm.logits.shape[-2:]
        d = self.model.config.depth_bins
        xy_gt = image_to_heatmap(tg["joints2d"], self.model.heatmap_stride)
        z_rel = tg["joints3d"][..., 2] - gt_root[:, None]
        z_gt = depth_to_bins(z_rel, d, self.model.config.depth_range)
        scale = xy_gt.new_tensor([w, h])
        l_uv = _masked_mean(((out.heatmap_xyz[..., :2] - xy_gt).abs() / scale).sum(-1), tg["valid"])
        l_z = _masked_mean((out.heatmap_xyz[..., 2] - z_gt).abs() / d, tg["valid"])
        loss = self.cfg.loss.uv * l_uv + self.cfg.loss.z * l_z
        b = batch["image"].shape[0]
        sync = prefix != "train"
        self.log(f"{prefix}/loss", loss.detach(), batch_size=b, sync_dist=sync, prog_bar=True)
        self.log(f"{prefix}/uv", l_uv.detach(), batch_size=b, sync_dist=sync)
        self.log(f"{prefix}/z", l_z.detach(), batch_size=b, sync_dist=sync)
        if prefix == "val":
            with torch.no_grad():
                valid = tg["valid"]
                err = (out.joints3d - tg["joints3d"]).norm(dim=-1) * 1000.0
                aligned = procrustes_align(out.joints3d, tg["joints3d"], valid=valid)
                pa = (aligned - tg["joints3d"]).norm(dim=-1) * 1000.0
                uv_px = (out.joints2d - tg["joints2d"]).norm(dim=-1)
                z_mm = (out.z_rel - z_rel).abs() * 1000.0
            for name, value in (("mpjpe_mm", err), ("pa_mpjpe_mm", pa), ("uv_px", uv_px),
                                ("z_mm", z_mm)):  # fmt: skip
                self.log(
                    f"val/{name}",
                    _masked_mean(value.to(torch.float32), valid),
                    batch_size=b,
                    sync_dist=True,
                    prog_bar=name == "pa_mpjpe_mm",
                )
        return loss

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def configure_optimizers(self):
        return optimizer_and_schedule(
            self.parameters(), self.cfg.train, int(self.trainer.estimated_stepping_batches)
        )


def _module(ctx: StageContext) -> BaselineModule:
    return BaselineModule(ctx.cfg)


def _data(ctx: StageContext) -> ImageDataModule:
    return ImageDataModule(ctx.data, ctx.cfg.data, ctx.cfg.train.batch_size, ctx.cfg.seed)


def _build(cfg: BaselineConfig) -> BaselineEstimator:
    return BaselineEstimator(cfg.model, cfg.data.size)


METHOD = Method(
    name="baseline",
    config=BaselineConfig,
    stages=(
        Stage(
            "main",
            module=_module,
            data=_data,
            build_model=_build,
            help="backbone + 2.5D heatmap + soft-argmax for all 21 joints",
        ),
    ),
    description="image baseline: backbone + 2.5D heatmap + soft-argmax (EHPE's TW-stage only)",
)
