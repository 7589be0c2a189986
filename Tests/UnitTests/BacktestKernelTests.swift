import CKernels
import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The backtest's per-scenario kernels (CKernels/backtest.c) against the plain scenario-by-scenario
/// loops of docs/model.md §13 written here (a state machine for the transitions, a first-maximum
/// scan, Int128 quanta): on every code path, bit for bit, on edge values — S not a multiple of
/// the vector width, S = 1, NaN and ±inf, losses exactly at the threshold (a breach is strictly
/// above it), rounding ties of the quanta, and values on both sides of the 64-bit fast path's
/// bound (2⁵¹ quanta = 2¹⁹ USD) and of 2⁵² quanta.
@Suite struct BacktestKernelTests {
    struct Stats: Equatable {
        var breaches = 0, n00 = 0, n01 = 0, n10 = 0, n11 = 0, breachesIM = 0
        var worst = UInt64(0), worstAt = 0, finite = true

        init() {}
        init(_ s: pm_backtest_stats) {
            breaches = Int(s.breaches); n00 = Int(s.n00); n01 = Int(s.n01); n10 = Int(s.n10); n11 = Int(s.n11)
            breachesIM = Int(s.breachesIM); worst = s.worst.bitPattern; worstAt = Int(s.worstAt); finite = s.finite != 0
        }

        mutating func add(_ breach: Bool, after previous: Bool?) {
            if breach { breaches += 1 }
            switch (previous, breach) {
            case (nil, _): break
            case (false?, false): n00 += 1
            case (false?, true): n01 += 1
            case (true?, false): n10 += 1
            case (true?, true): n11 += 1
            }
        }
    }

    /// The unit pass, one scenario at a time.
    static func plainUnit(_ pnl: [Double], move: [Double], hedge h: Double, mm: Double, accountLoss: inout [Double]) -> Stats {
        var st = Stats()
        var previous: Bool?
        var worst = -Double.infinity, worstAt = 0, allFinite = true
        for q in pnl.indices {
            var u = pnl[q]
            if h != 0 {
                var v = h * move[q]
                if h < 0 { v = max(0, v) }
                u += v
            }
            let loss = -u
            st.add(loss > mm, after: previous)
            previous = loss > mm
            if loss > worst { worst = loss; worstAt = q }
            if !loss.isFinite { allFinite = false }
            accountLoss[q] += loss
        }
        st.worst = worst.bitPattern; st.worstAt = worstAt; st.finite = allFinite && worst.isFinite
        return st
    }

    /// The account pass, one scenario at a time, with Int128 sums of ``Backtest/quanta(_:)``; nil
    /// (nothing added) when a loss is out of range.
    static func plainAccount(_ loss: [Double], totalMM: Double, totalIM: Double, maxLoss: Double,
                             breachedMM: inout [Int], breachedIM: inout [Int], bookLoss: inout [Int128],
                             shortfall: inout [Int128]) -> Stats? {
        guard loss.allSatisfy({ abs($0) <= maxLoss }) else { return nil }
        var st = Stats()
        var previous: Bool?
        var worst = -Double.infinity, worstAt = 0
        for (q, x) in loss.enumerated() {
            st.add(x > totalMM, after: previous)
            previous = x > totalMM
            if x > totalMM { breachedMM[q] += 1; shortfall[q] += Backtest.quanta(x - totalMM) }
            if x > totalIM { st.breachesIM += 1; breachedIM[q] += 1 }
            if x > worst { worst = x; worstAt = q }
            bookLoss[q] += Backtest.quanta(x)
        }
        st.worst = worst.bitPattern; st.worstAt = worstAt
        return st
    }

    /// A loss for the passes: mostly moderate, often an edge value.
    static func value(_ g: inout SplitMix, mm: Double, special: Bool) -> Double {
        let sign: Double = g.chance(0.5) ? 1 : -1
        switch g.int(0, 15) {
        case 0: return mm
        case 1: return g.chance(0.5) ? 0.0 : -0.0
        case 2: return (Double(g.int(-1000, 1000)) + 0.5) * 0x1p-32            // a tie in quanta
        case 3: return sign * (0x1p19 - 0x1p-32 * Double(g.int(0, 2)))          // just below 2^51 quanta
        case 4: return sign * (0x1p19 + 0x1p-33 * Double(g.int(0, 2)))          // at and above it
        case 5: return sign * (0x1p20 + 0x1p-33 * Double(g.int(-1, 1)))         // around 2^52 quanta
        case 6: return sign * 0x1p20 * (1 + Double(g.int(0, 3)) * 0x1p-52)      // 2^52 quanta and the next ones
        case 7: return g.uniform(-0x1p40, 0x1p40)
        case 8: return special ? g.pick([Double.nan, .infinity, -.infinity]) : 1
        default: return g.uniform(-1.5, 1.5) * max(mm, 1)
        }
    }

