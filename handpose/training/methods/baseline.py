"""The image baseline on the harness: config schema, LightningModule, one stage ``main``.

Config (``handpose/configs/baseline/{tiny,cpu-small,paper}.yaml``)::

    name, seed
    model: {backbone, weights, level, drop_path_rate, num_deconv, hidden, depth_bins,
            depth_range, temperature, bone_length}        (BaselineNetConfig)
    loss:  {coord, heatmap, sigma, sigma_z}
    data:  {train_split, val_split, size, crop, pad, min_side, level, num_workers, augment,
            augmentation: {...}, limit_train, limit_val}  (ImageDataConfig)
    train: {epochs, batch_size, lr, weight_decay, warmup_epochs, min_lr_ratio, grad_clip,
            accelerator, devices, precision, log_every_n_steps, val_every_n_epochs,
            limit_train_batches, progress_bar, threads}   (TrainConfig)

**Target hand.** Single-hand training: per sample the valid hand slot (slot 0, the right hand,
when both are valid). **Loss** (:mod:`handpose.losses.heatmaps`), over valid joints, with x, y
in heatmap cells and z in depth bins of the wrist-relative depth:
``coord · mean(|Δx|/W + |Δy|/H + |Δz|/D) + heatmap · (KL_xy + KL_z)``: the L1 coordinate loss
of integral regression (Sun et al., ECCV 2018; EHPE's L_ED, eq. 4, is its squared form) and the
heatmap term, the KL divergences of the soft-argmax distribution's 2D and depth marginals to
Gaussians at the target (EHPE's L_H, eq. 3, in distribution form). Without the heatmap term a
network trained from scratch stays at the mean pose for the few hundred steps a CPU run has
(measured: validation PA-MPJPE 40.9 mm after 150 steps, worse than the constant mean pose's
30.0 mm). Even memorising 64 training images is slow with coarse features: after 100 steps
the 2D error on them was still 23 px of 128 with EfficientNet-Lite0's stride-32 features,
15 px with its stride-16 features and the soft-argmax temperature 0.05, which then reached
3 px after 300 steps; the cpu-small preset uses those (docs/results/image_baseline.md, "What
made it learn").

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
from handpose.losses.heatmaps import coordinate_l1_loss, masked_mean, volume_kl_loss
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
    """Weights of the coordinate term (L1, ``coord``) and the heatmap term (KL of the volume's
    marginals to Gaussians, ``heatmap``) with the targets' widths ``sigma`` (heatmap cells) and
    ``sigma_z`` (depth bins); see :mod:`handpose.losses.heatmaps`."""

    coord: float = 1.0
    heatmap: float = 1.0
    sigma: float = 1.0
    sigma_z: float = 1.0

    def __post_init__(self) -> None:
        if self.coord < 0 or self.heatmap < 0 or self.coord + self.heatmap == 0:
            raise ValueError("loss weights must be ≥ 0 and not both 0")
        if self.sigma <= 0 or self.sigma_z <= 0:
            raise ValueError("sigma and sigma_z must be > 0")


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
        d, h, w = hm.logits.shape[-3:]
        net = self.model.config
        z_rel = tg["joints3d"][..., 2] - gt_root[:, None]
        target = torch.cat(
            [
                image_to_heatmap(tg["joints2d"], self.model.heatmap_stride),
                depth_to_bins(z_rel, d, net.depth_range)[..., None],
            ],
            dim=-1,
        )
        lc = self.cfg.loss
        terms = {"coord": coordinate_l1_loss(out.heatmap_xyz, target, tg["valid"], (w, h, d))}
        if lc.heatmap > 0:
            kl = volume_kl_loss(
                hm.logits, target, tg["valid"], lc.sigma, lc.sigma_z, net.temperature
            )
            terms["kl_xy"], terms["kl_z"] = kl["xy"], kl["z"]
        loss = lc.coord * terms["coord"]
        if lc.heatmap > 0:
            loss = loss + lc.heatmap * (terms["kl_xy"] + terms["kl_z"])
        b = batch["image"].shape[0]
        sync = prefix != "train"
        self.log(f"{prefix}/loss", loss.detach(), batch_size=b, sync_dist=sync, prog_bar=True)
        for name, value in terms.items():
            self.log(f"{prefix}/{name}", value.detach(), batch_size=b, sync_dist=sync)
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
                    masked_mean(value.to(torch.float32), valid),
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
