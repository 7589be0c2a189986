import Foundation

// The spline correction of a smile (docs/smile.md §1, "Beyond SVI"): raw SVI's total variance is
// convex in log-moneyness, so it cannot follow a short expiry's smile whose put wing rises steeply
// and then lies flat, or whose bottom is sharper on one side than the other. The fitted smile is
// SVI plus a natural cubic spline in total variance, fitted to the vol residuals with a roughness
// penalty and a penalty on butterfly arbitrage, then shrunk towards zero until the sum passes
// `SmileFit.isAdmissible`.

/// A natural cubic spline in log-moneyness `k`, added to a raw-SVI smile's total variance
/// (`SmileFit.correction`; docs/smile.md §1).
///
/// With knots `ξ₁ < … < ξ_K` (`K ≥ 3`), `L = ξ_K − ξ₁` and `u = (k − ξ₁)/L`, the value is
/// `Σⱼ cⱼ·Nⱼ(u)` in the natural-spline basis (Hastie, Tibshirani & Friedman, *Elements of Statistical
/// Learning*, §5.2.1): `N₁ = 1`, `N₂ = u`, `N_{j+2} = d_j − d_{K−1}` with
/// `d_j(u) = ((u − τⱼ)₊³ − (u − τ_K)₊³)/(τ_K − τⱼ)`, `τⱼ = (ξⱼ − ξ₁)/L`. It is twice continuously
/// differentiable, cubic between knots and linear outside `[ξ₁, ξ_K]`, so the smile's wings stay
/// linear in total variance with the slopes `leftSlope`, `rightSlope` added to SVI's.
public struct SmileCorrection: Equatable, Sendable {
    /// The knots, log-moneyness, strictly ascending.
    public var knots: [Double]
    /// The coefficients `cⱼ`, one per knot.
    public var coefficients: [Double]

    /// A correction from its knots and coefficients; not checked (see `isWellFormed`: a malformed
    /// one evaluates to 0, and a smile carrying it is not admissible).
    public init(knots: [Double], coefficients: [Double]) {
        self.knots = knots; self.coefficients = coefficients
    }

    /// At least 3 finite, strictly ascending knots and one finite coefficient per knot.
    public var isWellFormed: Bool {
        knots.count >= 3 && coefficients.count == knots.count && knots.allSatisfy(\.isFinite)
            && coefficients.allSatisfy(\.isFinite) && zip(knots, knots.dropFirst()).allSatisfy { $0 < $1 }
    }

    /// The correction to total variance at `k` (0 when the counts are malformed).
    public func value(logMoneyness k: Double) -> Double { derivatives(logMoneyness: k).value }

    /// The value and its first and second derivatives in `k` (zeros when the counts are malformed).
    public func derivatives(logMoneyness k: Double) -> (value: Double, slope: Double, curvature: Double) {
        let n = knots.count
        guard n >= 3, coefficients.count == n else { return (0, 0, 0) }
        let lo = knots[0], span = knots[n - 1] - lo
        let x = (k - lo) / span
        // Right of the last knot the spline is linear: evaluated there from the last knot (the
        // cubes of the basis would cancel catastrophically far out).
        let u = min(x, 1)
        var v = coefficients[0] + coefficients[1] * u, d1 = coefficients[1], d2 = 0.0
        let tLast = 1.0
        let pLast = Self.cube(u - tLast)
        let last = Self.truncated(u, (knots[n - 2] - lo) / span, tLast, pLast)
        for j in 0..<(n - 2) {
            let t = (knots[j] - lo) / span
            let d = Self.truncated(u, t, tLast, pLast)
            let c = coefficients[j + 2]
            v += c * (d.0 - last.0); d1 += c * (d.1 - last.1); d2 += c * (d.2 - last.2)
        }
        if x > 1 { return (v + d1 * (x - 1), d1 / span, 0) }
        return (v, d1 / span, d2 / (span * span))
    }