    static let sizes = [1, 2, 3, 4, 5, 7, 63, 64, 65, 129, 1973]

    @Test(arguments: KernelChoice.allCases)
    func unitPassEqualsThePlainLoop(_ kernel: KernelChoice) {
        var g = SplitMix(seed: 31)
        for s in Self.sizes {
            for trial in 0..<40 {
                let mm = trial % 5 == 0 ? 0 : g.uniform(0, 1000)
                let special = trial % 4 == 3
                let hedge = trial % 3 == 0 ? 0 : g.uniform(-2, 2)
                let pnl = (0..<s).map { _ in Self.value(&g, mm: mm, special: special) }
                let move = (0..<s).map { _ in g.uniform(-50, 50) }
                let start = (0..<s).map { _ in g.uniform(-10, 10) }
                var plainLoss = start, loss = start
                let want = Self.plainUnit(pnl, move: move, hedge: hedge, mm: mm, accountLoss: &plainLoss)
                var st = pm_backtest_stats()
                pm_backtest_unit_isa(kernel.rawValue, s, pnl, move, hedge, mm, &loss, &st)
                #expect(Stats(st) == want, "\(kernel) S=\(s) trial \(trial)")
                #expect(loss.map(\.bitPattern) == plainLoss.map(\.bitPattern), "\(kernel) S=\(s) trial \(trial)")
            }
        }
    }

    @Test(arguments: KernelChoice.allCases)
    func accountPassEqualsThePlainInt128Sums(_ kernel: KernelChoice) {
        var g = SplitMix(seed: 32)
        for s in Self.sizes {
            for trial in 0..<40 {
                let totalMM = trial % 5 == 0 ? 0 : g.uniform(0, 1000), totalIM = totalMM * 1.25
                let maxLoss = trial % 7 == 6 ? 0x1p18 : Backtest.maxLoss
                let loss = (0..<s).map { _ in Self.value(&g, mm: totalMM, special: trial % 4 == 3) }
                var mmP = [Int](repeating: 1, count: s), imP = mmP
                var lossP = [Int128](repeating: -7, count: s), shortP = lossP
                let want = Self.plainAccount(loss, totalMM: totalMM, totalIM: totalIM, maxLoss: maxLoss,
                                             breachedMM: &mmP, breachedIM: &imP, bookLoss: &lossP, shortfall: &shortP)
                var mm = [Int64](repeating: 1, count: s), im = mm, fastLoss = [Int64](repeating: 0, count: s), fastShort = fastLoss
                // The wide sums start at −7 (two words, low first).
                var wideLoss = [UInt64](repeating: 0, count: 2 * s), wideShort = wideLoss
                for q in 0..<s { wideLoss[2 * q] = UInt64(bitPattern: -7); wideLoss[2 * q + 1] = .max }
                wideShort = wideLoss
                var st = pm_backtest_stats()
                let ok = pm_backtest_account_isa(kernel.rawValue, s, loss, totalMM, totalIM, maxLoss, &mm, &im, &fastLoss, &wideLoss,
                                                 &fastShort, &wideShort, &st)
                let label = "\(kernel) S=\(s) trial \(trial)"
                #expect((ok != 0) == (want != nil), "\(label)")
                guard let want, ok != 0 else {
                    // Refused: nothing added.
                    #expect(mm.allSatisfy { $0 == 1 } && fastLoss.allSatisfy { $0 == 0 } && fastShort.allSatisfy { $0 == 0 }, "\(label)")
                    #expect((0..<s).allSatisfy { Backtest.wide(&wideLoss, $0) == -7 && Backtest.wide(&wideShort, $0) == -7 }, "\(label)")
                    continue
                }
                #expect(Stats(st) == want, "\(label)")
                #expect(mm.map(Int.init) == mmP && im.map(Int.init) == imP, "\(label)")
                for q in 0..<s {
                    #expect(Backtest.wide(&wideLoss, q) + Int128(fastLoss[q]) == lossP[q], "\(label) q=\(q) loss \(loss[q])")
                    #expect(Backtest.wide(&wideShort, q) + Int128(fastShort[q]) == shortP[q], "\(label) q=\(q) loss \(loss[q])")
                    // The 64-bit part takes only terms of at most 2^51 quanta.
                    #expect(fastLoss[q].magnitude <= 1 << 51 && fastShort[q].magnitude <= 1 << 51, "\(label) q=\(q)")
                }
            }
        }
    }

