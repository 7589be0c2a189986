/// The account-level figures of one trial size: what a limit (`MaxSize`) or a hedge ranking
/// (`HedgeSuggestion`) reads.
struct TrialFigures {
    var marginBalance = Double.nan
    var totalMM = Double.nan
    var totalIM = Double.nan
    var mmRate = Double.nan
    var imRate = Double.nan
    /// nil when a figure is not finite (the full engine would make the account an error).
    var stage: Stage?
}

/// One trade leg whose size varies: a listed instrument (as `pm whatif` adds a position: premium
/// at mark for an option, entry at mark otherwise) or the unit's spot coin (bought or sold at its
/// index, paid in USDT).
enum TradeLeg: Equatable {
    case instrument(Int)
    case spot
}

/// The account's margin with one trade of size `q` added, for many `q`, without rebuilding the
/// book: a trade's scenario P&L is `q ×` its risk array (docs/model.md §3), so the unit's P&L table of
/// every portfolio is its holdings' table (computed once) plus `q ×` one row; the spot leg,
/// max loss, contingencies, governing portfolio, totals, rates and stage are then recomputed as
/// the engine does (the same functions). The other units' MM and IM are the full engine's.
///
/// The holdings' table is summed in another order than the engine's aggregation, so a figure may
/// differ from the full engine's in its last bits; callers confirm their answer with the full
/// engine (`MarginEngine.margin` on `account(with:)`).
final class TradeEvaluator {
    let priced: PricedMarket
    let account: Account
    let leg: TradeLeg
    /// The trade's coin slot (the unit it joins).
    let slot: Int
    /// The symbol of the trade (`spot` trades: the coin).
    let symbol: String

    // Account totals: per balance row its amount, change per unit of q, USD index, collateral
    // ratio (or tiers), borrowing rates and whether it is the hedge coin (read per trial, so
    // taken out of `priced` once).
    private struct BalanceRow {
        var amount: Double
        var perUnit: Double
        var usd: Double
        var ratio: Double
        var tiers: Int          // index into `tiers`, −1 without
        var borrowMM: Double
        var borrowIM: Double
        var isHedgeCoin: Bool
    }
    private let rows: UnsafeMutableBufferPointer<BalanceRow>
    private let rowCount: Int
    private let tiers: [[CollateralTier]]
    private let positionsValue: Double
    private let orderLoss: Double
    private let valuePerUnit: Double

    // Units in engine order; the trade's unit at `target`, the others' MM/IM from the full engine.
    private let unitMM: [Double]
    private let unitIM: [Double]
    private let target: Int
    private let hedgeCoin: Int32

    /// One portfolio of the trade's unit: its holdings net per symbol (the trade's entry, if any, at
    /// `tradeEntry`, sized `prefix + q` then plus the `orderAdds` in row order, as the book nets
    /// them), the other holdings' P&L table and delta. Memory owned by the evaluator (freed in `deinit`).
    private struct PF {
        var instr: UnsafeMutablePointer<Int32>
        var size: UnsafeMutablePointer<Double>
        var count: Int
        var tradeEntry: Int
        var hasPrefix: Bool
        var prefix: Double
        var orderAdds: UnsafeMutablePointer<Double>
        var orderAddCount: Int
        var basePnl: UnsafeMutablePointer<Double>
        var baseDelta: Double
    }
    private var pfs: (PF?, PF?, PF?)
    private let risk: UnsafeMutablePointer<Double>
    private let hasRisk: Bool
    private let tradeDelta: Double
    private let scratch: UnsafeMutablePointer<Double>
    private let scenarios: Int
    private let moves: [Double]
    private let index: Double
    private let contingency: ContingencyCalculator
    private let imFactor: Double
    private let stages: StagePolicy

    /// The figures without the trade (the full engine's).
    let before: MarginResult

    deinit {
        contingency.deallocate()
        rows.deallocate()
        for pf in [pfs.0, pfs.1, pfs.2] {
            guard let pf else { continue }
            pf.instr.deallocate(); pf.size.deallocate(); pf.orderAdds.deallocate(); pf.basePnl.deallocate()
        }
        risk.deallocate(); scratch.deallocate()
    }

