import Dispatch
import Testing
import CKernels
@testable import PortfolioMargin
@testable import PMTestSupport

/// The kernel's code path is a value passed to each call: calls on different paths at the
/// same time each run their own path, and the automatic path is the widest this CPU runs.
struct KernelChoiceTests {
    /// Random Black-76 inputs over the kernels' whole domain (as `vectorPathsMatchReference`).
    static func inputs(_ n: Int, seed: UInt64) -> (f: [Double], k: [Double], t: [Double], s: [Double], c: [Int8]) {
        var rng = SplitMix(seed: seed)
        var f = [Double](), k = [Double](), t = [Double](), s = [Double](), c = [Int8]()
        for _ in 0..<n {
            let fv = 1 + rng.unit() * 200000
            f.append(fv); k.append(fv * (0.2 + rng.unit() * 4.8)); t.append(1e-7 + rng.unit() * 3)
            s.append(0.01 + rng.unit() * 4.99); c.append(rng.unit() < 0.5 ? 1 : 0)
        }
        return (f, k, t, s, c)
    }

    static func prices(_ path: KernelChoice, _ x: (f: [Double], k: [Double], t: [Double], s: [Double], c: [Int8])) -> [Double] {
        var out = [Double](repeating: .nan, count: x.f.count)
        pm_black76_batch_isa(path.rawValue, x.f.count, x.f, x.k, x.t, x.s, x.c, &out)
        return out
    }

    @Test func automaticIsTheWidestPathAndOtherValuesMeanAutomatic() {
        let best = String(cString: pm_kernel_isa())
        #expect(KernelChoice.automatic.pathName == best)
        #expect(String(cString: pm_kernel_isa_name(99)) == best && String(cString: pm_kernel_isa_name(-1)) == best)
        #expect(KernelChoice.scalar.pathName == "scalar")
        // A request runs itself when the CPU can, else falls back to a narrower path, never a wider one.
        let order = ["scalar", "avx2", "avx512"]
        for path in KernelChoice.allCases where path != .automatic {
            let ran = order.firstIndex(of: path.pathName)!
            #expect(ran <= Int(path.rawValue) - 1 && ran <= order.firstIndex(of: best)!, "\(path) ran \(path.pathName)")
        }
    }

    /// The automatic entry point gives the bits of the automatic `_isa` call.
    @Test func automaticEntryPointsEqualTheirIsaForm() {
        let x = Self.inputs(5000, seed: 11)
        var auto = [Double](repeating: .nan, count: x.f.count)
        pm_black76_batch(x.f.count, x.f, x.k, x.t, x.s, x.c, &auto)
        #expect(auto == Self.prices(.automatic, x))
    }

    /// Four workers price the same inputs on alternating paths, many times over, at once; each result
    /// equals, bit for bit, that path's result computed alone. With a process-wide switch a worker
    /// could run another worker's path (a path chosen per process, not per call, did).
    @Test func pathsRunConcurrentlyEachItsOwn() {
        let x = Self.inputs(4000, seed: 5)
        let paths = KernelChoice.allCases
        let alone = paths.map { Self.prices($0, x) }
        // The test can only see a mix-up if some paths differ in some bit on this CPU.
        let distinct = Set(alone.map { $0.map(\.bitPattern) }).count
        let bad = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { w in
            for round in 0..<30 {
                let p = (w + round) % paths.count
                if Self.prices(paths[p], x) != alone[p] { bad.withLock { $0.append("worker \(w) round \(round) \(paths[p])") } }
            }
        }
        let list = bad.withLock { $0 }
        #expect(list.isEmpty, "\(list.prefix(5))")
        if distinct < 2 { print("note: every kernel path gives the same bits on this CPU (\(KernelChoice.automatic.pathName))") }
    }

    /// `PricedMarket(kernel:)` prices with the path it names: the scalar market equals the scalar
    /// reference arrays bit for bit, while an automatic market is built at the same time.
    @Test func pricedMarketUsesTheChosenPath() {
        let params = TestSupport.shippedParams, market = TestSupport.sampleMarket
        let auto = PricedMarket(market: market, parameters: params)
        let scalar = PricedMarket(market: market, parameters: params, kernel: .scalar)
        var results = [[Double]](repeating: [], count: 4)
        results.withUnsafeMutableBufferPointer { buffer in
            let out = DisjointSlots(buffer)
            DispatchQueue.concurrentPerform(iterations: 4) { w in
                out[w] = PricedMarket(market: market, parameters: params, kernel: w % 2 == 0 ? .scalar : .automatic).riskArrays
            }
        }
        for w in 0..<4 { #expect(results[w] == (w % 2 == 0 ? scalar.riskArrays : auto.riskArrays), "worker \(w)") }
        #expect(PricedMarket(market: market, parameters: params, kernel: .automatic).riskArrays == auto.riskArrays)
    }

    /// `EngineOptions.kernel` picks the gather's path; every path gives the P&L tables of the
    /// automatic path bit for bit (each sums size × row in holding order), also run at the same time.
    @Test func engineOptionsKernelGathersTheSameBits() {
        let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)
        let book = Book(priced: priced, accounts: RandomAccounts.make(200, seed: 9))
        let auto = PnlTables(book: book, options: EngineOptions(aggregation: .sparse)).values
        #expect(auto.contains { $0 != 0 })
        var results = [[Double]](repeating: [], count: KernelChoice.allCases.count)
        results.withUnsafeMutableBufferPointer { buffer in
            let out = DisjointSlots(buffer)
            DispatchQueue.concurrentPerform(iterations: KernelChoice.allCases.count) { w in
                out[w] = PnlTables(book: book, options: EngineOptions(aggregation: .sparse, kernel: KernelChoice.allCases[w])).values
            }
        }
        for (w, path) in KernelChoice.allCases.enumerated() {
            #expect(results[w].map(\.bitPattern) == auto.map(\.bitPattern), "\(path)")
        }
    }
}
