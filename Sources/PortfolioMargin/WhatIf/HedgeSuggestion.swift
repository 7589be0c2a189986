import Foundation

/// The kinds of hedge candidates (`pm hedge --kinds`).
public enum HedgeKind: String, CaseIterable, Sendable {
    /// Every perpetual of the coin.
    case perpetual
    /// Every dated future of the coin.
    case future
    /// Every listed option of the coin.
    case option
    /// The coin itself, bought or sold at its index against USDT (only with spot hedging on and an eligible coin).
    case spot
}

/// One suggested hedge: the size of one instrument that lowers the account's total IM the most.
public struct HedgeCandidate: Equatable, Sendable {
    /// The instrument (for spot: the coin).
    public var symbol: String
    /// Buy or sell.
    public var side: Side
    /// The size traded, > 0 (coins, or USD contracts for inverse instruments), on the instrument's step grid.
    public var size: Double
    /// Total IM without the trade.
    public var imBefore: Double
    /// Total IM with the trade (the full engine's).
    public var imAfter: Double
    /// `imBefore − imAfter`, > 0.
    public var imRemoved: Double
    /// USD paid (negative: received): an option's premium at mark, spot at its index; 0 for a
    /// perpetual or future entered at mark.
    public var cost: Double
    /// The trade's notional in USD: |size| × the coin's index (options, spot), × mark × the settle
    /// coin's index (linear perpetuals and futures), |size| USD (inverse).
    public var notional: Double
    /// IM removed per 1,000 USD of notional.
    public var imRemovedPer1000: Double
}

/// What `pm hedge` prints: the ranked candidates of one unit.
public struct HedgeReport: Sendable {
    /// The unit's coin.
    public var coin: String
    /// The account as it is.
    public var before: MarginResult
    /// How many instruments were searched.
    public var searched: Int
    /// The candidates that lower total IM, the most IM removed first (at most `top`).
    public var candidates: [HedgeCandidate]
}

/// Hedge suggestions (docs/model.md §14).
///
/// Per candidate, the total IM after a trade of size q is searched on a grid on both sides:
/// `q = ±r · 2^(k/2)`, where `r = Σ|size·δ_i| / |δ|` is the size whose delta equals the unit's gross
/// derivative delta (δ the candidate's delta per unit, at least 0.05 coin for an option; `1 / |δ|`
/// for a unit without delta), k from −8 — or lower, down to a sixteenth of the size `|D| / |δ|`
/// that cancels the unit's net delta D, at most k = −32 — to 4 (4r). The best grid point is refined by a golden-section
/// search between its two neighbours (q = 0 among them; until the bracket is narrower than a
/// quarter step, at most 40 iterations), then rounded to the step (the better of
/// the two neighbouring multiples). The grid's sizes are themselves rounded to the step (at least
/// one step), so the answer is never worse than the grid's best point. Each trial uses the trade-size evaluator; the reported IM
/// after is the full engine's on the chosen size, and a candidate that does not lower it is left out.
public enum HedgeSuggestion {
    /// The grid's exponents k of `2^(k/2)` relative to the gross-delta size (the lower end reaches
    /// further down for a book whose net delta is much smaller, see `grid`).
    public static let gridExponents = -8...4
    /// The most golden-section iterations on the bracket around the best grid point; it stops
    /// earlier once the bracket is narrower than a quarter step.
    public static let refineIterations = 40

