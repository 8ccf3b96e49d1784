"""Throughput of the synthetic IMU data generator, and the acceleration statistics behind
``handpose.datasets.normalize.DEFAULT_ACC_SCALE``.

Generates the default VIHand-like set in memory (``--subjects`` × 15 sequences ×
``--frames`` frames at 30 fps, default noise) twice:

1. in this process with one torch thread, timing each stage per sequence:
   motion (gesture keyframes → MANO parameters, numpy); layer (``HandModel`` joints-only
   forward with the 7 sensor vertices skinned via ``vertex_ids``); imu (mounting errors,
   smoothed accelerations, gyro, noise: ``simulate_imu``);
2. end to end with ``--workers`` generator processes (``iter_records``, one torch thread each),
   which is how ``handpose synth imu --workers 2`` uses 2 cores;

then writes ``--write-subjects`` subjects of it to HDF5 (gzip) and reports that separately.
One torch thread per process: on a shared 2-core machine, torch's intra-op threads
oversubscribe the cores and can run an order of magnitude slower.
It also collects the root-relative leaf accelerations ``|R_rootᵀ(aᵢ − a_root)|`` and the root
``|a_root|`` of every frame, the statistics from which the token acceleration scale is chosen.

Usage:
    python benchmarks/bench_synth.py [--subjects 15] [--frames 1200] [--threads 2]
    [--workers 2] [--model open] [--out docs/benchmarks/synth]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose.datasets.normalize import DEFAULT_ACC_SCALE  # noqa: E402
from handpose.formats.imu_file import open_writer  # noqa: E402
from handpose.geometry.rotations import quaternion_to_matrix  # noqa: E402
from handpose.handmodel import HandModel  # noqa: E402
from handpose.simulators.synth import ImuSynthesizer, SynthConfig, iter_records  # noqa: E402
from handpose.utils.io import atomic_write_text  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--subjects", type=int, default=15)
    ap.add_argument("--frames", type=int, default=1200)
    ap.add_argument("--write-subjects", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default="open")
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks/synth"))
    args = ap.parse_args()
    torch.set_num_threads(1)

    load_before = os.getloadavg()[0]
    cfg = SynthConfig(subjects=args.subjects, frames_per_sequence=args.frames)
    synth = ImuSynthesizer(cfg, HandModel(args.model, side="right"))
    synth(1, "ROM01_Finger_Counting")  # warm-up (allocations, lazy init)

    t_motion = t_sim = 0.0
    t_layer_only = 0.0
    records = []
    leaf, root = [], []
    root_i = synth.layout.root_index
    leaves = [i for i in range(len(synth.layout)) if i != root_i]
    for subject, seq in synth.jobs():
        t0 = time.perf_counter()
        motion = synth.motion(subject, seq)
        t1 = time.perf_counter()
        rec = synth.simulate(motion)
        t2 = time.perf_counter()
        t_motion += t1 - t0
        t_sim += t2 - t1
        # Layer alone, to split the simulate() time into layer and IMU parts.
        with torch.no_grad():
            t3 = time.perf_counter()
            synth.model(
                global_orient=torch.as_tensor(motion.global_orient, dtype=torch.float32),
                hand_pose=torch.as_tensor(motion.hand_pose, dtype=torch.float32),
                betas=torch.as_tensor(motion.betas, dtype=torch.float32),
                transl=torch.as_tensor(motion.transl, dtype=torch.float32),
                return_vertices=False,
                vertex_ids=synth.resolved.vertices,
            )
            t_layer_only += time.perf_counter() - t3
        if subject <= args.write_subjects:
            records.append(rec)
        R = quaternion_to_matrix(torch.from_numpy(rec.quaternion).double())
        a = torch.from_numpy(rec.free_acceleration).double()
        Rt = R[:, root_i].transpose(-1, -2)
        rel = (Rt[:, None] @ (a[:, leaves] - a[:, root_i : root_i + 1])[..., None])[..., 0]
        leaf.append(rel.norm(dim=-1).flatten().numpy())
        root.append(a[:, root_i].norm(dim=-1).numpy())
    frames = len(synth.jobs()) * args.frames
    t_total = t_motion + t_sim

    t0 = time.perf_counter()
    n_par = sum(r.num_frames for r in iter_records(cfg, synth.model, workers=args.workers))
    t_par = time.perf_counter() - t0
    assert n_par == frames

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.h5"
        t0 = time.perf_counter()
        with open_writer(path, synth.file_attrs()) as w:
            for rec in records:
                w.write(rec)
        t_write = time.perf_counter() - t0
        size = path.stat().st_size
    write_frames = sum(r.num_frames for r in records)

    leaf_all, root_all = np.concatenate(leaf), np.concatenate(root)
    pct = [50, 99, 99.9, 100]
    result = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "torch_threads_per_process": 1,
            "workers": args.workers,
            "load_average_1min_before_after": [load_before, os.getloadavg()[0]],
        },
        "workload": {
            "subjects": args.subjects,
            "sequences": len(cfg.sequences),
            "frames_per_sequence": args.frames,
            "frames": frames,
            "fps": cfg.fps,
            "layout": synth.layout.name,
            "sensors": len(synth.layout),
            "model": args.model,
            "noise": "default",
        },
        "seconds": {
            "motion": t_motion,
            "layer_and_imu": t_sim,
            "layer_only_rerun": t_layer_only,
            "imu_estimate": t_sim - t_layer_only,
            "total_excluding_write": t_total,
            "parallel_workers_excluding_write": t_par,
        },
        "frames_per_second": {
            "motion": frames / t_motion,
            "layer": frames / t_layer_only,
            "imu_with_noise": frames / max(t_sim - t_layer_only, 1e-9),
            "total_excluding_write": frames / t_total,
            "parallel_workers_excluding_write": frames / t_par,
            "hdf5_write_gzip": write_frames / t_write,
        },
        "hdf5": {"frames": write_frames, "bytes": size, "bytes_per_frame": size / write_frames},
        "target_frames_per_second": 20000,
        "acceleration_m_s2": {
            "leaf_relative": {f"p{p}": float(np.percentile(leaf_all, p)) for p in pct},
            "root": {f"p{p}": float(np.percentile(root_all, p)) for p in pct},
            "default_acc_scale": DEFAULT_ACC_SCALE,
            "fraction_leaf_within_scale": float((leaf_all <= DEFAULT_ACC_SCALE).mean()),
        },
    }
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
    fps = result["frames_per_second"]
    acc = result["acceleration_m_s2"]
    md = [
        "# Synthetic IMU data throughput",
        "",
        f"`python benchmarks/bench_synth.py` — {args.subjects} subjects × {len(cfg.sequences)} "
        f"sequences × {args.frames} frames = {frames} frames, {synth.layout.name} "
        f"({len(synth.layout)} sensors), default noise, hand model `{args.model}`, "
        f"{result['machine']['processor']} with {os.cpu_count()} cores, one torch thread per "
        "process. The machine was shared with other jobs while measured (1-min load average "
        f"{load_before:.1f} before, {result['machine']['load_average_1min_before_after'][1]:.1f} "
        "after), so these are lower bounds.",
        "",
        "| stage | frames/s |",
        "|---|---:|",
        f"| motion (gesture keyframes → MANO parameters), 1 process | {fps['motion']:,.0f} |",
        f"| hand model layer (joints + 7 sensor vertices), 1 process | {fps['layer']:,.0f} |",
        f"| IMU simulation with noise, 1 process | {fps['imu_with_noise']:,.0f} |",
        f"| total excluding HDF5 write, 1 process | {fps['total_excluding_write']:,.0f} |",
        f"| **total excluding HDF5 write, {args.workers} worker processes** (target ≥ 20,000 on 2 "
        f"cores) | **{fps['parallel_workers_excluding_write']:,.0f}** |",
        f"| HDF5 write, gzip level 4 ({result['hdf5']['bytes_per_frame']:.0f} B/frame) | "
        f"{fps['hdf5_write_gzip']:,.0f} |",
        "",
        "Root-relative leaf acceleration |R_rootᵀ(aᵢ − a_root)| over all frames and leaf sensors "
        "(m/s²), from which `DEFAULT_ACC_SCALE` is chosen:",
        "",
        "| | median | p99 | p99.9 | max |",
        "|---|---:|---:|---:|---:|",
        "| leaf (relative) | "
        + " | ".join(f"{acc['leaf_relative'][f'p{p}']:.2f}" for p in pct)
        + " |",
        "| root (back of hand) | " + " | ".join(f"{acc['root'][f'p{p}']:.2f}" for p in pct) + " |",
        "",
        f"`DEFAULT_ACC_SCALE = {DEFAULT_ACC_SCALE:g}` m/s²: "
        f"{100 * acc['fraction_leaf_within_scale']:.2f} % of leaf samples lie within it.",
        "",
    ]
    atomic_write_text(out.with_suffix(".md"), "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
