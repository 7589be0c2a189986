import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// Kupiec, Christoffersen and the traffic light (docs/model.md §13) on edge cases and the Basel table.
@Suite struct BacktestStatisticsTests {
    /// P(Binomial(s, p) ≤ x) by direct summation with lgamma, for comparison.
    static func cdf(_ x: Int, _ s: Int, _ p: Double) -> Double {
        var sum = 0.0
        for k in 0...x {
            let choose: Double = lgamma(Double(s + 1)) - lgamma(Double(k + 1)) - lgamma(Double(s - k + 1))
            let powers: Double = Double(k) * log(p) + Double(s - k) * log(1 - p)
            sum += exp(choose + powers)
        }
        return sum
    }

    @Test func theBaselTableForTwoHundredFiftyDays() {
        for x in 0...4 { #expect(BacktestStatistics.zone(breaches: x, scenarios: 250, p: 0.01) == .green, "x = \(x)") }
        for x in 5...9 { #expect(BacktestStatistics.zone(breaches: x, scenarios: 250, p: 0.01) == .yellow, "x = \(x)") }
        for x in [10, 11, 50, 250] { #expect(BacktestStatistics.zone(breaches: x, scenarios: 250, p: 0.01) == .red, "x = \(x)") }
    }

    @Test func theBinomialCDFMatchesDirectSummation() {
        for (s, p) in [(250, 0.01), (2000, 0.01), (2000, 0.05), (30, 0.5)] {
            for x in [0, 1, 5, 20, 29] where x < s {
                #expect(TestSupport.close(BacktestStatistics.binomialCDF(x, trials: s, p: p), Self.cdf(x, s, p), 1e-10), "s \(s) p \(p) x \(x)")
            }
        }
        #expect(BacktestStatistics.binomialCDF(2000, trials: 2000, p: 0.01) == 1)
        // Far in the tail (x = S − 1 of 3,000 at p = 0.5): no underflow to 0, no overflow.
        #expect(BacktestStatistics.binomialCDF(2999, trials: 3000, p: 0.5) < 1)
        #expect(BacktestStatistics.binomialCDF(0, trials: 3000, p: 0.5) == 0 || BacktestStatistics.binomialCDF(0, trials: 3000, p: 0.5) < 1e-300)
    }

    @Test func kupiecAtNoBreachesAndAllBreaches() {
        // x = 0: LR = −2·S·ln(1−p) (the free likelihood is 1^S · 0^0 = 1).
        let s = 500, p = 0.01
        #expect(TestSupport.close(BacktestStatistics.kupiecP(breaches: 0, scenarios: s, p: p), erfc(sqrt(-Double(s) * log(1 - p))), 1e-12))
        // x = S: LR = −2·S·ln p.
        #expect(TestSupport.close(BacktestStatistics.kupiecP(breaches: s, scenarios: s, p: p), erfc(sqrt(-Double(s) * log(p))), 1e-12))
        // x/S = p exactly: LR = 0, p-value 1.
        #expect(BacktestStatistics.kupiecP(breaches: 5, scenarios: 500, p: 0.01) == 1)
    }

    @Test func christoffersenWithoutTransitionsOrBreaches() {
        // One scenario: no transition, every term dropped: LR = 0.
        #expect(BacktestStatistics.christoffersenP(n00: 0, n01: 0, n10: 0, n11: 0) == 1)
        // Never a breach: π = π01 = 0, π11's denominator 0 (dropped): LR = 0.
        #expect(BacktestStatistics.christoffersenP(n00: 99, n01: 0, n10: 0, n11: 0) == 1)
        // Always a breach: π = π11 = 1: LR = 0.
        #expect(BacktestStatistics.christoffersenP(n00: 0, n01: 0, n10: 0, n11: 99) == 1)
        // Clustered: 0 0 0 0 1 1 1 1 → n00 3, n01 1, n11 3. Hand-computed LR.
        var seq = BreachSequence()
        for b in [false, false, false, false, true, true, true, true] { seq.add(b) }
        #expect(seq.n00 == 3 && seq.n01 == 1 && seq.n10 == 0 && seq.n11 == 3 && seq.breaches == 4)
        let pi = 4.0 / 7, p01 = 1.0 / 4
        let lr = -2 * (3 * log(1 - pi) + 4 * log(pi)) + 2 * (3 * log(1 - p01) + log(p01) + 3 * log(1.0))
        #expect(TestSupport.close(seq.christoffersenP(), erfc(sqrt(lr / 2)), 1e-12))
    }
}
