import Foundation
import Testing
import CKernels
@testable import PortfolioMargin
@testable import PMTestSupport

/// Issue 7: the engine is never silently wrong on extreme values (docs/model.md §10), and the
/// liquidation plan's `reduceUnit` step (docs/model.md §8).
struct EngineTrustTests {
    static let params = TestSupport.shippedParams

    /// The error of an account that must be out of range, or nil when it was (wrongly) margined.
    static func failure(_ account: Account, market: MarketSnapshot = TestSupport.smallMarket(),
                        params: ParameterSet = params) -> String? {
        switch MarginEngine.margin(account, priced: PricedMarket(market: market, parameters: params)) {
        case let .failure(e): return e.error.description
        case .success: return nil
        }
    }

    // MARK: Case 1 — overflow is the account's error

    @Test func hugeShortPerpetualIsOutOfRangeNotInfinite() {
        // 1e305 × 50,000 × 10% overflows the scenario P&L: MM was +inf, rate +inf, staged.
        let a = Account(id: "BIG", balances: [Balance(coin: "USDT", walletBalance: 1000)],
                        positions: [Position(symbol: "BTCUSDT", size: -1e305)])
        let e = Self.failure(a)
        #expect(e?.contains("value out of range") == true, "\(e ?? "margined")")
        #expect(e?.contains("unit BTC") == true && e?.contains("scenario P&L") == true, "\(e ?? "margined")")
    }

    @Test func infiniteMMWithInfiniteBalanceIsNotHealthy() {
        // Balance 1e305 BTC × 50,000 = +inf, MM +inf: the rate inf/inf = NaN used to stage `healthy`.
        let a = Account(id: "INF", balances: [Balance(coin: "BTC", walletBalance: 1e305)],
                        positions: [Position(symbol: "BTCUSDT", size: -1e305)])
        let e = Self.failure(a)
        #expect(e?.contains("value out of range") == true, "\(e ?? "margined")")
        #expect(e?.contains("balances") == true && e?.contains("BTC balance 1e+305 × index 50000") == true, "\(e ?? "margined")")
    }

    @Test func liabilityOverflowIsOutOfRange() {
        let a = Account(id: "DEBT", balances: [Balance(coin: "BTC", walletBalance: -1e305)])
        #expect(Self.failure(a)?.contains("value out of range") == true)
    }

    @Test func subnormalInverseMarkIsOutOfRange() {
        // An inverse perpetual marked at 1e-320: 1/mark is +inf (delta and unrealised P&L).
        let tiny = Instrument(symbol: "BTCUSD-TINY", kind: .perpetual, baseCoin: "BTC", settleCoin: "BTC", markPrice: Double.leastNonzeroMagnitude * 2024)  // ≈ 1e-320, subnormal
        let market = TestSupport.smallMarket(extra: [tiny])
        let a = Account(id: "SUB", balances: [Balance(coin: "USDT", walletBalance: 1000)],
                        positions: [Position(symbol: "BTCUSD-TINY", size: 100, entryPrice: 50000)])
        let e = Self.failure(a, market: market)
        #expect(e?.contains("value out of range") == true, "\(e ?? "margined")")
        // The same account without the instrument is fine, and so is an account that only shares its coin.
        let other = Account(id: "OK", balances: [Balance(coin: "USDT", walletBalance: 1000)], positions: [Position(symbol: "BTCUSD", size: 100)])
        #expect(Self.failure(other, market: market) == nil)
    }

    @Test func hugeFactorIsOutOfRange() {
        var p = Self.params
        p.coins["BTC", default: p.defaults].futuresRiskFactor = 1e308
        let a = Account(id: "FAC", balances: [Balance(coin: "USDT", walletBalance: 100000)],
                        positions: [Position(symbol: "BTCUSDT", size: 1)])
        let e = Self.failure(a, params: p)
        #expect(e?.contains("value out of range") == true && e?.contains("contingency") == true, "\(e ?? "margined")")
    }

