"""Inference speed of the MGDHand student: windows/s and per-frame latency per backend.

For the ``paper`` (the paper's size), ``cpu-small`` and ``paper-wide`` (width 512) presets
(random weights: speed does not depend on training), on ``--threads`` CPU threads (default 2,
this machine's core count), it measures:

- **windows/s at batch 1** — streaming runs one window per frame, so this is the frame rate the
  live estimator can sustain (the goal: ≥ 30 windows/s, VIHand's 30 Hz, at ``paper``) — and at
  ``--batch`` (file inference throughput);
- the backends: eager torch as the model's own ``forward`` runs it (``no_grad``, priors
  computed: the *before*), the inference path (``inference_mode``, only the outputs inference
  needs: :class:`~handpose.inference.backends.StudentInference`) with the backbone's two streams
  one after the other and side by side (``LockstepEncoder``, the default: every linear layer of
  the two streams as one batched GEMM), the sequential path with fused
  ``scaled_dot_product_attention`` patched into the attention modules (patched here only),
  ``torch.compile`` (inductor), onnxruntime (all graph optimisations, basic only, and the
  sequential graph with the streams as parallel branches, ``ORT_PARALLEL``), and two
  reduced-precision options (bf16 autocast, onnxruntime int8 dynamic quantisation) with their
  joint deviation from fp32;
- FLOPs per window (``torch.utils.flop_counter``) and the achieved FLOP/s as a ratio to this
  machine's fp32 matmul peak (a 2048² ``torch.matmul``, timed in the same round-robin loop as
  the variants, because the machine is shared), and the load average before and after;
- the per-frame latency of the full streaming path (:meth:`StreamingEstimator.push`:
  normalisation, network, axis-angle conversion) for each exact backend;
- a ``torch.profiler`` table of the top operators of the paper preset (inference path).

Usage:
    python benchmarks/bench_inference.py [--presets paper cpu-small] [--threads 2]
        [--seconds 3] [--batch 16] [--no-compile] [--out docs/benchmarks/inference]
        [--markdown-only]

Writes ``<out>.json`` and ``<out>.md`` (plus the hand-written analysis in
``bench_inference_notes.md``). All variants are timed round-robin in one loop with the matmul
peak, and the best call is reported next to the median: on a shared machine compare rows of
one run, not runs. About 10 minutes on 2 busy cores, most of it ``torch.compile``
(``--no-compile`` skips it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose.inference.backends import (  # noqa: E402
    ONNX_OUTPUTS,
    StudentInference,
    StudentSpec,
    onnx_session,
)
from handpose.inference.onnx_export import (  # noqa: E402
    quantize_int8,
    random_imu_windows,
    student_to_onnx,
)
from handpose.models.dstformer import Attention  # noqa: E402
from handpose.utils.io import atomic_write_text  # noqa: E402

# ----------------------------------------------------------------------------- measurement


def race(fns: dict, seconds: float, min_calls: int = 3, warmup: int = 1) -> dict:
    """Time several callables round-robin, so that they share the machine's load fairly.

    Each round calls every function once. Runs until every function has ``min_calls`` timings
    and ``seconds`` × number of functions have passed. Returns ``{name: {"best_s", "median_s",
    "calls"}}``: the best (minimum) time is the least disturbed by other processes on a shared
    machine; the median is what a user sees under the same load.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict = {name: [] for name in fns}
    start = time.perf_counter()
    while min(
        len(t) for t in times.values()
    ) < min_calls or time.perf_counter() - start < seconds * len(fns):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {
        name: {"best_s": min(t), "median_s": statistics.median(t), "calls": len(t)}
        for name, t in times.items()
    }


def matmul_call(dtype=torch.float32, n: int = 2048):
    """A large square matmul and its FLOPs (2n³), for the machine's peak."""
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    return (lambda: a @ b), 2 * n**3


def count_flops(fn, x) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:  # (grad mode on: its module hooks need it)
        fn(x)
    return int(counter.get_total_flops())


# ----------------------------------------------------------------------------- variants


