import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The coverage backtest of docs/model.md §13 on hand-worked books: every expected figure is
/// derived here from the returns written into the history, not read from the code's output.
@Suite struct BacktestModelTests {
    let dir = try! TrustTempDir()

    /// Day number of 2024-01-01 + k.
    static func day(_ k: Int) -> Int { ISO8601.daysFromCivil(2024, 1, 1) + k }
    static func date(_ k: Int) -> String { History.dateText(day(k)) }

    /// A history folder with BTC closes (one per day from 2024-01-01) and optional BTC IVs.
    func history(btc: [Double], iv: [Double]? = nil, eth: [Double]? = nil, name: String = "h") throws -> History {
        let folder = dir.path(name)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var rows = "coin,close,date\n"   // any column order
        for (k, c) in btc.enumerated() { rows += "BTC,\(c),\(Self.date(k))\n" }
        for (k, c) in (eth ?? []).enumerated() { rows += "ETH,\(c),\(Self.date(k))\n" }
        dir.write(name + "/index-daily.csv", rows)
        if let iv {
            var t = "date,coin,iv\n"
            for (k, v) in iv.enumerated() { t += "\(Self.date(k)),BTC,\(v)\n" }
            dir.write(name + "/iv-daily.csv", t)
        }
        return try History.load(directory: folder)
    }

    func book(_ accounts: [Account], market: MarketSnapshot = TestSupport.smallMarket()) -> Book {
        Book(priced: PricedMarket(market: market, parameters: TestSupport.shippedParams), accounts: accounts)
    }

    func options(h: Int = 1, from: Int? = nil, to: Int? = nil) -> BacktestOptions {
        var o = BacktestOptions()
        o.horizon = h
        o.from = from.map(Self.day)
        o.to = to.map(Self.day)
        return o
    }

    @Test func aPerpetualLosesMarkTimesTheReturn() throws {
        // Closes 100 → 80 → 88 → 88: returns −20%, +10%, 0 (h = 1). A long 1 BTCUSDT at mark 50,000
        // loses 10,000, −5,000 and 0.
        let h = try history(btc: [100, 80, 88, 88])
        let b = book([Account(id: "A", balances: [Balance(coin: "USDT", walletBalance: 20000)],
                              positions: [Position(symbol: "BTCUSDT", size: 1)])])
        let r = try Backtest.run(b, history: h, options: options())
        let mm = MarginEngine.run(b).totalMM[0]
        #expect(r.scenarioCount == 3)
        #expect(r.error[0] == nil)
        let loss0 = -50000 * (80.0 / 100 - 1)   // 10,000 up to the return's rounding
        #expect(r.worstLoss[0] == loss0)
        #expect(TestSupport.close(loss0, 10000, 1e-12))
        #expect(r.worstScenario[0] == 0)
        // MM = 10% of 50,000 + 0.0003 · 50,000 (futures contingency) = 5,015: only the −20% day breaches.
        #expect(TestSupport.close(mm, 5015))
        #expect(r.breachesMM[0] == 1)
        #expect(r.worstShortfall(0) == loss0 - mm)
        #expect(r.totals.breachedMM == [1, 0, 0])
        #expect(TestSupport.close(Backtest.usd(r.totals.bookLoss[0]), loss0, 1e-15))
        #expect(TestSupport.close(Backtest.usd(r.totals.bookLoss[1]), -50000 * (88.0 / 80 - 1), 1e-15))
        #expect(TestSupport.close(Backtest.usd(r.totals.shortfall[0]), loss0 - mm, 1e-14))
        // Kupiec: x = 1 of S = 3 at p = 0.01.
        let lr = -2 * (2 * log(0.99) + log(0.01)) + 2 * (2 * log(2.0 / 3) + log(1.0 / 3))
        #expect(TestSupport.close(r.kupiecP[0], erfc(sqrt(lr / 2)), 1e-12))
        // Christoffersen: 1, 0, 0 → n10 = 1, n00 = 1, no breach after a breach or a non-breach: LR = 0.
        #expect(r.christoffersenP[0] == 1)
        #expect(r.unitStart[1] == 1 && r.unitWorstLoss[0] == loss0 && r.unitBreaches[0] == 1)
    }

    @Test func anInversePerpetualLosesTheReturnPerContract() throws {
        let h = try history(btc: [100, 90, 90])
        let b = book([Account(id: "A", balances: [Balance(coin: "BTC", walletBalance: 1)],
                              positions: [Position(symbol: "BTCUSD", size: 1000)])])
        let r = try Backtest.run(b, history: h, options: options())
        // 1,000 USD contracts: r per contract → a −10% move loses 100 USD.
        #expect(TestSupport.close(r.worstLoss[0], 1000 * 0.1, 1e-12))
    }

