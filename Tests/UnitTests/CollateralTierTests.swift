import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// docs/model.md §8 margin balance with tiered collateral ratios (`collateralValueRatio` as a list).
struct CollateralTierTests {
    /// The shipped parameter file with BTC's `collateralValueRatio` replaced by `ratio` (JSON text).
    func params(btc ratio: String, defaultRatio: String? = nil) throws -> ParameterSet {
        var doc = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: TestSupport.path("data/params/pm-params.json")))))
        func set(_ coin: String, _ text: String) throws {
            let value = try JSON.parse(text)
            guard case let .object(top) = doc else { return }
            doc = .object(top.map { k, v in
                guard k == "coins", case let .object(coins) = v else { return (k, v) }
                return (k, .object(coins.map { c, entry in
                    guard c == coin, case let .object(m) = entry else { return (c, entry) }
                    return (c, .object(m.map { $0.0 == "collateralValueRatio" ? ($0.0, value) : $0 }))
                }))
            })
        }
        try set("BTC", ratio)
        if let d = defaultRatio { try set("default", d) }
        return try ParameterSet.parse(doc)
    }

    static let tiers = #"[{"upTo": 1, "ratio": 0.95}, {"upTo": 5, "ratio": 0.9}, {"upTo": null, "ratio": 0.5}]"#

    @Test func tiersApplyToThePartOfTheBalanceInsideThem() throws {
        let p = try params(btc: Self.tiers)
        #expect(p.parameters(for: "BTC").collateralTiers == [CollateralTier(upTo: 1, ratio: 0.95), CollateralTier(upTo: 5, ratio: 0.9),
                                                               CollateralTier(upTo: .infinity, ratio: 0.5)])
        // By hand: 7 BTC = 1 × 0.95 + 4 × 0.90 + 2 × 0.50 = 5.55 BTC of collateral; at 50,000 USD: 277,500.
        // 0.5 BTC sits in the first tier: 0.475 BTC. A liability counts at full value, tiers or not.
        let market = TestSupport.smallMarket()
        func balance(_ rows: [Balance]) -> Double {
            TestSupport.margin(Account(id: "T", balances: rows, positions: [Position(symbol: "BTCUSDT", size: 0.1, entryPrice: 50000)]),
                               market: market, params: p).marginBalance
        }
        #expect(TestSupport.close(balance([Balance(coin: "BTC", walletBalance: 7)]), 277_500))
        #expect(TestSupport.close(balance([Balance(coin: "BTC", walletBalance: 0.5)]), 23_750))
        #expect(TestSupport.close(balance([Balance(coin: "BTC", walletBalance: 5)]), (0.95 + 3.6) * 50_000))
        #expect(TestSupport.close(balance([Balance(coin: "BTC", walletBalance: -2), Balance(coin: "USDC", walletBalance: 1000)]), -100_000 + 1000))
        // Without tiers, the shipped single ratio (0.95) on the whole balance.
        #expect(TestSupport.close(TestSupport.margin(Account(id: "S", balances: [Balance(coin: "BTC", walletBalance: 7)],
                                                             positions: [Position(symbol: "BTCUSDT", size: 0.1, entryPrice: 50000)]),
                                                     market: market).marginBalance, 7 * 0.95 * 50_000))
    }

    @Test func aClosedLastTierAndInheritance() throws {
        // A last tier with a bound: the part above it counts 0.
        let closed = try params(btc: #"[{"upTo": 2, "ratio": 1}, {"upTo": 3, "ratio": 0.5}]"#)
        #expect(CollateralTier.value(of: 10, closed.parameters(for: "BTC").collateralTiers!) == 2.5)
        // Tiers in `default` reach coins without their own ratio; a coin's single number clears them.
        let inherited = try params(btc: "0.8", defaultRatio: Self.tiers)
        #expect(inherited.parameters(for: "SOL").collateralTiers?.count == 3)
        #expect(inherited.parameters(for: "BTC").collateralTiers == nil && inherited.parameters(for: "BTC").collateralValueRatio == 0.8)
        // A sweep that sets the ratio sets one ratio.
        var c = try params(btc: Self.tiers).parameters(for: "BTC")
        c[numeric: "collateralValueRatio"] = 0.7
        #expect(c.collateralTiers == nil && c.collateralValueRatio == 0.7)
        // The shipped file keeps single ratios.
        #expect(TestSupport.shippedParams.coins.values.allSatisfy { $0.collateralTiers == nil })
    }

    @Test func badTiersAreErrorsNamingTheField() {
        func problem(_ text: String) -> String {
            do { _ = try params(btc: text); return "no error" } catch { return "\(error)" }
        }
        #expect(problem(#"[{"upTo": 5, "ratio": 0.9}, {"upTo": 1, "ratio": 0.5}]"#).contains("coins.BTC: collateralValueRatio[1].upTo: must be greater"))
        #expect(problem(#"[{"ratio": 0.9}, {"ratio": 0.5}]"#).contains("collateralValueRatio[0].upTo: missing"))
        #expect(problem(#"[{"upTo": 1, "ratio": 1.5}]"#).contains("collateralValueRatio[0].ratio: must be in [0, 1]"))
        #expect(problem(#"[{"upTo": 1, "ratio": "x"}]"#).contains("collateralValueRatio[0].ratio: expected a number"))
        #expect(problem(#"[{"upTo": 1, "rate": 0.5}]"#).contains("collateralValueRatio[0].rate: unknown key"))
        #expect(problem("[]").contains("collateralValueRatio: expected a number or a non-empty list"))
    }
}
