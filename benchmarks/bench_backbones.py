"""Image backbones: size beside the published figures, and inference speed with a 2.5D head.

For every registry backbone (:mod:`handpose.models.backbones`):

- **size** — parameters and multiply-accumulates (``torch.utils.flop_counter``, MACs = FLOPs/2)
  of the full ImageNet classifier at the published resolution, beside the published figures
  (source named per row), and of the feature backbone at 256×256 (the levels at strides
  4–32, or 16 for the ViT) and backbone + head;
- **speed** — images/s of backbone + a 2.5D heatmap head (the baseline's design: the coarsest
  level, 2× deconvolutions up to stride 4, 128 channels, 21 joints × 8 depth bins, soft-argmax
  to (u, v, z)) at 256×256, batch 1 and batch 32, torch eager (``inference_mode``) vs
  onnxruntime (legacy exporter, opset 17, all graph optimisations), each also as the fraction
  of this machine's fp32 matmul peak (a 2048² ``torch.matmul`` timed round-robin in the same
  loop: the machine is shared, so compare within a row). FastViT runs in its
  re-parameterised inference form. Batch 32 is skipped where one call would take more than
  ``--max-call`` seconds;
- **ONNX parity** — max |onnxruntime − torch| of u, v (pixels) and z (metres), divided by
  max(1, max |output|), at batch 1 and 2 (dynamic batch axis).

With ``--device cuda`` the speed rows run on the GPU (``--dtype bfloat16``: torch under
autocast; the peak is then a bfloat16 matmul; onnxruntime with its CUDA provider where
onnxruntime-gpu is installed, else its columns are left out); every timed call synchronises
the device. Sizes, export and parity are always computed on the CPU in float32.

Weights are random (speed does not depend on them); BatchNorm statistics are first calibrated
on random images so that activations have a trained network's scale and the parity numbers
mean something.

Usage:
    python benchmarks/bench_backbones.py [--only resnet18 vit_b16] [--threads 2]
        [--seconds 1.0] [--max-call 2.5] [--batch32 NAME ...] [--device cpu|cuda]
        [--dtype bfloat16] [--out docs/benchmarks/backbones]

Writes ``<out>.json`` and ``<out>.md``; with ``--only``, the named rows replace theirs in an
existing JSON and the others are kept (each row records its threads and load average). A few
minutes on 2 idle cores.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _device import (  # noqa: E402
    add_device_args,
    describe,
    matmul_call,
    ort_providers,
    ort_session,
    resolve_device,
    torch_call,
    where,
)
from bench_inference import count_flops, race  # noqa: E402

from handpose.inference.backends import onnx_session  # noqa: E402
from handpose.models.backbones import (  # noqa: E402
    BACKBONES,
    ViT,
    create_backbone,
    import_timm,
    list_backbones,
)
from handpose.models.heads import HeatmapHead25D  # noqa: E402
from handpose.utils.io import atomic_write_text  # noqa: E402
from handpose.utils.machine import cpu_name  # noqa: E402

SIZE = 256
HEAD = dict(num_joints=21, hidden=128, depth_bins=8, depth_range=0.2)


class WithHead(nn.Module):
    """Backbone → coarsest level → 2.5D heatmap head → (u, v) pixels and z metres."""

    def __init__(self, backbone) -> None:
        super().__init__()
        self.backbone = backbone
        stride = backbone.strides[-1]
        self.head = HeatmapHead25D(
            backbone.channels[-1], in_stride=stride, num_deconv=int(math.log2(stride // 4)), **HEAD
        )

    def forward(self, x):
        out = self.head(self.backbone(x)[-1])
        return out.uv, out.z


def calibrate(model: nn.Module, batches: int = 2, batch: int = 4) -> None:
    """BatchNorm running statistics from random images (cumulative average), then eval."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if bns:
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        model.train()
        with torch.no_grad():
            for _ in range(batches):
                model(torch.randn(batch, 3, SIZE, SIZE))
    model.eval()
    with torch.no_grad():  # a volume with structure (the head's final layer starts near zero)
        final = model.head.final
        final.weight.normal_(std=1.0 / math.sqrt(final.in_channels))


def to_onnx(model: nn.Module) -> tuple[bytes, float]:
    buf = io.BytesIO()
    start = time.perf_counter()
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.randn(1, 3, SIZE, SIZE),),
            buf,
            dynamo=False,
            opset_version=17,
            input_names=["image"],
            output_names=["uv", "z"],
            dynamic_axes={"image": {0: "batch"}},
        )
    return buf.getvalue(), time.perf_counter() - start


def parity(model, session) -> dict:
    out = {}
    for b in (1, 2):
        x = torch.randn(b, 3, SIZE, SIZE)
        with torch.inference_mode():
            want = model(x)
        got = session.run(None, {"image": x.numpy()})
        for name, w, g in zip(("uv", "z"), want, got):
            err = float(np.abs(w.numpy() - g).max()) / max(1.0, float(w.abs().max()))
            out[name] = max(out.get(name, 0.0), err)
    return out


