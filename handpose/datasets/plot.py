"""A picture of one IMU sequence: rendered hand frames above each sensor's signals over time.

Needs the ``viz`` extra (matplotlib); imported lazily by ``handpose data plot``.
"""

from __future__ import annotations

import os

import numpy as np

from handpose.errors import HandposeError
from handpose.formats.imu_file import SequenceRecord
from handpose.utils.io import atomic_path

__all__ = ["render_hand_strip", "plot_sequence"]

_AXIS_COLORS = ("#d62728", "#2ca02c", "#1f77b4", "#7f7f7f")  # x, y, z (w for quaternions)
# Camera direction in the hand's own frame (MANO rest layout: fingers −x, palm −y, thumb +z):
# from the thumb side, a little below the palm and towards the fingertips, so pinches and
# finger flexion are visible. It is turned into the world with the hand's orientation at the
# middle rendered frame; all frames share that one camera, so wrist motion stays visible.
_VIEW_DIR_HAND = (0.3, 0.45, -0.85)
_UP_HAND = (0.0, 1.0, 0.0)


def render_hand_strip(
    rec: SequenceRecord,
    frames: list[int],
    model="open",
    size: int = 280,
    flat_hand_mean: bool = True,
) -> list[np.ndarray]:
    """Render the hand of ``rec`` at ``frames`` with one fixed camera (translation removed).

    Returns:
        list of (size, size, 3) uint8 images.
    """
    import torch

    from handpose.handmodel import HandModel
    from handpose.render import frame_points, intrinsics_from_fov, render_mesh, world_to_camera

    hand = (
        model
        if isinstance(model, torch.nn.Module)
        else HandModel(model, side="right", flat_hand_mean=flat_hand_mean)
    )
    with torch.no_grad():
        out = hand(
            global_orient=torch.as_tensor(rec.global_orient[frames], dtype=torch.float32),
            hand_pose=torch.as_tensor(rec.hand_pose[frames], dtype=torch.float32),
            betas=torch.as_tensor(rec.betas[frames], dtype=torch.float32),
        )
    verts = out.vertices.numpy() - out.joints[:, :1].numpy()  # wrist at the origin
    R_mid = out.global_rotations[len(frames) // 2, 0].double().numpy()
    R, t = frame_points(
        verts.reshape(-1, 3),
        R_mid @ np.asarray(_VIEW_DIR_HAND),
        up=R_mid @ np.asarray(_UP_HAND),
        fov_y_deg=30.0,
        margin=1.02,
    )
    K = intrinsics_from_fov(30.0, size, size)
    faces = hand.faces.numpy()
    return [
        render_mesh(world_to_camera(v, R, t), faces, K, (size, size), supersample=2) for v in verts
    ]


def plot_sequence(
    rec: SequenceRecord,
    out: str | os.PathLike,
    start: float = 0.0,
    seconds: float = 8.0,
    num_frames: int = 6,
    model="open",
    sensors: list[str] | None = None,
    flat_hand_mean: bool = True,
) -> None:
    """Plot each sensor's specific force, angular velocity, free acceleration and quaternion over
    ``[start, start + seconds)``, under a strip of ``num_frames`` rendered hand frames whose times
    are marked by dashed lines. Written atomically to ``out`` (PNG).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fps = rec.fps
    a = int(round(start * fps))
    b = min(rec.num_frames, a + max(2, int(round(seconds * fps))))
    if a >= rec.num_frames - 1:
        raise HandposeError(
            f"start {start} s is past the end of {rec.key} ({rec.num_frames / fps:.1f} s)."
        )
    names = list(rec.sensor_names) if sensors is None else list(sensors)
    cols = [rec.sensor_names.index(n) for n in names]
    t = np.arange(a, b) / fps
    picks = np.linspace(a, b - 1, max(num_frames, 0) + 2)[1:-1].round().astype(int).tolist()

    strip: list[np.ndarray] = []
    note = ""
    if picks:
        try:
            strip = render_hand_strip(rec, picks, model=model, flat_hand_mean=flat_hand_mean)
        except HandposeError as err:  # e.g. VIHand data without the MANO files
            note = f"(hand frames not rendered: {err})"

    panels = [
        ("specific_force", "specific force a_S (m/s², sensor)", 3),
        ("angular_velocity", "angular velocity ω_S (rad/s, sensor)", 3),
        ("free_acceleration", "free acceleration (m/s², world)", 3),
        ("quaternion", "orientation quaternion (w, x, y, z), sign-continuous", 4),
    ]
    n_rows = len(names)
    fig_w = 17.0
    strip_h = 0.0
    if strip:  # the strip's height follows the cropped frames' aspect ratio
        h, w = strip[0].shape[:2]
        strip_h = min(3.0, 0.9 * fig_w / len(strip) * h / w + 0.35)
    fig = plt.figure(figsize=(fig_w, strip_h + 1.45 * n_rows + 1.1), dpi=110)
    outer = fig.add_gridspec(
        2,
        1,
        height_ratios=[max(strip_h, 1e-3), 1.45 * n_rows],
        hspace=0.06,
        top=0.95,
        bottom=0.05,
        left=0.05,
        right=0.99,
    )
    if strip:
        top = outer[0].subgridspec(1, len(strip), wspace=0.0)
        for k, (img, f) in enumerate(zip(strip, picks)):
            ax = fig.add_subplot(top[0, k])
            ax.imshow(img)
            ax.set_title(f"t = {f / fps:.2f} s", fontsize=10)
            ax.axis("off")
    grid = outer[1].subgridspec(n_rows, len(panels), hspace=0.18, wspace=0.18)
    for r, (name, c) in enumerate(zip(names, cols)):
        for k, (field, title, dims) in enumerate(panels):
            ax = fig.add_subplot(grid[r, k])
            y = np.array(getattr(rec, field)[a:b, c], dtype=np.float64)
            if field == "quaternion":  # q and −q are one rotation: plot a sign-continuous path
                flips = np.cumsum(np.r_[0, (y[1:] * y[:-1]).sum(-1) < 0]) % 2
                y = np.where(flips[:, None] == 1, -y, y)
            labels = "wxyz" if dims == 4 else "xyz"
            for d in range(dims):
                ax.plot(
                    t,
                    y[:, d],
                    color=_AXIS_COLORS[(d - 1) % 4 if dims == 4 else d],
                    lw=1.1,
                    label=labels[d],
                )
            for f in picks:
                ax.axvline(f / fps, color="0.6", ls="--", lw=0.7)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=8)
            ax.set_xlim(t[0], t[-1])
            if r == 0:
                ax.set_title(title, fontsize=10)
                ax.legend(fontsize=7, ncol=dims, loc="upper right", framealpha=0.8)
            if k == 0:
                ax.set_ylabel(name, fontsize=10, fontweight="bold")
            if r < n_rows - 1:
                ax.set_xticklabels([])
            else:
                ax.set_xlabel("time (s)", fontsize=9)
    fig.suptitle(
        f"{rec.sequence} — subject {rec.subject} — {rec.layout} — {fps:g} fps {note}", fontsize=13
    )
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
