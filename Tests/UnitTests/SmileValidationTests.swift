import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Validation of the SVI smile (docs/smile.md): smiles of known shapes with noise, fit
/// error on the listed strikes, leave-one-out error per expiry, butterfly (g(k) ≥ 0) and calendar
/// (total variance non-decreasing in maturity) checks.
struct SmileValidationTests {
    /// Deterministic noise in [−amplitude, amplitude] (a 64-bit LCG, so runs are reproducible).
    struct Noise {
        var state: UInt64
        mutating func next(_ amplitude: Double) -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return amplitude * (Double(state >> 11) / Double(1 << 53) * 2 - 1)
        }
    }

    /// RMS of `fit − vols` on the points.
    static func rms(_ fit: SmileFit, _ ks: [Double], _ vols: [Double]) -> Double {
        (zip(ks, vols).reduce(0.0) { $0 + pow(fit.vol(logMoneyness: $1.0) - $1.1, 2) } / Double(ks.count)).squareRoot()
    }

    /// Leave-one-out RMS: each strike predicted by the fit of the others.
    static func leaveOneOut(_ ks: [Double], _ vols: [Double], years: Double) throws -> Double {
        var s = 0.0
        for i in ks.indices {
            var k = ks, v = vols
            k.remove(at: i); v.remove(at: i)
            let fit = try SmileFit.fit(logMoneyness: k, vols: v, years: years)
            s += pow(fit.vol(logMoneyness: ks[i]) - vols[i], 2)
        }
        return (s / Double(ks.count)).squareRoot()
    }

    /// Checks a fit: the constraints of docs/smile.md and g(k) ≥ 0 on the listed range widened by
    /// its width on each side.
    static func checkAdmissible(_ fit: SmileFit, _ ks: [Double], _ what: String) {
        #expect(fit.b >= 0 && abs(fit.rho) <= SmileFit.rhoLimit + 1e-12 && fit.sigma > 0, "\(what): \(fit)")
        #expect(fit.b * (1 + abs(fit.rho)) <= SmileFit.wingSlopeLimit + 1e-9, "\(what): wing slope \(fit.b * (1 + abs(fit.rho)))")
        #expect(fit.a + fit.b * fit.sigma * (1 - fit.rho * fit.rho).squareRoot() >= -1e-12, "\(what): negative minimum variance")
        let lo = ks.min()!, hi = ks.max()!, span = hi - lo
        let g = fit.minimumDensity(from: lo - span, to: hi + span)
        // The fit penalises g < 0 on 81 points of this range; between them g may dip by a hair.
        #expect(g >= -1e-4, "\(what): g(k) = \(g) < 0 (butterfly arbitrage)")
    }

    // MARK: - Known shapes

    /// SSVI (Gatheral & Jacquier 2014, §4) with the power-law φ(θ) = η/(θ^γ (1+θ)^(1−γ)),
    /// ρ = −0.7, η = 1, γ = 0.5 — free of static arbitrage by their Theorem 4.2, since
    /// η(1 + |ρ|) ≤ 2 — as raw SVI slices: a = θ(1−ρ²)/2, b = θφ/2, m = −ρ/φ, σ = √(1−ρ²)/φ.
    static func ssvi(years t: Double, atmVol: Double = 0.6) -> SmileFit {
        let rho = -0.7, eta = 1.0, gamma = 0.5
        let theta = atmVol * atmVol * t
        let phi = eta / (pow(theta, gamma) * pow(1 + theta, 1 - gamma))
        return SmileFit(a: theta * (1 - rho * rho) / 2, b: theta * phi / 2, rho: rho, m: -rho / phi,
                        sigma: (1 - rho * rho).squareRoot() / phi, years: t)
    }

    @Test(arguments: [3.0, 7, 30, 90, 180])
    func ssviWithNoiseIsRecovered(days: Double) throws {
        let t = days / 365
        let truth = Self.ssvi(years: t)
        // 21 strikes over ±2.5 standard deviations, marks with ±0.3 vol point noise.
        let width = 2.5 * 0.6 * t.squareRoot()
        let ks = (0..<21).map { -width + 2 * width * Double($0) / 20 }
        var noise = Noise(state: UInt64(days * 1000))
        let vols = ks.map { truth.vol(logMoneyness: $0) + noise.next(0.003) }
        let fit = try SmileFit.fit(logMoneyness: ks, vols: vols, years: t)
        let rmsListed = Self.rms(fit, ks, vols)
        let rmsTruth = Self.rms(fit, ks, ks.map { truth.vol(logMoneyness: $0) })
        let loo = try Self.leaveOneOut(ks, vols, years: t)
        print("SSVI \(days) d: RMS listed \(rmsListed * 100) vol pts, vs truth \(rmsTruth * 100), leave-one-out \(loo * 100)")
        #expect(rmsListed <= 0.005)
        #expect(rmsTruth <= 0.003)
        #expect(loo <= (days >= 7 ? 0.015 : 0.03))
        Self.checkAdmissible(fit, ks, "SSVI \(days) d")
    }

    /// Axel Vogt's raw SVI parameters (quoted by Gatheral & Jacquier 2014, §3, as an SVI with
    /// butterfly arbitrage): the density check must see g(k) < 0 (near k ≈ 0.88), and our fit of
    /// its vols must not carry the arbitrage over.
    @Test func vogtArbitrageIsDetectedAndNotFitted() throws {
        let vogt = SmileFit(a: -0.0410, b: 0.1331, rho: 0.3060, m: 0.3586, sigma: 0.4153, years: 1)
        let g = vogt.minimumDensity(from: -1.5, to: 1.5, points: 301)
        #expect(g < -0.03 && g > -0.034, "g min \(g)")
        #expect(vogt.density(logMoneyness: 0.88) < 0 && vogt.density(logMoneyness: 0) > 0)
        let ks = stride(from: -1.0, through: 1.0, by: 0.1).map { $0 }
        let fit = try SmileFit.fit(logMoneyness: ks, vols: ks.map { vogt.vol(logMoneyness: $0) }, years: 1)
        // Fitting marks that carry the arbitrage: g ≥ 0 holds on the fit's 81-point check grid
        // (the listed range widened by its width on each side), and between those points g dips
        // only slightly (measured −0.0008, against Vogt's own −0.033).
        #expect(fit.minimumDensity(from: -3, to: 3, points: 81) >= -1e-9)
        #expect(fit.minimumDensity(from: -3, to: 3, points: 1201) >= -2e-3)
        #expect(Self.rms(fit, ks, ks.map { vogt.vol(logMoneyness: $0) }) < 0.02)
    }

    /// A put wing that rises and then flattens far out (vol concave in k, as crypto puts often
    /// are). Raw SVI's total variance is convex in k, so it cannot follow a concave wing exactly:
    /// this is the model's known weak spot (docs/smile.md), held here to the leave-one-out
    /// goal rather than to the 0.5-point listed-strike target.
    @Test func flatteningPutWing() throws {
        let t = 45 / 365.0
        let ks = stride(from: -0.6, through: 0.4, by: 0.05).map { $0 }
        var noise = Noise(state: 7)
        let vols = ks.map { 0.45 + 0.35 * (1 - exp(3 * min($0, 0))) + 0.2 * max($0, 0) * max($0, 0) + noise.next(0.002) }
        let fit = try SmileFit.fit(logMoneyness: ks, vols: vols, years: t)
        let rms = Self.rms(fit, ks, vols), loo = try Self.leaveOneOut(ks, vols, years: t)
        print("flattening put wing: RMS \(rms * 100) vol pts, leave-one-out \(loo * 100)")
        #expect(rms <= 0.015)
        #expect(loo <= 0.02)
        Self.checkAdmissible(fit, ks, "flattening wing")
    }

    /// A steep two-day smile: ATM 45%, 80%+ at ±10% moneyness.
    @Test func steepShortDatedSmile() throws {
        let t = 2 / 365.0
        let ks = stride(from: -0.12, through: 0.1201, by: 0.01).map { $0 }
        var noise = Noise(state: 11)
        let vols = ks.map { (0.45 * 0.45 + 30 * $0 * $0).squareRoot() - 0.4 * $0 + noise.next(0.003) }
        let fit = try SmileFit.fit(logMoneyness: ks, vols: vols, years: t)
        let rms = Self.rms(fit, ks, vols), loo = try Self.leaveOneOut(ks, vols, years: t)
        print("steep 2-day smile: RMS \(rms * 100) vol pts, leave-one-out \(loo * 100)")
        #expect(rms <= 0.005)
        #expect(loo <= 0.03)
        Self.checkAdmissible(fit, ks, "steep short-dated")
    }

    /// Five strikes: the full 5-parameter fit, still admissible and close to the marks; the wings
    /// beyond them stay at most linear in total variance.
    @Test func fiveStrikeSmile() throws {
        let t = 30 / 365.0
        let ks = [-0.2, -0.1, 0.0, 0.1, 0.2]
        let vols = [0.62, 0.55, 0.50, 0.52, 0.57]
        let fit = try SmileFit.fit(logMoneyness: ks, vols: vols, years: t)
        #expect(Self.rms(fit, ks, vols) <= 0.005)
        Self.checkAdmissible(fit, ks, "5 strikes")
        // Far wings: w(k)/|k| stays below Lee's bound 2.
        for k in [-50.0, 50] { #expect(fit.totalVariance(logMoneyness: k) / abs(k) <= 2 + 1e-9) }
        // 4 strikes: the reduced fit (m, σ fixed), still through the points closely.
        let four = try SmileFit.fit(logMoneyness: Array(ks.prefix(4)), vols: Array(vols.prefix(4)), years: t)
        #expect(Self.rms(four, Array(ks.prefix(4)), Array(vols.prefix(4))) <= 0.005)
        Self.checkAdmissible(four, Array(ks.prefix(4)), "4 strikes")
    }

    // MARK: - The sample market and the calendar

    /// Every expiry of the sample market: fit RMS ≤ 0.5 vol point, leave-one-out within the goals
    /// of the smile goals (1.5 points from 7 days, 3 points for 1–7 days), admissible.
    @Test(arguments: ["BTC", "ETH", "SOL"])
    func sampleMarketLeaveOneOut(coin: String) throws {
        let market = TestSupport.sampleMarket
        let surface = try VolSurface(market: market, baseCoin: coin)
        for s in surface.slices {
            let ks = s.listedStrikes.map { log($0 / s.forward) }
            let fit = try #require(s.smile)
            #expect(s.rmsFitError <= 0.005, "\(coin) \(s.expiry)")
            let loo = try Self.leaveOneOut(ks, s.listedVols, years: s.years)
            print("sample \(coin) \(VolSurface.isoDate(s.expiry)) (\(Int(s.years * 365)) d, \(ks.count) strikes): RMS \(s.rmsFitError * 100), leave-one-out \(loo * 100) vol pts")
            #expect(loo <= (s.years * 365 >= 7 ? 0.015 : 0.03), "\(coin) \(VolSurface.isoDate(s.expiry)) leave-one-out \(loo)")
            Self.checkAdmissible(fit, ks, "\(coin) \(VolSurface.isoDate(s.expiry))")
        }
    }

    /// Two listed slices whose fits cross (the later one lower in the put wing): the surface's
    /// total variance never decreases in maturity at fixed log-moneyness, at and between expiries
    /// and beyond them, and where the listed slices do not cross the later one is its own fit.
    @Test func calendarMonotoneWhereSlicesCross() throws {
        let t0 = TestSupport.t0, f = 50000.0
        func slice(_ days: Double, _ vol: (Double) -> Double) -> [Instrument] {
            stride(from: -0.4, through: 0.4, by: 0.05).map { k in
                TestSupport.option("O\(Int(days))-\(Int(k * 100))", call: k >= 0, strike: f * exp(k), days: days,
                                   forward: f, iv: vol(k))
            }
        }
        // Day 10: a steep put wing; day 20: flat puts, so at k = −0.4 its total variance is lower.
        let insts = slice(10) { 0.5 + 0.8 * $0 * $0 - 0.9 * min($0, 0) } + slice(20) { 0.5 + 0.3 * $0 * $0 }
        let market = try MarketSnapshot(time: t0, indexPrices: ["BTC": f, "USDC": 1], instruments: insts)
        let s = try VolSurface(market: market, baseCoin: "BTC")
        let a = s.slices[0], b = s.slices[1]
        #expect(a.smile!.totalVariance(logMoneyness: -0.4) > b.smile!.totalVariance(logMoneyness: -0.4))  // they cross
        for k in stride(from: -0.6, through: 0.6, by: 0.05) {
            var previous = 0.0
            // Out to day 40: twice the last listed expiry, the extrapolation bound (docs/smile.md §2).
            for day in stride(from: 1.0, through: 40, by: 0.5) {
                let e = t0 + day * TestSupport.day
                let fw = try s.forward(expiry: e)
                let iv = try s.impliedVol(strike: fw * exp(k), expiry: e)
                let w = iv * iv * day / 365
                #expect(w >= previous - 1e-12, "k \(k) day \(day): \(w) < \(previous)")
                previous = w
            }
        }
        // Where the fits do not cross (calls), the later slice is its own fit.
        let k = 0.3
        #expect(TestSupport.near(try s.impliedVol(strike: f * exp(k), expiry: b.expiry), b.smile!.vol(logMoneyness: k), within: 1e-12))
    }
}
