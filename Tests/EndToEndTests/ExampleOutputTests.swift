import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The shipped example outputs (`pm margin data/examples/*.json`, and the CLI fixture account)
/// compared field by field with figures worked out independently of the engine: the plain
/// re-statement of the model (`PlainModel`, docs/model.md §2–§8), plus the few extra result fields it
/// does not carry, derived here from their definitions (spot leg P&L, §6; margin attribution, §12;
/// `portfolioMM`, docs/readings.md 10). Nothing here is a snapshot the code wrote.
///
/// Every field of the JSON is compared: the expected document has exactly the keys of docs/formats.md
/// "One result" (plus the documented additions), and `sameJSON` fails on a missing or extra key, a
/// different string, or a number more than 1e-9 relative apart.
struct ExampleOutputTests {
    static let sampleMarket = "data/sample/market.json"

    /// A number as docs/formats.md writes it: non-finite values as the strings `inf`, `-inf`, `nan`.
    static func num(_ v: Double) -> JSON {
        if v.isNaN { return .string("nan") }
        if v.isInfinite { return .string(v > 0 ? "inf" : "-inf") }
        return .number(v)
    }

    /// The `pm margin` result object for `account`, built from the plain model alone.
    static func expectedJSON(_ account: Account, market: MarketSnapshot, params: ParameterSet) -> JSON {
        let p = PlainModel.margin(account, market: market, params: params)
        let units: [JSON] = p.units.map { u in
            let index = market.indexPrices[u.baseCoin]!
            let worstShock = PlainModel.ivShockNames.firstIndex(of: u.maxLossIvShock)!
            // §6, §11.4: the spot leg `h · index · s_k` per move; a liability's leg counts only its gains.
            let spotPnl = u.priceMoves.map { s -> Double in
                let leg = u.hedgeSpotSize * index * s
                return u.hedgeSpotSize < 0 ? max(0, leg) : leg
            }
            return .object([
                ("baseCoin", .string(u.baseCoin)),
                ("priceMoves", .array(u.priceMoves.map(num))),
                ("pnl", .array(u.pnl.map { .array($0.map(num)) })),
                ("maxLoss", num(u.maxLoss)),
                ("maxLossPriceMove", num(u.maxLossPriceMove)),
                ("maxLossIvShock", .string(u.maxLossIvShock)),
                ("maxLossIvShockList", .array(u.maxLossIvShockList.map(JSON.string))),
                ("contingency", .object([
                    ("optionContingency", num(u.contingency.option)),
                    ("optionVegaContingency", num(u.contingency.vega)),
                    ("usdtUsdcContingency", num(u.contingency.stablecoin)),
                    ("futureDeltaContingency", num(u.contingency.delta)),
                    ("futureContingency", num(u.contingency.futures)),
                    ("contingencyComponents", num(u.contingency.total)),
                ])),
                ("hedgeSpotSize", num(u.hedgeSpotSize)),
                ("spotHedgePnl", .array(spotPnl.map(num))),
                // §12: minus the leg's own P&L at the unit's worst scenario.
                ("spotHedgeMaxLossContribution", num(-spotPnl[u.worstMove])),
                ("mm", num(u.mm)),
                ("im", num(u.im)),
                ("governingPortfolio", .string(u.governingPortfolio)),
                ("portfolioMM", .object(zip(PlainModel.portfolioNames, u.portfolioMM).map { ($0, $1.map(num) ?? .null) })),
                ("positions", .array(u.positions.map { h in
                    .object([("symbol", .string(h.symbol)), ("size", num(h.size)),
                             ("pnl", .array(h.pnl.map { .array($0.map(num)) })),
                             // §12: −size · riskArray[k*][j*].
                             ("maxLossContribution", num(-h.pnl[u.worstMove][worstShock]))])
                })),
            ])
        }
        return .object([
            ("accountId", .string(p.accountId)),
            ("marginBalance", num(p.marginBalance)),
            ("orderLoss", num(p.orderLoss)),
            ("totalIM", num(p.totalIM)),
            ("totalMM", num(p.totalMM)),
            ("imRate", num(p.imRate)),
            ("mmRate", num(p.mmRate)),
            ("stage", .string(p.stage)),
            ("units", .array(units)),
        ])
    }

    /// Runs `pm margin FILE --market MARKET` and compares its JSON with the independent figures.
    static func check(file: String, market marketPath: String) throws -> (doc: JSON, expected: JSON) {
        let out = try CLI.run(["margin", file, "--market", marketPath])
        #expect(out.status == 0, "\(file): \(out.stderr)")
        let doc = try JSON.parse(out.stdout)
        let market = try MarketSnapshot.load(path: TestSupport.path(marketPath))
        let account = try Account.load(path: TestSupport.path(file)).accounts[0].get()
        let expected = expectedJSON(account, market: market, params: TestSupport.shippedParams)
        let problems = sameJSON(doc, expected)
        #expect(problems.isEmpty, "\(file): \(problems.prefix(8))")
        return (doc, expected)
    }

