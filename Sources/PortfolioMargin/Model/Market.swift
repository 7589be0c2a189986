/// What an instrument is (docs/model.md §1).
public enum InstrumentKind: String, Sendable {
    case option, perpetual, future
}

/// Call or put.
public enum OptionType: String, Sendable {
    case call = "Call", put = "Put"
}

/// One instrument of the market snapshot with its market data (docs/formats.md `instruments[]`).
///
/// An instrument whose `settleCoin` equals its `baseCoin` is inverse: sizes are USD contracts.
public struct Instrument: Equatable, Sendable {
    /// The exchange symbol (e.g. `BTC-27JUN25-70000-C`, `BTCUSDT`); unique in a snapshot.
    public var symbol: String
    /// Option, perpetual or future (docs/model.md §1).
    public var kind: InstrumentKind
    /// The base coin: the risk unit the instrument belongs to (docs/model.md §1).
    public var baseCoin: String
    /// The settlement coin: USDT or USDC (linear, and every option), or the base coin (inverse).
    /// It picks the settlement bucket of contingency C (docs/model.md §5C).
    public var settleCoin: String
    /// Mark price in settle-currency units (USD for inverse instruments).
    public var markPrice: Double
    /// Expiry instant, seconds since the Unix epoch (options and futures).
    public var expiry: Double?
    /// Call or put (options only; `nil` otherwise).
    public var optionType: OptionType?
    /// The strike, settle-currency units (options only); must be finite, positive and within a factor
    /// `priceFactorBound` of the coin's index (docs/model.md §10).
    public var strike: Double?
    /// The forward of the option's expiry.
    public var underlyingPrice: Double?
    /// Implied volatility, decimal (0.55 = 55%).
    public var markIv: Double?

    /// An instrument; its values are checked when it joins a ``MarketSnapshot`` (a bad one is kept with
    /// its problem, docs/model.md §11.14).
    public init(symbol: String, kind: InstrumentKind, baseCoin: String, settleCoin: String, markPrice: Double,
                expiry: Double? = nil, optionType: OptionType? = nil, strike: Double? = nil,
                underlyingPrice: Double? = nil, markIv: Double? = nil) {
        self.symbol = symbol; self.kind = kind; self.baseCoin = baseCoin; self.settleCoin = settleCoin
        self.markPrice = markPrice; self.expiry = expiry; self.optionType = optionType; self.strike = strike
        self.underlyingPrice = underlyingPrice; self.markIv = markIv
    }

    /// Inverse (coin-settled, sized in USD contracts).
    public var isInverse: Bool { settleCoin == baseCoin && kind != .option }
}

/// A market snapshot: its instant, USD index prices and instrument market data (docs/formats.md).
///
/// Bad instruments are kept with their problem and fail only the accounts that use them
/// (docs/model.md §11.14); a malformed document, a missing `time`, `indexPrices` or `instruments`, or a
/// duplicate symbol is fatal.
public struct MarketSnapshot: Sendable {
    /// The snapshot instant, seconds since the Unix epoch.
    public var time: Double
    /// USD index price per coin.
    public var indexPrices: [String: Double]
    /// Every instrument listed, valid or not, in file order.
    public private(set) var instruments: [Instrument]
    /// Problems of listed instruments, by symbol (docs/model.md §10).
    public private(set) var instrumentProblems: [String: InputError]
    private var bySymbol: [String: Int]

    /// The largest implied volatility a snapshot may give (10 = 1000%, docs/model.md §10): beyond it
    /// Black-76 loses all precision (a vol of 1e155 gives a negative call price).
    public static let maxMarkIv = 10.0
    /// Strikes and forwards must lie within this factor of the base coin's index (docs/model.md §10):
    /// index / 1e6 ≤ x ≤ index · 1e6. Further out, scenario P&L is not finite (a strike of 1e-305).
    public static let priceFactorBound = 1e6

