"""Video inference for every image method: per-frame boxes, temporal smoothing, video models.

>>> from handpose.inference.image import ImagePoseEstimator
>>> from handpose.inference.video import infer_video
>>> est = ImagePoseEstimator.load("runs/baseline/main/checkpoints/last.ckpt")  # doctest: +SKIP
>>> pred = infer_video(est, "clip.mp4", boxes="boxes.json", smooth="one-euro")  # doctest: +SKIP
>>> pred.joints3d.shape  # (frames, hands, 21, 3), NaN where a frame has no box  # doctest: +SKIP

**Input.** A video file (decoded with imageio-ffmpeg) or a folder of frames (image files in
name order, ``fps`` given). Boxes per frame from a box table (:mod:`.image_io`), or one fixed
box, or none (the whole frame). **Hand tracks** are identified by side: a frame holds at most
one box per side ("right", "left"; boxes without a side take ``side``, else "unknown"), and
each side is one hand slot of the result. A two-hand model (DIR) takes one box around both
hands per frame and fills the slots right, left. A frame without a box for a slot leaves that
slot NaN (``valid`` False) and, for video models, restarts the slot's temporal window.

**Single-frame models** run on every frame independently (batched across frames); their jitter
is what temporal smoothing (:mod:`handpose.inference.smoothing`) is for. **Video models**
(``spec.window > 1``, e.g. PGTE) see a causal sliding window: frame t of a slot is predicted
from the frames ``max(s, t − T + 1) … t`` of its current run (s = the run's first frame). With
a model that declares a streaming API (``model.stream()`` → an object with ``step(image, K)``
and ``reset()``), one ``step`` per frame (the model caches per-frame features); otherwise the
window graph runs on the last T crops (padded at the end by repeating the newest crop and read
at the newest crop's position, which a causal model does not look past) — the same numbers,
T times the compute, and the path an ONNX export takes.

**Smoothing** (``smooth``): "none", "one-euro" (causal; ``min_cutoff`` Hz, ``beta``
Hz/(m/s) on metres, ``d_cutoff`` Hz; defaults 1, 20, 1 — the tuned values of
docs/benchmarks/smoothing.md), "savgol" (offline centred Savitzky–Golay; ``window``, ``order``)
or "savgol-causal". Each slot's runs of valid frames are smoothed separately: joints, vertices,
the MANO translation and shape element-wise; MANO rotations as rotation matrices, projected
back onto rotations (SVD) and converted to axis-angle. 2D joints move by the change that
smoothing made to the projected 3D joints (so they stay the model's own 2D plus the filter's
correction). The unsmoothed values are kept (``raw``). Default: "one-euro" for single-frame
models, "none" for video models.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handpose.errors import HandposeError

__all__ = [
    "SMOOTH_METHODS",
    "VideoPrediction",
    "read_frames",
    "infer_video",
    "smooth_prediction",
    "write_video_results",
]

SMOOTH_METHODS = ("none", "one-euro", "savgol", "savgol-causal")
_SMOOTH_NAMES = {"one-euro": "one_euro", "savgol": "savgol", "savgol-causal": "savgol_causal"}
DEFAULT_SMOOTH_PARAMS = {
    "one-euro": {"min_cutoff": 1.0, "beta": 20.0, "d_cutoff": 1.0},
    "savgol": {"window": 9, "order": 2},
    "savgol-causal": {"window": 9, "order": 1},
}


@dataclass
class FrameSource:
    """Frames of a video file or a folder of images."""

    path: Path
    fps: float
    width: int
    height: int
    num_frames: int | None
    files: list[Path] | None = None

    def frames(self) -> Iterator[np.ndarray]:
        if self.files is None:
            from handpose.utils.video import open_video

            yield from open_video(self.path).frames()
            return
        from handpose.inference.image import as_rgb

        for f in self.files:
            arr = as_rgb(f)
            if arr.shape[:2] != (self.height, self.width):
                h, w = arr.shape[:2]
                raise HandposeError(
                    f"frame '{f}' is {w}x{h} pixels but the first frame is "
                    f"{self.width}x{self.height}; every frame must have the same size."
                )
            yield arr


def read_frames(path: str | os.PathLike, fps: float | None = None) -> FrameSource:
    """A video file or a folder of frames (HandposeError if neither is readable)."""
    from handpose.inference.image import MIN_IMAGE_SIDE

    path = Path(path)
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise HandposeError(f"--fps must be a positive number, got {fps}.")
    if path.is_dir():
        from handpose.datasets.real_common import read_image
        from handpose.inference.image_io import list_images

        files = [f for f, _ in list_images([path])]
        first = read_image(files[0], exif_orientation=True)
        h, w = first.shape[:2]
        src = FrameSource(path, float(fps or 30.0), w, h, len(files), files)
    else:
        from handpose.utils.video import open_video

        info = open_video(path)
        src = FrameSource(path, float(fps or info.fps), info.width, info.height, info.num_frames)
    if min(src.width, src.height) < MIN_IMAGE_SIDE:
        raise HandposeError(
            f"'{path}' frames are {src.width}x{src.height} pixels; at least {MIN_IMAGE_SIDE} px "
            "on each side are needed."
        )
    return src


# ---------------------------------------------------------------------------------- result


@dataclass
class VideoPrediction:
    """Per-frame hands of one video (camera frame of the video's K, metres; 2D in its pixels).

    Attributes:
        source: the input path.
        fps: frame rate, Hz.
        image_size: (H, W).
        K: (3, 3); K_assumed, fov_deg as :class:`~handpose.inference.image.ImagePrediction`.
        sides: (H,) the slots' sides.
        valid: (F, H) the slot has a prediction in the frame.
        boxes: (F, H, 4) boxes (NaN without one).
        joints3d: (F, H, 21, 3); joints2d: (F, H, 21, 2) (NaN where not valid).
        vertices: (F, H, V, 3) or None; mano: ``global_orient`` ... (F, H, n) or None.
        flipped: (F, H) the crop was mirrored for a right-hand model.
        smoothing: the method and its parameters.
        raw: the unsmoothed ``joints3d``, ``joints2d``, ``vertices``, ``mano_*`` (when smoothed).
    """

    source: str
    fps: float
    image_size: tuple[int, int]
    K: np.ndarray
    K_assumed: bool
    fov_deg: float | None
    sides: list[str]
    valid: np.ndarray
    boxes: np.ndarray
    joints3d: np.ndarray
    joints2d: np.ndarray
    vertices: np.ndarray | None
    mano: dict[str, np.ndarray] | None
    flipped: np.ndarray
    mesh: str | None = None
    smoothing: dict[str, Any] = field(default_factory=lambda: {"method": "none"})
    raw: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.valid.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The NPZ arrays."""
        out = {
            "fps": np.float64(self.fps),
            "image_size": np.array(self.image_size, np.int64),
            "K": self.K,
            "K_assumed": np.bool_(self.K_assumed),
            "side": np.array(self.sides, dtype=str),
            "valid": self.valid,
            "box": self.boxes,
            "flipped": self.flipped,
            "joints3d": self.joints3d,
            "joints2d": self.joints2d,
            "smoothing": np.array(json.dumps(self.smoothing)),
        }
        if self.vertices is not None:
            out["vertices"] = self.vertices
        for k, v in (self.mano or {}).items():
            out[f"mano_{k}"] = v
        for k, v in self.raw.items():
            out[f"raw_{k}"] = v
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready per-frame joints (vertices only in the NPZ)."""
        camera = {"K": np.round(self.K, 6).tolist(), "assumed": bool(self.K_assumed)}
        if self.K_assumed:
            camera["fov_deg"] = self.fov_deg
            camera["note"] = (
                f"K assumed from a {self.fov_deg:g} degree field of view across the longer "
                "side; absolute depth (z) scales with this focal length, shape and 2D do not"
            )
        frames = []
        for f in range(self.num_frames):
            hands = []
            for h, side in enumerate(self.sides):
                if not self.valid[f, h]:
                    continue
                hands.append(
                    {
                        "side": side,
                        "box": np.round(self.boxes[f, h], 3).tolist(),
                        "joints3d": np.round(self.joints3d[f, h], 6).tolist(),
                        "joints2d": np.round(self.joints2d[f, h], 3).tolist(),
                    }
                )
            frames.append({"frame": f, "hands": hands})
        return {
            "file": self.source,
            "fps": self.fps,
            "image_size": list(self.image_size),
            "camera": camera,
            "frame": "camera frame of the video, metres; 2D in its pixels",
            "smoothing": self.smoothing,
            "frames": frames,
        }


# ---------------------------------------------------------------------------------- boxes


def _frame_boxes(
    table, box: np.ndarray | None, side: str | None, frame: int
) -> tuple[list[np.ndarray | None], list[str | None]]:
    if table is not None:
        bs, ss = table.for_frame(frame)
        return list(bs), [s if s is not None else side for s in ss]
    return [box], [side]


def _slots(spec, table, side: str | None) -> list[str]:
    if spec.hands == 2:
        return ["right", "left"]
    if table is None:
        return [side or "unknown"]
    names = []
    for _bs, ss in table.entries.values():
        for s in ss:
            name = s or side or "unknown"
            if name not in names:
                names.append(name)
    order = {"right": 0, "left": 1, "unknown": 2}
    return sorted(names, key=order.get) or [side or "unknown"]


# ---------------------------------------------------------------------------------- runners


class _WindowRunner:
    """A video model on one slot's crops: its ``stream()`` API, or the window graph."""

    def __init__(self, estimator) -> None:
        self.est = estimator
        self.window = int(estimator.spec.window)
        backend = estimator.backend
        model = getattr(backend, "model", None)
        self.stream = None
        if model is not None and callable(getattr(model, "stream", None)):
            self.stream = model.stream()
        self.graph = getattr(backend, "graph", None)
        self.buf: deque = deque(maxlen=self.window)

    def reset(self) -> None:
        self.buf.clear()
        if self.stream is not None:
            self.stream.reset()

    @torch.inference_mode()
    def step(self, x: np.ndarray, K: np.ndarray) -> dict[str, np.ndarray]:
        """One crop (3, S, S) normalised, K (3, 3) → outputs (H, ...)."""
        if self.stream is not None:
            Kt = torch.from_numpy(K[None].astype(np.float32))
            out = self.stream.step(torch.from_numpy(x[None].astype(np.float32)), Kt)
            res = self.graph.standardize(out, Kt, x.shape[-1], lead=1)
            return {n: res[n][0].float().numpy() for n in self.est.spec.outputs}
        self.buf.append((x, K))
        n = len(self.buf)
        items = list(self.buf) + [self.buf[-1]] * (self.window - n)
        xs = np.stack([a for a, _ in items])[None].astype(np.float32)
        Ks = np.stack([k for _, k in items])[None].astype(np.float32)
        backend = self.est.backend
        if hasattr(backend, "windows"):
            out = backend.windows(xs, Ks)
        else:
            res = self.graph(torch.from_numpy(xs), torch.from_numpy(Ks))
            out = {k: v.numpy() for k, v in zip(self.est.spec.outputs, res)}
        return {k: v[0, n - 1] for k, v in out.items()}


# ---------------------------------------------------------------------------------- inference


def _option_names(message: str, params: dict[str, Any], smooth: str) -> str:
    """A smoother's error with its parameters named as ``handpose infer video`` options
    (``min_cutoff`` → ``--min-cutoff``) and the method as given (``one-euro``)."""
    for name in sorted(params, key=len, reverse=True):
        message = re.sub(rf"(?<![\w-]){name}(?!\w)", "--" + name.replace("_", "-"), message)
    return message.replace(repr(_SMOOTH_NAMES[smooth]), repr(smooth))


def infer_video(
    estimator,
    video: str | os.PathLike,
    *,
    box: np.ndarray | None = None,
    boxes: str | os.PathLike | None = None,
    side: str | None = None,
    K: np.ndarray | None = None,
    fov_deg: float | None = None,
    fps: float | None = None,
    smooth: str | None = None,
    smooth_params: dict[str, Any] | None = None,
    max_frames: int | None = None,
    progress: bool = False,
) -> VideoPrediction:
    """Predict every frame of a video (module docstring).

    Args:
        estimator: an :class:`~handpose.inference.image.ImagePoseEstimator`.
        video: a video file or a folder of frames.
        box / boxes: one box for every frame, or a box table (video kind); neither: whole frames.
        side: the side of boxes that have none.
        K: the video's intrinsics, or None (assumed from ``fov_deg``).
        fps: frame rate (default: the file's; 30 for folders).
        smooth: "none", "one-euro", "savgol", "savgol-causal" (default: one-euro for
            single-frame models, none for video models); ``smooth_params`` override the
            method's defaults.
        max_frames: stop after this many frames.
    Returns:
        :class:`VideoPrediction`.
    """
    from tqdm.auto import tqdm

    from handpose.inference.image import DEFAULT_FOV_DEG, check_intrinsics, default_intrinsics
    from handpose.inference.image_io import read_box_table

    if box is not None and boxes is not None:
        raise HandposeError("give either --box or --boxes, not both.")
    if side not in (None, "left", "right"):
        raise HandposeError(f"side must be 'left' or 'right', got {side!r}.")
    spec = estimator.spec
    if smooth is None:
        smooth = "none" if spec.window > 1 else "one-euro"
    if smooth not in SMOOTH_METHODS:
        raise HandposeError(f"--smooth must be one of {', '.join(SMOOTH_METHODS)}, got {smooth!r}.")
    params = dict(DEFAULT_SMOOTH_PARAMS.get(smooth, {}))
    params.update(smooth_params or {})
    if smooth != "none":  # check the parameters before decoding anything
        from handpose.inference.smoothing import smooth_sequence

        probe = {k: v for k, v in params.items()}
        if smooth == "one-euro":
            probe["fps"] = 30.0
        try:
            smooth_sequence(np.zeros((2, 1)), _SMOOTH_NAMES[smooth], **probe)
        except HandposeError as err:  # name the options (--min-cutoff), not the API arguments
            raise HandposeError(_option_names(str(err), params, smooth)) from None
    src = read_frames(video, fps)
    table = read_box_table(boxes, "video") if boxes is not None else None
    H, W = src.height, src.width
    if K is None:
        fov = DEFAULT_FOV_DEG if fov_deg is None else float(fov_deg)
        Kf, assumed = default_intrinsics(W, H, fov), True
    else:
        Kf, assumed, fov = check_intrinsics(K, "K"), False, None
    slots = _slots(spec, table, side)
    video_model = spec.window > 1
    runners = {s: _WindowRunner(estimator) for s in slots} if video_model else {}
    rows: list[dict[str, Any]] = []  # per frame: slot → (box, flip, outputs)
    pending: list[tuple[int, np.ndarray, list]] = []

    def flush() -> None:
        if not pending:
            return
        arrays = [a for _, a, _ in pending]
        crops = [c for _, _, cs in pending for c in cs]
        outs = estimator.run_crops(arrays, crops)
        for c, o in zip(crops, outs):
            rows[c.frame][c.slot] = (c, o)
        pending.clear()

    total = src.num_frames if max_frames is None else min(src.num_frames or max_frames, max_frames)
    bar = tqdm(total=total, desc="frames", unit="frame", disable=not progress)
    last_seen: dict[str, int] = {}
    n = 0
    for f, frame in enumerate(src.frames()):
        if max_frames is not None and f >= max_frames:
            break
        n = f + 1
        bs, ss = _frame_boxes(table, box, side, f)
        where = f"frame {f} of '{video}'"
        names = ["right+left"] if spec.hands == 2 else [s or "unknown" for s in ss]
        if len(set(names)) != len(names):
            raise HandposeError(
                f"{where} has {len(names)} boxes of the same side ({names[0]}); video hand "
                "tracks are identified by side (give each box a side)."
            )
        if spec.hands == 2 and len(bs) > 1:
            raise HandposeError(f"{where} has {len(bs)} boxes; a two-hand model takes one box.")
        rows.append({})
        crops = (
            estimator.plan_crops(len(pending), frame, bs, Kf, ss, where)
            if bs else []
        )  # fmt: skip
        for c, name in zip(crops, names):
            c.frame, c.slot = f, name
        if video_model:
            for c in crops:
                slot = c.slot
                if last_seen.get(slot) != f - 1:
                    runners[slot].reset()
                last_seen[slot] = f
                x = estimator.crop_pixels(frame, c)
                rows[f][slot] = (c, runners[slot].step(x, c.K_crop.astype(np.float32)))
        elif crops:
            pending.append((f, frame, crops))
            if sum(len(cs) for _, _, cs in pending) >= estimator.batch_size:
                flush()
        bar.update(1)
    flush()
    bar.close()
    if n == 0:
        raise HandposeError(f"'{video}' has no frames.")
    pred = _assemble(estimator, src, rows, slots, Kf, assumed, fov)
    if estimator.fit_mesh is not None and pred.vertices is None:
        _fit_video(estimator, pred)
    return smooth_prediction(pred, smooth, params)


def _assemble(estimator, src, rows, slots, K, assumed, fov) -> VideoPrediction:
    F, Hs = len(rows), len(slots)
    spec = estimator.spec
    valid = np.zeros((F, Hs), bool)
    boxes = np.full((F, Hs, 4), np.nan)
    flipped = np.zeros((F, Hs), bool)
    j3 = np.full((F, Hs, 21, 3), np.nan)
    j2 = np.full((F, Hs, 21, 2), np.nan)
    V = spec.num_vertices
    verts = np.full((F, Hs, V, 3), np.nan) if V else None
    mano = None
    for f, row in enumerate(rows):
        for key, (c, out) in row.items():
            res = estimator.crop_outputs_to_image(c, out)
            targets = [(slots.index(key), 0)] if spec.hands == 1 else [(0, 0), (1, 1)]
            for h, m in targets:
                valid[f, h] = True
                boxes[f, h] = c.box
                flipped[f, h] = c.flip
                j3[f, h] = res["joints3d"][m]
                j2[f, h] = res["joints2d"][m]
                if verts is not None:
                    verts[f, h] = res["vertices"][m]
                if "mano_hand_pose" in res:
                    if mano is None:
                        mano = {
                            k[5:]: np.full((F, Hs, res[k].shape[-1]), np.nan)
                            for k in res
                            if k.startswith("mano_")
                        }
                    for k in mano:
                        mano[k][f, h] = res[f"mano_{k}"][m]
    return VideoPrediction(
        source=str(src.path),
        fps=src.fps,
        image_size=(src.height, src.width),
        K=K,
        K_assumed=assumed,
        fov_deg=fov,
        sides=list(slots),
        valid=valid,
        boxes=boxes,
        joints3d=j3,
        joints2d=j2,
        vertices=verts,
        mano=mano,
        flipped=flipped,
        mesh="model" if verts is not None else None,
    )


def _fit_video(estimator, pred: VideoPrediction) -> None:
    """Meshes fitted to the joints of every valid (frame, slot) (joint-only models)."""
    from handpose.inference.image import HandPrediction

    idx = np.argwhere(pred.valid)
    hands = [
        HandPrediction(
            side=pred.sides[h] if pred.sides[h] in ("left", "right") else "unknown",
            side_source="given",
            joints3d=pred.joints3d[f, h],
            joints2d=pred.joints2d[f, h],
            vertices=None,
            mano=None,
            mesh=None,
            box=pred.boxes[f, h],
            crop=np.zeros(3),
        )
        for f, h in idx
    ]
    if not hands:
        return
    estimator.fit_meshes(hands)
    V = hands[0].vertices.shape[0]
    F, Hs = pred.valid.shape
    pred.vertices = np.full((F, Hs, V, 3), np.nan)
    pred.mano = {k: np.full((F, Hs, v.shape[-1]), np.nan) for k, v in hands[0].mano.items()}
    for (f, h), hp in zip(idx, hands):
        pred.vertices[f, h] = hp.vertices
        for k, v in hp.mano.items():
            pred.mano[k][f, h] = v
    pred.mesh = "fit"


# ---------------------------------------------------------------------------------- smoothing


def _runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of True."""
    out, start = [], None
    for i, v in enumerate(list(valid) + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i))
            start = None
    return out


def _project_rotations(R: np.ndarray) -> np.ndarray:
    U, _, Vt = np.linalg.svd(R)
    d = np.sign(np.linalg.det(U @ Vt))
    U[..., :, -1] *= d[..., None]
    return U @ Vt


def smooth_prediction(
    pred: VideoPrediction, method: str, params: dict[str, Any] | None = None
) -> VideoPrediction:
    """Smooth every slot's runs of valid frames in place (module docstring); returns ``pred``."""
    from handpose.geometry.camera import project
    from handpose.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
    from handpose.inference.smoothing import smooth_sequence

    params = dict(params or {})
    pred.smoothing = {"method": method, **params}
    if method == "none":
        return pred
    name = _SMOOTH_NAMES[method]
    if name == "one_euro":
        params["fps"] = pred.fps
    pred.raw = {"joints3d": pred.joints3d.copy(), "joints2d": pred.joints2d.copy()}
    if pred.vertices is not None:
        pred.raw["vertices"] = pred.vertices.copy()
    for k, v in (pred.mano or {}).items():
        pred.raw[f"mano_{k}"] = v.copy()
    K = torch.as_tensor(pred.K, dtype=torch.float64)
    for h in range(pred.valid.shape[1]):
        for a, b in _runs(pred.valid[:, h]):
            sl = (slice(a, b), h)
            before = project(torch.as_tensor(pred.joints3d[sl]), K).numpy()
            pred.joints3d[sl] = smooth_sequence(pred.joints3d[sl], name, **params)
            after = project(torch.as_tensor(pred.joints3d[sl]), K).numpy()
            pred.joints2d[sl] = pred.joints2d[sl] + (after - before)
            if pred.vertices is not None:
                pred.vertices[sl] = smooth_sequence(pred.vertices[sl], name, **params)
            for k, v in (pred.mano or {}).items():
                if k in ("global_orient", "hand_pose"):
                    aa = torch.as_tensor(v[sl]).reshape(b - a, -1, 3)
                    R = axis_angle_to_matrix(aa).numpy()
                    R = _project_rotations(smooth_sequence(R, name, **params))
                    v[sl] = matrix_to_axis_angle(torch.as_tensor(R)).reshape(b - a, -1).numpy()
                else:
                    v[sl] = smooth_sequence(v[sl], name, **params)
    return pred


# ---------------------------------------------------------------------------------- files


def write_video_results(
    pred: VideoPrediction,
    out_dir: str | os.PathLike,
    *,
    overlay: bool = True,
    extra: dict[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, Path]:
    """``predictions.npz``, ``predictions.json`` and ``overlay.mp4`` in ``out_dir`` (atomic)."""
    from tqdm.auto import tqdm

    from handpose.inference.image_io import dumps_results
    from handpose.inference.overlay import OverlayHand, draw_hands
    from handpose.utils.io import atomic_path, atomic_write_text
    from handpose.utils.video import write_video

    out = Path(out_dir)
    written: dict[str, Path] = {}
    if overlay:
        src = read_frames(pred.source, pred.fps)
        K = pred.K

        def frames():
            for f, frame in enumerate(src.frames()):
                if f >= pred.num_frames:
                    break
                hands = []
                for h, side in enumerate(pred.sides):
                    if not pred.valid[f, h]:
                        continue
                    v2 = None
                    if pred.vertices is not None:
                        v = pred.vertices[f, h]
                        if np.isfinite(v).all() and (v[:, 2] > 1e-6).all():
                            uvw = v @ K.T
                            v2 = uvw[:, :2] / uvw[:, 2:]
                    hands.append(OverlayHand(side, pred.joints2d[f, h], v2, pred.boxes[f, h]))
                yield draw_hands(frame, hands, caption=f"{f}")

        it = tqdm(frames(), total=pred.num_frames, desc="overlay", unit="frame",
                  disable=not progress)  # fmt: skip
        written["video"] = write_video(out / "overlay.mp4", it, pred.fps)
    doc = {"format": "handpose-video-predictions", "format_version": 1, **(extra or {})}
    doc.update(pred.to_dict())
    atomic_write_text(out / "predictions.json", dumps_results(doc))
    written["json"] = out / "predictions.json"
    with atomic_path(out / "predictions.npz") as tmp:
        np.savez_compressed(tmp, **pred.arrays())
    written["npz"] = out / "predictions.npz"
    return written
