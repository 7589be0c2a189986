import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// `--threads N` means N workers, and the streaming batch pipeline writes the same bytes
/// whatever the thread count and block size.
struct PipelineTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)

    /// The distinct threads that ran the items of `Workers.forEach`.
    func threadsUsed(items: Int, threads: Int) -> (distinct: Int, callerOnly: Bool, done: [Int]) {
        let caller = pthread_self()
        let lock = NSLock()
        var seen: [pthread_t] = []
        var done = [Int](repeating: 0, count: items)
        done.withUnsafeMutableBufferPointer { d in
            Workers.forEach(items, threads: threads) { i in
                usleep(200)   // long enough that a second worker, if any, gets items
                lock.lock()
                if !seen.contains(where: { pthread_equal($0, pthread_self()) != 0 }) { seen.append(pthread_self()) }
                d[i] += 1
                lock.unlock()
            }
        }
        return (seen.count, seen.allSatisfy { pthread_equal($0, caller) != 0 }, done)
    }

    @Test func oneThreadMeansTheCallingThreadOnly() {
        let r = threadsUsed(items: 64, threads: 1)
        #expect(r.distinct == 1)
        #expect(r.callerOnly)
        #expect(r.done == [Int](repeating: 1, count: 64))
    }

    @Test func nThreadsNeverMoreThanN() {
        for n in [2, 3] {
            let r = threadsUsed(items: 200, threads: n)
            #expect(r.distinct >= 1 && r.distinct <= n)
            #expect(r.done == [Int](repeating: 1, count: 200))   // every item exactly once
        }
    }

    /// The bytes of margins.csv and units.csv (as handed to the sink) for a thread count and block size.
    func outputBytes(_ input: BatchInput, threads: Int, blockSize: Int,
                     options: EngineOptions = EngineOptions(aggregation: .sparse)) throws -> ([UInt8], [UInt8], BatchSummary) {
        var m: [UInt8] = [], u: [UInt8] = []
        var calls = 0
        let s = try BatchRunner.run(input, priced: priced, threads: threads, blockSize: blockSize, options: options) { a, b in
            m += a; u += b; calls += 1
        }
        #expect(calls == (input.accountCount + blockSize - 1) / blockSize)   // one hand-over per block, in order
        return (m, u, s)
    }

    /// Sparse aggregation: identical for every block size too. (Dense rows are as well since
    /// dgemm runs on full panels — DenseDeterminismTests — but automatic mode picks dense from a
    /// timed probe, so this comparison does not depend on it.)
    @Test func identicalBytesForEveryThreadCountAndBlockSize() throws {
        let dir = BatchFiles.tempDir("pipeline")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Includes a row of an id absent from accounts.csv (an error account at the end).
        try BatchFiles.write(RandomAccounts.make(300, seed: 99), to: dir, extraPositions: ["GHOST,BTCUSDT,1,"])
        let reference = try outputBytes(try BatchInput.load(directory: dir, priced: priced, threads: 1), threads: 1, blockSize: 300)
        #expect(reference.2.accounts == 301)
        #expect(reference.2.errors == 1)
        #expect(reference.0.count > 300 * 20)
        for threads in [1, 2, 3] {
            let input = try BatchInput.load(directory: dir, priced: priced, threads: threads)
            for blockSize in [1, 7, 64, 1000] {
                let r = try outputBytes(input, threads: threads, blockSize: blockSize)
                #expect(r.0 == reference.0, "margins, threads \(threads), block \(blockSize)")
                #expect(r.1 == reference.1, "units, threads \(threads), block \(blockSize)")
                #expect(r.2.accounts == reference.2.accounts && r.2.errors == reference.2.errors && r.2.stages == reference.2.stages)
            }
        }
    }

    /// Dense aggregation at a fixed block size: the thread count changes no byte.
    @Test func denseIdenticalForEveryThreadCount() throws {
        let dir = BatchFiles.tempDir("pipeline-dense")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try BatchFiles.write(RandomAccounts.make(200, seed: 5), to: dir)
        let dense = EngineOptions(aggregation: .dense)
        let input = try BatchInput.load(directory: dir, priced: priced, threads: 1)
        let reference = try outputBytes(input, threads: 1, blockSize: 16, options: dense)
        #expect(reference.2.accounts == 200)
        for threads in [2, 3] {
            let again = try BatchInput.load(directory: dir, priced: priced, threads: threads)
            let r = try outputBytes(again, threads: threads, blockSize: 16, options: dense)
            #expect(r.0 == reference.0 && r.1 == reference.1, "threads \(threads)")
        }
    }

    /// A sink that fails stops the pipeline: the error comes out, workers are joined, nothing hangs.
    @Test func aFailingSinkStopsTheWorkers() throws {
        let dir = BatchFiles.tempDir("pipeline-fail")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try BatchFiles.write(RandomAccounts.make(200, seed: 7), to: dir)
        let input = try BatchInput.load(directory: dir, priced: priced, threads: 2)
        struct Full: Error {}
        var calls = 0
        #expect(throws: Full.self) {
            _ = try BatchRunner.run(input, priced: priced, threads: 2, blockSize: 2) { _, _ in
                calls += 1
                if calls == 3 { throw Full() }
            }
        }
        #expect(calls == 3)
    }
}
