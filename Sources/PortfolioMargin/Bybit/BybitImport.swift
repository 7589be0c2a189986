import Foundation

/// `pm bybit import`: saved Bybit V5 responses → `market.json` and `account.json` (docs/formats.md
/// "Bybit V5 interop"). Every problem is an `InputError` naming the file and the list index; a
/// problem anywhere means nothing is written.
public enum BybitImport {
    /// Ticker responses whose `time` differs by more than this many seconds are snapshots of
    /// different times (docs/readings.md: a few seconds between the option and linear requests
    /// are one snapshot).
    public static let maxTickerSkew = 60.0

    /// The two documents an import writes.
    public struct Output: Sendable {
        /// The market snapshot document (docs/formats.md `market.json`).
        public var market: JSON
        /// The account document (docs/formats.md `account.json`).
        public var account: JSON
    }

    /// Reads `files` (path and bytes, in any order) into the market snapshot and the account.
    /// - Parameters:
    ///   - files: each saved response's path (named in errors) and bytes.
    ///   - accountId: the account's `id`.
    ///   - indexOverrides: `--index COIN=PRICE`, over every index the responses give.
    public static func run(_ files: [(path: String, bytes: [UInt8])], accountId: String,
                           indexOverrides: [String: Double] = [:]) throws -> Output {
        guard !accountId.isEmpty, !accountId.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw InputError(field: "--id", "expected a non-empty account id without control characters, got \(InputError.echo(accountId))")
        }
        let responses = try files.map { try BybitResponse(file: $0.path, bytes: $0.bytes) }
        try checkPages(responses)
        let market = try MarketBuilder(responses, indexOverrides: indexOverrides)
        let account = try AccountBuilder(responses, market: market, accountId: accountId)
        return Output(market: market.json, account: account.json)
    }

    /// Reads the files at `paths` and runs the import.
    public static func run(paths: [String], accountId: String, indexOverrides: [String: Double] = [:]) throws -> Output {
        try run(paths.map { ($0, try readFile($0)) }, accountId: accountId, indexOverrides: indexOverrides)
    }

    /// The page rule (docs/formats.md "Bybit V5 interop"). A response does not say which cursor fetched
    /// it, so pages cannot be matched to cursors; what can be told is that a chain ends in a page
    /// with an empty `nextPageCursor`. Among the responses of one endpoint and category, at least
    /// one must be such a last page (an empty page of that category, or of none, counts as one);
    /// otherwise the first page carrying a cursor is refused, naming the cursor.
    static func checkPages(_ responses: [BybitResponse]) throws {
        var lastPage: Set<String> = []   // endpoint names with a page that ends a chain
        var emptyLast: Set<String> = []  // categories ("" for none) of empty last pages
        var byCursor: [String: String] = [:]  // "endpoint name + cursor" → the file that carries it
        for r in responses {
            // Each page of a chain points to a different next page: two pages of one endpoint and
            // category with the same cursor are one page given twice or a forked chain.
            if let c = r.cursor, r.endpoint != .emptyList {
                let key = r.endpoint.name + "\u{0}" + c
                if let before = byCursor[key] {
                    throw InputError(file: r.file, record: "result", field: "nextPageCursor",
                                     "two \(r.endpoint.name) pages carry the same cursor \(InputError.echo(c)) (also \(before)): a page given twice or pages of two different fetches")
                }
                byCursor[key] = r.file
            }
            if r.endpoint == .emptyList {
                if let c = r.cursor {
                    throw InputError(file: r.file, record: "result", field: "nextPageCursor",
                                     "an empty page that says more pages follow (cursor \(InputError.echo(c))): save the next page too")
                }
                emptyLast.insert(r.category ?? "")
            } else if r.cursor == nil {
                lastPage.insert(r.endpoint.name)
            }
        }
        for r in responses where r.endpoint != .emptyList {
            guard let c = r.cursor, !lastPage.contains(r.endpoint.name),
                  !emptyLast.contains(r.endpoint.category ?? ""), !emptyLast.contains("") else { continue }
            throw InputError(file: r.file, record: "result", field: "nextPageCursor",
                             "more pages follow (cursor \(InputError.echo(c))) but no \(r.endpoint.name) page given is the last one (an empty nextPageCursor): save every page")
        }
    }

    /// Writes `DIR/market.json` and `DIR/account.json` together or not at all: both into a staging
    /// folder beside `DIR`, which then replaces `DIR` in one step (`OutputFiles`; other plain files
    /// in `DIR` are kept). A `market.json` or `account.json` in `DIR` that is not a plain file is
    /// refused before anything is written; every failure says why (the system's reason).
    public static func write(_ output: Output, to dir: String) throws {
        let names = ["market.json", "account.json"]
        for name in names {
            let path = dir + "/" + name
            if let st = try? FileSystem.linkStatus(path), st.kind != .regular {   // a symbolic link too (docs/formats.md)
                throw InputError(file: path, "exists and is not a plain file; nothing was written")
            }
        }
        let files = try OutputFiles(directory: dir, names: names)
        do {
            for (k, doc) in [output.market, output.account].enumerated() {
                try files.write(k, Array((doc.render() + "\n").utf8))
            }
            try files.commit()
        } catch {
            files.abandon()
            throw error
        }
    }
}

