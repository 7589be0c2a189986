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

/// Tells the kernel that the cached pages of `length` bytes of `fd` from `offset` (0: to the end
/// of the file) will not be read again (`posix_fadvise(POSIX_FADV_DONTNEED)`): clean pages are
/// dropped from the page cache, dirty or busy ones stay. A hint that never changes the file's
/// content. Returns 0, or the error number: EBADF (not an open file), ESPIPE (a pipe or FIFO),
/// EINVAL (a negative offset or length), ENOSYS (not Linux). Callers may ignore it.
int pm_drop_cached(int fd, int64_t offset, int64_t length);
/// For an output written through `pm_start_writeback`: waits until the writeback of the range is
/// done (normally already), then drops its pages as `pm_drop_cached` does. Returns 0 or an error
/// number (EBADF, ESPIPE, EINVAL for an empty or negative range, EIO, ENOSYS).
int pm_drop_written(int fd, int64_t offset, int64_t length);

/// Which pages of a file were in the page cache when it was opened (`mincore`), so that a reader
/// drops only the pages it brought in itself (`pm_cache_drop_new`).
typedef struct pm_cache_snapshot pm_cache_snapshot;
/// Takes the snapshot of the first `size` bytes of `fd` (the file is mapped but never read: a
/// truncation cannot fault). Where residency cannot be known, no page counts as cached. NULL
/// only when out of memory or `size` is negative.
pm_cache_snapshot *pm_cache_snapshot_take(int fd, int64_t size);
/// Frees a snapshot (NULL is ignored).
void pm_cache_snapshot_free(pm_cache_snapshot *snapshot);
/// Drops the pages of bytes `from..<to` of `fd` that were not cached at the snapshot; whole pages
/// only (the last page of the file counts as whole once `to` reaches the size). Returns 0 or the
/// last error number of `pm_drop_cached` (EINVAL for a NULL snapshot or a reversed range).
int pm_cache_drop_new(const pm_cache_snapshot *snapshot, int fd, int64_t from, int64_t to);

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
