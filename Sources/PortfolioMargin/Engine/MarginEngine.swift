/// The margin engine: one code path for one account and for a book of millions.
///
/// For each account of a `Book`: account totals (§8); for each risk unit and each of its
/// portfolios C, A+C, B+C (§7): the scenario P&L table from the risk arrays (§3), the spot hedge
/// leg (§6), max loss (§4), contingencies (§5), MM; then the governing portfolio, IM, the totals,
/// rates and stage.
public enum MarginEngine {
    /// Margins every account of `book`: aggregation of all its portfolios first (BLAS or gather,
    /// `options`), then each account's units, totals and stage.
    ///
    /// Accounts the book already marks as errors, and accounts whose figures are not finite
    /// (docs/model.md §10), get `NaN` figures and no stage in the result (their reason is in
    /// `result.book.accountErrors`); the others are unaffected. An empty book gives an empty result.
    public static func run(_ book: Book, options: EngineOptions = EngineOptions()) -> BookResult {
        var result = BookResult(book: book)
        var tables = PnlTables(book: book, options: options)
        let evaluator = UnitEvaluator(priced: book.priced)
        // Read once: `tables` is under exclusive access in the closure below, so passing
        // `tables.offset` there retained and released the array once per account (1M batch: a
        // `swift_retain`/`swift_release` pair per `account` call).
        let offsets = tables.offset
        // Accounts found out of range (docs/model.md §10) become errors after the pass: `fail` changes
        // the book, which the pointers' scope excludes; their figures stay NaN / nil meanwhile.
        var failed: [(Int, InputError)] = []
        tables.values.withUnsafeMutableBufferPointer { pnl in
            result.withFigures { figures in
                for a in 0..<book.accountCount {
                    if let e = evaluator.account(a, book: book, pnl: pnl.baseAddress!, offsets: offsets, into: figures) {
                        failed.append((a, e))
                    }
                }
            }
        }
        for (a, e) in failed { result.fail(a, e) }
        evaluator.contingency.deallocate()
        return result
    }

    /// The aggregation stage alone (docs/model.md §3): the positions' scenario P&L table of every
    /// evaluated portfolio of `book`, before spot legs. Portfolio p of unit u starts at
    /// `offsets[p.slot(ofUnit: u)]` = `offsets[3u + p]` (−1 when not evaluated) and has its coin's `scenarioCount` entries.
    public static func aggregate(_ book: Book, options: EngineOptions = EngineOptions()) -> (values: [Double], offsets: [Int]) {
        let t = PnlTables(book: book, options: options)
        return (t.values, t.offset)
    }

    /// Margins one account (a book of one): the same code path as a batch of millions.
    ///
    /// - Returns: the full breakdown, or an ``AccountError`` when the account references an unknown,
    ///   invalid or expired instrument or an unknown coin, or its figures are not finite (docs/model.md
    ///   §10). An account with no positions and no orders has no units; its MM and IM are its
    ///   borrowing margin (0 without liabilities), and its rates follow §11.12.
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

/// Per-worker scratch and the per-unit evaluation. Allocates only at creation; the owner calls
/// `contingency.deallocate()` when done (`MarginEngine.run`).
struct UnitEvaluator {
    let priced: PricedMarket
    let contingency: ContingencyCalculator

    init(priced: PricedMarket) {
        self.priced = priced
        contingency = ContingencyCalculator(priced: priced)
    }

