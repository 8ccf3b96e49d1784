"""Speed of ``HandModel`` against a straightforward smplx-style MANO forward pass.

The reference (kept here, written from the MANO/SMPL equations in ../shared/reference/mano.md §6)
is how the textbook implementation computes the model: Rodrigues with ``|ω + 1e-8|``, shape blend
shapes, joint regression from the vertices on every call, pose correctives, the kinematic chain as
15 sequential 4×4 products, and skinning that builds a 4×4 matrix per vertex and multiplies it
with the homogeneous vertex. Its joints-only variant skips correctives and skinning but still
regresses joints from all vertices and runs the sequential chain.

``HandModel`` computes the same numbers (checked below before timing) with a level-parallel chain,
precomputed joint shape space, one fused blend-shape GEMM, 3×4 skinning and, for large batches,
cache-sized chunks in a batch-last layout (see ``handpose/handmodel/lbs.py`` and ``layer.py``).
Small batches (below ``HandModel.batch_last_from``), where a call costs what its ~2 µs kernel
launches cost, take a path built for few kernels: Rodrigues as one ``sinc``/``pow`` and one GEMM,
the chain on transposed 4×3 transforms (``lbs.rigid_transforms_t``: the local transforms from
two GEMMs against constant maps and one batched multiply-add, then one batched product per
level), homogeneous fingertip/joint points for the joints-only path, and no input reshaping.
One hand that needs no gradient (what these timings call, under ``torch.no_grad``) runs the
same algorithm in NumPy (``handpose/handmodel/one_hand.py``), whose operators on arrays this
small cost a fraction of torch's dispatch; at batch 1 the torch path (what runs under autograd)
is timed too. Its joints-only path also skins the 5 fingertips for ``joints21``, which the
reference's does not compute.

Usage:
    python benchmarks/bench_handmodel.py [--batches 1 64 1024 4096] [--seconds 1.0]
    [--model auto|open|random] [--threads 1] [--out docs/benchmarks/handmodel]

Writes ``<out>.json`` and ``<out>.md``: median CPU time per call on one torch thread (robust to
other jobs on a shared machine) and wall-clock medians; speed-up = reference / handpose CPU time.
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

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose.handmodel import HandModel, HandModelData  # noqa: E402
from handpose.handmodel.conventions import MANO_PARENTS, MANO_TO_OPENPOSE  # noqa: E402
from handpose.handmodel.data import open_model_path  # noqa: E402
from handpose.utils.io import atomic_write_text  # noqa: E402
from handpose.utils.machine import cpu_name  # noqa: E402

# ----------------------------------------------------------------------------- the reference


def ref_rodrigues(rot_vecs: torch.Tensor) -> torch.Tensor:
    """(N, 3) → (N, 3, 3), the textbook way (angle from |ω + 1e-8|)."""
    n = rot_vecs.shape[0]
    angle = torch.norm(rot_vecs + 1e-8, dim=1, keepdim=True)
    axis = rot_vecs / angle
    cos = torch.cos(angle)[:, :, None]
    sin = torch.sin(angle)[:, :, None]
    rx, ry, rz = torch.split(axis, 1, dim=1)
    zeros = torch.zeros((n, 1), dtype=rot_vecs.dtype, device=rot_vecs.device)
    K = torch.cat([zeros, -rz, ry, rz, zeros, -rx, -ry, rx, zeros], dim=1).view(n, 3, 3)
    eye = torch.eye(3, dtype=rot_vecs.dtype, device=rot_vecs.device)[None]
    return eye + sin * K + (1 - cos) * torch.bmm(K, K)


def ref_chain(rot_mats, joints, parents):
    """Sequential kinematic chain with 4×4 matrices; returns posed joints and skinning transforms."""
    b, nj = joints.shape[:2]
    joints = joints[..., None]  # (B, J, 3, 1)
    rel = joints.clone()
    rel[:, 1:] = rel[:, 1:] - joints[:, list(parents[1:])]
    local = torch.cat([F.pad(rot_mats, [0, 0, 0, 1]), F.pad(rel, [0, 0, 0, 1], value=1.0)], dim=3)
    chain = [local[:, 0]]
    for i in range(1, nj):
        chain.append(torch.matmul(chain[parents[i]], local[:, i]))
    transforms = torch.stack(chain, dim=1)
    posed = transforms[:, :, :3, 3]
    joints_h = F.pad(joints, [0, 0, 0, 1])
    rel_tf = transforms - F.pad(torch.matmul(transforms, joints_h), [3, 0, 0, 0, 0, 0, 0, 0])
    return posed, rel_tf


class Reference:
    """smplx-style MANO forward from the raw arrays (float32 or float64).

    Produces what ``HandModel`` produces: vertices, MANO-16 joints and OpenPose-21 joints
    (16 joints + 5 fingertip vertices, reordered), from separate global/finger poses.
    """

    def __init__(self, data: HandModelData, dtype: torch.dtype) -> None:
        def t(x):
            return torch.as_tensor(np.asarray(x), dtype=dtype)

        self.v_template = t(data.v_template)
        self.shapedirs = t(data.shapedirs)
        V = data.num_vertices
        self.posedirs = t(data.posedirs.reshape(V * 3, -1).T)  # (135, V·3)
        self.J_regressor = t(data.J_regressor)
        self.weights = t(data.weights)
        self.parents = list(data.parents)
        self.tips = torch.as_tensor(data.tip_ids, dtype=torch.long)
        self.openpose = torch.as_tensor(MANO_TO_OPENPOSE, dtype=torch.long)

    def __call__(self, global_orient, hand_pose, betas, joints_only: bool = False):
        b = betas.shape[0]
        pose = torch.cat([global_orient, hand_pose], dim=1)
        v_shaped = self.v_template + torch.einsum("bl,mkl->bmk", betas, self.shapedirs)
        J = torch.einsum("bik,ji->bjk", v_shaped, self.J_regressor)
        rot_mats = ref_rodrigues(pose.reshape(-1, 3)).view(b, -1, 3, 3)
        if joints_only:  # no fingertips: they would need the skinned mesh
            posed, _ = ref_chain(rot_mats, J, self.parents)
            return None, posed, None
        eye = torch.eye(3, dtype=betas.dtype)
        pose_feature = (rot_mats[:, 1:] - eye).view(b, -1)
        v_posed = v_shaped + torch.matmul(pose_feature, self.posedirs).view(b, -1, 3)
        posed, A = ref_chain(rot_mats, J, self.parents)
        W = self.weights[None].expand(b, -1, -1)
        T = torch.matmul(W, A.view(b, 16, 16)).view(b, -1, 4, 4)
        ones = torch.ones(b, v_posed.shape[1], 1, dtype=betas.dtype)
        v_h = torch.matmul(T, torch.cat([v_posed, ones], dim=2)[..., None])
        verts = v_h[:, :, :3, 0]
        joints21 = torch.cat([posed, verts[:, self.tips]], dim=1)[:, self.openpose]
        return verts, posed, joints21


# ----------------------------------------------------------------------------- timing


def time_pair(fn_ref, fn_ours, seconds: float, rounds: int = 5) -> tuple[dict, dict]:
    """Per-call times of both functions, measured in alternating blocks (so that load changes
    on a shared machine hit both alike). Each block runs ≥ 2 calls and ≈ seconds / rounds / 2.

    Records wall-clock time and this process's CPU time per call. With one torch thread the CPU
    time is what the call costs on an idle core, also when other jobs share the machine.
    """
    for _ in range(2):
        fn_ref()
        fn_ours()
    t_ref: dict[str, list[float]] = {"wall": [], "cpu": []}
    t_ours: dict[str, list[float]] = {"wall": [], "cpu": []}
    block = seconds / rounds / 2
    for _ in range(rounds):
        for fn, out in ((fn_ref, t_ref), (fn_ours, t_ours)):
            start = time.perf_counter()
            k = 0
            while k < 2 or (time.perf_counter() - start < block and k < 1000):
                c0, t0 = time.process_time(), time.perf_counter()
                fn()
                out["wall"].append(time.perf_counter() - t0)
                out["cpu"].append(time.process_time() - c0)
                k += 1
    return t_ref, t_ours


def count_ops(fn) -> int:
    """Number of aten operators (views included) one call dispatches."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Counter(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Counter.n += 1
            return func(*args, **(kwargs or {}))

    with torch.no_grad():
        with Counter():  # once before counting: one-off caches (the torch path's constants)
            fn()
        Counter.n = 0
        with Counter():
            fn()
    return Counter.n