    /// Builds a snapshot and checks every instrument (lazily: problems are recorded, not thrown).
    /// Throws only on a duplicate symbol.
    public init(time: Double, indexPrices: [String: Double], instruments: [Instrument], file: String = "market") throws {
        self.time = time
        self.indexPrices = indexPrices
        self.instruments = instruments
        self.instrumentProblems = [:]
        self.bySymbol = [:]
        for (i, inst) in instruments.enumerated() {
            if bySymbol[inst.symbol] != nil {
                throw InputError(file: file, record: "instruments[\(i)] (\(InputError.shortLabel(inst.symbol)))", field: "symbol", "duplicate symbol")
            }
            bySymbol[inst.symbol] = i
            if let p = Self.problem(of: inst, time: time, indexPrices: indexPrices) {
                instrumentProblems[inst.symbol] = InputError(file: file, record: "instrument \(InputError.shortLabel(inst.symbol))", field: p.0, p.1)
            }
        }
    }

    /// The instrument with this symbol, if listed.
    public func instrument(_ symbol: String) -> Instrument? { bySymbol[symbol].map { instruments[$0] } }

    /// Index of the instrument in `instruments`.
    public func indexOf(_ symbol: String) -> Int? { bySymbol[symbol] }

    /// The USD index price of a coin, when present and usable.
    public func index(of coin: String) -> Double? {
        guard let v = indexPrices[coin], v.isFinite, v > 0 else { return nil }
        return v
    }

    /// Returns (field, message) describing why an instrument cannot be margined, or nil.
    static func problem(of i: Instrument, time: Double, indexPrices: [String: Double]) -> (String, String)? {
        func bad(_ v: Double?) -> Bool { !(v.map { $0.isFinite && $0 > 0 } ?? false) }
        if bad(i.markPrice) { return ("markPrice", "expected a finite positive price, got \(i.markPrice)") }
        for coin in [i.baseCoin, i.settleCoin] {
            guard let idx = indexPrices[coin] else { return ("indexPrices", "no index price for coin \(InputError.shortLabel(coin))") }
            if !(idx.isFinite && idx > 0) { return ("indexPrices", "index price of \(InputError.shortLabel(coin)) is \(idx), expected finite and > 0") }
        }
        if i.kind == .option {
            guard i.optionType != nil else { return ("optionType", "missing (expected Call or Put)") }
            if bad(i.strike) { return ("strike", "expected a finite positive strike, got \(i.strike.map { "\($0)" } ?? "none")") }
            if bad(i.underlyingPrice) { return ("underlyingPrice", "expected a finite positive forward, got \(i.underlyingPrice.map { "\($0)" } ?? "none")") }
            if bad(i.markIv) { return ("markIv", "expected a finite positive volatility, got \(i.markIv.map { "\($0)" } ?? "none")") }
            // Sane values (docs/model.md §10): a vol of at most 1000%, strike and forward within a factor
            // 10^6 of the index, so that every scenario price and P&L stays finite and exact enough.
            if let v = i.markIv, v > maxMarkIv { return ("markIv", "must be at most \(maxMarkIv) (1000%), got \(v)") }
            if let index = indexPrices[i.baseCoin] {
                let lo = index / priceFactorBound, hi = index * priceFactorBound
                if let k = i.strike, !(k >= lo && k <= hi) {
                    return ("strike", "must be within a factor 10^6 of the \(InputError.shortLabel(i.baseCoin)) index \(index) (\(lo) … \(hi)), got \(k)")
                }
                if let f = i.underlyingPrice, !(f >= lo && f <= hi) {
                    return ("underlyingPrice", "must be within a factor 10^6 of the \(InputError.shortLabel(i.baseCoin)) index \(index) (\(lo) … \(hi)), got \(f)")
                }
            }
            if i.settleCoin == i.baseCoin { return ("settleCoin", "coin-settled options are not supported (expected USDT or USDC)") }
        }
        if i.kind != .perpetual {
            guard let e = i.expiry else { return ("expiry", "missing (expected an ISO-8601 instant)") }
            if e <= time { return ("expiry", "expired at \(ISO8601.format(e)), at or before the snapshot time \(ISO8601.format(time))") }
        }
        if i.settleCoin != i.baseCoin && i.settleCoin != "USDT" && i.settleCoin != "USDC" {
            return ("settleCoin", "expected USDT, USDC or the base coin \(InputError.shortLabel(i.baseCoin)), got \(InputError.echo(i.settleCoin))")
        }
        return nil
    }