    /// Every shipped example (data/examples/README.md), every field of its `pm margin` JSON.
    @Test func everyShippedExampleMatchesTheIndependentFigures() throws {
        let dir = TestSupport.path("data/examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count >= 8)
        for f in files { _ = try Self.check(file: "data/examples/\(f)", market: Self.sampleMarket) }
    }

    /// The CLI fixture account (two units, orders on both sides, a BTC liability with spot hedging)
    /// against its fixture market. This replaces the former snapshot `Fixtures/expected/account.json`.
    @Test func fixtureAccountMatchesTheIndependentFigures() throws {
        let (doc, _) = try Self.check(file: "\(CLI.fixtures)/account.json", market: "\(CLI.fixtures)/market.json")
        guard case let .array(units)? = doc["units"] else { Issue.record("no units"); return }
        #expect(units.count == 2)
    }

    /// `basis-trade-liability.json` worked by hand from the sample market (a check on the plain
    /// model's reading too): a −3 BTC liability hedging a long 3 BTCUSDT perpetual (entry 90,850),
    /// 300,000 USDT. Sample market: I_BTC = 91,250.37, BTCUSDT mark P = 91,262.23, idx_USDT = 0.9998.
    ///   δ = +3 (linear perpetual); balance −3 < 0 and δ > 0 → h = max(−3, −3) = −3 (§6).
    ///   Cell at move s (same for every vol shock): 3·P·s·idx_USDT + max(0, −3·I·s)   (§3, §6, §11.4)
    ///     s > 0: 3·P·s·0.9998 > 0 (the liability leg's loss is not counted);
    ///     s < 0: 3·|s|·(I − P·0.9998) = 3·|s|·(91,250.37 − 91,243.977…) > 0;   s = 0: 0.
    ///   So every cell is ≥ 0: maxLoss 0, the first minimum is move 0 with shock `up` (§11.6).
    ///   §5 E: 3 · 0.0003 · I = 82.125333; C: one settlement bucket → 0; D1: perpetual and spot leg
    ///   both at DTE 0 → 0; D2: basis P/I − 1 = 0.00013 < 0.05 → 0. MM = 82.125333, IM = 1.2 · MM.
    ///   Borrowing (BTC): MM 3 · I · borrowMMRate, IM 3 · I · borrowIMRate.
    ///   Margin balance (§8, §11.11): 300,000 · 0.9998 · 1 − 3 · I + 3 · (P − 90,850) · 0.9998.
    @Test func basisTradeLiabilityByHand() throws {
        let market = TestSupport.sampleMarket
        let params = TestSupport.shippedParams
        let btc = params.parameters(for: "BTC")
        let out = try CLI.run(["margin", "data/examples/basis-trade-liability.json", "--market", Self.sampleMarket])
        #expect(out.status == 0, "\(out.stderr)")
        let doc = try JSON.parse(out.stdout)
        let account = try Account.load(path: TestSupport.path("data/examples/basis-trade-liability.json")).accounts[0].get()
        // The shape and the market this hand calculation assumes.
        #expect(account.positions.count == 1 && account.positions[0].symbol == "BTCUSDT" && account.positions[0].size == 3
                && account.positions[0].entryPrice == 90850 && account.orders.isEmpty && account.spotHedging)
        #expect(account.balances.map(\.coin) == ["USDT", "BTC"] && account.balances.map(\.walletBalance) == [300000, -3])
        let i = 91250.37, p = 91262.23, usdt = 0.9998
        #expect(market.indexPrices["BTC"] == i && market.instrument("BTCUSDT")?.markPrice == p && market.indexPrices["USDT"] == usdt)
        #expect(params.parameters(for: "USDT").collateralValueRatio == 1)

        let e = 3 * btc.futuresRiskFactor * i                       // 82.125333 with factor 0.0003
        let borrowMM = 3 * i * btc.borrowMMRate
        let borrowIM = 3 * i * btc.borrowIMRate
        let marginBalance = 300000 * usdt - 3 * i + 3 * (p - 90850) * usdt
        func n(_ j: JSON?) -> Double { if case let .number(x)? = j { return x }; return .nan }
        guard case let .array(units)? = doc["units"], units.count == 1, let u = units.first else { Issue.record("one unit"); return }
        #expect(n(u["hedgeSpotSize"]) == -3)
        #expect(n(u["maxLoss"]) == 0)
        #expect(n(u["maxLossPriceMove"]) == 0 && u["maxLossIvShock"] == .string("up"))
        // The cells at ±R, worked out above.
        guard case let .array(pnl)? = u["pnl"], case let .array(top)? = pnl.last, case let .array(bottom)? = pnl.first else {
            Issue.record("pnl"); return
        }
        #expect(TestSupport.close(n(top[1]), 3 * p * btc.priceRange * usdt))
        #expect(TestSupport.close(n(bottom[1]), 3 * btc.priceRange * (i - p * usdt)))
        #expect(TestSupport.close(n(u["contingency"]?["futureContingency"]), e))
        #expect(n(u["contingency"]?["usdtUsdcContingency"]) == 0 && n(u["contingency"]?["optionContingency"]) == 0)
        #expect(n(u["contingency"]?["optionVegaContingency"]) == 0 && n(u["contingency"]?["futureDeltaContingency"]) == 0)
        #expect(TestSupport.close(n(u["mm"]), e) && TestSupport.close(n(u["im"]), e * btc.imFactor))
        #expect(TestSupport.close(n(doc["totalMM"]), e + borrowMM))
        #expect(TestSupport.close(n(doc["totalIM"]), e * btc.imFactor + borrowIM))
        #expect(TestSupport.close(n(doc["marginBalance"]), marginBalance), "\(n(doc["marginBalance"])) vs \(marginBalance)")
        #expect(TestSupport.close(n(doc["mmRate"]), (e + borrowMM) / marginBalance))
        #expect(doc["stage"] == .string("healthy"))
    }
}
