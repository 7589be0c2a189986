import Foundation

/// The statistics of a breach sequence (docs/model.md §13): Kupiec's proportion-of-failures test,
/// Christoffersen's independence test and the traffic-light zone.
public enum BacktestStatistics {
    /// The traffic-light zone of a breach count.
    public enum Zone: String, Sendable, CaseIterable {
        /// `B(x) < 0.95`.
        case green
        /// `0.95 ≤ B(x) < 0.9999`.
        case yellow
        /// `B(x) ≥ 0.9999`.
        case red
    }

    /// `n · ln q` with `0 · ln 0 = 0` (and `0 · ln q = 0` for any q).
    @inline(__always)
    static func nLog(_ n: Int, _ q: Double) -> Double { n == 0 ? 0 : Double(n) * log(q) }

    /// The survival function of χ²(1) at `lr`: `erfc(√(lr/2))`; a negative LR (rounding) is 0.
    public static func chiSquare1Survival(_ lr: Double) -> Double {
        erfc((max(0, lr) / 2).squareRoot())
    }

    /// Kupiec's proportion-of-failures p-value for `x` breaches in `s` scenarios at target
    /// breach probability `p` (0 < p < 1, s ≥ 1).
    public static func kupiecP(breaches x: Int, scenarios s: Int, p: Double) -> Double {
        guard s > 0 else { return 1 }
        let phat = Double(x) / Double(s)
        let restricted = nLog(s - x, 1 - p) + nLog(x, p)
        let free = nLog(s - x, 1 - phat) + nLog(x, phat)
        return chiSquare1Survival(-2 * restricted + 2 * free)
    }

    /// Christoffersen's independence p-value from the transition counts `n[i][j]` (state i on day
    /// t−1, j on day t). `0^0 = 1`; a term whose probability has a zero denominator is dropped.
    public static func christoffersenP(n00: Int, n01: Int, n10: Int, n11: Int) -> Double {
        let total = n00 + n01 + n10 + n11
        var restricted = 0.0
        if total > 0 {
            let pi = Double(n01 + n11) / Double(total)
            restricted = nLog(n00 + n10, 1 - pi) + nLog(n01 + n11, pi)
        }
        var free = 0.0
        if n00 + n01 > 0 {
            let p01 = Double(n01) / Double(n00 + n01)
            free += nLog(n00, 1 - p01) + nLog(n01, p01)
        }
        if n10 + n11 > 0 {
            let p11 = Double(n11) / Double(n10 + n11)
            free += nLog(n10, 1 - p11) + nLog(n11, p11)
        }
        return chiSquare1Survival(-2 * restricted + 2 * free)
    }

    /// `P(Binomial(s, p) ≤ x)`, summed in log space (each term from the previous one by the ratio
    /// `(s−k)/(k+1) · p/(1−p)`, then a log-sum-exp), so no term underflows for large s.
    public static func binomialCDF(_ x: Int, trials s: Int, p: Double) -> Double {
        if x < 0 { return 0 }
        if x >= s { return 1 }
        let logOdds = log(p) - log1p(-p)
        var term = Double(s) * log1p(-p)   // ln P(X = 0)
        var terms = [term]
        terms.reserveCapacity(x + 1)
        if x > 0 {
            for k in 0..<x {
                term += log(Double(s - k) / Double(k + 1)) + logOdds
                terms.append(term)
            }
        }
        let m = terms.max()!
        var sum = 0.0
        for t in terms { sum += exp(t - m) }
        return min(1, exp(m) * sum)
    }

    /// The zone of `x` breaches in `s` scenarios at target probability `p`.
    public static func zone(breaches x: Int, scenarios s: Int, p: Double) -> Zone {
        let b = binomialCDF(x, trials: s, p: p)
        return b < 0.95 ? .green : (b < 0.9999 ? .yellow : .red)
    }
}

/// Counts of one breach sequence as it is fed in scenario order: breaches and transitions.
struct BreachSequence {
    var breaches = 0
    var n00 = 0, n01 = 0, n10 = 0, n11 = 0
    var previous: Bool?

    @inline(__always)
    mutating func add(_ breach: Bool) {
        if breach { breaches += 1 }
        if let prev = previous {
            switch (prev, breach) {
            case (false, false): n00 += 1
            case (false, true): n01 += 1
            case (true, false): n10 += 1
            case (true, true): n11 += 1
            }
        }
        previous = breach
    }

    func christoffersenP() -> Double { BacktestStatistics.christoffersenP(n00: n00, n01: n01, n10: n10, n11: n11) }
}

/// Kupiec's p-value and the zone of a breach count in S scenarios at probability p, each computed
/// once per count (they depend on nothing else) by the functions of ``BacktestStatistics``.
struct BreachCountStatistics {
    let scenarios: Int, p: Double
    private var kupiec: [Double], zones: [BacktestStatistics.Zone?]

    init(scenarios s: Int, p: Double) {
        scenarios = s; self.p = p
        kupiec = .init(repeating: .nan, count: s + 1); zones = .init(repeating: nil, count: s + 1)
    }

    mutating func kupiecP(_ x: Int) -> Double {
        guard kupiec.indices.contains(x) else { return BacktestStatistics.kupiecP(breaches: x, scenarios: scenarios, p: p) }
        if kupiec[x].isNaN { kupiec[x] = BacktestStatistics.kupiecP(breaches: x, scenarios: scenarios, p: p) }
        return kupiec[x]
    }

    mutating func zone(_ x: Int) -> BacktestStatistics.Zone {
        guard zones.indices.contains(x) else { return BacktestStatistics.zone(breaches: x, scenarios: scenarios, p: p) }
        if let z = zones[x] { return z }
        let z = BacktestStatistics.zone(breaches: x, scenarios: scenarios, p: p)
        zones[x] = z
        return z
    }
}
