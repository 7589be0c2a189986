/// The margin engine: one code path for one account and for a book of millions.
///
/// For each account of a `Book`: account totals (§8); for each risk unit and each of its
/// portfolios C, A+C, B+C (§7): the scenario P&L table from the risk arrays (§3), the spot hedge
/// leg (§6), max loss (§4), contingencies (§5), MM; then the governing portfolio, IM, the totals,
/// rates and stage.
public enum MarginEngine {
    /// Margins every account of `book`: aggregation of all its portfolios first (BLAS or gather,
    /// `options`), then each account's units, totals and stage.
    public static func run(_ book: Book, options: EngineOptions = EngineOptions()) -> BookResult {
        var result = BookResult(book: book)
        var tables = PnlTables(book: book, options: options)
        var evaluator = UnitEvaluator(priced: book.priced)
        tables.values.withUnsafeMutableBufferPointer { pnl in
            for a in 0..<book.accountCount {
                evaluator.account(a, book: book, pnl: pnl.baseAddress!, offsets: tables.offset, into: &result)
            }
        }
        return result
    }

    /// The aggregation stage alone (MODEL.md §3): the positions' scenario P&L table of every
    /// evaluated portfolio of `book`, before spot legs. Portfolio p of unit u starts at
    /// `offsets[3u + p]` (−1 when not evaluated) and has its coin's `scenarioCount` entries.
    public static func aggregate(_ book: Book, options: EngineOptions = EngineOptions()) -> (values: [Double], offsets: [Int]) {
        let t = PnlTables(book: book, options: options)
        return (t.values, t.offset)
    }

    /// Margins one account (a book of one).
    public static func margin(_ account: Account, priced: PricedMarket) -> Result<MarginResult, AccountError> {
        run(Book(priced: priced, accounts: [account])).result(of: 0)
    }
}

/// What one portfolio of a unit requires.
struct PortfolioOutcome {
    var mm = 0.0
    var maxLoss = 0.0
    var worstScenario = 0
    var contingencies = Contingencies()
    var hedge = 0.0
}

/// Per-worker scratch and the per-unit evaluation. Allocates only at creation.
struct UnitEvaluator {
    let priced: PricedMarket
    var contingency: ContingencyCalculator

    init(priced: PricedMarket) {
        self.priced = priced
        contingency = ContingencyCalculator(priced: priced)
    }

    /// Computes account `a` of `book` into `result`, from its portfolios' aggregated P&L tables.
    mutating func account(_ a: Int, book: Book, pnl: UnsafeMutablePointer<Double>, offsets: [Int], into result: inout BookResult) {
        guard book.accountErrors[a] == nil else { return }
        let totals = AccountTotals(book: book, account: a)
        var totalMM = totals.borrowMM
        var totalIM = totals.borrowIM
        for u in book.unitStart[a]..<book.unitStart[a + 1] {
            let slot = Int(book.unitSlot[u])
            // C always; A+C and B+C only when that side has orders (MODEL.md §11.2).
            let positions = finish(book: book, unit: u, portfolio: 0, pnl: pnl + offsets[3 * u])
            let withBuys = book.pfPresent[3 * u + 1] ? finish(book: book, unit: u, portfolio: 1, pnl: pnl + offsets[3 * u + 1]) : nil
            let withSells = book.pfPresent[3 * u + 2] ? finish(book: book, unit: u, portfolio: 2, pnl: pnl + offsets[3 * u + 2]) : nil
            let g = OrderRule.governing((positions.mm, withBuys?.mm ?? -.infinity, withSells?.mm ?? -.infinity))
            let o = g == .positions ? positions : (g == .buyOrders ? withBuys! : withSells!)
            let im = o.mm * priced.coinParams[slot].imFactor
            result.setUnit(u, outcome: o, im: im, governing: g, portfolioMM: (positions.mm, withBuys?.mm, withSells?.mm))
            totalMM += o.mm
            totalIM += im
        }
        result.setAccount(a, totals: totals, totalMM: totalMM, totalIM: totalIM, policy: priced.parameters.stages)
    }

    /// The spot hedge leg of portfolio `p` of unit `u`: its h depends on that portfolio's derivative
    /// delta (MODEL.md §11.3).
    func hedge(book: Book, unit u: Int, portfolio p: Int) -> Double {
        let b = book.unitSpotBalance[u]
        guard b != 0 else { return 0 }
        var d = 0.0
        for e in book.pfStart[3 * u + p]..<book.pfStart[3 * u + p + 1] {
            d += book.entSize[e] * priced.delta[Int(book.entInstr[e])]
        }
        return SpotHedge.legSize(balance: b, derivativeDelta: d)
    }

    /// Completes one portfolio from its positions' P&L table `pnl` (updated in place): spot leg,
    /// max loss, contingencies, MM.
    mutating func finish(book: Book, unit u: Int, portfolio p: Int, pnl: UnsafeMutablePointer<Double>) -> PortfolioOutcome {
        let slot = Int(book.unitSlot[u])
        let grid = priced.grids[slot]
        var o = PortfolioOutcome()
        o.hedge = hedge(book: book, unit: u, portfolio: p)
        SpotHedge.addLegPnl(o.hedge, index: priced.coinIndex[slot], moves: grid.priceMoves, into: pnl)
        (o.maxLoss, o.worstScenario) = MaxLoss.worst(pnl, count: grid.scenarioCount)
        let start = book.pfStart[3 * u + p], count = book.pfStart[3 * u + p + 1] - start
        guard count > 0 else { o.mm = o.maxLoss; return o }  // no holdings: no delta, no hedge, no add-ons
        o.contingencies = book.entInstr.withUnsafeBufferPointer { ins in
            book.entSize.withUnsafeBufferPointer { sz in
                contingency.compute(priced: priced, slot: slot, instr: ins.baseAddress! + start,
                                    size: sz.baseAddress! + start, count: count, hedge: o.hedge)
            }
        }
        o.mm = o.maxLoss + o.contingencies.total
        return o
    }
}
