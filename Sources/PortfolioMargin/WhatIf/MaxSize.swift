/// Which limit the largest order keeps (docs/model.md §14).
public enum MarginLimit: String, CaseIterable, Sendable {
    /// `imRate ≤ 1`.
    case im
    /// `mmRate < 1`.
    case mm
    /// The liquidation stage stays what it is without the trade.
    case stage
}

/// The largest order on one instrument and side that keeps a limit (`pm whatif --max-size`).
public struct MaxSizeAnswer: Sendable {
    /// The instrument.
    public var symbol: String
    /// Buy (size added) or sell (size subtracted).
    public var side: Side
    /// The limit kept.
    public var limit: MarginLimit
    /// The grid step (coins, or USD contracts for inverse instruments).
    public var step: Double
    /// The largest size `n · step` such that every size 0, step, …, maxSize keeps the limit.
    public var maxSize: Double
    /// The search reached the cap (`--max`, or the default cap) without crossing the limit.
    public var capped: Bool
    /// The largest size searched.
    public var cap: Double
    /// The account as it is.
    public var before: MarginResult
    /// The account with the trade of `maxSize` (the same as `before` when `maxSize` is 0).
    public var atMax: MarginResult
}

/// The largest order (docs/model.md §14).
///
/// Margin is not monotone in size (a hedge first lowers it), so the answer is the first crossing
/// on the grid, not the last: every grid size from 0 up is evaluated in turn, each with the
/// trade-size evaluator (the account's scenario tables computed once, the trade added as `q ×` its
/// risk array), until one breaks the limit or the cap is reached. The answer is then confirmed by
/// the full engine: it keeps the limit at `maxSize` and (unless capped) breaks it at
/// `maxSize + step`; where the two disagree in the last bits the full engine decides, one step at a time.
public enum MaxSize {
    /// The largest number of grid points a search may cover (`--max / --step`).
    public static let maxGridPoints = 10_000_000
    /// The default cap when none is given: the size whose notional is this many times the account's
    /// margin balance (at most `defaultGridPoints` steps).
    public static let defaultLeverage = 100.0
    /// The default cap's largest number of grid points.
    public static let defaultGridPoints = 1_000_000

    /// The default step of an instrument: 1 USD contract for inverse perpetuals and futures, 0.001
    /// coin otherwise.
    public static func defaultStep(_ instrument: Instrument) -> Double { instrument.isInverse ? 1 : 0.001 }

    /// Whether figures keep `limit` (`stage0`: the stage without the trade).
    static func keeps(_ limit: MarginLimit, imRate: Double, mmRate: Double, stage: Stage?, stage0: Stage) -> Bool {
        switch limit {
        case .im: return imRate <= 1
        case .mm: return mmRate < 1
        case .stage: return stage == stage0
        }
    }

    /// The default cap for `instrument`: `defaultLeverage ×` the margin balance in notional (coins at
    /// the coin's index, or USD contracts), at most `defaultGridPoints` steps; 0 for a non-positive balance.
    public static func defaultCap(_ instrument: Instrument, step: Double, marginBalance: Double, priced: PricedMarket) -> Double {
        let usd = max(0, marginBalance) * defaultLeverage
        let perUnit = instrument.isInverse ? 1 : (priced.market.index(of: instrument.baseCoin) ?? .nan)
        let size = usd / perUnit
        guard size.isFinite else { return 0 }
        return min(size, Double(defaultGridPoints) * step)
    }

