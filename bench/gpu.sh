#!/usr/bin/env bash
# GPU checks of ftlang for a lent GPU machine: one short script, results under $OUT, a summary last.
#
#   bash bench/gpu.sh                 # on the GPU machine (torch + CUDA there; ftlang not installed)
#   bash bench/gpu.sh --tiny          # here, on CPU: the same path with tiny models (a smoke test)
#   bash bench/gpu.sh --fetch-wheels  # here, before: wheels of what the GPU image lacks, into .whl/
#
# The GPU image has torch, transformers, peft, tokenizers, jinja2, rich and safetensors, but not
# lark or pydantic, and reaches no package index: run --fetch-wheels here, then on the device
# run `bash bench/gpu.sh` with `.whl` carried. Sections are self-contained, each between its
# `# ==== section: NAME` and `# ==== end: NAME` lines; each writes its own files under $OUT.

set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
# The compiler's pure-Python needs, at the versions our own venv runs.
WHEELS=(lark==1.3.1 pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
        typing-extensions==4.16.0)

if [ "${1:-}" = "--fetch-wheels" ]; then
  plats=(); for n in 28 27 17; do plats+=(--platform "manylinux_2_${n}_x86_64"); done
  exec "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${plats[@]}" --platform manylinux2014_x86_64 -d .whl "${WHEELS[@]}"
fi
TINY=""; [ "${1:-}" = "--tiny" ] && TINY="--tiny"

export OUT="${OUT:-$PWD/gpu-out}" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
mkdir -p "$OUT"

# ---- setup shared by all sections: ftlang importable without pip or network ----
SITE="$(mktemp -d /tmp/ftlang-site.XXXX)"
if ! "$PY" -c "import lark, pydantic" 2>/dev/null && [ -d .whl ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl || exit 1
fi
# pyproject maps the top-level folders onto ftlang.* (package-dir); a tree of links does the same.
mkdir -p "$SITE/ftlang" && cp ftlang/__init__.py "$SITE/ftlang/"
for d in compiler runtime grammar cli; do ln -sfn "$PWD/$d" "$SITE/ftlang/$d"; done
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PY" -c "import ftlang.compiler.api, ftlang.runtime"; then
  echo "ftlang does not import here: missing packages? run 'bash bench/gpu.sh --fetch-wheels' where pip works, carry .whl" >&2
  exit 1
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

# ==== section: throughput (issue 8) — MFU of full fine-tuning and LoRA tokens/s, one GPU ====
# A ~0.55 B scratch llama, bf16 autocast, packed 2,048-token rows, through `run_plan` as `ft run`
# does: full (fp32 weights), full (bf16 weights), LoRA, then 3 profiled steps (gpu_profile.md).
# About 3 minutes on an H100 (each run ~30 s with its model build and saves); capped at 6.
timeout 360 "$PY" bench/gpu_throughput.py --out "$OUT" $TINY 2>&1 | tee "$OUT/gpu_throughput.log" \
  || echo "section throughput failed (exit ${PIPESTATUS[0]})"
# ==== end: throughput ====

# ==== section: scaling (issue 7) — torch.distributed on CUDA: NCCL, DDP, FSDP, an FSDP resume ====
# One GPU holds one NCCL rank, so a one-rank group in one process runs every collective, wrapper
# and gather of runtime/train/distributed.py on CUDA, against plain training (gloo on CPU with --tiny).
# About a minute on an H100.
timeout 180 "$PY" bench/gpu_scaling.py 2>&1 | tee "$OUT/gpu_scaling.log" \
  || echo "section scaling failed (exit ${PIPESTATUS[0]})"
# ==== end: scaling ====

echo; echo "==== summary ($OUT) ===="
for f in "$OUT"/*.md; do [ -f "$f" ] && { echo "-- $(basename "$f")"; cat "$f"; }; done
