import ArgumentParser
import PortfolioMargin

/// `pm split --input DIR --shards N --out DIR` (docs/sharding.md).
struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Cut a batch input folder into N folders OUT/shard-I, each with only its shard's accounts and rows.",
        discussion: """
            One pass over each file. Shard I holds the accounts whose id hashes to I (the hash of \
            pm batch --shard), so pm batch on OUT/shard-I computes what pm batch --shard I/N computes \
            on the whole folder, reading 1/N of it; pm merge joins the results.
            """)

    @Option(name: .long, help: "The batch input folder (accounts.csv, balances.csv, positions.csv, optional orders.csv).")
    var input: String

    @Option(name: .long, help: "Number of shards N.")
    var shards: Int

    @Option(name: .long, help: "Folder for shard-0 … shard-(N-1) (created if missing).")
    var out: String

    func validate() throws {
        guard shards >= 1, shards <= InputSplit.maxShards else {
            throw ValidationError("--shards must be between 1 and \(InputSplit.maxShards)")
        }
    }

    func run() throws {
        InterruptHandler.install()
        let dirs: [String]
        do { dirs = try InputSplit.split(input: input, count: shards, out: out) } catch { throw Fatal(error) }
        Stderr.line("pm split: \(dirs.count) folders → \(out)/shard-0 … shard-\(dirs.count - 1)")
    }
}
