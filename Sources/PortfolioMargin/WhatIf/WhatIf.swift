/// A hypothetical trade for a pre-trade check: `SYMBOL:SIZE[@PRICE]` (size signed, short < 0).
public struct Trade: Equatable, Sendable {
    /// The instrument's symbol; checked against the market when the trade is margined.
    public var symbol: String
    /// Signed size (short < 0), finite and non-zero; coins, or USD contracts for inverse instruments.
    public var size: Double
    /// The trade price; nil means at mark.
    public var price: Double?
    /// The `--add` text it was parsed from, or `SYMBOL:SIZE[@PRICE]` built from its fields; errors
    /// about the trade name it (not part of equality).
    public var text: String

    /// A trade of `size` on `symbol` at `price` (`nil`: at mark).
    public init(symbol: String, size: Double, price: Double? = nil) {
        self.symbol = symbol; self.size = size; self.price = price
        text = symbol + ":" + NumberFormat.text(size) + (price.map { "@" + NumberFormat.text($0) } ?? "")
    }

    /// Parses `SYMBOL:SIZE[@PRICE]`, e.g. `BTCUSDT:0.5`, `BTC-26JUN26-95000-C-USDC:-2@1450`. Errors
    /// are one line naming the `--add` argument and the part that is wrong.
    public init(parsing text: String) throws {
        let record = "--add \(InputError.echo(text))"
        guard let colon = text.lastIndex(of: ":") else {
            throw InputError(record: record, "expected SYMBOL:SIZE[@PRICE]")
        }
        let symbol = String(text[..<colon])
        guard !symbol.isEmpty else { throw InputError(record: record, field: "SYMBOL", "expected a symbol before ':'") }
        let rest = text[text.index(after: colon)...]
        let parts = rest.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw InputError(record: record, "expected SYMBOL:SIZE[@PRICE] (one '@')") }
        guard let size = TradeArguments.decimal(parts[0]), size != 0 else {
            throw InputError(record: record, field: "SIZE", "expected a finite non-zero size after ':'")
        }
        var price: Double?
        if parts.count == 2 {
            guard let p = TradeArguments.decimal(parts[1]), p > 0 else {
                throw InputError(record: record, field: "PRICE", "expected a finite positive price after '@'")
            }
            price = p
        }
        self.init(symbol: symbol, size: size, price: price)
        self.text = text
    }

    public static func == (a: Trade, b: Trade) -> Bool { a.symbol == b.symbol && a.size == b.size && a.price == b.price }

    /// The record errors about this trade carry: `--add "TEXT"`.
    var record: String { "--add \(InputError.echo(text))" }
}

/// Pre-trade checks: the account before and after some trades (docs/formats.md `pm whatif`).
public enum WhatIf {
    /// The account with `trades` added.
    ///
    /// As positions: a perpetual or future is added at `price` (default mark) as its entry price,
    /// so the fill's unrealised P&L counts; an option's premium `size × price` is paid from (or
    /// received into) the settle coin's balance, since options count at mark value (docs/model.md
    /// §11.11). As orders (`asOrders`): an active order of |size| at `price` (default mark),
    /// buy for a positive size.
    public static func apply(_ trades: [Trade], to account: Account, market: MarketSnapshot, asOrders: Bool) -> Account {
        var a = account
        for t in trades {
            let inst = market.instrument(t.symbol)
            let price = t.price ?? inst?.markPrice ?? .nan
            if asOrders {
                a.orders.append(Order(symbol: t.symbol, side: t.size > 0 ? .buy : .sell, qty: abs(t.size), price: price))
            } else if let inst, inst.kind == .option {
                a.positions.append(Position(symbol: t.symbol, size: t.size))
                // The premium moves the settle coin's balance (its first row), not a new row: a
                // separate negative row would count as a liability.
                if let b = a.balances.firstIndex(where: { $0.coin == inst.settleCoin }) {
                    a.balances[b].walletBalance -= t.size * price
                } else {
                    a.balances.append(Balance(coin: inst.settleCoin, walletBalance: -t.size * price))
                }
            } else {
                a.positions.append(Position(symbol: t.symbol, size: t.size, entryPrice: price))
            }
        }
        return a
    }

