#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pm smile` (docs/formats.md "Smiles"): the fitted smile of each listed expiry (or of one instant) at
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
        /// A listed option at this strike was treated as an outlier and left out of the fit
        /// (`SmileFit.robustFit`); nil when nothing is listed there.
        public var outlier: Bool? = nil
    }

    /// The base coin.
    public var baseCoin: String
    /// The expiry instant, seconds since the Unix epoch.
    public var expiry: Double
    /// Time to expiry in years (ACT/365, docs/model.md §1) from the snapshot's `time`.
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
    /// The listed options the fit of this (listed) expiry left out as outliers.
    public var outliers: [VolSurface.Outlier] = []
    /// The expiries whose smiles lent this thin listed expiry its shape (`VolSurface.Slice.shapeFrom`);
    /// empty for a smile fitted to the expiry's own marks alone.
    public var shapeFrom: [Double] = []
}

/// Builds ``SmileView``s and renders them (table, CSV, JSON, SVG) for `pm smile`.
public enum SmileReport {
    /// The views of `market`: every coin with usable listed options (or only `coin`), every listed
    /// expiry (or only `expiry`, an ISO 8601 instant), at the listed strikes and at `strikes`.
    /// For an unlisted `expiry` the "listed strikes" are those of its neighbouring listed expiries
    /// (the nearest one when it lies outside them), with no listed vol.
    ///
    /// - Throws: `InputError` for an unparseable, past or too distant `expiry` (record `--expiry`), a
    ///   `coin` without usable options (record `--coin`), a strike that is not finite and positive
    ///   or out of bounds (record `--strikes`), or an `expiry` whose smile cannot be built.
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
        if let coin {
            guard !VolSurface.usableOptions(market: market, baseCoin: coin).isEmpty else {
                throw InputError(record: "--coin", "no usable listed options for \(InputError.echo(coin)) in the market snapshot")
            }
            coins = [coin]
        } else {
            coins = Set(market.instruments.filter { $0.kind == .option }.map(\.baseCoin)).sorted()
        }
        var views: [SmileView] = []
        for c in coins {
            let surface = try VolSurface(market: market, baseCoin: c)
            // The market's strike bound (docs/formats.md "Bounds"): within a factor 10^6 of the index
            // (of the first listed forward when the coin has no usable index price).
            let reference = surface.indexPrice ?? surface.slices[0].forward
            let lo = reference / MarketSnapshot.priceFactorBound, hi = reference * MarketSnapshot.priceFactorBound
            for k in strikes where !(k >= lo && k <= hi) {
                let what = surface.indexPrice == nil ? "first listed forward" : "index"
                throw InputError(record: "--strikes", "strike \(NumberFormat.text(k)) must be within a factor 10^6 of the \(InputError.shortLabel(c)) \(what) \(NumberFormat.text(reference)) (\(NumberFormat.text(lo)) … \(NumberFormat.text(hi)))")
            }
            if let instant {
                do { views.append(try view(surface, expiry: instant, extra: strikes, strict: true)) } catch var e as InputError {
                    if e.record.isEmpty { e.record = "--expiry" }
                    throw e
                }
            } else {
                for s in surface.slices { views.append(try view(surface, expiry: s.expiry, extra: strikes, strict: false)) }
            }
        }
        return views
    }

    /// `--strikes K1,K2,...`: decimal numbers (digits, `.`, an exponent; no hex, `nan`, `inf`),
    /// finite and positive, separated by commas (spaces around each allowed).
    ///
    /// - Throws: `InputError` (record `--strikes`) echoing the first bad entry.
    public static func parseStrikes(_ text: String) throws -> [Double] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { s in
            var t = Substring(s)
            while let c = t.first, c == " " || c == "\t" { t = t.dropFirst() }
            while let c = t.last, c == " " || c == "\t" { t = t.dropLast() }
            guard !t.isEmpty, t.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 101 || $0 == 69 || $0 == 43 || $0 == 45 }),
                  let k = Double(t), k.isFinite, k > 0 else {
                throw InputError(record: "--strikes", "expected positive numbers separated by commas, got \(InputError.echo(s))")
            }
            return k
        }
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
            let outlier: Bool? = listedAt[k] == nil ? nil : (listedIndex.map { i in slices[i].outliers.contains { $0.strike == k } } ?? false)
            points.append(.init(strike: k, logMoneyness: log(k / forward), fittedIv: fitted, listedIv: listedAt[k], outlier: outlier))
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
                         points: points, curve: curve, problem: problem, outliers: slice?.outliers ?? [], shapeFrom: slice?.shapeFrom ?? [])
    }

    // MARK: - Renderings

    /// CSV: `expiry,strike,forward,log_moneyness,fitted_iv,listed_iv,outlier` (empty where absent;
    /// `outlier` is 1 where a listed option at the strike was left out of the fit, 0 where the listed
    /// marks were all kept, empty where nothing is listed).
    public static func csv(_ views: [SmileView]) -> String {
        var out = "expiry,strike,forward,log_moneyness,fitted_iv,listed_iv,outlier\n"
        for v in views {
            let e = ISO8601.format(v.expiry), f = NumberFormat.text(v.forward)
            for p in v.points {
                out += "\(e),\(NumberFormat.text(p.strike)),\(f),\(NumberFormat.text(p.logMoneyness)),"
                out += (p.fittedIv.map(NumberFormat.text) ?? "") + "," + (p.listedIv.map(NumberFormat.text) ?? "") + ","
                out += (p.outlier.map { $0 ? "1" : "0" } ?? "") + "\n"
            }
        }
        return out
    }

    /// `{"smiles": [{baseCoin, expiry, years, forward, listed, svi, correction, shapeFrom, rmsFitError, problem,
    /// outliers, points}]}` (`shapeFrom`, the instants of the expiries a thin expiry borrowed its
    /// shape from, only where it did); `correction` is the spline added to the SVI total variance
    /// (`{knots, coefficients}`, `SmileCorrection`) or null; `outliers` lists `{symbol, strike, markIv, fittedIv}` of the options the fit left
    /// out, each point carries `outlier` (null where nothing is listed).
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
            if let c = v.smile?.correction {
                members.append(("correction", .object([("knots", .array(c.knots.map(JSON.num))),
                                                       ("coefficients", .array(c.coefficients.map(JSON.num)))])))
            } else {
                members.append(("correction", .null))
            }
            if !v.shapeFrom.isEmpty {
                members.append(("shapeFrom", .array(v.shapeFrom.map { .string(ISO8601.format($0)) })))
            }
            members.append(("rmsFitError", v.rmsFitError.map(JSON.num) ?? .null))
            members.append(("problem", v.problem.map(JSON.string) ?? .null))
            members.append(("outliers", .array(v.outliers.map { o in
                .object([("symbol", .string(o.symbol)), ("strike", .num(o.strike)), ("markIv", .num(o.markIv)),
                         ("fittedIv", .num(o.fittedIv))])
            })))
            members.append(("points", .array(v.points.map { p in
                .object([("strike", .num(p.strike)), ("logMoneyness", .num(p.logMoneyness)),
                         ("fittedIv", p.fittedIv.map(JSON.num) ?? .null), ("listedIv", p.listedIv.map(JSON.num) ?? .null),
                         ("outlier", p.outlier.map(JSON.bool) ?? .null)])
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
                if let c = s.correction { out += " + spline correction (\(c.knots.count) knots)" }
                if !v.shapeFrom.isEmpty { out += ", shape from " + v.shapeFrom.map { VolSurface.isoDate($0) }.joined(separator: " and ") }
                if let r = v.rmsFitError { out += ", RMS fit error \(Table.fixed(r * 100, digits: 2)) vol points" }
                out += "\n"
            }
            if let p = v.problem { out += "  no smile: \(p)\n" }
            out += "  " + Table.lpad("strike", 14) + Table.lpad("k", 10) + Table.lpad("fitted iv", 12) + Table.lpad("listed iv", 12) + Table.lpad("diff", 10) + "\n"
            for p in v.points {
                let d = zip2(p.fittedIv, p.listedIv).map { Table.fixed(($0 - $1) * 100, digits: 2) } ?? ""
                out += "  " + Table.lpad(Table.plain(p.strike), 14) + Table.lpad(Table.fixed(p.logMoneyness, digits: 4), 10)
                    + Table.lpad(p.fittedIv.map { Table.percent($0) } ?? "—", 12)
                    + Table.lpad(p.listedIv.map { Table.percent($0) } ?? "", 12) + Table.lpad(d, 10)
                    + (p.outlier == true ? "  outlier, not fitted" : "") + "\n"
            }
            out += "\n"
        }
        return out
    }

    static func fmt(_ v: Double) -> String { Table.fixed(v, digits: 5) }

    /// One line per listed option a fit left out as an outlier (for stderr: nothing is silent), e.g.
    /// `note: BTC 2027-03-26: BTC-26MAR27-95000-C-USDC markIv 0.01 left out of the smile fit as an outlier (fitted 0.5171)`.
    public static func outlierNotes(_ views: [SmileView]) -> [String] {
        views.flatMap { v in
            v.outliers.map { o in
                InputError.escapingControls("note: \(v.baseCoin) \(VolSurface.isoDate(v.expiry)): \(o.symbol) markIv \(NumberFormat.text(o.markIv)) left out of the smile fit as an outlier (fitted \(Table.fixed(o.fittedIv, digits: 4)))")
            }
        }
    }
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
            out += "<text x=\"\(left)\" y=\"\(y0 + 24)\" font-size=\"15\" font-weight=\"bold\">\(xml(coin)) implied volatility smiles (dots: listed marks, lines: SVI fit)</text>\n"
            out += "<rect x=\"\(left)\" y=\"\(y0 + top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#333\"/>\n"
            var t = xa, ticks = 0
            while t <= xb + xStep / 2, ticks < 40 {
                ticks += 1
                let px = x(t)
                out += "<line x1=\"\(r(px))\" y1=\"\(r(y0 + top))\" x2=\"\(r(px))\" y2=\"\(r(y0 + top + plotH))\" stroke=\"#ddd\"/>\n"
                out += "<text x=\"\(r(px))\" y=\"\(r(y0 + top + plotH + 16))\" text-anchor=\"middle\">\(xml(label(t, xStep)))</text>\n"
                t += xStep
            }
            t = ya; ticks = 0
            while t <= yb + yStep / 2, ticks < 40 {
                ticks += 1
                let py = y(t / 100)
                out += "<line x1=\"\(r(left))\" y1=\"\(r(py))\" x2=\"\(r(left + plotW))\" y2=\"\(r(py))\" stroke=\"#ddd\"/>\n"
                out += "<text x=\"\(r(left - 6))\" y=\"\(r(py + 4))\" text-anchor=\"end\">\(xml(label(t, yStep)))</text>\n"
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
                out += "<text x=\"\(r(lx + 28))\" y=\"\(r(ly + 4))\">\(xml(String(ISO8601.format(v.expiry).prefix(10)))) (\(xml(days)) d)\(v.problem == nil ? "" : " no fit")</text>\n"
            }
        }
        out += "</svg>\n"
        return out
    }

    /// Writes `text` to `path` whole or not at all: into a temporary file beside it
    /// (`.NAME.PID.tmp`, created exclusively), flushed, then renamed over `path`; on any failure the
    /// temporary file is removed and `path` is left as it was.
    ///
    /// - Throws: `InputError` (file: `path`) saying plainly what is wrong: `is a directory`, or the
    ///   system's reason (`No such file or directory`, `Permission denied`, …).
    public static func writeWhole(_ text: String, to path: String) throws {
        func failure(_ why: String) -> InputError { InputError(file: path, why) }
        guard !path.isEmpty else { throw failure("expected a file name") }
        if (try? FileSystem.status(path))?.kind == .directory { throw failure("is a directory") }
        if let what = notARegularFile(path) { throw failure("is \(what); only a regular file is replaced (name a file path)") }
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty else { throw failure("is a directory") }
        let tmp = (folder.isEmpty ? "" : folder + "/") + ".\(name).\(CurrentProcess.id).tmp"
        let fd: FileDescriptor
        do throws(SystemError) { fd = try FileDescriptor.open(tmp, [.writeOnly, .create, .exclusive, .truncate], mode: 0o644) } catch {
            throw failure("cannot be written: \(error.errno.reason)")
        }
        var failed: Errno?
        var bytes = Array(text.utf8)
        do throws(Errno) { try fd.writeAll(bytes) } catch { failed = error }
        bytes.removeAll()
        if failed == nil { do throws(Errno) { try fd.sync() } catch { failed = error } }
        do throws(Errno) { try fd.close() } catch { if failed == nil { failed = error } }
        if failed == nil { do throws(SystemError) { try FileSystem.rename(tmp, to: path) } catch { failed = error.errno } }
        if let failed {
            try? FileSystem.remove(tmp)
            throw failure(failed == .isADirectory ? "is a directory" : "cannot be written: \(failed.reason)")
        }
    }

    /// What stands at `path` when it is neither a regular file nor a folder nor absent ("a pipe",
    /// "a device", "a symbolic link", …), else nil. A file written whole is renamed into place, and
    /// a rename over a pipe, a device (`/dev/null`) or a link would put a plain file where the node
    /// or the link was: such a path is refused instead.
    public static func notARegularFile(_ path: String) -> String? {
        guard let node = try? FileSystem.linkStatus(path) else { return nil }
        switch node.kind {
        case .regular, .directory: return nil
        case .symbolicLink: return "a symbolic link"
        case .pipe: return "a pipe"
        case .socket: return "a socket"
        case .device: return "a device"
        default: return "not a regular file"
        }
    }

    static func r(_ v: Double) -> String { Table.fixed(v, digits: 1) }

    /// `text` escaped for XML character data and attribute values: `& < > " '` as entities, and
    /// every character XML 1.0 does not allow (C0 controls other than tab, LF, CR; surrogates are
    /// impossible in a Swift String; U+FFFE, U+FFFF) replaced by U+FFFD, so any coin name or
    /// symbol from a snapshot leaves the SVG well-formed.
    static func xml(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for u in text.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(u)
            default:
                if u.value < 0x20 || u.value == 0xFFFE || u.value == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }

    /// An axis range covering [lo, hi] with a round step (1, 2 or 5 × 10ⁿ, about 6 ticks).
    static func niceRange(_ lo: Double, _ hi: Double) -> (Double, Double, Double) {
        // A span relative to the values' size, so that `lo + step` always moves (the tick loops).
        let span = max(hi - lo, 1e-9 * max(abs(lo), abs(hi), 1))
        let raw = span / 6, mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        return (floor(lo / step) * step, ceil(hi / step) * step, step)
    }

    static func label(_ v: Double, _ step: Double) -> String {
        let digits = max(0, Int(-floor(log10(step))))
        return Table.fixed(abs(v) < step / 1e6 ? 0 : v, digits: digits)
    }
}
