import ArgumentParser
import PortfolioMargin

/// `pm hedge ACCOUNT.json --market M [--params P] [--coin C] [--kinds perpetual,future,option,spot] [--top N] [--format table|json|csv]`
struct HedgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hedge",
        abstract: "Hedge suggestions: per instrument of the unit's coin, the size that lowers total IM the most, ranked by IM removed.",
        discussion: "Prints nothing but a note when no trade lowers IM (exit 0). The search is described in docs/model.md §14.")

    @Argument(help: "One account (docs/formats.md account.json).")
    var account: String

    @OptionGroup var options: MarketOptions

    @Option(name: .long, help: "The unit's base coin (default: the unit with the largest IM).")
    var coin: String?

    @Option(name: .long, help: "Candidate kinds, a comma list of perpetual, future, option, spot (default: all; spot only with spot hedging on).")
    var kinds: String?

    @Option(name: .long, parsing: .unconditional, help: "How many candidates to print, 1…1000000 (default 10).")
    var top: String?

    @Option(name: .long, help: "Output: table (default), json or csv.")
    var format: HedgeFormat = .table

    func validate() throws {
        do {
            if let kinds { _ = try TradeArguments.kinds(kinds) }
            if let top { _ = try TradeArguments.top(top) }
        } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let priced = try options.pricedMarket()
        let account = try loadSingleAccount(self.account)
        let coin: String?, kinds: Set<HedgeKind>, top: Int
        do {
            coin = try self.coin.map { try TradeArguments.coin($0, priced: priced) }
            kinds = try self.kinds.map(TradeArguments.kinds) ?? Set(HedgeKind.allCases)
            top = try self.top.map(TradeArguments.top) ?? 10
        } catch { throw Fatal(error) }
        switch HedgeSuggestion.run(account, coin: coin, kinds: kinds, top: top, priced: priced, file: self.account) {
        case let .failure(e): throw Fatal(e.description)
        case let .success(report):
            switch format {
            case .table: print(HedgeSuggestion.table(report), terminator: "")
            case .json: print(HedgeSuggestion.json(report).render())
            case .csv: print(HedgeSuggestion.csv(report), terminator: "")
            }
        }
    }
}

/// `pm hedge --format`.
enum HedgeFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv
}
