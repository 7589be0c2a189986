import Foundation
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// The values it takes, in the order given (a parameter's values are checked against docs/formats.md
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
    /// or parameters made non-finite, docs/model.md §10).
    public var errors = 0
    /// The accounts whose MM rises most against the base: (account, base MM, MM).
    public var top: [(account: Int, mmBase: Double, mm: Double)] = []
}

/// Sweeps (docs/formats.md `pm sweep`): the book is parsed once; per combination only the market and
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
        // On the base's layout: the book built against the base is repriced to every combination,
        // and a holding the combination makes unusable turns its account into an error (docs/model.md §10).
        return PricedMarket(market: market, parameters: params, onLayoutOf: base)
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
                // Keep the mark positive (docs/model.md §10) if the model offset would push it to 0.
                i.markPrice = max(p1 + (inst.markPrice - p0), inst.markPrice * 1e-6)
            }
            return i
        }
        return try MarketSnapshot(time: m.time, indexPrices: index, instruments: instruments)
    }

    /// Runs every combination over `input`. `progress(k, total)` is called after each combination.
    ///
    /// The combinations share the positions, so they are evaluated together: per block
    /// of accounts one pass over the holdings fills the P&L tables of every combination side by side
    /// (`RiskColumns`), then each account's units and totals are evaluated once per distinct input
    /// (`SweepPlan`): a combination that moves BTC shares the base's ETH and SOL units, one that
    /// changes BTC's `priceRange` shares the base's BTC contingencies and every account's totals.
    /// Every combination gets the bits of margining its market alone. `aggregateTogether: false`
    /// runs one full engine pass per combination instead (the reference path).
    public static func run(_ input: BatchInput, base: PricedMarket, settings: [SweepSetting], top: Int, threads: Int = 2,
                           options: EngineOptions = EngineOptions(), aggregateTogether: Bool = true,
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> [SweepCombination] {
        // One column per setting name: a setting given twice would make sweep.csv ambiguous.
        if let dup = settings.indices.first(where: { i in settings[..<i].contains { $0.name == settings[i].name } }) {
            throw InputError(record: "sweep", field: settings[dup].name, "setting given twice")
        }
        // A coin the market does not know would sweep nothing: every combination equal to the base.
        for s in settings {
            switch s.kind {
            case let .parameter(coin, _) where coin != "default" && !base.baseCoins.contains(coin):
                throw InputError(record: "--set", field: s.name,
                                 "\(InputError.echo(coin)) is not a base coin of the market (\((base.baseCoins + ["default"]).joined(separator: ", ")))")
            case let .shock(coin) where base.market.index(of: coin) == nil:
                throw InputError(record: "--shock", field: s.name, "the market has no index price for \(InputError.echo(coin))")
            default: break
            }
        }
        let combos = combinations(settings)
        let baseValues = settings.map { baseValue($0, parameters: base.parameters) }
        var markets = [base]
        for values in combos where !settings.isEmpty { markets.append(try scenario(settings, values: values, base: base)) }
        let together = aggregateTogether && RiskColumns.compatible(markets)
        let plan = together ? SweepPlan(markets) : nil
        // Books are built once; each combination only reprices them. Aggregated together, a block's
        // tables are as wide as the distinct columns: smaller blocks keep them about a third of one
        // market's tables of a default block, so they are still in cache when the units read them
        // (the bench's sweep, 11 BTC columns: 248 accounts a block took 5–10% less CPU than 744).
        let columns = plan.map { p in p.risk.columns.map(\.count).max() ?? 1 } ?? 1
        let blockSize = max(128, BatchRunner.defaultBlockSize / (3 * columns))
        let n = input.accountCount
        let figures: [AccountFigures]
        if let plan {
            // Each block's book is built by the worker that evaluates it, then dropped: one
            // parallel pass, no book of the whole input held.
            figures = onePass(blocks: (n + blockSize - 1) / blockSize, first: { $0 * blockSize }, plan: plan, accounts: n,
                              threads: threads, options: options) { b in
                input.book(accounts: (b * blockSize)..<min(n, (b + 1) * blockSize), priced: base)
            }
            for k in 1...markets.count { progress(k, markets.count) }
        } else {
            let books = BatchRunner.books(input, priced: base, threads: threads, blockSize: blockSize)
            var all: [AccountFigures] = []
            for (k, priced) in markets.enumerated() {
                all.append(BatchRunner.accountFigures(books, priced: priced, accounts: input.accountCount, threads: threads,
                                                      options: options))
                progress(k + 1, markets.count)
            }
            figures = all
        }
        // Totals and top lists per combination, on the workers too (each a pass over every account).
        var results = figures.indices.map { SweepCombination(index: $0, values: $0 == 0 ? baseValues : combos[$0 - 1]) }
        results.withUnsafeMutableBufferPointer { buffer in
            let out = DisjointSlots(buffer)   // combination k writes only slot k
            BatchRunner.parallelBlocks(figures.count, threads: threads) { k in
                var c = out[k]
                figures[k].summarize(into: &c)
                if k > 0 { c.top = figures[k].largestIncreases(over: figures[0], count: top) }
                out[k] = c
            }
        }
        return results
    }

    /// MM, IM and stage of every account under each of `markets` (which `RiskColumns` can lay side
    /// by side), the books' blocks on `threads` workers.
    static func onePass(_ books: [Book], markets: [PricedMarket], accounts n: Int, threads: Int,
                        options: EngineOptions) -> [AccountFigures] {
        onePass(books, plan: SweepPlan(markets), accounts: n, threads: threads, options: options)
    }

    /// MM, IM and stage of every account under each market of `plan`, the books' blocks on `threads`
    /// workers: per block one aggregation for all distinct columns; per account its totals once per
    /// totals class, per unit and portfolio the max loss once per column and the contingencies once
    /// per contingency class of its coin, then each market's sums from its classes — in the order
    /// and with the operations of `UnitEvaluator.account`, so each market's figures are the bits of
    /// `MarginEngine.run` on the book repriced to it.
    static func onePass(_ books: [Book], plan: SweepPlan, accounts n: Int, threads: Int,
                        options: EngineOptions) -> [AccountFigures] {
        var starts = [0]
        for b in books { starts.append(starts.last! + b.accountCount) }
        let first = starts
        return onePass(blocks: books.count, first: { first[$0] }, plan: plan, accounts: n, threads: threads, options: options) { books[$0] }
    }

    /// `onePass` over the blocks `book(b)` (built against `plan.markets[0]`), whose accounts start at `first(b)`.
    static func onePass(blocks: Int, first: (Int) -> Int, plan: SweepPlan, accounts n: Int, threads: Int,
                        options: EngineOptions, book makeBook: (Int) -> Book) -> [AccountFigures] {
        let markets = plan.markets
        let nMarkets = markets.count
        let nSlots = markets[0].grids.count
        let maxColumns = plan.risk.columns.map(\.count).max() ?? 1
        let maxCont = plan.contRep.map(\.count).max() ?? 1
        let maxVariants = plan.variants.map(\.count).max() ?? 1
        let nTotals = plan.totalsRep.count
        // Workers write disjoint account ranges of each market's figures, straight into the result
        // arrays (NaN and no stage until written: error accounts stay so).
        var stage: [[Stage?]] = []
        let figures = withArrays(2 * nMarkets, n, Double.nan) { mmAndIM in
            stage = withArrays(nMarkets, n, Stage?.none) { stageOut in
                let mmSlots = mmAndIM[..<nMarkets].map(DisjointSlots.init), imSlots = mmAndIM[nMarkets...].map(DisjointSlots.init)
                let stageSlots = stageOut.map(DisjointSlots.init)
                BatchRunner.parallelBlocks(blocks, threads: threads) { b in
                    let book = makeBook(b)
                    let firstAccount = first(b)
                    var tables = PnlTables(book: book, risk: plan.risk, options: options)
                    let offsets = tables.offset
                    let calc = ContingencyCalculator(priced: markets[0])
                    defer { calc.deallocate() }   // its scratch (MarginEngine.run does the same)
                    // Scratch, per block: per portfolio and column the max loss, per portfolio and
                    // contingency class the add-ons' total; per unit of the account and variant its MM,
                    // IM and finiteness check; per totals class the account's totals.
                    // Plain pointers: no uniqueness or bounds checks in the per-account loops.
                    let maxLoss = UnsafeMutablePointer<Double>.allocate(capacity: 3 * maxColumns)
                    let contTotal = UnsafeMutablePointer<Double>.allocate(capacity: 3 * maxCont)
                    let unitMM = UnsafeMutablePointer<Double>.allocate(capacity: 3 * nSlots * maxVariants)
                    let unitIM = unitMM + nSlots * maxVariants, unitCheck = unitIM + nSlots * maxVariants
                    let unitSlot = UnsafeMutablePointer<Int>.allocate(capacity: nSlots)
                    let totals = UnsafeMutablePointer<AccountTotals>.allocate(capacity: nTotals)
                    totals.initialize(repeating: AccountTotals(), count: nTotals)
                    defer {
                        maxLoss.deallocate(); contTotal.deallocate(); unitMM.deallocate(); unitSlot.deallocate()
                        totals.deinitialize(count: nTotals); totals.deallocate()
                    }
                    tables.values.withUnsafeMutableBufferPointer { pnl in
                        for a in 0..<book.accountCount where book.accountErrors[a] == nil {
                            for t in 0..<nTotals { totals[t] = AccountTotals(book: book, priced: markets[plan.totalsRep[t]], account: a) }
                            var units = 0
                            for u in book.unitStart[a]..<book.unitStart[a + 1] {
                                let slot = Int(book.unitSlot[u])
                                let columns = plan.risk.columns[slot], contRep = plan.contRep[slot]
                                for q in 0..<Portfolio.count where book.pfPresent[Portfolio.count * u + q] {
                                    let pf = Portfolio.count * u + q, portfolio = Portfolio.allCases[q]
                                    // docs/model.md §6, §4: spot leg and max loss, per column (one market's table).
                                    for (c, m) in columns.enumerated() {
                                        let priced = markets[m], grid = priced.grids[slot]
                                        let table = pnl.baseAddress! + offsets[pf] + plan.risk.columnOffset[slot][c]
                                        let h = UnitEvaluator.hedge(book: book, unit: u, portfolio: portfolio, delta: priced.delta)
                                        SpotHedge.addLegPnl(h, index: priced.coinIndex[slot], moves: grid.priceMoves, into: table)
                                        maxLoss[3 * c + q] = MaxLoss.loss(table, count: grid.scenarioCount)
                                    }
                                    // docs/model.md §5: the add-ons, per contingency class (none without holdings).
                                    let start = book.pfStart[pf], count = book.pfStart[pf + 1] - start
                                    guard count > 0 else { continue }
                                    for (k, m) in contRep.enumerated() {
                                        let priced = markets[m]
                                        let h = UnitEvaluator.hedge(book: book, unit: u, portfolio: portfolio, delta: priced.delta)
                                        let c = book.entInstr.withUnsafeBufferPointer { ins in
                                            book.entSize.withUnsafeBufferPointer { sz in
                                                calc.compute(priced: priced, slot: slot, instr: ins.baseAddress! + start,
                                                             size: sz.baseAddress! + start, count: count, hedge: h)
                                            }
                                        }
                                        contTotal[3 * k + q] = c.total
                                    }
                                }
                                // docs/model.md §7: each variant's portfolios' MM, the governing one, IM.
                                for (v, variant) in plan.variants[slot].enumerated() {
                                    var mm = (-Double.infinity, -Double.infinity, -Double.infinity)
                                    var check = 0.0
                                    for q in 0..<Portfolio.count where book.pfPresent[Portfolio.count * u + q] {
                                        let pf = Portfolio.count * u + q
                                        let ml = maxLoss[3 * variant.column + q]
                                        let x = book.pfStart[pf + 1] > book.pfStart[pf] ? ml + contTotal[3 * variant.cont + q] : ml
                                        check += x - x
                                        switch q { case 0: mm.0 = x; case 1: mm.1 = x; default: mm.2 = x }
                                    }
                                    let g = OrderRule.governing(mm)
                                    let governing = g == .positions ? mm.0 : (g == .buyOrders ? mm.1 : mm.2)
                                    unitMM[units * maxVariants + v] = governing
                                    unitIM[units * maxVariants + v] = governing * variant.imFactor
                                    unitCheck[units * maxVariants + v] = check
                                }
                                unitSlot[units] = slot
                                units += 1
                            }
                            // docs/model.md §8, §10: each market's totals from its classes, in unit order.
                            let k = firstAccount + a
                            for m in 0..<nMarkets {
                                let t = totals[plan.totalsClass[m]]
                                var totalMM = t.borrowMM, totalIM = t.borrowIM, check = 0.0
                                for x in 0..<units {
                                    let v = x * maxVariants + plan.variant[unitSlot[x]][m]
                                    check += unitCheck[v]
                                    totalMM += unitMM[v]
                                    totalIM += unitIM[v]
                                }
                                check += (totalMM - totalMM) + (totalIM - totalIM)
                                check += (t.marginBalance - t.marginBalance) + (t.orderLoss - t.orderLoss)
                                guard check == 0 else { continue }   // out of range: an error, figures stay NaN
                                let denominator = t.marginBalance + t.orderLoss
                                let mmRate = AccountTotals.rate(totalMM, denominator), imRate = AccountTotals.rate(totalIM, denominator)
                                mmSlots[m][k] = totalMM; imSlots[m][k] = totalIM
                                stageSlots[m][k] = AccountTotals.stage(mmRate: mmRate, imRate: imRate, hasLiability: t.hasLiability,
                                                                       markets[m].parameters.stages)
                            }
                        }
                    }
                }
            }
        }
        return markets.indices.map { AccountFigures(mm: figures[$0], im: figures[nMarkets + $0], stage: stage[$0]) }
    }

    /// `count` arrays of `n` elements, each `value` until `body` writes them through its buffers
    /// (valid only during `body`): no copy of results computed into scratch.
    static func withArrays<T>(_ count: Int, _ n: Int, _ value: T, _ body: ([UnsafeMutableBufferPointer<T>]) -> Void) -> [[T]] {
        func build(_ i: Int, _ buffers: [UnsafeMutableBufferPointer<T>]) -> [[T]] {
            if i == count { body(buffers); return [] }
            var rest: [[T]] = []
            let array = [T](unsafeUninitializedCapacity: n) { buffer, initialized in
                buffer.initialize(repeating: value)
                initialized = n
                rest = build(i + 1, buffers + [buffer])
            }
            return [array] + rest
        }
        return build(0, [])
    }
}

