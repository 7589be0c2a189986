import ArgumentParser
import Foundation
import PortfolioMargin

/// `pm backtest --input DIR --market M [--params P] [--history H] [--horizon DAYS] [--from DATE]
/// [--to DATE] [--confidence C] [--shard I/N] [--threads T] --out OUT` (docs/formats.md "Coverage backtest").
struct BacktestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Replay history's daily moves against today's book; write backtest.csv, backtest-units.csv, scenarios.csv, summary.json and manifest.json, all or none.")

    @Option(name: .long, help: "Folder with accounts.csv, balances.csv, positions.csv and (optional) orders.csv.")
    var input: String

    @OptionGroup var options: MarketOptions

    @Option(name: .long, help: "History folder with index-daily.csv and (optional) iv-daily.csv (default: the shipped data/history).")
    var history: String?

    @Option(name: .long, parsing: .unconditional, help: "Horizon in whole days, 1…365 (default 1).")
    var horizon: String?

    @Option(name: .long, help: "First scenario date YYYY-MM-DD (default: the first usable date of the history).")
    var from: String?

    @Option(name: .long, help: "Last scenario date YYYY-MM-DD, inclusive (default: the last usable date of the history).")
    var to: String?

    @Option(name: .long, parsing: .unconditional, help: "Confidence level, strictly between 0 and 1 (default 0.99).")
    var confidence: String?

    @Option(name: .long, help: "Output folder (created if missing); replaced as a whole when the run completes.")
    var out: String

    @Option(name: .long, parsing: .unconditional,
            help: "Backtest only shard I of N (0 ≤ I < N ≤ 10^6): accounts whose FNV-1a 64 id hash mod N is I.")
    var shard: String?

    @Option(name: .long, parsing: .unconditional, help: "Threads of work, the calling thread (which also reads and writes) included: 1 runs on one thread; 1…256 (default: all cores).", transform: { try CLIBounds.integer($0) })
    var threads: Int = CLIBounds.defaultThreads

    @Option(name: .long, parsing: .unconditional, help: "Accounts per block of work, 1…10^7.", transform: { try CLIBounds.integer($0) })
    var blockSize: Int = 4096

    @Flag(name: .long, help: "No progress bar, even on a terminal.")
    var quiet = false

    /// The backtest options from their texts (`BacktestOptions.parse`), as a validation error.
    func parsedOptions() throws -> BacktestOptions {
        do { return try BacktestOptions.parse(horizon: horizon, from: from, to: to, confidence: confidence) } catch let e as InputError {
            throw ValidationError(e.description)
        }
    }

    func validate() throws {
        if let shard { _ = try CLIBounds.shard(shard) }
        _ = try parsedOptions()
        try CLIBounds.check("--threads", threads, CLIBounds.threads)
        try CLIBounds.check("--block-size", blockSize, CLIBounds.blockSize)
    }

    func run() throws {
        InterruptHandler.install()
        let start = Date()
        let progress = Progress(enabled: !quiet && FileDescriptor.standardError.isTerminal, start: start)
        let report: BacktestReport
        do {
            var job = BacktestJob(input: input, market: options.market, parameters: try ShippedParameters.source(options.params),
                                  history: try history ?? ShippedHistory.path(), output: out)
            job.options = try parsedOptions()
            job.shard = try shard.map { s in let p = try CLIBounds.shard(s); return ShardSpec(index: p.index, count: p.count) }
            job.threads = threads
            job.blockSize = blockSize
            job.progress = progress.update
            report = try job.run()
        } catch {
            throw Fatal(error)
        }
        progress.finish()
        let t = report.totals, s = report.scenarios
        let rate = t.backtested == 0 ? "n/a" : String(format: "%.4f%%", 100 * Double(t.breaches) / (Double(t.backtested) * Double(s.count)))
        let worst = t.worstScenarios().first.map { History.dateText(s.days[$0]) } ?? "none"
        Stderr.line("pm backtest: \(s.count) scenarios \(History.dateText(s.days.first!))…\(History.dateText(s.days.last!)) "
                    + "(horizon \(s.horizon) d), \(t.accounts) accounts, \(t.errors) errors, breach rate \(rate), "
                    + "green \(t.zones[0]), yellow \(t.zones[1]), red \(t.zones[2]); worst date \(worst); "
                    + "\(String(format: "%.2f", Date().timeIntervalSince(start))) s → \(out)")
        if t.errors > 0 { throw partialFailure }
    }
}

/// The history shipped with the package (`data/history`), found as the shipped parameters are.
enum ShippedHistory {
    static let relativePath = "data/history"

    static func path() throws -> String {
        guard let root = shippedRoot(holding: relativePath + "/" + History.indexFile) else {
            throw InputError(file: relativePath, "the shipped history folder was not found in the current folder, the executable's folder or their parents; pass --history DIR")
        }
        return URL(fileURLWithPath: root).appendingPathComponent(relativePath).path
    }
}
