#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS (pthreads build) starts cores − 1 worker threads when it is loaded, before `main`;
/// each idle worker spins in `sched_yield` for 2^28 TSC ticks (~0.1 s) before it sleeps. The
/// batch runs OpenBLAS single-threaded (`openblas_set_num_threads(1)` before its first dgemm,
/// Aggregation.swift), so those workers never get work, but on a 2-core machine the spinner took
/// up to half a core during the first ~0.1 s of every run — the run's serial head, where accounts.csv
/// is read and the market priced (perf, 200k accounts, `--threads 2`: ~10 of every 20 samples of a
/// core in 20–120 ms; issue 9, branch headstart). `stopIdleWorkers` sets the single thread first
/// (so nothing restarts the pool) and then shuts the pool down (`blas_thread_shutdown_`, what
/// OpenBLAS itself calls at exit). Looked up at run time: another BLAS, or an OpenBLAS without
/// these symbols, is left as it is.
enum BLASPool {
    static func stopIdleWorkers() {
        #if canImport(Glibc)
        guard let process = dlopen(nil, RTLD_NOW) else { return }
        defer { dlclose(process) }
        guard let setThreads = dlsym(process, "openblas_set_num_threads"),
              let shutdown = dlsym(process, "blas_thread_shutdown_") else { return }
        unsafeBitCast(setThreads, to: (@convention(c) (Int32) -> Void).self)(1)
        _ = unsafeBitCast(shutdown, to: (@convention(c) () -> Int32).self)()
        #endif
    }
}
