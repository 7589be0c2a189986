import CKernels
import Foundation

// The volatility smile fit: implied vol and forward for an option or dated future that is not in
// the market snapshot (a new strike or expiry named in a pre-trade check), derived from the listed
// options of the same base coin. The model is documented in docs/smile.md.
//
// The seam is three public types, all pure values without global state:
// - `SmileFit`: one raw-SVI smile in total variance, fitted by Zeliade's quasi-explicit least
//   squares (outer search over (m, σ), inner constrained linear solve with LAPACKE_dgels);
// - `VolSurface`: the smiles and forwards of one coin's listed expiries, interpolated in time;
// - `VolSurface.syntheticInstrument(symbol:market:)`: a whole `Instrument` for an unlisted symbol.

/// A raw-SVI smile (Gatheral 2004) in total implied variance against log-moneyness `k = ln(K/F)`,
/// plus an optional spline `s(k)` (`correction`, `SmileCorrection`):
///
///     w(k) = a + b·(ρ·(k − m) + √((k − m)² + σ²)) + s(k),   σ_impl(k) = √(w(k)/T)
///
/// Fitted smiles satisfy `b ≥ 0`, `|ρ| ≤ 0.999`, `σ > 0`, `b·(1 + |ρ|) ≤ 1.96` (strictly inside
/// Lee's moment bound 2: both wings at most linear in `k`), `a + b·σ·√(1 − ρ²) > 0` (the minimum
/// total variance is positive) and Gatheral's `g(k) ≥ 0` on the whole line (no butterfly
/// arbitrage): `isAdmissible`. With a correction, the sum's wing slopes lie in `[0, 1.96]` and its
/// `g ≥ 0` on the whole line too. See docs/smile.md.
public struct SmileFit: Equatable, Sendable {
    /// SVI `a`: the level of total variance (years × vol²).
    public var a: Double
    /// SVI `b` ≥ 0: the slope of the wings.
    public var b: Double
    /// SVI `ρ`, |ρ| ≤ ``rhoLimit``: the skew (negative: the put wing is steeper).
    public var rho: Double
    /// SVI `m`: the log-moneyness of the smile's vertex.
    public var m: Double
    /// SVI `σ` > 0: the curvature at the vertex (smaller is sharper).
    public var sigma: Double
    /// Time to expiry in years (ACT/365) the total variance belongs to.
    public var years: Double

    /// Fewest distinct strikes for the full 5-parameter fit; with 3 or 4 the fit keeps `m` and `σ`
    /// fixed (see `fit`), below 3 there is no smile.
    public static let minimumStrikes = 5
    /// Fewest distinct strikes for any smile (the reduced 3-parameter fit).
    public static let minimumReducedStrikes = 3
    /// Largest |ρ| a fit may take (|ρ| = 1 makes a wing flat in total variance, not a smile).
    public static let rhoLimit = 0.999
    /// Lee's bound on the wing slopes `b·(1 ± ρ)` of total variance in `k`.
    public static let wingSlopeLimit = 2.0
    /// The wing slope `b·(1 + |ρ|)` a fit may take: strictly below Lee's bound. At the bound itself
    /// `g(k) → 0` from below in the wings (`g(±∞) = (1 − s²/4)/4` for wing slope `s`, approached as
    /// `−O(1/|k|)`), so the density is negative far out; 1.96 keeps `g(±∞) ≥ 0.0099`.
    public static let wingSlopeCap = 1.96
    /// The least `g(k)` an admissible smile has on the check grid of `minimumDensityEverywhere`: a
    /// margin above 0 so that `g` cannot dip below 0 between grid points (its change over one grid
    /// step is far smaller), and the fit's penalty aims at twice this.
    public static let densityFloor = 1e-3
    /// Vol deviations up to this size (decimal: 0.05 = 5 vol points) are never treated as outliers.
    public static let minimumOutlierResidual = 0.05
    /// Relative vol deviations up to this fraction of the vol fitted without the point are never
    /// treated as outliers (see `outlierTolerance`).
    public static let outlierRelativeResidual = 0.3
    /// With at most this many distinct strikes kept, the outlier test refits without each strike in
    /// turn; above it, only without the `outlierCandidates` strikes that sit worst against the fit
    /// of all the kept points (a smile through few strikes can bend through a wrong mark, so its
    /// residual there says little; through many it cannot).
    static let smallSmileStrikes = 8
    /// Most strikes refitted without, per round of the outlier test, above `smallSmileStrikes`.
    static let outlierCandidates = 6

    /// The largest deviation `|σᵢ − σ̂|` of a listed vol from `σ̂`, the vol at its strike of the fit
    /// of the other strikes, that is not an outlier: `max(minimumOutlierResidual, outlierRelativeResidual·σ̂)`.
    public static func outlierTolerance(fittedVol v: Double) -> Double {
        max(minimumOutlierResidual, outlierRelativeResidual * v)
    }

    /// A smile from its five raw-SVI parameters and its time to expiry; not checked against the bounds.
    public init(a: Double, b: Double, rho: Double, m: Double, sigma: Double, years: Double) {
        self.a = a; self.b = b; self.rho = rho; self.m = m; self.sigma = sigma; self.years = years
    }

    /// The spline added to the SVI total variance where the listed marks demand a shape SVI cannot
    /// take (a flat or concave wing, an asymmetric bottom), or nil for a plain SVI smile; see
    /// `SmileCorrection` and docs/smile.md §1.
    public var correction: SmileCorrection? = nil

    /// Total implied variance `w(k)`: the SVI total variance plus the correction, if any.
    public func totalVariance(logMoneyness k: Double) -> Double {
        let x = k - m
        let svi = a + b * (rho * x + (x * x + sigma * sigma).squareRoot())
        guard let correction else { return svi }
        return svi + correction.value(logMoneyness: k)
    }

