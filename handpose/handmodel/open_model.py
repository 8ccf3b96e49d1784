"""The open hand model: a procedurally generated right hand with MANO's structure.

``build_open_hand()`` deterministically builds every array of the model that ships as
``handpose/assets/open_hand_right.npz`` (written by ``scripts/generate_open_hand.py``; a test
regenerates it and compares). It is the package's default hand model: MANO's files are licensed
and cannot be shipped, this one is Apache-2.0 like the rest of handpose.

Frame and units (right hand, rest pose = flat hand, all joint frames aligned with the axes):

- metres; the wrist joint (joint 0) is the origin;
- fingers point along **−x** (distal = −x), chosen to match MANO's right-hand template;
- the thumb side (radial) is **+z**;
- the back of the hand (dorsal, the nail side) is **+y**, so the palm faces **−y** (palm normal
  −y). (x, y, z) = (−distal, dorsal, radial) is right-handed.

Structure (the same as MANO's, see ../shared/reference/mano.md §1 and §3.1):

- 16 joints in MANO order: wrist, index×3, middle×3, pinky×3, ring×3, thumb×3 (thumb1 is the
  trapeziometacarpal/CMC joint, thumb2 the MCP, thumb3 the IP), parents ``MANO_PARENTS``;
- a closed triangle mesh (watertight, consistently oriented with outward normals, one
  component, genus 0) of 1379 vertices and 2754 triangles, built from a fixed quad-cage topology
  (a palm lattice with five 12-sided tubes) whose vertices are relaxed onto a smooth
  signed-distance hand surface (capsules for the phalanges, metacarpals, ellipsoids for the palm
  pad, thenar, hypothenar and wrist, smooth unions; :class:`_HandSDF`);
- ``weights`` (V, 16): smooth linear-blend-skinning weights, rows sum to 1;
- ``J_regressor`` (16, V): sparse non-negative rows summing to 1, fitted so that
  ``J_regressor @ (v_template + shapedirs·β)`` reproduces the skeleton's joints for all β;
- ``shapedirs`` (V, 3, 10): PCA of a documented adult population (:data:`SHAPE_FACTORS`), in
  order of variance, scaled so that β ~ N(0, I) reproduces the population. Each member is the
  template in correspondence: every bone gets an affine map (the palm scales about the wrist in
  length, breadth and thickness; each phalanx keeps its direction, scales its length along itself
  and its girth across, and hangs from its moved parent joint), blended per vertex with the
  skinning weights (:func:`_bone_affines`, :func:`_deform`). β₀ is overall size
  (β₀ = +2 is a hand about 2 × 1.1 cm longer), the others mix thumb length, palm breadth and
  thickness, finger and pinky length, girth, the index:ring ratio and phalanx proportions;
- ``posedirs`` (V, 3, 135): **all zero** — the open model has no pose-corrective blend shapes,
  so it deforms by plain linear blend skinning (kept for MANO's layout);
- ``hands_components`` (45, 45), rows = orthonormal principal directions ordered by variance,
  and ``hands_mean`` (45,), both learned from :func:`sample_pose_population`, a documented
  joint-limit-respecting distribution of finger articulations;
- vertex ids: ``tip_ids`` (thumb, index, middle, ring, pinky; the fingertip apex),
  ``dorsal_tip_ids`` (nail-side vertex of each distal phalanx), ``back_vertex_id`` (back of the
  hand over the middle metacarpal), ``wrist_vertex_id`` (dorsal side of the wrist), and
  ``sensor_vertex_ids`` = the five dorsal tips + back + wrist (the ``vihand7`` glove order).

Anatomical joint axes: every finger joint has a flexion axis ``n × d`` (``d`` the direction of
the bone the joint moves, ``n`` the nail/dorsal normal), an abduction axis ``n`` and a twist axis
``d``. For the four fingers the flexion axis is +z up to the few degrees by which the fingers fan
out, so a positive z-rotation curls a finger towards the palm; positive abduction moves a finger
towards the thumb side. An articulation ``(flex, abd, twist)`` of a joint is the axis-angle
``flex·a_flex + abd·a_abd + twist·a_twist`` in its parent's frame
(:func:`anatomical_to_axis_angle`), so joint limits are boxes in the joint's axis-angle
coordinates (and their mean, ``hands_mean``, stays inside).

Everything random uses ``numpy.random.PCG64(seed).random`` uniforms only (normals by
Box–Muller), so the output does not depend on numpy's distribution algorithms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import nnls

from handpose.handmodel.conventions import MANO_PARENTS

__all__ = [
    "OPEN_HAND_VERSION",
    "KINTREE_ROOT",
    "DIGITS",
    "DIGIT_JOINTS",
    "TIP_ORDER",
    "SHAPE_FACTORS",
    "HandSkeleton",
    "template_skeleton",
    "joint_axes",
    "joint_limits",
    "anatomical_to_axis_angle",
    "axis_angle_to_anatomical",
    "sample_pose_population",
    "signed_volume",
    "build_open_hand",
]

OPEN_HAND_VERSION = "1.0.0"

# --- Frame ------------------------------------------------------------------------------------
DISTAL = np.array([-1.0, 0.0, 0.0])
RADIAL = np.array([0.0, 0.0, 1.0])
DORSAL = np.array([0.0, 1.0, 0.0])

# Digits in MANO order and the joints of each chain (base, middle, distal joint).
DIGITS: tuple[str, ...] = ("index", "middle", "pinky", "ring", "thumb")
DIGIT_JOINTS: dict[str, tuple[int, int, int]] = {
    "index": (1, 2, 3),
    "middle": (4, 5, 6),
    "pinky": (7, 8, 9),
    "ring": (10, 11, 12),
    "thumb": (13, 14, 15),
}
# Fingertip order used by tip_ids (as in the MANO tip presets of conventions.TIP_PRESETS).
TIP_ORDER: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")


def _abc(a: float, b: float, c: float) -> np.ndarray:
    """World point from (distal, radial, dorsal) coordinates."""
    return a * DISTAL + b * RADIAL + c * DORSAL


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _orth(v: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Unit component of ``v`` orthogonal to the unit vector ``d``."""
    return _unit(v - np.dot(v, d) * d)


# --- Template anatomy ---------------------------------------------------------------------------
# Adult proportions, joint centre to joint centre (the last length runs from the distal
# interphalangeal joint to the fingertip apex, pad included). Wrist joint → middle fingertip
# = 0.0895 + 0.0955 = 0.185 m; palm 8 cm wide across the MCPs (joint spacing 19 mm + soft
# tissue). Values chosen within the ranges of adult hand anthropometry (hand length 17–20 cm,
# index:ring length about 0.96, pinky tip at the ring DIP crease, thumb tip near the index
# MCP–PIP level when the thumb lies beside the palm).


@dataclass(frozen=True)
class DigitSpec:
    """One digit of the template in (distal, radial, dorsal) coordinates, metres/degrees.

    base: position of its first joint (finger MCP or thumb CMC).
    angles: per segment (radial angle, palmar angle): the segment direction is DISTAL rotated by
        ``radial`` towards RADIAL, then tilted by ``palmar`` towards the palm.
    lengths: joint-to-joint lengths of the 3 segments (the last to the tip apex).
    radii: skin radius at the 3 joints and of the fingertip sphere.
    nail_roll: angle (degrees) from DORSAL towards RADIAL of the nail normal (0 for fingers; the
        thumb's nail faces mostly radially).
    """

    base: tuple[float, float, float]
    angles: tuple[tuple[float, float], ...]
    lengths: tuple[float, float, float]
    radii: tuple[float, float, float, float]
    nail_roll: float = 0.0


def _straight(radial: float) -> tuple[tuple[float, float], ...]:
    return ((radial, 0.0),) * 3


