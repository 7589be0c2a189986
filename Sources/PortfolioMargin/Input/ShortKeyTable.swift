/// The keys of 1–24 bytes of a `ByteKeyTable` (symbols, coins), each stored inline in a 32-byte
/// slot, so that a lookup is a hash of the field's three words and, usually, one cache line: the
/// batch reader's per-row symbol lookup. `ByteKeyTable.find` reads the slot, then the
/// key's length and offset, then its bytes — three dependent loads — after a serial hash; position
/// rows almost never repeat the previous row's symbol, so that chain was ~25% of the row parse.
///
/// Measured (1M book, perf samples of the parse): keys up to 32 bytes — a tenth of the generated
/// symbols have 25 — in 64-byte slots, or in 32-byte slots with the header in an array beside,
/// were both ~4% slower than this: the larger lookup was no longer inlined into the row loop.
///
/// The answer is `ByteKeyTable.find`'s, exactly: every key of 1–24 bytes is here with its index,
/// so for a field of 1–24 bytes an empty slot means absent; a longer or empty field, or one whose
/// 24 bytes are not readable, is not decided here (`find` returns nil; the caller asks the table).
final class ShortKeyTable: @unchecked Sendable {
    // @unchecked Sendable: `slots` is written only in `init` and read only after it.
    /// Slot s is words 4s ..< 4s+4: header (0: empty; else key length | index << 32), then the
    /// key's bytes as three little-endian words, zero past the key's end. 64-byte aligned, so a
    /// slot never straddles a cache line.
    let slots: UnsafeMutablePointer<UInt64>
    let mask: Int
    /// 64 − log2(slot count): the hash's top bits pick the slot (they depend on every key byte).
    let shift: UInt64
    static let maxLength = 24

    init(_ table: ByteKeyTable) {
        var size = 16
        while size < table.count * 2 { size <<= 1 }   // load ≤ 1/2: short probe runs
        mask = size - 1
        shift = UInt64(64 - size.trailingZeroBitCount)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size * 32, alignment: 64)
        slots = raw.initializeMemory(as: UInt64.self, repeating: 0, count: size * 4)
        for i in 0..<table.count {
            table.withKey(i) { p, n in
                guard n >= 1, n <= Self.maxLength else { return }
                // A key's bytes in a zeroed buffer: no read past the table's storage.
                var buf: (UInt64, UInt64, UInt64) = (0, 0, 0)
                withUnsafeMutableBytes(of: &buf) { $0.baseAddress!.copyMemory(from: p, byteCount: n) }
                let w = (UInt64(littleEndian: buf.0), UInt64(littleEndian: buf.1), UInt64(littleEndian: buf.2))
                var s = slot(w, n)
                while slots[s &* 4] != 0 { s = (s &+ 1) & mask }
                slots[s &* 4] = UInt64(n) | UInt64(i) << 32
                slots[s &* 4 &+ 1] = w.0
                slots[s &* 4 &+ 2] = w.1
                slots[s &* 4 &+ 3] = w.2
            }
        }
    }

    deinit { UnsafeMutableRawPointer(slots).deallocate() }

    @inline(__always)
    private func slot(_ w: (UInt64, UInt64, UInt64), _ n: Int) -> Int {
        let h = (w.0 &* 0x9E37_79B9_7F4A_7C15) &+ (w.1 &* 0xBF58_476D_1CE4_E5B9) &+ (w.2 &* 0x94D0_49BB_1331_11EB) &+ UInt64(n)
        return Int(truncatingIfNeeded: h &>> shift)
    }

    /// The index of the key `p[0..<n]` (−1: absent), or nil when not decided here (n outside
    /// 1...24, or fewer than 24 bytes readable at `p` before `end`; the caller then asks
    /// `ByteKeyTable.find`). The caller guarantees `p ..< end` is one readable buffer.
    @inline(__always)
    func find(_ p: UnsafePointer<UInt8>, _ n: Int, readableTo end: UnsafePointer<UInt8>) -> Int32? {
        guard UInt(bitPattern: n &- 1) < UInt(Self.maxLength), end - p >= 24 else { return nil }
        let raw = UnsafeRawPointer(p)
        // Bytes of word k inside the key: clamp(n − 8k, 0, 8); a mask of 64 bits is all ones.
        let b0 = UInt64(min(n, 8) &* 8), b1 = UInt64(min(max(n &- 8, 0), 8) &* 8), b2 = UInt64(max(n &- 16, 0) &* 8)
        let w0 = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)) & ((1 << b0) &- 1)
        let w1 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) & ((1 << b1) &- 1)
        let w2 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)) & ((1 << b2) &- 1)
        var s = slot((w0, w1, w2), n)
        let header = UInt64(n)
        while true {
            let q = slots + s &* 4
            let h = q[0]
            if h == 0 { return -1 }
            if h & 0xFFFF_FFFF == header, q[1] == w0, q[2] == w1, q[3] == w2 { return Int32(truncatingIfNeeded: h &>> 32) }
            s = (s &+ 1) & mask
        }
    }
}
