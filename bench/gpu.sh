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
# Issue 12's levers and peers: QLoRA and 8-bit optimizers, Trainer (accelerate), TRL (datasets
# needs pyarrow, which the image may lack: TRL's row then says so). About 46 MB with the above.
WHEELS+=(bitsandbytes==0.50.2 accelerate==1.15.0 trl==1.16.0 datasets==4.0.0)

if [ "${1:-}" = "--fetch-wheels" ]; then
  plats=(); for n in 28 27 17; do plats+=(--platform "manylinux_2_${n}_x86_64"); done
  exec "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${plats[@]}" --platform manylinux2014_x86_64 -d .whl "${WHEELS[@]}"
fi
TINY=""; [ "${1:-}" = "--tiny" ] && TINY="--tiny"
# Sections to run (SECTIONS="levers peers memory scaling"); the default fits a 15-minute GPU
# session with the machine's start: issue 12's three, about 10 minutes on an H100/H200.
SECTIONS="${SECTIONS:-levers peers memory}"
want() { [[ " $SECTIONS " == *" $1 "* ]]; }

export OUT="${OUT:-$PWD/gpu-out}" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
mkdir -p "$OUT"

# ---- setup shared by all sections: ftlang importable without pip or network ----
SITE="$(mktemp -d /tmp/ftlang-site.XXXX)"
if ! "$PY" -c "import lark, pydantic" 2>/dev/null && [ -d .whl ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl || exit 1
fi
# pyproject maps the top-level folders onto ftlang.* (package-dir); a tree of links does the same.
mkdir -p "$SITE/ftlang" && cp ftlang/__init__.py "$SITE/ftlang/"
for d in compiler runtime grammar cli plan lsp; do ln -sfn "$PWD/$d" "$SITE/ftlang/$d"; done
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
if want throughput; then
timeout 360 "$PY" bench/gpu_throughput.py --out "$OUT" $TINY 2>&1 | tee "$OUT/gpu_throughput.log" \
  || echo "section throughput failed (exit ${PIPESTATUS[0]})"
fi
# ==== end: throughput ====

# ==== section: levers (issue 12, a) — MFU with the levers `auto` picks, and compiled ====
# The same 0.55 B model and packed 8 x 2,048 rows as `throughput`, with bf16 weights (dtype auto),
# document-masked attention (flash-attention if installed, else FlexAttention) and the
# prefetching loader; then with `compile = true` (each decoder layer). About 3 minutes.
if want levers; then
# On a CPU (--tiny) inductor compiles the layers in C++: minutes on a loaded machine.
timeout "$([ -n "$TINY" ] && echo 1200 || echo 300)" "$PY" bench/gpu_throughput.py --out "$OUT/levers" \
  --runs full-bf16,full-bf16-compiled $TINY 2>&1 \
  | tee "$OUT/gpu_levers.log" || echo "section levers failed (exit ${PIPESTATUS[0]})"
fi
# ==== end: levers ====

# ==== section: peers (issue 12, b) — ours vs transformers' Trainer vs TRL, same model and rows ====
# Trainer with padding-free batches (DataCollatorWithFlattening), TRL's SFTTrainer with
# padding_free, bf16 both, the same documents and tokens a step. About 3 minutes.
if want peers; then
timeout 240 "$PY" bench/gpu_peers.py --out "$OUT" $TINY 2>&1 | tee "$OUT/gpu_peers.log" \
  || echo "section peers failed (exit ${PIPESTATUS[0]})"
fi
# ==== end: peers ====

# ==== section: memory (issue 12, c and d) — 8 B-shaped llama: LoRA+checkpointing and QLoRA ====
# Llama-3-8B's config with random weights (nothing from a hub), micro-batch 1 x 2,048: peak
# memory (max_memory_allocated) and tokens/s over a few steps, against plan/memory.py's
# estimate. The QLoRA case writes the bf16 model (16 GB) to /tmp once to load it quantized.
# About 4 minutes; --tiny rehearses it with the tiny shape on CPU.
if want memory; then
SHAPE="8b"; DEVICE="cuda"; [ -n "$TINY" ] && { SHAPE="tiny"; DEVICE="cpu"; }
timeout 300 "$PY" bench/memory.py --device "$DEVICE" --shape "$SHAPE" --micro 1 --steps 4 \
  --cases lora+checkpointing,qlora+checkpointing --out "$OUT" 2>&1 | tee "$OUT/gpu_memory.log" \
  || echo "section memory failed (exit ${PIPESTATUS[0]})"
fi
# ==== end: memory ====

# ==== section: scaling (issue 7) — torch.distributed on CUDA: NCCL, DDP, FSDP, an FSDP resume ====
# One GPU holds one NCCL rank, so a one-rank group in one process runs every collective, wrapper
# and gather of runtime/train/distributed.py on CUDA, against plain training (gloo on CPU with --tiny).
# About a minute on an H100.
if want scaling; then
timeout 180 "$PY" bench/gpu_scaling.py 2>&1 | tee "$OUT/gpu_scaling.log" \
  || echo "section scaling failed (exit ${PIPESTATUS[0]})"
fi
# ==== end: scaling ====

echo; echo "==== summary ($OUT) ===="
for f in "$OUT"/*.md; do [ -f "$f" ] && { echo "-- $(basename "$f")"; cat "$f"; }; done
