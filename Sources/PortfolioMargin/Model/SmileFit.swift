import CBLAS
import CKernels
import Foundation

// The volatility smile fit: implied vol and forward for an option or dated future that is not in
// the market snapshot (a new strike or expiry named in a pre-trade check), derived from the listed
// options of the same base coin.
//
// The seam is three public types, all pure values without global state:
// - `SmileFit`: one quadratic smile σ(k) = a + b·k + c·k², fitted by least squares (LAPACKE_dgels);
// - `VolSurface`: the smiles and forwards of one coin's listed expiries, interpolated in time;
// - `VolSurface.syntheticInstrument(symbol:market:)`: a whole `Instrument` for an unlisted symbol.

/// A quadratic volatility smile in log-moneyness: `σ(k) = a + b·k + c·k²`, with `k = ln(K/F)`.
///
/// `vol(logMoneyness:)` is the raw polynomial: it is not clamped and can be small or negative far
/// out in the wings when `c < 0`. `VolSurface` applies the floor `VolSurface.minimumVol`.
public struct SmileFit: Equatable, Sendable {
    /// Level: the fitted at-the-money vol σ(0).
    public var a: Double
    /// Skew: dσ/dk at k = 0.
    public var b: Double
    /// Curvature: half of d²σ/dk².
    public var c: Double

    /// A smile with the given coefficients.
    public init(a: Double, b: Double, c: Double) {
        self.a = a; self.b = b; self.c = c
    }

    /// The smile at log-moneyness `k`: `a + b·k + c·k²` (unclamped).
    ///
    /// A non-finite `k` gives a non-finite result.
    @inlinable
    public func vol(logMoneyness k: Double) -> Double { a + k * (b + k * c) }

    /// The least-squares quadratic through the points (`logMoneyness[i]`, `vols[i]`).
    ///
    /// Minimises `Σ (a + b·kᵢ + c·kᵢ² − σᵢ)²` by solving the overdetermined system with the design
    /// matrix `[1, kᵢ, kᵢ²]` (row-major) through `LAPACKE_dgels` (QR). Repeated points are allowed
    /// (they weigh twice, as a call and a put of the same strike should).
    ///
    /// - Throws: `InputError` when the arrays differ in length, a value is not finite, there are
    ///   fewer than 3 distinct `k` (the quadratic is not determined), or LAPACK reports a failure.
    public static func fit(logMoneyness: [Double], vols: [Double]) throws -> SmileFit {
        guard logMoneyness.count == vols.count else {
            throw InputError("smile fit: \(logMoneyness.count) log-moneyness values but \(vols.count) vols")
        }
        guard logMoneyness.allSatisfy(\.isFinite), vols.allSatisfy(\.isFinite) else {
            throw InputError("smile fit: log-moneyness and vols must be finite")
        }
        let distinct = Set(logMoneyness).count
        guard distinct >= 3 else {
            throw InputError("smile fit: only \(distinct) distinct strikes, need at least 3")
        }
        let m = logMoneyness.count
        var design = [Double](repeating: 0, count: m * 3)
        for (i, k) in logMoneyness.enumerated() {
            design[3 * i] = 1
            design[3 * i + 1] = k
            design[3 * i + 2] = k * k
        }
        var rhs = vols  // m >= 3 = n rows: the solution lands in rhs[0..<3].
        let info = LAPACKE_dgels(Int32(LAPACK_ROW_MAJOR), CChar(UInt8(ascii: "N")), Int32(m), 3, 1,
                                 &design, 3, &rhs, 1)
        guard info == 0 else {
            throw InputError("smile fit: LAPACKE_dgels failed (info \(info))")
        }
        let fit = SmileFit(a: rhs[0], b: rhs[1], c: rhs[2])
        guard fit.a.isFinite, fit.b.isFinite, fit.c.isFinite else {
            throw InputError("smile fit: the least-squares solution is not finite")
        }
        return fit
    }
}