/// The market snapshot: tickers joined with instruments-info.
struct MarketBuilder {
    struct Entry {
        var instrument: Instrument
        var category: String
        /// The ticker and instruments-info records the instrument was read from, and the record
        /// and field its expiry came from: an error about the instrument names where its value was.
        var ticker: BybitRecord
        var info: BybitRecord?
        var expirySource: (record: BybitRecord, field: String)?

        /// The record and field behind a `MarketSnapshot.problem` field.
        func source(of field: String) -> (record: BybitRecord, field: String) {
            switch field {
            case "markPrice", "underlyingPrice", "markIv": return (ticker, field)
            case "indexPrices": return (ticker, "indexPrice")
            case "expiry": return expirySource ?? (ticker, "deliveryTime")
            case "optionType": return info.map { ($0, "optionsType") } ?? (ticker, "symbol")
            case "settleCoin": return info.flatMap { $0.has("settleCoin") ? ($0, "settleCoin") : nil } ?? (ticker, "symbol")
            default: return (ticker, "symbol")
            }
        }

        /// Why `pm margin` would refuse an account holding this instrument (the market's lazy
        /// instrument check, docs/model.md §11.14), or nil when it is usable.
        func problem(time: Double, indexPrices: [String: Double]) -> (record: BybitRecord, field: String, message: String)? {
            guard let p = MarketSnapshot.problem(of: instrument, time: time, indexPrices: indexPrices) else { return nil }
            let (record, field) = source(of: p.0)
            return (record, field, p.1)
        }
    }
    var time: Double
    var indexPrices: [String: Double] = [:]
    var instruments: [Entry] = []
    var bySymbol: [String: Int] = [:]
    /// Tickers left out because their kind cannot be told, with the reason.
    var unreadable: [String: InputError] = [:]