    @Test func anOptionExpiringWithinTheHorizonSettlesAtIntrinsic() throws {
        // A call 50,000 with half a day left, forward 50,500; h = 1 day > half a day: intrinsic at
        // F' = 50,500 · (1 + r). Closes 100 → 102: F' = 51,510, value 1,510.
        let opt = TestSupport.option("C-HALF", call: true, strike: 50000, days: 0.5, forward: 50500, iv: 0.5)
        let m = TestSupport.smallMarket(extra: [opt])
        let h = try history(btc: [100, 102, 98])
        let b = book([Account(id: "A", balances: [Balance(coin: "USDC", walletBalance: 10000)],
                              positions: [Position(symbol: "C-HALF", size: -2)])], market: m)
        let r = try Backtest.run(b, history: h, options: options())
        let f1 = 50500 * (1 + (102.0 / 100 - 1)), f2 = 50500 * (1 + (98.0 / 102 - 1))
        let loss1 = 2 * (max(0, f1 - 50000) - opt.markPrice)   // short 2: loses the value's rise
        let loss2 = 2 * (max(0, f2 - 50000) - opt.markPrice)
        #expect(TestSupport.close(r.worstLoss[0], max(loss1, loss2), 1e-12))
        #expect(r.worstScenario[0] == (loss1 >= loss2 ? 0 : 1))
        #expect(TestSupport.close(Backtest.usd(r.totals.bookLoss[1]), loss2, 1e-9))
    }

    @Test func anOptionAliveAfterTheHorizonIsRepricedWithTheIvRatio() throws {
        // A 30-day put, h = 5: T' = 25/365, σ' = σ · iv(d+5)/iv(d); with no IV history σ' = σ.
        let opt = TestSupport.option("P-30", call: false, strike: 50000, days: 30, forward: 50500, iv: 0.5)
        let m = TestSupport.smallMarket(extra: [opt])
        let closes: [Double] = [100, 101, 99, 97, 98, 95, 96]
        let ivs: [Double] = [0.50, 0.52, 0.55, 0.60, 0.58, 0.65, 0.70]
        let acct = Account(id: "A", balances: [Balance(coin: "USDC", walletBalance: 10000)], positions: [Position(symbol: "P-30", size: -1)])
        for withIv in [false, true] {
            let h = try history(btc: closes, iv: withIv ? ivs : nil, name: withIv ? "iv" : "noiv")
            let r = try Backtest.run(book([acct], market: m), history: h, options: options(h: 5))
            #expect(r.scenarioCount == 2)   // d = day 0 and 1 (d + 5 ≤ day 6)
            var expected: [Double] = []
            for d in 0..<2 {
                let ret = closes[d + 5] / closes[d] - 1
                let sigma = withIv ? max(0.5 * (ivs[d + 5] / ivs[d]), TestSupport.shippedParams.coins["BTC"]!.minShockedIv) : 0.5
                let value = TestSupport.b76(50500 * (1 + ret), 50000, 25.0 / 365, sigma, call: false).price
                expected.append(value - opt.markPrice)   // short 1: loss = value rise
            }
            let worst = expected.max()!
            #expect(TestSupport.close(r.worstLoss[0], worst, 1e-9), "iv \(withIv): \(r.worstLoss[0]) vs \(worst)")
            #expect(TestSupport.close(Backtest.usd(r.totals.bookLoss[0]), expected[0], 1e-9))
            #expect(TestSupport.close(Backtest.usd(r.totals.bookLoss[1]), expected[1], 1e-9))
        }
    }

    @Test func aSpotHedgeLegOffsetsTheShortPerpetual() throws {
        // Spot hedging on, 1 BTC held against a short 1 BTCUSDT: h = 1, the unit's P&L is
        // −50,000·r + 50,000·r = 0 in every scenario.
        let h = try history(btc: [100, 80, 120, 60])
        let b = book([Account(id: "A", spotHedging: true, balances: [Balance(coin: "BTC", walletBalance: 1)],
                              positions: [Position(symbol: "BTCUSDT", size: -1)])])
        let r = try Backtest.run(b, history: h, options: options())
        #expect(r.worstLoss[0] == 0)
        #expect(r.breachesMM[0] == 0)
        #expect(r.totals.bookLoss == [0, 0, 0])
    }

    @Test func aLiabilityLegCountsOnlyItsGains() throws {
        // A −1 BTC liability hedging a long 1 BTCUSDT: h = −1; the leg adds max(0, −50,000·r).
        // r = −20%: perp −10,000, leg +10,000 → 0. r = +50%: perp +25,000, leg 0 → loss −25,000.
        // r = −50%: perp −25,000, leg +25,000 → 0.
        let h = try history(btc: [100, 80, 120, 60])
        let b = book([Account(id: "A", spotHedging: true,
                              balances: [Balance(coin: "BTC", walletBalance: -1), Balance(coin: "USDT", walletBalance: 100000)],
                              positions: [Position(symbol: "BTCUSDT", size: 1)])])
        let r = try Backtest.run(b, history: h, options: options())
        #expect(Backtest.usd(r.totals.bookLoss[0]) == 0)
        #expect(Backtest.usd(r.totals.bookLoss[1]) == -25000)
        #expect(Backtest.usd(r.totals.bookLoss[2]) == 0)
        #expect(r.worstLoss[0] == 0 && r.worstScenario[0] == 0)
    }