    /// The quanta of a few values, worked by hand: ties go to the even quantum, and the bound of
    /// the 64-bit part (2⁵¹ quanta) and 2⁵² quanta are summed exactly on either side.
    @Test(arguments: KernelChoice.allCases)
    func quantaOfEdgeValues(_ kernel: KernelChoice) {
        let cases: [(Double, Int128)] = [
            (0.5 * 0x1p-32, 0), (1.5 * 0x1p-32, 2), (2.5 * 0x1p-32, 2), (-0.5 * 0x1p-32, 0), (-1.5 * 0x1p-32, -2),
            (-0.0, 0), (0x1p19, 1 << 51), (-0x1p19, -(1 << 51)), (0x1p19 - 0x1p-32, (1 << 51) - 1),
            (0x1p19 + 0x1p-33, 1 << 51), // 2^51 + 0.5 quanta: a tie, to the even 2^51
            (0x1p19 + 3 * 0x1p-33, (1 << 51) + 2), // 2^51 + 1.5: to the even 2^51 + 2
            (0x1p20, 1 << 52), (-0x1p20 - 0x1p-32, -(1 << 52) - 1), (0x1p64, Int128(1) << 96), (-0x1p64, -(Int128(1) << 96)),
        ]
        let s = cases.count
        let loss = cases.map(\.0)
        var mm = [Int64](repeating: 0, count: s), im = mm, fastLoss = mm, fastShort = mm
        var wideLoss = [UInt64](repeating: 0, count: 2 * s), wideShort = wideLoss
        var st = pm_backtest_stats()
        let ok = pm_backtest_account_isa(kernel.rawValue, s, loss, .infinity, .infinity, Backtest.maxLoss, &mm, &im,
                                         &fastLoss, &wideLoss, &fastShort, &wideShort, &st)
        #expect(ok == 1)
        for (q, c) in cases.enumerated() {
            #expect(Backtest.wide(&wideLoss, q) + Int128(fastLoss[q]) == c.1, "\(kernel) \(c.0)")
        }
        #expect(st.breaches == 0 && st.worst == 0x1p64 && st.worstAt == 13)
    }

    /// A loss exactly at the threshold is not a breach; one ulp above is; the transitions of
    /// 1 0 1 1 0 0 0 1 (S = 8) are n01 = 2, n10 = 2, n11 = 1, n00 = 2.
    @Test(arguments: KernelChoice.allCases)
    func breachIsStrictlyAboveAndTransitionsCount(_ kernel: KernelChoice) {
        let mm = 100.0
        let up = mm.nextUp
        let loss = [up, mm, up, 1e9, mm, -5, mm, up]
        var acc = [Double](repeating: 0, count: 8)
        var st = pm_backtest_stats()
        pm_backtest_unit_isa(kernel.rawValue, 8, loss.map { -$0 }, nil, 0, mm, &acc, &st)
        #expect(st.breaches == 4 && st.n01 == 2 && st.n10 == 2 && st.n11 == 1 && st.n00 == 2)
        #expect(st.worst == 1e9 && st.worstAt == 3 && st.finite == 1)
        #expect(acc == loss)
        // S = 1: one breach, no transition.
        pm_backtest_unit_isa(kernel.rawValue, 1, [-up], nil, 0, mm, &acc, &st)
        #expect(st.breaches == 1 && st.n00 + st.n01 + st.n10 + st.n11 == 0 && st.worstAt == 0)
        // Ties of the worst loss: the first one (scenario 2 of 2, 5, 6).
        pm_backtest_unit_isa(kernel.rawValue, 7, [0, 0, -9, 0, 0, -9, -9].map { $0 }, nil, 0, mm, &acc, &st)
        #expect(st.worst == 9 && st.worstAt == 2)
        // A NaN loss: not finite, and never the worst.
        pm_backtest_unit_isa(kernel.rawValue, 5, [-1, .nan, -3, -2, 0], nil, 0, mm, &acc, &st)
        #expect(st.finite == 0 && st.worst == 3 && st.worstAt == 2)
    }

