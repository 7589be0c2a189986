import ArgumentParser
import Foundation
import PortfolioMargin

/// `pm explain --before DIR0 --before-market M0 [--before-params P0] --after DIR1 --after-market M1
/// [--after-params P1] --out OUT`
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain the day-over-day change of every account's margin: market, parameters, positions.",
        discussion: "Writes explain.csv, explain-units.csv and manifest.json into --out, all three or none; prints the largest MM changes and the stage moves. Exit 3 when some account carries an error.")

    @Option(name: .long, help: "The before day's input folder (as for pm batch).")
    var before: String

    @Option(name: .long, help: "The before day's market snapshot.")
    var beforeMarket: String

    @Option(name: .long, help: "The before day's parameter file (default: the shipped data/params/pm-params.json).")
    var beforeParams: String?

    @Option(name: .long, help: "The after day's input folder.")
    var after: String

    @Option(name: .long, help: "The after day's market snapshot.")
    var afterMarket: String

    @Option(name: .long, help: "The after day's parameter file (default: the shipped one).")
    var afterParams: String?

    @Option(name: .long, help: "Output folder (created if missing) for explain.csv, explain-units.csv and manifest.json.")
    var out: String

    @Option(name: .long, parsing: .unconditional, help: "How many of the largest changes and stage moves to print (≥ 1).",
            transform: { try CLIBounds.integer($0) })
    var top: Int = 10

    @Option(name: .long, parsing: .unconditional, help: "Worker threads, 1…256 (default: all cores).", transform: { try CLIBounds.integer($0) })
    var threads: Int = CLIBounds.defaultThreads

    @Option(name: .long, parsing: .unconditional, help: "Accounts per block of work, 1…10^7.", transform: { try CLIBounds.integer($0) })
    var blockSize: Int = BatchRunner.defaultBlockSize

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1\(CLIBounds.got(top))") }
        try CLIBounds.check("--threads", threads, CLIBounds.threads)
        try CLIBounds.check("--block-size", blockSize, CLIBounds.blockSize)
        for (name, value) in [("--before", before), ("--before-market", beforeMarket), ("--after", after),
                              ("--after-market", afterMarket), ("--out", out)] where value.isEmpty {
            throw ValidationError("\(name) must not be empty")
        }
        for (name, value) in [("--before-params", beforeParams), ("--after-params", afterParams)] where value?.isEmpty == true {
            throw ValidationError("\(name) must not be empty")
        }
    }

    func run() throws {
        InterruptHandler.install()
        let report: ExplainReport
        do {
            var job = ExplainJob(before: .init(input: before, market: beforeMarket, parameters: try ShippedParameters.source(beforeParams, option: "--before-params")),
                                 after: .init(input: after, market: afterMarket, parameters: try ShippedParameters.source(afterParams, option: "--after-params")),
                                 output: out)
            job.threads = threads
            job.blockSize = blockSize
            job.top = top
            report = try job.run()
        } catch {
            throw Fatal(error)
        }
        print(Self.table(report), terminator: "")
        Stderr.line("pm explain: \(report.accounts) accounts (\(report.both) both, \(report.new) new, \(report.gone) gone), "
                    + "\(report.errors) errors, \(report.stageMoveCount) stage moves, \(report.units) unit rows; "
                    + "total \(String(format: "%.2f", report.seconds)) s → \(out)")
        if report.errors > 0 { throw partialFailure }
    }

    /// The stdout table: the largest MM changes with their split, then the stage moves.
    static func table(_ r: ExplainReport) -> String {
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
        func left(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        let idWidth = max(10, (r.largest + r.stageMoves).map { InputError.escapingControls($0.accountId).count }.max() ?? 0)
        var s = "Largest MM changes (USD): change = market + parameters + positions\n"
        if r.largest.isEmpty { s += "  (no account present on both days was computed on both)\n" } else {
            s += left("account", idWidth) + "  " + ["mm_before", "mm_after", "change", "market", "parameters", "positions"].map { pad($0, 20) }.joined(separator: " ") + "\n"
            for row in r.largest {
                s += left(InputError.escapingControls(row.accountId), idWidth) + "  "
                    + [row.mmBefore, row.mmAfter, row.mmChange, row.market, row.parameters, row.positions].map { pad($0, 20) }.joined(separator: " ") + "\n"
            }
        }
        s += "\nStage moves: \(r.stageMoveCount)\n"
        for row in r.stageMoves {
            s += left(InputError.escapingControls(row.accountId), idWidth) + "  " + row.stageBefore + " → " + row.stageAfter
                + "  (MM " + row.mmBefore + " → " + row.mmAfter + ")\n"
        }
        if r.stageMoveCount > r.stageMoves.count { s += "… and \(r.stageMoveCount - r.stageMoves.count) more (explain.csv)\n" }
        return s
    }
}
