"""Scene builders for the three synthetic kinds: ``single``, ``twohand`` and ``video``.

A builder returns :class:`Item` s: a renderable :class:`~handpose.render.scene.Scene` plus the
sample labels of the schema (:mod:`handpose.formats.sample`) except ``image`` and ``mask``,
which come from the renderer (:func:`finish_item`). Everything random comes from the
``numpy.random.Generator`` passed in, so an item is a pure function of its stream.

Cameras. ``single`` and ``twohand`` imitate crops of a larger photograph (FreiHAND,
datasets.md §1; InterHand2.6M's 256×256 crops, §2): the hand(s) are placed in front of a
*capture* camera (640×480, horizontal field of view 40–75°, hand centre anywhere in the central
60 % of the frame, 0.35–0.9 m away), then a square box around the projected hand(s) (side =
box long side / r, r ∈ [0.7, 0.85] for ``single``; r = 0.8 jittered for ``twohand``, after
InterHand2.6M's ``HAND_BBOX_RATIO``; centre jitter ±5 % of the side) is cut out and resized to
N×N. The crop is rendered directly with the crop's intrinsics (:func:`crop_intrinsics`), so the
image is an exact pinhole image of that K (off-centre principal point, no resampling), as
FreiHAND's perspective-correct v2 crops.

Labels: ``joints3d`` are the model's OpenPose-21 joints, ``joints2d`` their projections with the
sample's K, ``vertices`` the mesh, ``mano_*`` the hand model's parameters in the camera frame
(right model for slot 0, the mirrored left model for slot 1), ``bbox`` the box of the projected
vertices clipped to the image, ``joint_valid`` true for every joint of a present hand (the
labels are exact even where a joint is occluded or outside the crop).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from handpose.errors import HandposeError
from handpose.formats.sample import LEFT, RIGHT, empty_sample
from handpose.render.camera import look_at, project
from handpose.render.primitives import Primitive, box, cylinder, uv_sphere
from handpose.render.scene import LEFT_HAND, OBJECT, RIGHT_HAND, Lights, Mesh, Scene
from handpose.simulators.images.appearance import (
    Domain,
    SkinParams,
    procedural_texture,
    sample_lights,
    sample_skin,
    skin_albedo,
    texture_colors_at,
)
from handpose.simulators.images.hands import (
    PENETRATION_TOLERANCE,
    HandRig,
    PosedHand,
    capsules,
    mirror_pose,
    mirror_rotvec,
    random_pose,
    segment_distances,
)
from handpose.simulators.motion import GESTURES, TEST_SEQUENCES, TRAIN_SEQUENCES
from handpose.simulators.motion.generator import generate_sequence
from handpose.simulators.motion.subjects import sample_subject

__all__ = [
    "Item",
    "Subject",
    "SceneOptions",
    "make_subject",
    "split_gestures",
    "crop_intrinsics",
    "square_box",
    "single_item",
    "twohand_item",
    "video_items",
    "finish_item",
    "INSTANCE",
    "CONFIGURATIONS",
]

INSTANCE = {"right": RIGHT_HAND, "left": LEFT_HAND}
SLOT = {"right": RIGHT, "left": LEFT}
CAPTURE_HW = (480, 640)
CONFIGURATIONS = ("close", "touching", "crossing", "occluding")


@dataclass
class SceneOptions:
    """Scene content switches (see the CLI for the defaults).

    Attributes:
        size: output image side N (square).
        domain: rendering :class:`~handpose.simulators.images.appearance.Domain`.
        occluder_prob: probability of an occluder (box / cylinder / sphere) per image.
        distractors: at most this many textured objects behind the hand(s).
        random_pose_prob: share of train/val poses drawn uniformly within the joint limits
            (the rest from the split's gestures).
        single_hand_prob: ``twohand``: share of single-hand (SH) frames.
        object_prob: ``video``: probability that a sequence has a grasped object.
        dense: add an ``extra_dense`` (H, W, 3) float16 map: the template (rest, mean-shape)
            position of the visible hand surface point, zero elsewhere.
    """

    size: int = 224
    domain: Domain | None = None
    occluder_prob: float = 0.3
    distractors: int = 3
    random_pose_prob: float = 0.25
    single_hand_prob: float = 0.3
    object_prob: float = 0.5
    dense: bool = False


@dataclass
class Subject:
    """A synthetic person: shape, skin and the per-vertex albedo (same ids for both sides)."""

    id: int
    betas: np.ndarray
    skin: SkinParams
    albedo: np.ndarray


@dataclass
class Item:
    """One image to render and its labels (all schema keys but ``image`` and ``mask``)."""

    scene: Scene
    sample: dict[str, Any]


def make_subject(
    rig: HandRig, rng: np.random.Generator, subject_id: int, domain: Domain
) -> Subject:
    """Subject ``subject_id``: β ~ N(0, I) (clipped to ±3), skin from ``domain``."""
    betas = np.clip(rng.normal(size=10), -3.0, 3.0)
    skin = sample_skin(rng, domain)
    from handpose.render.rasterizer import vertex_normals

    tpl = rig.template["right"]
    albedo = skin_albedo(
        tpl,
        vertex_normals(tpl, rig.faces["right"]),
        rig.rest_joints,
        rig.tip_ids,
        skin,
        rig.dorsal_tip_ids,
    )
    return Subject(int(subject_id), betas, skin, albedo)


def split_gestures(split: str) -> tuple[str, ...]:
    """Gesture sequences of a split: train/val use ROM01–12, test the unseen ROM13–15."""
    return TEST_SEQUENCES if split == "test" else TRAIN_SEQUENCES


class PoseSource:
    """Finger articulations for a split: frames of the split's gestures performed by the subject
    (motion simulator), and for train/val a share of uniform random poses in the limits.

    Sequences are cached per (subject, gesture); they are deterministic, so the cache changes
    no result.
    """

    def __init__(self, seed: int, split: str, random_prob: float) -> None:
        self.seed = int(seed)
        self.gestures = split_gestures(split)
        self.random_prob = float(random_prob) if split != "test" else 0.0
        self._cache: dict[tuple[int, str], Any] = {}

    def sequence(self, subject: Subject, gesture: str, num_frames: int = 600, fps: float = 30.0):
        key = (subject.id, gesture, num_frames, fps)
        seq = self._cache.get(key)
        if seq is None:
            if len(self._cache) > 4096:  # a few MB; a shard rarely meets that many
                self._cache.clear()
            prof = replace(sample_subject(subject.id, self.seed), betas=subject.betas.copy())
            seq = generate_sequence(GESTURES[gesture], prof, num_frames, fps, self.seed)
            self._cache[key] = seq
        return seq

    def __call__(self, rng: np.random.Generator, subject: Subject) -> np.ndarray:
        """A (45,) right-hand articulation."""
        if rng.uniform() < self.random_prob:
            return random_pose(rng)
        g = str(rng.choice(self.gestures))
        seq = self.sequence(subject, g, num_frames=120, fps=4.0)  # 30 s of the gesture
        return seq.hand_pose[int(rng.integers(0, seq.num_frames))].copy()


# ------------------------------------------------------------------ cameras and crops
def capture_intrinsics(rng: np.random.Generator) -> np.ndarray:
    """A 640×480 capture camera: horizontal FoV 40–75°, square pixels, centred principal point
    jittered by ±2 %."""
    H, W = CAPTURE_HW
    fov = np.deg2rad(rng.uniform(40.0, 75.0))
    f = 0.5 * W / np.tan(0.5 * fov)
    c = np.array([(W - 1) / 2.0, (H - 1) / 2.0]) + rng.uniform(-0.02, 0.02, 2) * [W, H]
    return np.array([[f, 0.0, c[0]], [0.0, f, c[1]], [0.0, 0.0, 1.0]])


def crop_intrinsics(K, x0: float, y0: float, side: float, size: int) -> np.ndarray:
    """Intrinsics of a square crop resized to ``size`` × ``size``.

    The box spans the continuous image coordinates ``[x0, x0 + side] × [y0, y0 + side]``, where
    pixel (r, c) covers ``[c − ½, c + ½] × [r − ½, r + ½]``. Output pixel centres sit at
    ``u' = (u − x0)·s − ½`` with ``s = size / side``, so ``f' = s·f`` and
    ``c' = (c − x0)·s − ½`` (the same rule as :func:`handpose.render.camera.scale_intrinsics`,
    which is the box ``x0 = −½``).
    """
    K = np.asarray(K, dtype=np.float64)
    s = float(size) / float(side)
    out = K.copy()
    out[0, :] = K[0, :] * s
    out[1, :] = K[1, :] * s
    out[0, 2] = (K[0, 2] - x0) * s - 0.5
    out[1, 2] = (K[1, 2] - y0) * s - 0.5
    out[2] = [0.0, 0.0, 1.0]
    return out


def square_box(uv: np.ndarray, ratio: float, jitter: float, rng) -> tuple[float, float, float]:
    """Square crop (x0, y0, side) around points (N, 2): side = long side of their box / ratio,
    centre moved by up to ``jitter`` × side."""
    lo, hi = uv.min(0), uv.max(0)
    side = float(max(hi - lo)) / ratio
    c = 0.5 * (lo + hi) + rng.uniform(-jitter, jitter, 2) * side
    return float(c[0] - side / 2), float(c[1] - side / 2), side


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random rotation as an axis-angle (3,)."""
    return Rotation.random(random_state=rng).as_rotvec()