/// The implied-volatility surface and forward curve of one base coin, from a market snapshot.
///
/// **Definition.** Per listed option expiry `Tᵢ` of the coin (usable options only: instruments with a
/// problem recorded in `MarketSnapshot.instrumentProblems` are ignored):
/// - the forward `Fᵢ` is the mean `underlyingPrice` of the expiry's options (they normally agree);
/// - the smile is the `SmileFit` of `markIv` against `k = ln(K/Fᵢ)` over every listed call and put
///   of both settle coins (a strike listed four times counts four times). An expiry with fewer
///   than 3 distinct strikes has no smile.
///
/// With `T` the time to expiry in years (ACT/365, `(expiry − time) / (365·86400)`), the forward at
/// any expiry after the snapshot time is:
/// - at a listed expiry: `Fᵢ`;
/// - between listed expiries: log-linear in `T` — `ln F` interpolated linearly;
/// - before the first: log-linear between the coin's index price at `T = 0` and `F₁`;
/// - after the last: `ln F` extrapolated with the slope of the last two expiries (or of the
///   index and the only expiry, when there is one).
///
/// The implied vol of strike `K` at expiry `T` is taken at the log-moneyness `k = ln(K/F(T))`; each
/// smile is a function of log-moneyness against its own forward, so side `i` is read as `σᵢ(k)`
/// (the strike `Fᵢ·eᵏ` of that expiry):
/// - at a listed expiry: `σᵢ(k)`;
/// - between `Tᵢ < T < Tᵢ₊₁`: total variance `w = σ²·T` linear in `T`:
///   `w = wᵢ + (wᵢ₊₁ − wᵢ)·(T − Tᵢ)/(Tᵢ₊₁ − Tᵢ)` with `wⱼ = σⱼ(k)²·Tⱼ`, and `σ = √(w/T)`;
/// - before the first or after the last: constant vol, `σ₁(k)` or `σₙ(k)`.
///
/// **Floor.** Every smile value and the result are clamped to at least `minimumVol` (0.01): a
/// quadratic with negative curvature turns down far in the wings and would otherwise give a
/// meaningless or negative vol. Nothing else is clamped (the upper wings grow as `k²`).
///
/// **Refusals** (`InputError`, message naming the coin, the expiry as an ISO date and the reason):
/// the coin has no usable listed options (at construction); the expiry is not finite or is at or
/// before the snapshot time; a smile needed (the listed expiry itself, either neighbour, or the
/// nearest expiry when extrapolating) has fewer than 3 strikes. `forward(expiry:)` needs no smile, so
/// thin expiries still serve as forward points.
public struct VolSurface: Sendable {
    /// The lower bound applied to every vol the surface returns (decimal: 0.01 = 1%).
    public static let minimumVol = 0.01

    /// One listed option expiry of the coin.
    public struct Slice: Equatable, Sendable {
        /// Expiry instant, seconds since the Unix epoch.
        public var expiry: Double
        /// Time to expiry in years (ACT/365) from the snapshot time.
        public var years: Double
        /// The expiry's forward: mean `underlyingPrice` of its listed options.
        public var forward: Double
        /// Number of distinct strikes listed (calls, puts and both settle coins together).
        public var strikeCount: Int
        /// The fitted smile, or nil when fewer than 3 distinct strikes are listed.
        public var smile: SmileFit?
        /// Largest `|σ_fit(k) − markIv|` over the expiry's listed options (0 when unfitted).
        public var maxFitError: Double
    }

    /// The base coin.
    public let baseCoin: String
    /// The snapshot instant, seconds since the Unix epoch.
    public let time: Double
    /// The coin's USD index price (the forward at `T = 0`), when usable.
    public let indexPrice: Double?
    /// The listed option expiries, ascending.
    public let slices: [Slice]

    static let secondsPerYear = 365.0 * 86400

    /// Builds the surface of `baseCoin` from the usable listed options of `market`.
    ///
    /// - Throws: `InputError` when the coin has no usable listed option, or a smile fit fails.
    public init(market: MarketSnapshot, baseCoin: String) throws {
        self.baseCoin = baseCoin
        self.time = market.time
        self.indexPrice = market.index(of: baseCoin)
        var byExpiry: [Double: [Instrument]] = [:]
        for inst in market.instruments where inst.kind == .option && inst.baseCoin == baseCoin {
            guard market.instrumentProblems[inst.symbol] == nil,
                  let e = inst.expiry, let _ = inst.strike, let _ = inst.underlyingPrice, let _ = inst.markIv
            else { continue }
            byExpiry[e, default: []].append(inst)
        }
        guard !byExpiry.isEmpty else {
            throw InputError("no usable listed options for \(baseCoin): cannot build its volatility surface")
        }
        var slices: [Slice] = []
        for (expiry, options) in byExpiry.sorted(by: { $0.key < $1.key }) {
            let forward = options.reduce(0.0) { $0 + $1.underlyingPrice! } / Double(options.count)
            let strikes = Set(options.map { $0.strike! }).count
            var slice = Slice(expiry: expiry, years: (expiry - market.time) / Self.secondsPerYear, forward: forward,
                              strikeCount: strikes, smile: nil, maxFitError: 0)
            if strikes >= 3 {
                let ks = options.map { log($0.strike! / forward) }
                let vols = options.map { $0.markIv! }
                do {
                    let fit = try SmileFit.fit(logMoneyness: ks, vols: vols)
                    slice.smile = fit
                    slice.maxFitError = zip(ks, vols).reduce(0.0) { max($0, abs(fit.vol(logMoneyness: $1.0) - $1.1)) }
                } catch let e as InputError {
                    throw InputError("cannot fit the \(baseCoin) smile at \(Self.isoDate(expiry)): \(e.message)")
                }
            }
            slices.append(slice)
        }
        self.slices = slices
    }

