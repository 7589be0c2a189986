import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Each contingency of docs/model.md §5 on a hand-worked portfolio (index 50,000; BTC factors of §9).
struct ContingencyTests {
    func unit(_ positions: [Position], balances: [Balance] = [], hedging: Bool = false) -> UnitResult {
        TestSupport.margin(Account(id: "T", spotHedging: hedging, balances: balances, positions: positions)).units[0]
    }

    @Test func shortOptionNetsCallsPutsAndSettleCoinsPerExpiryAndStrike() {
        // Group (30d, 50000): −2 (USDC call) + 0.5 (USDT call) − 1 (put) = −2.5; group (90d, 55000): +1.
        // netShort = 2.5 → 2.5 × 0.01 × 50,000 = 1,250.
        let u = unit([Position(symbol: "C50-30", size: -2), Position(symbol: "C50-30-USDT", size: 0.5),
                      Position(symbol: "P50-30", size: -1), Position(symbol: "C55-90", size: 1)])
        #expect(TestSupport.near(u.contingency.optionContingency, 1250, within: 1e-9))
    }

    @Test func vegaSpreadAcrossExpiries() {
        // Long 1 C55-90, short 1 C50-30: V_90 = vega90/F90 > 0, V_30 = −vega30/F30 < 0.
        // = |90 − 30| × min(V_90, |V_30|) × 0.0003 × 50,000.
        let v90 = TestSupport.b76(51500, 55000, 90 / 365.0, 0.55, call: true).vega / 51500
        let v30 = TestSupport.b76(50500, 50000, 30 / 365.0, 0.5, call: true).vega / 50500
        let expected = 60 * min(v90, v30) * 0.0003 * 50000
        let u = unit([Position(symbol: "C55-90", size: 1), Position(symbol: "C50-30", size: -1)])
        #expect(TestSupport.near(u.contingency.optionVegaContingency, expected, within: 1e-9))
        #expect(expected > 0)
        // One expiry only: no spread.
        #expect(unit([Position(symbol: "C50-30", size: -1)]).contingency.optionVegaContingency == 0)
    }

    @Test func stablecoinSpreadAndFuturesRisk() {
        // δ_USDT = +2, δ_USDC = −1.5: (3.5 − 0.5)/2 = 1.5 → 1.5 × 0.001 × 50,000 = 75.
        // E: (2 + 1.5) × 0.0003 × 50,000 = 52.5. Both perpetuals share the DTE-0 bucket: no D1.
        let u = unit([Position(symbol: "BTCUSDT", size: 2), Position(symbol: "BTCUSDC", size: -1.5)])
        #expect(TestSupport.near(u.contingency.usdtUsdcContingency, 75, within: 1e-9))
        #expect(TestSupport.near(u.contingency.futureContingency, 52.5, within: 1e-9))
        #expect(u.contingency.futureDeltaContingency == 0)
    }

    @Test func inverseDeltaIsContractsOverMark() {
        // −100,000 USD contracts at mark 50,000 = −2 BTC: E = 2 × 0.0003 × 50,000 = 30.
        // Against +2 BTCUSDT: δ_USD = −2, δ_USDT = +2 → (4 − 0)/2 × 0.001 × 50,000 = 100.
        let u = unit([Position(symbol: "BTCUSD", size: -100000), Position(symbol: "BTCUSDT", size: 2)])
        #expect(TestSupport.near(u.contingency.futureContingency, 60, within: 1e-9))
        #expect(TestSupport.near(u.contingency.usdtUsdcContingency, 100, within: 1e-9))
    }

    @Test func deltaSpreadMaturityMismatch() {
        // D_90 = +3, D_0 = −2: hedged 2, |90 − 0| × 2 × 50,000 × 0.0003 = 2,700.
        // C: USDC +3, USDT −2 → (5 − 1)/2 × 0.001 × 50,000 = 100. E: 5 × 0.0003 × 50,000 = 75.
        let u = unit([Position(symbol: "BTCUSDC-F90", size: 3), Position(symbol: "BTCUSDT", size: -2)])
        #expect(TestSupport.near(u.contingency.futureDeltaContingency, 2700, within: 1e-9))
        #expect(TestSupport.near(u.contingency.usdtUsdcContingency, 100, within: 1e-9))
        #expect(TestSupport.near(u.contingency.futureContingency, 75, within: 1e-9))
    }

    @Test func deltaSpreadBasisWithSpotHedge() {
        // Spot +2 BTC hedges a short 2 of a future marked 55,000 (basis 55,000/50,000 − 1 = 0.10).
        // D2 = |h| × index × 0.45 × (0.10 − 0.05) = 2 × 50,000 × 0.45 × 0.05 = 2,250.
        // D1: spot leg +2 at DTE 0 against −2 at DTE 90: 90 × 2 × 50,000 × 0.0003 = 2,700.
        let u = unit([Position(symbol: "BTCUSDC-F90X", size: -2)], balances: [Balance(coin: "BTC", walletBalance: 2)], hedging: true)
        #expect(u.hedgeSpotSize == 2)
        #expect(TestSupport.near(u.contingency.futureDeltaContingency, (2250 + 2700), within: 1e-9))
        // Basis 0.04 (mark 52,000) is under the 5% threshold: only D1 remains.
        let v = unit([Position(symbol: "BTCUSDC-F90", size: -2)], balances: [Balance(coin: "BTC", walletBalance: 2)], hedging: true)
        #expect(TestSupport.near(v.contingency.futureDeltaContingency, 2700, within: 1e-9))
    }

    /// The published check: 0.038 BTC × 70,500.56 × 0.0003 = 0.80370.
    @Test func futuresRiskMatchesThePublishedExample() throws {
        let market = try MarketSnapshot(time: TestSupport.t0, indexPrices: ["BTC": 70500.56, "USDT": 0.9999, "USDC": 1],
                                        instruments: [Instrument(symbol: "BTCUSDT", kind: .perpetual, baseCoin: "BTC", settleCoin: "USDT", markPrice: 70512.3)])
        let r = TestSupport.margin(Account(id: "X", positions: [Position(symbol: "BTCUSDT", size: 0.038)]), market: market)
        #expect(TestSupport.near(r.units[0].contingency.futureContingency, 0.8037063840, within: 1e-9))
    }
}
