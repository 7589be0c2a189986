import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Argument vectors found by the argument fuzzer (Fuzz/argv/fuzz-argv.py): an option given twice,
/// a count beyond `Int`. Each exits 1 with one line on stderr, nothing written.
struct CLIArgumentTrustTests {
    let dir: TrustTempDir
    let market: String
    let account: String

    init() throws {
        dir = try TrustTempDir()
        market = TestSupport.path("\(CLI.fixtures)/market.json")
        account = TestSupport.path("\(CLI.fixtures)/account.json")
    }

    func expectOneLineFailure(_ args: [String], _ words: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        try CLITrustTests.expectOneLineFailure(args, words, sourceLocation: sourceLocation)
    }

    /// A single-valued option given twice was taken from its last occurrence without a word
    /// (`--out A --out B` wrote into B); it is refused, whichever way it is spelt.
    @Test func aSingleValuedOptionGivenTwiceIsRefused() throws {
        let a = dir.path("a"), b = dir.path("b")
        try expectOneLineFailure(["generate", "--accounts", "3", "--out", a, "--out", b], ["--out given twice"])
        try expectOneLineFailure(["generate", "--accounts", "3", "--out", a, "--out=\(b)"], ["--out given twice"])
        try expectOneLineFailure(["margin", account, "--market", market, "--market", market], ["--market given twice"])
        try expectOneLineFailure(["margin", account, "--market", market, "--format", "json", "--format", "table"], ["--format given twice"])
        #expect(!FileManager.default.fileExists(atPath: a) && !FileManager.default.fileExists(atPath: b))
        // The options that collect values may repeat.
        let ok = try CLI.run(["whatif", account, "--market", market, "--add", "BTCUSDT:0.1", "--add", "BTCUSDT:0.2"])
        #expect(ok.status == 0, "\(ok.stderr)")
    }

    /// `--accounts 9223372036854775808` saturated to `Int.max`, passed `≥ 1` and trapped in the
    /// generator (SIGILL); the count has an upper bound now, stated in the message.
    @Test func generateRefusesACountBeyondItsBound() throws {
        let out = dir.path("gen")
        for n in ["9223372036854775808", "9223372036854775807", "100000001", "0", "-5"] {
            try expectOneLineFailure(["generate", "--accounts", n, "--out", out], ["--accounts must be between 1 and 100000000"])
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// Found by the hostile review: a value repeated in a sweep list made two identical
    /// combinations; a coin the market does not have swept nothing; both are refused.
    @Test func sweepRefusesRepeatedValuesAndUnknownCoins() throws {
        let input = dir.path("in")
        try CLITrustTests.writeBatch(at: input, positions: "A1,BTCUSDT,0.1\n")
        let out = dir.path("sweep")
        let base = ["sweep", "--input", input, "--market", market, "--out", out]
        try expectOneLineFailure(base + ["--shock", "BTC=0.1,0.1"], ["--shock", "0.1 is given twice"])
        try expectOneLineFailure(base + ["--set", "BTC.priceRange=0.1,0.12,0.10"], ["--set", "0.1 is given twice"])
        try expectOneLineFailure(base + ["--iv-scale", "1,2,1"], ["--iv-scale", "1 is given twice"])
        try expectOneLineFailure(base + ["--set", "<x>.priceRange=0.1"], ["--set", "<x>.priceRange", "not a base coin of the market"])
        try expectOneLineFailure(base + ["--shock", "XRP=0.1"], ["--shock", "shock.XRP", "no index price"])
        #expect(!FileManager.default.fileExists(atPath: out))
        let ok = try CLI.run(base + ["--set", "default.priceRange=0.1", "--shock", "USDT=0.01"])
        #expect(ok.status == 0, "\(ok.stderr)")
    }

    /// `--tolerance -1` was read as an unknown option ("Missing value"); it reaches the range check.
    @Test func aNegativeToleranceIsReportedAsOutOfRange() throws {
        let bybit = "data/examples/bybit"
        try expectOneLineFailure(["bybit", "reconcile", "\(bybit)/portfolio-margin-published.json", "--account", "\(bybit)/account.json",
                                  "--market", "\(bybit)/market.json", "--tolerance", "-1"], ["--tolerance must be a finite number ≥ 0"])
    }

    /// A newline in a path the user gave printed raw and split the one-line summary in two.
    @Test func aNewlineInTheOutputPathStaysOnTheSummaryLine() throws {
        let input = dir.path("nl-in")
        try CLITrustTests.writeBatch(at: input, positions: "A1,BTCUSDT,0.1\n")
        let out = dir.path("nl\nout")
        let r = try CLI.run(["batch", "--input", input, "--market", market, "--out", out, "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.hasSuffix("\n") && r.stderr.dropLast().split(separator: "\n", omittingEmptySubsequences: false).count == 1, "\(r.stderr)")
        #expect(r.stderr.contains("nl\\nout"), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/margins.csv"))
    }
}
