/// The shapes Bybit's own endpoints answer in (docs/bybit-api.md "What Bybit computes"), written from this
/// engine's results: `GET /v5/asset/portfolio-margin` and `POST /v5/order/pre-check`.
public enum BybitFormat {
    /// A number as Bybit writes it: a decimal string, never an exponent. The digits are the
    /// shortest text that reads back as the same double (docs/readings.md); infinity is `"inf"`.
    public static func decimal(_ v: Double) -> String {
        guard v.isFinite else { return NumberFormat.text(v) }
        if v == 0 { return "0" }
        let s = v.description
        guard let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return s.hasSuffix(".0") ? String(s.dropLast(2)) : s }
        // Expand `d.ddde±x` into plain decimal digits.
        let negative = s.hasPrefix("-")
        let mantissa = s[s.index(s.startIndex, offsetBy: negative ? 1 : 0)..<e]
        let exponent = Int(s[s.index(after: e)...])!
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let intDigits = String(parts[0])
        var frac = parts.count > 1 ? String(parts[1]) : ""
        if frac == "0" { frac = "" }
        let digits = intDigits + frac
        let point = intDigits.count + exponent     // position of the decimal point in `digits`
        var out: String
        if point <= 0 {
            out = "0." + String(repeating: "0", count: -point) + digits
        } else if point >= digits.count {
            out = digits + String(repeating: "0", count: point - digits.count)
        } else {
            out = String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
        }
        return (negative ? "-" : "") + out
    }

    /// A price move as Bybit writes `priceScale`: `-0.1`, `-0.06`, `0.0`. The grid computes moves
    /// as `−R + k·2R/(N−1)` (−0.060000000000000005); the text is rounded to 12 decimals first.
    public static func priceScale(_ move: Double) -> String {
        let r = (move * 1e12).rounded() / 1e12
        return r == 0 ? "0.0" : decimal(r)
    }

    /// A vol shock as Bybit writes it (docs/formats.md): ivUp for up (`"0.24"`), `"0"` unchanged,
    /// −ivDown for down (`"-0.2"`).
    static func shock(_ s: IvShock, _ p: CoinParameters) -> String {
        switch s {
        case .up: return decimal(p.ivUp)
        case .unchanged: return "0"
        case .down: return decimal(-p.ivDown)
        }
    }

    static func str(_ v: Double) -> JSON { .string(decimal(v)) }

    /// Bybit's `contingency` object: every add-on under its `ContingencyKind` key and the sum as
    /// `contingencyComponents`, in Bybit's published order (`bybitRank`, `bybitTotalRank`).
    static func contingencyFields(_ c: Contingencies) -> [(String, JSON)] {
        let fields = ContingencyKind.all.map { (rank: $0.descriptor.bybitRank, key: $0.descriptor.jsonKey, value: c[$0]) }
            + [(rank: ContingencyKind.bybitTotalRank, key: "contingencyComponents", value: c.total)]
        return fields.sorted { $0.rank < $1.rank }.map { ($0.key, str($0.value)) }
    }

    static func envelope(_ result: JSON, time: Double) -> JSON {
        .object([("retCode", .number(0)), ("retMsg", .string("OK")), ("result", result),
                 ("retExtInfo", .object([])), ("time", .number((time * 1000).rounded()))])
    }

    /// `{priceScale, pnls}` rows: one per price move, with the values `pnls(k)`.
    static func ladder(_ moves: [Double], _ pnls: (Int) -> [Double]) -> JSON {
        .array(moves.indices.map { k in
            .object([("priceScale", .string(priceScale(moves[k]))), ("pnls", .array(pnls(k).map(str)))])
        })
    }

    /// Equity (our reading, docs/readings.md): every balance at full index value (no collateral
    /// ratio), plus perpetual/futures unrealised P&L and option value — docs/model.md §8's margin
    /// balance before collateral ratios.
    static func equity(_ account: Account, _ p: PricedMarket) -> Double {
        var eq = 0.0
        for b in account.balances { eq += b.walletBalance * (p.market.index(of: b.coin) ?? .nan) }
        for pos in account.positions {
            guard let i = p.market.instrument(pos.symbol) else { continue }
            let settleIdx = i.isInverse ? 1 : (p.market.index(of: i.settleCoin) ?? .nan)
            if i.kind == .option {
                eq += pos.size * i.markPrice * settleIdx
            } else if let e = pos.entryPrice {
                if i.isInverse {
                    eq += pos.size * (1 / e - 1 / i.markPrice) * (p.market.index(of: i.baseCoin) ?? .nan)
                } else {
                    eq += pos.size * (i.markPrice - e) * settleIdx
                }
            }
        }
        return eq
    }

    /// The `GET /v5/asset/portfolio-margin` response for one margined account (docs/formats.md): the
    /// wallet, then per unit the P&L ladders, contingencies, asset IM/MM, worst scenario and spot
    /// hedge. Fields the model does not have (fees, session average price, contract type codes,
    /// available and cash balance) are left out.
    public static func portfolioMargin(_ r: MarginResult, account: Account, priced p: PricedMarket) -> JSON {
        let wallet: JSON = .object([
            ("equity", str(equity(account, p))),
            ("marginBalance", str(r.marginBalance)),
            ("accountIM", str(r.totalIM)),
            ("accountMM", str(r.totalMM)),
            ("accountMMRate", str(r.mmRate)),
            ("accountIMRate", str(r.imRate)),
        ])
        // `position` is the account's position and `orderSize` its open orders; the ladders are the
        // governing portfolio's holding (orders included when they govern, docs/model.md §7).
        var orderSize: [String: Double] = [:], positionSize: [String: Double] = [:]
        for o in account.orders { orderSize[o.symbol, default: 0] += o.side.sign * o.qty }
        for q in account.positions { positionSize[q.symbol, default: 0] += q.size }
        let units = r.units.map { u -> JSON in
            let params = p.parameters.parameters(for: u.baseCoin)
            let moves = u.priceMoves
            let worst = u.maxLossIvShockList.map(\.rawValue)
            let nK = moves.count
            func instrument(_ s: String) -> Instrument? { p.market.instrument(s) }
            let perps = u.positions.filter { instrument($0.symbol)?.kind == .perpetual }
            let futures = u.positions.filter { instrument($0.symbol)?.kind == .future }
            let options = u.positions.filter { instrument($0.symbol)?.kind == .option }
            // Linear kinds have no vol dependence: the unchanged column is their P&L.
            func linearSum(_ ps: [PositionScenarios]) -> [Double] {
                (0..<nK).map { k in ps.reduce(0) { $0 + $1.scenarioPnl[3 * k + 1] } }
            }
            func optionSum(_ ps: [PositionScenarios]) -> [[Double]] {
                (0..<nK).map { k in (0..<3).map { j in ps.reduce(0) { $0 + $1.scenarioPnl[3 * k + j] } } }
            }
            var totals: [(String, JSON)] = [("ALL", .object([("pnlRanges", ladder(moves) { [u.pnl[$0][worst[$0]]] })]))]
            if !perps.isEmpty { let s = linearSum(perps); totals.append(("PERPETUAL", .object([("pnlRanges", ladder(moves) { [s[$0]] })]))) }
            if !futures.isEmpty { let s = linearSum(futures); totals.append(("FUTURE", .object([("pnlRanges", ladder(moves) { [s[$0]] })]))) }
            if !options.isEmpty {
                let s = optionSum(options)
                totals.append(("OPTION", .object([("pnlRanges", ladder(moves) { [s[$0][worst[$0]]] })])))
            }
            let linear = (perps + futures).map { ps -> JSON in
                let i = instrument(ps.symbol)!
                let s = linearSum([ps])
                return .object([
                    ("symbolName", .string(ps.symbol)), ("position", str(positionSize[ps.symbol] ?? 0)),
                    ("pnlRanges", ladder(moves) { [s[$0]] }),
                    ("markPrice", str(i.markPrice)), ("orderSize", str(orderSize[ps.symbol] ?? 0)),
                    ("settleCoin", .string(i.settleCoin)), ("symbolAlias", .string(ps.symbol)),
                ])
            }
            // Options grouped by expiry, in expiry order.
            var expiries: [Double] = []
            for o in options { let e = instrument(o.symbol)!.expiry!; if !expiries.contains(e) { expiries.append(e) } }
            expiries.sort()
            let byExpiry = expiries.map { e -> JSON in
                let group = options.filter { instrument($0.symbol)!.expiry == e }
                let s = optionSum(group)
                return .object([
                    ("expiryDateRepresentation", .string(BybitSymbol.dateRepresentation(e))),
                    ("pnlRanges", ladder(moves) { s[$0] }),
                    ("optionPositionPnlRanges", .array(group.map { ps in
                        let i = instrument(ps.symbol)!
                        let t = optionSum([ps])
                        return .object([
                            ("symbolName", .string(ps.symbol)), ("position", str(positionSize[ps.symbol] ?? 0)),
                            ("pnlRanges", ladder(moves) { t[$0] }),
                            ("markPrice", str(i.markPrice)), ("orderSize", str(orderSize[ps.symbol] ?? 0)),
                            ("settleCoin", .string(i.settleCoin)),
                        ])
                    })),
                ])
            }
            let c = u.contingency
            let wb = account.balances.filter { $0.coin == u.baseCoin }.reduce(0) { $0 + $1.walletBalance }
            return .object([
                ("baseCoin", .string(u.baseCoin)),
                ("totalPnlRanges", .object(totals)),
                ("perpPositionPnlRanges", .array(linear)),
                ("optionExpiryDatePnlRanges", .array(byExpiry)),
                ("contingency", .object(contingencyFields(c))),
                ("asset", .object([("coin", .string(u.baseCoin)), ("assetIM", str(u.im)), ("assetMM", str(u.mm))])),
                ("maxLossPriceMove", .string(priceScale(u.maxLossPriceMove))),
                ("maxLossIvShock", .string(shock(u.maxLossIvShock, params))),
                ("spotHedgeInfo", .object([
                    ("hedgeSpotSize", str(u.hedgeSpotSize)),
                    ("walletBalance", str(wb)),
                    ("usdIndexPrice", str(p.market.index(of: u.baseCoin) ?? 0)),
                    ("pnlRanges", ladder(moves) { [u.spotHedgePnl[$0]] }),
                ])),
                ("maxLossIvShockList", .array(u.maxLossIvShockList.map { .string(shock($0, params)) })),
            ])
        }
        return envelope(.object([("wallet", wallet), ("assetPnlRange", .array(units))]), time: p.market.time)
    }

    /// A rate × 10⁴ rounded to the nearest integer, as `POST /v5/order/pre-check` writes it; an
    /// infinite (or larger than Int32) rate is 2147483647 (docs/formats.md).
    public static func rateE4(_ rate: Double) -> Int {
        let v = (rate * 1e4).rounded()
        guard v.isFinite, v < 2147483647 else { return 2147483647 }
        return Int(v)
    }

    /// The `POST /v5/order/pre-check` response for a what-if: rates before and after.
    public static func preCheck(before b: MarginResult, after a: MarginResult, time: Double) -> JSON {
        envelope(.object([
            ("preImrE4", .number(Double(rateE4(b.imRate)))),
            ("preMmrE4", .number(Double(rateE4(b.mmRate)))),
            ("postImrE4", .number(Double(rateE4(a.imRate)))),
            ("postMmrE4", .number(Double(rateE4(a.mmRate)))),
        ]), time: time)
    }
}

