#!/usr/bin/env bash
# Merge benchmark (issue 3): Amalgam vs mergekit 0.1.5 on a 0.85 B bf16 Llama-shaped model.
# Installs mergekit into a venv outside the repo ($AMALGAM_BENCH_VENV, default ~/.venvs/amalgam-bench)
# with torch's CPU build, generates base + 2 fine-tunes (about 5.1 GB) under $AMALGAM_BENCH_DIR
# (default /tmp/amalgam-bench), runs both tools, and writes Benchmarks/merge-results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${AMALGAM_BENCH_DIR:-/tmp/amalgam-bench}
VENV=${AMALGAM_BENCH_VENV:-$HOME/.venvs/amalgam-bench}
if [ ! -x "$VENV/bin/mergekit-yaml" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch==2.13.0+cpu
  "$VENV/bin/pip" install -q mergekit==0.1.5
fi
swift build -c release --product amalgam
(cd Benchmarks && swift build -c release --product MergeKernelBenchmark)
[ -f "$WORK/in/config.json" ] || python3 Benchmarks/generate_checkpoint.py "$WORK/in"
for s in 1 2; do [ -f "$WORK/ft$s/config.json" ] || python3 Benchmarks/generate_checkpoint.py "$WORK/ft$s" --finetune-seed $s; done
{
  echo "# Merge benchmark results"
  echo
  echo "Measured $(date -u +%Y-%m-%d) with \`bash Benchmarks/run-merge.sh\` on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
  echo "mergekit $("$VENV/bin/pip" show mergekit 2>/dev/null | awk '/^Version/ {print $2}') (torch CPU build), Amalgam release build, both with all cores."
  echo
  python3 Benchmarks/merge_benchmark.py "$PWD/.build/release/amalgam" "$VENV/bin/mergekit-yaml" "$WORK" "${AMALGAM_BENCH_REPS:-1}"
  echo
  echo "## Kernel costs (one core, \`MergeKernelBenchmark\`)"
  echo
  echo '```'
  Benchmarks/.build/release/MergeKernelBenchmark
  echo '```'
} | tee Benchmarks/merge-results.md.tmp
mv Benchmarks/merge-results.md.tmp Benchmarks/merge-results.md
