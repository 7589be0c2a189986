import CKernels

// @unchecked Sendable: every stored property is a `let`, and the bytes behind `bytes`/`storage` are
// written only inside `init` (before the object is shared), then only read until `deinit` frees them.
/// An input file read whole into memory this object owns, with its digest (docs/formats.md: inputs
/// are regular files; one that changes or shrinks while it is read gives exit 1 with a message).
///
/// Why not a memory map: a file truncated while mapped turns the next access to the lost pages
/// into SIGBUS, which kills the batch with no message. Reading into an owned buffer makes a
/// truncation an ordinary short read, detected here; after the read nothing outside can change the
/// bytes the parser sees. The cost is one copy (`pread` of blocks into one allocation of the
/// `fstat` size): about 0.3 s of CPU for the 560 MB of a million accounts, measured.
///
/// Each block is hashed right after it is read, while it is still in cache: the digest is the
/// file's size and its XXH64 (seed 0, `pm_xxh64`; `xxhsum -H1` prints the same value) — what
/// `manifest.json` records (docs/formats.md "Scale-out").
public final class InputFile: @unchecked Sendable {
    /// The path as given, used in every message.
    public let path: String
    /// The file's bytes; `bytes.baseAddress` is never nil (an empty file has a 1-byte buffer), and
    /// 32 zero bytes follow the end.
    let bytes: UnsafeBufferPointer<UInt8>
    /// The file's size in bytes and the XXH64 (seed 0) of its bytes.
    public let digest: (size: Int, hash: UInt64)
    /// Every byte is below 0x80: no field can hold invalid UTF-8.
    let isASCII: Bool
    private let storage: UnsafeMutableRawPointer
    private let allocated: Int
    private let mapped: Bool
    private let owned: Bool

    /// Bytes per `pread`: small enough that a block is still in cache when it is hashed.
    static let defaultBlockSize = 512 << 10
    /// Files larger than this are read by two threads (each half a copy out of the page cache).
    static let parallelThreshold = 64 << 20
    /// Files at least this large get an anonymous mapping populated at once (`MAP_POPULATE`: one
    /// call instead of a page fault per 4 KB while the buffer is filled, ~20% less system time
    /// measured); smaller ones a plain allocation. (`MADV_HUGEPAGE` measured slower: compaction.)
    static let mapThreshold = 4 << 20

    /// Reads `path` whole. `afterBlock(k)` is called after block k is read (tests use it to change
    /// the file mid-read).
    init(path: String, blockSize: Int = InputFile.defaultBlockSize, parallelAbove: Int = InputFile.parallelThreshold,
         afterBlock: ((Int) -> Void)? = nil) throws {
        self.path = path
        owned = true
        let (fd, st) = try Self.openRegular(path)
        defer { fd.closeIgnoringErrors() }
        let size = st.size
        let padded = size + 32
        if padded >= Self.mapThreshold, let p = AnonymousMemory.map(padded, populate: true) {
            storage = p
            mapped = true
        } else {
            storage = UnsafeMutableRawPointer.allocate(byteCount: padded, alignment: 64)
            mapped = false
        }
        allocated = padded
        let base = storage.assumingMemoryBound(to: UInt8.self)
        (base + size).initialize(repeating: 0, count: 32)
        do {
            let (hash, ascii) = try Self.readAll(fd, path: path, stat: st, into: base, blockSize: blockSize,
                                                  parallelAbove: parallelAbove, afterBlock: afterBlock)
            digest = (size, hash)
            isASCII = ascii
        } catch {
            if mapped { AnonymousMemory.unmap(storage, padded) } else { storage.deallocate() }
            throw error
        }
        bytes = UnsafeBufferPointer(start: base, count: size)
    }

