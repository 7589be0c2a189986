import ArgumentParser
import Foundation
import PMGenerate
import PortfolioMargin

/// `pm generate --accounts N [--seed S] --out DIR [--market PATH] [--no-market-copy] [--params P]`
///
/// Writes a synthetic market snapshot (or uses an existing one) and N synthetic accounts as the batch
/// CSV folder of docs/formats.md. Every file is written as `NAME.tmp` and renamed into place when complete.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate a synthetic market and N synthetic accounts (the batch CSV folder of docs/formats.md).",
        discussion: """
            Writes DIR/accounts.csv, balances.csv, positions.csv and orders.csv, and DIR/market.json. \
            Without --market the market is synthetic (seed 1 reproduces data/sample/market.json); with \
            --market the accounts reference that snapshot, which is copied to DIR/market.json unless \
            --no-market-copy is given (or it already is DIR/market.json). The output depends only on \
            the seed, the account count and the market. The account mix is documented on \
            SyntheticAccounts (directional perpetual traders, option sellers and books, market makers, \
            basis and cross-stablecoin hedgers, order placers, and distressed accounts in every stage).
            """)

    @Option(name: .long, parsing: .unconditional, help: "Number of accounts to generate, 1…10^8.", transform: { try CLIBounds.integer($0) })
    var accounts: Int

    @Option(name: .long, help: "Random seed (an unsigned 64-bit integer); the same seed gives the same bytes.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Output folder (created if missing).")
    var out: String

    @Option(name: .long, help: "Generate the accounts against this existing market snapshot instead of a synthetic one.")
    var market: String?

    @Flag(name: .long, help: "With --market: do not copy the snapshot to DIR/market.json (the CSVs then go with the --market file).")
    var noMarketCopy = false

    @Option(name: .long, help: "Parameter file whose values size the distressed accounts (default: the shipped data/params/pm-params.json).")
    var params: String?

    func validate() throws {
        try CLIBounds.check("--accounts", accounts, CLIBounds.generatedAccounts)
        guard !out.isEmpty else { throw ValidationError("--out must name a folder") }
        if noMarketCopy && market == nil { throw ValidationError("--no-market-copy needs --market") }
    }

    func run() throws {
        let start = Date()
        let fm = FileManager.default
        let marketPath = URL(fileURLWithPath: out).appendingPathComponent("market.json").path
        let snapshot: MarketSnapshot
        var marketBytes: [UInt8]? = nil
        if let market {
            do { snapshot = try MarketSnapshot.load(path: market) } catch { throw Fatal(error) }
            let same = URL(fileURLWithPath: market).standardizedFileURL.resolvingSymlinksInPath().path
                == URL(fileURLWithPath: marketPath).standardizedFileURL.resolvingSymlinksInPath().path
            if !noMarketCopy && !same {
                guard let data = fm.contents(atPath: market) else { throw Fatal("\(market): cannot read the file") }
                marketBytes = [UInt8](data)
            }
        } else {
            let bytes = Array(SyntheticMarket.make(seed: seed).utf8)
            do { snapshot = try MarketSnapshot.parse(JSON.parse(bytes), file: "synthetic market") } catch { throw Fatal(error) }
            marketBytes = bytes
        }

        do { try fm.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
            throw Fatal("\(out): cannot create the output folder: \(error.localizedDescription)")
        }
        let counts: SyntheticAccounts.RowCounts
        do {
            let parameters: ParameterSet
            do { parameters = try ShippedParameters.load(params) } catch { throw Fatal(error) }
            let generator = try SyntheticAccounts(market: snapshot, parameters: parameters, seed: seed)
            counts = try generator.write(count: accounts, to: out)
            if let marketBytes {
                let tmp = marketPath + ".tmp"
                guard fm.createFile(atPath: tmp, contents: Data(marketBytes)) else { throw Fatal("\(tmp): cannot write the file") }
                do { try FileSystem.rename(tmp, to: marketPath) } catch { throw Fatal("\(marketPath): cannot rename \(tmp) into place") }
            }
        } catch let f as Fatal {
            throw f
        } catch {
            throw Fatal("\(out): \(error)")
        }
        let seconds = Date().timeIntervalSince(start)
        Stderr.line("pm generate: \(counts.accounts) accounts; rows: accounts.csv \(counts.accounts), balances.csv \(counts.balances), "
                    + "positions.csv \(counts.positions), orders.csv \(counts.orders)"
                    + (marketBytes != nil ? "; market.json written" : "")
                    + "; \(String(format: "%.2f", seconds)) s → \(out)")
    }
}
