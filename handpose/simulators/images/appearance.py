"""Appearance of synthetic scenes: skin, lights, procedural textures and rendering domains.

Everything random takes a ``numpy.random.Generator``; the same stream gives the same result.

**Skin** (:func:`skin_albedo`): a subject's base tone is a swatch of the Monk Skin Tone (MST)
scale (Ellis Monk / Google, 2022, https://skintone.google, CC BY 4.0; the ten published sRGB
swatches are :data:`MONK_SKIN_TONES`), jittered slightly. Per vertex, on the hand model's
template (so the pattern follows the skin when the hand moves):

- palms are lighter and pinker than the back of the hand, more so for darker tones (palmar skin
  has less melanin);
- low-frequency variation: a smooth random field (sum of 3D sinusoids, 1.5–5 cm wavelength)
  modulating brightness (±4 %) and redness;
- flexion creases: darker bands across the palm side of every finger joint (a Gaussian profile
  along the bone, ~1.2 mm wide), weaker knuckle wrinkles on the back, and three palm lines
  (distal and proximal transverse, thenar) laid out from the joint positions;
- nails: an elliptic patch on the nail side of each distal phalanx near the fingertip vertex
  (``tip_ids``; the open model's ``dorsal_tip_ids`` give the nail direction), lighter and
  pinker, with a whiter free edge; fingertips and knuckles slightly redder.

**Lights** (:func:`sample_lights`): ambient plus 1–2 directional and 0–2 point lights near the
hand, random colours and intensities (domain-specific colour families).

**Textures** (:func:`procedural_texture`): backgrounds and object textures from families
(value noise at several scales, linear/radial gradients, stripes, checkers, random shapes;
held-out families: Voronoi cells, concentric rings, plaid, marble), optionally defocused.

**Domains** (:data:`DOMAINS`): ``"main"`` and the held-out ``"heldout"`` use disjoint skin swatches
(odd vs even MST numbers, jitter kept inside each swatch's half-way band), disjoint texture
families and disjoint light-colour families (near-white colour temperatures vs saturated
hues), so a model trained on one can be tested for generalisation on the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handpose.errors import HandposeError
from handpose.render.scene import Lights, srgb_to_linear

__all__ = [
    "MONK_SKIN_TONES",
    "SKIN_REFLECTANCE",
    "Domain",
    "DOMAINS",
    "get_domain",
    "SkinParams",
    "sample_skin",
    "skin_albedo",
    "sample_lights",
    "TEXTURE_FAMILIES",
    "procedural_texture",
    "texture_colors_at",
]

# Monk Skin Tone scale swatches MST-1 … MST-10 (sRGB hex as published at skintone.google).
MONK_SKIN_TONES: tuple[str, ...] = (
    "#f6ede4",
    "#f3e7db",
    "#f7ead0",
    "#eadaba",
    "#d7bd96",
    "#a07e56",
    "#825c43",
    "#604134",
    "#3a312a",
    "#292420",
)


# Albedo = this × the swatch (linear): the swatch is then reproduced at an irradiance of
# 1/0.7 ≈ 1.4, the typical sum of the lights of :func:`sample_lights` (a camera exposure).
SKIN_REFLECTANCE = 0.7


def _hex(h: str) -> np.ndarray:
    h = h.lstrip("#")
    return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float64) / 255.0


_MST_SRGB = np.stack([_hex(h) for h in MONK_SKIN_TONES])  # (10, 3) sRGB in [0, 1]

TEXTURE_FAMILIES: dict[str, tuple[str, ...]] = {
    "main": ("noise", "gradient", "stripes", "checkers", "shapes"),
    "heldout": ("voronoi", "rings", "plaid", "marble"),
}


@dataclass(frozen=True)
class Domain:
    """A rendering domain: which skin swatches, texture families and light colours it uses.

    Attributes:
        name: "main" or "heldout".
        skin_tones: MST numbers (1..10) available to subjects.
        textures: texture family names (:data:`TEXTURE_FAMILIES`).
        light_colors: "white" (colour temperatures 2700–7500 K) or "tinted" (saturated hues).
    """

    name: str
    skin_tones: tuple[int, ...]
    textures: tuple[str, ...]
    light_colors: str


DOMAINS: dict[str, Domain] = {
    "main": Domain("main", (1, 3, 5, 7, 9), TEXTURE_FAMILIES["main"], "white"),
    "heldout": Domain("heldout", (2, 4, 6, 8, 10), TEXTURE_FAMILIES["heldout"], "tinted"),
}


def get_domain(name: str) -> Domain:
    """The :class:`Domain` called ``name`` (one clear error otherwise)."""
    if name not in DOMAINS:
        raise HandposeError(f"unknown rendering domain {name!r}; choose one of {sorted(DOMAINS)}.")
    return DOMAINS[name]


# ------------------------------------------------------------------ skin
@dataclass(frozen=True)
class SkinParams:
    """A subject's skin: base tone and per-subject pattern parameters.

    Attributes:
        mst: Monk Skin Tone number (1..10) of the base swatch.
        tone: (3,) sRGB base colour in [0, 1] (the jittered swatch).
        seed: seed of the subject's per-vertex pattern (noise field, crease jitter).
        crease: crease darkening strength (0.15–0.35).
        specular: Blinn–Phong specular strength (0.04–0.2; oily vs dry skin).
        shininess: Blinn–Phong exponent (8–40).
    """

    mst: int
    tone: np.ndarray
    seed: int
    crease: float
    specular: float
    shininess: float


def sample_skin(rng: np.random.Generator, domain: Domain) -> SkinParams:
    """A subject's skin in ``domain`` (tone from its MST swatches)."""
    mst = int(rng.choice(domain.skin_tones))
    base = _MST_SRGB[mst - 1]
    # Jitter stays within a quarter of the distance to the neighbouring swatches, so the
    # domains' tone sets stay disjoint.
    nb = [_MST_SRGB[k] for k in (mst - 2, mst) if 0 <= k < 10]
    half = 0.25 * min(np.linalg.norm(base - n) for n in nb)
    d = rng.normal(size=3)
    tone = np.clip(base + d / np.linalg.norm(d) * half * rng.uniform(0, 1), 0.0, 1.0)
    return SkinParams(
        mst=mst,
        tone=tone,
        seed=int(rng.integers(0, 2**31 - 1)),
        crease=float(rng.uniform(0.15, 0.35)),
        specular=float(rng.uniform(0.04, 0.2)),
        shininess=float(rng.uniform(8.0, 40.0)),
    )


