import Testing
import Foundation
@testable import PortfolioMargin
@testable import PMTestSupport

/// The scenario grid of docs/model.md §2.
struct ScenarioGridTests {
    let btc = TestSupport.shippedParams.parameters(for: "BTC")

    @Test func elevenMovesFromMinusTenToPlusTen() {
        let moves = ScenarioGrid(priceRange: btc.priceRange, pricePoints: btc.pricePoints).priceMoves
        #expect(moves.count == 11)
        let expected = [-0.10, -0.08, -0.06, -0.04, -0.02, 0, 0.02, 0.04, 0.06, 0.08, 0.10]
        for (m, e) in zip(moves, expected) { #expect(TestSupport.near(m, e, within: 1e-15)) }
        #expect(moves[5] == 0)
    }

    @Test func shockedVolsOfA30DayOption() {
        // scale = (30/30)^0.3 = 1: up ×1.24, down ×0.80.
        let v = ScenarioGrid.shockedVols(sigma: 0.5, dte: 30, btc)
        #expect(TestSupport.near(v.up, 0.62, within: 1e-15))
        #expect(v.unchanged == 0.5)
        #expect(TestSupport.near(v.down, 0.40, within: 1e-15))
    }

    @Test func shockedVolsOfA186DayOptionMatchTheOfficialExample() {
        // The published example: a "186-day" option shocked by ×1.13878 and ×0.88437; both factors
        // imply DTE ≈ 186.24 (0.13878/0.24 = 0.11563/0.20 = (30/DTE)^0.3), i.e. 186 days and ~6 hours.
        let v = ScenarioGrid.shockedVols(sigma: 1, dte: 186.24, btc)
        #expect(TestSupport.near(v.up, 1.13878, within: 5e-6))
        #expect(TestSupport.near(v.down, 0.88437, within: 2.5e-5))  // the published factors are rounded to 5 digits
        // And exactly: scale = (30/186.24)^0.3.
        let scale = pow(30.0 / 186.24, 0.3)
        #expect(TestSupport.near(v.up, (1 + 0.24 * scale), within: 1e-15))
    }

    @Test func minDTEFloorAndMinShockedIv() {
        // Half a day uses minDTE = 1: scale = 30^0.3.
        let v = ScenarioGrid.shockedVols(sigma: 0.02, dte: 0.5, btc)
        #expect(TestSupport.near(v.up, 0.02 * (1 + 0.24 * pow(30.0, 0.3)), within: 1e-15))
        // 1 − 0.2·30^0.3 < 0: the down vol is floored at minShockedIv.
        #expect(v.down == btc.minShockedIv)
    }

    /// An option 900 s from expiry under a 15% range moves ±7.5%; a perpetual in the same unit keeps ±15%.
    @Test func nearExpiryDecayHalvesTheOptionMoveAt900Seconds() throws {
        var params = TestSupport.shippedParams
        params.coins["BTC"]!.priceRange = 0.15
        let t = TestSupport.t0
        let opt = TestSupport.option("C-900S", call: true, strike: 50000, days: 900 / TestSupport.day, forward: 50000, iv: 0.5)
        let market = TestSupport.smallMarket(extra: [opt])
        let priced = PricedMarket(market: market, parameters: params)
        let oi = market.indexOf("C-900S")!
        let risk = priced.riskArray(of: oi)
        let T = 900 / (365 * 86400.0)
        let vols = ScenarioGrid.shockedVols(sigma: 0.5, dte: 900 / 86400, params.parameters(for: "BTC"))
        // k = 0 (−15%) → −7.5%; k = 10 (+15%) → +7.5%, each with the up, unchanged, down vols.
        for (k, move) in [(0, -0.075), (10, 0.075)] {
            for (j, vol) in [vols.up, vols.unchanged, vols.down].enumerated() {
                let expected = TestSupport.b76(50000 * (1 + move), 50000, T, vol, call: true).price - opt.markPrice
                #expect(TestSupport.near(risk[k * 3 + j], expected, within: 1e-8), "k \(k) j \(j)")
            }
        }
        let perp = priced.riskArray(of: market.indexOf("BTCUSDT")!)
        #expect(TestSupport.near(perp[0], 50000 * -0.15, within: 1e-9))
        #expect(TestSupport.near(perp[30], 50000 * 0.15, within: 1e-9))
        _ = t
    }

    @Test func decayIsLinearInSecondsToExpiry() {
        #expect(ScenarioGrid.moveScale(secondsToExpiry: 900, btc) == 0.5)
        #expect(ScenarioGrid.moveScale(secondsToExpiry: 1800, btc) == 1)
        #expect(ScenarioGrid.moveScale(secondsToExpiry: 86400, btc) == 1)
    }

    @Test func inverseAndLinearRiskArrays() {
        let market = TestSupport.smallMarket(index: ["USDT": 0.9998])
        let priced = PricedMarket(market: market, parameters: TestSupport.shippedParams)
        // Linear USDT: mark · s · USDT index.
        let lin = priced.riskArray(of: market.indexOf("BTCUSDT")!)
        #expect(TestSupport.near(lin[0], 50000 * -0.1 * 0.9998, within: 1e-9))
        // Inverse: s per USD contract, in USD.
        let inv = priced.riskArray(of: market.indexOf("BTCUSD")!)
        #expect(TestSupport.near(inv[0], -0.1, within: 1e-15) && TestSupport.near(inv[32], 0.1, within: 1e-15))
    }
}

/// Max loss (docs/model.md §4): the SIMD reduction against a plain scan, ties included.
struct MaxLossTests {
    func plain(_ v: [Double]) -> (Double, Int) {
        var best = v[0], at = 0
        for (k, x) in v.enumerated() where x < best { best = x; at = k }
        return (max(0, -best), at)
    }

    @Test func simdReductionFindsTheFirstMinimum() {
        var rng = SplitMix(seed: 17)
        for count in [3, 4, 5, 7, 8, 9, 21, 33, 45] {
            for _ in 0..<300 {
                // Few distinct values, so ties are common.
                let v = (0..<count).map { _ in Double(Int(rng.next() % 5)) - 2 }
                let got = v.withUnsafeBufferPointer { MaxLoss.worst($0.baseAddress!, count: count) }
                let want = plain(v)
                #expect(got.maxLoss == want.0 && got.scenario == want.1, "\(v)")
            }
        }
        // All gains: the loss is 0 and the first scenario is still reported.
        let gains = [3.0, 1, 2, 1]
        let r = gains.withUnsafeBufferPointer { MaxLoss.worst($0.baseAddress!, count: 4) }
        #expect(r.maxLoss == 0 && r.scenario == 1)
    }
}
