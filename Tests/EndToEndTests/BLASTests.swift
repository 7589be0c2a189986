import CBLAS
import Foundation
import Testing
@testable import PMGenerate
@testable import PortfolioMargin
@testable import pm
@testable import PMTestSupport

/// Issue 13: the OpenBLAS kernel check and `pm`'s re-execution.
struct BLASKernelTests {
    let avx512 = BLASKernel.CPUFeatures(avx: true, avx2: true, fma: true, avx512f: true, avx512dq: true, avx512bw: true, avx512vl: true)
    let avx2 = BLASKernel.CPUFeatures(avx: true, avx2: true, fma: true)

    @Test func bestCoreTypeFollowsTheCPU() {
        #expect(avx512.bestCoreType == "SkylakeX")
        #expect(avx2.bestCoreType == "Haswell")
        // AVX-512 without BW/VL (Knights Landing): not SkylakeX's kernels; AVX2 + FMA are there.
        #expect(BLASKernel.CPUFeatures(avx: true, avx2: true, fma: true, avx512f: true).bestCoreType == "Haswell")
        #expect(BLASKernel.CPUFeatures(avx: true).bestCoreType == nil)
        #expect(BLASKernel.CPUFeatures().bestCoreType == nil)
    }

    @Test func reexecutesWhenOpenBLASChoseALowerCoreAndNobodyChoseIt() {
        #expect(BLASKernel.decide(corename: "Prescott", features: avx512, environment: [:]).action == .reexecute(coreType: "SkylakeX"))
        #expect(BLASKernel.decide(corename: "Nehalem", features: avx512, environment: [:]).action == .reexecute(coreType: "SkylakeX"))
        #expect(BLASKernel.decide(corename: "Sandybridge", features: avx2, environment: [:]).action == .reexecute(coreType: "Haswell"))
        #expect(BLASKernel.decide(corename: "Haswell", features: avx512, environment: [:]).action == .reexecute(coreType: "SkylakeX"))
        // `force` treats a set OPENBLAS_CORETYPE as a misdetection (how tests simulate one).
        let forced = BLASKernel.decide(corename: "Prescott", features: avx512,
                                       environment: ["OPENBLAS_CORETYPE": "Prescott", "PM_BLAS_CORE_CHECK": "force"])
        #expect(forced.action == .reexecute(coreType: "SkylakeX") && forced.userCoreType == nil)
    }

    @Test func keepsAFittingOrUnknownCore() {
        for (name, cpu) in [("SkylakeX", avx512), ("Cooperlake", avx512), ("SapphireRapids", avx512), ("Haswell", avx2), ("Zen", avx2),
                            ("skylakex", avx512), ("SomethingNew", avx512), ("Prescott", BLASKernel.CPUFeatures(avx: true))] {
            let k = BLASKernel.decide(corename: name, features: cpu, environment: [:])
            #expect(k.action == .keep && k.advice == nil, "\(name)")
            #expect(k.description == name)
        }
    }

    @Test func respectsTheUsersChoiceAndTheSwitchButAdvises() {
        let user = BLASKernel.decide(corename: "Prescott", features: avx512, environment: ["OPENBLAS_CORETYPE": "Prescott"])
        #expect(user.action == .keep && user.userCoreType == "Prescott")
        #expect(user.advice?.contains("OPENBLAS_CORETYPE=SkylakeX") == true, "\(user.advice ?? "")")
        let off = BLASKernel.decide(corename: "Prescott", features: avx512, environment: ["PM_BLAS_CORE_CHECK": "off"])
        #expect(off.action == .keep && off.advice?.contains("SkylakeX") == true)
        #expect(off.description == "Prescott (below this CPU's SkylakeX: set OPENBLAS_CORETYPE=SkylakeX)")
    }

    /// The guard: a re-executed process never re-executes, even when OpenBLAS ignored the variable.
    @Test func neverReexecutesTwice() {
        let env = ["OPENBLAS_CORETYPE": "SkylakeX", "PM_BLAS_CORE_CHECK": "reexecuted:Prescott"]
        let fixed = BLASKernel.decide(corename: "SkylakeX", features: avx512, environment: env)
        #expect(fixed.action == .keep && fixed.advice == nil && fixed.reexecutedFrom == "Prescott" && fixed.userCoreType == nil)
        #expect(fixed.description == "SkylakeX (re-executed; OpenBLAS had chosen Prescott)")
        let stuck = BLASKernel.decide(corename: "Prescott", features: avx512, environment: env)
        #expect(stuck.action == .keep && stuck.advice?.contains("still") == true)
    }