def _sdpa_forward(self, x, return_attention: bool = False):
    """Attention.forward with the fused kernel (the change proposed to the models helper)."""
    if return_attention:
        return _ORIGINAL_ATTENTION_FORWARD(self, x, return_attention=True)
    n, length, dim = x.shape
    h = self.num_heads
    qkv = self.qkv(x).reshape(n, length, 3, h, dim // h).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    p = self.attn_drop.p if self.training else 0.0
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=p, scale=self.scale)
    return self.proj_drop(self.proj(out.transpose(1, 2).reshape(n, length, dim)))


_ORIGINAL_ATTENTION_FORWARD = Attention.forward


@contextlib.contextmanager
def sdpa_attention():
    Attention.forward = _sdpa_forward
    try:
        yield
    finally:
        Attention.forward = _ORIGINAL_ATTENTION_FORWARD


def build(preset: str):
    """``name`` or ``name:key=value,key=value`` (config overrides, e.g. a narrower student)."""
    from handpose.datasets.normalize import DEFAULT_ACC_SCALE
    from handpose.training.config import load_config
    from handpose.training.factory import build_student, sensor_names

    name, _, overrides = preset.partition(":")
    cfg = load_config(name, [o for o in overrides.split(",") if o])
    torch.manual_seed(0)
    student = build_student(cfg).eval()
    spec = StudentSpec(
        window=cfg.data.window,
        sensor_names=sensor_names(cfg.data.student_sensors),
        root="back",
        acc_scale=float(cfg.data.acc_scale or DEFAULT_ACC_SCALE),
        fps=30.0,
        hand_model=cfg.hand_model,
        name=name,
    )
    return student, spec


