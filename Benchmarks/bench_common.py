"""Benchmark helpers shared by merge_benchmark.py and research_benchmark.py."""
import os


def fresh_free_pages(work, megabytes=4096):
    """Writes and deletes a scratch file, so the run starts with that much free memory the
    hypervisor still backs. On this VM (virtio_balloon free-page reporting), memory freed a few
    seconds earlier is handed back to the host, and touching it again costs host-side faults:
    writing 1.7 GB took 0.30 s right after deleting a file of that size and 1.8-3.3 s five
    seconds later. A 1.7 GB output pays that at random, which distorts a 1.5 s run far more than
    a 15 s one."""
    scratch = os.path.join(work, "scratch.bin")
    block = b"\0" * (1 << 20)
    with open(scratch, "wb") as f:
        for _ in range(megabytes):
            f.write(block)
    os.remove(scratch)
