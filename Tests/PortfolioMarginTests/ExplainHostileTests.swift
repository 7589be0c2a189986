import Foundation
import Testing
@testable import PMGenerate
@testable import PortfolioMargin

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
        var job = ExplainJob(before: .init(input: book, market: m0, parameters: E.params),
                             after: .init(input: book, market: m1, parameters: E.params), output: o)
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
}
