#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pm smile` (FORMATS.md "Smiles"): the fitted smile of each listed expiry (or of one instant) at
/// the listed strikes and at extra strikes, as a table, CSV, JSON or an SVG plot. The model is
/// `VolSurface` (docs/smile.md); this file only reads it.
public struct SmileView: Sendable {
    /// One strike of an expiry.
    public struct Point: Sendable {
        /// The strike, settle-currency units.
        public var strike: Double
        /// `k = ln(strike / forward)`.
        public var logMoneyness: Double
        /// The surface's vol (`VolSurface.impliedVol`); nil when the expiry has no smile.
        public var fittedIv: Double?
        /// The mean `markIv` listed at this strike and expiry; nil when nothing is listed there.
        public var listedIv: Double?
    }

    /// The base coin.
    public var baseCoin: String
    /// The expiry instant, seconds since the Unix epoch.
    public var expiry: Double
    /// Time to expiry in years (ACT/365, MODEL.md §1) from the snapshot's `time`.
    public var years: Double
    /// The forward of the expiry (listed, or interpolated by the surface).
    public var forward: Double
    /// The expiry is a listed one (its own SVI fit), not an interpolated instant.
    public var listed: Bool
    /// The listed expiry's SVI parameters.
    public var smile: SmileFit?
    /// RMS of fit − markIv over the listed options (listed expiries with a smile).
    public var rmsFitError: Double?
    /// The strikes shown, ascending.
    public var points: [Point]
    /// The fitted curve for plotting: (log-moneyness, vol), empty when there is no smile.
    public var curve: [(k: Double, iv: Double)]
    /// Why there is no fitted smile (thin expiry), or nil.
    public var problem: String?
}

/// Builds ``SmileView``s and renders them (table, CSV, JSON, SVG) for `pm smile`.
public enum SmileReport {
    /// The views of `market`: every coin with usable listed options (or only `coin`), every listed
    /// expiry (or only `expiry`, an ISO 8601 instant), at the listed strikes and at `strikes`.
    /// For an unlisted `expiry` the "listed strikes" are those of its neighbouring listed expiries
    /// (the nearest one when it lies outside them), with no listed vol.
    ///
    /// - Throws: `InputError` for an unparseable or past `expiry`, a coin without options, a strike
    ///   that is not finite and positive, or an `expiry` whose smile cannot be built.
    public static func views(market: MarketSnapshot, coin: String? = nil, expiry: String? = nil,
                             strikes: [Double] = []) throws -> [SmileView] {
        for k in strikes where !(k.isFinite && k > 0) {
            throw InputError(record: "--strikes", "expected finite positive strikes, got \(NumberFormat.text(k))")
        }
        var instant: Double?
        if let expiry {
            guard let t = ISO8601.seconds(expiry) else {
                throw InputError(record: "--expiry", "expected an ISO 8601 instant (e.g. 2026-12-26T08:00:00Z), got \(InputError.echo(expiry))")
            }
            instant = t
        }
        let coins: [String]
        if let coin { coins = [coin] } else {
            coins = Set(market.instruments.filter { $0.kind == .option }.map(\.baseCoin)).sorted()
        }
        var views: [SmileView] = []
        for c in coins {
            let surface = try VolSurface(market: market, baseCoin: c)
            if let instant {
                views.append(try view(surface, expiry: instant, extra: strikes, strict: true))
            } else {
                for s in surface.slices { views.append(try view(surface, expiry: s.expiry, extra: strikes, strict: false)) }
            }
        }
        return views
    }

    static func view(_ surface: VolSurface, expiry: Double, extra: [Double], strict: Bool) throws -> SmileView {
        let forward = try surface.forward(expiry: expiry)
        let years = (expiry - surface.time) / VolSurface.secondsPerYear
        let slices = surface.slices
        let listedIndex = slices.firstIndex { abs($0.expiry - expiry) < 1e-3 }
        var listedAt: [Double: Double] = [:]
        var base: [Double] = []
        if let i = listedIndex {
            for (k, v) in zip(slices[i].listedStrikes, slices[i].listedVols) { listedAt[k] = v }
            base = slices[i].listedStrikes
        } else {
            let hi = slices.firstIndex { $0.expiry > expiry }
            let neighbours = hi.map { $0 == 0 ? [0] : [$0 - 1, $0] } ?? [slices.count - 1]
            base = neighbours.flatMap { slices[$0].listedStrikes }
        }
        let strikes = Set(base + extra).sorted()
        var problem: String?
        var points: [SmileView.Point] = []
        for k in strikes {
            var fitted: Double?
            do { fitted = try surface.impliedVol(strike: k, expiry: expiry) } catch let e as InputError {
                if strict { throw e }
                problem = e.message
            }
            points.append(.init(strike: k, logMoneyness: log(k / forward), fittedIv: fitted, listedIv: listedAt[k]))
        }
        var curve: [(k: Double, iv: Double)] = []
        if problem == nil, let lo = points.first?.logMoneyness, let hi = points.last?.logMoneyness {
            let pad = max(0.1 * (hi - lo), 0.02)
            for n in 0...120 {
                let k = lo - pad + (hi - lo + 2 * pad) * Double(n) / 120
                if let v = try? surface.impliedVol(strike: forward * exp(k), expiry: expiry) { curve.append((k, v)) }
            }
        }
        let slice = listedIndex.map { slices[$0] }
        return SmileView(baseCoin: surface.baseCoin, expiry: expiry, years: years, forward: forward,
                         listed: listedIndex != nil, smile: slice?.smile,
                         rmsFitError: slice?.smile == nil ? nil : slice?.rmsFitError,
                         points: points, curve: curve, problem: problem)
    }

