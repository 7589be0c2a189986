#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One batch run, as a value: an input folder (docs/formats.md), the market and parameter files,
/// the output folder and how to run. ``run()`` is the whole batch — the library's one entry for
/// it (`pm batch` only parses its arguments into a job and prints the ``BatchReport``).
///
/// The run reads `accounts.csv` ahead while the market is loaded and priced, opens (and checks)
/// the output folder, then margins every account through the streaming path (row files grouped
/// by account in `accounts.csv` order, docs/performance.md "Batch memory") or, when the row files are not
/// grouped or have a structural problem, the whole-file path, which reports any such problem with
/// its exact message. `margins.csv`, `units.csv` and `manifest.json` are written all three or none
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
    /// Worker threads (blocks in parallel), exactly.
    public var threads = 2
    /// Accounts per block of work.
    public var blockSize = BatchRunner.defaultBlockSize
    /// The aggregation path.
    public var options = EngineOptions()
    /// Called on the calling thread after each block written with (accounts done, total).
    public var progress: (Int, Int) -> Void = { _, _ in }

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
        var writer = try OutputFiles(directory: output, names: Self.outputNames)
        let split: SplitInfo?
        let shardSpec: ShardSpec?
        do {
            split = try SplitInfo.load(directory: input)
            shardSpec = try SplitInfo.shard(given: self.shard, split: split, input: input)
        } catch {
            writer.abandon()
            throw error
        }
        var report: BatchReport
        do {
            if let streamed = try stream(priced: priced, accounts: accounts, writer: writer) {
                report = BatchReport(summary: streamed.summary, orphanRows: streamed.orphanRows, parseSeconds: streamed.accountsSeconds,
                                     inputs: (split?.source ?? streamed.digests) + jsonDigests, outputs: [], streamed: true)
                try split?.check(read: streamed.digests, input: input)
                try commit(&report, writer: writer, shard: shardSpec, orphans: streamed.orphanFirstSeen)
            } else {
                // Not grouped (or a structural problem the whole-file path reports): the output
                // staged so far is dropped, and every row file is read whole.
                writer.abandon()
                writer = try OutputFiles(directory: output, names: Self.outputNames)
                let batch = try BatchInput.load(directory: input, priced: priced, shard: shard, threads: threads)
                try split?.check(read: batch.digests, input: input)
                let parsed = Self.now()
                let summary = try Self.writing {
                    try writeHeaders(writer)
                    return try BatchRunner.run(batch, priced: priced, threads: threads, blockSize: max(1, blockSize), options: options,
                                               progress: progress, sink: { m, u in try writer.write(0, m); try writer.write(1, u) })
                }
                report = BatchReport(summary: summary, orphanRows: batch.orphanRows, parseSeconds: parsed - start,
                                     inputs: (split?.source ?? batch.digests) + jsonDigests, outputs: [], streamed: false)
                try commit(&report, writer: writer, shard: shardSpec, orphans: batch.orphanFirstSeen)
            }
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

    /// The streaming path, writing to `writer`; nil when the whole-file path must run instead.
    private func stream(priced: PricedMarket, accounts: StreamingBatch.AccountsReadAhead, writer: OutputFiles) throws -> StreamingBatch.Outcome? {
        try Self.writing { try writeHeaders(writer) }
        return try StreamingBatch.run(directory: input, priced: priced, shard: shard.map { (index: $0.index, count: $0.count) },
                                      threads: max(1, threads), blockSize: max(1, blockSize), options: options, accounts: accounts,
                                      progress: progress, sink: { m, u in try writer.write(0, m); try writer.write(1, u) })
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
    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}
