#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
    #if os(Linux)
    private static let populate = MAP_POPULATE
    #else
    private static let populate: Int32 = 0
    #endif

    /// Reads `path` whole. `afterBlock(k)` is called after block k is read (tests use it to change
    /// the file mid-read).
    init(path: String, blockSize: Int = InputFile.defaultBlockSize, parallelAbove: Int = InputFile.parallelThreshold,
         afterBlock: ((Int) -> Void)? = nil) throws {
        self.path = path
        owned = true
        let (fd, st) = try Self.openRegular(path)
        defer { close(fd) }
        let size = Int(st.st_size)
        let padded = size + 32
        if padded >= Self.mapThreshold,
           let p = mmap(nil, padded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | Self.populate, -1, 0), p != MAP_FAILED {
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
            if mapped { munmap(storage, padded) } else { storage.deallocate() }
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
        if mapped { munmap(storage, allocated) } else { storage.deallocate() }
    }

    /// Opens `path` for reading and checks that it is a regular file. `O_NONBLOCK`: opening a FIFO
    /// must not wait for a writer (it would hang forever); it is then refused at once.
    static func openRegular(_ path: String) throws -> (Int32, stat) {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw InputError(file: path, e == ENOENT ? "no such file" : "cannot be read (\(String(cString: strerror(e))))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw InputError(file: path, "cannot be read (\(String(cString: strerror(e))))")
        }
        let kind = st.st_mode & S_IFMT
        guard kind == S_IFREG else {
            close(fd)
            let what: String
            switch kind {
            case S_IFDIR: what = "a directory"
            case S_IFIFO: what = "a pipe"
            case S_IFSOCK: what = "a socket"
            case S_IFCHR, S_IFBLK: what = "a device"
            default: what = "not a regular file"
            }
            throw InputError(file: path, "is \(what), expected a regular file")
        }
        return (fd, st)
    }

    /// Reads the `st.st_size` bytes of `fd` into `dst`, hashing as it goes; then checks that the
    /// file neither shrank, grew nor changed meanwhile. Returns (XXH64, whether all bytes are ASCII).
    static func readAll(_ fd: Int32, path: String, stat st: stat, into dst: UnsafeMutablePointer<UInt8>,
                        blockSize: Int, parallelAbove: Int = InputFile.parallelThreshold,
                        afterBlock: ((Int) -> Void)?) throws -> (UInt64, Bool) {
        let size = Int(st.st_size)
        let block = max(1, blockSize)
        var state = pm_xxh64_state()
        pm_xxh64_init(&state, 0)
        // A large file is read by two threads, halves at a block boundary: the copy out of the
        // page cache is most of the cost. The first half is hashed as it arrives (in cache), the
        // second after both halves are in.
        let split = size > parallelAbove && afterBlock == nil ? (size / 2 / block) * block : size
        // The cache's copy of each block is dropped once it is in `dst` (`PageCacheRelease`).
        let cache = PageCacheRelease(fd: fd, size: size)
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

    /// The end-of-file check once all `opened.st_size` bytes are read: one byte more means the file
    /// is still being written; a different size or modification time means it changed.
    static func checkUnchanged(_ fd: Int32, path: String, opened: stat) throws {
        let size = Int(opened.st_size)
        var probe: UInt8 = 0
        var more: Int
        repeat { more = pread(fd, &probe, 1, off_t(size)) } while more < 0 && errno == EINTR
        var after = stat()
        guard fstat(fd, &after) == 0 else { throw InputError(file: path, "cannot be read (\(String(cString: strerror(errno))))") }
        if more > 0 || Int(after.st_size) != size || !sameTime(opened, after) {
            throw InputError(file: path, "changed while it was being read (size \(size) bytes when opened, \(Int(after.st_size)) after); nothing was computed")
        }
    }

    /// Reads bytes `from..<to` of `fd` into `dst` in blocks, calling `progress(end of data read)`
    /// after each and releasing the cached pages read (`cache`); a short file is an error.
    private static func readRange(_ fd: Int32, path: String, size: Int, into dst: UnsafeMutablePointer<UInt8>,
                                  _ from: Int, _ to: Int, block: Int, cache: PageCacheRelease,
                                  _ progress: (Int) -> Void) throws {
        var done = from
        var released = from
        defer { cache.release(released, done) }
        while done < to {
            let n = pread(fd, dst + done, min(block, to - done), off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw InputError(file: path, "cannot be read (\(String(cString: strerror(errno))))")
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

    static func sameTime(_ a: stat, _ b: stat) -> Bool {
        #if canImport(Darwin)
        return a.st_mtimespec.tv_sec == b.st_mtimespec.tv_sec && a.st_mtimespec.tv_nsec == b.st_mtimespec.tv_nsec
        #else
        return a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec
        #endif
    }

    /// The bytes of `path` as an array (JSON inputs), with the same guarantees and its digest.
    static func readArray(_ path: String) throws -> (bytes: [UInt8], digest: (size: Int, hash: UInt64)) {
        let (fd, st) = try openRegular(path)
        defer { close(fd) }
        let size = Int(st.st_size)
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
