/// A wallet balance of one coin; negative is a liability.
public struct Balance: Equatable, Sendable {
    /// The coin (BTC, USDT, …); it must have an index price in the market snapshot (docs/model.md §10).
    public var coin: String
    /// The wallet balance in coins. Negative is a liability: it counts at full value in the margin
    /// balance and carries borrowing margin (docs/model.md §8); 0 counts nothing. Must be finite.
    public var walletBalance: Double
    /// A balance of `walletBalance` coins of `coin`.
    public init(coin: String, walletBalance: Double) { self.coin = coin; self.walletBalance = walletBalance }
}

/// A position: signed size (short < 0; inverse instruments in USD contracts), optional entry price.
public struct Position: Equatable, Sendable {
    /// The instrument's symbol; it must be in the market snapshot and not expired (docs/model.md §10).
    public var symbol: String
    /// Signed size: coins for options and linear contracts, USD contracts for inverse ones; short < 0.
    /// A size of 0 still makes a unit for its base coin (docs/model.md §11.5) with no risk.
    public var size: Double
    /// The entry price for unrealised P&L of perpetuals and futures (docs/model.md §11.11); `nil` counts no
    /// unrealised P&L. Ignored for options (they count at mark value).
    public var entryPrice: Double?
    /// A position of `size` on `symbol`, with an optional entry price.
    public init(symbol: String, size: Double, entryPrice: Double? = nil) {
        self.symbol = symbol; self.size = size; self.entryPrice = entryPrice
    }
}

/// Order side: `buy` (input text `Buy`) or `sell` (`Sell`), as Bybit spells them (docs/formats.md).
public enum Side: String, Sendable {
    case buy = "Buy", sell = "Sell"
    /// +1 for a buy, −1 for a sell.
    public var sign: Double { self == .buy ? 1 : -1 }
}

/// An active order: remaining quantity (> 0) at a limit price.
public struct Order: Equatable, Sendable {
    /// The instrument's symbol; it must be in the market snapshot and not expired (docs/model.md §10).
    public var symbol: String
    /// Buy or sell; with the instrument's kind it decides whether the order is in portfolio A or B
    /// (docs/model.md §11.2).
    public var side: Side
    /// The remaining quantity, > 0 (a negative quantity is an input error, docs/model.md §10); same units as
    /// ``Position/size``.
    public var qty: Double
    /// The limit price (settle-currency units; USD for inverse contracts). Used for the order loss
    /// (docs/model.md §8, §11.10); the risk of the order is taken at mark (§7).
    public var price: Double
    /// An order of `qty` on `symbol` at limit `price`.
    public init(symbol: String, side: Side, qty: Double, price: Double) {
        self.symbol = symbol; self.side = side; self.qty = qty; self.price = price
    }
}

/// One account (docs/formats.md `account.json`).
public struct Account: Equatable, Sendable {
    /// The account's id (any string; echoed in results and errors).
    public var id: String
    /// Whether spot balances of eligible coins hedge the unit's derivative delta (docs/model.md §6). Default `false`.
    public var spotHedging: Bool
    /// Wallet balances; rows of one coin count one by one (docs/model.md §11.11). Empty: no collateral.
    public var balances: [Balance]
    /// Open positions; rows of one symbol net (docs/model.md §11.1). Each base coin with a row is a risk unit.
    public var positions: [Position]
    /// Active orders, split into portfolios A and B by side and kind (docs/model.md §7, §11.2).
    public var orders: [Order]
    /// An account; an account with no positions and no orders has no unit and margins to 0 (borrowing aside).
    public init(id: String, spotHedging: Bool = false, balances: [Balance] = [], positions: [Position] = [], orders: [Order] = []) {
        self.id = id; self.spotHedging = spotHedging; self.balances = balances
        self.positions = positions; self.orders = orders
    }
}

