/// An append-only byte buffer for output text (CSV rows), with number formatting that follows
/// MODEL.md §11.17 (shortest round trip, `inf`).
struct ByteBuffer {
    var bytes: [UInt8] = []

    init(capacity: Int = 1 << 16) { bytes.reserveCapacity(capacity) }

    @inline(__always) mutating func append(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    @inline(__always) mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    @inline(__always) mutating func byte(_ b: UInt8) { bytes.append(b) }

    @inline(__always) mutating func number(_ v: Double) {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: NumberFormat.maxLength) { t in
            let n = NumberFormat.write(v, t.baseAddress!)
            t.withMemoryRebound(to: UInt8.self) { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// A CSV field, quoted when it holds a comma, quote or line break.
    mutating func field(_ s: String) {
        var needsQuote = false
        for u in s.utf8 where u == 44 || u == 34 || u == 10 || u == 13 { needsQuote = true; break }
        guard needsQuote else { append(s); return }
        byte(34)
        for u in s.utf8 {
            if u == 34 { byte(34) }
            byte(u)
        }
        byte(34)
    }
}