    init(_ responses: [BybitResponse], indexOverrides: [String: Double]) throws {
        // instruments-info by symbol (pages and categories together).
        var info: [String: (category: String, record: BybitRecord)] = [:]
        var tickerFiles: [(file: String, time: Double)] = []
        // Spot instruments-info is not read (spot holdings are balances); its `BTCUSDT` is not the
        // linear one. A symbol listed twice (a page given twice) is an error, not a silent choice.
        for r in responses {
            guard case let .instrumentsInfo(category) = r.endpoint, category != "spot" else { continue }
            for n in r.list.indices {
                let rec = r.record(n)
                let symbol = try rec.requiredText("symbol")
                if let before = info[symbol] {
                    throw rec.fail("symbol", "duplicate instruments-info entry \(InputError.echo(symbol)) (also in \(before.record.file) \(before.record.record))")
                }
                info[symbol] = (category, rec)
            }
        }
        var derivedIndex: [String: Double] = [:]
        var spotIndex: [String: Double] = [:]
        var seen: [String: String] = [:]   // symbol → "file result.list[n]"
        // Options first: their indexPrice is the coin's USD index; a linear ticker's is in its settle coin.
        let order = ["option", "linear", "inverse", "spot"]
        var tickers: [(String, BybitResponse)] = []
        for c in order { for r in responses { if case .tickers(c) = r.endpoint { tickers.append((c, r)) } } }
        var entries: [Entry] = []
        for (category, r) in tickers {
            guard let t = r.time else { throw InputError(file: r.file, field: "time", "missing: the tickers' time is the snapshot time") }
            tickerFiles.append((r.file, t))
            for n in r.list.indices {
                let rec = r.record(n)
                let symbol = try rec.requiredText("symbol")
                if let before = seen[category == "spot" ? "spot " + symbol : symbol] {
                    throw rec.fail("symbol", "duplicate ticker \(InputError.echo(symbol)) (also in \(before))")
                }
                seen[category == "spot" ? "spot " + symbol : symbol] = "\(r.file) \(rec.record)"
                if category == "spot" {
                    // Spot tickers carry the base coin's USD index (`usdIndexPrice`).
                    if let idx = try rec.decimal("usdIndexPrice"), let base = Self.spotBase(symbol) {
                        guard idx > 0 else { throw rec.fail("usdIndexPrice", "expected a positive price") }
                        spotIndex[base] = spotIndex[base] ?? idx
                    }
                    continue
                }
                // A ticker whose kind cannot be told (a symbol outside the grammar, no instruments-info)
                // fails only a position or order on it: a full tickers dump lists many instruments.
                if info[symbol] == nil && BybitSymbol.parse(symbol, category: category) == nil {
                    unreadable[symbol] = rec.fail("symbol", "\(InputError.echo(symbol)) does not follow Bybit's \(category) symbol grammar; save its instruments-info too")
                    continue
                }
                let (inst, expirySource) = try Self.instrument(rec, symbol: symbol, category: category, info: info[symbol])
                if let idx = try rec.decimal("indexPrice"), category != "linear" || derivedIndex[inst.baseCoin] == nil {
                    guard idx > 0 else { throw rec.fail("indexPrice", "expected a positive price") }
                    if derivedIndex[inst.baseCoin] == nil { derivedIndex[inst.baseCoin] = idx }
                }
                entries.append(Entry(instrument: inst, category: category, ticker: rec, info: info[symbol]?.record, expirySource: expirySource))
            }
        }
        guard let first = tickerFiles.first else {
            throw InputError("no market tickers among the responses (save GET /v5/market/tickers for each category you hold)")
        }
        let earliest = tickerFiles.min { $0.time < $1.time }!, latest = tickerFiles.max { $0.time < $1.time }!
        if latest.time - earliest.time > BybitImport.maxTickerSkew {
            throw InputError(file: latest.file, field: "time",
                             "snapshots of different times: \(ISO8601.format(latest.time)) here, \(ISO8601.format(earliest.time)) in \(earliest.file) (more than \(Int(BybitImport.maxTickerSkew)) s apart)")
        }
        _ = first
        time = latest.time
        // Stablecoins at 1 unless spot tickers or --index say otherwise (docs/formats.md).
        indexPrices = ["USDT": 1.0, "USDC": 1.0]
        for (k, v) in spotIndex { indexPrices[k] = v }
        for (k, v) in derivedIndex where !["USDT", "USDC"].contains(k) { indexPrices[k] = v }
        for (k, v) in indexOverrides { indexPrices[k] = v }
        instruments = entries
        for (n, e) in entries.enumerated() { bySymbol[e.instrument.symbol] = n }
    }

    /// The base coin of a spot symbol `SOLUSDT`, `USDCUSDT`, `BTCUSDC`.
    static func spotBase(_ symbol: String) -> String? {
        for q in ["USDT", "USDC", "USDE", "USD", "EUR", "BTC"] where symbol.hasSuffix(q) && symbol.count > q.count {
            return String(symbol.dropLast(q.count))
        }
        return nil
    }

