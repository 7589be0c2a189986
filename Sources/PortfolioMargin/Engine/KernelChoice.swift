import CKernels

/// Which code path the C kernels take: Black-76 pricing of the risk arrays (docs/model.md §3) and the
/// scenario P&L gather. A value passed in (`PricedMarket(kernel:)`, `EngineOptions.kernel`), never
/// process-wide state: two computations on different paths can run at the same time.
///
/// The vector paths agree with `.scalar` to 1e-13 relative (CKernels.h); the gather gives the same
/// bits on every path. A path this CPU cannot run falls back to the widest one it can that is no
/// wider (`.avx512` on an AVX2 machine runs AVX2).
public enum KernelChoice: Int32, Sendable, CaseIterable {
    /// The widest path this CPU runs: AVX-512, else AVX2 + FMA, else scalar. The default.
    case automatic = 0
    /// Plain scalar libm code: the reference the vector paths are checked against.
    case scalar = 1
    /// AVX2 + FMA vectors.
    case avx2 = 2
    /// AVX-512 vectors.
    case avx512 = 3

    /// The path this choice runs on this CPU: "avx512", "avx2" or "scalar".
    public var pathName: String { String(cString: pm_kernel_isa_name(rawValue)) }
}
