"""VIHand's 15 gesture sequences as keyframe choreographies in anatomical joint angles.

VIHand (datasets.md §5.2) records 15 range-of-motion sequences per subject and splits them by
gesture: ROM01–ROM12 train, ROM13–ROM15 test. We cannot copy its motion (the data is gated), so
each sequence here is our own choreography of the gesture its name describes. Each is a
distinct set of hand shapes and timings, so a split by sequence name means unseen gestures, as in
VIHand. Where a name is ambiguous we state our reading in the gesture's description.

A gesture yields one *cycle*: a list of :class:`Key` (time to reach the pose, hold time, pose),
repeated by the generator until the sequence is long enough. Poses are (15, 3) anatomical angles
(flex, abd, twist) in radians for MANO joints 1..15 (see :mod:`.anatomy`). Wrist orientation
and translation get their own keyframe tracks in :mod:`.generator`; a gesture can ask for a
particular hand orientation (``palm``) or translation drift (``travel``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from handpose.simulators.motion.anatomy import FINGER_JOINTS, joint_limits

__all__ = ["Key", "Gesture", "GESTURES", "SEQUENCE_NAMES", "TRAIN_SEQUENCES", "TEST_SEQUENCES"]

D = np.deg2rad
FLEX, ABD, TWIST = 0, 1, 2  # anatomical angle columns (open hand convention)
LONG_FINGERS = ("index", "middle", "ring", "pinky")


@dataclass(frozen=True)
class Key:
    """A keyframe: reach ``pose`` in ``move`` seconds, then hold it for ``hold`` seconds."""

    move: float
    hold: float
    pose: np.ndarray  # (15, 3) radians


@dataclass(frozen=True)
class Gesture:
    """One VIHand sequence: ``ROMxx_Name``, a description and its choreography.

    Attributes:
        rom: 1..15. name: VIHand's name (e.g. "Finger_Counting"). description: our reading.
        cycle: ``cycle(rng) -> list[Key]``, one repetition.
        palm: hand orientation family for the wrist track: "down", "side", "up", "calibration".
        travel: mean hand translation speed along the finger direction, m/s (finger walking).
        wrist_range_deg: amplitude of the random wrist-rotation wander around the base orientation.
    """

    rom: int
    name: str
    description: str
    cycle: Callable[[np.random.Generator], list[Key]]
    palm: str = "down"
    travel: float = 0.0
    wrist_range_deg: float = 20.0

    @property
    def sequence_name(self) -> str:
        return f"ROM{self.rom:02d}_{self.name}"


# --- pose vocabulary --------------------------------------------------------------------------


def _p() -> np.ndarray:
    return np.zeros((15, 3))


def _row(finger: str, level: int) -> int:
    return FINGER_JOINTS[finger][level] - 1


def curl(P: np.ndarray, finger: str, c: float) -> np.ndarray:
    """Curl a finger by fraction ``c`` of a full fist (coupled MCP/PIP/DIP; DIP ≈ ⅔ PIP)."""
    if finger == "thumb":
        P[_row("thumb", 0)] = D(np.array([40.0, 25.0, 20.0])) * c
        P[_row("thumb", 1), FLEX] = D(45) * c
        P[_row("thumb", 2), FLEX] = D(55) * c
    else:
        P[_row(finger, 0), FLEX] = D(85) * c
        P[_row(finger, 1), FLEX] = D(100) * c
        P[_row(finger, 2), FLEX] = D(65) * c
    return P


def bend(
    P: np.ndarray, finger: str, mcp: float, pip: float, dip: float | None = None
) -> np.ndarray:
    """Set a long finger's flexion in degrees (DIP defaults to ⅔ of PIP)."""
    P[_row(finger, 0), FLEX] = D(mcp)
    P[_row(finger, 1), FLEX] = D(pip)
    P[_row(finger, 2), FLEX] = D(pip * 2.0 / 3.0 if dip is None else dip)
    return P


