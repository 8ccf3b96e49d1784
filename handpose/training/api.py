"""The training API: ``train_teacher``, ``train_student``, ``evaluate``.

Each training run writes into one output folder::

    OUT/config.yaml                 the resolved config
    OUT/checkpoints/last.ckpt       written (atomically) at the end of every epoch
    OUT/tensorboard/                TensorBoard event files
    OUT/csv/metrics.csv             the same scalars as CSV (earlier segments of a resumed run
                                    in metrics.part1.csv, ...; :func:`read_metrics` joins them)

``resume=True`` continues from ``OUT/checkpoints/last.ckpt``; since sampling and masks are seeded
by epoch, the resumed run reproduces the uninterrupted one.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch

from handpose.errors import HandposeError
from handpose.training.checkpoints import (
    PREFIX,
    checkpoint_metadata,
    load_mgdhand,
    model_state,
    read_checkpoint,
)
from handpose.training.config import ExperimentConfig, config_from_dict, save_config
from handpose.training.factory import student_sensor_indices
from handpose.utils.io import make_folders
from handpose.utils.validate import check_int, input_file, output_folder

__all__ = ["train_teacher", "train_student", "evaluate", "last_checkpoint", "read_metrics"]


def _require_lightning() -> None:
    try:
        import lightning  # noqa: F401
    except ImportError:
        raise HandposeError(
            "training needs PyTorch Lightning and TensorBoard: pip install 'handpose[train]'"
        ) from None


def last_checkpoint(out_dir: str | os.PathLike) -> Path:
    """``OUT/checkpoints/last.ckpt``."""
    return Path(out_dir) / "checkpoints" / "last.ckpt"


def _datasets(cfg: ExperimentConfig, data: str | os.PathLike):
    """The training and validation sets, checked before anything is written.

    Raises:
        HandposeError: unreadable or malformed file, NaN/inf data (named by file, sequence and
            field), no windows, or fewer training windows than one batch.
    """
    from handpose.training.data import build_dataset

    data = input_file(data, "data file")
    train_set = build_dataset(cfg, data, cfg.data.train_split, train=True)
    val_set = build_dataset(cfg, data, cfg.data.eval_split, train=False)
    if len(train_set) < cfg.train.batch_size:
        raise HandposeError(
            f"the training split of '{data}' has {len(train_set)} windows, fewer than one "
            f"batch of {cfg.train.batch_size} (train.batch_size)"
        )
    return train_set, val_set


def _datamodule(cfg: ExperimentConfig, train_set, val_set):
    import lightning as L

    from handpose.training.data import make_loader

    class MGDHandData(L.LightningDataModule):
        def setup(self, stage: str) -> None:
            self.train_set, self.val_set = train_set, val_set
            if self.trainer is not None:  # the checkpoint metadata records the frame rate
                self.trainer.lightning_module.data_fps = self.train_set.fps

        def _loader(self, ds, shuffle: bool):
            world = self.trainer.world_size if self.trainer else 1
            rank = self.trainer.global_rank if self.trainer else 0
            return make_loader(
                ds,
                cfg.train.batch_size // world,
                shuffle,
                cfg.seed,
                cfg.data.num_workers,
                world,
                rank,
                steps_per_epoch=cfg.train.steps_per_epoch if shuffle else None,
            )

        def train_dataloader(self):
            return self._loader(self.train_set, True)

        def val_dataloader(self):
            return self._loader(self.val_set, False)

    return MGDHandData()


def _lightning_trainer(t, out_dir: Path, own: Sequence, callbacks: Sequence, plugins: Sequence):
    """The Lightning Trainer every training run uses.

    Args:
        t: the ``train`` config section (epochs, accelerator, devices, precision, ...).
        out_dir: the run folder; TensorBoard and CSV logs go to ``tensorboard/`` and ``csv/``.
        own: the run's own callbacks (checkpointing), before the learning-rate monitor.
        callbacks: the caller's callbacks, after it (a progress bar follows if enabled).
        plugins: Lightning plugins (checkpoint IO, layer sync).
    """
    import lightning as L
    from lightning.pytorch.callbacks import LearningRateMonitor, TQDMProgressBar
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    from lightning.pytorch.strategies import DDPStrategy

    cbs = [*own, LearningRateMonitor(logging_interval="step"), *callbacks]
    if t.progress_bar:
        cbs.append(TQDMProgressBar(refresh_rate=max(1, t.log_every_n_steps)))
    strategy = "auto"
    if t.devices > 1:
        backend = "gloo" if t.accelerator == "cpu" else None
        # Some heads get no gradient in some variants (e.g. MGDHand's "none"): find_unused.
        strategy = DDPStrategy(find_unused_parameters=True, process_group_backend=backend)
    return L.Trainer(
        default_root_dir=out_dir,
        max_epochs=t.epochs,
        accelerator=t.accelerator,
        devices=t.devices,
        strategy=strategy,
        precision=t.precision,
        logger=[
            TensorBoardLogger(out_dir, name="tensorboard", version=""),
            CSVLogger(out_dir, name="csv", version=""),
        ],
        callbacks=cbs,
        gradient_clip_val=t.grad_clip,
        log_every_n_steps=t.log_every_n_steps,
        check_val_every_n_epoch=t.val_every_n_epochs,
        limit_train_batches=t.limit_train_batches,
        enable_progress_bar=t.progress_bar,
        enable_model_summary=False,
        enable_checkpointing=True,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        plugins=list(plugins),
    )


def _trainer(cfg: ExperimentConfig, out_dir: Path, callbacks: Sequence = ()):
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from lightning.pytorch.callbacks import Checkpoint
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    from handpose.utils.io import atomic_path

    class AtomicCheckpointIO(TorchCheckpointIO):
        """Checkpoints written to a temporary file and renamed: a kill never leaves half a file."""

        def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
            with atomic_path(path) as tmp:
                torch.save(checkpoint, tmp)

    class LastCheckpoint(Checkpoint):
        """``last.ckpt`` at the end of every training epoch (after validation and logging).

        A ``Checkpoint`` subclass so that Lightning runs it after the module's own epoch-end
        hooks, as it does ModelCheckpoint; every rank calls ``save_checkpoint``, rank 0 writes.
        """

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            trainer.save_checkpoint(last_checkpoint(out_dir))

    t = cfg.train
    _check_accelerator(t.accelerator)
    try:
        return _lightning_trainer(t, out_dir, [LastCheckpoint()], callbacks, [AtomicCheckpointIO()])
    except (MisconfigurationException, ModuleNotFoundError) as err:  # e.g. no GPU, no torch_xla
        raise HandposeError(
            f"cannot train with accelerator={t.accelerator!r}, devices={t.devices}: "
            f"{' '.join(str(err).split())}"
        ) from None


def _check_accelerator(accelerator: str) -> None:
    """Refuse an accelerator this machine does not have, before Lightning does it noisily."""
    import importlib.util

    have = {
        "gpu": torch.cuda.is_available(),
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
        "tpu": importlib.util.find_spec("torch_xla") is not None,
    }
    if not have.get(accelerator, True):
        raise HandposeError(
            f"train.accelerator={accelerator!r} is not available on this machine; use cpu or auto"
        )


def _check_out(module, out: Path, resume: bool, kind: str) -> Path | None:
    """Check the run folder (and the checkpoint to resume) without writing anything."""
    out = output_folder(out, "run folder")
    last = last_checkpoint(out)
    if last.exists() and not resume:
        raise HandposeError(
            f"'{out}' already holds a run ({last}); pass resume=True (--resume) to continue it "
            "or choose another output folder"
        )
    if not resume:
        return None
    if not last.exists():
        raise HandposeError(f"nothing to resume: '{last}' does not exist")
    ckpt = read_checkpoint(last)
    meta = checkpoint_metadata(ckpt, last)
    if meta.get("kind") != kind:
        raise HandposeError(
            f"'{last}' holds a {meta.get('kind', 'unknown')} checkpoint; a {kind} run cannot "
            "resume from it"
        )
    prefix = PREFIX[kind]
    own = {k[len(prefix) :]: v for k, v in module.state_dict().items() if k.startswith(prefix)}
    theirs = model_state(ckpt, kind, last)
    differ = sorted(set(own) ^ set(theirs)) or [
        k for k in own if tuple(own[k].shape) != tuple(theirs[k].shape)
    ]
    if differ:
        raise HandposeError(
            f"'{last}' does not match this run's config (first difference: {differ[0]}); "
            "resume with the config the run was started with"
        )
    if not isinstance(ckpt.get("optimizer_states"), list) or "epoch" not in ckpt:
        raise HandposeError(
            f"'{last}' holds weights only (no optimizer state or epoch), so it cannot be resumed"
        )
    return last


def _prepare_out(cfg: ExperimentConfig, out: Path, resume: bool) -> None:
    """Write the run folder's config (and keep a resumed run's earlier metrics)."""
    make_folders(out)
    save_config(cfg, out / "config.yaml")
    if resume and os.environ.get("LOCAL_RANK", "0") == "0":
        # Lightning's CSVLogger deletes an existing metrics.csv; keep it as a numbered part.
        csv_file = out / "csv" / "metrics.csv"
        if csv_file.exists():
            csv_file.rename(csv_file.with_name(f"metrics.part{len(_metric_parts(out)) + 1}.csv"))


def _metric_parts(out: Path) -> list[Path]:
    parts = (out / "csv").glob("metrics.part*.csv")
    return sorted(parts, key=lambda p: int(p.stem.removeprefix("metrics.part")))


def read_metrics(out_dir: str | os.PathLike) -> list[dict[str, str]]:
    """All logged rows of a run (``OUT/csv``), across resumes, in step order.

    A resumed run restarts from the last epoch boundary, so rows of an interrupted epoch were
    logged twice; the earlier copy (step ≥ the first step after the resume) is dropped.
    """
    import csv

    out = Path(out_dir)
    files = [*_metric_parts(out), out / "csv" / "metrics.csv"]
    segments = []
    for f in files:
        if f.exists():
            with f.open(newline="") as fh:
                segments.append(list(csv.DictReader(fh)))
    rows: list[dict[str, str]] = []
    for i, seg in enumerate(segments):
        later = [int(r["step"]) for s in segments[i + 1 :] for r in s if r.get("step")]
        cut = min(later) if later else None
        rows.extend(r for r in seg if cut is None or int(r["step"]) < cut)
    return rows


def _set_threads(cfg: ExperimentConfig) -> None:
    if cfg.train.threads is not None:
        torch.set_num_threads(cfg.train.threads)


def _fit(module, cfg, data, out_dir, resume, callbacks, kind: str):
    # Every DDP process runs this (children re-run the command); writes are atomic and
    # identical, and children start before the first checkpoint exists. Everything a user can
    # get wrong (the run folder, the checkpoint to resume, the data, the Trainer settings) is
    # checked before the run folder is written.
    out = Path(out_dir)
    ckpt_path = _check_out(module, out, resume, kind)
    train_set, val_set = _datasets(cfg, data)
    with warnings.catch_warnings():
        # Known and harmless: Lightning's use of a deprecated torch pytree check, the frozen
        # teacher being in eval mode on purpose, and the CSV folder of a resumed run (its old
        # metrics.csv was kept as a part above).
        warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\)", FutureWarning)
        warnings.filterwarnings("ignore", r".*module\(s\) in eval mode")
        warnings.filterwarnings("ignore", r"Experiment logs directory .* exists and is not empty")
        trainer = _trainer(cfg, out, callbacks)
        _prepare_out(cfg, out, resume)
        trainer.fit(
            module,
            datamodule=_datamodule(cfg, train_set, val_set),
            ckpt_path=ckpt_path,
            weights_only=True,
        )
    return last_checkpoint(out_dir)


def train_teacher(
    cfg: ExperimentConfig,
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    resume: bool = False,
    callbacks: Sequence = (),
) -> Path:
    """Stage 1: train the MANO + IMU teacher.

    Args:
        cfg: experiment config (``teacher``, ``priors``, ``loss``, ``train``, ``data``);
            ``train.teacher_epochs``, when set, is the teacher's number of epochs (the run
            folder's config.yaml then records it as ``train.epochs``).
        data: handpose IMU file (e.g. the synthetic VIHand-like HDF5).
        out_dir: run folder (see the module docstring).
        resume: continue from ``out_dir/checkpoints/last.ckpt``.
        callbacks: extra Lightning callbacks.
    Returns:
        the path of ``last.ckpt``.
    """
    _require_lightning()
    import lightning as L

    from handpose.training.modules import TeacherModule

    if cfg.train.teacher_epochs is not None:
        cfg = replace(cfg, train=replace(cfg.train, epochs=cfg.train.teacher_epochs))
    _set_threads(cfg)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    return _fit(TeacherModule(cfg), cfg, data, out_dir, resume, callbacks, "teacher")


def _check_teacher_compatible(cfg: ExperimentConfig, tcfg: ExperimentConfig, path) -> None:
    pairs = {
        "teacher": (cfg.teacher, tcfg.teacher),
        "priors": (cfg.priors, tcfg.priors),
        "hand_model": (cfg.hand_model, tcfg.hand_model),
        "data.window": (cfg.data.window, tcfg.data.window),
        "data.teacher_sensors": (cfg.data.teacher_sensors, tcfg.data.teacher_sensors),
    }
    for key, (mine, theirs) in pairs.items():
        if mine != theirs:
            raise HandposeError(
                f"the config's {key} ({mine}) differs from the teacher checkpoint's "
                f"({theirs}) in '{path}'"
            )


def train_student(
    cfg: ExperimentConfig,
    teacher_checkpoint: str | os.PathLike,
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    variant: str | None = None,
    sensors: str | None = None,
    resume: bool = False,
    callbacks: Sequence = (),
) -> Path:
    """Stage 2: train the IMU-only student with the frozen teacher.

    Args:
        cfg: experiment config; its teacher, priors, window and teacher sensors must match the
            teacher checkpoint's.
        teacher_checkpoint: ``last.ckpt`` of a :func:`train_teacher` run.
        variant: distillation variant (overrides ``cfg.distill.variant``), see
            :data:`handpose.losses.distill.VARIANTS`.
        sensors: the student's sensor layout (overrides ``cfg.data.student_sensors``), e.g.
            "vihand7", "sparse3", "sparse2".
    Returns:
        the path of the student's ``last.ckpt``.
    """
    _require_lightning()
    import lightning as L

    from handpose.training.modules import StudentModule

    try:
        if variant is not None:
            cfg = replace(cfg, distill=replace(cfg.distill, variant=variant))
        if sensors is not None:
            cfg = replace(cfg, data=replace(cfg.data, student_sensors=sensors))
    except ValueError as err:
        raise HandposeError(str(err)) from None
    student_sensor_indices(cfg)  # validate the sensor subset early
    ckpt = read_checkpoint(teacher_checkpoint)
    meta = checkpoint_metadata(ckpt, teacher_checkpoint)
    if meta.get("kind") != "teacher":
        raise HandposeError(
            f"'{teacher_checkpoint}' holds a {meta.get('kind', 'unknown')} model, not a teacher"
        )
    _check_teacher_compatible(cfg, config_from_dict(meta["config"]), teacher_checkpoint)
    _set_threads(cfg)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = StudentModule(
        cfg,
        model_state(ckpt, "teacher", teacher_checkpoint),
        teacher_checkpoint=str(teacher_checkpoint),
    )
    return _fit(module, cfg, data, out_dir, resume, callbacks, "student")


EVAL_METRICS = ("mpjpe", "pa_mpjpe", "mpvpe", "pa_mpvpe", "accel_error")


@torch.no_grad()
def evaluate(
    checkpoint: str | os.PathLike,
    data: str | os.PathLike,
    split: str | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    progress: bool = True,
    decompose: bool = False,
    p_mask: float | None = None,
) -> dict:
    """Errors (mm) of a teacher or student checkpoint on a data split, via
    :class:`handpose.metrics.Evaluator`.

    The windows are the config's evaluation windows (``eval_stride``, default = window: each
    frame once). Student inputs are the IMU tokens of its sensors only; the teacher reads the
    split's deterministic masked MANO input. Ground-truth meshes come from the ground-truth
    parameters through the checkpoint's hand model. Joints and vertices are wrist-relative.

    Returns:
        ``{"kind", "variant", "split", "num_windows", "num_frames", "student_sensors",
        "mpjpe_mm", "pa_mpjpe_mm", "mpvpe_mm", "pa_mpvpe_mm", "accel_error"}``
        (acceleration error in mm/s², at the data's 30 fps). With ``decompose``, also the
        MPJPE when one part of the prediction is replaced by the ground truth, which says where
        the error comes from: ``"mpjpe_gt_root_mm"`` (ground-truth global orientation),
        ``"mpjpe_gt_betas_mm"`` (ground-truth β), ``"mpjpe_gt_fingers_mm"`` (ground-truth 15
        finger-joint rotations; predicted global orientation and β). ``p_mask`` replaces the
        teacher's masking probability (1.0: every pose token masked; the result then has
        ``"p_mask"``).
    """
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    from handpose.geometry.rotations import rotation_6d_to_matrix
    from handpose.metrics import Evaluator
    from handpose.training.data import build_dataset

    check_int(batch_size, "batch_size", 1)
    device = _device(device)
    data = input_file(data, "data file")
    model, meta = load_mgdhand(checkpoint)
    model = model.to(device)
    cfg = config_from_dict(meta["config"])
    if p_mask is not None:
        if not 0.0 <= p_mask <= 1.0:
            raise HandposeError(f"--p-mask must lie in [0, 1], got {p_mask}")
        cfg = replace(cfg, data=replace(cfg.data, p_mask=float(p_mask)))
    split = split or cfg.data.eval_split
    ds = build_dataset(cfg, data, split, train=False)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False)
    index = student_sensor_indices(cfg)
    ev = Evaluator(EVAL_METRICS, units="mm", root=0, fps=cfg.loss.auxiliary.fps)
    frames = 0
    swapped = {"gt_root": [], "gt_betas": [], "gt_fingers": []}
    for batch in tqdm(loader, desc=f"eval {meta['kind']}", disable=not progress):
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        if meta["kind"] == "teacher":
            out = model(batch["pose6d"], batch["betas"], batch["imu"], batch["mask"])
        else:
            out = model(batch["imu"][:, :, index])
        gt_rot = rotation_6d_to_matrix(batch["pose6d"])
        _, gt_vertices = model.decoder(gt_rot, batch["betas"], return_vertices=True)
        if decompose:
            for name, err in _swapped_errors(model.decoder, out, gt_rot, batch).items():
                swapped[name].append(err.cpu())
        ev.update(
            pred_joints=out.joints.cpu(),
            gt_joints=batch["joints"].cpu(),
            pred_verts=out.vertices.cpu(),
            gt_verts=gt_vertices.cpu(),
        )
        frames += out.joints.shape[0] * out.joints.shape[1]
    metrics = ev.compute()
    result = {
        "kind": meta["kind"],
        "variant": meta.get("variant"),
        "split": split,
        "num_windows": len(ds),
        "num_frames": frames,
        "student_sensors": meta["student_sensors"] if meta["kind"] == "student" else None,
    }
    if p_mask is not None:
        result["p_mask"] = float(p_mask)
    for name in EVAL_METRICS:
        result[name if name == "accel_error" else f"{name}_mm"] = metrics[name]
    if decompose:
        for name, errs in swapped.items():
            result[f"mpjpe_{name}_mm"] = float(torch.cat(errs).mean()) * 1000.0
    return result


def _device(device: str | torch.device) -> torch.device:
    """A torch device that exists on this machine."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise HandposeError(
            f"unknown device {str(device)!r}; use cpu, cuda, cuda:N or mps"
        ) from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (dev.index or 0) >= count:
            raise HandposeError(f"device {str(device)!r} is not available ({count} CUDA GPUs)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise HandposeError(f"device {str(device)!r} is not available on this machine")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise HandposeError(f"device {str(device)!r} is not supported; use cpu, cuda or mps")
    return dev


def _swapped_errors(decoder, out, gt_rot: torch.Tensor, batch: dict) -> dict:
    """Per-frame MPJPE (m) with one predicted part replaced by the ground truth."""

    def mpjpe(rot, betas):
        joints, _ = decoder(rot, betas, return_vertices=False)
        return (joints - batch["joints"]).norm(dim=-1).mean(dim=-1).flatten()

    root = torch.cat([gt_rot[:, :, :1], out.rotmats[:, :, 1:]], dim=2)
    fingers = torch.cat([out.rotmats[:, :, :1], gt_rot[:, :, 1:]], dim=2)
    return {
        "gt_root": mpjpe(root, out.betas),
        "gt_betas": mpjpe(out.rotmats, batch["betas"]),
        "gt_fingers": mpjpe(fingers, out.betas),
    }
