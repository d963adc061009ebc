"""Read-and-reshard benchmark: amalgam against the I/O floors, in one run.

For each repetition (after `sync`, so earlier dirty pages do not bill the next command):
  cat      both input shards to /dev/null          the read floor named by the issue
  cp       both input shards to a new folder       the read+write floor (same bytes in and out)
  reshard  amalgam reshard IN OUT --out-shard-size 500M   (tensors copied unchanged)
  reshard --dtype float16                          (every tensor decoded and re-encoded: the compute path)
Reports the median wall time and the largest peak memory over the repetitions.

Usage: python3 io_benchmark.py AMALGAM_BINARY CHECKPOINT_FOLDER WORK_FOLDER [repetitions]
"""
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
amalgam, source, work = sys.argv[1], sys.argv[2], sys.argv[3]
reps = int(sys.argv[4]) if len(sys.argv) > 4 else 5
shards = sorted(glob.glob(os.path.join(source, "*.safetensors")))
size = sum(os.path.getsize(s) for s in shards)


def measure(label, command):
    subprocess.run(["sync"], check=True)
    out = subprocess.run([sys.executable, os.path.join(here, "measure.py"), label, "--", *command],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def clean(path):
    shutil.rmtree(path, ignore_errors=True)


runs = {}
for _ in range(reps):
    out_cp, out_a, out_b = (os.path.join(work, n) for n in ("cp-out", "reshard-out", "reshard-f16-out"))
    for p in (out_cp, out_a, out_b):
        clean(p)
    os.makedirs(out_cp)
    for label, command in [
        ("cat to /dev/null (read floor)", ["cat", *shards]),
        ("cp to a new folder (read+write floor)", ["cp", *shards, out_cp]),
        ("amalgam reshard --out-shard-size 500M", [amalgam, "reshard", source, out_a, "--out-shard-size", "500M"]),
        ("amalgam reshard --dtype float16 (decode + encode)", [amalgam, "reshard", source, out_b, "--out-shard-size", "500M", "--dtype", "float16"]),
    ]:
        runs.setdefault(label, []).append(measure(label, command))
    for p in (out_cp, out_a, out_b):
        clean(p)

floor = statistics.median(r["wall_s"] for r in runs["cat to /dev/null (read floor)"])
copy_floor = statistics.median(r["wall_s"] for r in runs["cp to a new folder (read+write floor)"])
print(f"Input: {len(shards)} shards, {size / 1e9:.2f} GB; {reps} repetitions, medians.\n")
print("| command | wall (s) | × cat | × cp | GB/s | peak VmHWM (MB) | peak anonymous (MB) |")
print("|---|---|---|---|---|---|---|")
for label, rs in runs.items():
    wall = statistics.median(r["wall_s"] for r in rs)
    hwm = max(r["vmhwm_mb"] for r in rs)
    anon = max(r["peak_anon_mb"] for r in rs)
    print(f"| {label} | {wall:.3f} | {wall / floor:.1f} | {wall / copy_floor:.2f} | {size / wall / 1e9:.2f} | {hwm:.1f} | {anon:.1f} |")
print("\nAll wall times: " + json.dumps({k: [r["wall_s"] for r in v] for k, v in runs.items()}))
