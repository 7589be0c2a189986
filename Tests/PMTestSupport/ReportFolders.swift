import Foundation
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