    /// The slope of the correction in `k` left of its first knot (0 when malformed).
    public var leftSlope: Double {
        guard knots.count >= 3, coefficients.count == knots.count else { return 0 }
        return coefficients[1] / (knots[knots.count - 1] - knots[0])
    }

    /// The slope of the correction in `k` right of its last knot (0 when malformed).
    public var rightSlope: Double {
        guard let last = knots.last else { return 0 }
        return derivatives(logMoneyness: last).slope
    }

    /// `(u − t)₊³` and its first two derivatives in `u`.
    static func cube(_ x: Double) -> (Double, Double, Double) {
        x > 0 ? (x * x * x, 3 * x * x, 6 * x) : (0, 0, 0)
    }

    /// `d(u) = ((u − t)₊³ − (u − tLast)₊³)/(tLast − t)` and its derivatives in `u`.
    static func truncated(_ u: Double, _ t: Double, _ tLast: Double, _ pLast: (Double, Double, Double))
        -> (Double, Double, Double) {
        let p = cube(u - t), h = tLast - t
        return ((p.0 - pLast.0) / h, (p.1 - pLast.1) / h, (p.2 - pLast.2) / h)
    }

    /// The basis values `Nⱼ(u)` and their first and second derivatives in `k` at `k`, for fitting.
    func basis(logMoneyness k: Double) -> (n: [Double], n1: [Double], n2: [Double]) {
        var n = [Double](repeating: 0, count: knots.count), n1 = n, n2 = n
        for j in knots.indices {
            var unit = [Double](repeating: 0, count: knots.count)
            unit[j] = 1
            let d = SmileCorrection(knots: knots, coefficients: unit).derivatives(logMoneyness: k)
            n[j] = d.value; n1[j] = d.slope; n2[j] = d.curvature
        }
        return (n, n1, n2)
    }
}

extension SmileFit {
    /// The settings of the spline correction's fit (`corrected`).
    struct CorrectionSettings: Sendable {
        /// Weight of the roughness `∫ (s″(u)/(2σ̄T))² du` (the correction's curvature over the knots'
        /// span `u ∈ [0, 1]`, in vol units at the median listed vol `σ̄`) against the mean squared
        /// vol residual.
        var smoothing: Double
        /// Most knots (at evenly spaced ranks of the distinct strikes kept).
        var maxKnots: Int
        /// Fewest distinct strikes kept for a correction; below, the smile is plain SVI.
        var minimumStrikes: Int
        /// Most Levenberg–Marquardt iterations.
        var iterations: Int

        static let standard = CorrectionSettings(smoothing: 1e-7, maxKnots: 12, minimumStrikes: 6, iterations: 150)
    }

    /// Weight of the penalties on `g < 2·densityFloor` and on wing slopes outside `[0, wingSlopeCap]`
    /// in the correction's least squares (per unit of violation, against vol residuals).
    static let correctionPenalty = 100.0

