// The smile fit and `pm smile` (docs/smile.md). Compiled with the library in one module
// (scripts/fuzz.sh), so the targets reach internal APIs (Table, SmileReport.xml).
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Bytes → a small market of one coin whose option strikes, marks (IVs), call/put and expiries come
/// from the bytes (and whose coin name and symbols may be hostile text) → `VolSurface` (the robust
/// fit of every expiry) → fitted vols at the listed strikes and at a few strikes from the bytes →
/// `SmileReport` views, table, CSV, JSON and the SVG plot.
///
/// Invariant: no crash; a refusal is an `InputError`; every vol returned is finite and positive;
/// every fitted slice satisfies the constraints of docs/smile.md §1 — `b ≥ 0`, `|ρ| < 1`, `σ > 0`,
/// minimum total variance `a + bσ√(1−ρ²) ≥ 0`, Lee's bound `b(1+|ρ|) < 2`, `g(k) ≥ 0` at every
/// queried `k` and `SmileFit.isAdmissible`; outliers are listed points of their slice, from fewer
/// than half of its strikes (none with 3); the SVG parses as XML.
enum SmileTarget {
    /// Reads the input front to back; 0 once it is exhausted.
    struct Reader {
        var bytes: [UInt8]
        var at = 0
        mutating func byte() -> UInt8 { defer { at += 1 }; return at < bytes.count ? bytes[at] : 0 }
        mutating func u16() -> Int { Int(byte()) << 8 | Int(byte()) }
        var done: Bool { at >= bytes.count }
    }

    static let time = 1_795_000_000.0   // 2026-11-18
    static let coins = ["BTC", "A&B<C", "E\"T'H", "]]>", "X\u{1}\u{0}Y", "\u{FFFE}é"]

    /// A strike factor from one byte: from 10^-6 to 10^6 around the index (bytes 0–255; the ends
    /// fall on and just past the market's bound).
    static func factor(_ b: UInt8) -> Double {
        let x = Double(b)
        if b < 16 { return pow(10, -7 + x / 2.5) }
        if b > 239 { return pow(10, (x - 239) / 2.5 + 0.5) }
        return exp((x - 128) / 60)
    }

    /// A vol from two bytes: mostly ordinary (5%–300%), sometimes tiny (down to 1e-300) or at the
    /// market's bound 10.
    static func vol(_ hi: UInt8, _ lo: UInt8) -> Double {
        switch hi {
        case 0: return lo == 0 ? 1e-300 : pow(10, -Double(lo) / 2)
        case 255: return 10 - Double(lo) / 1000
        default: return 0.05 + Double(Int(hi) << 8 | Int(lo)) / 65535 * 2.95
        }
    }

