import Foundation
import Testing
import CKernels
@testable import PortfolioMargin
@testable import PMTestSupport

/// Input files are read into owned memory (no memory map: a truncated file must not raise
/// SIGBUS), must be regular files, must not change while read, and get a digest (size + XXH64).
struct InputFileTests {
    static func temp(_ bytes: [UInt8]) throws -> String {
        let path = BatchFiles.tempDir("input") + "/f.bin"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// XXH64 (seed 0) matches the reference implementation (`XXH64()` of libxxhash 0.8.1, also
    /// the values published with the algorithm) — also streamed in uneven pieces.
    @Test func xxh64MatchesTheReferenceVectors() {
        func h(_ s: String, seed: UInt64 = 0) -> UInt64 { Array(s.utf8).withUnsafeBufferPointer { pm_xxh64($0.baseAddress, $0.count, seed) } }
        #expect(h("") == 0xEF46DB3751D8E999)
        #expect(h("a") == 0xD24EC4F1A98C6E5B)
        #expect(h("abc") == 0x44BC2CF5AD770999)
        #expect(h("Nobody inspects the spammish repetition") == 0xFBCEA83C8A378BF1)
        // Streaming equals one shot, whatever the pieces.
        var rng = SplitMix(seed: 3)
        let data = (0..<3000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        data.withUnsafeBufferPointer { b in
            for n in [0, 1, 31, 32, 33, 63, 64, 100, 1000, 3000] {
                var st = pm_xxh64_state()
                pm_xxh64_init(&st, 0)
                var fed = 0, hashed = 0
                while fed < n {
                    fed = min(n, fed + rng.int(1, 97))
                    hashed += pm_xxh64_stripes(&st, b.baseAddress! + hashed, fed - hashed)
                }
                #expect(pm_xxh64_finish(&st, b.baseAddress! + hashed, n - hashed) == pm_xxh64(b.baseAddress, n, 0), "n = \(n)")
            }
        }
    }

    /// The digest is the size and the XXH64 of the bytes, whatever the read block size; the bytes
    /// are the file's; ASCII is recognised.
    @Test func digestAndBytesWhateverTheBlockSize() throws {
        var rng = SplitMix(seed: 9)
        for size in [0, 1, 31, 32, 33, 4095, 4096, 70_001] {
            let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next() & 0x7F) }
            let path = try Self.temp(bytes)
            let expected = bytes.withUnsafeBufferPointer { pm_xxh64($0.baseAddress, $0.count, 0) }
            for block in [1, 7, 4096, 1 << 20] {
                for parallel in [false, true] {   // two threads read the halves of a large file
                    let f = try InputFile(path: path, blockSize: block, parallelAbove: parallel ? 0 : Int.max)
                    #expect(f.digest.size == size && f.digest.hash == expected, "size \(size), block \(block), parallel \(parallel)")
                    #expect(Array(f.bytes) == bytes)
                    #expect(f.isASCII)
                }
            }
            let (array, digest) = try InputFile.readArray(path)
            #expect(array == bytes && digest.hash == expected)
        }
        let utf8 = try InputFile(path: Self.temp(Array("é".utf8)))
        #expect(!utf8.isASCII)
    }

    /// A file truncated (or grown) while it is read gives an `InputError` naming it — with a
    /// memory map, touching the lost pages was SIGBUS.
    @Test func aFileThatChangesWhileReadIsAnError() throws {
        let bytes = [UInt8](repeating: 65, count: 200_000)
        for change in ["shrink", "grow", "rewrite"] {
            let path = try Self.temp(bytes)
            do {
                _ = try InputFile(path: path, blockSize: 4096) { block in
                    guard block == 1 else { return }
                    switch change {
                    case "shrink": _ = truncate(path, 10_000)
                    case "grow": let h = FileHandle(forWritingAtPath: path)!; h.seekToEndOfFile(); h.write(Data([66])); h.closeFile()
                    default:   // same size, other bytes, later mtime
                        usleep(20_000)
                        let h = FileHandle(forWritingAtPath: path)!; h.write(Data([66])); h.closeFile()
                    }
                }
                Issue.record("\(change): expected an error")
            } catch let e as InputError {
                #expect(e.file == path && e.message.contains("changed while it was being read"), "\(change): \(e)")
            }
        }
    }