    /// The forward of the coin at `expiry` (seconds since the Unix epoch); see the type's definition.
    ///
    /// - Throws: `InputError` when `expiry` is not finite or is at or before the snapshot time, or
    ///   when extrapolating before the first expiry without a usable index price.
    public func forward(expiry: Double) throws -> Double {
        try checkExpiry(expiry)
        return try forward(years: (expiry - time) / Self.secondsPerYear, expiry: expiry)
    }

    /// The implied vol of `strike` at `expiry` (seconds since the Unix epoch), floored at
    /// `minimumVol`; see the type's definition.
    ///
    /// - Throws: `InputError` when the strike is not finite and positive, the expiry is not finite or
    ///   is at or before the snapshot time, or a smile needed has fewer than 3 strikes.
    public func impliedVol(strike: Double, expiry: Double) throws -> Double {
        guard strike.isFinite, strike > 0 else {
            throw InputError("\(baseCoin) implied vol: expected a finite positive strike, got \(strike)")
        }
        try checkExpiry(expiry)
        let t = (expiry - time) / Self.secondsPerYear
        let k = log(strike / (try forward(years: t, expiry: expiry)))
        let floor = Self.minimumVol
        if let i = listedIndex(expiry) {
            return max(floor, try smile(i, for: expiry).vol(logMoneyness: k))
        }
        if expiry < slices[0].expiry {
            return max(floor, try smile(0, for: expiry).vol(logMoneyness: k))
        }
        if expiry > slices[slices.count - 1].expiry {
            return max(floor, try smile(slices.count - 1, for: expiry).vol(logMoneyness: k))
        }
        let hi = slices.firstIndex { $0.expiry > expiry }!
        let lo = hi - 1
        let s0 = max(floor, try smile(lo, for: expiry).vol(logMoneyness: k))
        let s1 = max(floor, try smile(hi, for: expiry).vol(logMoneyness: k))
        let t0 = slices[lo].years, t1 = slices[hi].years
        let w0 = s0 * s0 * t0, w1 = s1 * s1 * t1
        let w = w0 + (w1 - w0) * (t - t0) / (t1 - t0)
        return max(floor, (max(w, 0) / t).squareRoot())
    }

    // MARK: - Synthetic instruments

    /// An `Instrument` for an option or dated future symbol, priced from the snapshot's surface.
    ///
    /// Accepted symbols (upper case; the day may lack its leading zero; expiry at 08:00:00Z):
    /// - option `BASE-DDMONYY-STRIKE-C|P-SETTLE`, settle `USDT` or `USDC`
    ///   (`BTC-26JUN26-95000-C-USDC`, `BTC-4DEC26-90000-P-USDT`);
    /// - linear future `BASEUSDC-DDMONYY` or `BASEUSDT-DDMONYY`; inverse future `BASEUSD-DDMONYY`
    ///   (settled in the base coin).
    ///
    /// The instrument's `underlyingPrice` (options) is `forward(expiry:)`; an option's `markIv` is
    /// `impliedVol(strike:expiry:)` and its `markPrice` the Black-76 price at zero rate
    /// (`pm_black76_greeks`, `T` in ACT/365 years); a future's `markPrice` is the forward.
    /// The symbol is always synthesized, even when listed: callers should prefer a listed instrument.
    ///
    /// - Throws: `InputError` (record: the symbol) for an unparseable symbol, a base coin unknown to
    ///   the snapshot (no index price and no instrument), or any refusal of the surface.
    public static func syntheticInstrument(symbol: String, market: MarketSnapshot) throws -> Instrument {
        let spec = try SymbolSpec.parse(symbol)
        let known = market.indexPrices[spec.baseCoin] != nil || market.instruments.contains { $0.baseCoin == spec.baseCoin }
        guard known else {
            throw InputError(record: symbol, field: "baseCoin", "unknown base coin \(spec.baseCoin): no index price and no instrument in the market snapshot")
        }
        do {
            return try VolSurface(market: market, baseCoin: spec.baseCoin).instrument(for: spec)
        } catch var e as InputError {
            if e.record.isEmpty { e.record = symbol }
            throw e
        }
    }

