"""PGTE inference speed at batch 1: single vs temporal, streaming vs file mode, and the
temporal module's and the triplane's shares (CPU by default; ``--device cuda``, ``--dtype``).

For each configuration (the ``cpu-small`` preset and, with ``--paper``, the ``paper`` preset's
ViTPose-B-sized network), with random weights (speed does not depend on them) in eval mode:

- **single, streaming**: PGTE with window 1, one frame per step
  (:class:`handpose.models.pgte.WindowStream`);
- **temporal, streaming (cached)**: the temporal model, one new frame per step; the window's
  per-frame encodings are cached, so a step is one backbone pass, one temporal pass over the
  window's 6·T tokens and one decode (steady state: the window is full);
- **temporal, streaming (no cache)**: the same step recomputing every frame of the window (what
  a model without the encode / fuse / decode split would do), ``cpu-small`` only;
- **temporal, file mode**: :func:`handpose.models.pgte.run_sequence` over a 64-frame clip
  (frames encoded and decoded in chunks of ``--chunk``, 16 by default), per frame;
- **shares** of one cached streaming step: encode (ViT, neck, joint head, tokens), the temporal
  module (``fuse``), decode, and within decode the triplane (eq. 4–5, plane convolutions,
  sampling at the vertices), timed with forward hooks.

Timings are medians over round-robin repetitions (the machine is shared: compare within a
run). On ``--device cuda`` every timed call and every part boundary synchronises the device;
``--dtype bfloat16`` runs under autocast. Usage:

    python benchmarks/bench_pgte.py [--threads 1] [--reps 15] [--paper] [--chunk 16]
        [--device cpu|cuda] [--dtype bfloat16] [--out docs/benchmarks/pgte]

Writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _device import add_device_args, autocast, describe, resolve_device, sync, where  # noqa: E402

from handpose.models.pgte import PGTE, WindowStream, run_sequence  # noqa: E402
from handpose.training.harness import load_method_config  # noqa: E402
from handpose.utils.io import atomic_write_text  # noqa: E402
from handpose.utils.machine import cpu_name  # noqa: E402

FILE_FRAMES = 64


def _inputs(S: int, n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, S, S, generator=g)
    K = torch.tensor([[1.6 * S, 0, (S - 1) / 2], [0, 1.6 * S, (S - 1) / 2], [0, 0, 1.0]])
    return x, K.expand(n, 3, 3).clone(), torch.full((n,), 0.5)


class Timer:
    """Forward hooks that add up a module's time per call (synchronising ``device`` at both
    ends, so that a GPU's queued work is counted where it belongs)."""

    def __init__(self, module, device: torch.device | None = None) -> None:
        self.total = 0.0
        self._t = 0.0
        self.device = device or torch.device("cpu")
        module.register_forward_pre_hook(self._pre)
        module.register_forward_hook(self._post)

    def _pre(self, *_):
        sync(self.device)
        self._t = time.perf_counter()

    def _post(self, *_):
        sync(self.device)
        self.total += time.perf_counter() - self._t


def bench_config(
    name: str,
    preset: str,
    reps: int,
    no_cache: bool,
    device: torch.device | None = None,
    dtype: str = "float32",
    chunk: int = 16,
) -> dict:
    device = device or torch.device("cpu")
    cfg = load_method_config("pgte", preset)
    torch.manual_seed(0)
    temporal = PGTE(cfg.model).eval().to(device)
    from dataclasses import replace

    single = PGTE(replace(cfg.model, window=1)).eval().to(device)
    T, S = temporal.window, cfg.model.image_size
    frames, K, rd = (t.to(device) for t in _inputs(S, max(FILE_FRAMES, T + 1)))
    tri = Timer(temporal.triplane, device)

    s_single, s_temp = WindowStream(single), WindowStream(temporal)
    with torch.inference_mode(), autocast(device, dtype):  # fill the window: steady state
        for t in range(T):
            s_temp.step(frames[t : t + 1], K[:1], rd[:1])
        s_single.step(frames[:1], K[:1], rd[:1])

    def single_step(i):
        s_single.step(frames[i : i + 1], K[:1], rd[:1])

    parts = {"encode": [], "fuse": [], "decode": [], "triplane": []}

    def temporal_step(i):
        m = temporal
        sync(device)
        t0 = time.perf_counter()
        enc = m.encode(frames[i : i + 1])
        s_temp.cache.append(enc)
        sync(device)
        t1 = time.perf_counter()
        tokens = torch.stack([e.tokens for e in s_temp.cache], dim=1)
        fused = m.fuse(tokens)[:, -1]
        sync(device)
        t2 = time.perf_counter()
        before = tri.total
        m.decode(enc, fused, K[:1], rd[:1])
        sync(device)
        t3 = time.perf_counter()
        parts["encode"].append(t1 - t0)
        parts["fuse"].append(t2 - t1)
        parts["decode"].append(t3 - t2)
        parts["triplane"].append(tri.total - before)

    def temporal_no_cache(i):
        m = temporal
        window = frames[i : i + T]
        enc = m.encode(window)
        fused = m.fuse(enc.tokens[None])[0, -1:]
        m.decode(enc.select(slice(T - 1, T)), fused, K[:1], rd[:1])

    def file_mode(_):
        run_sequence(temporal, frames[:FILE_FRAMES], K[:FILE_FRAMES], rd[:FILE_FRAMES], chunk=chunk)

    cases = {"single_stream": single_step, "temporal_stream": temporal_step}
    if no_cache:
        cases["temporal_stream_no_cache"] = temporal_no_cache
    cases["temporal_file"] = file_mode
    times: dict[str, list[float]] = {k: [] for k in cases}
    with torch.inference_mode(), autocast(device, dtype):
        for fn in cases.values():  # warm-up
            fn(0)
        for k in parts:
            parts[k].clear()
        for r in range(reps):
            for k, fn in cases.items():
                sync(device)
                t0 = time.perf_counter()
                fn(r % (len(frames) - T))
                sync(device)
                times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    fps = {k: (FILE_FRAMES if k == "temporal_file" else 1) / v for k, v in med.items()}
    step = sum(statistics.median(parts[k]) for k in ("encode", "fuse", "decode"))
    shares = {k: statistics.median(v) / step for k, v in parts.items()}
    n_params = sum(p.numel() for p in temporal.parameters())
    return {
        "name": name, "preset": preset, "window": T, "image_size": S,
        "heatmap": list(temporal.heatmap_size), "vertices": temporal.num_vertices,
        "params_m": n_params / 1e6, "median_s": med, "fps": fps, "shares": shares,
        "step_parts_ms": {k: 1000 * statistics.median(v) for k, v in parts.items()}, "reps": reps,
        "chunk": chunk,
    }  # fmt: skip


