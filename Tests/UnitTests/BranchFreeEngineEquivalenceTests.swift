import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The engine's speed work changed how the per-unit figures are computed, never what they are:
/// the branch-free contingency pass and what it reads precomputed per market
/// (`ContingencyInfo.basis`, the spare group, `ContingencyFactors`, the flat `bucketDays`). Each is
/// checked here bit for bit against the code it replaced (kept below, verbatim in its formulas),
/// on generated accounts over the sample market: options (USDC and USDT), futures, perpetuals,
/// inverse instruments, spot hedging with balances and liabilities, orders on both sides, nets
/// of zero and sizes whose products overflow (docs/model.md §10: NaN must stay NaN).
struct BranchFreeEngineEquivalenceTests {
    /// The sample market with its perpetuals and futures marked 8–15% off their index (cycling
    /// both ways), so §5D2's basis passes its 5% threshold and the basis term is exercised.
    let priced: PricedMarket = {
        let m = TestSupport.sampleMarket
        let moves = [1.12, 0.88, 1.0, 1.15, 0.92]
        var n = 0
        let instruments = m.instruments.map { i -> Instrument in
            guard i.kind != .option else { return i }
            var j = i
            j.markPrice = i.markPrice * moves[n % moves.count]
            n += 1
            return j
        }
        let market = try! MarketSnapshot(time: m.time, indexPrices: m.indexPrices, instruments: instruments)
        return PricedMarket(market: market, parameters: TestSupport.shippedParams)
    }()

    // MARK: The replaced code, as it was (the reference)

    /// The contingency pass before the speed work: one branch per kind, settlement bucket and
    /// first touch, `mark / index − 1` per holding, and the model's branchy sign tests.
    /// `basisTerms` counts the evaluations with a non-zero §5D2 basis term (coverage of that path).
    static func referenceContingencies(_ p: PricedMarket, slot: Int, instr: [Int32], size: [Double],
                                       hedge: Double, basisTerms: inout Int) -> Contingencies {
        let params = p.coinParams[slot], index = p.coinIndex[slot], days = p.bucketDTE[slot]
        var groupSize: [Int: Double] = [:], groups: [Int] = []
        var vega = [Double](repeating: 0, count: days.count), delta = vega, buckets: [Int] = [0]
        var usdt = 0.0, usdc = 0.0, usd = 0.0, basisWeight = 0.0, basisWeightedBasis = 0.0, futuresAbsDelta = 0.0
        delta[0] += hedge
        for (i, q) in zip(instr, size) {
            let h = p.contingencyInfo[Int(i)]
            let d = q * h.delta
            let m = Int(h.maturityBucket)
            if !buckets.contains(m) { buckets.append(m) }
            delta[m] += d
            switch h.settlement {
            case .usdt: usdt += d
            case .usdc: usdc += d
            case .usd: usd += d
            }
            if case .option = h.kind {
                let g = Int(h.strikeGroup)
                if groupSize[g] == nil { groups.append(g); groupSize[g] = 0 }
                groupSize[g]! += q
                vega[m] += q * h.coinVega
            } else {
                futuresAbsDelta += abs(d)
                if hedge != 0, q != 0, (q > 0) != (hedge > 0) {
                    let weight = abs(d)
                    basisWeight += weight
                    basisWeightedBasis += weight * (p.mark[Int(i)] / index - 1)
                }
            }
        }
        func sides(_ value: [Double]) -> (spread: Double, check: Double) {
            var long = 0.0, short = 0.0, longDays = 0.0, shortDays = 0.0, check = 0.0
            for b in buckets {
                let v = value[b], t = days[b]
                check += v - v
                if v > 0 { long += v; longDays += v * t } else if v < 0 { short -= v; shortDays -= v * t }
            }
            check += (longDays - longDays) + (shortDays - shortDays)
            guard long > 0 && short > 0 else { return (0, check) }
            return (abs(longDays / long - shortDays / short) * min(long, short), check)
        }
        var c = Contingencies()
        // A
        var netShort = 0.0, check = 0.0
        for g in groups {
            let s = groupSize[g]!
            check += s - s
            netShort += max(0, -s)
        }
        c.optionContingency = check == 0 ? netShort * params.shortOptionFactor * index : .nan
        // B
        let v = sides(vega)
        c.optionVegaContingency = v.check == 0 ? v.spread * params.vegaSpreadFactor * index : .nan
        // C
        if (usdt - usdt) + (usdc - usdc) + (usd - usd) == 0 {
            let spread = (abs(usdt) + abs(usdc) + abs(usd) - abs(usdt + usdc + usd)) / 2
            c.usdtUsdcContingency = spread * params.stablecoinSpreadFactor * index
        } else {
            c.usdtUsdcContingency = .nan
        }
        // D
        let d = sides(delta)
        if d.check + (basisWeight - basisWeight) + (basisWeightedBasis - basisWeightedBasis) == 0 {
            var spread = d.spread * index * params.deltaSpreadFactor
            if hedge != 0 {
                let basis = basisWeight > 0 ? basisWeightedBasis / basisWeight : 0
                let d2 = abs(hedge) * index * params.basisFactor * max(0, abs(basis) - params.basisThreshold)
                spread += d2
                if d2 > 0 { basisTerms += 1 }
            }
            c.futureDeltaContingency = spread
        } else {
            c.futureDeltaContingency = .nan
        }
        // E
        c.futureContingency = futuresAbsDelta - futuresAbsDelta == 0 ? futuresAbsDelta * params.futuresRiskFactor * index : .nan
        return c
    }

