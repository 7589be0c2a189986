/// Accounts flattened into struct-of-arrays, ready for the engine (the data flow: input files → model
/// values → a flat book → risk arrays → per-unit aggregation → account results).
///
/// Per account (compressed lists, `xStart[a] ..< xStart[a+1]`): balance rows, position rows, order
/// rows and risk units. Per unit: its base-coin slot, its hedgeable spot balance and three
/// portfolios — C (positions), A+C (with the positive-delta orders), B+C (with the negative ones),
/// each a list of net holdings per symbol (docs/model.md §7, §11.1–2). There are no per-position objects.
public struct Book: Sendable {
    /// The priced market the book's instrument and coin ids refer to.
    public private(set) var priced: PricedMarket

    /// Account ids in book order (the order of results and outputs).
    public internal(set) var accountIds: [String] = []
    var spotHedging: [Bool] = []
    /// Why an account could not be built, or nil.
    public internal(set) var accountErrors: [InputError?] = []

    var balStart: [Int] = [0]
    var balCoin: [Int32] = []          // coin id in `priced.coins`
    var balAmount: [Double] = []
    var posStart: [Int] = [0]
    var posInstr: [Int32] = []
    var posSize: [Double] = []
    var posEntry: [Double] = []        // NaN: no entry price
    var ordStart: [Int] = [0]
    var ordInstr: [Int32] = []
    var ordSide: [Int8] = []           // +1 buy, −1 sell
    var ordQty: [Double] = []
    var ordPrice: [Double] = []

    var unitStart: [Int] = [0]
    var unitSlot: [Int32] = []
    /// The balance of the unit's coin that may hedge it (0 when hedging is off or the coin ineligible).
    var unitSpotBalance: [Double] = []
    /// Portfolio p of unit u is `pfStart[pf] ..< pfStart[pf+1]` in the entry arrays, with
    /// `pf = p.slot(ofUnit: u)` (`Portfolio.count` per unit).
    var pfStart: [Int] = [0]
    /// Whether portfolio `pf` is evaluated (C always; A+C / B+C only with orders on that side).
    var pfPresent: [Bool] = []
    var entInstr: [Int32] = []
    var entSize: [Double] = []

    /// The number of accounts, errors included; 0 for an empty book.
    public var accountCount: Int { accountIds.count }
    /// The number of risk units over all accounts (one per base coin with a position row or an order,
    /// docs/model.md §11.5); error accounts have none.
    public var unitCount: Int { unitSlot.count }

    /// An empty book against `priced`; accounts are added with `append` (or built by ``BatchInput``).
    public init(priced: PricedMarket) { self.priced = priced }

    /// The same book against another pricing of the same instruments (a sweep combination: moved
    /// prices or other parameters). The instrument list, and so every index and coin slot the book
    /// holds, must be the same; a spot-hedging eligibility change would need a rebuilt book.
    public func repriced(_ other: PricedMarket) -> Book {
        // The book's entries index the market's rows, groups, buckets and coin ids: a market that
        // made one of its instruments invalid would shift them (out-of-bounds writes in the
        // contingency scratch). Such a market is priced `onLayoutOf:` the book's (Sweep.scenario).
        precondition(other.hasLayout(of: priced),
                     "repriced: a market with a different instrument layout (valid instruments, coins, spot hedging) needs a new book")
        var b = self
        b.priced = other
        return b
    }

    /// A book of `Account` values (JSON input, or accounts built in code). Accounts that fail
    /// validation are kept with their error (`accountErrors`), so results stay in input order.
    /// `records` names each account in its errors (default: `account ID`, or `account[N] (id ID)`
    /// for several).
    public init(priced: PricedMarket, accounts: [Account], file: String = "account", records: [String]? = nil) {
        precondition(records == nil || records!.count == accounts.count, "one record name per account")
        self.init(priced: priced)
        var builder = BookBuilder(book: self)
        for (n, account) in accounts.enumerated() {
            let record = records?[n] ?? (accounts.count == 1 ? "account \(account.id)" : "account[\(n)] (id \(account.id))")
            builder.add(account, file: file, record: record)
        }
        self = builder.finish()
    }
}

