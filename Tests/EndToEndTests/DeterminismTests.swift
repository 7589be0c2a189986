import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Same inputs ⇒ same output bytes on every run (docs/formats.md "Reproducibility"), through the real
/// `pm`; and `pm merge`'s checks of what the shards hold (docs/formats.md "Scale-out").
@Suite(.serialized) struct DeterminismTests {
    /// Runs `scripts/test-determinism.sh` on a 3,000-account generated book with orphan rows, in
    /// automatic aggregation (PM_DENSE_THRESHOLD unset): repeated runs, --threads 1/2, --block-size
    /// 1/7/256/default under a concurrent CPU load, and 2/3/5 `--shard` runs merged must all give
    /// the first run's margins.csv and units.csv byte for byte.
    @Test func sameBytesAnyRunLoadThreadsBlockSizeAndShards() throws {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: DenseCrossover.environmentVariable)   // CLI.binary pins it for the other tests
        let r = try CLI.run([TestSupport.path("scripts/test-determinism.sh"), CLI.binary, "3000"], executable: "/bin/bash", environment: env)
        let text = r.stdout + r.stderr
        #expect(r.status == 0, "\(text)")
        #expect(text.contains("identical to the first run"), "\(text)")
    }

    /// `--out` a one-character relative name: written there (Foundation's path splitting used to
    /// trap on it, SIGILL).
    @Test func oneCharacterRelativeOut() throws {
        let dir = try ScaleOutTests.book("short-out", errors: false, count: 20)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["batch", "--input", ".", "--market", ScaleOutTests.market, "--params", TestSupport.path("data/params/pm-params.json"),
                       "--out", "m", "--quiet"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(FileManager.default.fileExists(atPath: dir + "/m/margins.csv"))
        #expect(OutputFiles.splitPath("m") == ("", "m") && OutputFiles.splitPath("/m") == ("/", "m") && OutputFiles.splitPath("a/bc") == ("a", "bc"))
    }

    /// A book whose orphan ids (not in accounts.csv) first appear in balances.csv and positions.csv
    /// in an order unrelated to their shards.
    static func orphanBook(_ name: String) throws -> String {
        let dir = BatchFiles.tempDir(name)
        let accounts = RandomAccounts.make(60, seed: 5)
        var positions: [String] = []
        for k in 0..<14 { positions.append("GHOST-\(13 - k),BTCUSDT,1,") }
        try BatchFiles.write(accounts, to: dir, extraPositions: positions)
        var bal = String(decoding: FileManager.default.contents(atPath: dir + "/balances.csv")!, as: UTF8.self)
        for k in [4, 20, 9, 31] { bal += "USDT,GHOST-\(k),5\n" }
        try bal.write(toFile: dir + "/balances.csv", atomically: true, encoding: .utf8)
        return dir
    }

    /// Orphan rows come out of a merge in one run's order: first appearance across the row files.
    @Test(arguments: [2, 3, 5, 7]) func mergeWritesOrphansInOneRunsOrder(n: Int) throws {
        let dir = try Self.orphanBook("orphans-\(n)")
        try ScaleOutTests.batch(dir, dir + "/full")
        let full = String(decoding: ScaleOutTests.bytes(dir + "/full/margins.csv")!, as: UTF8.self)
        #expect(full.split(separator: "\n").filter { $0.hasPrefix("GHOST-") }.count == 16)   // 18 rows, 16 ids
        let outs = try ScaleOutTests.shards(dir, n, dir)
        let r = try CLI.run(["merge"] + outs.reversed() + ["--accounts", dir + "/accounts.csv", "--out", dir + "/merged"])
        #expect(r.status == 3, "\(r.stderr)")
        ScaleOutTests.expectSame(dir + "/full", dir + "/merged", "\(n) shards with orphans")
    }

    /// Each batch manifest records its outputs' digests (size + XXH64, as the inputs').
    @Test func manifestRecordsOutputDigests() throws {
        let dir = try Self.orphanBook("out-digests")
        try ScaleOutTests.batch(dir, dir + "/full")
        let m = try Manifest.load(path: dir + "/full/manifest.json")
        for f in ["margins.csv", "units.csv"] {
            let want = InputDigest([UInt8](ScaleOutTests.bytes(dir + "/full/" + f)!))
            #expect(m.outputs.first { $0.name == f }?.digest == want, "\(f)")
        }
    }

    /// An edited shard output is refused: a repeated units.csv row (manifest digests made to
    /// match, as a hostile edit would) names the folder, file and line; an edit that leaves the
    /// manifest alone is caught by its digests.
    @Test func mergeRefusesRepeatedUnitsRowsAndEditedShards() throws {
        let dir = try ScaleOutTests.book("merge-units")
        let outs = try ScaleOutTests.shards(dir, 2, dir)
        func refused(_ shards: [String], _ says: [String]) throws {
            let out = dir + "/merged-\(UUID().uuidString)"
            let r = try CLI.run(["merge"] + shards + ["--accounts", dir + "/accounts.csv", "--out", out])
            #expect(r.status == 1, "status \(r.status): \(r.stderr)")
            for s in says { #expect(r.stderr.contains(s), "expected \"\(s)\" in: \(r.stderr)") }
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "something was written")
        }
        let copy = dir + "/shard-copy"
        try FileManager.default.copyItem(atPath: outs[1], toPath: copy)
        var lines = String(decoding: ScaleOutTests.bytes(copy + "/units.csv")!, as: UTF8.self).split(separator: "\n").map(String.init)
        lines.insert(lines[4], at: 4)   // line 5 repeated as line 6
        let units = lines.joined(separator: "\n") + "\n"
        try units.write(toFile: copy + "/units.csv", atomically: true, encoding: .utf8)
        // The manifest left alone: its digest catches the edit.
        try refused([outs[0], copy], [copy + "/units.csv", "manifest"])
        // The manifest's digest updated too: the repeated row itself is refused.
        let old = InputDigest([UInt8](ScaleOutTests.bytes(outs[1] + "/units.csv")!)), new = InputDigest(Array(units.utf8))
        var manifest = String(decoding: ScaleOutTests.bytes(copy + "/manifest.json")!, as: UTF8.self)
        #expect(manifest.contains("\"size\": \(old.size), \"hash\": \"\(old.hex)\""))
        manifest = manifest.replacingOccurrences(of: "\"size\": \(old.size), \"hash\": \"\(old.hex)\"", with: "\"size\": \(new.size), \"hash\": \"\(new.hex)\"")
        try manifest.write(toFile: copy + "/manifest.json", atomically: true, encoding: .utf8)
        try refused([outs[0], copy], [copy + "/units.csv", "line 6", "repeats"])
        // margins.csv edited in place (same size): caught by the hash.
        let copy2 = dir + "/shard-copy2"
        try FileManager.default.copyItem(atPath: outs[0], toPath: copy2)
        var m = [UInt8](ScaleOutTests.bytes(copy2 + "/margins.csv")!)
        let digit = m.indices.last { m[$0] >= 49 && m[$0] <= 56 }!
        m[digit] += 1
        try Data(m).write(to: URL(fileURLWithPath: copy2 + "/margins.csv"))
        try refused([copy2, outs[1]], [copy2 + "/margins.csv", "manifest"])
    }
}
