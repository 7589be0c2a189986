import Foundation
import Testing
import CKernels
@testable import PortfolioMargin
@testable import PMTestSupport

/// The volatility smile fit (`SmileFit`, `VolSurface`): fit quality on the sample market, refusals,
/// interpolation in time, synthetic instruments and symbol parsing.
struct SmileFitTests {
    /// `<root>/Tests/UnitTests/SmileFitTests.swift` → `<root>`.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sample: MarketSnapshot = try! MarketSnapshot.load(path: root.appendingPathComponent("data/sample/market.json").path)
    static let day = 86400.0
    static let year = 365 * 86400.0

    static func expiry(_ iso: String) -> Double { ISO8601.seconds(iso)! }

    static func b76(_ f: Double, _ k: Double, _ t: Double, _ s: Double, call: Bool) -> (price: Double, vega: Double) {
        var p = 0.0, d = 0.0, v = 0.0
        pm_black76_greeks(f, k, t, s, call ? 1 : 0, &p, &d, &v)
        return (p, v)
    }

    /// The message of the `InputError` thrown by `body`, or nil when nothing (or something else) is thrown.
    static func inputErrorText(_ body: () throws -> Any) -> String? {
        do { _ = try body(); return nil } catch let e as InputError { return e.description } catch { return nil }
    }

    // MARK: - Fit quality

    @Test(arguments: ["BTC", "ETH", "SOL"])
    func fitReproducesListedVols(coin: String) throws {
        let market = Self.sample
        let surface = try VolSurface(market: market, baseCoin: coin)
        #expect(surface.slices.count == 6)
        var worst = 0.0, n = 0
        for inst in market.instruments where inst.kind == .option && inst.baseCoin == coin {
            let fit = try surface.impliedVol(strike: inst.strike!, expiry: inst.expiry!)
            let err = abs(fit - inst.markIv!)
            worst = max(worst, err)
            n += 1
            #expect(err <= 0.005, "\(inst.symbol): fit \(fit) vs markIv \(inst.markIv!)")
        }
        #expect(n > 100)
        #expect(worst == surface.slices.map(\.maxFitError).max()! || TestSupport.near(worst, surface.slices.map(\.maxFitError).max()!, within: 1e-12))
        print("SmileFit max fit error \(coin): \(worst) over \(n) listed options")
    }

    /// Exact SVI points are reproduced.
    @Test func sviThroughExactPoints() throws {
        let truth = SmileFit(a: 0.01, b: 0.1, rho: -0.4, m: 0.02, sigma: 0.15, years: 0.25)
        let ks = [-0.5, -0.3, -0.2, -0.1, 0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.4]
        let fit = try SmileFit.fit(logMoneyness: ks, vols: ks.map { truth.vol(logMoneyness: $0) }, years: 0.25)
        for k in stride(from: -0.6, through: 0.6, by: 0.05) {
            #expect(TestSupport.near(fit.vol(logMoneyness: k), truth.vol(logMoneyness: k), within: 1e-4), "k \(k)")
        }
        #expect(throws: InputError.self) { try SmileFit.fit(logMoneyness: [0.1, 0.1, 0.2], vols: [0.5, 0.5, 0.6], years: 0.1) }
        #expect(throws: InputError.self) { try SmileFit.fit(logMoneyness: [0.1, 0.2], vols: [0.5], years: 0.1) }
        #expect(throws: InputError.self) { try SmileFit.fit(logMoneyness: [0.1, 0.2, 0.3], vols: [0.5, 0.4, 0.5], years: 0) }
    }

    // MARK: - Refusals

    /// A snapshot with BTC expiries on day 7 (3 strikes), day 14 (only 2 strikes) and day 28 (4 strikes).
    static func thinMarket() throws -> MarketSnapshot {
        let t0 = expiry("2026-11-24T08:00:00Z")
        func opt(_ d: Int, _ strike: Double, _ f: Double, _ iv: Double, call: Bool) -> Instrument {
            let date = VolSurface.isoDate(t0 + Double(d) * day)
            let sym = "BTC-\(date)-\(Int(strike))-\(call ? "C" : "P")-USDC"
            let price = b76(f, strike, Double(d) / 365, iv, call: call).price
            return Instrument(symbol: sym, kind: .option, baseCoin: "BTC", settleCoin: "USDC", markPrice: price,
                              expiry: t0 + Double(d) * day, optionType: call ? .call : .put, strike: strike,
                              underlyingPrice: f, markIv: iv)
        }
        var insts: [Instrument] = []
        for (k, iv) in [(85000.0, 0.55), (90000, 0.50), (95000, 0.52)] { insts.append(opt(7, k, 90100, iv, call: true)) }
        for (k, iv) in [(85000.0, 0.56), (95000, 0.53)] {
            insts.append(opt(14, k, 90200, iv, call: true))
            insts.append(opt(14, k, 90200, iv, call: false))
        }
        for (k, iv) in [(80000.0, 0.58), (85000, 0.55), (90000, 0.52), (100000, 0.54)] { insts.append(opt(28, k, 90500, iv, call: false)) }
        return try MarketSnapshot(time: t0, indexPrices: ["BTC": 90000, "USDC": 1, "USDT": 1], instruments: insts)
    }

