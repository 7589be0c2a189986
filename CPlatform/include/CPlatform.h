// CPlatform — the operating-system and process-wide calls the package makes from C, apart from the
// computation kernels (CKernels): what Swift cannot call directly (variadic syscall(2), glibc's
// mallopt and sync_file_range, OpenBLAS's thread-pool internals), a CPU feature check for the BLAS
// kernel choice, and the async-signal-safe cleanup a signal handler needs.
//
// Which of them are process-wide (malloc tuning, OpenBLAS's pool) is said at each; the library
// never calls those, only programs (Sources/pm/PM.swift, Benchmarks/bench/main.swift).
#ifndef PM_CPLATFORM_H
#define PM_CPLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// CPU features that decide which OpenBLAS kernels fit (`__builtin_cpu_supports`): a bit set of
/// the PM_CPU_* values below; 0 on other architectures.
uint32_t pm_cpu_features(void);
#define PM_CPU_AVX 1u
#define PM_CPU_AVX2 2u
#define PM_CPU_FMA 4u
#define PM_CPU_AVX512F 8u
#define PM_CPU_AVX512DQ 16u
#define PM_CPU_AVX512BW 32u
#define PM_CPU_AVX512VL 64u
/// Atomically exchanges the directory entries `from` and `to` (both must exist): Linux
/// renameat2(RENAME_EXCHANGE). Returns 0, or -1 with errno set (ENOSYS where the kernel or platform
/// has no such call, EINVAL where the file system does not support it).
int pm_rename_exchange(const char *from, const char *to);
/// Publishes the staging files and folders to remove if the process is interrupted. The lists are
/// copied; each call replaces the previous lists. Returns 0, or -1 when out of memory.
int pm_interrupt_cleanup_publish(const char *const *files, size_t nFiles,
                                 const char *const *directories, size_t nDirectories);
/// Unlinks the published files and removes the published directories. Async-signal-safe: for a
/// program's SIGINT/SIGTERM handler to call before it exits (the library installs no handler).
void pm_interrupt_cleanup_remove_all(void);

/// glibc malloc: allocations from `mmapThreshold` bytes get their own mapping, and free memory at
/// the heap's top is returned to the kernel from `trimThreshold` bytes (mallopt). 0 on success,
/// −1 where unsupported (not glibc) or refused. For programs (`pm`), never called by the library.
int pm_malloc_tune(size_t mmapThreshold, size_t trimThreshold);

/// Starts writing `length` bytes of `fd` from `offset` to the device without waiting
/// (Linux `sync_file_range(SYNC_FILE_RANGE_WRITE)`): the writer of a large output calls it as the
/// file grows, so the `fsync` at commit finds little left to write. A hint: 0 when started, −1
/// when refused or unsupported (durability still comes from the `fsync`).
int pm_start_writeback(int fd, int64_t offset, int64_t length);

/// Stops OpenBLAS's idle server threads, for the `pm` program. OpenBLAS starts one per extra core
/// when the library loads, before `main`, and each spins in `sched_yield` for ~2^28 cycles
/// (~0.1 s) before it sleeps: on a 2-core machine that spin takes a core from `pm`'s own threads
/// at the start of every run (measured: sys time 0.15 → 0.07 s for 200k accounts). `pm` runs
/// OpenBLAS single-threaded (openblas_set_num_threads(1)), so the pool is never used; OpenBLAS
/// restarts it lazily should a multi-threaded call ever come. Returns 0 when stopped, −1 when the
/// BLAS in use has no such pool (the call is then a no-op). Process-wide: the library never calls it.
int pm_blas_stop_idle_threads(void);
/// 1 while OpenBLAS's thread pool runs, 0 when it does not, −1 when the BLAS in use has none.
int pm_blas_pool_running(void);

#ifdef __cplusplus
}
#endif
#endif
