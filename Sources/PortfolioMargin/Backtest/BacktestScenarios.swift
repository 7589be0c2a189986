import CKernels

/// How a backtest runs (docs/model.md §13): horizon, window and confidence.
public struct BacktestOptions: Sendable, Equatable {
    /// The horizon h in whole days (1…365).
    public var horizon = 1
    /// The first scenario date (day number, days since 1970-01-01); nil: the first date of the history.
    public var from: Int?
    /// The last scenario date (inclusive); nil: the last date of the history.
    public var to: Int?
    /// The confidence level c; the target breach probability is `1 − c`.
    public var confidence = 0.99

    /// The defaults: h = 1, the whole history, c = 0.99.
    public init() {}
}

/// The scenarios of a backtest (docs/model.md §13): the usable dates of the window, in date order,
/// with each book coin's return and IV ratio over the horizon.
public struct BacktestScenarios: Sendable {
    /// Scenario dates d (day numbers), ascending.
    public let days: [Int]
    /// The book coins, alphabetical.
    public let coins: [String]
    /// `r_c` of coin `coins[c]` in scenario s at `returns[c * count + s]`.
    public let returns: [Double]
    /// Whether coin `coins[c]` has an IV history (it then has an `iv_ratio` column).
    public let hasIv: [Bool]
    /// `v_c` at `ivRatios[c * count + s]`: 1 when the IV history lacks d or d + h.
    public let ivRatios: [Double]
    /// The window as given, as day numbers; an end not given is the first (last) usable date.
    public let from: Int, to: Int
    /// The horizon in days.
    public let horizon: Int

    /// S, the number of scenarios.
    public var count: Int { days.count }

    /// Scenarios as a merge reads them back (dates, coins, IV columns, window, horizon); the
    /// returns and ratios are not needed there and stay empty.
    init(days: [Int], coins: [String], hasIv: [Bool], from: Int, to: Int, horizon: Int) {
        self.days = days; self.coins = coins; self.hasIv = hasIv; self.from = from; self.to = to; self.horizon = horizon
        returns = []; ivRatios = []
    }

    /// The scenarios of `coins` (the base coins of the backtested accounts' units) over the window
    /// of `options`. Throws an ``InputError`` naming a coin the history lacks, the window when
    /// no date in it is usable, or a coin and dates whose return or IV ratio overflows (closes or
    /// IVs so far apart that their quotient is not a finite number).
    public init(history: History, coins bookCoins: [String], options: BacktestOptions) throws {
        let coins = Array(Set(bookCoins)).sorted()
        for c in coins where !history.coins.contains(c) {
            throw InputError(file: history.path(History.indexFile), field: "coin",
                             "the book holds \(c) but the history has no closes for it (history coins: \(history.coins.joined(separator: ", ")))")
        }
        let allDays = history.closes.values.flatMap { $0.keys }
        let first = allDays.min(), last = allDays.max()
        var from = options.from ?? first ?? 0
        var to = options.to ?? last ?? 0
        let h = options.horizon
        var days: [Int] = []
        // Only dates the history has closes on can be scenarios (also when the book holds no coin).
        if let first, let last, max(from, first) <= min(to, last) {
            for d in max(from, first)...min(to, last)
            where coins.allSatisfy({ history.close($0, day: d) != nil && history.close($0, day: d + h) != nil })
                && (!coins.isEmpty || history.closes.values.contains { $0[d] != nil && $0[d + h] != nil }) {
                days.append(d)
            }
        }
        guard !days.isEmpty else {
            let held = coins.isEmpty ? "" : " for \(coins.joined(separator: ", "))"
            throw InputError(field: "window",
                             "no usable scenario date in \(History.dateText(from))…\(History.dateText(to)): no date d with closes at d and d + \(h) days\(held)")
        }
        // A window not given ends at the first / last usable date.
        if options.from == nil { from = days.first! }
        if options.to == nil { to = days.last! }
        let s = days.count
        var returns = [Double](repeating: 0, count: coins.count * s)
        var ratios = [Double](repeating: 1, count: coins.count * s)
        var hasIv = [Bool](repeating: false, count: coins.count)
        for (c, coin) in coins.enumerated() {
            hasIv[c] = history.ivCoins.contains(coin)
            for (k, d) in days.enumerated() {
                let a = history.close(coin, day: d)!, b = history.close(coin, day: d + h)!
                let r = b / a - 1
                // Closes are finite and above 0, but their quotient can still overflow (a close of
                // 1e-320 then 100): the history's fault, not the accounts'.
                guard r.isFinite else {
                    throw InputError(file: history.path(History.indexFile), field: "close",
                                     "\(coin) \(History.dateText(d)) → \(History.dateText(d + h)): the return \(b) / \(a) − 1 is not a finite number")
                }
                returns[c * s + k] = r
                if let a = history.iv(coin, day: d), let b = history.iv(coin, day: d + h) {
                    guard (b / a).isFinite else {
                        throw InputError(file: history.path(History.ivFile), field: "iv",
                                         "\(coin) \(History.dateText(d)) → \(History.dateText(d + h)): the IV ratio \(b) / \(a) is not a finite number")
                    }
                    ratios[c * s + k] = b / a
                }
            }
        }
        self.days = days; self.coins = coins; self.returns = returns; self.hasIv = hasIv; self.ivRatios = ratios
        self.from = from; self.to = to; self.horizon = h
    }
}

