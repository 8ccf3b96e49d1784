"""Lightning modules: stage 1 (teacher) and stage 2 (student distilled from the frozen teacher).

The models know nothing about loops (handpose.models.mgdhand); these modules hold the losses,
the optimiser and the schedule; the Trainer does devices, checkpoints, logging and DDP.

Phase 2: the training and validation vertex terms (and ``val/mpvpe_mm``) use the fixed vertex
subset ``loss.reconstruction.vertex_stride`` (every k-th vertex, the same for prediction and
target; cpu-small: k = 8, 173 of the open hand's 1379 vertices). Skinning the full mesh of the
prediction and of the ground truth every step was ~25 % of a cpu-small teacher step (0.89 s vs
0.68 s per batch of 32 × 32 frames, one thread). :func:`handpose.training.evaluate` still
reports MPVPE on the full mesh.
"""

from __future__ import annotations

import math

import lightning as L
import torch
from torch import Tensor, nn

from handpose import __version__
from handpose.geometry.rotations import rotation_6d_to_matrix
from handpose.losses.reconstruction import reconstruction_loss
from handpose.losses.teacher import TeacherLossConfig, teacher_loss
from handpose.models.mgdhand.masking import sample_token_mask
from handpose.models.mgdhand.outputs import MGDHandOutput
from handpose.training.checkpoints import CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_VERSION
from handpose.training.config import ExperimentConfig, config_to_dict
from handpose.training.factory import (
    build_hand_model,
    build_stage2_distiller,
    build_student,
    build_teacher,
    resolve_variant,
    sensor_names,
    student_sensor_indices,
)

__all__ = ["CosineSchedule", "TeacherModule", "StudentModule", "mpjpe_mm"]


class CosineSchedule:
    """LR factor: linear warm-up over ``warmup`` steps, then cosine from 1 to ``min_ratio``.

    A class with plain-number attributes (not a closure) so that ``LambdaLR.state_dict`` stays
    ``weights_only``-loadable.
    """

    def __init__(self, warmup: int, total: int, min_ratio: float) -> None:
        self.warmup, self.total, self.min_ratio = int(warmup), max(int(total), 1), min_ratio

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        span = max(self.total - self.warmup, 1)
        progress = min((step - self.warmup) / span, 1.0)
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def mpjpe_mm(pred: Tensor, target: Tensor) -> Tensor:
    """Mean per-point Euclidean error in millimetres: (..., K, 3) metres → () mm."""
    return (pred - target).norm(dim=-1).mean() * 1000.0


class _Stage(L.LightningModule):
    """Shared optimiser, schedule and checkpoint metadata."""

    kind = ""
    data_fps: float | None = None  # frame rate of the training data, stored in the metadata

    def __init__(self, cfg: ExperimentConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.loss_config = TeacherLossConfig(cfg.loss.reconstruction, cfg.loss.auxiliary)

    def configure_optimizers(self):
        t = self.cfg.train
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay)
        total = int(self.trainer.estimated_stepping_batches)
        warmup = int(round(t.warmup_epochs * total / max(t.epochs, 1)))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, CosineSchedule(warmup, total, t.min_lr_ratio)
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def _metadata(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "handpose_version": __version__,
            "kind": self.kind,
            "config": config_to_dict(self.cfg),
            "teacher_sensors": list(sensor_names(self.cfg.data.teacher_sensors)),
            "student_sensors": list(sensor_names(self.cfg.data.student_sensors)),
            **({} if self.data_fps is None else {"fps": float(self.data_fps)}),
        }

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["handpose"] = self._metadata()

    def loss_vertex_ids(self, decoder: nn.Module) -> Tensor | None:
        """The fixed vertex subset of the training/validation vertex loss (every
        ``loss.reconstruction.vertex_stride``-th vertex), None = all vertices."""
        k = self.cfg.loss.reconstruction.vertex_stride
        if k == 1:
            return None
        if getattr(self, "_vertex_ids", None) is None:
            self._vertex_ids = torch.arange(0, decoder.hand_model.num_vertices, k)
        return self._vertex_ids

    def _targets(self, batch: dict, decoder: nn.Module) -> dict[str, Tensor]:
        rotmats = rotation_6d_to_matrix(batch["pose6d"])
        vertices = None
        if self.cfg.loss.reconstruction.vertices > 0:
            # Ground-truth mesh from the GT parameters (the files store joints, not vertices).
            with torch.no_grad():
                _, vertices = decoder(
                    rotmats,
                    batch["betas"],
                    return_vertices=True,
                    vertex_ids=self.loss_vertex_ids(decoder),
                )
        return {
            "joints": batch["joints"],
            "rotmats": rotmats,
            "betas": batch["betas"],
            "vertices": vertices,
        }

    def _log_terms(self, prefix: str, terms: dict[str, Tensor], batch_size: int) -> None:
        for name, value in terms.items():
            self.log(
                f"{prefix}/{name}",
                value.detach(),
                batch_size=batch_size,
                sync_dist=prefix != "train",
                prog_bar=name in ("loss",),
            )

    def _log_metrics(self, out: MGDHandOutput, tg: dict, batch_size: int) -> None:
        self.log(
            "val/mpjpe_mm",
            mpjpe_mm(out.joints, tg["joints"]),
            batch_size=batch_size,
            sync_dist=True,
            prog_bar=True,
        )
        if out.vertices is not None and tg["vertices"] is not None:
            self.log(
                "val/mpvpe_mm",
                mpjpe_mm(out.vertices, tg["vertices"]),
                batch_size=batch_size,
                sync_dist=True,
            )


