import Foundation

/// `pm report`: one self-contained HTML page of a batch or backtest output folder (docs/formats.md
/// "Reports"). The page is inline CSS and inline SVG only — no script, no font, image or link to
/// anything else — so it opens anywhere and prints as it looks. Every text from the files (account
/// ids, coin names, error texts) is escaped; the page is a pure function of the data, so the same
/// folder gives the same bytes.
///
/// Charts carry their plotted values as `data-value` attributes (`<rect class="bar" data-key=…
/// data-value=…>`), so a reader (or a test) can check the drawing against the files.
public enum Report {
    /// Which kind of output folder a path is.
    public enum Kind: String, Sendable {
        /// `margins.csv`, `units.csv`, `manifest.json` (`pm batch`, `pm merge`).
        case batch
        /// `backtest.csv`, `backtest-units.csv`, `scenarios.csv`, `summary.json`, `manifest.json` (`pm backtest`).
        case backtest
    }

    /// The kind of the output folder at `folder`, told by the files in it: `backtest.csv` makes it a
    /// backtest folder, `margins.csv` a batch folder. Throws an `InputError` when `folder` is not a
    /// folder or holds neither.
    public static func kind(of folder: String) throws -> Kind {
        guard let st = try? FileSystem.status(folder) else { throw InputError(file: folder, "no such folder") }
        guard st.kind == .directory else { throw InputError(file: folder, "is not a folder (expected the output folder of pm batch or pm backtest)") }
        if ReportCSV.exists(folder + "/backtest.csv") { return .backtest }
        if ReportCSV.exists(folder + "/margins.csv") { return .batch }
        throw InputError(file: folder, "is neither a batch output folder (margins.csv) nor a backtest output folder (backtest.csv)")
    }

    /// The files of `folder` a report of its kind reads.
    public static func inputs(of folder: String, kind: Kind) -> [String] {
        switch kind {
        case .batch: return ["margins.csv", "units.csv", "manifest.json"].map { folder + "/" + $0 }
        case .backtest: return ["backtest.csv", "backtest-units.csv", "scenarios.csv", "summary.json", "manifest.json"].map { folder + "/" + $0 }
        }
    }

    /// Reads the output folder at `folder` (either kind) and returns its page.
    public static func html(folder: String) throws -> String {
        switch try kind(of: folder) {
        case .batch: return html(try BatchReportData.read(folder: folder))
        case .backtest: return html(try BacktestReportData.read(folder: folder))
        }
    }

    // MARK: - Text