    /// Searches the largest order of `symbol` (a listed, valid instrument) on `side`.
    ///
    /// - Parameters:
    ///   - step: the grid step (> 0); nil: `defaultStep`.
    ///   - max: the cap (> 0); nil: `defaultCap`.
    /// - Returns: the answer, or the account's error (it cannot be margined, or the symbol is not
    ///   in the market).
    public static func run(_ account: Account, symbol: String, side: Side, limit: MarginLimit, step: Double? = nil,
                           max cap: Double? = nil, priced: PricedMarket, file: String = "account") -> Result<MaxSizeAnswer, AccountError> {
        let record = "--max-size \(InputError.echo(symbol))"
        guard let i = priced.market.indexOf(symbol), let inst = priced.market.instrument(symbol) else {
            return .failure(AccountError(accountId: account.id, error: InputError(record: record, "the symbol is not in the market")))
        }
        if let problem = priced.problem[i] {
            return .failure(AccountError(accountId: account.id, error: InputError(record: record, "the instrument cannot be margined: \(problem)")))
        }
        let before: MarginResult
        switch MarginEngine.run(Book(priced: priced, accounts: [account], file: file)).result(of: 0) {
        case let .failure(e): return .failure(e)
        case let .success(r): before = r
        }
        let step = step ?? defaultStep(inst)
        let capSize = cap ?? defaultCap(inst, step: step, marginBalance: before.marginBalance, priced: priced)
        // Grid points up to the cap; a cap meant as a multiple of the step (1 / 0.001) counts as one.
        let points = Swift.min(Double(maxGridPoints), (capSize / step * (1 + 1e-12)).rounded(.down))
        let count = points.isFinite && points > 0 ? Int(points) : 0
        let sign = side.sign
        let stage0 = before.stage
        var answer = MaxSizeAnswer(symbol: symbol, side: side, limit: limit, step: step, maxSize: 0, capped: false, cap: TradeArguments.gridSize(Double(count), step: step),
                                   before: before, atMax: before)
        guard keeps(limit, imRate: before.imRate, mmRate: before.mmRate, stage: before.stage, stage0: stage0) else { return .success(answer) }
        guard let slot = priced.coinSlotByName[inst.baseCoin],
              let evaluator = TradeEvaluator(account: account, before: before, leg: .instrument(i), slot: slot, priced: priced) else {
            return .failure(AccountError(accountId: account.id, error: InputError(record: record, "the account's balances or holdings cannot take the trade")))
        }
        // The plain scan with the fast evaluator.
        var n = 0
        while n < count {
            let f = evaluator.evaluate(sign * TradeArguments.gridSize(Double(n + 1), step: step))
            guard keeps(limit, imRate: f.imRate, mmRate: f.mmRate, stage: f.stage, stage0: stage0) else { break }
            n += 1
        }
        // The full engine confirms: n keeps the limit, n + 1 breaks it (or is beyond the cap).
        func engine(_ k: Int) -> MarginResult? {
            if k == 0 { return before }
            let trial = evaluator.account(with: sign * TradeArguments.gridSize(Double(k), step: step))
            return try? MarginEngine.run(Book(priced: priced, accounts: [trial], file: file)).result(of: 0).get()
        }
        func engineKeeps(_ r: MarginResult?) -> Bool {
            guard let r else { return false }
            return keeps(limit, imRate: r.imRate, mmRate: r.mmRate, stage: r.stage, stage0: stage0)
        }
        var atMax = engine(n)
        var moves = 0
        while n > 0 && !engineKeeps(atMax) && moves < 1000 { n -= 1; atMax = engine(n); moves += 1 }
        while n < count && moves < 1000 {
            let next = engine(n + 1)
            guard engineKeeps(next) else { break }
            n += 1; atMax = next; moves += 1
        }
        guard let atMax, engineKeeps(atMax) else { return .success(answer) }
        answer.maxSize = TradeArguments.gridSize(Double(n), step: step)
        answer.capped = n == count
        answer.atMax = atMax
        return .success(answer)
    }

    /// `{"symbol", "side", "limit", "step", "maxSize", "capped", "before": RESULT, "atMax": RESULT}`.
    public static func json(_ a: MaxSizeAnswer) -> JSON {
        .object([("symbol", .string(a.symbol)), ("side", .string(TradeArguments.word(a.side))), ("limit", .string(a.limit.rawValue)),
                 ("step", .number(a.step)), ("maxSize", .number(a.maxSize)), ("capped", .bool(a.capped)),
                 ("before", a.before.json), ("atMax", a.atMax.json)])
    }

    /// The answer in words, then the account before and at the largest size side by side.
    public static func table(_ a: MaxSizeAnswer) -> String {
        let what: String
        switch a.limit {
        case .im: what = "IM rate at most 100%"
        case .mm: what = "MM rate below 100%"
        case .stage: what = "stage \(a.before.stage.rawValue)"
        }
        var out = "Largest \(TradeArguments.word(a.side)) of \(a.symbol) keeping \(what): \(TradeArguments.sizeText(a.maxSize))"
        out += " (step \(TradeArguments.sizeText(a.step))"
        out += a.capped ? "; capped at \(TradeArguments.sizeText(a.cap)): the limit still holds there)\n" : ")\n"
        return out + WhatIf.table(before: a.before, after: a.atMax)
    }
}