    /// `Backtest.evaluate` as it was written before the kernels: per account, per unit, per
    /// scenario, with the plain loops above.
    static func plainEvaluate(_ book: Book, margins: BookResult, scenarios: BacktestScenarios, revaluation reval: Revaluation,
                              confidence: Double) -> BacktestResult {
        let s = scenarios.count, p = 1 - confidence
        var r = BacktestResult(accounts: book.accountCount, coins: scenarios.coins.count, scenarios: s)
        r.accountIds = book.accountIds
        var breachedMM = [Int](repeating: 0, count: s), breachedIM = breachedMM
        var bookLoss = [Int128](repeating: 0, count: s), shortfall = bookLoss
        for a in 0..<book.accountCount {
            if let e = margins.book.accountErrors[a] { r.fail(a, e.description); continue }
            var accountLoss = [Double](repeating: 0, count: s)
            var rows: [BacktestResult.UnitRow] = []
            var finite = true
            for u in book.unitStart[a]..<book.unitStart[a + 1] {
                let c = reval.coinOfSlot[Int(book.unitSlot[u])]
                let pf = Portfolio.positions.slot(ofUnit: u)
                var pnl = [Double](repeating: 0, count: s)
                for e in book.pfStart[pf]..<book.pfStart[pf + 1] {
                    let row = Int(reval.row[Int(book.entInstr[e])])
                    for q in 0..<s { pnl[q] += book.entSize[e] * reval.table[row * s + q] }
                }
                let h = UnitEvaluator.hedge(book: book, unit: u, portfolio: .positions, delta: book.priced.delta)
                let st = plainUnit(pnl, move: Array(reval.spotMove[(c * s)..<(c * s + s)]), hedge: h, mm: margins.unitMM[u],
                                   accountLoss: &accountLoss)
                if !st.finite { finite = false }
                rows.append(.init(coin: c, mm: margins.unitMM[u], breaches: st.breaches, worstLoss: Double(bitPattern: st.worst),
                                  worstScenario: st.worstAt,
                                  kupiecP: BacktestStatistics.kupiecP(breaches: st.breaches, scenarios: s, p: p),
                                  christoffersenP: BacktestStatistics.christoffersenP(n00: st.n00, n01: st.n01, n10: st.n10, n11: st.n11),
                                  zone: BacktestStatistics.zone(breaches: st.breaches, scenarios: s, p: p)))
            }
            let st = finite ? plainAccount(accountLoss, totalMM: margins.totalMM[a], totalIM: margins.totalIM[a], maxLoss: Backtest.maxLoss,
                                           breachedMM: &breachedMM, breachedIM: &breachedIM, bookLoss: &bookLoss, shortfall: &shortfall) : nil
            guard let st else {
                r.fail(a, InputError(record: "account \(book.accountIds[a])", field: "backtest",
                                     "value out of range: a scenario loss is not finite or beyond \(Backtest.maxLoss) USD").description)
                continue
            }
            r.setAccount(a, totalMM: margins.totalMM[a], totalIM: margins.totalIM[a], breachesMM: st.breaches, breachesIM: st.breachesIM,
                         worstLoss: Double(bitPattern: st.worst), worstScenario: st.worstAt,
                         kupiecP: BacktestStatistics.kupiecP(breaches: st.breaches, scenarios: s, p: p),
                         christoffersenP: BacktestStatistics.christoffersenP(n00: st.n00, n01: st.n01, n10: st.n10, n11: st.n11),
                         zone: BacktestStatistics.zone(breaches: st.breaches, scenarios: s, p: p), stage: margins.stage[a], units: rows)
        }
        r.totals.breachedMM = breachedMM; r.totals.breachedIM = breachedIM
        r.totals.bookLoss = bookLoss; r.totals.shortfall = shortfall
        return r
    }

    /// Every figure of two results, doubles by their bits.
    static func differences(_ x: BacktestResult, _ y: BacktestResult) -> [String] {
        func bits(_ a: [Double]) -> [UInt64] { a.map(\.bitPattern) }
        var d: [String] = []
        if x.error != y.error { d.append("error") }
        if bits(x.totalMM) != bits(y.totalMM) || bits(x.totalIM) != bits(y.totalIM) { d.append("totals") }
        if x.breachesMM != y.breachesMM || x.breachesIM != y.breachesIM { d.append("breaches") }
        if bits(x.worstLoss) != bits(y.worstLoss) || x.worstScenario != y.worstScenario { d.append("worst") }
        if bits(x.kupiecP) != bits(y.kupiecP) || bits(x.christoffersenP) != bits(y.christoffersenP) || x.zone != y.zone { d.append("tests") }
        if x.unitStart != y.unitStart || x.unitCoin != y.unitCoin || bits(x.unitMM) != bits(y.unitMM) || x.unitBreaches != y.unitBreaches {
            d.append("units")
        }
        if bits(x.unitWorstLoss) != bits(y.unitWorstLoss) || x.unitWorstScenario != y.unitWorstScenario { d.append("unit worst") }
        if bits(x.unitKupiecP) != bits(y.unitKupiecP) || bits(x.unitChristoffersenP) != bits(y.unitChristoffersenP) || x.unitZone != y.unitZone {
            d.append("unit tests")
        }
        if x.totals != y.totals { d.append("scenario totals") }
        return d
    }