    /// A smooth smile's vol: SSVI (Gatheral & Jacquier 2014) `w(k) = θ/2·(1 + ρφk + √((φk + ρ)² + 1 − ρ²))`
    /// with `θ = atm²·T`, `ρ = −0.5`, `φ = 1/√θ` (`η(1 + |ρ|) = 1.5 ≤ 2`: free of static arbitrage),
    /// plus noise of at most half a vol point from the two vol bytes.
    static func smoothVol(strike: Double, forward: Double, years: Double, atm: Double, _ hi: UInt8, _ lo: UInt8) -> Double {
        let theta = atm * atm * years, rho = -0.5, phi = 1 / theta.squareRoot()
        let k = log(strike / forward), x = phi * k
        let w = theta / 2 * (1 + rho * x + ((x + rho) * (x + rho) + 1 - rho * rho).squareRoot())
        let noise = (Double(Int(hi) << 8 | Int(lo)) / 65535 - 0.5) / 100
        return max((w / years).squareRoot() + noise, 0.01)
    }

    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        var r = Reader(bytes: Array(data))
        let head = r.byte()
        let coin = coins[Int(head) % coins.count]
        let decade: Double = Double(head >> 4) / 3
        let index: Double = 10 * pow(10, decade)   // 10 … ~1e6
        let layout = r.byte()
        let expiryCount = Int(layout % 4) + 1
        // Bit 2: smooth smiles. Raw byte vols almost never give clean fits on both sides of a
        // thin expiry, so the borrowing path (docs/smile.md §1 "Thin expiries") would go
        // unexplored; smooth smiles come from one arbitrage-free SSVI surface (a skew, a sharp
        // bottom on short expiries) plus at most half a vol point of noise from the vol bytes.
        let smooth = layout & 4 != 0
        var expiries: [Double] = []
        for _ in 0..<expiryCount {
            let hours = Double(r.u16())
            expiries.append(time + 3600 + hours * 3600)
        }
        let atmVol = 0.2 + Double(smooth ? r.byte() : 0) / 255   // smooth smiles' at-the-money vol
        var instruments: [Instrument] = []
        var n = 0
        while !r.done && n < 60 {
            let e = expiries[Int(r.byte()) % expiries.count]
            let k = (index * factor(r.byte())).rounded(.toNearestOrEven)
            let strike = k > 0 ? k : index * factor(r.byte())
            let (hi, lo) = (r.byte(), r.byte())
            let call = r.byte() & 1 == 0
            let forward = index * (1 + (Double(r.byte()) - 128) / 2560)
            let iv = smooth ? smoothVol(strike: strike, forward: forward, years: (e - time) / (365 * 86400), atm: atmVol, hi, lo)
                            : vol(hi, lo)
            let symbol = "\(coin)-\(n)-\(strike)-\(call ? "C" : "P")"
            instruments.append(Instrument(symbol: symbol, kind: .option, baseCoin: coin, settleCoin: "USDC",
                                          markPrice: 1, expiry: e, optionType: call ? .call : .put, strike: strike,
                                          underlyingPrice: forward, markIv: iv))
            n += 1
        }
        let market: MarketSnapshot
        // Every instrument needs the index of its settle coin as well (docs/model.md §10).
        do { market = try MarketSnapshot(time: time, indexPrices: [coin: index, "USDC": 1], instruments: instruments) } catch {
            Fuzz.checkMessage(error, "smile"); return
        }
        if !instruments.isEmpty && market.instrumentProblems.count == instruments.count && instruments.allSatisfy({
            market.instrumentProblems[$0.symbol]?.field == "indexPrices" }) {
            Fuzz.fail("smile: the generated market is unusable: \(market.instrumentProblems.values.first!)")
        }
        let surface: VolSurface
        do { surface = try VolSurface(market: market, baseCoin: coin) } catch { Fuzz.checkMessage(error, "smile"); return }
        var queries: [Double] = (0..<4).map { _ in index * factor(r.byte()) }
        for s in surface.slices {
            guard let fit = s.smile else { continue }
            checkSlice(fit, s)
            queries += s.listedStrikes
            // A thin expiry's shape comes from listed expiries on either side with 6 or more strikes
            // that borrowed nothing themselves (docs/smile.md §1 "Thin expiries").
            for e in s.shapeFrom {
                guard let n = surface.slices.first(where: { $0.expiry == e }), n.smile != nil, n.shapeFrom.isEmpty,
                      n.strikeCount >= SmileFit.thinStrikes, s.strikeCount >= SmileFit.minimumReducedStrikes,
                      s.shapeFrom.count <= 2 else {
                    Fuzz.fail("smile: slice \(s.expiry) borrows from \(e), which cannot lend")
                }
            }
        }
        for s in surface.slices {
            for strike in queries + [s.forward] {
                let v: Double
                do { v = try surface.impliedVol(strike: strike, expiry: s.expiry) } catch {
                    Fuzz.checkMessage(error, "smile")
                    if "\(error)".contains("butterfly") { Fuzz.fail("smile: \(error)") }
                    continue
                }
                if !(v.isFinite && v > 0) { Fuzz.fail("smile: vol \(v) at strike \(strike), expiry \(s.expiry)") }
                let k = log(strike / s.forward)
                for t in surface.slices where t.expiry <= s.expiry {
                    if let f = t.smile, !(f.density(logMoneyness: k) >= 0) {
                        Fuzz.fail("smile: g(\(k)) = \(f.density(logMoneyness: k)) < 0 for \(f)")
                    }
                }
            }
        }
        // pm smile's renderings, with --strikes inside the market's bound.
        let strikes = queries.prefix(4).filter { $0 >= index / 1e6 && $0 <= index * 1e6 }
        let views: [SmileView]
        do { views = try SmileReport.views(market: market, coin: coin, strikes: Array(strikes)) } catch {
            Fuzz.checkMessage(error, "smile"); return
        }
        for v in views {
            for p in v.points { if let f = p.fittedIv, !(f.isFinite && f > 0) { Fuzz.fail("smile: view vol \(f)") } }
        }
        _ = SmileReport.table(views); _ = SmileReport.csv(views); _ = SmileReport.json(views).render()
        _ = SmileReport.outlierNotes(views)
        let svg = SmileReport.svg(views)
        let parser = XMLParser(data: Data(svg.utf8))
        if !parser.parse() {
            Fuzz.fail("smile: the SVG is not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")")
        }
    }

    static func checkSlice(_ f: SmileFit, _ s: VolSurface.Slice) {
        let minVariance = f.a + f.b * f.sigma * (max(1 - f.rho * f.rho, 0)).squareRoot()
        guard f.b >= 0, abs(f.rho) < 1, f.sigma > 0, minVariance >= 0, f.b * (1 + abs(f.rho)) < SmileFit.wingSlopeLimit,
              f.isAdmissible else {
            Fuzz.fail("smile: slice \(s.expiry) breaks a constraint: \(f) (min variance \(minVariance))")
        }
        for o in s.outliers where !s.listedStrikes.contains(o.strike) {
            Fuzz.fail("smile: outlier \(o) is not a listed strike")
        }
        // Fewer than half of the strikes lose options, none with 3 strikes (docs/smile.md §1).
        let lost = Set(s.outliers.map(\.strike)).count
        if 2 * lost >= max(s.strikeCount, 1) || (s.strikeCount <= 3 && lost > 0) {
            Fuzz.fail("smile: \(lost) of \(s.strikeCount) strikes lost options as outliers")
        }
        for o in s.outliers where !(o.fittedIv.isFinite && o.fittedIv >= 0) { Fuzz.fail("smile: outlier fitted vol \(o)") }
    }
}

