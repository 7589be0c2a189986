import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

@Suite struct ReportTests {
    typealias P = ReportPageReader

    @Test func numbersAreFormattedForPeople() {
        #expect(Report.grouped(1_234_567.891) == "1,234,567.89")
        #expect(Report.grouped(-1_234.5) == "−1,234.50")
        #expect(Report.grouped(-0.001) == "0.00")
        #expect(Report.grouped(999) == "999.00")
        #expect(Report.grouped(1e300) == "1.000e+300")
        #expect(Report.grouped(.infinity) == "∞")
        #expect(Report.count(1_000_000) == "1,000,000")
        #expect(Report.count(100_000) == "100,000")
        #expect(Report.percent(0.0123) == "1.23%")
        #expect(Report.percent(0.99) == "99.00%")
        #expect(Report.escape("<a href='x'>&\"</a>\u{1}") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;\u{FFFD}")
    }

    @Test func theTopAccountsAreTheLargestWithTiesToTheEarlierLine() {
        var top = TopN<Int>(3)
        for (seq, key) in [5.0, 1, 5, 7, 5, 0, 7].enumerated() where top.admits(key, seq: seq) { top.add(key, seq: seq, seq) }
        #expect(top.sorted == [3, 6, 0])
        var none = TopN<Int>(0)
        none.add(1, seq: 0, 0)
        #expect(none.sorted.isEmpty)
    }

    @Test func batchChartsMatchTheFiles() throws {
        let (dir, accounts, coins) = try ReportFolders.batch(400)
        defer { TestTemp.remove(dir) }
        let page = try Report.html(folder: dir)
        let ok = accounts.filter { $0.error.isEmpty }
        let errors = accounts.count - ok.count
        #expect(errors > 0 && ok.contains { $0.rate.isInfinite })

        // Accounts per stage, then the error bar.
        let stages = P.bars(P.element("svg", id: "stages", in: page))
        #expect(stages.map { $0["data-key"]! } == BatchReportData.stages + ["error"])
        let expectedStages = BatchReportData.stages.map { s in ok.filter { $0.stage == s }.count } + [errors]
        #expect(stages.map { Int($0["data-value"]!)! } == expectedStages)
        #expect(P.proportional(stages))

        // MM-rate histogram: 10 bins of 0.1, > 1, error; every account counted once.
        let rates = P.bars(P.element("svg", id: "mm-rates", in: page))
        var expected = [Int](repeating: 0, count: 12)
        for a in ok { expected[a.rate > 1 ? 10 : min(Int((a.rate * 10).rounded(.down)), 9)] += 1 }
        expected[11] = errors
        #expect(rates.map { Int($0["data-value"]!)! } == expected)
        #expect(rates.map { Int($0["data-value"]!)! }.reduce(0, +) == accounts.count)
        #expect(rates[10]["data-key"] == "> 1" && rates[11]["data-key"] == "error")
        #expect(P.proportional(rates))

        // IM and MM per coin, largest MM first, bar lengths ∝ values.
        let coinBars = P.bars(P.element("svg", id: "coins", in: page))
        let order = coins.sorted { $0.value.mm > $1.value.mm }.map(\.key)
        #expect(coinBars.filter { $0["data-series"] == "MM (USD)" }.map { $0["data-key"]! } == order)
        for b in coinBars {
            let s = try #require(coins[b["data-key"]!])
            let want = b["data-series"] == "IM (USD)" ? s.im : s.mm
            #expect(TestSupport.near(Double(b["data-value"]!)!, want, within: 0.005 + 1e-12 * want), "\(b)")
        }
        #expect(P.proportional(coinBars, dimension: "width"))

        // The 20 largest MM: the largest total_mm rows, ties to the earlier line.
        let top = P.rows(P.element("section", id: "top-section", in: page))
        let want = ok.sorted { $0.mm != $1.mm ? $0.mm > $1.mm : $0.line < $1.line }.prefix(20)
        #expect(top.count == 20)
        #expect(top.map { $0[1] } == want.map(\.id))
        #expect(top.map { $0[2] } == want.map { Report.grouped($0.mm) })

        // Hostile texts are escaped; no script anywhere.
        #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"))
        #expect(page.contains("B&lt;T"))
        #expect(page.contains("unknown instrument &lt;X&gt; &amp; &quot;Y&quot;"))
        #expect(!page.lowercased().contains("<script"))
        #expect(!page.contains("http://") || !page.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "").contains("http"))
        #expect(!page.contains("<img") && !page.contains("<link") && !page.contains("@import") && !page.contains("url("))
    }