extension BybitFormat {
    /// Renders a Bybit-shaped document: as `JSON.render`, but whole numbers (`retCode`, `time`,
    /// the pre-check's E4 integers) print without a fraction, as Bybit writes them.
    public static func render(_ doc: JSON) -> String {
        var out = ""
        write(doc, into: &out, indent: 0)
        return out
    }

    private static func write(_ v: JSON, into out: inout String, indent: Int) {
        switch v {
        case let .number(d) where d.isFinite && d == d.rounded() && abs(d) < 9.007e15:
            out += String(Int64(d))
        case let .array(items) where !items.isEmpty && items.contains(where: { if case .object = $0 { return true }; if case .array = $0 { return true }; return false }):
            out += "["
            for (n, x) in items.enumerated() {
                out += (n > 0 ? ",\n" : "\n") + String(repeating: " ", count: indent + 2)
                write(x, into: &out, indent: indent + 2)
            }
            out += "\n" + String(repeating: " ", count: indent) + "]"
        case let .array(items):
            out += "["
            for (n, x) in items.enumerated() {
                if n > 0 { out += ", " }
                write(x, into: &out, indent: indent)
            }
            out += "]"
        case let .object(members) where !members.isEmpty:
            // A `{priceScale, pnls}` row stays on one line: a ladder reads as a ladder.
            let oneLine = members.count == 2 && members[0].0 == "priceScale"
            out += "{"
            for (n, (k, x)) in members.enumerated() {
                if n > 0 { out += oneLine ? ", " : "," }
                if !oneLine { out += "\n" + String(repeating: " ", count: indent + 2) }
                JSON.quote(k, into: &out)
                out += ": "
                write(x, into: &out, indent: indent + 2)
            }
            if !oneLine { out += "\n" + String(repeating: " ", count: indent) }
            out += "}"
        default:
            out += v.render()
        }
    }
}
