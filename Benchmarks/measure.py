"""Runs a command and reports its wall time and peak memory as one JSON line.

Peak memory is sampled from /proc/<pid>/status every 2 ms: VmHWM (peak resident set, which
counts memory-mapped file pages) and the largest RssAnon seen (anonymous memory: heap, stacks,
buffers; the figure that matters for a streaming tool reading through mmap). Children are not
followed, so commands are run directly, not through a shell.

Usage: python3 measure.py LABEL -- COMMAND [ARGS...]
"""
import json
import subprocess
import sys
import time


def read_status(pid):
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "RssAnon"):
                    fields[key] = int(value.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return fields


def main():
    label = sys.argv[1]
    command = sys.argv[sys.argv.index("--") + 1:]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    hwm = anon = 0
    while proc.poll() is None:
        s = read_status(proc.pid)
        hwm = max(hwm, s.get("VmHWM", 0))
        anon = max(anon, s.get("RssAnon", 0))
        time.sleep(0.002)
    wall = time.perf_counter() - start
    print(json.dumps({"label": label, "exit": proc.returncode, "wall_s": round(wall, 3),
                      "vmhwm_mb": round(hwm / 1e6, 1), "peak_anon_mb": round(anon / 1e6, 1)}))
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
