/// A record of a Bybit V5 response; `record` says where in it: `result.list[3]`,
/// `result.list[0].coin[2]`. The same record type as every JSON input (file, record and field in
/// each error); the accessors below read Bybit's shapes.
typealias BybitRecord = JSONRecord

/// Reading Bybit V5 responses (docs/bybit-api.md "Every response"): every number is a string, an empty
/// string means "none", timestamps are milliseconds since the epoch. Built on `JSON`'s parser;
/// what Bybit's shapes need beyond it lives here.
extension JSONRecord {
    func has(_ key: String) -> Bool { value[key] != nil }

    /// The text of a string field (a JSON number is taken as its shortest text); nil when absent,
    /// null or empty ("none").
    func text(_ key: String) throws -> String? {
        switch value[key] {
        case nil, .null?: return nil
        case let .string(s)?: return s.isEmpty ? nil : s
        case let .number(d)?: return d.isFinite ? NumberFormat.text(d) : nil
        case let v?: throw fail(key, "expected a string, got \(v.typeName)")
        }
    }

    func requiredText(_ key: String) throws -> String {
        guard let s = try text(key) else { throw fail(key, "missing or empty") }
        return s
    }

    /// A decimal number written as a string (`"70500.56"`), or nil when absent or empty. Only plain
    /// decimals are numbers: `"abc"`, `"NaN"`, `"inf"` or `"0x1p3"` are errors.
    func decimal(_ key: String) throws -> Double? {
        switch value[key] {
        case nil, .null?: return nil
        case let .number(d)?:
            guard d.isFinite else { throw fail(key, "expected a finite number") }
            return d
        case let .string(s)?:
            if s.isEmpty { return nil }
            guard let d = BybitRecord.parseDecimal(s) else { throw fail(key, "expected a decimal number, got \(InputError.echo(s))") }
            return d
        case let v?: throw fail(key, "expected a decimal string, got \(v.typeName)")
        }
    }

    /// As `decimal`, but an empty string is an error: for the numbers where "" has no documented
    /// meaning (docs/bybit.md), absent and null still mean none.
    func presentDecimal(_ key: String) throws -> Double? {
        if case .string("")? = value[key] { throw fail(key, "empty (expected a decimal number)") }
        return try decimal(key)
    }

    func requiredDecimal(_ key: String) throws -> Double {
        guard let d = try decimal(key) else { throw fail(key, "missing or empty (expected a decimal number)") }
        return d
    }

    /// Milliseconds since the epoch (`"1774598400000"`) as seconds, or nil when absent or empty.
    /// Only instants from 1970-01-01 up to 9999-12-31T23:59:59.999Z (`ISO8601.epochRange`, what a
    /// market document can hold) are accepted; any other number is an error naming the field.
    func epochMillis(_ key: String) throws -> Double? {
        guard let ms = try decimal(key) else { return nil }
        let t = ms / 1000
        guard ISO8601.epochRange.contains(t) else {
            throw fail(key, "expected milliseconds since 1970-01-01 up to 9999-12-31 (0 … 253402300799999), got \(NumberFormat.text(ms))")
        }
        return t
    }

    /// `-?digits[.digits][e±digits]`, finite.
    static func parseDecimal(_ s: String) -> Double? {
        var sawDigit = false, i = s.utf8.startIndex
        let u = s.utf8
        if i < u.endIndex, u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+") { i = u.index(after: i) }
        var state = 0  // 0 integer part, 1 fraction, 2 exponent sign allowed, 3 exponent digits
        while i < u.endIndex {
            let c = u[i]
            switch c {
            case 48...57: if state == 2 { state = 3 }; if state < 2 { sawDigit = true }
            case UInt8(ascii: "."): guard state == 0 else { return nil }; state = 1
            case UInt8(ascii: "e"), UInt8(ascii: "E"): guard state < 2, sawDigit else { return nil }; state = 2
            case UInt8(ascii: "+"), UInt8(ascii: "-"): guard state == 2 else { return nil }; state = 3
            default: return nil
            }
            i = u.index(after: i)
        }
        guard sawDigit, state != 2, let d = Double(s), d.isFinite else { return nil }
        return d
    }
}

/// What a saved response is, recognised by its content (docs/formats.md "Bybit V5 interop").
enum BybitEndpoint: Equatable {
    case tickers(category: String)
    case instrumentsInfo(category: String)
    case positionList(category: String)
    case walletBalance
    case openOrders(category: String)
    case accountInfo
    /// A page whose `result.list` is empty: nothing to read, whatever endpoint it came from.
    case emptyList

