import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The real `pm` on small hostile files and out-of-range options: every command exits 1
/// with one line on stderr naming the file — never a trap, a hang or a silently different margin.
struct CLITrustTests {
    let dir: TrustTempDir
    let market: String
    let account: String
    let input: String

    init() throws {
        dir = try TrustTempDir()
        market = TestSupport.path("\(CLI.fixtures)/market.json")
        account = TestSupport.path("\(CLI.fixtures)/account.json")
        input = dir.path("in")
        try Self.writeBatch(at: input, positions: "A1,BTCUSDT,0.1\nA2,BTCUSDT,-0.2\n")
    }

    static func writeBatch(at folder: String, positions: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "account_id,spot_hedging\nA1,false\nA2,false\n".write(toFile: folder + "/accounts.csv", atomically: true, encoding: .utf8)
        try "account_id,coin,wallet_balance\nA1,USDT,10000\nA2,USDT,10000\n".write(toFile: folder + "/balances.csv", atomically: true, encoding: .utf8)
        try ("account_id,symbol,size\n" + positions).write(toFile: folder + "/positions.csv", atomically: true, encoding: .utf8)
    }

    var marketText: String { get throws { try String(contentsOfFile: market, encoding: .utf8) } }

    /// The fixture market with text inserted right after its opening brace or into its instrument list.
    func marketWith(field: String? = nil, instrument: String? = nil, name: String) throws -> String {
        var text = try marketText
        if let field { text = "{" + field + "," + text.drop { $0 != "{" }.dropFirst() }
        if let instrument { text = text.replacingOccurrences(of: "\"instruments\": [", with: "\"instruments\": [\n" + instrument + ",") }
        return dir.write(name, text)
    }

    /// The shipped parameters with `coins.BTC.pricePoints` set to `value` (raw JSON text).
    func paramsWithPricePoints(_ value: String, name: String) throws -> String {
        let text = try String(contentsOfFile: TestSupport.path("data/params/pm-params.json"), encoding: .utf8)
        guard let btc = text.range(of: "\"BTC\"") else { throw InputError("no BTC entry in the shipped parameters") }
        guard let key = text.range(of: #""pricePoints"\s*:\s*[0-9]+"#, options: .regularExpression, range: btc.upperBound..<text.endIndex) else {
            throw InputError("no BTC pricePoints in the shipped parameters")
        }
        return dir.write(name, text.replacingCharacters(in: key, with: "\"pricePoints\": \(value)"))
    }

    /// Every command that reads a market, params or account file, with the files given.
    func everyCommand(market m: String, params p: String? = nil, account a: String? = nil) -> [[String]] {
        let mp = ["--market", m] + (p.map { ["--params", $0] } ?? [])
        let acc = a ?? account
        let out = dir.path("out-\(UUID().uuidString)")
        var commands: [[String]] = [
            ["margin", acc] + mp,
            ["whatif", acc, "--add", "BTCUSDT:0.1"] + mp,
            ["liquidate", acc] + mp,
            ["whatif", acc, "--max-size", "BTCUSDT", "--max", "0.01"] + mp,
            ["hedge", acc, "--kinds", "perpetual"] + mp,
        ]
        if a == nil {
            commands += [
                ["batch", "--input", input, "--out", out, "--quiet"] + mp,
                ["sweep", "--input", input, "--out", out, "--shock", "BTC=-0.1"] + mp,
            ]
            if p == nil { commands.append(["generate", "--accounts", "2", "--out", out, "--market", m]) }
        }
        return commands
    }

    /// Exit 1, nothing on stdout, exactly one line on stderr holding every one of `words`.
    func expectOneLineFailure(_ args: [String], _ words: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        try Self.expectOneLineFailure(args, words, sourceLocation: sourceLocation)
    }

