import Foundation
import Testing
@testable import PMGenerate
@testable import PortfolioMargin
@testable import PMTestSupport

/// `pm batch` end to end: files whole or not at all.
struct BatchCommandTests {
    @Test func writesBothFilesAndExits3OnAccountErrors() throws {
        var accounts = RandomAccounts.make(20, seed: 2)
        accounts[1].positions.append(Position(symbol: "NOPE", size: 1))
        let dir = BatchFiles.tempDir("cmd")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(accounts, to: dir)
        let out = try CLI.run(["batch", "--input", dir, "--market", "data/sample/market.json", "--out", dir + "/out"])
        #expect(out.status == 3, "\(out.stderr)")
        #expect(out.stderr.contains("20 accounts, 1 errors"))
        let m = try BatchFiles.read(dir + "/out/margins.csv")
        #expect(m.count == 20 && m[1]["error"]!.contains("NOPE"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/out").sorted() == ["manifest.json", "margins.csv", "units.csv"])
    }

    /// The output folder and its missing parents are created (the README's main job writes out/sample).
    @Test func createsNestedOutputFolders() throws {
        let dir = BatchFiles.tempDir("nested")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(3, seed: 2), to: dir)
        let out = try CLI.run(["batch", "--input", dir, "--market", "data/sample/market.json", "--out", dir + "/a/b/c"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/a/b/c/margins.csv"))
    }

    @Test func aFatalErrorWritesNothing() throws {
        let dir = BatchFiles.tempDir("cmdfatal")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(5, seed: 2), to: dir)
        try FileManager.default.removeItem(atPath: dir + "/balances.csv")
        let out = try CLI.run(["batch", "--input", dir, "--market", "data/sample/market.json", "--out", dir + "/out"])
        #expect(out.status == 1)
        #expect(out.stderr.contains("balances.csv"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/margins.csv"))
        let badShard = try CLI.run(["batch", "--input", dir, "--market", "data/sample/market.json", "--out", dir + "/out", "--shard", "3/3"])
        #expect(badShard.status == 1 && badShard.stderr.contains("shard"))
    }
}
