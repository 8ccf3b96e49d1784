"""Generate a synthetic image dataset (``single`` | ``twohand`` | ``video``) into sharded HDF5.

Plan: each split (train, val, test) is cut into shards (``shard_size`` images, or
``shard_size`` whole sequences for ``video``); a shard is one job, rendered by one worker
process (each with its own EGL context) and written atomically by
:class:`handpose.formats.shards.ShardWriter`; the manifest is written last.

Determinism: item ``i`` of a split draws everything from the stream
``SeedSequence([seed, domain, split, kind, i])`` and subject ``k`` from
``SeedSequence([seed, domain, 7_777, subject_id])``; the renderer draws the same batches in
the same framebuffer tiles for a shard whatever the number of workers, so the same seed gives
identical arrays (``tests/simulators/images/test_generate.py``).

Resume: a shard that exists, is complete (:func:`~handpose.formats.shards.is_complete`) and was
made by the same configuration is skipped; a folder holding shards of another configuration is
refused (one clear error) instead of being mixed.

Splits: subjects are disjoint between splits (ids ``split·100000 + k``), and the test split
uses only the unseen gestures ROM13–15 (train and val: ROM01–12 plus uniform random poses), so
test poses and subjects are unseen. ``domain = "heldout"`` renders with the held-out skin
tones, textures and light colours (:mod:`.appearance`).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handpose.errors import HandposeError
from handpose.simulators.images.scenes import SceneOptions
from handpose.utils.validate import MAX_SEED, input_file, output_folder

__all__ = [
    "KINDS",
    "SPLITS",
    "DEFAULT_SIZE",
    "ImageSynthConfig",
    "Job",
    "plan_jobs",
    "generate_images",
    "ShardGenerator",
]

KINDS = ("single", "twohand", "video")
SPLITS = ("train", "val", "test")
DEFAULT_SIZE = {"single": 224, "twohand": 256, "video": 256}
_DOMAIN_IDS = {"main": 0, "heldout": 1}
# Config fields → the ``handpose synth images`` options that set them (for messages).
_OPTIONS = {"occluder_prob": "--occluders", "object_prob": "--object-prob"}
_SUBJECT_STREAM = 7_777
_SUBJECT_OFFSET = 100_000


@dataclass
class ImageSynthConfig:
    """What to generate (``handpose synth images`` maps its options onto these fields).

    Attributes:
        kind: "single" | "twohand" | "video".
        counts: images per split (``video``: sequences per split), keys train / val / test.
        size: image side N (None: 224 single, 256 twohand and video).
        seed: the same seed gives identical arrays.
        domain: "main" or "heldout" (rendering domain, :mod:`.appearance`).
        subjects: number of distinct subjects per split.
        shard_size: images per shard (``video``: sequences per shard).
        occluder_prob, distractors, random_pose_prob, single_hand_prob, object_prob, dense:
            :class:`~handpose.simulators.images.scenes.SceneOptions`.
        frames: ``video``: (min, max) frames per sequence (each sequence draws its length).
        views: ``video``: cameras per sequence.
        fps: ``video`` frame rate.
        ladder: ``video``: low-resolution levels (long side px, divisors of ``size``).
        antialias: MSAA samples of a second colour pass (0 = off, the default: it costs about
            2–3× the rendering time; see docs/benchmarks/render.md).
        encoding: "png" (lossless) or "jpeg" for the stored full-size images.
        model: hand model ("open", or "mano" with the licensed files).
    """

    kind: str = "single"
    counts: dict[str, int] = field(default_factory=lambda: {"train": 1000, "val": 100, "test": 100})
    size: int | None = None
    seed: int = 0
    domain: str = "main"
    subjects: dict[str, int] = field(default_factory=lambda: {"train": 100, "val": 20, "test": 20})
    shard_size: int | None = None
    occluder_prob: float = SceneOptions.occluder_prob
    distractors: int = SceneOptions.distractors
    random_pose_prob: float = SceneOptions.random_pose_prob
    single_hand_prob: float = SceneOptions.single_hand_prob
    object_prob: float = SceneOptions.object_prob
    dense: bool = SceneOptions.dense
    frames: tuple[int, int] = (32, 64)
    views: int = 1
    fps: float = 30.0
    ladder: tuple[int, ...] = (128, 64, 32, 16)
    antialias: int = 0
    encoding: str = "png"
    model: str = "open"

    def __post_init__(self) -> None:
        if self.size is None:
            self.size = DEFAULT_SIZE.get(self.kind, 224)
        if self.shard_size is None:
            self.shard_size = 4 if self.kind == "video" else 256
        self.frames = tuple(int(x) for x in self.frames)
        self.ladder = tuple(int(x) for x in self.ladder) if self.kind == "video" else ()

    def validate(self) -> None:
        """Raise :class:`HandposeError` naming the first bad option."""
        from handpose.simulators.images.appearance import get_domain
        from handpose.simulators.images.degrade import check_levels

        if self.kind not in KINDS:
            raise HandposeError(f"--kind must be one of {', '.join(KINDS)}, got {self.kind!r}.")
        get_domain(self.domain)
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise HandposeError(f"--seed must be an integer, got {self.seed!r}.")
        if not 0 <= int(self.seed) <= MAX_SEED:
            raise HandposeError(f"--seed must be between 0 and {MAX_SEED}, got {self.seed}.")
        for name in SPLITS:
            n = self.counts.get(name, 0)
            if not isinstance(n, (int, np.integer)) or n < 0:
                raise HandposeError(f"--{name} must be a count ≥ 0, got {n!r}.")
            if n and self.subjects.get(name, 0) < 1:
                raise HandposeError(f"--subjects must give at least 1 subject for {name}.")
        if set(self.counts) - set(SPLITS):
            raise HandposeError(f"unknown split(s) {sorted(set(self.counts) - set(SPLITS))}.")
        if sum(self.counts.values()) == 0:
            raise HandposeError("nothing to generate: --train, --val and --test are all 0.")
        if not 16 <= int(self.size) <= 1024:
            raise HandposeError(f"--size must be between 16 and 1024 pixels, got {self.size}.")
        if int(self.shard_size) < 1:
            raise HandposeError(f"--shard-size must be ≥ 1, got {self.shard_size}.")
        for name in ("occluder_prob", "random_pose_prob", "single_hand_prob", "object_prob"):
            v = getattr(self, name)
            if not 0.0 <= float(v) <= 1.0:  # NaN fails too
                what = _OPTIONS.get(name, name)
                raise HandposeError(f"{what} must be a probability in [0, 1], got {v}.")
        if self.distractors < 0:
            raise HandposeError(f"--distractors must be ≥ 0, got {self.distractors}.")
        if self.kind == "video":
            lo, hi = self.frames
            if not 1 <= lo <= hi <= 10_000:
                raise HandposeError(
                    f"--frames must be N or MIN-MAX with 1 ≤ MIN ≤ MAX, got {lo}-{hi}."
                )
            if not 1 <= self.views <= 16:
                raise HandposeError(f"--views must be between 1 and 16, got {self.views}.")
            if not 0 < self.fps < 10_000:  # NaN fails too
                raise HandposeError(f"--fps must be a number in (0, 10000), got {self.fps}.")
            check_levels(int(self.size), self.ladder)
        if self.antialias < 0 or self.antialias == 1:
            raise HandposeError(f"--antialias must be 0 or ≥ 2 samples, got {self.antialias}.")
        if self.encoding not in ("png", "jpeg"):
            raise HandposeError(f"--encoding must be png or jpeg, got {self.encoding!r}.")
        if self.model not in ("open", "mano"):
            input_file(self.model, "hand model file")  # before the output folder is made

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["frames"] = list(self.frames)
        d["ladder"] = list(self.ladder)
        return d


@dataclass(frozen=True)
class Job:
    """One shard: items ``start … start + count − 1`` of ``split`` (video: sequences)."""

    split: str
    shard: int
    start: int
    count: int
    samples: int  # images in the shard


def _stream(cfg: ImageSynthConfig, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(cfg.seed), *map(int, keys)]))


def _item_rng(cfg: ImageSynthConfig, split: str, index: int) -> np.random.Generator:
    return _stream(cfg, _DOMAIN_IDS[cfg.domain], SPLITS.index(split), KINDS.index(cfg.kind), index)


def sequence_length(cfg: ImageSynthConfig, split: str, index: int) -> int:
    """Frames of video sequence ``index`` (its own stream, so the plan needs no rendering)."""
    lo, hi = cfg.frames
    rng = _stream(cfg, _DOMAIN_IDS[cfg.domain], SPLITS.index(split), 99, index)
    return int(rng.integers(lo, hi + 1))


def plan_jobs(cfg: ImageSynthConfig) -> list[Job]:
    """All shards of the dataset, split by split."""
    jobs = []
    for split in SPLITS:
        n = int(cfg.counts.get(split, 0))
        for k, start in enumerate(range(0, n, int(cfg.shard_size))):
            count = min(int(cfg.shard_size), n - start)
            if cfg.kind == "video":
                samples = cfg.views * sum(
                    sequence_length(cfg, split, i) for i in range(start, start + count)
                )
            else:
                samples = count
            jobs.append(Job(split, k, start, count, samples))
    return jobs


class ShardGenerator:
    """Builds and renders shards (one instance per worker process: hand models, GL context)."""

    def __init__(self, cfg: ImageSynthConfig) -> None:
        from handpose.render.gl import GLRenderer
        from handpose.simulators.images.appearance import get_domain
        from handpose.simulators.images.hands import HandRig
        from handpose.simulators.images.scenes import SceneOptions

        self.cfg = cfg
        self.rig = HandRig(cfg.model)
        self.domain = get_domain(cfg.domain)
        self.opts = SceneOptions(
            size=int(cfg.size),
            domain=self.domain,
            occluder_prob=cfg.occluder_prob,
            distractors=cfg.distractors,
            random_pose_prob=cfg.random_pose_prob,
            single_hand_prob=cfg.single_hand_prob,
            object_prob=cfg.object_prob,
            dense=cfg.dense,
        )
        self.renderer = GLRenderer(
            int(cfg.size),
            int(cfg.size),
            max_batch=16,
            attribute_channels=3 if cfg.dense else 0,
            antialias=cfg.antialias,
            cull_backfaces=True,  # every mesh of the scenes is closed and outward-oriented
        )
        self._subjects: dict[int, Any] = {}
        self._poses: dict[str, Any] = {}

    def subject(self, split: str, k: int):
        from handpose.simulators.images.scenes import make_subject

        sid = SPLITS.index(split) * _SUBJECT_OFFSET + int(k)
        if sid not in self._subjects:
            rng = _stream(self.cfg, _DOMAIN_IDS[self.cfg.domain], _SUBJECT_STREAM, sid)
            self._subjects[sid] = make_subject(self.rig, rng, sid, self.domain)
        return self._subjects[sid]

    def poses(self, split: str):
        from handpose.simulators.images.scenes import PoseSource

        if split not in self._poses:
            self._poses[split] = PoseSource(self.cfg.seed, split, self.cfg.random_pose_prob)
        return self._poses[split]

    def items(self, split: str, index: int):
        """The items (scene + labels) of item ``index`` of ``split``, and their ladder streams."""
        from handpose.simulators.images import scenes

        cfg = self.cfg
        rng = _item_rng(cfg, split, index)
        n_subj = int(cfg.subjects[split])
        subj = self.subject(split, int(rng.integers(0, n_subj)))
        if cfg.kind == "single":
            return [scenes.single_item(self.rig, rng, subj, self.poses(split), self.opts)], None
        if cfg.kind == "twohand":
            other = self.subject(split, int(rng.integers(0, n_subj)))
            item = scenes.twohand_item(self.rig, rng, (subj, other), self.poses(split), self.opts)
            return [item], None
        frames = sequence_length(cfg, split, index)
        seq_id = f"{split}-{index:06d}"
        its = scenes.video_items(
            self.rig,
            rng,
            subj,
            self.poses(split),
            self.opts,
            num_frames=frames,
            views=cfg.views,
            fps=cfg.fps,
            sequence=seq_id,
        )
        return its, rng

    def samples(self, job: Job) -> list[tuple[dict, dict | None]]:
        """Build, render and (video) degrade every sample of a job: [(sample, ladder)].

        All items of the shard are rendered in batches of the renderer's ``max_batch``, in item
        order, so the framebuffer tiles do not depend on the number of workers."""
        from handpose.simulators.images.degrade import make_ladder, sample_degradation
        from handpose.simulators.images.scenes import finish_item

        groups = [self.items(job.split, i) for i in range(job.start, job.start + job.count)]
        flat = [it for items, _ in groups for it in items]
        rendered = []
        step = self.renderer.max_batch
        for b in range(0, len(flat), step):
            chunk = flat[b : b + step]
            r = self.renderer.render([it.scene for it in chunk])
            for i, it in enumerate(chunk):
                attr = None if r.attributes is None else r.attributes[i]
                rendered.append(finish_item(it, r.rgb[i], r.mask[i], attr))
                it.scene = None  # free the background image early
        if self.cfg.kind != "video":
            return [(s, None) for s in rendered]
        out, k = [], 0
        for items, rng in groups:
            seq = rendered[k : k + len(items)]
            k += len(items)
            # One degradation per level and view (a camera property), fresh noise per frame.
            views = sorted({int(s["view"]) for s in seq})
            deg = {v: {px: sample_degradation(rng) for px in self.cfg.ladder} for v in views}
            out.extend((s, make_ladder(s, self.cfg.ladder, deg[int(s["view"])], rng)) for s in seq)
        return out

    def write(self, root: Path, job: Job) -> int:
        """Generate and write the shard of ``job``; returns its number of samples."""
        from handpose.formats.shards import ShardWriter, shard_path

        path = shard_path(root, job.split, job.shard)
        attrs = {"generator": self.cfg.to_dict(), "job_start": job.start, "job_items": job.count}
        with ShardWriter(path, encoding=self.cfg.encoding, attrs=attrs) as w:
            for s, lv in self.samples(job):
                w.add(s, lv)
        return job.samples


_WORKER: ShardGenerator | None = None


def _init_worker(cfg: ImageSynthConfig) -> None:
    global _WORKER
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("LP_NUM_THREADS", "1")
    _WORKER = ShardGenerator(cfg)


def _run_job(args: tuple[str, Job]) -> int:
    assert _WORKER is not None
    return _WORKER.write(Path(args[0]), args[1])


def _shard_config(path: Path) -> dict | None:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("generator")
            return None if raw is None else json.loads(raw)
    except (OSError, ValueError):
        return None


def check_output(root: str | os.PathLike, cfg: ImageSynthConfig) -> Path:
    """Refuse an output folder ``generate_images`` cannot use, before any work and without
    writing: a file, a path under a file, a folder of other files, or shards (or a manifest) of
    another configuration. An empty or missing folder, or this configuration's shards (a
    resumed run), are fine."""
    root = output_folder(root, "--out folder")
    if not root.is_dir():
        return root
    want = cfg.to_dict()
    manifest = root / "manifest.json"
    shards = sorted(root.glob("*-[0-9][0-9][0-9][0-9][0-9].h5"))
    if not manifest.is_file() and not shards and any(root.iterdir()):
        raise HandposeError(
            f"--out '{root}' is a folder of other files, not a shard folder; use a new or empty "
            "folder."
        )
    if manifest.is_file():
        try:
            gen = json.loads(manifest.read_text()).get("generator")
        except (OSError, ValueError, AttributeError):
            gen = None
        if gen != want:
            raise HandposeError(
                f"'{root}' holds a dataset generated with another configuration; "
                "use a new --out folder (or delete it)."
            )
    for p in shards:
        got = _shard_config(p)
        if got is not None and got != want:
            raise HandposeError(
                f"'{p}' was generated with another configuration; use a new --out folder "
                "(or delete it)."
            )
    return root


def _prepare_root(root: Path, cfg: ImageSynthConfig) -> None:
    check_output(root, cfg)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise HandposeError(f"cannot create the output folder '{root}': {err.strerror}.") from err


def generate_images(
    cfg: ImageSynthConfig,
    out: str | os.PathLike,
    *,
    workers: int = 1,
    progress: Callable[[int], Any] | None = None,
) -> dict[str, Any]:
    """Generate the dataset into ``out`` (resumable); returns a summary.

    Args:
        cfg: the configuration (validated here).
        out: output folder (created; shards of another configuration are refused).
        workers: processes (each renders whole shards with its own EGL context); the output
            does not depend on it.
        progress: called with the number of samples of each finished (or skipped) shard.
    Returns:
        ``{"samples", "shards", "skipped", "manifest"}``.
    """
    from handpose.formats.sample import dataset_meta
    from handpose.formats.shards import is_complete, shard_path, write_manifest

    cfg.validate()
    if int(workers) < 1:
        raise HandposeError(f"--workers must be ≥ 1, got {workers}.")
    root = Path(out)
    _prepare_root(root, cfg)
    jobs = plan_jobs(cfg)
    todo, skipped = [], 0
    for job in jobs:
        if is_complete(shard_path(root, job.split, job.shard)):
            skipped += 1
            if progress is not None:
                progress(job.samples)
        else:
            todo.append(job)
    if todo:
        if workers == 1 or len(todo) == 1:
            gen = ShardGenerator(cfg)
            for job in todo:
                n = gen.write(root, job)
                if progress is not None:
                    progress(n)
        else:
            ctx = mp.get_context("spawn")  # a fresh process per worker: no inherited GL state
            with ctx.Pool(min(int(workers), len(todo)), _init_worker, (cfg,)) as pool:
                for n in pool.imap_unordered(_run_job, [(str(root), j) for j in todo]):
                    if progress is not None:
                        progress(n)
    from handpose.simulators.images.hands import HandRig

    rig = HandRig(cfg.model)
    rig_name, V = rig.name, rig.num_vertices
    extra = {"domain": cfg.domain, "size": int(cfg.size)}
    if cfg.kind == "video":
        extra.update(fps=float(cfg.fps), views=int(cfg.views), ladder=list(cfg.ladder))
    meta = dataset_meta(
        "synthetic", cfg.kind, hand_model=rig_name, num_vertices=V, fix_left_shapedirs=None, **extra
    )
    path = write_manifest(root, kind=cfg.kind, meta=meta, generator=cfg.to_dict())
    return {
        "samples": sum(j.samples for j in jobs),
        "shards": len(jobs),
        "skipped": skipped,
        "manifest": str(path),
    }