    /// `text` escaped for HTML text and attribute values: `& < > " '` as entities; control
    /// characters (other than tab and line ends) and U+FFFE/U+FFFF as U+FFFD.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for u in text.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(u)
            default:
                if u.value < 0x20 || (0x7F...0x9F).contains(u.value) || u.value == 0xFFFE || u.value == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }

    /// `v` with `decimals` decimals and thousands separators (`1,234,567.89`); beyond 10^15 in
    /// scientific notation (`1.235e+18`); `∞` for an infinite value.
    public static func grouped(_ v: Double, decimals: Int = 2) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v > 0 ? "∞" : "−∞") }
        if abs(v) >= 1e15 { return String(format: "%.3e", v) }
        let s = String(format: "%.\(decimals)f", abs(v))
        let parts = s.split(separator: ".", maxSplits: 1)
        let digits = Array(parts[0])
        var int = ""
        for (k, c) in digits.enumerated() {
            if k > 0 && (digits.count - k) % 3 == 0 { int.append(",") }
            int.append(c)
        }
        let text = parts.count > 1 ? int + "." + parts[1] : int
        let isZero = !s.contains { $0 != "0" && $0 != "." }
        return (v < 0 && !isZero ? "−" : "") + text
    }

    /// A count with thousands separators.
    public static func count(_ n: Int) -> String { grouped(Double(n), decimals: 0) }

    /// A fraction as a percentage with `decimals` decimals (`0.0123` → `1.23%`).
    public static func percent(_ v: Double, decimals: Int = 2) -> String {
        v.isFinite ? grouped(v * 100, decimals: decimals) + "%" : grouped(v)
    }

    /// A coordinate in the SVG: two decimals, fixed (the same bytes on every machine).
    static func c(_ v: Double) -> String { String(format: "%.2f", v.isFinite ? v : 0) }

    // MARK: - Page

    static let css = """
    :root{--ink:#1d2733;--muted:#5b6775;--line:#d5dbe3;--bg:#ffffff;--panel:#f6f8fa}
    *{box-sizing:border-box}
    body{margin:0;padding:24px 32px;font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg);max-width:1240px}
    h1{font-size:22px;margin:0 0 4px}
    h2{font-size:16px;margin:0 0 8px}
    .sub{color:var(--muted);margin:0 0 16px;overflow-wrap:anywhere}
    .facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px;margin:0 0 20px}
    .fact{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:8px 10px}
    .fact.wide{grid-column:span 2}
    .fact b{display:block;font-size:18px;overflow-wrap:anywhere}
    .fact span{color:var(--muted);font-size:12px}
    .grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
    section{border:1px solid var(--line);border-radius:6px;padding:12px 14px;margin:0 0 16px;break-inside:avoid;page-break-inside:avoid}
    section p.note{color:var(--muted);font-size:12px;margin:6px 0 0}
    svg{width:100%;height:auto;display:block}
    svg text{font:11px -apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:var(--ink)}
    svg .axis{stroke:#8a96a3;stroke-width:1}
    svg .gridline{stroke:#e4e8ee;stroke-width:1}
    svg text.muted{fill:var(--muted)}
    table{border-collapse:collapse;width:100%;font-size:13px}
    th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:right;vertical-align:top}
    th{background:var(--panel);font-weight:600}
    td.id,th.id,td.text{text-align:left;overflow-wrap:anywhere;word-break:break-word}
    .pill{display:inline-block;padding:0 6px;border-radius:8px;font-size:12px;color:#fff}
    .healthy,.green{background:#2e8b57}.imBreach,.yellow{background:#d4a017}.autoRepay{background:#e07b24}.liquidation,.red{background:#c0392b}
    .err{color:#a12a1f}
    @media print{body{padding:0;max-width:none;font-size:11px}.grid{grid-template-columns:1fr 1fr}section{border-color:#999}
      *{-webkit-print-color-adjust:exact;print-color-adjust:exact}@page{margin:12mm}}
    """

    static func page(title: String, subtitle: String, body: [String]) -> String {
        var out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        out += "<title>" + escape(title) + "</title>\n<style>\n" + css + "\n</style>\n</head>\n<body>\n"
        out += "<h1>" + escape(title) + "</h1>\n<p class=\"sub\">" + subtitle + "</p>\n"
        out += body.joined(separator: "\n")
        out += "\n</body>\n</html>\n"
        return out
    }

    /// Labelled figures in boxes; a value longer than 18 characters gets a box twice as wide.
    static func facts(_ items: [(String, String)]) -> String {
        "<div class=\"facts\">" + items.map {
            "<div class=\"fact\(($0.1.count > 18) ? " wide" : "")\"><b>\($0.1)</b><span>\($0.0)</span></div>"
        }.joined() + "</div>"
    }

    static func section(_ title: String, _ content: String, note: String? = nil, id: String) -> String {
        "<section id=\"\(id)\"><h2>\(title)</h2>\n\(content)" + (note.map { "\n<p class=\"note\">\($0)</p>" } ?? "") + "</section>"
    }

    static func table(_ head: [String], _ rows: [[String]], idColumns: Set<Int> = [1]) -> String {
        var out = "<table><thead><tr>"
        for (k, h) in head.enumerated() { out += idColumns.contains(k) ? "<th class=\"id\">\(h)</th>" : "<th>\(h)</th>" }
        out += "</tr></thead><tbody>\n"
        for r in rows {
            out += "<tr>"
            for (k, cell) in r.enumerated() { out += idColumns.contains(k) ? "<td class=\"id\">\(cell)</td>" : "<td>\(cell)</td>" }
            out += "</tr>\n"
        }
        return out + "</tbody></table>"
    }

    // MARK: - Charts

    /// One bar: the key it is drawn for (already plain text, escaped here), its value, colour and label.
    struct Bar {
        var key: String
        var value: Double
        var color: String
        var label: String
    }

    /// A step of about `span / 5` of the form 1, 2 or 5 × 10^k.
    static func niceStep(_ span: Double) -> Double {
        guard span > 0, span.isFinite else { return 1 }
        let raw = span / 5
        let p = pow(10, floor(log10(raw)))
        let m = raw / p
        return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p
    }

    /// A vertical bar chart with a y axis from 0; `gapBefore` puts a wider gap before that bar (a
    /// bin counted apart). Bar heights are proportional to the values.
    /// `edges`: a histogram's bin edges, written under the boundaries of the first `edges.count − 1`
    /// bars instead of each bar's key (short labels that do not collide); later bars keep their key.
    static func columns(_ bars: [Bar], id: String, axis: String, integer: Bool = true, gapBefore: Int? = nil, edges: [String] = []) -> String {
        let w = 560.0, h = 250.0, left = 52.0, right = 10.0, top = 18.0, bottom = 36.0
        let plotH = h - top - bottom, plotW = w - left - right
        let maxV = bars.map(\.value).max() ?? 0
        var step = niceStep(maxV)
        if integer { step = max(1, step.rounded(.up)) }
        let ceiling = maxV > 0 ? (maxV / step).rounded(.up) * step : step
        let scale = plotH / ceiling
        var out = "<svg id=\"\(id)\" viewBox=\"0 0 \(c(w)) \(c(h))\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">"
        var t = 0.0
        while t <= ceiling * (1 + 1e-12) {
            let y = top + plotH - t * scale
            out += "<line class=\"gridline\" x1=\"\(c(left))\" y1=\"\(c(y))\" x2=\"\(c(w - right))\" y2=\"\(c(y))\"/>"
            out += "<text x=\"\(c(left - 6))\" y=\"\(c(y + 4))\" text-anchor=\"end\" class=\"muted\">\(integer ? count(Int(t)) : grouped(t, decimals: step < 1 ? 2 : 0))</text>"
            t += step
        }
        out += "<line class=\"axis\" x1=\"\(c(left))\" y1=\"\(c(top + plotH))\" x2=\"\(c(w - right))\" y2=\"\(c(top + plotH))\"/>"
        out += "<text x=\"12\" y=\"\(c(top + plotH / 2))\" transform=\"rotate(-90 12 \(c(top + plotH / 2)))\" text-anchor=\"middle\" class=\"muted\">\(axis)</text>"
        let n = Double(bars.count) + (gapBefore != nil ? 0.6 : 0)
        let slot = plotW / max(n, 1)
        let bw = slot * 0.72
        for (k, b) in bars.enumerated() {
            let x = left + slot * (Double(k) + (gapBefore.map { k >= $0 ? 0.6 : 0 } ?? 0)) + (slot - bw) / 2
            let bh = b.value * scale
            let y = top + plotH - bh
            out += "<rect class=\"bar\" data-key=\"\(escape(b.key))\" data-value=\"\(integer ? String(Int(b.value)) : c(b.value))\" x=\"\(c(x))\" y=\"\(c(y))\" width=\"\(c(bw))\" height=\"\(c(bh))\" fill=\"\(b.color)\"><title>\(escape(b.key)): \(b.label)</title></rect>"
            out += "<text x=\"\(c(x + bw / 2))\" y=\"\(c(y - 4))\" text-anchor=\"middle\">\(b.label)</text>"
            if k >= max(edges.count - 1, 0) {
                out += "<text x=\"\(c(x + bw / 2))\" y=\"\(c(top + plotH + 16))\" text-anchor=\"middle\">\(escape(b.key))</text>"
            }
        }
        for (k, e) in edges.enumerated() {
            let x = left + slot * Double(k)
            out += "<line class=\"axis\" x1=\"\(c(x))\" y1=\"\(c(top + plotH))\" x2=\"\(c(x))\" y2=\"\(c(top + plotH + 4))\"/>"
            out += "<text x=\"\(c(x))\" y=\"\(c(top + plotH + 16))\" text-anchor=\"middle\">\(escape(e))</text>"
        }
        return out + "</svg>"
    }

    /// Horizontal grouped bars: per row (a coin), one bar per series, lengths proportional to the values.
    static func groupedRows(_ rows: [(key: String, values: [Double])], series: [(name: String, color: String)], id: String) -> String {
        let w = 1100.0, left = 130.0, right = 110.0, top = 28.0, barH = 13.0, gap = 12.0
        let rowH = Double(series.count) * barH + gap
        let h = top + Double(max(rows.count, 1)) * rowH + 8
        let plotW = w - left - right
        let maxV = rows.flatMap(\.values).max() ?? 0
        let scale = maxV > 0 ? plotW / maxV : 0
        var out = "<svg id=\"\(id)\" viewBox=\"0 0 \(c(w)) \(c(h))\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">"
        for (k, s) in series.enumerated() {
            let x = left + Double(k) * 90
            out += "<rect x=\"\(c(x))\" y=\"6\" width=\"10\" height=\"10\" fill=\"\(s.color)\"/><text x=\"\(c(x + 14))\" y=\"15\">\(s.name)</text>"
        }
        out += "<line class=\"axis\" x1=\"\(c(left))\" y1=\"\(c(top - 4))\" x2=\"\(c(left))\" y2=\"\(c(h - 6))\"/>"
        for (r, row) in rows.enumerated() {
            let y0 = top + Double(r) * rowH
            let name = row.key.count > 18 ? String(row.key.prefix(17)) + "…" : row.key
            out += "<text x=\"\(c(left - 6))\" y=\"\(c(y0 + Double(series.count) * barH / 2 + 4))\" text-anchor=\"end\">\(escape(name))<title>\(escape(row.key))</title></text>"
            for (k, v) in row.values.enumerated() {
                let y = y0 + Double(k) * barH
                let bw = v * scale
                out += "<rect class=\"bar\" data-key=\"\(escape(row.key))\" data-series=\"\(series[k].name)\" data-value=\"\(c(v))\" x=\"\(c(left))\" y=\"\(c(y))\" width=\"\(c(bw))\" height=\"\(c(barH - 1))\" fill=\"\(series[k].color)\"/>"
                out += "<text x=\"\(c(left + bw + 4))\" y=\"\(c(y + barH - 2))\" class=\"muted\">\(grouped(v))</text>"
            }
        }
        return out + "</svg>"
    }

    // MARK: - Batch

    static let stageColors = ["#2e8b57", "#d4a017", "#e07b24", "#c0392b"]
    static let errorColor = "#7f8c8d"

    /// The page of a batch output folder.
    public static func html(_ d: BatchReportData) -> String {
        var body: [String] = []
        let computed = d.accounts - d.errors
        body.append(facts([
            ("accounts", count(d.accounts)), ("with an error", count(d.errors)),
            ("total IM (USD)", grouped(d.totalIM)), ("total MM (USD)", grouped(d.totalMM)),
            ("margin balance (USD)", grouped(d.totalBalance)),
            ("in liquidation", count(d.stageCounts[3]) + (computed > 0 ? " (" + percent(Double(d.stageCounts[3]) / Double(computed)) + ")" : "")),
        ]))
        // Accounts per stage.
        var stageBars = BatchReportData.stages.enumerated().map { k, s in
            Bar(key: s, value: Double(d.stageCounts[k]), color: stageColors[k], label: count(d.stageCounts[k]))
        }
        stageBars.append(Bar(key: "error", value: Double(d.errors), color: errorColor, label: count(d.errors)))
        var charts: [String] = []
        charts.append(section("Accounts per stage", columns(stageBars, id: "stages", axis: "accounts", gapBefore: 4),
                              note: "Stages of docs/model.md; accounts that could not be computed are counted apart (error).", id: "stage-section"))
        // MM rate histogram.
        let edges = BatchReportData.rateEdges
        var rateBars: [Bar] = []
        for k in 0..<(edges.count - 1) {
            let key = String(format: "%.1f–%.1f", edges[k], edges[k + 1])
            rateBars.append(Bar(key: key, value: Double(d.rateBins[k]), color: k >= 7 ? "#e07b24" : "#4a7fb5", label: count(d.rateBins[k])))
        }
        rateBars.append(Bar(key: "> 1", value: Double(d.rateBins[edges.count - 1]), color: "#c0392b", label: count(d.rateBins[edges.count - 1])))
        rateBars.append(Bar(key: "error", value: Double(d.errors), color: errorColor, label: count(d.errors)))
        let rateEdges = edges.map { $0 == 0 ? "0" : $0 == 1 ? "1" : String(format: "%.1f", $0) }
        charts.append(section("Distribution of MM rates", columns(rateBars, id: "mm-rates", axis: "accounts", gapBefore: rateBars.count - 1, edges: rateEdges),
                              note: "MM rate = total MM ÷ (margin balance + order loss); bins include their lower edge, the 0.9–1.0 bin also 1; "
                                + "\"> 1\" includes infinite rates (no positive equity).", id: "rate-section"))
        body.append("<div class=\"grid\">" + charts.joined(separator: "\n") + "</div>")
        // IM and MM per coin.
        let shown = 12
        var coinRows = d.coins.prefix(shown).map { (key: $0.coin, values: [$0.im, $0.mm]) }
        if d.coins.count > shown {
            let rest = d.coins.dropFirst(shown)
            coinRows.append((key: "other (\(rest.count) coins)", values: [rest.reduce(0) { $0 + $1.im }, rest.reduce(0) { $0 + $1.mm }]))
        }
        let coinChart = d.coins.isEmpty ? "<p>No units (every account had an error or no positions).</p>"
            : groupedRows(coinRows, series: [("IM (USD)", "#4a7fb5"), ("MM (USD)", "#c0392b")], id: "coins")
        body.append(section("IM and MM per coin", coinChart,
                            note: "Sums of units.csv over accounts, per base coin, largest MM first" + (d.coins.count > shown ? "; coins after the \(shown)th summed as other." : "."),
                            id: "coin-section"))
        // Largest MM.
        let rows = d.top.enumerated().map { k, a in
            [String(k + 1), escape(a.id), grouped(a.figures[0]), grouped(a.figures[1]), grouped(a.figures[2]), percent(a.figures[3]),
             "<span class=\"pill \(escape(a.text))\">\(escape(a.text))</span>"]
        }
        body.append(section("The \(d.top.count) accounts with the largest MM",
                            rows.isEmpty ? "<p>No account was computed.</p>"
                                : table(["#", "account", "MM (USD)", "IM (USD)", "margin balance (USD)", "MM rate", "stage"], rows),
                            id: "top-section"))
        if !d.errorAccounts.isEmpty {
            let erows = d.errorAccounts.map { ["\($0.line)", escape($0.id), "<span class=\"err\">" + escape($0.text) + "</span>"] }
            body.append(section("Accounts with an error (first \(d.errorAccounts.count) of \(count(d.errors)))",
                                table(["line", "account", "error"], erows, idColumns: [1, 2]), id: "error-section"))
        }
        var subtitle = "Batch output folder <b>" + escape(d.folder) + "</b> · pm " + escape(d.pm) + " · finished " + escape(d.finished)
        if let s = d.shard { subtitle += " · shard " + escape(s) }
        return page(title: "Portfolio margin — batch report", subtitle: subtitle, body: body)
    }

    // MARK: - Backtest

    static let zoneColors = ["#2e8b57", "#d4a017", "#c0392b"]

    /// The chart of accounts breached (MM) per scenario date, on a time axis with year ticks; the
    /// `labelled` worst dates by shortfall (ties: the earlier date) are marked and labelled.
    static func breachChart(_ d: BacktestReportData) -> String {
        let w = 1100.0, h = 300.0, left = 56.0, right = 16.0, top = 64.0, bottom = 36.0
        let plotW = w - left - right, plotH = h - top - bottom
        guard let first = d.points.first?.day, let last = d.points.last?.day else { return "<p>No scenario dates.</p>" }
        let span = Double(max(last - first, 1))
        func x(_ day: Int) -> Double { left + (Double(day - first) + 0.5) / (span + 1) * plotW }
        let maxV = Double(d.points.map(\.breached).max() ?? 0)
        let step = max(1, niceStep(maxV).rounded(.up))
        let ceiling = maxV > 0 ? (maxV / step).rounded(.up) * step : step
        let scale = plotH / ceiling
        var out = "<svg id=\"breaches\" viewBox=\"0 0 \(c(w)) \(c(h))\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">"
        var t = 0.0
        while t <= ceiling * (1 + 1e-12) {
            let y = top + plotH - t * scale
            out += "<line class=\"gridline\" x1=\"\(c(left))\" y1=\"\(c(y))\" x2=\"\(c(w - right))\" y2=\"\(c(y))\"/>"
            out += "<text x=\"\(c(left - 6))\" y=\"\(c(y + 4))\" text-anchor=\"end\" class=\"muted\">\(count(Int(t)))</text>"
            t += step
        }
        out += "<line class=\"axis\" x1=\"\(c(left))\" y1=\"\(c(top + plotH))\" x2=\"\(c(w - right))\" y2=\"\(c(top + plotH))\"/>"
        out += "<text x=\"12\" y=\"\(c(top + plotH / 2))\" transform=\"rotate(-90 12 \(c(top + plotH / 2)))\" text-anchor=\"middle\" class=\"muted\">accounts breached</text>"
        // Year ticks: 1 January of each year inside the window (the first date's year when none is).
        let firstYear = Int(d.points.first!.date.prefix(4)) ?? 1970
        let lastYear = Int(d.points.last!.date.prefix(4)) ?? firstYear
        var yearsDrawn = 0
        if lastYear > firstYear {
            let every = max(1, (lastYear - firstYear) / 12 + 1)
            for y in stride(from: firstYear + 1, through: lastYear, by: every) {
                let day = ISO8601.daysFromCivil(y, 1, 1)
                let xx = left + Double(day - first) / (span + 1) * plotW
                out += "<line class=\"axis\" x1=\"\(c(xx))\" y1=\"\(c(top + plotH))\" x2=\"\(c(xx))\" y2=\"\(c(top + plotH + 5))\"/>"
                out += "<text class=\"year\" x=\"\(c(xx))\" y=\"\(c(top + plotH + 18))\" text-anchor=\"middle\">\(y)</text>"
                yearsDrawn += 1
            }
        }
        out += "<text x=\"\(c(left))\" y=\"\(c(h - 4))\" class=\"muted\">\(escape(d.points.first!.date))</text>"
        out += "<text x=\"\(c(w - right))\" y=\"\(c(h - 4))\" text-anchor=\"end\" class=\"muted\">\(escape(d.points.last!.date))</text>"
        // One bar per date with breaches (a zero would draw nothing).
        let bw = max(1.0, plotW / (span + 1) * 0.8)
        for p in d.points where p.breached > 0 {
            let bh = Double(p.breached) * scale
            out += "<rect class=\"bar\" data-key=\"\(escape(p.date))\" data-value=\"\(p.breached)\" x=\"\(c(x(p.day) - bw / 2))\" y=\"\(c(top + plotH - bh))\" width=\"\(c(bw))\" height=\"\(c(bh))\" fill=\"#c0392b\"><title>\(escape(p.date)): \(count(p.breached)) accounts, shortfall \(grouped(p.shortfall))</title></rect>"
        }
        // The worst dates, labelled in rows above the plot (rank 1 on top) with a leader line.
        var order = d.points.indices.filter { d.points[$0].shortfall > 0 }
        order.sort { d.points[$0].shortfall != d.points[$1].shortfall ? d.points[$0].shortfall > d.points[$1].shortfall : d.points[$0].day < d.points[$1].day }
        for (rank, i) in order.prefix(BacktestReportData.labelledDates).enumerated() {
            let p = d.points[i]
            let xx = x(p.day)
            let ly = 12 + Double(rank) * 11
            let anchor = xx > left + plotW * 0.75 ? "end" : (xx < left + plotW * 0.25 ? "start" : "middle")
            let barTop = top + plotH - Double(p.breached) * scale
            out += "<line x1=\"\(c(xx))\" y1=\"\(c(ly + 2))\" x2=\"\(c(xx))\" y2=\"\(c(barTop - 3))\" stroke=\"#5b6775\" stroke-dasharray=\"2 2\"/>"
            out += "<circle cx=\"\(c(xx))\" cy=\"\(c(barTop - 3))\" r=\"3\" fill=\"#1d2733\"/>"
            out += "<text class=\"worst\" data-rank=\"\(rank + 1)\" data-date=\"\(escape(p.date))\" x=\"\(c(xx))\" y=\"\(c(ly))\" text-anchor=\"\(anchor)\">\(rank + 1). \(escape(p.date)) — shortfall \(grouped(p.shortfall))</text>"
        }
        _ = yearsDrawn
        return out + "</svg>"
    }

    static func coverageTable(_ t: CoverageTable, what: String) -> String {
        guard !t.rows.isEmpty else { return "<p>None.</p>" }
        let covCol = t.columns.firstIndex(of: "coverage")
        var head = [what] + t.columns.map(escape)
        if covCol != nil { head.append("") }
        let rows: [[String]] = t.rows.map { r in
            var cells = [escape(r.name)]
            for (k, cell) in r.cells.enumerated() {
                let col = t.columns[k].lowercased()
                switch cell {
                case .number(let v)?:
                    if col.contains("coverage") || col.contains("rate") { cells.append(percent(v)) }
                    else if v == v.rounded() && abs(v) < 1e15 { cells.append(grouped(v, decimals: 0)) }
                    else { cells.append(grouped(v)) }
                case .string(let s)?: cells.append(escape(s))
                case .bool(let b)?: cells.append(b ? "yes" : "no")
                default: cells.append("—")
                }
            }
            if let k = covCol {
                if case .number(let v)? = r.cells[k] {
                    let wv = max(0, min(1, v)) * 160
                    cells.append("<svg class=\"cov\" viewBox=\"0 0 160 10\" width=\"160\" height=\"10\" style=\"width:160px\"><rect width=\"160\" height=\"10\" fill=\"#e4e8ee\"/><rect class=\"bar\" data-key=\"\(escape(r.name))\" data-value=\"\(c(v))\" width=\"\(c(wv))\" height=\"10\" fill=\"#4a7fb5\"/></svg>")
                } else { cells.append("") }
            }
            return cells
        }
        return table(head, rows, idColumns: [0])
    }

    /// The page of a backtest output folder.
    public static func html(_ d: BacktestReportData) -> String {
        var body: [String] = []
        let ivCoins = d.coinsWithIv.isEmpty ? "none" : d.coinsWithIv.map(escape).joined(separator: ", ")
        let noIv = d.coinsWithoutIv.isEmpty ? "none" : d.coinsWithoutIv.map(escape).joined(separator: ", ")
        body.append(facts([
            ("window", escape(d.windowFrom) + " – " + escape(d.windowTo)), ("scenario dates", count(d.scenarios)),
            ("horizon (days)", grouped(d.horizon, decimals: d.horizon == d.horizon.rounded() ? 0 : 2)),
            ("confidence", percent(d.confidence)), ("breach rate (MM)", percent(d.breachRate)),
            ("accounts", count(d.accounts)), ("with an error", count(d.errors)),
            ("coins with IV history", ivCoins), ("coins without IV history (IV held)", noIv),
        ]))
        body.append(section("Accounts breached (MM) per scenario date", breachChart(d),
                            note: "One bar per date on which the horizon's move took some account's loss past its MM; the \(BacktestReportData.labelledDates) dates with the largest shortfall (loss beyond MM, summed over accounts) are labelled.",
                            id: "breach-section"))
        var charts: [String] = []
        let edges = BacktestReportData.coverageEdges
        var covBars: [Bar] = []
        for k in 0..<(edges.count - 1) {
            let key = k == 0 ? "< 90%" : String(format: "%g–%g%%", edges[k] * 100, edges[k + 1] * 100)
            covBars.append(Bar(key: key, value: Double(d.coverageBins[k]), color: edges[k + 1] <= d.confidence ? "#c0392b" : "#4a7fb5", label: count(d.coverageBins[k])))
        }
        covBars.append(Bar(key: "100%", value: Double(d.coverageBins[edges.count - 1]), color: "#2e8b57", label: count(d.coverageBins[edges.count - 1])))
        charts.append(section("Coverage across accounts", columns(covBars, id: "coverage", axis: "accounts"),
                              note: "coverage_mm: the share of scenario dates on which MM covered the account's loss; bins include their lower edge; red: below the confidence \(percent(d.confidence)). Accounts with an error are not counted.",
                              id: "coverage-section"))
        let zoneBars = BacktestReportData.zones.enumerated().map { k, z in
            Bar(key: z, value: Double(d.zoneCounts[k]), color: zoneColors[k], label: count(d.zoneCounts[k]))
        }
        charts.append(section("Accounts per zone", columns(zoneBars, id: "zones", axis: "accounts"),
                              note: "Traffic-light zones of the breach count (docs/model.md).", id: "zone-section"))
        body.append("<div class=\"grid\">" + charts.joined(separator: "\n") + "</div>")
        body.append("<div class=\"grid\">" + section("Coverage per stage", coverageTable(d.coverageByStage, what: "stage"), id: "stage-coverage")
            + "\n" + section("Coverage per coin", coverageTable(d.coverageByCoin, what: "coin"), id: "coin-coverage") + "</div>")
        let rows = d.top.enumerated().map { k, a -> [String] in
            let parts = a.text.split(separator: " ", maxSplits: 1).map(String.init)
            let zone = parts.first ?? ""
            return [String(k + 1), escape(a.id), grouped(a.figures[0]), grouped(a.figures[1]), percent(a.figures[2]), count(Int(a.figures[3])),
                    parts.count > 1 ? escape(parts[1]) : "—", "<span class=\"pill \(escape(zone))\">\(escape(zone))</span>"]
        }
        body.append(section("The \(d.top.count) accounts with the largest worst shortfall",
                            rows.isEmpty ? "<p>No account was backtested.</p>"
                                : table(["#", "account", "worst shortfall (USD)", "MM (USD)", "coverage", "breaches", "worst date", "zone"], rows),
                            id: "top-section"))
        if !d.errorAccounts.isEmpty {
            let erows = d.errorAccounts.map { ["\($0.line)", escape($0.id), "<span class=\"err\">" + escape($0.text) + "</span>"] }
            body.append(section("Accounts with an error (first \(d.errorAccounts.count) of \(count(d.errors)))",
                                table(["line", "account", "error"], erows, idColumns: [1, 2]), id: "error-section"))
        }
        return page(title: "Portfolio margin — coverage backtest report",
                    subtitle: "Backtest output folder <b>" + escape(d.folder) + "</b>", body: body)
    }
}