    /// A positions.csv truncated while read is an error; truncated after, it is not seen.
    @Test func aBatchInputTruncatedWhileReadIsFatal() throws {
        let dir = BatchFiles.tempDir("trunc")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(300, seed: 2), to: dir)
        let path = dir + "/positions.csv"
        #expect(throws: InputError.self) {
            _ = try InputFile(path: path, blockSize: 1024) { if $0 == 2 { _ = truncate(path, 100) } }
        }
        // Once read, the bytes are ours: truncating the file afterwards changes nothing.
        try BatchFiles.write(RandomAccounts.make(300, seed: 2), to: dir)
        let csv = try CSVFile(path: path, required: ["account_id"])
        let before = csv.file.digest
        _ = truncate(path, 0)
        var rows = 0
        try csv.forEachLine(in: csv.dataStart..<csv.file.bytes.count) { _, _ in rows += 1 }
        #expect(rows > 300 && csv.file.digest.size == before.size)
    }

    /// Only regular files: a directory, a FIFO and a device are refused at once, naming the file.
    @Test func onlyRegularFiles() throws {
        let dir = BatchFiles.tempDir("kinds")
        defer { TestTemp.remove(dir) }
        #expect(mkfifo(dir + "/fifo", 0o644) == 0)
        for (path, what) in [(dir, "a directory"), (dir + "/fifo", "a pipe"), ("/dev/zero", "a device"), (dir + "/none", "no such file")] {
            do { _ = try InputFile(path: path); Issue.record("\(path): expected an error") } catch let e as InputError {
                #expect(e.file == path && e.message.contains(what), "\(e)")
            }
            do { _ = try ParameterSet.load(path: path); Issue.record("\(path): expected an error") } catch let e as InputError {
                #expect(e.file == path && e.message.contains(what), "\(e)")
            }
        }
    }

    /// `BatchInput.digests` lists each file read, for manifest.json.
    @Test func batchInputDigests() throws {
        let dir = BatchFiles.tempDir("digests")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(20, seed: 1), to: dir)
        let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)
        let input = try BatchInput.load(directory: dir, priced: priced)
        #expect(input.digests.map(\.name) == ["accounts.csv", "balances.csv", "positions.csv", "orders.csv"])
        for d in input.digests {
            let bytes = [UInt8](FileManager.default.contents(atPath: dir + "/" + d.name)!)
            #expect(d.digest.size == bytes.count && d.digest.hash == bytes.withUnsafeBufferPointer { pm_xxh64($0.baseAddress, $0.count, 0) })
        }
        // The JSON loaders give the digest of the bytes they read.
        for path in ["data/sample/market.json", "data/params/pm-params.json"] {
            let bytes = [UInt8](FileManager.default.contents(atPath: TestSupport.path(path))!)
            let digest = path.hasSuffix("market.json") ? try MarketSnapshot.loadWithDigest(path: TestSupport.path(path)).digest
                                                       : try ParameterSet.loadWithDigest(path: TestSupport.path(path)).digest
            #expect(digest == InputDigest(bytes))
        }
    }

    /// Messages echo bytes that are not UTF-8 as \x escapes, so two bad values never print alike.
    @Test func fieldEchoShowsInvalidBytes() {
        let a: [UInt8] = [65, 0xFF, 66], b: [UInt8] = [65, 0xFE, 66], c: [UInt8] = [0xE2, 0x82, 0xAC, 0xC3]
        let ea = a.withUnsafeBufferPointer { fieldEcho(($0.baseAddress!, $0.count)) }
        let eb = b.withUnsafeBufferPointer { fieldEcho(($0.baseAddress!, $0.count)) }
        let ec = c.withUnsafeBufferPointer { fieldEcho(($0.baseAddress!, $0.count)) }
        #expect(ea == "\"A\\xFFB\"" && eb == "\"A\\xFEB\"" && ea != eb)
        #expect(ec == "\"€\\xC3\"")
    }

    /// The "changed while it was being read" message says what changed: the size, bytes beyond
    /// the size the system reported, or only the modification time (a hostile review saw "size
    /// 100000000 bytes when opened, 100000000 after", which says nothing).
    @Test func aChangeSaysWhatChanged() throws {
        func message(_ path: String, _ change: () throws -> Void) throws -> String {
            let (fd, opened) = try InputFile.openRegular(path)
            defer { fd.closeIgnoringErrors() }
            try change()
            do { try InputFile.checkUnchanged(fd, path: path, opened: opened) } catch let e as InputError { return e.message }
            return ""
        }
        let path = try Self.temp(Array("0123456789".utf8))
        let grown = try message(path) { try Data("0123456789ab".utf8).write(to: URL(fileURLWithPath: path)) }
        #expect(grown.contains("size 10 bytes when opened, 12 after"), "\(grown)")
        let touched = try message(path) {
            try Data("abcdefghijkl".utf8).write(to: URL(fileURLWithPath: path))
            var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        }
        #expect(touched.contains("size 12 bytes both times, but modified meanwhile"), "\(touched)")
        // A file whose reported size is smaller than what it holds (procfs reports 0).
        let proc = try message("/proc/self/status") {}
        #expect(proc.contains("more than the 0 bytes its size said could be read"), "\(proc)")
        #expect(try message(path) {} == "")
    }
}
