"""Evaluation benchmark (issue 5): the testbed accuracy table from `amalgam eval`, checked item by
item against the testbed's reference (Python transformers), and decoding throughput on the full
public test sets, side by side with transformers in the same run.

    python eval_benchmark.py AMALGAM PYTHON REPS  → Markdown on stdout
"""
import json
import os
import subprocess
import sys
import tempfile
import time

AMALGAM, PYTHON, REPS = sys.argv[1], sys.argv[2], int(sys.argv[3])
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ["base", "add", "rev", "sort", "upper"]
TASKS = ["add", "rev", "sort", "upper"]
REFERENCE = os.path.join(ROOT, "Tests/Fixtures/testbed/reference")
model_dirs = [os.path.join(ROOT, "Examples/models", m) for m in MODELS]
tasks_dir = os.path.join(ROOT, "Examples/tasks")
tmp = tempfile.mkdtemp(prefix="amalgam-eval-bench-")

# 1. Accuracy table, both splits, every item compared with reference/predictions.
accuracy = json.load(open(os.path.join(REFERENCE, "accuracy.json")))
reference_items = {}
for m in MODELS:
    for line in open(os.path.join(REFERENCE, "predictions", f"{m}.jsonl")):
        row = json.loads(line)
        reference_items[(m, row["task"], row["split"], row["prompt"])] = row["gen_ids"]
ours = {}
differing = []
for split in ["dev", "test"]:
    report, predictions = os.path.join(tmp, f"{split}.json"), os.path.join(tmp, f"{split}.jsonl")
    subprocess.run([AMALGAM, "eval", *model_dirs, "--tasks", tasks_dir, "--split", split, "--quiet", "--json", report,
                    "--predictions", predictions], check=True, stdout=subprocess.DEVNULL)
    for entry in json.load(open(report)):
        ours[(os.path.basename(entry["model"]), split)] = entry["tasks"]
    for line in open(predictions):
        row = json.loads(line)
        key = (os.path.basename(row["model"]), row["task"], row["split"], row["prompt"])
        if reference_items.get(key) != row["gen_ids"]:
            differing.append(key)

print("## Accuracy (exact match, %) and mean generated tokens, every model, task and split")
print()
print("Each cell: Amalgam's value, then ✓ when it equals `reference/accuracy.json` exactly.")
print()
print("| model | " + " | ".join(f"{t} {s}" for t in TASKS for s in ["dev", "test"]) + " |")
print("|---|" + "---:|" * (2 * len(TASKS)))
mismatches = 0
for m in MODELS:
    cells = []
    for t in TASKS:
        for s in ["dev", "test"]:
            got, want = ours[(m, s)][t], accuracy[m][t][s]
            ok = abs(got["accuracy"] - want["acc"]) < 1e-12 and abs(got["mean_response_tokens"] - want["mean_gen_tokens"]) < 1e-9
            mismatches += 0 if ok else 1
            cells.append(f"{100 * got['accuracy']:.1f} / {got['mean_response_tokens']:.2f} {'✓' if ok else '✗'}")
    print(f"| {m} | " + " | ".join(cells) + " |")
print()
total_items = len(reference_items)
print(f"Cells differing from accuracy.json: **{mismatches}** of {len(MODELS) * len(TASKS) * 2}. "
      f"Items whose generated ids differ from `reference/predictions`: **{len(differing)}** of {total_items}.")
print()


# 2. Throughput on the full test sets (5 models × 4 tasks × 200 prompts).
def best_of(fn):
    runs = [fn() for _ in range(REPS)]
    return min(runs, key=lambda r: r["decode"])


def amalgam_run(threads):
    report = os.path.join(tmp, "throughput.json")
    start = time.perf_counter()
    subprocess.run([AMALGAM, "eval", *model_dirs, "--tasks", tasks_dir, "--split", "test", "--quiet", "--json", report,
                    "--threads", str(threads)], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    entries = json.load(open(report))
    return {"wall": wall, "decode": sum(e["timing"]["eval_seconds"] for e in entries),
            "prompts": sum(e["timing"]["prompts"] for e in entries), "generated": sum(e["timing"]["generated_tokens"] for e in entries),
            "correct": sum(t["correct"] for e in entries for t in e["tasks"].values())}


def transformers_run(mode, threads):
    wall, decode, prompts, generated, correct = 0.0, 0.0, 0, 0, 0
    for model in model_dirs:
        start = time.perf_counter()
        out = subprocess.run([PYTHON, os.path.join(ROOT, "Benchmarks/transformers_eval.py"), model, tasks_dir, "test", str(threads), mode],
                             check=True, capture_output=True, text=True).stdout
        wall += time.perf_counter() - start
        result = json.loads(out)
        decode += result["seconds"]
        prompts += result["prompts"]
        generated += result["generated"]
        correct += sum(t["correct"] for t in result["tasks"].values())
    return {"wall": wall, "decode": decode, "prompts": prompts, "generated": generated, "correct": correct}


rows = [
    ("Amalgam, 2 threads (data-parallel decoders)", best_of(lambda: amalgam_run(2))),
    ("Amalgam, 1 thread", best_of(lambda: amalgam_run(1))),
    ("transformers, KV cache, torch 2 threads", best_of(lambda: transformers_run("cache", 2))),
    ("transformers, no cache (reference protocol), torch 2 threads", best_of(lambda: transformers_run("nocache", 2))),
]
base = rows[0][1]
print("## Throughput, full public test sets (5 models × 4 tasks × 200 prompts, greedy, ≤ 16 new tokens)")
print()
print("Decode time excludes process start and model loading; wall time is the whole command (one `amalgam eval` "
      "process for the 5 models; one Python process per model). Best of", REPS, "run(s).")
print()
print("| run | prompts | generated tokens | correct | decode s | prompts/s | generated tokens/s | Amalgam (2 threads) speedup, decode | wall s | speedup, wall |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, r in rows:
    print(f"| {name} | {r['prompts']} | {r['generated']} | {r['correct']} | {r['decode']:.3f} | {r['prompts'] / r['decode']:.0f} | "
          f"{r['generated'] / r['decode']:.0f} | {r['decode'] / base['decode']:.2f}× | {r['wall']:.2f} | {r['wall'] / base['wall']:.1f}× |")
print()
print("Reading the table: both tools run the same arithmetic (float32 matrix products through a BLAS) on the same "
      "prompts, and on this 0.84 M-parameter model the products are nearly all of the work, so decoding with a KV cache "
      "is bounded by the core's floating-point rate for both; Amalgam's edge there comes from not decoding finished "
      "sequences, from single-threaded BLAS per decoder (data parallel across cores) and from no per-step framework "
      "overhead. Against the reference protocol (full forward pass per step) and end to end (process start and model "
      "load included: Python imports torch and transformers), the gap is larger.")
