import Foundation
import Testing
@testable import PMGenerate
@testable import PortfolioMargin
@testable import PMTestSupport

/// `SyntheticMarket`, `SyntheticAccounts` and `pm generate`.
struct GenerateTests {
    // MARK: - Market

    @Test func marketOfSeedOneIsTheShippedSample() throws {
        let shipped = try String(contentsOfFile: GeneratedBook.path("data/sample/market.json"), encoding: .utf8)
        #expect(SyntheticMarket.make(seed: 1) == shipped)
    }

    @Test func marketIsDeterministicPerSeedAndValid() throws {
        let a = SyntheticMarket.make(seed: 7)
        #expect(a == SyntheticMarket.make(seed: 7))
        #expect(a != SyntheticMarket.make(seed: 1))
        let m = try MarketSnapshot.parse(JSON.parse(a))
        #expect(m.instrumentProblems.isEmpty)
        #expect(m.instruments.count > 500)
        let kinds = Set(m.instruments.map { "\($0.kind.rawValue)/\($0.isInverse)/\($0.kind == .option ? $0.settleCoin : "")" })
        for k in ["option/false/USDC", "option/false/USDT", "perpetual/false/", "perpetual/true/", "future/false/", "future/true/"] {
            #expect(kinds.contains(k), "missing \(k)")
        }
        // The index levels move by at most ±1%.
        for coin in ["BTC", "ETH", "SOL"] {
            let r = m.indexPrices[coin]! / GeneratedBook.market.indexPrices[coin]!
            #expect(TestSupport.near(r, 1, within: 0.0101))
        }
        #expect(m.indexPrices["USDT"] == 0.9998 && m.indexPrices["USDC"] == 1.0)
    }

    // MARK: - Accounts: bytes

