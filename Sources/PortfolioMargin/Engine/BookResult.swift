/// The results of a book, struct-of-arrays: per account and per risk unit (aligned with the book).
///
/// Scalars only, one array element per account (book order); ``result(of:)`` rebuilds the full
/// breakdown of one account (P&L tables, per-position arrays) by gathering its governing
/// portfolios' tables again — one gather per unit; the figures themselves are those of the run.
public struct BookResult: Sendable {
    /// The book; its `accountErrors` also hold the accounts the engine found out of range (docs/model.md §10).
    public internal(set) var book: Book

    /// Margin balance per account, USD (docs/model.md §8); `NaN` for an account error.
    public internal(set) var marginBalance: [Double]
    /// Order loss per account, USD, ≤ 0 (docs/model.md §8, §11.10); `NaN` for an account error.
    public internal(set) var orderLoss: [Double]
    /// Total initial margin per account, USD: Σ unit IM + borrowing IM (docs/model.md §8); `NaN` for an account error.
    public internal(set) var totalIM: [Double]
    /// Total maintenance margin per account, USD: Σ unit MM + borrowing MM (docs/model.md §8); `NaN` for an account error.
    public internal(set) var totalMM: [Double]
    /// `totalIM / (marginBalance + orderLoss)` per account (docs/model.md §8, §11.12).
    ///
    /// 0 when `totalIM` is 0; `+∞` when the denominator is not positive; `NaN` for an account error.
    public internal(set) var imRate: [Double]
    /// `totalMM / (marginBalance + orderLoss)` per account (docs/model.md §8, §11.12).
    ///
    /// 0 when `totalMM` is 0; `+∞` when the denominator is not positive; `NaN` for an account error.
    public internal(set) var mmRate: [Double]
    /// nil for an account that could not be computed (see `book.accountErrors`).
    public internal(set) var stage: [Stage?]

    var unitMaxLoss: [Double]
    var unitWorst: [Int32]
    var unitContingency: [Contingencies]
    var unitHedge: [Double]
    var unitMM: [Double]
    var unitIM: [Double]
    var unitGoverning: [GoverningPortfolio]
    /// MM of each portfolio C, A+C, B+C (NaN when not evaluated).
    var unitPortfolioMM: [Double]

    init(book: Book) {
        self.book = book
        let n = book.accountCount, u = book.unitCount
        marginBalance = [Double](repeating: .nan, count: n)
        orderLoss = marginBalance; totalIM = marginBalance; totalMM = marginBalance
        imRate = marginBalance; mmRate = marginBalance
        stage = [Stage?](repeating: nil, count: n)
        unitMaxLoss = [Double](repeating: 0, count: u)
        unitWorst = [Int32](repeating: 0, count: u)
        unitContingency = [Contingencies](repeating: Contingencies(), count: u)
        unitHedge = unitMaxLoss; unitMM = unitMaxLoss; unitIM = unitMaxLoss
        unitGoverning = [GoverningPortfolio](repeating: .positions, count: u)
        unitPortfolioMM = [Double](repeating: .nan, count: Portfolio.count * u)
    }

    /// Runs `body` with a ``ResultColumns`` handle on this result's figure arrays, for the engine's
    /// writes (`MarginEngine.run` → `UnitEvaluator.account`).
    ///
    /// The handle is made here and only borrowed by `body` (it is `~Copyable`, so it cannot leave
    /// it); `self` is under exclusive (`mutating`) access for the whole call, so no copy of an array
    /// can be made and no array can be replaced while the handle's pointers are in use.
    mutating func withFigures<R>(_ body: (borrowing ResultColumns) -> R) -> R {
        let columns = ResultColumns(pinning: &self)
        return body(columns)
    }

    /// Makes account `a` an error (docs/model.md §10): no figures, no stage; every output reads it as
    /// an account error, like one the input readers found.
    mutating func fail(_ a: Int, _ error: InputError) {
        book.accountErrors[a] = error
        marginBalance[a] = .nan; orderLoss[a] = .nan; totalMM[a] = .nan; totalIM[a] = .nan
        mmRate[a] = .nan; imRate[a] = .nan
        stage[a] = nil
    }