    // MARK: - Renderings

    /// CSV: `expiry,strike,forward,log_moneyness,fitted_iv,listed_iv` (empty where absent).
    public static func csv(_ views: [SmileView]) -> String {
        var out = "expiry,strike,forward,log_moneyness,fitted_iv,listed_iv\n"
        for v in views {
            let e = ISO8601.format(v.expiry), f = NumberFormat.text(v.forward)
            for p in v.points {
                out += "\(e),\(NumberFormat.text(p.strike)),\(f),\(NumberFormat.text(p.logMoneyness)),"
                out += (p.fittedIv.map(NumberFormat.text) ?? "") + "," + (p.listedIv.map(NumberFormat.text) ?? "") + "\n"
            }
        }
        return out
    }

    /// `{"smiles": [{baseCoin, expiry, years, forward, listed, svi, rmsFitError, problem, points}]}`.
    public static func json(_ views: [SmileView]) -> JSON {
        .object([("smiles", .array(views.map { v in
            var members: [(String, JSON)] = [
                ("baseCoin", .string(v.baseCoin)), ("expiry", .string(ISO8601.format(v.expiry))),
                ("years", .num(v.years)), ("forward", .num(v.forward)), ("listed", .bool(v.listed)),
            ]
            if let s = v.smile {
                members.append(("svi", .object([("a", .num(s.a)), ("b", .num(s.b)), ("rho", .num(s.rho)),
                                                ("m", .num(s.m)), ("sigma", .num(s.sigma))])))
            } else {
                members.append(("svi", .null))
            }
            members.append(("rmsFitError", v.rmsFitError.map(JSON.num) ?? .null))
            members.append(("problem", v.problem.map(JSON.string) ?? .null))
            members.append(("points", .array(v.points.map { p in
                .object([("strike", .num(p.strike)), ("logMoneyness", .num(p.logMoneyness)),
                         ("fittedIv", p.fittedIv.map(JSON.num) ?? .null), ("listedIv", p.listedIv.map(JSON.num) ?? .null)])
            })))
            return .object(members)
        }))])
    }

    /// One block per expiry: forward, SVI parameters and fit error, then strike by strike.
    public static func table(_ views: [SmileView]) -> String {
        var out = ""
        for v in views {
            out += "\(v.baseCoin) \(ISO8601.format(v.expiry)) (\(Table.fixed(v.years * 365, digits: 2)) days, \(v.listed ? "listed" : "interpolated")), forward \(Table.plain(v.forward))\n"
            if let s = v.smile {
                out += "  SVI a \(fmt(s.a)) b \(fmt(s.b)) rho \(fmt(s.rho)) m \(fmt(s.m)) sigma \(fmt(s.sigma))"
                if let r = v.rmsFitError { out += ", RMS fit error \(Table.fixed(r * 100, digits: 2)) vol points" }
                out += "\n"
            }
            if let p = v.problem { out += "  no smile: \(p)\n" }
            out += "  " + Table.lpad("strike", 14) + Table.lpad("k", 10) + Table.lpad("fitted iv", 12) + Table.lpad("listed iv", 12) + Table.lpad("diff", 10) + "\n"
            for p in v.points {
                let d = zip2(p.fittedIv, p.listedIv).map { Table.fixed(($0 - $1) * 100, digits: 2) } ?? ""
                out += "  " + Table.lpad(Table.plain(p.strike), 14) + Table.lpad(Table.fixed(p.logMoneyness, digits: 4), 10)
                    + Table.lpad(p.fittedIv.map { Table.percent($0) } ?? "—", 12)
                    + Table.lpad(p.listedIv.map { Table.percent($0) } ?? "", 12) + Table.lpad(d, 10) + "\n"
            }
            out += "\n"
        }
        return out
    }

    static func fmt(_ v: Double) -> String { Table.fixed(v, digits: 5) }
    static func zip2(_ a: Double?, _ b: Double?) -> (Double, Double)? { if let a, let b { return (a, b) }; return nil }

    // MARK: - SVG

