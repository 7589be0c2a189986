import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The largest order (`MaxSize`) and hedge suggestions (`HedgeSuggestion`), docs/model.md §14,
/// each against a brute-force search through the full engine (`WhatIf.apply` → `MarginEngine.margin`).
struct TraderDecisionTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)

    func example(_ name: String) throws -> Account {
        try Account.load(path: TestSupport.path("data/examples/\(name).json")).accounts[0].get()
    }

    /// The full engine on the account with a trade of signed size `q` (0: as it is).
    func full(_ account: Account, _ symbol: String, _ q: Double) -> MarginResult? {
        let a = q == 0 ? account : WhatIf.apply([Trade(symbol: symbol, size: q)], to: account, market: priced.market, asOrders: false)
        return try? MarginEngine.margin(a, priced: priced).get()
    }

    func keeps(_ r: MarginResult?, _ limit: MarginLimit, _ stage0: Stage) -> Bool {
        guard let r else { return false }
        switch limit {
        case .im: return r.imRate <= 1
        case .mm: return r.mmRate < 1
        case .stage: return r.stage == stage0
        }
    }

    /// The plain scan: grid sizes 0, step, 2·step, … up to `count` steps through the full engine;
    /// the last size before the first one that breaks the limit, and whether none broke it.
    func bruteForce(_ account: Account, _ symbol: String, side: Side, limit: MarginLimit, step: Double, count: Int) -> (Double, Bool) {
        let stage0 = full(account, symbol, 0)!.stage
        guard keeps(full(account, symbol, 0), limit, stage0) else { return (0, false) }
        for n in 1...count where !keeps(full(account, symbol, side.sign * TradeArguments.gridSize(Double(n), step: step)), limit, stage0) {
            return (TradeArguments.gridSize(Double(n - 1), step: step), false)
        }
        return (TradeArguments.gridSize(Double(count), step: step), true)
    }

    func check(_ account: Account, _ symbol: String, side: Side, limit: MarginLimit, step: Double, count: Int,
               sourceLocation: SourceLocation = #_sourceLocation) throws -> MaxSizeAnswer {
        let a = try MaxSize.run(account, symbol: symbol, side: side, limit: limit, step: step, max: Double(count) * step, priced: priced).get()
        let (size, capped) = bruteForce(account, symbol, side: side, limit: limit, step: step, count: count)
        #expect(TestSupport.near(a.maxSize, size, within: step / 2), "\(symbol) \(side) \(limit): \(a.maxSize) vs brute force \(size)", sourceLocation: sourceLocation)
        #expect(a.capped == capped, sourceLocation: sourceLocation)
        // atMax is the full engine's result at the answer.
        if let direct = full(account, symbol, side.sign * a.maxSize) {
            #expect(sameJSON(a.atMax.json, direct.json).isEmpty, sourceLocation: sourceLocation)
        }
        return a
    }

    /// A long perpetual hedged by selling another: IM first falls (the hedge), then rises; the
    /// answer lies past the turning point, where the plain scan finds the first crossing.
    @Test func aHedgesTurningPointIsPassedAndTheFirstCrossingFound() throws {
        let account = Account(id: "T-HEDGE", balances: [Balance(coin: "USDC", walletBalance: 60_000)],
                              positions: [Position(symbol: "BTCUSDT", size: 4)])
        let before = full(account, "BTCUSDC", 0)!
        #expect(before.imRate < 1 && before.imRate > 0.5, "\(before.imRate)")
        let a = try check(account, "BTCUSDC", side: .sell, limit: .im, step: 0.05, count: 400)
        #expect(a.maxSize > 4, "past the flat point: \(a.maxSize)")
        // Not monotone: half-way the IM is below the IM before.
        #expect(full(account, "BTCUSDC", -2)!.totalIM < before.totalIM)
        _ = try check(account, "BTCUSDC", side: .buy, limit: .im, step: 0.05, count: 400)
        _ = try check(account, "BTCUSDC", side: .sell, limit: .mm, step: 0.1, count: 300)
    }

    /// Buying calls pays their premium out of a small USDC balance, which turns into a liability
    /// (borrowing margin): the answer equals the scan.
    @Test func anOptionWhosePremiumEatsTheBalance() throws {
        let account = Account(id: "T-PREMIUM", balances: [Balance(coin: "USDC", walletBalance: 20_000)])
        let a = try check(account, "BTC-25DEC26-90000-C-USDC", side: .buy, limit: .im, step: 0.1, count: 300)
        #expect(a.maxSize > 0 && !a.capped)
        _ = try check(account, "BTC-25DEC26-90000-C-USDC", side: .sell, limit: .im, step: 0.1, count: 300)
        _ = try check(try example("short-strangle"), "BTC-25DEC26-96000-C-USDC", side: .sell, limit: .stage, step: 0.5, count: 200)
    }

    /// An account already over the limit answers 0, even where a hedge would bring it under.
    @Test func anAccountAlreadyOverTheLimitAnswersZero() throws {
        let account = try example("liquidation")
        for limit in [MarginLimit.im, .mm] {
            let a = try MaxSize.run(account, symbol: "BTCUSDT", side: .sell, limit: limit, step: 0.01, max: 1, priced: priced).get()
            #expect(a.maxSize == 0 && !a.capped)
            #expect(sameJSON(a.atMax.json, a.before.json).isEmpty)
        }
    }

    /// `--max` ends the search and says so; without it the default cap is 100× the margin balance
    /// in notional.
    @Test func theCapEndsTheSearch() throws {
        let account = try example("short-strangle")
        let a = try check(account, "BTCUSDT", side: .buy, limit: .im, step: 0.01, count: 50)
        #expect(a.capped && TestSupport.near(a.maxSize, 0.5, within: 1e-12))
        let d = try MaxSize.run(account, symbol: "BTCUSD", side: .buy, limit: .im, priced: priced).get()
        #expect(d.step == 1)   // inverse: USD contracts
        #expect(d.cap <= d.before.marginBalance * MaxSize.defaultLeverage + 1)
        // The inverse perpetual on a coarse grid matches the scan.
        _ = try check(account, "BTCUSD", side: .sell, limit: .im, step: 20_000, count: 100)
    }

    /// A symbol the market does not list is an error naming it.
    @Test func anUnknownSymbolIsNamed() throws {
        let r = MaxSize.run(try example("short-strangle"), symbol: "BTC-NOPE", side: .buy, limit: .im, priced: priced)
        guard case let .failure(e) = r else { Issue.record("expected an error"); return }
        #expect(e.description.contains("--max-size") && e.description.contains("BTC-NOPE"), "\(e)")
    }

    /// A naked short call: among the perpetuals the best hedge buys about the call's delta.
    @Test func aNakedShortCallIsHedgedByThePerpetual() throws {
        let call = "BTC-25DEC26-96000-C-USDC"
        let account = Account(id: "T-CALL", balances: [Balance(coin: "USDC", walletBalance: 500_000)], positions: [Position(symbol: call, size: -10)])
        let r = try HedgeSuggestion.run(account, kinds: [.perpetual], priced: priced).get()
        let top = try #require(r.candidates.first)
        #expect(priced.market.instrument(top.symbol)?.kind == .perpetual)
        #expect(top.side == .buy)
        let delta = 10 * priced.delta[priced.market.indexOf(call)!]
        let contracts = priced.market.instrument(top.symbol)!.isInverse ? top.size / priced.market.index(of: "BTC")! : top.size
        #expect(TestSupport.near(contracts, delta, within: 0.35 * delta), "\(top.symbol) \(top.size) vs delta \(delta)")
        try agreesWithBruteForce(account, r)
    }

    /// A short dated future against a long perpetual (a calendar): buying back the future removes
    /// the most IM, more than any perpetual.
    @Test func aCalendarIsHedgedByTheFuture() throws {
        let account = Account(id: "T-CAL", balances: [Balance(coin: "USDC", walletBalance: 300_000)],
                              positions: [Position(symbol: "BTCUSDC-26MAR27", size: -6), Position(symbol: "BTCUSDT", size: 2)])
        let r = try HedgeSuggestion.run(account, kinds: [.perpetual, .future], priced: priced).get()
        let top = try #require(r.candidates.first)
        #expect(priced.market.instrument(top.symbol)?.kind == .future, "\(top.symbol)")
        try agreesWithBruteForce(account, r)
    }

    /// Nothing to hedge: no candidate is shown.
    @Test func anAccountNoTradeImprovesHasNoCandidates() throws {
        let account = Account(id: "T-CASH", balances: [Balance(coin: "USDC", walletBalance: 10_000)])
        let r = try HedgeSuggestion.run(account, coin: "BTC", kinds: [.perpetual, .future], priced: priced).get()
        #expect(r.candidates.isEmpty && r.searched > 0)
        #expect(HedgeSuggestion.table(r).contains("no trade lowers IM"))
        #expect(HedgeSuggestion.csv(r) == HedgeSuggestion.fields.joined(separator: ",") + "\n")
    }

    /// Options too: the short strangle's suggestions are ranked, each lowers IM, and agree with the
    /// full engine at the chosen size and its grid neighbours.
    @Test func optionCandidatesAgreeWithTheFullEngine() throws {
        let account = try example("short-strangle")
        let r = try HedgeSuggestion.run(account, top: 5, priced: priced).get()
        #expect(!r.candidates.isEmpty && r.candidates.count <= 5)
        #expect(zip(r.candidates, r.candidates.dropFirst()).allSatisfy { $0.imRemoved >= $1.imRemoved })
        try agreesWithBruteForce(account, r)
    }

    /// Every candidate: IM after is the full engine's at its size and below IM before; one step
    /// either side is no better (full engine); and no point of the documented grid is better.
    func agreesWithBruteForce(_ account: Account, _ r: HedgeReport, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for c in r.candidates {
            let inst = try #require(priced.market.instrument(c.symbol))
            let step = MaxSize.defaultStep(inst)
            let q = c.side.sign * c.size
            let at = try #require(full(account, c.symbol, q)).totalIM
            #expect(TestSupport.close(at, c.imAfter, 1e-9) && at < r.before.totalIM, "\(c.symbol)", sourceLocation: sourceLocation)
            #expect(TestSupport.close(c.imRemoved, r.before.totalIM - at, 1e-6), sourceLocation: sourceLocation)
            #expect(TestSupport.near((c.size / step).rounded() * step, c.size, within: 1e-9 * max(1, c.size)), "on the step grid", sourceLocation: sourceLocation)
            for n in [q - step, q + step] where n != 0 {
                let v = try #require(full(account, c.symbol, n)).totalIM
                #expect(v >= at * (1 - 1e-9), "\(c.symbol) \(n): \(v) < \(at)", sourceLocation: sourceLocation)
            }
            let i = priced.market.indexOf(c.symbol)!
            var net = 0.0, gross = 0.0
            for p in account.positions where priced.market.instrument(p.symbol)?.baseCoin == r.coin {
                let d = priced.delta[priced.market.indexOf(p.symbol)!]
                net += p.size * d; gross += abs(p.size * d)
            }
            for g in HedgeSuggestion.grid(delta: priced.delta[i], isOption: inst.kind == .option, net: net, gross: gross, step: step) where g != 0 {
                let v = try #require(full(account, c.symbol, g)).totalIM
                #expect(v >= at * (1 - 1e-9), "\(c.symbol) grid \(g): \(v) < \(at)", sourceLocation: sourceLocation)
            }
        }
    }
}
