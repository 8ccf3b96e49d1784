"""The inference entry points: load a student, run it on a file, write results and pictures.

>>> from handpose.inference import infer_file, load_estimator  # doctest: +SKIP
>>> result = infer_file("data/synth.h5", "runs/student/last.ckpt", "out/poses.npz",
...                     video="out/compare.mp4", plots="out/plots", sequence="ROM13_Finger_Interlocking")
>>> print(result.summary())
>>> stream = load_estimator("runs/student/last.ckpt", backend="onnx").stream()
>>> pose = stream.push(quaternions, accelerations)   # (N, 4), (N, 3) → pose.joints (21, 3)
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from handpose.errors import HandposeError
from handpose.inference.backends import (
    OnnxPredictor,
    StudentInference,
    StudentSpec,
    TorchPredictor,
    onnx_session,
)
from handpose.inference.estimator import ImuPoseEstimator, PoseSequence
from handpose.inference.recording import ImuRecording
from handpose.inference.student import DEFAULT_FPS, load_student

__all__ = [
    "load_student",
    "load_estimator",
    "estimator_from_student",
    "ground_truth_poses",
    "InferenceResult",
    "infer_recording",
    "infer_file",
    "write_error_plots",
    "PLOT_NAMES",
]


def _normalizer(spec: StudentSpec):
    from handpose.datasets.normalize import imu_tokens_from_quaternion

    root, scale = spec.root_index, spec.acc_scale

    def normalize(quaternions: np.ndarray, accelerations: np.ndarray) -> np.ndarray:
        # float32 like the training dataset, so tokens are bit-identical to training's.
        q = torch.from_numpy(np.asarray(quaternions, dtype=np.float32))
        a = torch.from_numpy(np.asarray(accelerations, dtype=np.float32))
        return imu_tokens_from_quaternion(q, a, root, scale).numpy()

    return normalize


class _Skinner:
    """(F, 3), (F, 45), (F, 10) → wrist-relative vertices (F, V, 3), as the student's decoder."""

    def __init__(self, hand_model: nn.Module) -> None:
        self.hand_model = hand_model

    def __call__(self, global_orient, hand_pose, betas) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for s in range(0, len(global_orient), 512):
                res = self.hand_model(
                    global_orient=torch.as_tensor(global_orient[s : s + 512], dtype=torch.float32),
                    hand_pose=torch.as_tensor(hand_pose[s : s + 512], dtype=torch.float32),
                    betas=torch.as_tensor(betas[s : s + 512], dtype=torch.float32),
                )
                out.append((res.vertices - res.joints21[..., :1, :]).numpy())
        if not out:
            return np.zeros((0, self.hand_model.num_vertices, 3), dtype=np.float32)
        return np.concatenate(out)


def _hand_model(spec: StudentSpec) -> nn.Module:
    from handpose.handmodel import HandModel

    return HandModel(model=spec.hand_model, side="right", flat_hand_mean=True)


def estimator_from_student(
    student: nn.Module,
    spec: StudentSpec,
    *,
    backend: str = "torch",
    threads: int | None = None,
    batch_size: int = 64,
    hand_model: nn.Module | None = None,
) -> ImuPoseEstimator:
    """An :class:`ImuPoseEstimator` around an in-memory student.

    Args:
        student: the trained student.
        spec: its :class:`StudentSpec`.
        backend: "torch" or "onnx" (exported in memory, parity not re-checked here).
        threads: CPU threads for the backend.
        batch_size: windows per call.
        hand_model: for vertices (default: the student's decoder hand model).
    """
    if backend == "torch":
        predictor = TorchPredictor(StudentInference(student), threads)
    elif backend == "onnx":
        from handpose.inference.onnx_export import student_to_onnx

        predictor = OnnxPredictor(onnx_session(student_to_onnx(student, spec), threads))
    else:
        raise HandposeError(f"unknown backend '{backend}'; use 'torch' or 'onnx'.")
    if hand_model is None:
        decoder = getattr(student, "decoder", None)
        hand_model = decoder.hand_model if decoder is not None else _hand_model(spec)
    return _estimator(predictor, spec, hand_model, batch_size, backend)


