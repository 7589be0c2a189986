import Foundation
import Testing
@testable import PortfolioMargin

/// Reads the page `pm report` writes: the SVG bars of one chart, the rows of one table, texts by class.
enum ReportPageReader {
    static func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    static func matches(_ pattern: String, _ text: String) -> [[String]] {
        let re = try! NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators])
        let ns = text as NSString
        return re.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { m in
            (0..<m.numberOfRanges).map { m.range(at: $0).location == NSNotFound ? "" : ns.substring(with: m.range(at: $0)) }
        }
    }

    /// The text of the element `<tag id="id" …>…</tag>` (the first).
    static func element(_ tag: String, id: String, in page: String) -> String {
        matches("<\(tag) id=\"\(id)\"[^>]*>(.*?)</\(tag)>", page).first?[1] ?? ""
    }

    /// The attributes of each `<rect class="bar" …>` of `svg`.
    static func bars(_ svg: String) -> [[String: String]] {
        matches("<rect class=\"bar\"([^>]*)>", svg).map { m in
            var a: [String: String] = [:]
            for p in matches("([a-z-]+)=\"([^\"]*)\"", m[1]) { a[p[1]] = unescape(p[2]) }
            return a
        }
    }

    /// The cells of each body row of the first table in `html`, unescaped, tags removed.
    static func rows(_ html: String) -> [[String]] {
        let body = matches("<tbody>(.*?)</tbody>", html).first?[1] ?? ""
        return matches("<tr>(.*?)</tr>", body).map { r in
            matches("<td[^>]*>(.*?)</td>", r[1]).map { unescape($0[1].replacingOccurrences(of: "<[^>]*>", with: "", options: .regularExpression)) }
        }
    }

    /// Heights are proportional to values: one ratio for every bar with a value.
    static func proportional(_ bars: [[String: String]], dimension: String = "height") -> Bool {
        let ratios = bars.compactMap { b -> Double? in
            guard let v = Double(b["data-value"] ?? ""), v > 0, let h = Double(b[dimension] ?? "") else { return nil }
            return h / v
        }
        let values = bars.compactMap { Double($0["data-value"] ?? "") }.filter { $0 > 0 }
        guard let top = values.indices.max(by: { values[$0] < values[$1] }) else { return true }
        // Coordinates are written to 0.01 (error ≤ 0.005 each): against the largest bar's ratio, a
        // bar of value v is off by at most 0.005 + 0.005·v/vmax ≤ 0.01 in length.
        let r0 = ratios[top]
        return zip(ratios, values).allSatisfy { abs($0 - r0) * $1 <= 0.0101 }
    }
}

/// Writes batch output folders for the report tests.
enum ReportFolders {
    static let hostileId = "<script>alert(1)</script>&\"'"
    static let hostileCoin = "B<T"

    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    static func write(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    static func manifest(accounts: Int, errors: Int, outputs: String = "") -> String {
        "{\"shard\": null, \"accounts\": \(accounts), \"errors\": \(errors), \"inputs\": {}," + outputs
            + " \"pm\": \"0.9.0\", \"finished\": \"2026-12-07T00:00:00.000Z\"}\n"
    }

    struct Account {
        var id: String, balance: Double, im: Double, mm: Double, rate: Double, stage: String, error: String
        var line: Int
    }

    /// A batch folder of `n` random accounts (a few with errors, a few with an infinite rate, the
    /// hostile id among them) and units in four coins (one hostile); returns the folder and the accounts.
    static func batch(_ n: Int, seed: UInt64 = 7) throws -> (String, [Account], [String: (im: Double, mm: Double)]) {
        let dir = TestTemp.dir("report-batch")
        var rng = SplitMix(seed: seed)
        var margins = BatchReportData.marginColumns.joined(separator: ",") + "\n"
        var units = BatchReportData.unitColumns.joined(separator: ",") + "\n"
        var accounts: [Account] = []
        var coins: [String: (im: Double, mm: Double)] = [:]
        for k in 0..<n {
            let id = k == 3 ? hostileId : "ACC-\(k)"
            let line = k + 2
            if k % 17 == 5 {
                let err = k == 5 ? "unknown instrument <X> & \"Y\"" : "no market for ETH"
                margins += csvField(id) + ",,,,,,,," + csvField(err) + "\n"
                accounts.append(Account(id: id, balance: 0, im: 0, mm: 0, rate: 0, stage: "", error: err, line: line))
                continue
            }
            // MM values with ties (rounded to hundreds) so the top-N tie rule matters.
            let mm = k == 3 ? 60_000 : (rng.uniform(0, 50_000) / 100).rounded() * 100   // the hostile id is listed first
            let im = mm * 1.2
            let infinite = k % 23 == 7
            let balance = infinite ? -rng.uniform(1, 100) : rng.uniform(mm * 0.5, mm * 12 + 1)
            let rate = infinite ? Double.infinity : (mm == 0 ? 0 : mm / balance)
            let stage = rate >= 1 ? "liquidation" : rate >= 0.9 ? "autoRepay" : rate >= 0.8 ? "imBreach" : "healthy"
            let rateText = rate.isInfinite ? "inf" : "\(rate)"
            margins += "\(csvField(id)),\(balance),0.0,\(im),\(mm),\(rateText),\(rateText),\(stage),\n"
            accounts.append(Account(id: id, balance: balance, im: im, mm: mm, rate: rate, stage: stage, error: "", line: line))
            let coin = [hostileCoin, "ETH", "SOL", "BTC"][k % 4]
            units += "\(csvField(id)),\(coin),\(mm),0.1,up,0.0,0.0,0.0,0.0,0.0,\(mm),\(im),positions,0.0\n"
            var s = coins[coin] ?? (0, 0)
            s.im += im; s.mm += mm
            coins[coin] = s
        }
        let errors = accounts.filter { !$0.error.isEmpty }.count
        try write(dir + "/margins.csv", margins)
        try write(dir + "/units.csv", units)
        try write(dir + "/manifest.json", manifest(accounts: n, errors: errors))
        return (dir, accounts, coins)
    }

    static let backtestFixture = "\(CLI.fixtures)/report-backtest"

    /// A copy of the backtest fixture, to change one file of.
    static func backtestCopy() throws -> String {
        let dir = TestTemp.dir("report-backtest")
        for f in ["backtest.csv", "backtest-units.csv", "scenarios.csv", "summary.json", "manifest.json"] {
            try FileManager.default.copyItem(atPath: TestSupport.path(backtestFixture + "/" + f), toPath: dir + "/" + f)
        }
        return dir
    }

    /// The fields of each data line of a CSV (RFC 4180 quoting, no line breaks in fields).
    static func parseCSV(_ path: String) throws -> [[String]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var rows: [[String]] = []
        for line in text.split(separator: "\n").dropFirst() {
            var fields: [String] = [], cur = "", quoted = false, chars = Array(line), i = 0
            while i < chars.count {
                let ch = chars[i]
                if quoted {
                    if ch == "\"" { if i + 1 < chars.count, chars[i + 1] == "\"" { cur.append("\""); i += 1 } else { quoted = false } } else { cur.append(ch) }
                } else if ch == "\"" { quoted = true } else if ch == "," { fields.append(cur); cur = "" } else { cur.append(ch) }
                i += 1
            }
            fields.append(cur)
            rows.append(fields)
        }
        return rows
    }
}

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
            #expect(abs(Double(b["data-value"]!)! - want) <= 0.005 + 1e-12 * want, "\(b)")
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