    /// The number of accounts, errors included (the book's order, i.e. `accounts.csv`'s).
    public var accountCount: Int { book.accountCount }

    /// The full result of account `a` (0 ..< ``accountCount``), or its error (docs/model.md §10).
    public func result(of a: Int) -> Result<MarginResult, AccountError> {
        if let e = book.accountErrors[a] { return .failure(AccountError(accountId: book.accountIds[a], error: e)) }
        let p = book.priced
        var units: [UnitResult] = []
        for u in book.unitStart[a]..<book.unitStart[a + 1] {
            let slot = Int(book.unitSlot[u])
            let grid = p.grids[slot]
            let nS = grid.scenarioCount
            let g = unitGoverning[u]
            let pf = g.slot(ofUnit: u)
            // The governing portfolio's table: its holdings' risk arrays plus the spot leg (the
            // figures themselves are already in the result; this only rebuilds the breakdown).
            var table = [Double](repeating: 0, count: nS)
            var positions: [PositionScenarios] = []
            p.riskArrays.withUnsafeBufferPointer { risk in
                let block = risk.baseAddress! + p.blockOffset[slot]
                book.entInstr.withUnsafeBufferPointer { ins in
                    book.entSize.withUnsafeBufferPointer { sz in
                        table.withUnsafeMutableBufferPointer { t in
                            // An empty book has no entry arrays; the gather then reads nothing.
                            PnlTables.gather(into: t.baseAddress!, nS: nS, block: block, rows: p.row,
                                             instr: ins.baseAddress ?? UnsafePointer(bitPattern: 8)!,
                                             size: sz.baseAddress ?? UnsafePointer(bitPattern: 8)!,
                                             from: book.pfStart[pf], to: book.pfStart[pf + 1])
                            SpotHedge.addLegPnl(unitHedge[u], index: p.coinIndex[slot], moves: grid.priceMoves, into: t.baseAddress!)
                        }
                    }
                }
                for e in book.pfStart[pf]..<book.pfStart[pf + 1] {
                    let i = Int(book.entInstr[e])
                    let q = book.entSize[e]
                    let r = block + Int(p.row[i]) * nS
                    positions.append(PositionScenarios(symbol: p.market.instruments[i].symbol, size: q,
                                                       scenarioPnl: (0..<nS).map { q * r[$0] }))
                }
            }
            let rows = stride(from: 0, to: nS, by: VolShock.count).map { Array(table[$0..<$0 + VolShock.count]) }
            let worst = Scenario(index: Int(unitWorst[u]))
            // Margin attribution (docs/model.md §12): each holding's P&L at the governing worst scenario,
            // negated; with the spot leg's they sum to the table's worst cell, i.e. to maxLoss > 0.
            for n in positions.indices { positions[n].maxLossContribution = -positions[n].scenarioPnl[Int(unitWorst[u])] }
            var spotPnl = [Double](repeating: 0, count: grid.priceMoves.count)
            for k in 0..<grid.priceMoves.count {
                var v = unitHedge[u] * p.coinIndex[slot] * grid.priceMoves[k]
                if unitHedge[u] < 0 { v = max(0, v) }
                spotPnl[k] = v
            }
            func optionalMM(_ k: Portfolio) -> Double? { unitPortfolioMM[k.slot(ofUnit: u)].isNaN ? nil : unitPortfolioMM[k.slot(ofUnit: u)] }
            units.append(UnitResult(
                baseCoin: p.baseCoins[slot], priceMoves: grid.priceMoves, pnl: rows, maxLoss: unitMaxLoss[u],
                maxLossPriceMove: grid.priceMoves[worst.move], maxLossIvShock: worst.shock,
                maxLossIvShockList: MaxLoss.worstShockPerMove(table), contingency: unitContingency[u],
                hedgeSpotSize: unitHedge[u], spotHedgePnl: spotPnl,
                spotHedgeMaxLossContribution: spotPnl.isEmpty ? 0 : -spotPnl[worst.move], mm: unitMM[u], im: unitIM[u],
                governingPortfolio: g, portfolioMM: Portfolio.allCases.map(optionalMM), positions: positions))
        }
        return .success(MarginResult(
            accountId: book.accountIds[a], marginBalance: marginBalance[a], orderLoss: orderLoss[a],
            totalIM: totalIM[a], totalMM: totalMM[a], imRate: imRate[a], mmRate: mmRate[a], stage: stage[a]!, units: units))
    }
}

