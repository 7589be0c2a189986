/// The results of a book, struct-of-arrays: per account and per risk unit (aligned with the book).
///
/// Scalars only; `result(of:)` rebuilds the full breakdown of one account (P&L tables, per-position
/// arrays) from its governing portfolios' holdings — one gather per unit; the figures themselves are
/// stored, never recomputed.
public struct BookResult: Sendable {
    /// The book; its `accountErrors` also hold the accounts the engine found out of range (MODEL.md §10).
    public internal(set) var book: Book

    public internal(set) var marginBalance: [Double]
    public internal(set) var orderLoss: [Double]
    public internal(set) var totalIM: [Double]
    public internal(set) var totalMM: [Double]
    public internal(set) var imRate: [Double]
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

    mutating func setUnit(_ u: Int, outcome o: PortfolioOutcome, im: Double, governing: GoverningPortfolio,
                          portfolioMM: (Double, Double?, Double?)) {
        unitMaxLoss[u] = o.maxLoss
        unitWorst[u] = Int32(o.worstScenario)
        unitContingency[u] = o.contingencies
        unitHedge[u] = o.hedge
        unitMM[u] = o.mm
        unitIM[u] = im
        unitGoverning[u] = governing
        unitPortfolioMM[Portfolio.positions.slot(ofUnit: u)] = portfolioMM.0
        unitPortfolioMM[Portfolio.buyOrders.slot(ofUnit: u)] = portfolioMM.1 ?? .nan
        unitPortfolioMM[Portfolio.sellOrders.slot(ofUnit: u)] = portfolioMM.2 ?? .nan
    }

    mutating func setAccount(_ a: Int, totals: AccountTotals, totalMM mm: Double, totalIM im: Double, policy: StagePolicy) {
        marginBalance[a] = totals.marginBalance
        orderLoss[a] = totals.orderLoss
        totalMM[a] = mm
        totalIM[a] = im
        let denominator = totals.marginBalance + totals.orderLoss
        mmRate[a] = AccountTotals.rate(mm, denominator)
        imRate[a] = AccountTotals.rate(im, denominator)
        stage[a] = AccountTotals.stage(mmRate: mmRate[a], imRate: imRate[a], hasLiability: totals.hasLiability, policy)
    }

    /// Makes account `a` an error (MODEL.md §10): no figures, no stage; every output reads it as
    /// an account error, like one the input readers found.
    mutating func fail(_ a: Int, _ error: InputError) {
        book.accountErrors[a] = error
        marginBalance[a] = .nan; orderLoss[a] = .nan; totalMM[a] = .nan; totalIM[a] = .nan
        mmRate[a] = .nan; imRate[a] = .nan
        stage[a] = nil
    }

    public var accountCount: Int { book.accountCount }

    /// The full result of account `a`, or its error.
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
            // Margin attribution (MODEL.md §12): each holding's P&L at the governing worst scenario,
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

/// The margin of one account, fully broken down (FORMATS.md "One result").
public struct MarginResult: Equatable, Sendable {
    public var accountId: String
    public var marginBalance: Double
    public var orderLoss: Double
    public var totalIM: Double
    public var totalMM: Double
    public var imRate: Double
    public var mmRate: Double
    public var stage: Stage
    /// Risk units, alphabetically by base coin.
    public var units: [UnitResult]
}

/// One risk unit's breakdown, for its governing portfolio.
public struct UnitResult: Equatable, Sendable {
    public var baseCoin: String
    /// The grid's price moves, ascending.
    public var priceMoves: [Double]
    /// USD P&L per price move: [up, unchanged, down], spot hedge leg included.
    public var pnl: [[Double]]
    public var maxLoss: Double
    public var maxLossPriceMove: Double
    public var maxLossIvShock: IvShock
    public var maxLossIvShockList: [IvShock]
    public var contingency: Contingencies
    /// The spot hedge leg h, coins (negative for a liability's leg).
    public var hedgeSpotSize: Double
    /// The spot leg's USD P&L per price move (already inside `pnl`).
    public var spotHedgePnl: [Double]
    /// The spot leg's share of `maxLoss`: minus its P&L at the worst scenario (MODEL.md §12).
    public var spotHedgeMaxLossContribution: Double
    public var mm: Double
    public var im: Double
    public var governingPortfolio: GoverningPortfolio
    /// MM of positions, positions+buyOrders, positions+sellOrders (nil when that side has no orders).
    public var portfolioMM: [Double?]
    /// The governing portfolio's net holdings per symbol, with their scenario P&L.
    public var positions: [PositionScenarios]
}

/// A net holding and its USD scenario P&L (`size × riskArray`).
public struct PositionScenarios: Equatable, Sendable {
    public var symbol: String
    public var size: Double
    /// The P&L in grid order (move by move, up / unchanged / down), flat: one allocation per
    /// position, since a what-if builds hundreds of these.
    public var scenarioPnl: [Double]
    /// The holding's share of the unit's `maxLoss`: `−size·riskArray[k*][j*]` at the governing
    /// portfolio's worst scenario (MODEL.md §12). Positive: the holding loses there.
    public var maxLossContribution: Double

    public init(symbol: String, size: Double, scenarioPnl: [Double], maxLossContribution: Double = 0) {
        self.symbol = symbol; self.size = size; self.scenarioPnl = scenarioPnl
        self.maxLossContribution = maxLossContribution
    }

    /// USD P&L per price move: [up, unchanged, down].
    public var pnl: [[Double]] {
        stride(from: 0, to: scenarioPnl.count, by: VolShock.count).map { Array(scenarioPnl[$0..<$0 + VolShock.count]) }
    }
}