    /// Implied vol `√(max(w, 0)/T)`.
    public func vol(logMoneyness k: Double) -> Double {
        (max(totalVariance(logMoneyness: k), 0) / years).squareRoot()
    }

    /// The slopes of total variance in `k` far out in the wings, outward: `b·(1 − ρ)` minus the
    /// correction's slope left of its first knot, and `b·(1 + ρ)` plus its slope right of its last.
    /// Lee's moment formula needs both at most 2; total variance stays positive only if both are ≥ 0.
    public var wingSlopes: (left: Double, right: Double) {
        (b * (1 - rho) - (correction?.leftSlope ?? 0), b * (1 + rho) + (correction?.rightSlope ?? 0))
    }

    /// Gatheral's density function `g(k) = (1 − k·w′/(2w))² − (w′²/4)·(1/w + 1/4) + w″/2`: the
    /// risk-neutral density is `g(k)/√(2πw)·exp(−d₋²/2)`, so `g ≥ 0` everywhere means no butterfly
    /// arbitrage (Gatheral & Jacquier 2014, §2). `−∞` where `w ≤ 0`.
    public func density(logMoneyness k: Double) -> Double {
        let x = k - m
        let r = (x * x + sigma * sigma).squareRoot()
        var w = a + b * (rho * x + r)
        var w1 = b * (rho + x / r)
        var w2 = b * sigma * sigma / (r * r * r)
        if let correction {
            let s = correction.derivatives(logMoneyness: k)
            w += s.value; w1 += s.slope; w2 += s.curvature
        }
        return Self.density(k, w, w1, w2)
    }

    /// `g` from `w`, `w′`, `w″` at `k` (`−∞` where `w ≤ 0` or the result is not a number).
    static func density(_ k: Double, _ w: Double, _ w1: Double, _ w2: Double) -> Double {
        guard w > 0 else { return -.infinity }
        let t = 1 - k * w1 / (2 * w)
        let g = t * t - w1 * w1 / 4 * (1 / w + 0.25) + w2 / 2
        return g.isNaN ? -.infinity : g
    }

    /// `g` over the whole real line: the smallest `density(logMoneyness:)` on 4001 points
    /// `k = m + σ·sinh(t)`, `t` evenly spaced in [−25, 25] (steps of 2.5% of `σ` at the vertex and of
    /// 2.5% of `|k − m|` in the wings, out to `|k − m| ≈ 3.6·10^10·σ`), and the wing limits
    /// `g(±∞) = (1 − s±²/4)/4` for the wing slopes `s± = b·(1 ± ρ)` (−∞ when a wing reaches Lee's
    /// bound, where `g` tends to 0 from below).
    ///
    /// With a correction the wing slopes are those of `wingSlopes` (−∞ also when one is negative:
    /// total variance would turn negative), and `g` is also taken at the knots and on 2001 evenly
    /// spaced points from the first knot minus the knots' span to the last knot plus it (the
    /// correction's curvature is piecewise linear between knots; steps of 0.15% of the span).
    public func minimumDensityEverywhere() -> Double {
        var g = Double.infinity
        let slopes = wingSlopes
        for s in [slopes.left, slopes.right] {
            g = min(g, s >= 0 && s < Self.wingSlopeLimit ? (1 - s * s / 4) / 4 : -.infinity)
        }
        for i in 0...4000 {
            let t = -25 + 50 * Double(i) / 4000
            g = min(g, density(logMoneyness: m + sigma * sinh(t)))
        }
        if let c = correction, let lo = c.knots.first, let hi = c.knots.last {
            let span = hi - lo
            for i in 0...2000 { g = min(g, density(logMoneyness: lo - span + 3 * span * Double(i) / 2000)) }
            for k in c.knots { g = min(g, density(logMoneyness: k)) }
        }
        return g.isNaN ? -.infinity : g
    }

    /// Every constraint of a fitted smile holds (docs/smile.md §1): finite parameters, `b ≥ 0`,
    /// `|ρ| ≤ rhoLimit`, `σ > 0`, `b·(1 + |ρ|) ≤ wingSlopeCap`, minimum total variance
    /// `a + b·σ·√(1 − ρ²) > 0`, and `g(k) ≥ densityFloor` on the check grid of
    /// `minimumDensityEverywhere` (so `g ≥ 0` everywhere).
    ///
    /// With a correction: its knots and coefficients are finite and well formed
    /// (`SmileCorrection.isWellFormed`), and both `wingSlopes` of the sum lie in `[0, wingSlopeCap]`;
    /// the SVI part keeps its own constraints (it is itself an admissible smile).
    public var isAdmissible: Bool {
        guard [a, b, rho, m, sigma, years].allSatisfy(\.isFinite), b >= 0, abs(rho) <= Self.rhoLimit, sigma > 0,
              b * (1 + abs(rho)) <= Self.wingSlopeCap * (1 + 1e-12),
              a + b * sigma * (max(1 - rho * rho, 0)).squareRoot() > 0 else { return false }
        if let c = correction {
            let slopes = wingSlopes
            guard c.isWellFormed, slopes.left >= 0, slopes.right >= 0,
                  max(slopes.left, slopes.right) <= Self.wingSlopeCap * (1 + 1e-12) else { return false }
        }
        return minimumDensityEverywhere() >= Self.densityFloor
    }

    /// The smallest `density(logMoneyness:)` on `points` evenly spaced points of `[lo, hi]`.
    public func minimumDensity(from lo: Double, to hi: Double, points: Int = 201) -> Double {
        var g = Double.infinity
        for i in 0..<points {
            let k = lo + (hi - lo) * Double(i) / Double(max(points - 1, 1))
            g = min(g, density(logMoneyness: k))
        }
        return g
    }

