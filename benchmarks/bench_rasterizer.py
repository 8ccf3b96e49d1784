"""Speed of the numpy z-buffer rasterizer against a per-triangle loop reference.

The reference (kept here) is the textbook scan: for each triangle, in a Python loop, test the
pixels of its bounding box with edge functions and update the z-buffer where the fragment is
nearer. ``handpose.render.rasterize`` computes the same fragments (checked below before timing)
for all triangles at once. Both run on the open hand model (about 2750 triangles) seen from the
back of the hand; ``render_mesh`` adds smooth Lambert shading.

Usage:
    python benchmarks/bench_rasterizer.py [--sizes 128 256 512] [--repeats 7]
    [--out docs/benchmarks/rasterizer]

Writes ``<out>.json`` and ``<out>.md`` (median milliseconds per call; speed-up = reference /
handpose, measured in the same run).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from handpose.render import (
    frame_points,
    intrinsics_from_fov,
    rasterize,
    render_mesh,
    world_to_camera,
)
from handpose.utils.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]


def rasterize_loop(v: np.ndarray, f: np.ndarray, K: np.ndarray, H: int, W: int):
    """Per-triangle reference: (face_index (H, W), depth (H, W))."""
    uvw = v @ K.T
    uv = uvw[:, :2] / uvw[:, 2:]
    depth = np.full((H, W), np.inf)
    face = np.full((H, W), -1, dtype=np.int64)
    for fi, (i, j, k) in enumerate(f):
        a, b, c = uv[i], uv[j], uv[k]
        area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        if abs(area) < 1e-12:
            continue
        u0, u1 = max(int(np.ceil(min(a[0], b[0], c[0]))), 0), min(int(max(a[0], b[0], c[0])), W - 1)
        v0, v1 = max(int(np.ceil(min(a[1], b[1], c[1]))), 0), min(int(max(a[1], b[1], c[1])), H - 1)
        if u1 < u0 or v1 < v0:
            continue
        ys, xs = np.mgrid[v0 : v1 + 1, u0 : u1 + 1]
        l0 = ((b[0] - xs) * (c[1] - ys) - (b[1] - ys) * (c[0] - xs)) / area
        l1 = ((c[0] - xs) * (a[1] - ys) - (c[1] - ys) * (a[0] - xs)) / area
        l2 = 1.0 - l0 - l1
        inside = (l0 >= 0) & (l1 >= 0) & (l2 >= 0)
        z = 1.0 / (l0 / v[i, 2] + l1 / v[j, 2] + l2 / v[k, 2])
        win = inside & (z < depth[v0 : v1 + 1, u0 : u1 + 1])
        depth[v0 : v1 + 1, u0 : u1 + 1][win] = z[win]
        face[v0 : v1 + 1, u0 : u1 + 1][win] = fi
    return face, depth


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times)


def bench_size(v: np.ndarray, f: np.ndarray, size: int, repeats: int) -> dict:
    K = intrinsics_from_fov(30.0, size, size)
    R, t = frame_points(v, (0.0, -1.0, 0.0), (-1.0, 0.0, 0.0), 30.0)
    vc = world_to_camera(v, R, t)
    ref_face, ref_depth = rasterize_loop(vc, f, K, size, size)
    frags = rasterize(vc, f, K, (size, size))
    # Same coverage and depths (ties on shared edges may pick either triangle).
    assert np.array_equal(frags.mask, ref_face >= 0)
    assert np.allclose(frags.depth[frags.mask], ref_depth[frags.mask], rtol=1e-9)
    ref = median_ms(lambda: rasterize_loop(vc, f, K, size, size), max(1, repeats // 2))
    ours = median_ms(lambda: rasterize(vc, f, K, (size, size)), repeats)
    culled = median_ms(lambda: rasterize(vc, f, K, (size, size), cull_backfaces=True), repeats)
    shaded = median_ms(lambda: render_mesh(vc, f, K, (size, size), cull_backfaces=True), repeats)
    return {
        "size": size,
        "faces": len(f),
        "reference_loop_ms": ref,
        "rasterize_ms": ours,
        "rasterize_culled_ms": culled,
        "render_mesh_culled_ms": shaded,
        "speedup": ref / ours,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "rasterizer"))
    args = p.parse_args(argv)

    with np.load(ROOT / "handpose" / "assets" / "open_hand_right.npz") as z:
        v, f = z["v_template"], z["f"].astype(np.int64)
    rows = []
    for size in args.sizes:
        rows.append(bench_size(v, f, size, args.repeats))
        print(rows[-1])

    out = Path(args.out)
    info = {
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "results": rows,
    }
    atomic_write_text(out.with_suffix(".json"), json.dumps(info, indent=2) + "\n")
    lines = [
        "# Rasterizer speed",
        "",
        f"Open hand model ({rows[0]['faces']} triangles), median of {args.repeats} calls, numpy "
        f"{np.__version__}, `{info['processor']}` ({info['platform']}). Written by "
        "`benchmarks/bench_rasterizer.py`.",
        "",
        "| image | per-triangle loop (ms) | rasterize (ms) | speed-up | culled (ms) "
        "| render_mesh, culled (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']}×{r['size']} | {r['reference_loop_ms']:.1f} | {r['rasterize_ms']:.1f} "
            f"| {r['speedup']:.1f}× | {r['rasterize_culled_ms']:.1f} "
            f"| {r['render_mesh_culled_ms']:.1f} |"
        )
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
