"""Image inference speed: end-to-end images/s vs the model alone, torch eager vs onnxruntime.

For the image baseline (random weights: speed does not depend on training) in its
``cpu-small`` configuration (MobileNetV3-Small-0.5, 96 px) and with other backbones
(``--variants``), on ``--threads`` CPU threads, it measures at batch 1 and ``--batch``:

- **end to end**: :meth:`ImagePoseEstimator.predict_batch` on JPEG files from disk (640 × 480,
  one hand box each): decode, square crop with padding and resize, normalisation, the model,
  and the post-processing to the original image (un-crop, dataclasses) — what
  ``handpose infer image`` does per image, without writing results or overlays;
- **model only**: the same backend on ready, normalised crops (the export graph:
  :class:`~handpose.inference.image_model.ImageModelGraph`);
- **decode only**: reading the JPEGs (its share of the end-to-end time);
- FLOPs per image (``torch.utils.flop_counter``) and the model-only FLOP/s as a ratio to this
  machine's fp32 matmul peak (2048² ``torch.matmul``) timed in the same round-robin loop.

Usage:
    python benchmarks/bench_image_inference.py [--variants cpu-small cpu-small:resnet18]
        [--threads 2] [--seconds 2] [--batch 32] [--out docs/benchmarks/image_inference]

Writes ``<out>.json`` and ``<out>.md``. Every measurement of one variant is timed round-robin
with the matmul peak and the best call is reported beside the median: compare rows of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_inference import count_flops, matmul_call, race  # noqa: E402

from handpose.utils.io import atomic_write_text  # noqa: E402

IMAGE_HW = (480, 640)
BOX = (250.0, 150.0, 370.0, 290.0)  # a 120 × 140 px hand box


def build(variant: str):
    """``preset[:backbone]`` → (model, spec, description)."""
    from handpose.inference.image_model import model_spec
    from handpose.training import harness
    from handpose.training.config import config_to_dict

    preset, _, backbone = variant.partition(":")
    overrides = [f"model.backbone={backbone}"] if backbone else []
    cfg = harness.load_method_config("baseline", preset, overrides)
    from handpose.training.registry import get_method

    method = get_method("baseline")
    torch.manual_seed(0)
    model = method.stage("main").build_model(cfg).float().eval()
    meta = {"method": "baseline", "stage": "main", "config": config_to_dict(cfg)}
    spec = model_spec(model, meta, variant)
    params = sum(p.numel() for p in model.parameters())
    return (
        model,
        spec,
        {
            "variant": variant,
            "backbone": cfg.model.backbone,
            "input_size": cfg.data.size,
            "parameters": params,
        },
    )


def write_jpegs(folder: Path, n: int) -> list[str]:
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    yy, xx = np.mgrid[0 : IMAGE_HW[0], 0 : IMAGE_HW[1]]
    for i in range(n):
        base = rng.uniform(0, 255, 3)
        img = base + 40 * np.sin(xx / (17 + i) + rng.uniform(0, 6))[..., None]
        img = img + rng.normal(0, 8, (*IMAGE_HW, 3))
        p = folder / f"img{i:03d}.jpg"
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(p, quality=90)
        paths.append(str(p))
    return paths


def bench_variant(variant: str, args, paths: list[str], log) -> dict:
    from handpose.inference.image import ImagePoseEstimator, TorchImageBackend, as_rgb
    from handpose.inference.image_onnx import (
        OnnxImageBackend,
        image_model_to_onnx,
        image_onnx_parity,
    )

    model, spec, info = build(variant)
    log(f"{variant}: {info['backbone']} at {info['input_size']} px, {info['parameters']} params")
    # no parity gate: with random weights the camera lift of joints3d is ill-conditioned (its
    # values reach ±1e6 or inf), so the export's relative check would refuse it; the parity of
    # each output is measured and reported instead (speed does not depend on the values)
    onnx_bytes = image_model_to_onnx(model, spec, check=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        parity = {k: v[0] for k, v in image_onnx_parity(model, spec, onnx_bytes).items()}
    backends = {
        "torch eager": TorchImageBackend(model, spec),
        "onnxruntime": OnnxImageBackend(onnx_bytes, spec, threads=args.threads),
    }
    S = spec.input_size
    flops = count_flops(lambda x: backends["torch eager"].graph(*x), (
        torch.zeros(1, 3, S, S), torch.eye(3)[None] * torch.tensor([S, S, 1.0])[:, None]
    ))  # fmt: skip
    rows = []
    peaks = {}
    for b in (1, args.batch):
        imgs = paths[:b]
        rng = np.random.default_rng(b)
        crops = rng.normal(0, 1, (b, 3, S, S)).astype(np.float32)
        K = np.repeat(np.array([[[S * 1.5, 0, S / 2], [0, S * 1.5, S / 2], [0, 0, 1]]],
                               np.float32), b, axis=0)  # fmt: skip
        fns = {}
        for name, backend in backends.items():
            est = ImagePoseEstimator(backend, spec, batch_size=max(b, 1))
            fns[f"{name}|end-to-end"] = lambda est=est, imgs=imgs: est.predict_batch(
                imgs, [BOX] * len(imgs)
            )
            fns[f"{name}|model only"] = lambda backend=backend, x=crops, k=K: backend(x, k)
        fns["decode only"] = lambda imgs=imgs: [as_rgb(p) for p in imgs]
        mm, mm_flops = matmul_call()
        fns["matmul peak"] = mm
        with torch.inference_mode():
            times = race(fns, args.seconds, min_calls=3)
        peak = mm_flops / times["matmul peak"]["best_s"] / 1e9
        peaks[b] = peak
        decode = times["decode only"]
        for key, t in times.items():
            if key == "matmul peak":
                continue
            backend, _, what = key.partition("|") if "|" in key else ("", "", key)
            ips = b / t["best_s"]
            row = {
                "batch": b,
                "backend": backend,
                "what": what,
                "images_per_s": ips,
                "images_per_s_median": b / t["median_s"],
                "ms_per_image": 1000 * t["best_s"] / b,
                "calls": t["calls"],
            }
            if what == "model only":
                row["gflop_per_s"] = ips * flops / 1e9
                row["of_fp32_peak"] = row["gflop_per_s"] / peak
            if what == "end-to-end":
                row["decode_share"] = decode["best_s"] / t["best_s"]
            rows.append(row)
        log(f"  batch {b}: " + ", ".join(
            f"{r['backend']} {r['what']} {r['images_per_s']:.1f}/s" for r in rows if r["batch"] == b
        ))  # fmt: skip
    return {
        **info,
        "flops_per_image": flops,
        "matmul_peak_gflops": peaks,
        "onnx_max_abs_diff": parity,
        "rows": rows,
    }


def markdown(info: dict) -> str:
    m = info["machine"]
    lines = [
        "# Image inference speed (baseline)",
        "",
        f"CPU, {info['threads']} threads, torch {m['torch']}, onnxruntime {m['onnxruntime']}, "
        f"`{m['processor']}` ({m['platform']}, {m['cpu_count']} cores), load average "
        f"before/after {info['loadavg_before']} / {info['loadavg_after']}.",
        "",
        "How to read it: random weights (speed does not depend on training). *End to end* = "
        "`ImagePoseEstimator.predict_batch` on 640×480 JPEG files with one hand box each: "
        "decode, square crop with padding and resize, normalisation, model, post-processing to "
        "the original image (what `handpose infer image` does per image, without writing "
        "results or overlays). *Model only* = the same backend on ready, normalised crops. "
        "*Decode only* = reading the JPEGs. The machine is shared, so every row of a variant and "
        "the fp32 matmul peak (2048² `torch.matmul`) were timed round-robin in one loop and the "
        "**best** call is reported (the median under the run's load in parentheses). FLOP/s = "
        "FLOPs per image (`torch.utils.flop_counter`) × images/s of the model alone.",
        "",
        f"Command: `{info['command']}`",
        "",
    ]
    for v in info["variants"]:
        lines += [
            f"## `{v['variant']}`: {v['backbone']} at {v['input_size']} px "
            f"({v['parameters'] / 1e6:.2f} M parameters, {v['flops_per_image'] / 1e9:.3f} "
            "GFLOP per image)",
            "",
            "| batch | backend | what | images/s (median) | ms/image | GFLOP/s | of fp32 peak | "
            "decode share |",
            "|---:|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in v["rows"]:
            gf = f"{r['gflop_per_s']:.1f}" if "gflop_per_s" in r else ""
            pk = f"{r['of_fp32_peak']:.1%}" if "of_fp32_peak" in r else ""
            ds = f"{r['decode_share']:.0%}" if "decode_share" in r else ""
            lines.append(
                f"| {r['batch']} | {r['backend'] or '–'} | {r['what']} | "
                f"{r['images_per_s']:.1f} ({r['images_per_s_median']:.1f}) | "
                f"{r['ms_per_image']:.2f} | {gf} | {pk} | {ds} |"
            )
        pk = v["matmul_peak_gflops"]
        lines += [
            "",
            "Matmul peak in the same loop: "
            + ", ".join(f"batch {b}: {g:.0f} GFLOP/s" for b, g in pk.items())
            + ".",
            "",
            "ONNX parity (max |onnxruntime − torch| over random crops at batch 1 and 3): "
            + ", ".join(f"{k} {d:.1e}" for k, d in v.get("onnx_max_abs_diff", {}).items())
            + " (joints3d of a random-weight network is ill-conditioned: its camera lift "
            "reaches ±1e6 m or inf, so only joints2d (pixels) is a meaningful parity check here).",
            "",
        ]
        by = {(r["batch"], r["backend"], r["what"]): r for r in v["rows"]}
        for b in sorted({r["batch"] for r in v["rows"]}):
            e2e_t = by[(b, "torch eager", "end-to-end")]["images_per_s"]
            e2e_o = by[(b, "onnxruntime", "end-to-end")]["images_per_s"]
            mo_t = by[(b, "torch eager", "model only")]["images_per_s"]
            mo_o = by[(b, "onnxruntime", "model only")]["images_per_s"]
            lines.append(
                f"- Batch {b}: end to end onnxruntime / torch = {e2e_o / e2e_t:.2f}×; model only "
                f"{mo_o / mo_t:.2f}×; end to end reaches {e2e_t / mo_t:.0%} (torch) and "
                f"{e2e_o / mo_o:.0%} (onnxruntime) of the model-only rate."
            )
        lines.append("")
    notes = Path(__file__).with_name("bench_image_inference_notes.md")
    if notes.is_file():
        lines += [notes.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variants", nargs="+", default=["cpu-small", "cpu-small:resnet18"],
                   help="baseline preset[:backbone]")  # fmt: skip
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=2.0, help="time budget per measurement")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "image_inference"))
    p.add_argument("--markdown-only", action="store_true", help="rewrite <out>.md from <out>.json")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.markdown_only:
        info = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        atomic_write_text(out.with_suffix(".md"), markdown(info))
        return 0
    torch.set_num_threads(args.threads)
    import onnxruntime

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_jpegs(Path(tmp), max(args.batch, 1))
        variants = [bench_variant(v, args, paths, log) for v in args.variants]
    info = {
        "command": "python benchmarks/bench_image_inference.py " + " ".join(argv or sys.argv[1:]),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "threads": args.threads,
        "batch": args.batch,
        "image_hw": IMAGE_HW,
        "loadavg_before": load_before,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "variants": variants,
    }
    atomic_write_text(out.with_suffix(".json"), json.dumps(info, indent=2) + "\n")
    atomic_write_text(out.with_suffix(".md"), markdown(info))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
