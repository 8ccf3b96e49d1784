"""PGTE on the harness: one stage ``main`` training PGTE (temporal or ``single``) or the
VIBE-style baseline on windows of low-resolution video.

Config (``handpose/configs/pgte/{tiny,cpu-small,paper}.yaml``)::

    name, seed
    variant: pgte | vibe          PGTE (model.window = 1: "single") or the VIBE-style baseline
    model: {...}                  PGTENetConfig (handpose.models.pgte.config)
    vibe:  {...}                  VibeNetConfig
    loss:  {...}                  PGTELossConfig (handpose.losses.pgte)
    vibe_loss: {...}              VibeLossConfig
    pgte_init: PATH | null        a PGTE checkpoint of the same size that initialises the model
    vibe_encoder: PATH | null     a PGTE checkpoint whose ViT initialises the baseline's encoder
    vibe_freeze_encoder: false    keep that encoder fixed (VIBE's frozen SPIN encoder)
    train_faces: 128              mesh faces per training step (0: the whole mesh)
    data:  {train_split, val_split, resolution, pad, min_side, stride, num_workers, cache,
            limit_train_clips, limit_val_clips, degradation_seed}    (VideoDataConfig)
    train: {epochs, batch_size, lr, ...}                             (TrainConfig)

**Data** (:mod:`handpose.datasets.video`): windows of T frames (T = the model's window) of one
clip, each frame read at ladder level ``data.resolution`` (the long side of the frame in px;
a shard folder's stored level, or real frames degraded the same way on the fly), cropped to its
hand box (``pad`` ×) and upsampled to the model's input size. Training windows start every
``stride`` frames (default T/2), validation windows every T. No augmentation (a per-frame
random augmentation would add jitter the temporal model would have to undo; ours is a
documented omission).

**Root depth.** Training and validation use the ground-truth wrist depth in eq. 3 (as the
evaluation does), so the losses see the model's 2.5D predictions through the right camera.

**The VIBE-style baseline's encoder.** VIBE does not learn its per-frame encoder from video: it
takes SPIN's ResNet-50 and regressor, trained on single images, freezes the encoder and trains
the temporal encoder and the regressor. Trained from scratch on a small synthetic set, the same
global regressor stays at the constant prediction (it fits the training clips but does not
generalise: docs/results/pgte.md). ``vibe_encoder`` gives it VIBE's start: the ViT of a PGTE
checkpoint (same ``embed_dim``/``depth``/``num_heads``/stem, e.g. the ``single`` model trained on
the same training frames: the SPIN of this setting) initialises the baseline's ViT, fine-tuned
or, with ``vibe_freeze_encoder``, frozen (its batch norms stay in eval mode).

**Starting the temporal model from the single-frame one.** ``pgte_init`` copies the weights of a
PGTE checkpoint of the same size; only the temporal module's window-sized weights may differ
(the time embedding, when a ``single`` run starts the temporal model), and they keep their
initialisation; any other mismatch is an error. Not in the supplement: an option for the
temporal-vs-single study (docs/results/pgte.md).

**Validation** (``val/*``, full mesh): ``mpjpe_mm`` and ``mpvpe_mm`` wrist-relative,
``pa_mpjpe_mm`` (Procrustes, FreiHAND mode), all over the frames of the validation windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightning as L
import torch
from torch import Tensor

from handpose.errors import HandposeError
from handpose.losses.pgte import (
    PGTELossConfig,
    VibeLossConfig,
    face_subset,
    pgte_loss,
    vibe_loss,
)
from handpose.models.pgte import PGTE, PGTENetConfig, VibeBaseline, VibeNetConfig
from handpose.training.config import TrainConfig
from handpose.training.harness import optimizer_and_schedule
from handpose.training.registry import Method, Stage, StageContext

__all__ = [
    "VideoDataConfig",
    "PGTEConfig",
    "PGTEModule",
    "VideoDataModule",
    "METHOD",
    "build_model",
]

VARIANTS = ("pgte", "vibe")


@dataclass(frozen=True)
class VideoDataConfig:
    """The ``data:`` section (module docstring).

    Attributes:
        train_split, val_split: split names.
        resolution: ladder level in px (long side of the frame); None = full resolution.
        pad: crop box enlargement; min_side: smallest crop side (source px).
        stride: frames between training window starts (None: window // 2, at least 1).
        num_workers: DataLoader workers.
        cache: keep prepared frames in memory (:class:`~handpose.datasets.video.VideoWindowDataset`).
        limit_train_clips, limit_val_clips: use only the first N clips.
        degradation_seed: seed of the on-the-fly ladder for sources without stored levels.
    """

    train_split: str = "train"
    val_split: str = "val"
    resolution: int | None = 64
    pad: float = 1.3
    min_side: int = 4
    stride: int | None = None
    num_workers: int = 0
    cache: bool = True
    limit_train_clips: int | None = None
    limit_val_clips: int | None = None
    degradation_seed: int = 0

    def __post_init__(self) -> None:
        if self.resolution is not None and self.resolution < 4:
            raise ValueError(f"resolution must be ≥ 4 px or null, got {self.resolution}")
        if self.pad <= 0 or self.min_side < 1 or self.num_workers < 0:
            raise ValueError("pad must be > 0, min_side ≥ 1 and num_workers ≥ 0")
        if self.stride is not None and self.stride < 1:
            raise ValueError("stride must be ≥ 1 or null")


@dataclass(frozen=True)
class PGTEConfig:
    name: str = "custom"
    seed: int = 0
    variant: str = "pgte"
    model: PGTENetConfig = field(default_factory=PGTENetConfig)
    vibe: VibeNetConfig = field(default_factory=VibeNetConfig)
    loss: PGTELossConfig = field(default_factory=PGTELossConfig)
    vibe_loss: VibeLossConfig = field(default_factory=VibeLossConfig)
    train_faces: int = 128
    data: VideoDataConfig = field(default_factory=VideoDataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    pgte_init: str | None = None
    vibe_encoder: str | None = None
    vibe_freeze_encoder: bool = False

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.vibe_freeze_encoder and not self.vibe_encoder:
            raise ValueError("vibe_freeze_encoder needs vibe_encoder (a PGTE checkpoint)")
        if self.train_faces < 0:
            raise ValueError("train_faces must be ≥ 0")

    @property
    def net(self):
        """The network config of the chosen variant."""
        return self.model if self.variant == "pgte" else self.vibe

    @property
    def window(self) -> int:
        return int(self.net.window)

    @property
    def image_size(self) -> int:
        return int(self.net.image_size)


def build_model(cfg: PGTEConfig):
    """The inference model of a config: :class:`PGTE` or :class:`VibeBaseline`."""
    return PGTE(cfg.model) if cfg.variant == "pgte" else VibeBaseline(cfg.vibe)


def _masked_mean(x: Tensor, valid: Tensor) -> Tensor:
    w = valid.to(x.dtype)
    return (x * w).sum() / w.sum().clamp(min=1.0)


def _model_state(checkpoint: str, prefix: str) -> dict[str, Tensor]:
    """The tensors of a harness checkpoint's state dict under ``prefix``, with it removed."""
    from handpose.training.checkpoints import read_checkpoint

    state = read_checkpoint(checkpoint).get("state_dict", {})
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def load_matching_weights(model: PGTE, checkpoint: str) -> list[str]:
    """Copy the weights of a PGTE checkpoint into ``model``: every weight must match in name and
    shape except the temporal module's window-sized ones, which keep their initialisation.

    Returns:
        the names copied.
    """
    theirs = _model_state(checkpoint, "model.")
    own = model.state_dict()
    take = {k: v for k, v in theirs.items() if k in own and own[k].shape == v.shape}
    bad = sorted(k for k in own if k not in take and not k.startswith("temporal."))
    if bad:
        raise HandposeError(
            f"'{checkpoint}' is not a PGTE model of this size (pgte_init: only the window may "
            f"differ); first mismatch: {bad[0]}"
        )
    model.load_state_dict(take, strict=False)
    return sorted(take)


def load_vibe_encoder(model: VibeBaseline, checkpoint: str) -> None:
    """Copy the ViT of a PGTE checkpoint (``model.backbone.*``) into the baseline's encoder."""
    enc = _model_state(checkpoint, "model.backbone.")
    if not enc:
        raise HandposeError(f"'{checkpoint}' holds no PGTE encoder weights (model.backbone.*).")
    own = model.backbone.state_dict()
    bad = sorted(k for k in own if k not in enc or enc[k].shape != own[k].shape)
    if bad or len(enc) != len(own):
        raise HandposeError(
            f"the encoder in '{checkpoint}' does not match the baseline's ViT (vibe: embed_dim, "
            f"depth, num_heads, stem_channels, patch_embed must equal the PGTE model's); "
            f"first mismatch: {(bad or sorted(set(enc) - set(own)))[:1]}"
        )
    model.backbone.load_state_dict(enc)


def window_targets(batch: dict) -> dict[str, Tensor]:
    """A (B, T, ...) window batch flattened to the (B·T, ...) loss targets."""
    out = {
        k: batch[k].flatten(0, 1)
        for k in ("joints3d", "vertices", "K", "valid", "joint_valid", "joints2d")
        if k in batch
    }
    if "vertices" not in out:
        raise HandposeError("PGTE training needs ground-truth vertices in the data.")
    return out


class PGTEModule(L.LightningModule):
    """Training of PGTE or the VIBE-style baseline (module docstring)."""

    def __init__(self, cfg: PGTEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = build_model(cfg)
        self._frozen_encoder = False
        self.loaded_init: list[str] = []  # names copied by pgte_init
        if cfg.variant == "pgte" and cfg.pgte_init:
            self.loaded_init = load_matching_weights(self.model, cfg.pgte_init)
        if cfg.variant == "vibe" and cfg.vibe_encoder:
            load_vibe_encoder(self.model, cfg.vibe_encoder)
            if cfg.vibe_freeze_encoder:
                self.model.backbone.requires_grad_(False)
                self._frozen_encoder = True

    def forward(self, images, K, root_depth=None, side=None):
        return self.model(images, K, root_depth, side)

    def _step(self, batch: dict, prefix: str) -> Tensor:
        from handpose.datasets.image_dataset import normalize_image

        images = normalize_image(batch["image"])
        b, t = images.shape[:2]
        tg = window_targets(batch)
        root = batch["joints3d"][..., 0, 2]
        side = batch["side"]
        full = prefix != "train" or self.cfg.train_faces == 0
        if self.cfg.variant == "pgte":
            m: PGTE = self.model
            ids, faces = None, m.faces
            if not full:
                ids, faces = face_subset(m.faces, self.cfg.train_faces)
                ids = ids.to(images.device)
                tg["vertices"] = tg["vertices"][:, ids]
            out = m(images, batch["K"], root, side, vertex_ids=ids).flatten_frames()
            terms = pgte_loss(
                out, tg, self.cfg.loss, stride=m.stride, heatmap_size=m.heatmap_size,
                half_range=m.half_range, faces=faces.to(images.device), frames=t,
            )  # fmt: skip
        else:
            out = self.model(images, batch["K"], root, side).flatten_frames()
            terms = vibe_loss(
                out, tg, self.cfg.vibe_loss, image_size=self.cfg.image_size,
                half_range=0.5 * self.cfg.model.depth_range, frames=t,
            )  # fmt: skip
        n = b * t
        sync = prefix != "train"
        self.log(
            f"{prefix}/loss", terms["loss"].detach(), batch_size=n, sync_dist=sync, prog_bar=True
        )
        for k, v in terms.items():
            if k != "loss":
                self.log(f"{prefix}/{k}", v.detach(), batch_size=n, sync_dist=sync)
        if prefix == "val":
            self._log_errors(out, tg, n)
        return terms["loss"]

    @torch.no_grad()
    def _log_errors(self, out, tg: dict, n: int) -> None:
        from handpose.geometry.procrustes import procrustes_align

        gj, gv, valid = tg["joints3d"], tg["vertices"], tg["valid"].bool()
        jv = tg["joint_valid"].bool() & valid[:, None]
        pj, pv = out.joints3d, out.vertices
        rel = lambda p, w: p - w[:, :1]  # noqa: E731
        ej = (rel(pj, pj) - rel(gj, gj)).norm(dim=-1) * 1000.0
        ev = (rel(pv, pj) - rel(gv, gj)).norm(dim=-1) * 1000.0
        pa = (procrustes_align(pj, gj, valid=jv) - gj).norm(dim=-1) * 1000.0
        for name, value, mask in (("mpjpe_mm", ej, jv), ("mpvpe_mm", ev, valid[:, None].expand_as(ev)),
                                  ("pa_mpjpe_mm", pa, jv)):  # fmt: skip
            self.log(f"val/{name}", _masked_mean(value.float(), mask), batch_size=n, sync_dist=True,
                     prog_bar=name == "mpjpe_mm")  # fmt: skip

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        if self._frozen_encoder:  # Lightning sets each submodule's mode itself: re-freeze
            self.model.backbone.eval()  # the batch norms keep their statistics
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def configure_optimizers(self):
        return optimizer_and_schedule(
            self.parameters(), self.cfg.train, int(self.trainer.estimated_stepping_batches)
        )


def window_dataset(data: str, cfg: PGTEConfig, split: str, train: bool, clips: int | None = None):
    """The :class:`~handpose.datasets.video.VideoWindowDataset` of one split."""
    from handpose.datasets.video import VideoWindowDataset, open_video_source

    d = cfg.data
    T = cfg.window
    stride = (d.stride or max(1, T // 2)) if train else T
    src = open_video_source(data, split, d.resolution, d.degradation_seed)
    return VideoWindowDataset(
        src, T, stride, cfg.image_size, pad=d.pad, min_side=d.min_side, clips=clips,
        cache=d.cache,
    )  # fmt: skip


class VideoDataModule(L.LightningDataModule):
    """Training and validation windows with epoch-seeded (distributed) sampling."""

    def __init__(self, data: str, cfg: PGTEConfig) -> None:
        super().__init__()
        self.data, self.cfg = str(data), cfg
        self.train_set = self.val_set = None

    def setup(self, stage: str) -> None:
        if self.train_set is None:
            c = self.cfg
            self.train_set = window_dataset(
                self.data, c, c.data.train_split, True, c.data.limit_train_clips
            )
            self.val_set = window_dataset(
                self.data, c, c.data.val_split, False, c.data.limit_val_clips
            )
            if len(self.train_set) < c.train.batch_size:
                raise HandposeError(
                    f"the '{c.data.train_split}' split of '{self.data}' has {len(self.train_set)} "
                    f"windows of {c.window} frames, fewer than one batch of {c.train.batch_size} "
                    "(train.batch_size)"
                )

    def _loader(self, ds, shuffle: bool):
        from handpose.training.data import make_loader

        world = self.trainer.world_size if self.trainer else 1
        rank = self.trainer.global_rank if self.trainer else 0
        c = self.cfg
        return make_loader(
            ds, c.train.batch_size // world, shuffle, c.seed, c.data.num_workers, world, rank
        )

    def train_dataloader(self):
        return self._loader(self.train_set, True)

    def val_dataloader(self):
        return self._loader(self.val_set, False)


def _module(ctx: StageContext) -> PGTEModule:
    return PGTEModule(ctx.cfg)


def _data(ctx: StageContext) -> VideoDataModule:
    return VideoDataModule(ctx.data, ctx.cfg)


METHOD = Method(
    name="pgte",
    config=PGTEConfig,
    stages=(
        Stage(
            "main",
            module=_module,
            data=_data,
            build_model=build_model,
            help="PGTE (or the VIBE-style baseline) on low-resolution video windows",
        ),
    ),
    description="PGTE: hand meshes from low-resolution video (pose-guided temporal enhancement)",
)
