import Foundation
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// One varied setting of a sweep and the values it takes.
public struct SweepSetting: Equatable, Sendable {
    /// What the setting varies.
    public enum Kind: Equatable, Sendable {
        /// A parameter of a coin's entry (`COIN.param`; `default.param` changes the default entry).
        case parameter(coin: String, name: String)
        /// A relative move of one coin's index, marks and forwards (`shock.COIN`).
        case shock(coin: String)
        /// A factor on every implied vol (`ivScale`).
        case ivScale
    }
    /// What is varied.
    public var kind: Kind
    /// The values it takes, in the order given (a parameter's values are checked against FORMATS.md
    /// "Bounds" by the parsers; a shock is > −1, an IV scale > 0).
    public var values: [Double]

    /// A setting (not checked: the parsers check user text).
    public init(kind: Kind, values: [Double]) { self.kind = kind; self.values = values }

    /// The column name in `sweep.csv`: `BTC.priceRange`, `shock.BTC`, `ivScale`.
    public var name: String {
        switch kind {
        case let .parameter(coin, name): return "\(coin).\(name)"
        case let .shock(coin): return "shock.\(coin)"
        case .ivScale: return "ivScale"
        }
    }
}

/// What one combination of a sweep gives.
public struct SweepCombination: Sendable {
    /// The combination's number; 0 is the base (nothing changed).
    public var index: Int
    /// The value of each setting (for combination 0, the unmodified base values).
    public var values: [Double]
    /// Σ totalIM over the accounts that are not errors, USD.
    public var totalIM = 0.0
    /// Σ totalMM over the accounts that are not errors, USD.
    public var totalMM = 0.0
    /// Accounts per stage, in `Stage.allCases` order.
    public var stages = [Int](repeating: 0, count: Stage.allCases.count)
    /// Accounts that are errors in this combination (input problems, or figures the changed market
    /// or parameters made non-finite, MODEL.md §10).
    public var errors = 0
    /// The accounts whose MM rises most against the base: (account, base MM, MM).
    public var top: [(account: Int, mmBase: Double, mm: Double)] = []
}

/// Sweeps (FORMATS.md `pm sweep`): the book is parsed once; per combination only the market and
/// parameters change, so only the risk arrays, the aggregation and the account figures are redone.
public enum Sweep {
    /// Every combination: 0 is the unmodified base, then the cartesian product of the settings'
    /// values (the first setting varying slowest).
    public static func combinations(_ settings: [SweepSetting]) -> [[Double]] {
        var out: [[Double]] = [[]]
        for s in settings { out = out.flatMap { prefix in s.values.map { prefix + [$0] } } }
        return out
    }

    /// The value a setting has in the unmodified base.
    public static func baseValue(_ s: SweepSetting, parameters: ParameterSet) -> Double {
        switch s.kind {
        case let .parameter(coin, name):
            return (coin == "default" ? parameters.defaults : parameters.parameters(for: coin))[numeric: name] ?? .nan
        case .shock: return 0
        case .ivScale: return 1
        }
    }

    /// The parameters and market of one combination.
    public static func scenario(_ settings: [SweepSetting], values: [Double], base: PricedMarket) throws -> PricedMarket {
        var params = base.parameters
        var shocks: [String: Double] = [:]
        var ivScale = 1.0
        for (s, v) in zip(settings, values) {
            switch s.kind {
            case let .parameter(coin, name):
                if coin == "default" {
                    params.defaults[numeric: name] = v
                } else {
                    var p = params.parameters(for: coin)
                    p[numeric: name] = v
                    params.coins[coin] = p
                }
            case let .shock(coin): shocks[coin] = v
            case .ivScale: ivScale = v
            }
        }
        for (coin, p) in params.coins.map({ ($0.key, $0.value) }) + [("default", params.defaults)] {
            if let (key, message) = p.validationProblem() {
                throw InputError(record: "sweep", field: "\(coin).\(key)", message)
            }
        }
        let market = shocks.isEmpty && ivScale == 1 ? base.market : try shocked(base.market, moves: shocks, ivScale: ivScale)
        return PricedMarket(market: market, parameters: params)
    }

    /// The snapshot moved by `moves[coin]` (index, marks and forwards of that coin × (1 + m)) with
    /// every implied vol × `ivScale`. Option marks are repriced with Black-76 at the moved forward
    /// and scaled vol, keeping each option's original difference between mark and model price.
    public static func shocked(_ m: MarketSnapshot, moves: [String: Double], ivScale: Double) throws -> MarketSnapshot {
        var index = m.indexPrices
        for (coin, move) in moves { if let v = index[coin] { index[coin] = v * (1 + move) } }
        let instruments = m.instruments.map { inst -> Instrument in
            guard m.instrumentProblems[inst.symbol] == nil else { return inst }
            var i = inst
            let f = 1 + (moves[inst.baseCoin] ?? 0)
            switch inst.kind {
            case .perpetual, .future:
                i.markPrice *= f
            case .option:
                let t = (inst.expiry! - m.time) / TimeUnit.secondsPerYear
                let call: Int32 = inst.optionType == .call ? 1 : 0
                var p0 = 0.0, p1 = 0.0, d = 0.0, v = 0.0
                pm_black76_greeks(inst.underlyingPrice!, inst.strike!, t, inst.markIv!, call, &p0, &d, &v)
                i.underlyingPrice = inst.underlyingPrice! * f
                i.markIv = inst.markIv! * ivScale
                pm_black76_greeks(i.underlyingPrice!, inst.strike!, t, i.markIv!, call, &p1, &d, &v)
                // Keep the mark positive (MODEL.md §10) if the model offset would push it to 0.
                i.markPrice = max(p1 + (inst.markPrice - p0), inst.markPrice * 1e-6)
            }
            return i
        }
        return try MarketSnapshot(time: m.time, indexPrices: index, instruments: instruments)
    }

