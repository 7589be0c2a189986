#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The readable view of a result (`--format table`): per unit the price × IV ladder with the worst
/// cell marked, the contingency breakdown, MM and IM; then the account totals, rates and stage.
extension MarginResult {
    /// The account as a readable text table (`pm margin --format table`): every unit's ladder, then
    /// the totals; rates as percentages (`+∞` as `inf`). Not a stable format: parse the JSON.
    public func table() -> String {
        var out = "Account \(accountId)\n"
        for u in units { out += u.table() + "\n" }
        out += "Account totals\n"
        let rows: [(String, String)] = [
            ("margin balance", Table.money(marginBalance)),
            ("order loss", Table.money(orderLoss)),
            ("total MM", Table.money(totalMM)),
            ("total IM", Table.money(totalIM)),
            ("MM rate", Table.percent(mmRate)),
            ("IM rate", Table.percent(imRate)),
            ("stage", stage.rawValue),
        ]
        for (k, v) in rows { out += "  " + Table.pad(k, 16) + Table.lpad(v, 20) + "\n" }
        return out
    }
}

extension UnitResult {
    /// The unit as a readable text table: the price × IV ladder of the governing portfolio with the
    /// worst cell starred (docs/model.md §4), the contingencies (§5, `ContingencyKind`), MM and IM (§7).
    public func table() -> String {
        var out = "Unit \(baseCoin) — governing portfolio: \(governingPortfolio.name)"
        if hedgeSpotSize != 0 { out += ", spot hedge leg \(Table.plain(hedgeSpotSize)) \(baseCoin)" }
        out += "\n"
        out += "  " + Table.lpad("move", 8) + IvShock.allCases.map { Table.lpad("iv \($0.name)", 18) }.joined() + "\n"
        let worstRow = priceMoves.firstIndex(of: maxLossPriceMove) ?? -1
        for (k, move) in priceMoves.enumerated() {
            var line = "  " + Table.lpad(Table.percent(move, digits: 1), 8)
            for j in 0..<3 {
                let mark = (k == worstRow && j == maxLossIvShock.rawValue) ? "*" : " "
                line += " " + Table.lpad(Table.money(pnl[k][j]) + mark, 17)   // a space even when a figure fills the column
            }
            out += line + "\n"
        }
        out += "  * worst scenario: move \(Table.percent(maxLossPriceMove, digits: 1)), iv \(maxLossIvShock.name)\n"
        let c = contingency
        let rows: [(String, Double)] = [("max loss", maxLoss)]
            + ContingencyKind.all.map { ($0.descriptor.label, c[$0]) }
            + [("contingencies", c.total), ("MM", mm), ("IM", im)]
        for (k, v) in rows { out += "  " + Table.pad(k, 16) + Table.lpad(Table.money(v), 20) + "\n" }
        let alternatives = GoverningPortfolio.allCases.compactMap { g in portfolioMM[g.rawValue].map { "\(g.name) \(Table.money($0))" } }
        if alternatives.count > 1 { out += "  MM by portfolio: " + alternatives.joined(separator: ", ") + "\n" }
        let shares = attribution
        if !shares.isEmpty {
            out += "  Positions by contribution to max loss (docs/model.md §12)\n"
            out += "  " + Table.pad("symbol", 30) + Table.lpad("size", 14) + Table.lpad("contribution", 20) + "\n"
            for s in shares {
                out += "  " + Table.pad(s.symbol, 30) + " " + Table.lpad(Table.plain(s.size), 13)
                    + " " + Table.lpad(Table.money(s.contribution), 19) + "\n"
            }
        }
        return out
    }

    /// The governing portfolio's holdings and the spot leg (labelled `spot hedge leg`, when there
    /// is one) with their `maxLossContribution`, largest first; ties by symbol, so the order is
    /// deterministic.
    public var attribution: [(symbol: String, size: Double, contribution: Double)] {
        var rows = positions.map { (symbol: $0.symbol, size: $0.size, contribution: $0.maxLossContribution) }
        if hedgeSpotSize != 0 {
            rows.append((symbol: "spot hedge leg \(baseCoin)", size: hedgeSpotSize, contribution: spotHedgeMaxLossContribution))
        }
        return rows.sorted { $0.contribution != $1.contribution ? $0.contribution > $1.contribution : $0.symbol < $1.symbol }
    }
}

/// Column formatting for the table views.
enum Table {
    static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
    static func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }

    /// `-1,234.56`; total over Double: non-finite values as `NumberFormat` writes them, from 10^13
    /// (where cents no longer fit a double's integer range exactly) the exact decimal digits of the
    /// value rounded to cents, from 10^21 on in exponent form (`1e+300`). Never an `Int` conversion
    /// of an unbounded value.
    static func money(_ v: Double) -> String {
        guard v.isFinite, abs(v) < 1e21 else { return NumberFormat.text(v) }
        let cents = (abs(v) * 100).rounded()
        var digits: String, frac: Int
        if abs(v) < 1e13 {
            digits = String(Int(cents / 100)); frac = Int(cents.truncatingRemainder(dividingBy: 100))
        } else {
            let text = String(format: "%.2f", abs(v))   // correctly rounded from the binary value
            let point = text.firstIndex(of: ".")!
            digits = String(text[..<point]); frac = Int(text[text.index(after: point)...])!
        }
        var grouped = ""
        while digits.count > 3 {
            grouped = "," + digits.suffix(3) + grouped
            digits = String(digits.dropLast(3))
        }
        let sign = v < 0 && cents > 0 ? "-" : ""
        return sign + digits + grouped + "." + (frac < 10 ? "0" : "") + String(frac)
    }

    /// `85.20%`, or `inf`.
    static func percent(_ v: Double, digits: Int = 2) -> String {
        guard v.isFinite else { return NumberFormat.text(v) }
        // A rate beyond 10^12 % (a balance near 0): no fixed decimals, which would overflow an Int.
        guard abs(v) < 1e10 else { return NumberFormat.text(v * 100) + "%" }
        let scaled = (v * 100 * pow(10, Double(digits))).rounded() / pow(10, Double(digits))
        var s = fixed(scaled, digits: digits)
        if v > 0 && !s.hasPrefix("-") && digits == 1 { s = "+" + s }
        return s + "%"
    }

    static func plain(_ v: Double) -> String { NumberFormat.text(v) }

    /// `v` with exactly `digits` decimals (`digits` clamped to 0…17). Total for every Double: a
    /// non-finite `v` prints as `NumberFormat.text` does (`inf`, `-inf`, `nan`), and a magnitude
    /// whose scaled value does not fit an `Int` (|v|·10^digits ≥ 9·10^18) in the shortest round-trip
    /// form, where fixed decimals would be noise anyway.
    static func fixed(_ v: Double, digits: Int) -> String {
        let digits = min(max(digits, 0), 17)
        let m = pow(10, Double(digits))
        let units = (abs(v) * m).rounded()
        guard v.isFinite, units < 9e18 else { return NumberFormat.text(v) }
        let whole = Int(units / m)
        var frac = String(Int(units.truncatingRemainder(dividingBy: m)))
        while frac.count < digits { frac = "0" + frac }
        return (v < 0 && units > 0 ? "-" : "") + String(whole) + (digits > 0 ? "." + frac : "")
    }
}