/// Bytes → text → `SmileReport.parseStrikes` (`--strikes`) and `SmileReport.views(expiry:)`
/// (`--expiry`) on a fixed small market.
///
/// Invariant: a refusal is an `InputError` naming `--strikes` / `--expiry` (a strike out of bound
/// too); an accepted expiry is at most twice as far out as the listed one; strikes accepted are finite, positive, one per comma-separated entry, and
/// what `Double` reads from the decimal text; views of an accepted expiry give finite positive vols.
enum SmileArgsTarget {
    static let market: MarketSnapshot = {
        var instruments: [Instrument] = []
        let e = SmileTarget.time + 30 * 86400
        for (i, k) in [80_000.0, 90_000, 100_000, 110_000, 120_000].enumerated() {
            let iv = [0.62, 0.55, 0.52, 0.54, 0.6][i]
            instruments.append(Instrument(symbol: "BTC-\(Int(k))-C", kind: .option, baseCoin: "BTC", settleCoin: "USDC",
                                          markPrice: 1, expiry: e, optionType: .call, strike: k, underlyingPrice: 100_000, markIv: iv))
        }
        let m = try! MarketSnapshot(time: SmileTarget.time, indexPrices: ["BTC": 100_000, "USDC": 1], instruments: instruments)
        if !m.instrumentProblems.isEmpty { Fuzz.fail("smileargs: the fixed market has problems: \(m.instrumentProblems)") }
        return m
    }()

    static func run(_ data: UnsafeBufferPointer<UInt8>) {
        let text = String(decoding: data, as: UTF8.self)
        // Byte 0 even: the text is --strikes; odd: --expiry (the rest).
        if data.first.map({ $0 & 1 == 0 }) ?? true {
            let strikes: [Double]
            do { strikes = try SmileReport.parseStrikes(String(text.dropFirst())) } catch {
                Fuzz.checkMessage(error, "smileargs")
                if let e = error as? InputError, e.record != "--strikes" { Fuzz.fail("smileargs: \(e) does not name --strikes") }
                return
            }
            let entries = String(text.dropFirst()).split(separator: ",", omittingEmptySubsequences: false)
            if strikes.count != entries.count { Fuzz.fail("smileargs: \(strikes.count) strikes from \(entries.count) entries") }
            for (k, s) in zip(strikes, entries) {
                let t = s.trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
                if !(k.isFinite && k > 0) || Double(t) != k { Fuzz.fail("smileargs: \(s.debugDescription) read as \(k)") }
            }
            do {
                for v in try SmileReport.views(market: market, coin: "BTC", strikes: strikes) {
                    for p in v.points { if let f = p.fittedIv, !(f.isFinite && f > 0) { Fuzz.fail("smileargs: vol \(f)") } }
                }
            } catch { Fuzz.checkMessage(error, "smileargs") }
        } else {
            // The only listed expiry is 30 days out: an accepted instant is at most 60 days out
            // (docs/smile.md §2); every refusal names --expiry.
            do {
                for v in try SmileReport.views(market: market, coin: "BTC", expiry: String(text.dropFirst())) {
                    if !(v.forward.isFinite && v.forward > 0) { Fuzz.fail("smileargs: forward \(v.forward)") }
                    if !(v.years > 0 && v.years * 365 <= 60 * (1 + 1e-12)) { Fuzz.fail("smileargs: accepted an expiry \(v.years * 365) days out") }
                    for p in v.points { if let f = p.fittedIv, !(f.isFinite && f > 0) { Fuzz.fail("smileargs: vol \(f)") } }
                    _ = SmileReport.table([v])
                }
            } catch {
                Fuzz.checkMessage(error, "smileargs")
                if let e = error as? InputError, e.record != "--expiry" { Fuzz.fail("smileargs: \(e) does not name --expiry") }
            }
        }
    }
}