    /// The `category` of the endpoints that have one.
    var category: String? {
        switch self {
        case let .tickers(c), let .instrumentsInfo(c), let .positionList(c), let .openOrders(c): return c
        case .walletBalance, .accountInfo, .emptyList: return nil
        }
    }

    var name: String {
        switch self {
        case let .tickers(c): return "tickers (category \(c))"
        case let .instrumentsInfo(c): return "instruments-info (category \(c))"
        case let .positionList(c): return "position list (category \(c))"
        case .walletBalance: return "wallet balance"
        case let .openOrders(c): return "open orders (category \(c))"
        case .accountInfo: return "account info"
        case .emptyList: return "an empty list"
        }
    }
}

/// One saved response: the file, its `time` (seconds) and its `result`.
struct BybitResponse {
    let file: String
    let time: Double?
    let result: JSON
    let endpoint: BybitEndpoint
    /// `result.nextPageCursor` when not empty: more pages of this endpoint follow.
    let cursor: String?
    /// `result.category` as written (also on an empty page).
    let category: String?

    /// The items of `result.list`.
    var list: [JSON] { if case let .array(a)? = result["list"] { return a }; return [] }

    func record(_ n: Int) -> BybitRecord { BybitRecord(value: list[n], file: file, record: "result.list[\(n)]") }

    /// Parses and recognises a response; throws on `retCode` ≠ 0 or an unrecognised shape.
    init(file: String, bytes: [UInt8]) throws {
        self.file = file
        let doc: JSON
        do { doc = try JSON.parse(bytes) } catch let e as InputError { throw e.inFile(file) }
        let top = BybitRecord(value: doc, file: file, record: "")
        guard case .object = doc else { throw InputError(file: file, "expected a Bybit V5 response object, got \(doc.typeName)") }
        guard let code = try top.decimal("retCode") else {
            throw top.fail("retCode", "missing: not a Bybit V5 response ({\"retCode\", \"retMsg\", \"result\", \"time\"})")
        }
        guard code == 0 else {
            let msg = (try? top.text("retMsg")) ?? nil
            throw top.fail("retCode", "the request failed: retCode \(BybitFormat.decimal(code))\(msg.map { ", retMsg \(InputError.echo($0))" } ?? "")")
        }
        time = try top.epochMillis("time")
        guard let result = doc["result"], case .object = result else { throw top.fail("result", "missing or not an object") }
        self.result = result
        let r = BybitRecord(value: result, file: file, record: "result")
        cursor = try r.text("nextPageCursor")
        let category = try r.text("category")
        self.category = category
        if r.has("marginMode") || r.has("spotHedgingStatus") || r.has("unifiedMarginStatus") {
            endpoint = .accountInfo
            return
        }
        guard case let .array(items)? = result["list"] else {
            throw InputError(file: file, record: "result", "unrecognised response: no `list` and no account info fields")
        }
        guard let first = items.first else { endpoint = .emptyList; return }
        guard case .object = first else { throw InputError(file: file, record: "result.list[0]", "expected an object, got \(first.typeName)") }
        let f = BybitRecord(value: first, file: file, record: "result.list[0]")
        func needCategory() throws -> String {
            guard let c = category else { throw r.fail("category", "missing (expected option, linear, inverse or spot)") }
            guard ["option", "linear", "inverse", "spot"].contains(c) else {
                throw r.fail("category", "expected option, linear, inverse or spot, got \(InputError.echo(c))")
            }
            return c
        }
        if f.has("coin") || f.has("accountType") || f.has("totalEquity") {
            endpoint = .walletBalance
        } else if f.has("orderId") || f.has("leavesQty") || f.has("orderStatus") {
            endpoint = .openOrders(category: try needCategory())
        } else if f.has("lotSizeFilter") || f.has("priceFilter") || f.has("contractType") || f.has("optionsType") {
            endpoint = .instrumentsInfo(category: try needCategory())
        } else if f.has("side") && f.has("size") {
            endpoint = .positionList(category: try needCategory())
        } else if f.has("markPrice") || f.has("lastPrice") || f.has("usdIndexPrice") {
            endpoint = .tickers(category: try needCategory())
        } else {
            throw InputError(file: file, record: "result.list[0]",
                             "unrecognised response (expected tickers, instruments-info, position list, wallet balance, open orders or account info)")
        }
    }
}
