"""The synthetic VIHand-like dataset: motion → hand model → IMU simulation → HDF5.

One (subject, sequence) pair is generated independently of all others (its random streams are
keyed by ``(seed, subject, ROM)``), so any subset, order or parallel split of the jobs produces
the same sequences bit for bit.

Example:
    >>> cfg = SynthConfig(subjects=2, frames_per_sequence=300)  # doctest: +SKIP
    >>> synthesize_file(cfg, "data/small.h5")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from handpose.errors import HandposeError
from handpose.formats.imu_file import SequenceRecord, open_writer
from handpose.simulators.imu.layouts import ImuLayout, get_layout, resolve_layout, sensor_sites
from handpose.simulators.imu.noise import NoiseConfig
from handpose.simulators.imu.simulate import GRAVITY, simulate_imu
from handpose.simulators.motion.generator import MotionSequence, generate_sequence
from handpose.simulators.motion.gestures import GESTURES, SEQUENCE_NAMES
from handpose.simulators.motion.subjects import sample_subject
from handpose.utils.validate import MAX_SEED

__all__ = ["SIMULATOR_VERSION", "SynthConfig", "ImuSynthesizer", "iter_records", "synthesize_file"]

SIMULATOR_VERSION = "1"  # bump when generated data would change for the same seed
# VIHand: ≈ 280 K unique IMU frames (if its 1.4 M frame count includes the 5 camera views) over
# 225 sequences ≈ 1250 frames ≈ 42 s each (datasets.md §5.2). We default to 40 s.
DEFAULT_FRAMES_PER_SEQUENCE = 1200
MAX_FPS = 10_000.0  # beyond any glove; far larger rates overflow the kinematics (f² of 1e300)


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. Defaults mirror VIHand: 15 subjects × 15 sequences at 30 fps."""

    subjects: int = 15
    sequences: tuple[str, ...] = SEQUENCE_NAMES
    frames_per_sequence: int = DEFAULT_FRAMES_PER_SEQUENCE
    fps: float = 30.0
    seed: int = 0
    layout: str | ImuLayout = "vihand7"
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    acc_smoothing: int = 2
    gravity: tuple[float, float, float] = GRAVITY
    model: str = "open"

    def validate(self) -> None:
        if self.subjects < 1:
            raise HandposeError(f"--subjects must be >= 1, got {self.subjects}.")
        if self.frames_per_sequence < 8:
            raise HandposeError(
                f"--frames-per-sequence must be >= 8, got {self.frames_per_sequence}."
            )
        if not (math.isfinite(self.fps) and 1.0 <= self.fps <= MAX_FPS):
            raise HandposeError(f"--fps must lie in [1, {MAX_FPS:g}] Hz, got {self.fps}.")
        if not 0 <= self.seed <= MAX_SEED:
            raise HandposeError(f"--seed must lie in [0, {MAX_SEED}], got {self.seed}.")
        if self.acc_smoothing < 1:
            raise HandposeError(f"--acc-smoothing must be >= 1, got {self.acc_smoothing}.")
        for s in self.sequences:
            if s not in GESTURES:
                raise HandposeError(f"unknown sequence {s!r}; choose from {', '.join(GESTURES)}.")
        get_layout(self.layout)


