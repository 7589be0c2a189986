import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport
import CPlatform
#if canImport(Glibc)
import Glibc
#endif

/// The page-cache hints (CPlatform `pm_drop_cached`, `pm_drop_written`, `pm_cache_snapshot_*`,
/// `PageCacheRelease`, and their uses in `InputFile`, `StreamFile`, `OutputFiles`): they never
/// change a byte that is read or written, report their errors by number, and drop only the pages
/// the reader brought into the cache itself.
struct PageCacheTests {
    static let page = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Bytes that differ from page to page (a dropped and re-read page cannot pass for another).
    static func pattern(_ n: Int, seed: UInt64 = 7) -> [UInt8] {
        var s = seed, out = [UInt8](repeating: 0, count: n)
        for i in 0..<n {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            out[i] = UInt8(truncatingIfNeeded: s >> 56)
        }
        return out
    }

    /// Writes `bytes` to a new file, flushed to the device (clean pages, which a drop can remove).
    static func writeFlushed(_ bytes: [UInt8], name: String = "f.bin") throws -> String {
        let path = TestTemp.file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        #expect(fsync(fd) == 0)
        close(fd)
        return path
    }

    /// Which pages of `fd`'s first `size` bytes are in the page cache (`mincore`), nil when unknown.
    static func resident(_ fd: Int32, _ size: Int) -> [Bool]? {
        guard size > 0, let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else { return nil }
        defer { munmap(map, size) }
        var v = [UInt8](repeating: 0, count: (size + page - 1) / page)
        guard mincore(map, size, &v) == 0 else { return nil }
        return v.map { $0 & 1 != 0 }
    }

