// glibc malloc's two thresholds, for the `pm` program (Sources/pm/PM.swift, MallocTuning): Swift's
// Glibc module does not export <malloc.h>. A process-wide choice, so the library never calls it.
#include "CKernels.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int pm_malloc_tune(size_t mmapThreshold, size_t trimThreshold) {
#if defined(__GLIBC__)
    int ok = mallopt(M_MMAP_THRESHOLD, (int)mmapThreshold);
    ok &= mallopt(M_TRIM_THRESHOLD, (int)trimThreshold);
    return ok ? 0 : -1;
#else
    (void)mmapThreshold; (void)trimThreshold;
    return -1;
#endif
}