    /// One instrument from its ticker, with instruments-info where saved and the symbol grammar
    /// otherwise; with the record and field its expiry was read from.
    static func instrument(_ t: BybitRecord, symbol: String, category: String,
                           info: (category: String, record: BybitRecord)?) throws -> (Instrument, (record: BybitRecord, field: String)?) {
        let grammar = BybitSymbol.parse(symbol, category: category)
        let i = info?.record
        if let info, info.category != category {
            throw t.fail("symbol", "\(InputError.echo(symbol)) is a \(category) ticker but \(info.record.file) lists it as \(info.category)")
        }
        guard grammar != nil || i != nil else {
            throw t.fail("symbol", "\(InputError.echo(symbol)) does not follow Bybit's \(category) symbol grammar; save its instruments-info too")
        }
        let base = try i?.text("baseCoin") ?? grammar?.baseCoin ?? ""
        // `deliveryTime` "0" is a perpetual's; an instant outside 1970…9999 is an error.
        func millis(_ r: BybitRecord?) throws -> Double? {
            guard let r, let t = try r.epochMillis("deliveryTime"), t > 0 else { return nil }
            return t
        }
        let mark = try t.requiredDecimal("markPrice")
        if category == "option" {
            var settle = try i?.text("settleCoin") ?? grammar?.settleCoin
            if settle == nil { settle = "USDC" }
            var type = grammar?.optionType
            if let ot = try i?.text("optionsType") {
                guard let x = OptionType(rawValue: ot) else { throw i!.fail("optionsType", "expected Call or Put, got \(InputError.echo(ot))") }
                type = x
            }
            guard let strike = grammar?.strike else {
                throw t.fail("symbol", "cannot read the strike from \(InputError.echo(symbol)) (expected BASE-DDMMMYY-STRIKE-C|P[-SETTLE])")
            }
            let fromInfo = try millis(i)
            guard let expiry = fromInfo ?? grammar?.expiry else { throw t.fail("symbol", "no expiry: neither deliveryTime nor a date in the symbol") }
            return (Instrument(symbol: symbol, kind: .option, baseCoin: base, settleCoin: settle!, markPrice: mark,
                               expiry: expiry, optionType: type, strike: strike,
                               underlyingPrice: try t.requiredDecimal("underlyingPrice"), markIv: try t.requiredDecimal("markIv")),
                    fromInfo != nil ? (i!, "deliveryTime") : (t, "symbol"))
        }
        var kind = grammar?.kind ?? .perpetual
        if let ct = try i?.text("contractType") {
            switch ct {
            case "LinearPerpetual", "InversePerpetual": kind = .perpetual
            case "LinearFutures", "InverseFutures": kind = .future
            default: throw i!.fail("contractType", "expected LinearPerpetual, LinearFutures, InversePerpetual or InverseFutures, got \(InputError.echo(ct))")
            }
        } else if grammar == nil || grammar!.kind == .perpetual, let d = try millis(t) {
            // A ticker with a delivery time is a future whatever its name.
            _ = d
            kind = .future
        }
        let settle = try i?.text("settleCoin") ?? (category == "inverse" ? base : grammar?.settleCoin ?? "USDT")
        var inst = Instrument(symbol: symbol, kind: kind, baseCoin: base, settleCoin: settle, markPrice: mark)
        var source: (record: BybitRecord, field: String)?
        if kind == .future {
            if let e = try millis(i) { inst.expiry = e; source = (i!, "deliveryTime") }
            else if let e = try millis(t) { inst.expiry = e; source = (t, "deliveryTime") }
            else if let e = grammar?.expiry { inst.expiry = e; source = (t, "symbol") }
            else { throw t.fail("deliveryTime", "a future needs its delivery time (from the ticker or instruments-info)") }
        }
        return (inst, source)
    }