/// Appends accounts to a `Book` one at a time: `begin`, rows, then `end` (or `fail`).
///
/// Rows are validated by the caller (it knows the file, line and field); the builder resolves the
/// risk units and nets positions and orders per symbol.
///
/// Speed: appending every unit, portfolio and entry to the book's arrays one element at a time
/// (each append checks uniqueness and capacity) and reading `priced` (a class) per row would make
/// building a large share of a batch's CPU. Units are therefore built through raw pointers (`UnitScratch.build`) from per-instrument and per-slot tables taken
/// from `priced` once per builder: on the batch path straight into the book's new arrays, once per
/// block (`buildUnitsOfAllAccounts`); on `end` in scratch memory appended in bulk. The units,
/// portfolios and entries, their order and the additions that net them (row order) are the same
/// as before. Callgrind, 20k generated accounts: 84.6M → 23.1M instructions in the builder.
struct BookBuilder {
    private(set) var book: Book
    private var failed: InputError?
    private let scratch: UnitScratch

    init(book: Book) {
        self.book = book
        scratch = UnitScratch(book.priced)
    }

    mutating func begin(id: String, spotHedging: Bool) {
        book.accountIds.append(id)
        book.spotHedging.append(spotHedging)
        failed = nil
    }

    mutating func addBalance(coin: Int32, amount: Double) {
        book.balCoin.append(coin); book.balAmount.append(amount)
    }

    mutating func addPosition(instrument: Int32, size: Double, entryPrice: Double?) {
        book.posInstr.append(instrument); book.posSize.append(size); book.posEntry.append(entryPrice ?? .nan)
    }

    mutating func addOrder(instrument: Int32, side: Side, qty: Double, price: Double) {
        book.ordInstr.append(instrument); book.ordSide.append(side == .buy ? 1 : -1)
        book.ordQty.append(qty); book.ordPrice.append(price)
    }

    /// Marks the current account as failed; its rows are dropped at `end`. The first error is kept.
    mutating func fail(_ error: InputError) {
        if failed == nil { failed = error }
    }

    /// Closes the current account: builds its units and portfolios, or drops its rows if it failed.
    mutating func end() {
        let a = book.accountIds.count - 1
        if let failed {
            book.balCoin.removeSubrange(book.balStart[a]...); book.balAmount.removeSubrange(book.balStart[a]...)
            book.posInstr.removeSubrange(book.posStart[a]...); book.posSize.removeSubrange(book.posStart[a]...)
            book.posEntry.removeSubrange(book.posStart[a]...)
            book.ordInstr.removeSubrange(book.ordStart[a]...); book.ordSide.removeSubrange(book.ordStart[a]...)
            book.ordQty.removeSubrange(book.ordStart[a]...); book.ordPrice.removeSubrange(book.ordStart[a]...)
            book.accountErrors.append(failed)
        } else {
            book.accountErrors.append(nil)
        }
        book.balStart.append(book.balCoin.count)
        book.posStart.append(book.posInstr.count)
        book.ordStart.append(book.ordInstr.count)
        appendUnits(accounts: a..<(a + 1))
    }