    @Test func hugeSellOrderLossIsOutOfRange() {
        // A sell of 1e305 at half the mark: order loss −1e305 × 25,000 = −inf. min(0, ·) must not hide it.
        let a = Account(id: "ORD", balances: [Balance(coin: "USDT", walletBalance: 1000)],
                        orders: [Order(symbol: "BTCUSDT", side: .sell, qty: 1e305, price: 25000)])
        let e = Self.failure(a)
        #expect(e?.contains("value out of range") == true, "\(e ?? "margined")")
    }

    @Test func oneBadAccountLeavesTheOthersExact() throws {
        let good = Account(id: "GOOD", balances: [Balance(coin: "USDT", walletBalance: 20000)],
                           positions: [Position(symbol: "BTCUSDT", size: -1.5), Position(symbol: "C50-30", size: -2)])
        let bad = Account(id: "BAD", balances: [Balance(coin: "USDT", walletBalance: 1000)],
                          positions: [Position(symbol: "BTCUSDT", size: -1e305)])
        let priced = PricedMarket(market: TestSupport.smallMarket(), parameters: Self.params)
        let alone = try MarginEngine.margin(good, priced: priced).get()
        let r = MarginEngine.run(Book(priced: priced, accounts: [bad, good, bad]))
        #expect(r.stage[0] == nil && r.stage[2] == nil)
        #expect(r.totalMM[0].isNaN && r.mmRate[0].isNaN)
        if case .success = r.result(of: 0) { Issue.record("BAD margined") }
        #expect(try r.result(of: 1).get() == alone)
        #expect(r.summary().errors == 2 && r.summary().accounts == 3)
    }

    @Test func sweepRepricingThatOverflowsCountsErrors() throws {
        // A sweep reprices books built against the base market; an extreme factor in one
        // combination must make the accounts it touches errors, not +inf figures.
        let dir = BatchFiles.tempDir("trust-sweep")
        defer { TestTemp.remove(dir) }
        let accounts = [
            Account(id: "PERP", balances: [Balance(coin: "USDT", walletBalance: 100000)], positions: [Position(symbol: "BTCUSDT", size: 1)]),
            Account(id: "ETH", balances: [Balance(coin: "USDT", walletBalance: 100000)], positions: [Position(symbol: "ETHUSDT", size: 1)]),
        ]
        try BatchFiles.write(accounts, to: dir)
        let base = PricedMarket(market: TestSupport.smallMarket(), parameters: Self.params)
        let books = BatchRunner.books(try BatchInput.load(directory: dir, priced: base), priced: base)
        var p = Self.params
        p.coins["BTC", default: p.defaults].futuresRiskFactor = 1e308
        let f = BatchRunner.accountFigures(books, priced: PricedMarket(market: TestSupport.smallMarket(), parameters: p), accounts: 2)
        #expect(f.stage[0] == nil && f.mm[0].isNaN)
        #expect(f.stage[1] == .healthy && f.mm[1].isFinite)
        var c = SweepCombination(index: 1, values: [])
        f.summarize(into: &c)
        #expect(c.errors == 1 && c.totalMM.isFinite && c.totalMM == f.mm[1])
    }

    // MARK: Case 2 — absurd vols price within the no-arbitrage bounds

