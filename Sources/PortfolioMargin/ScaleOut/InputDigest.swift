#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The digest of one input file in `manifest.json` (FORMATS.md "Scale-out"): its size in bytes and
/// XXH64 (seed 0) of its bytes — the 64-bit xxHash of Yann Collet, a published, fixed algorithm
/// (`xxh64sum` from the xxhash tools prints the same 16 hex digits), several GB/s in this plain
/// Swift code, so hashing adds little to reading.
///
/// Until the CSV reader computes it while reading (feeding each buffer to an `XXH64Stream`),
/// `pm batch` hashes the bytes the reader parsed (`BatchInput.digests`) and reads market and params
/// once more for theirs (`InputDigest(path:)`).
public struct InputDigest: Equatable, Sendable, CustomStringConvertible {
    /// The file's size in bytes (0 for an empty file).
    public var size: Int
    /// XXH64, seed 0, of the file's bytes (`0xef46db3751d8e999` for no bytes).
    public var hash: UInt64

    /// A digest from its parts (as read back from a manifest).
    public init(size: Int, hash: UInt64) { self.size = size; self.hash = hash }

    /// The digest an `InputFile` computed while reading.
    public init(_ read: (size: Int, hash: UInt64)) { self.init(size: read.size, hash: read.hash) }

    /// The digest of `bytes`.
    public init(_ bytes: UnsafeRawBufferPointer) {
        var s = XXH64Stream()
        s.update(bytes)
        self = s.digest
    }

    /// The digest of `bytes`.
    public init(_ bytes: UnsafeBufferPointer<UInt8>) { self.init(UnsafeRawBufferPointer(bytes)) }

    /// The digest of `bytes`.
    public init(_ bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { InputDigest($0) }
    }

    /// Reads a regular file and digests it (refusing a pipe or device as the readers do).
    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw InputError(file: path, errno == ENOENT ? "no such file" : "cannot be read (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw InputError(file: path, "is not a regular file") }
        let chunk = 1 << 20
        let buf = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buf.deallocate() }
        var s = XXH64Stream()
        while true {
            let n = read(fd, buf, chunk)
            if n < 0 { if errno == EINTR { continue }; throw InputError(file: path, "cannot be read (\(String(cString: strerror(errno))))") }
            if n == 0 { break }
            s.update(UnsafeRawBufferPointer(start: buf, count: n))
        }
        self = s.digest
    }

    /// 16 lowercase hex digits.
    public var hex: String {
        let s = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// `SIZE bytes, xxh64 HEX`.
    public var description: String { "\(size) bytes, xxh64 \(hex)" }
}

/// XXH64 with seed 0, fed in pieces of any size: `update` folds bytes in, `digest` gives size and
/// hash of everything so far (the reference algorithm, xxhash.h `XXH64_update` / `XXH64_digest`).
public struct XXH64Stream: Sendable {
    /// Bytes folded in so far.
    public private(set) var size: Int = 0
    private var v1: UInt64 = XXH64Stream.P1 &+ XXH64Stream.P2
    private var v2: UInt64 = XXH64Stream.P2
    private var v3: UInt64 = 0
    private var v4: UInt64 = 0 &- XXH64Stream.P1
    /// Up to 31 bytes not yet folded into a 32-byte stripe.
    private var tail: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var tailCount = 0

    /// A stream that has seen no bytes.
    public init() {}

    /// Folds `bytes` in.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var p = 0
        let n = bytes.count
        size += n
        if tailCount > 0 {
            // Complete the pending stripe first.
            let take = min(32 - tailCount, n)
            let at = tailCount
            withUnsafeMutableBytes(of: &tail) { t in
                t.baseAddress!.advanced(by: at).copyMemory(from: base, byteCount: take)
            }
            tailCount += take
            p = take
            guard tailCount == 32 else { return }
            let t = tail
            withUnsafeBytes(of: t) { stripe($0.baseAddress!) }
            tailCount = 0
        }
        var a = v1, b = v2, c = v3, d = v4
        while n - p >= 32 {
            let q = base + p
            a = Self.round(a, UInt64(littleEndian: q.loadUnaligned(as: UInt64.self)))
            b = Self.round(b, UInt64(littleEndian: q.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            c = Self.round(c, UInt64(littleEndian: q.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
            d = Self.round(d, UInt64(littleEndian: q.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
            p += 32
        }
        v1 = a; v2 = b; v3 = c; v4 = d
        if p < n {
            let rest = n - p
            withUnsafeMutableBytes(of: &tail) { t in t.baseAddress!.copyMemory(from: base + p, byteCount: rest) }
            tailCount = rest
        }
    }

    private mutating func stripe(_ q: UnsafeRawPointer) {
        v1 = Self.round(v1, UInt64(littleEndian: q.loadUnaligned(as: UInt64.self)))
        v2 = Self.round(v2, UInt64(littleEndian: q.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        v3 = Self.round(v3, UInt64(littleEndian: q.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
        v4 = Self.round(v4, UInt64(littleEndian: q.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
    }

    /// Size and XXH64 of every byte folded in so far; the stream can go on afterwards.
    public var digest: InputDigest { InputDigest(size: size, hash: hash) }

    /// XXH64 of everything folded in so far.
    public var hash: UInt64 {
        var h: UInt64
        if size >= 32 {
            h = Self.rotl(v1, 1) &+ Self.rotl(v2, 7) &+ Self.rotl(v3, 12) &+ Self.rotl(v4, 18)
            h = Self.merge(h, v1); h = Self.merge(h, v2); h = Self.merge(h, v3); h = Self.merge(h, v4)
        } else {
            h = Self.P5   // seed 0 + P5
        }
        h = h &+ UInt64(size)
        let count = tailCount
        withUnsafeBytes(of: tail) { t in
            var p = 0
            while count - p >= 8 {
                h ^= Self.round(0, UInt64(littleEndian: t.loadUnaligned(fromByteOffset: p, as: UInt64.self)))
                h = Self.rotl(h, 27) &* Self.P1 &+ Self.P4
                p += 8
            }
            if count - p >= 4 {
                h ^= UInt64(UInt32(littleEndian: t.loadUnaligned(fromByteOffset: p, as: UInt32.self))) &* Self.P1
                h = Self.rotl(h, 23) &* Self.P2 &+ Self.P3
                p += 4
            }
            while p < count {
                h ^= UInt64(t[p]) &* Self.P5
                h = Self.rotl(h, 11) &* Self.P1
                p += 1
            }
        }
        h ^= h >> 33; h = h &* Self.P2
        h ^= h >> 29; h = h &* Self.P3
        h ^= h >> 32
        return h
    }

    static let P1: UInt64 = 0x9E37_79B1_85EB_CA87
    static let P2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let P3: UInt64 = 0x1656_67B1_9E37_79F9
    static let P4: UInt64 = 0x85EB_CA77_C2B2_AE63
    static let P5: UInt64 = 0x27D4_EB2F_1656_67C5

    @inline(__always) private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
    @inline(__always) private static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        rotl(acc &+ input &* P2, 31) &* P1
    }
    @inline(__always) private static func merge(_ acc: UInt64, _ v: UInt64) -> UInt64 {
        (acc ^ round(0, v)) &* P1 &+ P4
    }
}