    /// Builds the units of every account of a book whose rows were set directly (the batch path).
    /// The book has no units yet.
    ///
    /// Units, portfolios and entries are written straight into the book's new arrays, allocated at
    /// the bounds' capacity (the part past the count is never written): no scratch copy, whose
    /// memmove took 1.1% of the 1M batch's cycles (perf).
    mutating func buildUnitsOfAllAccounts() {
        precondition(book.unitSlot.isEmpty && book.entInstr.isEmpty && book.pfStart == [0], "buildUnitsOfAllAccounts: the book already has units")
        let accounts = 0..<book.accountCount
        let bounds = unitBounds(accounts)
        let units = max(1, bounds.units), entries = max(1, bounds.entries)
        var n = (units: 0, entries: 0)
        var unitSpot = [Double](), pfStart = [Int](), pfPresent = [Bool](), entInstr = [Int32](), entSize = [Double](), unitStart = [Int]()
        // One uninitialized array per output, nested so that every buffer is live for `build`.
        let unitSlot = [Int32](unsafeUninitializedCapacity: units) { unitSlotOut, unitSlotCount in
        unitSpot = [Double](unsafeUninitializedCapacity: units) { unitSpotOut, unitSpotCount in
        pfStart = [Int](unsafeUninitializedCapacity: 1 + Portfolio.count * units) { pfStartOut, pfStartCount in
        pfPresent = [Bool](unsafeUninitializedCapacity: Portfolio.count * units) { pfPresentOut, pfPresentCount in
        entInstr = [Int32](unsafeUninitializedCapacity: entries) { entInstrOut, entInstrCount in
        entSize = [Double](unsafeUninitializedCapacity: entries) { entSizeOut, entSizeCount in
        unitStart = [Int](unsafeUninitializedCapacity: 1 + accounts.count) { unitStartOut, unitStartCount in
            pfStartOut[0] = 0
            unitStartOut[0] = 0
            n = build(accounts, bounds, UnitOutput(unitSlot: unitSlotOut.baseAddress!, unitSpot: unitSpotOut.baseAddress!,
                                                   pfEnd: pfStartOut.baseAddress! + 1, pfPresent: pfPresentOut.baseAddress!,
                                                   entInstr: entInstrOut.baseAddress!, entSize: entSizeOut.baseAddress!,
                                                   unitEnd: unitStartOut.baseAddress! + 1, unitBase: 0, entryBase: 0))
            unitSlotCount = n.units; unitSpotCount = n.units
            pfStartCount = 1 + Portfolio.count * n.units; pfPresentCount = Portfolio.count * n.units
            entInstrCount = n.entries; entSizeCount = n.entries
            unitStartCount = 1 + accounts.count
        }}}}}}}
        book.unitSlot = unitSlot; book.unitSpotBalance = unitSpot
        book.pfStart = pfStart; book.pfPresent = pfPresent
        book.entInstr = entInstr; book.entSize = entSize
        book.unitStart = unitStart
    }

    /// Whether an order joins the positive-delta set A (docs/model.md §11.2: by side and kind).
    static func isPositiveDelta(side: Int8, kind: InstrumentKind, isCall: Bool) -> Bool {
        if kind == .option && !isCall { return side < 0 }   // sell put
        return side > 0                                    // buy perpetual, future or call
    }

    /// What building the units of `accounts` writes at most: a unit per listed slot; C holds at
    /// most the positions, A+C and B+C at most the positions and that side's orders. Marks the
    /// accounts without an error in `scratch.ok`.
    private func unitBounds(_ accounts: Range<Int>) -> UnitBounds {
        let s = scratch
        let posStart = book.posStart, ordStart = book.ordStart
        let ok = s.ok.reserve(accounts.count)
        var b = UnitBounds()
        book.accountErrors.withUnsafeBufferPointer { errors in
            for a in accounts {
                guard case .none = errors[a] else { ok[a - accounts.lowerBound] = false; continue }
                ok[a - accounts.lowerBound] = true
                let np = posStart[a + 1] - posStart[a], no = ordStart[a + 1] - ordStart[a]
                b.maxPos = max(b.maxPos, np); b.maxOrd = max(b.maxOrd, no)
                b.units += min(np + no, s.slotCount)
                b.entries += no == 0 ? np : 3 * np + no
            }
        }
        return b
    }

