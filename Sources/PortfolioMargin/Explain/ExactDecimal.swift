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
        digits.withUnsafeBufferPointer { Self.text(negative: negative, digits: $0, exponent: exponent) }
    }

    /// The text of `±digits × 10^exponent` (``text``'s rules); `digits` most significant first,
    /// without leading or trailing zeros (empty for zero).
    static func text(negative: Bool, digits: UnsafeBufferPointer<UInt8>, exponent: Int) -> String {
        String(unsafeUninitializedCapacity: maxText(digits: digits.count)) { out in
            var w = RawWriter(out.baseAddress!)
            write(negative: negative, digits: digits, exponent: exponent, into: &w)
            return out.baseAddress!.distance(to: w.p)
        }
    }

    /// The most bytes ``write(negative:digits:exponent:into:)`` writes for `n` digits: a sign, the
    /// digits, at most 16 zeros or 4 leading `0.000`, `.0`, or `.` and `e-308`.
    static func maxText(digits n: Int) -> Int { n + 24 }

    /// Writes the text of `±digits × 10^exponent` (``text``'s rules) at `w`.
    static func write(negative: Bool, digits: UnsafeBufferPointer<UInt8>, exponent: Int, into w: inout RawWriter) {
        let n = digits.count
        if n == 0 { w.byte(48); w.byte(46); w.byte(48); return }
        if negative { w.byte(45) }
        func put(_ range: Range<Int>) { for k in range { w.byte(digits[k] + 48) } }
        func zeros(_ count: Int) { for _ in 0..<max(0, count) { w.byte(48) } }
        let first = n + exponent - 1   // power of ten of the first digit
        // Up to 2^53 = 9007199254740992 (16 digits): compare the integer part's digits with it.
        var upToTwo53 = first < 15
        if first == 15 {
            let limit: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)
                = (9, 0, 0, 7, 1, 9, 9, 2, 5, 4, 7, 4, 0, 9, 9, 2)
            upToTwo53 = withUnsafeBytes(of: limit) { l in
                for k in 0..<16 {
                    let d = k < n ? digits[k] : 0
                    if d != l[k] { return d < l[k] }
                }
                return n <= 16   // 2^53 itself is plain
            }
        }
        if first >= -4 && upToTwo53 {
            if exponent >= 0 {
                put(0..<n); zeros(exponent); w.byte(46); w.byte(48)
            } else if first >= 0 {
                put(0..<(first + 1)); w.byte(46); put((first + 1)..<n)
            } else {
                w.byte(48); w.byte(46); zeros(-first - 1); put(0..<n)
            }
        } else {
            put(0..<1)
            if n > 1 { w.byte(46); put(1..<n) }
            var e = abs(first)
            w.byte(101); w.byte(first < 0 ? 45 : 43)
            // The exponent's digits, at least two.
            var buffer: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0)
            var count = 0
            withUnsafeMutableBytes(of: &buffer) { d in
                repeat { d[count] = UInt8(e % 10) + 48; e /= 10; count += 1 } while e > 0
                if count < 2 { d[count] = 48; count += 1 }
                for k in stride(from: count - 1, through: 0, by: -1) { w.byte(d[k]) }
            }
        }
    }

    /// The text of `b − a`, the exact difference of the two figures' printed decimals; empty when
    /// either is nil (not computed).
    static func differenceText(_ a: Double?, _ b: Double?) -> String {
        guard let a, let b else { return "" }
        return differenceText(a, ShortDecimal(a), b, ShortDecimal(b))
    }

    /// ``differenceText(_:_:)`` with the two figures' decimals already taken (`sa` of `a`, `sb` of `b`).
    static func differenceText(_ a: Double, _ sa: ShortDecimal, _ b: Double, _ sb: ShortDecimal) -> String {
        if let d = ShortDecimal.difference(sa, sb) { return d.text }
        return (ExactDecimal(b) - ExactDecimal(a)).text
    }
}
/// A decimal `±sig × 10^exp` whose digits fit a `UInt64`: the allocation-free path of
/// ``ExactDecimal`` for the differences `pm explain` writes (most figures have ≤ 17 digits on
/// close exponents). Same values and the same text as the general path.
struct ShortDecimal: Equatable {
    var negative = false
    var sig: UInt64 = 0
    var exp = 0

