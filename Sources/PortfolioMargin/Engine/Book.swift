/// Accounts flattened into struct-of-arrays, ready for the engine (STYLE.md: input files → model
/// values → a flat book → risk arrays → per-unit aggregation → account results).
///
/// Per account (compressed lists, `xStart[a] ..< xStart[a+1]`): balance rows, position rows, order
/// rows and risk units. Per unit: its base-coin slot, its hedgeable spot balance and three
/// portfolios — C (positions), A+C (with the positive-delta orders), B+C (with the negative ones),
/// each a list of net holdings per symbol (MODEL.md §7, §11.1–2). There are no per-position objects.
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
    /// MODEL.md §11.5); error accounts have none.
    public var unitCount: Int { unitSlot.count }

    /// An empty book against `priced`; accounts are added with `append` (or built by ``BatchInput``).
    public init(priced: PricedMarket) { self.priced = priced }

    /// The same book against another pricing of the same instruments (a sweep combination: moved
    /// prices or other parameters). The instrument list, and so every index and coin slot the book
    /// holds, must be the same; a spot-hedging eligibility change would need a rebuilt book.
    public func repriced(_ other: PricedMarket) -> Book {
        precondition(other.market.instruments.count == priced.market.instruments.count
                     && other.baseCoins == priced.baseCoins && other.coins == priced.coins,
                     "repriced: a different instrument set needs a new book")
        precondition(zip(priced.coinParams, other.coinParams).allSatisfy { $0.spotHedgeEligible == $1.spotHedgeEligible },
                     "repriced: spot hedging eligibility changed; build a new book")
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
struct BookBuilder {
    private(set) var book: Book
    private var failed: InputError?
    /// Scratch: instrument → entry index within the portfolio being built (−1 when absent).
    private var entryOf: [Int32]
    private var slotsScratch: [Int32] = []
    private var rowSlot: [Int32] = []
    private var orderTag: [OrderSideTag] = []

    init(book: Book) {
        self.book = book
        entryOf = [Int32](repeating: -1, count: book.priced.market.instruments.count)
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
        if failed == nil { buildUnits(a) }
        book.unitStart.append(book.unitSlot.count)
    }

    /// Builds the units of every account of a book whose rows were set directly (the batch path).
    mutating func buildUnitsOfAllAccounts() {
        book.unitStart = [0]
        for a in 0..<book.accountCount {
            if book.accountErrors[a] == nil { buildUnits(a) }
            book.unitStart.append(book.unitSlot.count)
        }
    }

    /// Whether an order joins the positive-delta set A (MODEL.md §11.2: by side and kind).
    static func isPositiveDelta(side: Int8, kind: InstrumentKind, isCall: Bool) -> Bool {
        if kind == .option && !isCall { return side < 0 }   // sell put
        return side > 0                                    // buy perpetual, future or call
    }

    private mutating func buildUnits(_ a: Int) {
        let p = book.priced
        let r0 = book.posStart[a], r1 = book.posStart[a + 1]
        let o0 = book.ordStart[a], o1 = book.ordStart[a + 1]
        // One pass tags every row with its coin slot (and orders with their side, A or B).
        rowSlot.removeAll(keepingCapacity: true)
        orderTag.removeAll(keepingCapacity: true)
        slotsScratch.removeAll(keepingCapacity: true)
        for r in r0..<r1 {
            let s = p.coinSlot[Int(book.posInstr[r])]
            rowSlot.append(s)
            if !slotsScratch.contains(s) { slotsScratch.append(s) }
        }
        for r in o0..<o1 {
            let i = Int(book.ordInstr[r])
            let s = p.coinSlot[i]
            let isA = Self.isPositiveDelta(side: book.ordSide[r], kind: p.kind[i], isCall: p.isCall[i])
            orderTag.append(OrderSideTag(slot: s, positiveDelta: isA))
            if !slotsScratch.contains(s) { slotsScratch.append(s) }
        }
        // Units alphabetically: slots are ordered by coin name. Few slots: insertion sort.
        for k in 1..<max(1, slotsScratch.count) {
            var j = k
            while j > 0 && slotsScratch[j - 1] > slotsScratch[j] { slotsScratch.swapAt(j - 1, j); j -= 1 }
        }
        for slot in slotsScratch {
            book.unitSlot.append(slot)
            var spot = 0.0
            if book.spotHedging[a] && p.coinParams[Int(slot)].spotHedgeEligible, let coinId = p.coinIdOfSlot[Int(slot)] {
                for b in book.balStart[a]..<book.balStart[a + 1] where book.balCoin[b] == coinId { spot += book.balAmount[b] }
            }
            book.unitSpotBalance.append(spot)
            // C: the positions of this coin, net per symbol.
            let cStart = book.entInstr.count
            for k in 0..<rowSlot.count where rowSlot[k] == slot {
                net(book.posInstr[r0 + k], book.posSize[r0 + k])
            }
            let cEnd = book.entInstr.count
            for e in cStart..<cEnd { entryOf[Int(book.entInstr[e])] = -1 }
            book.pfPresent.append(true)
            book.pfStart.append(cEnd)
            // A+C and B+C: C's holdings with that side's orders netted in; absent without orders.
            for portfolio in Portfolio.withOrders {
                let tag = OrderSideTag(slot: slot, portfolio: portfolio)
                guard orderTag.contains(tag) else {
                    book.pfPresent.append(false)
                    book.pfStart.append(book.entInstr.count)
                    continue
                }
                let start = book.entInstr.count
                for e in cStart..<cEnd {
                    entryOf[Int(book.entInstr[e])] = Int32(book.entInstr.count)
                    book.entInstr.append(book.entInstr[e])
                    book.entSize.append(book.entSize[e])
                }
                for k in 0..<orderTag.count where orderTag[k] == tag {
                    net(book.ordInstr[o0 + k], Double(book.ordSide[o0 + k]) * book.ordQty[o0 + k])
                }
                for e in start..<book.entInstr.count { entryOf[Int(book.entInstr[e])] = -1 }
                book.pfPresent.append(true)
                book.pfStart.append(book.entInstr.count)
            }
        }
    }

    /// Adds `size` of instrument `i` to the portfolio being built, netting per symbol.
    private mutating func net(_ i: Int32, _ size: Double) {
        let e = entryOf[Int(i)]
        if e >= 0 {
            book.entSize[Int(e)] += size
        } else {
            entryOf[Int(i)] = Int32(book.entInstr.count)
            book.entInstr.append(i)
            book.entSize.append(size)
        }
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

/// The validation rules of account rows (MODEL.md §10), shared by the JSON and CSV readers.
enum RowRules {
    /// (field, message) of a bad position row, or nil.
    static func position(size: Double, entryPrice: Double?) -> (String, String)? {
        if !size.isFinite { return ("size", "expected a finite number, got \(size)") }
        if let e = entryPrice, !(e.isFinite && e > 0) { return ("entryPrice", "expected a finite positive price, got \(e)") }
        return nil
    }

    /// (field, message) of a bad order row, or nil.
    static func order(qty: Double, price: Double) -> (String, String)? {
        if !(qty.isFinite && qty > 0) { return ("qty", "expected a finite quantity > 0, got \(qty)") }
        if !(price.isFinite && price > 0) { return ("price", "expected a finite positive price, got \(price)") }
        return nil
    }
}
