/// Account-level figures that do not depend on the scenario grid (docs/model.md §8): margin balance,
/// order loss and borrowing margin, from the account's raw rows.
struct AccountTotals {
    var marginBalance = 0.0
    var orderLoss = 0.0
    var borrowMM = 0.0
    var borrowIM = 0.0
    var hasLiability = false

    /// Zero figures (to add one row at a time, as the out-of-range diagnosis does).
    init() {}

    /// Margin balance = Σ balances · index · collateral ratio (positive rows; liabilities at full
    /// value) + perpetual/futures unrealised P&L + option value (docs/model.md §8, §11.11).
    init(book: Book, account a: Int) {
        self.init(book: book, priced: book.priced, account: a)
    }

    /// The same figures with the prices and parameters of `p` (a sweep combination of the book's market).
    @inline(__always)
    init(book: Book, priced p: PricedMarket, account a: Int) {
        for b in book.balStart[a]..<book.balStart[a + 1] {
            let c = Int(book.balCoin[b])
            let amount = book.balAmount[b]
            let usd = amount * p.coinUSD[c]
            if amount < 0 {
                hasLiability = true
                marginBalance += usd
                borrowMM += -usd * p.coinParamsById[c].borrowMMRate
                borrowIM += -usd * p.coinParamsById[c].borrowIMRate
            } else if let tiers = p.coinParamsById[c].collateralTiers {
                // docs/model.md §8 collateral tiers: each tier's ratio on the part of the balance inside it.
                marginBalance += CollateralTier.value(of: amount, tiers) * p.coinUSD[c]
            } else {
                marginBalance += usd * p.coinParamsById[c].collateralValueRatio
            }
        }
        for r in book.posStart[a]..<book.posStart[a + 1] {
            addPosition(p, instrument: Int(book.posInstr[r]), size: book.posSize[r], entry: book.posEntry[r])
        }
        for r in book.ordStart[a]..<book.ordStart[a + 1] {
            orderLoss += Self.orderLoss(p, instrument: Int(book.ordInstr[r]), side: book.ordSide[r],
                                        qty: book.ordQty[r], price: book.ordPrice[r])
        }
    }

    /// Everything of `p` that ``init(book:priced:account:)`` and ``orderLoss(_:instrument:side:qty:price:)``
    /// read (bit patterns): two pricings of the same instruments with equal keys give every account
    /// the same totals (a sweep computes them once per distinct key). Keep in step with the code above.
    static func inputsKey(_ p: PricedMarket) -> InputsKey {
        var bits: [UInt64] = []
        bits += p.coinUSD.map(\.bitPattern)
        for c in p.coinParamsById {
            bits += [c.borrowMMRate.bitPattern, c.borrowIMRate.bitPattern, c.collateralValueRatio.bitPattern]
        }
        bits += p.mark.map(\.bitPattern) + p.settleIndex.map(\.bitPattern) + p.coinIndex.map(\.bitPattern)
        bits += p.coinSlot.map { UInt64(bitPattern: Int64($0)) }
        bits += p.kind.map { $0 == .option ? 0 : 1 } + p.isInverse.map { $0 ? 1 : 0 }
        return InputsKey(bits: bits, tiers: p.coinParamsById.map(\.collateralTiers))
    }

    /// See ``inputsKey(_:)``.
    struct InputsKey: Equatable {
        var bits: [UInt64]
        var tiers: [[CollateralTier]?]
    }

    /// Adds one position row's option value or unrealised P&L (`entry` NaN: none) to the margin balance.
    @inline(__always)
    mutating func addPosition(_ p: PricedMarket, instrument i: Int, size: Double, entry: Double) {
        let mark = p.mark[i]
        if case .option = p.kind[i] {
            marginBalance += size * mark * p.settleIndex[i]
        } else if !entry.isNaN {
            if p.isInverse[i] {
                marginBalance += size * (1 / entry - 1 / mark) * p.coinIndex[Int(p.coinSlot[i])]
            } else {
                marginBalance += size * (mark - entry) * p.settleIndex[i]
            }
        }
    }

    /// The loss (≤ 0, USD) of filling one order at its limit price rather than at mark (docs/model.md §8,
    /// §11.10): linear and options in settle currency × its index; inverse in coins × base index.
    static func orderLoss(_ p: PricedMarket, instrument i: Int, side: Int8, qty: Double, price: Double) -> Double {
        let mark = p.mark[i]
        if p.isInverse[i] {
            let coins = side > 0 ? qty * (1 / price - 1 / mark) : qty * (1 / mark - 1 / price)
            return lossPart(coins * p.coinIndex[Int(p.coinSlot[i])])
        }
        let settle = side > 0 ? (mark - price) * qty : (price - mark) * qty
        return lossPart(settle * p.settleIndex[i])
    }

    /// `min(0, x)`, except that a NaN stays NaN: `Swift.min(0, .nan)` is 0, which would hide an
    /// order whose loss overflowed (docs/model.md §10).
    @inline(__always)
    static func lossPart(_ x: Double) -> Double { x >= 0 ? 0 : x }

    /// `total / denominator`; 0 when the total is 0, +∞ when the denominator is not positive
    /// (docs/model.md §11.12).
    static func rate(_ total: Double, _ denominator: Double) -> Double {
        if total == 0 { return 0 }
        return denominator > 0 ? total / denominator : .infinity
    }

    /// The first stage that applies, in docs/model.md §8's order.
    ///
    /// The engine never stages an account whose figures are not finite (it is an error, §10); should
    /// a NaN rate still arrive here, it is never `healthy`: every test is written so that NaN passes.
    static func stage(mmRate: Double, imRate: Double, hasLiability: Bool, _ policy: StagePolicy) -> Stage {
        if !(mmRate < policy.liquidationMMRate) { return .liquidation }
        if hasLiability && !(mmRate < policy.autoRepayMMRate) { return .autoRepay }
        if !(imRate < policy.imBreachIMRate) { return .imBreach }
        return .healthy
    }
}
