#!/usr/bin/env bash
# One prepared script for a machine with an NVIDIA GPU (CI never runs it). Writes
# $OUT/gpu_results.json (default: benchmarks/) and $OUT/gpu_smi.txt, within 10 minutes.
#
# With a package index: a venv with TensorFlow's CUDA wheels and keras-zoo; Keras runs on TensorFlow.
# Without one: ZOO_WHEELS=FOLDER holding wheels of keras, keras-hub and whatever of their
# dependencies the machine lacks; they go into a temporary folder, and Keras runs on the JAX
# backend the machine already has (the model code is the same; the results name the backend).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT="${OUT:-$ROOT/benchmarks}"
mkdir -p "$OUT"
if [ -n "${ZOO_WHEELS:-}" ]; then
    PY="${PYTHON:-python3}"
    "$PY" -m pip install --quiet --no-index --no-deps --no-compile --target /tmp/zoo-site "$ZOO_WHEELS"/*.whl
    export PYTHONPATH="/tmp/zoo-site:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
    export KERAS_BACKEND="${KERAS_BACKEND:-jax}"
else
    python3 -m venv .venv-gpu
    .venv-gpu/bin/pip install --quiet --upgrade pip
    .venv-gpu/bin/pip install --quiet "tensorflow[and-cuda]>=2.21,<2.22" -e . -e export -e plugins/vision \
        $( [ -d plugins/text ] && echo "-e plugins/text" )
    PY="$ROOT/.venv-gpu/bin/python"
    export KERAS_BACKEND=tensorflow
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu_smi.txt"
cd benchmarks
PYTHONUNBUFFERED=1 timeout 540 "$PY" gpu_bench.py --out "$OUT/gpu_results.json" "$@"
