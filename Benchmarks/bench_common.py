"""Benchmark helpers shared by merge_benchmark.py and research_benchmark.py."""
import os
import subprocess


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


def warm_inputs(files):
    """Drops the inputs from the page cache and reads them back with `cat`, then runs `sync`, so
    every run of either tool starts from the same cache state: the files held whole, in the
    large folios a sequential reader's readahead builds. The folio size is not a detail: with
    inputs cached in the small folios that page faults or writes leave, Amalgam's
    task_arithmetic took 1.1-1.2 s; after this step 0.8-0.9 s (the map then uses 2 MiB
    entries). Which state the cache was in used to depend on the history of the machine."""
    subprocess.run(["sync"], check=True)
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)
    subprocess.run(["sync"], check=True)