/// The scenario P&L of one unit long of every instrument of the book coins, under every scenario
/// (docs/model.md §13 "Revaluation"): computed once per instrument, read by every account.
struct Revaluation: Sendable {
    /// S.
    let count: Int
    /// The table row of instrument i, or −1 (not on a book coin, or invalid).
    let row: [Int32]
    /// `table[row[i] * count + s]`.
    let table: [Double]
    /// The rows of ``table``.
    let rows: Int
    /// ``table`` laid out tile by tile for the block pass (`pm_backtest_tile_table`).
    let tiles: [Double]
    /// The scenario coin of each priced slot (`priced.baseCoins`), or −1.
    let coinOfSlot: [Int]
    /// `index_c · r_c` per scenario coin: `spotMove[c * count + s]` (the spot leg's P&L per coin).
    let spotMove: [Double]

    init(priced: PricedMarket, scenarios: BacktestScenarios, kernel: KernelChoice = .automatic) {
        let s = scenarios.count
        count = s
        let coinIndex = Dictionary(uniqueKeysWithValues: scenarios.coins.enumerated().map { ($1, $0) })
        coinOfSlot = priced.baseCoins.map { coinIndex[$0] ?? -1 }
        var spot = [Double](repeating: 0, count: scenarios.coins.count * s)
        for (slot, c) in coinOfSlot.enumerated() where c >= 0 {
            for k in 0..<s { spot[c * s + k] = priced.coinIndex[slot] * scenarios.returns[c * s + k] }
        }
        spotMove = spot
        let market = priced.market
        var row = [Int32](repeating: -1, count: market.instruments.count)
        var rows = 0
        for i in market.instruments.indices where priced.problem[i] == nil && priced.coinSlot[i] >= 0 && coinOfSlot[Int(priced.coinSlot[i])] >= 0 {
            row[i] = Int32(rows)
            rows += 1
        }
        var table = [Double](repeating: 0, count: rows * s)
        let hYears = Double(scenarios.horizon) / 365
        var f = [Double](repeating: 0, count: s), k = [Double](repeating: 0, count: s)
        var t = [Double](repeating: 0, count: s), vol = [Double](repeating: 0, count: s)
        var call = [Int8](repeating: 0, count: s), out = [Double](repeating: 0, count: s)
        for i in market.instruments.indices where row[i] >= 0 {
            let inst = market.instruments[i]
            let slot = Int(priced.coinSlot[i])
            let c = coinOfSlot[slot]
            let base = Int(row[i]) * s
            let r = scenarios.returns[(c * s)..<(c * s + s)]
            let settle = priced.settleIndex[i]
            switch inst.kind {
            case .perpetual, .future:
                // Linear: mark·r·settleIndex per coin; inverse: r per USD contract (§3 with s → r).
                let perUnit = priced.isInverse[i] ? 1 : inst.markPrice * settle
                for q in 0..<s { table[base + q] = perUnit * r[r.startIndex + q] }
            case .option:
                let fwd = inst.underlyingPrice!, strike = inst.strike!, sigma = inst.markIv!
                let isCall = inst.optionType == .call
                let tNew = (inst.expiry! - market.time) / TimeUnit.secondsPerYear - hYears
                let minIv = priced.coinParams[slot].minShockedIv
                if tNew > 0 {
                    for q in 0..<s {
                        f[q] = fwd * (1 + r[r.startIndex + q]); k[q] = strike; t[q] = tNew
                        vol[q] = max(sigma * scenarios.ivRatios[c * s + q], minIv)
                        call[q] = isCall ? 1 : 0
                    }
                    pm_black76_batch_isa(kernel.rawValue, s, f, k, t, vol, call, &out)
                    for q in 0..<s { table[base + q] = (out[q] - inst.markPrice) * settle }
                } else {
                    // Expired within the horizon: settles at the intrinsic value at the moved forward.
                    for q in 0..<s {
                        let moved = fwd * (1 + r[r.startIndex + q])
                        let value = isCall ? max(0, moved - strike) : max(0, strike - moved)
                        table[base + q] = (value - inst.markPrice) * settle
                    }
                }
            }
        }
        self.row = row
        self.table = table
        self.rows = rows
        tiles = [Double](unsafeUninitializedCapacity: pm_backtest_tiles_count(rows, s)) { buffer, initialized in
            pm_backtest_tile_table(table, rows, s, buffer.baseAddress)
            initialized = buffer.count
        }
    }
}

