extension BatchInput {
    /// The same parsed input with its instrument and coin ids moved from `source`'s layout to
    /// `target`'s (another market snapshot, or the same one under other parameters): the rows, their
    /// sizes, prices and order stay as parsed — nothing is read again. Ids are matched by symbol and
    /// coin name. An account holding an instrument `target` does not list or cannot margin, or a
    /// balance in a coin without a usable index price there, becomes an error account whose message
    /// names the row file, the account, the field and `targetName` (as the reader would have
    /// named the problem, had the input been read against `target`).
    func relaid(from source: PricedMarket, to target: PricedMarket, targetName: String) -> BatchInput {
        // Same instruments in the same order, same coins: the ids already are `target`'s. Only
        // validity can differ (parameters that make a risk array overflow), checked below.
        let sameIds = source.market.instruments.count == target.market.instruments.count
            && source.coins == target.coins
            && zip(source.market.instruments, target.market.instruments).allSatisfy { $0.symbol == $1.symbol }
        // Per source instrument: its target index, or the reason it has none.
        var instrument = [Int32](repeating: -1, count: source.market.instruments.count)
        var instrumentProblem = [String?](repeating: nil, count: source.market.instruments.count)
        for (i, inst) in source.market.instruments.enumerated() {
            guard let j = sameIds ? i : target.market.indexOf(inst.symbol) else {
                instrumentProblem[i] = "instrument \(inst.symbol) is not in \(targetName)"
                continue
            }
            switch target.resolve(instrumentAt: j) {
            case .success: instrument[i] = Int32(j)
            case let .failure(e): instrumentProblem[i] = "\(e.message) (in \(targetName))"
            }
        }
        var coin = [Int32](repeating: -1, count: source.coins.count)
        for (c, name) in source.coins.enumerated() { coin[c] = target.coinId(name) ?? -1 }

        var out = self
        let folder = directory
        func fail(_ a: Int, file: String, field: String, _ message: String) {
            guard out.accountErrors[a] == nil else { return }
            out.accountErrors[a] = InputError(file: folder + "/" + file, record: "account \(accountIds[a])", field: field, message)
        }
        if !sameIds || coin.enumerated().contains(where: { $0.element != Int32($0.offset) }) {
            for a in 0..<accountCount {
                for r in balances.start[a]..<balances.start[a + 1] {
                    let c = Int(balances.ref[r])
                    let m = coin[c]
                    out.balances.ref[r] = max(0, m)
                    if m < 0 { fail(a, file: "balances.csv", field: "coin", "coin \(source.coins[c]) has no usable index price in \(targetName)") }
                }
            }
        }
        for (file, rows, keyPath) in [("positions.csv", positions, \BatchInput.positions), ("orders.csv", orders, \BatchInput.orders)] {
            if sameIds && !instrumentProblem.contains(where: { $0 != nil }) { break }
            for a in 0..<accountCount {
                for r in rows.start[a]..<rows.start[a + 1] {
                    let i = Int(rows.ref[r])
                    out[keyPath: keyPath].ref[r] = max(0, instrument[i])
                    if let problem = instrumentProblem[i] { fail(a, file: file, field: "symbol", problem) }
                }
            }
        }
        return out
    }
}
