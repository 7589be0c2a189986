#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decimal text → Double, correctly rounded, without allocating.
///
/// The common case (≤ 19 significant digits, exponent within ±22) uses Clinger's exact fast path:
/// an integer mantissa below 2^53 times or divided by an exact power of ten rounds once. Anything
/// else (still decimal text: many digits, a large exponent) falls back to `strtod` on a copy.
/// Returns nil for text that is not a decimal number — `nan`, `inf`, `Infinity` (any case), hex
/// floats — and for a value beyond the double range (`1e999`): the result is always finite, so
/// no non-finite value reaches the engine silently (docs/formats.md: per-account errors).
enum FastNumber {
    // Literals (each exact: 10^k < 2^53·2^k up to 10^22), so the table is static data — computed
    // with `pow` it was a lazily initialized global, a `swift_once` check on every parse.
    private static let powers: [Double] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                           1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]

    /// `parse(p, n)` for a field whose memory is readable up to `end` (the caller guarantees
    /// `p ..< end` is one readable buffer, e.g. the CSV file's bytes): a field of 1–8 bytes with 8
    /// readable bytes at `p` takes `short` (one 8-byte load, no per-digit loop or branches); any
    /// other field, or one `short` does not take, the byte loop. Same result, bit for bit: `short`
    /// only takes `[+-]digits[.digits]` text, and for it computes the byte loop's mantissa and
    /// exponent (`FastNumberTests` checks both paths against each other and `strtod`).
    @inline(__always)
    static func parse(_ p: UnsafePointer<UInt8>, _ n: Int, readableTo end: UnsafePointer<UInt8>) -> Double? {
        if UInt(bitPattern: n &- 1) < 8, end - p >= 8, let v = short(p, n) { return v }
        return parse(p, n)
    }

    /// `[+-]digits[.digits]` of 1–8 bytes (at most 8 digits, so the mantissa is exact and the
    /// fast path below always applies), with 8 bytes readable at `p`; nil for anything else (the
    /// caller then takes the byte loop, which decides). The digits are found and converted in one
    /// 64-bit word (SWAR): bytes in text order from the low byte, the dot squeezed out, the digits
    /// left-padded with '0' to 8, checked to be digits, then combined pairwise (10, 100, 10^4).
    @inline(__always)
    static func short(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? {
        // Branch-free but for the checks (all taken in a clean file): the sign and whether there
        // is a dot vary from row to row, and as branches they were mispredicted (perf annotate).
        var w = UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self))
        w &= ~UInt64(0) &>> UInt64(64 &- n &* 8)          // the field's n bytes only (n = 1...8)
        let first = w & 0xFF
        let negative = first == 0x2D                          // "-"
        let signed = negative || first == 0x2B                // or "+"
        w = signed ? w &>> 8 : w
        var len = signed ? n &- 1 : n
        // The first '.': the lowest zero byte of w ^ "........" (exact for the lowest one); no
        // dot: d = 8, and the squeeze below leaves w as it is (shifts of 64 give 0).
        let t = w ^ 0x2E2E_2E2E_2E2E_2E2E
        let dots = (t &- 0x0101_0101_0101_0101) & ~t & 0x8080_8080_8080_8080
        let d = dots.trailingZeroBitCount &>> 3               // < len when a dot: bytes past the field are 0
        let below = UInt64(d &* 8)
        w = (w & ((1 << below) &- 1)) | (((w >> below) >> 8) << below)
        let hasDot = dots != 0
        len = hasDot ? len &- 1 : len
        let fraction = hasDot ? len &- d : 0
        guard len > 0 else { return nil }
        // Right-align the len digits and fill the first 8 − len bytes with '0'.
        let pad = UInt64((8 &- len) &* 8)                     // 0...56
        w = (w &<< pad) | (0x3030_3030_3030_3030 & ((1 &<< pad) &- 1))
        // Every byte '0'...'9' (a second dot, a sign, an 'e', a NUL: not digits, so nil).
        guard w & 0xF0F0_F0F0_F0F0_F0F0 == 0x3030_3030_3030_3030,
              (w &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0 == 0x3030_3030_3030_3030 else { return nil }
        w = ((w & 0x0F0F_0F0F_0F0F_0F0F) &* 2561) &>> 8
        w = ((w & 0x00FF_00FF_00FF_00FF) &* 6_553_601) &>> 16
        w = ((w & 0x0000_FFFF_0000_FFFF) &* 42_949_672_960_001) &>> 32
        // As the byte loop ends: mantissa < 10^8, exponent = −fraction ≥ −8 (Clinger's exact
        // case). Dividing by 10^0 = 1 is exact (no branch); v ≥ +0, so setting the sign bit is −v.
        let v = Double(w) / powers[fraction]
        return Double(bitPattern: v.bitPattern | (negative ? 1 << 63 : 0))
    }

    @inline(__always)
    static func parse(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? {
        guard n > 0 else { return nil }
        var i = 0
        var negative = false
        if p[0] == UInt8(ascii: "-") { negative = true; i = 1 } else if p[0] == UInt8(ascii: "+") { i = 1 }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        var sawDigit = false
        while i < n, p[i] &- 48 < 10 {
            if digits < 19 { mantissa = mantissa &* 10 &+ UInt64(p[i] &- 48); if mantissa > 0 { digits += 1 } } else { exponent += 1 }
            sawDigit = true
            i += 1
        }
        if i < n, p[i] == UInt8(ascii: ".") {
            i += 1
            while i < n, p[i] &- 48 < 10 {
                if digits < 19 { mantissa = mantissa &* 10 &+ UInt64(p[i] &- 48); exponent -= 1; if mantissa > 0 { digits += 1 } }
                sawDigit = true
                i += 1
            }
        }
        guard sawDigit else { return nil }   // no digits: not decimal text (nan, inf, ".")
        if i < n, p[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            var expNeg = false
            if i < n, p[i] == UInt8(ascii: "-") { expNeg = true; i += 1 } else if i < n, p[i] == UInt8(ascii: "+") { i += 1 }
            var e = 0
            var any = false
            while i < n, p[i] &- 48 < 10 { e = min(e * 10 + Int(p[i] &- 48), 100000); any = true; i += 1 }
            guard any else { return nil }
            exponent += expNeg ? -e : e
        }
        guard i == n else { return nil }
        if digits >= 19 || mantissa > (1 << 53) || exponent < -22 || exponent > 22 { return slow(p, n) }
        var v = Double(mantissa)
        if exponent < 0 { v /= powers[-exponent] } else if exponent > 0 { v *= powers[exponent] }
        return negative ? -v : v
    }

    /// `strtod` on a NUL-terminated copy of text the caller checked is decimal; the whole field
    /// must be consumed and the value finite (an overflow to ±inf is not a number here).
    private static func slow(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buf in
            for k in 0..<n { buf[k] = CChar(bitPattern: p[k]) }
            buf[n] = 0
            var end: UnsafeMutablePointer<CChar>?
            let v = strtod(buf.baseAddress!, &end)
            guard let end, end - buf.baseAddress! == n, v.isFinite else { return nil }
            return v
        }
    }
}
