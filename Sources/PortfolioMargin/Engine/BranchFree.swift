/// Branch-free selects for the engine's per-holding contingency pass (docs/model.md §5).
///
/// `keep(x, masks[c ? 1 : 0])` is x when c holds and +0 otherwise, bit for bit (NaN and ±∞ kept as
/// they are). Added to a running sum that started at +0 — such a sum is never −0 (IEEE round to
/// nearest: x + y is −0 only when both are −0) — the +0 leaves it unchanged, exactly as skipping
/// the addition did. So a loop written this way gives the bits of the branches it replaces.
///
/// Why masks from a table in memory: written as `c ? x : 0`, the compiler turns a select feeding a
/// running sum back into a branch (x86 has no conditional move for doubles), and branches on data
/// that changes at random between holdings (option or not, the settlement bucket, a sign) were
/// mispredicted often enough to be most of those loops' time (perf annotate of the 1M batch). A mask
/// the compiler cannot see through stays an AND.
enum BranchFree {
    /// The mask table: entries 0–1: none, all. Entries `2 + 3k ..< 5 + 3k`: the lane masks of case
    /// k of three (all ones in lane k): settlement buckets usdt, usdc, usd (docs/model.md §5C).
    static let count = 11

    /// A new mask table (the owner deallocates it). The hot loop reads a table it owns (the
    /// contingency scratch's) rather than a global: a global's lazy initialiser is an opaque call,
    /// after which the compiler retained the arrays the loop reads.
    static func allocateMasks() -> UnsafeMutablePointer<UInt64> {
        let p = UnsafeMutablePointer<UInt64>.allocate(capacity: count)
        p.initialize(repeating: 0, count: count)
        p[1] = ~0
        for k in 0..<3 { p[2 + 3 * k + k] = ~0 }
        return p
    }

    /// A table for code off the hot path (tests, hand-built exposures).
    // nonisolated(unsafe): a pointer is not `Sendable`; the table is written once in the static's
    // initializer (run once, thread-safely) and only read after.
    nonisolated(unsafe) static let shared: UnsafePointer<UInt64> = UnsafePointer(allocateMasks())

    /// `x` when `mask` is all ones, +0 when it is 0.
    @inline(__always)
    static func keep(_ x: Double, _ mask: UInt64) -> Double { Double(bitPattern: x.bitPattern & mask) }
}