    /// The scenarios, revaluation and margins of `book` over the shipped history (all of it, or
    /// the days `from`…`to`).
    static func backtestInputs(_ book: Book, from: String? = nil, to: String? = nil) throws
        -> (BacktestScenarios, Revaluation, BookResult) {
        let history = try History.load(directory: TestSupport.path("data/history"))
        var coins = Set<String>()
        for u in 0..<book.unitSlot.count { coins.insert(book.priced.baseCoins[Int(book.unitSlot[u])]) }
        let options = try BacktestOptions.parse(horizon: nil, from: from, to: to, confidence: nil)
        let scenarios = try BacktestScenarios(history: history, coins: coins.sorted(), options: options)
        return (scenarios, Revaluation(priced: book.priced, scenarios: scenarios), MarginEngine.run(book))
    }

    /// A generated book (every archetype) against the shipped history: the kernels give the plain
    /// loops' result exactly, on every code path.
    @Test func evaluateEqualsThePlainLoopsOnAGeneratedBook() throws {
        let accounts = GeneratedBook.accounts(try GeneratedBook.generate(400, seed: 3))
        let book = Book(priced: PricedMarket(market: GeneratedBook.market, parameters: TestSupport.shippedParams), accounts: accounts)
        let (scenarios, reval, margins) = try Self.backtestInputs(book)
        let want = Self.plainEvaluate(book, margins: margins, scenarios: scenarios, revaluation: reval, confidence: 0.99)
        #expect(want.totals.backtested > 300 && want.totals.breaches > 0 && scenarios.count > 1900)
        for kernel in KernelChoice.allCases {
            let got = Backtest.evaluate(book, margins: margins, scenarios: scenarios, revaluation: reval, confidence: 0.99, kernel: kernel)
            #expect(Self.differences(got, want).isEmpty, "\(kernel): \(Self.differences(got, want))")
            // The P&L table read in place rather than tile by tile (Revaluation.tiles).
            let inPlace = Backtest.evaluate(book, margins: margins, scenarios: scenarios, revaluation: reval, confidence: 0.99,
                                            kernel: kernel, tiled: false)
            #expect(Self.differences(inPlace, want).isEmpty, "\(kernel), in place: \(Self.differences(inPlace, want))")
        }
        // The 64-bit sums moved into the 128-bit ones after every account, every 2nd, every 7th.
        for every in [1, 2, 7] {
            let got = Backtest.evaluate(book, margins: margins, scenarios: scenarios, revaluation: reval, confidence: 0.99, flushEvery: every)
            #expect(Self.differences(got, want).isEmpty, "flush every \(every): \(Self.differences(got, want))")
        }
    }

    /// More accounts in one block than the 64-bit sums take before they are moved (4,095; also
    /// moved more often, and a request beyond the bound taken as the bound), some of them out of range (a position of 10¹⁷ BTC: losses beyond 2⁶⁴ USD), over a short window.
    @Test func evaluateEqualsThePlainLoopsOverManyAccountsWithFailures() throws {
        var accounts = GeneratedBook.accounts(try GeneratedBook.generate(4300, seed: 5))
        for k in stride(from: 17, to: accounts.count, by: 1000) {
            accounts[k].positions.append(Position(symbol: "BTCUSDT", size: 1e17))
        }
        let book = Book(priced: PricedMarket(market: GeneratedBook.market, parameters: TestSupport.shippedParams), accounts: accounts)
        let (scenarios, reval, margins) = try Self.backtestInputs(book, from: "2024-03-01", to: "2024-04-30")
        let want = Self.plainEvaluate(book, margins: margins, scenarios: scenarios, revaluation: reval, confidence: 0.99)
        let outOfRange = want.error.filter { $0?.contains("value out of range") == true }.count
        #expect(want.totals.backtested > 4096 && outOfRange >= 3 && scenarios.count > 40)
        for kernel in [KernelChoice.scalar, .automatic] {
            let got = Backtest.evaluate(book, margins: margins, scenarios: scenarios, revaluation: reval, confidence: 0.99, kernel: kernel)
            #expect(Self.differences(got, want).isEmpty, "\(kernel): \(Self.differences(got, want))")
        }
        for every in [1, 3, 4094, 4095, 4096] {
            let got = Backtest.evaluate(book, margins: margins, scenarios: scenarios, revaluation: reval, confidence: 0.99, flushEvery: every)
            #expect(Self.differences(got, want).isEmpty, "flush every \(every): \(Self.differences(got, want))")
        }
    }
}
