import Foundation
import Testing
@testable import PortfolioMargin
@testable import pm

/// Pre-trade checks, sweeps and liquidation plans (issue: what-if tools).
struct WhatIfTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)

    func example(_ name: String) throws -> Account {
        try Account.load(path: TestSupport.path("data/examples/\(name).json")).accounts[0].get()
    }

    /// "After" equals `pm margin` on the account with the trades added, for positions and orders.
    @Test func afterEqualsMarginOfTheAccountWithTheTrades() throws {
        let account = try example("short-strangle")
        let trades = [Trade(symbol: "BTC-25DEC26-96000-C-USDC", size: -2), Trade(symbol: "BTCUSDT", size: 0.5, price: 95000),
                      Trade(symbol: "ETH-26MAR27-3000-P-USDC", size: 3, price: 150)]
        for asOrders in [false, true] {
            let (before, after) = try WhatIf.run(account, trades: trades, asOrders: asOrders, priced: priced).get()
            let direct = try MarginEngine.margin(WhatIf.apply(trades, to: account, market: priced.market, asOrders: asOrders), priced: priced).get()
            #expect(sameJSON(after.json, direct.json).isEmpty)
            #expect(sameJSON(before.json, try MarginEngine.margin(account, priced: priced).get().json).isEmpty)
            #expect(after.units.map(\.baseCoin) == ["BTC", "ETH"])
            if asOrders { #expect(after.orderLoss < 0) }   // buying BTCUSDT at 95,000, above its mark
        }
    }

    /// An option bought at mark moves its premium out of the settle coin's balance: the margin
    /// balance is unchanged (USDC counts at ratio 1) and no liability appears.
    @Test func optionPremiumMovesTheSettleBalance() throws {
        let account = try example("short-strangle")
        let t = Trade(symbol: "BTC-25DEC26-96000-C-USDC", size: 1)
        let after = WhatIf.apply([t], to: account, market: priced.market, asOrders: false)
        #expect(after.balances.count == account.balances.count)
        let (b, a) = try WhatIf.run(account, trades: [t], asOrders: false, priced: priced).get()
        #expect(abs(a.marginBalance - b.marginBalance) < 1e-6)
    }

    /// An unlisted strike and expiry take vol and forward from the smile and margin like a listed one.
    @Test func unlistedOptionIsPricedFromTheSmile() throws {
        let account = try example("short-strangle")
        let symbol = "BTC-30APR27-123000-C-USDC"
        #expect(priced.market.instrument(symbol) == nil)
        let extended = try WhatIf.pricedMarket(priced, listing: [symbol])
        let inst = try #require(extended.market.instrument(symbol))
        #expect(inst.markIv! > 0.2 && inst.markIv! < 1.5)
        let (_, after) = try WhatIf.run(account, trades: [Trade(symbol: symbol, size: -1)], asOrders: false, priced: extended).get()
        #expect(after.units[0].positions.contains { $0.symbol == symbol })
        // A listed symbol leaves the market as it is.
        #expect(try WhatIf.pricedMarket(priced, listing: ["BTCUSDT"]) === priced)
    }

    @Test func tradeParsing() throws {
        #expect(try Trade(parsing: "BTCUSDT:0.5") == Trade(symbol: "BTCUSDT", size: 0.5))
        #expect(try Trade(parsing: "BTC-25DEC26-95000-C-USDC:-2@1450") == Trade(symbol: "BTC-25DEC26-95000-C-USDC", size: -2, price: 1450))
        for bad in ["BTCUSDT", "BTCUSDT:x", "BTCUSDT:0", "BTCUSDT:1@-3", ":1"] {
            #expect(throws: InputError.self) { try Trade(parsing: bad) }
        }
    }

    @Test func whatifCommand() throws {
        let out = try CLI.run(["whatif", "data/examples/short-strangle.json", "--market", "data/sample/market.json",
                               "--add", "BTC-25DEC26-95000-C-USDC:-2", "--add", "BTCUSDT:0.1"])
        #expect(out.status == 0, "\(out.stderr)")
        let doc = try JSON.parse(out.stdout)
        #expect(doc["before"]?["totalMM"] != nil && doc["after"]?["totalMM"] != nil)
        let table = try CLI.run(["whatif", "data/examples/short-strangle.json", "--market", "data/sample/market.json",
                                 "--add", "BTCUSDT:0.1", "--as-orders", "--format", "table"])
        #expect(table.status == 0 && table.stdout.contains("before") && table.stdout.contains("Unit BTC"))
        let bad = try CLI.run(["whatif", "data/examples/short-strangle.json", "--market", "data/sample/market.json", "--add", "BTC-4DEC26-1-C-USDC:1"])
        #expect(bad.status == 0 || bad.status == 1)   // a far strike either prices or refuses; never crashes
        let thin = try CLI.run(["whatif", "data/examples/short-strangle.json", "--market", "data/sample/market.json", "--add", "BTC-25JUN26-90000-C-USDC:1"])
        #expect(thin.status == 1 && thin.stdout.isEmpty && thin.stderr.contains("BTC-25JUN26-90000-C-USDC"))
    }
}