    /// Margins the account before and after the trades, against `priced` (whose market must list
    /// every traded symbol; see `market(adding:to:)` for unlisted ones). `file` is the account's
    /// path, which errors name.
    public static func run(_ account: Account, trades: [Trade], asOrders: Bool, priced: PricedMarket, file: String = "account")
        -> Result<(before: MarginResult, after: MarginResult), AccountError> {
        // A trade whose premium or notional (size × price) overflows is the trade's fault: name it,
        // not the balance or position the overflow would land in.
        for t in trades {
            let price = t.price ?? priced.market.instrument(t.symbol)?.markPrice ?? .nan
            guard (t.size * price).isFinite else {
                return .failure(AccountError(accountId: account.id, error: InputError(
                    record: t.record, "the trade's premium/notional (size × price) overflows a double")))
            }
        }
        let after = apply(trades, to: account, market: priced.market, asOrders: asOrders)
        // Errors name the account as the user knows it: itself, or itself with the trades applied.
        let results = MarginEngine.run(Book(priced: priced, accounts: [account, after], file: file,
                                            records: ["account \(account.id)", "account \(account.id) with the trades applied"]))
        switch (results.result(of: 0), results.result(of: 1)) {
        case let (.success(b), .success(a)): return .success((b, a))
        case let (.failure(e), _): return .failure(e)
        case var (_, .failure(e)):
            // The account alone is fine, so the trades broke it (an overflowing margin, a holding
            // that cannot be margined): name them first.
            e.error = InputError(record: trades.map(\.record).joined(separator: ", "), e.error.description)
            return .failure(e)
        }
    }

    /// The `{"before": RESULT, "after": RESULT}` object of docs/formats.md.
    public static func json(before: MarginResult, after: MarginResult) -> JSON {
        .object([("before", before.json), ("after", after.json)])
    }

    /// Before and after side by side: totals, rates and stage, then per unit what changed.
    public static func table(before b: MarginResult, after a: MarginResult) -> String {
        var out = "Pre-trade check for \(b.accountId)\n"
        out += "  " + Table.pad("", 24) + " " + Table.lpad("before", 17) + " " + Table.lpad("after", 17) + " " + Table.lpad("change", 17) + "\n"
        func line(_ name: String, _ x: Double, _ y: Double, percent: Bool = false) {
            let f: (Double) -> String = percent ? { Table.percent($0) } : { Table.money($0) }
            let d = y - x
            out += "  " + Table.pad(name, 24) + " " + Table.lpad(f(x), 17) + " " + Table.lpad(f(y), 17)
                + " " + Table.lpad(d.isNaN ? "" : (d > 0 ? "+" : "") + f(d), 17) + "\n"
        }
        line("margin balance", b.marginBalance, a.marginBalance)
        line("total IM", b.totalIM, a.totalIM)
        line("total MM", b.totalMM, a.totalMM)
        line("IM rate", b.imRate, a.imRate, percent: true)
        line("MM rate", b.mmRate, a.mmRate, percent: true)
        out += "  " + Table.pad("stage", 24) + " " + Table.lpad(b.stage.rawValue, 17) + " " + Table.lpad(a.stage.rawValue, 17) + "\n"
        let coins = Set(b.units.map(\.baseCoin)).union(a.units.map(\.baseCoin)).sorted()
        for coin in coins {
            let ub = b.units.first { $0.baseCoin == coin }, ua = a.units.first { $0.baseCoin == coin }
            out += "Unit \(coin): governing \(ub?.governingPortfolio.name ?? "—") → \(ua?.governingPortfolio.name ?? "—")\n"
            func v(_ u: UnitResult?, _ f: (UnitResult) -> Double) -> Double { u.map(f) ?? 0 }
            line("max loss", v(ub) { $0.maxLoss }, v(ua) { $0.maxLoss })
            for k in ContingencyKind.all { line(k.descriptor.label, v(ub) { $0.contingency[k] }, v(ua) { $0.contingency[k] }) }
            line("MM", v(ub) { $0.mm }, v(ua) { $0.mm })
            line("IM", v(ub) { $0.im }, v(ua) { $0.im })
            // Which holding carries the max loss, before and after (docs/model.md §12), largest
            // contribution after the trade first; a holding absent on one side shows a dash.
            let before = ub?.attribution ?? [], after = ua?.attribution ?? []
            if !before.isEmpty || !after.isEmpty {
                out += "  contribution to max loss\n"
                var symbols = after.map(\.symbol)
                for r in before where !symbols.contains(r.symbol) { symbols.append(r.symbol) }
                let width = max(22, (symbols.map(\.count).max() ?? 0) + 1)
                for sym in symbols {
                    let x = before.first { $0.symbol == sym }?.contribution
                    let y = after.first { $0.symbol == sym }?.contribution
                    let d = (y ?? 0) - (x ?? 0)
                    out += "    " + Table.pad(sym, width) + " " + Table.lpad(x.map(Table.money) ?? "—", 17)
                        + " " + Table.lpad(y.map(Table.money) ?? "—", 17) + " " + Table.lpad((d > 0 ? "+" : "") + Table.money(d), 17) + "\n"
                }
            }
        }
        return out
    }
}

