import ArgumentParser
import PortfolioMargin

/// `pm whatif ACCOUNT.json --market M [--params P] --add SYMBOL:SIZE[@PRICE] ... [--as-orders] [--format json|table]`
struct WhatIfCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whatif",
        abstract: "Pre-trade check: the account's margin before and after adding trades (or orders).")

    @Argument(help: "One account (FORMATS.md account.json).")
    var account: String

    @OptionGroup var options: MarketOptions

    @Option(name: .long, help: "A trade SYMBOL:SIZE[@PRICE] (size signed; price defaults to mark). Repeatable. An unlisted option or future takes its vol and forward from the snapshot's smile.")
    var add: [String] = []

    @Flag(name: .long, help: "Add the trades as active orders at PRICE instead of positions.")
    var asOrders = false

    @Option(name: .long, help: "Output: json ({\"before\", \"after\"}), table (side by side with changes) or bybit (POST /v5/order/pre-check).")
    var format: MarginFormat = .json

    func validate() throws {
        guard !add.isEmpty else { throw ValidationError("give at least one --add SYMBOL:SIZE[@PRICE]") }
        for a in add { do { _ = try Trade(parsing: a) } catch { throw ValidationError("\(error)") } }
    }

    func run() throws {
        let base = try options.pricedMarket()
        let trades = try add.map { try Trade(parsing: $0) }
        let account = try loadSingleAccount(self.account)
        let priced: PricedMarket
        do { priced = try WhatIf.pricedMarket(base, trades: trades) } catch { throw Fatal(error) }
        for note in WhatIf.smileNotes(base, listing: trades.map(\.symbol)) { Stderr.line("pm whatif: " + note) }
        switch WhatIf.run(account, trades: trades, asOrders: asOrders, priced: priced, file: self.account) {
        case let .failure(e): throw Fatal(e.description)
        case let .success((before, after)) where format == .bybit:
            print(BybitFormat.render(BybitFormat.preCheck(before: before, after: after, time: priced.market.time)))
        case let .success((before, after)):
            print(format == .json ? WhatIf.json(before: before, after: after).render() : WhatIf.table(before: before, after: after),
                  terminator: format == .json ? "\n" : "")
        }
    }
}
