import Foundation
import Testing
@testable import PortfolioMargin

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
        let out = try CLI.run(args)
        let what = "pm \(args.joined(separator: " ")) → status \(out.status): \(out.stderr.prefix(600))"
        #expect(out.status == 1, "\(what)", sourceLocation: sourceLocation)
        #expect(out.stdout.isEmpty, "\(what)", sourceLocation: sourceLocation)
        #expect(out.stderr.hasSuffix("\n") && out.stderr.dropLast().split(separator: "\n", omittingEmptySubsequences: false).count == 1,
                "\(what)", sourceLocation: sourceLocation)
        for w in words { #expect(out.stderr.contains(w), "missing \(w): \(what)", sourceLocation: sourceLocation) }
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
}