_ABD_DEG = {"index": 15.0, "middle": 2.0, "ring": -10.0, "pinky": -20.0, "thumb": -20.0}


def spread(P: np.ndarray, amount: float, fingers=("index", "middle", "ring", "pinky", "thumb")):
    """Fan fingers out (amount 1 ≈ full abduction; negative squeezes them together)."""
    for f in fingers:
        if f == "thumb":  # the thumb fans out radially: CMC extension (negative flexion)
            P[_row(f, 0), FLEX] = D(_ABD_DEG[f]) * amount
        else:
            P[_row(f, 0), ABD] = D(_ABD_DEG[f]) * amount
    return P


def thumb(P: np.ndarray, cmc: tuple[float, float, float], mcp: float, ip: float) -> np.ndarray:
    """Thumb angles in degrees: CMC (flex, abd, twist), MCP flex, IP flex."""
    P[_row("thumb", 0)] = D(np.asarray(cmc, dtype=np.float64))
    P[_row("thumb", 1), FLEX] = D(mcp)
    P[_row("thumb", 2), FLEX] = D(ip)
    return P


# Thumb CMC (flex, abd, twist), MCP, IP and the target finger's (MCP, PIP) flexion that bring
# the thumb tip onto each fingertip: solved on the open hand model (least squares on the tip
# distance within the joint limits, small flexion penalty), rounded to degrees.
_OPPOSITION = {
    "index": ((45.0, 16.0, 0.0), -7.0, -7.0, (36.0, 49.0)),
    "middle": ((55.0, 16.0, 0.0), -1.0, -7.0, (42.0, 55.0)),
    "ring": ((55.0, 10.0, 3.0), 20.0, -7.0, (41.0, 59.0)),
    "pinky": ((55.0, -19.0, 16.0), 29.0, -7.0, (35.0, 61.0)),
}


def oppose(P: np.ndarray, finger: str, c: float = 1.0) -> np.ndarray:
    cmc, mcp, ip, (fm, fp) = _OPPOSITION[finger]
    thumb(P, tuple(c * x for x in cmc), c * mcp, c * ip)
    bend(P, finger, c * fm, c * fp)
    return P


def fist() -> np.ndarray:
    P = _p()
    for f in LONG_FINGERS:
        curl(P, f, 1.0)
    return thumb(P, (40.0, 25.0, 20.0), 45.0, 40.0)


def relaxed() -> np.ndarray:
    P = _p()
    for f, c in zip(LONG_FINGERS, (0.12, 0.15, 0.18, 0.22)):
        curl(P, f, c)
    return thumb(P, (5.0, 15.0, 5.0), 10.0, 10.0)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


# --- the 15 choreographies -------------------------------------------------------------------


def _counting(rng):
    keys = [Key(_u(rng, 0.5, 0.8), _u(rng, 0.3, 0.6), fist())]
    raised: list[str] = []
    for f in ("index", "middle", "ring", "pinky", "thumb"):
        raised.append(f)
        P = fist()
        for g in raised:
            if g == "thumb":
                thumb(P, (-20.0, 5.0, 0.0), 0.0, 0.0)
            else:
                curl(P, g, 0.0)
        spread(P, 0.35, [g for g in raised if g != "thumb"] if len(raised) > 1 else [])
        keys.append(Key(_u(rng, 0.3, 0.5), _u(rng, 0.4, 0.8), P))
    keys.append(Key(_u(rng, 0.6, 0.9), _u(rng, 0.2, 0.5), fist()))
    return keys


def _bending(rng):
    flat = _p()
    table = _p()
    hook = _p()
    for f in LONG_FINGERS:
        bend(table, f, 85.0, 0.0, 0.0)
        bend(hook, f, 0.0, 100.0, 70.0)
    thumb(table, (15.0, 20.0, 5.0), 20.0, 10.0)
    thumb(hook, (10.0, 15.0, 5.0), 15.0, 30.0)
    keys = []
    for target in (fist(), table, hook):
        keys.append(Key(_u(rng, 0.7, 1.1), _u(rng, 0.2, 0.4), target))
        keys.append(Key(_u(rng, 0.7, 1.1), _u(rng, 0.2, 0.4), flat))
    return keys


