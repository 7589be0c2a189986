import Foundation
import Testing
import CKernels
@testable import PortfolioMargin
@testable import PMTestSupport

/// Short-expiry smiles (docs/smile.md §3, "Short expiries"): synthetic BTC-like chains with the
/// features a raw-SVI slice cannot follow — a 7-day smile with a sharp bottom at the money and a
/// put wing that rises ~110 vol points and then lies flat at ~180%, 1- and 3-day smiles as steep,
/// a 14-day expiry with only 5 strikes, a 35- and a 91-day smile with moderate skew — held to the
/// leave-one-out goals (1.5 vol points from 7 days, 3 points below) and to the no-arbitrage checks.
///
/// **How the chains are made.** Each expiry's vol is a known smooth function of `k = ln(K/F)`,
/// forward `F = 10,000` (`Shape.vol`): a call side `σ₀ + β·h(k)` with `h = √(k² + δ²) − δ` (a
/// bottom of curvature radius `δ` at the money) and a put side that rises from `σ₀` to a plateau
/// `P` as `P − (P − σ₀ − c·h)·e^{−(h/λ)^p}`, the two sides joined by a logistic weight of width 0.01.
/// Its total variance `σ(k)²T` is free of butterfly arbitrage (`truthIsFreeOfArbitrage` checks
/// Gatheral's `g ≥ 0.02` by finite differences on `k ∈ [−3, 2]`, without the code under test) and
/// increases with the expiry at every `k` (no calendar arbitrage). The listed marks are the
/// function at the chain's strikes plus uniform noise of ±0.3 vol point from a fixed-seed LCG.
struct SmileShortExpiryTests {
    static let forward = 10_000.0

    /// A smooth arbitrage-free smile (see the type's documentation).
    struct Shape {
        var atm: Double, beta: Double, delta: Double, plateau: Double, lambda: Double, power: Double, lift: Double

        func vol(_ k: Double) -> Double {
            let h = (k * k + delta * delta).squareRoot() - delta
            let s = 1 / (1 + exp(k / 0.01))   // 1 on the put side, 0 on the call side
            let e = exp(-pow(h / lambda, power))
            let put = plateau - (plateau - atm) * e + lift * h * e
            return s * put + (1 - s) * (atm + beta * h)
        }
    }

    /// One expiry of the chain.
    struct Chain {
        var days: Double
        var shape: Shape
        var strikes: [Double]
        var years: Double { days / 365 }
        var ks: [Double] { strikes.map { log($0 / SmileShortExpiryTests.forward) } }
        /// The listed marks: the shape plus ±0.3 vol point of deterministic noise.
        var vols: [Double] {
            var noise = SmileValidationTests.Noise(state: UInt64(days * 7919))
            return ks.map { shape.vol($0) + noise.next(0.003) }
        }
    }

    static func range(_ lo: Double, _ hi: Double, _ step: Double) -> [Double] {
        stride(from: lo, through: hi + step / 2, by: step).map { $0 }
    }

    static let chains: [Chain] = [
        Chain(days: 1, shape: Shape(atm: 0.75, beta: 1.6, delta: 0.005, plateau: 1.40, lambda: 0.12, power: 2, lift: 1),
              strikes: range(9000, 11000, 250)),
        Chain(days: 3, shape: Shape(atm: 0.72, beta: 1.2, delta: 0.008, plateau: 1.60, lambda: 0.22, power: 2, lift: 1),
              strikes: range(8000, 12000, 250)),
        Chain(days: 7, shape: Shape(atm: 0.70, beta: 0.9, delta: 0.01, plateau: 1.80, lambda: 0.35, power: 2, lift: 1),
              strikes: range(5000, 8500, 500) + range(9000, 11000, 250) + range(11500, 13000, 500)),
        Chain(days: 14, shape: Shape(atm: 0.66, beta: 0.7, delta: 0.02, plateau: 1.50, lambda: 0.45, power: 1.6, lift: 0.5),
              strikes: [8000, 9000, 10000, 11000, 12000]),
        Chain(days: 35, shape: Shape(atm: 0.62, beta: 0.35, delta: 0.06, plateau: 1.20, lambda: 0.6, power: 1.3, lift: 0),
              strikes: range(6000, 16000, 500)),
        Chain(days: 91, shape: Shape(atm: 0.60, beta: 0.25, delta: 0.10, plateau: 1.10, lambda: 0.9, power: 1.2, lift: 0),
              strikes: range(4000, 20000, 1000)),
    ]

