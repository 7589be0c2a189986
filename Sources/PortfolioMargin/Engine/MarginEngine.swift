/// The margin engine: one code path for one account and for a book of millions.
///
/// For each account of a `Book`: account totals (§8); for each risk unit and each of its
/// portfolios C, A+C, B+C (§7): the scenario P&L table from the risk arrays (§3), the spot hedge
/// leg (§6), max loss (§4), contingencies (§5), MM; then the governing portfolio, IM, the totals,
/// rates and stage.
public enum MarginEngine {
    /// Margins every account of `book`.
    public static func run(_ book: Book) -> BookResult {
        var result = BookResult(book: book)
        var evaluator = UnitEvaluator(priced: book.priced)
        for a in 0..<book.accountCount {
            evaluator.account(a, book: book, into: &result)
        }
        return result
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
    var pnl: [Double]
    var contingency: ContingencyCalculator

    init(priced: PricedMarket) {
        self.priced = priced
        pnl = [Double](repeating: 0, count: max(3, priced.grids.map(\.scenarioCount).max() ?? 3))
        contingency = ContingencyCalculator(priced: priced)
    }

    /// Computes account `a` of `book` into `result`.
    mutating func account(_ a: Int, book: Book, into result: inout BookResult) {
        guard book.accountErrors[a] == nil else { return }
        let totals = AccountTotals(book: book, account: a)
        var totalMM = totals.borrowMM
        var totalIM = totals.borrowIM
        for u in book.unitStart[a]..<book.unitStart[a + 1] {
            let slot = Int(book.unitSlot[u])
            var outcomes = [PortfolioOutcome?](repeating: nil, count: 3)
            for p in 0..<3 where book.pfPresent[3 * u + p] {
                outcomes[p] = evaluate(book: book, unit: u, portfolio: p)
            }
            let g = OrderRule.governing((outcomes[0]!.mm, outcomes[1]?.mm ?? -.infinity, outcomes[2]?.mm ?? -.infinity))
            let o = outcomes[g.rawValue]!
            let im = o.mm * priced.coinParams[slot].imFactor
            result.setUnit(u, outcome: o, im: im, governing: g, portfolioMM: (outcomes[0]!.mm, outcomes[1]?.mm, outcomes[2]?.mm))
            totalMM += o.mm
            totalIM += im
        }
        result.setAccount(a, totals: totals, totalMM: totalMM, totalIM: totalIM, policy: priced.parameters.stages)
    }

    /// Fills `pnl` with the scenario P&L of portfolio `p` of unit `u` (positions only, no spot leg)
    /// by gathering `size × riskArray` over its holdings.
    mutating func gatherPnl(book: Book, unit u: Int, portfolio p: Int) {
        let slot = Int(book.unitSlot[u])
        let nS = priced.grids[slot].scenarioCount
        let base = priced.blockOffset[slot]
        pnl.withUnsafeMutableBufferPointer { out in
            for s in 0..<nS { out[s] = 0 }
            priced.riskArrays.withUnsafeBufferPointer { risk in
                for e in book.pfStart[3 * u + p]..<book.pfStart[3 * u + p + 1] {
                    let q = book.entSize[e]
                    let row = risk.baseAddress! + base + Int(priced.row[Int(book.entInstr[e])]) * nS
                    for s in 0..<nS { out[s] += q * row[s] }
                }
            }
        }
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

    /// Evaluates one portfolio; leaves its full P&L table (spot leg included) in `pnl`.
    mutating func evaluate(book: Book, unit u: Int, portfolio p: Int) -> PortfolioOutcome {
        let slot = Int(book.unitSlot[u])
        let grid = priced.grids[slot]
        gatherPnl(book: book, unit: u, portfolio: p)
        var o = PortfolioOutcome()
        o.hedge = hedge(book: book, unit: u, portfolio: p)
        let index = priced.coinIndex[slot]
        pnl.withUnsafeMutableBufferPointer { buf in
            SpotHedge.addLegPnl(o.hedge, index: index, moves: grid.priceMoves, into: buf.baseAddress!)
            (o.maxLoss, o.worstScenario) = MaxLoss.worst(buf.baseAddress!, count: grid.scenarioCount)
        }
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