def _estimator(predictor, spec: StudentSpec, hand_model, batch_size: int, backend: str):
    return ImuPoseEstimator(
        predictor,
        window=spec.window,
        sensor_names=spec.sensor_names,
        root_index=spec.root_index,
        normalize=_normalizer(spec),
        hand_model=_Skinner(hand_model),
        faces=hand_model.faces.cpu().numpy(),
        fps=spec.fps,
        batch_size=batch_size,
        info={"backend": backend, "config": spec.name, "variant": spec.variant},
    )


def load_estimator(
    checkpoint: str | os.PathLike,
    *,
    backend: str | None = None,
    threads: int | None = None,
    batch_size: int = 64,
) -> ImuPoseEstimator:
    """Load a student checkpoint (``.ckpt``) or an exported student (``.onnx``) for inference.

    Args:
        checkpoint: ``.ckpt`` (torch or onnx backend) or ``.onnx`` (onnx backend only).
        backend: "torch", "onnx" or None (torch for ``.ckpt``, onnx for ``.onnx``). With a
            ``.ckpt`` and "onnx", the student is exported in memory first.
        threads: CPU threads (torch intra-op threads, or onnxruntime intra-op threads).
        batch_size: windows per backend call for file inference.
    Returns:
        :class:`ImuPoseEstimator` (use ``.infer(recording)`` or ``.stream()``).
    """
    from handpose.utils.validate import check_int, input_file

    path = input_file(checkpoint, "checkpoint")
    if threads is not None:
        check_int(threads, "threads", 1)
    check_int(batch_size, "batch_size", 1)
    if path.suffix.lower() == ".onnx":
        if backend not in (None, "onnx"):
            raise HandposeError(
                f"'{path.name}' is an ONNX model: it runs with --backend onnx, not '{backend}'."
            )
        from handpose.inference.onnx_export import read_onnx_spec

        spec = read_onnx_spec(path)
        predictor = OnnxPredictor(onnx_session(str(path), threads))
        return _estimator(predictor, spec, _hand_model(spec), batch_size, "onnx")
    student, spec = load_student(path)
    return estimator_from_student(
        student, spec, backend=backend or "torch", threads=threads, batch_size=batch_size
    )


@dataclass
class InferenceResult:
    """What :func:`infer_file` computed and wrote.

    Attributes:
        poses: the estimated :class:`PoseSequence`.
        recording: the input (student's sensors only).
        gt_joints: (F, 21, 3) ground-truth joints from the file's parameters (wrist at the
            origin, metres), or None.
        gt_vertices: (F, V, 3) ground-truth vertices (wrist-relative), or None.
        metrics: ``{"mpjpe_mm", "mpvpe_mm", "frames"}`` when ground truth is present.
        written: paths written (npz, video, plots).
        backend: "torch" or "onnx".
        faces: (F, 3) mesh faces of the hand model (for :mod:`handpose.render.compare`).
    """

    poses: PoseSequence
    recording: ImuRecording
    gt_joints: np.ndarray | None = None
    gt_vertices: np.ndarray | None = None
    metrics: dict = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)
    backend: str = ""
    faces: np.ndarray | None = None

    def summary(self) -> str:
        p = self.poses
        lines = [
            f"{self.recording.source}{' ' + self.recording.sequence if self.recording.sequence else ''}"
            f": {p.num_frames} frames at {p.fps:g} fps, {len(p.sensor_names)} sensors, "
            f"{p.mode} windows, {self.backend} backend"
        ]
        if p.dropped.any():
            lines.append(
                f"  sensor dropouts held: {int(p.dropped.sum())} samples in "
                f"{int(p.dropped.any(-1).sum())} frames"
            )
        if self.metrics:
            lines.append(
                f"  MPJPE {self.metrics['mpjpe_mm']:.2f} mm, MPVPE "
                f"{self.metrics['mpvpe_mm']:.2f} mm (wrist-relative, vs the file's ground truth)"
            )
        lines += [f"  wrote {path}" for path in self.written]
        return "\n".join(lines)


