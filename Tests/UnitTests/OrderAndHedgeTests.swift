import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The order rule (docs/model.md §7, §11.1–2) and spot hedging (§6, §11.3–4).
struct OrderRuleTests {
    // A linear BTCUSDT coin risks 50,000 × 10% = 5,000 at the grid's edge and costs 0.0003 × 50,000 = 15 in E.

    @Test func buyOrdersGovern() {
        // C: −1 → 5,015. A+C: −1 + 3 = +2 → 10,030. B+C: −1 − 0.5 → 7,522.5.
        let r = TestSupport.margin(Account(id: "A", positions: [Position(symbol: "BTCUSDT", size: -1)],
                                           orders: [Order(symbol: "BTCUSDT", side: .buy, qty: 3, price: 50000),
                                                    Order(symbol: "BTCUSDT", side: .sell, qty: 0.5, price: 50000)]))
        let u = r.units[0]
        #expect(u.governingPortfolio == .buyOrders)
        #expect(TestSupport.near(u.mm, 10030, within: 1e-9))
        #expect(TestSupport.near(u.portfolioMM[0]!, 5015, within: 1e-9))
        #expect(TestSupport.near(u.portfolioMM[2]!, 7522.5, within: 1e-9))
        #expect(u.positions.map(\.size) == [2])
    }

    @Test func sellOrdersGovern() {
        // C: +1 → 5,015. A+C: 1.5 → 7,522.5. B+C: 1 − 4 = −3 → 15,045.
        let r = TestSupport.margin(Account(id: "B", positions: [Position(symbol: "BTCUSDT", size: 1)],
                                           orders: [Order(symbol: "BTCUSDT", side: .buy, qty: 0.5, price: 50000),
                                                    Order(symbol: "BTCUSDT", side: .sell, qty: 4, price: 50000)]))
        #expect(r.units[0].governingPortfolio == .sellOrders)
        #expect(TestSupport.near(r.units[0].mm, 15045, within: 1e-9))
    }

    @Test func sideIsDecidedBySideAndKind() {
        // Sell put → A; buy put → B; buy call → A; sell perpetual → B.
        #expect(BookBuilder.isPositiveDelta(side: -1, kind: .option, isCall: false))
        #expect(!BookBuilder.isPositiveDelta(side: 1, kind: .option, isCall: false))
        #expect(BookBuilder.isPositiveDelta(side: 1, kind: .option, isCall: true))
        #expect(!BookBuilder.isPositiveDelta(side: -1, kind: .perpetual, isCall: false))
    }

    @Test func aSideWithoutOrdersIsNotEvaluatedAndTiesGoToPositions() {
        // An order that leaves the MM equal to C's does not govern (first maximum wins).
        let r = TestSupport.margin(Account(id: "T", positions: [Position(symbol: "BTCUSDT", size: 1)],
                                           orders: [Order(symbol: "BTCUSDT", side: .sell, qty: 2, price: 50000)]))
        let u = r.units[0]
        #expect(u.portfolioMM[1] == nil)
        #expect(u.portfolioMM[2]! == u.portfolioMM[0]!)   // +1 and −1 risk the same
        #expect(u.governingPortfolio == .positions)
    }

    @Test func orderLossLinearAndInverse() {
        // Buy 1 BTCUSDT at 50,500 (mark 50,000): −500. Sell 100,000 BTCUSD at 49,000:
        // 100,000 × (1/50,000 − 1/49,000) BTC × 50,000 = −2,040.816…; a buy below mark costs nothing.
        let r = TestSupport.margin(Account(id: "L", balances: [Balance(coin: "USDT", walletBalance: 100000)],
                                           orders: [Order(symbol: "BTCUSDT", side: .buy, qty: 1, price: 50500),
                                                    Order(symbol: "BTCUSD", side: .sell, qty: 100000, price: 49000),
                                                    Order(symbol: "BTCUSDC", side: .buy, qty: 1, price: 49000)]))
        let expected = -500 + 100000 * (1 / 50000.0 - 1 / 49000.0) * 50000
        #expect(TestSupport.near(r.orderLoss, expected, within: 1e-9))
    }
}