class TeacherModule(_Stage):
    """Stage 1: the MANO + IMU teacher with reconstruction + auxiliary losses."""

    kind = "teacher"

    def __init__(self, cfg: ExperimentConfig, hand_model: nn.Module | None = None) -> None:
        super().__init__(cfg)
        self.model = build_teacher(cfg, hand_model or build_hand_model(cfg))

    def forward(self, batch: dict) -> MGDHandOutput:
        return self.model(
            batch["pose6d"],
            batch["betas"],
            batch["imu"],
            self.mask(batch),
            vertex_ids=self.loss_vertex_ids(self.model.decoder),
        )

    def mask(self, batch: dict) -> Tensor:
        """The batch's teacher mask, or (datasets without one) a fresh joint-wise + frame-wise
        Bernoulli(p_mask) draw from torch's global generator."""
        if batch.get("mask") is not None:
            return batch["mask"]
        b, t = batch["pose6d"].shape[:2]
        p = self.cfg.data.p_mask
        return sample_token_mask(b, t, 16, p, p, device=batch["pose6d"].device)

    def _step(self, batch: dict, prefix: str) -> Tensor:
        tg = self._targets(batch, self.model.decoder)
        out = self(batch)
        terms = teacher_loss(
            out, tg["joints"], tg["rotmats"], tg["betas"], tg["vertices"], self.loss_config
        )
        b = batch["imu"].shape[0]
        self._log_terms(prefix, terms, b)
        if prefix == "val":
            self._log_metrics(out, tg, b)
        return terms["loss"]

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "val")


class StudentModule(_Stage):
    """Stage 2: the IMU-only student, reconstruction + distillation from the frozen teacher.

    The teacher is kept in eval mode with ``requires_grad=False`` and run under ``no_grad``; its
    weights are not written into student checkpoints (they come from ``teacher_checkpoint``,
    re-read on resume).
    """

    kind = "student"

    def __init__(
        self,
        cfg: ExperimentConfig,
        teacher_state: dict[str, Tensor] | None = None,
        teacher_checkpoint: str = "",
        hand_model: nn.Module | None = None,
    ) -> None:
        super().__init__(cfg)
        hm = hand_model or build_hand_model(cfg)
        self.spec = resolve_variant(cfg.distill)
        self.teacher_checkpoint = str(teacher_checkpoint)
        self.teacher = build_teacher(cfg, hm)
        if teacher_state is not None:
            self.teacher.load_state_dict(teacher_state)
        self.teacher.requires_grad_(False)
        self.teacher.eval()
        self.student = build_student(cfg, hm)
        if self.spec.student_head == "teacher":
            self.student.load_teacher_head(self.teacher.mano_head)
        self.distiller = build_stage2_distiller(cfg)
        self.sensor_index = student_sensor_indices(cfg)

    def train(self, mode: bool = True):
        """Switch the student (and distiller) mode; the teacher always stays in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    def student_imu(self, batch: dict) -> Tensor:
        """The student's IMU tokens: its sensors' columns of ``batch["imu"]``, (B, T, N_s, 12)."""
        return batch["imu"][:, :, self.sensor_index]

    def forward(
        self, imu: Tensor, return_vertices: bool = True, vertex_ids: Tensor | None = None
    ) -> MGDHandOutput:
        """Inference: the student on IMU tokens only."""
        return self.student(imu, return_vertices=return_vertices, vertex_ids=vertex_ids)

    def predict_step(self, batch: dict, batch_idx: int = 0) -> MGDHandOutput:
        return self(self.student_imu(batch))

    def teacher_output(self, batch: dict) -> MGDHandOutput:
        mask = batch.get("mask") if self.cfg.distill.teacher_mask else None
        with torch.no_grad():
            return self.teacher(
                batch["pose6d"], batch["betas"], batch["imu"], mask, return_vertices=False
            )

    def _step(self, batch: dict, prefix: str, epoch: float) -> Tensor:
        tg = self._targets(batch, self.student.decoder)
        out = self(self.student_imu(batch), vertex_ids=self.loss_vertex_ids(self.student.decoder))
        terms = reconstruction_loss(
            out,
            tg["joints"],
            tg["rotmats"],
            tg["betas"],
            tg["vertices"],
            self.loss_config.reconstruction,
        )
        if self.spec.method != "none":
            d_terms = self.distiller(out, self.teacher_output(batch), epoch=epoch)
            terms.update({f"kd_{k}": v for k, v in d_terms.items() if k != "distill"})
            terms["distill"] = d_terms["distill"]
        else:
            terms["distill"] = torch.zeros_like(terms["recon"])
        terms["loss"] = terms["recon"] + terms["distill"]
        b = batch["imu"].shape[0]
        self._log_terms(prefix, terms, b)
        if prefix == "val":
            self._log_metrics(out, tg, b)
        return terms["loss"]

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        # Fractional epoch for warm-up ramps (DKD).
        epoch = self.current_epoch + batch_idx / max(float(self.trainer.num_training_batches), 1.0)
        return self._step(batch, "train", epoch)

    def validation_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "val", float(self.current_epoch))

    def _metadata(self) -> dict:
        meta = super()._metadata()
        meta["variant"] = self.cfg.distill.variant
        meta["teacher_checkpoint"] = self.teacher_checkpoint
        return meta

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        # The frozen teacher is not part of the student's weights.
        sd = checkpoint["state_dict"]
        for key in [k for k in sd if k.startswith("teacher.")]:
            del sd[key]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # Put the (already loaded) frozen teacher back so that strict loading succeeds.
        sd = checkpoint["state_dict"]
        for key, value in self.teacher.state_dict().items():
            sd.setdefault(f"teacher.{key}", value)
