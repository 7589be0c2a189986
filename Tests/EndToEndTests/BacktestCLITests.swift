import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// `pm backtest` end to end: hostile arguments and files (exit 1, one line, nothing written),
/// exit 3 with error accounts, and the same bytes at any --threads, block size and shard split
/// joined by `pm merge`.
@Suite struct BacktestCLITests {
    let dir = try! TrustTempDir()
    static let outputs = ["backtest.csv", "backtest-units.csv", "scenarios.csv", "summary.json"]

    /// A generated book of `n` accounts (its market beside it).
    func generated(_ n: Int) throws -> String {
        let input = dir.path("gen\(n)")
        let r = try CLI.run(["generate", "--accounts", "\(n)", "--seed", "7", "--out", input])
        #expect(r.status == 0, "\(r.stderr)")
        return input
    }

    func backtest(_ input: String, _ out: String, _ extra: [String] = []) throws -> CLI.Output {
        try CLI.run(["backtest", "--input", input, "--market", input + "/market.json", "--out", out, "--quiet",
                     "--from", "2025-09-01", "--to", "2025-12-31"] + extra)
    }

    func bytes(_ folder: String) throws -> [[UInt8]] {
        try Self.outputs.map { Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/" + $0))) }
    }

    @Test func sameBytesAtAnyThreadsBlockSizeAndShardSplit() throws {
        let input = try generated(400)
        let one = dir.path("one")
        let r = try backtest(input, one, ["--threads", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        let reference = try bytes(one)
        for extra in [["--threads", "2"], ["--threads", "2", "--block-size", "7"], ["--threads", "1", "--block-size", "1000"]] {
            let out = dir.path("t\(extra.joined())")
            #expect(try backtest(input, out, extra).status == 0)
            #expect(try bytes(out) == reference, "\(extra)")
        }
        for n in [2, 3] {
            var shards: [String] = []
            for i in 0..<n {
                let s = dir.path("s\(n)-\(i)")
                let sr = try backtest(input, s, ["--shard", "\(i)/\(n)", "--threads", "2", "--block-size", "50"])
                #expect(sr.status == 0, "\(sr.stderr)")
                shards.append(s)
            }
            let merged = dir.path("merged\(n)")
            let m = try CLI.run(["merge"] + shards.reversed() + ["--accounts", input + "/accounts.csv", "--out", merged])
            #expect(m.status == 0, "\(m.stderr)")
            #expect(try bytes(merged) == reference, "N = \(n)")
        }
        // The header and column names are the documented ones.
        let csv = String(decoding: reference[0], as: UTF8.self)
        #expect(csv.hasPrefix(BacktestJob.accountsHeader))
        let summary = try JSON.parse(reference[3])
        #expect(summary["window"]?["from"] == .string("2025-09-01") && summary["window"]?["to"] == .string("2025-12-31"))
        #expect(summary["scenarios"] == .number(122) && summary["horizon"] == .number(1))
    }

    @Test func mergeRefusesMixedOrMissingShards() throws {
        let input = try generated(60)
        let a = dir.path("a0"), b = dir.path("b1"), c = dir.path("c1h2")
        #expect(try backtest(input, a, ["--shard", "0/2"]).status == 0)
        #expect(try backtest(input, b, ["--shard", "1/2"]).status == 0)
        #expect(try backtest(input, c, ["--shard", "1/2", "--horizon", "2"]).status == 0)
        let out = dir.path("m")
        for (shards, word) in [([a], "missing"), ([a, c], "horizon"), ([a, a], "twice")] {
            let r = try CLI.run(["merge"] + shards + ["--accounts", input + "/accounts.csv", "--out", out])
            #expect(r.status == 1 && r.stderr.contains(word), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Test func errorAccountsExitThreeWithTheirRowListed() throws {
        let input = dir.path("errs")
        try CLITrustTests.writeBatch(at: input, positions: "A1,BTCUSDT,0.1\nA2,NOSUCH,1\n")
        let out = dir.path("errs-out")
        let r = try CLI.run(["backtest", "--input", input, "--market", TestSupport.path("\(CLI.fixtures)/market.json"),
                             "--out", out, "--quiet", "--from", "2025-01-01", "--to", "2025-01-31"])
        #expect(r.status == 3, "\(r.stderr)")
        let rows = try String(contentsOfFile: out + "/backtest.csv", encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 3)
        #expect(rows[2].hasPrefix("A2,,,,,,,,,,,,,") && rows[2].contains("NOSUCH"))
        #expect(rows[1].hasPrefix("A1,") && rows[1].contains(",31,"))
    }

    @Test func hostileArgumentsAreOneLineRefusals() throws {
        let input = dir.path("in")
        try CLITrustTests.writeBatch(at: input, positions: "A1,BTCUSDT,0.1\n")
        let m = TestSupport.path("\(CLI.fixtures)/market.json")
        let base = ["backtest", "--input", input, "--market", m, "--quiet"]
        let out = dir.path("o")
        let cases: [([String], [String])] = [
            (["--out", out, "--horizon", "0"], ["--horizon", "between 1 and 365"]),
            (["--out", out, "--horizon", "366"], ["--horizon", "366"]),
            (["--out", out, "--horizon", "-5"], ["--horizon"]),
            (["--out", out, "--horizon", "99999999999999999999999"], ["--horizon"]),
            (["--out", out, "--horizon", "1.5"], ["--horizon", "whole number"]),
            (["--out", out, "--confidence", "1"], ["--confidence", "between 0 and 1"]),
            (["--out", out, "--confidence", "0"], ["--confidence"]),
            (["--out", out, "--confidence", "nan"], ["--confidence"]),
            (["--out", out, "--confidence", "abc"], ["--confidence"]),
            (["--out", out, "--from", "2025-02-30"], ["--from", "February"]),
            (["--out", out, "--to", "yesterday"], ["--to", "YYYY-MM-DD"]),
            (["--out", out, "--from", "2025-03-01", "--to", "2025-01-01"], ["--from", "after --to"]),
            (["--out", out, "--horizon", "1", "--horizon", "2"], ["--horizon given twice"]),
            (["--out", out, "--out", out], ["--out given twice"]),
            (["--out", out, "--shard", "2/2"], ["--shard"]),
            (["--out", out, "--threads", "0"], ["--threads"]),
            (["--out", out, "--history", dir.path("nohistory")], ["nohistory", "not found"]),
            (["--out", out, "--history", m], ["not a history folder"]),
            (["--out", out, "--from", "1990-01-01", "--to", "1990-12-31"], ["window", "1990-01-01"]),
            (["--out", m], [m]),
            (["--out", out, "--input", input], ["--input given twice"]),
        ]
        for (extra, words) in cases {
            try CLITrustTests.expectOneLineFailure(base + extra, words)
            #expect(!FileManager.default.fileExists(atPath: out), "\(extra)")
        }
        // A coin the history lacks: a history with ETH only.
        let h = dir.path("ethonly")
        try FileManager.default.createDirectory(atPath: h, withIntermediateDirectories: true)
        dir.write("ethonly/index-daily.csv", "date,coin,close\n2025-01-01,ETH,1\n2025-01-02,ETH,2\n")
        try CLITrustTests.expectOneLineFailure(base + ["--out", out, "--history", h], ["BTC", "no closes"])
        // A one-letter relative output folder works (run in the temp folder).
        let r = try CLI.run(base + ["--out", "x", "--from", "2025-01-01", "--to", "2025-01-05"], cwd: dir.url)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.path("x/summary.json")))
    }
}