    /// A robust fit: the smile and the indices of the input points left out as outliers.
    public struct RobustFit: Equatable, Sendable {
        /// The fitted smile (`isAdmissible` holds).
        public var smile: SmileFit
        /// Indices (into the input arrays, ascending) of the points treated as outliers and left
        /// out of the final fit.
        public var outliers: [Int]
        /// True when the smile's shape is borrowed from neighbouring expiries (a thin expiry,
        /// `robustFit(logMoneyness:vols:years:neighbours:)`); false for a fit of the expiry's own data alone.
        public var borrowed = false
    }

    /// The robust SVI smile through the points (`logMoneyness[i]`, `vols[i]`) of an expiry `years`
    /// out; see `robustFit`. The outliers it leaves out are not reported here.
    public static func fit(logMoneyness ks: [Double], vols: [Double], years: Double) throws -> SmileFit {
        try robustFit(logMoneyness: ks, vols: vols, years: years).smile
    }

    /// The robust least-squares SVI smile through the points (`logMoneyness[i]`, `vols[i]`) of an
    /// expiry `years` out (docs/smile.md §1).
    ///
    /// **Objective.** Minimises `Σ ((w_fit(kᵢ) − σᵢ²T) / ((ℓᵢ + σᵢ)·T))²` over the points kept —
    /// at `ℓᵢ = σ_fit(kᵢ)` exactly the squared vol residual, since `w_fit − σᵢ²T = (σ_fit + σᵢ)(σ_fit − σᵢ)T`
    /// — plus an exact (L1) penalty on negative `g(k)` on a grid spanning the listed range widened
    /// by its width on each side and geometric points far into both wings. Each fit of a set of
    /// points is two weighted fits (`weightedFit`): first with every `ℓᵢ` the median vol of the
    /// points (so that one tiny listed vol does not get an enormous weight), then with `ℓᵢ` the first
    /// fit's vols (reweighted least squares).
    ///
    /// **Outliers** (leave one strike out). A listed vol `σᵢ` at strike `kⱼ` is an outlier when it
    /// lies farther than `outlierTolerance(σ̂)` — `max(5 vol points, 30% of σ̂)` — from `σ̂`, the vol at
    /// `kⱼ` of the fit of the kept points at the *other* strikes (the points of one strike, a call and a
    /// put, usually carry the same mark, so leaving out one point alone would let its twin hold the
    /// fit). Rounds: the strikes are refitted without in turn (every kept strike while at most
    /// `smallSmileStrikes` are kept, else the `outlierCandidates` worst against the fit of all kept
    /// points, by deviation over tolerance, those above a third of it); among the strikes with an
    /// outlier, the one whose removal leaves the best fit of the others (least sum of squared vol
    /// residuals) loses its outlying points at least half as far from `σ̂` as the farthest (as a
    /// ratio, `|ln(σᵢ/σ̂)|`), and the next round starts from the fit without them; until no strike
    /// has an outlier. Then a point left out that lies within `outlierTolerance` of the final
    /// fit (a fit without it) comes back, and the kept points are refitted. Limits: a test needs 3
    /// distinct other strikes (so an expiry with 3 strikes drops nothing: two points cannot say which of three is wrong),
    /// and fewer than half of the expiry's distinct strikes may lose points.
    ///
    /// **Inner solve** (Zeliade's quasi-explicit method): for fixed `(m, σ)`, with `y = (k − m)/σ`, the
    /// smile is linear, `w = a + d·y + c·√(y² + 1)` (`c = bσ`, `d = ρbσ`); the constraints are the
    /// polygon `|d| ≤ ρmax·c`, `c + |d| ≤ wingSlopeCap·σ` in `(c, d)`, so the optimum is the
    /// unconstrained solution (`LAPACKE_dgels` on the weighted design `[1, y, √(y²+1)]`) or lies on an
    /// edge (a 2-column least squares with the edge parameter clamped). If the result has negative
    /// minimum variance, `a` is raised to `−√(c² − d²)`. The outer `(m, ln σ)` is searched on a grid,
    /// then refined by Nelder–Mead from the two best grid points.
    ///
    /// **Spline correction.** The final fit, with 6 or more distinct strikes kept, adds the
    /// `SmileCorrection` fitted to its vol residuals (`corrected`); the outlier test compares with
    /// the SVI fits.
    ///
    /// **No butterfly arbitrage.** The result is checked with `isAdmissible` (`g ≥ 0` on the whole
    /// line, wing limits included). If it fails, the smile is blended towards the flat smile of the
    /// mean total variance `w̄` of the points kept — `a → (1−λ)a + λw̄`, `b → (1−λ)b` (`λ = 1` is
    /// flat, `g ≡ 1`) — with the smallest `λ` found by bisection that passes.
    ///
    /// With 3 or 4 distinct strikes kept (fewer than `minimumStrikes`), `(m, σ)` are not fitted: `m` is
    /// the log-moneyness of the lowest vol kept and `σ` half the kept range (at least 0.05), and
    /// only `(a, b, ρ)` are solved, under the same constraints. Repeated points are allowed (they
    /// weigh twice, as a call and a put of the same strike should).
    ///
    /// - Throws: `InputError` when the arrays differ in length, a value is not finite, a vol or
    ///   `years` is not positive, there are fewer than 3 distinct `k`, or LAPACK reports a failure.
    public static func robustFit(logMoneyness ks: [Double], vols: [Double], years: Double) throws -> RobustFit {
        try robustFit(logMoneyness: ks, vols: vols, years: years, settings: .standard)
    }