struct SpotHedgeTests {
    @Test func longBalanceHedgesAShort() {
        // h = min(1.5, 2) = 1.5; the unit behaves as −0.5 BTC: max loss 0.5 × 50,000 × 0.1 = 2,500.
        let r = TestSupport.margin(Account(id: "S", spotHedging: true, balances: [Balance(coin: "BTC", walletBalance: 1.5)],
                                           positions: [Position(symbol: "BTCUSDT", size: -2)]))
        #expect(r.units[0].hedgeSpotSize == 1.5)
        #expect(TestSupport.near(r.units[0].maxLoss, 2500, within: 1e-9))
    }

    @Test func liabilityCountsOnlyItsGains() {
        // Liability −1 against +2: h = max(−1, −2) = −1. At −10%: −10,000 + 5,000 (gain) = −5,000;
        // at +10% the leg's loss is not counted: +10,000.
        let r = TestSupport.margin(Account(id: "L", spotHedging: true, balances: [Balance(coin: "BTC", walletBalance: -1)],
                                           positions: [Position(symbol: "BTCUSDT", size: 2)]))
        let u = r.units[0]
        #expect(u.hedgeSpotSize == -1)
        #expect(TestSupport.near(u.maxLoss, 5000, within: 1e-9))
        #expect(TestSupport.near(u.pnl[10][1], 10000, within: 1e-9))
        #expect(u.maxLossPriceMove == -0.1)
    }

    @Test func ineligibleCoinDoesNotHedge() {
        // XRP takes `default`: not eligible. 100 XRP at 2 USD, 15% range: max loss 100 × 2 × 0.15 = 30.
        let r = TestSupport.margin(Account(id: "X", spotHedging: true, balances: [Balance(coin: "XRP", walletBalance: 100)],
                                           positions: [Position(symbol: "XRPUSDT", size: -100)]))
        #expect(r.units[0].hedgeSpotSize == 0)
        #expect(TestSupport.near(r.units[0].maxLoss, 30, within: 1e-9))
    }

    @Test func hedgingOffDoesNotHedge() {
        let r = TestSupport.margin(Account(id: "O", spotHedging: false, balances: [Balance(coin: "BTC", walletBalance: 2)],
                                           positions: [Position(symbol: "BTCUSDT", size: -2)]))
        #expect(r.units[0].hedgeSpotSize == 0)
        #expect(TestSupport.near(r.units[0].maxLoss, 10000, within: 1e-9))
    }

    @Test func hedgeIsRecomputedPerPortfolio() {
        // Spot +3; C = −1 (h 1); B+C = −1 − 4 = −5 (h 3, governs: 2 × 5,000 = 10,000 + E 75 + D1 0).
        let r = TestSupport.margin(Account(id: "P", spotHedging: true, balances: [Balance(coin: "BTC", walletBalance: 3)],
                                           positions: [Position(symbol: "BTCUSDT", size: -1)],
                                           orders: [Order(symbol: "BTCUSDT", side: .sell, qty: 4, price: 50000)]))
        let u = r.units[0]
        #expect(u.governingPortfolio == .sellOrders)
        #expect(u.hedgeSpotSize == 3)
        #expect(TestSupport.near(u.maxLoss, 10000, within: 1e-9))
    }
}

struct StageTests {
    let policy = StagePolicy()

    @Test func thresholds() {
        #expect(AccountTotals.stage(mmRate: 1.0, imRate: 2, hasLiability: false, policy) == .liquidation)
        #expect(AccountTotals.stage(mmRate: .infinity, imRate: .infinity, hasLiability: false, policy) == .liquidation)
        #expect(AccountTotals.stage(mmRate: 0.85, imRate: 0.5, hasLiability: true, policy) == .autoRepay)
        #expect(AccountTotals.stage(mmRate: 0.8499, imRate: 0.5, hasLiability: true, policy) == .healthy)
        #expect(AccountTotals.stage(mmRate: 0.95, imRate: 1.1, hasLiability: false, policy) == .imBreach)
        #expect(AccountTotals.stage(mmRate: 0.95, imRate: 1.0, hasLiability: true, policy) == .autoRepay)
        #expect(AccountTotals.stage(mmRate: 0.5, imRate: 0.9999, hasLiability: false, policy) == .healthy)
    }

