#!/usr/bin/env bash
# Time the paper-size image networks on a CUDA GPU: EHPE, DIR, PGTE and the backbones with a
# 2.5D head, at 256×256 (PGTE: its preset's size), batch 1 and 32, torch float32 and bfloat16
# autocast, onnxruntime with its CUDA provider when onnxruntime-gpu is installed (the scripts
# leave the onnxruntime columns out otherwise). Needs only torch, timm, onnx and onnxruntime:
# run from anywhere, nothing is installed. Every step has its own time limit (at most 100 s,
# 450 s in all, scaled by STEP_SCALE, default 1) so that the whole run stays under 8 minutes; a
# step that fails or times out is reported at the end and the others still run.
#
# Usage: benchmarks/gpu_paper_sizes.sh OUT_DIR     (writes OUT_DIR/<name>.md and .json, and
#        OUT_DIR/log.txt with each step's output; exit status 1 if any step failed)
set -u
if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python}
SCALE=${STEP_SCALE:-1}
cd "$ROOT"

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "no CUDA device visible to torch: this script is for a GPU machine" >&2
    exit 2
fi
"$PY" - <<'PY' | tee "$OUT/log.txt"
import onnxruntime as ort, torch
print("gpu:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| cuda",
      torch.version.cuda, "| onnxruntime", ort.__version__, ort.get_available_providers())
PY

failed=()
step() {  # step NAME LIMIT_S ARGS...: run one benchmark under its time limit
    local name=$1
    local limit
    limit=$(awk -v a="$2" -v s="$SCALE" 'BEGIN { printf "%d", a * s }')
    shift 2
    echo "== $name (limit ${limit} s): $*" | tee -a "$OUT/log.txt"
    local start=$SECONDS
    timeout --kill-after=5 "$limit" "$PY" "$@" >>"$OUT/log.txt" 2>&1
    local rc=$?
    echo "== $name: exit $rc, $((SECONDS - start)) s" | tee -a "$OUT/log.txt"
    [ $rc -eq 0 ] || failed+=("$name (exit $rc)")
}

# EHPE: the paper's three backbones (the goals: PG-stage <= 30 % of the TW-stage's time,
# FastViT-MA36 >= 2x ResNet-50 images/s)
step ehpe_fp32 100 benchmarks/bench_ehpe.py --device cuda --batch 1 32 --rounds 20 \
    --backbones resnet50 hrnet_w32 fastvit_ma36 --out "$OUT/ehpe_fp32"
step ehpe_bf16 50 benchmarks/bench_ehpe.py --device cuda --dtype bfloat16 --batch 1 32 \
    --rounds 20 --no-onnx --backbones resnet50 hrnet_w32 fastvit_ma36 --out "$OUT/ehpe_bf16"
# DIR: the published network (ResNet-50, 2 refinement stages, 256x256)
step dir_fp32 90 benchmarks/bench_dir.py --device cuda --configs paper --reps 10 \
    --out "$OUT/dir_fp32"
step dir_bf16 50 benchmarks/bench_dir.py --device cuda --dtype bfloat16 --configs paper \
    --reps 10 --no-onnx --out "$OUT/dir_bf16"
# PGTE: the paper preset (ViTPose-B-sized), streaming at batch 1, file mode in chunks of 32
step pgte_fp32 70 benchmarks/bench_pgte.py --device cuda --paper --reps 20 --paper-reps 10 \
    --chunk 32 --out "$OUT/pgte_fp32"
# Backbones with the 2.5D head: the EHPE paper backbones, batch 1 and 32 (ViT-B: PGTE above)
step backbones_fp32 90 benchmarks/bench_backbones.py --device cuda --seconds 1 --max-call 30 \
    --only resnet50 hrnet_w32 fastvit_ma36 --out "$OUT/backbones_fp32"

if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}" | tee -a "$OUT/log.txt" >&2
    exit 1
fi
echo "wrote $OUT/*.md and .json"