    /// `robustFit(logMoneyness:vols:years:)` with the spline correction's settings given.
    static func robustFit(logMoneyness ks: [Double], vols: [Double], years: Double,
                          settings: CorrectionSettings) throws -> RobustFit {
        guard ks.count == vols.count else {
            throw InputError("smile fit: \(ks.count) log-moneyness values but \(vols.count) vols")
        }
        guard ks.allSatisfy(\.isFinite), vols.allSatisfy(\.isFinite) else {
            throw InputError("smile fit: log-moneyness and vols must be finite")
        }
        guard vols.allSatisfy({ $0 > 0 }) else { throw InputError("smile fit: vols must be positive") }
        guard years.isFinite, years > 0 else {
            throw InputError("smile fit: expected a positive time to expiry, got \(years) years")
        }
        let distinct = Set(ks).count
        guard distinct >= minimumReducedStrikes else {
            throw InputError("smile fit: only \(distinct) distinct strikes, need at least \(minimumReducedStrikes)")
        }
        let n = ks.count
        var kept = [Bool](repeating: true, count: n)
        var smile = try weightedFit(ks, vols, kept, years)
        var touched = Set<Double>()   // strikes that lost points
        while true {
            let keptStrikes = Set((0..<n).filter { kept[$0] }.map { ks[$0] }).sorted()
            guard keptStrikes.count - 1 >= minimumReducedStrikes else { break }
            // Deviation over tolerance of the worst kept point at strike k against `fit`.
            func score(_ k: Double, _ fit: SmileFit) -> Double {
                let v = fit.vol(logMoneyness: k)
                return (0..<n).filter { kept[$0] && ks[$0] == k }.map { abs(vols[$0] - v) / outlierTolerance(fittedVol: v) }.max() ?? 0
            }
            var candidates = keptStrikes
            if keptStrikes.count > smallSmileStrikes {
                let scored = keptStrikes.map { (k: $0, s: score($0, smile)) }.filter { $0.s > 1.0 / 3 }
                candidates = scored.sorted { ($0.s, $1.k) > ($1.s, $0.k) }.prefix(outlierCandidates).map(\.k)
            }
            // Among the strikes with outlying points, the one whose removal leaves the best fit (least
            // sum of squared vol residuals of the other kept points): while a wrong mark elsewhere
            // still pulls the fit, every other strike looks bad against it, but only leaving out the
            // wrong mark itself lets the rest fit.
            var worst: (k: Double, s: Double, rss: Double, fit: SmileFit)? = nil
            for k in candidates where 2 * (touched.count + (touched.contains(k) ? 0 : 1)) < distinct {
                let others = (0..<n).map { kept[$0] && ks[$0] != k }
                let fit = try weightedFit(ks, vols, others, years)
                let v = fit.vol(logMoneyness: k)
                let far = (0..<n).filter { kept[$0] && ks[$0] == k && abs(vols[$0] - v) > outlierTolerance(fittedVol: v) }
                guard let s = far.map({ abs(log(vols[$0] / max(v, 1e-4))) }).max() else { continue }
                let rss = (0..<n).filter { others[$0] }.reduce(0.0) { let r = fit.vol(logMoneyness: ks[$1]) - vols[$1]; return $0 + r * r }
                if rss < worst?.rss ?? .infinity { worst = (k, s, rss, fit) }
            }
            guard let worst else { break }
            // Its outlying points at least half as far (as a ratio) as the farthest: a twin with the
            // same wrong mark goes with it, a good twin that another wrong mark still pulls the fit
            // away from stays.
            let v = worst.fit.vol(logMoneyness: worst.k)
            for i in 0..<n where kept[i] && ks[i] == worst.k && abs(vols[i] - v) > outlierTolerance(fittedVol: v)
                && abs(log(vols[i] / max(v, 1e-4))) >= worst.s / 2 {
                kept[i] = false
            }
            touched.insert(worst.k)
            smile = try weightedFit(ks, vols, kept, years)
        }
        // A point left out while other wrong marks still pulled the fit comes back if it lies within
        // tolerance of the final fit (which is a fit without it).
        let back = (0..<n).filter { i in
            let v = smile.vol(logMoneyness: ks[i])
            return !kept[i] && abs(vols[i] - v) <= outlierTolerance(fittedVol: v)
        }
        if !back.isEmpty {
            for i in back { kept[i] = true }
            smile = try weightedFit(ks, vols, kept, years)
        }
        // The spline correction is fitted once, to the options finally kept (the outlier test
        // compares with SVI fits: a refit per left-out strike with the correction would cost its
        // Levenberg–Marquardt each time).
        return RobustFit(smile: corrected(smile, ks, vols, kept, years, settings), outliers: (0..<n).filter { !kept[$0] })
    }

    /// The fit of the kept points: weighted by the median kept vol, then reweighted by that fit's
    /// vols (floored, so a zero-variance point keeps a weight); see `robustFit`.
    static func weightedFit(_ ks: [Double], _ vols: [Double], _ kept: [Bool], _ years: Double) throws -> SmileFit {
        let level = median((0..<ks.count).filter { kept[$0] }.map { vols[$0] })
        let first = try core(ks, vols, [Double](repeating: level, count: ks.count), kept, years)
        return try core(ks, vols, ks.map { max(first.vol(logMoneyness: $0), 1e-4) }, kept, years)
    }