    /// Computes account `a` of `book` into `result`, from its portfolios' aggregated P&L tables.
    ///
    /// docs/model.md §10: an account whose figures are not all finite is that account's error, never a
    /// staged result. Every evaluated portfolio's MM (max loss — NaN for a non-finite table — plus
    /// contingencies) and every total is folded into one `x − x` sum, 0 only when all are finite:
    /// a few operations per unit, none per scenario. The error names what overflowed
    /// (`outOfRange`, run only for such accounts), returned for the caller to record (`BookResult.fail`).
    ///
    /// The figures go through `result`'s pointers (``ResultColumns``), not the arrays: no
    /// uniqueness or bounds check per write.
    func account(_ a: Int, book: Book, pnl: UnsafeMutablePointer<Double>, offsets: [Int], into result: borrowing ResultColumns) -> InputError? {
        // A pattern, not `== nil`: InputError is Equatable, so `== nil` compares two optionals and
        // copied the element (retaining its strings) once per account.
        if case .some = book.accountErrors[a] { return nil }
        let totals = AccountTotals(book: book, account: a)
        var totalMM = totals.borrowMM
        var totalIM = totals.borrowIM
        var check = 0.0
        for u in book.unitStart[a]..<book.unitStart[a + 1] {
            let slot = Int(book.unitSlot[u])
            // C always; A+C and B+C only when that side has orders (docs/model.md §11.2).
            let c = Portfolio.positions.slot(ofUnit: u), ac = Portfolio.buyOrders.slot(ofUnit: u)
            let bc = Portfolio.sellOrders.slot(ofUnit: u)
            let positions = finish(book: book, unit: u, portfolio: .positions, pnl: pnl + offsets[c])
            let withBuys = book.pfPresent[ac] ? finish(book: book, unit: u, portfolio: .buyOrders, pnl: pnl + offsets[ac]) : nil
            let withSells = book.pfPresent[bc] ? finish(book: book, unit: u, portfolio: .sellOrders, pnl: pnl + offsets[bc]) : nil
            check += (positions.mm - positions.mm) + (withBuys.map { $0.mm - $0.mm } ?? 0) + (withSells.map { $0.mm - $0.mm } ?? 0)
            let g = OrderRule.governing((positions.mm, withBuys?.mm ?? -.infinity, withSells?.mm ?? -.infinity))
            let o = g == .positions ? positions : (g == .buyOrders ? withBuys! : withSells!)
            let im = o.mm * priced.coinParams[slot].imFactor
            result.setUnit(u, outcome: o, im: im, governing: g, portfolioMM: (positions.mm, withBuys?.mm, withSells?.mm))
            totalMM += o.mm
            totalIM += im
        }
        check += (totalMM - totalMM) + (totalIM - totalIM)
        check += (totals.marginBalance - totals.marginBalance) + (totals.orderLoss - totals.orderLoss)
        guard check == 0 else { return outOfRange(a, book: book, totals: totals, result: result) }
        result.setAccount(a, totals: totals, totalMM: totalMM, totalIM: totalIM, policy: priced.parameters.stages)
        return nil
    }

    /// The error of an account with a non-finite figure (docs/model.md §10), naming the first quantity
    /// that is not finite: a balance, position or order row, a unit's scenario P&L, contingency,
    /// MM or IM, or a total. Only called for such accounts, so it may take its time.
    func outOfRange(_ a: Int, book: Book, totals: AccountTotals, result: borrowing ResultColumns) -> InputError {
        let p = priced
        let record = "account \(book.accountIds[a])"
        func error(_ field: String, _ what: String) -> InputError {
            InputError(record: record, field: field, "value out of range: \(what) is not finite")  // values echoed are finite inputs
        }
        for b in book.balStart[a]..<book.balStart[a + 1] {
            let c = Int(book.balCoin[b])
            let usd = book.balAmount[b] * p.coinUSD[c]
            if !usd.isFinite {
                return error("balances", "the USD value of \(p.coins[c]) balance \(book.balAmount[b]) × index \(p.coinUSD[c])")
            }
        }
        for r in book.posStart[a]..<book.posStart[a + 1] {
            let i = Int(book.posInstr[r])
            var one = AccountTotals()
            one.addPosition(p, instrument: i, size: book.posSize[r], entry: book.posEntry[r])
            if !one.marginBalance.isFinite {
                return error("positions", "the value or unrealised P&L of \(p.market.instruments[i].symbol) size \(book.posSize[r])")
            }
        }
        for r in book.ordStart[a]..<book.ordStart[a + 1] {
            let i = Int(book.ordInstr[r])
            let loss = AccountTotals.orderLoss(p, instrument: i, side: book.ordSide[r], qty: book.ordQty[r], price: book.ordPrice[r])
            if !loss.isFinite {
                return error("orders", "the order loss of \(p.market.instruments[i].symbol) qty \(book.ordQty[r]) at \(book.ordPrice[r])")
            }
        }
        if !totals.marginBalance.isFinite { return error("marginBalance", "the margin balance") }
        if !totals.orderLoss.isFinite { return error("orderLoss", "the order loss") }
        if !(totals.borrowMM.isFinite && totals.borrowIM.isFinite) {
            return error("balances", "the borrowing margin")
        }
        for u in book.unitStart[a]..<book.unitStart[a + 1] {
            let coin = p.baseCoins[Int(book.unitSlot[u])]
            for k in Portfolio.allCases where book.pfPresent[k.slot(ofUnit: u)] {
                let name = k.name
                let mm = result.portfolioMM(k, unit: u)
                guard !mm.isFinite else { continue }
                // The governing portfolio's parts are stored (a NaN MM governs: it is never below).
                let stored = result.unit(u)
                if k == stored.governing {
                    if !stored.maxLoss.isFinite {
                        return error("unit \(coin)", "the scenario P&L of portfolio \(name)")
                    }
                    if !stored.contingencies.total.isFinite {
                        return error("unit \(coin)", "the contingency of portfolio \(name)")
                    }
                }
                return error("unit \(coin)", "the MM of portfolio \(name) (scenario P&L plus contingency)")
            }
            if !result.unit(u).im.isFinite { return error("unit \(coin)", "the IM") }
        }
        return error("totals", "the account's total MM or IM")
    }
    /// The spot hedge leg of portfolio `p` of unit `u`: its h depends on that portfolio's derivative
    /// delta (docs/model.md §11.3).
    func hedge(book: Book, unit u: Int, portfolio p: Portfolio) -> Double {
        Self.hedge(book: book, unit: u, portfolio: p, delta: priced.delta)
    }

