"""Write the open hand model asset ``handpose/assets/open_hand_right.npz``.

Usage: ``python scripts/generate_open_hand.py [OUT.npz]``. Deterministic: running it again
gives the same arrays (``tests/handmodel/test_open_model.py`` checks the committed file).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from handpose.handmodel.open_model import build_open_hand
from handpose.utils.io import atomic_path

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "handpose" / "assets" / "open_hand_right.npz"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT, help="output .npz")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    model = build_open_hand()
    with atomic_path(args.out) as tmp:
        np.savez_compressed(tmp, **model)
    v, f = model["v_template"], model["f"]
    tip = v[model["tip_ids"][2]]
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB): {len(v)} vertices, "
        f"{len(f)} faces, wrist→middle tip {np.linalg.norm(tip - model['J'][0]) * 1000:.1f} mm, "
        f"{time.perf_counter() - t0:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
