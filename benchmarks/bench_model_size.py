"""MGDHand model size: parameters and MACs of the teacher and the student beside the paper's.

Counts our reconstruction at the `paper` preset (the network at the paper's size) and the
`paper-wide` preset (the supplement's width 512 taken literally) with
``torch.utils.flop_counter.FlopCounterMode`` (T = 32, 7 IMUs, batch 1) and sets them beside the
supplement's numbers (teacher 12.52 M parameters / 9.32 G, student 9.62 M / 2.22 G, which
behave like multiply-accumulates, see the report). It also sizes a grid of candidate
configurations (on the ``meta`` device: shapes only) to show which ones land within 5 % of all
four numbers, which is how `paper` was chosen.

Usage:
    python benchmarks/bench_model_size.py [--configs paper paper-wide]
        [--out docs/benchmarks/model_size]

Writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose.models.mgdhand import NetworkConfig, PriorConfig  # noqa: E402
from handpose.models.mgdhand.size import measure_model_size  # noqa: E402
from handpose.training.config import load_config  # noqa: E402
from handpose.training.factory import build_hand_model, sensor_names  # noqa: E402
from handpose.utils.io import atomic_write_text  # noqa: E402

# MGDHand (CVPR 2026) supplement §1: parameters and "FLOPs" at T = 32 with 7 IMUs.
PAPER = {"teacher": {"params": 12.52e6, "macs": 9.32e9}, "student": {"params": 9.62e6, "macs": 2.22e9}}  # fmt: skip
TOLERANCE = 0.05
TOKENS = {"teacher": 16 + 7, "student": 7}  # per frame: MANO joints + IMUs; IMUs
# The candidate grid (depth 5 and 8 heads, as stated; the rest is ours to choose).
GRID = {
    "dim": (192, 224, 256, 288, 320),
    "student_mlp_ratio": (1.0, 1.25, 1.5, 2.0),
    "teacher_mlp_ratio": (1.0, 1.5, 2.0, 2.5),
    "head_hidden": (256, 512),
    "prior_dim": (64, 128, 256),
}


class _NullHand(torch.nn.Module):
    """A stand-in hand model for the meta device: the decoder's FLOPs are not counted anyway."""

    num_vertices = 8

    def forward(self, global_orient=None, hand_pose=None, betas=None, return_vertices=True,
                vertex_ids=None, transl=None):  # fmt: skip
        from types import SimpleNamespace

        lead = global_orient.shape[:-2]
        joints21 = global_orient.new_zeros(lead + (21, 3))
        verts = global_orient.new_zeros(lead + (8, 3)) if return_vertices else None
        return SimpleNamespace(joints21=joints21, vertices=verts, selected_vertices=None)


def size_on_meta(net_t: NetworkConfig, net_s: NetworkConfig, priors: PriorConfig) -> dict:
    with torch.device("meta"):
        t, s = measure_model_size(net_t, net_s, priors, hand_model=_NullHand())
    return {
        "teacher_params": t.params,
        "teacher_macs": t.macs,
        "student_params": s.params,
        "student_macs": s.inference_macs,
        "student_macs_training": s.macs,
    }


def deviations(row: dict) -> dict:
    return {
        "teacher_params": row["teacher_params"] / PAPER["teacher"]["params"] - 1,
        "teacher_macs": row["teacher_macs"] / PAPER["teacher"]["macs"] - 1,
        "student_params": row["student_params"] / PAPER["student"]["params"] - 1,
        "student_macs": row["student_macs"] / PAPER["student"]["macs"] - 1,
    }


