import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Margin attribution (docs/model.md §12, docs/formats.md "Margin attribution"): each holding's
/// `maxLossContribution` and the spot leg's, summing to the unit's `maxLoss`.
struct AttributionTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)

    static func sum(_ u: UnitResult) -> Double {
        u.positions.reduce(u.spotHedgeMaxLossContribution) { $0 + $1.maxLossContribution }
    }

    /// On random accounts (options, perpetuals, futures, spot hedging), per unit: the contributions
    /// are minus each holding's P&L at the worst scenario and sum to `maxLoss` when it is positive.
    @Test func contributionsSumToMaxLossOnRandomAccounts() throws {
        var rng = SplitMix(seed: 12)
        let symbols = priced.market.instruments.filter { ["BTC", "ETH"].contains($0.baseCoin) && $0.settleCoin != $0.baseCoin }.map(\.symbol)
        var positive = 0, hedged = 0
        for n in 0..<200 {
            var positions: [Position] = []
            for _ in 0..<Int(rng.next() % 6 + 1) {
                let sym = symbols[Int(rng.next() % UInt64(symbols.count))]
                let size = (Double(rng.next() % 2001) / 100 - 10)
                if size != 0, !positions.contains(where: { $0.symbol == sym }) { positions.append(Position(symbol: sym, size: size)) }
            }
            let account = Account(id: "r\(n)", spotHedging: n % 2 == 0,
                                  balances: [Balance(coin: "USDC", walletBalance: 1e6), Balance(coin: "BTC", walletBalance: Double(rng.next() % 5))],
                                  positions: positions)
            let r = try MarginEngine.margin(account, priced: priced).get()
            for u in r.units {
                let worst = u.priceMoves.firstIndex(of: u.maxLossPriceMove)! * 3 + u.maxLossIvShock.rawValue
                for p in u.positions { #expect(p.maxLossContribution == -p.scenarioPnl[worst]) }
                #expect(u.spotHedgeMaxLossContribution == -u.spotHedgePnl[worst / 3])
                if u.hedgeSpotSize != 0 { hedged += 1 }
                if u.maxLoss > 0 {
                    positive += 1
                    #expect(TestSupport.near(Self.sum(u), u.maxLoss, within: 1e-9 * max(1, u.maxLoss)), "\(account.id) \(u.baseCoin): \(Self.sum(u)) vs \(u.maxLoss)")
                }
                // The table lists holdings by contribution, largest first.
                let c = u.attribution.map(\.contribution)
                #expect(c == c.sorted(by: >))
            }
        }
        #expect(positive > 100 && hedged > 10, "positive \(positive), hedged \(hedged)")
    }

    /// Long one perpetual and short the same exposure in another: their contributions cancel, and
    /// the short put alone carries the max loss.
    @Test func hedgePairCancels() throws {
        let account = Account(id: "pair", balances: [Balance(coin: "USDT", walletBalance: 1e6), Balance(coin: "USDC", walletBalance: 1e6)],
                              positions: [Position(symbol: "BTCUSDT", size: 2, entryPrice: 50000),
                                          Position(symbol: "BTCUSDC", size: -2, entryPrice: 50000),
                                          Position(symbol: "P50-30", size: -3)])
        let r = TestSupport.margin(account)
        let u = try #require(r.units.first { $0.baseCoin == "BTC" })
        let c = Dictionary(uniqueKeysWithValues: u.positions.map { ($0.symbol, $0.maxLossContribution) })
        #expect(u.maxLoss > 0)
        #expect(c["BTCUSDT"]! != 0 && abs(c["BTCUSDT"]! + c["BTCUSDC"]!) < 1e-9)
        #expect(TestSupport.near(c["P50-30"]!, u.maxLoss, within: 1e-9 * u.maxLoss))
        #expect(u.attribution.first?.symbol == "P50-30")
        // JSON and table carry them.
        let text = r.json.render()
        #expect(text.contains("\"maxLossContribution\"") && text.contains("\"spotHedgeMaxLossContribution\""))
        #expect(u.table().contains("Positions by contribution to max loss"))
    }

    /// A short call alone loses most in the up moves; adding a larger short put moves the worst
    /// scenario to a down move, and the call's contribution follows the new worst scenario.
    @Test func worstScenarioChangesWhenAPositionIsAdded() throws {
        let call = Position(symbol: "C50-30", size: -1)
        let balances = [Balance(coin: "USDC", walletBalance: 1e6)]
        let before = TestSupport.margin(Account(id: "a", balances: balances, positions: [call]))
        let after = TestSupport.margin(Account(id: "a", balances: balances, positions: [call, Position(symbol: "P50-30", size: -4)]))
        let ub = before.units[0], ua = after.units[0]
        #expect(ub.maxLossPriceMove > 0 && ua.maxLossPriceMove < 0)
        let callBefore = ub.positions.first { $0.symbol == "C50-30" }!.maxLossContribution
        let callAfter = ua.positions.first { $0.symbol == "C50-30" }!.maxLossContribution
        #expect(TestSupport.near(callBefore, ub.maxLoss, within: 1e-9 * ub.maxLoss))
        #expect(callAfter < 0)   // at a down move the short call gains
        #expect(TestSupport.near(Self.sum(ua), ua.maxLoss, within: 1e-9 * ua.maxLoss))
        // The what-if table shows both, per holding.
        let table = WhatIf.table(before: before, after: after)
        #expect(table.contains("contribution to max loss") && table.contains("P50-30"))
    }
}

