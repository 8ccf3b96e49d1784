"""One training harness for every method: configs, run folders, stages, checkpoints, DDP.

>>> from handpose.training import harness
>>> cfg = harness.load_method_config("baseline", "cpu-small", ["train.epochs=3"])  # doctest: +SKIP
>>> paths = harness.train("baseline", cfg, "data/single", "runs/baseline")  # doctest: +SKIP
>>> model, meta = harness.load_model(paths["main"])  # doctest: +SKIP

A method registers its config schema, stages and data (:mod:`handpose.training.registry`); the
harness does the rest, the same way for every method:

**Run folders.** ``train(method, cfg, data, OUT)`` trains the stages in order, each in its own
folder::

    OUT/<stage>/config.yaml             the resolved config
    OUT/<stage>/checkpoints/last.ckpt   written atomically at the end of every epoch
    OUT/<stage>/tensorboard/            TensorBoard event files
    OUT/<stage>/csv/metrics.csv         the same scalars as CSV (resumed runs: metrics.part*.csv;
                                        :func:`handpose.training.read_metrics` joins them)
    OUT/<stage>/cache/<stage>-<key>/    cached features of this stage when a later stage
                                        freezes it (:mod:`.features`; beside the checkpoint, so
                                        every later-stage ablation that loads it shares them)

**Stages.** A stage may require earlier stages: their checkpoints (default
``OUT/<earlier>/checkpoints/last.ckpt``, or given explicitly) are loaded with
:func:`load_model`, which checks that they belong to this method and stage, and handed to the
stage's factories frozen (``requires_grad=False``, kept in eval mode during training).

**Seeds and resume.** ``L.seed_everything(cfg.seed)`` before a stage's module is built; the
checkpoint also stores torch's global RNG state, restored on resume, so that a resumed run
continues the uninterrupted one bit for bit (with epoch-seeded sampling and augmentation, see
:mod:`handpose.training.image_data`). ``resume=True`` skips finished stages, continues an
interrupted one and starts the missing ones.

**Checkpoints.** Lightning checkpoints, readable with ``torch.load(weights_only=True)``; the
``"handpose"`` entry holds builtins only: ``format``, ``format_version``, ``handpose_version``,
``method``, ``stage``, ``config`` (the resolved config as a dict), ``data`` and
``data_fingerprint`` (:mod:`.fingerprint`), ``requires`` (stage → checkpoint path and
fingerprint), plus what the method adds. :func:`load_model` rebuilds any method's inference
model from it.

**DDP.** ``train.devices > 1`` runs Lightning DDP (gloo on CPU) with synchronised batch norm;
``train.batch_size`` is the global batch, so 2 processes see the batches one process sees.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import yaml

from handpose.errors import HandposeError
from handpose.training.registry import Method, Stage, StageContext, get_method

__all__ = [
    "load_method_config",
    "method_config_from_dict",
    "train",
    "fit_stage",
    "stage_dir",
    "load_model",
    "checkpoint_info",
    "optimizer_and_schedule",
    "stage_feature_cache",
    "synced_batch_norm",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FORMAT_VERSION",
]

CHECKPOINT_FORMAT = "handpose-model"
CHECKPOINT_FORMAT_VERSION = 1
MGDHAND_FORMAT = "handpose-mgdhand"


def _method(method: str | Method) -> Method:
    return method if isinstance(method, Method) else get_method(str(method))


# ---------------------------------------------------------------------------------- configs


def method_config_from_dict(method: str | Method, data: Mapping[str, Any] | None):
    """Build and validate a method's config dataclass from a plain mapping."""
    from handpose.training.config import _from_dict

    return _from_dict(_method(method).config, dict(data or {}), "")


