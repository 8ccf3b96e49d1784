"""EHPE inference speed: images/s at batch 1 (and ``--batch``), torch and onnxruntime, per backbone.

For each backbone (the paper's ResNet-50, HRNet-W32 and FastViT-MA36, and the small ones) it
builds EHPE with the ``paper-freihand`` sizes at 256×256 (random weights: speed does not
depend on training) and measures, at batch 1 (or the ``--batch`` sizes) on ``--threads`` CPU
threads, or on ``--device cuda`` (``--dtype bfloat16``: torch under autocast; onnxruntime with
its CUDA provider where onnxruntime-gpu is installed, else its rows are left out):

- the whole network (image → 21 joints), torch (``inference_mode``) and onnxruntime (the
  exported graph of :mod:`handpose.models.ehpe.export`, all graph optimisations);
- the TW-stage alone (backbone + TW-stage: the part the PG-stage adds to), torch and
  onnxruntime, and so the PG-stage's share of the TW-stage's time
  ``(full − TW) / TW`` (the issue's goal: ≤ 30 %; the paper: EHPE-FastViT 59 FPS vs the FastViT
  regressor 75 FPS, i.e. +27 %);
- the image baseline with the same backbone (backbone + 2.5D deconvolution heatmap head +
  soft-argmax, :class:`handpose.models.baseline.BaselineEstimator`), torch and onnxruntime;
- the ratio EHPE-FastViT-MA36 / EHPE-ResNet-50 in images/s (the paper's GPU ratio: 59 / 28 =
  2.1; the issue's goal: ≥ 2).

FastViT is timed after timm's structural reparameterisation (its inference form). All
variants are timed round-robin, one call each per round, so that the machine's changing load
hits them alike; the median over rounds is reported (compare rows of one run, not runs).

Usage:
    python benchmarks/bench_ehpe.py [--backbones resnet50 hrnet_w32 fastvit_ma36 ...]
        [--threads 1] [--rounds 15] [--batch 1 32] [--device cpu|cuda] [--dtype bfloat16]
        [--no-onnx]
        [--out docs/benchmarks/ehpe]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _device import (  # noqa: E402
    add_device_args,
    describe,
    ort_providers,
    ort_session,
    resolve_device,
    torch_call,
    where,
)

from handpose.models.baseline import BaselineEstimator, BaselineNetConfig  # noqa: E402
from handpose.models.ehpe import EHPE  # noqa: E402
from handpose.models.ehpe.export import export_ehpe_onnx  # noqa: E402
from handpose.training import harness  # noqa: E402
from handpose.utils.io import atomic_write_text  # noqa: E402
from handpose.utils.machine import cpu_name  # noqa: E402

PAPER_BACKBONES = ("resnet50", "hrnet_w32", "fastvit_ma36")
DEFAULT = (*PAPER_BACKBONES, "efficientnet_lite0", "mobilenetv3_small_050")


def _reparameterize(model: nn.Module) -> None:
    """FastViT's inference form, through the backbones' own method (a no-op for the others;
    timm's ``reparameterize_model`` on the whole model would fuse these modules twice)."""
    from handpose.models.backbones.base import Backbone

    for m in list(model.modules()):
        if isinstance(m, Backbone):
            m.reparameterize()
    model.eval()


class _BaselineGraph(nn.Module):
    """image → (joints2d, z_rel), the outputs of EHPE's graph (the camera lift, which needs
    K and a matrix inverse onnx lacks, stays outside both graphs)."""

    def __init__(self, model: BaselineEstimator, K: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("K", K)

    def forward(self, image):
        out = self.model(image, self.K.expand(image.shape[0], -1, -1))
        return out.joints2d, out.z_rel


def _onnx(graph: nn.Module, inputs: tuple, names: list[str]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        torch.onnx.export(graph.eval(), inputs, buf, input_names=names, opset_version=17,
                          dynamo=False)  # fmt: skip
    return buf.getvalue()


def _params(m: nn.Module) -> float:
    return sum(p.numel() for p in m.parameters()) / 1e6


def build(backbone: str, args, device: torch.device, batches) -> dict:
    """The callables to time for one backbone: ``{batch: {name: zero-argument function}}``.

    The ONNX graphs are exported from the float32 CPU models before the models move to
    ``device``; where onnxruntime cannot run on ``device`` its rows are left out."""
    cfg = harness.load_method_config(
        "ehpe", "paper-freihand", [f"model.backbone={backbone}", "model.weights=null"]
    )
    size = cfg.data.size
    ehpe = EHPE(cfg.model, size).eval()
    _reparameterize(ehpe)
    base = BaselineEstimator(BaselineNetConfig(backbone=backbone, level=32), size).eval()
    _reparameterize(base)
    K = torch.tensor([[[600.0, 0, size / 2], [0, 600.0, size / 2], [0, 0, 1]]])
    providers = None if args.no_onnx else ort_providers(device)
    sessions = {}
    if providers is not None:
        x1 = torch.randn(1, 3, size, size)
        sessions = {
            "ehpe_ort": ort_session(export_ehpe_onnx(ehpe), args.threads, providers),
            "tw_ort": ort_session(export_ehpe_onnx(ehpe, part="tw"), args.threads, providers),
            "baseline_ort": ort_session(
                _onnx(_BaselineGraph(base, K), (x1,), ["image"]), args.threads, providers
            ),
        }
    ehpe.to(device)
    base.to(device)
    K = K.to(device)
    fns = {}
    for b in batches:
        x = torch.randn(b, 3, size, size, generator=torch.Generator().manual_seed(b))
        xn = x.numpy()
        x = x.to(device)
        Kb = K.expand(b, -1, -1)
        fns[b] = {
            "ehpe_torch": torch_call(lambda x=x: ehpe(x), device, args.dtype),
            "tw_torch": torch_call(lambda x=x: ehpe.tw(x), device, args.dtype),
            "baseline_torch": torch_call(lambda x=x, k=Kb: base(x, k), device, args.dtype),
        }
        for name, sess in sessions.items():
            fns[b][name] = lambda s=sess, xn=xn: s.run(None, {"image": xn})
    return {
        "fns": fns,
        "params_m": {
            "ehpe": _params(ehpe),
            "backbone": _params(ehpe.tw.backbone),
            "tw_heads": _params(ehpe.tw) - _params(ehpe.tw.backbone),
            "pg": _params(ehpe.pg),
            "baseline": _params(base),
        },
        "size": size,
    }


def measure(models: dict, batch: int, rounds: int, warmup: int = 2) -> dict:
    """Round-robin timing at one batch size: every (backbone, variant) once per round (the
    torch callables synchronise the device); medians in seconds."""
    times: dict = {b: {k: [] for k in m["fns"][batch]} for b, m in models.items()}
    for r in range(warmup + rounds):
        for b, m in models.items():
            for k, fn in m["fns"][batch].items():
                t0 = time.perf_counter()
                fn()
                if r >= warmup:
                    times[b][k].append(time.perf_counter() - t0)
    return {b: {k: statistics.median(v) for k, v in t.items()} for b, t in times.items()}


def _cell(ips: dict, key: str) -> str:
    return f"{ips[key]:.2f}" if key in ips else "—"


def report(results: dict, meta: dict) -> str:
    L = [f"# EHPE inference speed ({meta['where']})", ""]
    L += [
        f"`python benchmarks/bench_ehpe.py {meta['args']}` — {meta['where']}, "
        f"{meta['threads']} torch / onnxruntime CPU thread(s), torch {meta['torch']}, "
        f"onnxruntime {meta['ort']}; input {meta['size']}×{meta['size']}, the `paper-freihand` "
        "sizes (hourglass 2 × 256 channels at 64×64, PG-stage width 512), random weights; "
        f"median of {meta['rounds']} round-robin rounds (after 2 warm-up rounds) on a shared "
        f"machine (1/5/15-min load average {meta['load_before']} before, {meta['load']} after). "
        "Images/s = batch / median latency; — : not run (`--no-onnx`, or onnxruntime without "
        "a provider for this device).",
        "",
        "*PG-stage share of TW* = (EHPE − TW-stage alone) / TW-stage alone, in time: what the "
        "PG-stage adds to the TW-stage (the issue's goal: ≤ 30 %; the paper: EHPE-FastViT 59 "
        "FPS vs the FastViT regressor 75 FPS, i.e. +27 %). The TW-stage includes the backbone. "
        "*Baseline*: the same backbone with the 2.5D heatmap head "
        "(`handpose.models.baseline`).",
        "",
    ]
    for batch, res in results.items():
        L += [
            f"## Batch {batch} (images/s)",
            "",
            "| backbone | EHPE torch | EHPE onnxruntime | TW-stage only torch | TW only ORT "
            "| PG-stage share of TW (torch / ORT) | baseline torch | baseline ORT | params EHPE / "
            "backbone / TW heads / PG / baseline (M) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for b, r in res.items():
            t = r["median_s"]
            ips = {k: int(batch) / v for k, v in t.items()}
            share_t = f"{100 * (t['ehpe_torch'] - t['tw_torch']) / t['tw_torch']:.0f} %"
            share_o = (
                f"{100 * (t['ehpe_ort'] - t['tw_ort']) / t['tw_ort']:.0f} %"
                if "ehpe_ort" in t
                else "—"
            )
            p = r["params_m"]
            L.append(
                f"| {b} | {_cell(ips, 'ehpe_torch')} | {_cell(ips, 'ehpe_ort')} "
                f"| {_cell(ips, 'tw_torch')} | {_cell(ips, 'tw_ort')} | {share_t} / {share_o} "
                f"| {_cell(ips, 'baseline_torch')} | {_cell(ips, 'baseline_ort')} "
                f"| {p['ehpe']:.1f} / {p['backbone']:.1f} / {p['tw_heads']:.1f} / {p['pg']:.1f} / "
                f"{p['baseline']:.1f} |"
            )
        L += [""]
        shares = {b: r["median_s"] for b, r in res.items()}
        shares = {b: (t["ehpe_torch"] - t["tw_torch"]) / t["tw_torch"] for b, t in shares.items()}
        met = [b for b, v in shares.items() if v <= 0.30]
        L += [
            f"PG-stage share ≤ 30 % of the TW-stage (torch, batch {batch}): met for "
            f"{', '.join(met) or 'none'}; not met for "
            f"{', '.join(b for b in shares if b not in met) or 'none'}.",
            "",
        ]
        if "fastvit_ma36" in res and "resnet50" in res:
            f, rn = res["fastvit_ma36"]["median_s"], res["resnet50"]["median_s"]
            ort = f"{rn['ehpe_ort'] / f['ehpe_ort']:.2f}×" if "ehpe_ort" in f else "not run"
            L += [
                f"**FastViT-MA36 vs ResNet-50 (EHPE, images/s, batch {batch}):** "
                f"torch {rn['ehpe_torch'] / f['ehpe_torch']:.2f}×, onnxruntime {ort} "
                "(goal ≥ 2×; the paper's GPU figures 59 / 28 FPS = 2.1×). With the baseline "
                f"head instead: torch {rn['baseline_torch'] / f['baseline_torch']:.2f}×. "
                f"Goal {'met' if rn['ehpe_torch'] / f['ehpe_torch'] >= 2 else 'not met'} "
                "(torch).",
                "",
            ]
    notes = ROOT / "benchmarks" / "bench_ehpe_notes.md"
    if notes.exists() and meta["device"] == "cpu":
        L += [notes.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(L)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=list(DEFAULT))
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (torch, onnxruntime)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--batch", type=int, nargs="+", default=[1], help="batch sizes (default 1)")
    ap.add_argument("--no-onnx", action="store_true", help="torch only (no export, no ORT)")
    add_device_args(ap)
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "ehpe"))
    args = ap.parse_args(argv)
    device = resolve_device(ap, args)
    import onnxruntime as ort

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    models = {}
    for b in args.backbones:
        print(f"building {b} ...", flush=True)
        models[b] = build(b, args, device, args.batch)
    results = {}
    for batch in args.batch:
        print(f"timing batch {batch} ...", flush=True)
        med = measure(models, batch, args.rounds)
        results[batch] = {
            b: {"median_s": med[b], "params_m": models[b]["params_m"]} for b in models
        }
    meta = {
        "args": " ".join(sys.argv[1:] if argv is None else argv),
        "cpu": cpu_name(),
        "where": where(device, args.dtype),
        **describe(device, args.dtype),
        "threads": args.threads,
        "torch": torch.__version__,
        "ort": ort.__version__,
        "python": platform.python_version(),
        "size": next(iter(models.values()))["size"],
        "rounds": args.rounds,
        "load_before": load_before,
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out.with_suffix(".json"), json.dumps({"meta": meta, "results": results},
                                                           indent=2) + "\n")  # fmt: skip
    atomic_write_text(out.with_suffix(".md"), report(results, meta))
    print(out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