    /// Reads all of `fd` with `pread` (into the cache) and returns the bytes.
    static func readAll(_ fd: Int32, _ size: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, size - done, off_t(done)) }
            if n <= 0 { break }
            done += n
        }
        return Array(out[0..<done])
    }

    /// Whether this file system drops clean pages on `POSIX_FADV_DONTNEED` (tmpfs, for one, keeps
    /// them: its pages are the file). Where it does not, the tests still check content and errors.
    static func dropsPages(_ fd: Int32, _ size: Int) -> Bool {
        _ = readAll(fd, size)
        guard let before = resident(fd, size), before.allSatisfy({ $0 }) else { return false }
        _ = pm_drop_cached(fd, 0, 0)
        guard let after = resident(fd, size) else { return false }
        return after.allSatisfy { !$0 }
    }

    /// Dropping a cached file changes nothing that is read back, and the pages leave the cache.
    @Test func dropKeepsContent() throws {
        let bytes = Self.pattern(37 * Self.page + 123)
        let path = try Self.writeFlushed(bytes)
        defer { TestTemp.remove((path as NSString).deletingLastPathComponent) }
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let supported = Self.dropsPages(fd, bytes.count)
        #expect(Self.readAll(fd, bytes.count) == bytes)
        #expect(pm_drop_cached(fd, 0, 0) == 0)
        if supported { #expect(Self.resident(fd, bytes.count)?.allSatisfy { !$0 } == true) }
        #expect(Self.readAll(fd, bytes.count) == bytes)
        // A range: pages 3..<10 only.
        #expect(pm_drop_cached(fd, Int64(3 * Self.page), Int64(7 * Self.page)) == 0)
        if supported, let r = Self.resident(fd, bytes.count) {
            #expect(r[0..<3].allSatisfy { $0 } && r[3..<10].allSatisfy { !$0 } && r[10...].allSatisfy { $0 })
        }
        #expect(Self.readAll(fd, bytes.count) == bytes)
    }

    /// The errors are numbers, per the contract in CPlatform.h: a closed descriptor, a pipe, a
    /// negative range; nothing traps.
    @Test func errorsAreReportedNotFatal() throws {
        #expect(pm_drop_cached(-1, 0, 0) == EBADF)
        #expect(pm_drop_written(-1, 0, 4096) == EBADF)
        var p: [Int32] = [0, 0]
        try #require(pipe(&p) == 0)
        defer { close(p[0]); close(p[1]) }
        #expect(pm_drop_cached(p[0], 0, 0) == ESPIPE)
        #expect(pm_drop_written(p[1], 0, 4096) == ESPIPE)
        let path = try Self.writeFlushed(Self.pattern(3 * Self.page))
        defer { TestTemp.remove((path as NSString).deletingLastPathComponent) }
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        #expect(pm_drop_cached(fd, -1, 0) == EINVAL)
        #expect(pm_drop_cached(fd, 0, -1) == EINVAL)
        #expect(pm_drop_written(fd, 0, 0) == EINVAL)
        #expect(pm_cache_drop_new(nil, fd, 0, 10) == EINVAL)
        let snapshot = pm_cache_snapshot_take(fd, Int64(3 * Self.page))
        defer { pm_cache_snapshot_free(snapshot) }
        #expect(snapshot != nil)
        #expect(pm_cache_drop_new(snapshot, fd, 10, 5) == EINVAL)
        #expect(pm_cache_snapshot_take(fd, -1) == nil)
        close(fd)
        // The fd is closed now: the drop reports EBADF, the release ignores it.
        #expect(pm_drop_cached(fd, 0, 0) == EBADF)
        // (A snapshot taken on the pipe knows of no cached page, so every page of the range is tried.)
        let blind = pm_cache_snapshot_take(p[0], Int64(3 * Self.page))
        defer { pm_cache_snapshot_free(blind) }
        #expect(pm_cache_drop_new(blind, fd, 0, Int64(3 * Self.page)) == EBADF)
        #expect(pm_cache_drop_new(blind, fd, 0, 0) == 0)   // an empty range: nothing to do
        // The Swift wrapper on a pipe: no snapshot of a file, nothing happens, nothing fails.
        let onPipe = PageCacheRelease(fd: p[0], size: 3 * Self.page)
        onPipe.release(0, 3 * Self.page)
    }

    /// Pages cached before the reader opened the file stay cached; those it read in are dropped,
    /// whole pages only (a page partly in the range stays until a later range covers the rest).
    @Test func releaseDropsOnlyWhatTheReaderBroughtIn() throws {
        let pages = 40
        let bytes = Self.pattern(pages * Self.page + 100)   // 41 pages, the last partial
        let path = try Self.writeFlushed(bytes)
        defer { TestTemp.remove((path as NSString).deletingLastPathComponent) }
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let supported = Self.dropsPages(fd, bytes.count)
        // No readahead on this descriptor: reading pages 0..<10 must not cache the ones after.
        #expect(posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM) == 0)
        // Someone else cached pages 0..<10.
        var head = [UInt8](repeating: 0, count: 10 * Self.page)
        #expect(pread(fd, &head, head.count, 0) == head.count)
        let cache = PageCacheRelease(fd: fd, size: bytes.count)
        #expect(Self.readAll(fd, bytes.count) == bytes)
        // Up to the middle of page 20: pages 10..<20 go; 20 (partly in range) stays.
        cache.release(0, 20 * Self.page + 5)
        if supported, let r = Self.resident(fd, bytes.count) {
            #expect(r[0..<10].allSatisfy { $0 })
            #expect(r[10..<20].allSatisfy { !$0 })
            #expect(r[20...].allSatisfy { $0 })
        }
        // To the end: the rest goes, the partial last page included.
        cache.release(20 * Self.page, bytes.count)
        if supported, let r = Self.resident(fd, bytes.count) {
            #expect(r[0..<10].allSatisfy { $0 })
            #expect(r[10...].allSatisfy { !$0 })
        }
        #expect(Self.readAll(fd, bytes.count) == bytes)
        #expect(PageCacheRelease.alignDown(20 * Self.page + 5) % Self.page == 0)
        #expect(PageCacheRelease.alignDown(20 * Self.page + 5) <= 20 * Self.page + 5)
    }

    /// `InputFile` (both halves read by two threads) and `StreamFile` (pieces) return the file's
    /// bytes and digest, and leave none of the pages they read in the cache.
    @Test func readersKeepContentAndLeaveNoPagesBehind() throws {
        let bytes = Self.pattern(300 * Self.page + 77, seed: 11)
        let path = try Self.writeFlushed(bytes)
        defer { TestTemp.remove((path as NSString).deletingLastPathComponent) }
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let supported = Self.dropsPages(fd, bytes.count)
        let expected = InputDigest(bytes)

        // Two halves (parallelAbove below the size), blocks of 16 pages.
        let whole = try InputFile(path: path, blockSize: 16 * Self.page, parallelAbove: 64 * Self.page)
        #expect(Array(whole.bytes) == bytes)
        #expect(InputDigest(whole.digest) == expected)
        if supported { #expect(Self.resident(fd, bytes.count)?.allSatisfy { !$0 } == true) }

        // One thread, uneven pieces that cut pages.
        let stream = try StreamFile(path: path)
        var got = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 5 * Self.page + 3)
        while !stream.atEnd {
            let n = try buf.withUnsafeMutableBufferPointer { try stream.read(into: $0.baseAddress!, capacity: $0.count) }
            got += buf[0..<n]
        }
        #expect(got == bytes)
        #expect(stream.digest == expected)
        if supported { #expect(Self.resident(fd, bytes.count)?.allSatisfy { !$0 } == true) }
    }

    /// `OutputFiles` drops the pages it wrote back (two writeback steps behind, the rest at commit)
    /// and the committed files hold exactly the bytes written.
    @Test func outputsKeepContentAndLeaveNoPagesBehind() throws {
        let out = TestTemp.dir("out")
        defer { TestTemp.remove(out) }
        let f = try OutputFiles(directory: out + "/o", names: ["a.csv", "b.csv"])
        let piece = Self.pattern(3 << 20, seed: 5)
        var a = [UInt8](), b = [UInt8]()
        for k in 0..<12 {   // 36 MB in a.csv: four writeback steps of 8 MB and more
            try f.write(0, piece); a += piece
            if k % 4 == 0 { let s = Array(piece[0..<1000 + k]); try f.write(1, s); b += s }
        }
        try f.commit()
        // Whether this file system drops pages at all, on a file of its own in the same folder.
        let probe = try Self.writeFlushed(Self.pattern(8 * Self.page), name: "probe.bin")
        defer { TestTemp.remove((probe as NSString).deletingLastPathComponent) }
        let pfd = open(probe, O_RDONLY)
        try #require(pfd >= 0)
        let supported = Self.dropsPages(pfd, 8 * Self.page)
        close(pfd)
        for (name, content) in [("a.csv", a), ("b.csv", b)] {
            let fd = open(out + "/o/" + name, O_RDONLY)
            try #require(fd >= 0)
            defer { close(fd) }
            // Before anything reads it back: none of the written pages is left in the cache.
            if supported { #expect(Self.resident(fd, content.count)?.allSatisfy { !$0 } == true) }
            #expect(Self.readAll(fd, content.count + 10) == content)
        }
    }
}
