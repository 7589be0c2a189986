import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

struct MarginCommandTests {
    let market = "\(CLI.fixtures)/market.json"

    @Test func printsTheLibraryResultWithEveryFormatsField() throws {
        let out = try CLI.run(["margin", "\(CLI.fixtures)/account.json", "--market", market])
        #expect(out.status == 0, "\(out.stderr)")
        let doc = try JSON.parse(out.stdout)
        // Same numbers as the library, in-process.
        let account = try Account.load(path: TestSupport.path("\(CLI.fixtures)/account.json")).accounts[0].get()
        let priced = PricedMarket(market: try MarketSnapshot.load(path: TestSupport.path(market)), parameters: TestSupport.shippedParams)
        let lib = try MarginEngine.margin(account, priced: priced).get()
        #expect(sameJSON(doc, lib.json).isEmpty, "\(sameJSON(doc, lib.json))")
        // Every field of docs/formats.md "One result".
        for k in ["accountId", "marginBalance", "orderLoss", "totalIM", "totalMM", "imRate", "mmRate", "stage", "units"] {
            #expect(doc[k] != nil, "missing \(k)")
        }
        guard case let .array(units)? = doc["units"] else { Issue.record("no units"); return }
        #expect(units.count == 2)
        for u in units {
            for k in ["baseCoin", "priceMoves", "pnl", "maxLoss", "maxLossPriceMove", "maxLossIvShock", "maxLossIvShockList",
                      "contingency", "hedgeSpotSize", "mm", "im", "governingPortfolio", "positions"] {
                #expect(u[k] != nil, "missing units[].\(k)")
            }
            for k in ["optionContingency", "optionVegaContingency", "usdtUsdcContingency", "futureDeltaContingency",
                      "futureContingency", "contingencyComponents"] {
                #expect(u["contingency"]?[k] != nil, "missing contingency.\(k)")
            }
            guard case let .array(pnl)? = u["pnl"], case let .array(moves)? = u["priceMoves"] else { continue }
            #expect(pnl.count == moves.count)
        }
        // The figures themselves are compared with independently worked-out ones in
        // ExampleOutputTests.fixtureAccountMatchesTheIndependentFigures (the plain model).
    }