    @Test func refusesThinExpiries() throws {
        let market = try Self.thinMarket()
        let s = try VolSurface(market: market, baseCoin: "BTC")
        #expect(s.slices.map(\.strikeCount) == [3, 2, 4])
        #expect(s.slices[1].smile == nil)
        let thin = s.slices[1].expiry
        // At the thin expiry.
        let atThin = Self.inputErrorText { try s.impliedVol(strike: 90000, expiry: thin) }
        #expect(atThin?.contains("cannot fit the BTC smile at 2026-12-08: only 2 strikes listed, need at least 3") == true, "\(atThin ?? "no error")")
        // Between it and either neighbour.
        for e in [thin - 3 * Self.day, thin + 5 * Self.day] {
            let text = Self.inputErrorText { try s.impliedVol(strike: 90000, expiry: e) }
            #expect(text?.contains("2026-12-08") == true, "\(text ?? "no error")")
            #expect(text?.contains("BTC") == true)
        }
        // The neighbours themselves, and beyond, are fine; the thin expiry still gives a forward.
        #expect(try s.impliedVol(strike: 90000, expiry: s.slices[0].expiry) > 0)
        #expect(try s.impliedVol(strike: 90000, expiry: s.slices[2].expiry + 10 * Self.day) > 0)
        #expect(try s.forward(expiry: thin) == 90200)
        // Through the synthetic instrument, the record names the symbol.
        let text = Self.inputErrorText { try VolSurface.syntheticInstrument(symbol: "BTC-8DEC26-90000-C-USDC", market: market) }
        #expect(text?.hasPrefix("BTC-8DEC26-90000-C-USDC") == true && text?.contains("2026-12-08") == true, "\(text ?? "no error")")
        // A future at the thin expiry needs only the forward.
        #expect(try VolSurface.syntheticInstrument(symbol: "BTCUSDC-8DEC26", market: market).markPrice == 90200)
    }

    @Test func refusesExpiredAndUnlisted() throws {
        let s = try VolSurface(market: Self.sample, baseCoin: "BTC")
        for e in [Self.sample.time, Self.sample.time - Self.day] {
            let text = Self.inputErrorText { try s.impliedVol(strike: 90000, expiry: e) }
            #expect(text?.contains("at or before the snapshot time") == true && text?.contains("BTC") == true, "\(text ?? "no error")")
            #expect(throws: InputError.self) { try s.forward(expiry: e) }
        }
        #expect(throws: InputError.self) { try s.impliedVol(strike: 0, expiry: s.slices[0].expiry) }
        #expect(throws: InputError.self) { try s.impliedVol(strike: 90000, expiry: .nan) }
        // A known coin (index price, perpetual) without options.
        let noOptions = try MarketSnapshot(time: Self.sample.time, indexPrices: ["XRP": 2, "USDT": 1],
                                           instruments: [Instrument(symbol: "XRPUSDT", kind: .perpetual, baseCoin: "XRP", settleCoin: "USDT", markPrice: 2)])
        let text = Self.inputErrorText { try VolSurface(market: noOptions, baseCoin: "XRP") }
        #expect(text?.contains("XRP") == true && text?.contains("no usable listed options") == true, "\(text ?? "no error")")
        #expect(throws: InputError.self) { try VolSurface.syntheticInstrument(symbol: "XRPUSDT-25DEC26", market: noOptions) }
    }

    // MARK: - Interpolation

    @Test(arguments: ["BTC", "ETH", "SOL"])
    func interpolationBetweenExpiries(coin: String) throws {
        let s = try VolSurface(market: Self.sample, baseCoin: coin)
        for i in 0..<(s.slices.count - 1) {
            let a = s.slices[i], b = s.slices[i + 1]
            // The surface's own ATM vols at the listed expiries (calendar-ordered, docs/smile.md).
            let atmA = try s.impliedVol(strike: a.forward, expiry: a.expiry), atmB = try s.impliedVol(strike: b.forward, expiry: b.expiry)
            var previousW = atmA * atmA * a.years
            for frac in stride(from: 0.1, through: 0.9, by: 0.2) {
                let e = a.expiry + frac * (b.expiry - a.expiry)
                let f = try s.forward(expiry: e)
                #expect(f >= min(a.forward, b.forward) && f <= max(a.forward, b.forward), "\(coin) forward at \(frac)")
                // ATM: the strike at the interpolated forward, i.e. k = 0 on both sides.
                let vol = try s.impliedVol(strike: f, expiry: e)
                let lo = min(atmA, atmB), hi = max(atmA, atmB)
                #expect(vol >= lo - 1e-12 && vol <= hi + 1e-12, "\(coin) ATM vol \(vol) not within [\(lo), \(hi)]")
                let t = (e - s.time) / Self.year
                let w = vol * vol * t
                #expect(w >= previousW, "\(coin) total variance not increasing at \(frac) between expiries \(i) and \(i + 1)")
                previousW = w
            }
            #expect(atmB * atmB * b.years >= previousW)
        }
    }

