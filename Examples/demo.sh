#!/usr/bin/env bash
# The Amalgam demo: merges the bundled tiny testbed experts (a base Llama model and four task
# experts) with several methods, then inspects one result. Run from anywhere:
#   bash Examples/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product amalgam
AMALGAM="$(swift build --show-bin-path)/amalgam"
OUT=${AMALGAM_DEMO_OUT:-/tmp/amalgam-demo}
mkdir -p "$OUT"
echo "== The methods"
"$AMALGAM" methods | grep -E '^[a-z_]+:' | cut -c1-100
for recipe in task_arithmetic ties dare_ties slerp frankenmerge; do
  echo
  echo "== amalgam merge Examples/recipes/$recipe.yaml $OUT/$recipe"
  "$AMALGAM" merge "Examples/recipes/$recipe.yaml" "$OUT/$recipe" --force --random-seed 42
done
echo
echo "== The summary of a --dry-run plan (the full plan lists every tensor, its inputs and parameters)"
"$AMALGAM" merge Examples/recipes/ties.yaml "$OUT/unused" --dry-run | tail -5
echo
echo "== amalgam inspect $OUT/frankenmerge (6 layers stacked from two experts)"
"$AMALGAM" inspect "$OUT/frankenmerge" | tail -11
echo
echo "Merged models are in $OUT: each a Hugging Face folder (safetensors, config.json, tokenizer files,"
echo "amalgam-recipe.yaml, README.md model card)."
