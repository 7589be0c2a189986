
/// One batch run, as a value: an input folder (docs/formats.md), the market and parameter files,
/// the output folder and how to run. ``run()`` is the whole batch — the library's one entry for
/// it (`pm batch` only parses its arguments into a job and prints the ``BatchReport``).
///
/// The run reads `accounts.csv` ahead while the market is loaded and priced, opens (and checks)
/// the output folder, then margins every account through one block pipeline (`BlockPipeline`)
/// fed by the row files streamed (grouped by account in `accounts.csv` order, docs/performance.md
/// "Batch memory") or, when they turn out not grouped or have a structural problem, read whole
/// (which reports any such problem with its exact message). `margins.csv`, `units.csv` and `manifest.json` are written all three or none
/// (``OutputFiles``).
public struct BatchJob {
    /// The input folder: accounts.csv, balances.csv, positions.csv and (optional) orders.csv.
    public var input: String
    /// The market snapshot file (docs/formats.md market.json).
    public var market: String
    /// The parameters: a file, or the shipped set.
    public var parameters: ParameterSource
    /// The output folder (created if missing) for margins.csv, units.csv and manifest.json.
    public var output: String
    /// Only the accounts of this shard (docs/model.md §11.16); nil: every account (or the shard a
    /// `pm split` folder records).
    public var shard: ShardSpec?
    /// Threads of work (blocks and parses in parallel), exactly: the calling thread, which also
    /// reads and writes, and `threads − 1` workers (`BlockPipeline`).
    public var threads = 2
    /// Accounts per block of work.
    public var blockSize = BatchRunner.defaultBlockSize
    /// The aggregation path.
    public var options = EngineOptions()
    /// Called on the calling thread after each block written with (accounts done, total).
    public var progress: (Int, Int) -> Void = { _, _ in }
    /// Bytes per read buffer of the streamed row files (tests: many small buffers).
    var bufferSize = StreamingBatch.defaultBufferSize

    /// A job with the default threads, block size and engine options.
    public init(input: String, market: String, parameters: ParameterSource, output: String) {
        self.input = input
        self.market = market
        self.parameters = parameters
        self.output = output
    }
}

/// What a batch run did: the summary counts, the orphan rows, timings and the digests written to
/// `manifest.json`.
public struct BatchReport: Sendable {
    /// Accounts, errors, accounts per stage, orphan rows, totals and the run's seconds (all of it,
    /// from the start of ``BatchJob/run()`` to the output committed).
    public var summary: BatchSummary
    /// Every row whose account id is absent from accounts.csv (docs/formats.md).
    public var orphanRows: [InputError]
    /// Seconds spent reading the input before margining (the summary's "parse"): accounts.csv when
    /// streamed, every file when read whole.
    public var parseSeconds: Double
    /// The input digests recorded in `manifest.json` (row files, market, params).
    public var inputs: [(name: String, digest: InputDigest)]
    /// The digests of margins.csv and units.csv as written.
    public var outputs: [(name: String, digest: InputDigest)]
    /// True when the row files were streamed (grouped by account), false when read whole.
    public var streamed: Bool
    /// Blocks written and then discarded: the row files were found not grouped by account only
    /// after the first block was written, so the output started again (read whole) in the same
    /// staged files. 0 when the switch to the whole-file read came before any block was written.
    public var discardedBlocks = 0
}

/// An error writing the output folder (as opposed to one of the input): its text names the folder.
public struct BatchOutputError: Error, CustomStringConvertible {
    /// The output folder.
    public let folder: String
    /// What the writer threw.
    public let underlying: Error
    /// `folder: underlying`.
    public var description: String { "\(folder): \(underlying)" }
}

extension BatchJob {
    /// The files written to ``output``, in ``OutputFiles`` order.
    static let outputNames = ["margins.csv", "units.csv", "manifest.json"]

