#!/usr/bin/env bash
# The Amalgam demo: merges the bundled tiny testbed experts (a base Llama model and four task
# experts) with several methods, inspects one result, then scores the base, the experts and the
# merges on the four testbed tasks in one table. Run from anywhere:
#   bash Examples/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product amalgam
AMALGAM="$(swift build --show-bin-path)/amalgam"
OUT=${AMALGAM_DEMO_OUT:-/tmp/amalgam-demo}
mkdir -p "$OUT"
echo "== The methods"
"$AMALGAM" methods | grep -E '^[a-z_]+:' | cut -c1-100
for recipe in task_arithmetic ties dare_ties slerp frankenmerge tsv_m tall_masks; do
  echo
  echo "== amalgam merge Examples/recipes/$recipe.yaml $OUT/$recipe"
  "$AMALGAM" merge "Examples/recipes/$recipe.yaml" "$OUT/$recipe" --force --random-seed 42
done
echo
echo "== tall_masks wrote one model per expert, and a report:"
ls "$OUT/tall_masks"
cat "$OUT/tall_masks/amalgam-report.json"
echo
echo "== The summary of a --dry-run plan (the full plan lists every tensor, its inputs and parameters)"
"$AMALGAM" merge Examples/recipes/ties.yaml "$OUT/unused" --dry-run | tail -5
echo
echo "== amalgam inspect $OUT/frankenmerge (6 layers stacked from two experts)"
"$AMALGAM" inspect "$OUT/frankenmerge" | tail -11
echo
echo "== amalgam tokenize / generate with the add expert"
"$AMALGAM" tokenize Examples/models/add "add 23 45 =" | head -1
"$AMALGAM" generate Examples/models/add "add 23 45 =" --max-new-tokens 4 --stop-at-newline 2>/dev/null
echo
echo "== amalgam eval: base, experts and merges on every task (test split, greedy exact match)"
"$AMALGAM" eval Examples/models/{base,add,rev,sort,upper} "$OUT"/{task_arithmetic,ties,dare_ties,slerp,frankenmerge,tsv_m} \
  "$OUT"/tall_masks/{add,rev,sort,upper} \
  --tasks Examples/tasks --split test --quiet --json "$OUT/eval.json"
echo
echo "Merged models are in $OUT: each a Hugging Face folder (safetensors, config.json, tokenizer files,"
echo "amalgam-recipe.yaml, README.md model card). Scores: $OUT/eval.json."