def load_method_config(
    method: str | Method,
    preset: str | os.PathLike = "cpu-small",
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
):
    """A method's preset by name (``handpose/configs/<method>/<preset>.yaml``) or a YAML file,
    with dotted-key overrides (``["train.epochs=3"]``)."""
    from handpose.training.config import _read_yaml, apply_overrides

    m = _method(method)
    name = str(preset)
    if name in m.presets:
        text = resources.files("handpose").joinpath("configs", m.name, f"{name}.yaml")
        data = yaml.safe_load(text.read_text(encoding="utf-8")) or {}
    else:
        path = Path(name)
        if not path.is_file():
            raise HandposeError(
                f"preset '{name}' is neither a preset of {m.name} ({', '.join(m.presets)}) "
                "nor a YAML file"
            )
        data = _read_yaml(path)
        try:
            return method_config_from_dict(m, apply_overrides(data, overrides))
        except HandposeError as err:  # name the file the bad value came from
            raise HandposeError(f"config file '{path}': {err}") from None
    return method_config_from_dict(m, apply_overrides(data, overrides))


# ---------------------------------------------------------------------------------- checkpoints


def checkpoint_info(ckpt: Mapping[str, Any], path: str | os.PathLike = "checkpoint") -> dict:
    """The ``"handpose"`` metadata of a loaded checkpoint with ``method`` and ``stage`` filled in
    (MGDHand checkpoints written before the harness name their stage ``kind``)."""
    meta = ckpt.get("handpose") if isinstance(ckpt, Mapping) else None
    fmt = meta.get("format") if isinstance(meta, Mapping) else None
    if fmt not in (CHECKPOINT_FORMAT, MGDHAND_FORMAT):
        raise HandposeError(f"'{path}' is not a handpose model checkpoint (no handpose metadata)")
    meta = dict(meta)
    if fmt == MGDHAND_FORMAT:
        from handpose.training.checkpoints import checkpoint_metadata

        checkpoint_metadata(ckpt, path)  # its own version check
        meta.setdefault("method", "mgdhand")
        meta.setdefault("stage", meta.get("kind"))
    elif meta.get("format_version", 0) > CHECKPOINT_FORMAT_VERSION:
        raise HandposeError(
            f"'{path}' was written by a newer handpose (format version "
            f"{meta['format_version']}); upgrade handpose to read it"
        )
    if not isinstance(meta.get("method"), str) or not isinstance(meta.get("stage"), str):
        raise HandposeError(f"'{path}' does not say which method and stage it holds")
    return meta


def _expect(meta: dict, path, method: str | None, stage: str | None) -> None:
    if (method is not None and meta["method"] != method) or (
        stage is not None and meta["stage"] != stage
    ):
        want = " ".join(x for x in (method, stage) if x)
        raise HandposeError(
            f"'{path}' is a checkpoint of method '{meta['method']}' (stage '{meta['stage']}'), "
            f"not the {want} checkpoint expected here"
        )


def load_model(
    checkpoint: str | os.PathLike, method: str | None = None, stage: str | None = None
) -> tuple[torch.nn.Module, dict]:
    """Rebuild the inference model stored in any method's checkpoint, in eval mode on CPU.

    Args:
        checkpoint: a ``last.ckpt`` written by the harness (or by the MGDHand API).
        method, stage: when given, the checkpoint must belong to them (HandposeError otherwise).
    Returns:
        ``(model, metadata)``. Image models (e.g. the baseline) take ImageNet-normalised images
        (B, 3, S, S) and the crop intrinsics K (B, 3, 3) and return a dataclass whose fields are
        named like the sample schema (``joints3d``, ``joints2d``, optional ``vertices``,
        ``mano_*``); see the model's docstring for frames and units. ``metadata`` is the
        checkpoint's ``"handpose"`` entry (``method``, ``stage``, ``config``, ...).
    """
    from handpose.training.checkpoints import read_checkpoint

    ckpt = read_checkpoint(checkpoint)
    meta = checkpoint_info(ckpt, checkpoint)
    _expect(meta, checkpoint, method, stage)
    try:
        m = get_method(meta["method"])
        st = m.stage(meta["stage"])
    except HandposeError as err:
        raise HandposeError(f"'{checkpoint}' cannot be loaded: {err}") from None
    if st.load is not None:
        model, own = st.load(checkpoint)
        return model, {**own, **meta}
    cfg = method_config_from_dict(m, meta.get("config"))
    model = st.build_model(cfg)
    prefix = st.weights_prefix
    state = {k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise HandposeError(
            f"'{checkpoint}' does not match its own config: missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}"
        )
    return model.eval(), meta


# ---------------------------------------------------------------------------------- optimiser


def optimizer_and_schedule(params, train_cfg, total_steps: int) -> dict:
    """AdamW with a per-step linear warm-up and cosine decay to ``min_lr_ratio``·lr (the
    ``configure_optimizers`` return value); ``train_cfg`` is a
    :class:`~handpose.training.config.TrainConfig`."""
    from handpose.training.modules import CosineSchedule

    t = train_cfg
    params = [p for p in params if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay)
    warmup = int(round(t.warmup_epochs * total_steps / max(t.epochs, 1)))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, CosineSchedule(warmup, total_steps, t.min_lr_ratio)
    )
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


