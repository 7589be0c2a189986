import CKernels

/// The coverage backtest (docs/model.md §13): today's book replayed against history's moves.
///
/// ``run(_:history:options:)`` backtests one book in memory. The command runs it block by block
/// (``BacktestJob``) with the same per-account code: per account the units' scenario losses are
/// built one unit at a time (a gather over the instrument × scenario P&L table), summed into the
/// account's loss, and every count, worst loss and per-scenario total is taken in the same pass —
/// never an accounts × scenarios matrix.
public enum Backtest {
    /// The quantum of the exact per-scenario sums: 2⁻³² USD. Each account's shortfall and loss is
    /// rounded to a whole number of quanta and summed in 128 bits, so a sum does not depend on the
    /// order or grouping of the accounts (shards, blocks, threads).
    public static let quantaPerUSD = 4_294_967_296.0
    /// The largest |loss| of one account in one scenario that the exact sums accept (2⁶⁴ USD):
    /// 2³¹ such accounts still fit in 128 bits. Beyond it the account is an error (out of range).
    public static let maxLoss = 18_446_744_073_709_551_616.0

    /// Backtests every account of `book` (margined here with ``MarginEngine``) against the
    /// scenarios of `history` over the window of `options`. The book coins are the base coins of
    /// the units of the accounts the book did not reject.
    public static func run(_ book: Book, history: History, options: BacktestOptions,
                           engine: EngineOptions = EngineOptions()) throws -> BacktestResult {
        var coins = Set<String>()
        for a in 0..<book.accountCount where book.accountErrors[a] == nil {
            for u in book.unitStart[a]..<book.unitStart[a + 1] { coins.insert(book.priced.baseCoins[Int(book.unitSlot[u])]) }
        }
        let scenarios = try BacktestScenarios(history: history, coins: Array(coins), options: options)
        let reval = Revaluation(priced: book.priced, scenarios: scenarios, kernel: engine.kernel)
        return evaluate(book, margins: MarginEngine.run(book, options: engine), scenarios: scenarios, revaluation: reval,
                        confidence: options.confidence, kernel: engine.kernel)
    }

