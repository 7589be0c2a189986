import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// `pm whatif --max-size` and `pm hedge` from the command line: outputs equal the library's, and
/// hostile arguments and files exit 1 with one line naming what is wrong.
struct TraderCLITests {
    let dir: TrustTempDir
    let market = TestSupport.path("data/sample/market.json")
    let strangle = TestSupport.path("data/examples/short-strangle.json")
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)

    init() throws { dir = try TrustTempDir() }

    func fails(_ args: [String], _ words: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        try CLITrustTests.expectOneLineFailure(args, words, sourceLocation: sourceLocation)
    }

    /// The JSON is the library's answer, with the documented keys; the table says it in words.
    @Test func maxSizePrintsTheLibrarysAnswer() throws {
        let out = try CLI.run(["whatif", strangle, "--market", market, "--max-size", "BTCUSDT", "--side", "sell", "--step", "0.01", "--max", "50"])
        #expect(out.status == 0, "\(out.stderr)")
        let doc = try JSON.parse(out.stdout)
        guard case let .object(fields) = doc else { Issue.record("not an object"); return }
        #expect(fields.map(\.0) == ["symbol", "side", "limit", "step", "maxSize", "capped", "before", "atMax"])
        let account = try Account.load(path: strangle).accounts[0].get()
        let lib = try MaxSize.run(account, symbol: "BTCUSDT", side: .sell, limit: .im, step: 0.01, max: 50, priced: priced).get()
        #expect(sameJSON(doc, MaxSize.json(lib)).isEmpty, "\(sameJSON(doc, MaxSize.json(lib)))")
        #expect(doc["side"] == .string("sell") && doc["limit"] == .string("im"))
        let table = try CLI.run(["whatif", strangle, "--market", market, "--max-size", "BTCUSDT", "--max", "1", "--format", "table"])
        #expect(table.status == 0 && table.stdout.hasPrefix("Largest buy of BTCUSDT keeping IM rate at most 100%: 1 (step 0.001; capped at 1"), "\(table.stdout.prefix(200))")
    }

    /// `pm hedge` in its three formats: the same candidates as the library; none: a note, exit 0.
    @Test func hedgePrintsTheRankedCandidates() throws {
        let args = ["hedge", strangle, "--market", market, "--kinds", "perpetual,future", "--top", "3"]
        let json = try CLI.run(args + ["--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let account = try Account.load(path: strangle).accounts[0].get()
        let lib = try HedgeSuggestion.run(account, kinds: [.perpetual, .future], top: 3, priced: priced).get()
        #expect(!lib.candidates.isEmpty)
        #expect(sameJSON(try JSON.parse(json.stdout), HedgeSuggestion.json(lib)).isEmpty)
        let csv = try CLI.run(args + ["--format", "csv"])
        let lines = csv.stdout.split(separator: "\n")
        #expect(lines.first == "symbol,side,size,imBefore,imAfter,imRemoved,cost,notional,imRemovedPer1000")
        #expect(lines.count == lib.candidates.count + 1 && lines[1].hasPrefix(lib.candidates[0].symbol + ","))
        let cash = dir.write("cash.json", #"{"id": "C", "balances": [{"coin": "USDC", "walletBalance": 1000}]}"#)
        let none = try CLI.run(["hedge", cash, "--market", market, "--coin", "ETH", "--kinds", "perpetual"])
        #expect(none.status == 0 && none.stdout.contains("no trade lowers IM"), "\(none.stdout) \(none.stderr)")
    }

    /// Bounds and unknown values name the option; single-valued options given twice are refused.
    @Test func hostileArgumentsAreOneLine() throws {
        let m = ["--market", market]
        let base = ["whatif", strangle] + m + ["--max-size"]
        try fails(base + ["BTC-NOPE"], ["--max-size", "BTC-NOPE", "not in the market"])
        try fails(base + [""], ["--max-size", "not in the market"])
        for step in ["0", "-1", "nan", "inf", "1e7", "abc", ""] {
            try fails(base + ["BTCUSDT", "--step", step], ["--step"])
        }
        for max in ["0", "-0.5", "NaN", "-inf", "1e13", "x"] {
            try fails(base + ["BTCUSDT", "--max", max], ["--max"])
        }
        try fails(base + ["BTCUSDT", "--step", "0.000001", "--max", "100"], ["--max / --step must be at most 10000000 grid points"])
        try fails(base + ["BTCUSDT", "--side", "Buy"], ["--side", "buy or sell"])
        try fails(base + ["BTCUSDT", "--limit", "imm"], ["--limit", "im, mm or stage"])
        try fails(base + ["BTCUSDT", "--side", "buy", "--side", "sell"], ["--side given twice"])
        try fails(base + ["BTCUSDT", "--max-size", "BTCUSDC"], ["--max-size given twice"])
        try fails(base + ["BTCUSDT", "--add", "BTCUSDT:1"], ["--max-size cannot be combined with --add"])
        try fails(base + ["BTCUSDT", "--format", "bybit"], ["--max-size prints json or table"])
        try fails(["whatif", strangle] + m + ["--add", "BTCUSDT:1", "--step", "1"], ["--step goes with --max-size"])
        let h = ["hedge", strangle] + m
        try fails(h + ["--kinds", "perpetual,swap"], ["--kinds", "swap"])
        try fails(h + ["--kinds", ""], ["--kinds"])
        try fails(h + ["--kinds", "option,option"], ["--kinds", "option listed twice"])
        for top in ["0", "-3", "1.5", "99999999999999999999", ""] { try fails(h + ["--top", top], ["--top"]) }
        try fails(h + ["--coin", "XRP"], ["--coin", "XRP", "not a base coin"])
        try fails(h + ["--coin", "BTC", "--coin", "ETH"], ["--coin given twice"])
        try fails(h + ["--top", "1", "--top", "2"], ["--top given twice"])
        try fails(h + ["--format", "bybit"], ["bybit"])
    }

    /// Hostile files: empty, a folder, not an account, an array, an account with a NaN, a huge size.
    @Test func hostileFilesAreOneLine() throws {
        let empty = dir.write("empty.json", "")
        let folder = dir.path("folder"); try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let notJSON = dir.write("not.json", "id,balance\nA,1\n")
        let array = dir.write("array.json", "[" + (try String(contentsOfFile: strangle, encoding: .utf8)) + "]")
        let nan = dir.write("nan.json", #"{"id": "N", "balances": [{"coin": "USDC", "walletBalance": NaN}]}"#)
        let dup = dir.write("dup.json", #"{"id": "D", "id": "E", "balances": []}"#)
        for cmd in [["whatif", "--max-size", "BTCUSDT"], ["hedge"]] {
            let rest = Array(cmd.dropFirst()) + ["--market", market]
            try fails([cmd[0], empty] + rest, [empty])
            try fails([cmd[0], folder] + rest, [folder])
            try fails([cmd[0], notJSON] + rest, [notJSON])
            try fails([cmd[0], array] + rest, ["expected one account object"])
            try fails([cmd[0], nan] + rest, ["walletBalance"])
            try fails([cmd[0], dup] + rest, ["id"])
            try fails([cmd[0], strangle, "--market", folder] + Array(cmd.dropFirst()), [folder])
        }
        let huge = dir.write("huge.json", #"{"id": "H", "balances": [{"coin": "USDC", "walletBalance": 1e308}], "positions": [{"symbol": "BTCUSDT", "size": 1e308}]}"#)
        try fails(["whatif", huge, "--market", market, "--max-size", "BTCUSDT"], ["out of range"])
        try fails(["hedge", huge, "--market", market], ["out of range"])
    }
}
