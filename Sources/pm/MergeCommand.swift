import ArgumentParser
import PortfolioMargin

/// `pm merge SHARD_OUT... --accounts accounts.csv --out DIR` (docs/formats.md "Scale-out").
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the output folders of the N shards of one run (pm batch, or pm backtest) into one folder.",
        discussion: """
            The result is byte for byte what one unsharded pm batch writes, in accounts.csv order. \
            Refused (exit 1, nothing written): shards of different inputs, a shard missing or given \
            twice, an accounts.csv other than the one the shards read, an account missing or present twice.
            """)

    @Argument(help: "The shards' output folders (each with margins.csv, units.csv, manifest.json), in any order.")
    var shards: [String]

    @Option(name: .long, help: "The accounts.csv the shards read (it fixes the row order).")
    var accounts: String

    @Option(name: .long, help: "Output folder for the merged files (replaced as a whole, like pm batch --out).")
    var out: String

    func run() throws {
        InterruptHandler.install()
        let m: Manifest
        do {
            // Backtest shards (pm backtest --shard) are recognised by their manifest.
            if let first = shards.first, BacktestMerge.isBacktest(directory: first) {
                m = try BacktestMerge.merge(shards: shards, accounts: accounts, out: out).manifest
            } else {
                m = try ShardMerge.merge(shards: shards, accounts: accounts, out: out).manifest
            }
        } catch { throw Fatal(error) }
        Stderr.line("pm merge: \(shards.count) shards, \(m.accounts) accounts, \(m.errors) errors → \(out)")
        if m.errors > 0 { throw partialFailure }
    }
}