def _tapping(rng):
    base = relaxed()
    keys = [Key(0.5, 0.2, base)]
    order = ["index", "middle", "ring", "pinky", "ring", "middle"]
    for f in order:
        for _ in range(2):
            lift = base.copy()
            lift[_row(f, 0), FLEX] = D(-20.0)
            tap = base.copy()
            bend(tap, f, 35.0, 25.0)
            keys.append(Key(_u(rng, 0.12, 0.2), 0.0, lift))
            keys.append(Key(_u(rng, 0.1, 0.16), _u(rng, 0.05, 0.12), tap))
        keys.append(Key(_u(rng, 0.15, 0.25), 0.05, base))
    return keys


def _pinching(rng):
    open_hand = spread(_p(), 0.3)
    thumb(open_hand, (-10.0, 15.0, 0.0), 5.0, 5.0)
    keys = []
    for f in ("index", "middle", "ring", "pinky"):
        keys.append(Key(_u(rng, 0.5, 0.8), _u(rng, 0.3, 0.6), oppose(_p(), f)))
        keys.append(Key(_u(rng, 0.4, 0.6), _u(rng, 0.1, 0.3), open_hand))
    return keys


def _thumb_tap_palm(rng):
    up = thumb(_p(), (-15.0, 10.0, 0.0), 0.0, 0.0)
    down = thumb(_p(), (50.0, 15.0, 20.0), 45.0, 30.0)
    keys = []
    for _ in range(4):
        keys.append(Key(_u(rng, 0.2, 0.3), _u(rng, 0.05, 0.15), down))
        keys.append(Key(_u(rng, 0.2, 0.35), _u(rng, 0.05, 0.2), up))
    return keys


def _thumb_tap_back(rng):
    # Our reading: the thumb taps backwards (dorsally, extension/abduction) from a resting
    # position beside the index finger, fingers relaxed.
    rest = relaxed()
    thumb(rest, (5.0, 10.0, 5.0), 15.0, 15.0)
    back = relaxed()
    thumb(back, (-15.0, -25.0, 0.0), -5.0, -15.0)
    keys = []
    for _ in range(4):
        keys.append(Key(_u(rng, 0.2, 0.3), _u(rng, 0.05, 0.15), back))
        keys.append(Key(_u(rng, 0.2, 0.3), _u(rng, 0.05, 0.15), rest))
    return keys


def _walking(rng):
    def step(lead: str, trail: str) -> np.ndarray:
        P = _p()
        for f in ("ring", "pinky"):
            curl(P, f, 0.9)
        thumb(P, (40.0, 20.0, 15.0), 40.0, 30.0)
        bend(P, lead, 55.0, 20.0)
        bend(P, trail, -10.0, 35.0)
        return P

    keys = []
    for _ in range(3):
        keys.append(Key(_u(rng, 0.3, 0.45), 0.0, step("index", "middle")))
        keys.append(Key(_u(rng, 0.3, 0.45), 0.0, step("middle", "index")))
    return keys


def _snapping(rng):
    def base(P):
        for f in ("ring", "pinky"):
            curl(P, f, 0.85)
        return P

    ready = base(oppose(_p(), "middle"))
    bend(ready, "index", 30.0, 30.0)
    press = ready.copy()
    press[_row("thumb", 2), FLEX] = D(5.0)
    snapped = base(_p())
    bend(snapped, "middle", 80.0, 70.0)
    bend(snapped, "index", 40.0, 40.0)
    thumb(snapped, (-10.0, 20.0, 0.0), 10.0, 0.0)
    return [
        Key(_u(rng, 0.4, 0.6), _u(rng, 0.1, 0.3), ready),
        Key(_u(rng, 0.15, 0.25), _u(rng, 0.05, 0.15), press),
        Key(_u(rng, 0.06, 0.1), _u(rng, 0.2, 0.4), snapped),  # the snap: ~2–3 frames at 30 fps
    ]