def ground_truth_poses(
    estimator: ImuPoseEstimator, recording: ImuRecording
) -> tuple[np.ndarray, np.ndarray] | None:
    """Ground-truth (joints (F, 21, 3), vertices (F, V, 3)), wrist-relative, metres.

    Recomputed from the file's MANO parameters with the student's hand model (the files store
    parameters, and the student's outputs are wrist-relative), or None without ground truth.
    """
    gt = recording.ground_truth
    if gt is None or estimator.hand_model is None:
        return None
    skin = estimator.hand_model
    hand = getattr(skin, "hand_model", None)
    if hand is None:
        return None
    joints, verts = [], []
    with torch.inference_mode():
        for s in range(0, recording.num_frames, 512):
            out = hand(
                global_orient=torch.as_tensor(gt.global_orient[s : s + 512], dtype=torch.float32),
                hand_pose=torch.as_tensor(gt.hand_pose[s : s + 512], dtype=torch.float32),
                betas=torch.as_tensor(gt.betas[s : s + 512], dtype=torch.float32),
            )
            wrist = out.joints21[..., :1, :]
            joints.append((out.joints21 - wrist).numpy())
            verts.append((out.vertices - wrist).numpy())
    return np.concatenate(joints), np.concatenate(verts)


def infer_recording(
    estimator: ImuPoseEstimator,
    recording: ImuRecording,
    *,
    mode: str = "tiled",
    hold_missing: bool = False,
    return_vertices: bool = True,
    progress: bool = False,
) -> InferenceResult:
    """Run an estimator on an in-memory recording and compare with its ground truth if any."""
    recording = estimator.check_recording(recording)
    poses = estimator.infer(
        recording,
        mode=mode,
        on_missing="hold" if hold_missing else "error",
        return_vertices=return_vertices,
        progress=progress,
    )
    result = InferenceResult(
        poses, recording, backend=str(estimator.info.get("backend", "")), faces=estimator.faces
    )
    gt = ground_truth_poses(estimator, recording)
    if gt is not None:
        from handpose.metrics.joints import mpjpe
        from handpose.metrics.mesh import mpvpe

        result.gt_joints, result.gt_vertices = gt
        result.metrics = {
            "mpjpe_mm": 1000.0
            * float(mpjpe(torch.from_numpy(poses.joints), torch.from_numpy(gt[0]))),
            "frames": poses.num_frames,
        }
        pred_v = poses.vertices
        if pred_v is None:
            pred_v = estimator.vertices(poses.global_orient, poses.hand_pose, poses.betas)
        result.metrics["mpvpe_mm"] = 1000.0 * float(
            mpvpe(torch.from_numpy(pred_v), torch.from_numpy(gt[1]))
        )
    return result


PLOT_NAMES = ("joint_groups.png", "frame_errors.png")


def write_error_plots(
    out_dir: str | os.PathLike,
    pred_joints: np.ndarray,
    gt_joints: np.ndarray,
    *,
    fps: float = DEFAULT_FPS,
    dropped: np.ndarray | None = None,
    label: str = "student",
    title: str = "",
    paths: tuple[Path, Path] | None = None,
) -> list[Path]:
    """Per-joint-group error bars and the per-frame error curve as PNGs.

    Args:
        out_dir: folder for ``joint_groups.png`` and ``frame_errors.png``.
        pred_joints, gt_joints: (F, 21, 3) OpenPose-21, wrist-relative, metres.
        fps: frame rate, Hz. dropped: (F, N) bool dropout flags, shaded in the curve.
        label: legend label. title: prefix for the figure titles.
        paths: explicit (group plot, curve plot) paths instead of ``out_dir``'s.
    Returns:
        the two written paths.
    """
    from handpose.metrics.plots import (
        per_joint_errors_mm,
        plot_frame_errors,
        plot_joint_group_errors,
    )

    groups_path, curve_path = paths or tuple(Path(out_dir) / n for n in PLOT_NAMES)
    errors = per_joint_errors_mm(pred_joints, gt_joints)
    prefix = f"{title}: " if title else ""
    return [
        plot_joint_group_errors(
            {label: errors},
            groups_path,
            title=f"{prefix}joint error by joint group and finger",
        ),
        plot_frame_errors(
            {label: errors},
            curve_path,
            fps=fps,
            dropped=dropped,
            title=f"{prefix}mean joint error per frame",
        ),
    ]