def candidates() -> list[dict]:
    """Every grid point, with its four deviations from the paper (teacher and student are
    sized separately and combined: they share only the width, head width and priors)."""
    students, teachers = {}, {}
    g = GRID
    for d, hh, pd in itertools.product(g["dim"], g["head_hidden"], g["prior_dim"]):
        pri = PriorConfig(pd, pd, pd, 4)
        for r in g["student_mlp_ratio"]:
            net = NetworkConfig(dim=d, depth=5, num_heads=8, mlp_ratio=r, head_hidden=hh)
            row = size_on_meta(net, net, pri)
            students[(d, hh, pd, r)] = row
            if r in g["teacher_mlp_ratio"]:
                teachers[(d, hh, pd, r)] = row
        for r in g["teacher_mlp_ratio"]:
            if (d, hh, pd, r) not in teachers:
                net = NetworkConfig(dim=d, depth=5, num_heads=8, mlp_ratio=r, head_hidden=hh)
                teachers[(d, hh, pd, r)] = size_on_meta(net, net, pri)
    rows = []
    for (d, hh, pd, rs), srow in students.items():
        for rt in g["teacher_mlp_ratio"]:
            trow = teachers[(d, hh, pd, rt)]
            row = {
                "dim": d, "head_hidden": hh, "prior_dim": pd,
                "student_mlp_ratio": rs, "teacher_mlp_ratio": rt,
                "teacher_params": trow["teacher_params"], "teacher_macs": trow["teacher_macs"],
                "student_params": srow["student_params"], "student_macs": srow["student_macs"],
                "student_macs_training": srow["student_macs_training"],
            }  # fmt: skip
            dev = deviations(row)
            row["deviations"] = dev
            row["max_abs_deviation"] = max(abs(v) for v in dev.values())
            rows.append(row)
    rows.sort(key=lambda r: r["max_abs_deviation"])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", nargs="+", default=["paper", "paper-wide"])
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "model_size"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--markdown-only", action="store_true", help="rewrite <out>.md from an existing <out>.json"
    )
    args = ap.parse_args()
    out = Path(args.out)
    if args.markdown_only:
        payload = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        atomic_write_text(out.with_suffix(".md"), markdown(payload))
        return
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    presets = {}
    for name in args.configs:
        cfg = load_config(name)
        hand = build_hand_model(cfg)
        results = {}
        for layout in ("vihand7", "sparse3", "sparse2"):
            n = len(sensor_names(layout))
            teacher, student = measure_model_size(
                cfg.teacher, cfg.student, cfg.priors, frames=cfg.data.window, num_imus=n,
                share_backbone=cfg.teacher.share_backbone, hand_model=hand,
            )  # fmt: skip
            if layout == "vihand7":
                results["teacher"] = teacher.as_dict()
            results[f"student_{n}"] = student.as_dict()
        row = {
            "teacher_params": results["teacher"]["params"],
            "teacher_macs": results["teacher"]["macs"],
            "student_params": results["student_7"]["params"],
            "student_macs": results["student_7"]["inference_macs"],
        }
        presets[name] = {
            "frames": cfg.data.window,
            "teacher": {f: getattr(cfg.teacher, f) for f in ("dim", "depth", "num_heads",
                        "mlp_ratio", "head_hidden")},
            "student": {f: getattr(cfg.student, f) for f in ("dim", "depth", "num_heads",
                        "mlp_ratio", "head_hidden")},
            "priors": {"dim": cfg.priors.pose_dim, "kernel": cfg.priors.motion_kernel_size},
            "results": results,
            "deviations": deviations(row),
            "hand_model": {"name": cfg.hand_model, "vertices": int(hand.num_vertices)},
        }  # fmt: skip
    grid = candidates()
    payload = {
        "configs": args.configs,
        "presets": presets,
        "paper": PAPER,
        "tolerance": TOLERANCE,
        "grid": GRID,
        "candidates_within_tolerance": [r for r in grid if r["max_abs_deviation"] <= TOLERANCE],
        "best_same_mlp_ratio": [
            r for r in grid if r["student_mlp_ratio"] == r["teacher_mlp_ratio"]
        ][:5],
        "grid_size": len(grid),
        "torch": torch.__version__,
        "machine": platform.platform(),
        "seconds": time.perf_counter() - t0,
    }
    atomic_write_text(out.with_suffix(".json"), json.dumps(payload, indent=2) + "\n")
    atomic_write_text(out.with_suffix(".md"), markdown(payload))
    print(markdown(payload))