    @Test func rates() {
        #expect(AccountTotals.rate(0, -5) == 0)
        #expect(AccountTotals.rate(10, 0) == .infinity)
        #expect(AccountTotals.rate(10, -1) == .infinity)
        #expect(AccountTotals.rate(10, 40) == 0.25)
    }

    @Test func accountTotalsEndToEnd() {
        // 10,000 USDT (ratio 1) + 0.1 BTC (0.95 × 5,000 = 4,750) − 1,000 USDC liability.
        // Long 1 BTCUSDT entered at 49,000: +1,000 unrealised. MM: 5,015 + borrow 1,000 × 0.05 = 5,065.
        let r = TestSupport.margin(Account(id: "T", balances: [Balance(coin: "USDT", walletBalance: 10000),
                                                             Balance(coin: "BTC", walletBalance: 0.1),
                                                             Balance(coin: "USDC", walletBalance: -1000)],
                                           positions: [Position(symbol: "BTCUSDT", size: 1, entryPrice: 49000)]))
        #expect(TestSupport.near(r.marginBalance, (10000 + 4750 - 1000 + 1000), within: 1e-9))
        #expect(TestSupport.near(r.totalMM, 5065, within: 1e-9))
        // IM: 5,015 × 1.2 + 1,000 × 0.10 = 6,118.
        #expect(TestSupport.near(r.totalIM, 6118, within: 1e-9))
        #expect(TestSupport.near(r.mmRate, 5065 / 14750, within: 1e-12))
        #expect(r.stage == .healthy)
    }
}

/// Properties that hold for any portfolio.
struct PropertyTests {
    func randomPositions(_ rng: inout SplitMix) -> [Position] {
        let symbols = ["BTCUSDT", "BTCUSDC", "BTCUSD", "BTCUSDC-F90", "C50-30", "P50-30", "C50-30-USDT", "C55-90"]
        return (0..<(1 + Int(rng.next() % 5))).map { _ in
            let s = symbols[Int(rng.next() % UInt64(symbols.count))]
            let size = (rng.unit() - 0.5) * (s == "BTCUSD" ? 200000 : 10)
            return Position(symbol: s, size: size)
        }
    }

    @Test func doublingEverySizeDoublesMaxLossAndContingencies() {
        var rng = SplitMix(seed: 11)
        for _ in 0..<50 {
            let ps = randomPositions(&rng)
            let bal = (rng.unit() - 0.5) * 4
            let one = TestSupport.margin(Account(id: "1", spotHedging: true, balances: [Balance(coin: "BTC", walletBalance: bal)], positions: ps)).units[0]
            let two = TestSupport.margin(Account(id: "2", spotHedging: true, balances: [Balance(coin: "BTC", walletBalance: 2 * bal)],
                                                 positions: ps.map { Position(symbol: $0.symbol, size: 2 * $0.size) })).units[0]
            #expect(TestSupport.close(two.maxLoss, 2 * one.maxLoss))
            #expect(TestSupport.close(two.contingency.total, 2 * one.contingency.total))
            #expect(TestSupport.close(two.contingency.futureDeltaContingency, 2 * one.contingency.futureDeltaContingency))
            #expect(TestSupport.close(two.mm, 2 * one.mm))
        }
    }

