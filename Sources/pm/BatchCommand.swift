import ArgumentParser
import Foundation
import PortfolioMargin

/// `pm batch --input DIR --market MARKET.json [--params P] --out DIR [--shard I/N] [--threads T]`
struct BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Margin every account of a CSV folder; write margins.csv, units.csv and manifest.json, all three or none.")

    @Option(name: .long, help: "Folder with accounts.csv, balances.csv, positions.csv and (optional) orders.csv.")
    var input: String

    @OptionGroup var options: MarketOptions

    @Option(name: .long, help: "Output folder (created if missing) for margins.csv, units.csv and manifest.json; replaced as a whole when the run completes (other plain files in it are kept).")
    var out: String

    @Option(name: .long, parsing: .unconditional,
            help: "Compute only shard I of N (0 ≤ I < N ≤ 10^6): accounts whose FNV-1a 64 id hash mod N is I.")
    var shard: String?

    @Option(name: .long, parsing: .unconditional, help: "Worker threads, 1…256 (default: all cores).", transform: { try CLIBounds.integer($0) })
    var threads: Int = CLIBounds.defaultThreads

    @Option(name: .long, help: "Aggregation: automatic (BLAS for dense portfolios, gather for sparse), sparse or dense.")
    var aggregation: String = "automatic"

    @Option(name: .long, parsing: .unconditional, help: "Accounts per block of work, 1…10^7.", transform: { try CLIBounds.integer($0) })
    var blockSize: Int = BatchRunner.defaultBlockSize

    @Flag(name: .long, help: "No progress bar, even on a terminal.")
    var quiet = false

    func parsedShard() throws -> (index: Int, count: Int)? {
        guard let shard else { return nil }
        return try CLIBounds.shard(shard)
    }

    func validate() throws {
        _ = try parsedShard()
        try CLIBounds.check("--threads", threads, CLIBounds.threads)
        try CLIBounds.check("--block-size", blockSize, CLIBounds.blockSize)
        guard EngineOptions.Aggregation(rawValue: aggregation) != nil else {
            throw ValidationError("--aggregation must be automatic, sparse or dense")
        }
    }

    func run() throws {
        InterruptHandler.install()
        let start = Date()
        // accounts.csv is read (split, id table) on threads of its own while the market is loaded
        // and priced and the output folder opened: they do not depend on each other (issue 9).
        // Its errors still come where they always did (`StreamingBatch.run` throws them); a run
        // that fails before stops it.
        // (`validate` has checked --shard: `parsedShard` throws no more here.)
        var accounts: StreamingBatch.AccountsReadAhead?
        if case .success(let shard) = Result(catching: { try parsedShard() }) {
            accounts = StreamingBatch.AccountsReadAhead(directory: input, shard: shard, threads: threads)
        }
        defer { accounts?.cancel() }
        let priced = try options.pricedMarket()
        // Digests of market and params for manifest.json, as computed while they were read.
        let marketDigest: InputDigest, paramsDigest: InputDigest
        do {
            func digest(_ path: String) throws -> InputDigest {
                if let d = InputDigests.digest(ofPath: path) { return InputDigest(d) }
                return try InputDigest(path: path)   // a file not read through InputFile
            }
            marketDigest = try digest(options.market)
            paramsDigest = try digest(try options.params ?? ShippedParameters.path())
        } catch { throw Fatal(error) }
        // Open (and check) the output folder before the work: a refused --out costs nothing.
        let names = ["margins.csv", "units.csv", "manifest.json"]
        var writer: OutputFiles
        do { writer = try OutputFiles(directory: out, names: names) } catch { throw Fatal(error) }
        let progress = Progress(enabled: !quiet && isatty(2) != 0, start: start)
        var engine = EngineOptions()
        engine.aggregation = EngineOptions.Aggregation(rawValue: aggregation)!
        let split: SplitInfo?
        let shardSpec: ShardSpec?
        do {
            split = try SplitInfo.load(directory: input)
            shardSpec = try SplitInfo.shard(given: try parsedShard().map { ShardSpec(index: $0.index, count: $0.count) }, split: split, input: input)
        } catch {
            writer.abandon()
            throw Fatal(error)
        }
        // Row files grouped by account in accounts.csv order are streamed block by block, in
        // memory bounded by the block (docs/readings.md item 43); otherwise (nil) the staged output
        // is dropped and the whole-file path below runs from the start.
        var streamed: StreamingBatch.Outcome?
        do {
            do {
                try writer.write(0, BatchOutput.marginsHeader)
                try writer.write(1, BatchOutput.unitsHeader)
            } catch { throw StreamingBatch.SinkError(underlying: error) }
            streamed = try StreamingBatch.run(directory: input, priced: priced, shard: try parsedShard(), threads: threads,
                                              blockSize: blockSize, options: engine, accounts: accounts, progress: progress.update,
                                              sink: { m, u in try writer.write(0, m); try writer.write(1, u) })
            if let streamed {
                try split?.check(read: streamed.digests, input: input)
                let inputDigests = (split?.source ?? streamed.digests) + [("market", marketDigest), ("params", paramsDigest)]
                do {
                    let manifest = Manifest(shard: shardSpec, accounts: streamed.summary.accounts, errors: streamed.summary.errors, inputs: inputDigests,
                                            outputs: [("margins.csv", writer.digest(0)), ("units.csv", writer.digest(1))],
                                            orphans: streamed.orphanFirstSeen)
                    try writer.write(2, manifest.json)
                    try writer.commit()
                } catch { throw StreamingBatch.SinkError(underlying: error) }
            }
        } catch let e as StreamingBatch.SinkError {
            writer.abandon()
            throw Fatal("\(out): \(e.underlying)")
        } catch {
            writer.abandon()
            throw Fatal(error)
        }
        if var streamed {
            streamed.summary.seconds = Date().timeIntervalSince(start)
            try finish(streamed.summary, orphanRows: streamed.orphanRows, parseSeconds: streamed.accountsSeconds, progress: progress)
            return
        }
        writer.abandon()
        do { writer = try OutputFiles(directory: out, names: names) } catch { throw Fatal(error) }
        let batch: BatchInput
        let inputDigests: [(name: String, digest: InputDigest)]
        do {
            batch = try BatchInput.load(directory: input, priced: priced, shard: try parsedShard(), threads: threads)
            try split?.check(read: batch.digests, input: input)
            inputDigests = (split?.source ?? batch.digests) + [("market", marketDigest), ("params", paramsDigest)]
        } catch {
            writer.abandon()
            throw Fatal(error)
        }
        let parsed = Date()

        var summary: BatchSummary
        do {
            try writer.write(0, BatchOutput.marginsHeader)
            try writer.write(1, BatchOutput.unitsHeader)
            summary = try BatchRunner.run(batch, priced: priced, threads: threads, blockSize: blockSize, options: engine,
                                          progress: progress.update) { m, u in
                try writer.write(0, m)
                try writer.write(1, u)
            }
            let manifest = Manifest(shard: shardSpec, accounts: summary.accounts, errors: summary.errors, inputs: inputDigests,
                                    outputs: [("margins.csv", writer.digest(0)), ("units.csv", writer.digest(1))],
                                    orphans: batch.orphanFirstSeen)
            try writer.write(2, manifest.json)
            try writer.commit()
        } catch {
            writer.abandon()
            throw Fatal("\(out): \(error)")
        }
        summary.seconds = Date().timeIntervalSince(start)
        try finish(summary, orphanRows: batch.orphanRows, parseSeconds: parsed.timeIntervalSince(start), progress: progress)
    }

    /// The orphan rows and the one-line summary on stderr; exit 3 when some account failed (FORMATS.md).
    func finish(_ summary: BatchSummary, orphanRows: [InputError], parseSeconds: Double, progress: Progress) throws {
        progress.finish()
        for e in orphanRows.prefix(20) { Stderr.line(e.description) }
        if orphanRows.count > 20 { Stderr.line("… and \(orphanRows.count - 20) more rows whose account is not in accounts.csv") }
        let stages = zip(Stage.allCases, summary.stages).map { "\($0.rawValue) \($1)" }.joined(separator: ", ")
        let rate = Double(summary.accounts) / max(summary.seconds, 1e-9)
        Stderr.line("pm batch: \(summary.accounts) accounts, \(summary.errors) errors, \(stages); "
                    + "BLAS core \(BLASKernel.check().description); "
                    + "orphan rows \(summary.orphanRows); parse \(String(format: "%.2f", parseSeconds)) s, "
                    + "total \(String(format: "%.2f", summary.seconds)) s (\(Int(rate)) accounts/s) → \(out)")
        if summary.errors > 0 || summary.orphanRows > 0 { throw partialFailure }
    }
}

/// A progress bar on stderr: accounts done, accounts/s, ETA. Only on a terminal.
final class Progress {
    let enabled: Bool
    let start: Date
    var shown = false

    init(enabled: Bool, start: Date) {
        self.enabled = enabled
        self.start = start
    }

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        let t = Date().timeIntervalSince(start)
        let rate = Double(done) / max(t, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 30
        let filled = Int(Double(width) * Double(done) / Double(total))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total) accounts  \(Int(rate))/s  ETA \(String(format: "%.1f", eta)) s ".utf8))
        shown = true
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
