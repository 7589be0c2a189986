/// An append-only byte buffer for output text (CSV rows), with number formatting that follows
/// docs/model.md §11.17 (shortest round trip, `inf`).
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

    /// Appends the bytes `body` writes through a `RawWriter` — at most `maxCount` of them (numbers
    /// count `NumberFormat.maxText` each) — straight into the array's spare capacity (grown by
    /// doubling when short): no `Array.append` (capacity and uniqueness checks) per field.
    mutating func append(maxCount: Int, _ body: (inout RawWriter) -> Void) {
        // The formatter may write up to its room past the last number's text.
        let room = maxCount + NumberFormat.maxLength
        if bytes.capacity - bytes.count < room { bytes.reserveCapacity(Swift.max(bytes.count + room, 2 * bytes.capacity)) }
        withoutActuallyEscaping(body) { body in
            bytes.append(contentsOf: RawFill(room: room, limit: maxCount, body: body))
        }
    }
}

/// A sequence that `Array.append(contentsOf:)` lets write straight into the array's spare capacity:
/// `_copyContents(initializing:)` gets the whole uninitialized tail (reserved by the caller; checked).
/// `underestimatedCount` stays 0 — append traps if fewer elements than it are written.
private struct RawFill: Sequence {
    let room: Int, limit: Int
    let body: (inout RawWriter) -> Void

    var underestimatedCount: Int { 0 }
    func makeIterator() -> EmptyCollection<UInt8>.Iterator { EmptyCollection<UInt8>.Iterator() }

    func _copyContents(initializing buffer: UnsafeMutableBufferPointer<UInt8>) -> (EmptyCollection<UInt8>.Iterator, Int) {
        precondition(buffer.count >= room, "spare capacity smaller than the bound")
        var w = RawWriter(buffer.baseAddress!)
        body(&w)
        let count = buffer.baseAddress!.distance(to: w.p)
        precondition(count <= limit, "output row bound exceeded")
        return (makeIterator(), count)
    }
}

/// A cursor writing output text into memory reserved for it (`ByteBuffer.append(maxCount:_:)`):
/// no bounds, capacity or uniqueness checks per byte; the caller reserved an upper bound.
struct RawWriter {
    var p: UnsafeMutablePointer<UInt8>

    init(_ p: UnsafeMutablePointer<UInt8>) { self.p = p }

    @inline(__always) mutating func byte(_ b: UInt8) { p.pointee = b; p += 1 }

    @inline(__always) mutating func copy(_ s: UnsafeBufferPointer<UInt8>) {
        guard let base = s.baseAddress else { return }
        UnsafeMutableRawPointer(p).copyMemory(from: base, byteCount: s.count)
        p += s.count
    }

    @inline(__always) mutating func copy(_ a: [UInt8]) { a.withUnsafeBufferPointer { copy($0) } }

    /// The number's text (docs/model.md §11.17): at most `NumberFormat.maxText` bytes; the formatter
    /// may scribble up to `NumberFormat.maxLength` bytes, which later writes overwrite.
    @inline(__always) mutating func number(_ v: Double) {
        p += p.withMemoryRebound(to: CChar.self, capacity: NumberFormat.maxLength) { NumberFormat.write(v, $0) }
    }

    /// A CSV field, quoted when it holds a comma, quote or line break (at most 2·count + 2 bytes).
    mutating func field(_ s: String) {
        var s = s
        s.withUTF8 { u in
            var needsQuote = false
            for b in u where b == 44 || b == 34 || b == 10 || b == 13 { needsQuote = true; break }
            guard needsQuote else { copy(u); return }
            byte(34)
            for b in u {
                if b == 34 { byte(34) }
                byte(b)
            }
            byte(34)
        }
    }
}
