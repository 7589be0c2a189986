import CKernels

/// The digest of one input file in `manifest.json` (docs/formats.md "Scale-out"): its size in bytes and
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
        let fd: FileDescriptor
        do throws(SystemError) { fd = try FileDescriptor.open(path, [.readOnly, .nonBlocking]) } catch {
            throw InputError(file: path, error.errno == .noSuchFile ? "no such file" : "cannot be read (\(error.errno.reason))")
        }
        defer { fd.closeIgnoringErrors() }
        guard (try? fd.status())?.kind == .regular else { throw InputError(file: path, "is not a regular file") }
        let chunk = 1 << 20
        let buf = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buf.deallocate() }
        var s = XXH64Stream()
        while true {
            let n: Int
            do throws(Errno) { n = try fd.read(into: buf, count: chunk) } catch { throw InputError(file: path, "cannot be read (\(error.reason))") }
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
/// hash of everything so far. The arithmetic is CKernels' (`pm_xxh64_*`, the one the input reader
/// hashes with while reading); this type only keeps the bytes of an unfinished 32-byte stripe.
public struct XXH64Stream: Sendable {
    /// Bytes folded in so far.
    public private(set) var size: Int = 0
    private var state = pm_xxh64_state()
    /// Up to 31 bytes not yet folded into a 32-byte stripe.
    private var tail: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var tailCount = 0

    /// A stream that has seen no bytes.
    public init() { pm_xxh64_init(&state, 0) }

    /// Folds `bytes` in.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let n = bytes.count
        var p = 0
        size += n
        if tailCount > 0 {
            // Complete the pending stripe first.
            let take = min(32 - tailCount, n)
            let at = tailCount
            withUnsafeMutableBytes(of: &tail) { $0.baseAddress!.advanced(by: at).copyMemory(from: base, byteCount: take) }
            tailCount += take
            p = take
            guard tailCount == 32 else { return }
            let stripe = tail
            withUnsafeBytes(of: stripe) { _ = pm_xxh64_stripes(&state, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), 32) }
            tailCount = 0
        }
        p += pm_xxh64_stripes(&state, (base + p).assumingMemoryBound(to: UInt8.self), n - p)
        if p < n {
            let rest = n - p
            withUnsafeMutableBytes(of: &tail) { $0.baseAddress!.copyMemory(from: base + p, byteCount: rest) }
            tailCount = rest
        }
    }

    /// Size and XXH64 of every byte folded in so far; the stream can go on afterwards.
    public var digest: InputDigest { InputDigest(size: size, hash: hash) }

    /// XXH64 of everything folded in so far.
    public var hash: UInt64 {
        var finished = state
        let rest = tail
        return withUnsafeBytes(of: rest) { pm_xxh64_finish(&finished, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), tailCount) }
    }
}