    /// The `Instrument` for a parsed symbol, priced from this surface (see
    /// `syntheticInstrument(symbol:market:)`).
    ///
    /// - Throws: `InputError` when the symbol's base coin is not this surface's coin, or on any
    ///   refusal of the surface.
    public func instrument(for spec: SymbolSpec) throws -> Instrument {
        guard spec.baseCoin == baseCoin else {
            throw InputError(record: spec.symbol, "base coin \(spec.baseCoin) does not match the \(baseCoin) surface")
        }
        let f = try forward(expiry: spec.expiry)
        guard spec.kind == .option, let strike = spec.strike, let type = spec.optionType else {
            return Instrument(symbol: spec.symbol, kind: .future, baseCoin: baseCoin, settleCoin: spec.settleCoin,
                              markPrice: f, expiry: spec.expiry)
        }
        let iv = try impliedVol(strike: strike, expiry: spec.expiry)
        var price = 0.0, delta = 0.0, vega = 0.0
        pm_black76_greeks(f, strike, (spec.expiry - time) / Self.secondsPerYear, iv, type == .call ? 1 : 0,
                          &price, &delta, &vega)
        return Instrument(symbol: spec.symbol, kind: .option, baseCoin: baseCoin, settleCoin: spec.settleCoin,
                          markPrice: price, expiry: spec.expiry, optionType: type, strike: strike,
                          underlyingPrice: f, markIv: iv)
    }

    /// A parsed option or dated-future symbol (see `syntheticInstrument(symbol:market:)`).
    public struct SymbolSpec: Equatable, Sendable {
        /// The symbol as given.
        public var symbol: String
        /// `.option` or `.future`.
        public var kind: InstrumentKind
        public var baseCoin: String
        /// `USDT`/`USDC`, or the base coin for an inverse future.
        public var settleCoin: String
        /// Expiry instant (08:00:00Z of the symbol's date), seconds since the Unix epoch.
        public var expiry: Double
        /// Options only.
        public var strike: Double?
        /// Options only.
        public var optionType: OptionType?

        static let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        static let forms = "expected an option BASE-DDMONYY-STRIKE-C|P-SETTLE (e.g. BTC-26JUN26-95000-C-USDC) or a dated future BASEUSDC-DDMONYY, BASEUSDT-DDMONYY or BASEUSD-DDMONYY"