def full_classifier_size(name: str, resolution: int) -> dict:
    """Params and GMACs of the complete classifier (timm) or the ViT (no head) on meta."""
    spec = BACKBONES[name]
    with torch.device("meta"):
        if spec.family == "vit":
            net = ViT(img_size=resolution)
        else:
            net = import_timm().create_model(spec.timm_name, pretrained=False)
        macs = count_flops(net.eval(), torch.zeros(1, 3, resolution, resolution)) / 2
    return {"params_m": sum(p.numel() for p in net.parameters()) / 1e6, "gmacs": macs / 1e9}


def bench(name: str, args, log, device: torch.device | None = None) -> dict:
    device = device or torch.device("cpu")
    spec = BACKBONES[name]
    row: dict = {"name": name, "family": spec.family, "small": spec.small, "threads": args.threads}
    load_before = os.getloadavg()[0]
    if spec.published is not None:
        pub = spec.published
        row["published"] = {
            "params_m": pub.params_m,
            "gmacs": pub.gmacs,
            "resolution": pub.resolution,
            "source": pub.source,
        }
        row["classifier"] = full_classifier_size(name, pub.resolution)
    torch.manual_seed(0)
    backbone = create_backbone(name)
    model = WithHead(backbone)
    calibrate(model)
    if spec.family == "fastvit":
        backbone.reparameterize()
    model.eval()
    x1 = torch.randn(1, 3, SIZE, SIZE)
    row["channels"], row["strides"] = list(backbone.channels), list(backbone.strides)
    row["backbone_params_m"] = sum(p.numel() for p in backbone.parameters()) / 1e6
    row["head_params_m"] = sum(p.numel() for p in model.head.parameters()) / 1e6
    with torch.no_grad():
        row["backbone_gmacs"] = count_flops(backbone, x1) / 2e9
        row["total_gmacs"] = count_flops(model, x1) / 2e9
    onnx_bytes, row["export_s"] = to_onnx(model)
    session = onnx_session(onnx_bytes, threads=args.threads)
    row["parity"] = parity(model, session)
    providers = ort_providers(device)
    if device.type != "cpu":
        session = None if providers is None else ort_session(onnx_bytes, 1, providers)
        model.to(device)
    row["device"], row["dtype"] = str(device), args.dtype
    log(
        f"[{name}] {row['backbone_params_m']:.2f} M params, {row['total_gmacs']:.2f} GMACs with head, "
        f"export {row['export_s']:.1f} s, parity uv {row['parity']['uv']:.1e} z {row['parity']['z']:.1e}"
    )

    def onnx(x):
        return session.run(None, {"image": x})

    mm, mm_flops = matmul_call(device, args.dtype)
    speed = {}
    for batch in (1, 32):
        x = torch.randn(batch, 3, SIZE, SIZE)
        xn = x.numpy()
        x = x.to(device)
        if batch > 1:
            one = speed[1]["eager"]["best_s"]
            if one * batch > args.max_call and name not in (args.batch32 or ()):
                log(f"[{name}] batch {batch} skipped (estimated {one * batch:.1f} s per call)")
                continue
        fns = {"eager": torch_call(lambda x=x: model(x), device, args.dtype)}
        if session is not None:
            fns["onnxruntime"] = lambda xn=xn: onnx(xn)
        t = race({**fns, "matmul": mm}, args.seconds, min_calls=2)
        peak = mm_flops / t["matmul"]["best_s"]
        res = {"matmul_peak_gflops": peak / 1e9}
        for variant in fns:
            best = t[variant]["best_s"]
            ips = batch / best
            res[variant] = {
                "best_s": best,
                "median_s": t[variant]["median_s"],
                "calls": t[variant]["calls"],
                "images_per_s": ips,
                "images_per_s_median": batch / t[variant]["median_s"],
                "fraction_of_peak": 2 * row["total_gmacs"] * 1e9 * ips / peak,
            }
        speed[batch] = res
        log(
            f"[{name}] batch {batch}: "
            + ", ".join(
                f"{v} {res[v]['images_per_s']:.1f} img/s ({res[v]['fraction_of_peak']:.1%} of peak)"
                for v in fns
            )
            + f"; peak {res['matmul_peak_gflops']:.0f} GFLOP/s"
        )
    row["speed"] = {str(k): v for k, v in speed.items()}
    row["load_average"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
    return row


# ----------------------------------------------------------------------------- report


def _f(v, fmt="{:.2f}"):
    return "—" if v is None else fmt.format(v)


def markdown(result: dict) -> str:
    rows = result["backbones"]
    lines = [
        "# Image backbones: size and inference speed",
        "",
        f"Measured by `benchmarks/bench_backbones.py` on "
        f"{result['machine'].get('where', result['machine']['cpu'])} "
        f"(threads and load average per row below; torch {result['machine']['torch']}, "
        f"onnxruntime {result['machine']['onnxruntime']}).",
        "",
        "## Size",
        "",
        "Published: the full ImageNet classifier at the source's resolution. *Ours, classifier*: "
        "the same network as built here (timm; for ViT-B/16 our ViTPose ViT without class token "
        "and classifier) at that resolution. *Backbone @256*: the feature extractor handpose "
        "uses (levels at strides 4–32; ViT 16) at 256×256, and with the 2.5D heatmap head of "
        "the speed table. MACs from `torch.utils.flop_counter` (FLOPs / 2).",
        "",
        "| backbone | published params (M) | published GMACs @ res | ours, classifier: params (M) / GMACs | backbone @256: params (M) / GMACs | + 2.5D head: GMACs | levels (stride: channels) | source of the published figures |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        pub, cls = r.get("published"), r.get("classifier")
        levels = ", ".join(f"{s}: {c}" for s, c in zip(r["strides"], r["channels"]))
        lines.append(
            f"| {r['name']} | {_f(pub and pub['params_m'], '{:.1f}')} | "
            f"{_f(pub and pub['gmacs'])}{' @ ' + str(pub['resolution']) if pub else ''} | "
            f"{_f(cls and cls['params_m'])} / {_f(cls and cls['gmacs'])} | "
            f"{r['backbone_params_m']:.2f} / {r['backbone_gmacs']:.2f} | {r['total_gmacs']:.2f} | "
            f"{levels} | {pub['source'] if pub else 'no published figure for this width'} |"
        )
    lines += [
        "",
        "## Inference speed with the 2.5D heatmap head (256×256, random weights)",
        "",
        "Images/s from the best call of a round-robin race (median in the JSON); *% peak* = "
        "achieved FLOP/s (2 × MACs × images/s) over the fp32 matmul FLOP/s measured in the same "
        "loop (given per row). ONNX parity: max |ORT − torch| / max(1, max |output|) for u, v "
        "(pixels) and z (metres). FastViT is timed re-parameterised. — : batch 32 not run "
        "(one call would exceed the time limit).",
        "",
        "| backbone | GMACs | eager b1 img/s (% peak) | ORT b1 img/s (% peak) | eager b32 img/s (% peak) | ORT b32 img/s (% peak) | matmul peak GFLOP/s (b1 run) | threads, load avg | ONNX parity uv / z | export s |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        cells = []
        for b in ("1", "32"):
            for v in ("eager", "onnxruntime"):
                s = r["speed"].get(b)
                cells.append(
                    "—"
                    if s is None or v not in s
                    else f"{s[v]['images_per_s']:.1f} ({s[v]['fraction_of_peak']:.0%})"
                )
        peak = r["speed"]["1"]["matmul_peak_gflops"]
        lines.append(
            f"| {r['name']} | {r['total_gmacs']:.2f} | {' | '.join(cells)} | {peak:.0f} | "
            f"{r.get('threads', '?')}, {r.get('load_average', ['?', '?'])[0]}→{r.get('load_average', ['?', '?'])[1]} | "
            f"{r['parity']['uv']:.1e} / {r['parity']['z']:.1e} | {r['export_s']:.1f} |"
        )
    lines.append("")
    notes = Path(__file__).with_name("bench_backbones_notes.md")
    if notes.is_file():
        lines += [notes.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="backbone names (default: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.0, help="race time per variant")
    parser.add_argument("--max-call", type=float, default=2.5, help="longest batch-32 call, s")
    parser.add_argument("--batch32", nargs="*", help="run batch 32 for these whatever it costs")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "backbones"))
    parser.add_argument(
        "--markdown-only", action="store_true", help="rewrite <out>.md from <out>.json"
    )
    add_device_args(parser)
    args = parser.parse_args()
    out = Path(args.out)
    if args.markdown_only:
        atomic_write_text(
            out.with_suffix(".md"), markdown(json.loads(out.with_suffix(".json").read_text()))
        )
        return 0
    device = resolve_device(parser, args)
    torch.set_num_threads(args.threads)
    names = args.only or list_backbones()
    import onnxruntime

    start = time.perf_counter()
    load_before = os.getloadavg()[0]
    rows = {}
    if args.only and out.with_suffix(".json").exists():  # re-measure some rows, keep the rest
        rows = {r["name"]: r for r in json.loads(out.with_suffix(".json").read_text())["backbones"]}
    for name in names:
        rows[name] = bench(name, args, lambda msg: print(msg, flush=True), device)
    rows = [rows[n] for n in list_backbones() if n in rows]
    result = {
        "machine": {
            **describe(device, args.dtype),
            "where": where(device, args.dtype),
            "cpu": cpu_name(),
            "platform": platform.platform(),
            "threads": args.threads,
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2),
        },
        "image_size": SIZE,
        "head": HEAD,
        "seconds_total": time.perf_counter() - start,
        "backbones": rows,
    }
    atomic_write_text(out.with_suffix(".json"), json.dumps(result, indent=1) + "\n")
    atomic_write_text(out.with_suffix(".md"), markdown(result))
    print(f"wrote {out}.md / .json in {result['seconds_total']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
