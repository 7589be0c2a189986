import Testing
import CKernels
@testable import PortfolioMargin
@testable import PMTestSupport

/// Black-76 (r = 0): reference prices, parity, limits, greeks, and every vector path against libm.
struct Black76Tests {
    /// Prices computed with mpmath at 40 digits.
    static let references: [(f: Double, k: Double, t: Double, s: Double, call: Bool, price: Double)] = [
        (71377.39, 80000, 185.9817 / 365, 0.27748572, true, 2618.739042376203500277393),
        (71377.39, 80000, 185.9817 / 365, 0.27748572, false, 11241.349042376204082354),
        (3000, 2500, 7 / 365, 0.65, false, 1.953033227891618885468733),
        (100, 100, 1.0, 0.2, true, 7.965567455405796733786782),
        (50000, 30000, 0.01, 0.5, true, 20000.0),
        (50000, 90000, 2.0, 1.2, false, 64165.38543352602152273768),
        (142.6, 200, 0.002, 0.9, true, 1.691473536300393329370201e-17),
        (91250, 91000, 1e-6, 0.5, true, 250.0000001600047251685379),
    ]

    @Test func referencePricesTo1e12() {
        for r in Self.references {
            let scalar = TestSupport.b76(r.f, r.k, r.t, r.s, call: r.call).price
            #expect(TestSupport.near(scalar, r.price, within: 1e-12 * max(r.price, 1e-300)) || TestSupport.near(scalar, r.price, within: 1e-12), "scalar \(r)")
            for path in [KernelChoice.scalar, .avx2, .avx512] {
                var out = [0.0]
                pm_black76_batch_isa(path.rawValue, 1, [r.f], [r.k], [r.t], [r.s], [r.call ? 1 : 0], &out)
                #expect(TestSupport.near(out[0], r.price, within: 1e-12 * max(r.price, 1e-300)) || TestSupport.near(out[0], r.price, within: 1e-12 * r.f),
                        "isa \(path.pathName) \(r): \(out[0])")
            }
        }
    }

    @Test func putCallParity() {
        for (f, k, t, s) in [(50000.0, 45000.0, 0.1, 0.6), (3000, 3500, 1.5, 0.9), (140, 140, 0.003, 1.1)] {
            let c = TestSupport.b76(f, k, t, s, call: true).price
            let p = TestSupport.b76(f, k, t, s, call: false).price
            #expect(TestSupport.near((c - p), (f - k), within: 1e-9 * f))
        }
    }

    @Test func limitsGiveIntrinsic() {
        // T → 0 and σ → 0 both give the forward intrinsic value.
        for (f, k) in [(50000.0, 48000.0), (50000, 52000)] {
            for (t, s) in [(1e-12, 0.5), (1.0, 1e-9)] {
                #expect(TestSupport.near(TestSupport.b76(f, k, t, s, call: true).price, max(f - k, 0), within: 1e-6))
                #expect(TestSupport.near(TestSupport.b76(f, k, t, s, call: false).price, max(k - f, 0), within: 1e-6))
            }
        }
    }

    @Test func deltaAndVegaMatchFiniteDifferences() {
        for call in [true, false] {
            for (f, k, t, s) in [(50000.0, 55000.0, 0.25, 0.55), (3000, 2700, 0.04, 0.7)] {
                let g = TestSupport.b76(f, k, t, s, call: call)
                let h = f * 1e-5
                let fd = (TestSupport.b76(f + h, k, t, s, call: call).price - TestSupport.b76(f - h, k, t, s, call: call).price) / (2 * h)
                #expect(TestSupport.near(fd, g.delta, within: 1e-7), "delta \(call) \(f) \(k)")
                let hv = 1e-5
                let fv = (TestSupport.b76(f, k, t, s + hv, call: call).price - TestSupport.b76(f, k, t, s - hv, call: call).price) / (2 * hv)
                #expect(TestSupport.near(fv, g.vega, within: 1e-6 * max(1, g.vega)), "vega \(call) \(f) \(k)")
            }
        }
    }

    @Test func normalCdfIsErfcQuality() {
        // Φ(−5) and Φ(−20) to full relative precision (mpmath).
        #expect(TestSupport.near(pm_norm_cdf(-5) / 2.866515718791939116737523e-7, 1, within: 1e-14))
        #expect(TestSupport.near(pm_norm_cdf(-20) / 2.753624118606233695075623e-89, 1, within: 1e-13))
        #expect(TestSupport.near(pm_norm_cdf(0.3), 0.6179114221889526, within: 1e-15))
    }

    /// Every code path of the vector kernel against the scalar libm reference, 1e-13 relative.
    @Test func vectorPathsMatchReference() {
        var rng = SplitMix(seed: 7)
        let n = 20000
        var f = [Double](), k = [Double](), t = [Double](), s = [Double](), c = [Int8]()
        for _ in 0..<n {
            let fv = 1 + rng.unit() * 200000
            f.append(fv); k.append(fv * (0.2 + rng.unit() * 4.8)); t.append(1e-7 + rng.unit() * 3)
            s.append(0.01 + rng.unit() * 4.99); c.append(rng.unit() < 0.5 ? 1 : 0)
        }
        var ref = [Double](repeating: 0, count: n)
        pm_black76_batch_ref(n, f, k, t, s, c, &ref)
        for path in [KernelChoice.scalar, .avx2, .avx512] {
            let name = path.pathName
            var out = [Double](repeating: 0, count: n)
            pm_black76_batch_isa(path.rawValue, n, f, k, t, s, c, &out)
            // 1e-13 relative, with an absolute floor of 1e-15·F: for at-the-money, low-vol prices
            // the libm reference itself is only that close to the exact value (cancellation).
            var worst = 0.0
            for i in 0..<n {
                let err = abs(out[i] - ref[i]) / max(abs(ref[i]), 1e-300)
                if abs(out[i] - ref[i]) > 1e-15 * f[i] { worst = max(worst, err) }
            }
            #expect(worst <= 1e-13, "path \(name): worst relative error \(worst)")
        }
    }

    /// The portfolio P&L gather: every code path equals a plain sum bit for bit, for grid sizes around the
    /// kernel's tiles (masks) and portfolios from empty to large.
    @Test func gatherPathsMatchAPlainSum() {
        var rng = SplitMix(seed: 3)
        for nS in [3, 9, 21, 33, 39, 40, 41, 63, 120] {
            let rows = 50
            let block = (0..<(rows * nS)).map { _ in (rng.unit() - 0.5) * 1000 }
            let rowOf: [Int32] = (0..<rows).map { Int32(($0 * 7) % rows) }
            for count in [0, 1, 5, 200] {
                let instr: [Int32] = (0..<count).map { _ in Int32(rng.next() % UInt64(rows)) }
                let size: [Double] = (0..<count).map { _ in (rng.unit() - 0.5) * 10 }
                var plain = [Double](repeating: 0, count: nS)
                for e in 0..<count { for s in 0..<nS { plain[s] += size[e] * block[Int(rowOf[Int(instr[e])]) * nS + s] } }
                for path in [KernelChoice.scalar, .avx2, .avx512] {
                    let name = path.pathName
                    var out = [Double](repeating: .nan, count: nS + 1)
                    out[nS] = 42   // must stay untouched
                    pm_gather_pnl_isa(path.rawValue, &out, nS, block, rowOf, instr, size, count)
                    // Bitwise: every path is plain multiply-then-add in holding order.
                    for s in 0..<nS { #expect(out[s] == plain[s], "\(name) nS \(nS) count \(count) s \(s)") }
                    #expect(out[nS] == 42)
                }
            }
        }
    }

    /// Risk arrays through the vector path equal the reference path.
    @Test func riskArraysMatchReferenceKernel() {
        let fast = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)
        let ref = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams, kernel: .scalar)
        #expect(fast.riskArrays.count == ref.riskArrays.count)
        var worst = 0.0
        for (a, b) in zip(fast.riskArrays, ref.riskArrays) { worst = max(worst, abs(a - b) / max(1, abs(b))) }
        #expect(worst < 1e-9)
    }
}