extension BacktestOptions {
    /// The horizons accepted, in days.
    public static let horizons = 1...365

    /// The options from their command-line texts (nil: not given). A refusal is an
    /// ``InputError`` whose record names the option (`--horizon must be between 1 and 365`, a
    /// date that is not `YYYY-MM-DD` or not in the calendar, a confidence outside (0, 1), a
    /// `--from` after `--to`).
    public static func parse(horizon: String?, from: String?, to: String?, confidence: String?) throws -> BacktestOptions {
        var o = BacktestOptions()
        if let horizon {
            let t = horizon.trimmingCharacters(in: .whitespaces)
            let digits = t.hasPrefix("+") || t.hasPrefix("-") ? t.dropFirst() : Substring(t)
            guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                throw InputError(record: "--horizon", "expected a whole number of days, got \(InputError.echo(horizon))")
            }
            guard let h = Int(t), horizons.contains(h) else {
                throw InputError(record: "--horizon", "must be between \(horizons.lowerBound) and \(horizons.upperBound), got \(InputError.echo(horizon))")
            }
            o.horizon = h
        }
        func date(_ option: String, _ text: String?) throws -> Int? {
            guard let text else { return nil }
            switch History.day(text) {
            case .success(let d): return d
            case .failure(let e): throw InputError(record: option, e.message)
            }
        }
        o.from = try date("--from", from)
        o.to = try date("--to", to)
        if let f = o.from, let t = o.to, f > t {
            throw InputError(record: "--from", "\(History.dateText(f)) is after --to \(History.dateText(t))")
        }
        if let confidence {
            let t = confidence.trimmingCharacters(in: .whitespaces)
            guard let c = Double(t), c.isFinite, c > 0, c < 1 else {
                throw InputError(record: "--confidence", "must be a number strictly between 0 and 1, got \(InputError.echo(confidence))")
            }
            o.confidence = c
        }
        return o
    }
}