    /// The median of `xs` (0 when empty).
    static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted(), h = s.count / 2
        return s.count % 2 == 1 ? s[h] : (s[h - 1] + s[h]) / 2
    }

    /// One weighted fit of the kept points (weights `1/((levelᵢ + σᵢ)·T)`), made admissible.
    static func core(_ allKs: [Double], _ allVols: [Double], _ allLevels: [Double], _ kept: [Bool],
                     _ years: Double) throws -> SmileFit {
        let idx = allKs.indices.filter { kept[$0] }
        let ks = idx.map { allKs[$0] }, vols = idx.map { allVols[$0] }
        var problem = Problem(ks: ks, vols: vols, levels: idx.map { allLevels[$0] }, years: years)
        let distinct = Set(ks).count
        let lo = ks.min()!, hi = ks.max()!
        let span = hi - lo
        var fit: SmileFit
        if distinct < minimumStrikes {
            let m = ks[vols.indices.min { vols[$0] < vols[$1] }!]
            guard let c = try problem.solve(m: m, sigma: max(0.05, span / 2)) else {
                throw InputError("smile fit: no admissible smile through the listed points")
            }
            fit = c.smile
        } else {
            // Grid over m (the listed range widened by a quarter on each side) and σ (log-spaced).
            var grid: [(value: Double, m: Double, lnS: Double)] = []
            let sigmaLo = max(1e-3, span / 200), sigmaHi = max(2 * span, 0.5)
            for i in 0..<13 {
                let m = lo - span / 4 + 1.5 * span * Double(i) / 12
                for j in 0..<12 {
                    let lnS = log(sigmaLo) + (log(sigmaHi) - log(sigmaLo)) * Double(j) / 11
                    if let f = try problem.solve(m: m, sigma: exp(lnS)) { grid.append((f.objective, m, lnS)) }
                }
            }
            grid.sort { $0.value < $1.value }
            guard !grid.isEmpty else { throw InputError("smile fit: no admissible smile through the listed points") }
            var best: Candidate? = nil
            for start in grid.prefix(2) {
                let (m, lnS) = try nelderMead(start: (start.m, start.lnS), step: (span / 12, 0.4)) { m, lnS in
                    guard lnS > log(1e-4), lnS < log(10) else { return .infinity }
                    return try problem.solve(m: m, sigma: exp(lnS))?.objective ?? .infinity
                }
                if let c = try problem.solve(m: m, sigma: exp(lnS)), c.objective < best?.objective ?? .infinity { best = c }
            }
            guard let b = best?.smile, b.a.isFinite, b.b.isFinite, b.rho.isFinite else {
                throw InputError("smile fit: the least-squares solution is not finite")
            }
            fit = b
        }
        if fit.isAdmissible { return fit }
        // Blend towards the flat smile of the mean total variance of the kept points until admissible.
        let flat = problem.target.reduce(0, +) / Double(problem.target.count)
        func blended(_ l: Double) -> SmileFit {
            var s = fit
            s.a = (1 - l) * fit.a + l * flat
            s.b = (1 - l) * fit.b
            return s
        }
        var lo2 = 0.0, hi2 = 1.0
        for _ in 0..<40 {
            let mid = (lo2 + hi2) / 2
            if blended(mid).isAdmissible { hi2 = mid } else { lo2 = mid }
        }
        let result = blended(hi2)
        guard result.isAdmissible else {
            throw InputError("smile fit: no admissible smile through the listed points")
        }
        return result
    }

    /// Where the fits aim at `g ≥ 2·densityFloor`: the listed range widened by its width (at least
    /// 0.05) on each side on 81 points, and 40 geometric steps into each wing (out to |k| ≈ 3600):
    /// the density is checked where vols are returned.
    static func penaltyGrid(_ ks: [Double]) -> [Double] {
        guard let lo = ks.min(), let hi = ks.max() else { return [] }
        let span = max(hi - lo, 0.05)
        return (0..<81).map { lo - span + 3 * span * Double($0) / 80 }
            + (1...40).flatMap { j -> [Double] in let d = span * pow(1.3, Double(j)); return [lo - span - d, hi + span + d] }
    }

    /// One inner solution: the smile and its objective.
    struct Candidate { var smile: SmileFit; var objective: Double }

    /// The data of one fit and the inner solve for fixed `(m, σ)`.
    struct Problem {
        let ks: [Double]
        let target: [Double]   // σᵢ²T
        let weight: [Double]   // 1/((ℓᵢ + σᵢ)T)
        let years: Double
        let gridK: [Double]    // where g(k) ≥ 2·densityFloor is aimed at
        var y: [Double], z: [Double], design: [Double], rhs: [Double]

        /// Weight of the butterfly penalty `Σ max(2·densityFloor − g, 0)` against the squared vol
        /// residuals: an exact (L1) penalty, so a fit with g below the margin on the grid is never
        /// preferred for a small gain in residual.
        static let densityPenalty = 10.0

        init(ks: [Double], vols: [Double], levels: [Double], years: Double) {
            self.ks = ks; self.years = years
            target = vols.map { $0 * $0 * years }
            weight = zip(vols, levels).map { 1 / (($0 + $1) * years) }
            gridK = SmileFit.penaltyGrid(ks)
            y = [Double](repeating: 0, count: ks.count); z = y; rhs = y
            design = [Double](repeating: 0, count: 3 * ks.count)
        }

        /// The weighted sum of squared residuals of `w = a + d·y + c·z`.
        func residual(_ a: Double, _ c: Double, _ d: Double) -> Double {
            var s = 0.0
            for i in ks.indices {
                let r = (a + d * y[i] + c * z[i] - target[i]) * weight[i]
                s += r * r
            }
            return s
        }

        /// The best `(a, t)` of `w = a + (d0 + t·dd)·y + (c0 + t·dc)·z` with `t` clamped to [0, 1]
        /// (weighted 2-column least squares, closed form).
        func edge(c0: Double, d0: Double, dc: Double, dd: Double) -> (a: Double, c: Double, d: Double) {
            var sw = 0.0, sx = 0.0, sr = 0.0, sxx = 0.0, sxr = 0.0
            for i in ks.indices {
                let w2 = weight[i] * weight[i]
                let x = dd * y[i] + dc * z[i]
                let r = target[i] - d0 * y[i] - c0 * z[i]
                sw += w2; sx += w2 * x; sr += w2 * r; sxx += w2 * x * x; sxr += w2 * x * r
            }
            let det = sw * sxx - sx * sx
            var t = det > 1e-300 ? (sw * sxr - sx * sr) / det : 0
            t = min(max(t, 0), 1)
            let a = (sr - t * sx) / sw
            return (a, c0 + t * dc, d0 + t * dd)
        }

        /// The constrained inner solution at `(m, σ)`, or nil when LAPACK gives nothing finite.
        mutating func solve(m: Double, sigma: Double) throws -> Candidate? {
            let n = ks.count
            for i in 0..<n {
                y[i] = (ks[i] - m) / sigma
                z[i] = (y[i] * y[i] + 1).squareRoot()
                design[3 * i] = weight[i]
                design[3 * i + 1] = weight[i] * y[i]
                design[3 * i + 2] = weight[i] * z[i]
                rhs[i] = weight[i] * target[i]
            }
            let info = LinearAlgebra.leastSquares(rows: n, columns: 3, a: &design, b: &rhs)
            guard info >= 0 else { throw InputError("smile fit: LAPACKE_dgels failed (info \(info))") }
            let rl = SmileFit.rhoLimit, cap = SmileFit.wingSlopeCap * sigma   // c + |d| ≤ capσ ⇔ b(1 + |ρ|) ≤ cap
            var (a, d, c) = (rhs[0], rhs[1], rhs[2])
            let feasible = info == 0 && c >= 0 && abs(d) <= rl * c && c + abs(d) <= cap
            if !feasible {
                // The optimum of the convex problem lies on the polygon's boundary: try each edge.
                let cTop = cap / (1 + rl)
                let vertices = [(0.0, 0.0), (cTop, rl * cTop), (cap, 0.0), (cTop, -rl * cTop)]
                var bestValue = Double.infinity
                for e in 0..<4 {
                    let (c0, d0) = vertices[e], (c1, d1) = vertices[(e + 1) % 4]
                    let s = edge(c0: c0, d0: d0, dc: c1 - c0, dd: d1 - d0)
                    let v = residual(s.a, s.c, s.d)
                    if v < bestValue { bestValue = v; (a, c, d) = (s.a, s.c, s.d) }
                }
            }
            // Minimum total variance a + √(c² − d²) ≥ 0.
            a = max(a, -(max(c * c - d * d, 0)).squareRoot())
            guard a.isFinite, c.isFinite, d.isFinite else { return nil }
            let b = c / sigma
            // ρ = d/c, clamped: at a polygon vertex the division can round just past ρmax.
            let rho = c > 0 ? min(max(d / c, -rl), rl) : 0
            let smile = SmileFit(a: a, b: b, rho: rho, m: m, sigma: sigma, years: years)
            var penalty = 0.0
            for k in gridK {
                let g = smile.density(logMoneyness: k)
                let aim = 2 * SmileFit.densityFloor
                if g < aim { penalty += g.isFinite ? aim - g : 1 }
            }
            return Candidate(smile: smile, objective: residual(a, c, d) + Self.densityPenalty * penalty)
        }
    }

    /// Nelder–Mead minimisation of `f` in two variables (standard coefficients 1, 2, ½, ½).
    static func nelderMead(start: (Double, Double), step: (Double, Double), iterations: Int = 150,
                           _ f: (Double, Double) throws -> Double) throws -> (Double, Double) {
        var p = [start, (start.0 + step.0, start.1), (start.0, start.1 + step.1)]
        var v = try p.map { try f($0.0, $0.1) }
        for _ in 0..<iterations {
            let order = v.indices.sorted { v[$0] < v[$1] }
            p = order.map { p[$0] }; v = order.map { v[$0] }
            if abs(v[2] - v[0]) <= 1e-14 * (abs(v[0]) + 1e-20) && v[0].isFinite { break }
            let cx = (p[0].0 + p[1].0) / 2, cy = (p[0].1 + p[1].1) / 2
            func at(_ t: Double) -> (Double, Double) { (cx + t * (p[2].0 - cx), cy + t * (p[2].1 - cy)) }
            let r = at(-1), fr = try f(r.0, r.1)
            if fr < v[0] {
                let e = at(-2), fe = try f(e.0, e.1)
                if fe < fr { p[2] = e; v[2] = fe } else { p[2] = r; v[2] = fr }
            } else if fr < v[1] {
                p[2] = r; v[2] = fr
            } else {
                let k = fr < v[2] ? at(-0.5) : at(0.5), fk = try f(k.0, k.1)
                if fk < min(fr, v[2]) {
                    p[2] = k; v[2] = fk
                } else {
                    for i in 1...2 {
                        p[i] = ((p[0].0 + p[i].0) / 2, (p[0].1 + p[i].1) / 2)
                        v[i] = try f(p[i].0, p[i].1)
                    }
                }
            }
        }
        let i = v.indices.min { v[$0] < v[$1] }!
        return p[i]
    }
}