    /// Builds the units of `accounts` into `out` (see `UnitScratch.build`).
    private func build(_ accounts: Range<Int>, _ bounds: UnitBounds, _ out: UnitOutput) -> (units: Int, entries: Int) {
        // The rows as raw pointers (array-to-pointer arguments, valid during the call): no bounds
        // or overflow checks per row.
        scratch.build(accounts, bounds: bounds, out: out,
                      posStart: book.posStart, ordStart: book.ordStart, balStart: book.balStart,
                      posInstr: book.posInstr, posSize: book.posSize,
                      ordInstr: book.ordInstr, ordSide: book.ordSide, ordQty: book.ordQty,
                      balCoin: book.balCoin, balAmount: book.balAmount, spotHedging: book.spotHedging)
    }

    /// Builds the units of `accounts` (the last accounts of the book, one on `end`) in scratch
    /// memory and appends them, their portfolios, entries and `unitStart` offsets to the book.
    private mutating func appendUnits(accounts: Range<Int>) {
        let s = scratch
        let bounds = unitBounds(accounts)
        let out = UnitOutput(unitSlot: s.unitSlot.reserve(bounds.units), unitSpot: s.unitSpot.reserve(bounds.units),
                             pfEnd: s.pfEnd.reserve(Portfolio.count * bounds.units), pfPresent: s.pfPresent.reserve(Portfolio.count * bounds.units),
                             entInstr: s.entInstr.reserve(bounds.entries), entSize: s.entSize.reserve(bounds.entries),
                             unitEnd: s.unitEnd.reserve(accounts.count), unitBase: book.unitSlot.count, entryBase: book.entInstr.count)
        let (nU, nE) = build(accounts, bounds, out)
        // In bulk: one copy per array instead of a checked append per element.
        book.unitSlot.append(contentsOf: UnsafeBufferPointer(start: out.unitSlot, count: nU))
        book.unitSpotBalance.append(contentsOf: UnsafeBufferPointer(start: out.unitSpot, count: nU))
        book.pfStart.append(contentsOf: UnsafeBufferPointer(start: out.pfEnd, count: Portfolio.count * nU))
        book.pfPresent.append(contentsOf: UnsafeBufferPointer(start: out.pfPresent, count: Portfolio.count * nU))
        book.entInstr.append(contentsOf: UnsafeBufferPointer(start: out.entInstr, count: nE))
        book.entSize.append(contentsOf: UnsafeBufferPointer(start: out.entSize, count: nE))
        book.unitStart.append(contentsOf: UnsafeBufferPointer(start: out.unitEnd, count: accounts.count))
    }

    /// Resolves, validates and appends one `Account` (JSON input or built in code).
    mutating func add(_ account: Account, file: String, record: String) {
        begin(id: account.id, spotHedging: account.spotHedging)
        let p = book.priced
        func err(_ field: String, _ message: String) -> InputError {
            InputError(file: file, record: record, field: field, message)
        }
        if account.id.isEmpty { fail(err("id", "missing or empty")) }
        for (n, b) in account.balances.enumerated() {
            if let c = p.coinId(b.coin) {
                if !b.walletBalance.isFinite { fail(err("balances[\(n)].walletBalance", "expected a finite number")) }
                addBalance(coin: c, amount: b.walletBalance)
            } else {
                fail(err("balances[\(n)].coin", p.coinProblem(b.coin)))
            }
        }
        for (n, pos) in account.positions.enumerated() {
            switch p.resolve(pos.symbol) {
            case let .failure(e): fail(err("positions[\(n)].symbol", e.message))
            case let .success(i):
                if let (f, m) = RowRules.position(size: pos.size, entryPrice: pos.entryPrice) { fail(err("positions[\(n)].\(f)", m)) }
                addPosition(instrument: i, size: pos.size, entryPrice: pos.entryPrice)
            }
        }
        for (n, o) in account.orders.enumerated() {
            switch p.resolve(o.symbol) {
            case let .failure(e): fail(err("orders[\(n)].symbol", e.message))
            case let .success(i):
                if let (f, m) = RowRules.order(qty: o.qty, price: o.price) { fail(err("orders[\(n)].\(f)", m)) }
                addOrder(instrument: i, side: o.side, qty: o.qty, price: o.price)
            }
        }
        end()
    }