def bench_preset(preset, args, log) -> dict:
    student, spec = build(preset)
    params = sum(p.numel() for p in student.parameters())
    infer = StudentInference(student).eval()
    windows = {
        1: torch.from_numpy(random_imu_windows(spec, 1, seed=1)),
        args.batch: torch.from_numpy(random_imu_windows(spec, args.batch, seed=2)),
    }
    x1 = windows[1]
    sequential = StudentInference(student, lockstep=False).eval()
    log(f"[{preset}] {params / 1e6:.2f} M parameters")
    flops_full = count_flops(lambda x: student(x, return_vertices=False), x1)
    flops_infer = count_flops(infer, x1)
    with torch.inference_mode():
        ref = {b: infer(x)[2].numpy() for b, x in windows.items()}

    def eager_full(x):
        with torch.no_grad():
            return student(x, return_vertices=False).joints

    def eager_infer(x):
        with torch.inference_mode():
            return infer(x)[2]

    def eager_sequential(x):
        with torch.inference_mode():
            return sequential(x)[2]

    def eager_sdpa(x):
        with sdpa_attention(), torch.inference_mode():
            return sequential(x)[2]

    def bf16(x):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return infer(x)[2].float()

    def eager_infer_1thread(x):
        torch.set_num_threads(1)
        try:
            return eager_infer(x)
        finally:
            torch.set_num_threads(args.threads)

    variants = [
        ("eager (model forward, no_grad)", eager_full, flops_full, "before", True),
        ("eager inference path, streams in sequence", eager_sequential, flops_infer, "exact", True),
        ("eager inference path, streams in lockstep", eager_infer, flops_infer, "exact", True),
        ("… in lockstep, 1 thread", eager_infer_1thread, flops_infer, "exact", True),
        ("… in sequence + SDPA", eager_sdpa, flops_infer, "exact", True),
    ]
    compile_note = "skipped (--no-compile)"
    if not args.no_compile:
        log(f"[{preset}] torch.compile (inductor)")
        try:
            t0 = time.perf_counter()
            compiled = torch.compile(infer, dynamic=False)
            with torch.inference_mode():
                compiled(x1)
            compile_note = f"compiled in {time.perf_counter() - t0:.0f} s (batch 1 only)"

            def run_compiled(x):
                # Batch 1 only: another batch size would recompile (minutes here).
                with torch.inference_mode():
                    return compiled(x)[2] if x.shape[0] == 1 else infer(x)[2]

            variants.append(("torch.compile (inductor)", run_compiled, flops_infer, "exact", True))
        except Exception as err:  # report, do not fail the benchmark
            compile_note = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:200]}"
    log(f"[{preset}] exporting to ONNX")
    onnx_bytes = student_to_onnx(student, spec)
    onnx_sequential = student_to_onnx(student, spec, lockstep=False)

    def ort_runner(level: str, model=onnx_bytes):
        import onnxruntime as ort

        if level == "all":
            sess = onnx_session(model, args.threads)
        else:
            opts = ort.SessionOptions()
            opts.graph_optimization_level = (
                ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
                if level == "basic"
                else ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            )
            opts.intra_op_num_threads = args.threads if level == "basic" else 1
            opts.inter_op_num_threads = 1 if level == "basic" else args.threads
            if level == "parallel":  # independent branches (the two streams) concurrently
                opts.execution_mode = ort.ExecutionMode.ORT_PARALLEL
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            opts.log_severity_level = 3
            sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])

        def run(x):
            return sess.run([ONNX_OUTPUTS[2]], {"imu": x.numpy()})[0]

        return run

    variants.append(
        ("onnxruntime (all graph optimisations)", ort_runner("all"), flops_infer, "exact", True)
    )
    variants.append(
        ("onnxruntime (basic optimisations)", ort_runner("basic"), flops_infer, "exact", False)
    )
    variants.append(
        ("onnxruntime, streams in sequence as parallel branches (ORT_PARALLEL)",
         ort_runner("parallel", onnx_sequential), flops_infer, "exact", False)
    )  # fmt: skip
    variants.append(("eager + bf16 autocast", bf16, flops_infer, "reduced precision", False))
    try:
        int8_bytes = quantize_int8(onnx_bytes)
        variants.append(
            ("onnxruntime int8 dynamic quantisation", ort_runner("all", int8_bytes), flops_infer,
             "reduced precision", False)
        )  # fmt: skip
    except Exception as err:
        log(f"[{preset}] int8 quantisation failed: {err}")

    # Round-robin timing: every variant and the matmul peak see the same load.
    mm32, mm_flops = matmul_call(torch.float32)
    mm16, _ = matmul_call(torch.bfloat16)
    rows = []
    peaks = {}
    for b, x in windows.items():
        log(f"[{preset}] timing {len(variants)} variants at batch {b}")
        fns = {"fp32 matmul": mm32, "bf16 matmul": mm16}
        fns.update({name: (lambda fn=fn, x=x: fn(x)) for name, fn, *_ in variants})
        res = race(fns, args.seconds if b == 1 else args.seconds / 2, min_calls=3 if b == 1 else 2)
        peaks[b] = {
            "fp32": mm_flops / res["fp32 matmul"]["best_s"] / 1e9,
            "bf16": mm_flops / res["bf16 matmul"]["best_s"] / 1e9,
            "fp32_median": mm_flops / res["fp32 matmul"]["median_s"] / 1e9,
        }
        for i, (name, fn, flops, kind, _) in enumerate(variants):
            if b == 1:
                rows.append({"variant": name, "kind": kind, "gflop_per_window": flops / 1e9})
            r = res[name]
            out = fn(x)
            wps = b / r["best_s"]
            rows[i][f"b{b}"] = {
                "ms_per_call_best": r["best_s"] * 1e3,
                "ms_per_call_median": r["median_s"] * 1e3,
                "windows_per_s": wps,
                "windows_per_s_median": b / r["median_s"],
                "gflops_per_s": wps * flops / 1e9,
                "ratio_to_fp32_peak": wps * flops / 1e9 / peaks[b]["fp32"],
                "max_joint_dev_mm": float(np.abs(np.asarray(out) - ref[b]).max() * 1000.0),
                "calls": r["calls"],
            }

    # Full streaming path (normalisation + network + axis-angle) per frame, exact backends.
    from handpose.inference.api import estimator_from_student

    q = np.tile(np.array([1.0, 0, 0, 0]), (len(spec.sensor_names), 1))
    a = np.zeros((len(spec.sensor_names), 3))
    pushes = {}
    for backend in ("torch", "onnx"):
        stream = estimator_from_student(
            student, spec, backend=backend, threads=args.threads
        ).stream()
        for _ in range(spec.window):
            stream.push(q, a)
        pushes[backend] = lambda stream=stream: stream.push(q, a)
    res = race(pushes, args.seconds)
    stream_rows = []
    for backend, r in res.items():
        stream_rows.append(
            {
                "backend": backend,
                "ms_per_frame_best": r["best_s"] * 1e3,
                "ms_per_frame_median": r["median_s"] * 1e3,
                "frames_per_s": 1 / r["best_s"],
            }
        )
        log(f"[{preset}] streaming push ({backend}): {r['best_s'] * 1e3:.1f} ms/frame (best)")

    profile = None
    if preset == args.profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        with torch.inference_mode():
            for _ in range(2):
                infer(x1)
            with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(5):
                    infer(x1)
        total = sum(e.self_cpu_time_total for e in prof.key_averages())
        top = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:12]
        profile = [
            {
                "op": e.key,
                "self_cpu_ms_per_window": e.self_cpu_time_total / 5 / 1e3,
                "share": e.self_cpu_time_total / total,
                "calls_per_window": e.count / 5,
            }
            for e in top
        ]
    return {
        "preset": preset,
        "parameters": params,
        "window": spec.window,
        "sensors": len(spec.sensor_names),
        "matmul_peak_gflops": peaks,
        "gflop_per_window_model_forward": flops_full / 1e9,
        "gflop_per_window_inference_path": flops_infer / 1e9,
        "torch_compile": compile_note,
        "variants": rows,
        "streaming": stream_rows,
        "profile": profile,
    }


