import Foundation

/// `pm bybit import`: saved Bybit V5 responses → `market.json` and `account.json` (FORMATS.md
/// "Bybit V5 interop"). Every problem is an `InputError` naming the file and the list index; a
/// problem anywhere means nothing is written.
public enum BybitImport {
    /// Ticker responses whose `time` differs by more than this many seconds are snapshots of
    /// different times (docs/readings.md: a few seconds between the option and linear requests
    /// are one snapshot).
    public static let maxTickerSkew = 60.0

    /// The two documents an import writes.
    public struct Output: Sendable {
        /// The market snapshot document (FORMATS.md `market.json`).
        public var market: JSON
        /// The account document (FORMATS.md `account.json`).
        public var account: JSON
    }

    /// Reads `files` (path and bytes, in any order) into the market snapshot and the account.
    /// - Parameters:
    ///   - files: each saved response's path (named in errors) and bytes.
    ///   - accountId: the account's `id`.
    ///   - indexOverrides: `--index COIN=PRICE`, over every index the responses give.
    public static func run(_ files: [(path: String, bytes: [UInt8])], accountId: String,
                           indexOverrides: [String: Double] = [:]) throws -> Output {
        let responses = try files.map { try BybitResponse(file: $0.path, bytes: $0.bytes) }
        let market = try MarketBuilder(responses, indexOverrides: indexOverrides)
        let account = try AccountBuilder(responses, market: market, accountId: accountId)
        return Output(market: market.json, account: account.json)
    }

    /// Reads the files at `paths` and runs the import.
    public static func run(paths: [String], accountId: String, indexOverrides: [String: Double] = [:]) throws -> Output {
        try run(paths.map { ($0, try readFile($0)) }, accountId: accountId, indexOverrides: indexOverrides)
    }

    /// Writes `DIR/market.json` and `DIR/account.json`: each to a temporary file in `dir`, then both
    /// renamed into place, so a failure leaves neither half-written (the folder is created if missing).
    public static func write(_ output: Output, to dir: String) throws {
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw InputError(file: dir, "cannot create the output folder: \(error.localizedDescription)")
        }
        let pid = ProcessInfo.processInfo.processIdentifier
        let names = ["market.json", "account.json"]
        let docs = [output.market, output.account]
        var temps: [String] = []
        do {
            for (name, doc) in zip(names, docs) {
                let tmp = "\(dir)/.\(name).\(pid).tmp"
                temps.append(tmp)
                guard fm.createFile(atPath: tmp, contents: Data((doc.render() + "\n").utf8)) else {
                    throw InputError(file: "\(dir)/\(name)", "cannot be written")
                }
            }
            for (name, tmp) in zip(names, temps) {
                guard rename(tmp, "\(dir)/\(name)") == 0 else { throw InputError(file: "\(dir)/\(name)", "cannot be written (rename failed)") }
            }
        } catch {
            for t in temps { try? fm.removeItem(atPath: t) }
            throw error
        }
    }
}