    /// Backtests the accounts of `book` given their margins (`MarginEngine.run` on the same book).
    ///
    /// The per-scenario work runs in CKernels (`pm_backtest_block_isa` on the code path `kernel`;
    /// every path gives the same bits): scenario tile by tile, every account of the block through
    /// each tile, so a tile of the P&L table stays in cache. An account found out of range there
    /// (a loss not finite or beyond ``maxLoss``) has added some of its scenarios to the totals
    /// already: the block is run again without it (an account's figures do not depend on the
    /// others', and such accounts are rare). `flushEvery` (tests only; 0 = the kernel's bound) is
    /// how many accounts the 64-bit per-scenario sums take before they are moved into the 128-bit
    /// ones. `tiled` (false: tests only) reads the P&L table tile by tile (``Revaluation/tiles``)
    /// rather than in place; both give the same bits.
    static func evaluate(_ book: Book, margins: BookResult, scenarios: BacktestScenarios, revaluation reval: Revaluation,
                         confidence: Double, kernel: KernelChoice = .automatic, flushEvery: Int = 0,
                         tiled: Bool = true) -> BacktestResult {
        let s = scenarios.count
        let p = 1 - confidence
        let priced = book.priced
        let accounts = book.accountCount
        let units = book.unitStart[accounts]
        var r = BacktestResult(accounts: accounts, coins: scenarios.coins.count, scenarios: s)
        r.accountIds = book.accountIds
        enum Outcome { case backtested, engineError, noScenarios(Int), outOfRange }
        var outcome = [Outcome](repeating: .backtested, count: accounts)
        var active = [UInt8](repeating: 0, count: accounts)
        var accountUnits = [Int64](repeating: 0, count: accounts + 1)
        var unitEntry = [Int64](repeating: 0, count: units), unitEntries = unitEntry, unitCoin = unitEntry
        var unitHedge = [Double](repeating: 0, count: units), unitMM = unitHedge
        for a in 0..<accounts {
            accountUnits[a + 1] = Int64(book.unitStart[a + 1])
            if margins.book.accountErrors[a] != nil { outcome[a] = .engineError; continue }
            // Every unit's coin has scenarios (the book coins are the units' coins); checked, not assumed.
            if let u = (book.unitStart[a]..<book.unitStart[a + 1]).first(where: { reval.coinOfSlot[Int(book.unitSlot[$0])] < 0 }) {
                outcome[a] = .noScenarios(u)
                continue
            }
            active[a] = 1
            for u in book.unitStart[a]..<book.unitStart[a + 1] {
                let pf = Portfolio.positions.slot(ofUnit: u)
                unitEntry[u] = Int64(book.pfStart[pf]); unitEntries[u] = Int64(book.pfStart[pf + 1] - book.pfStart[pf])
                unitCoin[u] = Int64(reval.coinOfSlot[Int(book.unitSlot[u])])
                // The spot leg of portfolio C (§6, §11.3); a liability's leg counts only its gains.
                unitHedge[u] = UnitEvaluator.hedge(book: book, unit: u, portfolio: .positions, delta: priced.delta)
                unitMM[u] = margins.unitMM[u]
            }
        }
        var unitStats = [pm_backtest_stats](repeating: pm_backtest_stats(), count: units)
        var accountStats = [pm_backtest_stats](repeating: pm_backtest_stats(), count: accounts)
        var failed = [UInt8](repeating: 0, count: accounts)
        var breachedMM = [Int64](repeating: 0, count: s), breachedIM = breachedMM
        var wideLoss = [UInt64](repeating: 0, count: 2 * s), wideShortfall = wideLoss
        while true {
            for q in 0..<s { breachedMM[q] = 0; breachedIM[q] = 0 }
            for q in 0..<(2 * s) { wideLoss[q] = 0; wideShortfall[q] = 0 }
            // The kernel reads 15 columns through the C struct's pointers. Each is the base of the
            // array's own buffer, taken without a closure per array (it was a 15-deep pyramid of
            // `withUnsafeBufferPointer`): valid because every array is held alive by the
            // `withExtendedLifetime` below and none is changed until the kernel returns (the local
            // arrays change only between passes; `reval`, `book` and `margins` are constants).
            func base<T>(_ a: [T]) -> UnsafePointer<T>? { a.withUnsafeBufferPointer { $0.baseAddress } }
            let failures = withExtendedLifetime((reval, book, margins, accountUnits, unitEntry, unitEntries, unitCoin,
                                                 unitHedge, unitMM, active)) {
                var block = pm_backtest_block(
                    scenarios: s, table: base(reval.table), row: base(reval.row),
                    instr: base(book.entInstr), size: base(book.entSize),
                    move: base(reval.spotMove), accounts: accounts,
                    accountUnits: base(accountUnits),
                    unitEntry: base(unitEntry), unitEntries: base(unitEntries),
                    unitCoin: base(unitCoin), unitHedge: base(unitHedge),
                    unitMM: base(unitMM), active: base(active),
                    totalMM: base(margins.totalMM), totalIM: base(margins.totalIM),
                    maxLoss: maxLoss, flushEvery: flushEvery,
                    tiles: tiled ? base(reval.tiles) : nil, tableRows: reval.rows)
                return pm_backtest_block_isa(kernel.rawValue, &block, &unitStats, &accountStats,
                                             &failed, &breachedMM, &breachedIM,
                                             &wideLoss, &wideShortfall)
            }
            if failures == 0 { break }
            for a in 0..<accounts where active[a] != 0 && failed[a] != 0 { active[a] = 0; outcome[a] = .outOfRange }
        }
        // Kupiec's p-value and the zone depend only on the breach count (S and p are fixed).
        var stats = BreachCountStatistics(scenarios: s, p: p)
        func christoffersen(_ st: pm_backtest_stats) -> Double {
            BacktestStatistics.christoffersenP(n00: Int(st.n00), n01: Int(st.n01), n10: Int(st.n10), n11: Int(st.n11))
        }
        var unitRows: [BacktestResult.UnitRow] = []
        for a in 0..<accounts {
            switch outcome[a] {
            case .engineError:
                r.fail(a, margins.book.accountErrors[a]!.description)
            case .noScenarios(let u):
                r.fail(a, InputError(record: "account \(book.accountIds[a])", field: "backtest",
                                     "coin \(priced.baseCoins[Int(book.unitSlot[u])]) has no scenarios").description)
            case .outOfRange:
                r.fail(a, InputError(record: "account \(book.accountIds[a])", field: "backtest",
                                     "value out of range: a scenario loss is not finite or beyond \(maxLoss) USD").description)
            case .backtested:
                unitRows.removeAll(keepingCapacity: true)
                for u in book.unitStart[a]..<book.unitStart[a + 1] {
                    let st = unitStats[u], breaches = Int(st.breaches)
                    unitRows.append(.init(coin: Int(unitCoin[u]), mm: unitMM[u], breaches: breaches, worstLoss: st.worst,
                                          worstScenario: Int(st.worstAt), kupiecP: stats.kupiecP(breaches),
                                          christoffersenP: christoffersen(st), zone: stats.zone(breaches)))
                }
                let st = accountStats[a], breaches = Int(st.breaches)
                r.setAccount(a, totalMM: margins.totalMM[a], totalIM: margins.totalIM[a], breachesMM: breaches,
                             breachesIM: Int(st.breachesIM), worstLoss: st.worst, worstScenario: Int(st.worstAt),
                             kupiecP: stats.kupiecP(breaches), christoffersenP: christoffersen(st), zone: stats.zone(breaches),
                             stage: margins.stage[a], units: unitRows)
            }
        }
        r.totals.breachedMM = breachedMM.map(Int.init)
        r.totals.breachedIM = breachedIM.map(Int.init)
        r.totals.bookLoss = (0..<s).map { wide(wideLoss, $0) }
        r.totals.shortfall = (0..<s).map { wide(wideShortfall, $0) }
        return r
    }