    /// Gatheral's `g(k)` of the total variance `w(k)` by central differences (independent of `SmileFit`).
    static func density(_ w: (Double) -> Double, _ k: Double) -> Double {
        let h = 1e-4
        let w0 = w(k), w1 = (w(k + h) - w(k - h)) / (2 * h), w2 = (w(k + h) - 2 * w0 + w(k - h)) / (h * h)
        let t = 1 - k * w1 / (2 * w0)
        return t * t - w1 * w1 / 4 * (1 / w0 + 0.25) + w2 / 2
    }

    /// The generating smiles are free of butterfly arbitrage (g ≥ 0.02 on k ∈ [−3, 2]) and of
    /// calendar arbitrage (total variance increasing with the expiry at every k), and they have the
    /// features named: the 7-day smile has its bottom at the money (70%), rises 8–16 points within
    /// ±10% moneyness and is flat within 8 points at ~175–180% below strike 6,000.
    @Test func truthIsFreeOfArbitrage() {
        let grid = Self.range(-3, 2, 0.0025)
        var previous: [Double]? = nil
        for c in Self.chains {
            let w = { (k: Double) in c.shape.vol(k) * c.shape.vol(k) * c.years }
            let g = grid.map { Self.density(w, $0) }.min()!
            #expect(g >= 0.02, "\(c.days) d: g \(g)")
            let ws = grid.map(w)
            if let p = previous { #expect(zip(ws, p).allSatisfy { $0 > $1 }, "\(c.days) d: calendar") }
            previous = ws
        }
        let s7 = Self.chains[2].shape
        #expect(TestSupport.near(s7.vol(0), 0.70, within: 1e-9))
        #expect(Self.range(-0.3, 0.3, 0.001).allSatisfy { s7.vol($0) >= 0.70 - 1e-9 })
        for k in [log(0.9), log(1.1)] { #expect(s7.vol(k) - 0.70 > 0.075 && s7.vol(k) - 0.70 < 0.17, "k \(k): \(s7.vol(k))") }
        let wing = [5000.0, 5500, 6000].map { s7.vol(log($0 / Self.forward)) }
        #expect(wing.max()! - wing.min()! < 0.08 && wing.min()! > 1.7, "\(wing)")
    }

    /// The leave-one-strike-out RMS error of every expiry meets the goal: ≤ 1.5 vol points from 7
    /// days, ≤ 3 below (the thin 14-day expiry with the shape of its neighbours); every fit of an
    /// expiry's own marks is admissible and within 1 vol point RMS of them.
    @Test(arguments: [1.0, 3, 7, 14, 35, 91])
    func leaveOneOutMeetsTheGoal(days: Double) throws {
        let c = try #require(Self.chains.first { $0.days == days })
        let ks = c.ks, vols = c.vols
        let fit = try SmileFit.fit(logMoneyness: ks, vols: vols, years: c.years)
        let rms = SmileValidationTests.rms(fit, ks, vols)
        let loo = try SmileValidationTests.leaveOneOut(ks, vols, years: c.years)
        print("short-expiry chain \(Int(days)) d (\(ks.count) strikes): RMS \(rms * 100), leave-one-out \(loo * 100) vol pts")
        let goal = days >= 7 ? 0.015 : 0.03
        if ks.count >= SmileFit.thinStrikes {
            #expect(loo <= goal, "\(days) d: leave-one-out \(loo)")
        } else {
            // A thin expiry: leaving one strike out of its own marks alone leaves the 4-strike reduced
            // fit (m, σ fixed), which cannot place this chain's sharp bottom or its put slope; with
            // the shape of its neighbours (fitted on their own marks) it meets the goal
            // (docs/smile.md §1 "Thin expiries", §3).
            let shorter = try #require(Self.chains.last { $0.days < days }), longer = try #require(Self.chains.first { $0.days > days })
            let borrowed = try SmileThinExpiryTests.leaveOneOut(ks, vols, years: c.years, neighbours: [
                try SmileThinExpiryTests.neighbour(shorter.days), try SmileThinExpiryTests.neighbour(longer.days)])
            print("short-expiry chain \(Int(days)) d: leave-one-out with the neighbours' shape \(borrowed.rms * 100) vol pts")
            #expect(borrowed.rms <= goal && borrowed.allBorrowed, "\(days) d: leave-one-out \(borrowed.rms)")
        }
        #expect(rms <= 0.01, "\(days) d: RMS \(rms)")
        #expect(fit.isAdmissible)
        SmileValidationTests.checkAdmissible(fit, ks, "\(days) d")
    }
}

extension SmileShortExpiryTests {
    /// The same marks give the same smile to the bit (the fit has no randomness and no timing).
    @Test func fitIsDeterministic() throws {
        let c = Self.chains[2]
        let a = try SmileFit.robustFit(logMoneyness: c.ks, vols: c.vols, years: c.years)
        let b = try SmileFit.robustFit(logMoneyness: c.ks, vols: c.vols, years: c.years)
        #expect(a == b)
        let correction = try #require(a.smile.correction)
        #expect(correction.isWellFormed && correction.knots.count == 12)
    }

    /// The chain as a market (calls above the forward, puts below, strikes on every expiry): the
    /// surface's total variance never decreases with maturity at any k on a grid, and Black-76
    /// call prices at every listed expiry are decreasing and convex in strike from 0.02F to 50F.
    @Test func surfaceOfTheChainIsFreeOfArbitrage() throws {
        let t0 = TestSupport.t0, f = Self.forward
        var insts: [Instrument] = []
        for c in Self.chains {
            for (strike, iv) in zip(c.strikes, c.vols) {
                insts.append(TestSupport.option("C\(Int(c.days))-\(Int(strike))", call: strike >= f, strike: strike,
                                                days: c.days, forward: f, iv: iv))
            }
        }
        let market = try MarketSnapshot(time: t0, indexPrices: ["BTC": f, "USDC": 1], instruments: insts)
        let surface = try VolSurface(market: market, baseCoin: "BTC")
        #expect(surface.slices.count == Self.chains.count)
        for s in surface.slices { #expect(s.smile?.isAdmissible == true && s.outliers.isEmpty, "\(s.years * 365) d") }
        for k in Self.range(-1.5, 1.0, 0.05) {
            var previous = 0.0
            for day in Self.range(0.5, 150, 0.5) {
                let e = t0 + day * TestSupport.day
                let iv = try surface.impliedVol(strike: try surface.forward(expiry: e) * exp(k), expiry: e)
                let w = iv * iv * day / 365
                #expect(w >= previous - 1e-12, "k \(k) day \(day): \(w) < \(previous)")
                previous = w
            }
        }
        for s in surface.slices {
            let strikes = (0...1200).map { f * exp(log(0.02) + (log(50) - log(0.02)) * Double($0) / 1200) }
            let prices = try strikes.map { k -> Double in
                var p = 0.0, d = 0.0, v = 0.0
                pm_black76_greeks(f, k, s.years, try surface.impliedVol(strike: k, expiry: s.expiry), 1, &p, &d, &v)
                return p
            }
            for i in 1..<(prices.count - 1) {
                #expect(prices[i] <= prices[i - 1] + 1e-9 * f, "\(s.years * 365) d: not decreasing at \(strikes[i])")
                // Convex in strike on the uneven grid: the middle price lies on or below the chord.
                let l = (strikes[i + 1] - strikes[i]) / (strikes[i + 1] - strikes[i - 1])
                #expect(prices[i] <= l * prices[i - 1] + (1 - l) * prices[i + 1] + 1e-9 * f, "\(s.years * 365) d: not convex at \(strikes[i])")
            }
        }
    }
}

/// `SmileCorrection`, the natural cubic spline of docs/smile.md §1 "Beyond SVI".
struct SmileCorrectionTests {
    static let knots = [-0.4, -0.25, -0.1, 0.0, 0.15, 0.3]
    static let spline = SmileCorrection(knots: knots, coefficients: [0.01, -0.02, 0.03, -0.05, 0.04, 0.02])

    /// Linear outside the knots (value, slope and zero curvature agree with the end tangents, also
    /// far out where the cubes of the basis would cancel), twice continuously differentiable at the
    /// knots (finite differences from both sides agree), and the first two coefficients alone are
    /// the line `c₁ + c₂·(k − ξ₁)/(ξ_K − ξ₁)`.
    @Test func naturalSplineProperties() {
        let s = Self.spline, lo = Self.knots.first!, hi = Self.knots.last!
        let left = s.derivatives(logMoneyness: lo), right = s.derivatives(logMoneyness: hi)
        #expect(abs(left.curvature) < 1e-9 && abs(right.curvature) < 1e-9)
        for d in [0.1, 3.0, 1e4, 1e9] {
            let l = s.derivatives(logMoneyness: lo - d), r = s.derivatives(logMoneyness: hi + d)
            #expect(TestSupport.near(l.value, left.value - d * left.slope, within: 1e-9 * max(1, d)), "left \(d)")
            #expect(TestSupport.near(r.value, right.value + d * right.slope, within: 1e-9 * max(1, d)), "right \(d)")
            #expect(l.curvature == 0 && r.curvature == 0 && l.slope == left.slope && TestSupport.near(r.slope, right.slope, within: 1e-12))
        }
        #expect(TestSupport.near(s.leftSlope, left.slope, within: 1e-12) && TestSupport.near(s.rightSlope, right.slope, within: 1e-12))
        let h = 1e-6
        for k in Self.knots.dropFirst().dropLast() {
            let below = s.derivatives(logMoneyness: k - h), above = s.derivatives(logMoneyness: k + h)
            // One-sided Taylor steps from both sides meet: value and slope continuous.
            #expect(TestSupport.near(below.value + h * below.slope, above.value - h * above.slope, within: 1e-10))
            #expect(TestSupport.near(below.slope + h * below.curvature, above.slope - h * above.curvature, within: 1e-8))
            #expect(TestSupport.near(below.curvature, above.curvature, within: 1e-3), "curvature jumps at \(k)")
            // The slope is the derivative of the value.
            let fd = (s.value(logMoneyness: k + h) - s.value(logMoneyness: k - h)) / (2 * h)
            #expect(TestSupport.near(fd, s.derivatives(logMoneyness: k).slope, within: 1e-6))
        }
        let line = SmileCorrection(knots: Self.knots, coefficients: [0.02, 0.07, 0, 0, 0, 0])
        for k in stride(from: -1.0, through: 1.0, by: 0.05) {
            #expect(TestSupport.near(line.value(logMoneyness: k), 0.02 + 0.07 * (k - lo) / (hi - lo), within: 1e-12))
        }
    }

    /// A malformed correction evaluates to 0 without trapping and makes its smile not admissible;
    /// a correction that turns a wing's total variance downwards is not admissible either.
    @Test func malformedOrArbitrageableCorrectionsAreRefused() {
        let svi = SmileFit(a: 0.01, b: 0.1, rho: -0.4, m: 0.02, sigma: 0.15, years: 0.25)
        #expect(svi.isAdmissible)
        for bad in [SmileCorrection(knots: [0, 1], coefficients: [0, 1]),
                    SmileCorrection(knots: [0, 1, 2], coefficients: [1]),
                    SmileCorrection(knots: [0, 0, 1], coefficients: [0, 0, 0]),
                    SmileCorrection(knots: [0, .nan, 1], coefficients: [0, 0, 0])] {
            var s = svi
            s.correction = bad
            #expect(!bad.isWellFormed && !s.isAdmissible)
        }
        #expect(SmileCorrection(knots: [0, 1, 2], coefficients: [1]).value(logMoneyness: 0.5) == 0)
        // Right wing slope b(1 + ρ) = 0.06; a correction of slope −0.1 right of its knots makes it negative.
        var down = svi
        down.correction = SmileCorrection(knots: [-0.5, 0, 0.5], coefficients: [0, -0.1, 0])
        #expect(down.wingSlopes.right < 0 && !down.isAdmissible)
    }
}