# Digits as (MANO joints base→distal, child of the distal joint or None = fingertip).
_FINGERS = {  # name: (MCP, PIP, DIP) MANO joints; tip index in TIP order (thumb, index, ...)
    "thumb": ((13, 14, 15), 0),
    "index": ((1, 2, 3), 1),
    "middle": ((4, 5, 6), 2),
    "ring": ((10, 11, 12), 3),
    "pinky": ((7, 8, 9), 4),
}


def _seg_dist(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance of points p (N, 3) to segment ab, and the segment parameter t ∈ [0, 1]."""
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1), t


def skin_albedo(
    template: np.ndarray,
    normals: np.ndarray,
    joints: np.ndarray,
    tip_ids,
    skin: SkinParams,
    dorsal_tip_ids=None,
) -> np.ndarray:
    """Per-vertex linear-RGB albedo (V, 3) of a hand in its rest (template) pose.

    Args:
        template: (V, 3) rest vertices of a right-hand model (MANO layout: fingers −x, back of
            the hand +y, thumb +z), metres.
        normals: (V, 3) rest vertex normals.
        joints: (16, 3) rest joints, MANO order.
        tip_ids: 5 fingertip vertex ids (thumb, index, middle, ring, pinky).
        skin: the subject's :class:`SkinParams`.
        dorsal_tip_ids: optional 5 nail-side vertex ids of the distal phalanges (the open
            model's); without them the nail direction is the back of the hand (+y).
    Returns:
        (V, 3) linear RGB in [0, 1]. The same ids index a mirrored (left) model's vertices.
    """
    V = len(template)
    rng = np.random.default_rng(skin.seed)
    tone = skin.tone
    lum = float(tone @ [0.2126, 0.7152, 0.0722])
    dorsal = np.clip(normals[:, 1], -1.0, 1.0)  # +1 back of the hand, −1 palm
    palm_w = np.clip(-dorsal * 1.5, 0.0, 1.0)
    # Palms: lighter and pinker, more so for dark tones.
    palm_tone = np.array([0.93, 0.76, 0.68])
    palm_mix = 0.15 + 0.45 * (1.0 - lum)
    col = tone[None] * (1 - palm_mix * palm_w[:, None]) + palm_tone[None] * (
        palm_mix * palm_w[:, None]
    )
    # Low-frequency variation: a sum of random plane waves.
    k = rng.normal(size=(6, 3))
    k *= (2 * np.pi / rng.uniform(0.015, 0.05, 6))[:, None] / np.linalg.norm(k, axis=1)[:, None]
    phase = rng.uniform(0, 2 * np.pi, 6)
    field = np.sin(template @ k.T + phase).mean(1) * np.sqrt(2.0)  # ~unit variance / √3
    red = np.sin(template @ k[::-1].T + phase[::-1]).mean(1)
    col = col * (1.0 + 0.04 * field)[:, None]
    col = col * (1.0 + 0.03 * red[:, None] * np.array([1.0, -0.5, -0.5])[None])
    shade = np.ones(V)
    redness = np.zeros(V)
    # Finger joint creases (palm side strong, back side weak) and knuckle redness.
    for name, (chain, _) in _FINGERS.items():
        for i, j in enumerate(chain):
            child = chain[i + 1] if i < 2 else None
            if child is None:
                continue
            d = joints[child] - joints[j]
            d /= np.linalg.norm(d)
            along = (template - joints[j]) @ d
            band = np.exp(-((along / (0.0012 * rng.uniform(0.8, 1.3))) ** 2))
            near = np.linalg.norm(template - joints[j], axis=1) < 0.02
            w = band * near * (palm_w + 0.35 * (1 - palm_w))
            shade *= 1.0 - skin.crease * w
            redness += 0.5 * np.exp(-((along / 0.006) ** 2)) * near * (1 - palm_w)
        if name != "thumb":
            mcp = joints[chain[0]]
            d = joints[chain[1]] - mcp
            d /= np.linalg.norm(d)
            along = (template - mcp) @ d
            band = np.exp(-((along / 0.0015) ** 2)) * (
                np.linalg.norm(template - mcp, axis=1) < 0.018
            )
            shade *= 1.0 - 0.8 * skin.crease * band * palm_w
    # Palm lines in the palm plane (x: distal −, z: radial +), from the joint layout.
    J = joints
    jit = lambda s: rng.normal(0.0, s, 3) * np.array([1.0, 0.0, 1.0])  # noqa: E731
    lines = [
        (J[7] + 0.28 * (J[0] - J[7]) + jit(0.002), J[4] + 0.22 * (J[0] - J[4]) + jit(0.002)),
        (J[1] + 0.30 * (J[0] - J[1]) + jit(0.002), J[10] + 0.55 * (J[0] - J[10]) + jit(0.002)),
        (J[1] + 0.35 * (J[0] - J[1]) + jit(0.002), 0.5 * (J[13] + J[0]) + jit(0.002)),
    ]
    flat = template * np.array([1.0, 0.0, 1.0])
    for a, b in lines:
        dist, _ = _seg_dist(flat, a * [1, 0, 1], b * [1, 0, 1])
        shade *= 1.0 - 0.9 * skin.crease * np.exp(-((dist / 0.0011) ** 2)) * palm_w
    col = col * shade[:, None]
    # Nails and fingertips.
    tips = np.asarray(tip_ids, dtype=np.int64)
    nails = np.zeros(V)
    edge = np.zeros(V)
    for chain, ti in _FINGERS.values():
        dip, tip = joints[chain[2]], template[tips[ti]]
        axis = tip - dip
        L = np.linalg.norm(axis)
        axis /= L
        if dorsal_tip_ids is not None:
            nd = template[int(dorsal_tip_ids[ti])] - dip
            nd -= (nd @ axis) * axis
        else:
            nd = np.array([0.0, 1.0, 0.0]) - axis[1] * axis
        nd /= np.linalg.norm(nd)
        rel = template - dip
        t = rel @ axis / L  # 0 at the DIP joint, 1 at the tip
        radial = rel - np.outer(rel @ axis, axis)
        r = np.linalg.norm(radial, axis=1).clip(1e-9)
        cosang = (radial @ nd) / r
        ell = ((t - 0.68) / 0.27) ** 2 + ((1.0 - cosang) / 0.35) ** 2
        w = np.clip(1.5 * (1.0 - ell), 0.0, 1.0) * (np.linalg.norm(rel, axis=1) < 1.3 * L)
        nails = np.maximum(nails, w)
        edge = np.maximum(edge, w * np.clip((t - 0.85) / 0.1, 0.0, 1.0))
        redness += 0.6 * np.clip((t - 0.6) / 0.4, 0, 1) * (np.linalg.norm(rel, axis=1) < 1.3 * L)
    col = col * (1.0 - 0.06 * np.clip(redness, 0, 1)[:, None] * np.array([-1.0, 0.6, 0.6])[None])
    nail_col = 0.45 * col + 0.55 * np.array([0.93, 0.80, 0.78])
    nail_col = nail_col * (1 - edge[:, None]) + np.array([0.96, 0.94, 0.90]) * edge[:, None]
    col = col * (1 - nails[:, None]) + nail_col * nails[:, None]
    return SKIN_REFLECTANCE * srgb_to_linear(np.clip(col, 0.0, 1.0))


# ------------------------------------------------------------------ lights
def _cct_rgb(kelvin: float) -> np.ndarray:
    """Approximate linear RGB of a black body at ``kelvin`` (normalised to max 1).

    Interpolates tabulated sRGB white points (2700 K warm … 6500 K D65-like … 7500 K cool)."""
    ks = np.array([2700.0, 4000.0, 5000.0, 6500.0, 7500.0])
    rgb = np.array(
        [[1.0, 0.69, 0.42], [1.0, 0.82, 0.64], [1.0, 0.89, 0.81], [1.0, 1.0, 1.0], [0.9, 0.93, 1.0]]
    )
    c = np.array([np.interp(kelvin, ks, rgb[:, i]) for i in range(3)])
    lin = srgb_to_linear(c)
    return lin / lin.max()


def _light_color(rng: np.random.Generator, family: str) -> np.ndarray:
    if family == "white":
        return _cct_rgb(rng.uniform(2700.0, 7500.0))
    if family == "tinted":
        h = rng.uniform(0.0, 1.0)
        s = rng.uniform(0.4, 0.8)
        rgb = np.clip(np.abs(np.mod(h * 6.0 + np.array([0.0, 4.0, 2.0]), 6.0) - 3.0) - 1.0, 0, 1)
        c = (1 - s) + s * rgb  # HSV with V = 1
        return srgb_to_linear(c)
    raise HandposeError(f"unknown light colour family {family!r}.")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def sample_lights(rng: np.random.Generator, domain: Domain, target: np.ndarray) -> Lights:
    """Random lights for a scene whose subject is around ``target`` (3,) (camera frame, metres).

    Ambient 0.08–0.35; 1–2 directional lights mostly from the camera's side (a quarter come from
    behind the subject: rim light); 0–2 point lights 0.15–0.6 m from the subject.
    """
    fam = domain.light_colors
    amb = _light_color(rng, fam) * rng.uniform(0.08, 0.35)
    nd = int(rng.integers(1, 3))
    dirs, cols = [], []
    for i in range(nd):
        d = rng.normal(size=3)
        back = rng.uniform() < 0.25 and i > 0
        d[2] = abs(d[2]) if back else -abs(d[2]) - 0.3  # towards the light: −z = camera side
        dirs.append(_unit(d))
        cols.append(_light_color(rng, fam) * rng.uniform(0.5, 1.1) * (0.6 if i else 1.0))
    npt = int(rng.integers(0, 3))
    pts, pcols, ranges = [], [], []
    for _ in range(npt):
        off = rng.normal(size=3)
        off[2] = -abs(off[2])  # between the camera and the subject
        pts.append(np.asarray(target) + _unit(off) * rng.uniform(0.15, 0.6))
        pcols.append(_light_color(rng, fam) * rng.uniform(0.3, 1.2))
        ranges.append(rng.uniform(0.2, 0.8))
    return Lights(
        ambient=amb,
        directions=np.asarray(dirs),
        colors=np.asarray(cols),
        points=np.asarray(pts).reshape(-1, 3),
        point_colors=np.asarray(pcols).reshape(-1, 3),
        point_ranges=np.asarray(ranges),
    )


# ------------------------------------------------------------------ textures
def _palette(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random sRGB colours in [0, 1] (mixed saturation and brightness)."""
    h = rng.uniform(0, 1, n)
    s = rng.uniform(0.0, 0.9, n)
    v = rng.uniform(0.1, 1.0, n)
    rgb = np.clip(np.abs(np.mod(h[:, None] * 6 + np.array([0.0, 4.0, 2.0]), 6.0) - 3.0) - 1.0, 0, 1)
    return v[:, None] * ((1 - s[:, None]) + s[:, None] * rgb)


def _resize(a: np.ndarray, H: int, W: int, nearest: bool = False) -> np.ndarray:
    """Bicubic (or nearest) resize of a float (h, w) field to (H, W) with Pillow."""
    from PIL import Image

    im = Image.fromarray(a.astype(np.float32), mode="F")
    im = im.resize((W, H), Image.NEAREST if nearest else Image.BICUBIC)
    return np.asarray(im, dtype=np.float64)


def _value_noise(rng: np.random.Generator, H: int, W: int, scales=(4, 8, 16, 32)) -> np.ndarray:
    """Multi-octave value noise in [0, 1]: random grids upsampled bicubically, 1/f weights."""
    out = np.zeros((H, W))
    tot = 0.0
    for k, s in enumerate(scales):
        n = max(2, int(s))
        g = rng.uniform(0, 1, (n, n))
        w = 0.5**k
        out += w * _resize(g, H, W)
        tot += w
    out /= tot
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-9)


