import Foundation
import Testing
@testable import PMGenerate
@testable import PortfolioMargin
@testable import PMTestSupport

/// `pm generate` through the real command: the files it writes are `SyntheticAccounts`' bytes.
struct GenerateCommandTests {
        @Test func commandWritesTheFolderAndRejectsBadArguments() throws {
        let base = TestTemp.dir("generate-cli")
        defer { TestTemp.remove(base) }
        let dir = URL(fileURLWithPath: base + "/out")
        let ok = try CLI.run(["generate", "--accounts", "120", "--seed", "3", "--out", dir.path])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stderr.contains("120 accounts"))
        for name in ["market.json", "accounts.csv", "balances.csv", "positions.csv", "orders.csv"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path), "\(name) missing")
        }
        let market = try String(contentsOf: dir.appendingPathComponent("market.json"), encoding: .utf8)
        #expect(market == SyntheticMarket.make(seed: 3))
        let files = try GeneratedBook.generate(120, seed: 3, market: MarketSnapshot.parse(JSON.parse(market)))
        for f in SyntheticAccounts.File.allCases {
            let disk = try [UInt8](Data(contentsOf: dir.appendingPathComponent(f.fileName)))
            #expect(disk == files[f])
        }

        let noCopy = dir.appendingPathComponent("nocopy")
        let r = try CLI.run(["generate", "--accounts", "10", "--out", noCopy.path, "--market", "data/sample/market.json", "--no-market-copy"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: noCopy.appendingPathComponent("market.json").path))
        #expect(FileManager.default.fileExists(atPath: noCopy.appendingPathComponent("positions.csv").path))

        for bad in [["--accounts", "0"], ["--accounts", "-3"], ["--accounts", "x"], ["--accounts", "5", "--seed", "-1"],
                    ["--accounts", "5", "--no-market-copy"]] {
            let out = try CLI.run(["generate"] + bad + ["--out", dir.appendingPathComponent("bad").path])
            #expect(out.status == 1, "\(bad): \(out.status)")
            #expect(!out.stderr.isEmpty)
        }
        let missing = try CLI.run(["generate", "--accounts", "5", "--out", dir.appendingPathComponent("bad").path, "--market", "/nonexistent/market.json"])
        #expect(missing.status == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad").appendingPathComponent("accounts.csv").path))
    }
}
