import CBLAS

// The library's one door to BLAS and LAPACK (OpenBLAS's cblas and LAPACKE, the CBLAS system-library
// target): the three calls it makes, as internal functions. No other file imports CBLAS, so a
// reader sees here everything the library asks of the linear-algebra library, and another BLAS
// would be wired in here alone. Nothing here changes a process-wide setting: how many threads
// OpenBLAS runs is the program's choice (`BLASKernel.runSingleThreaded()`, docs/performance.md "OpenBLAS's idle threads").
enum LinearAlgebra {
    /// C = A·B, row-major, double precision (`cblas_dgemm` with α = 1, β = 0): A is m × k with row
    /// stride lda, B k × n with row stride ldb, C m × n with row stride ldc. The dense aggregation's
    /// product (docs/readings.md item 16); inlined, so the call costs what `cblas_dgemm` does.
    @inline(__always)
    static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Double>, lda: Int,
                         b: UnsafePointer<Double>, ldb: Int, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
    }

    /// Least squares min ‖A·x − b‖₂ for a full-rank row-major A (m × n, m ≥ n) and one right-hand
    /// side (`LAPACKE_dgels`, no transpose): A is overwritten by its QR factors, b's first n entries
    /// by x. Returns LAPACK's `info`: 0 solved, > 0 A is rank-deficient, < 0 a bad argument.
    static func leastSquares(rows m: Int, columns n: Int, a: UnsafeMutablePointer<Double>,
                             b: UnsafeMutablePointer<Double>) -> Int32 {
        LAPACKE_dgels(Int32(LAPACK_ROW_MAJOR), CChar(UInt8(ascii: "N")), Int32(m), Int32(n), 1, a, Int32(n), b, 1)
    }

    /// The name of the core whose kernels OpenBLAS chose when it loaded (`openblas_get_corename`),
    /// e.g. "Haswell"; nil when the BLAS gives none.
    static var coreName: String? { openblas_get_corename().map { String(cString: $0) } }

    /// Tells OpenBLAS to run every call on the calling thread (`openblas_set_num_threads(1)`).
    /// Process-wide: only `BLASKernel.runSingleThreaded()` calls it, for programs.
    static func setSingleThreaded() { openblas_set_num_threads(1) }
}