def _coords(rng: np.random.Generator, H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel grid in units of the image size, rotated by a random angle."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    x, y = x / max(H, W), y / max(H, W)
    a = rng.uniform(0, np.pi)
    return x * np.cos(a) + y * np.sin(a), -x * np.sin(a) + y * np.cos(a)


def _ramp(t: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """Map t ∈ [0, 1] (H, W) through a piecewise-linear colour ramp (k, 3) → (H, W, 3)."""
    xp = np.linspace(0.0, 1.0, len(colors))
    flat = np.clip(t, 0, 1).ravel()
    out = np.stack([np.interp(flat, xp, colors[:, c]) for c in range(3)], axis=-1)
    return out.reshape(*t.shape, 3)


def _shapes(rng, img: np.ndarray) -> np.ndarray:
    from PIL import Image, ImageDraw

    H, W = img.shape[:2]
    pil = Image.fromarray(np.round(img * 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(3, 12))):
        c = tuple(int(v) for v in np.round(_palette(rng, 1)[0] * 255))
        x0, y0 = rng.uniform(-0.2, 1.0, 2) * [W, H]
        w, h = rng.uniform(0.05, 0.5, 2) * [W, H]
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=c)
        elif kind == 1:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=c)
        else:
            pts = [tuple(p) for p in rng.uniform(0, 1, (3, 2)) * [w, h] + [x0, y0]]
            draw.polygon(pts, fill=c)
    return np.asarray(pil, dtype=np.float64) / 255.0