/// The margin of one account, fully broken down (docs/formats.md "One result").
public struct MarginResult: Equatable, Sendable {
    /// The account's id, as in the input.
    public var accountId: String
    /// Margin balance, USD (docs/model.md §8): Σ over balance rows of `walletBalance · index ·
    /// collateralValueRatio` (the ratio on positive rows only, tiered per §8's collateral tiers;
    /// liabilities at full value) + perpetual/futures unrealised P&L (0 without an entry price, §11.11)
    /// + option value `Σ size · markPrice · settleIndex`.
    ///
    /// May be 0 or negative (an account whose liabilities exceed its collateral); always finite (a
    /// non-finite figure makes the account an error, §10).
    public var marginBalance: Double
    /// Order loss, USD, ≤ 0 (docs/model.md §8, §11.10): Σ over active orders of the loss of filling at the
    /// limit price against mark, `min(0, (mark − price)·qty)` for a buy, `min(0, (price − mark)·qty)` for a
    /// sell (the inverse form of §11.10 for inverse contracts). 0 with no orders or when every order is at
    /// or better than mark.
    public var orderLoss: Double
    /// Total initial margin, USD (docs/model.md §8): Σ over units of `UnitResult/im` + borrowing IM
    /// `Σ liability · index · borrowIMRate`. ≥ 0; 0 for an account with no unit and no liability.
    public var totalIM: Double
    /// Total maintenance margin, USD (docs/model.md §8): Σ over units of `UnitResult/mm` + borrowing MM
    /// `Σ liability · index · borrowMMRate`. ≥ 0; 0 for an account with no unit and no liability.
    public var totalMM: Double
    /// Initial margin rate: `totalIM / (marginBalance + orderLoss)` (docs/model.md §8, §11.12).
    ///
    /// The rule: 0 when `totalIM` is 0 (whatever the denominator); otherwise `+∞` when the denominator
    /// `marginBalance + orderLoss` is not positive (0 or negative); otherwise the quotient. Never `NaN`.
    /// The JSON and CSV outputs print `+∞` as `inf` (docs/formats.md).
    public var imRate: Double
    /// Maintenance margin rate: `totalMM / (marginBalance + orderLoss)` (docs/model.md §8, §11.12).
    ///
    /// The rule: 0 when `totalMM` is 0 (whatever the denominator); otherwise `+∞` when the denominator
    /// `marginBalance + orderLoss` is not positive (0 or negative); otherwise the quotient. Never `NaN`.
    /// A rate ≥ 1 is ``Stage/liquidation`` under the shipped policy.
    public var mmRate: Double
    /// The liquidation stage, the first of docs/model.md §8's list that applies: `liquidation` (mmRate ≥ 1),
    /// `autoRepay` (liabilities and mmRate ≥ 0.85), `imBreach` (imRate ≥ 1), else `healthy`; the
    /// thresholds are the parameter file's `stages`. A `+∞` rate therefore stages as `liquidation`.
    public var stage: Stage
    /// Risk units, alphabetically by base coin (docs/model.md §11.17); one per base coin with a position
    /// row (size 0 included) or an order (§11.5). Empty for an account with neither.
    public var units: [UnitResult]
}

