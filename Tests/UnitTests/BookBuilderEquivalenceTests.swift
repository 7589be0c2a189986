import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// `BookBuilder` builds units in raw scratch memory and appends them in bulk . Its units,
/// portfolios and entries must be those of the straightforward construction below — same order,
/// same netted sizes to the bit (sums in row order) — on the JSON path (`Book(priced:accounts:)`,
/// one account per `end`) and on the batch path (rows set directly, failed accounts keeping their
/// rows in range, `buildUnitsOfAllAccounts`).
struct BookBuilderEquivalenceTests {
    struct Units: Equatable {
        var unitStart: [Int] = [0]
        var unitSlot: [Int32] = []
        var spotBits: [UInt64] = []
        var pfStart: [Int] = [0]
        var pfPresent: [Bool] = []
        var entInstr: [Int32] = []
        var entSizeBits: [UInt64] = []
    }

    /// The fields in which `a` and `b` differ (names, so a failure does not print the arrays).
    static func differences(_ a: Units, _ b: Units) -> [String] {
        var d: [String] = []
        if a.unitStart != b.unitStart { d.append("unitStart") }
        if a.unitSlot != b.unitSlot { d.append("unitSlot") }
        if a.spotBits != b.spotBits { d.append("unitSpotBalance") }
        if a.pfStart != b.pfStart { d.append("pfStart") }
        if a.pfPresent != b.pfPresent { d.append("pfPresent") }
        if a.entInstr != b.entInstr { d.append("entInstr") }
        if a.entSizeBits != b.entSizeBits { d.append("entSize") }
        return d
    }

    static func units(_ b: Book) -> Units {
        Units(unitStart: b.unitStart, unitSlot: b.unitSlot, spotBits: b.unitSpotBalance.map(\.bitPattern), pfStart: b.pfStart,
              pfPresent: b.pfPresent, entInstr: b.entInstr, entSizeBits: b.entSize.map(\.bitPattern))
    }

    /// The units of a book's rows, built plainly (docs/model.md §6, §7, §11.1–2): a unit per base coin
    /// with a position or an order, by slot; its spot balance when hedging and eligible; C nets the
    /// coin's positions per symbol in row order (first appearance order); A+C / B+C start from C
    /// and net that side's orders, absent without any.
    static func reference(_ b: Book) -> Units {
        let p = b.priced
        var u = Units()
        func add(_ list: [(Int32, Double)], present: Bool) {
            u.entInstr += list.map(\.0); u.entSizeBits += list.map(\.1.bitPattern)
            u.pfPresent.append(present); u.pfStart.append(u.entInstr.count)
        }
        func netted(_ start: [(Int32, Double)], _ rows: [(Int32, Double)]) -> [(Int32, Double)] {
            var list = start
            for (i, x) in rows {
                if let k = list.firstIndex(where: { $0.0 == i }) { list[k].1 += x } else { list.append((i, x)) }
            }
            return list
        }
        for a in 0..<b.accountCount {
            if b.accountErrors[a] == nil {
                let pos = Array(b.posStart[a]..<b.posStart[a + 1]), ord = Array(b.ordStart[a]..<b.ordStart[a + 1])
                func slot(_ i: Int32) -> Int32 { p.coinSlot[Int(i)] }
                let slots = Set(pos.map { slot(b.posInstr[$0]) } + ord.map { slot(b.ordInstr[$0]) }).sorted()
                for s in slots {
                    u.unitSlot.append(s)
                    var spot = 0.0
                    if b.spotHedging[a], p.coinParams[Int(s)].spotHedgeEligible, let c = p.coinIdOfSlot[Int(s)] {
                        for r in b.balStart[a]..<b.balStart[a + 1] where b.balCoin[r] == c { spot += b.balAmount[r] }
                    }
                    u.spotBits.append(spot.bitPattern)
                    let c = netted([], pos.filter { slot(b.posInstr[$0]) == s }.map { (b.posInstr[$0], b.posSize[$0]) })
                    add(c, present: true)
                    for positive in [true, false] {
                        let orders = ord.filter {
                            let i = Int(b.ordInstr[$0])
                            return slot(b.ordInstr[$0]) == s
                                && BookBuilder.isPositiveDelta(side: b.ordSide[$0], kind: p.kind[i], isCall: p.isCall[i]) == positive
                        }
                        if orders.isEmpty {
                            add([], present: false)
                        } else {
                            add(netted(c, orders.map { (b.ordInstr[$0], Double(b.ordSide[$0]) * b.ordQty[$0]) }), present: true)
                        }
                    }
                }
            }
            u.unitStart.append(u.unitSlot.count)
        }
        return u
    }