# ------------------------------------------------------------------ scene content
def _textured(rng, prim: Primitive, domain: Domain, instance: int, tex_size: int = 64) -> Mesh:
    tex = procedural_texture(rng, tex_size, tex_size, domain, blur=0.0)
    return Mesh(
        prim.vertices,
        prim.faces,
        texture_colors_at(tex, prim.uv),
        instance,
        specular=float(rng.uniform(0.0, 0.5)),
        shininess=float(rng.uniform(5.0, 60.0)),
        normals=prim.normals,
    )


def _random_primitive(rng, size: float) -> Primitive:
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return box(rng.uniform(0.4, 1.0, 3) * size, subdivisions=6)
    if kind == 1:
        return cylinder(0.5 * size * rng.uniform(0.3, 1.0), size, segments=32)
    return uv_sphere(0.5 * size, 16, 32)


def _distractors(rng, K, size: int, depth: float, domain: Domain, n_max: int) -> list[Mesh]:
    """0..n_max textured objects behind the subject (instance 0: part of the background)."""
    out = []
    Kinv = np.linalg.inv(K)
    for _ in range(int(rng.integers(0, n_max + 1))):
        z = depth + rng.uniform(0.1, 0.8)
        uv1 = np.array([*rng.uniform(-0.1, 1.1, 2) * size, 1.0])
        centre = z * (Kinv @ uv1)
        prim = _random_primitive(rng, rng.uniform(0.05, 0.3)).transformed(
            Rotation.random(random_state=rng).as_matrix(), centre
        )
        out.append(_textured(rng, prim, domain, 0))
    return out