    // MARK: Generated accounts

    /// Random accounts over the sample market's valid instruments: 1–12 positions (a third of them
    /// repeat a symbol, some netting to exactly 0), orders on both sides, balances of the base coins
    /// (positive and negative, so both hedge directions), spot hedging on or off; `huge` makes a
    /// few sizes so large that their products overflow.
    func accounts(_ count: Int, seed: UInt64, huge: Bool = false) -> [Account] {
        var rng = SplitMix(seed: seed)
        let valid = priced.market.instruments.indices.filter { priced.problem[$0] == nil }.map { priced.market.instruments[$0] }
        let byCoin = Dictionary(grouping: valid, by: \.baseCoin)
        let coins = byCoin.keys.sorted()
        return (0..<count).map { n in
            var positions: [Position] = [], orders: [Order] = []
            let unitCoins = (0..<rng.int(1, 2)).map { _ in rng.pick(coins) }
            for _ in 0..<rng.int(1, 12) {
                let coin = rng.pick(unitCoins)
                // Linear instruments often: they are few, and D2, E and the USD bucket need them.
                let pool = rng.chance(0.4) ? byCoin[coin]!.filter { $0.kind != .option } : byCoin[coin]!
                let inst = rng.pick(pool.isEmpty ? byCoin[coin]! : pool)
                var size = (rng.uniform(-20, 20) * 100).rounded() / 100
                if huge && rng.chance(0.05) { size = rng.chance(0.5) ? 1e307 : -1e307 }
                positions.append(Position(symbol: inst.symbol, size: size, entryPrice: rng.chance(0.5) ? inst.markPrice * rng.uniform(0.8, 1.2) : nil))
                if rng.chance(0.3) {  // the same symbol again: netting, sometimes to exactly 0
                    positions.append(Position(symbol: inst.symbol, size: rng.chance(0.5) ? -size : rng.uniform(-5, 5)))
                }
            }
            for _ in 0..<rng.int(0, 4) {
                let inst = rng.pick(byCoin[rng.pick(unitCoins)]!)
                orders.append(Order(symbol: inst.symbol, side: rng.chance(0.5) ? .buy : .sell,
                                    qty: rng.uniform(0.01, 15), price: inst.markPrice * rng.uniform(0.7, 1.3)))
            }
            var balances = [Balance(coin: "USDT", walletBalance: rng.uniform(0, 1e6))]
            for coin in unitCoins where rng.chance(0.7) {
                balances.append(Balance(coin: coin, walletBalance: rng.uniform(-30, 30)))
            }
            return Account(id: "A\(n)", spotHedging: rng.chance(0.7), balances: balances, positions: positions, orders: orders)
        }
    }

