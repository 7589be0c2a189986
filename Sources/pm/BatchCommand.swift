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

    @Option(name: .long, parsing: .unconditional, help: "Threads of work, the calling thread (which also reads and writes) included: 1 runs on one thread; 1…256 (default: all cores).", transform: { try CLIBounds.integer($0) })
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
        let report: BatchReport
        let progress = Progress(enabled: !quiet && FileDescriptor.standardError.isTerminal, start: start)
        do {
            var job = BatchJob(input: input, market: options.market, parameters: try ShippedParameters.source(options.params), output: out)
            // (`validate` has checked --shard: `parsedShard` throws no more here.)
            job.shard = try parsedShard().map { ShardSpec(index: $0.index, count: $0.count) }
            job.threads = threads
            job.blockSize = blockSize
            job.options.aggregation = EngineOptions.Aggregation(rawValue: aggregation)!
            job.progress = progress.update
            report = try job.run()
        } catch {
            throw Fatal(error)
        }
        try finish(report, progress: progress)
    }

    /// The orphan rows and the one-line summary on stderr; exit 3 when some account failed (docs/formats.md).
    func finish(_ report: BatchReport, progress: Progress) throws {
        let summary = report.summary, orphanRows = report.orphanRows
        progress.finish()
        for e in orphanRows.prefix(20) { Stderr.line(e.description) }
        if orphanRows.count > 20 { Stderr.line("… and \(orphanRows.count - 20) more rows whose account is not in accounts.csv") }
        let stages = zip(Stage.allCases, summary.stages).map { "\($0.rawValue) \($1)" }.joined(separator: ", ")
        let rate = Double(summary.accounts) / max(summary.seconds, 1e-9)
        Stderr.line("pm batch: \(summary.accounts) accounts, \(summary.errors) errors, \(stages); "
                    + "BLAS core \(BLASKernel.check().description); "
                    + "orphan rows \(summary.orphanRows); parse \(String(format: "%.2f", report.parseSeconds)) s, "
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