# ---------------------------------------------------------------------------------- caches


def stage_feature_cache(ctx: StageContext, stage: str, split: str, **extra: Any):
    """The :class:`~handpose.training.features.FeatureCache` of frozen stage ``stage``'s
    features on ``split`` of this run's data, keyed by that stage's checkpoint (SHA-256 of the
    file), the data fingerprint, the split and ``extra`` (input size, crop, extractor
    version, ...). It lives in ``ctx.cache_dir`` when one was given, else beside the frozen
    checkpoint (``<frozen run>/cache``), so that every later-stage run loading that checkpoint
    shares it."""
    from handpose.training.features import FeatureCache, cache_key
    from handpose.training.fingerprint import file_sha256

    if stage not in ctx.frozen_checkpoints:
        raise HandposeError(f"stage {ctx.stage!r} does not load a frozen {stage!r} stage")
    ckpt_fp = file_sha256(ctx.frozen_checkpoints[stage])
    key = cache_key(ckpt_fp, ctx.data_fingerprint, split, **extra)
    root = ctx.cache_dir or Path(ctx.frozen_checkpoints[stage]).resolve().parent.parent / "cache"
    return FeatureCache(root, stage, key)


# ---------------------------------------------------------------------------------- trainer


def stage_dir(out: str | os.PathLike, stage: str) -> Path:
    """``OUT/<stage>``."""
    return Path(out) / stage


def _run_metadata(m: Method, cfg, stage: str, data: str, fp: str, requires: dict) -> dict:
    from handpose import __version__
    from handpose.training.config import config_to_dict

    return {
        "base": {
            "format": m.checkpoint_format,
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "handpose_version": __version__,
            "config": config_to_dict(cfg),
        },
        "run": {
            "method": m.name,
            "stage": stage,
            "data": str(data),
            "data_fingerprint": fp,
            "requires": requires,
        },
    }


