import ArgumentParser
import PortfolioMargin

/// `pm merge SHARD_OUT... --accounts accounts.csv --out DIR` (FORMATS.md "Scale-out").
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the output folders of the N shards of one run into one margins.csv, units.csv and manifest.json.",
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
        let outcome: ShardMerge.Outcome
        do { outcome = try ShardMerge.merge(shards: shards, accounts: accounts, out: out) } catch { throw Fatal(error) }
        let m = outcome.manifest
        Stderr.line("pm merge: \(shards.count) shards, \(m.accounts) accounts, \(m.errors) errors → \(out)")
        if m.errors > 0 { throw partialFailure }
    }
}
