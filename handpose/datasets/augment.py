"""Batched image augmentation that keeps every label consistent with the picture.

Input and output: a batch dict as made by :class:`~handpose.datasets.image_dataset.ImageDataset`
+ :func:`~handpose.formats.sample.collate`: ``image`` (B, 3, H, W) float in [0, 1], ``K``
(B, 3, 3), ``joints2d`` (B, 2, 21, 2), ``joints3d`` (B, 2, 21, 3), optional ``vertices``
(B, 2, V, 3), ``mask`` (B, H, W) uint8, ``mano_*``; other keys pass through.

**Geometry** (one pixel-space affine map ``A`` and one 3D linear map ``Q`` per sample, applied to
image, mask, labels and K together, so that ``project(Q·X, K') = A·project(X, K)`` exactly):

1. horizontal flip (``flip_p``): ``u' = W − 1 − u``; 3D mirror ``x → −x``;
   ``K' = [[fx, −s, W − 1 − cx], [0, fy, cy], [0, 0, 1]]``. A mirrored right hand is a left hand,
   so the two hand slots (and mask labels 1 ↔ 2) swap. MANO parameters mirror as
   ``ω → (ωx, −ωy, −ωz)`` for the global and every joint rotation and ``transl → (−tx, ty, tz)``:
   exact when the left model is the mirror of the right one (handpose's open model; MANO with
   the left shapedirs fix).
2. rotation about the optical axis by ``angle`` (degrees, ``rotation_deg``; positive turns the
   picture clockwise on screen): 3D points rotate about the camera's +z axis (``Q = R_z``); the
   image warps with ``T(d)·K·R_z·K⁻¹`` where ``d`` keeps the image centre fixed, and
   ``K' = T(d)·K`` (only the principal point moves). MANO: ``R_g' = R_z R_g``,
   ``transl' = R_z (J₀ + t) − J₀`` with the rest root J₀(β) from ``rest_root`` (see
   :func:`rest_root_from_models`); without it, rotated samples get ``mano_valid = False``.
3. scale about the image centre (``scale``, log-uniform) and translation (``translate`` ×
   size): ``K' = A·K``, 3D unchanged.

Images are resampled once with the composed map (kornia ``warp_affine``, bilinear, zeros
outside), masks with nearest. ``bbox`` is recomputed from the moved labels (valid joints, and
projected vertices when present).

**Appearance** (image only; each applied to a random subset of the batch): colour jitter
(brightness, contrast, saturation, hue: own implementation, kornia's ColorJitter is slow at
~40 img/s), Gaussian blur and motion blur (kornia), Gaussian noise, JPEG (Pillow's real codec,
per image), low-resolution degradation (area down-sampling to a random fraction, bilinear back),
random erasing (rectangles of random colour; the mask marks them 3 = occluder). ``extra_*``
keys are not warped, except the dense map ``extra_dense`` (B, C, H, W) float (template position
of the visible surface point, :class:`~handpose.datasets.image_dataset.ImageDataset` with
``dense=True``): it moves with the image (bilinear, zeros outside), its x channel changes sign
for mirrored samples (the left template is the right one mirrored through x = 0, so a mirrored
right hand's surface point is the left template's point), and erased rectangles zero it.

Use :func:`augment` with an :class:`AugmentConfig` (YAML-friendly dataclass) and a
``torch.Generator`` for reproducible draws.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from handpose.errors import HandposeError

__all__ = [
    "AugmentConfig",
    "augment",
    "geometry_maps",
    "apply_geometry",
    "colour_jitter",
    "add_noise",
    "jpeg_compress",
    "low_resolution",
    "random_erase",
    "erase_boxes",
    "gaussian_blur",
    "motion_blur",
    "batch_label_bbox",
    "rest_root_from_models",
    "MIRROR_AXIS_ANGLE",
]

MIRROR_AXIS_ANGLE = (1.0, -1.0, -1.0)
_SLOT_KEYS = (
    "hand_valid",
    "joints3d",
    "joints2d",
    "joint_valid",
    "vertices",
    "mano_global_orient",
    "mano_hand_pose",
    "mano_betas",
    "mano_transl",
    "mano_valid",
)
# YIQ (the coefficients of Python's colorsys) for the hue rotation
_RGB2YIQ = torch.tensor(
    [
        [0.30, 0.59, 0.11],
        [0.74 * 0.70 + 0.27 * 0.30, -0.74 * 0.59 + 0.27 * 0.59, -0.74 * 0.11 - 0.27 * 0.89],
        [0.48 * 0.70 - 0.41 * 0.30, -0.48 * 0.59 - 0.41 * 0.59, -0.48 * 0.11 + 0.41 * 0.89],
    ],
    dtype=torch.float64,
)
_GRAY = (0.299, 0.587, 0.114)


@dataclass
class AugmentConfig:
    """Augmentation strengths and probabilities (0 disables an operation).

    Geometry: ``flip_p``; ``rotation_deg`` (uniform ±) applied with ``rotation_p``; ``scale``
    (min, max, log-uniform); ``translate`` (± fraction of width / height).
    Appearance: ``colour_p`` with ``brightness``, ``contrast``, ``saturation`` (factors in
    1 ± value) and ``hue`` (± fraction of a turn); ``blur_p`` with ``blur_sigma`` (px);
    ``motion_blur_p`` with odd ``motion_blur_kernel``; ``noise_p`` with ``noise_std`` (max);
    ``jpeg_p`` with ``jpeg_quality`` (min, max); ``lowres_p`` with ``lowres_factor``
    (min, max fraction of the size); ``erase_p`` with ``erase_area`` (min, max fraction).
    """

    flip_p: float = 0.0
    rotation_deg: float = 30.0
    rotation_p: float = 1.0
    scale: tuple[float, float] = (0.8, 1.25)
    translate: float = 0.1
    colour_p: float = 0.8
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3
    hue: float = 0.05
    blur_p: float = 0.1
    blur_sigma: tuple[float, float] = (0.5, 1.5)
    motion_blur_p: float = 0.1
    motion_blur_kernel: int = 7
    noise_p: float = 0.2
    noise_std: float = 0.03
    jpeg_p: float = 0.2
    jpeg_quality: tuple[int, int] = (30, 95)
    lowres_p: float = 0.1
    lowres_factor: tuple[float, float] = (0.25, 0.75)
    erase_p: float = 0.2
    erase_area: tuple[float, float] = (0.02, 0.15)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> AugmentConfig:
        """Build from a YAML mapping; unknown keys raise naming the key."""
        names = {f.name for f in fields(cls)}
        for k in d or {}:
            if k not in names:
                raise HandposeError(f"unknown augmentation option '{k}'.")
        vals = {k: tuple(v) if isinstance(v, list) else v for k, v in (d or {}).items()}
        return cls(**vals)

    @classmethod
    def none(cls) -> AugmentConfig:
        """Every operation off (identity)."""
        zero = {f.name: 0.0 for f in fields(cls) if f.name.endswith("_p")}
        return cls(**zero, rotation_deg=0.0, scale=(1.0, 1.0), translate=0.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- geometry --------------------------------------------------------------------------------


def _rz(angle_rad: Tensor) -> Tensor:
    c, s = torch.cos(angle_rad), torch.sin(angle_rad)
    z, o = torch.zeros_like(c), torch.ones_like(c)
    return torch.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(angle_rad.shape + (3, 3))


def _translation(d: Tensor) -> Tensor:
    T = torch.eye(3, dtype=d.dtype).repeat(d.shape[0], 1, 1)
    T[:, :2, 2] = d
    return T


def geometry_maps(
    K: Tensor,
    size: tuple[int, int],
    flip: Tensor,
    angle_deg: Tensor,
    scale: Tensor,
    shift: Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    """The per-sample maps of the module docstring (float64).

    Args:
        K: (B, 3, 3) intrinsics.
        size: (H, W) of the images.
        flip: (B,) bool; angle_deg, scale: (B,); shift: (B, 2) pixels (u, v).
    Returns:
        ``A`` (B, 3, 3) pixel map (affine, last row 0 0 1), ``Q`` (B, 3, 3) 3D map, ``K'``.
    """
    H, W = size
    Kd = K.to(torch.float64)
    B = Kd.shape[0]
    eye = torch.eye(3, dtype=torch.float64).repeat(B, 1, 1)
    f = flip.to(torch.bool)
    Af = eye.clone()
    Af[f, 0, 0] = -1.0
    Af[f, 0, 2] = W - 1.0
    Qf = eye.clone()
    Qf[f, 0, 0] = -1.0
    K1 = Af @ Kd @ Qf
    Rz = _rz(torch.deg2rad(angle_deg.to(torch.float64)))
    Hr = K1 @ Rz @ torch.linalg.inv(K1)
    c = torch.tensor([(W - 1) / 2.0, (H - 1) / 2.0, 1.0], dtype=torch.float64)
    d = c[:2] - (Hr @ c)[:, :2]
    Ar = _translation(d) @ Hr
    K2 = _translation(d) @ K1
    s = scale.to(torch.float64)
    As = eye.clone()
    As[:, 0, 0] = s
    As[:, 1, 1] = s
    As[:, :2, 2] = c[:2] * (1 - s[:, None]) + shift.to(torch.float64)
    A = As @ Ar @ Af
    A[:, 2] = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)  # exact affine
    return A, Rz @ Qf, As @ K2


def _mirror_aa(aa: Tensor) -> Tensor:
    sign = torch.tensor(MIRROR_AXIS_ANGLE, dtype=aa.dtype)
    return (aa.reshape(*aa.shape[:-1], aa.shape[-1] // 3, 3) * sign).reshape(aa.shape)


def apply_geometry(
    batch: Mapping[str, Any],
    A: Tensor,
    Q: Tensor,
    K_new: Tensor,
    flip: Tensor,
    angle_deg: Tensor,
    rest_root: Callable[[Tensor, int], Tensor] | None = None,
) -> dict[str, Any]:
    """Apply the maps of :func:`geometry_maps` to every geometric key of ``batch`` (a new dict)."""
    from kornia.geometry.transform import warp_affine

    out = dict(batch)
    img = batch["image"]
    H, W = img.shape[-2:]
    M = A[:, :2].to(img.dtype)
    out["image"] = warp_affine(img, M, (H, W), mode="bilinear", align_corners=True)
    if "extra_dense" in batch:
        d = warp_affine(
            batch["extra_dense"], M.to(batch["extra_dense"].dtype), (H, W), mode="bilinear",
            align_corners=True,
        )  # fmt: skip
        f = flip.to(torch.bool)
        if f.any():
            d[f, 0] = -d[f, 0]
        out["extra_dense"] = d
    if "mask" in batch:
        m = batch["mask"]
        warped = warp_affine(m[:, None].float(), M, (H, W), mode="nearest", align_corners=True)
        m2 = warped[:, 0].round().to(m.dtype)
        f = flip.to(torch.bool)
        if f.any():  # right ↔ left labels for mirrored samples
            mf = m2[f]
            m2[f] = torch.where(mf == 1, 2, torch.where(mf == 2, 1, mf)).to(m.dtype)
        out["mask"] = m2
    dt = batch["joints3d"].dtype
    Qd = Q.to(dt)
    out["K"] = K_new.to(batch["K"].dtype)
    out["joints3d"] = batch["joints3d"] @ Qd[:, None].mT
    j2 = batch["joints2d"].to(torch.float64)
    out["joints2d"] = (j2 @ A[:, None, :2, :2].mT + A[:, None, None, :2, 2]).to(dt)
    if "vertices" in batch:
        out["vertices"] = batch["vertices"] @ Qd[:, None].mT
    f = flip.to(torch.bool)
    has_mano = "mano_global_orient" in batch
    if has_mano:
        go = batch["mano_global_orient"].clone()
        hp = batch["mano_hand_pose"].clone()
        tr = batch["mano_transl"].clone()
        go[f] = _mirror_aa(go[f])
        hp[f] = _mirror_aa(hp[f])
        tr[f] = tr[f] * torch.tensor([-1.0, 1.0, 1.0], dtype=tr.dtype)
        out.update(mano_global_orient=go, mano_hand_pose=hp, mano_transl=tr)
    # mirrored hands change side: swap the slots
    for k in _SLOT_KEYS:
        if k in out and f.any():
            v = out[k].clone()
            v[f] = v[f].flip(1)
            out[k] = v
    if has_mano:
        _rotate_mano(out, angle_deg, rest_root)
    out["bbox"] = batch_label_bbox(out).to(batch["bbox"].dtype)
    return out


def _rotate_mano(out: dict[str, Any], angle_deg: Tensor, rest_root) -> None:
    from handpose.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

    rot = angle_deg != 0
    if not rot.any():
        return
    Rz = _rz(torch.deg2rad(angle_deg.to(torch.float64)))[rot]
    go = out["mano_global_orient"].clone()
    tr = out["mano_transl"].clone()
    valid = out["mano_valid"].clone()
    Rg = axis_angle_to_matrix(go[rot].to(torch.float64))  # (n, 2, 3, 3)
    go[rot] = matrix_to_axis_angle(Rz[:, None] @ Rg).to(go.dtype)
    if rest_root is None:
        valid[rot] = False  # transl needs J0(β): mark the parameters unknown
    else:
        for slot in range(2):
            J0 = rest_root(out["mano_betas"][rot, slot], slot).to(torch.float64)
            t = tr[rot, slot].to(torch.float64)
            tr[rot, slot] = ((Rz @ (J0 + t)[..., None])[..., 0] - J0).to(tr.dtype)
    out.update(mano_global_orient=go, mano_transl=tr, mano_valid=valid)


def batch_label_bbox(batch: Mapping[str, Any]) -> Tensor:
    """(B, 4) tight boxes of the valid 2D joints of valid hands, and of the projected vertices
    of valid hands when present (the schema's definition); zeros when nothing is valid."""
    j2 = batch["joints2d"].to(torch.float64)
    B = j2.shape[0]
    pts = [j2.reshape(B, -1, 2)]
    valid = [(batch["joint_valid"] & batch["hand_valid"][..., None]).reshape(B, -1)]
    if "vertices" in batch:
        v = batch["vertices"].to(torch.float64)
        h = v @ batch["K"].to(torch.float64)[:, None].mT
        z = h[..., 2:]
        ok = (z[..., 0] > 0) & batch["hand_valid"][..., None] & (v.abs().sum(-1) > 0)
        uv = h[..., :2] / torch.where(z > 0, z, torch.ones_like(z))
        pts.append(uv.reshape(B, -1, 2))
        valid.append(ok.reshape(B, -1))
    p = torch.cat(pts, 1)
    ok = torch.cat(valid, 1)[..., None]
    inf = torch.tensor(float("inf"), dtype=torch.float64)
    lo = torch.where(ok, p, inf).amin(1)
    hi = torch.where(ok, p, -inf).amax(1)
    box = torch.cat([lo, hi], -1)
    return torch.where(ok.any(1), box, torch.zeros_like(box))


def rest_root_from_models(right, left) -> Callable[[Tensor, int], Tensor]:
    """``rest_root(betas (N, 10), slot) → J₀(β) (N, 3)`` from two hand models (slot 0 right)."""

    @torch.no_grad()
    def fn(betas: Tensor, slot: int) -> Tensor:
        m = right if slot == 0 else left
        b = betas.to(next(iter(m.buffers())).dtype)
        return m(betas=b, return_vertices=False).joints[..., 0, :].to(betas.dtype)

    return fn


# --- appearance -----------------------------------------------------------------------------


def _gray(img: Tensor) -> Tensor:
    w = torch.tensor(_GRAY, dtype=img.dtype)
    return torch.einsum("c,bchw->bhw", w, img)[:, None]


def colour_jitter(
    img: Tensor, brightness: Tensor, contrast: Tensor, saturation: Tensor, hue: Tensor
) -> Tensor:
    """Brightness, contrast, saturation, hue in that order, clamped to [0, 1] after each.

    Args:
        img: (B, 3, H, W) in [0, 1].
        brightness, contrast, saturation: (B,) factors (1 = unchanged): ``x·b``;
            ``(x − mean gray)·c + mean gray``; ``gray + (x − gray)·s`` (gray = ITU-R 601 luma).
        hue: (B,) fraction of a turn: the chroma (I, Q) of YIQ rotates by ``2π·hue``.
    """
    v = lambda t: t.to(img.dtype).view(-1, 1, 1, 1)  # noqa: E731
    x = (img * v(brightness)).clamp_(0, 1)
    m = _gray(x).mean((2, 3), keepdim=True)
    c = v(contrast)
    x = x.mul_(c).add_(m * (1 - c)).clamp_(0, 1)  # (x − m)·c + m
    g = _gray(x)
    s = v(saturation)
    x = x.mul_(s).add_(g * (1 - s)).clamp_(0, 1)  # g + (x − g)·s
    if bool((hue != 0).any()):
        T = _RGB2YIQ.to(img.dtype)
        Ti = torch.linalg.inv(_RGB2YIQ).to(img.dtype)
        a = 2 * math.pi * hue.to(img.dtype)
        c, s = torch.cos(a), torch.sin(a)
        z, o = torch.zeros_like(c), torch.ones_like(c)
        R = torch.stack([o, z, z, z, c, -s, z, s, c], -1).view(-1, 3, 3)
        Mx = Ti @ R @ T  # (B, 3, 3) in RGB
        x = torch.bmm(Mx, x.reshape(x.shape[0], 3, -1)).view_as(x).clamp_(0, 1)
    return x


def add_noise(img: Tensor, std: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Gaussian sensor noise with per-image ``std`` (B,), clamped to [0, 1]."""
    n = torch.randn(img.shape, generator=generator, dtype=img.dtype)
    return (img + n * std.to(img.dtype).view(-1, 1, 1, 1)).clamp(0, 1)


def jpeg_compress(img: Tensor, quality: Tensor) -> Tensor:
    """Real JPEG round trip (Pillow) per image at integer ``quality`` (B,)."""
    from PIL import Image

    out = torch.empty_like(img)
    u8 = (img.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    for i in range(img.shape[0]):
        buf = io.BytesIO()
        Image.fromarray(u8[i]).save(buf, format="JPEG", quality=int(quality[i]))
        buf.seek(0)
        with Image.open(buf) as im:
            arr = torch.from_numpy(np.asarray(im.convert("RGB")).copy())
        out[i] = arr.permute(2, 0, 1).to(img.dtype) / 255.0
    return out


def low_resolution(img: Tensor, factor: Tensor) -> Tensor:
    """Area down-sampling to ``round(size·factor)`` (per image) and bilinear up-sampling back."""
    H, W = img.shape[-2:]
    out = torch.empty_like(img)
    for i in range(img.shape[0]):
        h = max(1, round(H * float(factor[i])))
        w = max(1, round(W * float(factor[i])))
        small = F.interpolate(img[i : i + 1], size=(h, w), mode="area")
        out[i] = F.interpolate(small, size=(H, W), mode="bilinear", align_corners=False)[0]
    return out


def erase_boxes(
    size: tuple[int, int], area: Tensor, aspect: Tensor, centre: Tensor
) -> tuple[Tensor, Tensor]:
    """Integer boxes (B, 4) x0, y0, x1, y1 (exclusive ends) and their (B, H, W) bool masks."""
    H, W = size
    a = area.to(torch.float64) * H * W
    r = aspect.to(torch.float64)
    h = (a * r).sqrt().round().clamp(1, H)
    w = (a / r).sqrt().round().clamp(1, W)
    cx, cy = centre[:, 0].to(torch.float64) * W, centre[:, 1].to(torch.float64) * H
    x0 = (cx - w / 2).round().clamp(0, W - 1)
    y0 = (cy - h / 2).round().clamp(0, H - 1)
    x1 = (x0 + w).clamp(max=W)
    y1 = (y0 + h).clamp(max=H)
    boxes = torch.stack([x0, y0, x1, y1], -1).long()
    xs = torch.arange(W).view(1, 1, W)
    ys = torch.arange(H).view(1, H, 1)
    m = (
        (xs >= boxes[:, 0, None, None])
        & (xs < boxes[:, 2, None, None])
        & (ys >= boxes[:, 1, None, None])
        & (ys < boxes[:, 3, None, None])
    )
    return boxes, m


def random_erase(img: Tensor, mask: Tensor, colour: Tensor) -> Tensor:
    """Fill ``mask`` (B, H, W) with the per-image ``colour`` (B, 3)."""
    c = colour.to(img.dtype)[:, :, None, None].expand_as(img)
    return torch.where(mask[:, None], c, img)


def gaussian_blur(img: Tensor, sigma: Tensor) -> Tensor:
    """kornia Gaussian blur with per-image ``sigma`` (B,) px (kernel 2·⌈3σ_max⌉ + 1)."""
    from kornia.filters import gaussian_blur2d

    k = 2 * math.ceil(3 * float(sigma.max())) + 1
    s = sigma.to(img.dtype)[:, None].repeat(1, 2)
    return gaussian_blur2d(img, (k, k), s)


def motion_blur(img: Tensor, kernel: int, angle: Tensor, direction: Tensor) -> Tensor:
    """kornia motion blur: line kernel of odd size ``kernel``, ``angle`` (B,) degrees,
    ``direction`` (B,) in [−1, 1]."""
    from kornia.filters import motion_blur as _mb

    return _mb(img, int(kernel), angle.to(img.dtype), direction.to(img.dtype))


# --- the pipeline ---------------------------------------------------------------------------


def _u(n: int, lo: float, hi: float, g) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)


def _pick(n: int, p: float, g) -> Tensor:
    return torch.rand(n, generator=g) < p


def augment(
    batch: Mapping[str, Any],
    config: AugmentConfig | None = None,
    generator: torch.Generator | None = None,
    rest_root: Callable[[Tensor, int], Tensor] | None = None,
) -> dict[str, Any]:
    """Augment a batch (module docstring): geometry first, then appearance.

    Args:
        batch: dict with ``image`` (B, 3, H, W) float in [0, 1] and the label keys.
        config: strengths and probabilities (default :class:`AugmentConfig`).
        generator: random source (same generator state → same output).
        rest_root: J₀(β) for exact MANO translations under rotation
            (:func:`rest_root_from_models`).
    Returns:
        a new dict; inputs are not modified.
    """
    cfg = config or AugmentConfig()
    img = batch["image"]
    if not (
        isinstance(img, Tensor) and img.ndim == 4 and img.shape[1] == 3 and img.is_floating_point()
    ):
        raise HandposeError("augment needs 'image' as a float tensor (B, 3, H, W) in [0, 1].")
    B, _, H, W = img.shape
    g = generator
    flip = _pick(B, cfg.flip_p, g)
    angle = torch.where(
        _pick(B, cfg.rotation_p, g), _u(B, -cfg.rotation_deg, cfg.rotation_deg, g), 0.0
    )
    lo, hi = cfg.scale
    scale = torch.exp(_u(B, math.log(lo), math.log(hi), g))
    shift = torch.stack(
        [_u(B, -cfg.translate, cfg.translate, g) * W, _u(B, -cfg.translate, cfg.translate, g) * H],
        1,
    )
    out = dict(batch)
    if flip.any() or (angle != 0).any() or (scale != 1).any() or (shift != 0).any():
        A, Q, K2 = geometry_maps(batch["K"], (H, W), flip, angle, scale, shift)
        out = apply_geometry(batch, A, Q, K2, flip, angle, rest_root)
    x = out["image"]

    sel = _pick(B, cfg.colour_p, g)
    if sel.any():
        n = int(sel.sum())
        x = x.clone()
        x[sel] = colour_jitter(
            x[sel],
            _u(n, 1 - cfg.brightness, 1 + cfg.brightness, g),
            _u(n, 1 - cfg.contrast, 1 + cfg.contrast, g),
            _u(n, 1 - cfg.saturation, 1 + cfg.saturation, g),
            _u(n, -cfg.hue, cfg.hue, g),
        )
    sel = _pick(B, cfg.blur_p, g)
    if sel.any():
        x = x.clone()
        x[sel] = gaussian_blur(x[sel], _u(int(sel.sum()), *cfg.blur_sigma, g))
    sel = _pick(B, cfg.motion_blur_p, g)
    if sel.any():
        n = int(sel.sum())
        x = x.clone()
        x[sel] = motion_blur(x[sel], cfg.motion_blur_kernel, _u(n, 0, 180, g), _u(n, -1, 1, g))
    sel = _pick(B, cfg.lowres_p, g)
    if sel.any():
        x = x.clone()
        x[sel] = low_resolution(x[sel], _u(int(sel.sum()), *cfg.lowres_factor, g))
    sel = _pick(B, cfg.noise_p, g)
    if sel.any():
        x = x.clone()
        x[sel] = add_noise(x[sel], _u(int(sel.sum()), 0, cfg.noise_std, g), g)
    sel = _pick(B, cfg.jpeg_p, g)
    if sel.any():
        q = torch.randint(
            cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1, (int(sel.sum()),), generator=g
        )
        x = x.clone()
        x[sel] = jpeg_compress(x[sel], q)
    sel = _pick(B, cfg.erase_p, g)
    if sel.any():
        n = int(sel.sum())
        aspect = torch.exp(_u(n, math.log(0.3), math.log(1 / 0.3), g))
        centre = torch.rand(n, 2, generator=g, dtype=torch.float64)
        _, m = erase_boxes((H, W), _u(n, *cfg.erase_area, g), aspect, centre)
        x = x.clone()
        x[sel] = random_erase(x[sel], m, torch.rand(n, 3, generator=g))
        if "extra_dense" in out:
            dn = out["extra_dense"].clone()
            dn[sel] = torch.where(m[:, None], torch.zeros_like(dn[sel]), dn[sel])
            out["extra_dense"] = dn
        if "mask" in out:
            mk = out["mask"].clone()
            mk[sel] = torch.where(m, torch.full_like(mk[sel], 3), mk[sel])
            out["mask"] = mk
    out["image"] = x
    return out