def _family(rng: np.random.Generator, name: str, H: int, W: int) -> np.ndarray:
    """(H, W, 3) sRGB in [0, 1] of one texture family."""
    if name == "noise":
        n = _value_noise(rng, H, W, scales=sorted(rng.choice([2, 3, 5, 8, 13, 21, 34], 3)))
        return _ramp(n, _palette(rng, int(rng.integers(2, 5))))
    if name == "gradient":
        if rng.uniform() < 0.5:
            x, _ = _coords(rng, H, W)
            t = (x - x.min()) / max(x.max() - x.min(), 1e-9)
        else:
            y, x = np.mgrid[0:H, 0:W] / max(H, W)
            c = rng.uniform(0, 1, 2)
            t = np.hypot(x - c[0], y - c[1]) / rng.uniform(0.4, 1.2)
        return _ramp(t, _palette(rng, int(rng.integers(2, 4))))
    if name == "stripes":
        x, _ = _coords(rng, H, W)
        period = rng.uniform(0.03, 0.3)
        s = np.sin(2 * np.pi * x / period)
        t = np.clip(0.5 + s * rng.uniform(0.5, 4.0), 0, 1)  # soft to hard edges
        return _ramp(t, _palette(rng, 2))
    if name == "checkers":
        x, y = _coords(rng, H, W)
        p = rng.uniform(0.04, 0.25)
        t = (np.floor(x / p) + np.floor(y / p)) % 2
        return _ramp(t, _palette(rng, 2))
    if name == "shapes":
        base = _family(rng, str(rng.choice(["noise", "gradient"])), H, W)
        return _shapes(rng, base)
    if name == "voronoi":
        n = int(rng.integers(8, 40))
        h, w = max(8, H // 4), max(8, W // 4)
        seeds = rng.uniform(0, 1, (n, 2)) * [h, w]
        yy, xx = np.mgrid[0:h, 0:w]
        d = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
        cell = d.argmin(-1).astype(np.float64)
        cell = _resize(cell, H, W, nearest=True).astype(np.int64)
        return _palette(rng, n)[cell]
    if name == "rings":
        y, x = np.mgrid[0:H, 0:W] / max(H, W)
        c = rng.uniform(-0.2, 1.2, 2)
        r = np.hypot(x - c[0], y - c[1])
        t = 0.5 + 0.5 * np.sin(2 * np.pi * r / rng.uniform(0.03, 0.2))
        return _ramp(t, _palette(rng, 3))
    if name == "plaid":
        x, y = _coords(rng, H, W)
        a = 0.5 + 0.5 * np.sin(2 * np.pi * x / rng.uniform(0.05, 0.25))
        b = 0.5 + 0.5 * np.sin(2 * np.pi * y / rng.uniform(0.05, 0.25))
        c = _palette(rng, 3)
        return (a[..., None] * c[0] + b[..., None] * c[1] + (2 - a - b)[..., None] * c[2]) / 2.0
    if name == "marble":
        x, _ = _coords(rng, H, W)
        turb = _value_noise(rng, H, W, scales=(3, 6, 12))
        t = 0.5 + 0.5 * np.sin(2 * np.pi * (x / rng.uniform(0.1, 0.4) + rng.uniform(2, 6) * turb))
        return _ramp(t, _palette(rng, 2))
    raise HandposeError(f"unknown texture family {name!r}.")


def procedural_texture(
    rng: np.random.Generator, height: int, width: int, domain: Domain, blur: float | None = None
) -> np.ndarray:
    """A random (H, W, 3) uint8 sRGB texture of one of ``domain``'s families.

    Args:
        rng: random stream. height, width: size in pixels. domain: :class:`Domain`.
        blur: Gaussian σ in pixels (defocus); None: random, 0 for half of the textures.
    """
    name = str(rng.choice(domain.textures))
    img = _family(rng, name, int(height), int(width))
    sigma = (rng.uniform(0.3, 2.0) if rng.uniform() < 0.5 else 0.0) if blur is None else blur
    if sigma > 0:
        from scipy.ndimage import gaussian_filter

        img = gaussian_filter(img, sigma=(sigma, sigma, 0), mode="reflect")
    return np.round(np.clip(img, 0, 1) * 255.0).astype(np.uint8)


def texture_colors_at(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Linear-RGB colours (N, 3) of an sRGB uint8 texture (h, w, 3) at texture coordinates (N, 2)
    (nearest texel; u along columns, v along rows)."""
    h, w = texture.shape[:2]
    c = np.clip(np.round(uv[:, 0] * (w - 1)).astype(np.int64), 0, w - 1)
    r = np.clip(np.round(uv[:, 1] * (h - 1)).astype(np.int64), 0, h - 1)
    return srgb_to_linear(texture[r, c].astype(np.float64) / 255.0)