    @Test func unitsOffsetInTheAccountLossButNotInTheirOwnBreaches() throws {
        // Long 1 BTCUSDT, short 25 ETHUSDT (2,000): BTC and ETH both −20% → BTC unit loses 10,000,
        // ETH unit gains 10,000; the account loses 0.
        let h = try history(btc: [100, 80], eth: [10, 8])
        let b = book([Account(id: "A", balances: [Balance(coin: "USDT", walletBalance: 100000)],
                              positions: [Position(symbol: "BTCUSDT", size: 1), Position(symbol: "ETHUSDT", size: -25)])])
        let r = try Backtest.run(b, history: h, options: options())
        #expect(r.scenarioCount == 1)
        #expect(abs(r.worstLoss[0]) < 1e-9)
        #expect(r.breachesMM[0] == 0)
        #expect(r.unitStart[1] == 2)
        #expect(TestSupport.close(r.unitWorstLoss[0], 10000, 1e-12) && r.unitBreaches[0] == 1)   // BTC unit (alphabetical first)
        #expect(TestSupport.close(r.unitWorstLoss[1], -10000, 1e-12) && r.unitBreaches[1] == 0)
    }

    @Test func windowEdgesAreInclusiveAndTheHorizonMayEndAfterTo() throws {
        let closes = (0..<10).map { 100 + Double($0) }
        let h = try history(btc: closes)
        let b = book([Account(id: "A", balances: [Balance(coin: "USDT", walletBalance: 1e6)], positions: [Position(symbol: "BTCUSDT", size: 1)])])
        let one = try Backtest.run(b, history: h, options: options(h: 1, from: 3, to: 8))
        #expect(one.scenarioCount == 6)   // days 3…8, each with day + 1 ≤ 9
        let s = try BacktestScenarios(history: h, coins: ["BTC"], options: options(h: 5, from: 3, to: 8))
        #expect(s.days == [3, 4].map(Self.day))   // d + 5 ≤ day 9; day 4 + 5 = 9 lies after `to`: allowed
        #expect(s.returns == [closes[8] / closes[3] - 1, closes[9] / closes[4] - 1])
        let all = try BacktestScenarios(history: h, coins: ["BTC"], options: options(h: 1))
        #expect(all.count == 9 && all.from == Self.day(0) && all.to == Self.day(8))
    }

    @Test func aBookCoinMissingFromTheHistoryAndAnEmptyWindowAreErrors() throws {
        let h = try history(btc: [100, 101, 102])
        #expect(throws: InputError.self) { _ = try BacktestScenarios(history: h, coins: ["ETH"], options: options()) }
        do { _ = try BacktestScenarios(history: h, coins: ["ETH"], options: options()) } catch {
            #expect("\(error)".contains("ETH"))
        }
        do { _ = try BacktestScenarios(history: h, coins: ["BTC"], options: options(h: 5)); Issue.record("no error") } catch {
            #expect("\(error)".contains("window") && "\(error)".contains(Self.date(0)))
        }
    }

    @Test func errorAccountsAreListedNotBacktested() throws {
        let h = try history(btc: [100, 90, 95])
        let b = book([Account(id: "BAD", positions: [Position(symbol: "NOPE", size: 1)]),
                      Account(id: "OK", balances: [Balance(coin: "USDT", walletBalance: 1000)], positions: [Position(symbol: "BTCUSDT", size: 0.01)])])
        let r = try Backtest.run(b, history: h, options: options())
        #expect(r.error[0] != nil && r.error[0]!.contains("NOPE"))
        #expect(r.error[1] == nil && r.totals.errors == 1 && r.totals.backtested == 1)
        #expect(TestSupport.close(r.worstLoss[1], 0.01 * 50000 * 0.1, 1e-12))   // 0.01 BTC, −10%
    }

    @Test func onlyDatesOfTheHistoryAreScenariosEvenForABookWithoutCoins() throws {
        let f = dir.path("emptyh")
        try FileManager.default.createDirectory(atPath: f, withIntermediateDirectories: true)
        dir.write("emptyh/index-daily.csv", "date,coin,close\n")
        let empty = try History.load(directory: f)
        do { _ = try BacktestScenarios(history: empty, coins: [], options: options()); Issue.record("accepted") } catch {
            #expect("\(error)".contains("window"))
        }
        // Closes on days 0, 1, 2 (h = 1: days 0 and 1 usable), a window far wider: still 2 scenarios.
        let h = try history(btc: [1, 2, 3], name: "three")
        let s = try BacktestScenarios(history: h, coins: [], options: options(from: -100, to: 100))
        #expect(s.days == [0, 1].map(Self.day))
        #expect(s.from == Self.day(-100) && s.to == Self.day(100))
    }
}