    /// Every evaluated portfolio of every unit: the engine's contingencies equal the reference's,
    /// bit for bit (NaN where the reference is NaN).
    func checkContingencies(_ book: Book) -> (portfolios: Int, mismatches: [String], basisTerms: Int) {
        let calc = ContingencyCalculator(priced: priced)
        defer { calc.deallocate() }
        var checked = 0, bad: [String] = [], basisTerms = 0
        func bits(_ c: Contingencies) -> [UInt64] {
            [c.optionContingency, c.optionVegaContingency, c.usdtUsdcContingency, c.futureDeltaContingency,
             c.futureContingency].map { $0.isNaN ? 0x7FF8_0000_0000_0000 : $0.bitPattern }
        }
        for u in 0..<book.unitCount {
            let slot = Int(book.unitSlot[u])
            for k in Portfolio.allCases where book.pfPresent[k.slot(ofUnit: u)] {
                let pf = k.slot(ofUnit: u)
                let range = book.pfStart[pf]..<book.pfStart[pf + 1]
                guard !range.isEmpty else { continue }
                let h = UnitEvaluator.hedge(book: book, unit: u, portfolio: k, delta: priced.delta)
                let instr = Array(book.entInstr[range]), size = Array(book.entSize[range])
                let fast = instr.withUnsafeBufferPointer { i in size.withUnsafeBufferPointer { s in
                    calc.compute(priced: priced, slot: slot, instr: i.baseAddress!, size: s.baseAddress!, count: i.count, hedge: h)
                } }
                let ref = Self.referenceContingencies(priced, slot: slot, instr: instr, size: size, hedge: h, basisTerms: &basisTerms)
                checked += 1
                if bits(fast) != bits(ref) { bad.append("unit \(u) \(k): \(fast) vs \(ref)") }
            }
        }
        return (checked, bad, basisTerms)
    }

    @Test func contingenciesMatchTheBranchyPassBitForBit() {
        let book = Book(priced: priced, accounts: accounts(3000, seed: 7))
        #expect(book.accountErrors.allSatisfy { $0 == nil })
        let (n, bad, basisTerms) = checkContingencies(book)
        #expect(n > 4000)
        #expect(bad.isEmpty, "\(bad.prefix(3))")
        // The accounts reach every add-on (otherwise this test would prove little).
        let result = MarginEngine.run(book)
        for (name, f) in [("A", \Contingencies.optionContingency), ("B", \.optionVegaContingency), ("C", \.usdtUsdcContingency),
                          ("D", \.futureDeltaContingency), ("E", \.futureContingency)] as [(String, KeyPath<Contingencies, Double>)] {
            #expect(result.unitContingency.contains { $0[keyPath: f] > 0 }, "add-on \(name) never non-zero")
        }
        #expect(result.unitHedge.contains { $0 > 0 } && result.unitHedge.contains { $0 < 0 })
        // D2 (the basis part) is reached, not only D1.
        #expect(basisTerms > 100)
    }

    @Test func contingenciesMatchWhenSumsOverflow() {
        let book = Book(priced: priced, accounts: accounts(1500, seed: 11, huge: true))
        let (n, bad, _) = checkContingencies(book)
        #expect(n > 2000)
        #expect(bad.isEmpty, "\(bad.prefix(3))")
        // Some portfolios do overflow (NaN add-ons), so the NaN paths were compared too.
        let calcNaN = MarginEngine.run(book).book.accountErrors.contains { $0 != nil }
        #expect(calcNaN)
    }