struct SweepTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)

    /// A sweep combination equals a batch run with those parameters and that shocked snapshot.
    @Test func aCombinationEqualsABatchRunWithItsParametersAndMarket() throws {
        let dir = BatchFiles.tempDir("sweep")
        try BatchFiles.write(RandomAccounts.make(200, seed: 21), to: dir)
        let input = try BatchInput.load(directory: dir, priced: priced)
        let settings = [try SweepSetting.parseSet("BTC.priceRange=0.15"), try SweepSetting.parseShock("BTC=-0.2,0.1"),
                        try SweepSetting.parseIvScale("1.5")]
        let results = try Sweep.run(input, base: priced, settings: settings, top: 5)
        #expect(results.count == 3)
        #expect(results[0].values == [0.1, 0, 1])
        #expect(results[1].values == [0.15, -0.2, 1.5])

        // Combination 1 by hand: parameters edited, market shocked, then a plain batch.
        var params = TestSupport.shippedParams
        params.coins["BTC"]!.priceRange = 0.15
        let market = try Sweep.shocked(TestSupport.sampleMarket, moves: ["BTC": -0.2], ivScale: 1.5)
        #expect(abs(market.indexPrices["BTC"]! - TestSupport.sampleMarket.indexPrices["BTC"]! * 0.8) < 1e-6)
        let byHand = PricedMarket(market: market, parameters: params)
        let rerun = try BatchInput.load(directory: dir, priced: byHand)
        let figures = BatchRunner.accountFigures(rerun, priced: byHand)
        let total = zip(figures.mm, figures.stage).filter { $1 != nil }.reduce(0) { $0 + $1.0 }
        #expect(TestSupport.close(results[1].totalMM, total))
        let liquidations = figures.stage.filter { $0 == .liquidation }.count
        #expect(results[1].stages[3] == liquidations)

        // The top list holds the largest increases, largest first.
        let base = BatchRunner.accountFigures(input, priced: priced)
        let changes = (0..<input.accountCount).map { figures.mm[$0] - base.mm[$0] }.sorted(by: >)
        #expect(results[1].top.count == 5)
        for (k, t) in results[1].top.enumerated() { #expect(TestSupport.close(t.mm - t.mmBase, changes[k])) }

        // The base combination equals a plain batch.
        #expect(TestSupport.close(results[0].totalMM, zip(base.mm, base.stage).filter { $1 != nil }.reduce(0) { $0 + $1.0 }))
    }

    @Test func shockMovesIndexMarksAndForwards() throws {
        let m = TestSupport.sampleMarket
        let s = try Sweep.shocked(m, moves: ["ETH": 0.1], ivScale: 1.2)
        let perp = m.instrument("ETHUSDT")!, perp2 = s.instrument("ETHUSDT")!
        #expect(abs(perp2.markPrice / perp.markPrice - 1.1) < 1e-12)
        let opt = m.instruments.first { $0.baseCoin == "ETH" && $0.kind == .option }!
        let opt2 = s.instrument(opt.symbol)!
        #expect(abs(opt2.underlyingPrice! / opt.underlyingPrice! - 1.1) < 1e-12)
        #expect(abs(opt2.markIv! / opt.markIv! - 1.2) < 1e-12)
        #expect(s.instrument("BTCUSDT")!.markPrice == m.instrument("BTCUSDT")!.markPrice)
    }

    @Test func sweepCommandWritesBothFiles() throws {
        let dir = BatchFiles.tempDir("sweepcmd")
        try BatchFiles.write(RandomAccounts.make(50, seed: 22), to: dir)
        let out = try CLI.run(["sweep", "--input", dir, "--market", "data/sample/market.json", "--set", "BTC.priceRange=0.12,0.15",
                               "--shock", "BTC=-0.2", "--iv-scale", "1,1.5", "--top", "3", "--out", dir + "/sw"])
        #expect(out.status == 0, "\(out.stderr)")
        let sweep = try BatchFiles.read(dir + "/sw/sweep.csv")
        #expect(sweep.count == 5)
        #expect(Array(sweep[0].keys).contains("BTC.priceRange") && sweep[0]["shock.BTC"] == "0.0" && sweep[0]["ivScale"] == "1.0")
        #expect(sweep.allSatisfy { Int($0["healthy"]!)! + Int($0["im_breach"]!)! + Int($0["auto_repay"]!)! + Int($0["liquidation"]!)! + Int($0["errors"]!)! == 50 })
        let top = try BatchFiles.read(dir + "/sw/top.csv")
        #expect(top.count == 4 * 3)
        #expect(Set(top.map { $0["combination"]! }) == ["1", "2", "3", "4"])
        let bad = try CLI.run(["sweep", "--input", dir, "--market", "data/sample/market.json", "--set", "BTC.nonsense=1", "--out", dir + "/sw2"])
        #expect(bad.status == 1 && bad.stderr.contains("BTC.nonsense"))
        let even = try CLI.run(["sweep", "--input", dir, "--market", "data/sample/market.json", "--set", "BTC.pricePoints=10", "--out", dir + "/sw3"])
        #expect(even.status == 1 && even.stderr.contains("pricePoints"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/sw3/sweep.csv"))
    }
}