def _thumb_slide_palm(rng):
    # The thumb tip sweeps across the palm from the index base to the pinky base and back.
    a = thumb(_p(), (25.0, 30.0, 10.0), 30.0, 20.0)
    b = thumb(_p(), (55.0, 25.0, 35.0), 40.0, 15.0)
    return [
        Key(_u(rng, 0.8, 1.2), _u(rng, 0.0, 0.15), b),
        Key(_u(rng, 0.8, 1.2), _u(rng, 0.0, 0.15), a),
    ]


def _thumb_slide_back(rng):
    # Our reading: the thumb pad slides along the radial/back side of the bent index finger,
    # from its base towards its tip and back.
    def idx(P):
        bend(P, "index", 45.0, 60.0)
        for f in ("middle", "ring", "pinky"):
            curl(P, f, 0.5)
        return P

    near = idx(thumb(_p(), (15.0, 10.0, 5.0), 35.0, 40.0))
    far = idx(thumb(_p(), (25.0, 20.0, 10.0), 10.0, -10.0))
    return [
        Key(_u(rng, 0.7, 1.1), _u(rng, 0.0, 0.15), far),
        Key(_u(rng, 0.7, 1.1), _u(rng, 0.0, 0.15), near),
    ]


def _wiggling(rng):
    keys = []
    phase = rng.uniform(0, 2 * np.pi, size=5)
    for k in range(8):
        P = relaxed()
        for i, f in enumerate(LONG_FINGERS):
            c = 0.5 + 0.5 * np.sin(phase[i + 1] + k * np.pi / 2)
            bend(P, f, 5.0 + 45.0 * c, 10.0 + 40.0 * c)
        c = 0.5 + 0.5 * np.sin(phase[0] + k * np.pi / 2)
        thumb(P, (5.0 + 20.0 * c, 15.0, 5.0), 10.0 + 20 * c, 10.0 + 25 * c)
        keys.append(Key(_u(rng, 0.12, 0.2), 0.0, P))
    return keys


def _crossing(rng):
    crossed = _p()
    for f in ("ring", "pinky"):
        curl(crossed, f, 0.9)
    thumb(crossed, (45.0, 30.0, 30.0), 40.0, 30.0)
    # Middle over index: index bends a little more and turns ulnar, middle turns radial.
    bend(crossed, "index", 20.0, 10.0)
    bend(crossed, "middle", 5.0, 5.0)
    crossed[_row("index", 0), [ABD, TWIST]] = D(np.array([-15.0, -8.0]))
    crossed[_row("middle", 0), [ABD, TWIST]] = D(np.array([15.0, 8.0]))
    two = crossed.copy()
    two[_row("index", 0)] = 0.0
    two[_row("middle", 0)] = 0.0
    spread(two, 0.6, ("index", "middle"))  # a V
    return [
        Key(_u(rng, 0.6, 0.9), _u(rng, 0.4, 0.8), crossed),
        Key(_u(rng, 0.5, 0.8), _u(rng, 0.2, 0.4), two),
    ]


def _interlocking(rng):
    open_wide = spread(_p(), 1.0)
    thumb(open_wide, (-20.0, 5.0, 0.0), 0.0, 0.0)
    clasp = spread(_p(), 0.9)
    for f in LONG_FINGERS:
        bend(clasp, f, 60.0, 45.0)
    thumb(clasp, (20.0, 15.0, 5.0), 25.0, 20.0)
    tight = clasp.copy()
    for f in LONG_FINGERS:
        bend(tight, f, 75.0, 70.0)
    return [
        Key(_u(rng, 0.6, 0.9), _u(rng, 0.2, 0.5), open_wide),
        Key(_u(rng, 0.7, 1.0), _u(rng, 0.3, 0.6), clasp),
        Key(_u(rng, 0.4, 0.6), _u(rng, 0.5, 1.0), tight),
        Key(_u(rng, 0.4, 0.6), _u(rng, 0.2, 0.4), clasp),
    ]


