// C entry points Swift cannot reach through its platform modules. No stable API.
#ifndef AMALGAM_SHIMS_H
#define AMALGAM_SHIMS_H

/// Keeps freed blocks up to 32 MiB inside glibc's allocator instead of returning them to the
/// kernel (which makes every reallocation fault its pages in again). No effect off glibc.
void amalgam_tune_allocator(void);

#endif