    static let powersOfTen: [UInt64] = (0...19).map { k in (0..<k).reduce(UInt64(1)) { p, _ in p * 10 } }

    /// The most bytes of ``write(into:)``: a `UInt64` has at most 20 digits.
    static let maxText = 20 + 24

    /// Zero.
    init() {}

    /// The printed decimal of a finite `v` (``NumberFormat``'s shortest text, at most 17 digits).
    init(_ v: Double) {
        if v == 0 { return }
        self = withUnsafeTemporaryAllocation(of: CChar.self, capacity: NumberFormat.maxLength) { t in
            ShortDecimal(text: t.baseAddress!, count: NumberFormat.write(v, t.baseAddress!))
        }
    }

    /// The decimal of `count` bytes of text as ``NumberFormat`` writes a finite value (`-`, at most
    /// 17 digits with a `.`, an exponent `e±N`).
    init(text t: UnsafePointer<CChar>, count n: Int) {
        var i = 0, fraction = 0, inFraction = false, e10 = 0
        if t[0] == 45 { negative = true; i = 1 }
        while i < n {
            let c = UInt8(bitPattern: t[i])
            if c == 46 { inFraction = true } else if c == 101 {
                var sign = 1, j = i + 1, e = 0
                if j < n, t[j] == 45 || t[j] == 43 { sign = t[j] == 45 ? -1 : 1; j += 1 }
                while j < n { e = e * 10 + Int(t[j] - 48); j += 1 }
                e10 = sign * e
                break
            } else {
                sig = sig * 10 + UInt64(c - 48)
                if inFraction { fraction += 1 }
            }
            i += 1
        }
        exp = e10 - fraction
        normalize()
    }

    init(negative: Bool, sig: UInt64, exp: Int) {
        self.negative = negative; self.sig = sig; self.exp = exp
        normalize()
    }

    private mutating func normalize() {
        if sig == 0 { negative = false; exp = 0; return }
        while sig % 10 == 0 { sig /= 10; exp += 1 }
    }

    /// `b − a` exactly, or nil when it does not fit (then the general path takes it).
    static func difference(_ a: ShortDecimal, _ b: ShortDecimal) -> ShortDecimal? {
        var na = a
        na.negative = a.sig != 0 && !a.negative
        if na.sig == 0 { return b }
        if b.sig == 0 { return na }
        let e = min(na.exp, b.exp)
        func aligned(_ x: ShortDecimal) -> UInt64? {
            let g = x.exp - e
            guard g < powersOfTen.count else { return nil }
            let (m, o) = x.sig.multipliedReportingOverflow(by: powersOfTen[g])
            return o ? nil : m
        }
        guard let x = aligned(na), let y = aligned(b) else { return nil }
        if na.negative == b.negative {
            let (s, o) = x.addingReportingOverflow(y)
            return o ? nil : ShortDecimal(negative: b.negative, sig: s, exp: e)
        }
        return x >= y ? ShortDecimal(negative: na.negative, sig: x - y, exp: e) : ShortDecimal(negative: b.negative, sig: y - x, exp: e)
    }

    /// The text (``ExactDecimal/text``'s rules).
    var text: String {
        if sig == 0 { return "0.0" }
        return withDigits { ExactDecimal.text(negative: negative, digits: $0, exponent: exp) }
    }

    /// Writes the text (``ExactDecimal/text``'s rules) at `w`: at most ``maxText`` bytes.
    func write(into w: inout RawWriter) {
        if sig == 0 { w.byte(48); w.byte(46); w.byte(48); return }
        withDigits { ExactDecimal.write(negative: negative, digits: $0, exponent: exp, into: &w) }
    }

    /// The digits (values 0…9, most significant first) written to `body`.
    func withDigits<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
            var v = sig, n = 0
            repeat { buf[19 - n] = UInt8(v % 10); v /= 10; n += 1 } while v > 0
            return body(UnsafeBufferPointer(rebasing: buf[(20 - n)...]))
        }
    }
}
