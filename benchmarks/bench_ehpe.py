"""EHPE inference speed on CPU: images/s at batch 1, torch and onnxruntime, per backbone.

For each backbone (the paper's ResNet-50, HRNet-W32 and FastViT-MA36, and the small ones) it
builds EHPE with the ``paper-freihand`` sizes at 256×256 (random weights: speed does not
depend on training) and measures, at batch 1 on ``--threads`` CPU threads:

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
        [--threads 1] [--rounds 15] [--out docs/benchmarks/ehpe]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
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

from handpose.models.baseline import BaselineEstimator, BaselineNetConfig  # noqa: E402
from handpose.models.ehpe import EHPE  # noqa: E402
from handpose.models.ehpe.export import export_ehpe_onnx  # noqa: E402
from handpose.training import harness  # noqa: E402
from handpose.utils.io import atomic_write_text  # noqa: E402

PAPER_BACKBONES = ("resnet50", "hrnet_w32", "fastvit_ma36")
DEFAULT = (*PAPER_BACKBONES, "efficientnet_lite0", "mobilenetv3_small_050")


def _reparameterize(model: nn.Module, backbone: str) -> None:
    if backbone.startswith("fastvit"):
        from handpose.models.backbones import import_timm

        import_timm()
        from timm.utils.model import reparameterize_model

        reparameterize_model(model, inplace=True)


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


def _session(data: bytes, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def _params(m: nn.Module) -> float:
    return sum(p.numel() for p in m.parameters()) / 1e6


def build(backbone: str, threads: int) -> dict:
    """The callables to time for one backbone: name → zero-argument function."""
    cfg = harness.load_method_config(
        "ehpe", "paper-freihand", [f"model.backbone={backbone}", "model.weights=null"]
    )
    size = cfg.data.size
    ehpe = EHPE(cfg.model, size).eval()
    _reparameterize(ehpe, backbone)
    base = BaselineEstimator(BaselineNetConfig(backbone=backbone, level=32), size).eval()
    _reparameterize(base, backbone)
    x = torch.randn(1, 3, size, size)
    K = torch.tensor([[[600.0, 0, size / 2], [0, 600.0, size / 2], [0, 0, 1]]])
    full_ort = _session(export_ehpe_onnx(ehpe), threads)
    tw_ort = _session(export_ehpe_onnx(ehpe, part="tw"), threads)
    base_ort = _session(_onnx(_BaselineGraph(base, K), (x,), ["image"]), threads)
    xn = x.numpy()
    return {
        "fns": {
            "ehpe_torch": lambda: ehpe(x),
            "tw_torch": lambda: ehpe.tw(x),
            "baseline_torch": lambda: base(x, K),
            "ehpe_ort": lambda: full_ort.run(None, {"image": xn}),
            "tw_ort": lambda: tw_ort.run(None, {"image": xn}),
            "baseline_ort": lambda: base_ort.run(None, {"image": xn}),
        },
        "params_m": {
            "ehpe": _params(ehpe),
            "backbone": _params(ehpe.tw.backbone),
            "tw_heads": _params(ehpe.tw) - _params(ehpe.tw.backbone),
            "pg": _params(ehpe.pg),
            "baseline": _params(base),
        },
        "size": size,
    }


def measure(models: dict, rounds: int, warmup: int = 2) -> dict:
    """Round-robin timing: every (backbone, variant) once per round; medians in seconds."""
    times: dict = {b: {k: [] for k in m["fns"]} for b, m in models.items()}
    with torch.inference_mode():
        for r in range(warmup + rounds):
            for b, m in models.items():
                for k, fn in m["fns"].items():
                    t0 = time.perf_counter()
                    fn()
                    if r >= warmup:
                        times[b][k].append(time.perf_counter() - t0)
    return {b: {k: statistics.median(v) for k, v in t.items()} for b, t in times.items()}


def report(results: dict, meta: dict) -> str:
    L = ["# EHPE inference speed (CPU, batch 1)", ""]
    L += [
        f"`python benchmarks/bench_ehpe.py {meta['args']}` — {meta['cpu']}, {meta['threads']} "
        f"torch / onnxruntime thread(s), torch {meta['torch']}, onnxruntime {meta['ort']}; "
        f"input {meta['size']}×{meta['size']}, the `paper-freihand` sizes (hourglass 2 × 256 "
        "channels at 64×64, PG-stage width 512), random weights; median of "
        f"{meta['rounds']} round-robin rounds on a shared machine (load average "
        f"{meta['load']}). Images/s = 1 / median latency.",
        "",
        "| backbone | EHPE torch | EHPE onnxruntime | TW-stage only torch | TW only ORT "
        "| PG-stage share of TW (torch / ORT) | baseline torch | baseline ORT | params EHPE / "
        "backbone / TW heads / PG / baseline (M) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for b, r in results.items():
        t = r["median_s"]
        ips = {k: 1.0 / v for k, v in t.items()}
        share_t = 100 * (t["ehpe_torch"] - t["tw_torch"]) / t["tw_torch"]
        share_o = 100 * (t["ehpe_ort"] - t["tw_ort"]) / t["tw_ort"]
        p = r["params_m"]
        L.append(
            f"| {b} | {ips['ehpe_torch']:.2f} | {ips['ehpe_ort']:.2f} | {ips['tw_torch']:.2f} "
            f"| {ips['tw_ort']:.2f} | {share_t:.0f} % / {share_o:.0f} % "
            f"| {ips['baseline_torch']:.2f} | {ips['baseline_ort']:.2f} "
            f"| {p['ehpe']:.1f} / {p['backbone']:.1f} / {p['tw_heads']:.1f} / {p['pg']:.1f} / "
            f"{p['baseline']:.1f} |"
        )
    L += [""]
    if "fastvit_ma36" in results and "resnet50" in results:
        f, rn = results["fastvit_ma36"]["median_s"], results["resnet50"]["median_s"]
        L += [
            "**FastViT-MA36 vs ResNet-50 (EHPE, images/s):** "
            f"torch {rn['ehpe_torch'] / f['ehpe_torch']:.2f}×, onnxruntime "
            f"{rn['ehpe_ort'] / f['ehpe_ort']:.2f}× (goal ≥ 2×; the paper's GPU figures 59 / 28 "
            "FPS = 2.1×). Backbones alone (the TW-stage's backbone share is not separated "
            f"here): baseline torch {rn['baseline_torch'] / f['baseline_torch']:.2f}×.",
            "",
        ]
    notes = ROOT / "benchmarks" / "bench_ehpe_notes.md"
    if notes.exists():
        L += [notes.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(L)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=list(DEFAULT))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "ehpe"))
    args = ap.parse_args(argv)
    import onnxruntime as ort

    from handpose.utils.machine import cpu_name

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {}
    for b in args.backbones:
        print(f"building {b} ...", flush=True)
        models[b] = build(b, args.threads)
    print("timing ...", flush=True)
    med = measure(models, args.rounds)
    results = {b: {"median_s": med[b], "params_m": models[b]["params_m"]} for b in models}
    import os

    meta = {
        "args": " ".join(sys.argv[1:] if argv is None else argv),
        "cpu": cpu_name(),
        "threads": args.threads,
        "torch": torch.__version__,
        "ort": ort.__version__,
        "python": platform.python_version(),
        "size": next(iter(models.values()))["size"],
        "rounds": args.rounds,
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