    /// `hedge` with the deltas of a given pricing (a sweep combination's).
    @inline(__always)
    static func hedge(book: Book, unit u: Int, portfolio p: Portfolio, delta: [Double]) -> Double {
        let b = book.unitSpotBalance[u]
        guard b != 0 else { return 0 }
        var d = 0.0
        let pf = p.slot(ofUnit: u)
        for e in book.pfStart[pf]..<book.pfStart[pf + 1] {
            d += book.entSize[e] * delta[Int(book.entInstr[e])]
        }
        return SpotHedge.legSize(balance: b, derivativeDelta: d)
    }

    /// Everything of `p` that a portfolio of coin `slot` reads from its aggregated table to its max
    /// loss (bit patterns): the coin's risk arrays, grid and index, and the deltas its spot hedge
    /// leg comes from (`finish` before the contingencies). Two pricings of the same instruments with
    /// equal keys give that coin's portfolios the same tables and max losses (a sweep aggregates and
    /// evaluates them once per distinct key). Keep in step with `finish` and `hedge`.
    static func maxLossKey(_ p: PricedMarket, slot: Int) -> [UInt64] {
        var bits: [UInt64] = [p.coinIndex[slot].bitPattern, UInt64(p.grids[slot].scenarioCount)]
        bits += p.grids[slot].priceMoves.map(\.bitPattern)
        let from = p.blockOffset[slot], count = p.blockRows[slot] * p.grids[slot].scenarioCount
        bits += p.riskArrays[from..<from + count].map(\.bitPattern)
        for i in p.coinSlot.indices where Int(p.coinSlot[i]) == slot { bits += [UInt64(i), p.delta[i].bitPattern] }
        return bits
    }

    /// Completes one portfolio from its positions' P&L table `pnl` (updated in place): spot leg,
    /// max loss, contingencies, MM.
    func finish(book: Book, unit u: Int, portfolio p: Portfolio, pnl: UnsafeMutablePointer<Double>) -> PortfolioOutcome {
        let slot = Int(book.unitSlot[u])
        let grid = priced.grids[slot]
        var o = PortfolioOutcome()
        o.hedge = hedge(book: book, unit: u, portfolio: p)
        SpotHedge.addLegPnl(o.hedge, index: priced.coinIndex[slot], moves: grid.priceMoves, into: pnl)
        (o.maxLoss, o.worstScenario) = MaxLoss.worst(pnl, count: grid.scenarioCount)
        let pf = p.slot(ofUnit: u)
        let start = book.pfStart[pf], count = book.pfStart[pf + 1] - start
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