    var json: JSON {
        .object([
            ("time", .string(ISO8601.format(time))),
            ("indexPrices", .object(indexPrices.keys.sorted().map { ($0, .number(indexPrices[$0]!)) })),
            ("instruments", .array(instruments.map { e in
                let i = e.instrument
                var m: [(String, JSON)] = [("symbol", .string(i.symbol)), ("kind", .string(i.kind.rawValue)),
                                           ("baseCoin", .string(i.baseCoin)), ("settleCoin", .string(i.settleCoin))]
                if let t = i.optionType { m.append(("optionType", .string(t.rawValue))) }
                if let k = i.strike { m.append(("strike", .number(k))) }
                if let x = i.expiry { m.append(("expiry", .string(ISO8601.format(x)))) }
                m.append(("markPrice", .number(i.markPrice)))
                if let f = i.underlyingPrice { m.append(("underlyingPrice", .number(f))) }
                if let v = i.markIv { m.append(("markIv", .number(v))) }
                return .object(m)
            })),
        ])
    }
}

/// The account: balances, positions, orders and spot hedging.
struct AccountBuilder {
    var account: Account

    static let activeStatuses: Set<String> = ["New", "PartiallyFilled"]

    init(_ responses: [BybitResponse], market: MarketBuilder, accountId: String) throws {
        account = Account(id: accountId)
        // Where each row was first seen: a response given twice, or a row repeated, would add up
        // (positions, balances) or count twice (orders). Pages of one endpoint hold distinct rows.
        var seenInfo: String?
        var seenCoin: [String: String] = [:]       // coin → "file record"
        var seenPosition: [String: String] = [:]   // "category symbol positionIdx" → "file record"
        var seenOrder: [String: String] = [:]      // orderId → "file record"
        func once(_ seen: inout [String: String], _ key: String, _ rec: BybitRecord, _ field: String, _ what: String) throws {
            if let before = seen[key] { throw rec.fail(field, "\(what) given twice (also in \(before))") }
            seen[key] = "\(rec.file) \(rec.record)"
        }
        func listed(_ rec: BybitRecord, _ symbol: String, _ category: String) throws -> Instrument {
            if let e = market.unreadable[symbol] { throw InputError(file: rec.file, record: rec.record, field: "symbol", "no market data: \(e)") }
            guard let n = market.bySymbol[symbol] else {
                throw rec.fail("symbol", "no market data for \(InputError.echo(symbol)) (save GET /v5/market/tickers?category=\(category))")
            }
            // An instrument the account holds must be one `pm margin` can use: the market document
            // records a bad instrument lazily (docs/model.md §11.14), so writing it would give an
            // account that every later command refuses. Instruments nobody holds stay lazy.
            let e = market.instruments[n]
            if let p = e.problem(time: market.time, indexPrices: market.indexPrices) {
                let hint = p.field == "indexPrice" ? " (save its spot ticker or pass --index COIN=PRICE)" : ""
                throw p.record.fail(p.field, "\(p.message)\(hint); \(InputError.echo(symbol)) is held by \(rec.file) \(rec.record), so its margin could not be computed")
            }
            return e.instrument
        }
        for r in responses {
            switch r.endpoint {
            case .accountInfo:
                let rec = BybitRecord(value: r.result, file: r.file, record: "result")
                if let before = seenInfo { throw InputError(file: r.file, record: "result", "account info given twice (also \(before))") }
                seenInfo = r.file
                if let s = try rec.text("spotHedgingStatus") {
                    guard s == "ON" || s == "OFF" else { throw rec.fail("spotHedgingStatus", "expected ON or OFF, got \(InputError.echo(s))") }
                    account.spotHedging = s == "ON"
                }
            case .walletBalance:
                for n in r.list.indices {
                    guard case let .array(coins)? = r.list[n]["coin"] else { continue }
                    for (k, c) in coins.enumerated() {
                        let rec = BybitRecord(value: c, file: r.file, record: "result.list[\(n)].coin[\(k)]")
                        let coin = try rec.requiredText("coin")
                        try once(&seenCoin, coin, rec, "coin", "coin \(InputError.echo(coin))")
                        // An empty walletBalance is not a zero balance: an error, as any empty number.
                        let wb = try rec.requiredDecimal("walletBalance")
                        guard wb != 0 else { continue }
                        guard market.indexPrices[coin] != nil else {
                            throw rec.fail("coin", "no index price for \(InputError.echo(coin)) (save its spot ticker or pass --index \(coin)=PRICE)")
                        }
                        account.balances.append(Balance(coin: coin, walletBalance: wb))
                    }
                }
            case let .positionList(category):
                for n in r.list.indices {
                    let rec = r.record(n)
                    let symbol = try rec.requiredText("symbol")
                    // Hedge mode lists a symbol twice, positionIdx 1 (Buy side) and 2 (Sell side).
                    let idx = BybitFormat.decimal(try rec.presentDecimal("positionIdx") ?? 0)
                    try once(&seenPosition, "\(category) \(symbol) \(idx)", rec, "symbol",
                             "position \(InputError.echo(symbol)) (positionIdx \(InputError.echo(idx)))")
                    // One-way mode lists an empty side ("") with size 0 for no position.
                    let side = try rec.text("side")
                    let size = try rec.requiredDecimal("size")
                    guard size != 0 else { continue }
                    guard let side, let s = Side(rawValue: side) else {
                        throw rec.fail("side", "expected Buy or Sell for a size of \(NumberFormat.text(size)), got \(InputError.echo(side ?? ""))")
                    }
                    guard size > 0 else { throw rec.fail("size", "expected a size ≥ 0 (the side gives the sign)") }
                    let inst = try listed(rec, symbol, category)
                    var entry: Double?
                    if inst.kind != .option, let p = try rec.presentDecimal("avgPrice"), p > 0 { entry = p }
                    account.positions.append(Position(symbol: symbol, size: s.sign * size, entryPrice: entry))
                }
            case let .openOrders(category):
                // Spot orders are not derivative orders of the model (docs/model.md §7).
                guard category != "spot" else { continue }
                for n in r.list.indices {
                    let rec = r.record(n)
                    let symbol = try rec.requiredText("symbol")
                    if let id = try rec.text("orderId") { try once(&seenOrder, id, rec, "orderId", "order \(InputError.echo(id))") }
                    if let st = try rec.text("orderStatus"), !Self.activeStatuses.contains(st) { continue }
                    guard let qty = try rec.presentDecimal("leavesQty") ?? rec.presentDecimal("qty") else { throw rec.fail("leavesQty", "missing") }
                    guard qty >= 0 else { throw rec.fail("leavesQty", "expected a quantity ≥ 0") }
                    guard qty > 0 else { continue }
                    let sideText = try rec.requiredText("side")
                    guard let side = Side(rawValue: sideText) else { throw rec.fail("side", "expected Buy or Sell, got \(InputError.echo(sideText))") }
                    let inst = try listed(rec, symbol, category)
                    // A market order has no limit price (Bybit writes "0" or ""): it would fill at
                    // mark. Any other order needs a positive price.
                    let price: Double
                    let limit = try rec.decimal("price")
                    if let p = limit, p > 0 {
                        price = p
                    } else if try rec.text("orderType") == "Market", limit == nil || limit == 0 {
                        price = inst.markPrice
                    } else {
                        throw rec.fail("price", "expected a positive price (only a Market order may have none), got \(InputError.echo(try rec.text("price") ?? ""))")
                    }
                    account.orders.append(Order(symbol: symbol, side: side, qty: qty, price: price))
                }
            case .tickers, .instrumentsInfo, .emptyList:
                continue
            }
        }
    }

    var json: JSON {
        let a = account
        return .object([
            ("id", .string(a.id)),
            ("spotHedging", .bool(a.spotHedging)),
            ("balances", .array(a.balances.map { .object([("coin", .string($0.coin)), ("walletBalance", .number($0.walletBalance))]) })),
            ("positions", .array(a.positions.map { p in
                var m: [(String, JSON)] = [("symbol", .string(p.symbol)), ("size", .number(p.size))]
                if let e = p.entryPrice { m.append(("entryPrice", .number(e))) }
                return .object(m)
            })),
            ("orders", .array(a.orders.map {
                .object([("symbol", .string($0.symbol)), ("side", .string($0.side.rawValue)),
                         ("qty", .number($0.qty)), ("price", .number($0.price))])
            })),
        ])
    }
}
