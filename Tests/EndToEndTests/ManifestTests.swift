import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// `manifest.json` beside every `pm batch` output (docs/formats.md "Scale-out").
struct ManifestTests {
    func book(_ name: String) throws -> String {
        let dir = BatchFiles.tempDir(name)
        // Two error rows: a bad spot_hedging, and an unknown symbol of an account.
        let accounts = RandomAccounts.make(60, seed: 21)
        try BatchFiles.write(accounts, to: dir, extraPositions: ["\(accounts[0].id),NOT-A-SYMBOL,1,"], extraAccounts: ["ERR-1,maybe"])
        return dir
    }

    @Test func recordsShardCountsAndTheDigestOfEveryInput() throws {
        let dir = try book("manifest")
        let market = TestSupport.path("data/sample/market.json")
        let r = try CLI.run(["batch", "--input", dir, "--market", market, "--out", dir + "/out", "--shard", "1/3"])
        #expect(r.status == 0 || r.status == 3, "\(r.stderr)")
        let m = try Manifest.load(path: dir + "/out/manifest.json")
        let margins = Child.read(dir + "/out/margins.csv")!
        let text = String(decoding: margins, as: UTF8.self)
        #expect(m.shard == ShardSpec(index: 1, count: 3))
        #expect(m.accounts == Child.dataRows(margins))
        #expect(m.errors == text.split(separator: "\n").dropFirst().filter { !$0.hasSuffix(",") }.count)
        #expect(m.pm == PMVersion.string)
        #expect(TestSupport.near(m.finished, Date().timeIntervalSince1970, within: 120))
        var names = ["accounts.csv", "balances.csv", "positions.csv"]
        if FileManager.default.fileExists(atPath: dir + "/orders.csv") { names.append("orders.csv") }
        #expect(m.inputs.map(\.name) == names + ["market", "params"])
        for (name, d) in m.inputs {
            let path = name == "market" ? market : (name == "params" ? TestSupport.path("data/params/pm-params.json") : dir + "/" + name)
            #expect(d == (try InputDigest(path: path)), "\(name)")
            #expect(d.size == (try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int))
        }
    }

    @Test func digestsChangeWhenAnInputChanges() throws {
        let dir = try book("manifest-change")
        let market = TestSupport.path("data/sample/market.json")
        _ = try CLI.run(["batch", "--input", dir, "--market", market, "--out", dir + "/out1"])
        // One byte of positions.csv changes (a size 1 → 2 keeps the file valid and its length).
        var pos = String(decoding: Child.read(dir + "/positions.csv")!, as: UTF8.self)
        pos = pos.replacingOccurrences(of: ",NOT-A-SYMBOL,1,", with: ",NOT-A-SYMBOL,2,")
        try pos.write(toFile: dir + "/positions.csv", atomically: false, encoding: .utf8)
        _ = try CLI.run(["batch", "--input", dir, "--market", market, "--out", dir + "/out2"])
        let a = try Manifest.load(path: dir + "/out1/manifest.json"), b = try Manifest.load(path: dir + "/out2/manifest.json")
        for ((n1, d1), (n2, d2)) in zip(a.inputs, b.inputs) {
            #expect(n1 == n2)
            if n1 == "positions.csv" { #expect(d1 != d2 && d1.size == d2.size) } else { #expect(d1 == d2, "\(n1)") }
        }
    }
}