    @Test func extrapolationIsConstantVolInMoneyness() throws {
        let s = try VolSurface(market: Self.sample, baseCoin: "BTC")
        let first = s.slices[0], last = s.slices[s.slices.count - 1], prev = s.slices[s.slices.count - 2]
        // Before the first expiry: the forward lies between the index and the first forward.
        let early = s.time + 0.5 * (first.expiry - s.time)
        let fEarly = try s.forward(expiry: early)
        #expect(fEarly >= min(s.indexPrice!, first.forward) && fEarly <= max(s.indexPrice!, first.forward))
        #expect(TestSupport.near(try s.impliedVol(strike: fEarly * 1.02, expiry: early), first.smile!.vol(logMoneyness: log(1.02)), within: 1e-12))
        // After the last: the log-forward slope of the last two expiries carries on.
        let late = last.expiry + 180 * Self.day
        let fLate = try s.forward(expiry: late)
        let slope = (log(last.forward) - log(prev.forward)) / (last.years - prev.years)
        #expect(TestSupport.near(log(fLate), (log(last.forward) + slope * 180 / 365), within: 1e-12))
        #expect(TestSupport.near(try s.impliedVol(strike: fLate * 0.9, expiry: late), (try s.impliedVol(strike: last.forward * 0.9, expiry: last.expiry)), within: 1e-12))
        // The floor holds far in the wings.
        #expect(try s.impliedVol(strike: 1e-3, expiry: late) >= VolSurface.minimumVol)
    }

    // MARK: - Synthetic instruments

