/// A decimal number held exactly: `±digits × 10^exponent`, for the differences `pm explain` prints
/// (docs/readings.md "Explain: exact sums").
///
/// A margin figure enters as the decimal every output prints for it (``NumberFormat``: the
/// shortest text that reads back as the same double); differences of such decimals are taken
/// exactly, never rounded to a double. The change `after − before` and its three terms
/// `(b − a) + (c − b) + (d − c)` then add up to `d − a` exactly, digit for digit, in the text
/// written — the telescoping sum that double arithmetic does not keep.
struct ExactDecimal: Equatable {
    /// True for a negative value (never for zero).
    var negative = false
    /// Decimal digits, most significant first, values 0…9; no leading or trailing zero; empty for zero.
    var digits: [UInt8] = []
    /// The power of ten of the last digit.
    var exponent = 0

    /// Zero.
    init() {}

    /// The decimal of `v` as the outputs print it (shortest round trip). `v` must be finite.
    init(_ v: Double) {
        precondition(v.isFinite, "ExactDecimal: a finite value")
        self = v == 0 ? ExactDecimal() : ExactDecimal(text: NumberFormat.text(v))!
    }

    /// The value of a decimal text: an optional `-`, digits with at most one `.`, an optional
    /// exponent `e±N` (what ``text`` and ``NumberFormat`` write); nil for anything else.
    init?(text: String) {
        let t = Array(text.utf8)
        var i = 0
        if i < t.count, t[i] == 45 { negative = true; i = 1 }   // "-"
        var fractionDigits = 0, inFraction = false, exp10 = 0, sawDigit = false
        while i < t.count {
            let c = t[i]
            if c == 46 {   // "."
                guard !inFraction else { return nil }
                inFraction = true
            } else if c == 101 || c == 69 {   // "e"
                var sign = 1, j = i + 1, e = 0
                if j < t.count, t[j] == 45 || t[j] == 43 { sign = t[j] == 45 ? -1 : 1; j += 1 }
                guard j < t.count, t.count - j <= 6 else { return nil }
                while j < t.count {
                    guard t[j] >= 48 && t[j] <= 57 else { return nil }
                    e = e * 10 + Int(t[j] - 48); j += 1
                }
                exp10 = sign * e
                break
            } else {
                guard c >= 48 && c <= 57 else { return nil }
                digits.append(c - 48)
                sawDigit = true
                if inFraction { fractionDigits += 1 }
            }
            i += 1
        }
        guard sawDigit else { return nil }
        exponent = exp10 - fractionDigits
        normalize()
    }

    /// Drops leading zeros and moves trailing zeros into the exponent.
    private mutating func normalize() {
        var lead = 0
        while lead < digits.count, digits[lead] == 0 { lead += 1 }
        if lead > 0 { digits.removeFirst(lead) }
        var trail = 0
        while trail < digits.count, digits[digits.count - 1 - trail] == 0 { trail += 1 }
        if trail > 0 { digits.removeLast(trail); exponent += trail }
        if digits.isEmpty { negative = false; exponent = 0 }
    }

    /// True for zero.
    var isZero: Bool { digits.isEmpty }

    /// `a − b`, exactly.
    static func - (a: ExactDecimal, b: ExactDecimal) -> ExactDecimal {
        var nb = b
        if !nb.isZero { nb.negative.toggle() }
        return a + nb
    }

    /// `a + b`, exactly.
    static func + (a: ExactDecimal, b: ExactDecimal) -> ExactDecimal {
        if a.isZero { return b }
        if b.isZero { return a }
        let e = min(a.exponent, b.exponent)
        // Both magnitudes on the common exponent, least significant digit first.
        func aligned(_ x: ExactDecimal) -> [UInt8] {
            [UInt8](repeating: 0, count: x.exponent - e) + x.digits.reversed()
        }
        let x = aligned(a), y = aligned(b)
        var out = ExactDecimal()
        out.exponent = e
        var r: [UInt8] = []
        r.reserveCapacity(max(x.count, y.count) + 1)
        if a.negative == b.negative {
            var carry: UInt8 = 0
            for k in 0..<max(x.count, y.count) {
                let s = (k < x.count ? x[k] : 0) + (k < y.count ? y[k] : 0) + carry
                r.append(s % 10); carry = s / 10
            }
            if carry > 0 { r.append(carry) }
            out.negative = a.negative
        } else {
            // |x| − |y| or |y| − |x|, the larger first; the sign is the larger one's.
            let xLarger = Self.compare(x, y) >= 0
            let (big, small) = xLarger ? (x, y) : (y, x)
            var borrow = 0
            for k in 0..<big.count {
                var d = Int(big[k]) - (k < small.count ? Int(small[k]) : 0) - borrow
                if d < 0 { d += 10; borrow = 1 } else { borrow = 0 }
                r.append(UInt8(d))
            }
            out.negative = xLarger ? a.negative : b.negative
        }
        out.digits = r.reversed()
        out.normalize()
        return out
    }

    /// Compares two magnitudes given least significant digit first (same exponent).
    private static func compare(_ x: [UInt8], _ y: [UInt8]) -> Int {
        var n = max(x.count, y.count) - 1
        while n >= 0 {
            let dx = n < x.count ? x[n] : 0, dy = n < y.count ? y[n] : 0
            if dx != dy { return dx > dy ? 1 : -1 }
            n -= 1
        }
        return 0
    }

    /// The text, in the style of every other number (``NumberFormat``, Swift's `description`):
    /// plain with at least one fraction digit (`12.5`, `3.0`, `0.0001`) when 10^−4 ≤ |value| ≤ 2^53,
    /// otherwise `d.ddde±XX` (`1.25e-07`, `9.1e+15`). Every digit is kept: the text is the value.
    var text: String {
        if digits.isEmpty { return "0.0" }
        var s = negative ? "-" : ""
        let n = digits.count
        let first = n + exponent - 1   // power of ten of the first digit
        let chars = digits.map { Character(Unicode.Scalar($0 + 48)) }
        // Up to 2^53 = 9007199254740992 (16 digits): compare the integer part's digits with it.
        var belowTwo53 = first < 15
        if first == 15 {
            let limit: [UInt8] = [9, 0, 0, 7, 1, 9, 9, 2, 5, 4, 7, 4, 0, 9, 9, 2]
            let integer = (0..<16).map { $0 < n ? digits[$0] : 0 }
            belowTwo53 = integer.lexicographicallyPrecedes(limit) || (integer == limit && n <= 16)   // 2^53 itself is plain
        }
        if first >= -4 && belowTwo53 {
            if exponent >= 0 {
                s += String(chars) + String(repeating: "0", count: exponent) + ".0"
            } else if first >= 0 {
                s += String(chars[0...first]) + "." + String(chars[(first + 1)...])
            } else {
                s += "0." + String(repeating: "0", count: -first - 1) + String(chars)
            }
        } else {
            s += String(chars[0])
            if n > 1 { s += "." + String(chars[1...]) }
            let e = abs(first)
            s += (first < 0 ? "e-" : "e+") + (e < 10 ? "0" : "") + String(e)
        }
        return s
    }
}