    @Test func absurdVolPricesAtItsLimitOnEveryPath() {
        let f = 50000.0, k = 60000.0, t = 30.0 / 365
        for sigma in [1e155, 1e200, 1e300, Double.infinity] {
            // Greeks (the scalar reference): call → F, put → K, call delta 1.
            let c = TestSupport.b76(f, k, t, sigma, call: true), p = TestSupport.b76(f, k, t, sigma, call: false)
            #expect(c.price == f && p.price == k && c.delta == 1, "greeks σ \(sigma): \(c) \(p)")
            for path in [KernelChoice.scalar, .avx2, .avx512] {
                let isa = path.rawValue
                var out = [Double](repeating: .nan, count: 3)
                pm_black76_batch_isa(isa, 3, [f, f, 40000], [k, k, k], [t, t, t], [sigma, sigma, sigma], [1, 0, 1], &out)
                #expect(out == [f, k, 40000], "isa \(path.pathName) σ \(sigma): \(out)")
                // Risk arrays: 17 options (a full vector and a tail), all calls at the absurd vol,
                // marked at 0 with settle index 1, so each entry is the price itself.
                let n = 17, moves = [-0.1, 0, 0.1]
                var risk = [Double](repeating: .nan, count: n * 9)
                for (reference, riskPath): (Int32, Int32) in [(0, isa), (1, KernelChoice.scalar.rawValue)] {
                    pm_risk_arrays_isa(riskPath, n, 3, moves, [Double](repeating: f, count: n), [Double](repeating: k, count: n),
                                       [Double](repeating: t, count: n), [Double](repeating: sigma, count: n),
                                       [Double](repeating: sigma, count: n), [Double](repeating: 0.5, count: n),
                                       [Double](repeating: 1, count: n), [Int8](repeating: 1, count: n),
                                       [Double](repeating: 0, count: n), [Double](repeating: 1, count: n), &risk)
                    for o in 0..<n {
                        for m in 0..<3 {
                            let moved = f * (1 + moves[m])
                            // Up and unchanged at the absurd vol: the limit F'. Down (vol 0.5): within [intrinsic, F'].
                            #expect(risk[o * 9 + m * 3] == moved && risk[o * 9 + m * 3 + 1] == moved,
                                    "isa \(isa) ref \(reference) σ \(sigma) option \(o) move \(m): \(risk[o * 9 + m * 3])")
                            let down = risk[o * 9 + m * 3 + 2]
                            #expect(down >= max(0, moved - k) - 1e-9 * f && down <= moved)
                        }
                    }
                }
            }
        }
    }

    @Test func shortCallAtAbsurdVolKeepsItsMargin() throws {
        // A short call whose shocked vol is absurd: before, the up scenarios priced it at F − K < 0,
        // so the short looked like a gain there and its MM collapsed. A markIv of 1e155 is refused
        // at load now (markIv ≤ 10, docs/model.md §10), but an up shock of 1e160 (a finite factor the
        // bounds allow) still makes the shocked vol absurd.
        let call = TestSupport.option("C-ABSURD", call: true, strike: 60000, days: 30, forward: 50000, iv: 0.5)
        var wild = call
        wild.markPrice = 50000  // its own limit price
        var params = Self.params
        let coin = call.baseCoin
        var coinParams = params.parameters(for: coin)
        coinParams.ivUp = 1e160
        params.coins[coin] = coinParams
        let priced = PricedMarket(market: TestSupport.smallMarket(extra: [wild]), parameters: params)
        let i = priced.market.indexOf("C-ABSURD")!
        let risk = priced.riskArray(of: i)
        let moves = priced.grids[Int(priced.coinSlot[i])].priceMoves
        for (k, s) in moves.enumerated() {
            // P&L of one long call = price − mark ∈ [intrinsic − mark, F' − mark], settle index 1.
            let moved = 50000 * (1 + s)
            for j in 0..<3 {
                #expect(risk[k * 3 + j] >= max(0, moved - 60000) - 50000 - 1e-6 && risk[k * 3 + j] <= moved - 50000 + 1e-6,
                        "move \(s) shock \(j): \(risk[k * 3 + j])")
            }
        }
        // Short 1: the worst scenario is the up move at the limit price, a loss of 10% of F.
        let r = try MarginEngine.margin(Account(id: "S", balances: [Balance(coin: "USDC", walletBalance: 100000)],
                                                positions: [Position(symbol: "C-ABSURD", size: -1)]), priced: priced).get()
        #expect(TestSupport.close(r.units[0].maxLoss, 5000, 1e-12), "\(r.units[0].maxLoss)")
    }

    // MARK: Case 3 — a non-finite table never reaches the max-loss scan

    @Test func maxLossScanIsSafeOnNonFiniteTables() {
        for bad in [Double.nan, .infinity, -.infinity] {
            for count in [33, 3, 5, 4] {
                for at in [0, count / 2, count - 1] {
                    var table = (0..<count).map { -Double($0 % 7) }
                    table[at] = bad
                    let r = table.withUnsafeBufferPointer { MaxLoss.worst($0.baseAddress!, count: count) }
                    #expect(r.maxLoss.isNaN && r.scenario >= 0 && r.scenario < count, "\(bad) at \(at) of \(count)")
                }
            }
        }
        // A table of NaNs only: the old scan looked for its minimum (+inf) past the end of the buffer.
        let p = UnsafeMutablePointer<Double>.allocate(capacity: 33)
        p.initialize(repeating: .nan, count: 33)
        let r = MaxLoss.worst(p, count: 33)
        #expect(r.maxLoss.isNaN && r.scenario == 0)
        p.deallocate()
        // Finite tables are unchanged: the first minimum.
        let t: [Double] = [3, -2, 5, -7, 1, -7, 0]
        #expect(t.withUnsafeBufferPointer { MaxLoss.worst($0.baseAddress!, count: 7) } == (7, 3))
    }

    static let tinyStrike = Instrument(symbol: "C-TINY", kind: .option, baseCoin: "BTC", settleCoin: "USDC", markPrice: 50000,
                                       expiry: TestSupport.t0 + 30 * TestSupport.day, optionType: .call, strike: 1e-305,
                                       underlyingPrice: 50000, markIv: 0.5)

    @Test func tinyStrikeFailsOnlyItsAccount() throws {
        let market = TestSupport.smallMarket(extra: [Self.tinyStrike])
        let priced = PricedMarket(market: market, parameters: Self.params)
        let user = Account(id: "TINY", balances: [Balance(coin: "USDC", walletBalance: 100000)], positions: [Position(symbol: "C-TINY", size: -1)])
        let good = Account(id: "GOOD", balances: [Balance(coin: "USDC", walletBalance: 100000)], positions: [Position(symbol: "C50-30", size: -1)])
        let r = MarginEngine.run(Book(priced: priced, accounts: [user, good]))
        #expect(r.stage[0] == nil)
        if case let .failure(e) = r.result(of: 0) { #expect(e.description.contains("C-TINY")) } else { Issue.record("TINY margined") }
        let alone = try MarginEngine.margin(good, priced: PricedMarket(market: TestSupport.smallMarket(), parameters: Self.params)).get()
        #expect(try r.result(of: 1).get() == alone)
        // What-if and the liquidation plan give the account's error too (no crash).
        if case .success = WhatIf.run(user, trades: [Trade(symbol: "C50-30", size: 1)], asOrders: false, priced: priced) {
            Issue.record("what-if margined TINY")
        }
        if case .success = LiquidationPlan.plan(for: user, priced: priced) { Issue.record("plan for TINY") }
    }

    // A NaN table can no longer be built from a market: the tiny strike is refused at load (strike
    // within 10^6 of the index) and PricedMarket marks any non-finite risk array invalid. The one
    // route left, a sweep's repricing, is `sweepRepricingThatOverflowsCountsErrors`; the scan
    // itself is `maxLossScanIsSafeOnNonFiniteTables`.

    // MARK: Case 4 — stage

    @Test func nanRatesAreNeverHealthy() {
        let policy = StagePolicy()
        #expect(AccountTotals.stage(mmRate: .nan, imRate: .nan, hasLiability: false, policy) == .liquidation)
        #expect(AccountTotals.stage(mmRate: 0.5, imRate: .nan, hasLiability: false, policy) == .imBreach)
        #expect(AccountTotals.stage(mmRate: 0.5, imRate: 0.5, hasLiability: false, policy) == .healthy)
        #expect(AccountTotals.stage(mmRate: .infinity, imRate: 0.5, hasLiability: false, policy) == .liquidation)
    }

    // MARK: CLI — margin, batch, whatif, liquidate, sweep

    static func marketWithTinyStrike(_ dir: String) throws -> String {
        var text = try String(contentsOfFile: TestSupport.path("data/sample/market.json"), encoding: .utf8)
        let line = #"{"symbol": "BTC-TINY-C-USDC", "kind": "option", "baseCoin": "BTC", "settleCoin": "USDC", "optionType": "Call", "strike": 1e-305, "expiry": "2026-12-25T08:00:00Z", "markPrice": 91687.05, "underlyingPrice": 91687.05, "markIv": 0.5},"#
        text = text.replacingOccurrences(of: "\"instruments\": [", with: "\"instruments\": [\n    " + line)
        let path = dir + "/market.json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// An account as docs/formats.md JSON (numbers in Swift's shortest round-trip form).
    static func jsonText(_ a: Account) -> String {
        let b = a.balances.map { "{\"coin\": \"\($0.coin)\", \"walletBalance\": \($0.walletBalance)}" }
        let p = a.positions.map { "{\"symbol\": \"\($0.symbol)\", \"size\": \($0.size)}" }
        return "{\"id\": \"\(a.id)\", \"spotHedging\": \(a.spotHedging), \"balances\": [\(b.joined(separator: ","))], "
            + "\"positions\": [\(p.joined(separator: ","))], \"orders\": []}"
    }

    @Test func commandsReportOutOfRangeAccountsAndComputeTheRest() throws {
        let dir = BatchFiles.tempDir("trust")
        defer { TestTemp.remove(dir) }
        let market = try Self.marketWithTinyStrike(dir)
        let good = Account(id: "GOOD", balances: [Balance(coin: "USDT", walletBalance: 20000)], positions: [Position(symbol: "BTCUSDT", size: -0.5)])
        let accounts = [
            Account(id: "BIG", balances: [Balance(coin: "USDT", walletBalance: 1000)], positions: [Position(symbol: "BTCUSDT", size: -1e305)]),
            good,
            Account(id: "RICH", balances: [Balance(coin: "BTC", walletBalance: 1e305)], positions: [Position(symbol: "BTCUSDT", size: -1e305)]),
            Account(id: "TINY", balances: [Balance(coin: "USDC", walletBalance: 1000)], positions: [Position(symbol: "BTC-TINY-C-USDC", size: -1)]),
        ]
        try BatchFiles.write(accounts, to: dir)
        let out = try CLI.run(["batch", "--input", dir, "--market", market, "--out", dir + "/out"])
        #expect(out.status == 0 || out.status == 3, "\(out.stderr)")
        let rows = try BatchFiles.read(dir + "/out/margins.csv")
        #expect(rows.map { $0["account_id"]! } == ["BIG", "GOOD", "RICH", "TINY"])
        for r in rows where r["account_id"] != "GOOD" {
            #expect(r["stage"] == "" && r["total_mm"] == "" && !(r["error"] ?? "").isEmpty, "\(r)")
        }
        let g = rows[1]
        #expect(g["stage"] == "healthy" && g["error"] == "")
        let units = try String(contentsOfFile: dir + "/out/units.csv", encoding: .utf8)
        // No non-finite number anywhere (the error messages name the quantity, not its value).
        let all = try String(contentsOfFile: dir + "/out/margins.csv", encoding: .utf8) + units
        #expect(!all.lowercased().contains("nan") && !all.lowercased().contains("inf"), "\(all)")
        #expect(units.split(separator: "\n").count == 2)   // header + GOOD's BTC unit
        let priced = PricedMarket(market: try MarketSnapshot.load(path: market), parameters: Self.params)
        let expected = try MarginEngine.margin(good, priced: priced).get()
        #expect(TestSupport.close(Double(g["total_mm"]!)!, expected.totalMM))

        // margin (single account: exit 1 with the error; array: an error entry beside a result)
        for a in accounts where a.id != "GOOD" {
            let path = dir + "/\(a.id).json"
            try Self.jsonText(a).write(toFile: path, atomically: true, encoding: .utf8)
            let m = try CLI.run(["margin", path, "--market", market])
            #expect(m.status == 1 && !m.stderr.isEmpty && m.stdout.isEmpty, "margin \(a.id): \(m.status) \(m.stdout) \(m.stderr)")
            let w = try CLI.run(["whatif", path, "--market", market, "--add", "BTCUSDT:0.1"])
            #expect(w.status == 1 && !w.stderr.isEmpty, "whatif \(a.id): \(w.status) \(w.stderr)")
            let l = try CLI.run(["liquidate", path, "--market", market])
            #expect(l.status == 1 && !l.stderr.isEmpty, "liquidate \(a.id): \(l.status) \(l.stderr)")
        }
        let arrayPath = dir + "/all.json"
        try ("[" + accounts.map(Self.jsonText).joined(separator: ",") + "]").write(toFile: arrayPath, atomically: true, encoding: .utf8)
        let m = try CLI.run(["margin", arrayPath, "--market", market])
        let doc = try JSON.parse(m.stdout)
        guard case let .array(items) = doc else { Issue.record("not an array: \(m.stdout)"); return }
        #expect(items.count == 4 && items[1]["error"] == nil && items[0]["error"] != nil && items[2]["error"] != nil && items[3]["error"] != nil)

        // sweep: the out-of-range accounts are counted as errors in every combination.
        let sw = try CLI.run(["sweep", "--input", dir, "--market", market, "--set", "BTC.priceRange=0.12", "--out", dir + "/sw"])
        #expect(sw.status == 0 || sw.status == 3, "\(sw.stderr)")
        let sweep = try BatchFiles.read(dir + "/sw/sweep.csv")
        #expect(sweep.count == 2 && sweep.allSatisfy { $0["errors"] == "3" && $0["healthy"] == "1" }, "\(sweep)")
        #expect(sweep.allSatisfy { !($0["total_mm"]!.contains("n")) })
    }
}

/// docs/model.md §8: the `reduceUnit` step of the liquidation plan.
struct ReduceUnitTests {
    /// Long 11 BTCUSDT perpetual (mark 50,000) against short 10 BTCUSDC-F90X (mark 55,000, 90 days):
    /// equal USD deltas, so every scenario P&L is 0 (11·50,000·s − 10·55,000·s) and MM is the
    /// contingencies alone (BTC parameters):
    ///   E  perp & futures: (11 + 10) · 0.0003 · 50,000                       =    315
    ///   C  USDT–USDC:      (|11| + |−10| − |11 − 10|) / 2 · 0.001 · 50,000   =    500
    ///   D1 delta spread:   |0 − 90| · min(11, 10) · 50,000 · 0.0003          = 13,500
    ///   MM = 14,315. USDT 13,378.5 of collateral (ratio 1): mmRate = 14,315 / 13,378.5 ≈ 1.07.
    /// Cutting either leg alone by 10% opens 1.1 or 1 BTC of delta, 55,000 · 0.10 = 5,500 of max
    /// loss, against at most 1,415 of contingencies saved: no single step lowers MM.
    static let account = Account(id: "BASIS", balances: [Balance(coin: "USDT", walletBalance: 13378.5)],
                                 positions: [Position(symbol: "BTCUSDT", size: 11), Position(symbol: "BTCUSDC-F90X", size: -10)])

    @Test func startingPointIsAsWorkedOut() {
        let r = TestSupport.margin(Self.account)
        #expect(TestSupport.close(r.totalMM, 14315, 1e-9), "\(r.totalMM)")
        #expect(TestSupport.close(r.mmRate, 14315 / 13378.5, 1e-9) && TestSupport.near(r.mmRate, 1.07, within: 1e-6) && r.stage == .liquidation)
        #expect(r.units[0].maxLoss < 1e-6)
    }

    @Test func hedgedAccountGetsAProRataPlan() throws {
        let priced = PricedMarket(market: TestSupport.smallMarket(), parameters: TestSupport.shippedParams)
        let plan = try LiquidationPlan.plan(for: Self.account, priced: priced).get()
        // MM is positively homogeneous: scaling both legs by 0.9, then 0.8 of their starting sizes
        //   step 1: 9.9 / −9,  MM 0.9 · 14,315 = 12,883.5, rate 12,883.5 / 13,378.5 = 0.963000…
        //   step 2: 8.8 / −8,  MM 0.8 · 14,315 = 11,452,   rate 11,452 / 13,378.5   = 0.855999… ≤ 0.90
        // IM after: 1.2 · 11,452 / 13,378.5 = 1.0272 ≥ 1: imBreach.
        #expect(plan.steps.count == 2, "\(plan.steps)")
        #expect(plan.steps.allSatisfy { $0.action == .reduceUnit && $0.symbol == "BTC" })
        let mm = [12883.5, 11452.0]
        let sizes: [[(String, Double, Double)]] = [[("BTCUSDT", 11, 9.9), ("BTCUSDC-F90X", -10, -9)],
                                                   [("BTCUSDT", 9.9, 8.8), ("BTCUSDC-F90X", -9, -8)]]
        for (n, s) in plan.steps.enumerated() where n < 2 {
            #expect(TestSupport.close(s.mm, mm[n], 1e-9), "step \(n + 1) MM \(s.mm)")
            #expect(TestSupport.close(s.mmRate, mm[n] / 13378.5, 1e-9))
            #expect(s.positions.count == 2)
            for (p, want) in zip(s.positions, sizes[n]) {
                #expect(p.symbol == want.0 && TestSupport.close(p.sizeBefore, want.1, 1e-12) && TestSupport.close(p.sizeAfter, want.2, 1e-12), "\(p)")
            }
        }
        #expect(plan.outcome == "target reached" && plan.mmRateAfter <= 0.90 && plan.stageAfter == .imBreach)
        // Every step lowers MM.
        var last = plan.steps.isEmpty ? 0 : 14315.0
        for s in plan.steps { #expect(s.mm < last); last = s.mm }
    }

    @Test func deeperLiquidationMixesStepsAndEndsAtTheTarget() throws {
        // Less collateral (rate 2.0): reduceUnit until the target or nothing is left; every step lowers MM.
        var a = Self.account
        a.balances = [Balance(coin: "USDT", walletBalance: 14315.0 / 2)]
        a.positions.append(Position(symbol: "ETHUSDT", size: -3))
        let priced = PricedMarket(market: TestSupport.smallMarket(), parameters: TestSupport.shippedParams)
        let plan = try LiquidationPlan.plan(for: a, priced: priced).get()
        #expect(plan.steps.contains { $0.action == .reduceUnit })
        #expect(plan.mmRateAfter <= 0.90 || plan.outcome == "nothing left to reduce", "\(plan.outcome) \(plan.mmRateAfter)")
        var last = TestSupport.margin(a).totalMM
        for s in plan.steps { #expect(s.mm < last, "\(s)"); last = s.mm }
    }

    @Test func reduceUnitInJSONAndTable() throws {
        let priced = PricedMarket(market: TestSupport.smallMarket(), parameters: TestSupport.shippedParams)
        let plan = try LiquidationPlan.plan(for: Self.account, priced: priced).get()
        let step = plan.json["steps"]!
        guard case let .array(steps) = step else { Issue.record("steps"); return }
        #expect(steps[0]["action"] == .string("reduceUnit") && steps[0]["symbol"] == .string("BTC"))
        #expect(steps[0]["sizeBefore"] == .null && steps[0]["positions"] != nil)
        guard case let .array(ps) = steps[0]["positions"]! else { Issue.record("positions"); return }
        #expect(ps.count == 2 && ps[0]["symbol"] == .string("BTCUSDT"))
        let table = plan.table()
        #expect(table.contains("reduce unit BTC pro rata: BTCUSDT 11.0 → 9.9, BTCUSDC-F90X -10.0 → -9.0"), "\(table)")
    }
}