        /// Parses `symbol`.
        ///
        /// - Throws: `InputError` (record: the symbol, field `symbol`) naming what is wrong.
        public static func parse(_ symbol: String) throws -> SymbolSpec {
            func fail(_ why: String) -> InputError { InputError(record: symbol, field: "symbol", why) }
            let parts = symbol.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            func isCoin(_ s: String) -> Bool {
                !s.isEmpty && s.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) }
            }
            switch parts.count {
            case 5:
                let base = parts[0], settle = parts[4]
                guard isCoin(base) else { throw fail("bad base coin \"\(base)\"; \(forms)") }
                let expiry = try date(parts[1], fail)
                let s = parts[2]
                guard !s.isEmpty, s.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == 46 }),
                      s.utf8.filter({ $0 == 46 }).count <= 1, let strike = Double(s), strike.isFinite, strike > 0 else {
                    throw fail("bad strike \"\(s)\" (expected a positive number)")
                }
                let type: OptionType
                switch parts[3] {
                case "C": type = .call
                case "P": type = .put
                default: throw fail("bad option type \"\(parts[3])\" (expected C or P)")
                }
                guard settle == "USDT" || settle == "USDC" else {
                    throw fail("bad settle coin \"\(settle)\" (expected USDT or USDC)")
                }
                return SymbolSpec(symbol: symbol, kind: .option, baseCoin: base, settleCoin: settle, expiry: expiry,
                                  strike: strike, optionType: type)
            case 2:
                let head = parts[0]
                var base = "", settle = ""
                for quote in ["USDC", "USDT", "USD"] where head.hasSuffix(quote) {
                    base = String(head.dropLast(quote.count))
                    settle = quote == "USD" ? base : quote
                    break
                }
                guard isCoin(base) else { throw fail("bad future \"\(head)\"; \(forms)") }
                let expiry = try date(parts[1], fail)
                return SymbolSpec(symbol: symbol, kind: .future, baseCoin: base, settleCoin: settle, expiry: expiry,
                                  strike: nil, optionType: nil)
            default:
                throw fail("unrecognised symbol; \(forms)")
            }
        }

        /// `DDMONYY` (day 1–2 digits, month JAN…DEC, year 20YY) → 08:00:00Z of that date.
        static func date(_ text: String, _ fail: (String) -> InputError) throws -> Double {
            let b = Array(text.utf8)
            let bad = fail("bad expiry date \"\(text)\" (expected DDMONYY, e.g. 26JUN26 or 4DEC26)")
            guard b.count == 6 || b.count == 7 else { throw bad }
            let dayLen = b.count - 5
            func number(_ s: ArraySlice<UInt8>) -> Int? {
                guard s.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
                return s.reduce(0) { $0 * 10 + Int($1 - 48) }
            }
            guard let day = number(b[0..<dayLen]), let yy = number(b[(dayLen + 3)...]),
                  let month = months.firstIndex(of: String(decoding: b[dayLen..<(dayLen + 3)], as: UTF8.self))
            else { throw bad }
            let year = 2000 + yy
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            guard day >= 1, day <= lengths[month] else { throw bad }
            return Double(ISO8601.daysFromCivil(year, month + 1, day)) * 86400 + 8 * 3600
        }
    }

    // MARK: - Internals

    static func isoDate(_ t: Double) -> String { String(ISO8601.format(t).prefix(10)) }

    private func checkExpiry(_ expiry: Double) throws {
        guard expiry.isFinite else { throw InputError("\(baseCoin): expected a finite expiry, got \(expiry)") }
        guard expiry > time else {
            throw InputError("\(baseCoin) expiry \(Self.isoDate(expiry)) is at or before the snapshot time \(ISO8601.format(time))")
        }
    }

    /// Index of the listed slice at `expiry` (within a millisecond), if any.
    private func listedIndex(_ expiry: Double) -> Int? {
        slices.firstIndex { abs($0.expiry - expiry) < 1e-3 }
    }

    /// The smile of slice `i`, or the thin-expiry refusal (naming the slice's expiry).
    private func smile(_ i: Int, for expiry: Double) throws -> SmileFit {
        let s = slices[i]
        guard let fit = s.smile else {
            let strikes = s.strikeCount == 1 ? "1 strike" : "\(s.strikeCount) strikes"
            var why = "cannot fit the \(baseCoin) smile at \(Self.isoDate(s.expiry)): only \(strikes) listed, need at least 3"
            if listedIndex(expiry) != i { why += " (needed for \(baseCoin) expiry \(Self.isoDate(expiry)))" }
            throw InputError(why)
        }
        return fit
    }

    /// The forward at `t` years (`expiry` only locates it among the slices).
    private func forward(years t: Double, expiry: Double) throws -> Double {
        if let i = listedIndex(expiry) { return slices[i].forward }
        let n = slices.count
        if expiry < slices[0].expiry {
            guard let s = indexPrice else {
                throw InputError("\(baseCoin) expiry \(Self.isoDate(expiry)) is before the first listed expiry and \(baseCoin) has no usable index price")
            }
            return exp(log(s) + (log(slices[0].forward) - log(s)) * t / slices[0].years)
        }
        if expiry > slices[n - 1].expiry {
            let last = slices[n - 1]
            let slope: Double
            if n >= 2 {
                let prev = slices[n - 2]
                slope = (log(last.forward) - log(prev.forward)) / (last.years - prev.years)
            } else if let s = indexPrice {
                slope = (log(last.forward) - log(s)) / last.years
            } else {
                slope = 0
            }
            return exp(log(last.forward) + slope * (t - last.years))
        }
        let hi = slices.firstIndex { $0.expiry > expiry }!
        let a = slices[hi - 1], b = slices[hi]
        return exp(log(a.forward) + (log(b.forward) - log(a.forward)) * (t - a.years) / (b.years - a.years))
    }
}
