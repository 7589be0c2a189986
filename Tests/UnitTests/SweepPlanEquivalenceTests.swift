import Foundation
import Testing
@testable import PMGenerate
@testable import PortfolioMargin
@testable import pm
@testable import PMTestSupport

/// The sweep's shared evaluation (`SweepPlan`: a max loss per distinct column, contingencies per
/// distinct contingency input, totals per distinct totals input) against the straightforward path:
/// one `MarginEngine.run` per combination's `PricedMarket` on the book repriced to it. Bit for bit,
/// per account (MM, IM, stage), for settings that reach one part of the engine, one coin, every
/// coin, or change the grid size — a reuse that reuses what it should not fails here.
struct SweepPlanEquivalenceTests {
    /// The shipped parameters with ETH and SOL on the `default` entry, so `default.…` reaches them
    /// (and not BTC, which keeps its own entry).
    static let paramsWithDefaults: ParameterSet = {
        var p = TestSupport.shippedParams
        p.coins["ETH"] = nil
        p.coins["SOL"] = nil
        return p
    }()

    struct Case: CustomTestStringConvertible, Sendable {
        var settings: [String]
        var defaults = false
        var testDescription: String { settings.joined(separator: " ") + (defaults ? " (ETH, SOL on default)" : "") }
    }

    static let cases: [Case] = [
        Case(settings: ["BTC.priceRange=0.08,0.15", "shock.BTC=-0.2,0.1"]),          // the bench's kind
        Case(settings: ["default.priceRange=0.12,0.2"], defaults: true),             // reaches ETH and SOL, not BTC
        Case(settings: ["default.shortOptionFactor=0.001,0.05"], defaults: true),
        Case(settings: ["shock.ETH=-0.15,0.1"]),
        Case(settings: ["shock.USDT=-0.05,0.02"]),                                    // every coin: settle index, collateral
        Case(settings: ["ivScale=0.8,1.3"]),                                          // every coin
        Case(settings: ["BTC.pricePoints=5,21", "shock.SOL=0.1"]),                    // grid size changes
        Case(settings: ["BTC.shortOptionFactor=0.001,0.05", "ETH.futuresRiskFactor=0.02"]),  // contingencies only
        Case(settings: ["BTC.basisFactor=0.2", "BTC.basisThreshold=0.0001"]),
        Case(settings: ["ETH.ivUp=0.9,1.2"]),                                         // risk arrays only
        Case(settings: ["SOL.imFactor=1.6,2"]),                                       // IM only
        Case(settings: ["BTC.collateralValueRatio=0.5,0.7"]),                         // totals only
        Case(settings: ["USDC.borrowMMRate=0.3", "USDT.borrowIMRate=0.4,0.6"]),
    ]

    static func setting(_ text: String) throws -> SweepSetting {
        if text.hasPrefix("shock.") { return try SweepSetting.parseShock(String(text.dropFirst(6))) }
        if text.hasPrefix("ivScale=") { return try SweepSetting.parseIvScale(String(text.dropFirst(8))) }
        return try SweepSetting.parseSet(text)
    }

    /// MM, IM and stage of every account under `priced`: one engine run per block of the book
    /// repriced to it — no sharing of anything between markets.
    static func reference(_ books: [Book], _ priced: PricedMarket, options: EngineOptions) -> AccountFigures {
        var f = AccountFigures(mm: [], im: [], stage: [])
        for book in books {
            let r = MarginEngine.run(book.priced === priced ? book : book.repriced(priced), options: options)
            f.mm += r.totalMM; f.im += r.totalIM; f.stage += r.stage
        }
        return f
    }