    /// A view of bytes this object does not own (a streaming reader's buffer: `StreamingBatch`),
    /// so a chunk of a file can be parsed as a `CSVFile`; the caller keeps them alive and unchanged
    /// while the view is used. No digest (the reader computes the file's).
    init(borrowing bytes: UnsafeBufferPointer<UInt8>, path: String) {
        self.path = path
        self.bytes = bytes
        digest = (bytes.count, 0)
        isASCII = false
        storage = UnsafeMutableRawPointer(mutating: bytes.baseAddress!)
        allocated = 0
        mapped = false
        owned = false
    }

    deinit {
        guard owned else { return }
        if mapped { AnonymousMemory.unmap(storage, allocated) } else { storage.deallocate() }
    }

    /// Opens `path` for reading and checks that it is a regular file. `O_NONBLOCK`: opening a FIFO
    /// must not wait for a writer (it would hang forever); it is then refused at once.
    static func openRegular(_ path: String) throws -> (FileDescriptor, FileStatus) {
        let fd: FileDescriptor
        do throws(SystemError) { fd = try FileDescriptor.open(path, [.readOnly, .nonBlocking]) } catch {
            throw InputError(file: path, error.errno == .noSuchFile ? "no such file" : "cannot be read (\(error.errno.reason))")
        }
        let st: FileStatus
        do throws(Errno) { st = try fd.status() } catch {
            fd.closeIgnoringErrors()
            throw InputError(file: path, "cannot be read (\(error.reason))")
        }
        guard st.kind == .regular else {
            fd.closeIgnoringErrors()
            let what: String
            switch st.kind {
            case .directory: what = "a directory"
            case .pipe: what = "a pipe"
            case .socket: what = "a socket"
            case .device: what = "a device"
            default: what = "not a regular file"
            }
            throw InputError(file: path, "is \(what), expected a regular file")
        }
        return (fd, st)
    }

    /// Reads the `st.size` bytes of `fd` into `dst`, hashing as it goes; then checks that the
    /// file neither shrank, grew nor changed meanwhile. Returns (XXH64, whether all bytes are ASCII).
    static func readAll(_ fd: FileDescriptor, path: String, stat st: FileStatus, into dst: UnsafeMutablePointer<UInt8>,
                        blockSize: Int, parallelAbove: Int = InputFile.parallelThreshold,
                        afterBlock: ((Int) -> Void)?) throws -> (UInt64, Bool) {
        let size = st.size
        let block = max(1, blockSize)
        var state = pm_xxh64_state()
        pm_xxh64_init(&state, 0)
        // A large file is read by two threads, halves at a block boundary: the copy out of the
        // page cache is most of the cost. The first half is hashed as it arrives (in cache), the
        // second after both halves are in.
        let split = size > parallelAbove && afterBlock == nil ? (size / 2 / block) * block : size
        // The cache's copy of each block is dropped once it is in `dst` (`PageCacheRelease`).
        let cache = PageCacheRelease(fd: fd.rawValue, size: size)
        var hashed = 0
        if split < size {
            // @unchecked Sendable: part k writes only failure[k] (and part 0 its `hashed`), read after
            // `Workers.run` has joined both parts.
            final class Failure: @unchecked Sendable { var error: Error?; var hashed = 0 }
            let failure = [Failure(), Failure()]
            let dstAddress = UInt(bitPattern: dst)
            withUnsafeMutablePointer(to: &state) { sp in
                let stateAddress = UInt(bitPattern: sp)
                Workers.run(threads: 2) { part in
                    let d = UnsafeMutablePointer<UInt8>(bitPattern: dstAddress)!
                    do {
                        if part == 0 {
                            let s = UnsafeMutablePointer<pm_xxh64_state>(bitPattern: stateAddress)!
                            var hashed = 0
                            defer { failure[0].hashed = hashed }
                            try readRange(fd, path: path, size: size, into: d, 0, split, block: block, cache: cache) { done in
                                hashed += pm_xxh64_stripes(s, d + hashed, done - hashed)
                            }
                        } else {
                            try readRange(fd, path: path, size: size, into: d, split, size, block: block, cache: cache) { _ in }
                        }
                    } catch { failure[part].error = error }
                }
            }
            if let e = failure[0].error ?? failure[1].error { throw e }
            hashed = failure[0].hashed
            // A drop skips pages the other half's reads or the kernel's readahead hold at that moment
            // (and the first half's readahead may cross `split` after the second half dropped those
            // pages): one last pass over the whole file, now that every read is done.
            cache.release(0, size)
        } else {
            var k = 0
            try readRange(fd, path: path, size: size, into: dst, 0, size, block: block, cache: cache) { done in
                hashed += pm_xxh64_stripes(&state, dst + hashed, done - hashed)
                afterBlock?(k)
                k += 1
            }
        }
        hashed += pm_xxh64_stripes(&state, dst + hashed, size - hashed)
        try checkUnchanged(fd, path: path, opened: st)
        let hash = pm_xxh64_finish(&state, dst + hashed, size - hashed)
        return (hash, state.bytesOr & 0x8080_8080_8080_8080 == 0)
    }

