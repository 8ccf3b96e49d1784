"""Gesture sequences → per-frame MANO parameters (full articulation, y-up world).

For one (subject, gesture) the generator repeats the gesture's keyframe cycle with the subject's
tempo, amplitude and habitual posture plus per-key jitter, blends keys with minimum-jerk
transitions, adds a slow low-amplitude postural sway, and keeps every joint inside its limits
with a C¹ soft clamp. Wrist orientation and translation get their own minimum-jerk keyframe
tracks. Output is ``hand_pose`` (T, 45) axis-angle in the ``flat_hand_mean=True`` convention
(zero = flat hand), ``global_orient`` (T, 3), ``transl`` (T, 3) metres and ``betas`` (10,).

World frame: y up (gravity (0, −9.81, 0)). With ``global_orient = 0`` a MANO-layout right hand
lies palm down with fingers along −x; the subject's heading turns it about y.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from handpose.errors import HandposeError
from handpose.simulators.motion.anatomy import anatomical_to_axis_angle, joint_limits
from handpose.simulators.motion.gestures import GESTURES, Gesture
from handpose.simulators.motion.subjects import SubjectProfile, subject_rng
from handpose.simulators.motion.trajectory import keyframe_track, rotation_track

__all__ = ["MotionSequence", "generate_sequence", "soft_clamp", "SOFT_LIMIT_MARGIN"]

SOFT_LIMIT_MARGIN = np.deg2rad(5.0)  # radians: the soft clamp starts this far inside a limit
SWAY_STD = np.deg2rad(1.5)  # radians: postural sway, a fresh offset every 0.35–0.8 s
_PALMS = {
    "down": np.zeros(3),
    "up": np.array([np.pi, 0.0, 0.0]),  # roll 180° about the finger axis
    "side": np.array([-np.pi / 2, 0.0, 0.0]),  # roll 90°: palm faces +z, thumb up
}


@dataclass
class MotionSequence:
    """One synthetic sequence of MANO parameters.

    Attributes:
        subject: subject id. sequence: VIHand name, e.g. "ROM01_Finger_Counting". fps: Hz.
        global_orient: (T, 3) axis-angle, world frame (y up).
        hand_pose: (T, 45) axis-angle, full articulation (flat_hand_mean=True).
        betas: (10,). transl: (T, 3) metres.
    """

    subject: int
    sequence: str
    fps: float
    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.hand_pose.shape[0])


def soft_clamp(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, margin: float) -> np.ndarray:
    """Identity inside ``[lo + m, hi − m]``, exponential approach to the limit outside.

    ``hi − m·exp(−(x − (hi − m))/m)`` above (likewise below) is continuous with slope 1 at the
    junction (C¹, so no velocity jumps) and never reaches the limit.
    """
    lo = np.broadcast_to(lo, x.shape)
    hi = np.broadcast_to(hi, x.shape)
    m = np.minimum(margin, 0.25 * (hi - lo))
    up, dn = hi - m, lo + m
    with np.errstate(over="ignore"):
        above = hi - m * np.exp(-(x - up) / np.where(m > 0, m, 1.0))
        below = lo + m * np.exp((x - dn) / np.where(m > 0, m, 1.0))
    return np.where(x > up, above, np.where(x < dn, below, x))


def _finger_track(g: Gesture, prof: SubjectProfile, duration: float, rng) -> tuple:
    times, poses = [0.0], []
    t = 0.0
    first = True
    while t < duration + 1.0:
        for key in g.cycle(rng):
            pose = prof.amplitude * key.pose + prof.rest_offset
            pose = pose + rng.normal(0.0, prof.jitter, size=pose.shape)
            speed = prof.tempo * rng.uniform(0.9, 1.1)
            if first:  # the sequence starts already in the first pose
                poses.append(pose)
                first = False
            else:
                t += key.move / speed
                times.append(t)
                poses.append(pose)
            if key.hold > 0:
                t += key.hold / speed
                times.append(t)
                poses.append(pose)
    return np.asarray(times), np.asarray(poses)


def _sway_track(duration: float, rng, amp_rad: float) -> tuple:
    times, values, t = [], [], 0.0
    while t < duration + 1.0:
        times.append(t)
        values.append(rng.normal(0.0, amp_rad, size=(15, 3)))
        t += rng.uniform(0.35, 0.8)
    return np.asarray(times), np.asarray(values)


def _wrist_track(g: Gesture, prof: SubjectProfile, duration: float, rng) -> tuple:
    base_world = Rotation.from_euler("yz", [prof.heading, prof.pitch])
    r = np.deg2rad(g.wrist_range_deg) * prof.wrist_scale
    times, rots = [], []
    t = 0.0
    if g.palm == "calibration":
        order = ["down", "side", "up", "down"]
        k = 0
        while t < duration + 1.0:
            palm = Rotation.from_rotvec(_PALMS[order[k % len(order)]])
            wobble = Rotation.from_rotvec(rng.uniform(-r, r, size=3))
            rot = (base_world * palm * wobble).as_rotvec()
            times += [t, t + rng.uniform(3.0, 5.0) / prof.tempo]
            rots += [rot, rot]
            t = times[-1] + rng.uniform(0.8, 1.4) / prof.tempo
            k += 1
    else:
        palm = Rotation.from_rotvec(_PALMS[g.palm])
        while t < duration + 1.0:
            wander = Rotation.from_rotvec(rng.uniform(-r, r, size=3))
            times.append(t)
            rots.append((base_world * palm * wander).as_rotvec())
            t += rng.uniform(1.5, 3.5) / prof.tempo
    return np.asarray(times), np.asarray(rots)


def _translation_track(g: Gesture, prof: SubjectProfile, duration: float, rng) -> tuple:
    times, pos, t = [], [], 0.0
    while t < duration + 1.0:
        times.append(t)
        pos.append(rng.uniform(-0.03, 0.03, size=3))
        t += rng.uniform(1.0, 3.0) / prof.tempo
    times, pos = np.asarray(times), np.asarray(pos)
    if g.travel > 0:
        # Forward (−x in the hand's heading) and back, a 4 s leg each way.
        fwd = Rotation.from_euler("y", prof.heading).apply([-1.0, 0.0, 0.0])
        leg = 4.0 * g.travel
        phase = (times % 8.0) / 4.0
        s = np.where(phase < 1.0, phase, 2.0 - phase) * leg
        pos = pos * 0.3 + s[:, None] * fwd[None]
    return times, pos


def generate_sequence(
    gesture: str | Gesture,
    profile: SubjectProfile,
    num_frames: int,
    fps: float = 30.0,
    seed: int = 0,
) -> MotionSequence:
    """Generate ``num_frames`` frames of gesture ``gesture`` performed by ``profile``.

    Args:
        gesture: a :class:`Gesture` or its sequence name ("ROM01_Finger_Counting", …).
        profile: the subject (see :func:`~handpose.simulators.motion.subjects.sample_subject`).
        num_frames: T ≥ 1. fps: frame rate in Hz.
        seed: dataset seed; the streams are keyed by (seed, subject, ROM, track), so a sequence
            does not depend on which other sequences are generated, and a longer one (or one at
            a higher fps) extends it rather than changing it.
    Returns:
        :class:`MotionSequence`.
    """
    if isinstance(gesture, str):
        if gesture not in GESTURES:
            raise HandposeError(
                f"unknown gesture sequence {gesture!r}; choose one of {', '.join(GESTURES)}."
            )
        gesture = GESTURES[gesture]
    if num_frames < 1 or fps <= 0:
        raise HandposeError(f"need num_frames >= 1 and fps > 0, got {num_frames} and {fps}.")

    # One stream per track, each consumed key by key: a longer sequence (or a higher fps)
    # extends the same motion instead of changing it.
    def rng(track: int) -> np.random.Generator:
        return subject_rng(seed, profile.subject, gesture.rom, track)

    t = np.arange(num_frames) / float(fps)
    duration = float(t[-1])

    kt, kp = _finger_track(gesture, profile, duration, rng(0))
    st, sp = _sway_track(duration, rng(1), SWAY_STD)
    angles = keyframe_track(kt, kp, t) + keyframe_track(st, sp, t)
    lo, hi = joint_limits()
    angles = soft_clamp(angles, lo, hi, SOFT_LIMIT_MARGIN)

    wt, wr = _wrist_track(gesture, profile, duration, rng(2))
    tt, tp = _translation_track(gesture, profile, duration, rng(3))
    return MotionSequence(
        subject=profile.subject,
        sequence=gesture.sequence_name,
        fps=float(fps),
        global_orient=rotation_track(wt, wr, t),
        hand_pose=anatomical_to_axis_angle(angles),
        betas=profile.betas.copy(),
        transl=keyframe_track(tt, tp, t),
    )
