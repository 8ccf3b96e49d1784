"""Regenerate the synthetic-image pictures of the README (docs/images/synth_*.png).

Generates small datasets with ``handpose.simulators.images.generate`` (fixed seeds) into a
temporary folder, reads them back through the shard storage and draws samples with
``handpose.datasets.show.draw_sample`` (mask tint: right red, left blue, object green; skeleton
coloured by finger; box in yellow):

- ``synth_single.png``: ``single`` samples (224×224 crops, both sides, occluders);
- ``synth_twohand.png``: ``twohand`` samples (the four interacting configurations and SH);
- ``synth_video.png``: frames of one ``video`` sequence from two views (with a grasped object);
- ``synth_ladder.png``: one video frame at 256, 128, 64, 32 and 16 px (the stored ladder:
  blur, area downsampling, noise, JPEG; labels moved with K), shown enlarged (nearest);
- ``synth_domains.png``: the ``main`` and the held-out ``heldout`` rendering domains.

Usage: ``python scripts/make_synth_gallery.py [--out docs/images]`` (needs the render extra).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose.datasets.show import draw_sample  # noqa: E402
from handpose.formats.shards import open_shards  # noqa: E402
from handpose.simulators.images.generate import ImageSynthConfig, generate_images  # noqa: E402
from handpose.utils.io import atomic_path  # noqa: E402

MAX_BYTES = 500_000


def _no_mesh(sample: dict) -> dict:
    return {k: v for k, v in sample.items() if k != "vertices"}


def _overlay(sample: dict, caption: str = "") -> np.ndarray:
    """The overlay panel (right half) of draw_sample, with its caption strip."""
    pic = draw_sample(_no_mesh(sample), caption=caption)
    w = (pic.shape[1] - 4) // 2
    return np.concatenate([pic[:16, :w], pic[16:, w + 4 :]], axis=0)


def _grid(tiles: list[np.ndarray], cols: int, pad: int = 4) -> np.ndarray:
    h = max(t.shape[0] for t in tiles)
    w = max(t.shape[1] for t in tiles)
    rows = (len(tiles) + cols - 1) // cols
    out = np.zeros((rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad, 3), np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        out[
            r * (h + pad) : r * (h + pad) + t.shape[0], c * (w + pad) : c * (w + pad) + t.shape[1]
        ] = t
    return out


def _save(img: np.ndarray, path: Path) -> None:
    """PNG under MAX_BYTES: shrink by 10 % steps (Lanczos) until it fits."""
    from PIL import Image

    pil = Image.fromarray(img)
    scale = 1.0
    while True:
        im = (
            pil
            if scale == 1.0
            else pil.resize((int(pil.width * scale), int(pil.height * scale)), Image.LANCZOS)
        )
        with atomic_path(path, suffix=".png") as tmp:
            im.save(tmp, format="PNG", optimize=True)
        if path.stat().st_size <= MAX_BYTES:
            print(f"wrote {path} ({im.width}×{im.height}, {path.stat().st_size / 1e3:.0f} kB)")
            return
        scale *= 0.9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "docs/images"))
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    out = Path(args.out)
    import torch

    torch.set_num_threads(1)
    base = dict(seed=args.seed, subjects={"train": 6, "val": 1, "test": 1}, antialias=4)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = ImageSynthConfig(
            kind="single", counts={"train": 6, "val": 0, "test": 0}, occluder_prob=0.5, **base
        )
        generate_images(cfg, tmp / "single")
        ds = open_shards(tmp / "single")
        tiles = [_overlay(ds.get("train", i), f"single #{i}") for i in range(6)]
        _save(_grid(tiles, 3), out / "synth_single.png")

        from handpose.simulators.images.scenes import CONFIGURATIONS

        cfg = ImageSynthConfig(kind="twohand", counts={"train": 12, "val": 0, "test": 0}, **base)
        generate_images(cfg, tmp / "twohand")
        ds = open_shards(tmp / "twohand")
        picked, seen = [], set()
        for i in range(ds.num_samples("train")):
            s = ds.get("train", i)
            c = int(s["extra_configuration"])
            if c not in seen:
                seen.add(c)
                name = CONFIGURATIONS[c] if c >= 0 else "single hand (SH)"
                picked.append(_overlay(s, f"twohand: {name}"))
        _save(_grid(picked[:6], 3), out / "synth_twohand.png")

        cfg = ImageSynthConfig(kind="video", counts={"train": 1, "val": 0, "test": 0}, frames=(48, 48), views=2,
                               object_prob=1.0, **base)  # fmt: skip
        generate_images(cfg, tmp / "video")
        ds = open_shards(tmp / "video")
        n = ds.num_samples("train")
        per_view = n // 2
        frames = [0, 12, 24, 36, 47]
        tiles = [
            _overlay(ds.get("train", v * per_view + f), f"view {v} frame {f}")
            for v in (0, 1)
            for f in frames
        ]
        _save(_grid(tiles, len(frames)), out / "synth_video.png")

        idx = 24
        full = ds.get("train", idx)
        levels = [full] + [ds.get("train", idx, level=px) for px in (128, 64, 32, 16)]
        tiles = []
        for s in levels:
            px = s["image"].shape[0]
            raw = draw_sample(_no_mesh(s), caption=f"{px} px")
            w = (raw.shape[1] - 4) // 2
            tiles.append(np.concatenate([raw[:, :w], _overlay(s, f"{px} px labels")[16:]], axis=0))
        _save(_grid(tiles, len(tiles)), out / "synth_ladder.png")

        rows = []
        for domain in ("main", "heldout"):
            cfg = ImageSynthConfig(
                kind="single", counts={"train": 5, "val": 0, "test": 0}, domain=domain, **base
            )
            generate_images(cfg, tmp / f"dom_{domain}")
            ds = open_shards(tmp / f"dom_{domain}")
            for i in range(5):
                pic = draw_sample(_no_mesh(ds.get("train", i)), caption=f"domain {domain}")
                rows.append(pic[:, : (pic.shape[1] - 4) // 2])
        _save(_grid(rows, 5), out / "synth_domains.png")


if __name__ == "__main__":
    main()
