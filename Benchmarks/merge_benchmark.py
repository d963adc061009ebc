"""Merge benchmark: Amalgam against mergekit 0.1.5 on a 0.85 B-parameter bf16 Llama-shaped model.

Inputs: WORK/in (base) and WORK/ft1, WORK/ft2 (base plus noise), made by generate_checkpoint.py.
For each method (linear, task_arithmetic, ties at density 0.5, dare_ties, slerp) both tools merge
the same recipe, one after the other, each after dropping the inputs from the page cache and
reading them back with `cat` (warm, in a defined state: bench_common.warm_inputs), a `sync`, and
writing and deleting a 4 GB scratch file (bench_common.fresh_free_pages); measure.py records wall
time, VmHWM and peak anonymous memory. The I/O floor is `cat` of the three inputs to /dev/null,
warm in the same way.

Usage: python3 merge_benchmark.py AMALGAM_BINARY MERGEKIT_YAML_BINARY WORK [repetitions]
"""
import json
import os
import shutil
import statistics
import subprocess
import sys

from bench_common import fresh_free_pages, warm_inputs

here = os.path.dirname(os.path.abspath(__file__))
amalgam, mergekit, work = sys.argv[1], sys.argv[2], sys.argv[3]
reps = int(sys.argv[4]) if len(sys.argv) > 4 else 1
base, ft1, ft2 = (os.path.join(work, n) for n in ("in", "ft1", "ft2"))
shards = sorted(os.path.join(d, f) for d in (base, ft1, ft2) for f in os.listdir(d) if f.endswith(".safetensors"))
size = sum(os.path.getsize(s) for s in shards)

recipes = {
    "linear": f"merge_method: linear\nmodels:\n  - model: {ft1}\n    parameters: {{weight: 0.5}}\n  - model: {ft2}\n    parameters: {{weight: 0.5}}\n",
    "task_arithmetic": f"merge_method: task_arithmetic\nbase_model: {base}\nmodels:\n  - model: {ft1}\n    parameters: {{weight: 0.5}}\n  - model: {ft2}\n    parameters: {{weight: 0.5}}\n",
    "ties": f"merge_method: ties\nbase_model: {base}\nmodels:\n  - model: {ft1}\n    parameters: {{weight: 0.5, density: 0.5}}\n  - model: {ft2}\n    parameters: {{weight: 0.5, density: 0.5}}\n",
    "dare_ties": f"merge_method: dare_ties\nbase_model: {base}\nmodels:\n  - model: {ft1}\n    parameters: {{weight: 0.5, density: 0.5}}\n  - model: {ft2}\n    parameters: {{weight: 0.5, density: 0.5}}\n",
    "slerp": f"merge_method: slerp\nbase_model: {base}\nparameters: {{t: 0.5}}\nmodels:\n  - model: {base}\n  - model: {ft1}\n",
}


def measure(label, command):
    # Every run starts with warm inputs (dropped, then read once with cat), no dirty pages from the last run,
    # and freshly backed free memory for its output (see bench_common.fresh_free_pages).
    warm_inputs(shards)
    fresh_free_pages(work)
    out = subprocess.run([sys.executable, os.path.join(here, "measure.py"), label, "--", *command],
                         capture_output=True, text=True)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
    result = json.loads(line)
    if result.get("exit") != 0:
        print(f"{label} failed: {out.stderr[-500:]}", file=sys.stderr)
    return result


rows = []
floor = statistics.median(measure("cat", ["cat", *shards])["wall_s"] for _ in range(3))
for method, text in recipes.items():
    path = os.path.join(work, f"bench-{method}.yaml")
    with open(path, "w") as f:
        f.write(text)
    results = {"amalgam": [], "mergekit": []}
    for _ in range(reps):
        for tool, command in (("mergekit", [mergekit, path, os.path.join(work, "out-mk"), "--no-copy-tokenizer", "--quiet", "--random-seed", "1"]),
                              ("amalgam", [amalgam, "merge", path, os.path.join(work, "out-am"), "--quiet", "--random-seed", "1"])):
            shutil.rmtree(os.path.join(work, "out-mk"), ignore_errors=True)
            shutil.rmtree(os.path.join(work, "out-am"), ignore_errors=True)
            results[tool].append(measure(f"{tool} {method}", command))
    shutil.rmtree(os.path.join(work, "out-mk"), ignore_errors=True)
    shutil.rmtree(os.path.join(work, "out-am"), ignore_errors=True)
    rows.append((method, results))

print(f"Inputs: base + 2 fine-tunes, {size / 1e9:.2f} GB of bf16 in all; I/O floor (`cat` of the inputs to /dev/null, "
      f"median of 3): {floor:.2f} s. {reps} run(s) per tool and method, medians.\n")
print("| method | mergekit (s) | Amalgam (s) | speed-up | Amalgam × floor | mergekit VmHWM / anon (MB) | Amalgam VmHWM / anon (MB) |")
print("|---|---|---|---|---|---|---|")
for method, results in rows:
    mk = statistics.median(r["wall_s"] for r in results["mergekit"])
    am = statistics.median(r["wall_s"] for r in results["amalgam"])
    mk_mem = max(r["vmhwm_mb"] for r in results["mergekit"]), max(r["peak_anon_mb"] for r in results["mergekit"])
    am_mem = max(r["vmhwm_mb"] for r in results["amalgam"]), max(r["peak_anon_mb"] for r in results["amalgam"])
    print(f"| {method} | {mk:.1f} | {am:.2f} | {mk / am:.1f}× | {am / floor:.1f} | {mk_mem[0]:.0f} / {mk_mem[1]:.0f} | {am_mem[0]:.0f} / {am_mem[1]:.0f} |")
print("\nRaw: " + json.dumps({m: r for m, r in rows}))