def _random(rng):
    lo, hi = joint_limits()
    keys = []
    for _ in range(4):
        # Sample flexion per finger with PIP/DIP coupling, other axes uniformly in ±60 % range.
        P = rng.uniform(0.6 * lo, 0.6 * hi)
        for f in LONG_FINGERS:
            c = float(rng.uniform(0, 1))
            bend(P, f, 85.0 * c + rng.uniform(-15, 5), 100 * c * rng.uniform(0.6, 1.0))
        keys.append(Key(_u(rng, 0.3, 1.0), _u(rng, 0.0, 0.5), P))
    return keys


def _calibration(rng):
    flat = _p()
    spread_hand = spread(_p(), 0.9)
    thumb(spread_hand, (-20.0, 5.0, 0.0), 0.0, 0.0)
    return [
        Key(0.8, _u(rng, 1.5, 2.5), flat),
        Key(1.0, _u(rng, 1.5, 2.5), fist()),
        Key(1.0, _u(rng, 1.5, 2.5), spread_hand),
        Key(0.8, _u(rng, 1.5, 2.5), flat),
    ]


_GESTURES = (
    Gesture(1, "Finger_Counting", "From a fist, raise index, middle, ring, pinky, thumb one by one (1–5), then close.", _counting),
    Gesture(2, "Finger_Bending", "All fingers flex together: full fist, tabletop (MCP only) and hook (PIP/DIP only), each back to flat.", _bending),
    Gesture(3, "Finger_Tapping", "Palm down, each finger lifts and taps down in turn, index→pinky→index.", _tapping),
    Gesture(4, "Finger_Pinching", "The thumb pinches index, middle, ring and pinky tips in turn, releasing in between.", _pinching),
    Gesture(5, "Thumb_Tap_Palm", "Fingers extended, the thumb taps across the palm and returns beside the hand.", _thumb_tap_palm, palm="up"),
    Gesture(6, "Thumb_Tap_Back", "Our reading: the thumb taps backwards (extension/abduction) from beside the index.", _thumb_tap_back),
    Gesture(7, "Finger_Walking", "Index and middle alternate like walking legs while the hand travels forward.", _walking, travel=0.03),
    Gesture(8, "Finger_Snapping", "Thumb presses the middle finger, which snaps down onto the palm (a 2–3-frame release).", _snapping, palm="side"),
    Gesture(9, "Thumb_Sliding_Palm", "The thumb tip sweeps across the palm, index base ↔ pinky base.", _thumb_slide_palm, palm="up"),
    Gesture(10, "Thumb_Sliding_Back", "Our reading: the thumb slides along the back/side of the bent index finger.", _thumb_slide_back, palm="side"),
    Gesture(11, "Finger_Wiggling", "All fingers oscillate quickly with per-finger phase lags.", _wiggling),
    Gesture(12, "Finger_Crossing", "Middle crosses over index (fingers crossed), then uncrosses to a V.", _crossing, palm="side"),
    Gesture(13, "Finger_Interlocking", "Fingers spread, clasp as if interlocked with the other hand, squeeze, with wrist rolls.", _interlocking, palm="side", wrist_range_deg=40.0),
    Gesture(14, "Random_Gestures", "Random hand shapes within the joint limits, random timings, wide wrist motion.", _random, wrist_range_deg=45.0),
    Gesture(15, "Calibration", "Static holds: flat, fist, spread, flat, in palm-down/up/side orientations.", _calibration, palm="calibration", wrist_range_deg=5.0),
)  # fmt: skip

GESTURES: dict[str, Gesture] = {g.sequence_name: g for g in _GESTURES}
SEQUENCE_NAMES: tuple[str, ...] = tuple(GESTURES)
TRAIN_SEQUENCES: tuple[str, ...] = SEQUENCE_NAMES[:12]
TEST_SEQUENCES: tuple[str, ...] = SEQUENCE_NAMES[12:]
