#!/usr/bin/env bash
# Evaluation benchmark (issue 5): the testbed accuracy table checked against the reference, and
# throughput against Python transformers (CPU) in the same run. Installs torch's CPU build and
# transformers into a venv outside the repo ($AMALGAM_BENCH_VENV, default ~/.venvs/amalgam-bench)
# when missing, and writes Benchmarks/eval-results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${AMALGAM_BENCH_VENV:-$HOME/.venvs/amalgam-bench}
if ! "$VENV/bin/python" -c "import torch, transformers, tokenizers" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch==2.13.0+cpu
  "$VENV/bin/pip" install -q transformers tokenizers safetensors
fi
swift build -c release --product amalgam
{
  echo "# Evaluation benchmark results"
  echo
  echo "Measured $(date -u +%Y-%m-%d) with \`bash Benchmarks/run-eval.sh\` on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
  echo "Amalgam release build; transformers $("$VENV/bin/python" -c 'import transformers; print(transformers.__version__)'), torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)') (float32, eager attention)."
  echo
  python3 Benchmarks/eval_benchmark.py "$PWD/.build/release/amalgam" "$VENV/bin/python" "${AMALGAM_BENCH_REPS:-3}"
} | tee Benchmarks/eval-results.md.tmp
mv Benchmarks/eval-results.md.tmp Benchmarks/eval-results.md