    /// The listed points (dots) and fitted curves (lines) per expiry, implied vol (%) against
    /// log-moneyness ln(K/F), one panel per coin, a legend of expiries.
    public static func svg(_ views: [SmileView]) -> String {
        let coins = views.map(\.baseCoin).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let panelW = 860.0, panelH = 440.0, left = 70.0, right = 190.0, top = 40.0, bottom = 55.0
        let height = Double(coins.count) * panelH
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(panelW))\" height=\"\(Int(max(height, panelH)))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
        for (ci, coin) in coins.enumerated() {
            let vs = views.filter { $0.baseCoin == coin }
            let y0 = Double(ci) * panelH
            let ks = vs.flatMap { $0.curve.map(\.k) + $0.points.map(\.logMoneyness) }
            let ivs = vs.flatMap { $0.curve.map(\.iv) + $0.points.compactMap(\.listedIv) + $0.points.compactMap(\.fittedIv) }
            guard let kLo = ks.min(), let kHi = ks.max(), let vLo = ivs.min(), let vHi = ivs.max() else { continue }
            let (xa, xb, xStep) = niceRange(kLo, kHi), (ya, yb, yStep) = niceRange(vLo * 100, vHi * 100)
            let plotW = panelW - left - right, plotH = panelH - top - bottom
            func x(_ k: Double) -> Double { left + (k - xa) / (xb - xa) * plotW }
            func y(_ v: Double) -> Double { y0 + top + (1 - (v * 100 - ya) / (yb - ya)) * plotH }
            out += "<text x=\"\(left)\" y=\"\(y0 + 24)\" font-size=\"15\" font-weight=\"bold\">\(coin) implied volatility smiles (dots: listed marks, lines: SVI fit)</text>\n"
            out += "<rect x=\"\(left)\" y=\"\(y0 + top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#333\"/>\n"
            var t = xa
            while t <= xb + xStep / 2 {
                let px = x(t)
                out += "<line x1=\"\(r(px))\" y1=\"\(r(y0 + top))\" x2=\"\(r(px))\" y2=\"\(r(y0 + top + plotH))\" stroke=\"#ddd\"/>\n"
                out += "<text x=\"\(r(px))\" y=\"\(r(y0 + top + plotH + 16))\" text-anchor=\"middle\">\(label(t, xStep))</text>\n"
                t += xStep
            }
            t = ya
            while t <= yb + yStep / 2 {
                let py = y(t / 100)
                out += "<line x1=\"\(r(left))\" y1=\"\(r(py))\" x2=\"\(r(left + plotW))\" y2=\"\(r(py))\" stroke=\"#ddd\"/>\n"
                out += "<text x=\"\(r(left - 6))\" y=\"\(r(py + 4))\" text-anchor=\"end\">\(label(t, yStep))</text>\n"
                t += yStep
            }
            out += "<text x=\"\(r(left + plotW / 2))\" y=\"\(r(y0 + panelH - 12))\" text-anchor=\"middle\">log-moneyness ln(K/F)</text>\n"
            out += "<text transform=\"translate(\(r(18)),\(r(y0 + top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">implied vol (%)</text>\n"
            for (n, v) in vs.enumerated() {
                let color = palette[n % palette.count]
                if !v.curve.isEmpty {
                    let pts = v.curve.map { "\(r(x($0.k))),\(r(y($0.iv)))" }.joined(separator: " ")
                    out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\" points=\"\(pts)\"/>\n"
                }
                for p in v.points {
                    if let iv = p.listedIv {
                        out += "<circle cx=\"\(r(x(p.logMoneyness)))\" cy=\"\(r(y(iv)))\" r=\"3.2\" fill=\"\(color)\" stroke=\"white\" stroke-width=\"0.6\"/>\n"
                    } else if let iv = p.fittedIv {
                        out += "<rect x=\"\(r(x(p.logMoneyness) - 3))\" y=\"\(r(y(iv) - 3))\" width=\"6\" height=\"6\" fill=\"none\" stroke=\"\(color)\"/>\n"
                    }
                }
                let ly = y0 + top + 8 + Double(n) * 18
                let lx = left + plotW + 14
                out += "<line x1=\"\(r(lx))\" y1=\"\(r(ly))\" x2=\"\(r(lx + 22))\" y2=\"\(r(ly))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
                out += "<circle cx=\"\(r(lx + 11))\" cy=\"\(r(ly))\" r=\"3\" fill=\"\(color)\"/>\n"
                let days = Table.fixed(v.years * 365, digits: 1)
                out += "<text x=\"\(r(lx + 28))\" y=\"\(r(ly + 4))\">\(String(ISO8601.format(v.expiry).prefix(10))) (\(days) d)\(v.problem == nil ? "" : " no fit")</text>\n"
            }
        }
        out += "</svg>\n"
        return out
    }

    static func r(_ v: Double) -> String { Table.fixed(v, digits: 1) }

    /// An axis range covering [lo, hi] with a round step (1, 2 or 5 × 10ⁿ, about 6 ticks).
    static func niceRange(_ lo: Double, _ hi: Double) -> (Double, Double, Double) {
        let span = max(hi - lo, 1e-9)
        let raw = span / 6, mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        return (floor(lo / step) * step, ceil(hi / step) * step, step)
    }

    static func label(_ v: Double, _ step: Double) -> String {
        let digits = max(0, Int(-floor(log10(step))))
        return Table.fixed(abs(v) < step / 1e6 ? 0 : v, digits: digits)
    }
}
