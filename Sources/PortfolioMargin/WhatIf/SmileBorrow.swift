import Foundation

// Thin expiries borrow their smile's shape from the neighbouring expiries (docs/smile.md §1,
// "Thin expiries"): an expiry with fewer than `SmileFit.thinStrikes` distinct strikes kept takes
// the shape of the nearest fitted expiries on either side, normalised by their at-the-money total
// variance, and fits only its level to its own marks.

extension SmileFit {
    /// Fewest distinct strikes kept for an expiry to be fitted on its own data alone; an expiry
    /// with fewer (3 to 5) is *thin*: it borrows its shape from fitted neighbours when it has any
    /// (`robustFit(logMoneyness:vols:years:neighbours:)`). The same count is the spline
    /// correction's minimum, so a thin expiry is one whose own fit would be plain SVI.
    public static let thinStrikes = 6

    /// A fitted neighbouring expiry a thin expiry may borrow its shape from.
    public struct Neighbour: Equatable, Sendable {
        /// The neighbour's own fitted smile (its `years` says where it lies in time).
        public var smile: SmileFit
        /// The log-moneyness of the strikes listed at the neighbour (against its own forward).
        public var listed: [Double]

        /// A neighbour from its smile and its listed log-moneyness.
        public init(smile: SmileFit, listed: [Double]) {
            self.smile = smile; self.listed = listed
        }
    }

    /// Total variance and its first two derivatives in `k` at `k` (SVI part plus correction).
    func varianceDerivatives(logMoneyness k: Double) -> (w: Double, w1: Double, w2: Double) {
        let x = k - m
        let r = (x * x + sigma * sigma).squareRoot()
        var w = a + b * (rho * x + r), w1 = b * (rho + x / r), w2 = b * sigma * sigma / (r * r * r)
        if let correction {
            let s = correction.derivatives(logMoneyness: k)
            w += s.value; w1 += s.slope; w2 += s.curvature
        }
        return (w, w1, w2)
    }

    /// `robustFit(logMoneyness:vols:years:)`, and then, for a thin expiry (fewer than `thinStrikes`
    /// distinct strikes kept) with neighbours, the smile with the shape borrowed from them
    /// (docs/smile.md §1 "Thin expiries") when it passes every check; otherwise — no neighbours,
    /// not thin, or a check fails — the robust fit unchanged. The outliers are those of the robust
    /// fit. `neighbours` are at most one shorter and one longer fitted expiry (the nearest ones
    /// with at least `thinStrikes` strikes kept, fitted on their own data); others are ignored.
    ///
    /// - Throws: as `robustFit(logMoneyness:vols:years:)`.
    public static func robustFit(logMoneyness ks: [Double], vols: [Double], years: Double,
                                 neighbours: [Neighbour]) throws -> RobustFit {
        var robust = try robustFit(logMoneyness: ks, vols: vols, years: years)
        let out = Set(robust.outliers)
        let keptKs = ks.indices.filter { !out.contains($0) }.map { ks[$0] }
        let keptVols = ks.indices.filter { !out.contains($0) }.map { vols[$0] }
        guard Set(keptKs).count < thinStrikes,
              let shape = BorrowedShape(years: years, neighbours: neighbours),
              let smile = shape.fit(logMoneyness: keptKs, vols: keptVols) else { return robust }
        robust.smile = smile
        robust.borrowed = true
        return robust
    }
}

/// The shape a thin expiry borrows: `ψ(k) = Σᵢ λᵢ·wᵢ(k·sᵢ)/θᵢ` over its neighbours `i` (smile `wᵢ`,
/// at-the-money total variance `θᵢ = wᵢ(0)`, weight `λᵢ` linear in time to expiry, `sᵢ = √(θᵢ/θ)`
/// with `θ` the at-the-money total variance interpolated at the thin expiry), so that
/// `w(k) = θ̂·ψ(k)` with the level `θ̂` fitted to the thin marks (docs/smile.md §1 "Thin expiries").
struct BorrowedShape {
    /// One neighbour's term: its smile `wᵢ`, weight `λᵢ`, `θᵢ = wᵢ(0)`, `sᵢ` and listed log-moneyness.
    struct Part { var smile: SmileFit; var weight: Double; var theta: Double; var scale: Double; var listed: [Double] }
    /// The thin expiry's time to expiry, years.
    let years: Double
    /// The neighbours' terms (one or two).
    let parts: [Part]
    /// The shorter and the longer neighbour's smiles, for the calendar check.
    let shorter: SmileFit?
    let longer: SmileFit?

