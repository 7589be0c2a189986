import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The one block pipeline of a batch (`BlockPipeline`): the streamed and the whole-file row
/// sources give the same bytes through it, and a job whose row files turn out not grouped by
/// account switches to the whole-file source inside the run — before any block is written when
/// that shows in the first chunks (nothing discarded), otherwise by emptying the staged files it
/// already wrote to (counted) — and writes the bytes of the whole-file read either way.
struct BlockPipelineTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)
    let market = TestSupport.path("data/sample/market.json")
    let params = TestSupport.path("data/params/pm-params.json")

    /// margins.csv and units.csv as the whole-file read and `BatchRunner.run` give them (headers included).
    func reference(_ dir: String) throws -> (margins: [UInt8], units: [UInt8], input: BatchInput) {
        let input = try BatchInput.load(directory: dir, priced: priced, threads: 1)
        var m = BatchOutput.marginsHeader, u = BatchOutput.unitsHeader
        _ = try BatchRunner.run(input, priced: priced, threads: 1) { a, b in m += a; u += b }
        return (m, u, input)
    }

    func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Runs the pipeline on `source`: the rows written, the summary and the final source.
    func drive(_ source: RowSource, monitor: Monitor, threads: Int) throws -> ([UInt8], [UInt8], BatchSummary, RowSource)? {
        var m: [UInt8] = [], u: [UInt8] = []
        let pipeline = BlockPipeline(source: source, monitor: monitor, threads: threads, options: EngineOptions())
        guard let (summary, last) = try pipeline.run(progress: { _, _ in }, sink: { a, b in m += a; u += b }) else { return nil }
        return (m, u, summary, last)
    }

    /// The same grouped input through the one pipeline from either source: identical bytes,
    /// counts, digests and orphans, at any thread count and block size.
    @Test func streamedAndWholeFileSourcesGiveTheSameBytes() throws {
        let dir = BatchFiles.tempDir("pipeline-sources")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(300, seed: 17), to: dir, extraPositions: ["GHOST,BTCUSDT,1,"])
        let table = try BatchInput.loadAccounts(directory: dir, shard: nil, threads: 1)
        let input = try BatchInput.load(directory: dir, priced: priced, threads: 1)
        for threads in [1, 2, 3] {
            for blockSize in [1, 7, 8192] {
                let monitor = Monitor()
                let streamed = StreamedRows(directory: dir, table: table, priced: priced, shard: nil, threads: threads, blockSize: blockSize,
                                            bufferSize: 97, monitor: monitor)
                let s = try #require(try drive(streamed, monitor: monitor, threads: threads), "threads \(threads), block \(blockSize)")
                let w = try #require(try drive(WholeFileRows(input, priced: priced, blockSize: blockSize), monitor: Monitor(), threads: threads))
                let same = s.0 == w.0 && s.1 == w.1
                #expect(same, "threads \(threads), block \(blockSize)")
                #expect(s.0.count > 1000)
                #expect(s.2.accounts == 301 && w.2.accounts == 301, "300 accounts and the ghost")
                #expect(s.2.errors == w.2.errors && s.2.stages == w.2.stages)
                let (so, wo) = (s.3.outcome(), w.3.outcome())
                #expect(so.streamed && !wo.streamed)
                #expect(so.digests.map { "\($0.name) \($0.digest)" } == wo.digests.map { "\($0.name) \($0.digest)" })
                #expect(so.orphanRows.map(\.description) == wo.orphanRows.map(\.description) && so.orphanRows.count == 1)
            }
        }
    }

    /// `threads` counts the calling thread: at 1 the pipeline starts no worker (the calling thread
    /// reads, parses, margins and writes: one thread in all), at N it starts N − 1 beside it; the
    /// bytes do not depend on it, from either source.
    @Test func threadsCountTheCallingThread() throws {
        let dir = BatchFiles.tempDir("pipeline-threads")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(300, seed: 31), to: dir)
        let table = try BatchInput.loadAccounts(directory: dir, shard: nil, threads: 1)
        let input = try BatchInput.load(directory: dir, priced: priced, threads: 1)
        var outputs: [[UInt8]] = []
        for threads in [1, 2, 3] {
            for streamed in [true, false] {
                let monitor = Monitor()
                let source: RowSource = streamed
                    ? StreamedRows(directory: dir, table: table, priced: priced, shard: nil, threads: threads, blockSize: 7,
                                   bufferSize: 97, monitor: monitor)
                    : WholeFileRows(input, priced: priced, blockSize: 7)
                let pipeline = BlockPipeline(source: source, monitor: monitor, threads: threads, options: EngineOptions())
                var m: [UInt8] = [], u: [UInt8] = []
                let ran = try #require(try pipeline.run(progress: { _, _ in }, sink: { a, b in m += a; u += b }))
                #expect(pipeline.workersStarted == threads - 1, "threads \(threads), streamed \(streamed)")
                #expect(ran.0.accounts == 300)
                outputs.append(m + u)
            }
        }
        #expect(outputs[0].count > 1000)
        #expect(outputs.allSatisfy { $0 == outputs[0] }, "the same bytes at 1, 2 and 3 threads, streamed or whole")
    }

    /// A whole-file source knows its blocks: no more threads of work than blocks (`pm backtest
    /// --threads 256` on a one-block book started 255 workers that only waited).
    @Test func noMoreWorkersThanKnownBlocks() throws {
        let dir = BatchFiles.tempDir("pipeline-few-blocks")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(20, seed: 41), to: dir)
        let input = try BatchInput.load(directory: dir, priced: priced, threads: 1)
        for (blockSize, threads, workers) in [(4096, 256, 0), (10, 8, 1), (7, 3, 2), (1, 4, 3)] {
            let pipeline = BlockPipeline(source: WholeFileRows(input, priced: priced, blockSize: blockSize), monitor: Monitor(),
                                         threads: threads, options: EngineOptions())
            let ran = try #require(try pipeline.run(progress: { _, _ in }, sink: { _, _ in }))
            #expect(ran.0.accounts == 20)
            #expect(pipeline.workersStarted == workers, "block size \(blockSize), threads \(threads)")
        }
    }

    /// A step of its own (as `pm backtest` gives it): its outputs reach the consumer in block
    /// order, each block once; at `threads` 1 every step runs on the calling thread, at N on at
    /// most N threads.
    @Test func aStepOfItsOwnRunsOnTheThreadsOfWorkInBlockOrder() throws {
        let dir = BatchFiles.tempDir("pipeline-step")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(200, seed: 37), to: dir)
        let input = try BatchInput.load(directory: dir, priced: priced, threads: 1)
        for threads in [1, 2, 3] {
            let caller = pthread_self()
            let lock = NSLock()
            var seen: [pthread_t] = []
            let pipeline = BlockPipeline<[String]>(source: WholeFileRows(input, priced: priced, blockSize: 7), monitor: Monitor(),
                                                   threads: threads) { book in
                usleep(200)   // long enough that a second thread of work, if any, gets blocks
                lock.lock()
                if !seen.contains(where: { pthread_equal($0, pthread_self()) != 0 }) { seen.append(pthread_self()) }
                lock.unlock()
                return book.accountIds
            }
            var ids: [String] = []
            let last = try pipeline.run(consume: { ids += $0 })
            #expect(last != nil)
            #expect(ids == input.accountIds, "threads \(threads): every account once, in order")
            #expect(seen.count >= 1 && seen.count <= threads, "threads \(threads)")
            if threads == 1 { #expect(seen.count == 1 && pthread_equal(seen[0], caller) != 0, "the calling thread only") }
        }
    }

    /// Rows out of account order from the first chunk on: the job reads the files whole without
    /// having written a block (nothing discarded) and writes the whole-file bytes.
    @Test func anUngroupedInputSwitchesBeforeAnyBlockIsWritten() throws {
        let dir = BatchFiles.tempDir("pipeline-ungrouped")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(200, seed: 23), to: dir)
        // positions.csv's rows in reverse order (header first).
        var lines = try String(contentsOfFile: dir + "/positions.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        lines = [lines[0]] + lines.dropFirst().reversed()
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/positions.csv", atomically: true, encoding: .utf8)
        let ref = try reference(dir)
        for threads in [1, 2] {
            for blockSize in [1, 8192] {
                let out = TestTemp.dir("pipeline-ungrouped-out")
                var job = BatchJob(input: dir, market: market, parameters: .file(params), output: out)
                job.threads = threads
                job.blockSize = blockSize
                var calls = 0
                job.progress = { _, _ in calls += 1 }
                let report = try job.run()
                #expect(!report.streamed, "threads \(threads), block \(blockSize)")
                #expect(report.discardedBlocks == 0, "threads \(threads), block \(blockSize): switched before any block was written")
                #expect(calls == (200 + blockSize - 1) / blockSize, "one progress call per block, no block written twice")
                let same = try bytes(out + "/margins.csv") == ref.margins && bytes(out + "/units.csv") == ref.units
                #expect(same, "threads \(threads), block \(blockSize)")
                #expect(report.inputs.prefix(4).map { "\($0.name) \($0.digest)" } == ref.input.digests.map { "\($0.name) \($0.digest)" })
                #expect(report.summary.accounts == 200)
                TestTemp.remove(out)
            }
        }
    }

    /// An early account's row moved to the end of positions.csv: with small read buffers blocks
    /// are written before it is seen. The output starts again in the same staged files (the
    /// blocks counted as discarded) and is exactly the whole-file read's; the grouped original
    /// streams with nothing discarded.
    @Test func aLateUngroupedRowRewindsTheStagedOutput() throws {
        let dir = BatchFiles.tempDir("pipeline-late")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(200, seed: 29), to: dir)
        func run(blockSize: Int, threads: Int) throws -> (BatchReport, String) {
            let out = TestTemp.dir("pipeline-late-out")
            var job = BatchJob(input: dir, market: market, parameters: .file(params), output: out)
            job.threads = threads
            job.blockSize = blockSize
            job.bufferSize = 61
            return (try job.run(), out)
        }
        let grouped = try run(blockSize: 1, threads: 2)
        #expect(grouped.0.streamed && grouped.0.discardedBlocks == 0)
        TestTemp.remove(grouped.1)

        var lines = try String(contentsOfFile: dir + "/positions.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        lines.append(lines.remove(at: 2))
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/positions.csv", atomically: true, encoding: .utf8)
        let ref = try reference(dir)
        for threads in [1, 2] {
            let (report, out) = try run(blockSize: 1, threads: threads)
            #expect(!report.streamed)
            #expect(report.discardedBlocks > 0, "threads \(threads): blocks were written before the stray row was read")
            let same = try bytes(out + "/margins.csv") == ref.margins && bytes(out + "/units.csv") == ref.units
            #expect(same, "threads \(threads)")
            // The manifest's output digests are those of the files as committed (after the rewind).
            #expect(report.outputs.map(\.digest) == [InputDigest(ref.margins), InputDigest(ref.units)])
            let manifest = try String(contentsOfFile: out + "/manifest.json", encoding: .utf8)
            #expect(manifest.contains(InputDigest(ref.margins).hex), "margins.csv's digest in manifest.json")
            #expect(report.summary.accounts == 200)
            let rows = try String(contentsOfFile: out + "/margins.csv", encoding: .utf8).split(separator: "\n").count - 1
            #expect(rows == 200, "each account once")
            TestTemp.remove(out)
        }
    }

    /// `OutputFiles.rewind` empties the staged files: the committed file and its digest are those
    /// of what was written after it.
    @Test func rewindEmptiesTheStagedFiles() throws {
        let out = TestTemp.dir("pipeline-rewind")
        defer { TestTemp.remove(out) }
        let files = try OutputFiles(directory: out, names: ["a.csv", "b.csv"])
        try files.write(0, Array("first run, longer than the second\n".utf8))
        try files.write(1, Array("x\n".utf8))
        try files.rewind()
        #expect(files.digest(0) == InputDigest([UInt8]()))
        try files.write(0, Array("second\n".utf8))
        #expect(files.digest(0) == InputDigest(Array("second\n".utf8)))
        try files.commit()
        #expect(try String(contentsOfFile: out + "/a.csv", encoding: .utf8) == "second\n")
        #expect(try bytes(out + "/b.csv").isEmpty)
    }
}
