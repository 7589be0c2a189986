import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The liquidation plan of a small single-position account pinned step by step (docs/model.md §8
/// "Liquidation plan"; the hedged, pro-rata `reduceUnit` case is pinned in EngineTrustTests'
/// `ReduceUnitTests`). Hand-checkable market (`TestSupport.smallMarket`): BTC index 50,000,
/// BTCUSDT mark 50,000, USDT index 1; shipped BTC parameters: priceRange 0.10, futuresRiskFactor
/// 0.0003, imFactor 1.2; stages: liquidation at mmRate ≥ 1, target 0.90, step 10%.
struct LiquidationStepTests {
    /// Short 10 BTCUSDT entered at 51,000 on 30,000 USDT.
    ///   Margin balance (§8): 30,000 · 1 (USDT ratio 1) + (−10) · (50,000 − 51,000) = 40,000.
    ///   Per BTC short: max loss at s = +10%: 50,000 · 0.10 = 5,000 (§3–§4);
    ///   §5 E: 0.0003 · 50,000 = 15; §5 A–D: 0 (no options, one settlement bucket, one DTE-0
    ///   bucket, no spot hedge). So MM(size n) = 5,015 · |n|.
    ///   Start: MM 50,150, rate 50,150 / 40,000 = 1.25375 ≥ 1 → liquidation.
    /// Each step closes at mark 10% of the starting size, 1 BTC (the only candidate); closing at
    /// mark turns the closed part's unrealised P&L into cash, so the denominator stays 40,000:
    ///   step 1: −10 → −9,  MM 5,015 · 9 = 45,135, rate 45,135 / 40,000 = 1.128375
    ///   step 2: −9  → −8,  MM 5,015 · 8 = 40,120, rate 40,120 / 40,000 = 1.003
    ///   step 3: −8  → −7,  MM 5,015 · 7 = 35,105, rate 35,105 / 40,000 = 0.877625 ≤ 0.90: stop.
    /// After: IM 1.2 · 35,105 = 42,126, imRate 42,126 / 40,000 = 1.05315 ≥ 1 → imBreach.
    static let account = Account(id: "SHORT-PERP", balances: [Balance(coin: "USDT", walletBalance: 30000)],
                                 positions: [Position(symbol: "BTCUSDT", size: -10, entryPrice: 51000)])

    @Test func startingPointIsAsWorkedOut() {
        let r = TestSupport.margin(Self.account)
        #expect(TestSupport.close(r.marginBalance, 40000))
        #expect(TestSupport.close(r.units[0].maxLoss, 50000))
        #expect(TestSupport.close(r.units[0].contingency.futureContingency, 150))
        #expect(TestSupport.close(r.units[0].contingency.total, 150))
        #expect(TestSupport.close(r.totalMM, 50150))
        #expect(TestSupport.close(r.mmRate, 1.25375))
        #expect(r.stage == .liquidation)
    }

    @Test func shortPerpetualIsReducedOneTenthPerStep() throws {
        let priced = PricedMarket(market: TestSupport.smallMarket(), parameters: TestSupport.shippedParams)
        let plan = try LiquidationPlan.plan(for: Self.account, priced: priced).get()
        #expect(plan.stageBefore == .liquidation)
        #expect(TestSupport.close(plan.mmRateBefore, 1.25375))
        let expected: [(before: Double, after: Double, mm: Double, rate: Double)] = [
            (-10, -9, 45135, 1.128375),
            (-9, -8, 40120, 1.003),
            (-8, -7, 35105, 0.877625),
        ]
        #expect(plan.steps.count == expected.count, "\(plan.steps)")
        for (n, (s, want)) in zip(plan.steps, expected).enumerated() {
            #expect(s.action == .reduce && s.symbol == "BTCUSDT", "step \(n + 1): \(s)")
            #expect(TestSupport.close(s.sizeBefore ?? .nan, want.before, 1e-12), "step \(n + 1) sizeBefore \(String(describing: s.sizeBefore))")
            #expect(TestSupport.close(s.sizeAfter ?? .nan, want.after, 1e-12), "step \(n + 1) sizeAfter \(String(describing: s.sizeAfter))")
            #expect(TestSupport.close(s.mm, want.mm), "step \(n + 1) MM \(s.mm)")
            #expect(TestSupport.close(s.mmRate, want.rate), "step \(n + 1) rate \(s.mmRate)")
            #expect(s.positions.isEmpty)
        }
        #expect(plan.outcome == "target reached")
        #expect(TestSupport.close(plan.mmRateAfter, 0.877625))
        #expect(plan.stageAfter == .imBreach)
    }

    /// The same account with a resting sell order 1 BTCUSDT at 49,000 (below mark): order loss
    /// (49,000 − 50,000) · 1 = −1,000 (§8, §11.10), so the starting denominator is 39,000; the B+C
    /// portfolio (−11 BTC) governs: MM 5,015 · 11 = 55,165, rate 55,165 / 39,000 = 1.414487….
    ///   step 1 cancels the order: MM 50,150 on 40,000 → 1.25375; then the three steps above.
    @Test func anOrderIsCancelledFirstThenTheSameSteps() throws {
        var a = Self.account
        a.orders = [Order(symbol: "BTCUSDT", side: .sell, qty: 1, price: 49000)]
        let before = TestSupport.margin(a)
        #expect(TestSupport.close(before.orderLoss, -1000) && TestSupport.close(before.totalMM, 55165))
        #expect(TestSupport.close(before.mmRate, 55165.0 / 39000))
        let priced = PricedMarket(market: TestSupport.smallMarket(), parameters: TestSupport.shippedParams)
        let plan = try LiquidationPlan.plan(for: a, priced: priced).get()
        #expect(plan.steps.map(\.action) == [.cancelOrders, .reduce, .reduce, .reduce])
        let mm = [50150.0, 45135, 40120, 35105]
        for (s, want) in zip(plan.steps, mm) {
            #expect(TestSupport.close(s.mm, want), "\(s)")
            #expect(TestSupport.close(s.mmRate, want / 40000), "\(s)")
        }
        #expect(plan.steps.dropFirst().map { $0.sizeAfter ?? .nan } == [-9, -8, -7])
        #expect(plan.stageAfter == .imBreach)
    }
}
