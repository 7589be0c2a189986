/// A wallet balance of one coin; negative is a liability.
public struct Balance: Equatable, Sendable {
    public var coin: String
    public var walletBalance: Double
    public init(coin: String, walletBalance: Double) { self.coin = coin; self.walletBalance = walletBalance }
}

/// A position: signed size (short < 0; inverse instruments in USD contracts), optional entry price.
public struct Position: Equatable, Sendable {
    public var symbol: String
    public var size: Double
    public var entryPrice: Double?
    public init(symbol: String, size: Double, entryPrice: Double? = nil) {
        self.symbol = symbol; self.size = size; self.entryPrice = entryPrice
    }
}

/// Order side.
public enum Side: String, Sendable {
    case buy = "Buy", sell = "Sell"
    /// +1 for a buy, −1 for a sell.
    public var sign: Double { self == .buy ? 1 : -1 }
}

/// An active order: remaining quantity (> 0) at a limit price.
public struct Order: Equatable, Sendable {
    public var symbol: String
    public var side: Side
    public var qty: Double
    public var price: Double
    public init(symbol: String, side: Side, qty: Double, price: Double) {
        self.symbol = symbol; self.side = side; self.qty = qty; self.price = price
    }
}

/// One account (FORMATS.md `account.json`).
public struct Account: Equatable, Sendable {
    public var id: String
    public var spotHedging: Bool
    public var balances: [Balance]
    public var positions: [Position]
    public var orders: [Order]
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
    public var accountId: String
    public var error: InputError
    public init(accountId: String, error: InputError) { self.accountId = accountId; self.error = error }
    public var description: String { error.description }
}