    /// Exit 1, nothing on stdout, exactly one line on stderr holding every one of `words`.
    static func expectOneLineFailure(_ args: [String], _ words: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let out = try CLI.run(args)
        let what = "pm \(args.joined(separator: " ")) → status \(out.status): \(out.stderr.prefix(600))"
        #expect(out.status == 1, "\(what)", sourceLocation: sourceLocation)
        #expect(out.stdout.isEmpty, "\(what)", sourceLocation: sourceLocation)
        #expect(out.stderr.hasSuffix("\n") && out.stderr.dropLast().split(separator: "\n", omittingEmptySubsequences: false).count == 1,
                "\(what)", sourceLocation: sourceLocation)
        for w in words { #expect(out.stderr.contains(w), "missing \(w): \(what)", sourceLocation: sourceLocation) }
    }

    // MARK: Hostile JSON in every command

    @Test func anUnpairedSurrogateInAnIgnoredMarketFieldIsOneLineInEveryCommand() throws {
        let m = try marketWith(field: #""comment": "\uD800\u0041""#, name: "surrogate-market.json")
        for args in everyCommand(market: m) {
            try expectOneLineFailure(args, [m, "line 1", "comment", "unpaired surrogate"])
        }
    }

    @Test func anUnpairedSurrogateInAnAccountIsOneLine() throws {
        let a = dir.write("surrogate-account.json", #"{"id": "A\uDC00", "balances": []}"#)
        for args in everyCommand(market: market, account: a) {
            try expectOneLineFailure(args, [a, "line 1", "id", "unpaired surrogate"])
        }
    }

    @Test func duplicateKeysAndInvalidUTF8InAnAccountAreOneLine() throws {
        let dup = dir.write("dup.json", "{\"id\": \"A\",\n \"spotHedging\": true, \"spotHedging\": false}")
        let utf = dir.write("utf.json", Array("{\"id\": \"A".utf8) + [0xC3, 0x28] + Array("\"}".utf8))
        for args in everyCommand(market: market, account: dup) {
            try expectOneLineFailure(args, [dup, "line 2", "spotHedging", "duplicate key"])
        }
        for args in everyCommand(market: market, account: utf) {
            try expectOneLineFailure(args, [utf, "line 1", "id", "invalid UTF-8"])
        }
    }

    @Test func pricePointsOutOfBoundsIsOneLineInEveryCommand() throws {
        for (value, name) in [("1e19", "p19.json"), ("100000001", "pbig.json"), ("9.9", "p99.json")] {
            let p = try paramsWithPricePoints(value, name: name)
            for args in everyCommand(market: market, params: p) {
                try expectOneLineFailure(args, [p, "coins.BTC", "pricePoints", "odd whole number from 3 to 101"])
            }
        }
    }

    @Test func sweepRefusesAPricePointsItWouldTruncate() throws {
        let out = dir.path("sweep-out")
        try expectOneLineFailure(["sweep", "--input", input, "--market", market, "--out", out, "--set", "BTC.pricePoints=9.9"],
                                 ["BTC.pricePoints", "9.9", "odd whole number"])
        #expect(!FileManager.default.fileExists(atPath: out + "/sweep.csv"))
        try expectOneLineFailure(["sweep", "--input", input, "--market", market, "--out", out, "--set", "BTC.pricePoints=11,1e19"],
                                 ["BTC.pricePoints", "odd whole number"])
    }

    // MARK: Insane market values

    @Test func aTinyStrikeFailsOnlyTheAccountsThatHoldIt() throws {
        let m = try marketWith(instrument: """
            {"symbol": "BTC-TINY-C", "kind": "option", "baseCoin": "BTC", "settleCoin": "USDT", "optionType": "Call",
             "strike": 1e-305, "expiry": "2026-09-25T08:00:00Z", "markPrice": 71000, "underlyingPrice": 71377.39, "markIv": 0.5}
            """, name: "tiny-strike.json")
        let a = dir.write("tiny-account.json", #"{"id": "T", "balances": [{"coin": "USDT", "walletBalance": 1e6}], "positions": [{"symbol": "BTC-TINY-C", "size": -1}]}"#)
        try expectOneLineFailure(["margin", a, "--market", m], [a, "BTC-TINY-C", "strike"])
        try expectOneLineFailure(["whatif", a, "--market", m, "--add", "BTCUSDT:0.1"], [a, "BTC-TINY-C", "strike"])
        try expectOneLineFailure(["liquidate", a, "--market", m], [a, "BTC-TINY-C", "strike"])
        // In a batch the other accounts are computed: exit 3, the holder's row carries the error.
        let folder = dir.path("tiny-in"), out = dir.path("tiny-out")
        try Self.writeBatch(at: folder, positions: "A1,BTCUSDT,0.1\nA2,BTC-TINY-C,-1\n")
        let r = try CLI.run(["batch", "--input", folder, "--market", m, "--out", out, "--quiet"])
        #expect(r.status == 3, "\(r.status): \(r.stderr)")
        let margins = (try? String(contentsOfFile: out + "/margins.csv", encoding: .utf8)) ?? ""
        let lines = margins.split(separator: "\n")
        #expect(lines.count == 3, "\(margins)")
        #expect(lines.last?.hasPrefix("A2,") == true && lines.last?.contains("strike") == true, "\(margins)")
        // The sane account's margin is the one it has in the fixture market.
        let plain = try CLI.run(["batch", "--input", input, "--market", market, "--out", dir.path("plain-out"), "--quiet"])
        let plainLines = ((try? String(contentsOfFile: dir.path("plain-out") + "/margins.csv", encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(plain.status == 0 && plainLines.count == 3)
        #expect(plainLines.count == 3 && lines.count == 3 && plainLines[1] == lines[1], "\(plainLines) vs \(lines)")
    }

    @Test func anAbsurdVolIsRefusedNotPricedNegative() throws {
        let m = try marketWith(instrument: """
            {"symbol": "BTC-HUGEVOL-C", "kind": "option", "baseCoin": "BTC", "settleCoin": "USDT", "optionType": "Call",
             "strike": 80000, "expiry": "2026-09-25T08:00:00Z", "markPrice": 2600, "underlyingPrice": 71377.39, "markIv": 1e155}
            """, name: "huge-vol.json")
        let a = dir.write("vol-account.json", #"{"id": "V", "positions": [{"symbol": "BTC-HUGEVOL-C", "size": -1}]}"#)
        try expectOneLineFailure(["margin", a, "--market", m], [a, "BTC-HUGEVOL-C", "markIv", "at most 10"])
    }

    @Test func nanTokensInTheMarketAreLazy() throws {
        let m = try marketWith(instrument: """
            {"symbol": "BTC-NAN-C", "kind": "option", "baseCoin": "BTC", "settleCoin": "USDT", "optionType": "Call",
             "strike": 80000, "expiry": "2026-09-25T08:00:00Z", "markPrice": NaN, "underlyingPrice": 71377.39, "markIv": 0.5}
            """, name: "nan-market.json")
        // The fixture account does not hold it: margined as in the fixture market.
        let withNaN = try CLI.run(["margin", account, "--market", m])
        let plain = try CLI.run(["margin", account, "--market", market])
        #expect(withNaN.status == 0 && plain.status == 0, "\(withNaN.stderr)")
        #expect(withNaN.stdout == plain.stdout)
        let a = dir.write("nan-account.json", #"{"id": "N", "positions": [{"symbol": "BTC-NAN-C", "size": 1}]}"#)
        try expectOneLineFailure(["margin", a, "--market", m], [a, "BTC-NAN-C", "markPrice", "NaN"])
    }

    @Test func anImpossibleExpiryNamesTheInstrument() throws {
        let m = try marketWith(instrument: """
            {"symbol": "BTCUSDT-30FEB27", "kind": "future", "baseCoin": "BTC", "settleCoin": "USDT",
             "expiry": "2027-02-30T08:00:00Z", "markPrice": 72000}
            """, name: "feb30.json")
        let a = dir.write("feb-account.json", #"{"id": "F", "positions": [{"symbol": "BTCUSDT-30FEB27", "size": 1}]}"#)
        try expectOneLineFailure(["margin", a, "--market", m], [a, "BTCUSDT-30FEB27", "expiry", "day 30 does not exist in February 2027"])
    }

    // MARK: whatif and liquidate name the account file

    @Test func whatifAndLiquidateNameTheAccountPath() throws {
        let a = TestSupport.path("\(CLI.fixtures)/bad/unknown-instrument.json")
        for args in [["whatif", a, "--market", market, "--add", "BTCUSDT:0.1"], ["liquidate", a, "--market", market]] {
            let out = try CLI.run(args)
            #expect(out.status == 1)
            #expect(out.stderr.contains(a + ": account"), "\(out.stderr)")
            #expect(!out.stderr.contains("account: account"), "\(out.stderr)")
        }
    }

    // MARK: CLI bounds

    @Test(arguments: [
        (["--threads=-5"], "--threads must be between 1 and 256"),
        (["--threads", "-5"], "--threads must be between 1 and 256"),
        (["--threads", "0"], "--threads must be between 1 and 256"),
        (["--threads", "257"], "--threads must be between 1 and 256"),
        (["--threads", "1000000000"], "--threads must be between 1 and 256"),
        (["--threads", "99999999999999999999"], "--threads must be between 1 and 256"),
        (["--block-size", "9223372036854775807"], "--block-size must be between 1 and 10000000"),
        (["--block-size", "10000001"], "--block-size must be between 1 and 10000000"),
        (["--block-size=-1"], "--block-size must be between 1 and 10000000"),
        (["--shard", "0/2000000"], "N must be between 1 and 1000000"),
        (["--shard", "3/3"], "I must be between 0 and N − 1 = 2"),
        (["--shard", "-1/4"], "I must be between 0 and N − 1 = 3"),
        (["--shard", "0/0"], "N must be between 1 and 1000000"),
        (["--shard", "1/x"], "--shard expects I/N"),
    ])
    func batchOptionsOutOfRange(args: [String], message: String) throws {
        let out = dir.path("bounds-out")
        try expectOneLineFailure(["batch", "--input", input, "--market", market, "--out", out, "--quiet"] + args, [message])
        #expect(!FileManager.default.fileExists(atPath: out + "/margins.csv"))
    }

    @Test(arguments: [
        (["--top", "0"], "--top must be at least 1"),
        (["--top=-3"], "--top must be at least 1"),
        (["--top", "-3"], "--top must be at least 1"),
        (["--threads", "300"], "--threads must be between 1 and 256"),
        (["--iv-scale", "-1"], "scales must be positive"),
        (["--shock", "BTC=-1"], "greater than -1"),
    ])
    func sweepOptionsOutOfRange(args: [String], message: String) throws {
        try expectOneLineFailure(["sweep", "--input", input, "--market", market, "--out", dir.path("sweep-bounds")] + args, [message])
    }

    @Test func generateRefusesANegativeCount() throws {
        for args in [["--accounts", "-5"], ["--accounts=-5"], ["--accounts", "0"]] {
            try expectOneLineFailure(["generate", "--out", dir.path("gen")] + args, ["--accounts must be between 1 and 100000000"])
        }
    }

    @Test func optionsAtTheirBoundsRun() throws {
        let a = try CLI.run(["batch", "--input", input, "--market", market, "--out", dir.path("b1"), "--quiet",
                             "--threads", "256", "--block-size", "10000000"])
        #expect(a.status == 0, "\(a.stderr)")
        let b = try CLI.run(["batch", "--input", input, "--market", market, "--out", dir.path("b2"), "--quiet",
                             "--threads", "1", "--block-size", "1"])
        #expect(b.status == 0, "\(b.stderr)")
        let ma = try String(contentsOfFile: dir.path("b1") + "/margins.csv", encoding: .utf8)
        let mb = try String(contentsOfFile: dir.path("b2") + "/margins.csv", encoding: .utf8)
        #expect(ma == mb && ma.split(separator: "\n").count == 3)
        // The shards 0/1000000 … : every account is in exactly one; shard I of 10^6 runs.
        let s = try CLI.run(["batch", "--input", input, "--market", market, "--out", dir.path("b3"), "--quiet", "--shard", "999999/1000000"])
        #expect(s.status == 0, "\(s.stderr)")
        let t = try CLI.run(["sweep", "--input", input, "--market", market, "--out", dir.path("s1"), "--top", "1", "--set", "BTC.pricePoints=101"])
        #expect(t.status == 0, "\(t.stderr)")
    }
}