    /// The SVI smile `base` plus the spline correction fitted to the kept points (see
    /// `SmileCorrection` and docs/smile.md §1), or `base` itself when fewer than
    /// `settings.minimumStrikes` distinct strikes are kept or nothing is gained.
    ///
    /// Levenberg–Marquardt from the zero correction on: the vol residuals `σ_fit(kᵢ) − σᵢ`; the
    /// roughness (weight `settings.smoothing`); `correctionPenalty·(2·densityFloor − g)` where `g`
    /// is below that on `penaltyGrid` and at the knots; and the wing slopes outside
    /// `[0, wingSlopeCap]`. Steps are accepted only when they lower the sum of squares, so the
    /// result fits the points at least as well as `base`. If the sum is not `isAdmissible`, the
    /// correction is scaled by the largest factor in [0, 1] found by bisection that is (`base`,
    /// factor 0, is admissible).
    static func corrected(_ base: SmileFit, _ allKs: [Double], _ allVols: [Double], _ kept: [Bool],
                          _ years: Double, _ settings: CorrectionSettings = .standard) -> SmileFit {
        let idx = allKs.indices.filter { kept[$0] }
        let ks = idx.map { allKs[$0] }, vols = idx.map { allVols[$0] }
        let distinct = Set(ks).sorted()
        guard distinct.count >= settings.minimumStrikes, settings.maxKnots >= 3 else { return base }
        let nk = min(distinct.count, settings.maxKnots)
        let knots = (0..<nk).map { distinct[($0 * (distinct.count - 1) + (nk - 1) / 2) / (nk - 1)] }
        let shape = SmileCorrection(knots: knots, coefficients: [Double](repeating: 0, count: nk))
        let span = knots[nk - 1] - knots[0]
        let level = max(median(vols), 1e-3)
        let t = years, aim = 2 * densityFloor, mu = correctionPenalty

        // Fixed parts: SVI and the basis at the points, the roughness points and the check grid.
        let data = ks.map { k in (svi: base.totalVariance(logMoneyness: k), basis: shape.basis(logMoneyness: k).n) }
        let roughPoints = 8 * (nk - 1)
        let roughScale = (settings.smoothing * Double(ks.count) / Double(roughPoints)).squareRoot() * span * span / (2 * level * t)
        let rough = (0..<roughPoints).map { r -> [Double] in
            let k = knots[0] + span * (Double(r) + 0.5) / Double(roughPoints)
            return shape.basis(logMoneyness: k).n2.map { $0 * roughScale }
        }
        let grid = (penaltyGrid(ks) + knots).map { k -> (k: Double, w: Double, w1: Double, w2: Double, b: (n: [Double], n1: [Double], n2: [Double])) in
            let x = k - base.m, r = (x * x + base.sigma * base.sigma).squareRoot()
            return (k, base.a + base.b * (base.rho * x + r), base.b * (base.rho + x / r),
                    base.b * base.sigma * base.sigma / (r * r * r), shape.basis(logMoneyness: k))
        }
        let rightBasis = shape.basis(logMoneyness: knots[nk - 1]).n1
        let sviLeft = base.b * (1 - base.rho), sviRight = base.b * (1 + base.rho)

        func dot(_ a: [Double], _ c: [Double]) -> Double {
            var s = 0.0
            for j in c.indices { s += a[j] * c[j] }
            return s
        }
        // Residuals and (flat, row-major) Jacobian at `c`; nil when the total variance is not
        // positive at a point or the sum of squares is not finite.
        func evaluate(_ c: [Double], jacobian: Bool) -> (cost: Double, r: [Double], j: [Double])? {
            var r: [Double] = [], j: [Double] = []
            r.reserveCapacity(data.count + rough.count + grid.count + 4)
            if jacobian { j.reserveCapacity(r.capacity * nk) }
            for (i, p) in data.enumerated() {
                let w = p.svi + dot(p.basis, c)
                guard w > 0, w.isFinite else { return nil }
                let v = (w / t).squareRoot()
                r.append(v - vols[i])
                if jacobian { for q in 0..<nk { j.append(p.basis[q] / (2 * t * v)) } }
            }
            for row in rough {
                r.append(dot(row, c))
                if jacobian { j.append(contentsOf: row) }
            }
            for q in grid {
                let w = q.w + dot(q.b.n, c), w1 = q.w1 + dot(q.b.n1, c), w2 = q.w2 + dot(q.b.n2, c)
                guard w > 0, w.isFinite else { return nil }
                let g = density(q.k, w, w1, w2)
                guard g < aim else { continue }
                r.append(mu * (aim - g))
                if jacobian {
                    let tt = 1 - q.k * w1 / (2 * w)
                    let gw = tt * q.k * w1 / (w * w) + w1 * w1 / (4 * w * w)
                    let gw1 = -tt * q.k / w - w1 / 2 * (1 / w + 0.25)
                    for p in 0..<nk { j.append(-mu * (gw * q.b.n[p] + gw1 * q.b.n1[p] + 0.5 * q.b.n2[p])) }
                }
            }
            let left = sviLeft - c[1] / span, right = sviRight + dot(rightBasis, c)
            func slope(_ excess: Double, _ sign: Double, _ row: [Double]) {
                guard excess > 0 else { return }
                r.append(mu * excess)
                if jacobian { j.append(contentsOf: row.map { sign * mu * $0 }) }
            }
            let leftRow = (0..<nk).map { $0 == 1 ? -1 / span : 0 }
            slope(-left, -1, leftRow)
            slope(left - wingSlopeCap, 1, leftRow)
            slope(-right, -1, rightBasis)
            slope(right - wingSlopeCap, 1, rightBasis)
            let cost = r.reduce(0) { $0 + $1 * $1 }
            guard cost.isFinite else { return nil }
            return (cost, r, j)
        }

        var c = [Double](repeating: 0, count: nk)
        guard var current = evaluate(c, jacobian: true) else { return base }
        var damping = 1e-3
        for _ in 0..<settings.iterations {
            var a = [Double](repeating: 0, count: nk * nk), grad = [Double](repeating: 0, count: nk)
            for (i, value) in current.r.enumerated() {
                let o = i * nk
                for p in 0..<nk where current.j[o + p] != 0 {
                    let jp = current.j[o + p]
                    grad[p] += jp * value
                    for q in 0..<nk { a[p * nk + q] += jp * current.j[o + q] }
                }
            }
            let scale = (0..<nk).map { a[$0 * nk + $0] }.max() ?? 0
            guard scale > 0, scale.isFinite else { break }
            var accepted: [Double]? = nil
            while damping < 1e12 {
                var m = a
                for p in 0..<nk { m[p * nk + p] += damping * max(a[p * nk + p], 1e-12 * scale) }
                if let step = solveSymmetric(m, grad.map { -$0 }, nk) {
                    let trial = zip(c, step).map { $0 + $1 }
                    if let e = evaluate(trial, jacobian: false), e.cost < current.cost {
                        accepted = trial
                        damping = max(damping / 4, 1e-12)
                        break
                    }
                }
                damping *= 4
            }
            guard let accepted, let next = evaluate(accepted, jacobian: true) else { break }
            let gain = current.cost - next.cost
            c = accepted; current = next
            if gain <= 1e-12 * current.cost { break }
        }
        guard c.contains(where: { $0 != 0 }) else { return base }
        func scaled(_ f: Double) -> SmileFit {
            var s = base
            s.correction = SmileCorrection(knots: knots, coefficients: c.map { $0 * f })
            return s
        }
        let full = scaled(1)
        if full.isAdmissible { return full }
        var lo = 0.0, hi = 1.0
        for _ in 0..<30 {
            let mid = (lo + hi) / 2
            if scaled(mid).isAdmissible { lo = mid } else { hi = mid }
        }
        return lo > 0 ? scaled(lo) : base
    }

    /// Solves the symmetric positive definite system `m·x = b` (`n × n`, row-major) by Cholesky;
    /// nil when `m` is not positive definite.
    static func solveSymmetric(_ m: [Double], _ b: [Double], _ n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var s = m[i * n + j]
                for p in 0..<j { s -= l[i * n + p] * l[j * n + p] }
                if i == j {
                    guard s > 0, s.isFinite else { return nil }
                    l[i * n + i] = s.squareRoot()
                } else {
                    l[i * n + j] = s / l[j * n + j]
                }
            }
        }
        var y = b
        for i in 0..<n {
            for p in 0..<i { y[i] -= l[i * n + p] * y[p] }
            y[i] /= l[i * n + i]
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            for p in (i + 1)..<n { y[i] -= l[p * n + i] * y[p] }
            y[i] /= l[i * n + i]
        }
        return y.allSatisfy(\.isFinite) ? y : nil
    }
}