    /// Runs every combination over `input`. `progress(k, total)` is called after each combination.
    ///
    /// The combinations share the positions, so they are aggregated together (issue 13): per block
    /// of accounts one pass over the holdings fills the P&L tables of every combination (the risk
    /// arrays of all combinations side by side, `RiskColumns`), then each combination's units are
    /// evaluated from its tables. Combinations whose scenario grids differ in size (a swept
    /// `pricePoints`) fall back to one aggregation per combination, as does `aggregateTogether: false`.
    public static func run(_ input: BatchInput, base: PricedMarket, settings: [SweepSetting], top: Int, threads: Int = 2,
                           options: EngineOptions = EngineOptions(), aggregateTogether: Bool = true,
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> [SweepCombination] {
        let combos = combinations(settings)
        let baseValues = settings.map { baseValue($0, parameters: base.parameters) }
        var markets = [base]
        for values in combos where !settings.isEmpty { markets.append(try scenario(settings, values: values, base: base)) }
        let together = aggregateTogether && RiskColumns.compatible(markets)
        // Books are built once; each combination only reprices them. Aggregated together, a block's
        // tables are as wide as all combinations: smaller blocks keep them the size of one
        // combination's tables of a default block (cache, and no large allocation per block).
        let blockSize = together ? max(256, BatchRunner.defaultBlockSize / markets.count) : BatchRunner.defaultBlockSize
        let books = BatchRunner.books(input, priced: base, threads: threads, blockSize: blockSize)
        let figures: [AccountFigures]
        if together {
            figures = onePass(books, markets: markets, accounts: input.accountCount, threads: threads, options: options)
            for k in 1...markets.count { progress(k, markets.count) }
        } else {
            var all: [AccountFigures] = []
            for (k, priced) in markets.enumerated() {
                all.append(BatchRunner.accountFigures(books, priced: priced, accounts: input.accountCount, threads: threads,
                                                      options: options))
                progress(k + 1, markets.count)
            }
            figures = all
        }
        var results: [SweepCombination] = []
        for (k, f) in figures.enumerated() {
            var c = SweepCombination(index: k, values: k == 0 ? baseValues : combos[k - 1])
            f.summarize(into: &c)
            if k > 0 { c.top = f.largestIncreases(over: figures[0], count: top) }
            results.append(c)
        }
        return results
    }

    /// MM, IM and stage of every account under each of `markets` (which `RiskColumns` can lay side
    /// by side), the books' blocks on `threads` workers: per block one aggregation for all markets,
    /// then each market's units and totals from its own tables.
    static func onePass(_ books: [Book], markets: [PricedMarket], accounts n: Int, threads: Int,
                        options: EngineOptions) -> [AccountFigures] {
        let risk = RiskColumns(markets)
        var starts = [0]
        for b in books { starts.append(starts.last! + b.accountCount) }
        let first = starts
        // Workers write disjoint account ranges of each market's figures.
        let mmOut = markets.map { _ in UnsafeMutableBufferPointer<Double>.allocate(capacity: n) }
        let imOut = markets.map { _ in UnsafeMutableBufferPointer<Double>.allocate(capacity: n) }
        let stageOut = markets.map { _ in UnsafeMutableBufferPointer<Stage?>.allocate(capacity: n) }
        defer { for m in markets.indices { mmOut[m].deallocate(); imOut[m].deallocate(); stageOut[m].deallocate() } }
        for m in markets.indices {
            mmOut[m].initialize(repeating: .nan); imOut[m].initialize(repeating: .nan); stageOut[m].initialize(repeating: nil)
        }
        do {
            let mmSlots = mmOut.map(DisjointSlots.init), imSlots = imOut.map(DisjointSlots.init)
            let stageSlots = stageOut.map(DisjointSlots.init)
            BatchRunner.parallelBlocks(books.count, threads: threads) { b in
                let base = books[b]
                var tables = PnlTables(book: base, risk: risk, options: options)
                let offsets = tables.offset, regionSize = tables.regionSize
                tables.values.withUnsafeMutableBufferPointer { pnl in
                    for (m, priced) in markets.enumerated() {
                        let book = base.priced === priced ? base : base.repriced(priced)
                        var result = BookResult(book: book)
                        let evaluator = UnitEvaluator(priced: priced)
                        defer { evaluator.contingency.deallocate() }   // its scratch (MarginEngine.run does the same)
                        let tablesOfMarket = pnl.baseAddress! + m * regionSize
                        for a in 0..<book.accountCount {
                            evaluator.account(a, book: book, pnl: tablesOfMarket, offsets: offsets, into: &result)
                        }
                        for k in 0..<book.accountCount {
                            let a = first[b] + k
                            mmSlots[m][a] = result.totalMM[k]; imSlots[m][a] = result.totalIM[k]; stageSlots[m][a] = result.stage[k]
                        }
                    }
                }
            }
        }
        return markets.indices.map { AccountFigures(mm: Array(mmOut[$0]), im: Array(imOut[$0]), stage: Array(stageOut[$0])) }
    }
}