    func finish() -> Book { book }
}

/// Upper bounds of what building the units of some accounts writes (`BookBuilder.unitBounds`).
private struct UnitBounds {
    var maxPos = 0, maxOrd = 0   // rows of one account
    var units = 0, entries = 0
}

/// Where `UnitScratch.build` writes: per unit its slot and spot balance; per portfolio its end
/// offset in the entries (from `entryBase`) and whether it is present; per entry its instrument
/// and netted size; per account the end of its units (from `unitBase`).
private struct UnitOutput {
    var unitSlot: UnsafeMutablePointer<Int32>, unitSpot: UnsafeMutablePointer<Double>
    var pfEnd: UnsafeMutablePointer<Int>, pfPresent: UnsafeMutablePointer<Bool>
    var entInstr: UnsafeMutablePointer<Int32>, entSize: UnsafeMutablePointer<Double>
    var unitEnd: UnsafeMutablePointer<Int>
    var unitBase: Int, entryBase: Int
}

/// Raw scratch memory of a `BookBuilder`, freed with it, and the per-instrument and per-slot
/// tables it reads per row, taken from the `PricedMarket` once.
private final class UnitScratch {
    let instrumentCount: Int
    /// The number of base-coin slots (`priced.baseCoins`).
    let slotCount: Int
    /// Per instrument: its base-coin slot (−1: invalid), whether it is a put option (a sell put
    /// joins A, docs/model.md §11.2), and the entry of its holding in the portfolio being built (−1:
    /// none; all −1 between portfolios).
    let slotOf: UnsafeMutablePointer<Int32>
    let isPut: UnsafeMutablePointer<Bool>
    let entryOf: UnsafeMutablePointer<Int32>
    /// Per slot: the coin id of the balances that may hedge its unit (docs/model.md §6), −1 when the
    /// coin is not eligible or has no index price; and what the account being built holds in it
    /// (`listed`, `ordersA`, `ordersB`; 0 between accounts).
    let hedgeCoin: UnsafeMutablePointer<Int32>
    let slotFlags: UnsafeMutablePointer<UInt8>
    static let listed: UInt8 = 1, ordersA: UInt8 = 2, ordersB: UInt8 = 4

    // Per call (grown as needed): per row, per slot, per account, and the units written.
    var ok = Scratch<Bool>(), rowSlot = Scratch<Int32>(), orderTag = Scratch<Int32>(), slots = Scratch<Int32>()
    var unitSlot = Scratch<Int32>(), unitSpot = Scratch<Double>(), pfEnd = Scratch<Int>(), pfPresent = Scratch<Bool>()
    var entInstr = Scratch<Int32>(), entSize = Scratch<Double>(), unitEnd = Scratch<Int>()

    init(_ p: PricedMarket) {
        instrumentCount = p.market.instruments.count
        slotCount = p.baseCoins.count
        slotOf = .allocate(capacity: max(1, instrumentCount))
        isPut = .allocate(capacity: max(1, instrumentCount))
        entryOf = .allocate(capacity: max(1, instrumentCount))
        for i in 0..<instrumentCount {
            slotOf[i] = p.coinSlot[i]
            isPut[i] = !BookBuilder.isPositiveDelta(side: 1, kind: p.kind[i], isCall: p.isCall[i])
            entryOf[i] = -1
        }
        hedgeCoin = .allocate(capacity: max(1, slotCount))
        slotFlags = .allocate(capacity: max(1, slotCount))
        for s in 0..<slotCount {
            hedgeCoin[s] = p.coinParams[s].spotHedgeEligible ? p.coinIdOfSlot[s] ?? -1 : -1
            slotFlags[s] = 0
        }
    }