def synced_batch_norm(bn: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Batch norm with statistics over the whole DDP batch, on any device (gloo on CPU too).

    Torch's ``SyncBatchNorm`` refuses CPU modules, so DDP on CPU would normalise every rank's
    share of the batch by itself and differ from one process. Here the per-channel mean, then
    the variance about it (two passes, as one process computes it), are summed over ranks with
    the autograd-aware ``torch.distributed.nn.functional.all_reduce``, whose backward sums the
    gradients of every rank's loss: with DDP's gradient averaging this is exactly the gradient of
    one process on the whole batch. Running statistics get the unbiased global variance. timm's
    fused ``BatchNormAct2d`` keeps its dropout and activation.
    """
    import torch.distributed as dist
    from torch.distributed.nn.functional import all_reduce

    if not (bn.training and dist.is_available() and dist.is_initialized()):
        return bn._handpose_forward(x)
    dims = [0, *range(2, x.ndim)]
    shape = [1, -1] + [1] * (x.ndim - 2)
    count = all_reduce(x.new_tensor([x.numel() / x.shape[1]]))
    mean = all_reduce(x.sum(dims)) / count
    var = all_reduce(((x - mean.view(shape)) ** 2).sum(dims)) / count
    if bn.track_running_stats:
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            m = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
            unbiased = var * (count / (count - 1).clamp(min=1))
            bn.running_mean.mul_(1 - m).add_(m * mean.detach())
            bn.running_var.mul_(1 - m).add_(m * unbiased.detach())
    y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + bn.eps)
    if bn.affine:
        y = y * bn.weight.view(shape) + bn.bias.view(shape)
    if hasattr(bn, "drop"):
        y = bn.drop(y)
    if hasattr(bn, "act"):
        y = bn.act(y)
    return y


def _sync_batchnorm():
    """Lightning's LayerSync hook: every batch-norm layer computes its training statistics over
    the whole DDP batch (:func:`synced_batch_norm`); module classes and state-dict names are
    unchanged, and teardown restores the plain forward."""
    import types

    from lightning.pytorch.plugins.layer_sync import LayerSync
    from torch.nn.modules.batchnorm import _BatchNorm

    class SyncBatchNorm(LayerSync):
        def apply(self, model):
            for m in model.modules():
                if isinstance(m, _BatchNorm) and not hasattr(m, "_handpose_forward"):
                    m._handpose_forward = m.forward
                    m.forward = types.MethodType(synced_batch_norm, m)
            return model

        def revert(self, model):
            for m in model.modules():
                if hasattr(m, "_handpose_forward"):
                    del m._handpose_forward
                    m.__dict__.pop("forward", None)
            return model

    return SyncBatchNorm()


def _build_trainer(train_cfg, run_dir: Path, callbacks: Sequence, run_meta: dict):
    from lightning.pytorch.callbacks import Callback, Checkpoint
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    from handpose.training.api import _lightning_trainer, last_checkpoint
    from handpose.utils.io import atomic_path

    class HarnessCheckpointIO(TorchCheckpointIO):
        """Stamps the run metadata into ``checkpoint["handpose"]`` and writes atomically."""

        def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
            meta = checkpoint.setdefault("handpose", dict(run_meta["base"]))
            meta.update(run_meta["run"])
            with atomic_path(path) as tmp:
                torch.save(checkpoint, tmp)

    class LastCheckpoint(Checkpoint):
        """``last.ckpt`` at the end of every training epoch (after validation and logging)."""

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            trainer.save_checkpoint(last_checkpoint(run_dir), weights_only=False)

    class RngState(Callback):
        """torch's global RNG state in the checkpoint, restored on resume."""

        def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
            checkpoint["handpose_rng"] = {"torch": torch.get_rng_state()}

        def on_load_checkpoint(self, trainer, pl_module, checkpoint) -> None:
            state = checkpoint.get("handpose_rng")
            if state is not None:
                torch.set_rng_state(state["torch"])

    plugins = [HarnessCheckpointIO(), *([_sync_batchnorm()] if train_cfg.devices > 1 else [])]
    return _lightning_trainer(
        train_cfg, run_dir, [LastCheckpoint(), RngState()], callbacks, plugins
    )


def _prepare_run_dir(cfg, run_dir: Path, resume: bool) -> Path | None:
    """Check the stage folder, write ``config.yaml``; the checkpoint to resume from (or None).

    A resumed run keeps the earlier ``csv/metrics.csv`` as ``metrics.part<k>.csv`` (Lightning's
    CSVLogger would delete it); :func:`handpose.training.read_metrics` joins the parts.
    """
    from handpose.training.api import _metric_parts, last_checkpoint
    from handpose.training.config import save_config

    last = last_checkpoint(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise HandposeError(f"run folder '{run_dir}' is a file")
    if last.exists() and not resume:
        raise HandposeError(
            f"'{run_dir}' already holds a run ({last}); pass resume=True (--resume) to continue "
            "it or choose another output folder"
        )
    if resume and not last.exists():
        raise HandposeError(f"nothing to resume: '{last}' does not exist")
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")
    if resume and os.environ.get("LOCAL_RANK", "0") == "0":
        csv_file = run_dir / "csv" / "metrics.csv"
        if csv_file.exists():
            k = len(_metric_parts(run_dir)) + 1
            csv_file.rename(csv_file.with_name(f"metrics.part{k}.csv"))
    return last if resume else None


def _keep_frozen(frozen: Mapping[str, torch.nn.Module]):
    from lightning.pytorch.callbacks import Callback

    class KeepFrozen(Callback):
        """Frozen stages stay in eval mode (Lightning switches the whole module to train mode
        at every epoch and after validation) and never receive gradients."""

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            for model in frozen.values():
                model.eval()

        def on_train_start(self, trainer, pl_module) -> None:
            for name, model in frozen.items():
                if any(p.requires_grad for p in model.parameters()):
                    raise RuntimeError(f"frozen stage {name!r} has trainable parameters")

    return KeepFrozen()


def _data_argument(data: str | os.PathLike) -> tuple[str, str]:
    from handpose.training.fingerprint import data_fingerprint

    text = str(data)
    return text, data_fingerprint(text)


def fit_stage(
    method: str | Method,
    cfg,
    stage: str,
    data: str | os.PathLike,
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    requires: Mapping[str, str | os.PathLike] | None = None,
    cache_dir: str | os.PathLike | None = None,
    callbacks: Sequence = (),
) -> Path:
    """Train one stage into ``run_dir`` (``config.yaml``, ``checkpoints/last.ckpt``, logs).

    Args:
        method: registry name or :class:`Method`.
        cfg: the method's config dataclass.
        stage: the stage's name.
        data: the training data argument (file, shard folder or source string).
        run_dir: this stage's folder.
        resume: continue from ``run_dir/checkpoints/last.ckpt``.
        requires: required stage → its checkpoint (every stage in ``Stage.requires``).
        cache_dir: where frozen-stage feature caches go (default: beside each frozen
            checkpoint, see :func:`stage_feature_cache`).
        callbacks: extra Lightning callbacks.
    Returns:
        the path of ``last.ckpt``.
    """
    from handpose.training.api import _require_lightning, last_checkpoint
    from handpose.training.fingerprint import file_sha256

    _require_lightning()
    import lightning as L

    m = _method(method)
    st: Stage = m.stage(stage)
    if not isinstance(cfg, m.config):
        raise TypeError(f"cfg must be a {m.config.__name__}, got {type(cfg).__name__}")
    train_cfg = st.train_config(cfg)
    run_dir = Path(run_dir)
    data_text, fp = _data_argument(data)
    requires = dict(requires or {})
    frozen, frozen_meta, frozen_paths, req_meta = {}, {}, {}, {}
    for name in st.requires:
        if name not in requires:
            raise HandposeError(f"stage {stage!r} of {m.name} needs the {name!r} checkpoint")
        path = Path(requires[name])
        model, meta = load_model(path, method=m.name, stage=name)
        model.requires_grad_(False)
        frozen[name], frozen_meta[name], frozen_paths[name] = model.eval(), meta, path
        req_meta[name] = {"checkpoint": str(path), "fingerprint": file_sha256(path)[:16]}
    if resume and last_checkpoint(run_dir).exists():
        from handpose.training.checkpoints import read_checkpoint

        _expect(checkpoint_info(read_checkpoint(last_checkpoint(run_dir))), run_dir, m.name, stage)
    if train_cfg.threads is not None:
        torch.set_num_threads(train_cfg.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    ctx = StageContext(
        method=m,
        stage=stage,
        cfg=cfg,
        data=data_text,
        run_dir=run_dir,
        data_fingerprint=fp,
        frozen=frozen,
        frozen_checkpoints=frozen_paths,
        frozen_meta=frozen_meta,
        cache_dir=Path(cache_dir) if cache_dir is not None else None,
    )
    module = st.module(ctx)
    datamodule = st.data(ctx)
    created = run_dir  # the topmost folder this call creates, removed again on a user error
    while not created.parent.exists():
        created = created.parent
    created = None if run_dir.exists() else created
    ckpt_path = _prepare_run_dir(cfg, run_dir, resume)
    run_meta = _run_metadata(m, cfg, stage, data_text, fp, req_meta)
    cbs = [*callbacks, _keep_frozen(frozen)] if frozen else list(callbacks)
    try:
        with warnings.catch_warnings():
            # Known and harmless: Lightning's use of a deprecated torch pytree check, frozen
            # stages in eval mode on purpose, the CSV folder of a resumed run (kept as a part).
            warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\)", FutureWarning)
            warnings.filterwarnings("ignore", r".*module\(s\) in eval mode")
            warnings.filterwarnings("ignore", r"Experiment logs directory .* exists and is not")
            trainer = _build_trainer(train_cfg, run_dir, cbs, run_meta)
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    except HandposeError:
        # A user error before the first checkpoint (e.g. an unknown split found when the data
        # module opens the data) leaves no half-made run folder behind.
        if created is not None and not last_checkpoint(run_dir).exists():
            import shutil

            shutil.rmtree(created, ignore_errors=True)
        raise
    return last_checkpoint(run_dir)


def _finished(last: Path, train_cfg) -> bool:
    from handpose.training.checkpoints import read_checkpoint

    return int(read_checkpoint(last).get("epoch", -1)) + 1 >= train_cfg.epochs


def train(
    method: str | Method,
    cfg,
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    stages: Sequence[str] | None = None,
    resume: bool = False,
    requires: Mapping[str, str | os.PathLike] | None = None,
    callbacks: Sequence = (),
) -> dict[str, Path]:
    """Train a method's stages (all, or ``stages``) into ``OUT/<stage>/``.

    Args:
        method: registry name or :class:`Method`.
        cfg: its config (:func:`load_method_config`).
        data: training data (file, shard folder or source string).
        out: the run folder.
        stages: which stages to train (default: all, in order).
        resume: finished stages are skipped, an interrupted one continues, missing ones start.
        requires: checkpoints of required stages that are not trained in this call (default:
            ``OUT/<stage>/checkpoints/last.ckpt``).
        callbacks: extra Lightning callbacks (every stage).
    Returns:
        stage → its ``last.ckpt``.
    """
    from handpose.training.api import last_checkpoint

    m = _method(method)
    if isinstance(cfg, Mapping) or not dataclasses.is_dataclass(cfg):
        raise TypeError("cfg must be the method's config dataclass (see load_method_config)")
    names = list(stages) if stages else list(m.stage_names)
    for name in names:
        m.stage(name)  # unknown stage: one clear error before anything runs
    _data_argument(data)  # missing data: one clear error before anything runs
    from handpose.utils.validate import output_folder

    out = output_folder(out, "run folder")  # a file, or under one: before anything runs
    given = {k: Path(v) for k, v in (requires or {}).items()}
    done: dict[str, Path] = {}
    for name in m.stage_names:
        if name not in names:
            continue
        st = m.stage(name)
        needed = {}
        for r in st.requires:
            path = done.get(r) or given.get(r) or last_checkpoint(stage_dir(out, r))
            if not Path(path).is_file():
                raise HandposeError(
                    f"stage {name!r} of {m.name} needs a trained {r!r} stage: '{path}' does not "
                    f"exist (train it first, or pass its checkpoint)"
                )
            needed[r] = path
        run_dir = stage_dir(out, name)
        last = last_checkpoint(run_dir)
        stage_resume = resume and last.exists()
        if stage_resume and _finished(last, st.train_config(cfg)):
            done[name] = last
            continue
        done[name] = fit_stage(
            m,
            cfg,
            name,
            data,
            run_dir,
            resume=stage_resume,
            requires=needed,
            callbacks=callbacks,
        )
    return done