TEMPLATE_DIGITS: dict[str, DigitSpec] = {
    "index": DigitSpec(
        (0.0855, 0.0265, -0.002), _straight(6.0), (0.0400, 0.0240, 0.0215),
        (0.0098, 0.0090, 0.0080, 0.0072),
    ),
    "middle": DigitSpec(
        (0.0895, 0.0075, 0.000), _straight(1.0), (0.0450, 0.0280, 0.0225),
        (0.0100, 0.0092, 0.0082, 0.0074),
    ),
    "pinky": DigitSpec(
        (0.0770, -0.0300, -0.004), _straight(-12.0), (0.0330, 0.0195, 0.0195),
        (0.0085, 0.0077, 0.0069, 0.0063),
    ),
    "ring": DigitSpec(
        (0.0860, -0.0115, -0.001), _straight(-5.0), (0.0420, 0.0270, 0.0220),
        (0.0094, 0.0086, 0.0077, 0.0070),
    ),
    "thumb": DigitSpec(
        (0.0280, 0.0270, -0.0100), ((38.0, 6.0), (25.0, 0.0), (15.0, -5.0)),
        (0.0440, 0.0310, 0.0270), (0.0125, 0.0112, 0.0100, 0.0088), nail_roll=60.0,
    ),
}  # fmt: skip


@dataclass
class HandSkeleton:
    """Joint centres and per-digit geometry of a hand (world frame, metres).

    joints: (16, 3) MANO order. For each digit: ``chain`` (4, 3) = its 3 joints + tip apex,
    ``dirs`` (3, 3) unit segment directions, ``nails`` (3, 3) unit nail normals (orthogonal to
    ``dirs``), ``radii`` (4,).
    """

    joints: np.ndarray
    chain: dict[str, np.ndarray] = field(default_factory=dict)
    dirs: dict[str, np.ndarray] = field(default_factory=dict)
    nails: dict[str, np.ndarray] = field(default_factory=dict)
    radii: dict[str, np.ndarray] = field(default_factory=dict)


def template_skeleton() -> HandSkeleton:
    """The template hand's skeleton (flat right hand, frame as in the module docstring)."""
    joints = np.zeros((16, 3))
    skel = HandSkeleton(joints=joints)
    for name in DIGITS:
        spec = TEMPLATE_DIGITS[name]
        pts = [_abc(*spec.base)]
        dirs, nails = [], []
        roll = math.radians(spec.nail_roll)
        nail_ref = math.cos(roll) * DORSAL + math.sin(roll) * RADIAL
        for (rad, pal), length in zip(spec.angles, spec.lengths):
            r, p = math.radians(rad), math.radians(pal)
            d = math.cos(p) * (math.cos(r) * DISTAL + math.sin(r) * RADIAL) - math.sin(p) * DORSAL
            d = _unit(d)
            dirs.append(d)
            nails.append(_orth(nail_ref, d))
            pts.append(pts[-1] + length * d)
        chain = np.stack(pts)
        joints[list(DIGIT_JOINTS[name])] = chain[:3]
        skel.chain[name] = chain
        skel.dirs[name] = np.stack(dirs)
        skel.nails[name] = np.stack(nails)
        skel.radii[name] = np.array(spec.radii, dtype=np.float64)
    return skel