    @Test func theSamefolderGivesTheSameBytesWithAnyBuffer() throws {
        let (dir, _, _) = try ReportFolders.batch(300, seed: 11)
        defer { TestTemp.remove(dir) }
        let a = try Report.html(folder: dir)
        #expect(try Report.html(folder: dir) == a)
        let reference = try BatchReportData.read(folder: dir)
        for size in [64, 100, 977, 4096] {
            var d = BatchReportData(folder: dir)
            try d.readMargins(path: dir + "/margins.csv", bufferSize: size)
            try d.readUnits(path: dir + "/units.csv", bufferSize: size)
            d.pm = reference.pm; d.finished = reference.finished
            #expect(d == reference, "buffer \(size)")
            #expect(Report.html(d) == a)
        }
        // A record longer than the buffer grows it.
        var d = BatchReportData(folder: dir)
        let long = String(repeating: "x", count: 5000)
        let text = BatchReportData.marginColumns.joined(separator: ",") + "\n\(long),1,0,1,1,1,1,liquidation,\nB,1,0,2,2,2,2,liquidation,\n"
        try d.readMargins(path: "m.csv", bytes: Array(text.utf8), bufferSize: 64)
        #expect(d.top.map(\.id) == ["B", long])
    }

    @Test func backtestChartsMatchTheFixture() throws {
        let dir = TestSupport.path(ReportFolders.backtestFixture)
        let page = try Report.html(folder: dir)
        let scenarios = try ReportFolders.parseCSV(dir + "/scenarios.csv")
        let header = try String(contentsOfFile: dir + "/scenarios.csv", encoding: .utf8).split(separator: "\n")[0].split(separator: ",").map(String.init)
        let iDate = header.firstIndex(of: "date")!, iBreached = header.firstIndex(of: "accounts_breached_mm")!, iShort = header.firstIndex(of: "shortfall")!

        // One bar per date with breaches, its value the file's count, heights ∝ counts, in date order.
        let bars = P.bars(P.element("svg", id: "breaches", in: page))
        let breached = scenarios.filter { Int($0[iBreached])! > 0 }
        #expect(bars.map { $0["data-key"]! } == breached.map { $0[iDate] })
        #expect(bars.map { Int($0["data-value"]!)! } == breached.map { Int($0[iBreached])! })
        #expect(P.proportional(bars))
        let xs = bars.map { Double($0["x"]!)! }
        #expect(xs == xs.sorted())

        // The labelled dates are the 5 largest shortfalls (ties: earlier date), in rank order.
        let labels = P.matches("<text class=\"worst\" data-rank=\"(\\d)\" data-date=\"([^\"]*)\"", P.element("svg", id: "breaches", in: page))
        let worst = scenarios.sorted { Double($0[iShort])! != Double($1[iShort])! ? Double($0[iShort])! > Double($1[iShort])! : $0[iDate] < $1[iDate] }
        #expect(labels.map { $0[2] } == worst.prefix(5).map { $0[iDate] })
        #expect(labels.map { $0[1] } == ["1", "2", "3", "4", "5"])
        // The time axis: a tick per new year inside the window.
        #expect(P.matches("<text class=\"year\"[^>]*>(\\d+)</text>", page).map { $0[1] } == ["2024", "2025"])

        // Coverage histogram and zones against backtest.csv.
        let rows = try ReportFolders.parseCSV(dir + "/backtest.csv")
        let ok = rows.filter { $0[13].isEmpty }
        let coverage = P.bars(P.element("svg", id: "coverage", in: page))
        #expect(coverage.map { Int($0["data-value"]!)! }.reduce(0, +) == ok.count)
        let edges = BacktestReportData.coverageEdges
        for (k, b) in coverage.enumerated() {
            let n = ok.filter { r in
                let c = Double(r[6])!
                return k == edges.count - 1 ? c == 1 : (c >= edges[k] && c < edges[k + 1])
            }.count
            #expect(Int(b["data-value"]!)! == n, "bin \(k)")
        }
        #expect(P.proportional(coverage))
        let zones = P.bars(P.element("svg", id: "zones", in: page))
        #expect(zones.map { $0["data-key"]! } == ["green", "yellow", "red"])
        #expect(zones.map { Int($0["data-value"]!)! } == ["green", "yellow", "red"].map { z in ok.filter { $0[12] == z }.count })
        #expect(zones.map { $0["fill"]! } == ["#2e8b57", "#d4a017", "#c0392b"])

        // Header facts and the summary's tables.
        #expect(page.contains("2023-01-01 – 2025-12-31") && page.contains(">1,096<") && page.contains("99.00%"))
        #expect(page.contains("X&lt;Y") && !page.contains("X<Y"))
        let stageRows = P.rows(P.element("section", id: "stage-coverage", in: page))
        #expect(stageRows.map { $0[0] } == ["healthy", "imBreach", "autoRepay", "liquidation"])
        #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"))
        #expect(!page.lowercased().contains("<script"))
        #expect(try Report.html(folder: dir) == page)
    }
}
