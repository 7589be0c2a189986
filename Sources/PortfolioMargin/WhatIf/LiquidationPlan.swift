/// One step of a liquidation plan.
public struct LiquidationStep: Equatable, Sendable {
    /// What a step does (docs/model.md §8 "Liquidation plan"): `cancelOrders` cancels every active
    /// order (always the first step when there are orders); `reduce` cuts one position at mark;
    /// `reduceUnit` scales every derivative position of one unit down pro rata (a hedged book).
    public enum Action: String, Sendable { case cancelOrders, reduce, reduceUnit }
    /// What this step does.
    public var action: Action
    /// The reduced symbol (`reduce`), the unit's base coin (`reduceUnit`), nil for `cancelOrders`.
    public var symbol: String?
    /// The reduced symbol's size before and after (`reduce` only).
    public var sizeBefore: Double?
    /// The reduced symbol's size after the step (`reduce` only); 0 when the position is closed.
    public var sizeAfter: Double?
    /// The account's MM rate after this step.
    public var mmRate: Double
    /// The account's total MM after this step (it falls at every step, even where the rate is +∞).
    public var mm: Double
    /// `reduceUnit`: every derivative position of the unit, with its size before and after, in the
    /// order of the account's positions (empty for the other actions).
    public var positions: [(symbol: String, sizeBefore: Double, sizeAfter: Double)] = []

    /// Every field equal (`positions` element by element).
    public static func == (a: LiquidationStep, b: LiquidationStep) -> Bool {
        a.action == b.action && a.symbol == b.symbol && a.sizeBefore == b.sizeBefore && a.sizeAfter == b.sizeAfter
            && a.mmRate == b.mmRate && a.mm == b.mm && a.positions.elementsEqual(b.positions) { $0 == $1 }
    }
}

/// The concrete steps that bring an account in `liquidation` to an MM rate at or below the target
/// (docs/model.md §8 "Liquidation plan").
public struct LiquidationPlan: Equatable, Sendable {
    /// The account's id.
    public var accountId: String
    /// The account's stage before any step (docs/model.md §8).
    public var stageBefore: Stage
    /// The MM rate before any step (docs/model.md §8, §11.12; may be `+∞`).
    public var mmRateBefore: Double
    /// The steps in order; empty when the account is not in `liquidation`.
    public var steps: [LiquidationStep]
    /// The MM rate after the last step (≤ the target when `outcome` is `target reached`; may stay
    /// `+∞` when the denominator is not positive and MM cannot reach 0).
    public var mmRateAfter: Double
    /// The stage after the last step.
    public var stageAfter: Stage
    /// Why the plan stopped: `target reached`, `not in liquidation`, `nothing left to reduce`, or
    /// `no reduction lowers MM further`.
    public var outcome: String

    /// Plans the liquidation of `account` (docs/model.md §8, our reading in docs/readings.md):
    ///
    /// 1. cancel all active orders (their order loss goes with them);
    /// 2. repeatedly reduce, at mark, the position whose reduction lowers total MM the most per USD
    ///    of notional (|size| × index for options and linear instruments, |size| USD for inverse
    ///    ones, docs/model.md §11.15), by at most `liquidationStepFraction` (10%) of its size at the start
    ///    of the plan, until the MM rate is at most `liquidationTargetMMRate` (0.90) or nothing is left;
    /// 3. when no such single-position step lowers MM (a hedged book), reduce every derivative
    ///    position of the unit with the largest MM pro rata (`reduceUnit`): all of them are scaled
    ///    by one factor, the one that takes the position holding the largest share of its starting
    ///    size down by `liquidationStepFraction` of that starting size (all of it when less is left).
    ///    Positions still in their starting proportions each lose exactly the step fraction of their
    ///    starting size; a common factor keeps the step a pure scaling, which lowers the unit's MM
    ///    (positive homogeneity, §8).
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
        let fraction = policy.liquidationStepFraction