def _palm_centre(h: PosedHand) -> np.ndarray:
    return h.joints[[0, 5, 9, 13, 17]].mean(0)


def _occluder(rng, hands: list[PosedHand], domain: Domain) -> Mesh:
    """A box, cylinder or sphere in front of the hand (on the way to a random vertex) or held
    against the palm (instance 3)."""
    h = hands[int(rng.integers(0, len(hands)))]
    extent = float(np.linalg.norm(h.vertices.max(0) - h.vertices.min(0)))
    R = Rotation.random(random_state=rng).as_matrix()
    if rng.uniform() < 0.5:
        p = h.vertices[int(rng.integers(0, len(h.vertices)))]
        alpha = rng.uniform(0.6, 0.9)
        prim = _random_primitive(rng, extent * rng.uniform(0.15, 0.4) * alpha)
        return _textured(rng, prim.transformed(R, alpha * p), domain, OBJECT)
    r = rng.uniform(0.02, 0.035)
    prim = _random_primitive(rng, 2 * r)
    centre = _palm_centre(h) + h.palm_normal * (0.013 + r)
    return _textured(rng, prim.transformed(R, centre), domain, OBJECT)


@dataclass
class ArmStyle:
    """The forearm drawn behind a hand (the hand model ends at the wrist).

    Attributes:
        flex, deviation: wrist angles in radians: the forearm leaves the wrist along the rest
            proximal axis rotated by ``flex`` about the radial axis and ``deviation`` about the
            dorsal axis.
        length: metres. taper: radius growth factor from wrist to the far end.
        sleeve: None, or (start in metres from the wrist, radius factor, (64, 64, 3) texture).
    """

    flex: float
    deviation: float
    length: float
    taper: float
    sleeve: tuple[float, float, np.ndarray] | None


def sample_arm(rng: np.random.Generator, domain: Domain) -> ArmStyle:
    """Wrist flexion ±35°, deviation ±12°, 20–30 cm long, a sleeve on 35 % of arms."""
    sleeve = None
    if rng.uniform() < 0.35:
        tex = procedural_texture(rng, 64, 64, domain, blur=0.0)
        sleeve = (float(rng.uniform(0.03, 0.12)), float(rng.uniform(1.15, 1.4)), tex)
    return ArmStyle(
        flex=float(np.deg2rad(rng.uniform(-35, 35))),
        deviation=float(np.deg2rad(rng.uniform(-12, 12))),
        length=float(rng.uniform(0.2, 0.3)),
        taper=float(rng.uniform(1.1, 1.35)),
        sleeve=sleeve,
    )