    /// `ContingencyInfo` as precomputed: the basis is `mark / index − 1` of the instrument's coin,
    /// non-options sit in the spare group, beyond every coin's real groups.
    @Test func precomputedContingencyInfo() {
        for slot in priced.baseCoins.indices {
            #expect(Array(priced.bucketDays[priced.bucketStart[slot]..<priced.bucketStart[slot + 1]]) == priced.bucketDTE[slot])
            let f = ContingencyFactors(priced.coinParams[slot]), c = priced.contingencyFactors[slot]
            #expect(c.shortOptionFactor == f.shortOptionFactor && c.vegaSpreadFactor == f.vegaSpreadFactor
                    && c.stablecoinSpreadFactor == f.stablecoinSpreadFactor && c.deltaSpreadFactor == f.deltaSpreadFactor
                    && c.basisFactor == f.basisFactor && c.basisThreshold == f.basisThreshold
                    && c.futuresRiskFactor == f.futuresRiskFactor && f.futuresRiskFactor == priced.coinParams[slot].futuresRiskFactor)
        }
        let spare = priced.spareStrikeGroup
        #expect(Int(spare) == priced.strikeGroupCount.max())
        for i in priced.market.instruments.indices where priced.problem[i] == nil {
            let h = priced.contingencyInfo[i], slot = Int(priced.coinSlot[i])
            if priced.kind[i] == .option {
                #expect(h.basis == 0 && h.strikeGroup >= 0 && Int(h.strikeGroup) < priced.strikeGroupCount[slot])
            } else {
                #expect(h.basis.bitPattern == (priced.mark[i] / priced.coinIndex[slot] - 1).bitPattern)
                #expect(h.strikeGroup == spare && h.coinVega == 0)
            }
        }
    }

    /// The worst scenario is the first minimum, whatever lane of the SIMD minimum it falls in (ties
    /// and ±0 included): `worst` now takes it from each lane's first-minimum index instead of a
    /// forward scan, checked here against that scan (the reference below) on every table length
    /// 0…40, with ties, ±0 and a lone minimum in any lane or the tail.
    /// §5B/§5D1's spread through a mask (`MaturitySides.spread(_:)`) is the guarded formula bit
    /// for bit: either side empty (0), both present, tiny and huge values, ±∞ sides.
    @Test func maskedMaturitySpreadMatchesTheGuard() {
        var rng = SplitMix(seed: 11)
        let values: [Double] = [0, 0, 0, 1, 2.5, 1e-300, .leastNonzeroMagnitude, 1e300, .infinity, 3, 0.1, 7e5]
        for _ in 0..<50_000 {
            // No buckets: all sums +0, then set by hand.
            let none = UnsafeBufferPointer<Int32>(start: nil, count: 0)
            var m = [0.0].withUnsafeBufferPointer {
                MaturitySides($0.baseAddress!, buckets: none, days: UnsafeBufferPointer(start: nil, count: 0), masks: BranchFree.shared)
            }
            m.long = values[rng.int(0, values.count - 1)]
            m.short = values[rng.int(0, values.count - 1)]
            m.longDays = m.long * [0, 1, 30, 365.25, 0.5][rng.int(0, 4)]
            m.shortDays = m.short * [0, 2, 7, 90, 0.25][rng.int(0, 4)]
            let guarded: Double
            if m.long > 0 && m.short > 0 {
                guarded = abs(m.longDays / m.long - m.shortDays / m.short) * min(m.long, m.short)
            } else {
                guarded = 0
            }
            #expect(m.spread(BranchFree.shared).bitPattern == guarded.bitPattern, "\(m)")
            #expect(m.spread.bitPattern == guarded.bitPattern)
        }
    }

    @Test func worstScenarioIsTheFirstMinimum() {
        var rng = SplitMix(seed: 3)
        for _ in 0..<20_000 {
            let n = rng.int(0, 40)
            // Few distinct values, so ties and repeated minima are common; ±0 both appear.
            var t = (0..<n).map { _ in [-2.0, -1, -0.0, 0, 1, 3][rng.int(0, 5)] * (rng.chance(0.5) ? 1 : 1.5) }
            if n > 0 && rng.chance(0.2) { t[rng.int(0, n - 1)] = -7 }
            // Now and then a non-finite entry anywhere: NaN loss at scenario 0 (docs/model.md §10).
            if n > 0 && rng.chance(0.05) { t[rng.int(0, n - 1)] = [Double.nan, .infinity, -.infinity][rng.int(0, 2)] }
            let (loss, at, best) = t.withUnsafeBufferPointer {
                let p = $0.baseAddress ?? UnsafePointer(bitPattern: 8)!
                let w = MaxLoss.worst(p, count: n)
                return (w.maxLoss, w.scenario, MaxLoss.minimum(p, count: n))
            }
            guard t.allSatisfy(\.isFinite) else {
                #expect(loss.isNaN && at == 0 && best.isNaN)
                continue
            }
            #expect(best == t.min() ?? .infinity)  // which zero it is depends on the lanes (unchanged)
            var refAt = 0
            while refAt < n - 1 && t[refAt] != best { refAt += 1 }
            #expect(at == refAt)
            #expect(loss.bitPattern == max(0, -best).bitPattern)
        }
    }
}