    /// A small deterministic generator (TestSupport's SplitMix64).
    struct Rng {
        var source: SplitMix
        init(state: UInt64) { source = SplitMix(seed: state) }
        mutating func next() -> UInt64 { source.next() }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func chance(_ percent: Int) -> Bool { int(100) < percent }
        /// Sizes with many digits (so netting order shows in the last bit), sometimes ±0.
        mutating func size() -> Double {
            switch int(20) {
            case 0: return 0
            case 1: return -0.0
            default: return (Double(int(2_000_001)) - 1_000_000) / Double(1 + int(997)) * 0.1
            }
        }
    }

    /// Accounts with many rows on a few symbols each (netting), both sides, both hedging settings,
    /// balances in several coins (some repeated), and every ~7th account failing on a bad row.
    static func accounts(_ priced: PricedMarket, count: Int, seed: UInt64) -> [Account] {
        var rng = Rng(state: seed)
        let symbols = priced.market.instruments.indices.filter { priced.coinSlot[$0] >= 0 }.map { priced.market.instruments[$0].symbol }
        let coins = priced.coins
        return (0..<count).map { n in
            let pool = (0..<(1 + rng.int(6))).map { _ in symbols[rng.int(symbols.count)] }
            let balances = (0..<rng.int(5)).map { _ in Balance(coin: coins[rng.int(coins.count)], walletBalance: rng.size()) }
            var positions = (0..<rng.int(12)).map { _ in Position(symbol: pool[rng.int(pool.count)], size: rng.size()) }
            var orders = (0..<(rng.chance(40) ? rng.int(10) : 0)).map { _ in
                Order(symbol: pool[rng.int(pool.count)], side: rng.chance(50) ? .buy : .sell, qty: 0.001 + Double(rng.int(100_000)) / 7, price: 100)
            }
            if n % 7 == 3 {
                switch rng.int(3) {
                case 0: positions.append(Position(symbol: "NO-SUCH-SYMBOL", size: 1))
                case 1: positions.insert(Position(symbol: pool[0], size: .nan), at: 0)
                default: orders.append(Order(symbol: pool[0], side: .buy, qty: 0, price: 1))
                }
            }
            return Account(id: "A\(n)", spotHedging: rng.chance(50), balances: balances, positions: positions, orders: orders)
        }
    }

    /// The batch path's book: rows set directly, a failed account's rows kept in range (as
    /// `Stream.book` and `BatchInput.book` do), units built by `buildUnitsOfAllAccounts`.
    static func batchBook(_ priced: PricedMarket, _ accounts: [Account], errors: [InputError?]) -> Book {
        var b = Book(priced: priced)
        b.accountIds = accounts.map(\.id)
        b.spotHedging = accounts.map(\.spotHedging)
        b.accountErrors = errors
        let fallback = Int32(priced.coinSlot.firstIndex { $0 >= 0 }!)
        func instrument(_ symbol: String) -> Int32 {
            if case let .success(i) = priced.resolve(symbol) { return i } else { return fallback }
        }
        for a in accounts {
            for x in a.balances { b.balCoin.append(priced.coinId(x.coin)!); b.balAmount.append(x.walletBalance) }
            for x in a.positions { b.posInstr.append(instrument(x.symbol)); b.posSize.append(x.size); b.posEntry.append(.nan) }
            for x in a.orders {
                b.ordInstr.append(instrument(x.symbol)); b.ordSide.append(x.side == .buy ? 1 : -1)
                b.ordQty.append(x.qty); b.ordPrice.append(x.price)
            }
            b.balStart.append(b.balCoin.count); b.posStart.append(b.posInstr.count); b.ordStart.append(b.ordInstr.count)
        }
        var builder = BookBuilder(book: b)
        builder.buildUnitsOfAllAccounts()
        return builder.finish()
    }

