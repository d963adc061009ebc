#!/usr/bin/env bash
# Foundation benchmarks (release builds). Writes Benchmarks/results.md.
#   1. Conversion throughput, bf16 <-> f32 and f16 <-> f32, 1 and 2 threads.
#   2. Reading every tensor of a ~1.7 GB bf16 checkpoint and writing it back re-sharded, against
#      cat (read floor) and cp (read+write floor) in the same run: wall time and peak memory.
# Needs python3 with numpy (to generate the checkpoint). Work files go to $AMALGAM_BENCH_DIR
# (default /tmp/amalgam-bench, about 7 GB free needed).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${AMALGAM_BENCH_DIR:-/tmp/amalgam-bench}
REPS=${AMALGAM_BENCH_REPS:-5}
OUT=Benchmarks/results.md

swift build -c release --product amalgam
swift build -c release --package-path Benchmarks --product ConversionBenchmark
[ -f "$WORK/in/config.json" ] || python3 Benchmarks/generate_checkpoint.py "$WORK/in"

{
  echo "# Foundation benchmark results"
  echo
  echo "Measured $(date -u +%Y-%m-%d) with \`bash Benchmarks/run.sh\` on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
  echo "$(free -g | awk '/Mem:/ {print $2}') GiB memory, $(swift --version 2>/dev/null | head -1), release builds."
  echo
  echo "## Conversion throughput"
  echo
  Benchmarks/.build/release/ConversionBenchmark 256
  echo
  echo "## Read every tensor and write it back re-sharded"
  echo
  python3 Benchmarks/io_benchmark.py "$PWD/.build/release/amalgam" "$WORK/in" "$WORK" "$REPS"
} | tee "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