def _tube(a0: float, a1: float, radii0, radii1, n: int = 24, rings: int = 6) -> Primitive:
    """A closed elliptic tube along +x from a0 to a1 with (y, z) semi-axes radii0 → radii1,
    capped at both ends, outward faces; uv = (angle, length)."""
    ph = np.linspace(0.0, 2 * np.pi, n + 1)
    ts = np.linspace(0.0, 1.0, rings + 1)
    V, UV = [], []
    for t in ts:
        ry, rz = (1 - t) * np.asarray(radii0) + t * np.asarray(radii1)
        x = (1 - t) * a0 + t * a1
        V.append(np.stack([np.full(n + 1, x), ry * np.sin(ph), rz * np.cos(ph)], 1))
        UV.append(np.stack([ph / (2 * np.pi), np.full(n + 1, t)], 1))
    V = np.concatenate(V + [[[a0, 0.0, 0.0], [a1, 0.0, 0.0]]])
    UV = np.concatenate(UV + [[[0.5, 0.0], [0.5, 1.0]]])
    near, far, last = len(V) - 2, len(V) - 1, rings * (n + 1)
    # (y, z) = (sin φ, cos φ) turns about −x as φ grows, so (p, p + 1, q + 1) with q one ring
    # further along +x is counter-clockwise seen from outside.
    faces = []
    for i in range(rings):
        for j in range(n):
            p, q = i * (n + 1) + j, (i + 1) * (n + 1) + j
            faces += [[p, q + 1, p + 1], [p, q, q + 1]]
    faces += [[j, j + 1, near] for j in range(n)]  # cap at a0, facing −x
    faces += [[last + j + 1, last + j, far] for j in range(n)]  # cap at a1, facing +x
    return Primitive(V, np.asarray(faces, np.int64), np.zeros_like(V), UV)


def _arm_meshes(h: PosedHand, style: ArmStyle, subject: Subject) -> list[Mesh]:
    """Forearm (skin, instance 0) and optional sleeve attached to a posed hand's wrist."""
    from handpose.render.rasterizer import vertex_normals

    R, wrist = h.root_rotation, h.joints[0]
    mirror = np.array([-1.0, 1.0, 1.0]) if h.side == "left" else np.ones(3)
    local = ((h.vertices - wrist) @ R) * mirror  # right-hand rest axes: +x proximal
    sel = (local[:, 0] > 0.0) & (local[:, 0] < 0.012)
    if sel.sum() < 8:
        sel = local[:, 0] > np.quantile(local[:, 0], 0.9)
    lo, hi = np.quantile(local[sel, 1:], 0.02, axis=0), np.quantile(local[sel, 1:], 0.98, axis=0)
    r0 = 0.92 * 0.5 * (hi - lo)  # (y, z) semi-axes
    off = 0.5 * (hi + lo)
    turn = Rotation.from_rotvec([0.0, style.deviation, 0.0]) * Rotation.from_rotvec(
        [0.0, 0.0, style.flex]
    )
    to_cam = R @ np.diag(mirror) @ turn.as_matrix()

    def place(p: Primitive) -> tuple[np.ndarray, np.ndarray]:
        v = p.vertices + np.array([0.0, off[0], off[1]])
        return v @ to_cam.T + wrist, p.faces if h.side == "right" else p.faces[:, ::-1].copy()

    skin = np.median(subject.albedo, axis=0)
    end = style.length if style.sleeve is None else style.sleeve[0] + 0.02
    t_end = end / style.length
    arm = _tube(-0.005, end, r0, r0 * (1 + (style.taper - 1) * t_end))
    v, f = place(arm)
    out = [
        Mesh(v, f, skin, 0, specular=subject.skin.specular, shininess=subject.skin.shininess,
             normals=vertex_normals(v, f))
    ]  # fmt: skip
    if style.sleeve is not None:
        start, grow, tex = style.sleeve
        t0 = start / style.length
        sl = _tube(
            start, style.length, r0 * (1 + (style.taper - 1) * t0) * grow, r0 * style.taper * grow
        )
        v, f = place(sl)
        out.append(Mesh(v, f, texture_colors_at(tex, sl.uv), 0, specular=0.02, shininess=5.0,
                        normals=vertex_normals(v, f)))  # fmt: skip
    return out


def _hand_mesh(h: PosedHand, rig: HandRig, subject: Subject, dense: bool) -> Mesh:
    return Mesh(
        h.vertices,
        rig.faces[h.side],
        subject.albedo,
        INSTANCE[h.side],
        attributes=rig.template[h.side] if dense else None,
        specular=subject.skin.specular,
        shininess=subject.skin.shininess,
    )


