import ArgumentParser
import Foundation
import PortfolioMargin

/// `pm bybit import|reconcile`: Bybit V5 interop (docs/formats.md "Bybit V5 interop").
struct BybitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bybit",
        abstract: "Read an account from saved Bybit V5 responses; compare Bybit's portfolio-margin figures with ours.",
        subcommands: [BybitImportCommand.self, BybitReconcileCommand.self])
}

/// The output formats of `pm margin` and `pm whatif`: ours, a table, or Bybit's own shapes.
enum MarginFormat: String, ExpressibleByArgument, CaseIterable {
    case json, table, bybit
}

/// `pm bybit import RESPONSE.json... --out DIR [--id ACCOUNT_ID] [--index COIN=PRICE]...`
struct BybitImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Write DIR/market.json and DIR/account.json from saved Bybit V5 responses (any order, pages allowed).")

    @Argument(help: "Saved responses: tickers, instruments-info, position list, wallet balance, open orders, account info.")
    var responses: [String] = []

    @Option(name: .long, help: "Output folder (created if missing).")
    var out: String

    @Option(name: .long, help: "The account id written into account.json.")
    var id: String = "bybit"

    @Option(name: .long, help: "A USD index price COIN=PRICE, over what the responses give (stablecoins default to 1). Repeatable.")
    var index: [String] = []

    /// `--index COIN=PRICE`s: a coin of 1–20 upper-case letters or digits (as Bybit names coins),
    /// each at most once (a later one would silently replace an earlier one).
    func parsedIndex() throws -> [String: Double] {
        var m: [String: Double] = [:]
        for s in index {
            let parts = s.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let v = Double(parts[1]), v.isFinite, v > 0 else {
                throw ValidationError("--index expects COIN=PRICE with a positive price, got \(InputError.echo(s))")
            }
            let coin = String(parts[0])
            guard (1...20).contains(coin.utf8.count), coin.utf8.allSatisfy({ (48...57).contains($0) || (65...90).contains($0) }) else {
                throw ValidationError("--index: expected a coin of 1–20 upper-case letters or digits (e.g. BTC=70500), got \(InputError.echo(coin))")
            }
            guard m[coin] == nil else {
                throw ValidationError("--index: coin \(InputError.echo(coin)) given twice (give each coin once)")
            }
            m[coin] = v
        }
        return m
    }

    func validate() throws {
        guard !responses.isEmpty else { throw ValidationError("give at least one saved response file") }
        _ = try parsedIndex()
    }

    func run() throws {
        do {
            let output = try BybitImport.run(paths: responses, accountId: id, indexOverrides: try parsedIndex())
            try BybitImport.write(output, to: out)
        } catch let e as ValidationError { throw e } catch { throw Fatal(error) }
    }
}

/// `pm bybit reconcile RESPONSE.json --account A --market M [--params P] [--format table|json] [--tolerance ABS]`
struct BybitReconcileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compare Bybit's GET /v5/asset/portfolio-margin response with this engine's result, field by field (exit 3 when something differs).")

    @Argument(help: "A saved GET /v5/asset/portfolio-margin response.")
    var response: String

    @Option(name: .long, help: "The account (docs/formats.md account.json).")
    var account: String

    @OptionGroup var options: MarketOptions

    @Option(name: .long, help: "Output: table (differences first, each with the model component behind it) or json.")
    var format: OutputFormat = .table

    @Option(name: .long, parsing: .unconditional, help: "Absolute tolerance in USD (default 0.01); a relative difference up to 1e-6 also matches.")
    var tolerance: Double = 0.01

    func validate() throws {
        guard tolerance.isFinite, tolerance >= 0 else { throw ValidationError("--tolerance must be a finite number ≥ 0") }
    }

    func run() throws {
        let priced = try options.pricedMarket()
        let acct = try loadSingleAccount(account)
        let report: BybitReconcile.Report
        do {
            let theirs = try BybitReconcile.loadResponse(path: response)
            let ours: MarginResult
            switch MarginEngine.margin(acct, priced: priced) {
            case let .success(r): ours = r
            case let .failure(e): throw Fatal(e.description)
            }
            let mine = BybitFormat.portfolioMargin(ours, account: acct, priced: priced)
            report = try BybitReconcile.compare(ours: mine, theirs: theirs, tolerance: tolerance, parameters: priced.parameters, file: response)
        } catch let f as Fatal { throw f } catch { throw Fatal(error) }
        print(format == .json ? report.renderJSON() : report.table(), terminator: format == .json ? "\n" : "")
        if report.differing > 0 || !report.onlyTheirs.isEmpty || !report.onlyOurs.isEmpty { throw partialFailure }
    }
}
