import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Cross-checks the fast engine against `PlainModel`, the plain re-statement of docs/model.md
/// (a deliberately plain, slow re-statement of the model).
///
/// Figures agree to 1e-9 relative (`|a − b| ≤ 1e-9·max(1, |a|, |b|)`); the worst scenario, the
/// governing portfolio and the stage agree exactly.
@Suite struct PlainModelCrossCheckTests {

    // MARK: Fixtures

    /// The repository root: this file is `<root>/Tests/UnitTests/…`.
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    static let market: MarketSnapshot = try! MarketSnapshot.load(path: path("data/sample/market.json"))
    static let params: ParameterSet = try! ParameterSet.load(path: path("data/params/pm-params.json"))

    /// The shipped set with BTC on the pre-2025 ±15% grid (docs/model.md §2).
    static let widerBTC: ParameterSet = {
        var set = params
        var btc = set.parameters(for: "BTC")
        btc.priceRange = 0.15
        set.coins["BTC"] = btc
        return set
    }()

    // MARK: Comparison

    static func close(_ a: Double, _ b: Double) -> Bool { TestSupport.close(a, b) }

    static func governingName(_ g: GoverningPortfolio) -> String {
        switch g {
        case .positions: return "positions"
        case .buyOrders: return "positions+buyOrders"
        case .sellOrders: return "positions+sellOrders"
        }
    }

    /// Every disagreement between the engine's result and the plain model's, one line each.
    static func disagreements(_ e: MarginResult, _ p: PlainModel.PlainResult) -> [String] {
        var out: [String] = []
        let id = p.accountId
        func num(_ field: String, _ a: Double, _ b: Double) {
            if !close(a, b) { out.append("\(id) \(field): engine \(a) plain \(b)") }
        }
        func same<T: Equatable>(_ field: String, _ a: T, _ b: T) {
            if a != b { out.append("\(id) \(field): engine \(a) plain \(b)") }
        }
        same("accountId", e.accountId, p.accountId)
        num("marginBalance", e.marginBalance, p.marginBalance)
        num("orderLoss", e.orderLoss, p.orderLoss)
        num("totalIM", e.totalIM, p.totalIM)
        num("totalMM", e.totalMM, p.totalMM)
        num("imRate", e.imRate, p.imRate)
        num("mmRate", e.mmRate, p.mmRate)
        same("stage", e.stage.rawValue, p.stage)
        same("units", e.units.map(\.baseCoin), p.units.map(\.baseCoin))
        for (eu, pu) in zip(e.units, p.units) where eu.baseCoin == pu.baseCoin {
            let u = "unit \(pu.baseCoin)"
            same("\(u) priceMoves.count", eu.priceMoves.count, pu.priceMoves.count)
            for (k, (a, b)) in zip(eu.priceMoves, pu.priceMoves).enumerated() { num("\(u) priceMoves[\(k)]", a, b) }
            same("\(u) pnl.count", eu.pnl.count, pu.pnl.count)
            for (k, (ra, rb)) in zip(eu.pnl, pu.pnl).enumerated() {
                same("\(u) pnl[\(k)].count", ra.count, rb.count)
                for (j, (a, b)) in zip(ra, rb).enumerated() { num("\(u) pnl[\(k)][\(j)]", a, b) }
            }
            num("\(u) maxLoss", eu.maxLoss, pu.maxLoss)
            same("\(u) worst move index", eu.priceMoves.firstIndex(of: eu.maxLossPriceMove) ?? -1, pu.worstMove)
            num("\(u) maxLossPriceMove", eu.maxLossPriceMove, pu.maxLossPriceMove)
            same("\(u) maxLossIvShock", eu.maxLossIvShock.name, pu.maxLossIvShock)
            same("\(u) maxLossIvShockList", eu.maxLossIvShockList.map(\.name), pu.maxLossIvShockList)
            num("\(u) optionContingency", eu.contingency.optionContingency, pu.contingency.option)
            num("\(u) optionVegaContingency", eu.contingency.optionVegaContingency, pu.contingency.vega)
            num("\(u) usdtUsdcContingency", eu.contingency.usdtUsdcContingency, pu.contingency.stablecoin)
            num("\(u) futureDeltaContingency", eu.contingency.futureDeltaContingency, pu.contingency.delta)
            num("\(u) futureContingency", eu.contingency.futureContingency, pu.contingency.futures)
            num("\(u) contingencyComponents", eu.contingency.total, pu.contingency.total)
            num("\(u) hedgeSpotSize", eu.hedgeSpotSize, pu.hedgeSpotSize)
            num("\(u) mm", eu.mm, pu.mm)
            num("\(u) im", eu.im, pu.im)
            same("\(u) governingPortfolio", governingName(eu.governingPortfolio), pu.governingPortfolio)
            same("\(u) portfolioMM sides", eu.portfolioMM.map { $0 != nil }, pu.portfolioMM.map { $0 != nil })
            for (g, (a, b)) in zip(eu.portfolioMM, pu.portfolioMM).enumerated() {
                if let a, let b { num("\(u) portfolioMM[\(g)]", a, b) }
            }
            // positions[]: the governing portfolio's net holdings per symbol (§11.17), compared by
            // symbol for the non-zero ones (the listing of zero net holdings is presentation).
            var engineHoldings: [String: PositionScenarios] = [:]
            for h in eu.positions where h.size != 0 { engineHoldings[h.symbol] = h }
            var plainHoldings: [String: PlainModel.PlainHolding] = [:]
            for h in pu.positions where h.size != 0 { plainHoldings[h.symbol] = h }
            same("\(u) positions symbols", engineHoldings.keys.sorted(), plainHoldings.keys.sorted())
            for (symbol, ph) in plainHoldings {
                guard let eh = engineHoldings[symbol] else { continue }
                num("\(u) positions[\(symbol)].size", eh.size, ph.size)
                for (k, (ra, rb)) in zip(eh.pnl, ph.pnl).enumerated() {
                    for (j, (a, b)) in zip(ra, rb).enumerated() { num("\(u) positions[\(symbol)].pnl[\(k)][\(j)]", a, b) }
                }
            }
        }
        return out
    }