def _labels(hands: list[PosedHand], K: np.ndarray, size: int, rig: HandRig) -> dict[str, Any]:
    s = empty_sample(size, size, num_vertices=rig.num_vertices, mano=True, mask=False)
    s["K"][:] = K
    uv_all = []
    for h in hands:
        k = SLOT[h.side]
        s["hand_valid"][k] = True
        s["joint_valid"][k] = True
        s["mano_valid"][k] = True
        s["joints3d"][k] = h.joints
        s["joints2d"][k] = project(h.joints, K)
        s["vertices"][k] = h.vertices
        s["mano_global_orient"][k] = h.global_orient
        s["mano_hand_pose"][k] = h.hand_pose
        s["mano_betas"][k] = h.betas
        s["mano_transl"][k] = h.transl
        uv_all.append(project(h.vertices, K))
    uv = np.concatenate(uv_all)
    lo = np.clip(uv.min(0), -0.5, size - 0.5)
    hi = np.clip(uv.max(0), -0.5, size - 0.5)
    s["bbox"][:] = [lo[0], lo[1], max(hi[0], lo[0]), max(hi[1], lo[1])]
    return s


def _compose(
    rng,
    rig: HandRig,
    hands: list[tuple[PosedHand, Subject]],
    K_cap: np.ndarray,
    opts: SceneOptions,
    ratio: float,
    jitter: float,
) -> Item:
    """Crop around the hands, add lights, background, distractors and an occluder."""
    N = int(opts.size)
    posed = [h for h, _ in hands]
    uv = np.concatenate([project(h.vertices, K_cap) for h in posed])
    x0, y0, side = square_box(uv, ratio, jitter, rng)
    K = crop_intrinsics(K_cap, x0, y0, side, N)
    centre = np.mean([h.centre for h in posed], axis=0)
    meshes = [_hand_mesh(h, rig, subj, opts.dense) for h, subj in hands]
    for h, subj in hands:
        meshes += _arm_meshes(h, sample_arm(rng, opts.domain), subj)
    if rng.uniform() < opts.occluder_prob:
        meshes.append(_occluder(rng, posed, opts.domain))
    meshes += _distractors(rng, K, N, float(centre[2]) + 0.1, opts.domain, opts.distractors)
    lights = sample_lights(rng, opts.domain, centre)
    bg = procedural_texture(rng, N, N, opts.domain)
    return Item(Scene(meshes, K, lights, bg), _labels(posed, K, N, rig))


def _place_centre(rng, K_cap: np.ndarray) -> np.ndarray:
    H, W = CAPTURE_HW
    z = rng.uniform(0.35, 0.9)
    uv1 = np.array([W * rng.uniform(0.2, 0.8), H * rng.uniform(0.2, 0.8), 1.0])
    return z * (np.linalg.inv(K_cap) @ uv1)


def _one_hand(rng, rig, subject, poses: PoseSource, side: str, centre) -> PosedHand:
    hp = poses(rng, subject)
    if side == "left":
        hp = mirror_pose(hp)
    return rig.placed(side, random_rotation(rng), hp, subject.betas, centre)


def single_item(
    rig: HandRig, rng: np.random.Generator, subject: Subject, poses: PoseSource, opts: SceneOptions
) -> Item:
    """FreiHAND-like: one hand (right or left, 50/50), random orientation, N×N crop."""
    side = "right" if rng.uniform() < 0.5 else "left"
    K_cap = capture_intrinsics(rng)
    hand = _one_hand(rng, rig, subject, poses, side, _place_centre(rng, K_cap))
    item = _compose(rng, rig, [(hand, subject)], K_cap, opts, rng.uniform(0.7, 0.85), 0.05)
    return item


# ------------------------------------------------------------------ two hands
def _reflection(n: np.ndarray) -> np.ndarray:
    n = n / np.linalg.norm(n)
    return np.eye(3) - 2.0 * np.outer(n, n)


_M = np.diag([-1.0, 1.0, 1.0])


def _separate(
    base: PosedHand,
    other: PosedHand,
    direction: np.ndarray,
    step: float = 0.002,
    max_steps: int = 150,
) -> PosedHand:
    """Move ``other`` along ``direction`` in ``step`` s until the gross penetration depth
    (:func:`~handpose.simulators.images.hands.penetration_depth`) is below
    :data:`PENETRATION_TOLERANCE`."""
    u = direction / np.linalg.norm(direction)
    a1, b1, r1 = capsules(base)
    a2, b2, r2 = capsules(other)
    rr = r1[:, None] + r2[None, :]
    for k in range(max_steps + 1):
        off = k * step * u
        if (rr - segment_distances(a1, b1, a2 + off, b2 + off)).max() < PENETRATION_TOLERANCE:
            return other.moved(off)
    raise HandposeError("could not separate two hands (internal: increase max_steps).")