    /// Loads `market.json`.
    public static func load(path: String) throws -> MarketSnapshot {
        try loadWithDigest(path: path).snapshot
    }

    /// Loads `market.json` and gives the digest of the bytes read (`manifest.json`, docs/formats.md
    /// "Scale-out").
    public static func loadWithDigest(path: String) throws -> (snapshot: MarketSnapshot, digest: InputDigest) {
        let (bytes, digest) = try InputFile.readArray(path)
        do {
            return (try parse(JSON.parse(bytes), file: path), InputDigest(digest))
        } catch let e as InputError {
            throw e.inFile(path)
        }
    }

    /// Parses a snapshot document (docs/formats.md).
    public static func parse(_ doc: JSON, file: String = "market.json") throws -> MarketSnapshot {
        guard case .object = doc else { throw InputError(file: file, "expected a JSON object") }
        let top = JSONRecord(value: doc, file: file, record: "")
        let timeText = try top.string("time")
        let time: Double
        do { time = try ISO8601.parse(timeText) } catch let e as ISO8601.Invalid {
            throw top.fail("time", "\(e.reason), got \(InputError.echo(timeText))")
        }
        guard let idxValue = top.optional("indexPrices") else { throw top.fail("indexPrices", "missing") }
        guard case let .object(idxMembers) = idxValue else { throw top.fail("indexPrices", "expected an object of coin: price") }
        var index: [String: Double] = [:]
        for (coin, v) in idxMembers {
            // A bad index price is lazy: it fails the accounts that need that coin.
            if case let .number(d) = v { index[coin] = d } else { index[coin] = .nan }
        }
        guard let instValue = top.optional("instruments") else { throw top.fail("instruments", "missing") }
        guard case let .array(items) = instValue else { throw top.fail("instruments", "expected an array") }
        var instruments: [Instrument] = []
        var lazyProblems: [String: InputError] = [:]
        instruments.reserveCapacity(items.count)
        for (n, item) in items.enumerated() {
            guard case .object = item else { throw InputError(file: file, record: "instruments[\(n)]", "expected an object") }
            let r = JSONRecord(value: item, file: file, record: "instruments[\(n)]")
            let symbol = try r.string("symbol")
            let rec = JSONRecord(value: item, file: file, record: "instrument \(InputError.shortLabel(symbol))")
            do {
                let kindText = try rec.string("kind")
                guard let kind = InstrumentKind(rawValue: kindText) else {
                    throw rec.fail("kind", "expected option, perpetual or future, got \(InputError.echo(kindText))")
                }
                var inst = Instrument(symbol: symbol, kind: kind, baseCoin: try rec.string("baseCoin"),
                                      settleCoin: try rec.string("settleCoin"), markPrice: try rec.number("markPrice"))
                if let e = try rec.optionalString("expiry") {
                    do { inst.expiry = try ISO8601.parse(e) } catch let bad as ISO8601.Invalid {
                        throw rec.fail("expiry", "\(bad.reason), got \(InputError.echo(e))")
                    }
                }
                if kind == .option {
                    let ot = try rec.string("optionType")
                    guard let t = OptionType(rawValue: ot) else { throw rec.fail("optionType", "expected Call or Put, got \(InputError.echo(ot))") }
                    inst.optionType = t
                    inst.strike = try rec.number("strike")
                    inst.underlyingPrice = try rec.number("underlyingPrice")
                    inst.markIv = try rec.number("markIv")
                }
                instruments.append(inst)
            } catch let e as InputError {
                // Keep a placeholder so the symbol is known (and a duplicate still detected), failing lazily.
                instruments.append(Instrument(symbol: symbol, kind: .perpetual, baseCoin: "", settleCoin: "", markPrice: .nan))
                lazyProblems[symbol] = e
            }
        }
        var snapshot = try MarketSnapshot(time: time, indexPrices: index, instruments: instruments, file: file)
        for (s, e) in lazyProblems { snapshot.instrumentProblems[s] = e }
        return snapshot
    }
}
