"""Research-method benchmark: Amalgam against FusionBench 0.2.33 on a 96 M-parameter float32
Llama-shaped model with 4 task models (generate_research_models.py).

For tsv_m, iso_cts, tall_masks, pcb and opcm, both tools merge the same inputs one after the
other, each run after dropping the inputs from the page cache and reading them back (warm, in a
defined state: bench_common.warm_inputs), a `sync`, and writing and deleting a 4 GB scratch file
(bench_common.fresh_free_pages); measure.py records wall time, VmHWM and peak anonymous memory of the whole
command (imports, loading and saving included). The outputs are then compared tensor by tensor:
the largest max|Amalgam − reference| / max|reference| over all tensors (and output models).

Usage: python3 research_benchmark.py AMALGAM_BINARY FUSIONBENCH_PYTHON WORK
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file

from bench_common import fresh_free_pages, warm_inputs

here = os.path.dirname(os.path.abspath(__file__))
amalgam, python, work = sys.argv[1], sys.argv[2], sys.argv[3]
inputs = os.path.join(work, "in")
base = os.path.join(inputs, "base")
tasks = [os.path.join(inputs, f"task_{i}") for i in range(4)]
methods = os.environ.get("RESEARCH_METHODS", "tsv_m iso_cts tall_masks pcb opcm").split()
parameters = {"tsv_m": "", "iso_cts": "", "tall_masks": "parameters: {lambda: 0.6}\n", "pcb": "parameters: {ratio: 0.1}\n",
              "opcm": "parameters: {alpha: 0.5}\n"}


def measure(label, command, env=None):
    # Warm inputs, no dirty pages from the last run, freshly backed free memory.
    shards = [os.path.join(d, f) for d in [base, *tasks] for f in sorted(os.listdir(d)) if f.endswith(".safetensors")]
    warm_inputs(shards)
    fresh_free_pages(work)
    out = subprocess.run([sys.executable, os.path.join(here, "measure.py"), label, "--", *command], capture_output=True, text=True, env=env)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
    result = json.loads(line)
    if result.get("exit") != 0:
        print(f"{label} failed: {out.stderr[-800:]}", file=sys.stderr)
        errors = [line for line in out.stderr.splitlines() if "Error" in line]
        result["error"] = errors[-1].strip() if errors else "failed"
    return result


def tensors(folder):
    values = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".safetensors"):
            values.update(load_file(os.path.join(folder, name)))
    return values


def worst_difference(ours, reference):
    worst = 0.0
    a, b = tensors(ours), tensors(reference)
    for name, expected in b.items():
        expected = expected.astype(np.float64)
        scale = np.abs(expected).max()
        difference = np.abs(a[name].astype(np.float64) - expected).max()
        worst = max(worst, difference / scale if scale > 0 else difference)
    return worst


rows = []
for method in methods:
    recipe = os.path.join(work, f"research-{method}.yaml")
    with open(recipe, "w") as f:
        f.write(f"merge_method: {method}\nbase_model: {base}\nmodels:\n" + "".join(f"  - model: {t}\n" for t in tasks) + parameters[method])
    ours, theirs = os.path.join(work, "out-am"), os.path.join(work, "out-fb")
    for folder in (ours, theirs):
        shutil.rmtree(folder, ignore_errors=True)
    reference = measure(f"fusionbench {method}", [python, os.path.join(here, "fusionbench_merge.py"), method, theirs, base, *tasks])
    result = measure(f"amalgam {method}", [amalgam, "merge", recipe, ours, "--quiet"])
    if reference.get("exit") != 0 or result.get("exit") != 0:
        difference = None
    elif method == "tall_masks":
        difference = max(worst_difference(os.path.join(ours, f"task_{i}"), os.path.join(theirs, f"task_{i}")) for i in range(4))
    else:
        difference = worst_difference(ours, theirs)
    rows.append((method, reference, result, difference))
    for folder in (ours, theirs):
        shutil.rmtree(folder, ignore_errors=True)

size = sum(os.path.getsize(os.path.join(d, "model.safetensors")) for d in [base, *tasks])
print(f"Inputs: base + 4 task models, {size / 1e9:.2f} GB of float32 in all. One run per tool and method.\n")
print("| method | reference (s) | Amalgam (s) | speed-up | reference VmHWM / anon (MB) | Amalgam VmHWM / anon (MB) | max rel. difference |")
print("|---|---|---|---|---|---|---|")
for method, reference, result, difference in rows:
    if reference.get("exit") != 0:
        print(f"| {method} | failed after {reference['wall_s']:.1f} s: {reference.get('error', '')} | {result['wall_s']:.1f} | – "
              f"| {reference['vmhwm_mb']:.0f} / {reference['peak_anon_mb']:.0f} | {result['vmhwm_mb']:.0f} / {result['peak_anon_mb']:.0f} | – |")
        continue
    print(f"| {method} | {reference['wall_s']:.1f} | {result['wall_s']:.1f} | {reference['wall_s'] / result['wall_s']:.1f}× "
          f"| {reference['vmhwm_mb']:.0f} / {reference['peak_anon_mb']:.0f} | {result['vmhwm_mb']:.0f} / {result['peak_anon_mb']:.0f} | "
          f"{'–' if difference is None else f'{difference:.1e}'} |")
print("\nRaw: " + json.dumps({m: {"reference": r, "amalgam": a, "max_rel_difference": d} for m, r, a, d in rows}))

# An OPENBLAS_CORETYPE in the environment pins OpenBLAS's kernels (Amalgam's BLAS; the reference's
# torch uses MKL and ignores it). Time Amalgam's SVD methods again with OpenBLAS's own choice.
if os.environ.get("OPENBLAS_CORETYPE"):
    native = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    print(f"\n### Amalgam with OpenBLAS's own kernel choice\n")
    print(f"This machine's environment sets OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}, which pins OpenBLAS to those kernels "
          "in the runs above. The SVD methods again, with the variable removed (same reference times):\n")
    print("| method | reference (s) | Amalgam (s) | speed-up |")
    print("|---|---|---|---|")
    for method, reference, _, _ in rows:
        if method not in ("tsv_m", "iso_cts", "opcm"):
            continue
        ours = os.path.join(work, "out-am")
        shutil.rmtree(ours, ignore_errors=True)
        result = measure(f"amalgam {method} (native BLAS)", [amalgam, "merge", os.path.join(work, f"research-{method}.yaml"), ours, "--quiet"], env=native)
        shutil.rmtree(ours, ignore_errors=True)
        ratio = f"{reference['wall_s'] / result['wall_s']:.1f}×" if reference.get("exit") == 0 else "–"
        shown = f"{reference['wall_s']:.1f}" if reference.get("exit") == 0 else "failed"
        print(f"| {method} | {shown} | {result['wall_s']:.1f} | {ratio} |")