    /// Margins `account` with both and returns the disagreements (or the engine's refusal).
    static func crossCheck(_ account: Account, market: MarketSnapshot, params: ParameterSet,
                           priced: PricedMarket) -> [String] {
        switch MarginEngine.margin(account, priced: priced) {
        case let .failure(error):
            return ["\(account.id): engine refused a valid account: \(error)"]
        case let .success(engine):
            return disagreements(engine, PlainModel.margin(account, market: market, params: params))
        }
    }

    // MARK: The example accounts

    @Test func examplesAgreeWithThePlainModel() throws {
        let dir = Self.path("data/examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count >= 8)
        let priced = PricedMarket(market: Self.market, parameters: Self.params)
        var checked = 0
        for file in files {
            let (_, accounts) = try Account.load(path: "\(dir)/\(file)")
            for result in accounts {
                let account = try result.get()
                let problems = Self.crossCheck(account, market: Self.market, params: Self.params, priced: priced)
                #expect(problems.isEmpty, "\(file): \(problems.count) disagreement(s):\n\(problems.prefix(40).joined(separator: "\n"))")
                checked += 1
            }
        }
        #expect(checked >= 8)
    }

    // MARK: Random accounts

    /// A random valid account over the sample market's symbols: options of both settle coins,
    /// linear and inverse perpetuals and futures, balances with liabilities, orders on both sides,
    /// zero-size rows and duplicate symbols.
    static func randomAccount(_ n: Int, _ rng: inout SplitMix) -> Account {
        let instruments = market.instruments
        let coins = ["BTC", "ETH", "SOL"]
        let chosen = coins.filter { _ in rng.chance(0.55) }
        let unitCoins = chosen.isEmpty ? [rng.pick(coins)] : chosen
        var account = Account(id: "R-\(n)", spotHedging: rng.chance(0.5))

        // A typical coin size (about 10k–100k USD) for each base coin.
        func coinSize(_ coin: String) -> Double { 1e5 / market.indexPrices[coin]! * rng.uniform(0.02, 1.5) }

        func randomSymbol() -> Instrument {
            let coin = rng.pick(unitCoins)
            let kinds: [InstrumentKind] = [.option, .option, .option, .perpetual, .future]
            while true {
                let kind = rng.pick(kinds)
                let pool = instruments.filter { $0.baseCoin == coin && $0.kind == kind }
                if pool.isEmpty { continue }
                return rng.pick(pool)
            }
        }
        func randomSize(_ i: Instrument) -> Double {
            let magnitude = i.isInverse ? (coinSize(i.baseCoin) * i.markPrice).rounded() : coinSize(i.baseCoin)
            return rng.chance(0.5) ? magnitude : -magnitude
        }

        for _ in 0..<rng.int(0, 7) {
            var i = randomSymbol()
            if !account.positions.isEmpty && rng.chance(0.15) {
                i = market.instrument(rng.pick(account.positions).symbol)!    // a duplicate row
            }
            let size = rng.chance(0.08) ? 0 : randomSize(i)
            let entry: Double? = (i.kind != .option || rng.chance(0.3)) && rng.chance(0.6)
                ? i.markPrice * rng.uniform(0.9, 1.1) : nil
            account.positions.append(Position(symbol: i.symbol, size: size, entryPrice: entry))
        }
        for _ in 0..<rng.int(0, 4) {
            var i = randomSymbol()
            if !account.positions.isEmpty && rng.chance(0.4) {
                i = market.instrument(rng.pick(account.positions).symbol)!    // nets with a position
            }
            let qty = abs(randomSize(i)) * rng.uniform(0.1, 1.2)
            account.orders.append(Order(symbol: i.symbol, side: rng.chance(0.5) ? .buy : .sell,
                                        qty: max(qty, 1e-3), price: i.markPrice * rng.uniform(0.95, 1.05)))
        }
        // Stablecoin collateral over a wide range, so that every stage occurs.
        for coin in ["USDT", "USDC"] where rng.chance(0.7) {
            let v = pow(10, rng.uniform(2, 6))
            account.balances.append(Balance(coin: coin, walletBalance: rng.chance(0.1) ? -v / 10 : v))
        }
        for coin in coins where rng.chance(0.45) {
            let v = coinSize(coin) * rng.uniform(0, 2)
            account.balances.append(Balance(coin: coin, walletBalance: rng.chance(0.4) ? -v : v))
            if rng.chance(0.1) {     // a second row of the same coin, same sign
                let w = account.balances.last!.walletBalance * rng.uniform(0.1, 1)
                account.balances.append(Balance(coin: coin, walletBalance: w))
            }
        }
        return account
    }

    /// The sample market with its dated futures 9% rich and its perpetuals 7% cheap, so that the
    /// spot–derivative basis (§5 D2) passes its 5% threshold on either side.
    static let wideBasisMarket: MarketSnapshot = {
        let shifted = market.instruments.map { i -> Instrument in
            var i = i
            if i.kind == .future { i.markPrice *= 1.09 }
            if i.kind == .perpetual { i.markPrice *= 0.93 }
            return i
        }
        return try! MarketSnapshot(time: market.time, indexPrices: market.indexPrices, instruments: shifted)
    }()

    /// Which parts of the model a set of plain results exercised.
    struct Coverage {
        var counts: [String: Int] = [:]
        mutating func note(_ r: PlainModel.PlainResult) {
            counts["stage " + r.stage, default: 0] += 1
            if r.mmRate == .infinity { counts["mmRate inf", default: 0] += 1 }
            for u in r.units {
                counts["governing " + u.governingPortfolio, default: 0] += 1
                if u.maxLoss == 0 { counts["maxLoss 0", default: 0] += 1 }
                if u.hedgeSpotSize > 0 { counts["hedge > 0", default: 0] += 1 }
                if u.hedgeSpotSize < 0 { counts["hedge < 0", default: 0] += 1 }
                if u.contingency.option > 0 { counts["A option", default: 0] += 1 }
                if u.contingency.vega > 0 { counts["B vega", default: 0] += 1 }
                if u.contingency.stablecoin > 0 { counts["C stablecoin", default: 0] += 1 }
                if u.contingency.delta > 0 { counts["D delta", default: 0] += 1 }
                if u.contingency.deltaBasis > 0 { counts["D2 basis", default: 0] += 1 }
                if u.contingency.futures > 0 { counts["E futures", default: 0] += 1 }
            }
        }
    }

    /// Cross-checks `count` random accounts, the n-th against `variants[n % variants.count]`;
    /// returns the disagreements and what they covered.
    static func randomRun(seed: UInt64, count: Int, market: MarketSnapshot,
                          variants: [(name: String, params: ParameterSet)]) -> ([String], Coverage) {
        var rng = SplitMix(seed: seed)
        let priced = variants.map { PricedMarket(market: market, parameters: $0.params) }
        var problems: [String] = []
        var coverage = Coverage()
        for n in 0..<count {
            let account = randomAccount(n, &rng)
            let v = n % variants.count
            let found = crossCheck(account, market: market, params: variants[v].params, priced: priced[v])
            problems += found.map { "\($0) [\(variants[v].name)]" }
            coverage.note(PlainModel.margin(account, market: market, params: variants[v].params))
        }
        return (problems, coverage)
    }

    /// The shipped parameters three times out of four, BTC at ±15% the fourth.
    static let shippedAndWiderBTC: [(name: String, params: ParameterSet)] = [
        ("shipped", params), ("shipped", params), ("shipped", params), ("BTC priceRange 0.15", widerBTC),
    ]

    /// A set that separates what the shipped one hides: distinct short and long vega powers, a
    /// minDTE floor that binds on a listed expiry, a down shock floored by minShockedIv, a 7-point
    /// grid, a coin not eligible for spot hedging, other factors and stage thresholds.
    static let exoticParams: ParameterSet = {
        var set = widerBTC
        var eth = set.parameters(for: "ETH")
        eth.vegaPowerShort = 0.35; eth.vegaPowerLong = 0.13; eth.minDTE = 3
        eth.imFactor = 1.35; eth.shortOptionFactor = 0.02; eth.vegaSpreadFactor = 0.002
        eth.deltaSpreadFactor = 0.001; eth.stablecoinSpreadFactor = 0.01
        set.coins["ETH"] = eth
        var sol = set.parameters(for: "SOL")
        sol.pricePoints = 7; sol.priceRange = 0.2; sol.ivDown = 0.9; sol.minShockedIv = 0.05
        sol.spotHedgeEligible = false
        set.coins["SOL"] = sol
        var btc = set.parameters(for: "BTC")
        btc.decaySeconds = 3600; btc.futuresRiskFactor = 0.001; btc.basisThreshold = 0.0; btc.basisFactor = 0.5
        btc.collateralValueRatio = 0.8; btc.borrowMMRate = 0.03
        set.coins["BTC"] = btc
        set.stages.liquidationMMRate = 0.8; set.stages.autoRepayMMRate = 0.5; set.stages.imBreachIMRate = 0.7
        return set
    }()

    @Test func randomAccountsAgreeWithThePlainModel() {
        let (problems, coverage) = Self.randomRun(seed: 0x504D_2026, count: 400, market: Self.market,
                                                  variants: Self.shippedAndWiderBTC)
        #expect(problems.isEmpty, "\(problems.count) disagreement(s):\n\(problems.prefix(60).joined(separator: "\n"))")
        // The generator reaches every stage, every governing portfolio and every contingency.
        for key in ["stage healthy", "stage imBreach", "stage autoRepay", "stage liquidation",
                    "governing positions", "governing positions+buyOrders", "governing positions+sellOrders",
                    "hedge > 0", "hedge < 0", "A option", "B vega", "C stablecoin", "D delta", "E futures"] {
            #expect(coverage.counts[key, default: 0] > 0, "not covered: \(key) (\(coverage.counts))")
        }
    }

    @Test func randomAccountsAgreeOnAWideBasisMarket() {
        let (problems, coverage) = Self.randomRun(seed: 0xBA515, count: 200, market: Self.wideBasisMarket,
                                                  variants: Self.shippedAndWiderBTC + [("exotic", Self.exoticParams)])
        #expect(problems.isEmpty, "\(problems.count) disagreement(s):\n\(problems.prefix(60).joined(separator: "\n"))")
        #expect(coverage.counts["D2 basis", default: 0] > 0, "basis never reached: \(coverage.counts)")
    }

    @Test func randomAccountsAgreeUnderAnExoticParameterSet() {
        let (problems, _) = Self.randomRun(seed: 0xE807_1C, count: 200, market: Self.market,
                                           variants: [("exotic", Self.exoticParams)])
        #expect(problems.isEmpty, "\(problems.count) disagreement(s):\n\(problems.prefix(60).joined(separator: "\n"))")
    }

    /// Hand-made corners: exact ties (governing portfolio, worst scenario), mixed-sign balance rows
    /// of a hedging coin, a unit of zero-size rows only, an empty account (rates 0), inverse hedges.
    @Test func cornerAccountsAgreeWithThePlainModel() {
        let accounts: [Account] = [
            Account(id: "TIE-LINEAR", orders: [Order(symbol: "BTCUSDT", side: .buy, qty: 1, price: 91262.23),
                                               Order(symbol: "BTCUSDT", side: .sell, qty: 1, price: 91262.23)]),
            Account(id: "TIE-INVERSE", orders: [Order(symbol: "BTCUSD", side: .buy, qty: 1000, price: 91244.89),
                                                Order(symbol: "BTCUSD", side: .sell, qty: 1000, price: 91244.89)]),
            Account(id: "MIXED-BALANCE-LONG", spotHedging: true,
                    balances: [Balance(coin: "BTC", walletBalance: 2), Balance(coin: "BTC", walletBalance: -1)],
                    positions: [Position(symbol: "BTCUSDT", size: -3)]),
            Account(id: "MIXED-BALANCE-SHORT", spotHedging: true,
                    balances: [Balance(coin: "BTC", walletBalance: 2), Balance(coin: "BTC", walletBalance: -3)],
                    positions: [Position(symbol: "BTCUSDT", size: 3)]),
            Account(id: "EMPTY"),
            Account(id: "ZERO-ROWS-ONLY", spotHedging: true, balances: [Balance(coin: "ETH", walletBalance: -2)],
                    positions: [Position(symbol: "ETHUSDT", size: 0), Position(symbol: "ETH-25DEC26-3050-C-USDT", size: 0)]),
            Account(id: "NO-MM", balances: [Balance(coin: "USDT", walletBalance: 100)],
                    positions: [Position(symbol: "BTCUSDT", size: 0, entryPrice: 100000)]),
            Account(id: "INVERSE-HEDGE", spotHedging: true, balances: [Balance(coin: "BTC", walletBalance: 1)],
                    positions: [Position(symbol: "BTCUSD", size: -50000), Position(symbol: "BTCUSD-26MAR27", size: -50000)]),
            Account(id: "NETTED-AWAY", spotHedging: true, balances: [Balance(coin: "ETH", walletBalance: 5)],
                    positions: [Position(symbol: "ETHUSDT", size: -4), Position(symbol: "ETHUSDT", size: 4)],
                    orders: [Order(symbol: "ETHUSDT", side: .buy, qty: 4, price: 3000)]),
            Account(id: "USDT-USDC-OPTIONS", positions: [Position(symbol: "BTC-25DEC26-90000-C-USDT", size: -2),
                                                         Position(symbol: "BTC-25DEC26-90000-P-USDC", size: 2)]),
        ]
        for (name, set) in [("shipped", Self.params), ("BTC priceRange 0.15", Self.widerBTC), ("exotic", Self.exoticParams)] {
            let priced = PricedMarket(market: Self.market, parameters: set)
            for account in accounts {
                let problems = Self.crossCheck(account, market: Self.market, params: set, priced: priced)
                #expect(problems.isEmpty, "\(name): \(problems.joined(separator: "\n"))")
            }
        }
        // The exact ties go to the first candidate (§11.6).
        let tie = PlainModel.margin(accounts[0], market: Self.market, params: Self.params)
        #expect(tie.units[0].governingPortfolio == "positions+buyOrders")
        #expect(tie.units[0].maxLossIvShock == "up")
        #expect(PlainModel.margin(accounts[4], market: Self.market, params: Self.params).mmRate == 0)
    }

    /// The basis part of §5 D2 is reached on the wide-basis market (the sample's basis is ~2%).
    @Test func wideBasisMarketReachesTheBasisContingency() {
        let account = Account(id: "BASIS", spotHedging: true,
                              balances: [Balance(coin: "BTC", walletBalance: 10), Balance(coin: "USDC", walletBalance: 1e5)],
                              positions: [Position(symbol: "BTCUSDC-26MAR27", size: -10)])
        let plain = PlainModel.margin(account, market: Self.wideBasisMarket, params: Self.params)
        let unit = plain.units[0]
        #expect(unit.hedgeSpotSize == 10)
        // basis = 93250.92·1.09/91250.37 − 1 ≈ 11.4%: D2 = 10·index·0.45·(basis − 0.05) on top of D1.
        let index = Self.market.indexPrices["BTC"]!
        let basis = 93250.92 * 1.09 / index - 1
        let d2 = 10 * index * 0.45 * (basis - 0.05)
        let dte = (Self.market.instrument("BTCUSDC-26MAR27")!.expiry! - Self.market.time) / 86400
        let d1 = dte * 10 * index * 0.0003
        #expect(Self.close(unit.contingency.delta, d1 + d2))
        let priced = PricedMarket(market: Self.wideBasisMarket, parameters: Self.params)
        #expect(Self.crossCheck(account, market: Self.wideBasisMarket, params: Self.params, priced: priced).isEmpty)
    }

    /// The comparison itself notices a small error (so that agreement means something).
    @Test func theCrossCheckNoticesADifference() throws {
        let (_, accounts) = try Account.load(path: Self.path("data/examples/orders-both-sides.json"))
        let account = try accounts[0].get()
        let priced = PricedMarket(market: Self.market, parameters: Self.params)
        let engine = try MarginEngine.margin(account, priced: priced).get()
        var plain = PlainModel.margin(account, market: Self.market, params: Self.params)
        #expect(Self.disagreements(engine, plain).isEmpty)
        plain.units[0].pnl[3][1] *= 1 + 1e-7
        plain.units[0].contingency.vega += 1e-6 * max(1, plain.units[0].contingency.total)
        plain.stage = "imBreach" == plain.stage ? "healthy" : "imBreach"
        #expect(Self.disagreements(engine, plain).count == 4)   // pnl, vega, total, stage
    }

    // MARK: Near expiry (docs/model.md §2 decay)

    /// A snapshot with a BTC option `secondsLeft` before expiry, beside a perpetual, a future and
    /// a long-dated option of the same unit.
    static func nearExpiryMarket(secondsLeft: Double) throws -> MarketSnapshot {
        let time = market.time
        let index = market.indexPrices
        let instruments = [
            Instrument(symbol: "BTC-NEAR-91000-C-USDC", kind: .option, baseCoin: "BTC", settleCoin: "USDC",
                       markPrice: 310.5, expiry: time + secondsLeft, optionType: .call, strike: 91000,
                       underlyingPrice: 91255.4, markIv: 0.52),
            Instrument(symbol: "BTC-NEAR-91000-P-USDT", kind: .option, baseCoin: "BTC", settleCoin: "USDT",
                       markPrice: 60.25, expiry: time + secondsLeft, optionType: .put, strike: 91000,
                       underlyingPrice: 91255.4, markIv: 0.52),
            Instrument(symbol: "BTC-FAR-95000-C-USDC", kind: .option, baseCoin: "BTC", settleCoin: "USDC",
                       markPrice: 4100.0, expiry: time + 90 * 86400, optionType: .call, strike: 95000,
                       underlyingPrice: 92600.0, markIv: 0.47),
            Instrument(symbol: "BTCUSDT", kind: .perpetual, baseCoin: "BTC", settleCoin: "USDT", markPrice: 91262.23),
            Instrument(symbol: "BTCUSD-FUT", kind: .future, baseCoin: "BTC", settleCoin: "BTC",
                       markPrice: 91690.0, expiry: time + 31 * 86400),
            // A future expiring with the near option: same maturity bucket, full price moves.
            Instrument(symbol: "BTCUSDC-NEAR", kind: .future, baseCoin: "BTC", settleCoin: "USDC",
                       markPrice: 91255.4, expiry: time + secondsLeft),
        ]
        return try MarketSnapshot(time: time, indexPrices: index, instruments: instruments)
    }

    @Test(arguments: [900.0, 1.0, 600.5, 1799.0, 1800.0, 1801.0, 2700.0, 3600.0, 7200.0])
    func nearExpiryAgreesWithThePlainModel(secondsLeft: Double) throws {
        let snapshot = try Self.nearExpiryMarket(secondsLeft: secondsLeft)
        let accounts = [
            Account(id: "NEAR-SHORT", spotHedging: true,
                    balances: [Balance(coin: "USDC", walletBalance: 40000), Balance(coin: "BTC", walletBalance: 0.4)],
                    positions: [Position(symbol: "BTC-NEAR-91000-C-USDC", size: -3),
                                Position(symbol: "BTCUSDT", size: 1.5, entryPrice: 90000),
                                Position(symbol: "BTC-FAR-95000-C-USDC", size: 2)],
                    orders: [Order(symbol: "BTC-NEAR-91000-P-USDT", side: .sell, qty: 2, price: 55)]),
            Account(id: "NEAR-LONG", spotHedging: false,
                    balances: [Balance(coin: "USDT", walletBalance: 5000)],
                    positions: [Position(symbol: "BTC-NEAR-91000-C-USDC", size: 4),
                                Position(symbol: "BTC-NEAR-91000-P-USDT", size: -4),
                                Position(symbol: "BTCUSD-FUT", size: 150000, entryPrice: 91000)],
                    orders: [Order(symbol: "BTCUSDT", side: .sell, qty: 2, price: 91500)]),
            Account(id: "NEAR-FUTURE-HEDGE", spotHedging: true,
                    balances: [Balance(coin: "BTC", walletBalance: -1), Balance(coin: "USDC", walletBalance: 20000)],
                    positions: [Position(symbol: "BTCUSDC-NEAR", size: 2, entryPrice: 91000),
                                Position(symbol: "BTC-NEAR-91000-C-USDC", size: -2)],
                    orders: [Order(symbol: "BTC-NEAR-91000-C-USDC", side: .buy, qty: 1, price: 320)]),
        ]
        // The shipped set (1800 s of decay) and the exotic one (BTC decays over 3600 s).
        for (name, set) in [("shipped", Self.params), ("exotic", Self.exoticParams)] {
            let priced = PricedMarket(market: snapshot, parameters: set)
            for account in accounts {
                let problems = Self.crossCheck(account, market: snapshot, params: set, priced: priced)
                #expect(problems.isEmpty, "\(name), \(secondsLeft) s: \(problems.count) disagreement(s):\n\(problems.prefix(40).joined(separator: "\n"))")
            }
        }
    }

    /// The decay rule itself, in the plain model: 900 s before expiry an option's move is half.
    @Test func plainDecayHalvesTheMoveAt900Seconds() throws {
        let snapshot = try Self.nearExpiryMarket(secondsLeft: 900)
        let p = Self.params.parameters(for: "BTC")
        let option = snapshot.instrument("BTC-NEAR-91000-C-USDC")!
        #expect(TestSupport.near(PlainModel.optionMove(0.1, option, snapshot, p), 0.05, within: 1e-15))
        #expect(PlainModel.optionMove(-0.1, snapshot.instrument("BTC-FAR-95000-C-USDC")!, snapshot, p) == -0.1)
    }
}