def _m(x: float) -> str:
    return f"{x / 1e6:.2f} M"


def _g(x: float) -> str:
    return f"{x / 1e9:.2f} G"


def _pct(x: float) -> str:
    return f"{100 * x:+.1f} %"


def _cand(r: dict) -> str:
    d = r["deviations"]
    return (
        f"| {r['dim']} | {r['teacher_mlp_ratio']:g} / {r['student_mlp_ratio']:g} | "
        f"{r['head_hidden']} | {r['prior_dim']} | {_m(r['teacher_params'])} "
        f"({_pct(d['teacher_params'])}) | {_g(r['teacher_macs'])} ({_pct(d['teacher_macs'])}) | "
        f"{_m(r['student_params'])} ({_pct(d['student_params'])}) | {_g(r['student_macs'])} "
        f"({_pct(d['student_macs'])}) |"
    )


def markdown(p: dict) -> str:
    lines = [
        "# MGDHand model size",
        "",
        f"Generated by `python benchmarks/bench_model_size.py` (torch {p['torch']}, "
        f"{p['machine']}). One clip of T = 32 frames, 7 IMUs, batch 1. MACs = multiply-"
        "accumulates of matrix products and convolutions, from "
        "`torch.utils.flop_counter.FlopCounterMode` (which reports 2 FLOPs per MAC and ignores "
        "element-wise work). The hand model's skinning is not included (listed separately). "
        "The student's MACs are those of its inference forward (without the three prior "
        "heads, which only distillation uses); its training forward is listed too. The "
        "teacher's forward, priors included, is what it runs in both stages.",
        "",
        "## The presets beside the paper",
        "",
        "| preset | network | width | depth | heads | MLP ratio | params | paper | MACs | paper "
        "| hand-model MACs |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, pr in p["presets"].items():
        r, dev = pr["results"], pr["deviations"]
        t, s = r["teacher"], r["student_7"]
        for label, net, x, mac, dp, dm, paper in (
            ("teacher (MANO + 7 IMUs)", pr["teacher"], t, t["macs"], "teacher_params",
             "teacher_macs", PAPER["teacher"]),
            ("student (7 IMUs)", pr["student"], s, s["inference_macs"], "student_params",
             "student_macs", PAPER["student"]),
        ):  # fmt: skip
            lines.append(
                f"| `{name}` | {label} | {net['dim']} | {net['depth']} | {net['num_heads']} | "
                f"{net['mlp_ratio']:g} | {_m(x['params'])} ({_pct(dev[dp])}) | "
                f"{_m(paper['params'])} | {_g(mac)} ({_pct(dev[dm])}) | {_g(paper['macs'])} | "
                f"{x['hand_model_flops'] / 2e6:.1f} M |"
            )
    lines += [""]
    for name, pr in p["presets"].items():
        r = pr["results"]
        sp = ", ".join(
            f"{r[k]['num_imus']} IMUs {_g(r[k]['inference_macs'])} (training forward "
            f"{_g(r[k]['macs'])})"
            for k in ("student_7", "student_3", "student_2")
        )
        lines.append(
            f"- `{name}`: head hidden width {pr['teacher']['head_hidden']}, prior widths "
            f"{pr['priors']['dim']}, ISEM temporal kernel k = {pr['priors']['kernel']}; student "
            f"MACs at {sp}."
        )
    within = p["candidates_within_tolerance"]
    lines += [
        "",
        f"`paper` is within {100 * p['tolerance']:.0f} % of all four of the paper's numbers "
        "(pinned by `tests/models/test_mgdhand_size.py`); `paper-wide` is the supplement's "
        '"feature size C = 512" read as the token width, 4–5× the paper\'s parameters.',
        "",
        "## How `paper` was chosen",
        "",
        "**What the numbers say about the paper's networks.** A transformer's multiply-"
        "accumulates are dominated by its linear layers, which cost their parameter count per "
        "token, so MACs ≈ params × T × tokens per frame: 9.62 M × 32 × 7 IMU tokens = 2.15 G "
        "for the student (paper: 2.22 G, ratio 1.03) and 12.52 M × 32 × (16 MANO + 7 IMU "
        "tokens) = 9.21 G for the teacher (paper: 9.32 G, ratio 1.01). So the paper's "
        '"FLOPs" are multiply-accumulates over every token at the full frame rate, the '
        "student runs almost all its parameters on 7 IMU tokens per frame, and the teacher "
        "almost all of its on 23: one backbone shared by the MANO and the IMU streams (two "
        "backbones would double the parameters but not the MACs per parameter).",
        "",
        "**Width 512 does not fit.** One MotionBERT DSTformer block has (8 + 4r)·d² + "
        "(18 + 2r)·d parameters; two streams of 5 blocks at d = 512 hold 42.1 M at MLP "
        "ratio r = 2 and 31.6 M even at r = 1, more than the whole 9.62 M student. Nor does "
        "MotionBERT-Lite read as (feature dim 256, representation C = 512, MLP ratio "
        '"k" = 4): its trunk alone is 15.8 M. At depth 5 and 8 heads the student\'s size '
        "puts the width near 256.",
        "",
        f"**The grid.** {p['grid_size']} configurations (depth 5, 8 heads; width, teacher and "
        "student MLP ratios, head hidden width and prior width from "
        + ", ".join(f"{k} {list(v)}" for k, v in p["grid"].items())
        + f"), sized on the meta device. {len(within)} land within "
        f"{100 * p['tolerance']:.0f} % of all four numbers; the first ones, by largest "
        "deviation:",
        "",
        "| width | MLP ratio teacher / student | head hidden | priors | teacher params | "
        "teacher MACs | student params | student MACs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [_cand(r) for r in within[:10]]
    lines += [
        "",
        "With one MLP ratio for both networks, the best configurations miss by more "
        "(the teacher's MACs fall short: our teacher's fusion and decoupling run on 16 "
        "joint tokens, the student's joint lift adds 16-token work):",
        "",
        "| width | MLP ratio teacher / student | head hidden | priors | teacher params | "
        "teacher MACs | student params | student MACs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [_cand(r) for r in p["best_same_mlp_ratio"][:3]]
    lines += [
        "",
        "We chose width 256 for both networks, MLP ratio 2 in the teacher (hidden 512) and "
        "1.25 in the student (hidden 320), head hidden 512 and prior widths 64: within the "
        "tolerance on all four, the same width for teacher and student, the MotionBERT MLP "
        "ratio for the teacher, round numbers. The student's prior heads are attention "
        'sub-layers without an MLP (the text names "joint-axis spatial attention" and '
        '"temporal attention"; with an MLP each the student has 0.33 M more parameters). '
        "The student's training forward (prior heads included) costs more than its inference: "
        "see the presets table.",
        "",
        "## The kernel size k = 4",
        "",
        'The supplement lists "kernel size k = 4" with the backbone, but MotionBERT\'s '
        "DSTformer has no convolution (mgdhand.md §1.8). What the counts rule out: a strided "
        "kernel (e.g. a temporal patch embedding of 4 frames, stride 4) would cut the tokens "
        "per clip by 4 and the MACs per parameter with them, to about a quarter of the "
        "paper's ratio of 1.03 above; an MLP ratio of 4 at width 256 (MotionBERT-Lite) does "
        "not fit the parameters. A stride-1 temporal kernel is invisible in the counts when "
        "depthwise (k·d parameters and MACs per token), and a dense one (k·d² parameters) "
        "has exactly the size of an attention layer's 4d², so the counts cannot say where "
        "it is. We put it where the paper's text asks for a temporal neighbourhood: the "
        "teacher's motion branch (ISEM), whose depthwise temporal convolution now has k = 4 "
        "(one frame before, two after; velocity and acceleration need ≥ 3 frames).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
