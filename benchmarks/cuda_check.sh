#!/usr/bin/env bash
# The paper's TinyStories-1M preset for two generations on CUDA (bf16, fused attention): tokens per second
# for training and sampling, held-out perplexity and peak GPU memory, in well under 10 minutes on one H100.
# On a machine with a GPU: bash benchmarks/cuda_check.sh [--stories N]. Without one, --dry-run runs the same
# path tiny on the CPU (tests/test_benchmarks.py does). Details: benchmarks/cuda_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
exec "${PYTHON:-python3}" benchmarks/cuda_check.py "$@"