    /// This machine: the check reads OpenBLAS's choice and the CPU flags the kernel reports.
    @Test func checkReadsThisMachine() throws {
        let k = BLASKernel.check()
        #expect(k.chosen == String(cString: openblas_get_corename()))
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = Set(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }!.split(separator: " ").map(String.init))
        let f = BLASKernel.CPUFeatures.current
        #expect(f.avx2 == flags.contains("avx2") && f.fma == flags.contains("fma") && f.avx512f == flags.contains("avx512f"))
        #expect(f.avx512bw == flags.contains("avx512bw") && f.avx512vl == flags.contains("avx512vl"))
    }

    /// Runs `pm` with `environment` added and the file `input` on stdin (inputs must be regular files).
    func pm(_ args: [String], environment: [String: String], input: String = "/dev/null") throws -> (status: Int32, stdout: Data, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = args
        p.currentDirectoryURL = TestSupport.root
        var env = ProcessInfo.processInfo.environment
        for key in ["OPENBLAS_CORETYPE", "PM_BLAS_CORE_CHECK"] { env[key] = nil }
        env.merge(environment) { $1 }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardInput = FileHandle(forReadingAtPath: input)
        p.standardOutput = out; p.standardError = err
        try p.run()
        let (o, e) = TestSupport.drain(out, err)
        p.waitUntilExit()
        return (p.terminationStatus, o, String(decoding: e, as: UTF8.self))
    }

    /// A simulated misdetection (OpenBLAS forced to Prescott, the check told to treat that as
    /// OpenBLAS's own choice): `pm` re-executes once with the right core, and stdin, stdout, stderr
    /// and the exit status are what the plain run gives.
    @Test func pmReexecutesTransparently() throws {
        guard let best = BLASKernel.CPUFeatures.current.bestCoreType else { return }  // nothing above Prescott to pick
        let simulated = ["OPENBLAS_CORETYPE": "Prescott", "PM_BLAS_CORE_CHECK": "force"]
        let account = TestSupport.path("\(CLI.fixtures)/account.json")
        let args = ["margin", "/dev/stdin", "--market", "\(CLI.fixtures)/market.json"]
        let plain = try pm(args, environment: [:], input: account)
        let fixed = try pm(args, environment: simulated, input: account)
        #expect(plain.status == 0 && fixed.status == 0, "\(fixed.stderr)")
        #expect(!plain.stdout.isEmpty && fixed.stdout == plain.stdout)
        #expect(fixed.stderr == plain.stderr)
        // Exit status of a failure (missing file: 1) and of partial failure come through.
        let bad = try pm(["margin", "nope.json", "--market", "\(CLI.fixtures)/market.json"], environment: simulated)
        #expect(bad.status == 1 && bad.stderr.contains("nope.json") && bad.stderr.split(separator: "\n").count == 1)

        // `pm batch` names the core in use in its summary.
        let dir = BatchFiles.tempDir("blas")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(20, seed: 4), to: dir)
        let batch = try pm(["batch", "--input", dir, "--market", "data/sample/market.json", "--out", dir + "/out", "--quiet"],
                           environment: simulated)
        #expect(batch.stderr.contains("BLAS core \(best) (re-executed; OpenBLAS had chosen Prescott)"), "\(batch.stderr)")
        // Without the simulation, the user's OPENBLAS_CORETYPE stands and the summary says so.
        let user = try pm(["batch", "--input", dir, "--market", "data/sample/market.json", "--out", dir + "/out2", "--quiet"],
                          environment: ["OPENBLAS_CORETYPE": "Prescott"])
        #expect(user.stderr.contains("BLAS core Prescott (below this CPU's \(best)"), "\(user.stderr)")
    }
}