    @Test func anArrayReportsBadAccountsInPlaceAndExits3() throws {
        let out = try CLI.run(["margin", "\(CLI.fixtures)/accounts-array.json", "--market", market])
        #expect(out.status == 3)
        guard case let .array(items) = try JSON.parse(out.stdout) else { Issue.record("not an array"); return }
        #expect(items.count == 3)
        #expect(items[0]["accountId"] == .string("ARR-1") && items[0]["stage"] != nil)
        #expect(items[1]["accountId"] == .string("ARR-BAD"))
        if case let .string(e)? = items[1]["error"] { #expect(e.contains("NOPE") && e.contains("positions[0].symbol")) }
        else { Issue.record("no error entry") }
        #expect(items[2]["accountId"] == .string("ARR-2"))
        #expect(out.stderr.contains("ARR-BAD"))
    }

    /// The star of each unit's ladder sits on the worst scenario of the JSON result for the same
    /// account: the row of `maxLossPriceMove`, the column of `maxLossIvShock` (and nowhere else),
    /// and the starred cell shows that scenario's P&L.
    @Test func tableShowsTheLadderTheWorstCellAndTheTotals() throws {
        for (file, mkt) in [("\(CLI.fixtures)/account.json", market), ("data/examples/short-strangle.json", "data/sample/market.json"),
                            ("data/examples/cross-stablecoin.json", "data/sample/market.json")] {
            let out = try CLI.run(["margin", file, "--market", mkt, "--format", "table"])
            #expect(out.status == 0, "\(out.stderr)")
            let doc = try JSON.parse(try CLI.run(["margin", file, "--market", mkt]).stdout)
            guard case let .array(units)? = doc["units"] else { Issue.record("no units"); return }
            let lines = out.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.contains { $0.hasPrefix("Account totals") } && out.stdout.contains("stage"))
            for u in units {
                guard case let .string(coin)? = u["baseCoin"], case let .array(moves)? = u["priceMoves"],
                      case let .array(pnl)? = u["pnl"], case let .number(worstMove)? = u["maxLossPriceMove"],
                      case let .string(worstShock)? = u["maxLossIvShock"] else { Issue.record("unit fields"); continue }
                let k = try #require(moves.firstIndex(of: .number(worstMove)))
                let j = try #require(["up", "unchanged", "down"].firstIndex(of: worstShock))
                // The unit's ladder: the rows after its `move` header, one per price move.
                let start = try #require(lines.firstIndex { $0.hasPrefix("Unit \(coin) ") })
                #expect(lines[start + 1].contains("move") && lines[start + 1].contains("iv up"))
                let rows = Array(lines[(start + 2)..<(start + 2 + moves.count)])
                // Each row: 2 spaces, the move in 8 columns, then 3 cells of 18 columns, a cell's
                // last column holding its mark.
                var stars: [(Int, Int)] = []
                for (r, line) in rows.enumerated() {
                    let chars = Array(line)
                    #expect(chars.count == 2 + 8 + 3 * 18, "row \(r): \(line)")
                    for c in 0..<3 where chars.count == 64 && chars[10 + 18 * c + 17] == "*" { stars.append((r, c)) }
                }
                #expect(stars.count == 1 && stars.first?.0 == k && stars.first?.1 == j,
                        "unit \(coin): stars at \(stars), worst scenario (\(k), \(j))")
                #expect(out.stdout.filter { $0 == "*" }.count == 2 * units.count)   // the cell and its legend line, per unit
                // The starred row is labelled with the worst move, and the cell shows its P&L.
                let row = Array(rows[k])
                let label = String(row[2..<10]).trimmingCharacters(in: .whitespaces)
                #expect(TestSupport.near(Double(label.dropLast().replacingOccurrences(of: "+", with: ""))! / 100, worstMove, within: 0.0005), "\(label)")
                let cell = String(row[(10 + 18 * j)..<(10 + 18 * j + 17)]).trimmingCharacters(in: .whitespaces)
                guard case let .array(worstRow) = pnl[k], case let .number(v) = worstRow[j] else { Issue.record("pnl"); continue }
                #expect(TestSupport.near(Double(cell.replacingOccurrences(of: ",", with: ""))!, v, within: 0.005 + 1e-9 * abs(v)), "\(cell) vs \(v)")
            }
        }
    }

    /// Every shipped example, both formats, against the shipped sample market.
    @Test func everyExampleRuns() throws {
        let dir = TestSupport.path("data/examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count >= 6)
        for f in files {
            for format in ["json", "table"] {
                let out = try CLI.run(["margin", "data/examples/\(f)", "--market", "data/sample/market.json", "--format", format])
                #expect(out.status == 0, "\(f) \(format): \(out.stderr)")
                #expect(!out.stdout.isEmpty)
            }
        }
        let liq = try JSON.parse(try CLI.run(["margin", "data/examples/liquidation.json", "--market", "data/sample/market.json"]).stdout)
        #expect(liq["stage"] == .string("liquidation"))
    }

    /// docs/model.md §10: each bad input is one line on stderr naming file, record and field; exit 1; no stdout.
    @Test(arguments: [
        ("unknown-instrument", "positions[0].symbol", "NOPE"),
        ("expired-instrument", "positions[0].symbol", "expired"),
        ("bad-forward", "positions[0].symbol", "underlyingPrice"),
        ("bad-strike", "positions[0].symbol", "strike"),
        ("bad-vol", "positions[0].symbol", "markIv"),
        ("bad-mark", "positions[0].symbol", "markPrice"),
        ("infinite-mark", "positions[0].symbol", "markPrice"),
        ("zero-qty", "orders[0].qty", "> 0"),
        ("negative-qty", "orders[0].qty", "> 0"),
        ("unknown-coin", "balances[0].coin", "FOO"),
        ("missing-index", "positions[0].symbol", "no index price for coin DOGE"),
        ("wrong-type", "positions[0].size", "expected a number"),
        ("bad-side", "orders[0].side", "Buy or Sell"),
        ("malformed", "line 1", "malformed JSON"),
    ])
    func badInput(name: String, field: String, detail: String) throws {
        let file = "\(CLI.fixtures)/bad/\(name).json"
        let out = try CLI.run(["margin", file, "--market", market])
        #expect(out.status == 1)
        #expect(out.stdout.isEmpty)
        let lines = out.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(out.stderr)")
        #expect(out.stderr.contains(file))
        #expect(out.stderr.contains(field), "\(out.stderr)")
        #expect(out.stderr.contains(detail), "\(out.stderr)")
        if name != "malformed" { #expect(out.stderr.contains("account B")) }
    }

    @Test func unusableInputsAreFatal() throws {
        // A missing market, a market without `time`, a bad parameter file, a missing account file.
        let missing = try CLI.run(["margin", "\(CLI.fixtures)/account.json", "--market", "nope.json"])
        #expect(missing.status == 1 && missing.stdout.isEmpty && missing.stderr.contains("nope.json"))
        let tmp = URL(fileURLWithPath: TestTemp.dir("cli"))
        defer { TestTemp.remove(tmp.path) }
        let noTime = tmp.appendingPathComponent("m.json").path
        try #"{"indexPrices": {}, "instruments": []}"#.write(toFile: noTime, atomically: true, encoding: .utf8)
        let r1 = try CLI.run(["margin", "\(CLI.fixtures)/account.json", "--market", noTime])
        #expect(r1.status == 1 && r1.stderr.contains("time"))
        let badParams = tmp.appendingPathComponent("p.json").path
        try #"{"coins": {"default": {"priceRange": 2}}}"#.write(toFile: badParams, atomically: true, encoding: .utf8)
        let r2 = try CLI.run(["margin", "\(CLI.fixtures)/account.json", "--market", market, "--params", badParams])
        #expect(r2.status == 1 && r2.stderr.contains("p.json") && r2.stderr.contains("coins.default"))
        let r3 = try CLI.run(["margin", "nothing.json", "--market", market])
        #expect(r3.status == 1 && r3.stderr.contains("nothing.json"))
        let r4 = try CLI.run(["margin", "\(CLI.fixtures)/account.json"])
        #expect(r4.status == 1 && r4.stdout.isEmpty)
    }
}