    /// The 128-bit integer at `p[2q]` (low word), `p[2q + 1]` (high word, two's complement).
    @inline(__always)
    static func wide(_ p: UnsafePointer<UInt64>, _ q: Int) -> Int128 {
        (Int128(Int64(bitPattern: p[2 * q + 1])) << 64) | Int128(p[2 * q])
    }

    /// `x` USD as a whole number of quanta (nearest, ties to even); |x| ≤ ``maxLoss``.
    @inline(__always)
    static func quanta(_ x: Double) -> Int128 {
        let q = (x * quantaPerUSD).rounded(.toNearestOrEven)
        if abs(q) < 9.2e18 { return Int128(Int64(q)) }
        return Int128(q)
    }

    /// A sum of quanta as USD: the nearest double.
    public static func usd(_ q: Int128) -> Double {
        // Double(Int128) rounds to nearest; the division by 2^32 is exact.
        Double(q) / quantaPerUSD
    }
}

/// What a backtest found, struct of arrays: per account, per unit (of backtested accounts, in
/// account then coin order) and per scenario (``BacktestTotals``).
public struct BacktestResult: Sendable {
    /// S.
    public let scenarioCount: Int
    /// Account ids in book order.
    public internal(set) var accountIds: [String] = []
    /// Why an account was not backtested (its engine or backtest error), or nil.
    public internal(set) var error: [String?]
    /// totalMM and totalIM of §8 (NaN for an error account).
    public internal(set) var totalMM: [Double], totalIM: [Double]
    /// Breaches of totalMM and of totalIM.
    public internal(set) var breachesMM: [Int], breachesIM: [Int]
    /// The largest account loss over the scenarios and its scenario (first maximum by date).
    public internal(set) var worstLoss: [Double], worstScenario: [Int]
    /// Kupiec and Christoffersen p-values of the MM breach sequence.
    public internal(set) var kupiecP: [Double], christoffersenP: [Double]
    /// The traffic-light zone of the MM breaches (nil for an error account).
    public internal(set) var zone: [BacktestStatistics.Zone?]
    /// Account a's units are `unitStart[a] ..< unitStart[a + 1]`.
    public internal(set) var unitStart: [Int] = [0]
    /// Per unit: scenario coin index (into ``BacktestScenarios/coins``), MM, breaches, worst loss and scenario, p-values, zone.
    public internal(set) var unitCoin: [Int] = [], unitMM: [Double] = [], unitBreaches: [Int] = []
    /// Per unit: the worst loss and its scenario.
    public internal(set) var unitWorstLoss: [Double] = [], unitWorstScenario: [Int] = []
    /// Per unit: the p-values.
    public internal(set) var unitKupiecP: [Double] = [], unitChristoffersenP: [Double] = []
    /// Per unit: the zone.
    public internal(set) var unitZone: [BacktestStatistics.Zone] = []
    /// The exact counts and sums (per scenario, per stage, per coin, per zone).
    public internal(set) var totals: BacktestTotals

    struct UnitRow {
        var coin: Int, mm: Double, breaches: Int, worstLoss: Double, worstScenario: Int
        var kupiecP: Double, christoffersenP: Double, zone: BacktestStatistics.Zone
    }

    init(accounts n: Int, coins: Int, scenarios s: Int) {
        scenarioCount = s
        error = .init(repeating: nil, count: n)
        totalMM = .init(repeating: .nan, count: n); totalIM = totalMM
        breachesMM = .init(repeating: 0, count: n); breachesIM = breachesMM
        worstLoss = totalMM; worstScenario = breachesMM
        kupiecP = totalMM; christoffersenP = totalMM
        zone = .init(repeating: nil, count: n)
        unitStart = .init(repeating: 0, count: n + 1)
        totals = BacktestTotals(coins: coins, scenarios: s)
        totals.accounts = n
    }