extension Account {
    /// Parses `account.json`: one account object, or an array of them. Each element is parsed on its
    /// own; an element that cannot be parsed is returned as its error, so one bad account in an array
    /// does not stop the others. A document that is neither an object nor an array throws.
    public static func parseDocument(_ doc: JSON, file: String) throws -> (isArray: Bool, accounts: [Result<Account, AccountError>]) {
        switch doc {
        case .object:
            return (false, [parse(doc, file: file, record: nil)])
        case let .array(items):
            return (true, items.enumerated().map { parse($1, file: file, record: "[\($0)]") })
        default:
            throw InputError(file: file, "expected an account object or an array of accounts, got \(doc.typeName)")
        }
    }

    /// Loads `account.json` (see `parseDocument`).
    public static func load(path: String) throws -> (isArray: Bool, accounts: [Result<Account, AccountError>]) {
        let bytes = try readFile(path)
        do {
            return try parseDocument(JSON.parse(bytes), file: path)
        } catch let e as InputError {
            throw e.inFile(path)
        }
    }

    static func parse(_ value: JSON, file: String, record: String?) -> Result<Account, AccountError> {
        let where0 = record.map { "account\($0)" } ?? "account"
        guard case .object = value else {
            return .failure(AccountError(accountId: "", error: InputError(file: file, record: where0, "expected an object, got \(value.typeName)")))
        }
        var id = ""
        if case let .string(s)? = value["id"] { id = s }
        let label = InputError.shortLabel(id)
        let rec = record.map { "account\($0) (id \(label))" } ?? "account \(label)"
        let r = JSONRecord(value: value, file: file, record: rec)
        do {
            id = try r.string("id")
            var account = Account(id: id, spotHedging: try r.bool("spotHedging", default: false))
            for (n, b) in try r.array("balances").enumerated() {
                let br = JSONRecord(value: b, file: file, record: rec)
                guard case .object = b else { throw br.fail("balances[\(n)]", "expected an object") }
                let coin = try sub(br, "balances[\(n)]") { try $0.string("coin") }
                let wb = try sub(br, "balances[\(n)]") { try $0.number("walletBalance") }
                account.balances.append(Balance(coin: coin, walletBalance: wb))
            }
            for (n, p) in try r.array("positions").enumerated() {
                let pr = JSONRecord(value: p, file: file, record: rec)
                guard case .object = p else { throw pr.fail("positions[\(n)]", "expected an object") }
                let f = "positions[\(n)]"
                account.positions.append(Position(symbol: try sub(pr, f) { try $0.string("symbol") },
                                                  size: try sub(pr, f) { try $0.number("size") },
                                                  entryPrice: try sub(pr, f) { try $0.optionalNumber("entryPrice") }))
            }
            for (n, o) in try r.array("orders").enumerated() {
                let or = JSONRecord(value: o, file: file, record: rec)
                guard case .object = o else { throw or.fail("orders[\(n)]", "expected an object") }
                let f = "orders[\(n)]"
                let sideText = try sub(or, f) { try $0.string("side") }
                guard let side = Side(rawValue: sideText) else { throw or.fail("\(f).side", "expected Buy or Sell, got \(InputError.echo(sideText))") }
                account.orders.append(Order(symbol: try sub(or, f) { try $0.string("symbol") }, side: side,
                                            qty: try sub(or, f) { try $0.number("qty") },
                                            price: try sub(or, f) { try $0.number("price") }))
            }
            return .success(account)
        } catch let e as InputError {
            return .failure(AccountError(accountId: id, error: e))
        } catch {
            return .failure(AccountError(accountId: id, error: InputError(file: file, record: rec, "\(error)")))
        }
    }

    /// Runs `body` on a nested record, prefixing its field with `prefix` (`positions[1].size`).
    private static func sub<T>(_ r: JSONRecord, _ prefix: String, _ body: (JSONRecord) throws -> T) throws -> T {
        do { return try body(r) } catch var e as InputError {
            e.field = e.field.isEmpty ? prefix : "\(prefix).\(e.field)"
            throw e
        }
    }
}

/// An account that could not be margined, with the reason.
public struct AccountError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The account's id ("" when the input gave none or it could not be read).
    public var accountId: String
    /// The reason, naming file, record and field (docs/model.md §10).
    public var error: InputError
    /// An error for account `accountId`.
    public init(accountId: String, error: InputError) { self.accountId = accountId; self.error = error }
    /// The error's text (file, record, field and message).
    public var description: String { error.description }
}
