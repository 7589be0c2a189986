import ArgumentParser
import PortfolioMargin

/// `pm liquidate ACCOUNT.json --market M [--params P] [--format json|table]`
struct LiquidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "liquidate",
        abstract: "Plan the liquidation of an account: cancel orders, then reduce positions until the MM rate is at most 90%.")

    @Argument(help: "One account (docs/formats.md account.json).")
    var account: String

    @OptionGroup var options: MarketOptions

    @Option(name: .long, help: "Output: json (docs/formats.md) or table (one line per step).")
    var format: OutputFormat = .json

    func run() throws {
        let priced = try options.pricedMarket()
        let parsed = try loadSingleAccount(account)
        switch LiquidationPlan.plan(for: parsed, priced: priced, file: account) {
        case let .failure(e): throw Fatal(e.description)
        case let .success(plan): print(format == .json ? plan.json.render() : plan.table(), terminator: format == .json ? "\n" : "")
        }
    }
}

/// Loads a file that must hold exactly one valid account; fatal otherwise.
func loadSingleAccount(_ path: String) throws -> Account {
    let loaded: (isArray: Bool, accounts: [Result<Account, AccountError>])
    do { loaded = try Account.load(path: path) } catch { throw Fatal(error) }
    guard !loaded.isArray, loaded.accounts.count == 1 else { throw Fatal("\(path): expected one account object, not an array") }
    switch loaded.accounts[0] {
    case let .success(a): return a
    case let .failure(e): throw Fatal(e.description)
    }
}