def twohand_item(
    rig: HandRig,
    rng: np.random.Generator,
    subjects: tuple[Subject, Subject],
    poses: PoseSource,
    opts: SceneOptions,
    configuration: str | None = None,
) -> Item:
    """InterHand2.6M-like: an interacting pair (IH) or a single hand (SH), 256×256 union crop.

    Interacting configurations (:data:`CONFIGURATIONS`), built from the right hand ``A`` with a
    uniformly random orientation; the left hand ``B`` gets its own finger pose:

    - ``close``: B is A's mirror image through the plane across A's radial (thumb) axis
      (side by side, thumbs towards each other), then moved apart 1–4 cm beyond contact;
    - ``touching``: mirror image through A's palm plane (palms facing), 0–4 mm beyond contact;
    - ``crossing``: the ``close`` mirror rotated 50–110° about the viewing ray, B in front of or
      behind A, 0–2 cm beyond contact along the ray;
    - ``occluding``: B with a random orientation 0–3 cm to the side, in front of or behind A
      along the viewing ray, 2–8 cm beyond contact.

    Every placement starts overlapping and moves B along its direction until the gross
    penetration check passes (:func:`_separate`). The two hands are the same subject with
    probability 0.8 (InterHand2.6M records one person), else two subjects. ``configuration``
    forces one of :data:`CONFIGURATIONS` (and an IH frame); None draws it.
    """
    if configuration is not None and configuration not in CONFIGURATIONS:
        raise HandposeError(
            f"unknown two-hand configuration {configuration!r}; choose from {CONFIGURATIONS}."
        )
    K_cap = capture_intrinsics(rng)
    centre = _place_centre(rng, K_cap)
    subj_a, subj_b = subjects
    if rng.uniform() < 0.8:
        subj_b = subj_a
    if rng.uniform() < opts.single_hand_prob and configuration is None:
        side = "right" if rng.uniform() < 0.5 else "left"
        s = subj_a if side == "right" else subj_b
        h = _one_hand(rng, rig, s, poses, side, centre)
        item = _compose(rng, rig, [(h, s)], K_cap, opts, rng.uniform(0.75, 0.85), 0.05)
        item.sample["interacting"][...] = False
        item.sample["extra_configuration"] = np.array(-1, dtype=np.int64)
        return item
    cfg = CONFIGURATIONS[int(rng.integers(0, len(CONFIGURATIONS)))]
    cfg = configuration or cfg
    A = rig.placed("right", random_rotation(rng), poses(rng, subj_a), subj_a.betas, centre)
    Ra = A.root_rotation
    view = centre / np.linalg.norm(centre)
    hp_b = mirror_pose(poses(rng, subj_b))
    if cfg == "occluding":
        Rb = Rotation.random(random_state=rng).as_matrix()
    else:
        n = Ra @ ([0.0, 0.0, 1.0] if cfg != "touching" else [0.0, -1.0, 0.0])
        Rb = _reflection(n) @ Ra @ _M  # left = S · right: the left root rotation S R_A M
        if cfg == "crossing":
            ang = rng.uniform(np.deg2rad(50), np.deg2rad(110)) * rng.choice([-1.0, 1.0])
            Rb = Rotation.from_rotvec(ang * view).as_matrix() @ Rb
        Rb = Rotation.from_rotvec(rng.normal(0, np.deg2rad(8), 3)).as_matrix() @ Rb
    # Express B's wanted root rotation as a global orientation: root = R_go (no parent).
    B = rig.placed("left", Rotation.from_matrix(Rb).as_rotvec(), hp_b, subj_b.betas, centre)
    if cfg == "close":
        u, gap = Ra @ [0.0, 0.0, 1.0], rng.uniform(0.01, 0.04)
    elif cfg == "touching":
        u, gap = A.palm_normal, rng.uniform(0.0, 0.004)
    elif cfg == "crossing":
        u, gap = view * rng.choice([-1.0, 1.0]), rng.uniform(0.0, 0.02)
    else:
        side_dir = np.cross(view, rng.normal(size=3))
        B = B.moved(side_dir / np.linalg.norm(side_dir) * rng.uniform(0.0, 0.03))
        u, gap = view * rng.choice([-1.0, 1.0]), rng.uniform(0.02, 0.08)
    u = np.asarray(u, dtype=np.float64)
    u /= np.linalg.norm(u)
    B = _separate(A, B, u)
    B = B.moved(gap * u)
    # Keep the pair centred where it was placed.
    mid = 0.5 * (A.centre + B.centre)
    A, B = A.moved(centre - mid), B.moved(centre - mid)
    ratio = float(np.clip(rng.normal(0.8, 0.03), 0.72, 0.88))
    item = _compose(rng, rig, [(A, subj_a), (B, subj_b)], K_cap, opts, ratio, 0.04)
    item.sample["interacting"][...] = True
    item.sample["extra_configuration"] = np.array(CONFIGURATIONS.index(cfg), dtype=np.int64)
    return item


