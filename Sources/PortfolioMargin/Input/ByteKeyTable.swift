import CKernels
/// An open-addressing hash table from byte strings to dense indices (account ids, symbols, coins),
/// looked up straight from a CSV field's bytes — no `String` per row. `fnv1a` is the shard hash
/// (docs/model.md §11.16); the table itself uses a faster word hash.
struct ByteKeyTable: Sendable {
    private var storage: [UInt8] = []
    private var keyStart: [Int] = []
    private var keyLength: [Int32] = []
    private var hashes: [UInt64] = []
    /// 0 = empty; else the upper 32 bits of the key's hash (a tag) and its index + 1. A probe
    /// compares tags inside the slot array, so a missing key costs one cache miss, not five.
    private var slots: [UInt64]
    private var mask: Int

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
        storage.reserveCapacity(capacity * 12)
        // Room for `capacity` keys up front: accounts.csv's million inserts otherwise regrow these
        // arrays ~20 times each, copying 20 MB and faulting in fresh pages twice.
        keyStart.reserveCapacity(capacity)
        keyLength.reserveCapacity(capacity)
        hashes.reserveCapacity(capacity)
    }

    @inline(__always) private static func slotValue(_ idx: Int32, hash: UInt64) -> UInt64 {
        (hash & 0xFFFF_FFFF_0000_0000) | UInt64(UInt32(idx) &+ 1)
    }

    var count: Int { keyStart.count }

    /// FNV-1a 64-bit (docs/model.md §11.16 uses it for shards too).
    @inline(__always)
    static func fnv1a(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for i in 0..<n { h = (h ^ UInt64(p[i])) &* 0x100000001b3 }
        return h
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var s = s
        return s.withUTF8 { fnv1a($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
    }

    /// The table's own hash: 8 bytes at a time (the per-row symbol lookup is hot; FNV-1a's byte
    /// loop is kept for the shard hash, which must be the published function).
    @inline(__always)
    static func wordHash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0x9E3779B97F4A7C15 ^ UInt64(truncatingIfNeeded: n)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i &+ 8 <= n {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xbf58476d1ce4e5b9
            h ^= h >> 29
            i &+= 8
        }
        if i < n {
            // The last 1–7 bytes as a little-endian word. A key of 8 bytes or more: its last 8
            // bytes in one load, shifted down (the same word as the byte loop, without the loop).
            var w: UInt64 = 0
            if i > 0 {
                w = raw.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self) &>> UInt64((8 &- (n &- i)) &* 8)
            } else {
                var k = 0
                while k < n { w |= UInt64(p[k]) << UInt64(k &* 8); k &+= 1 }
            }
            h = (h ^ w) &* 0x94d049bb133111eb
        }
        return h ^ (h >> 31)
    }

    /// The index of `key`, or −1.
    @inline(__always)
    func find(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        find(p, n, hash: Self.wordHash(p, n))
    }

    @inline(__always)
    func find(_ p: UnsafePointer<UInt8>, _ n: Int, hash: UInt64) -> Int32 {
        probe(p, n, hash: hash).index
    }

    /// The key's index (or −1) and, when absent, the empty slot where it would go.
    @inline(__always)
    private func probe(_ p: UnsafePointer<UInt8>, _ n: Int, hash: UInt64) -> (index: Int32, slot: Int) {
        var s = Int(truncatingIfNeeded: hash) & mask
        let tag = hash & 0xFFFF_FFFF_0000_0000
        return slots.withUnsafeBufferPointer { slots in
            while true {
                let v = slots[s]
                if v == 0 { return (-1, s) }
                if v & 0xFFFF_FFFF_0000_0000 == tag {
                    let k = Int(v & 0xFFFF_FFFF) - 1
                    if Int(keyLength[k]) == n && storage.withUnsafeBufferPointer({ memEqual($0.baseAddress! + keyStart[k], p, n) }) {
                        return (Int32(k), s)
                    }
                }
                s = (s &+ 1) & mask
            }
        }
    }

    /// Whether key `index` is exactly these bytes (no hashing: for predicted lookups).
    /// Asks the CPU for the first slot a key of hash `h` probes (a serial insert loop issues this a
    /// few keys ahead: each probe of a large table is otherwise a cache miss waited for in turn).
    @inline(__always)
    func prefetch(hash h: UInt64) {
        slots.withUnsafeBufferPointer { pm_prefetch($0.baseAddress! + (Int(truncatingIfNeeded: h) & mask)) }
    }

    @inline(__always)
    func matches(_ index: Int, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        guard index >= 0, index < keyStart.count, Int(keyLength[index]) == n else { return false }
        return storage.withUnsafeBufferPointer { memEqual($0.baseAddress! + keyStart[index], p, n) }
    }

    /// The index among `from ..< from + count` (clamped to the table) whose key is these bytes, or
    /// −1: a short forward scan of keys in insertion order (they lie one after another in
    /// `storage`, so the scan streams) — for a file that follows the insertion order but skips a
    /// few keys (orders.csv skips accounts without orders), it costs less than the hash probe of a
    /// large table, which is a cache miss. Keys are unique, so a hit is `find`'s answer.
    @inline(__always)
    func scan(from: Int, count: Int, _ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        let end = min(from &+ count, keyStart.count)
        guard from >= 0, from < end else { return -1 }
        return keyLength.withUnsafeBufferPointer { length in
            keyStart.withUnsafeBufferPointer { start in
                storage.withUnsafeBufferPointer { bytes in
                    let b = bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!   // no storage: every key is empty
                    var i = from
                    while i < end {
                        if Int(length[i]) == n && memEqual(b + start[i], p, n) { return Int32(i) }
                        i &+= 1
                    }
                    return -1
                }
            }
        }
    }

    /// Calls `body` with key `index`'s bytes (valid during the call only).
    func withKey<R>(_ index: Int, _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
        let n = Int(keyLength[index])
        return storage.withUnsafeBufferPointer { body(n > 0 ? $0.baseAddress! + keyStart[index] : UnsafePointer(bitPattern: 1)!, n) }
    }

    /// Inserts `key` if absent; returns (index, inserted).
    @discardableResult
    mutating func insert(_ p: UnsafePointer<UInt8>, _ n: Int) -> (Int32, Bool) {
        insert(p, n, hash: Self.wordHash(p, n))
    }

    /// `insert` with the key's `wordHash` computed beforehand (in parallel, by the caller).
    @discardableResult
    mutating func insert(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64) -> (Int32, Bool) {
        var (existing, slot) = probe(p, n, hash: h)
        if existing >= 0 { return (existing, false) }
        if (keyStart.count + 1) * 2 > slots.count {
            grow()
            slot = probe(p, n, hash: h).slot
        }
        let idx = Int32(keyStart.count)
        keyStart.append(storage.count)
        keyLength.append(Int32(n))
        hashes.append(h)
        storage.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        slots[slot] = Self.slotValue(idx, hash: h)
        return (idx, true)
    }

    @discardableResult
    mutating func insert(_ s: String) -> (Int32, Bool) {
        var s = s
        return s.withUTF8 { insert($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
    }

    func find(_ s: String) -> Int32 {
        var s = s
        return s.withUTF8 { find($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
    }

    private mutating func grow() {
        slots = [UInt64](repeating: 0, count: slots.count * 2)
        mask = slots.count - 1
        for i in 0..<keyStart.count {
            var s = Int(truncatingIfNeeded: hashes[i]) & mask
            while slots[s] != 0 { s = (s &+ 1) & mask }
            slots[s] = Self.slotValue(Int32(i), hash: hashes[i])
        }
    }
}

@inline(__always)
func memEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self) { return false }
        i += 8
    }
    // The last 1–7 bytes of a key of 8 or more: its last 8 bytes again (overlapping), not a loop.
    if i > 0 { return i == n || UnsafeRawPointer(a + (n &- 8)).loadUnaligned(as: UInt64.self) == UnsafeRawPointer(b + (n &- 8)).loadUnaligned(as: UInt64.self) }
    while i < n { if a[i] != b[i] { return false }; i += 1 }
    return true
}
