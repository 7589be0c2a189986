import ArgumentParser
import PortfolioMargin

/// `pm margin ACCOUNT.json --market MARKET.json [--params PARAMS.json] [--format json|table]`
struct MarginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "margin",
        abstract: "Margin one account, or a JSON array of accounts, and print the full breakdown.")

    @Argument(help: "An account (docs/formats.md account.json), or a JSON array of accounts.")
    var account: String

    @OptionGroup var options: MarketOptions

    @Option(name: .long, help: "Output: json (docs/formats.md result), table (a readable ladder) or bybit (GET /v5/asset/portfolio-margin).")
    var format: MarginFormat = .json

    func run() throws {
        let priced = try options.pricedMarket()
        let loaded: (isArray: Bool, accounts: [Result<Account, AccountError>])
        do { loaded = try Account.load(path: account) } catch { throw Fatal(error) }
        let results = MarginSession.margin(loaded.accounts, priced: priced, file: account)
        if !loaded.isArray, case let .failure(e) = results[0] { throw Fatal(e.description) }
        let failures = results.filter { if case .failure = $0 { return true }; return false }.count
        switch format {
        case .json:
            let docs = results.map { r -> JSON in
                switch r {
                case let .success(m): return m.json
                case let .failure(e): return e.json
                }
            }
            print(loaded.isArray ? JSON.array(docs).render() : docs[0].render())
        case .table:
            for r in results {
                switch r {
                case let .success(m): print(m.table())
                case let .failure(e): print("Account \(e.accountId): error: \(e.error)\n")
                }
            }
        case .bybit:
            let docs = zip(results, loaded.accounts).map { r, a -> JSON in
                switch (r, a) {
                case let (.success(m), .success(acct)): return BybitFormat.portfolioMargin(m, account: acct, priced: priced)
                case let (.failure(e), _), let (_, .failure(e)): return e.json
                }
            }
            print(BybitFormat.render(loaded.isArray ? .array(docs) : docs[0]))
        }
        for case let .failure(e) in results where loaded.isArray { Stderr.line(e.description) }
        if failures > 0 { throw partialFailure }
    }
}