    @Test(arguments: ["BTC", "ETH", "SOL"])
    func syntheticReproducesListedOptions(coin: String) throws {
        let market = Self.sample
        // One surface for all symbols (the SVI fit costs ~3 ms an expiry in release; `syntheticInstrument`
        // refits the whole coin per call), and the public entry point for a few of them.
        let surface = try VolSurface(market: market, baseCoin: coin)
        for (n, inst) in market.instruments.filter({ $0.kind == .option && $0.baseCoin == coin }).enumerated() {
            let syn = n % 50 == 0 ? try VolSurface.syntheticInstrument(symbol: inst.symbol, market: market)
                : try surface.instrument(for: VolSurface.SymbolSpec.parse(inst.symbol))
            #expect(syn.kind == .option && syn.optionType == inst.optionType && syn.strike == inst.strike
                    && syn.expiry == inst.expiry && syn.settleCoin == inst.settleCoin && syn.baseCoin == coin)
            #expect(TestSupport.near(syn.markIv!, inst.markIv!, within: 0.005), "\(inst.symbol) iv")
            #expect(TestSupport.near(syn.underlyingPrice!, inst.underlyingPrice!, within: 1e-9 * inst.underlyingPrice!))
            let t = (inst.expiry! - market.time) / Self.year
            let vega = Self.b76(inst.underlyingPrice!, inst.strike!, t, inst.markIv!, call: inst.optionType == .call).vega
            let tol = max(0.02 * inst.markPrice, 0.005 * vega)
            #expect(TestSupport.near(syn.markPrice, inst.markPrice, within: tol), "\(inst.symbol): \(syn.markPrice) vs \(inst.markPrice)")
        }
    }

    @Test func syntheticNewStrikesExpiriesAndFutures() throws {
        let market = Self.sample
        // 4DEC26 is listed for BTC; 95500 is not a listed strike.
        let o = try VolSurface.syntheticInstrument(symbol: "BTC-4DEC26-90000-P-USDT", market: market)
        #expect(o.expiry == Self.expiry("2026-12-04T08:00:00Z"))
        #expect(o.optionType == .put && o.strike == 90000 && o.settleCoin == "USDT" && o.baseCoin == "BTC")
        let s = try VolSurface(market: market, baseCoin: "BTC")
        let fresh = try VolSurface.syntheticInstrument(symbol: "BTC-11DEC26-95500-C-USDC", market: market)
        #expect(fresh.expiry == Self.expiry("2026-12-11T08:00:00Z"))
        #expect(TestSupport.near(fresh.markIv!, (try s.impliedVol(strike: 95500, expiry: fresh.expiry!)), within: 1e-15))
        let t = (fresh.expiry! - market.time) / Self.year
        #expect(TestSupport.near(fresh.markPrice, Self.b76(fresh.underlyingPrice!, 95500, t, fresh.markIv!, call: true).price, within: 1e-9))
        #expect(market.instrumentProblems.isEmpty)
        #expect(MarketSnapshot.problem(of: fresh, time: market.time, indexPrices: market.indexPrices) == nil)
        // Futures: listed linear and inverse futures reproduce their marks; a new date gets the forward.
        for sym in ["BTCUSDC-25DEC26", "BTCUSD-26MAR27", "ETHUSDC-26MAR27"] {
            let listed = market.instrument(sym)!
            let f = try VolSurface.syntheticInstrument(symbol: sym, market: market)
            #expect(f.kind == .future && f.settleCoin == listed.settleCoin && f.expiry == listed.expiry && f.isInverse == listed.isInverse)
            #expect(TestSupport.near(f.markPrice, listed.markPrice, within: 1e-9 * listed.markPrice), "\(sym)")
        }
        let sol = try VolSurface.syntheticInstrument(symbol: "SOLUSDT-1JAN27", market: market)
        #expect(sol.kind == .future && sol.baseCoin == "SOL" && sol.settleCoin == "USDT")
        #expect(sol.markPrice == (try VolSurface(market: market, baseCoin: "SOL").forward(expiry: Self.expiry("2027-01-01T08:00:00Z"))))
    }

    @Test func badSymbolsThrow() {
        let market = Self.sample
        let bad = [
            "", "BTC", "BTCUSDT", "BTCUSD", "BTC-26JUN26-95000-C", "BTC-26JUN26-95000-X-USDC", "BTC-26XYZ26-95000-C-USDC",
            "BTC-32DEC26-95000-C-USDC", "BTC-29FEB27-95000-C-USDC", "BTC-0DEC26-95000-C-USDC", "BTC-26JUN26--C-USDC",
            "BTC-26JUN26-abc-C-USDC", "BTC-26JUN26-0-C-USDC", "BTC-26JUN26-95000-C-BTC", "BTC-26JUN26-95000-C-EUR",
            "BTC-261JUN26-95000-C-USDC", "btc-26JUN26-95000-C-USDC", "USDC-26JUN26", "BTCEUR-26JUN26", "BTCUSDC-26JUN",
            "BTC-26JUN26-95000-C-USDC-X", "BTC-26JUN26-1e5-C-USDC",
        ]
        for sym in bad {
            let text = Self.inputErrorText { try VolSurface.syntheticInstrument(symbol: sym, market: market) }
            #expect(text != nil, "\(sym) should throw an InputError")
            if !sym.isEmpty { #expect(text?.hasPrefix(sym) == true, "\(sym): \(text ?? "")") }
        }
        let unknown = Self.inputErrorText { try VolSurface.syntheticInstrument(symbol: "DOGE-26JUN26-1-C-USDT", market: market) }
        #expect(unknown?.contains("unknown base coin DOGE") == true, "\(unknown ?? "no error")")
        // Expired dates are refused by the surface, naming the date.
        let expired = Self.inputErrorText { try VolSurface.syntheticInstrument(symbol: "BTC-20NOV26-90000-C-USDC", market: market) }
        #expect(expired?.contains("2026-11-20") == true, "\(expired ?? "no error")")
    }

    @Test func parsesSymbols() throws {
        let p = try VolSurface.SymbolSpec.parse("BTC-4DEC26-90000-P-USDT")
        #expect(p.kind == .option && p.baseCoin == "BTC" && p.settleCoin == "USDT" && p.strike == 90000 && p.optionType == .put)
        #expect(p.expiry == Self.expiry("2026-12-04T08:00:00Z"))
        #expect(try VolSurface.SymbolSpec.parse("BTC-04DEC26-90000-P-USDT").expiry == p.expiry)
        #expect(try VolSurface.SymbolSpec.parse("SOL-26JUN26-142.5-C-USDC").strike == 142.5)
        #expect(try VolSurface.SymbolSpec.parse("BTC-29FEB28-90000-C-USDC").expiry == Self.expiry("2028-02-29T08:00:00Z"))
        let inv = try VolSurface.SymbolSpec.parse("ETHUSD-26MAR27")
        #expect(inv.kind == .future && inv.baseCoin == "ETH" && inv.settleCoin == "ETH")
        let lin = try VolSurface.SymbolSpec.parse("ETHUSDT-26MAR27")
        #expect(lin.baseCoin == "ETH" && lin.settleCoin == "USDT" && lin.expiry == Self.expiry("2027-03-26T08:00:00Z"))
    }
}