# ----------------------------------------------------------------------------- report


GEMM_OPS = ("aten::addmm", "aten::mm", "aten::bmm", "aten::baddbmm", "aten::matmul")


def markdown(info: dict) -> str:
    b = info["batch"]
    m = info["machine"]
    lines = [
        "# MGDHand student inference speed",
        "",
        f"CPU, {info['threads']} threads, torch {m['torch']}, onnxruntime {m['onnxruntime']}, "
        f"`{m['processor']}` ({m['platform']}, {m['cpu_count']} cores), load average "
        f"before/after {info['loadavg_before']} / {info['loadavg_after']}.",
        "",
        "How to read it: random weights (speed does not depend on training). Windows/s at "
        "batch 1 is the frame rate live streaming can sustain (one window per frame, latency "
        f"one frame); batch {b} is file throughput (tiled mode needs one window per T frames). "
        "The machine is shared with other jobs, so every variant and the matmul peak were "
        "timed round-robin in the same loop and the **best** call time is reported (the least "
        "disturbed; the median under the run's load is in the JSON and in parentheses). "
        "FLOP/s = FLOPs per window (`torch.utils.flop_counter`) × windows/s, as a ratio to the "
        "fp32 matmul peak (2048² `torch.matmul`) of the same loop. *max dev* = largest joint "
        "difference from the fp32 inference path, mm (random weights: indicative only for the "
        "reduced-precision rows).",
        "",
        f"Command: `{info['command']}`",
        "",
    ]
    for p in info["presets"]:
        pk = p["matmul_peak_gflops"]
        pk1 = pk["1"] if "1" in pk else pk[1]
        gf = p["gflop_per_window_inference_path"]
        lines += [
            f"## `{p['preset']}` (T = {p['window']}, {p['sensors']} IMUs, "
            f"{p['parameters'] / 1e6:.2f} M parameters)",
            "",
            f"- FLOPs per window: {p['gflop_per_window_model_forward']:.3f} G for the model's own "
            f"forward (with the distillation prior heads), {gf:.3f} G for the inference path.",
            f"- Matmul peak in the batch-1 loop: fp32 {pk1['fp32']:.0f} GFLOP/s, bf16 "
            f"{pk1['bf16']:.0f} GFLOP/s. fp32 ceiling for the inference path: "
            f"{pk1['fp32'] / gf:.1f} windows/s.",
            f"- torch.compile: {p['torch_compile']}.",
            "",
            f"| variant | kind | windows/s b=1 (median) | ms/window b=1 | windows/s b={b} | "
            "GFLOP/s b=1 | of fp32 peak b=1 | of fp32 peak b=" + str(b) + " | max dev (mm) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in p["variants"]:
            r1, rb = r["b1"], r[f"b{b}"]
            lines.append(
                f"| {r['variant']} | {r['kind']} | {r1['windows_per_s']:.1f} "
                f"({r1['windows_per_s_median']:.1f}) | {r1['ms_per_call_best']:.1f} | "
                f"{rb['windows_per_s']:.1f} | {r1['gflops_per_s']:.1f} | "
                f"{r1['ratio_to_fp32_peak']:.0%} | {rb['ratio_to_fp32_peak']:.0%} | "
                f"{max(r1['max_joint_dev_mm'], rb['max_joint_dev_mm']):.2g} |"
            )
        before = p["variants"][0]["b1"]["windows_per_s"]
        exact = [r for r in p["variants"] if r["kind"] == "exact"]
        best_exact = max(exact, key=lambda r: r["b1"]["windows_per_s"])
        best_any = max(p["variants"], key=lambda r: r["b1"]["windows_per_s"])
        w_exact = best_exact["b1"]["windows_per_s"]
        goal = "met" if w_exact >= 30 else "not met"
        lines += [
            "",
            f"Summary: fastest exact variant at batch 1 is *{best_exact['variant']}*, "
            f"{w_exact:.1f} windows/s = {w_exact / before:.1f}× the model forward "
            f"({before:.1f}); fastest overall *{best_any['variant']}* "
            f"({best_any['b1']['windows_per_s']:.1f}). Goal ≥ 30 windows/s: {goal} (exact). "
            f"At this run's fp32 peak, 30 windows/s would need ≤ {pk1['fp32'] / 30:.1f} GFLOP "
            "per window at 100 % of peak.",
        ]
        best_stream = max(st["frames_per_s"] for st in p["streaming"])
        lines[-1] += (
            f" Streaming (below): {best_stream:.1f} frames/s at best, goal ≥ 30: "
            f"{'met' if best_stream >= 30 else 'not met'}."
        )
        lines += ["", "Streaming path per frame (`StreamingEstimator.push`, batch 1):", ""]
        lines += ["| backend | ms/frame best (median) | frames/s |", "|---|---|---|"]
        for st in p["streaming"]:
            lines.append(
                f"| {st['backend']} | {st['ms_per_frame_best']:.1f} "
                f"({st['ms_per_frame_median']:.1f}) | {st['frames_per_s']:.1f} |"
            )
        if p["profile"]:
            gemm = sum(e["share"] for e in p["profile"] if e["op"] in GEMM_OPS)
            lines += [
                "",
                "Top operators, eager inference path, batch 1 (`torch.profiler`, self CPU time; "
                f"GEMMs {gemm:.0%} of the total):",
                "",
                "| operator | ms/window | share | calls/window |",
                "|---|---|---|---|",
            ]
            for e in p["profile"]:
                lines.append(
                    f"| `{e['op']}` | {e['self_cpu_ms_per_window']:.2f} | {e['share']:.0%} | "
                    f"{e['calls_per_window']:.0f} |"
                )
        lines.append("")
    notes = Path(__file__).with_name("bench_inference_notes.md")
    if notes.is_file():
        lines += [notes.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--presets",
        nargs="+",
        default=["paper", "cpu-small", "paper-wide"],
        help="config presets, optionally with overrides: name:key=value,key=value",
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=3.0, help="time budget per variant (batch 1)")
    p.add_argument("--batch", type=int, default=16, help="file-inference batch size")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--profile", default="paper", help="preset to profile")
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "inference"))
    p.add_argument(
        "--markdown-only", action="store_true", help="rewrite <out>.md from an existing <out>.json"
    )
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.markdown_only:
        info = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        atomic_write_text(out.with_suffix(".md"), markdown(info))
        print(f"wrote {out.with_suffix('.md')}")
        return 0
    torch.set_num_threads(args.threads)
    import onnxruntime

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    load_before = [round(x, 2) for x in os.getloadavg()]
    presets = [bench_preset(name, args, log) for name in args.presets]
    info = {
        "command": "python benchmarks/bench_inference.py " + " ".join(argv or sys.argv[1:]),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "threads": args.threads,
        "batch": args.batch,
        "loadavg_before": load_before,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "presets": presets,
    }
    atomic_write_text(out.with_suffix(".json"), json.dumps(info, indent=2) + "\n")
    atomic_write_text(out.with_suffix(".md"), markdown(info))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