    /// The SVI + spline representation of the curve: more knots than a fit to noisy marks (the
    /// samples are exact), the same smoothing.
    static let settings = SmileFit.CorrectionSettings(smoothing: 1e-7, maxKnots: 24, minimumStrikes: 6, iterations: 150)
    /// The largest vol difference between the representation and the curve at the samples.
    static let tolerance = 0.005

    /// The shape from the nearest neighbour on each side of `years` (nil without a usable one).
    init?(years: Double, neighbours: [BorrowedNeighbour]) {
        let valid = neighbours.filter {
            $0.smile.isAdmissible && $0.smile.years != years && !$0.listed.isEmpty && $0.listed.allSatisfy(\.isFinite)
                && $0.smile.totalVariance(logMoneyness: 0) > 0
        }
        // The nearest on each side; ties in time broken by the data, so the choice depends on the inputs only.
        func nearest(_ side: [BorrowedNeighbour], _ closer: (Double, Double) -> Bool) -> BorrowedNeighbour? {
            side.min { l, r in
                l.smile.years != r.smile.years ? closer(l.smile.years, r.smile.years)
                    : (l.listed.count, l.smile.a, l.smile.b) < (r.listed.count, r.smile.a, r.smile.b)
            }
        }
        let lo = nearest(valid.filter { $0.smile.years < years }, >)
        let hi = nearest(valid.filter { $0.smile.years > years }, <)
        self.years = years
        shorter = lo?.smile; longer = hi?.smile
        var raw: [(BorrowedNeighbour, Double)] = []
        if let lo, let hi {
            let l = (years - lo.smile.years) / (hi.smile.years - lo.smile.years)
            raw = [(lo, 1 - l), (hi, l)]
        } else if let one = lo ?? hi {
            raw = [(one, 1)]
        } else {
            return nil
        }
        // ATM total variance at `years`: linear in time between the two, constant vol from one.
        let theta: Double
        if raw.count == 2 {
            theta = raw.reduce(0.0) { $0 + $1.1 * $1.0.smile.totalVariance(logMoneyness: 0) }
        } else {
            theta = raw[0].0.smile.totalVariance(logMoneyness: 0) * years / raw[0].0.smile.years
        }
        guard theta.isFinite, theta > 0 else { return nil }
        parts = raw.map { n, weight in
            let t = n.smile.totalVariance(logMoneyness: 0)
            return Part(smile: n.smile, weight: weight, theta: t, scale: (t / theta).squareRoot(), listed: n.listed)
        }
    }

    /// `ψ(k)` and its first two derivatives.
    func shape(_ k: Double) -> (w: Double, w1: Double, w2: Double) {
        var w = 0.0, w1 = 0.0, w2 = 0.0
        for p in parts {
            let d = p.smile.varianceDerivatives(logMoneyness: k * p.scale)
            w += p.weight * d.w / p.theta
            w1 += p.weight * p.scale * d.w1 / p.theta
            w2 += p.weight * p.scale * p.scale * d.w2 / p.theta
        }
        return (w, w1, w2)
    }

    /// The far wing slopes of `ψ` (left outward, right).
    var wingSlopes: (left: Double, right: Double) {
        parts.reduce((0.0, 0.0)) { s, p in
            let w = p.smile.wingSlopes
            return (s.0 + p.weight * p.scale * w.left / p.theta, s.1 + p.weight * p.scale * w.right / p.theta)
        }
    }