    /// The exact hedge of a position in the small market: a holding whose risk array is exactly
    /// the negative of the position's in every scenario (docs/model.md §3), on a different row.
    ///   BTCUSDT ↔ BTCUSDC: same mark 50,000, settle indices USDT = USDC = 1 → 50,000 · s each;
    ///   C50-30 ↔ C50-30-USDT: same strike, expiry, forward, vol and mark, both indices 1;
    ///   BTCUSD (n USD contracts, P&L n · s) ↔ BTCUSDT of −n / 50,000 BTC (50,000 · s per BTC);
    ///   anything else: the same instrument with the opposite size, as its own row.
    /// (A perpetual against a dated future is not exact: their marks differ, 50,000 vs 52,000.)
    static func exactHedge(_ p: Position, fraction: Double) -> Position {
        switch p.symbol {
        case "BTCUSDT": return Position(symbol: "BTCUSDC", size: -fraction * p.size)
        case "BTCUSDC": return Position(symbol: "BTCUSDT", size: -fraction * p.size)
        case "C50-30": return Position(symbol: "C50-30-USDT", size: -fraction * p.size)
        case "C50-30-USDT": return Position(symbol: "C50-30", size: -fraction * p.size)
        case "BTCUSD": return Position(symbol: "BTCUSDT", size: -fraction * p.size / 50000)
        default: return Position(symbol: p.symbol, size: -fraction * p.size)
        }
    }

    /// Adding an exact hedge of a fraction λ ∈ (0, 1] of a portfolio never raises its max loss: the
    /// scenario table becomes (1 − λ) times the portfolio's (§3), so max loss is (1 − λ) · maxLoss,
    /// and 0 for the full offset (λ = 1). Checked on random portfolios, also for a single position.
    @Test func anExactHedgeNeverRaisesMaxLoss() {
        var rng = SplitMix(seed: 12)
        var positive = 0
        for n in 0..<200 {
            let ps = n % 4 == 0 ? Array(randomPositions(&rng).prefix(1)) : randomPositions(&rng)
            let lambda = n % 3 == 0 ? 1 : rng.uniform(0.05, 1)
            let hedges = ps.map { Self.exactHedge($0, fraction: lambda) }
            let alone = TestSupport.margin(Account(id: "p", positions: ps)).units[0]
            let hedged = TestSupport.margin(Account(id: "h", positions: ps + hedges)).units[0]
            // Rounding of the cancelling sums is relative to the gross scenario P&L of both legs.
            let gross = ps.reduce(0.0) { $0 + abs($1.symbol == "BTCUSD" ? $1.size : $1.size * 50000) } * 0.2 + 1
            #expect(hedged.maxLoss <= alone.maxLoss + 1e-9 * gross, "\(ps) λ \(lambda): \(hedged.maxLoss) > \(alone.maxLoss)")
            #expect(TestSupport.near(hedged.maxLoss, (1 - lambda) * alone.maxLoss, within: 1e-9 * gross),
                    "\(ps) λ \(lambda): \(hedged.maxLoss) vs \((1 - lambda) * alone.maxLoss)")
            // Every scenario cell scales by 1 − λ, not only the worst one.
            for (rh, ra) in zip(hedged.pnl, alone.pnl) {
                for (h, a) in zip(rh, ra) { #expect(TestSupport.near(h, (1 - lambda) * a, within: 1e-9 * gross)) }
            }
            if lambda == 1 { #expect(hedged.maxLoss <= 1e-9 * gross) }
            if alone.maxLoss > 1 { positive += 1 }
        }
        #expect(positive > 100)   // the property is exercised on real losses, not on zeros
    }

    @Test func unitsNeverOffset() {
        let btc = TestSupport.margin(Account(id: "b", positions: [Position(symbol: "BTCUSDT", size: 1)]))
        let eth = TestSupport.margin(Account(id: "e", positions: [Position(symbol: "ETHUSDT", size: -25)]))
        let both = TestSupport.margin(Account(id: "x", positions: [Position(symbol: "BTCUSDT", size: 1), Position(symbol: "ETHUSDT", size: -25)]))
        #expect(both.units.map(\.baseCoin) == ["BTC", "ETH"])
        #expect(TestSupport.close(both.totalMM, btc.totalMM + eth.totalMM))
        #expect(both.totalMM > 0)
    }
}
