import CKernels

/// Number formatting of every output (docs/model.md §11.17): shortest round-trip decimal, `inf` for
/// infinity, zero as `0.0` (−0 folded).
///
/// The text is what Swift's `Double.description` prints, written by `pm_format_double` in
/// CKernels (Dragonbox's digits) straight into the output bytes: no String per number. The tests compare
/// the two on millions of doubles.
enum NumberFormat {
    /// The room `pm_format_double` needs: its text is at most 24 bytes
    /// ("-2.2250738585072014e-308"), but it copies digits in fixed-size blocks.
    static let maxLength = Int(PM_FORMAT_DOUBLE_ROOM)
    /// The longest text: 24 bytes ("-2.2250738585072014e-308").
    static let maxText = 24

    static func text(_ v: Double) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: maxLength) { t in
            let n = write(v, t.baseAddress!)
            return t.withMemoryRebound(to: UInt8.self) { String(decoding: UnsafeBufferPointer(rebasing: $0[0..<n]), as: UTF8.self) }
        }
    }

    /// Writes `v`'s text at `out` (room for `maxLength` bytes) and returns its length.
    @inline(__always)
    static func write(_ v: Double, _ out: UnsafeMutablePointer<CChar>) -> Int {
        // Zero (a third of the batch's numbers) without the call; v == 0 also holds for −0: folded.
        if v == 0 { out[0] = 48; out[1] = 46; out[2] = 48; return 3 }
        return pm_format_double(v, out)
    }
}
