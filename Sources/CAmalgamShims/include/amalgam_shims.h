// C entry points Swift cannot reach through its platform modules. No stable API.
#ifndef AMALGAM_SHIMS_H
#define AMALGAM_SHIMS_H

/// Keeps freed blocks up to 256 MiB inside glibc's allocator instead of returning them to the
/// kernel (which makes every reallocation fault its pages in again). No effect off glibc.
void amalgam_tune_allocator(void);

/// Makes threads created from now on share glibc's main arena. Per-thread arenas serve blocks
/// above 64 MiB with fresh mappings and hand emptied heaps back to the kernel whatever the
/// thresholds above say. No effect off glibc.
void amalgam_use_one_allocator_arena(void);

/// Allocates `bytes` of file `fd` up front (Linux fallocate, mode 0). Returns 0 on success,
/// -1 where the file system or platform cannot (nothing is changed then).
int amalgam_reserve_file(int fd, long long bytes);

/// Hints the CPU to fetch the cache line at `address` for reading. Never faults, whatever the
/// address; inlined into Swift callers.
static inline void amalgam_prefetch(const void *address) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(address, 0, 3);
#else
    (void)address;
#endif
}

#endif