    /// The thin expiry's smile: the level fitted to the kept marks, the borrowed curve checked
    /// (Lee-bounded wing slopes, `g ≥ densityFloor` on its check grid), represented as an SVI +
    /// spline smile fitted to it, and that smile checked (`isAdmissible`, within `tolerance` (half a
    /// vol point) of the curve at the samples, every kept mark within `outlierTolerance`, total variance between
    /// the neighbours' at every `k` of the check grid). Nil when any check fails.
    func fit(logMoneyness ks: [Double], vols: [Double]) -> SmileFit? {
        guard !ks.isEmpty, let kLo = ks.min(), let kHi = ks.max() else { return nil }
        let t = years
        let psi = ks.map { shape($0).w }
        guard psi.allSatisfy({ $0.isFinite && $0 > 0 }) else { return nil }
        // Weighted least squares in total variance, weights 1/((ℓ + σ)T) as the SVI fits: first
        // ℓ = σ, then ℓ the first fit's vol (so the residuals are vol residuals).
        func level(_ levels: [Double]) -> Double {
            var sxy = 0.0, sxx = 0.0
            for i in ks.indices {
                let c = 1 / ((levels[i] + vols[i]) * t), x = psi[i] * c, y = vols[i] * vols[i] * t * c
                sxy += x * y; sxx += x * x
            }
            return sxy / sxx
        }
        let first = level(vols)
        guard first.isFinite, first > 0 else { return nil }
        let theta = level(psi.map { (first * $0 / t).squareRoot() })
        guard theta.isFinite, theta > 0 else { return nil }

        // The borrowed curve's own checks: wing slopes in [0, wingSlopeCap] (Lee), g on a grid.
        let slopes = wingSlopes
        for s in [slopes.left * theta, slopes.right * theta] {
            guard s.isFinite, s >= 0, s <= SmileFit.wingSlopeCap else { return nil }
        }
        // The range the neighbours' listings cover in this expiry's k (neighbour k = k·scale), and
        // this expiry's own marks.
        var lo = kLo, hi = kHi
        for p in parts { lo = min(lo, p.listed.min()! / p.scale); hi = max(hi, p.listed.max()! / p.scale) }
        guard lo.isFinite, hi.isFinite, hi > lo else { return nil }
        let span = hi - lo
        var grid = (0...2000).map { lo - span + 3 * span * Double($0) / 2000 }
        for p in parts {
            // Each neighbour's own whole-line check points, mapped to this expiry's k.
            grid += (0...4000).map { (p.smile.m + p.smile.sigma * sinh(-25 + 50 * Double($0) / 4000)) / p.scale }
            if let c = p.smile.correction { grid += c.knots.map { $0 / p.scale } }
        }
        for k in grid {
            let d = shape(k)
            guard SmileFit.density(k, theta * d.w, theta * d.w1, theta * d.w2) >= SmileFit.densityFloor else { return nil }
        }

        // SVI + spline through the curve sampled at this expiry's strikes and the neighbours' listed strikes (mapped to this
        // expiry's k): dense where the neighbours were listed densely, so a sharp bottom they show
        // is followed.
        var sampleKs = ks
        for p in parts { sampleKs += p.listed.map { $0 / p.scale } }
        sampleKs = Set(sampleKs).sorted()
        let n = sampleKs.count
        let sampleVols = sampleKs.map { (theta * shape($0).w / t).squareRoot() }
        guard sampleVols.allSatisfy({ $0.isFinite && $0 > 0 }) else { return nil }
        let all = [Bool](repeating: true, count: n)
        guard let svi = try? SmileFit.weightedFit(sampleKs, sampleVols, all, t) else { return nil }
        let smile = SmileFit.corrected(svi, sampleKs, sampleVols, all, t, Self.settings)
        guard smile.isAdmissible else { return nil }
        for (k, v) in zip(sampleKs, sampleVols) where abs(smile.vol(logMoneyness: k) - v) > Self.tolerance { return nil }
        for (k, v) in zip(ks, vols) {
            let f = smile.vol(logMoneyness: k)
            guard abs(f - v) <= SmileFit.outlierTolerance(fittedVol: f) else { return nil }
        }
        // Calendar order with the neighbours at every k of the grid.
        for k in grid.prefix(2001) {
            let w = smile.totalVariance(logMoneyness: k)
            if let s = shorter, w < s.totalVariance(logMoneyness: k) { return nil }
            if let l = longer, w > l.totalVariance(logMoneyness: k) { return nil }
        }
        return smile
    }
}

/// Short name used inside `BorrowedShape`.
typealias BorrowedNeighbour = SmileFit.Neighbour