    /// Runs the batch. Throws the input's problems (an `InputError` and the like, whose text is the
    /// message to print) and ``BatchOutputError``; nothing is left in ``output`` then.
    public func run() throws -> BatchReport {
        let start = Self.now()
        let threads = max(1, self.threads)
        let shard = self.shard.map { (index: $0.index, count: $0.count) }
        // accounts.csv is read (split, id table) on threads of its own while the market is loaded
        // and priced and the output folder opened: they do not depend on each other. Its errors
        // still come where they would (the streaming path throws them); a run that fails before
        // stops it.
        let accounts = StreamingBatch.AccountsReadAhead(directory: input, shard: shard, threads: threads)
        defer { accounts.cancel() }
        let (parameters, paramsDigest) = try self.parameters.loadWithDigest()
        let (snapshot, marketDigest) = try MarketSnapshot.loadWithDigest(path: market)
        let priced = PricedMarket(market: snapshot, parameters: parameters)
        let jsonDigests = [(name: "market", digest: marketDigest), (name: "params", digest: paramsDigest)]
        // Open (and check) the output folder before the work: a refused folder costs nothing.
        let writer = try OutputFiles(directory: output, names: Self.outputNames)
        var report: BatchReport
        do {
            let split = try SplitInfo.load(directory: input)
            let shardSpec = try SplitInfo.shard(given: self.shard, split: split, input: input)
            let (table, accountsSeconds) = try accounts.take()
            let blockSize = max(1, self.blockSize), input = self.input
            let monitor = Monitor()
            // The row files streamed; when they turn out not grouped by account (or have a
            // structural problem, which the whole-file read reports with its exact message), read
            // whole instead, with the accounts.csv table already built.
            let rows = StreamedRows(directory: input, table: table, priced: priced, shard: shard, threads: threads, blockSize: blockSize,
                                    bufferSize: max(1, bufferSize), monitor: monitor, replacement: { table in
                let t0 = Self.now()
                let batch = try BatchInput.load(directory: input, table: table, priced: priced, shard: shard, threads: threads)
                return WholeFileRows(batch, priced: priced, blockSize: blockSize, parseSeconds: accountsSeconds + Self.now() - t0)
            })
            rows.accountsSeconds = accountsSeconds
            let pipeline = BlockPipeline(source: rows, monitor: monitor, threads: threads, options: options)
            try Self.writing { try writeHeaders(writer) }
            let sink: ([UInt8], [UInt8]) throws -> Void = { m, u in try writer.write(0, m); try writer.write(1, u) }
            guard let (ran, source) = try pipeline.run(progress: progress, sink: sink, restart: {
                try writer.rewind()
                try writeHeaders(writer)
            }) else {
                // Cannot happen: the streamed rows always have their replacement.
                throw InputError(file: input, "cannot be read")
            }
            let read = source.outcome()
            var summary = ran
            summary.orphanRows = read.orphanRows.count
            report = BatchReport(summary: summary, orphanRows: read.orphanRows, parseSeconds: read.parseSeconds,
                                 inputs: (split?.source ?? read.digests) + jsonDigests, outputs: [], streamed: read.streamed,
                                 discardedBlocks: pipeline.discardedBlocks)
            try split?.check(read: read.digests, input: input)
            try commit(&report, writer: writer, shard: shardSpec, orphans: read.orphanFirstSeen)
        } catch let e as StreamingBatch.SinkError {
            writer.abandon()
            throw BatchOutputError(folder: output, underlying: e.underlying)
        } catch {
            writer.abandon()
            throw error
        }
        report.summary.seconds = Self.now() - start
        return report
    }

    private func writeHeaders(_ writer: OutputFiles) throws {
        try writer.write(0, BatchOutput.marginsHeader)
        try writer.write(1, BatchOutput.unitsHeader)
    }

    /// Writes manifest.json and commits the three files.
    private func commit(_ report: inout BatchReport, writer: OutputFiles, shard: ShardSpec?, orphans: [Manifest.OrphanKey]) throws {
        try Self.writing {
            report.outputs = [("margins.csv", writer.digest(0)), ("units.csv", writer.digest(1))]
            let manifest = Manifest(shard: shard, accounts: report.summary.accounts, errors: report.summary.errors,
                                    inputs: report.inputs, outputs: report.outputs, orphans: orphans)
            try writer.write(2, manifest.json)
            try writer.commit()
        }
    }

    /// Runs `body`, marking what it throws as an output error.
    private static func writing<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as StreamingBatch.SinkError { throw e } catch { throw StreamingBatch.SinkError(underlying: error) }
    }

    /// Monotonic seconds.
    static func now() -> Double { Clock.monotonicSeconds() }
}
