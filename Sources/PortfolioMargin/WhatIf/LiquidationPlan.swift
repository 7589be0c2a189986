/// One step of a liquidation plan.
public struct LiquidationStep: Equatable, Sendable {
    public enum Action: String, Sendable { case cancelOrders, reduce }
    public var action: Action
    /// The reduced symbol (nil for `cancelOrders`).
    public var symbol: String?
    public var sizeBefore: Double?
    public var sizeAfter: Double?
    /// The account's MM rate after this step.
    public var mmRate: Double
    /// The account's total MM after this step (it falls at every step, even where the rate is +∞).
    public var mm: Double
}

/// The concrete steps that bring an account in `liquidation` to an MM rate at or below the target
/// (MODEL.md §8 "Liquidation plan").
public struct LiquidationPlan: Equatable, Sendable {
    public var accountId: String
    public var stageBefore: Stage
    public var mmRateBefore: Double
    public var steps: [LiquidationStep]
    public var mmRateAfter: Double
    public var stageAfter: Stage
    /// Why the plan stopped: `target reached`, `not in liquidation`, `nothing left to reduce`, or
    /// `no reduction lowers MM further`.
    public var outcome: String

    /// Plans the liquidation of `account` (MODEL.md §8, our reading in docs/readings.md):
    ///
    /// 1. cancel all active orders (their order loss goes with them);
    /// 2. repeatedly reduce, at mark, the position whose reduction lowers total MM the most per USD
    ///    of notional (|size| × index for options and linear instruments, |size| USD for inverse
    ///    ones, MODEL.md §11.15), by at most `liquidationStepFraction` (10%) of its size at the start
    ///    of the plan, until the MM rate is at most `liquidationTargetMMRate` (0.90) or nothing is left.
    ///
    /// Reducing at mark converts the closed part's value (unrealised P&L, option value) into cash of
    /// the same value, so the rate's denominator stays as it is after the orders are cancelled;
    /// only the MM changes. A candidate that does not lower MM is never taken, so every step lowers MM.
    public static func plan(for account: Account, priced: PricedMarket, file: String = "account") -> Result<LiquidationPlan, AccountError> {
        let before: MarginResult
        // `file` (the account's path) is what errors name.
        switch MarginEngine.run(Book(priced: priced, accounts: [account], file: file)).result(of: 0) {
        case let .success(r): before = r
        case let .failure(e): return .failure(e)
        }
        let policy = priced.parameters.stages
        var plan = LiquidationPlan(accountId: account.id, stageBefore: before.stage, mmRateBefore: before.mmRate, steps: [],
                                   mmRateAfter: before.mmRate, stageAfter: before.stage, outcome: "not in liquidation")
        guard before.stage == .liquidation else { return .success(plan) }

        // Net holdings per symbol, first-appearance order; entry prices no longer matter (see above).
        var symbols: [String] = []
        var size: [String: Double] = [:]
        for p in account.positions {
            if size[p.symbol] == nil { symbols.append(p.symbol) }
            size[p.symbol, default: 0] += p.size
        }
        let original = size
        let hasLiability = account.balances.contains { $0.walletBalance < 0 }
        var denominator = before.marginBalance + before.orderLoss

        func totals(_ sizes: [String: Double]) -> (mm: Double, im: Double) {
            let a = Account(id: account.id, spotHedging: account.spotHedging, balances: account.balances,
                            positions: symbols.map { Position(symbol: $0, size: sizes[$0]!) })
            // The account was valid with these symbols, so it still is.
            let r = try! MarginEngine.margin(a, priced: priced).get()
            return (r.totalMM, r.totalIM)
        }
        var current = totals(size)
        if !account.orders.isEmpty {
            denominator = before.marginBalance
            plan.steps.append(LiquidationStep(action: .cancelOrders, symbol: nil, sizeBefore: nil, sizeAfter: nil,
                                              mmRate: AccountTotals.rate(current.mm, denominator), mm: current.mm))
        }
        var rate = AccountTotals.rate(current.mm, denominator)
        plan.outcome = "target reached"
        while rate > policy.liquidationTargetMMRate {
            var best: (score: Double, symbol: String, newSize: Double, totals: (mm: Double, im: Double))?
            for s in symbols where size[s]! != 0 {
                let q = min(abs(size[s]!), policy.liquidationStepFraction * abs(original[s]!))
                let newSize = size[s]! > 0 ? size[s]! - q : size[s]! + q
                var trial = size
                trial[s] = abs(newSize) < 1e-12 * abs(original[s]!) ? 0 : newSize
                let t = totals(trial)
                let lowered = current.mm - t.mm
                guard lowered > 0 else { continue }
                let i = priced.market.indexOf(s)!
                let notional = priced.isInverse[i] ? q : q * priced.coinIndex[Int(priced.coinSlot[i])]
                let score = lowered / notional
                if best == nil || score > best!.score { best = (score, s, trial[s]!, t) }
            }
            guard let b = best else {
                plan.outcome = symbols.allSatisfy { size[$0]! == 0 } ? "nothing left to reduce" : "no reduction lowers MM further"
                break
            }
            let before = size[b.symbol]!
            size[b.symbol] = b.newSize
            current = b.totals
            rate = AccountTotals.rate(current.mm, denominator)
            plan.steps.append(LiquidationStep(action: .reduce, symbol: b.symbol, sizeBefore: before, sizeAfter: b.newSize,
                                              mmRate: rate, mm: current.mm))
        }
        plan.mmRateAfter = rate
        plan.stageAfter = AccountTotals.stage(mmRate: rate, imRate: AccountTotals.rate(current.im, denominator),
                                              hasLiability: hasLiability, policy)
        return .success(plan)
    }
}

extension LiquidationPlan {
    /// The object of FORMATS.md (`pm liquidate --format json`), plus `outcome`.
    public var json: JSON {
        .object([
            ("accountId", .string(accountId)),
            ("stageBefore", .string(stageBefore.rawValue)),
            ("mmRateBefore", .num(mmRateBefore)),
            ("steps", .array(steps.map { s in
                .object([("action", .string(s.action.rawValue)), ("symbol", s.symbol.map(JSON.string) ?? .null),
                         ("sizeBefore", s.sizeBefore.map(JSON.num) ?? .null), ("sizeAfter", s.sizeAfter.map(JSON.num) ?? .null),
                         ("mmRate", .num(s.mmRate)), ("mm", .num(s.mm))])
            })),
            ("mmRateAfter", .num(mmRateAfter)),
            ("stageAfter", .string(stageAfter.rawValue)),
            ("outcome", .string(outcome)),
        ])
    }

    /// A readable plan: one line per step with the rate after it.
    public func table() -> String {
        var out = "Liquidation plan for \(accountId): stage \(stageBefore.rawValue), MM rate \(Table.percent(mmRateBefore))\n"
        if steps.isEmpty { return out + "  no steps: \(outcome)\n" }
        for (n, s) in steps.enumerated() {
            let what: String
            switch s.action {
            case .cancelOrders: what = "cancel all active orders"
            case .reduce: what = "reduce \(s.symbol!) from \(Table.plain(s.sizeBefore!)) to \(Table.plain(s.sizeAfter!))"
            }
            out += "  " + Table.lpad("\(n + 1).", 5) + " " + Table.pad(what, 64) + " MM rate " + Table.lpad(Table.percent(s.mmRate), 9) + "\n"
        }
        return out + "After: stage \(stageAfter.rawValue), MM rate \(Table.percent(mmRateAfter)) (\(outcome))\n"
    }
}