    @Test func sameSeedSameBytesWhateverTheBlockSize() throws {
        let a = try GeneratedBook.generate(3000, seed: 42)
        let b = try GeneratedBook.generate(3000, seed: 42, blockSize: 77)
        for f in SyntheticAccounts.File.allCases { #expect(a[f] == b[f], "\(f.fileName) differs") }
        // A prefix of a longer run is the shorter run.
        let c = try GeneratedBook.generate(1000, seed: 42, blockSize: 100)
        #expect(a[.accounts]!.starts(with: c[.accounts]!))
        #expect(a[.positions]!.starts(with: c[.positions]!))
    }

    @Test func differentSeedDifferentBytes() throws {
        let a = try GeneratedBook.generate(500, seed: 1)
        let b = try GeneratedBook.generate(500, seed: 2)
        #expect(a[.positions] != b[.positions])
        #expect(a[.balances] != b[.balances])
        // Same ids (the hedging flags differ).
        #expect(GeneratedBook.rows(a, .accounts).map { $0[0] } == GeneratedBook.rows(b, .accounts).map { $0[0] })
    }

    @Test func writesWholeFilesIntoAFolder() throws {
        let base = TestTemp.dir("generate")
        defer { TestTemp.remove(base) }
        let dir = URL(fileURLWithPath: base + "/out")
        let counts = try SyntheticAccounts(market: GeneratedBook.market, parameters: TestSupport.shippedParams, seed: 5).write(count: 700, to: dir.path)
        let mem = try GeneratedBook.generate(700, seed: 5)
        for f in SyntheticAccounts.File.allCases {
            let disk = try [UInt8](Data(contentsOf: dir.appendingPathComponent(f.fileName)))
            #expect(disk == mem[f])
            #expect(GeneratedBook.rows(mem, f).count == counts[f])
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(!names.contains { $0.hasSuffix(".tmp") })
        #expect(counts.accounts == 700)
    }

    // MARK: - Accounts: contents

    @Test func rowsReferenceTheMarketAndTheirAccounts() throws {
        let files = try GeneratedBook.generate(2000, seed: 1)
        let ids = GeneratedBook.rows(files, .accounts).map { String($0[0]) }
        #expect(ids.count == 2000)
        #expect(Set(ids).count == ids.count)
        #expect(ids.first == "ACC-0000001" && ids.last == "ACC-0002000")
        #expect(ids == (0..<2000).map(SyntheticAccounts.accountId))
        let idSet = Set(ids)
        let coins = Set(GeneratedBook.market.indexPrices.keys)
        for r in GeneratedBook.rows(files, .accounts) { #expect(r.count == 2 && (r[1] == "true" || r[1] == "false")) }
        for r in GeneratedBook.rows(files, .balances) {
            #expect(r.count == 3 && idSet.contains(String(r[0])) && coins.contains(String(r[1])))
            #expect(Double(r[2]).map { $0.isFinite } == true)
        }
        var positionsOf: [Substring: Int] = [:]
        var symbolsOf: [Substring: Set<Substring>] = [:]
        for r in GeneratedBook.rows(files, .positions) {
            #expect(r.count == 4 && idSet.contains(String(r[0])))
            let inst = GeneratedBook.market.instrument(String(r[1]))
            #expect(inst != nil, "unknown symbol \(r[1])")
            #expect(GeneratedBook.market.instrumentProblems[String(r[1])] == nil)
            let size = Double(r[2])
            #expect(size != nil && size != 0 && size!.isFinite)
            if !r[3].isEmpty { #expect(Double(r[3]).map { $0 > 0 } == true) }
            if inst?.isInverse == true { #expect(size == size?.rounded(), "inverse sizes are whole USD contracts") }
            positionsOf[r[0], default: 0] += 1
            #expect(symbolsOf[r[0], default: []].insert(r[1]).inserted, "\(r[0]) holds \(r[1]) twice")
        }
        for r in GeneratedBook.rows(files, .orders) {
            #expect(r.count == 5 && idSet.contains(String(r[0])))
            let inst = GeneratedBook.market.instrument(String(r[1]))
            #expect(inst != nil, "unknown symbol \(r[1])")
            #expect(r[2] == "Buy" || r[2] == "Sell")
            let qty = Double(r[3]), price = Double(r[4])
            #expect(qty != nil && qty! > 0)
            #expect(price != nil && price! > 0)
            if let inst, let price, inst.kind != .option {
                #expect(TestSupport.near(price / inst.markPrice, 1, within: 0.2), "limit price \(price) far from mark \(inst.markPrice)")
            }
        }
        let mean = Double(positionsOf.values.reduce(0, +)) / 2000
        #expect(mean >= 8 && mean <= 20, "mean position rows per account \(mean)")
    }

    @Test func mixContainsEveryArchetype() throws {
        let n = 2000
        let gen = try SyntheticAccounts(market: GeneratedBook.market, parameters: TestSupport.shippedParams, seed: 1)
        var seen = Set<SyntheticAccounts.Archetype>()
        for a in 0..<n { seen.insert(gen.archetype(of: a)) }
        #expect(seen == Set(SyntheticAccounts.Archetype.allCases))
        #expect(TestSupport.near(SyntheticAccounts.mix.reduce(0) { $0 + $1.1 }, 1, within: 1e-12))

        let accounts = GeneratedBook.accounts(try GeneratedBook.generate(n, seed: 1))
        let inverse = { (s: String) in GeneratedBook.market.instrument(s)?.isInverse == true }
        let settle = { (s: String) in GeneratedBook.market.instrument(s)?.settleCoin ?? "" }
        let isPerp = { (s: String) in GeneratedBook.market.instrument(s)?.kind == .perpetual }
        #expect(accounts.contains { $0.positions.count >= 100 }, "a market maker")
        #expect(accounts.contains { $0.spotHedging && $0.balances.contains { $0.walletBalance < 0 && $0.coin != "USDT" && $0.coin != "USDC" } },
                "a basis trader with a liability")
        #expect(accounts.contains { $0.spotHedging && $0.balances.contains { $0.walletBalance > 0 && $0.coin == "BTC" }
                                    && $0.positions.contains { $0.size < 0 && GeneratedBook.market.instrument($0.symbol)?.kind != .option } },
                "a basis trader long spot, short a derivative")
        #expect(accounts.contains { a in a.orders.contains { $0.side == .buy } && a.orders.contains { $0.side == .sell } })
        #expect(accounts.contains { a in a.positions.contains { inverse($0.symbol) } })
        #expect(accounts.contains { a in a.positions.contains { GeneratedBook.market.instrument($0.symbol)?.kind == .future && inverse($0.symbol) } })
        #expect(accounts.contains { a in
            a.positions.contains { isPerp($0.symbol) && settle($0.symbol) == "USDT" && $0.size > 0 }
                && a.positions.contains { settle($0.symbol) == "USDC" && !GeneratedBook.market.instrument($0.symbol)!.isInverse && $0.size < 0 }
        }, "a cross-stablecoin hedge")
        #expect(accounts.contains { a in
            let options = a.positions.filter { GeneratedBook.market.instrument($0.symbol)?.kind == .option }
            return options.count >= 2 && options.allSatisfy { $0.size < 0 }
                && Set(options.map { GeneratedBook.market.instrument($0.symbol)!.optionType! }).count == 2
        }, "a short strangle")
        // Collateral: mostly stablecoins, some BTC/ETH.
        let holdsCoin = accounts.filter { $0.balances.contains { ($0.coin == "BTC" || $0.coin == "ETH") && $0.walletBalance > 0 } }.count
        let holdsStable = accounts.filter { $0.balances.contains { ($0.coin == "USDT" || $0.coin == "USDC") && $0.walletBalance > 0 } }.count
        #expect(holdsStable > n * 8 / 10)
        #expect(holdsCoin > n / 20 && holdsCoin < n / 3)
    }

    @Test func engineFindsEveryStage() throws {
        let n = 2000
        let gen = try SyntheticAccounts(market: GeneratedBook.market, parameters: TestSupport.shippedParams, seed: 1)
        let accounts = GeneratedBook.accounts(try GeneratedBook.generate(n, seed: 1))
        let priced = PricedMarket(market: GeneratedBook.market, parameters: GeneratedBook.params)
        let result = MarginEngine.run(Book(priced: priced, accounts: accounts))
        var stages: [Stage: Int] = [:]
        var byArchetype: [SyntheticAccounts.Archetype: [Stage: Int]] = [:]
        for a in 0..<n {
            guard case let .success(r) = result.result(of: a) else {
                Issue.record("account \(accounts[a].id) rejected: \(result.result(of: a))")
                continue
            }
            stages[r.stage, default: 0] += 1
            byArchetype[gen.archetype(of: a), default: [:]][r.stage, default: 0] += 1
        }
        for s in Stage.allCases { #expect((stages[s] ?? 0) > 0, "no account in stage \(s)") }
        #expect((stages[.healthy] ?? 0) > n * 8 / 10, "most accounts are healthy: \(stages)")
        // The distressed archetypes land where they were sized to.
        for (arch, stage) in [(SyntheticAccounts.Archetype.nearLimit, Stage.healthy), (.imBreach, .imBreach),
                              (.autoRepay, .autoRepay), (.liquidation, .liquidation)] {
            let counts = byArchetype[arch] ?? [:]
            let total = counts.values.reduce(0, +)
            #expect(total > 0)
            #expect(Double(counts[stage] ?? 0) >= 0.9 * Double(total), "\(arch): \(counts)")
        }
    }

    /// Any market works: a small one with unusable instruments, or one with a single perpetual.
    @Test(arguments: ["fixture", "perpetual only"])
    func otherMarketsGiveValidAccounts(_ which: String) throws {
        let market: MarketSnapshot
        if which == "fixture" {
            market = try MarketSnapshot.load(path: GeneratedBook.path("Tests/Fixtures/market.json"))
        } else {
            market = try MarketSnapshot(time: 0, indexPrices: ["BTC": 60000, "USDT": 1],
                                        instruments: [Instrument(symbol: "BTCUSDT", kind: .perpetual, baseCoin: "BTC", settleCoin: "USDT", markPrice: 60010)])
        }
        let files = try GeneratedBook.generate(3000, seed: 11, market: market)
        let accounts = GeneratedBook.accounts(files)
        #expect(accounts.count == 3000)
        for a in accounts {
            for p in a.positions { #expect(market.instrument(p.symbol) != nil && market.instrumentProblems[p.symbol] == nil) }
            for o in a.orders { #expect(market.instrumentProblems[o.symbol] == nil && o.qty > 0 && o.price > 0) }
        }
        let result = MarginEngine.run(Book(priced: PricedMarket(market: market, parameters: GeneratedBook.params), accounts: accounts))
        for a in 0..<accounts.count {
            if case let .failure(e) = result.result(of: a) { Issue.record("\(accounts[a].id): \(e)") }
        }
    }
}
