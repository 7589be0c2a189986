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
/// no non-finite value reaches the engine silently (FORMATS.md: per-account errors).
enum FastNumber {
    // Literals (each exact: 10^k < 2^53·2^k up to 10^22), so the table is static data — computed
    // with `pow` it was a lazily initialized global, a `swift_once` check on every parse.
    private static let powers: [Double] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                           1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]

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