def random_mano_data(seed: int = 0) -> HandModelData:
    """Random arrays with MANO's shapes (V = 778) and non-zero pose correctives."""
    rng = np.random.default_rng(seed)
    V = 778
    J_regressor = np.zeros((16, V))
    for j in range(16):
        idx = rng.choice(V, size=20, replace=False)
        J_regressor[j, idx] = 1.0 / 20
    weights = rng.dirichlet(np.full(16, 0.3), size=V)
    kintree = np.stack([np.array(MANO_PARENTS), np.arange(16)])
    arrays = {
        "v_template": rng.normal(0, 0.04, (V, 3)),
        "f": rng.integers(0, V, (1538, 3)),
        "shapedirs": rng.normal(0, 0.005, (V, 3, 10)),
        "posedirs": rng.normal(0, 0.005, (V, 3, 135)),
        "J_regressor": J_regressor,
        "weights": weights,
        "kintree_table": kintree,
        "hands_components": np.linalg.qr(rng.normal(size=(45, 45)))[0],
        "hands_mean": rng.normal(0, 0.2, 45),
    }
    return HandModelData.from_arrays(arrays, side="right", name="random MANO-shaped")


def bench_model(data: HandModelData, label: str, batches, seconds: float, dtype) -> list[dict]:
    model = HandModel(data, dtype=dtype)
    ref = Reference(data, dtype)
    rows = []
    g = torch.Generator().manual_seed(0)
    for b in batches:
        betas = torch.randn(b, 10, generator=g, dtype=dtype)
        go = 0.4 * torch.randn(b, 3, generator=g, dtype=dtype)
        hp = 0.4 * torch.randn(b, 45, generator=g, dtype=dtype)
        with torch.no_grad():
            out = model(global_orient=go, hand_pose=hp, betas=betas)
            rv, rj, r21 = ref(go, hp, betas)
            err = max(
                (out.vertices - rv).abs().max().item(), (out.joints21 - r21).abs().max().item()
            )
            out_j = model(global_orient=go, hand_pose=hp, betas=betas, return_vertices=False)
            err_j = (out_j.joints - ref(go, hp, betas, joints_only=True)[1]).abs().max().item()
            tol = 1e-4 if dtype == torch.float32 else 1e-9
            if max(err, err_j) > tol:
                raise SystemExit(f"{label} batch {b}: outputs differ from the reference")
            for mode in ("vertices+joints", "joints-only"):
                jo = mode == "joints-only"

                def ours(jo=jo, go=go, hp=hp, betas=betas):
                    return model(
                        global_orient=go, hand_pose=hp, betas=betas, return_vertices=not jo
                    )

                def theirs(jo=jo, go=go, hp=hp, betas=betas):
                    return ref(go, hp, betas, joints_only=jo)

                t_ref, t_ours = time_pair(theirs, ours, seconds)
                ops = [count_ops(theirs), count_ops(ours)] if b == 1 else None
                torch_path = None
                if b == 1:  # the same call with the NumPy path off: what runs under autograd
                    slow = HandModel(data, dtype=dtype)
                    slow.numpy_inference = False

                    def ours_torch(jo=jo, go=go, hp=hp, betas=betas, slow=slow):
                        return slow(
                            global_orient=go, hand_pose=hp, betas=betas, return_vertices=not jo
                        )

                    got, want = ours_torch(), ours()
                    if (got.joints21 - want.joints21).abs().max().item() > tol:
                        raise SystemExit(f"{label}: the NumPy and torch paths differ")
                    t_ref2, t_torch = time_pair(theirs, ours_torch, seconds)
                    torch_path = {
                        "reference_cpu_ms": statistics.median(t_ref2["cpu"]) * 1e3,
                        "torch_path_cpu_ms": statistics.median(t_torch["cpu"]) * 1e3,
                    }
                    torch_path["speedup"] = (
                        torch_path["reference_cpu_ms"] / torch_path["torch_path_cpu_ms"]
                    )
                med = {
                    k: (statistics.median(t_ref[k]), statistics.median(t_ours[k])) for k in t_ref
                }
                rows.append(
                    {
                        "model": label,
                        "mode": mode,
                        "batch": b,
                        "reference_cpu_ms": med["cpu"][0] * 1e3,
                        "handpose_cpu_ms": med["cpu"][1] * 1e3,
                        "speedup": med["cpu"][0] / med["cpu"][1],
                        "reference_wall_ms": med["wall"][0] * 1e3,
                        "handpose_wall_ms": med["wall"][1] * 1e3,
                        "speedup_wall": med["wall"][0] / med["wall"][1],
                        "calls": [len(t_ref["cpu"]), len(t_ours["cpu"])],
                        "aten_ops_per_call": ops,
                        "max_abs_diff_m": err_j if jo else err,
                        "torch_path": torch_path,
                    }
                )
                r = rows[-1]
                print(
                    f"{label:>22} {mode:>16} B={b:<5} CPU ms: ref {r['reference_cpu_ms']:9.3f}  "
                    f"handpose {r['handpose_cpu_ms']:9.3f}  x{r['speedup']:.2f}  "
                    f"(wall x{r['speedup_wall']:.2f})",
                    flush=True,
                )
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024, 4096])
    p.add_argument("--seconds", type=float, default=1.0, help="timing budget per measurement")
    p.add_argument("--model", choices=["auto", "open", "random"], default="auto")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: stable timings on a shared machine)",
    )
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "handmodel"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    dtype = torch.float32

    models = []
    use_open = args.model == "open" or (args.model == "auto" and open_model_path().is_file())
    if args.model in ("auto", "random"):
        models.append(("random MANO-shaped", random_mano_data()))
    if use_open:
        from handpose.handmodel import load_hand_model_data

        models.append(("open hand asset", load_hand_model_data("open", "right")))
    load_before = _loadavg()
    rows = []
    for label, data in models:
        rows += bench_model(data, label, args.batches, args.seconds, dtype)

    info = {
        "command": " ".join(
            ["python benchmarks/bench_handmodel.py"] + (sys.argv[1:] if argv is None else argv)
        ),
        "machine": {
            "cpu": cpu_name(),
            "logical_cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "device": "cpu",
            "load_average_before_after": [load_before, _loadavg()],
        },
        "dtype": str(dtype).replace("torch.", ""),
        "models": {
            label: {
                "vertices": d.num_vertices,
                "pose_correctives": bool(np.abs(d.posedirs).max() > 0),
            }
            for label, d in models
        },
        "results": rows,
    }
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(info, indent=2) + "\n")
    mach = info["machine"]
    lines = [
        "# Hand model layer speed",
        "",
        "`HandModel` (handpose/handmodel/layer.py) against a straightforward smplx-style reference",
        "kept in `benchmarks/bench_handmodel.py`: Rodrigues with |ω + 1e-8|, joint regression from",
        "all vertices on every call, the kinematic chain as 15 sequential 4×4 products, one 4×4",
        "skinning matrix per vertex. Both return vertices, MANO-16 joints and OpenPose-21 joints",
        "(joints-only: the reference returns the 16 joints, handpose also the 21 with fingertips).",
        "Outputs are checked to agree before timing. The two are timed in alternating blocks",
        "on one torch thread; times are medians per forward call of this process's CPU time (what",
        "a call costs on an idle core, robust to other jobs on a shared machine), wall-clock medians",
        "for comparison; speed-up = reference / handpose CPU time.",
        "",
        f"Machine: {mach['cpu']}, {mach['logical_cpus']} logical CPUs (shared with other jobs; load",
        f"average {mach['load_average_before_after'][0]} before, {mach['load_average_before_after'][1]} "
        f"after), {info['dtype']}, {mach['torch_threads']} torch thread(s), torch {mach['torch']}, "
        f"Python {mach['python']}.",
        "",
        f"Command: `{info['command']}`",
        "",
        "| model | V | pose correctives | mode | batch | reference CPU ms | handpose CPU ms "
        "| speed-up | wall ms ref / handpose |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = info["models"][r["model"]]
        lines.append(
            f"| {r['model']} | {m['vertices']} | {'yes' if m['pose_correctives'] else 'none'} | "
            f"{r['mode']} | {r['batch']} | {r['reference_cpu_ms']:.3f} | {r['handpose_cpu_ms']:.3f} "
            f"| **{r['speedup']:.2f}×** | {r['reference_wall_ms']:.3f} / {r['handpose_wall_ms']:.3f} |"
        )
    one = [r for r in rows if r.get("torch_path")]
    if one:
        lines += [
            "",
            "At batch 1 the rows above are the layer's NumPy path: one hand that needs no",
            "gradient (here: `torch.no_grad`, and no input requires grad) runs the same",
            "algorithm in NumPy (handpose/handmodel/one_hand.py), because a torch call at batch 1",
            "costs what its operators cost to dispatch (about 2 µs each on this machine, Python",
            "binding included), not what they compute. Under autograd, tracing, ONNX export,",
            "torch.compile or a dispatch mode the layer runs its torch path; the same call with",
            "the NumPy path off (`HandModel.numpy_inference = False`), timed in its own",
            "alternating blocks against the reference:",
            "",
            "| model | mode | reference CPU ms | handpose torch path CPU ms | speed-up "
            "| aten ops per call: reference / handpose torch path |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['model']} | {r['mode']} | {r['torch_path']['reference_cpu_ms']:.3f} "
            f"| {r['torch_path']['torch_path_cpu_ms']:.3f} | **{r['torch_path']['speedup']:.2f}×** "
            f"| {r['aten_ops_per_call'][0]} / {r['aten_ops_per_call'][1]} |"
            for r in one
        ]
    lines += [
        "",
        "Both the reference and handpose read the memory-bound blend-shape basis once per call",
        "(≈ 1.5 MB of MANO-sized shape + pose-corrective basis; in the NumPy path this GEMV",
        "takes about a quarter of the call) and do the per-vertex skinning products for the mesh.",
    ]
    if any(not m["pose_correctives"] for m in info["models"].values()):
        lines += [
            "",
            "The open hand model has no pose correctives (zero posedirs): handpose then skips the",
            "135-feature corrective GEMM, the reference still computes it.",
        ]
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
