import Foundation
import Testing
@testable import PMGenerate
@testable import PortfolioMargin
@testable import PMTestSupport

/// Hostile inputs to `pm explain` (docs/model.md §14 "Explain") that once went wrong, each with
/// the behaviour it must have.
@Suite struct ExplainHostileTests {
    typealias E = ExplainTests

    /// `--top` has no upper bound (`--top 99999999999999999999` reads as Int.max): the pruning of
    /// the largest-change candidates once computed `4 · top + 64` and trapped on the overflow. Any
    /// `top` must run, and a `top` above the row count keeps every account computed on both days,
    /// largest |mm_change| first.
    @Test func aHugeTopKeepsEveryAccountAndDoesNotOverflow() throws {
        let folder = E.Folder()
        let book = folder.sub("book")
        _ = try SyntheticAccounts(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams, seed: 5).write(count: 200, to: book)
        let m0 = TestSupport.path("data/sample/market.json"), m1 = E.example + "/market-after.json"
        let o = folder.sub("out")
        var job = ExplainJob(before: .init(input: book, market: m0, parameters: .file(E.params)),
                             after: .init(input: book, market: m1, parameters: .file(E.params)), output: o)
        job.top = Int.max
        job.threads = 2
        // A chunk prunes its candidates past 4 · top + 64: more than 64 rows reach the test.
        let report = try job.run()
        let rows = E.parseCSV(try String(contentsOfFile: o + "/explain.csv", encoding: .utf8))
        let header = rows[0]
        let col = { (name: String) in header.firstIndex(of: name)! }
        let both = rows.dropFirst().filter { $0[col("status")] == "both" && !$0[col("mm_before")].isEmpty && !$0[col("mm_after")].isEmpty }
        #expect(both.count > 64)
        #expect(report.largest.count == both.count)
        #expect(Set(report.largest.map(\.accountId)) == Set(both.map { $0[col("account_id")] }))
        let changes = report.largest.map { abs(Double($0.mmChange)!) }
        #expect(zip(changes, changes.dropFirst()).allSatisfy { $0 >= $1 })
    }

    /// Each term equals the difference of separate `pm batch` runs of the before book under
    /// (M0, P0), (M1, P0) and (M1, P1), when the after day drops an instrument yesterday's book
    /// holds, drops a coin (SOL: its index and instruments), and the after parameters change the
    /// BTC grid size (`pricePoints`) and ETH's spot hedging: the ids moved to the after market must
    /// margin exactly as the book read against it, and the accounts holding what is gone are the
    /// errors `pm batch` reports, with empty terms.
    @Test func termsMatchSeparateBatchRunsWhenTheAfterDayDropsAnInstrumentACoinAndResizesTheGrid() throws {
        let folder = E.Folder()
        let book = folder.sub("book")
        _ = try SyntheticAccounts(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams, seed: 9).write(count: 150, to: book)
        let m0 = TestSupport.path("data/sample/market.json")
        var doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: m0))) as! [String: Any]
        // The most held BTC option is delisted.
        let held = try String(contentsOfFile: book + "/positions.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false)[1] }.filter { $0.hasPrefix("BTC-") }
        let dropped = String(Dictionary(grouping: held, by: { $0 }).max { ($0.value.count, $1.key) < ($1.value.count, $0.key) }!.key)
        var index = doc["indexPrices"] as! [String: Any]
        index["SOL"] = nil
        index["BTC"] = (index["BTC"] as! Double) * 0.95
        doc["indexPrices"] = index
        doc["instruments"] = (doc["instruments"] as! [[String: Any]]).compactMap { i -> [String: Any]? in
            if i["baseCoin"] as? String == "SOL" || i["symbol"] as? String == dropped { return nil }
            var i = i
            if i["baseCoin"] as? String == "BTC" { for k in ["markPrice", "underlyingPrice"] { if let v = i[k] as? Double { i[k] = v * 0.95 } } }
            return i
        }
        let m1 = try folder.write("m1.json", String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self))
        var pdoc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: E.params))) as! [String: Any]
        var coins = pdoc["coins"] as! [String: Any]
        var btc = coins["BTC"] as! [String: Any], eth = coins["ETH"] as! [String: Any]
        btc["pricePoints"] = 15
        btc["priceRange"] = 0.14
        eth["spotHedgeEligible"] = !((eth["spotHedgeEligible"] as? Bool) ?? true)
        coins["BTC"] = btc; coins["ETH"] = eth; pdoc["coins"] = coins
        let p1 = try folder.write("p1.json", String(decoding: try JSONSerialization.data(withJSONObject: pdoc), as: UTF8.self))

        let r = try E.explain(before: (book, m0, E.params), after: (book, m1, p1), folder: folder, threads: 2, blockSize: 7)
        let b00 = try E.batchFigures(book, market: m0, params: E.params, folder: folder)
        let b10 = try E.batchFigures(book, market: m1, params: E.params, folder: folder)
        let b11 = try E.batchFigures(book, market: m1, params: p1, folder: folder)
        var compared = 0, failed = 0, nonZero = (market: 0, parameters: 0)
        for row in r.accounts {
            let id = row["account_id"]!
            #expect(row["status"] == "both")
            #expect(row["mm_before"] == b00[id]!.mm, "\(id)")
            #expect(row["mm_after"] == b11[id]!.mm, "\(id)")
            if b10[id]!.mm.isEmpty || b11[id]!.mm.isEmpty {
                failed += 1
                #expect(row["market"] == "" && row["parameters"] == "" && row["positions"] == "", "\(id): \(row)")
                #expect(row["error"]!.contains("before book under the after market"), "\(id)")
                continue
            }
            compared += 1
            #expect(E.canonical(row["market"]!) == E.exactSum([b10[id]!.mm], minus: [b00[id]!.mm]), "\(id)")
            #expect(E.canonical(row["parameters"]!) == E.exactSum([b11[id]!.mm], minus: [b10[id]!.mm]), "\(id)")
            #expect(row["positions"] == "0.0", "\(id)")
            if row["market"] != "0.0" { nonZero.market += 1 }
            if row["parameters"] != "0.0" { nonZero.parameters += 1 }
        }
        #expect(failed >= 1 && compared >= 50, "failed \(failed), compared \(compared)")
        #expect(nonZero.market >= 5 && nonZero.parameters >= 5)
    }
}