    static func same(_ x: Double, _ y: Double) -> Bool { x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN) }

    static func inputs(seed: UInt64, count: Int, params: ParameterSet) throws -> (BatchInput, PricedMarket) {
        let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: params)
        let dir = BatchFiles.tempDir("sweepspeed")
        _ = try SyntheticAccounts(market: priced.market, parameters: params, seed: seed).write(count: count, to: dir)
        // Accounts at the edges, appended in accounts.csv order: an input error, figures that
        // overflow (docs/model.md §10: an error in every combination), one near the overflow, and a
        // spot-hedged unit whose leg every column adds.
        func append(_ file: String, _ rows: String) throws {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/" + file))
            h.seekToEndOfFile(); h.write(rows.data(using: .utf8)!); try h.close()
        }
        try append("accounts.csv", "EDGE-1,false\nEDGE-2,false\nEDGE-3,false\nEDGE-4,true\n")
        try append("balances.csv", "EDGE-3,USDT,1000\nEDGE-4,BTC,5\nEDGE-4,USDT,-20000\n")
        try append("positions.csv", "EDGE-1,NOPE-PERP,1,\nEDGE-2,BTCUSDT,1e306,\nEDGE-3,ETHUSDT,3e302,\nEDGE-4,BTCUSDT,-3,\nEDGE-4,ETHUSDT,2,\n")
        return (try BatchInput.load(directory: dir, priced: priced), priced)
    }

    @Test(arguments: cases, [EngineOptions.Aggregation.sparse, .dense, .automatic])
    func sharedEqualsOneRunPerCombination(_ c: Case, _ mode: EngineOptions.Aggregation) throws {
        let params = c.defaults ? Self.paramsWithDefaults : TestSupport.shippedParams
        let (input, priced) = try Self.inputs(seed: 29 + UInt64(c.settings.count), count: 700, params: params)
        let settings = try c.settings.map(Self.setting)
        let markets = try [priced] + Sweep.combinations(settings).map { try Sweep.scenario(settings, values: $0, base: priced) }
        let options = EngineOptions(aggregation: mode, denseThreshold: mode == .automatic ? 0.3 : nil)
        // Blocks of 128: several per worker, and accounts at block edges.
        let books = BatchRunner.books(input, priced: priced, threads: 2, blockSize: 128)
        let figures = Sweep.onePass(books, markets: markets, accounts: input.accountCount, threads: 2, options: options)
        var staged = 0
        let ids = books.flatMap(\.accountIds)
        let edge2 = ids.firstIndex(of: "EDGE-2")!
        for (m, market) in markets.enumerated() {
            #expect(figures[m].stage[edge2] == nil && figures[m].mm[edge2].isNaN, "market \(m): an overflow is an error")
            let one = Self.reference(books, market, options: options)
            for a in 0..<input.accountCount {
                #expect(figures[m].stage[a] == one.stage[a], "market \(m) account \(a)")
                #expect(Self.same(figures[m].mm[a], one.mm[a]) && Self.same(figures[m].im[a], one.im[a]),
                        "market \(m) account \(a): \(figures[m].mm[a]) vs \(one.mm[a]), IM \(figures[m].im[a]) vs \(one.im[a])")
                if one.stage[a] != nil { staged += 1 }
            }
        }
        #expect(staged > markets.count * input.accountCount * 9 / 10)   // real figures, not errors
    }

    /// The plan shares exactly what the settings leave unchanged (so the test above exercises the
    /// reuse), and splits what they reach.
    @Test func planSharesOnlyWhatIsUnchanged() throws {
        func plan(_ texts: [String], params: ParameterSet = TestSupport.shippedParams) throws -> (SweepPlan, PricedMarket) {
            let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: params)
            let settings = try texts.map(Self.setting)
            let markets = try [priced] + Sweep.combinations(settings).map { try Sweep.scenario(settings, values: $0, base: priced) }
            return (SweepPlan(markets), priced)
        }
        func slot(_ p: PricedMarket, _ coin: String) -> Int { p.baseCoins.firstIndex(of: coin)! }

        // The bench's sweep: 10 BTC columns + base; ETH and SOL one; BTC contingencies per shock
        // (3), totals per shock (3).
        let (bench, p) = try plan(["BTC.priceRange=0.08,0.1,0.12,0.15,0.2", "shock.BTC=-0.2,0.1"])
        #expect(bench.risk.columns[slot(p, "BTC")].count == 11)
        #expect(bench.risk.columns[slot(p, "ETH")].count == 1 && bench.risk.columns[slot(p, "SOL")].count == 1)
        #expect(bench.contRep[slot(p, "BTC")].count == 3 && bench.contRep[slot(p, "ETH")].count == 1)
        #expect(bench.totalsRep.count == 3)

        // A default parameter reaches the coins on the default entry only.
        let (d, pd) = try plan(["default.priceRange=0.12,0.2"], params: Self.paramsWithDefaults)
        #expect(d.risk.columns[slot(pd, "BTC")].count == 1)
        #expect(d.risk.columns[slot(pd, "ETH")].count == 3 && d.risk.columns[slot(pd, "SOL")].count == 3)

        // A stablecoin's shock reaches every coin (settle index) and the totals.
        let (usdt, pu) = try plan(["shock.USDT=-0.05,0.02"])
        for coin in pu.baseCoins { #expect(usdt.risk.columns[slot(pu, coin)].count == 3, "\(coin)") }
        #expect(usdt.totalsRep.count == 3)

        // Contingency factors split contingencies, not columns; imFactor splits variants only;
        // collateral and borrowing rates split totals only.
        let (cont, pc) = try plan(["BTC.shortOptionFactor=0.001,0.05"])
        #expect(cont.risk.columns[slot(pc, "BTC")].count == 1 && cont.contRep[slot(pc, "BTC")].count == 3)
        #expect(cont.totalsRep.count == 1)
        let (im, pi) = try plan(["SOL.imFactor=1.6,2"])
        #expect(im.risk.columns[slot(pi, "SOL")].count == 1 && im.contRep[slot(pi, "SOL")].count == 1)
        #expect(im.variants[slot(pi, "SOL")].count == 3 && im.variants[slot(pi, "BTC")].count == 1)
        let (tot, pt) = try plan(["BTC.collateralValueRatio=0.5", "USDC.borrowMMRate=0.3"])
        #expect(tot.totalsRep.count == 2 && pt.baseCoins.allSatisfy { tot.variants[slot(pt, $0)].count == 1 })

        // ivScale: every coin, every part.
        let (iv, pv) = try plan(["ivScale=0.8,1.3"])
        for coin in pv.baseCoins { #expect(iv.risk.columns[slot(pv, coin)].count == 3 && iv.contRep[slot(pv, coin)].count == 3) }
    }

    /// The whole command's results (totals, stages, errors, top lists) are those of one engine
    /// pass per combination, bit for bit, with grids of different sizes among them.
    @Test func runEqualsThePerCombinationPath() throws {
        let (input, priced) = try Self.inputs(seed: 5, count: 900, params: TestSupport.shippedParams)
        let settings = try ["BTC.pricePoints=5,21", "shock.BTC=-0.2", "ivScale=0.9,1"].map(Self.setting)
        let options = EngineOptions(aggregation: .sparse)
        let together = try Sweep.run(input, base: priced, settings: settings, top: 9, threads: 2, options: options)
        let apart = try Sweep.run(input, base: priced, settings: settings, top: 9, threads: 2, options: options, aggregateTogether: false)
        #expect(together.count == 5 && apart.count == 5)
        for (x, y) in zip(together, apart) {
            #expect(x.values == y.values && x.stages == y.stages && x.errors == y.errors)
            #expect(x.totalMM.bitPattern == y.totalMM.bitPattern && x.totalIM.bitPattern == y.totalIM.bitPattern, "combination \(x.index)")
            #expect(x.top.map(\.account) == y.top.map(\.account) && x.top.map(\.mm) == y.top.map(\.mm), "combination \(x.index)")
        }
    }
}