    /// The candidates for `account`'s unit of `coin` (nil: the unit with the largest IM).
    ///
    /// - Returns: the report (no candidates when the account has no unit or nothing lowers IM), or
    ///   the account's error.
    public static func run(_ account: Account, coin: String? = nil, kinds: Set<HedgeKind> = Set(HedgeKind.allCases), top: Int = 10,
                           priced: PricedMarket, file: String = "account") -> Result<HedgeReport, AccountError> {
        let before: MarginResult
        switch MarginEngine.run(Book(priced: priced, accounts: [account], file: file)).result(of: 0) {
        case let .failure(e): return .failure(e)
        case let .success(r): before = r
        }
        let unitCoin = coin ?? before.units.max { a, b in a.im < b.im || (a.im == b.im && a.baseCoin > b.baseCoin) }?.baseCoin
        guard let unitCoin, let slot = priced.coinSlotByName[unitCoin] else {
            return .success(HedgeReport(coin: coin ?? "", before: before, searched: 0, candidates: []))
        }
        var legs: [TradeLeg] = []
        for (i, inst) in priced.market.instruments.enumerated() where inst.baseCoin == unitCoin && priced.problem[i] == nil {
            let kind: HedgeKind = inst.kind == .option ? .option : (inst.kind == .perpetual ? .perpetual : .future)
            if kinds.contains(kind) { legs.append(.instrument(i)) }
        }
        if kinds.contains(.spot) && account.spotHedging && priced.coinParams[slot].spotHedgeEligible { legs.append(.spot) }

        // The unit's net and gross derivative delta (positions), the grid's reference.
        var net = 0.0, gross = 0.0
        for r in account.positions {
            guard let i = priced.market.indexOf(r.symbol), Int(priced.coinSlot[i]) == slot else { continue }
            net += r.size * priced.delta[i]; gross += abs(r.size * priced.delta[i])
        }
        var found: [(HedgeCandidate, TradeEvaluator)] = []
        var searched = 0
        for leg in legs {
            guard let ev = TradeEvaluator(account: account, before: before, leg: leg, slot: slot, priced: priced) else { continue }
            searched += 1
            if let c = search(ev, net: net, gross: gross) { found.append((c, ev)) }
        }
        found.sort { a, b in a.0.imRemoved > b.0.imRemoved || (a.0.imRemoved == b.0.imRemoved && a.0.symbol < b.0.symbol) }
        // The full engine's IM after for the ones shown (and a few more, should one drop out).
        var shown: [HedgeCandidate] = []
        for (c, ev) in found {
            guard shown.count < top else { break }
            let q = c.side.sign * c.size
            guard case let .success(r) = MarginEngine.run(Book(priced: priced, accounts: [ev.account(with: q)], file: file)).result(of: 0),
                  r.totalIM < before.totalIM else { continue }
            var x = c
            x.imBefore = before.totalIM
            x.imAfter = r.totalIM
            x.imRemoved = before.totalIM - r.totalIM
            x.imRemovedPer1000 = x.notional > 0 ? x.imRemoved / x.notional * 1000 : 0
            shown.append(x)
        }
        shown.sort { a, b in a.imRemoved > b.imRemoved || (a.imRemoved == b.imRemoved && a.symbol < b.symbol) }
        return .success(HedgeReport(coin: unitCoin, before: before, searched: searched, candidates: shown))
    }

    /// The grid sizes of a candidate with delta `delta` per unit and step `step`, ascending, 0 included:
    /// `±r · 2^(k/2)` for `k = kMin … 4`, with `r = Σ|size·δ_i| / |δ|` (the gross delta; `1 / |δ|` when
    /// it is 0) and `kMin` reaching a sixteenth of `|D| / |δ|` (the net delta), at least `k = −8` and
    /// at most `k = −32`; `|δ|` at least 0.05 for an option. Each size rounded to the step, at least one step.
    static func grid(delta: Double, isOption: Bool, net: Double, gross: Double, step: Double) -> [Double] {
        let d = isOption ? max(abs(delta), 0.05) : abs(delta)
        var r = max(gross, abs(net)) / d
        if !(r.isFinite && r > 0) { r = 1 / d }
        if !(r.isFinite && r > 0) { r = step }
        let low = abs(net) / d
        var kMin = gridExponents.lowerBound
        if low > 0 && low.isFinite && low < r {
            kMin = Swift.max(-32, Swift.min(kMin, Int((2 * log2(low / r)).rounded(.down)) - 8))
        }
        // On the step grid (the sizes a trader can send), each size once.
        var sizes: Set<Double> = [0]
        for k in kMin...gridExponents.upperBound {
            let n = Swift.max(1, (r * pow2(Double(k) / 2) / step).rounded())
            guard n.isFinite else { continue }
            let q = TradeArguments.gridSize(n, step: step)
            sizes.insert(q); sizes.insert(-q)
        }
        return sizes.sorted()
    }

    /// `2^x`, exact for the half steps used (`exp2` is not in the portable Swift standard library).
    static func pow2(_ x: Double) -> Double {
        let whole = x.rounded(.down)
        let frac = x - whole
        // 2^(j/4), j = 0…3.
        let quarter: [Double] = [1, 1.189207115002721, 1.4142135623730951, 1.681792830507429]
        return Double(sign: .plus, exponent: Int(whole), significand: 1) * quarter[Int((frac * 4).rounded())]
    }

