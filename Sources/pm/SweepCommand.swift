import ArgumentParser
import Foundation
import PortfolioMargin

/// `pm sweep --input DIR --market M [--params P] [--set COIN.param=v1,v2,...]... [--shock COIN=m1,m2,...]...
///          [--iv-scale s1,s2,...] [--top N] --out DIR`
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Re-margin a whole book under every combination of parameter changes and market shocks.",
        discussion: "Writes sweep.csv (totals and stage counts per combination; combination 0 is the unmodified base) and top.csv (the accounts whose MM rises most per combination), whole or not at all, and prints a readable table. Exit 3 when some combination counts accounts in error (a holding the combination makes unusable).")

    @Option(name: .long, help: "Input folder (as for pm batch).")
    var input: String

    @OptionGroup var options: MarketOptions

    @Option(name: .long, parsing: .unconditionalSingleValue, help: "COIN.param=v1,v2,... — a parameter of docs/model.md §9 to vary (COIN may be `default`). Repeatable.")
    var set: [String] = []

    @Option(name: .long, parsing: .unconditionalSingleValue, help: "COIN=m1,m2,... — relative moves of the coin's index, marks and forwards (-0.2 = down 20%). Repeatable.")
    var shock: [String] = []

    @Option(name: .long, parsing: .unconditionalSingleValue, help: "s1,s2,... — factors on every implied vol (once).")
    var ivScale: [String] = []

    @Option(name: .long, parsing: .unconditional, help: "How many accounts with the largest MM increase to list per combination (≥ 1).",
            transform: { try CLIBounds.integer($0) })
    var top: Int = 10

    @Option(name: .long, help: "Output folder for sweep.csv and top.csv.")
    var out: String

    @Option(name: .long, parsing: .unconditional, help: "Worker threads, 1…256 (default: all cores).", transform: { try CLIBounds.integer($0) })
    var threads: Int = CLIBounds.defaultThreads

    func settings() throws -> [SweepSetting] {
        try SweepSetting.parseAll(set: set, shock: shock, ivScale: ivScale)
    }

    func validate() throws {
        do { _ = try settings() } catch { throw ValidationError("\(error)") }
        guard top >= 1 else { throw ValidationError("--top must be at least 1\(CLIBounds.got(top))") }
        try CLIBounds.check("--threads", threads, CLIBounds.threads)
    }

    func run() throws {
        InterruptHandler.install()
        let start = Date()
        let base = try options.pricedMarket()
        let settings = try self.settings()
        let batch: BatchInput
        do { batch = try BatchInput.load(directory: input, priced: base, threads: threads) } catch { throw Fatal(error) }
        let progress = Progress(enabled: FileDescriptor.standardError.isTerminal, start: start)
        let results: [SweepCombination]
        do {
            results = try Sweep.run(batch, base: base, settings: settings, top: top, threads: threads) { k, n in
                progress.update(k, n)
            }
        } catch { throw Fatal(error) }
        progress.finish()

        do {
            let files = try OutputPair(directory: out, names: ["sweep.csv", "top.csv"])
            try files.write(0, SweepOutput.sweepCSV(results, settings: settings))
            try files.write(1, SweepOutput.topCSV(results, accountIds: batch.accountIds))
            try files.commit()
        } catch { throw Fatal(error) }

        print(SweepOutput.table(results, settings: settings, accountIds: batch.accountIds))
        Stderr.line("pm sweep: \(batch.accountCount) accounts × \(results.count) combinations in \(String(format: "%.2f", Date().timeIntervalSince(start))) s → \(out)")
        // Exit 3, as pm batch: the outputs are complete, but some combination has accounts in error.
        if results.contains(where: { $0.errors > 0 }) { throw partialFailure }
    }
}