/// The market snapshot: tickers joined with instruments-info.
struct MarketBuilder {
    struct Entry {
        var instrument: Instrument
        var category: String
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
        for r in responses {
            guard case let .instrumentsInfo(category) = r.endpoint else { continue }
            for n in r.list.indices {
                let rec = r.record(n)
                info[try rec.requiredText("symbol")] = (category, rec)
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
                if category == "spot" {
                    // Spot tickers carry the base coin's USD index (`usdIndexPrice`).
                    if let idx = try rec.decimal("usdIndexPrice"), let base = Self.spotBase(symbol) {
                        guard idx > 0 else { throw rec.fail("usdIndexPrice", "expected a positive price") }
                        spotIndex[base] = spotIndex[base] ?? idx
                    }
                    continue
                }
                if let before = seen[symbol] {
                    throw rec.fail("symbol", "duplicate ticker \(InputError.echo(symbol)) (also in \(before))")
                }
                seen[symbol] = "\(r.file) \(rec.record)"
                // A ticker whose kind cannot be told (a symbol outside the grammar, no instruments-info)
                // fails only a position or order on it: a full tickers dump lists many instruments.
                if info[symbol] == nil && BybitSymbol.parse(symbol, category: category) == nil {
                    unreadable[symbol] = rec.fail("symbol", "\(InputError.echo(symbol)) does not follow Bybit's \(category) symbol grammar; save its instruments-info too")
                    continue
                }
                let inst = try Self.instrument(rec, symbol: symbol, category: category, info: info[symbol])
                if let idx = try rec.decimal("indexPrice"), category != "linear" || derivedIndex[inst.baseCoin] == nil {
                    guard idx > 0 else { throw rec.fail("indexPrice", "expected a positive price") }
                    if derivedIndex[inst.baseCoin] == nil { derivedIndex[inst.baseCoin] = idx }
                }
                entries.append(Entry(instrument: inst, category: category))
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
        // Stablecoins at 1 unless spot tickers or --index say otherwise (FORMATS.md).
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

    /// One instrument from its ticker, with instruments-info where saved and the symbol grammar otherwise.
    static func instrument(_ t: BybitRecord, symbol: String, category: String,
                           info: (category: String, record: BybitRecord)?) throws -> Instrument {
        let grammar = BybitSymbol.parse(symbol, category: category)
        let i = info?.record
        if let info, info.category != category {
            throw t.fail("symbol", "\(InputError.echo(symbol)) is a \(category) ticker but \(info.record.file) lists it as \(info.category)")
        }
        guard grammar != nil || i != nil else {
            throw t.fail("symbol", "\(InputError.echo(symbol)) does not follow Bybit's \(category) symbol grammar; save its instruments-info too")
        }
        let base = try i?.text("baseCoin") ?? grammar?.baseCoin ?? ""
        func millis(_ r: BybitRecord?) throws -> Double? {
            guard let r, let d = try r.decimal("deliveryTime"), d > 0 else { return nil }
            return d / 1000
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
            guard let expiry = try millis(i) ?? grammar?.expiry else { throw t.fail("symbol", "no expiry: neither deliveryTime nor a date in the symbol") }
            return Instrument(symbol: symbol, kind: .option, baseCoin: base, settleCoin: settle!, markPrice: mark,
                              expiry: expiry, optionType: type, strike: strike,
                              underlyingPrice: try t.requiredDecimal("underlyingPrice"), markIv: try t.requiredDecimal("markIv"))
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
        if kind == .future {
            guard let e = try millis(i) ?? millis(t) ?? grammar?.expiry else {
                throw t.fail("deliveryTime", "a future needs its delivery time (from the ticker or instruments-info)")
            }
            inst.expiry = e
        }
        return inst
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
        func listed(_ rec: BybitRecord, _ symbol: String, _ category: String) throws -> Instrument {
            if let e = market.unreadable[symbol] { throw InputError(file: rec.file, record: rec.record, field: "symbol", "no market data: \(e)") }
            guard let n = market.bySymbol[symbol] else {
                throw rec.fail("symbol", "no market data for \(InputError.echo(symbol)) (save GET /v5/market/tickers?category=\(category))")
            }
            return market.instruments[n].instrument
        }
        for r in responses {
            switch r.endpoint {
            case .accountInfo:
                let rec = BybitRecord(value: r.result, file: r.file, record: "result")
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
                        guard let wb = try rec.decimal("walletBalance"), wb != 0 else { continue }
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
                    // One-way mode lists an empty side ("") with size 0 for no position.
                    let side = try rec.text("side")
                    let size = try rec.decimal("size") ?? 0
                    guard size != 0 else { continue }
                    guard let side, let s = Side(rawValue: side) else {
                        throw rec.fail("side", "expected Buy or Sell for a size of \(NumberFormat.text(size)), got \(InputError.echo(side ?? ""))")
                    }
                    guard size > 0 else { throw rec.fail("size", "expected a size ≥ 0 (the side gives the sign)") }
                    let inst = try listed(rec, symbol, category)
                    var entry: Double?
                    if inst.kind != .option, let p = try rec.decimal("avgPrice"), p > 0 { entry = p }
                    account.positions.append(Position(symbol: symbol, size: s.sign * size, entryPrice: entry))
                }
            case let .openOrders(category):
                // Spot orders are not derivative orders of the model (MODEL.md §7).
                guard category != "spot" else { continue }
                for n in r.list.indices {
                    let rec = r.record(n)
                    let symbol = try rec.requiredText("symbol")
                    if let st = try rec.text("orderStatus"), !Self.activeStatuses.contains(st) { continue }
                    guard let qty = try rec.decimal("leavesQty") ?? rec.decimal("qty") else { throw rec.fail("leavesQty", "missing") }
                    guard qty >= 0 else { throw rec.fail("leavesQty", "expected a quantity ≥ 0") }
                    guard qty > 0 else { continue }
                    let sideText = try rec.requiredText("side")
                    guard let side = Side(rawValue: sideText) else { throw rec.fail("side", "expected Buy or Sell, got \(InputError.echo(sideText))") }
                    let inst = try listed(rec, symbol, category)
                    // A market order has no limit price: it would fill at mark.
                    let price = try rec.decimal("price").flatMap { $0 > 0 ? $0 : nil } ?? inst.markPrice
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