    /// The best size of one candidate, or nil when nothing on its grid and bracket lowers total IM.
    static func search(_ ev: TradeEvaluator, net: Double, gross: Double) -> HedgeCandidate? {
        let p = ev.priced
        let step: Double, delta: Double, isOption: Bool
        switch ev.leg {
        case let .instrument(i):
            step = MaxSize.defaultStep(p.market.instruments[i]); delta = p.delta[i]; isOption = p.kind[i] == .option
        case .spot:
            step = 0.001; delta = 1; isOption = false
        }
        func im(_ q: Double) -> Double {
            let v = ev.evaluate(q).totalIM
            return v.isNaN ? .infinity : v
        }
        let sizes = grid(delta: delta, isOption: isOption, net: net, gross: gross, step: step)
        let values = sizes.map(im)
        let zero = sizes.firstIndex(of: 0)!
        let base = values[zero]
        var best = zero
        for k in values.indices where values[k] < values[best] || (values[k] == values[best] && abs(sizes[k]) < abs(sizes[best])) { best = k }
        guard best != zero else { return nil }
        // Golden section on the bracket between the best point's neighbours.
        var lo = sizes[max(0, best - 1)], hi = sizes[min(sizes.count - 1, best + 1)]
        let g = 0.6180339887498949
        var x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo)
        var f1 = im(x1), f2 = im(x2)
        for _ in 0..<refineIterations where hi - lo >= step / 4 {
            if f1 <= f2 { hi = x2; x2 = x1; f2 = f1; x1 = hi - g * (hi - lo); f1 = im(x1) } else {
                lo = x1; x1 = x2; f1 = f2; x2 = lo + g * (hi - lo); f2 = im(x2)
            }
        }
        var q = sizes[best], fq = values[best]
        if f1 < fq { q = x1; fq = f1 }
        if f2 < fq { q = x2; fq = f2 }
        // Onto the step grid: the better of the two neighbouring multiples (never 0).
        let n = (q / step).rounded(.down)
        var pick = sizes[best], fpick = values[best]   // the best grid point is on the step grid
        for m in [n, n + 1] where m != 0 {
            let s = TradeArguments.gridSize(m, step: step)
            let v = im(s)
            if v < fpick || (v == fpick && abs(s) < abs(pick)) { pick = s; fpick = v }
        }
        guard fpick < base else { return nil }
        let size = abs(pick)
        let cost: Double, notional: Double
        switch ev.leg {
        case let .instrument(i):
            let inst = p.market.instruments[i]
            let index = p.coinIndex[ev.slot]
            if inst.kind == .option {
                cost = pick * p.mark[i] * p.settleIndex[i]; notional = size * index
            } else if inst.isInverse {
                cost = 0; notional = size
            } else {
                cost = 0; notional = size * p.mark[i] * p.settleIndex[i]
            }
        case .spot:
            let index = p.coinIndex[ev.slot]
            cost = pick * index; notional = size * index
        }
        let removed = base - fpick
        return HedgeCandidate(symbol: ev.symbol, side: pick > 0 ? .buy : .sell, size: size, imBefore: base, imAfter: fpick,
                              imRemoved: removed, cost: cost, notional: notional,
                              imRemovedPer1000: notional > 0 ? removed / notional * 1000 : 0)
    }
}

extension HedgeSuggestion {
    /// The candidate fields in output order (JSON keys and the CSV header).
    public static let fields = ["symbol", "side", "size", "imBefore", "imAfter", "imRemoved", "cost", "notional", "imRemovedPer1000"]

    /// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
    private static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static func numbers(_ c: HedgeCandidate) -> [Double] {
        [c.size, c.imBefore, c.imAfter, c.imRemoved, c.cost, c.notional, c.imRemovedPer1000]
    }

    /// `{"accountId", "coin", "imBefore", "searched", "candidates": [{symbol, side, size, imBefore,
    /// imAfter, imRemoved, cost, notional, imRemovedPer1000}]}`; `candidates` is empty when no trade lowers IM.
    public static func json(_ r: HedgeReport) -> JSON {
        let list = r.candidates.map { c -> JSON in
            .object([("symbol", .string(c.symbol)), ("side", .string(TradeArguments.word(c.side)))]
                    + zip(fields.dropFirst(2), numbers(c)).map { ($0, JSON.number($1)) })
        }
        return .object([("accountId", .string(r.before.accountId)), ("coin", .string(r.coin)), ("imBefore", .number(r.before.totalIM)),
                        ("searched", .number(Double(r.searched))), ("candidates", .array(list))])
    }

    /// One header line (`fields`), then one line per candidate; the header alone when none.
    public static func csv(_ r: HedgeReport) -> String {
        var out = fields.joined(separator: ",") + "\n"
        for c in r.candidates {
            out += ([csvField(c.symbol), TradeArguments.word(c.side)] + numbers(c).map(NumberFormat.text)).joined(separator: ",") + "\n"
        }
        return out
    }

    /// The ranked candidates as a table, or a line saying that no trade lowers IM.
    public static func table(_ r: HedgeReport) -> String {
        var out = "Hedge suggestions for \(r.before.accountId), unit \(r.coin.isEmpty ? "—" : r.coin): total IM \(Table.money(r.before.totalIM)), \(r.searched) instruments searched\n"
        guard !r.candidates.isEmpty else { return out + "  no trade lowers IM\n" }
        let width = max(24, (r.candidates.map(\.symbol.count).max() ?? 0) + 1)
        func row(_ cells: [String]) -> String {
            "  " + Table.pad(cells[0], width) + " " + Table.pad(cells[1], 4)
                + zip(cells.dropFirst(2), [12, 16, 16, 16, 16, 10]).map { " " + Table.lpad($0, $1) }.joined() + "\n"
        }
        out += row(["symbol", "side", "size", "IM after", "IM removed", "cost", "notional", "per 1000"])
        for c in r.candidates {
            out += row([c.symbol, TradeArguments.word(c.side), TradeArguments.sizeText(c.size), Table.money(c.imAfter),
                        Table.money(c.imRemoved), Table.money(c.cost), Table.money(c.notional), Table.fixed(c.imRemovedPer1000, digits: 2)])
        }
        return out
    }
}