    /// The end-of-file check once all `opened.size` bytes are read: one byte more means the file
    /// is still being written; a different size or modification time means it changed.
    static func checkUnchanged(_ fd: FileDescriptor, path: String, opened: FileStatus) throws {
        let size = opened.size
        var probe: UInt8 = 0
        // A failed probe reads as no byte more, as before (the status below still compares).
        let more = (try? fd.read(into: &probe, count: 1, at: size)) ?? -1
        let after: FileStatus
        do throws(Errno) { after = try fd.status() } catch { throw InputError(file: path, "cannot be read (\(error.reason))") }
        if more > 0 || after.size != size || !after.isSameModification(as: opened) {
            // Say what changed: the size, bytes beyond the size (a file still written, or one whose
            // size the system does not report), or only the modification time.
            let what = after.size != size ? "size \(size) bytes when opened, \(after.size) after"
                : more > 0 ? "more than the \(size) bytes its size said could be read"
                : "size \(size) bytes both times, but modified meanwhile"
            throw InputError(file: path, "changed while it was being read (\(what)); nothing was computed")
        }
    }

    /// Reads bytes `from..<to` of `fd` into `dst` in blocks, calling `progress(end of data read)`
    /// after each and releasing the cached pages read (`cache`); a short file is an error.
    private static func readRange(_ fd: FileDescriptor, path: String, size: Int, into dst: UnsafeMutablePointer<UInt8>,
                                  _ from: Int, _ to: Int, block: Int, cache: PageCacheRelease,
                                  _ progress: (Int) -> Void) throws {
        var done = from
        var released = from
        defer { cache.release(released, done) }
        while done < to {
            let n: Int
            do throws(Errno) { n = try fd.read(into: dst + done, count: min(block, to - done), at: done) } catch {
                throw InputError(file: path, "cannot be read (\(error.reason))")
            }
            if n == 0 {
                throw InputError(file: path, "changed while it was being read (it shrank from \(size) to \(done) bytes or less); nothing was computed")
            }
            done += n
            if done - released >= block || done == to {
                cache.release(released, done)
                released = done == to ? done : max(released, PageCacheRelease.alignDown(done))
            }
            progress(done)
        }
    }

    /// The bytes of `path` as an array (JSON inputs), with the same guarantees and its digest.
    static func readArray(_ path: String) throws -> (bytes: [UInt8], digest: (size: Int, hash: UInt64)) {
        let (fd, st) = try openRegular(path)
        defer { fd.closeIgnoringErrors() }
        let size = st.size
        var hash: UInt64 = 0
        var failure: Error?
        let bytes = [UInt8](unsafeUninitializedCapacity: max(1, size)) { buf, count in
            do {
                (hash, _) = try readAll(fd, path: path, stat: st, into: buf.baseAddress!, blockSize: defaultBlockSize, afterBlock: nil)
                count = size
            } catch {
                failure = error
                count = 0
            }
        }
        if let failure { throw failure }
        return (bytes, (size, hash))
    }
}
