import ArgumentParser
import PortfolioMargin

/// `pm whatif ACCOUNT.json --market M [--params P] --add SYMBOL:SIZE[@PRICE] ... [--as-orders] [--format json|table]`,
/// or `pm whatif ACCOUNT.json --market M --max-size SYMBOL [--side buy|sell] [--limit im|mm|stage] [--step Q] [--max Q]`
struct WhatIfCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whatif",
        abstract: "Pre-trade check: the account's margin before and after adding trades (or orders); or the largest order that keeps a limit (--max-size).")

    @Argument(help: "One account (docs/formats.md account.json).")
    var account: String

    @OptionGroup var options: MarketOptions

    @Option(name: .long, help: "A trade SYMBOL:SIZE[@PRICE] (size signed; price defaults to mark). Repeatable. An unlisted option or future takes its vol and forward from the snapshot's smile.")
    var add: [String] = []

    @Flag(name: .long, help: "Add the trades as active orders at PRICE instead of positions.")
    var asOrders = false

    @Option(name: .customLong("max-size"), help: "Instead of --add: the largest order of SYMBOL (a listed instrument) such that every size from 0 up to it, on the --step grid, keeps --limit.")
    var maxSize: String?

    @Option(name: .long, parsing: .unconditional, help: "With --max-size: buy (default) or sell.")
    var side: String?

    @Option(name: .long, parsing: .unconditional, help: "With --max-size: im (imRate ≤ 1, default), mm (mmRate < 1) or stage (the stage unchanged).")
    var limit: String?

    @Option(name: .long, parsing: .unconditional, help: "With --max-size: the grid step, > 0 (default 0.001 coin; 1 USD contract for inverse instruments).")
    var step: String?

    @Option(name: .long, parsing: .unconditional, help: "With --max-size: the largest size searched (default: a notional of 100 × the margin balance, at most 10^6 steps); capped: true when reached.")
    var max: String?

    @Option(name: .long, help: "Output: json ({\"before\", \"after\"}), table (side by side with changes) or bybit (POST /v5/order/pre-check).")
    var format: MarginFormat = .json

    func validate() throws {
        if maxSize != nil {
            guard add.isEmpty, !asOrders else { throw ValidationError("--max-size cannot be combined with --add or --as-orders") }
            guard format != .bybit else { throw ValidationError("--max-size prints json or table, not bybit") }
            do {
                if let side { _ = try TradeArguments.side(side) }
                if let limit { _ = try TradeArguments.limit(limit) }
                _ = try TradeArguments.grid(step: step, max: max)
            } catch { throw ValidationError("\(error)") }
            return
        }
        for (name, value) in [("--side", side), ("--limit", limit), ("--step", step), ("--max", max)] where value != nil {
            throw ValidationError("\(name) goes with --max-size")
        }
        guard !add.isEmpty else { throw ValidationError("give at least one --add SYMBOL:SIZE[@PRICE]") }
        for a in add { do { _ = try Trade(parsing: a) } catch { throw ValidationError("\(error)") } }
    }

    func run() throws {
        if let maxSize { return try runMaxSize(maxSize) }
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

    /// `--max-size SYMBOL`: the largest order keeping the limit (docs/model.md §14).
    func runMaxSize(_ symbol: String) throws {
        let priced = try options.pricedMarket()
        let account = try loadSingleAccount(self.account)
        let side: Side, limit: MarginLimit, grid: (step: Double?, max: Double?)
        do {
            let instrument = try TradeArguments.symbol(symbol, priced: priced)
            side = try self.side.map(TradeArguments.side) ?? .buy
            limit = try self.limit.map(TradeArguments.limit) ?? .im
            grid = try TradeArguments.grid(step: step, max: max, defaultStep: MaxSize.defaultStep(instrument))
        } catch { throw Fatal(error) }
        switch MaxSize.run(account, symbol: symbol, side: side, limit: limit, step: grid.step, max: grid.max, priced: priced, file: self.account) {
        case let .failure(e): throw Fatal(e.description)
        case let .success(a):
            print(format == .table ? MaxSize.table(a) : MaxSize.json(a).render(), terminator: format == .table ? "" : "\n")
        }
    }
}