# ------------------------------------------------------------------ video
def _smooth(x: np.ndarray, k: int) -> np.ndarray:
    """Moving average over ±k frames with edge padding, (T, D) → (T, D)."""
    if k <= 0 or len(x) < 2:
        return x
    pad = np.concatenate([np.repeat(x[:1], k, 0), x, np.repeat(x[-1:], k, 0)])
    c = np.cumsum(np.concatenate([np.zeros((1, x.shape[1])), pad]), axis=0)
    return (c[2 * k + 1 :] - c[: -2 * k - 1]) / (2 * k + 1)


def _world_lights(lights: Lights, R0: np.ndarray, t0: np.ndarray) -> Lights:
    """Camera-frame lights of the first frame → world frame (``x_w = R0ᵀ (x_c − t0)``)."""
    la = lights.arrays()
    return Lights(
        la["ambient"],
        la["directions"] @ R0,
        la["colors"],
        (la["points"] - t0) @ R0,
        la["point_colors"],
        la["point_ranges"],
    )


def _camera_lights(world: Lights, R: np.ndarray, t: np.ndarray) -> Lights:
    la = world.arrays()
    return Lights(
        la["ambient"],
        la["directions"] @ R.T,
        la["colors"],
        la["points"] @ R.T + t,
        la["point_colors"],
        la["point_ranges"],
    )


