"""DIR inference speed: torch vs onnxruntime, batch 1 and 32, where the time goes.

For each configuration (``paper``: ResNet-50 at 256×256 with two refinement stages, DIR's
published network; ``cpu-small``: the experiments' network at 96×96), in one process with one
CPU thread (the machine is shared; ratios measured in one run are what to compare), or on
``--device cuda`` (``--dtype bfloat16``: torch under autocast; onnxruntime with its CUDA
provider where onnxruntime-gpu is installed, else its columns are left out; every timed call
and every part boundary synchronises the device):

- images/s of the full network (eval mode, random weights: speed does not depend on them) in
  torch and in onnxruntime (the exported graph of :mod:`handpose.models.dir.export`), at
  batch 1 and batch 32, best of ``reps`` timed calls after a warm-up;
- the time of each part as a share of the whole forward pass (torch, forward hooks on the
  backbone, the initial regression, each refinement stage and the heads), batch 1 and 32;
- images/s of the initial regression alone (``num_stages = 0``, same backbone) against the
  full model, torch;
- parameters and FLOPs (:mod:`handpose.models.dir.size`) beside the supplement's 55.1 M and
  30.8 G for the paper network.

Usage:
    python benchmarks/bench_dir.py [--configs paper cpu-small] [--reps 3]
        [--max-call 60] [--no-onnx] [--device cpu|cuda] [--dtype bfloat16]
        [--out docs/benchmarks/dir]

Writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _device import (  # noqa: E402
    add_device_args,
    autocast,
    describe,
    ort_providers,
    ort_session,
    resolve_device,
    sync,
    torch_call,
    where,
)

from handpose.models.dir import DIRNetwork  # noqa: E402
from handpose.models.dir.export import DIRExport, dir_to_onnx  # noqa: E402
from handpose.models.dir.size import PAPER_FLOPS_G, PAPER_PARAMS_M, measure_dir_size  # noqa: E402
from handpose.training.harness import load_method_config  # noqa: E402
from handpose.utils.io import atomic_write_text  # noqa: E402
from handpose.utils.machine import cpu_name  # noqa: E402

BATCHES = (1, 32)


def _best(fn, reps: int, warmup: bool = True) -> float:
    if warmup:
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


class PartTimer:
    """Wall time of the network's parts in one forward pass, from forward hooks.

    The stages' parts are called one by one (not the stage module), so a stage spans from the
    pre-hook of its first part (``reduce``) to the post-hook of its last (``enhance``); the
    initial regression spans from the ``initial`` pre-hook to the first stage (or heads) start.
    """

    def __init__(self, net: DIRNetwork, device: torch.device | None = None) -> None:
        self.marks: dict[str, float] = {}
        self.handles = []
        device = device or torch.device("cpu")

        def mark(name):
            def hook(*_):
                if name not in self.marks:
                    sync(device)  # the device's queued work belongs to the previous part
                    self.marks[name] = time.perf_counter()

            return hook

        def add(module, name, pre: bool):
            if pre:
                self.handles.append(module.register_forward_pre_hook(mark(name)))
            else:
                self.handles.append(module.register_forward_hook(mark(name)))

        add(net.backbone, "backbone0", True)
        add(net.backbone, "backbone1", False)
        add(net.initial, "initial0", True)
        for k, st in enumerate(net.stages):
            add(st.reduce, f"stage{k + 1}_0", True)
            add(st.enhance, f"stage{k + 1}_1", False)
        if net.segmentation_head is not None:
            add(net.segmentation_head, "heads0", True)
            add(net.dense_head, "heads1", False)
        self.num_stages = len(net.stages)

    def parts(self, start: float, end: float) -> dict[str, float]:
        m = self.marks
        out = {"backbone": m["backbone1"] - m["backbone0"]}
        first = "stage1_0" if self.num_stages else ("heads0" if "heads0" in m else None)
        out["initial regression"] = (m[first] if first else end) - m["initial0"]
        for k in range(1, self.num_stages + 1):
            out[f"refinement stage {k}"] = m[f"stage{k}_1"] - m[f"stage{k}_0"]
        if "heads0" in m:
            out["heads"] = m["heads1"] - m["heads0"]
        out["other (final decoding, glue)"] = (end - start) - sum(out.values())
        return out


def part_shares(
    net: DIRNetwork, batch: int, reps: int, device: torch.device, dtype: str = "float32"
) -> dict[str, float]:
    S = net.config.image_size
    x = torch.randn(batch, 3, S, S, device=device)
    timer = PartTimer(net, device)
    best = None
    with torch.no_grad(), autocast(device, dtype):
        for _ in range(max(reps, 0) + 1):
            timer.marks = {}
            sync(device)
            t0 = time.perf_counter()
            net.forward_estimates(x)
            sync(device)
            t1 = time.perf_counter()
            parts = timer.parts(t0, t1)
            if best is None or (t1 - t0) < best[0]:
                best = (t1 - t0, parts)
    for h in timer.handles:
        h.remove()
    total, parts = best
    return {k: v / total for k, v in parts.items()}


def measure(
    name: str,
    reps: int,
    device: torch.device,
    dtype: str = "float32",
    max_call: float = 1e9,
    onnx: bool = True,
) -> dict:
    cfg = load_method_config("dir", name).model
    torch.manual_seed(0)
    net = DIRNetwork(cfg).eval()
    basic = DIRNetwork({**cfg.to_dict(), "num_stages": 0}).eval()
    S = cfg.image_size
    row: dict = {"config": name, "backbone": cfg.backbone, "image_size": S,
                 "num_stages": cfg.num_stages, "torch": {}, "onnxruntime": {}, "basic_torch": {},
                 "shares": {}}  # fmt: skip
    size = measure_dir_size(network=net)
    row["size"] = size.as_dict()
    wrapper = DIRExport(net)
    providers = ort_providers(device) if onnx else None
    sess = None
    if providers is not None:
        t0 = time.perf_counter()
        onnx_bytes = dir_to_onnx(net)  # exported from the float32 CPU network
        row["export_s"] = time.perf_counter() - t0
        sess = ort_session(onnx_bytes, 1, providers)
    net.to(device)
    basic.to(device)
    for b in BATCHES:
        if b > 1 and b / row["torch"][1] > max_call:  # estimated from the batch-1 rate
            print(f"{name} batch {b}: skipped (about {b / row['torch'][1]:.0f} s per call)")
            row["skipped"] = {**row.get("skipped", {}), b: b / row["torch"][1]}
            continue
        # batch 32 of the paper network takes minutes per call on a shared core: one timed
        # call, no separate warm-up (the batch-1 calls warmed the code paths up); a GPU
        # always warms up (kernel selection for the new shapes)
        if b == 1:
            r, warm = reps, True
        else:
            r, warm = max(1, reps // 3), S < 256 or device.type == "cuda"
        x = torch.randn(b, 3, S, S, generator=torch.Generator().manual_seed(b))
        xn = x.numpy()
        x = x.to(device)
        fn = torch_call(lambda x=x: wrapper(x), device, dtype, torch.no_grad)
        row["torch"][b] = b / _best(fn, r, warm)
        fn = torch_call(lambda x=x: basic.forward_estimates(x), device, dtype, torch.no_grad)
        row["basic_torch"][b] = b / _best(fn, r, warm)
        if sess is None:
            row["onnxruntime"][b] = None
        else:
            t = _best(lambda xn=xn: sess.run(None, {"image": xn}), r, warm)
            row["onnxruntime"][b] = b / t
            with torch.no_grad():  # parity against float32 torch
                ref = wrapper(x)[0].float().cpu().numpy()
            got = sess.run(["joints"], {"image": xn})[0]
            row.setdefault("parity_mm", {})[b] = float(np.abs(got - ref).max() * 1000)
        row["shares"][b] = part_shares(net, b, r if warm else 0, device, dtype)
        ort_ips = "not run" if sess is None else f"{row['onnxruntime'][b]:.2f}"
        print(f"{name} batch {b}: torch {row['torch'][b]:.2f} img/s, onnxruntime "
              f"{ort_ips}, basic {row['basic_torch'][b]:.2f}", flush=True)  # fmt: skip
    return row


def write(rows: list[dict], out: Path, meta: dict) -> None:
    atomic_write_text(
        out.with_suffix(".json"), json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n"
    )
    L = [f"# DIR inference speed ({meta.get('where', 'CPU')})", ""]
    L += [
        f"`{meta.get('command', 'python benchmarks/bench_dir.py')}` — "
        f"{meta.get('where', meta['cpu'])}; {meta['cpu']}, {meta['cores']} cores shared with "
        f"other jobs (1-min load average {meta['load_before']:.1f} before, "
        f"{meta['load_after']:.1f} after), **one CPU thread** for torch and for onnxruntime, "
        f"torch {meta['torch']}, onnxruntime {meta['onnxruntime']}. Eval mode, random "
        "weights, best of several timed calls after a warm-up (batch 32 of `paper` on a CPU: "
        "one call, no separate warm-up). Absolute numbers depend on the "
        "machine's load; the ratios within a row were measured minutes apart in one process. "
        "— : onnxruntime not run (`--no-onnx`, or no onnxruntime provider for this device).",
        "",
        "## Images per second",
        "",
        "| config | input | batch | torch | onnxruntime | ORT / torch | initial regression "
        "alone (torch) | initial / full | ORT parity (mm) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        for b in BATCHES:
            b_ = str(b) if str(b) in r["torch"] else b
            if b_ not in r["torch"]:
                est = r.get("skipped", {}).get(b_, r.get("skipped", {}).get(str(b_)))
                L.append(
                    f"| {r['config']} ({r['backbone']}, {r['num_stages']} stages) "
                    f"| {r['image_size']}² | {b} | not run (about {est:.0f} s per call "
                    "estimated from batch 1, above `--max-call`) | | | | | |"
                )
                continue
            t, o, bt = r["torch"][b_], r["onnxruntime"][b_], r["basic_torch"][b_]
            ort = "— | —" if o is None else f"{o:.2f} | {o / t:.2f}"
            par = r.get("parity_mm", {}).get(b_)
            L.append(
                f"| {r['config']} ({r['backbone']}, {r['num_stages']} stages) | {r['image_size']}² "
                f"| {b} | {t:.2f} | {ort} | {bt:.2f} | {bt / t:.2f} "
                f"| {'—' if par is None else f'{par:.1e}'} |"
            )
    L += ["", "## Size", ""]
    L += [
        "| config | parameters | FLOPs (2 per multiply-add) | MACs | hand model FLOPs | "
        "supplement |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        z = r["size"]
        paper = (
            f'{PAPER_PARAMS_M} M, {PAPER_FLOPS_G} G ("FLOPs", unit not stated)'
            if r["config"] == "paper"
            else "—"
        )
        L.append(
            f"| {r['config']} ({r['image_size']}²) | {z['params'] / 1e6:.2f} M | "
            f"{z['flops'] / 1e9:.2f} G | {z['macs'] / 1e9:.2f} G | "
            f"{z['hand_model_flops'] / 1e9:.4f} G | {paper} |"
        )
    L += ["", "FLOPs per part (G): " + "; ".join(
        f"{r['config']}: " + ", ".join(f"{k} {v / 1e9:.2f}" for k, v in r["size"]["flops_by_part"].items())
        for r in rows
    ) + "."]  # fmt: skip
    L += ["", "## Where the time goes (torch, share of one forward pass)", ""]
    for r in rows:
        keys = list(next(iter(r["shares"].values())))
        L += [f"### {r['config']}", "", "| part | " + " | ".join(f"batch {b}" for b in BATCHES) + " |",
              "|---|" + "---:|" * len(BATCHES)]  # fmt: skip
        for k in keys:
            cells = []
            for b in BATCHES:
                b_ = str(b) if str(b) in r["shares"] else b
                cells.append(f"{100 * r['shares'][b_][k]:.1f} %" if b_ in r["shares"] else "—")
            L.append(f"| {k} | " + " | ".join(cells) + " |")
        L.append("")
    L += [
        "Stages span from their first part (feature fusion) to their last (feature enhancement): "
        "lifting, GCN, transformer, the new MANO estimate with both meshes, and the bone "
        "projection. 'initial / full' is how many times more images per second the initial "
        "regression alone processes (same backbone, no refinement, no heads). On a GPU every "
        "part boundary synchronises the device, which adds a little to the total.",
        "",
    ]
    notes = ROOT / "benchmarks" / "bench_dir_notes.md"
    if notes.is_file() and meta.get("device", "cpu") == "cpu":
        L += [notes.read_text(encoding="utf-8").rstrip(), ""]
    atomic_write_text(out.with_suffix(".md"), "\n".join(L))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--configs", nargs="+", default=["cpu-small", "paper"])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument(
        "--max-call",
        type=float,
        default=60.0,
        help="skip batch 32 where one call would take longer (s, estimated from batch 1)",
    )
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "dir"))
    p.add_argument("--no-onnx", action="store_true", help="torch only (no export, no ORT)")
    add_device_args(p)
    args = p.parse_args()
    device = resolve_device(p, args)
    torch.set_num_threads(1)
    import onnxruntime

    meta = {
        "command": "python benchmarks/bench_dir.py " + " ".join(sys.argv[1:]),
        "where": where(device, args.dtype),
        **describe(device, args.dtype),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "load_before": os.getloadavg()[0],
    }
    rows = [
        measure(c, args.reps, device, args.dtype, args.max_call, not args.no_onnx)
        for c in args.configs
    ]
    meta["load_after"] = os.getloadavg()[0]
    write(rows, Path(args.out), meta)
    print(f"wrote {args.out}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
