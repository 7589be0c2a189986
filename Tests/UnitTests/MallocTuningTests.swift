import Testing
import CPlatform
import CBLAS
@testable import PMTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `pm`'s process-wide tuning (Sources/pm/PM.swift): malloc thresholds (docs/performance.md "malloc tuning")
/// and OpenBLAS's idle thread pool (docs/performance.md).
struct MallocTuningTests {
    /// glibc takes the thresholds `pm` sets (the wrapper reports a refusal as −1, so a tuning
    /// that did not take is not mistaken for one in effect).
    @Test(.disabled(if: Self.underAddressSanitizer, "AddressSanitizer's allocator replaces glibc's malloc and refuses mallopt"))
    func glibcTakesPMsThresholds() {
        #if canImport(Glibc)
        #expect(pm_malloc_tune(32 << 20, 1 << 30) == 0)
        #endif
    }

    /// Whether this process runs under AddressSanitizer (`scripts/test-sanitizers.sh`): its
    /// runtime defines `__asan_init`.
    static var underAddressSanitizer: Bool {
        #if canImport(Glibc)
        return dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") != nil
        #else
        return false
        #endif
    }

    /// The pool OpenBLAS starts at load is stopped (not merely told to run one thread, which
    /// leaves it spinning), and BLAS still computes afterwards, on the calling thread.
    @Test func openBLASPoolStopsAndDgemmStillWorks() {
        #expect(pm_blas_stop_idle_threads() == 0)
        #expect(pm_blas_pool_running() == 0)
        // 2×3 · 3×2, row-major: [[1,2,3],[4,5,6]] · [[7,8],[9,10],[11,12]] = [[58,64],[139,154]].
        let a: [Double] = [1, 2, 3, 4, 5, 6], b: [Double] = [7, 8, 9, 10, 11, 12]
        var c = [Double](repeating: 0, count: 4)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3, 1, a, 3, b, 2, 0, &c, 2)
        #expect(c == [58, 64, 139, 154])
        #expect(pm_blas_pool_running() == 0)
    }
}