class ImuSynthesizer:
    """Generates :class:`SequenceRecord` s for a :class:`SynthConfig`.

    Args:
        config: what to generate.
        model: a ready :class:`handpose.handmodel.HandModel` (right hand, flat_hand_mean=True);
            built from ``config.model`` when None.
    """

    def __init__(self, config: SynthConfig, model=None) -> None:
        config.validate()
        self.config = config
        if model is None:
            from handpose.handmodel import HandModel

            model = HandModel(config.model, side="right", flat_hand_mean=True)
        self.model = model
        self.layout = get_layout(config.layout)
        self.resolved = resolve_layout(self.layout, sensor_sites(model))

    def jobs(self) -> list[tuple[int, str]]:
        """(subject, sequence) pairs, subjects numbered from 1 like VIHand's."""
        return [(s, q) for s in range(1, self.config.subjects + 1) for q in self.config.sequences]

    def motion(self, subject: int, sequence: str) -> MotionSequence:
        c = self.config
        prof = sample_subject(subject, c.seed)
        return generate_sequence(sequence, prof, c.frames_per_sequence, c.fps, c.seed)

    def simulate(self, motion: MotionSequence) -> SequenceRecord:
        """Run the hand model and the IMU simulator on one motion."""
        c = self.config
        dt = self.model.v_template.dtype
        with torch.no_grad():
            out = self.model(
                global_orient=torch.as_tensor(motion.global_orient, dtype=dt),
                hand_pose=torch.as_tensor(motion.hand_pose, dtype=dt),
                betas=torch.as_tensor(motion.betas, dtype=dt),
                transl=torch.as_tensor(motion.transl, dtype=dt),
                return_vertices=False,
                vertex_ids=self.resolved.vertices,
            )
            gen = torch.Generator().manual_seed(
                int(
                    np.random.SeedSequence(
                        [c.seed, motion.subject, GESTURES[motion.sequence].rom, 7]
                    ).generate_state(1)[0]
                )
            )
            # The IMU runs in the layer's dtype: float64 would not add precision to float32
            # positions, and the file stores float32.
            imu = simulate_imu(
                out.selected_vertices,
                out.global_rotations[:, self.resolved.joints],
                c.fps,
                mounting=self.resolved.mounting,
                noise=c.noise,
                generator=gen,
                gravity=c.gravity,
                acc_smoothing=c.acc_smoothing,
            )
        T = motion.num_frames
        return SequenceRecord(
            subject=motion.subject,
            sequence=motion.sequence,
            fps=motion.fps,
            layout=self.layout.name,
            sensor_names=self.layout.names,
            root=self.layout.root,
            global_orient=motion.global_orient,
            hand_pose=motion.hand_pose,
            betas=np.broadcast_to(motion.betas, (T, motion.betas.shape[-1])),
            transl=motion.transl,
            joints21=out.joints21.numpy(),
            quaternion=imu.quaternion.numpy(),
            specific_force=imu.specific_force.numpy(),
            free_acceleration=imu.free_acceleration.numpy(),
            angular_velocity=imu.angular_velocity.numpy(),
        )

    def __call__(self, subject: int, sequence: str) -> SequenceRecord:
        return self.simulate(self.motion(subject, sequence))

    def file_attrs(self) -> dict:
        """Metadata written at the HDF5 root."""
        c = self.config
        return {
            "generator": "handpose synth imu",
            "simulator_version": SIMULATOR_VERSION,
            "seed": int(c.seed),
            "hand_model": str(getattr(self.model, "name", c.model)),
            "hand_side": "right",
            "mano_flat_hand_mean": True,
            "gravity": [float(x) for x in c.gravity],
            "world_up": "y",
            "fps": float(c.fps),
            "layout": self.layout.name,
            "sensor_names": list(self.layout.names),
            "sensor_joints": [int(j) for j in self.resolved.joints],
            "sensor_vertices": [int(v) for v in self.resolved.vertices],
            "acc_smoothing": int(c.acc_smoothing),
            "noise": json.dumps(asdict(c.noise)),
            "subjects": int(c.subjects),
            "frames_per_sequence": int(c.frames_per_sequence),
        }


_WORKER: ImuSynthesizer | None = None


def _worker_init(config: SynthConfig, model) -> None:
    global _WORKER
    torch.set_num_threads(1)  # one process per core; torch threads would oversubscribe
    _WORKER = ImuSynthesizer(config, model)


def _worker_job(job: tuple[int, str]) -> SequenceRecord:
    assert _WORKER is not None
    return _WORKER(*job)


def iter_records(config: SynthConfig, model=None, workers: int = 1) -> Iterator[SequenceRecord]:
    """Yield every (subject, sequence) record in job order.

    Args:
        config: what to generate. model: optional ready hand model.
        workers: processes; > 1 runs jobs in a process pool (one torch thread each). Each
            record depends only on its own random streams, so the output does not depend on
            ``workers``.
    """
    synth = ImuSynthesizer(config, model)
    jobs = synth.jobs()
    if workers <= 1:
        for job in jobs:
            yield synth(*job)
        return
    ctx = mp.get_context()
    with ctx.Pool(workers, initializer=_worker_init, initargs=(config, synth.model)) as pool:
        yield from pool.imap(_worker_job, jobs, chunksize=1)


def synthesize_file(
    config: SynthConfig,
    out: str | os.PathLike,
    model=None,
    progress: Callable[[Iterable], Iterable] | None = None,
    workers: int = 1,
) -> int:
    """Generate the whole dataset into ``out`` atomically; returns the number of frames.

    Args:
        config: what to generate. out: destination .h5 path.
        model: optional ready hand model. progress: wraps the record stream (e.g. ``tqdm``).
        workers: generator processes (see :func:`iter_records`); writing stays in this process.
    """
    synth = ImuSynthesizer(config, model)
    records = iter_records(config, synth.model, workers)
    frames = 0
    with open_writer(out, synth.file_attrs()) as w:
        for rec in progress(records) if progress is not None else records:
            w.write(rec)
            frames += rec.num_frames
    return frames