    /// An evaluator of `leg` (on coin `slot`) for `account`, whose full-engine result is `before`.
    /// nil when the leg cannot be traded on this account (spot without a unit of that coin, or a
    /// coin without an index price).
    init?(account: Account, before: MarginResult, leg: TradeLeg, slot: Int, priced p: PricedMarket) {
        self.priced = p; self.account = account; self.leg = leg; self.slot = slot; self.before = before
        imFactor = p.coinParams[slot].imFactor
        let coinName = p.baseCoins[slot]
        switch leg {
        case let .instrument(i): symbol = p.market.instruments[i].symbol
        case .spot: symbol = coinName
        }

        // Balance rows and how q moves them (as `WhatIf.apply` and `account(with:)` do).
        var coins: [Int32] = [], amounts: [Double] = []
        for b in account.balances {
            guard let c = p.coinIdByName[b.coin] else { return nil }
            coins.append(c); amounts.append(b.walletBalance)
        }
        var perUnit = [Double](repeating: 0, count: coins.count)
        func move(_ coin: String, _ x: Double) -> Bool {
            guard let c = p.coinIdByName[coin] else { return false }
            if let r = account.balances.firstIndex(where: { $0.coin == coin }) {
                perUnit[r] += x
            } else {
                coins.append(c); amounts.append(0); perUnit.append(x)
            }
            return true
        }
        var value = 0.0
        switch leg {
        case let .instrument(i):
            if p.kind[i] == .option {
                guard move(p.market.instruments[i].settleCoin, -p.mark[i]) else { return nil }
                value = p.mark[i] * p.settleIndex[i]
            }
        case .spot:
            guard let usdt = p.coinIdByName["USDT"], let c = p.coinIdOfSlot[slot] else { return nil }
            guard move(coinName, 1), move("USDT", -p.coinUSD[Int(c)] / p.coinUSD[Int(usdt)]) else { return nil }
        }
        valuePerUnit = value
        let hedgeCoinId = account.spotHedging && p.coinParams[slot].spotHedgeEligible ? (p.coinIdOfSlot[slot] ?? -1) : -1
        hedgeCoin = hedgeCoinId

        // Positions and orders, with their instrument indexes (the account margined, so all resolve).
        var posInstr: [Int32] = [], posSize: [Double] = []
        var pv = 0.0
        var totals = AccountTotals()
        for r in account.positions {
            guard let i = p.market.indexOf(r.symbol) else { return nil }
            posInstr.append(Int32(i)); posSize.append(r.size)
            totals.addPosition(p, instrument: i, size: r.size, entry: r.entryPrice ?? .nan)
        }
        pv = totals.marginBalance
        positionsValue = pv
        var ol = 0.0
        var ordInstr: [Int32] = [], ordSigned: [Double] = [], ordPositive: [Bool] = []
        for o in account.orders {
            guard let i = p.market.indexOf(o.symbol) else { return nil }
            let side: Int8 = o.side == .buy ? 1 : -1
            ol += AccountTotals.orderLoss(p, instrument: i, side: side, qty: o.qty, price: o.price)
            ordInstr.append(Int32(i)); ordSigned.append(Double(side) * o.qty)
            ordPositive.append(BookBuilder.isPositiveDelta(side: side, kind: p.kind[i], isCall: p.isCall[i]))
        }
        orderLoss = ol

        // Units in slot order (the book's); the trade's unit may be new.
        var slots = Set(posInstr.map { Int(p.coinSlot[Int($0)]) }).union(ordInstr.map { Int(p.coinSlot[Int($0)]) })
        if case .spot = leg, !slots.contains(slot) { return nil }
        slots.insert(slot)
        let ordered = slots.sorted()
        target = ordered.firstIndex(of: slot)!
        unitMM = ordered.map { s in before.units.first { $0.baseCoin == p.baseCoins[s] }?.mm ?? 0 }
        unitIM = ordered.map { s in before.units.first { $0.baseCoin == p.baseCoins[s] }?.im ?? 0 }

        // No failure past this point: the memory below is freed in deinit.
        contingency = ContingencyCalculator(priced: p)
        var tierList: [[CollateralTier]] = []
        rows = .allocate(capacity: max(1, coins.count))
        for r in coins.indices {
            let c = Int(coins[r])
            let params = p.coinParamsById[c]
            var t = -1
            if let ts = params.collateralTiers { t = tierList.count; tierList.append(ts) }
            rows[r] = BalanceRow(amount: amounts[r], perUnit: perUnit[r], usd: p.coinUSD[c], ratio: params.collateralValueRatio, tiers: t,
                                 borrowMM: params.borrowMMRate, borrowIM: params.borrowIMRate, isHedgeCoin: coins[r] == hedgeCoinId)
        }
        rowCount = coins.count
        tiers = tierList

        // The trade's unit: C nets the positions in row order (the trade's row last), A+C and B+C
        // copy C and net that side's orders in row order (BookBuilder's rule).
        let grid = p.grids[slot]
        let n = grid.scenarioCount
        let tradeInstr: Int32 = { if case let .instrument(i) = leg { return Int32(i) }; return -1 }()
        var cInstr: [Int32] = [], cSize: [Double] = []
        var tradePrefix: Double?
        for (k, i) in posInstr.enumerated() where Int(p.coinSlot[Int(i)]) == slot {
            if let e = cInstr.firstIndex(of: i) { cSize[e] += posSize[k] } else { cInstr.append(i); cSize.append(posSize[k]) }
        }
        var cTrade = -1
        if tradeInstr >= 0 {
            if let e = cInstr.firstIndex(of: tradeInstr) { cTrade = e; tradePrefix = cSize[e] } else {
                cTrade = cInstr.count; cInstr.append(tradeInstr); cSize.append(0)
            }
        }
        func block(_ i: Int32) -> Int { p.blockOffset[slot] + Int(p.row[Int(i)]) * n }
        func copy<T>(_ a: [T]) -> UnsafeMutablePointer<T> {
            let ptr = UnsafeMutablePointer<T>.allocate(capacity: max(1, a.count))
            if !a.isEmpty { ptr.initialize(from: a, count: a.count) }
            return ptr
        }
        func makePF(_ instr: [Int32], _ size: [Double], orderAdds: [Double]) -> PF {
            var pnl = [Double](repeating: 0, count: n)
            var d = 0.0
            for e in instr.indices where e != cTrade {
                let from = block(instr[e])
                for s in 0..<n { pnl[s] += size[e] * p.riskArrays[from + s] }
                d += size[e] * p.delta[Int(instr[e])]
            }
            return PF(instr: copy(instr), size: copy(size), count: instr.count, tradeEntry: cTrade, hasPrefix: tradePrefix != nil,
                      prefix: tradePrefix ?? 0, orderAdds: copy(orderAdds), orderAddCount: orderAdds.count, basePnl: copy(pnl), baseDelta: d)
        }
        var list: [PF?] = [makePF(cInstr, cSize, orderAdds: [])]
        for positive in [true, false] {
            let rows = ordInstr.indices.filter { Int(p.coinSlot[Int(ordInstr[$0])]) == slot && ordPositive[$0] == positive }
            guard !rows.isEmpty else { list.append(nil); continue }
            var instr = cInstr, size = cSize
            var adds: [Double] = []
            for k in rows {
                let i = ordInstr[k]
                if i == tradeInstr { adds.append(ordSigned[k]); continue }
                if let e = instr.firstIndex(of: i) { size[e] += ordSigned[k] } else { instr.append(i); size.append(ordSigned[k]) }
            }
            list.append(makePF(instr, size, orderAdds: adds))
        }
        pfs = (list[0], list[1], list[2])
        if tradeInstr >= 0 {
            let from = block(tradeInstr)
            risk = copy(Array(p.riskArrays[from..<from + n]))
            hasRisk = true
            tradeDelta = p.delta[Int(tradeInstr)]
        } else {
            risk = copy([Double](repeating: 0, count: n)); hasRisk = false; tradeDelta = 0
        }
        scratch = copy([Double](repeating: 0, count: n))
        scenarios = n
        moves = grid.priceMoves
        index = p.coinIndex[slot]
        stages = p.parameters.stages
    }