extension WhatIf {
    /// `pricedMarket(_:listing:)` for `trades`; an error about an unlisted symbol names its `--add`.
    public static func pricedMarket(_ base: PricedMarket, trades: [Trade]) throws -> PricedMarket {
        for t in trades where base.market.instrument(t.symbol) == nil {
            do { _ = try VolSurface.syntheticInstrument(symbol: t.symbol, market: base.market) } catch let e as InputError {
                throw InputError(record: t.record, field: e.field, [e.record, e.message].filter { !$0.isEmpty }.joined(separator: ": "))
            }
        }
        return try pricedMarket(base, listing: trades.map(\.symbol))
    }

    /// `base` if it lists every symbol; otherwise a market with the unlisted ones added (their vol
    /// and forward from the snapshot's smile: `VolSurface.syntheticInstrument`), priced anew.
    public static func pricedMarket(_ base: PricedMarket, listing symbols: [String]) throws -> PricedMarket {
        let missing = Array(Set(symbols.filter { base.market.instrument($0) == nil })).sorted()
        guard !missing.isEmpty else { return base }
        var instruments = base.market.instruments
        for s in missing { instruments.append(try VolSurface.syntheticInstrument(symbol: s, market: base.market)) }
        let market = try MarketSnapshot(time: base.market.time, indexPrices: base.market.indexPrices, instruments: instruments)
        return PricedMarket(market: market, parameters: base.parameters)
    }

    /// One line per listed option that the smile fit of a coin priced for an unlisted option symbol
    /// left out as an outlier (docs/smile.md §1), so that it is never silent; empty when every
    /// symbol is listed or no mark was left out.
    public static func smileNotes(_ base: PricedMarket, listing symbols: [String]) -> [String] {
        let missing = Set(symbols.filter { base.market.instrument($0) == nil })
        let coins = Set(missing.compactMap { try? VolSurface.SymbolSpec.parse($0) }.filter { $0.kind == .option }.map(\.baseCoin)).sorted()
        var notes: [String] = []
        for coin in coins {
            guard let surface = try? VolSurface(market: base.market, baseCoin: coin) else { continue }
            for slice in surface.slices {
                for o in slice.outliers {
                    notes.append(InputError.escapingControls("note: \(InputError.shortLabel(coin)) \(VolSurface.isoDate(slice.expiry)): \(o.symbol) markIv \(NumberFormat.text(o.markIv)) left out of the smile fit as an outlier (fitted \(Table.fixed(o.fittedIv, digits: 4)))"))
                }
            }
        }
        return notes
    }
}