/// The implied-volatility surface and forward curve of one base coin, from a market snapshot.
///
/// **Definition** (docs/smile.md). Per listed option expiry `Tᵢ` of the coin (usable options only:
/// instruments with a problem recorded in `MarketSnapshot.instrumentProblems` are ignored):
/// - the forward `Fᵢ` is the mean `underlyingPrice` of the expiry's options (they normally agree);
/// - the smile is the SVI `SmileFit` of `markIv` against `k = ln(K/Fᵢ)` over every listed call and
///   put of both settle coins (a strike listed four times counts four times). An expiry with fewer
///   than 3 distinct strikes has no smile; with 3 or 4 it gets the reduced fit (`SmileFit.fit`).
///   An expiry with 3 to 5 distinct strikes kept (fewer than `SmileFit.thinStrikes`) borrows the
///   shape of the nearest expiries on either side with 6 or more, fitted on their own marks, and
///   fits only its level (`SmileFit.robustFit(logMoneyness:vols:years:neighbours:)`,
///   `Slice.shapeFrom`); without such neighbours, or when a check fails, it keeps its own fit.
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
/// smile is a function of log-moneyness against its own forward. **Calendar order**: the total
/// variance of listed slice `i` used by the surface is `w̃ᵢ(k) = max(wⱼ(k), j ≤ i)` over the fitted
/// slices up to `i`, so it never decreases with maturity at fixed `k` even where two fitted slices
/// cross (the later slice is lifted to the earlier one there). Then:
/// - at a listed expiry: `√(w̃ᵢ(k)/Tᵢ)`;
/// - between `Tᵢ < T < Tᵢ₊₁`: `w = w̃ᵢ + (w̃ᵢ₊₁ − w̃ᵢ)·(T − Tᵢ)/(Tᵢ₊₁ − Tᵢ)`, `σ = √(w/T)`;
/// - before the first or after the last: constant vol, `√(w̃₁(k)/T₁)` or `√(w̃ₙ(k)/Tₙ)`.
///
/// **Floor.** The result is clamped to at least `minimumVol` (0.01).
///
/// **Refusals** (`InputError`, message naming the coin, the expiry as an ISO date and the reason):
/// the coin has no usable listed options (at construction); the expiry is not finite, is at or
/// before the snapshot time, or is unlisted and more than `extrapolationFactor` (2) times as far
/// from the snapshot time as the last listed expiry; a smile needed (the listed expiry itself, either neighbour, or the
/// nearest expiry when extrapolating) has fewer than 3 strikes. `forward(expiry:)` needs no smile, so
/// thin expiries still serve as forward points.
public struct VolSurface: Sendable {
    /// The lower bound applied to every vol the surface returns (decimal: 0.01 = 1%).
    public static let minimumVol = 0.01
    /// An unlisted expiry's time to expiry may be at most this multiple of the last listed expiry's
    /// (docs/smile.md §2); farther out is refused.
    public static let extrapolationFactor = 2.0

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
        /// Largest `|σ_fit(k) − markIv|` over the expiry's listed options the fit kept (0 when unfitted).
        public var maxFitError: Double
        /// Root mean square of `σ_fit(k) − markIv` over the expiry's listed options the fit kept (0 when unfitted).
        public var rmsFitError: Double = 0
        /// The distinct listed strikes, ascending.
        public var listedStrikes: [Double] = []
        /// The mean `markIv` of the options listed at each of `listedStrikes`.
        public var listedVols: [Double] = []
        /// The listed options the robust fit left out (`SmileFit.robustFit`), by strike then symbol.
        public var outliers: [Outlier] = []
        /// The expiries (ascending) whose smiles lent this thin expiry its shape (docs/smile.md §1
        /// "Thin expiries"); empty when the smile is fitted to the expiry's own marks alone.
        public var shapeFrom: [Double] = []
    }

    /// A listed option whose `markIv` the smile fit treated as an outlier and left out.
    public struct Outlier: Equatable, Sendable {
        /// The option's symbol.
        public var symbol: String
        /// Its strike.
        public var strike: Double
        /// Its listed `markIv`.
        public var markIv: Double
        /// The fitted smile's vol at its strike (before the calendar envelope and the floor).
        public var fittedIv: Double
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

    /// The listed options of `baseCoin` the surface is built from: no problem recorded in
    /// `MarketSnapshot.instrumentProblems`, expiry, strike, `underlyingPrice` and a positive `markIv`
    /// present (a zero mark vol carries no smile information, and SVI fits in σ²T).
    public static func usableOptions(market: MarketSnapshot, baseCoin: String) -> [Instrument] {
        market.instruments.filter { inst in
            inst.kind == .option && inst.baseCoin == baseCoin && market.instrumentProblems[inst.symbol] == nil
                && inst.expiry != nil && inst.strike != nil && inst.underlyingPrice != nil && (inst.markIv ?? 0) > 0
        }
    }

    /// Builds the surface of `baseCoin` from the usable listed options of `market`.
    ///
    /// - Throws: `InputError` when the coin has no usable listed option, or a smile fit fails.
    public init(market: MarketSnapshot, baseCoin: String) throws {
        self.baseCoin = baseCoin
        self.time = market.time
        self.indexPrice = market.index(of: baseCoin)
        var byExpiry: [Double: [Instrument]] = [:]
        for inst in Self.usableOptions(market: market, baseCoin: baseCoin) { byExpiry[inst.expiry!, default: []].append(inst) }
        guard !byExpiry.isEmpty else {
            throw InputError("no usable listed options for \(baseCoin): cannot build its volatility surface")
        }
        // Two passes: every expiry fitted on its own marks, then each thin one (fewer than
        // `SmileFit.thinStrikes` distinct strikes kept) refitted with the shape of its nearest
        // non-thin neighbours, which are first-pass fits: the result depends on the inputs only.
        var slices: [Slice] = []
        var data: [(options: [Instrument], ks: [Double], vols: [Double], robust: SmileFit.RobustFit?)] = []
        for (expiry, options) in byExpiry.sorted(by: { $0.key < $1.key }) {
            let forward = options.reduce(0.0) { $0 + $1.underlyingPrice! } / Double(options.count)
            let strikes = Set(options.map { $0.strike! }).count
            let years = (expiry - market.time) / Self.secondsPerYear
            var slice = Slice(expiry: expiry, years: years, forward: forward,
                              strikeCount: strikes, smile: nil, maxFitError: 0)
            var byStrike: [Double: (sum: Double, n: Double)] = [:]
            for o in options { byStrike[o.strike!, default: (0, 0)].sum += o.markIv!; byStrike[o.strike!]!.n += 1 }
            slice.listedStrikes = byStrike.keys.sorted()
            slice.listedVols = slice.listedStrikes.map { byStrike[$0]!.sum / byStrike[$0]!.n }
            let ks = options.map { log($0.strike! / forward) }
            let vols = options.map { $0.markIv! }
            var robust: SmileFit.RobustFit? = nil
            if strikes >= SmileFit.minimumReducedStrikes {
                do {
                    robust = try SmileFit.robustFit(logMoneyness: ks, vols: vols, years: years)
                } catch let e as InputError {
                    throw InputError("cannot fit the \(baseCoin) smile at \(Self.isoDate(expiry)): \(e.message)")
                }
            }
            slices.append(slice)
            data.append((options, ks, vols, robust))
        }
        func keptStrikes(_ i: Int) -> Int {
            guard let r = data[i].robust else { return 0 }
            let out = Set(r.outliers)
            return Set(data[i].ks.indices.filter { !out.contains($0) }.map { data[i].ks[$0] }).count
        }
        let own = slices.indices.map { keptStrikes($0) >= SmileFit.thinStrikes }
        for i in slices.indices {
            guard var robust = data[i].robust else { continue }
            let (options, ks, vols) = (data[i].options, data[i].ks, data[i].vols)
            if !own[i] {
                let sides = [slices.indices.last { $0 < i && own[$0] }, slices.indices.first { $0 > i && own[$0] }].compactMap { $0 }
                let neighbours = sides.map { j in
                    SmileFit.Neighbour(smile: data[j].robust!.smile, listed: Set(data[j].ks).sorted())
                }
                do {
                    let borrowed = try SmileFit.robustFit(logMoneyness: ks, vols: vols, years: slices[i].years, neighbours: neighbours)
                    if borrowed.borrowed {
                        robust = borrowed
                        slices[i].shapeFrom = sides.map { slices[$0].expiry }
                    }
                } catch let e as InputError {
                    throw InputError("cannot fit the \(baseCoin) smile at \(Self.isoDate(slices[i].expiry)): \(e.message)")
                }
            }
            let fit = robust.smile
            slices[i].smile = fit
            let outliers = Set(robust.outliers)
            slices[i].outliers = robust.outliers.map { (symbol: options[$0].symbol, strike: options[$0].strike!, markIv: options[$0].markIv!, fittedIv: fit.vol(logMoneyness: ks[$0])) }
                .sorted { ($0.strike, $0.symbol) < ($1.strike, $1.symbol) }
                .map { Outlier(symbol: $0.symbol, strike: $0.strike, markIv: $0.markIv, fittedIv: $0.fittedIv) }
            let errors = ks.indices.filter { !outliers.contains($0) }.map { fit.vol(logMoneyness: ks[$0]) - vols[$0] }
            slices[i].maxFitError = errors.reduce(0.0) { max($0, abs($1)) }
            slices[i].rmsFitError = (errors.reduce(0.0) { $0 + $1 * $1 } / Double(errors.count)).squareRoot()
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
        return max(Self.minimumVol, try vol(logMoneyness: k, years: t, expiry: expiry))
    }

    /// The implied vol at log-moneyness `k` (against the forward at `expiry`) before the floor.
    /// `years` is the time to `expiry`; see the type's definition.
    public func vol(logMoneyness k: Double, years t: Double, expiry: Double) throws -> Double {
        if let i = listedIndex(expiry) {
            return (try orderedVariance(i, k, for: expiry) / slices[i].years).squareRoot()
        }
        if expiry < slices[0].expiry {
            return (try orderedVariance(0, k, for: expiry) / slices[0].years).squareRoot()
        }
        let n = slices.count
        if expiry > slices[n - 1].expiry {
            return (try orderedVariance(n - 1, k, for: expiry) / slices[n - 1].years).squareRoot()
        }
        let hi = slices.firstIndex { $0.expiry > expiry }!
        let lo = hi - 1
        let w0 = try orderedVariance(lo, k, for: expiry), w1 = try orderedVariance(hi, k, for: expiry)
        let t0 = slices[lo].years, t1 = slices[hi].years
        let w = w0 + (w1 - w0) * (t - t0) / (t1 - t0)
        return (max(w, 0) / t).squareRoot()
    }

    /// `w̃ᵢ(k) = max(wⱼ(k), j ≤ i)` over the fitted slices up to `i` (calendar order, see the type's
    /// definition); slice `i` itself must have a smile.
    /// Every smile used must pass the butterfly check `g(k) ≥ 0` at the queried `k` itself (the fit
    /// guarantees it on the whole line, `SmileFit.isAdmissible`; this refuses rather than returning an
    /// arbitrageable vol should that ever fail).
    private func orderedVariance(_ i: Int, _ k: Double, for expiry: Double) throws -> Double {
        let own = try smile(i, for: expiry)
        var w = max(own.totalVariance(logMoneyness: k), 0)
        try checkDensity(own, k, i)
        for j in 0..<i {
            if let s = slices[j].smile { try checkDensity(s, k, j); w = max(w, s.totalVariance(logMoneyness: k)) }
        }
        return w
    }

    private func checkDensity(_ s: SmileFit, _ k: Double, _ i: Int) throws {
        guard s.density(logMoneyness: k) >= 0 else {
            throw InputError("the \(baseCoin) smile at \(Self.isoDate(slices[i].expiry)) has butterfly arbitrage at log-moneyness \(NumberFormat.text(k)) (g(k) < 0, docs/smile.md §1): no vol is returned there")
        }
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
        /// The base coin named by the symbol.
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
        // Extrapolation bound (docs/smile.md §2): an unlisted expiry at most twice as far out as
        // the last listed one; beyond, the extrapolated forward and vol mean nothing.
        let last = slices[slices.count - 1].expiry
        let bound = time + Self.extrapolationFactor * (last - time)
        guard expiry <= bound || listedIndex(expiry) != nil else {
            throw InputError("\(baseCoin) expiry \(Self.isoDate(expiry)) is too far out: an unlisted expiry may be at most twice as far from the snapshot time as the last listed \(baseCoin) expiry \(Self.isoDate(last)), i.e. not after \(ISO8601.format(bound)) (docs/smile.md §2)")
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
            var why = "cannot fit the \(baseCoin) smile at \(Self.isoDate(s.expiry)): only \(strikes) listed, need at least \(SmileFit.minimumReducedStrikes)"
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
