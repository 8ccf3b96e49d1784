"""Small schema samples for the image dataset tests (deterministic from a seed)."""

from __future__ import annotations

import numpy as np

from handpose.formats.sample import empty_sample


def make_sample(
    seed: int = 0,
    h: int = 24,
    w: int = 32,
    *,
    num_vertices: int | None = 7,
    mano: bool = True,
    mask: bool = True,
    two: bool = False,
) -> dict:
    """A random but valid sample: right hand (and left when ``two``), projected joints."""
    rng = np.random.default_rng(seed)
    s = empty_sample(h, w, num_vertices=num_vertices, mano=mano, mask=mask)
    s["image"][:] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    K = np.array([[40.0, 0, (w - 1) / 2], [0, 42.0, (h - 1) / 2], [0, 0, 1]], np.float32)
    s["K"][:] = K
    for slot in (0, 1) if two else (0,):
        xyz = rng.normal(0, 0.03, (21, 3)) + [0.0, 0.0, 0.5]
        s["hand_valid"][slot] = True
        s["joints3d"][slot] = xyz
        uvw = xyz @ K.T.astype(np.float64)
        s["joints2d"][slot] = uvw[:, :2] / uvw[:, 2:]
        s["joint_valid"][slot] = rng.random(21) > 0.1
        if num_vertices:
            s["vertices"][slot] = rng.normal(0, 0.03, (num_vertices, 3)) + [0, 0, 0.5]
        if mano:
            s["mano_valid"][slot] = True
            s["mano_global_orient"][slot] = rng.normal(0, 1, 3)
            s["mano_hand_pose"][slot] = rng.normal(0, 0.3, 45)
            s["mano_betas"][slot] = rng.normal(0, 1, 10)
            s["mano_transl"][slot] = rng.normal(0, 0.1, 3)
    if mask:
        s["mask"][:] = rng.integers(0, 4, (h, w), dtype=np.uint8)
    uv = s["joints2d"][s["hand_valid"]].reshape(-1, 2)
    s["bbox"][:] = [uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()]
    s["interacting"][()] = two
    s["sequence"] = f"seq{seed % 3}"
    s["frame"][()] = seed
    s["view"][()] = seed % 2
    s["capture_hw"][:] = (h * 2, w * 2)
    return s


def make_level(sample: dict, px: int) -> dict:
    """A ladder level of ``sample`` with long side ``px`` (nearest-neighbour image, scaled K)."""
    h, w = sample["image"].shape[:2]
    s = px / max(h, w)
    lh, lw = max(1, round(h * s)), max(1, round(w * s))
    rows = np.minimum((np.arange(lh) / s).astype(int), h - 1)
    cols = np.minimum((np.arange(lw) / s).astype(int), w - 1)
    K = sample["K"].copy()
    K[:2] *= s
    K[0, 2] = (sample["K"][0, 2] + 0.5) * s - 0.5
    K[1, 2] = (sample["K"][1, 2] + 0.5) * s - 0.5
    out = {
        "image": np.ascontiguousarray(sample["image"][rows][:, cols]),
        "K": K.astype(np.float32),
        "joints2d": ((sample["joints2d"] + 0.5) * s - 0.5).astype(np.float32),
        "bbox": ((sample["bbox"] + 0.5) * s - 0.5).astype(np.float32),
    }
    if "mask" in sample:
        out["mask"] = np.ascontiguousarray(sample["mask"][rows][:, cols])
    return out
