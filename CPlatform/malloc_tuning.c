// Process-wide tuning for the `pm` program (Sources/pm/PM.swift, MallocTuning): glibc malloc's two
// thresholds (Swift's Glibc module does not export <malloc.h>), and OpenBLAS's idle threads.
// Process-wide choices, so the library never calls them.
#include "CPlatform.h"

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

// OpenBLAS (pthreads build) exports its pool's shutdown as `blas_thread_shutdown_`; weak, so a
// BLAS without it leaves the symbol null and the call is skipped.
extern int blas_thread_shutdown_(void) __attribute__((weak));
extern void openblas_set_num_threads(int) __attribute__((weak));

int pm_blas_stop_idle_threads(void) {
    if (!blas_thread_shutdown_ || !openblas_set_num_threads) return -1;
    openblas_set_num_threads(1);
    blas_thread_shutdown_();
    return 0;
}

extern int blas_server_avail __attribute__((weak));

int pm_blas_pool_running(void) {
    if (!&blas_server_avail) return -1;
    return blas_server_avail ? 1 : 0;
}