struct LiquidationPlanTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)

    /// The plan ends at or below 90% (or with nothing left) and every step lowers MM.
    @Test func planEndsAtTheTargetAndEveryStepLowersMM() throws {
        let account = try Account.load(path: TestSupport.path("data/examples/liquidation.json")).accounts[0].get()
        let plan = try LiquidationPlan.plan(for: account, priced: priced).get()
        #expect(plan.stageBefore == .liquidation)
        #expect(plan.steps.first?.action == .cancelOrders)
        #expect(plan.mmRateAfter <= 0.9 || plan.outcome == "nothing left to reduce")
        var previous = Double.infinity, previousMM = Double.infinity
        for s in plan.steps.dropFirst() {
            #expect(s.action == .reduce)
            #expect(s.mmRate < previous && s.mm < previousMM)
            previous = s.mmRate
            previousMM = s.mm
            // At most 10% of the position's starting size per step.
            let start = account.positions.filter { $0.symbol == s.symbol }.reduce(0) { $0 + $1.size }
            #expect(abs(s.sizeBefore! - s.sizeAfter!) <= 0.1 * abs(start) + 1e-9)
            #expect(abs(s.sizeAfter!) < abs(s.sizeBefore!))
        }
        #expect(plan.stageAfter != .liquidation)
    }

    @Test func randomDistressedAccountsAlwaysImprove() throws {
        var accounts = RandomAccounts.make(40, seed: 31)
        for k in accounts.indices { accounts[k].balances = [Balance(coin: "USDC", walletBalance: 2000)] }
        var planned = 0
        for a in accounts {
            let plan = try LiquidationPlan.plan(for: a, priced: priced).get()
            guard plan.stageBefore == .liquidation else { #expect(plan.steps.isEmpty); continue }
            planned += 1
            #expect(plan.mmRateAfter <= 0.9 || plan.outcome != "target reached")
            // Every step lowers MM (the rate may stay +∞ while the margin balance is negative).
            var mm = Double.infinity
            for s in plan.steps where s.action == .reduce { #expect(s.mm < mm); #expect(s.mmRate <= plan.mmRateBefore); mm = s.mm }
        }
        #expect(planned > 5)
    }

    @Test func notInLiquidationSaysSo() throws {
        let out = try CLI.run(["liquidate", "data/examples/short-strangle.json", "--market", "data/sample/market.json"])
        #expect(out.status == 0)
        let doc = try JSON.parse(out.stdout)
        #expect(doc["steps"] == .array([]) && doc["outcome"] == .string("not in liquidation") && doc["stageBefore"] == .string("healthy"))
        let table = try CLI.run(["liquidate", "data/examples/liquidation.json", "--market", "data/sample/market.json", "--format", "table"])
        #expect(table.status == 0 && table.stdout.contains("cancel all active orders") && table.stdout.contains("target reached"))
        for k in ["accountId", "stageBefore", "mmRateBefore", "steps", "mmRateAfter", "stageAfter"] {
            #expect(doc[k] != nil, "missing \(k)")
        }
    }
}