/// How the markets of a sweep differ, per coin slot and for the account totals: which of them give
/// the same inputs to each part of the engine, so each part runs once per distinct input. The
/// classes come from the very values the engine reads (`UnitEvaluator.maxLossKey`,
/// `ContingencyCalculator.inputsKey`, `AccountTotals.inputsKey`), compared bit for bit — never from
/// the names of the settings — so a setting that reaches every coin (`default.…`, `ivScale`, a
/// collateral stablecoin's shock) splits every coin it reaches.
struct SweepPlan {
    let markets: [PricedMarket]
    /// Per slot one column per distinct max-loss input (risk arrays, grid, index, deltas).
    let risk: RiskColumns
    /// Per slot: one representative market per distinct contingency input.
    let contRep: [[Int]]
    /// Per slot: the distinct (column, contingency class, imFactor) of the markets, and each market's.
    let variants: [[(column: Int, cont: Int, imFactor: Double)]]
    let variant: [[Int]]
    /// One representative market per distinct totals input, and each market's class.
    let totalsRep: [Int]
    let totalsClass: [Int]

    init(_ markets: [PricedMarket]) {
        self.markets = markets
        /// The first index holding an equal key, appending a new class when none does.
        func classify<K: Equatable>(_ keys: [K]) -> (rep: [Int], of: [Int]) {
            var reps: [Int] = [], of: [Int] = []
            for (m, key) in keys.enumerated() {
                if let c = reps.firstIndex(where: { keys[$0] == key }) { of.append(c) } else { of.append(reps.count); reps.append(m) }
            }
            return (reps, of)
        }
        var columns: [[Int]] = [], contRep: [[Int]] = [], variants: [[(column: Int, cont: Int, imFactor: Double)]] = []
        var variant: [[Int]] = []
        for slot in markets[0].grids.indices {
            let r = classify(markets.map { UnitEvaluator.maxLossKey($0, slot: slot) })
            let c = classify(markets.map { ContingencyCalculator.inputsKey($0, slot: slot) })
            let im = markets.map { $0.coinParams[slot].imFactor }
            let v = classify(markets.indices.map { [UInt64(r.of[$0]), UInt64(c.of[$0]), im[$0].bitPattern] })
            columns.append(r.rep)
            contRep.append(c.rep)
            variants.append(v.rep.map { (r.of[$0], c.of[$0], im[$0]) })
            variant.append(v.of)
        }
        risk = RiskColumns(markets, columns: columns)
        self.contRep = contRep
        self.variants = variants
        self.variant = variant
        (totalsRep, totalsClass) = classify(markets.map(AccountTotals.inputsKey))
    }
}
