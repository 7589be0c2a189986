extension JSON {
    /// A number, or the string `"inf"` / `"-inf"` / `"nan"` when it is not finite (docs/formats.md).
    static func num(_ v: Double) -> JSON { v.isFinite ? .number(v) : .string(NumberFormat.text(v)) }

    /// Renders the document. `pretty` indents objects and arrays of containers by two spaces and
    /// keeps arrays of scalars on one line (a P&L row reads as a row).
    public func render(pretty: Bool = true) -> String {
        var out = ""
        write(into: &out, pretty: pretty, indent: 0)
        return out
    }

    private func write(into out: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .number(d): out += NumberFormat.text(d)
        case let .string(s): Self.quote(s, into: &out)
        case let .array(items):
            let flat = !pretty || items.allSatisfy { if case .array = $0 { return false }; if case .object = $0 { return false }; return true }
            let nested = !flat && items.allSatisfy { if case let .array(inner) = $0 { return inner.allSatisfy { if case .number = $0 { return true }; return false } }; return false }
            if items.isEmpty { out += "[]"; return }
            if flat {
                out += "["
                for (n, v) in items.enumerated() {
                    if n > 0 { out += pretty ? ", " : "," }
                    v.write(into: &out, pretty: pretty, indent: indent)
                }
                out += "]"
            } else {
                // Arrays of numeric rows (P&L tables) print one row per line.
                out += "["
                for (n, v) in items.enumerated() {
                    out += n > 0 ? ",\n" : "\n"
                    out += String(repeating: " ", count: indent + 2)
                    v.write(into: &out, pretty: nested ? true : pretty, indent: indent + 2)
                }
                out += "\n" + String(repeating: " ", count: indent) + "]"
            }
        case let .object(members):
            if members.isEmpty { out += "{}"; return }
            out += "{"
            for (n, (k, v)) in members.enumerated() {
                if n > 0 { out += "," }
                if pretty { out += "\n" + String(repeating: " ", count: indent + 2) }
                Self.quote(k, into: &out)
                out += pretty ? ": " : ":"
                v.write(into: &out, pretty: pretty, indent: indent + 2)
            }
            if pretty { out += "\n" + String(repeating: " ", count: indent) }
            out += "}"
        }
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}

extension MarginResult {
    /// The result object of docs/formats.md ("One result").
    public var json: JSON {
        .object([
            ("accountId", .string(accountId)),
            ("marginBalance", .num(marginBalance)),
            ("orderLoss", .num(orderLoss)),
            ("totalIM", .num(totalIM)),
            ("totalMM", .num(totalMM)),
            ("imRate", .num(imRate)),
            ("mmRate", .num(mmRate)),
            ("stage", .string(stage.rawValue)),
            ("units", .array(units.map(\.json))),
        ])
    }
}

extension UnitResult {
    /// The unit as docs/formats.md's JSON result object (an element of `units`); a non-finite number
    /// would be the string `"inf"`/`"-inf"`/`"nan"`, though unit figures are always finite (docs/model.md §10).
    public var json: JSON {
        let c = contingency
        return .object([
            ("baseCoin", .string(baseCoin)),
            ("priceMoves", .array(priceMoves.map(JSON.num))),
            ("pnl", .array(pnl.map { .array($0.map(JSON.num)) })),
            ("maxLoss", .num(maxLoss)),
            ("maxLossPriceMove", .num(maxLossPriceMove)),
            ("maxLossIvShock", .string(maxLossIvShock.name)),
            ("maxLossIvShockList", .array(maxLossIvShockList.map { .string($0.name) })),
            ("contingency", .object(ContingencyKind.all.map { ($0.descriptor.jsonKey, .num(c[$0])) }
                                    + [("contingencyComponents", .num(c.total))])),
            ("hedgeSpotSize", .num(hedgeSpotSize)),
            ("spotHedgePnl", .array(spotHedgePnl.map(JSON.num))),
            ("spotHedgeMaxLossContribution", .num(spotHedgeMaxLossContribution)),
            ("mm", .num(mm)),
            ("im", .num(im)),
            ("governingPortfolio", .string(governingPortfolio.name)),
            ("portfolioMM", .object(GoverningPortfolio.allCases.map { ($0.name, portfolioMM[$0.rawValue].map(JSON.num) ?? .null) })),
            ("positions", .array(positions.map { p in
                .object([("symbol", .string(p.symbol)), ("size", .num(p.size)),
                         ("pnl", .array(p.pnl.map { .array($0.map(JSON.num)) })),
                         ("maxLossContribution", .num(p.maxLossContribution))])
            })),
        ])
    }
}

extension AccountError {
    /// `{"accountId": …, "error": …}` (docs/formats.md, `pm margin` on an array).
    public var json: JSON { .object([("accountId", .string(accountId)), ("error", .string(error.description))]) }
}