        /// The account with these sizes, margined; nil when it cannot be (an out-of-range value,
        /// docs/model.md §10): such a candidate is not taken.
        func margin(_ sizes: [String: Double]) -> MarginResult? {
            let a = Account(id: account.id, spotHedging: account.spotHedging, balances: account.balances,
                            positions: symbols.map { Position(symbol: $0, size: sizes[$0]!) })
            return try? MarginEngine.margin(a, priced: priced).get()
        }
        /// A size `q` closer to zero, snapped to 0 when only rounding is left.
        func reduced(_ s: String, by q: Double) -> Double {
            let newSize = size[s]! > 0 ? size[s]! - q : size[s]! + q
            return abs(newSize) < 1e-12 * abs(original[s]!) ? 0 : newSize
        }
        guard var current = margin(size) else {
            return .failure(AccountError(accountId: account.id, error: InputError(record: "account \(account.id)",
                                                                                 "value out of range while planning the liquidation")))
        }
        if !account.orders.isEmpty {
            denominator = before.marginBalance
            plan.steps.append(LiquidationStep(action: .cancelOrders, symbol: nil, sizeBefore: nil, sizeAfter: nil,
                                              mmRate: AccountTotals.rate(current.totalMM, denominator), mm: current.totalMM))
        }
        var rate = AccountTotals.rate(current.totalMM, denominator)
        plan.outcome = "target reached"
        while rate > policy.liquidationTargetMMRate {
            var best: (score: Double, symbol: String, newSize: Double, result: MarginResult)?
            for s in symbols where size[s]! != 0 {
                let q = min(abs(size[s]!), fraction * abs(original[s]!))
                var trial = size
                trial[s] = reduced(s, by: q)
                guard let t = margin(trial) else { continue }
                let lowered = current.totalMM - t.totalMM
                guard lowered > 0 else { continue }
                let i = priced.market.indexOf(s)!
                let notional = priced.isInverse[i] ? q : q * priced.coinIndex[Int(priced.coinSlot[i])]
                let score = lowered / notional
                if best == nil || score > best!.score { best = (score, s, trial[s]!, t) }
            }
            if let b = best {
                let before = size[b.symbol]!
                size[b.symbol] = b.newSize
                current = b.result
                rate = AccountTotals.rate(current.totalMM, denominator)
                plan.steps.append(LiquidationStep(action: .reduce, symbol: b.symbol, sizeBefore: before, sizeAfter: b.newSize,
                                                  mmRate: rate, mm: current.totalMM))
                continue
            }
            // No single position helps: the unit with the largest MM (first in coin order on a tie)
            // is reduced pro rata (docs/model.md §8 `reduceUnit`).
            if let unit = current.units.filter({ $0.mm > 0 }).max(by: { $0.mm < $1.mm }),
               let step = reduceUnit(unit.baseCoin) {
                current = step.result
                rate = AccountTotals.rate(current.totalMM, denominator)
                plan.steps.append(LiquidationStep(action: .reduceUnit, symbol: unit.baseCoin, sizeBefore: nil, sizeAfter: nil,
                                                  mmRate: rate, mm: current.totalMM, positions: step.positions))
                continue
            }
            plan.outcome = symbols.allSatisfy { size[$0]! == 0 } ? "nothing left to reduce" : "no reduction lowers MM further"
            break
        }

        /// The `reduceUnit` step of unit `coin`, applied to `size` when it lowers MM.
        func reduceUnit(_ coin: String) -> (result: MarginResult, positions: [(symbol: String, sizeBefore: Double, sizeAfter: Double)])? {
            let members = symbols.filter { s in
                size[s]! != 0 && priced.market.instrument(s)!.baseCoin == coin
            }
            // The largest share of its starting size any member still holds.
            guard let share = members.map({ abs(size[$0]!) / abs(original[$0]!) }).max(), share > 0 else { return nil }
            // Scale factor 1 − q; within rounding of the last step, everything goes.
            let q = share <= fraction * (1 + 1e-9) ? 1 : fraction / share
            var trial = size
            for s in members { trial[s] = q == 1 ? 0 : reduced(s, by: abs(size[s]!) * q) }
            guard let t = margin(trial), t.totalMM < current.totalMM else { return nil }
            let positions = members.map { (symbol: $0, sizeBefore: size[$0]!, sizeAfter: trial[$0]!) }
            size = trial
            return (t, positions)
        }

        plan.mmRateAfter = rate
        plan.stageAfter = AccountTotals.stage(mmRate: rate, imRate: AccountTotals.rate(current.totalIM, denominator),
                                              hasLiability: hasLiability, policy)
        return .success(plan)
    }
}

extension LiquidationPlan {
    /// The object of docs/formats.md (`pm liquidate --format json`), plus `outcome`.
    public var json: JSON {
        .object([
            ("accountId", .string(accountId)),
            ("stageBefore", .string(stageBefore.rawValue)),
            ("mmRateBefore", .num(mmRateBefore)),
            ("steps", .array(steps.map { s in
                var fields: [(String, JSON)] = [
                    ("action", .string(s.action.rawValue)), ("symbol", s.symbol.map(JSON.string) ?? .null),
                    ("sizeBefore", s.sizeBefore.map(JSON.num) ?? .null), ("sizeAfter", s.sizeAfter.map(JSON.num) ?? .null),
                    ("mmRate", .num(s.mmRate)), ("mm", .num(s.mm))]
                if s.action == .reduceUnit {
                    fields.append(("positions", .array(s.positions.map { p in
                        .object([("symbol", .string(p.symbol)), ("sizeBefore", .num(p.sizeBefore)), ("sizeAfter", .num(p.sizeAfter))])
                    })))
                }
                return .object(fields)
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
            case .reduceUnit:
                what = "reduce unit \(s.symbol!) pro rata: " + s.positions.map {
                    "\($0.symbol) \(Table.plain($0.sizeBefore)) → \(Table.plain($0.sizeAfter))"
                }.joined(separator: ", ")
            }
            out += "  " + Table.lpad("\(n + 1).", 5) + " " + Table.pad(what, 64) + " MM rate " + Table.lpad(Table.percent(s.mmRate), 9) + "\n"
        }
        return out + "After: stage \(stageAfter.rawValue), MM rate \(Table.percent(mmRateAfter)) (\(outcome))\n"
    }
}