/// One risk unit's breakdown, for its governing portfolio.
public struct UnitResult: Equatable, Sendable {
    /// The unit's base coin (BTC, ETH, …): the unit is everything the account holds on it (docs/model.md §1, §11.5).
    public var baseCoin: String
    /// The grid's price moves `s_k`, ascending (docs/model.md §2): `pricePoints` values from −priceRange to
    /// +priceRange.
    public var priceMoves: [Double]
    /// The governing portfolio's USD P&L table (docs/model.md §3): one row per price move, each
    /// `[up, unchanged, down]`, spot hedge leg included. Gains are positive; `maxLoss` is minus its
    /// smallest cell, floored at 0.
    public var pnl: [[Double]]
    /// Maximum loss, USD: `max(0, −min_{k,j} pnl[k][j])` over the governing portfolio's table (docs/model.md §4).
    /// 0 when no scenario loses (never negative).
    public var maxLoss: Double
    /// The price move `s_k` of the worst scenario (docs/model.md §4), the first minimum in grid order (§11.6);
    /// reported even when `maxLoss` is 0.
    public var maxLossPriceMove: Double
    /// The vol shock of the worst scenario (docs/model.md §4), first minimum in the order up, unchanged, down (§11.6).
    public var maxLossIvShock: IvShock
    /// For each price move, the vol shock that was worst at it (docs/model.md §4, ties §11.6); one entry per
    /// `priceMoves` element.
    public var maxLossIvShockList: [IvShock]
    /// The five contingency add-ons of the governing portfolio (docs/model.md §5).
    public var contingency: Contingencies
    /// The spot hedge leg h of the governing portfolio, coins (docs/model.md §6, §11.3): negative for a
    /// liability's leg; 0 with spot hedging off, an ineligible coin, or nothing to hedge.
    public var hedgeSpotSize: Double
    /// The spot leg's USD P&L per price move (already inside `pnl`).
    public var spotHedgePnl: [Double]
    /// The spot leg's share of `maxLoss`: minus its P&L at the worst scenario (docs/model.md §12).
    public var spotHedgeMaxLossContribution: Double
    /// The unit's maintenance margin, USD: `MM = maxLoss + contingency.total` for the governing portfolio,
    /// the largest of the three portfolios' (docs/model.md §7). ≥ 0; 0 for a unit of zero-size positions
    /// and no orders.
    public var mm: Double
    /// The unit's initial margin, USD: `mm · imFactor` of the base coin (docs/model.md §7, §9).
    public var im: Double
    /// Which of positions, positions+buyOrders, positions+sellOrders set `mm` (docs/model.md §7); the first
    /// maximum in that order (§11.6), so ``GoverningPortfolio/positions`` when there are no orders.
    public var governingPortfolio: GoverningPortfolio
    /// MM of positions, positions+buyOrders, positions+sellOrders, in ``GoverningPortfolio`` order
    /// (docs/model.md §7); `nil` for a side with no orders (it equals positions and is not evaluated, §11.2).
    public var portfolioMM: [Double?]
    /// The governing portfolio's net holdings per symbol (docs/model.md §11.1, §11.17), with their
    /// scenario P&L; a symbol whose rows net to 0 stays, with a zero P&L.
    public var positions: [PositionScenarios]
}

/// A net holding and its USD scenario P&L (`size × riskArray`).
public struct PositionScenarios: Equatable, Sendable {
    /// The instrument's symbol.
    public var symbol: String
    /// The net size in the governing portfolio (docs/model.md §11.1): coins for options and linear contracts,
    /// USD contracts for inverse ones; orders are included at their remaining quantity. May be 0.
    public var size: Double
    /// The P&L in grid order (move by move, up / unchanged / down), flat: one allocation per
    /// position, since a what-if builds hundreds of these.
    public var scenarioPnl: [Double]
    /// The holding's share of the unit's `maxLoss`: `−size·riskArray[k*][j*]` at the governing
    /// portfolio's worst scenario (docs/model.md §12). Positive: the holding loses there.
    public var maxLossContribution: Double

    /// Makes a holding from its symbol, net size, flat scenario P&L (grid order) and attribution.
    public init(symbol: String, size: Double, scenarioPnl: [Double], maxLossContribution: Double = 0) {
        self.symbol = symbol; self.size = size; self.scenarioPnl = scenarioPnl
        self.maxLossContribution = maxLossContribution
    }

    /// USD P&L per price move: [up, unchanged, down].
    public var pnl: [[Double]] {
        stride(from: 0, to: scenarioPnl.count, by: VolShock.count).map { Array(scenarioPnl[$0..<$0 + VolShock.count]) }
    }
}