def video_items(
    rig: HandRig,
    rng: np.random.Generator,
    subject: Subject,
    poses: PoseSource,
    opts: SceneOptions,
    *,
    num_frames: int,
    views: int = 1,
    fps: float = 30.0,
    sequence: str = "",
) -> list[Item]:
    """DexYCB/HanCo-like: one hand performing a gesture of the split for ``num_frames`` at
    ``fps``, seen by ``views`` slowly moving cameras; optionally a grasped object.

    Motion: :func:`~handpose.simulators.motion.generate_sequence` (world frame, y up), from a
    random start time within the first 20 s; left hands are the mirror (x ↦ −x) of the
    simulated right-hand motion. Each camera starts 0.35–0.7 m from the sequence's mean hand
    position, from a random direction at most 10° below the horizon, orbits about the vertical
    at 3–12°/s with a ±3° elevation and ±5 % distance wobble, and looks at the average of the
    mean position and the hand position smoothed over ±7 frames (a slow follow). Intrinsics
    are fixed per view (the hand's largest bounding-box diagonal over the sequence would span the
    image at the start distance; seen obliquely it covers about half of it). Lights are fixed in the world
    (sampled in the first frame's camera frame). The grasped object (probability
    ``object_prob``): a sphere (r 2.5–4 cm), a cylinder (r 2–3.5 cm, 8–16 cm long, across the
    palm) or a box, placed against the palm (1.3 cm from the palm centre plus its radius along
    the palm normal) and moving rigidly with the wrist. The fingers keep their gesture motion:
    there is no grasp synthesis, and fingers can pass through the object.

    Returns:
        ``views × num_frames`` items ordered view-major; sample ``sequence``, ``frame`` and
        ``view`` are set.
    """
    N = int(opts.size)
    g = str(rng.choice(poses.gestures))
    start = int(rng.integers(0, int(20 * fps)))
    seq = poses.sequence(subject, g, num_frames=start + num_frames, fps=fps)
    sl = slice(start, start + num_frames)
    go, hp, tr = seq.global_orient[sl], seq.hand_pose[sl], seq.transl[sl]
    side = "right" if rng.uniform() < 0.5 else "left"
    if side == "left":
        go, hp, tr = mirror_rotvec(go), mirror_pose(hp), tr * np.array([-1.0, 1.0, 1.0])
    world = [rig.pose(side, go[t], hp[t], subject.betas, tr[t]) for t in range(num_frames)]
    centres = np.stack([h.centre for h in world])
    mean_c = centres.mean(0)
    follow = 0.5 * mean_c + 0.5 * _smooth(centres, 7)
    # The grasped object in the wrist frame of the rest pose.
    obj_local = None
    if rng.uniform() < opts.object_prob:
        kind = int(rng.integers(0, 3))
        if kind == 0:
            r = rng.uniform(0.025, 0.04)
            prim = uv_sphere(r, 16, 32)
        elif kind == 1:
            r = rng.uniform(0.02, 0.035)
            prim = cylinder(r, rng.uniform(0.08, 0.16), 32)
        else:
            dims = np.array(
                [rng.uniform(0.03, 0.06), rng.uniform(0.03, 0.06), rng.uniform(0.08, 0.14)]
            )
            r = 0.5 * dims[1]
            prim = box(dims, subdivisions=6)
        rest = rig.rest_joints * (np.array([-1.0, 1.0, 1.0]) if side == "left" else 1.0)
        palm = rest[[0, 1, 4, 7, 10]].mean(0)  # wrist + four MCPs (MANO order)
        obj_local = (prim, palm + np.array([0.0, -(0.013 + r), 0.0]) - rest[0])
        obj_mesh = _textured(rng, prim, opts.domain, OBJECT)
    arm = sample_arm(rng, opts.domain)
    extent = max(float(np.linalg.norm(h.vertices.max(0) - h.vertices.min(0))) for h in world)
    items: list[Item] = []
    for v in range(int(views)):
        d = rng.normal(size=3)
        d[1] = max(d[1], -0.17 * np.linalg.norm(d))
        d /= np.linalg.norm(d)
        dist0 = rng.uniform(0.35, 0.7)
        omega = np.deg2rad(rng.uniform(3.0, 12.0)) * rng.choice([-1.0, 1.0])
        wob = rng.uniform(0, 2 * np.pi, 2)
        f = 1.0 * N * dist0 / extent * rng.uniform(0.85, 1.15)
        c = (N - 1) / 2.0 + rng.uniform(-0.02, 0.02, 2) * N
        K = np.array([[f, 0.0, c[0]], [0.0, f, c[1]], [0.0, 0.0, 1.0]])
        bg = procedural_texture(rng, N, N, opts.domain)
        distract_world = None
        lights_world = None
        for t in range(num_frames):
            time = t / fps
            yaw = Rotation.from_rotvec([0.0, omega * time, 0.0])
            el = np.deg2rad(3.0) * np.sin(2 * np.pi * time / 2.5 + wob[0])
            dirt = yaw.apply(d)
            axis = np.cross(dirt, [0.0, 1.0, 0.0])
            if np.linalg.norm(axis) > 1e-6:
                dirt = Rotation.from_rotvec(el * axis / np.linalg.norm(axis)).apply(dirt)
            dist = dist0 * (1.0 + 0.05 * np.sin(2 * np.pi * time / 3.0 + wob[1]))
            eye = follow[t] + dist * dirt
            up = [0.0, 1.0, 0.0] if abs(dirt[1]) < 0.95 else [0.0, 0.0, 1.0]
            R, tc = look_at(eye, follow[t], up)
            h = world[t]
            go_cam = Rotation.from_matrix(R @ Rotation.from_rotvec(h.global_orient).as_matrix())
            cam = rig.pose(side, go_cam.as_rotvec(), h.hand_pose, h.betas)
            cam = cam.moved((h.vertices[0] @ R.T + tc) - cam.vertices[0])
            meshes = [_hand_mesh(cam, rig, subject, opts.dense)]
            meshes += _arm_meshes(cam, arm, subject)
            if obj_local is not None:
                prim, off = obj_local
                Rw = R @ h.root_rotation
                pos = R @ (h.joints[0] + h.root_rotation @ off) + tc
                m = replace(obj_mesh)
                moved = prim.transformed(Rw, pos)
                m.vertices, m.normals = moved.vertices, moved.normals
                meshes.append(m)
            if t == 0:
                lights_world = _world_lights(sample_lights(rng, opts.domain, cam.centre), R, tc)
                dm = _distractors(
                    rng, K, N, float(cam.centre[2]) + 0.1, opts.domain, opts.distractors
                )
                distract_world = [(x, (x.vertices - tc) @ R, (x.normals @ R)) for x in dm]
            for x, vw, nw in distract_world:
                meshes.append(replace(x, vertices=vw @ R.T + tc, normals=nw @ R.T))
            lights = _camera_lights(lights_world, R, tc)
            s = _labels([cam], K, N, rig)
            s["sequence"] = sequence
            s["frame"][...] = t
            s["view"][...] = v
            items.append(Item(Scene(meshes, K, lights, bg), s))
    return items


# ------------------------------------------------------------------ after rendering
def finish_item(item: Item, rgb: np.ndarray, mask: np.ndarray, attributes=None) -> dict[str, Any]:
    """The complete sample: the item's labels plus the rendered image, mask (and dense map)."""
    s = dict(item.sample)
    s["image"] = np.ascontiguousarray(rgb)
    s["mask"] = np.ascontiguousarray(mask)
    if attributes is not None:
        s["extra_dense"] = np.asarray(attributes, dtype=np.float16)
    return s