    /// The account with the trade of size `q` (signed) added, as the full engine should see it.
    func account(with q: Double) -> Account {
        switch leg {
        case .instrument:
            return WhatIf.apply([Trade(symbol: symbol, size: q)], to: account, market: priced.market, asOrders: false)
        case .spot:
            var a = account
            let usdt = priced.coinIdByName["USDT"].map { priced.coinUSD[Int($0)] } ?? .nan
            let index = priced.coinIdOfSlot[slot].map { priced.coinUSD[Int($0)] } ?? .nan
            func move(_ coin: String, _ x: Double) {
                if let b = a.balances.firstIndex(where: { $0.coin == coin }) { a.balances[b].walletBalance += x } else {
                    a.balances.append(Balance(coin: coin, walletBalance: x))
                }
            }
            move(symbol, q)
            move("USDT", q * (-index / usdt))
            return a
        }
    }

    /// The MM of one portfolio with the trade of size `q`, its spot balance `spot`.
    @inline(__always)
    private func portfolioMM(_ pf: PF, q: Double, spot: Double) -> Double {
        var tradeSize = 0.0
        if pf.tradeEntry >= 0 {
            tradeSize = pf.hasPrefix ? pf.prefix + q : q
            for k in 0..<pf.orderAddCount { tradeSize += pf.orderAdds[k] }
            pf.size[pf.tradeEntry] = tradeSize
        }
        let h = SpotHedge.legSize(balance: spot, derivativeDelta: pf.baseDelta + tradeSize * tradeDelta)
        let pnl = scratch, base = pf.basePnl, n = scenarios
        if hasRisk {
            for s in 0..<n { pnl[s] = base[s] + tradeSize * risk[s] }
        } else {
            pnl.update(from: base, count: n)
        }
        SpotHedge.addLegPnl(h, index: index, moves: moves, into: pnl)
        let loss = MaxLoss.worst(pnl, count: n).maxLoss
        guard pf.count > 0 else { return loss }
        return loss + contingency.compute(priced: priced, slot: slot, instr: pf.instr, size: pf.size, count: pf.count, hedge: h).total
    }

