#define _GNU_SOURCE
#include "amalgam_shims.h"

#include <fcntl.h>
#include <stdlib.h>   // defines __GLIBC__ (through features.h) on glibc systems

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void amalgam_tune_allocator(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

void amalgam_use_one_allocator_arena(void) {
#if defined(__GLIBC__)
    mallopt(M_ARENA_MAX, 1);
#endif
}

int amalgam_reserve_file(int fd, long long bytes) {
#if defined(__linux__)
    return fallocate(fd, 0, 0, (off_t)bytes);
#else
    (void)fd;
    (void)bytes;
    return -1;
#endif
}