    /// The worst shortfall of account a: `max(0, worstLoss − totalMM)`.
    public func worstShortfall(_ a: Int) -> Double { max(0, worstLoss[a] - totalMM[a]) }

    mutating func fail(_ a: Int, _ message: String) {
        error[a] = message
        totals.errors += 1
        unitStart[a + 1] = unitCoin.count
    }

    mutating func setAccount(_ a: Int, totalMM mm: Double, totalIM im: Double, breachesMM bm: Int, breachesIM bi: Int,
                             worstLoss w: Double, worstScenario ws: Int, kupiecP k: Double, christoffersenP c: Double,
                             zone z: BacktestStatistics.Zone, stage: Stage?, units: [UnitRow]) {
        totalMM[a] = mm; totalIM[a] = im; breachesMM[a] = bm; breachesIM[a] = bi
        worstLoss[a] = w; worstScenario[a] = ws; kupiecP[a] = k; christoffersenP[a] = c; zone[a] = z
        for u in units {
            unitCoin.append(u.coin); unitMM.append(u.mm); unitBreaches.append(u.breaches)
            unitWorstLoss.append(u.worstLoss); unitWorstScenario.append(u.worstScenario)
            unitKupiecP.append(u.kupiecP); unitChristoffersenP.append(u.christoffersenP); unitZone.append(u.zone)
            totals.coinUnits[u.coin] += 1
            totals.coinBreaches[u.coin] += u.breaches
        }
        unitStart[a + 1] = unitCoin.count
        totals.breaches += bm
        totals.zones[BacktestStatistics.Zone.allCases.firstIndex(of: z)!] += 1
        if let stage, let k = Stage.allCases.firstIndex(of: stage) {
            totals.stageAccounts[k] += 1
            totals.stageBreaches[k] += bm
        }
    }
}

/// The integer totals of a backtest: they add up exactly across blocks and shards, and everything
/// in `scenarios.csv` counts/sums and in `summary.json` comes from them.
public struct BacktestTotals: Sendable, Equatable {
    /// Accounts (errors included) and error accounts.
    public internal(set) var accounts = 0, errors = 0
    /// Σ MM breaches over the backtested accounts.
    public internal(set) var breaches = 0
    /// Accounts per zone (green, yellow, red).
    public internal(set) var zones = [0, 0, 0]
    /// Backtested accounts and their MM breaches per stage (`Stage.allCases` order).
    public internal(set) var stageAccounts = [0, 0, 0, 0], stageBreaches = [0, 0, 0, 0]
    /// Units and their breaches per scenario coin.
    public internal(set) var coinUnits: [Int], coinBreaches: [Int]
    /// Per scenario: accounts breached (MM, IM).
    public internal(set) var breachedMM: [Int], breachedIM: [Int]
    /// Per scenario: Σ shortfall and Σ loss, in quanta (``Backtest/quantaPerUSD``).
    public internal(set) var shortfall: [Int128], bookLoss: [Int128]

    init(coins: Int, scenarios s: Int) {
        coinUnits = .init(repeating: 0, count: coins); coinBreaches = coinUnits
        breachedMM = .init(repeating: 0, count: s); breachedIM = breachedMM
        shortfall = .init(repeating: 0, count: s); bookLoss = shortfall
    }

    /// The backtested accounts (not errors).
    public var backtested: Int { accounts - errors }

    /// The (up to) 10 scenarios with the largest total shortfall above 0, largest first (ties:
    /// the earlier date first), as scenario indices.
    public func worstScenarios() -> [Int] {
        let hit = shortfall.indices.filter { shortfall[$0] > 0 }
        return Array(hit.sorted { shortfall[$0] != shortfall[$1] ? shortfall[$0] > shortfall[$1] : $0 < $1 }.prefix(10))
    }

    /// Adds another block's or shard's totals (same coins and scenarios).
    mutating func add(_ o: BacktestTotals) {
        accounts += o.accounts; errors += o.errors; breaches += o.breaches
        for k in zones.indices { zones[k] += o.zones[k] }
        for k in stageAccounts.indices { stageAccounts[k] += o.stageAccounts[k]; stageBreaches[k] += o.stageBreaches[k] }
        for k in coinUnits.indices { coinUnits[k] += o.coinUnits[k]; coinBreaches[k] += o.coinBreaches[k] }
        for q in breachedMM.indices {
            breachedMM[q] += o.breachedMM[q]; breachedIM[q] += o.breachedIM[q]
            shortfall[q] += o.shortfall[q]; bookLoss[q] += o.bookLoss[q]
        }
    }
}