    func check(_ priced: PricedMarket, seed: UInt64) {
        let accounts = Self.accounts(priced, count: 700, seed: seed)
        let json = Book(priced: priced, accounts: accounts)
        let failed = json.accountErrors.filter { $0 != nil }.count
        #expect(failed >= 90 && failed <= 110, "about one account in 7 fails (\(failed))")
        let reference = Self.reference(json)
        #expect(reference.unitSlot.count > 700, "many units")
        #expect(reference.pfPresent.filter { !$0 }.count > 100 && reference.pfPresent.filter { $0 }.count > 1000, "portfolios with and without orders")
        #expect(reference.spotBits.contains { Double(bitPattern: $0) != 0 }, "some hedging spot balances")
        let cEntries = stride(from: 0, to: reference.pfPresent.count, by: 3).reduce(0) { $0 + reference.pfStart[$1 + 1] - reference.pfStart[$1] }
        #expect(cEntries < json.posInstr.count * 9 / 10, "netting merged many position rows (\(cEntries) of \(json.posInstr.count))")
        #expect(Self.differences(Self.units(json), reference) == [], "JSON path (seed \(seed))")
        let batch = Self.batchBook(priced, accounts, errors: json.accountErrors)
        #expect(Self.differences(Self.units(batch), reference) == [], "batch path (seed \(seed))")
    }

    @Test func sampleMarketUnitsMatchThePlainConstruction() {
        let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)
        for seed: UInt64 in [1, 2, 3] { check(priced, seed: seed) }
    }

    @Test func unitsWithAnIneligibleCoinMatchThePlainConstruction() {
        // XRP has no spot-hedging eligibility in the shipped parameters: its units get no spot.
        let priced = PricedMarket(market: TestSupport.smallMarket(), parameters: TestSupport.shippedParams)
        #expect(priced.coinParams.contains { !$0.spotHedgeEligible } && priced.coinParams.contains { $0.spotHedgeEligible })
        for seed: UInt64 in [4, 5] { check(priced, seed: seed) }
    }

    @Test func blocksOfSharedRowsMatchThePlainConstruction() {
        // `BatchInput.book(accounts:)` shares the whole file's row arrays: a block's row offsets
        // start past 0, and its units are those of its accounts in the whole book.
        let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)
        let accounts = Self.accounts(priced, count: 300, seed: 9)
        let whole = Self.batchBook(priced, accounts, errors: Book(priced: priced, accounts: accounts).accountErrors)
        for range in [0..<100, 100..<217, 217..<300, 150..<150] {
            var b = Book(priced: priced)
            b.accountIds = Array(whole.accountIds[range]); b.spotHedging = Array(whole.spotHedging[range])
            b.accountErrors = Array(whole.accountErrors[range])
            let offsets = range.lowerBound...range.upperBound
            b.balStart = Array(whole.balStart[offsets]); b.balCoin = whole.balCoin; b.balAmount = whole.balAmount
            b.posStart = Array(whole.posStart[offsets]); b.posInstr = whole.posInstr; b.posSize = whole.posSize; b.posEntry = whole.posEntry
            b.ordStart = Array(whole.ordStart[offsets]); b.ordInstr = whole.ordInstr; b.ordSide = whole.ordSide
            b.ordQty = whole.ordQty; b.ordPrice = whole.ordPrice
            var builder = BookBuilder(book: b)
            builder.buildUnitsOfAllAccounts()
            let block = builder.finish()
            #expect(Self.differences(Self.units(block), Self.reference(block)) == [], "block \(range)")
            let u0 = whole.unitStart[range.lowerBound], u1 = whole.unitStart[range.upperBound]
            #expect(block.unitSlot == Array(whole.unitSlot[u0..<u1]), "block \(range): the whole book's units")
            #expect(block.unitStart.count == range.count + 1 && block.pfStart.count == 1 + 3 * (u1 - u0))
        }
    }
}