# --- Signed distance function of the hand surface -------------------------------------------------
def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (C¹), blending over a band of width ``k`` (Quilez)."""
    h = np.clip(k - np.abs(a - b), 0.0, None) / k
    return np.minimum(a, b) - h * h * k * 0.25


def _round_cones(p: np.ndarray, a: np.ndarray, b: np.ndarray, ra, rb) -> np.ndarray:
    """Distances (N, M) from points (N, 3) to M capsules with linearly tapered radius."""
    ab = b - a  # (M, 3)
    ap = p[:, None, :] - a[None]  # (N, M, 3)
    t = np.clip(np.einsum("nmi,mi->nm", ap, ab) / np.einsum("mi,mi->m", ab, ab), 0.0, 1.0)
    closest = ap - t[..., None] * ab[None]
    return np.linalg.norm(closest, axis=-1) - (ra + t * (rb - ra))


def _ellipsoid(p: np.ndarray, centre: np.ndarray, axes: np.ndarray, radii) -> np.ndarray:
    """Approximate distance to an ellipsoid (rows of ``axes`` = its unit axes) (Quilez)."""
    q = (p - centre) @ axes.T
    r = np.asarray(radii)
    k0 = np.linalg.norm(q / r, axis=-1)
    k1 = np.linalg.norm(q / (r * r), axis=-1)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)


class _HandSDF:
    """Smooth signed distance (approximate, metres) of the template hand; negative inside."""

    def __init__(self, skel: HandSkeleton) -> None:
        fingers = ("index", "middle", "ring", "pinky")
        # Metacarpal bones from the carpus to each knuckle make the back of the hand and the
        # knuckle ridge; a palmar pad, thenar and hypothenar eminences and a wrist make the rest.
        bases = {
            "index": _abc(0.020, 0.013, 0.001),
            "middle": _abc(0.020, 0.004, 0.002),
            "ring": _abc(0.021, -0.006, 0.001),
            "pinky": _abc(0.024, -0.015, -0.001),
        }
        self.mc_a = np.stack([bases[f] for f in fingers])
        self.mc_b = np.stack([skel.chain[f][0] for f in fingers])
        self.mc_ra = np.full(4, 0.0095)
        self.mc_rb = np.array([skel.radii[f][0] + 0.0015 for f in fingers])
        th = skel.chain["thumb"]
        tdir = skel.dirs["thumb"][0]
        tside = _unit(np.cross(tdir, skel.nails["thumb"][0]))
        self.thenar = (
            th[0] + 0.42 * (th[1] - th[0]) - 0.004 * DORSAL - 0.005 * RADIAL,
            np.stack([tdir, tside, np.cross(tdir, tside)]),
            (0.030, 0.016, 0.015),
        )
        frame = np.stack([DISTAL, RADIAL, DORSAL])
        self.pad = (_abc(0.052, -0.002, -0.005), frame, (0.046, 0.034, 0.0125))
        self.hypothenar = (_abc(0.042, -0.027, -0.005), frame, (0.034, 0.012, 0.013))
        self.wrist = (_abc(0.004, 0.0, -0.001), frame, (0.036, 0.0285, 0.0175))
        self.wrist_cut = -0.022  # the stump ends 22 mm proximal of the wrist joint (a = −0.022)
        # Interdigital webs: a capsule across each crotch rounds it (a U-turn of the skin between
        # neighbouring fingers, about a third of the way up the proximal phalanges).
        pairs = (("index", "middle"), ("middle", "ring"), ("ring", "pinky"))
        wa, wb = [], []
        for f1, f2 in pairs:
            wa.append(skel.chain[f1][0] + 0.011 * skel.dirs[f1][0] - 0.002 * DORSAL)
            wb.append(skel.chain[f2][0] + 0.011 * skel.dirs[f2][0] - 0.002 * DORSAL)
        self.web_a, self.web_b = np.stack(wa), np.stack(wb)
        self.web_r = np.full(3, 0.0060)
        # Digits: three tapered capsules each, ending in the fingertip sphere.
        self.digits = {}
        for name in DIGITS:
            ch, r = skel.chain[name], skel.radii[name]
            end = ch[3] - r[3] * skel.dirs[name][2]
            a = np.stack([ch[0], ch[1], ch[2]])
            b = np.stack([ch[1], ch[2], end])
            self.digits[name] = (a, b, r[:3], np.array([r[1], r[2], r[3]]))

    def palm(self, p: np.ndarray) -> np.ndarray:
        mc = _round_cones(p, self.mc_a, self.mc_b, self.mc_ra, self.mc_rb)
        d = mc[:, 0]
        for m in range(1, 4):
            d = _smin(d, mc[:, m], 0.014)
        d = _smin(d, _ellipsoid(p, *self.pad), 0.012)
        d = _smin(d, _ellipsoid(p, *self.hypothenar), 0.010)
        d = _smin(d, _ellipsoid(p, *self.thenar), 0.012)
        d = _smin(d, _ellipsoid(p, *self.wrist), 0.014)
        webs = _round_cones(p, self.web_a, self.web_b, self.web_r, self.web_r).min(1)
        d = _smin(d, webs, 0.006)
        # Cut the forearm stump with a plane, rounding the rim (smooth intersection).
        plane = -(p @ DISTAL) + self.wrist_cut
        return -_smin(-d, -plane, 0.008)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        palm = self.palm(p)
        out = None
        for name in DIGITS:
            a, b, ra, rb = self.digits[name]
            digit = _round_cones(p, a, b, ra, rb).min(1)
            # Each digit blends with the palm only (not with its neighbours): webs, no webbing.
            blended = _smin(palm, digit, 0.012 if name == "thumb" else 0.007)
            out = blended if out is None else np.minimum(out, blended)
        return out

    def gradient(self, p: np.ndarray, h: float = 1e-5) -> np.ndarray:
        g = np.empty_like(p)
        for i in range(3):
            e = np.zeros(3)
            e[i] = h
            g[:, i] = (self(p + e) - self(p - e)) / (2 * h)
        return g

    def project(self, p: np.ndarray, steps: int = 3) -> np.ndarray:
        """Newton steps ``p ← p − f ∇f/|∇f|²`` onto the zero level set."""
        for _ in range(steps):
            f = self(p)
            g = self.gradient(p)
            p = p - (f / np.maximum(np.einsum("ni,ni->n", g, g), 1e-12))[:, None] * g
        return p


# --- Mesh topology: a palm lattice with five tubes ------------------------------------------------
# The palm is the surface of an NX×NZ×NY box lattice: i along the palm (0 = wrist end, NX =
# knuckles), j across (0 = ulnar/pinky edge, NZ = radial/index edge), k through (0 = palmar,
# NY = dorsal). Each finger replaces a 3×3 block of the knuckle face (i = NX) by a tube of
# 12-vertex rings ending in a fingertip apex; the thumb replaces a 3×3 block of the radial face
# (j = NZ). The two-column strips between the finger blocks are the interdigital webs.
NX, NZ, NY = 14, 18, 3
RING = 12
FINGER_J0 = {"pinky": 0, "ring": 5, "middle": 10, "index": 15}
THUMB_I0 = 7
RING_SPACING = 0.0062  # target distance between rings along a digit, metres
WEB_LEVEL = 0.016  # distance of the interdigital webs beyond the MCP joints, metres


@dataclass
class _Topology:
    faces: np.ndarray  # (F, 3)
    edges: np.ndarray  # (E, 2) edges of the quad cage (no quad diagonals)
    n_palm: int
    lattice: np.ndarray  # (n_palm, 3) (i, j, k) of palm vertices
    rings: dict[str, list[np.ndarray]]  # per digit: ring 0 (palm ids), rings 1.. , each (12,)
    apex: dict[str, int]
    num_vertices: int


def _block_loop(fixed: str, c0: int) -> list[tuple[int, int, int]]:
    """The 12 boundary lattice points of a 3×3 block, in loop order.

    Finger blocks lie on the knuckle face (i = NX, columns c0..c0+3); the loop starts at the
    ulnar-palmar corner and runs palmar → radial → dorsal → ulnar. The thumb block lies on the
    radial face (j = NZ, rows c0..c0+3); the loop starts at the proximal-palmar corner and runs
    palmar → distal → dorsal → proximal.
    """
    uv = [(t, 0) for t in range(3)] + [(3, t) for t in range(3)]
    uv += [(3 - t, 3) for t in range(3)] + [(0, 3 - t) for t in range(3)]
    if fixed == "i":
        return [(NX, c0 + u, k) for u, k in uv]
    return [(c0 + u, NZ, k) for u, k in uv]


def _build_topology(n_rings: dict[str, int]) -> _Topology:
    removed = set()
    for j0 in FINGER_J0.values():
        removed |= {(NX, j0 + a, k) for a in (1, 2) for k in (1, 2)}
    removed |= {(THUMB_I0 + a, NZ, k) for a in (1, 2) for k in (1, 2)}
    finger_quads = {(j0 + a, k) for j0 in FINGER_J0.values() for a in range(3) for k in range(3)}
    thumb_quads = {(THUMB_I0 + a, k) for a in range(3) for k in range(3)}

    index: dict[tuple[int, int, int], int] = {}
    lattice = []
    for i in range(NX + 1):
        for j in range(NZ + 1):
            for k in range(NY + 1):
                on_surface = i in (0, NX) or j in (0, NZ) or k in (0, NY)
                if on_surface and (i, j, k) not in removed:
                    index[(i, j, k)] = len(lattice)
                    lattice.append((i, j, k))
    quads = []

    def quad(*pts):
        quads.append([index[p] for p in pts])

    for j in range(NZ):
        for k in range(NY):
            quad((0, j, k), (0, j + 1, k), (0, j + 1, k + 1), (0, j, k + 1))
            if (j, k) not in finger_quads:
                quad((NX, j, k), (NX, j + 1, k), (NX, j + 1, k + 1), (NX, j, k + 1))
    for i in range(NX):
        for k in range(NY):
            quad((i, 0, k), (i + 1, 0, k), (i + 1, 0, k + 1), (i, 0, k + 1))
            if (i, k) not in thumb_quads:
                quad((i, NZ, k), (i + 1, NZ, k), (i + 1, NZ, k + 1), (i, NZ, k + 1))
        for j in range(NZ):
            quad((i, j, 0), (i + 1, j, 0), (i + 1, j + 1, 0), (i, j + 1, 0))
            quad((i, j, NY), (i + 1, j, NY), (i + 1, j + 1, NY), (i, j + 1, NY))

    n = len(lattice)
    rings: dict[str, list[np.ndarray]] = {}
    apex: dict[str, int] = {}
    tris = []
    for name in DIGITS:
        loop = _block_loop("j", THUMB_I0) if name == "thumb" else _block_loop("i", FINGER_J0[name])
        rs = [np.array([index[p] for p in loop])]
        for _ in range(n_rings[name]):
            rs.append(np.arange(n, n + RING))
            n += RING
        apex[name] = n
        n += 1
        for r0, r1 in zip(rs[:-1], rs[1:]):
            for m in range(RING):
                m1 = (m + 1) % RING
                quads.append([r0[m], r0[m1], r1[m1], r1[m]])
        last = rs[-1]
        for m in range(RING):
            tris.append([last[m], last[(m + 1) % RING], apex[name]])
        rings[name] = rs

    q = np.array(quads)
    # Split each quad along its (0, 2) diagonal: a fixed rule keeps the topology independent of
    # floating point.
    t = np.array(tris)
    faces = np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]], t])
    edges = np.concatenate([q[:, [0, 1]], q[:, [1, 2]], q[:, [2, 3]], q[:, [3, 0]], t[:, [0, 2]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    return _Topology(faces, edges, len(lattice), np.array(lattice), rings, apex, n)


def _orient_faces(faces: np.ndarray) -> np.ndarray:
    """Flip faces so that every shared edge is used in opposite directions (BFS)."""
    faces = faces.copy()
    edge_faces: dict[tuple[int, int], list[int]] = {}
    for fi, f in enumerate(faces):
        for a, b in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0])):
            edge_faces.setdefault((min(a, b), max(a, b)), []).append(fi)
    for e, fs in edge_faces.items():
        if len(fs) != 2:
            raise RuntimeError(f"open hand mesh is not a closed manifold at edge {e}")
    seen = np.zeros(len(faces), dtype=bool)
    seen[0] = True
    stack = [0]
    while stack:
        fi = stack.pop()
        f = faces[fi]
        for a, b in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0])):
            for g in edge_faces[(min(a, b), max(a, b))]:
                if g == fi or seen[g]:
                    continue
                ga = list(faces[g])
                # Consistent orientation: the neighbour uses the edge as (b, a).
                same = any(ga[t] == a and ga[(t + 1) % 3] == b for t in range(3))
                if same:
                    faces[g] = faces[g][::-1]
                seen[g] = True
                stack.append(g)
    if not seen.all():
        raise RuntimeError("open hand mesh has more than one connected component")
    return faces


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Signed volume (m³) enclosed by a closed mesh; positive for outward-oriented faces."""
    t = vertices[faces]
    return float(np.einsum("fi,fi->f", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6.0)


# --- Mesh geometry -----------------------------------------------------------------------------
def _digit_profile(skel: HandSkeleton, name: str):
    """Arc-length description of a digit's tube: axis points, radii, and the tip cap."""
    ch, r, dirs = skel.chain[name], skel.radii[name], skel.dirs[name]
    end = ch[3] - r[3] * dirs[2]  # centre of the fingertip sphere
    knots = np.stack([ch[0], ch[1], ch[2], end])
    seg = np.linalg.norm(np.diff(knots, axis=0), axis=1)
    s_knots = np.concatenate([[0.0], np.cumsum(seg)])
    return knots, s_knots, np.array([r[0], r[1], r[2], r[3]])


def _axis_at(skel: HandSkeleton, name: str, s: float):
    """Axis point, segment index and skin radius at arc length ``s`` (s may exceed the cap start:
    the tip is a hemisphere of the last radius)."""
    knots, s_knots, radii = _digit_profile(skel, name)
    s_cap = s_knots[-1]
    if s >= s_cap:
        return knots[-1], 2, radii[-1]
    seg = int(np.clip(np.searchsorted(s_knots, s, side="right") - 1, 0, 2))
    t = (s - s_knots[seg]) / (s_knots[seg + 1] - s_knots[seg])
    return (
        knots[seg] + t * (knots[seg + 1] - knots[seg]),
        seg,
        radii[seg] + t * (radii[seg + 1] - radii[seg]),
    )


def _tube_length(skel: HandSkeleton, name: str, s0: float) -> float:
    _, s_knots, radii = _digit_profile(skel, name)
    return s_knots[-1] - s0 + 0.5 * math.pi * radii[-1]


def _ring_positions(skel: HandSkeleton, name: str, s0: float, n: int, phis: np.ndarray):
    """Initial positions of rings 1..n of a digit tube starting at arc length ``s0``."""
    _, s_knots, radii = _digit_profile(skel, name)
    s_cap = s_knots[-1]
    total = _tube_length(skel, name, s0)
    out = []
    for r in range(1, n + 1):
        t = s0 + r * total / (n + 1)  # arc length along the skin profile
        if t <= s_cap:
            c, seg, rad = _axis_at(skel, name, t)
        else:
            theta = (t - s_cap) / radii[-1]
            c, seg, _ = _axis_at(skel, name, s_cap)
            c = c + radii[-1] * math.sin(theta) * skel.dirs[name][2]
            seg, rad = 2, radii[-1] * math.cos(theta)
        ey = skel.nails[name][seg]
        ex = np.cross(ey, skel.dirs[name][seg])
        out.append(c + rad * (np.cos(phis)[:, None] * ex + np.sin(phis)[:, None] * ey))
    return np.stack(out)


def _ring_counts(skel: HandSkeleton) -> dict[str, int]:
    counts = {}
    for name in DIGITS:
        s0 = _thumb_s0(skel) if name == "thumb" else WEB_LEVEL
        counts[name] = int(round(_tube_length(skel, name, s0) / RING_SPACING)) - 1
    return counts


def _thumb_s0(skel: HandSkeleton) -> float:
    """Arc length along the thumb where its tube leaves the palm (the ring-0 level)."""
    return 0.40 * float(np.linalg.norm(skel.chain["thumb"][1] - skel.chain["thumb"][0]))


def _palm_initial(lattice: np.ndarray, knuckle: dict) -> np.ndarray:
    """Initial palm lattice positions: interpolate between the wrist section and the knuckles.

    Only a rough, fold-free start: relaxation onto the surface makes the shape.
    """
    a_w, half_w, half_h = -0.022, 0.026, 0.016
    pos = np.zeros((len(lattice), 3))
    for n, (i, j, k) in enumerate(lattice):
        wrist = _abc(a_w, half_w * (2.0 * j / NZ - 1.0), half_h * (2.0 * k / NY - 1.0))
        if i == 0:
            pos[n] = wrist
        else:
            # Side lattice points (j or k on the boundary) move towards their knuckle-face twin.
            u = i / NX
            pos[n] = (1 - u) * wrist + u * knuckle[(j, k)]
    return pos


def _initial_positions(skel: HandSkeleton, topo: _Topology) -> np.ndarray:
    pos = np.zeros((topo.num_vertices, 3))
    # Knuckle face: each finger's ring 0 circles its MCP joint. Where a neighbouring finger is
    # beside it, the ring rises to the web level on that side (a saddle), so that the two
    # fingers' rings do not overlap between the knuckles.
    knuckle = {}
    phis = np.radians(225.0 + 30.0 * np.arange(RING))
    order = sorted(FINGER_J0, key=FINGER_J0.get)  # ulnar → radial
    for name, j0 in FINGER_J0.items():
        loop = _block_loop("i", j0)
        c, d = skel.chain[name][0], skel.dirs[name][0]
        ey = skel.nails[name][0]
        ex = np.cross(ey, d)
        r = skel.radii[name][0]
        pos_in_order = order.index(name)
        for m, (_, j, k) in enumerate(loop):
            lateral = math.cos(phis[m])  # > 0 radial side, < 0 ulnar side
            has_neighbour = pos_in_order < 3 if lateral > 0 else pos_in_order > 0
            rise = WEB_LEVEL * min(1.0, 1.5 * abs(lateral)) ** 2 if has_neighbour else 0.0
            knuckle[(j, k)] = c + rise * d + r * (math.cos(phis[m]) * ex + math.sin(phis[m]) * ey)
    # The middle column of each web strip goes over the crotch between its two fingers.
    for j in range(1, NZ):
        if (j, 0) not in knuckle:
            for k in range(NY + 1):
                mid = 0.5 * (knuckle[(j - 1, k)] + knuckle[(j + 1, k)])
                knuckle[(j, k)] = mid + 0.006 * DISTAL + 0.004 * (k - 1.5) / 1.5 * DORSAL
    pos[: topo.n_palm] = _palm_initial(topo.lattice, knuckle)
    for name in DIGITS:
        rs = topo.rings[name]
        if name == "thumb":
            s0 = _thumb_s0(skel)
            c, seg, _ = _axis_at(skel, name, s0)
            ey = skel.nails[name][seg]
            ex = np.cross(ey, skel.dirs[name][seg])
            rel = pos[rs[0]] - c
            ang = np.unwrap(np.arctan2(rel @ ey, rel @ ex))
            step = math.copysign(2 * math.pi / RING, ang[-1] - ang[0])
            ph = ang[0] + step * np.arange(RING)
        else:
            s0, ph = WEB_LEVEL, phis
        pos[np.concatenate(rs[1:])] = _ring_positions(skel, name, s0, len(rs) - 1, ph).reshape(
            -1, 3
        )
        pos[topo.apex[name]] = skel.chain[name][3]
    return pos


def _neighbours(e: np.ndarray, n: int):
    rows = np.concatenate([e[:, 0], e[:, 1]])
    cols = np.concatenate([e[:, 1], e[:, 0]])
    deg = np.bincount(rows, minlength=n).astype(np.float64)
    return rows, cols, deg


def _relax(pos: np.ndarray, edges: np.ndarray, sdf: _HandSDF, iters: int) -> np.ndarray:
    """Tangential Laplacian smoothing alternating with projection onto the surface.

    The Laplacian uses the quad cage's edges (not the triangulation's diagonals), which keeps
    the quad grid unsheared and the rings evenly spaced up to the fingertip apex.
    """
    rows, cols, deg = _neighbours(edges, len(pos))
    pos = sdf.project(pos, steps=4)
    for _ in range(iters):
        mean = np.zeros_like(pos)
        np.add.at(mean, rows, pos[cols])
        lap = mean / deg[:, None] - pos
        nrm = _unit(sdf.gradient(pos))
        lap -= np.einsum("ni,ni->n", lap, nrm)[:, None] * nrm
        pos = sdf.project(pos + 0.6 * lap, steps=2)
    return sdf.project(pos, steps=4)


# --- Skinning weights ----------------------------------------------------------------------------
# Half-widths (metres) of the blend zones centred on each digit's three joints: the MCP/CMC zone
# spreads over the knuckle (and the thenar eminence for the thumb), the interphalangeal ones
# over the joint's skin.
BLEND_HALF_WIDTHS = {"finger": (0.012, 0.008, 0.006), "thumb": (0.020, 0.010, 0.007)}


def _smoothstep(t: np.ndarray) -> np.ndarray:
    """0 for t ≤ −1, 1 for t ≥ 1, C¹ cubic in between."""
    u = np.clip(0.5 * (t + 1.0), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _chain_coordinates(x: np.ndarray, chain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arc length ``s`` and distance ``d`` of points (N, 3) along a digit's polyline (4, 3).

    The first segment is extended backwards (s < 0 in the palm) and the last one forwards.
    """
    seg = np.diff(chain, axis=0)
    length = np.linalg.norm(seg, axis=1)
    u = seg / length[:, None]
    s0 = np.concatenate([[0.0], np.cumsum(length)])
    best_d = np.full(len(x), np.inf)
    best_s = np.zeros(len(x))
    for k in range(3):
        t = (x - chain[k]) @ u[k]
        lo = -np.inf if k == 0 else 0.0
        hi = np.inf if k == 2 else length[k]
        t = np.clip(t, lo, hi)
        d = np.linalg.norm(x - chain[k] - t[:, None] * u[k], axis=1)
        better = d < best_d
        best_d = np.where(better, d, best_d)
        best_s = np.where(better, s0[k] + t, best_s)
    return best_s, best_d


def _skinning_weights(
    pos: np.ndarray, skel: HandSkeleton, topo: _Topology, smooth_iters: int = 2
) -> np.ndarray:
    """Linear-blend-skinning weights (V, 16), rows summing to 1.

    Along each digit the weight passes from the parent bone to the child bone through a
    smoothstep centred on the joint (half-widths :data:`BLEND_HALF_WIDTHS`). Tube vertices
    belong to their digit; palm vertices belong softly to the digits whose axes are near
    (Gaussian in the distance to the axis, scale 1.2 × the digit's base radius, competing with
    a constant 'palm' term), which splits the knuckles and the webs between neighbours and lets
    the thenar eminence follow the thumb. Two uniform Laplacian passes smooth the result.
    """
    V = len(pos)
    W = np.zeros((V, 16))
    member = np.zeros((V, len(DIGITS)))
    profiles = []
    for di, name in enumerate(DIGITS):
        s, d = _chain_coordinates(pos, skel.chain[name])
        tau = 1.2 * skel.radii[name][0]
        member[:, di] = np.exp(-((d / tau) ** 2))
        lengths = np.linalg.norm(np.diff(skel.chain[name], axis=0), axis=1)
        h = BLEND_HALF_WIDTHS["thumb" if name == "thumb" else "finger"]
        b1, b2 = lengths[0], lengths[0] + lengths[1]
        s_root = _smoothstep(s / h[0])
        s_1 = _smoothstep((s - b1) / h[1])
        s_2 = _smoothstep((s - b2) / h[2])
        profiles.append(np.stack([1.0 - s_root, s_root - s_1, s_1 - s_2, s_2], axis=1))
    palm_term = math.exp(-(1.8**2))
    member = member / (member.sum(1, keepdims=True) + palm_term)
    for di, name in enumerate(DIGITS):
        # Rings 1.. and the apex belong to the digit; ring 0 (shared with the palm) stays soft.
        tube = np.concatenate(topo.rings[name][1:] + [np.array([topo.apex[name]])])
        member[tube] = 0.0
        member[tube, di] = 1.0
    W[:, 0] = 1.0 - member.sum(1)
    for di, name in enumerate(DIGITS):
        prof = profiles[di]
        W[:, 0] += member[:, di] * prof[:, 0]
        for k, j in enumerate(DIGIT_JOINTS[name]):
            W[:, j] += member[:, di] * prof[:, k + 1]
    rows, cols, deg = _neighbours(topo.edges, V)
    for _ in range(smooth_iters):
        acc = np.zeros_like(W)
        np.add.at(acc, rows, W[cols])
        W = 0.5 * W + 0.5 * acc / deg[:, None]
    W = np.clip(W, 0.0, None)
    return W / W.sum(1, keepdims=True)


# --- Anatomical joint axes and limits -------------------------------------------------------------
def joint_axes(skel: HandSkeleton | None = None) -> np.ndarray:
    """Anatomical axes (16, 3, 3) of every joint in the rest frame: rows = flexion, abduction,
    twist unit axes (joint 0, the wrist, gets the identity).

    Flexion axis ``n × d`` (d: direction of the bone the joint moves, n: its nail normal):
    positive flexion curls the digit towards its palmar side. Abduction axis ``n``: positive
    abduction turns the digit towards the thumb side (fingers). Twist axis ``d``.
    """
    skel = template_skeleton() if skel is None else skel
    axes = np.tile(np.eye(3), (16, 1, 1))
    for name in DIGITS:
        for k, j in enumerate(DIGIT_JOINTS[name]):
            d, n = skel.dirs[name][k], skel.nails[name][k]
            axes[j] = np.stack([np.cross(n, d), n, d])
    return axes


def anatomical_to_axis_angle(angles: np.ndarray, axes: np.ndarray | None = None) -> np.ndarray:
    """(…, 15, 3) (flexion, abduction, twist) in radians → (…, 45) axis-angle (full articulation).

    Each joint's axis-angle is ``flex·a_flex + abd·a_abd + twist·a_twist`` in its parent's frame,
    with the axes of :func:`joint_axes` (joints 1..15).
    """
    axes = joint_axes() if axes is None else axes
    aa = np.einsum("...jk,jki->...ji", np.asarray(angles, dtype=np.float64), axes[1:])
    return aa.reshape(aa.shape[:-2] + (45,))


def axis_angle_to_anatomical(pose: np.ndarray, axes: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`anatomical_to_axis_angle`: (…, 45) → (…, 15, 3) radians."""
    axes = joint_axes() if axes is None else axes
    aa = np.asarray(pose, dtype=np.float64).reshape(np.shape(pose)[:-1] + (15, 3))
    return np.einsum("...ji,jki->...jk", aa, axes[1:])


# Joint limits in degrees, (min, max) of (flexion, abduction, twist), for an adult hand's active
# range of motion (finger MCP flexion ~90°, PIP ~110°, DIP ~80°, MCP hyperextension ~20–30°,
# thumb IP hyperextension ~20°; abduction positive towards the thumb side for fingers). For the
# thumb CMC, positive abduction lifts the thumb off the palm (palmar abduction) and negative
# twist pronates it (the pad turns towards the fingers in opposition).
_LIMITS_DEG = {
    "mcp": ((-25.0, 90.0), (-20.0, 20.0), (-10.0, 10.0)),
    "pip": ((-5.0, 110.0), (-5.0, 5.0), (-5.0, 5.0)),
    "dip": ((-10.0, 85.0), (-5.0, 5.0), (-5.0, 5.0)),
    "thumb_cmc": ((-20.0, 55.0), (-30.0, 40.0), (-45.0, 20.0)),
    "thumb_mcp": ((-10.0, 60.0), (-10.0, 10.0), (-10.0, 15.0)),
    "thumb_ip": ((-20.0, 85.0), (-5.0, 5.0), (-5.0, 5.0)),
}
_MCP_ABDUCTION_DEG = {
    "index": (-15.0, 25.0),
    "middle": (-15.0, 15.0),
    "ring": (-20.0, 15.0),
    "pinky": (-30.0, 15.0),
}


def joint_limits() -> np.ndarray:
    """Joint limits (15, 3, 2) in radians: joints 1..15 in MANO order × (flexion, abduction,
    twist) × (min, max), as used by :func:`sample_pose_population`."""
    lim = np.zeros((15, 3, 2))
    for name in DIGITS:
        kinds = ("thumb_cmc", "thumb_mcp", "thumb_ip") if name == "thumb" else ("mcp", "pip", "dip")
        for k, j in enumerate(DIGIT_JOINTS[name]):
            lim[j - 1] = np.array(_LIMITS_DEG[kinds[k]])
        if name != "thumb":
            lim[DIGIT_JOINTS[name][0] - 1, 1] = _MCP_ABDUCTION_DEG[name]
    return np.radians(lim)


# --- Random numbers ------------------------------------------------------------------------------
def _uniform(seed: int, shape) -> np.ndarray:
    """Uniform [0, 1) doubles from PCG64 (a stream numpy keeps stable across versions)."""
    return np.random.Generator(np.random.PCG64(seed)).random(shape)


def _normal(seed: int, shape) -> np.ndarray:
    """Standard normals by Box–Muller from :func:`_uniform`."""
    n = int(np.prod(shape))
    u = _uniform(seed, (2, (n + 1) // 2))
    r = np.sqrt(-2.0 * np.log1p(-u[0]))
    z = np.concatenate([r * np.cos(2 * np.pi * u[1]), r * np.sin(2 * np.pi * u[1])])
    return z[:n].reshape(shape)


# --- Shape population ----------------------------------------------------------------------------
# Anatomical factors of the adult population, each a log-normal multiplier with the given
# standard deviation of its logarithm (so 0.055 ≈ 5.5 %). Hand length then has a coefficient of
# variation of about 6.5 % (≈ 1.2 cm at 18.5 cm, the pooled spread of adult women and men), palm
# breadth about 6 %, finger girth about 9 %.
SHAPE_FACTORS: tuple[tuple[str, float, str], ...] = (
    ("size", 0.055, "uniform scale of the whole hand"),
    ("palm_length", 0.030, "palm (wrist to knuckles) length"),
    ("palm_width", 0.040, "palm breadth: knuckle spacing and palm width"),
    ("palm_thickness", 0.070, "palm thickness (dorsal–palmar)"),
    ("finger_length", 0.035, "length of the four fingers"),
    ("index_ring", 0.030, "index vs ring finger length (×e^{x/2} index, ×e^{−x/2} ring)"),
    ("pinky_length", 0.050, "pinky length"),
    ("thumb_length", 0.045, "thumb length (metacarpal and phalanges)"),
    ("finger_girth", 0.060, "girth of the four fingers"),
    ("thumb_girth", 0.060, "girth of the thumb and thenar eminence"),
    ("soft_tissue", 0.050, "common soft-tissue factor: palm thickness and all digit girths"),
    ("phalanx_ratio", 0.040, "proximal phalanges ×e^{x/2}, middle and distal ×e^{−x/2}"),
    ("finger_taper", 0.050, "girth towards the fingertips: bone k of a digit ×e^{x(k−1)/2}"),
)
SHAPE_POPULATION_SIZE = 800  # 400 antithetic pairs: the factor mean is exactly the template
SHAPE_SEED = 20240611
NUM_BETAS = 10


def _bone_affines(skel: HandSkeleton, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-bone affine maps template → varied hand, and the varied joints.

    Args:
        factors: (N, len(SHAPE_FACTORS)) log multipliers.
    Returns:
        ``M`` (N, 16, 3, 3) and ``b`` (N, 16, 3) with bone k mapping x ↦ M_k x + b_k, and the
        varied joints (N, 16, 3) and tips (N, 5, 3) (DIGITS order).

    The palm (bone 0) scales about the wrist joint along (distal, radial, dorsal); each digit
    bone keeps its direction, scales its length along itself and its girth across, and hangs
    from its (already moved) parent joint, so neighbouring bones agree at their shared joint.
    """
    f = dict(zip([n for n, _, _ in SHAPE_FACTORS], np.exp(factors).T))
    N = len(factors)
    g = f["size"]
    frame = np.stack([DISTAL, RADIAL, DORSAL])  # rows
    palm_scale = np.stack(
        [f["palm_length"], f["palm_width"], f["palm_thickness"] * f["soft_tissue"]], axis=1
    )
    M = np.zeros((N, 16, 3, 3))
    b = np.zeros((N, 16, 3))
    M[:, 0] = g[:, None, None] * np.einsum("ai,na,aj->nij", frame, palm_scale, frame)
    joints = np.zeros((N, 16, 3))
    tips = np.zeros((N, len(DIGITS), 3))
    for di, name in enumerate(DIGITS):
        if name == "thumb":
            length, girth = f["thumb_length"], f["thumb_girth"] * f["soft_tissue"]
        else:
            length = f["finger_length"]
            if name == "index":
                length = length * np.sqrt(f["index_ring"])
            elif name == "ring":
                length = length / np.sqrt(f["index_ring"])
            elif name == "pinky":
                length = length * f["pinky_length"]
            girth = f["finger_girth"] * f["soft_tissue"]
        chain = skel.chain[name]
        ids = DIGIT_JOINTS[name]
        start = M[:, 0] @ chain[0]
        for k, j in enumerate(ids):
            d = skel.dirs[name][k]
            dd = np.outer(d, d)
            lk = length * np.sqrt(f["phalanx_ratio"]) ** (1.0 if k == 0 else -1.0)
            gk = girth * np.sqrt(f["finger_taper"]) ** (k - 1)
            S = gk[:, None, None] * (np.eye(3) - dd) + lk[:, None, None] * dd
            M[:, j] = g[:, None, None] * S
            b[:, j] = start - M[:, j] @ chain[k]
            joints[:, j] = start
            start = M[:, j] @ chain[k + 1] + b[:, j]
        tips[:, di] = start
    return M, b, joints, tips


def _deform(v: np.ndarray, W: np.ndarray, M: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Blend the bone affines with the skinning weights: (N, V, 3)."""
    N = len(M)
    out = np.empty((N, len(v), 3))
    for n0 in range(0, N, 64):
        m = M[n0 : n0 + 64]
        # Each bone's map applied to every vertex, then the weighted sum over bones.
        per_bone = (m.reshape(-1, 3) @ v.T).reshape(len(m), 16, 3, len(v))
        per_bone += b[n0 : n0 + 64, :, :, None]
        out[n0 : n0 + 64] = np.einsum("nkav,vk->nva", per_bone, W, optimize=True)
    return out


def _shape_factor_samples() -> np.ndarray:
    sig = np.array([s for _, s, _ in SHAPE_FACTORS])
    half = _normal(SHAPE_SEED, (SHAPE_POPULATION_SIZE // 2, len(SHAPE_FACTORS))) * sig
    return np.concatenate([half, -half])


def _sign_fix(vectors: np.ndarray) -> np.ndarray:
    """Flip each row so that its largest-magnitude entry is positive (a deterministic sign)."""
    idx = np.abs(vectors).argmax(1)
    s = np.sign(vectors[np.arange(len(vectors)), idx])
    return vectors * s[:, None]


def _shape_space(v: np.ndarray, W: np.ndarray, skel: HandSkeleton):
    """PCA shape space of the population: shapedirs (V, 3, 10), joint dirs (16, 3, 10), stds."""
    factors = _shape_factor_samples()
    M, b, joints, _ = _bone_affines(skel, factors)
    X = (_deform(v, W, M, b) - v).reshape(len(factors), -1)
    # PCA about the template (the population's factor mean); uncentred second moments, through
    # the small N×N Gram matrix (eigenvalues descending).
    lam, U = np.linalg.eigh(X @ X.T)
    lam, U = lam[::-1], U[:, ::-1]
    vt = (X.T @ U[:, :NUM_BETAS] / np.sqrt(lam[:NUM_BETAS])).T
    # Sign: a positive coefficient moves the vertices away from the wrist joint on average
    # (Σ v·s > 0), so β₀ > 0 is a bigger hand. (Every |cos(v, s)| here is above 1e-3.)
    vt *= np.sign(vt @ v.ravel())[:, None]
    sv = np.sqrt(np.clip(lam, 0.0, None))
    std = sv[:NUM_BETAS] / math.sqrt(len(X))
    shapedirs = (vt * std[:, None]).T.reshape(len(v), 3, NUM_BETAS)
    betas = X @ vt.T / std  # (N, 10), unit variance
    Y = (joints - skel.joints).reshape(len(X), -1)
    jdirs, *_ = np.linalg.lstsq(betas, Y, rcond=None)
    joint_dirs = jdirs.T.reshape(16, 3, NUM_BETAS)
    explained = sv**2 / np.sum(sv**2)
    return shapedirs, joint_dirs, explained


# --- Joint regressor -----------------------------------------------------------------------------
def _fit_joint_regressor(
    v: np.ndarray, shapedirs: np.ndarray, joints: np.ndarray, joint_dirs: np.ndarray,
    skel: HandSkeleton,
) -> np.ndarray:  # fmt: skip
    """Sparse non-negative (16, V) regressor, rows summing to 1.

    For each joint, vertices near its centre are candidates; non-negative least squares makes
    the weighted average reproduce the template joint (weight 10) and the joint's shape
    directions (one equation per β, in metres per unit β), with a heavily weighted sum-to-one
    row and a small ridge that spreads the weights over the ring of skin around the joint.
    """
    Jreg = np.zeros((16, len(v)))
    radius = np.zeros(16)
    radius[0] = 0.022
    for name in DIGITS:
        for k, j in enumerate(DIGIT_JOINTS[name]):
            radius[j] = 1.7 * skel.radii[name][k]
    radius[DIGIT_JOINTS["thumb"][0]] = 0.026
    for j in range(16):
        cand = np.nonzero(np.linalg.norm(v - joints[j], axis=1) < radius[j])[0]
        blocks_a = [10.0 * v[cand].T] + [shapedirs[cand, :, k].T for k in range(NUM_BETAS)]
        blocks_b = [10.0 * joints[j]] + [joint_dirs[j, :, k] for k in range(NUM_BETAS)]
        A = np.concatenate(blocks_a + [100.0 * np.ones((1, len(cand))), 3e-4 * np.eye(len(cand))])
        rhs = np.concatenate(blocks_b + [[100.0], np.zeros(len(cand))])
        w, _ = nnls(A, rhs, maxiter=50 * len(cand))
        w[w < 1e-6] = 0.0
        Jreg[j, cand] = w / w.sum()
    return Jreg


# --- Pose population -----------------------------------------------------------------------------
POSE_POPULATION_SIZE = 20000
POSE_SEED = 20240612
_FINGER_ORDER = ("index", "middle", "ring", "pinky")
# Relaxed hands rest with the ulnar fingers more flexed (the finger "cascade").
_CASCADE = {"index": 0.0, "middle": 0.04, "ring": 0.08, "pinky": 0.12}
# MCP abduction (degrees) per unit of the shared spread synergy: fingers fan out from the middle.
_SPREAD_DEG = {"index": 15.0, "middle": 3.0, "ring": -9.0, "pinky": -20.0}


def _small(joint: int, axis: int) -> float:
    """Standard deviation (degrees) of the small abduction/twist noise of an interphalangeal or
    thumb MCP/IP joint (joint 0..14 in MANO order after the wrist, axis 1 or 2): 1.5° to 3.8°,
    all different, so that the pose PCA has no repeated eigenvalues (a unique basis)."""
    return 1.5 + 0.05 * (3 * joint + axis)


def sample_pose_population(n: int = POSE_POPULATION_SIZE, seed: int = POSE_SEED) -> np.ndarray:
    """Sample ``n`` finger articulations (n, 45) (full articulation, axis-angle, MANO order).

    The distribution (angles in degrees; z ~ N(0, 1), u ~ U(0, 1), independent per use):

    - grasp closure g: with probability 0.25 an open hand (g = 0.15u), 0.45 a relaxed hand
      (g = 0.2 + 0.35u), 0.30 a closing or closed hand (g = 0.6 + 0.4u);
    - per finger curl c = clip(g + cascade + 0.12z, 0, 1) (cascade 0, 0.04, 0.08, 0.12 for
      index → pinky); with probability 0.12 the index points instead (c = 0.1u);
    - MCP flexion −10 + 95c + 5z, PIP flexion 5 + 95c + 6z, DIP flexion 0.7·PIP + 5z (the
      tendon coupling of the distal joint);
    - shared spread s = clip(0.25 + 0.35z, −0.3, 1): MCP abduction = spread_f·s·(1 − 0.7c) + 3z
      with spread_f = 15, 3, −9, −20 (index → pinky; fingers cannot fan out when flexed);
    - MCP twist 3z − (0, 0, 3, 6)·c (ring and pinky supinate as the hand cups), PIP/DIP
      abduction and twist σz with σ between 1.5° and 3.8° (:func:`_small`);
    - thumb opposition o = clip(0.6g + 0.4u, 0, 1): CMC flexion −5 + 35o + 5z, CMC (palmar)
      abduction 5 + 25o + 5z, CMC twist −15o + 4z, MCP flexion 5 + 30g + 6z, IP flexion
      5 + 45g + 8z, small MCP/IP abduction and twist (σz as above);

    then every angle is clipped to :func:`joint_limits` and converted with
    :func:`anatomical_to_axis_angle`.
    """
    if n < 1:
        raise ValueError("n must be positive")
    u = _uniform(seed, (n, 8))
    z = _normal(seed + 1, (n, 64))
    zi = iter(range(64))

    def nz() -> np.ndarray:
        return z[:, next(zi)]

    mode = u[:, 0]
    g = np.where(
        mode < 0.25,
        0.15 * u[:, 1],
        np.where(mode < 0.70, 0.2 + 0.35 * u[:, 1], 0.6 + 0.4 * u[:, 1]),
    )
    spread = np.clip(0.25 + 0.35 * nz(), -0.3, 1.0)
    deg = np.zeros((n, 15, 3))
    for name in _FINGER_ORDER:
        c = np.clip(g + _CASCADE[name] + 0.12 * nz(), 0.0, 1.0)
        if name == "index":
            c = np.where(u[:, 2] < 0.12, 0.1 * u[:, 3], c)
        j1, j2, j3 = (j - 1 for j in DIGIT_JOINTS[name])
        supinate = {"ring": 3.0, "pinky": 6.0}.get(name, 0.0)
        deg[:, j1] = np.stack(
            [
                -10.0 + 95.0 * c + 5.0 * nz(),
                _SPREAD_DEG[name] * spread * (1.0 - 0.7 * c) + 3.0 * nz(),
                3.0 * nz() - supinate * c,
            ],
            1,
        )
        pip = 5.0 + 95.0 * c + 6.0 * nz()
        deg[:, j2] = np.stack([pip, _small(j2, 1) * nz(), _small(j2, 2) * nz()], 1)
        deg[:, j3] = np.stack(
            [
                0.7 * np.clip(pip, 0.0, None) + 5.0 * nz(),
                _small(j3, 1) * nz(),
                _small(j3, 2) * nz(),
            ],
            1,
        )
    o = np.clip(0.6 * g + 0.4 * u[:, 4], 0.0, 1.0)
    t1, t2, t3 = (j - 1 for j in DIGIT_JOINTS["thumb"])
    deg[:, t1] = np.stack(
        [-5.0 + 35.0 * o + 5.0 * nz(), 5.0 + 25.0 * o + 5.0 * nz(), -15.0 * o + 4.0 * nz()], 1
    )
    deg[:, t2] = np.stack(
        [5.0 + 30.0 * g + 6.0 * nz(), _small(t2, 1) * nz(), _small(t2, 2) * nz()], 1
    )
    deg[:, t3] = np.stack(
        [5.0 + 45.0 * g + 8.0 * nz(), _small(t3, 1) * nz(), _small(t3, 2) * nz()], 1
    )
    lim = joint_limits()
    rad = np.clip(np.radians(deg), lim[..., 0], lim[..., 1])
    return anatomical_to_axis_angle(rad)


def _pose_space() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """hands_mean (45,), hands_components (45, 45) (rows, by variance), component stds (45,)."""
    poses = sample_pose_population()
    mean = poses.mean(0)
    lam, vec = np.linalg.eigh(np.cov(poses - mean, rowvar=False))
    lam, vec = lam[::-1], vec[:, ::-1]
    return mean, _sign_fix(vec.T), np.sqrt(np.clip(lam, 0.0, None))


# --- Landmark vertices ---------------------------------------------------------------------------
def _landmark_ids(pos: np.ndarray, skel: HandSkeleton, topo: _Topology) -> dict[str, np.ndarray]:
    """Fingertip apexes, nail-side vertices of the distal phalanges, back and wrist vertices."""
    tips = np.array([topo.apex[name] for name in TIP_ORDER], dtype=np.int64)
    dorsal = []
    for name in TIP_ORDER:
        tube = np.concatenate(topo.rings[name][1:])
        s, _ = _chain_coordinates(pos[tube], skel.chain[name])
        lengths = np.linalg.norm(np.diff(skel.chain[name], axis=0), axis=1)
        start = lengths[0] + lengths[1]
        # Middle of the distal phalanx (the nail), on the side its nail normal points to.
        mid = start + 0.6 * lengths[2]
        axis_pt = skel.chain[name][2] + (mid - start) * skel.dirs[name][2]
        rel = pos[tube] - axis_pt
        score = rel @ skel.nails[name][2] - 2.0 * np.abs(s - mid)
        dorsal.append(tube[np.argmax(score)])
    palm = np.arange(topo.n_palm)
    dorsal_face = palm[topo.lattice[:, 2] == NY]

    def nearest_dorsal(a: float, b: float) -> np.int64:
        target = _abc(a, b, 0.0)
        d = pos[dorsal_face] - target
        d -= np.outer(d @ DORSAL, DORSAL)  # distance across the back of the hand
        return dorsal_face[np.argmin(np.linalg.norm(d, axis=1))]

    middle_mcp = skel.chain["middle"][0] @ DISTAL, skel.chain["middle"][0] @ RADIAL
    back = nearest_dorsal(0.55 * middle_mcp[0], 0.55 * middle_mcp[1])
    wrist = nearest_dorsal(-0.005, 0.0)
    return {
        "tip_ids": tips,
        "dorsal_tip_ids": np.array(dorsal, dtype=np.int64),
        "back_vertex_id": np.array(back, dtype=np.int64),
        "wrist_vertex_id": np.array(wrist, dtype=np.int64),
    }


# --- The model -----------------------------------------------------------------------------------
RELAX_ITERATIONS = 40
KINTREE_ROOT = 4294967295  # MANO's sentinel parent of the root (2³² − 1)

DESCRIPTION = (
    "handpose open hand model (right), a procedural hand with MANO's structure: 16 joints in "
    "MANO order, LBS weights, joint regressor, 10 PCA shape components of an anatomical adult "
    "population, 45x45 pose PCA and relaxed mean pose; posedirs are zero (no pose correctives). "
    "Metres; wrist joint at the origin; fingers along -x, thumb side +z, back of the hand +y "
    "(palm normal -y). Generated by scripts/generate_open_hand.py; Apache-2.0."
)


def build_open_hand() -> dict[str, np.ndarray]:
    """Build the open right hand model (deterministic; a few seconds on one core).

    Returns:
        Plain arrays in MANO's names and layout: ``v_template`` (V, 3), ``f`` (F, 3) int32,
        ``shapedirs`` (V, 3, 10), ``posedirs`` (V, 3, 135) zeros, ``J_regressor`` (16, V),
        ``weights`` (V, 16), ``kintree_table`` (2, 16) int64 (root parent 2³² − 1),
        ``hands_components`` (45, 45), ``hands_mean`` (45,); and extras: ``J`` (16, 3) skeleton
        joints, ``J_shapedirs`` (16, 3, 10) their shape directions, ``tip_ids`` (5,)
        (thumb, index, middle, ring, pinky), ``dorsal_tip_ids`` (5,), ``back_vertex_id`` (),
        ``wrist_vertex_id`` (), ``sensor_vertex_ids`` (7,) (vihand7 order: five dorsal tips,
        back, wrist), ``joint_axes`` (16, 3, 3), ``joint_limits`` (15, 3, 2) radians,
        ``hands_std`` (45,) pose PCA standard deviations (radians), ``shape_explained`` (10,)
        fraction of population variance per shape component, ``version`` and ``description``
        (unicode string arrays). All floats are float64; no object arrays.
    """
    skel = template_skeleton()
    topo = _build_topology(_ring_counts(skel))
    sdf = _HandSDF(skel)
    pos = _relax(_initial_positions(skel, topo), topo.edges, sdf, RELAX_ITERATIONS)
    faces = _orient_faces(topo.faces)
    if signed_volume(pos, faces) < 0.0:
        faces = faces[:, ::-1]
    weights = _skinning_weights(pos, skel, topo)
    shapedirs, joint_dirs, explained = _shape_space(pos, weights, skel)
    jreg = _fit_joint_regressor(pos, shapedirs, skel.joints, joint_dirs, skel)
    hands_mean, hands_components, hands_std = _pose_space()
    ids = _landmark_ids(pos, skel, topo)
    kintree = np.stack([np.array(MANO_PARENTS, dtype=np.int64), np.arange(16, dtype=np.int64)])
    kintree[0, 0] = KINTREE_ROOT
    return {
        "v_template": pos,
        "f": np.ascontiguousarray(faces, dtype=np.int32),
        "shapedirs": shapedirs,
        "posedirs": np.zeros((len(pos), 3, 135)),
        "J_regressor": jreg,
        "weights": weights,
        "kintree_table": kintree,
        "hands_components": hands_components,
        "hands_mean": hands_mean,
        "J": skel.joints.copy(),
        "J_shapedirs": joint_dirs,
        **ids,
        "sensor_vertex_ids": np.concatenate(
            [ids["dorsal_tip_ids"], ids["back_vertex_id"][None], ids["wrist_vertex_id"][None]]
        ),
        "joint_axes": joint_axes(skel),
        "joint_limits": joint_limits(),
        "hands_std": hands_std,
        "shape_explained": explained[:NUM_BETAS],
        "version": np.array(OPEN_HAND_VERSION),
        "description": np.array(DESCRIPTION),
    }