/// Issue 13: the automatic mode's dense threshold is measured here, and a sweep aggregates all its
/// combinations in one pass.
struct DenseCrossoverTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)

    @Test func thresholdIsTheRatioOfTheTimings() {
        #expect(DenseCrossover.threshold(gatherSecondsAtFullDensity: 4e-3, denseSeconds: 1e-3) == 0.25)
        #expect(DenseCrossover.threshold(gatherSecondsAtFullDensity: 4e-3, denseSeconds: 4e-3) == .infinity)
        #expect(DenseCrossover.threshold(gatherSecondsAtFullDensity: 0, denseSeconds: 1e-3) == .infinity)
    }

    /// Dense made artificially slow (its timing injected): automatic mode sends no row to dgemm,
    /// even portfolios holding every instrument; with dense fast, those rows go to dgemm.
    @Test func slowDensePicksSparse() {
        let btc = priced.market.instruments.filter { $0.baseCoin == "BTC" && priced.market.instrumentProblems[$0.symbol] == nil }
        var accounts = RandomAccounts.make(40, seed: 5)
        for a in 0..<10 {
            var acc = Account(id: "FULL\(a)", balances: [Balance(coin: "USDC", walletBalance: 1e7)])
            for (j, i) in btc.enumerated() { acc.positions.append(Position(symbol: i.symbol, size: Double((a + j) % 5) - 2.5)) }
            accounts.append(acc)
        }
        let book = Book(priced: priced, accounts: accounts)
        let slow = DenseCrossover.threshold(gatherSecondsAtFullDensity: 1e-3, denseSeconds: 3e-3)
        let tSlow = PnlTables(book: book, options: EngineOptions(aggregation: .automatic, denseThreshold: slow))
        #expect(tSlow.denseRowCount == 0)
        let sparse = PnlTables(book: book, options: EngineOptions(aggregation: .sparse))
        #expect(tSlow.values == sparse.values)
        let fast = DenseCrossover.threshold(gatherSecondsAtFullDensity: 3e-3, denseSeconds: 1e-3)
        let tFast = PnlTables(book: book, options: EngineOptions(aggregation: .automatic, denseThreshold: fast))
        #expect(tFast.denseRowCount >= 10)
        for (x, y) in zip(tFast.values, sparse.values) { #expect(TestSupport.close(x, y)) }
    }

    /// The probe (bench's advice) runs on the real risk arrays and takes milliseconds; the engine's
    /// threshold is not it: a constant, or PM_DENSE_THRESHOLD (which the test process pins).
    @Test func probeMeasuresThisMachine() {
        let t0 = Date()
        let m = DenseCrossover.probe(priced)
        // Only bench runs it now (advice), never a batch: a loose bound, the machine may be busy.
        #expect(Date().timeIntervalSince(t0) < 5)
        #expect(m.gatherSeconds > 0 && m.denseSeconds > 0 && m.rows == DenseCrossover.probeRows)
        #expect(m.instruments == priced.blockRows.max())
        #expect(m.threshold == DenseCrossover.threshold(gatherSecondsAtFullDensity: m.gatherSeconds, denseSeconds: m.denseSeconds))
        let pinned = getenv(DenseCrossover.environmentVariable).flatMap { Double(String(cString: $0)) }
        #expect(DenseCrossover.threshold == pinned ?? DenseCrossover.defaultThreshold)
    }
}

struct OnePassSweepTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)

    /// All combinations aggregated together give what one aggregation per combination gives, bit
    /// for bit with the gather and with dgemm alike (each combination's columns are multiplied by
    /// their own block, in panels of one shape: generated books).
    @Test(arguments: [EngineOptions.Aggregation.sparse, .dense, .automatic])
    func onePassEqualsPerCombination(_ mode: EngineOptions.Aggregation) throws {
        let dir = BatchFiles.tempDir("onepass")
        defer { TestTemp.remove(dir) }
        _ = try SyntheticAccounts(market: priced.market, parameters: TestSupport.shippedParams, seed: 11).write(count: 600, to: dir)
        let input = try BatchInput.load(directory: dir, priced: priced)
        let settings = [try SweepSetting.parseSet("BTC.priceRange=0.1,0.2"), try SweepSetting.parseShock("ETH=-0.15,0.1"),
                        try SweepSetting.parseIvScale("0.8,1.3")]
        let options = EngineOptions(aggregation: mode, denseThreshold: mode == .automatic ? 0.3 : nil)
        let together = try Sweep.run(input, base: priced, settings: settings, top: 7, threads: 2, options: options)
        let apart = try Sweep.run(input, base: priced, settings: settings, top: 7, threads: 2, options: options, aggregateTogether: false)
        #expect(together.count == 9 && apart.count == 9)
        for (x, y) in zip(together, apart) {
            #expect(x.index == y.index && x.values == y.values && x.stages == y.stages && x.errors == y.errors)
            #expect(x.totalMM == y.totalMM && x.totalIM == y.totalIM, "combination \(x.index)")
            #expect(x.top.map(\.account) == y.top.map(\.account), "combination \(x.index)")
        }
        // Per account too, against a batch run of one combination's market.
        let books = BatchRunner.books(input, priced: priced)
        let markets = try [priced] + Sweep.combinations(settings).map { try Sweep.scenario(settings, values: $0, base: priced) }
        let figures = Sweep.onePass(books, markets: markets, accounts: input.accountCount, threads: 2, options: options)
        for m in [0, 3, 8] {
            let one = BatchRunner.accountFigures(books, priced: markets[m], accounts: input.accountCount, options: options)
            for a in 0..<input.accountCount {
                #expect(figures[m].stage[a] == one.stage[a])
                #expect(figures[m].mm[a] == one.mm[a] || (figures[m].mm[a].isNaN && one.mm[a].isNaN), "market \(m) account \(a)")
            }
        }
    }
}
