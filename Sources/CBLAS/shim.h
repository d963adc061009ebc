// BLAS and LAPACKE on Linux: Debian's libopenblas-dev and liblapacke-dev (pkg-config name `openblas`).
// Apple platforms use Accelerate instead and never import this module.
#ifndef AMALGAM_CBLAS_SHIM_H
#define AMALGAM_CBLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#endif