    /// Builds the units of `accounts` (those `ok`, without an error) into `out`, within `bounds`
    /// (`BookBuilder.unitBounds`); returns the numbers of units and entries written.
    ///
    /// Per account: one pass tags every row with its coin slot (orders also with their side, A or
    /// B, docs/model.md §11.2) and lists the account's slots; units follow in slot (coin name) order,
    /// each with its hedgeable spot balance (§6) and portfolios C, A+C, B+C (§7, §11.1–2): C nets
    /// the unit's positions per symbol in row order; A+C and B+C start from C's holdings and net
    /// that side's orders in row order, and are absent (not evaluated) without such orders.
    func build(_ accounts: Range<Int>, bounds: UnitBounds, out: UnitOutput,
               posStart: UnsafePointer<Int>, ordStart: UnsafePointer<Int>, balStart: UnsafePointer<Int>,
               posInstr: UnsafePointer<Int32>, posSize: UnsafePointer<Double>,
               ordInstr: UnsafePointer<Int32>, ordSide: UnsafePointer<Int8>, ordQty: UnsafePointer<Double>,
               balCoin: UnsafePointer<Int32>, balAmount: UnsafePointer<Double>, spotHedging: UnsafePointer<Bool>) -> (units: Int, entries: Int) {
        let ok = self.ok.base
        let rowSlot = self.rowSlot.reserve(bounds.maxPos), orderTag = self.orderTag.reserve(bounds.maxOrd), slots = self.slots.reserve(slotCount)
        let unitSlot = out.unitSlot, unitSpot = out.unitSpot, pfEnd = out.pfEnd, pfPresent = out.pfPresent
        let entInstr = out.entInstr, entSize = out.entSize, unitEnd = out.unitEnd
        let unitBase = out.unitBase, entryBase = out.entryBase
        let slotOf = self.slotOf, isPut = self.isPut, entryOf = self.entryOf, hedgeCoin = self.hedgeCoin, slotFlags = self.slotFlags
        let instrumentCount = self.instrumentCount, slotCount = self.slotCount
        let withOrders = Portfolio.withOrders
        var nU = 0, nE = 0   // units and entries written

        /// Adds `size` of instrument `i` to the portfolio being built, netting per symbol.
        @inline(__always) func net(_ i: Int32, _ size: Double) {
            let e = entryOf[Int(i)]
            if e >= 0 {
                entSize[Int(e)] += size
            } else {
                entryOf[Int(i)] = Int32(nE)
                entInstr[nE] = i
                entSize[nE] = size
                nE += 1
            }
        }
        /// The slot of instrument `i`; rows were validated (a valid instrument has a slot).
        @inline(__always) func slot(_ i: Int32) -> Int32 {
            precondition(UInt32(bitPattern: i) < UInt32(instrumentCount), "BookBuilder: instrument index out of range")
            let sl = slotOf[Int(i)]
            precondition(UInt32(bitPattern: sl) < UInt32(slotCount), "BookBuilder: a row on an invalid instrument")
            return sl
        }

        for a in accounts {
            defer { unitEnd[a - accounts.lowerBound] = unitBase + nU }
            guard ok[a - accounts.lowerBound] else { continue }
            let r0 = posStart[a], np = posStart[a + 1] - r0
            let o0 = ordStart[a], no = ordStart[a + 1] - o0
            let pInstr = posInstr + r0, pSize = posSize + r0, oInstr = ordInstr + o0, oSide = ordSide + o0, oQty = ordQty + o0
            var nSlots = 0
            for k in 0..<np {
                let sl = slot(pInstr[k])
                rowSlot[k] = sl
                if slotFlags[Int(sl)] == 0 { slots[nSlots] = sl; nSlots += 1 }
                slotFlags[Int(sl)] |= Self.listed
            }
            for k in 0..<no {
                let i = oInstr[k], side = oSide[k]
                let sl = slot(i)
                // Same rule as `isPositiveDelta`: a sell put, or a buy of anything else, joins A.
                let positiveDelta = isPut[Int(i)] ? side < 0 : side > 0
                orderTag[k] = OrderSideTag(slot: sl, positiveDelta: positiveDelta).raw
                if slotFlags[Int(sl)] == 0 { slots[nSlots] = sl; nSlots += 1 }
                slotFlags[Int(sl)] |= positiveDelta ? Self.ordersA : Self.ordersB
            }
            // Units alphabetically: slots are ordered by coin name. Few slots: insertion sort.
            for k in 1..<max(1, nSlots) {
                var j = k
                while j > 0 && slots[j - 1] > slots[j] { (slots[j - 1], slots[j]) = (slots[j], slots[j - 1]); j -= 1 }
            }
            let hedging = spotHedging[a]
            let b0 = balStart[a], b1 = balStart[a + 1]
            for j in 0..<nSlots {
                let sl = slots[j]
                let flags = slotFlags[Int(sl)]
                slotFlags[Int(sl)] = 0
                unitSlot[nU] = sl
                var spot = 0.0
                let coin = hedgeCoin[Int(sl)]
                if hedging && coin >= 0 {
                    for b in b0..<b1 where balCoin[b] == coin { spot += balAmount[b] }
                }
                unitSpot[nU] = spot
                // C: the positions of this coin, net per symbol.
                let cStart = nE
                for k in 0..<np where rowSlot[k] == sl { net(pInstr[k], pSize[k]) }
                let cEnd = nE
                for e in cStart..<cEnd { entryOf[Int(entInstr[e])] = -1 }
                let c = Portfolio.positions.slot(ofUnit: nU)
                pfPresent[c] = true
                pfEnd[c] = entryBase + cEnd
                // A+C and B+C: C's holdings with that side's orders netted in; absent without orders.
                for portfolio in withOrders {
                    let pf = portfolio.slot(ofUnit: nU)
                    let tag = OrderSideTag(slot: sl, portfolio: portfolio).raw
                    guard flags & (portfolio == .buyOrders ? Self.ordersA : Self.ordersB) != 0 else {
                        pfPresent[pf] = false
                        pfEnd[pf] = entryBase + nE
                        continue
                    }
                    let start = nE
                    for e in cStart..<cEnd {
                        entryOf[Int(entInstr[e])] = Int32(nE)
                        entInstr[nE] = entInstr[e]
                        entSize[nE] = entSize[e]
                        nE += 1
                    }
                    for k in 0..<no where orderTag[k] == tag {
                        net(oInstr[k], Double(oSide[k]) * oQty[k])
                    }
                    for e in start..<nE { entryOf[Int(entInstr[e])] = -1 }
                    pfPresent[pf] = true
                    pfEnd[pf] = entryBase + nE
                }
                nU += 1
            }
        }
        return (nU, nE)
    }

    deinit {
        slotOf.deallocate(); isPut.deallocate(); entryOf.deallocate(); hedgeCoin.deallocate(); slotFlags.deallocate()
        ok.free(); rowSlot.free(); orderTag.free(); slots.free()
        unitSlot.free(); unitSpot.free(); pfEnd.free(); pfPresent.free()
        entInstr.free(); entSize.free(); unitEnd.free()
    }
}

/// Raw memory of a trivial type that grows (its contents discarded) to the capacity asked.
private struct Scratch<T> {
    private(set) var base = UnsafeMutablePointer<T>.allocate(capacity: 16)
    private var capacity = 16

    /// At least `n` elements (uninitialized).
    mutating func reserve(_ n: Int) -> UnsafeMutablePointer<T> {
        if n > capacity {
            base.deallocate()
            capacity = max(n, 2 * capacity)
            base = .allocate(capacity: capacity)
        }
        return base
    }

    func free() { base.deallocate() }
}
