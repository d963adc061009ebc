#!/usr/bin/env bash
# Research-method benchmark (issue 4): Amalgam vs FusionBench 0.2.33 on a 96 M-parameter float32
# Llama-shaped model with 4 task models (tsv_m, iso_cts, tall_masks, pcb, opcm).
# Installs FusionBench into a venv outside the repo ($AMALGAM_FUSIONBENCH_VENV, default
# ~/.venvs/amalgam-fusionbench) with torch's CPU build (and transformers < 5 and datasets < 4,
# which FusionBench 0.2.33's imports need), generates the models (1.8 GB) under
# $AMALGAM_BENCH_DIR (default /tmp/amalgam-research-bench), runs both tools, and writes
# Benchmarks/research-results.md. It also times single SVDs (Float64 vs Float32) per matrix shape.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${AMALGAM_BENCH_DIR:-/tmp/amalgam-research-bench}
VENV=${AMALGAM_FUSIONBENCH_VENV:-$HOME/.venvs/amalgam-fusionbench}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import fusion_bench" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch==2.13.0+cpu
  "$VENV/bin/pip" install -q fusion-bench==0.2.33 "transformers<5" "datasets<4"
fi
swift build -c release --product amalgam
(cd Benchmarks && swift build -c release --product SVDBenchmark)
[ -f "$WORK/in/task_3/model.safetensors" ] || "$VENV/bin/python" Benchmarks/generate_research_models.py "$WORK/in"
{
  echo "# Research-method benchmark results"
  echo
  echo "Measured $(date -u +%Y-%m-%d) with \`bash Benchmarks/run-research.sh\` on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
  echo "FusionBench $("$VENV/bin/pip" show fusion-bench 2>/dev/null | awk '/^Version/ {print $2}') (torch CPU build with MKL), Amalgam release build, both with all cores."
  echo "OpenBLAS: $(readlink -f /usr/lib/*/libopenblas.so.0 | xargs basename), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}."
  echo "The reference for pcb is the authors' formulation written out in torch (FusionBench has no PCB);"
  echo "for tall_masks, FusionBench's mask helper (its algorithm class fails on model pools)."
  echo
  "$VENV/bin/python" Benchmarks/research_benchmark.py "$PWD/.build/release/amalgam" "$VENV/bin/python" "$WORK"
  echo
  echo "## One SVD per matrix shape (one thread, as the methods run them)"
  echo
  Benchmarks/.build/release/SVDBenchmark
} | tee Benchmarks/research-results.md.tmp
mv Benchmarks/research-results.md.tmp Benchmarks/research-results.md