    /// The figures with the trade of size `q` (signed; 0: none).
    func evaluate(_ q: Double) -> TrialFigures {
        var t = AccountTotals()
        var spot = 0.0
        for r in 0..<rowCount {
            let row = rows[r]
            let amount = row.amount + row.perUnit * q
            if row.isHedgeCoin { spot += amount }
            let usd = amount * row.usd
            if amount < 0 {
                t.hasLiability = true
                t.marginBalance += usd
                t.borrowMM += -usd * row.borrowMM
                t.borrowIM += -usd * row.borrowIM
            } else if row.tiers >= 0 {
                t.marginBalance += CollateralTier.value(of: amount, tiers[row.tiers]) * row.usd
            } else {
                t.marginBalance += usd * row.ratio
            }
        }
        t.marginBalance += positionsValue + q * valuePerUnit
        let mm = (pfs.0.map { portfolioMM($0, q: q, spot: spot) } ?? 0,
                  pfs.1.map { portfolioMM($0, q: q, spot: spot) } ?? -.infinity,
                  pfs.2.map { portfolioMM($0, q: q, spot: spot) } ?? -.infinity)
        let g = OrderRule.governing(mm)
        let unit = g == .positions ? mm.0 : (g == .buyOrders ? mm.1 : mm.2)
        var f = TrialFigures()
        var totalMM = t.borrowMM, totalIM = t.borrowIM
        for u in unitMM.indices {
            totalMM += u == target ? unit : unitMM[u]
            totalIM += u == target ? unit * imFactor : unitIM[u]
        }
        f.marginBalance = t.marginBalance
        f.totalMM = totalMM
        f.totalIM = totalIM
        let denominator = t.marginBalance + orderLoss
        f.mmRate = AccountTotals.rate(totalMM, denominator)
        f.imRate = AccountTotals.rate(totalIM, denominator)
        let check = (totalMM - totalMM) + (totalIM - totalIM) + (denominator - denominator)
        f.stage = check == 0 ? AccountTotals.stage(mmRate: f.mmRate, imRate: f.imRate, hasLiability: t.hasLiability, stages) : nil
        return f
    }
}