def infer_file(
    input: str | os.PathLike,
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    video: str | os.PathLike | None = None,
    *,
    plots: str | os.PathLike | None = None,
    backend: str | None = None,
    mode: str = "tiled",
    hold_missing: bool = False,
    sequence: str | None = None,
    fps: float | None = None,
    return_vertices: bool = True,
    threads: int | None = None,
    video_frames: int | None = None,
    progress: bool = False,
) -> InferenceResult:
    """Estimate hand poses for an IMU file and write them (npz, optional video and plots).

    The npz holds ``global_orient`` (F, 3) and ``hand_pose`` (F, 45) axis-angle radians (full
    articulation), ``betas`` (F, 10), ``joints`` (F, 21, 3) OpenPose-21 and ``vertices``
    (F, V, 3) in metres with the wrist at the origin, ``dropped`` (F, N) bool, ``fps``,
    ``sensor_names`` and ``mode``; with ground truth also ``gt_joints`` and ``gt_vertices``.
    All outputs are written atomically, and only after inference succeeded: a bad input leaves
    no file behind.

    Args:
        input: ``.h5``/``.hdf5``, VIHand ``IMU.json`` or ``.csv`` (see :mod:`.readers`).
        checkpoint: student ``.ckpt`` or exported ``.onnx``.
        out: output ``.npz``.
        video: optional ``.mp4``/``.gif``: prediction | ground truth | overlay when the file
            has ground truth, else the prediction alone.
        plots: optional folder for error plots (needs ground truth).
        backend: "torch", "onnx" or None (by checkpoint type).
        mode: "tiled" or "causal" (see :mod:`handpose.inference.windows`).
        hold_missing: hold NaN/missing samples instead of rejecting the file.
        sequence: sequence in a multi-sequence HDF5.
        fps: CSV frame rate if the file does not say.
        return_vertices: store vertices in the npz.
        threads: CPU threads for the backend.
        video_frames: render only the first this many frames into the video.
        progress: tqdm bars.
    Returns:
        :class:`InferenceResult`.
    """
    from handpose.inference.readers import read_imu
    from handpose.utils.io import atomic_path
    from handpose.utils.validate import check_int, output_file, output_folder

    # Every output is checked before any work, so nothing is computed and then lost.
    out = output_file(out, "output", suffixes=(".npz",))
    if video is not None:
        output_file(video, "video", suffixes=(".mp4", ".gif"))
    if plots is not None:
        output_folder(plots, "plots folder")
        for name in PLOT_NAMES:
            output_file(Path(plots) / name, "plot")
    if threads is not None:
        check_int(threads, "threads", 1)
    recording = read_imu(input, sequence=sequence, fps=fps)
    if plots is not None and recording.ground_truth is None:
        raise HandposeError(f"'{input}' has no ground truth, so there is nothing to plot.")
    estimator = load_estimator(checkpoint, backend=backend, threads=threads)
    need_vertices = return_vertices or video is not None
    result = infer_recording(
        estimator,
        recording,
        mode=mode,
        hold_missing=hold_missing,
        return_vertices=need_vertices,
        progress=progress,
    )
    poses = result.poses
    arrays = poses.to_arrays()
    if not return_vertices:
        arrays.pop("vertices", None)
    if result.gt_joints is not None:
        arrays["gt_joints"] = result.gt_joints.astype(np.float32)
        if return_vertices:
            arrays["gt_vertices"] = result.gt_vertices.astype(np.float32)
    # Every output goes to a temporary file first; all are renamed into place only after all
    # of them were written, so a failure anywhere leaves no output behind.
    targets = [out]
    if video is not None:
        targets.append(Path(video))
    if plots is not None:
        targets += [Path(plots) / n for n in PLOT_NAMES]
    with contextlib.ExitStack() as stack:
        tmp = [stack.enter_context(atomic_path(t)) for t in targets]
        np.savez_compressed(tmp[0], **arrays)
        k = 1
        if video is not None:
            from handpose.metrics.plots import per_joint_errors_mm
            from handpose.render.compare import write_comparison_video

            errors = None
            if result.gt_joints is not None:
                errors = per_joint_errors_mm(poses.joints, result.gt_joints).mean(-1)
            frames = None if video_frames is None else range(min(video_frames, poses.num_frames))
            write_comparison_video(
                tmp[k],
                poses.vertices,
                result.gt_vertices,
                estimator.faces,
                fps=poses.fps,
                errors_mm=errors,
                dropped=poses.dropped,
                sensor_names=poses.sensor_names,
                frames=frames,
                progress=progress,
            )
            k += 1
        if plots is not None:
            write_error_plots(
                plots,
                poses.joints,
                result.gt_joints,
                fps=poses.fps,
                dropped=poses.dropped,
                title=recording.sequence or Path(input).name,
                paths=(tmp[k], tmp[k + 1]),
            )
    result.written = targets
    return result