def _markdown(results: list[dict], meta: dict) -> str:
    L = [f"# PGTE inference speed ({meta.get('where', 'CPU')}, batch 1)", ""]
    L += [
        "Frames per second of PGTE at batch 1 with random weights, eval mode "
        f"(`benchmarks/bench_pgte.py`, {meta.get('where', 'CPU')}, {meta['threads']} torch "
        "CPU thread(s)); medians over round-robin repetitions on a shared machine (1/5/15-min "
        f"load average {meta.get('load_before', '?')} before, {meta.get('load_after', '?')} "
        "after): **compare within a column**. Streaming steps are in steady state (the window "
        "is full).",
        "",
        "| | " + " | ".join(f"`{r['preset']}` ({r['image_size']} px, T = {r['window']}, "
                           f"{r['params_m']:.1f} M params)" for r in results) + " |",
        "|---|" + "---:|" * len(results),
    ]  # fmt: skip
    rows = [
        ("single, streaming", "single_stream"),
        ("temporal, streaming (cached per-frame features)", "temporal_stream"),
        ("temporal, streaming (window recomputed each step)", "temporal_stream_no_cache"),
        (
            f"temporal, file mode ({FILE_FRAMES}-frame clip, chunks of "
            f"{results[0].get('chunk', 16)})",
            "temporal_file",
        ),
    ]
    for label, key in rows:
        cells = [f"{r['fps'][key]:.1f} fps" if key in r["fps"] else "—" for r in results]
        L.append(f"| {label} | " + " | ".join(cells) + " |")
    L += ["", "Shares of one cached temporal streaming step (median of each part over the "
          "median step):", ""]  # fmt: skip
    L += ["| part | " + " | ".join(f"`{r['preset']}`" for r in results) + " |",
          "|---|" + "---:|" * len(results)]  # fmt: skip
    for label, key in (("encode (ViT, neck, joint head, tokens)", "encode"),
                       ("temporal module (fuse)", "fuse"), ("decode", "decode"),
                       ("… of which the triplane (eq. 4–5, convs, sampling)", "triplane")):  # fmt: skip
        L.append(f"| {label} | " + " | ".join(
            f"{100 * r['shares'][key]:.1f} % ({r['step_parts_ms'][key]:.2f} ms)" for r in results) + " |")  # fmt: skip
    L += [""]
    for r in results:
        f = r["fps"]
        line = (
            f"`{r['preset']}`: the temporal model streams at "
            f"{f['temporal_stream'] / f['single_stream']:.2f}× the single model's frame rate"
        )
        if "temporal_stream_no_cache" in f:
            line += (
                f"; caching the window's per-frame encodings makes a step "
                f"{f['temporal_stream'] / f['temporal_stream_no_cache']:.1f}× faster than recomputing "
                f"the window"
            )
        line += f"; file mode runs at {f['temporal_file'] / f['temporal_stream']:.2f}× the streaming rate."
        L.append(line)  # fmt: skip
    L += ["", f"Measured on {meta['cpu']}, {meta['platform']}, torch {meta['torch']}; "
          f"{meta['seconds']:.0f} s.", "", f"Command: `{meta['command']}`", ""]  # fmt: skip
    notes = ROOT / "benchmarks" / "bench_pgte_notes.md"
    if notes.is_file() and meta.get("device", "cpu") == "cpu":
        L += [notes.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(L)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--paper", action="store_true", help="also the ViTPose-B-sized network")
    ap.add_argument("--paper-reps", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=16, help="file mode: frames per batch")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "pgte"))
    add_device_args(ap)
    args = ap.parse_args()
    device = resolve_device(ap, args)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    common = dict(device=device, dtype=args.dtype, chunk=args.chunk)
    results = [bench_config("cpu-small", "cpu-small", args.reps, no_cache=True, **common)]
    if args.paper:
        results.append(bench_config("paper", "paper", args.paper_reps, no_cache=False, **common))
    meta = {
        **describe(device, args.dtype),
        "where": where(device, args.dtype),
        "load_before": load_before,
        "load_after": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "cpu": cpu_name(), "platform": platform.platform(), "torch": torch.__version__,
        "threads": args.threads, "seconds": time.time() - t0,
        "command": "python benchmarks/bench_pgte.py " + " ".join(sys.argv[1:]),
    }  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        out.with_suffix(".json"), json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )
    atomic_write_text(out.with_suffix(".md"), _markdown(results, meta))
    print(_markdown(results, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
