import Foundation
@testable import PortfolioMargin

/// Writes accounts as a docs/formats.md batch folder, and reads batch outputs back.
enum BatchFiles {
    /// A new empty folder under the test process's temporary root (TestTemp: removed at exit).
    static func tempDir(_ name: String) -> String { TestTemp.dir(name) }

    static func write(_ accounts: [Account], to dir: String, extraPositions: [String] = [], extraAccounts: [String] = []) throws {
        var a = "account_id,spot_hedging\n", b = "coin,account_id,wallet_balance\n"   // any column order
        var p = "account_id,symbol,size,entry_price\n", o = "account_id,symbol,side,qty,price\n"
        for x in accounts {
            a += "\(x.id),\(x.spotHedging)\n"
            for r in x.balances { b += "\(r.coin),\(x.id),\(r.walletBalance)\n" }
            for r in x.positions { p += "\(x.id),\(r.symbol),\(r.size),\(r.entryPrice.map { "\($0)" } ?? "")\n" }
            for r in x.orders { o += "\(x.id),\(r.symbol),\(r.side.rawValue),\(r.qty),\(r.price)\n" }
        }
        for line in extraAccounts { a += line + "\n" }
        for line in extraPositions { p += line + "\n" }
        try a.write(toFile: dir + "/accounts.csv", atomically: true, encoding: .utf8)
        try b.write(toFile: dir + "/balances.csv", atomically: true, encoding: .utf8)
        try p.write(toFile: dir + "/positions.csv", atomically: true, encoding: .utf8)
        try o.write(toFile: dir + "/orders.csv", atomically: true, encoding: .utf8)
    }

    /// Rows of a CSV output as dictionaries (our outputs quote only the error field).
    static func read(_ path: String) throws -> [[String: String]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let header = lines.removeFirst().split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        return lines.map { line in
            var fields: [String] = []
            var cur = "", quoted = false
            var chars = Array(line)
            var i = 0
            while i < chars.count {
                let c = chars[i]
                if quoted {
                    if c == "\"" { if i + 1 < chars.count && chars[i + 1] == "\"" { cur.append("\""); i += 1 } else { quoted = false } }
                    else { cur.append(c) }
                } else if c == "\"" { quoted = true } else if c == "," { fields.append(cur); cur = "" } else { cur.append(c) }
                i += 1
            }
            fields.append(cur)
            chars = []
            return Dictionary(uniqueKeysWithValues: zip(header, fields))
        }
    }
}

/// Random valid accounts on the sample market, covering every feature.
enum RandomAccounts {
    static func make(_ n: Int, seed: UInt64, market: MarketSnapshot = TestSupport.sampleMarket) -> [Account] {
        var rng = SplitMix(seed: seed)
        let symbols = market.instruments.filter { market.instrumentProblems[$0.symbol] == nil }
        func pick() -> Instrument { symbols[Int(rng.next() % UInt64(symbols.count))] }
        return (0..<n).map { k in
            var a = Account(id: "R-\(seed)-\(k)", spotHedging: rng.unit() < 0.5)
            a.balances.append(Balance(coin: rng.unit() < 0.5 ? "USDT" : "USDC", walletBalance: (rng.unit() * 200000).rounded()))
            if rng.unit() < 0.4 { a.balances.append(Balance(coin: ["BTC", "ETH", "SOL"][Int(rng.next() % 3)], walletBalance: (rng.unit() - 0.3) * 20)) }
            let count = Int(rng.next() % (rng.unit() < 0.05 ? 150 : 8))
            for _ in 0..<count {
                let i = pick()
                let size = i.isInverse ? (rng.unit() - 0.5) * 200000 : (rng.unit() - 0.5) * 20
                a.positions.append(Position(symbol: i.symbol, size: rng.unit() < 0.05 ? 0 : size,
                                            entryPrice: i.kind != .option && rng.unit() < 0.5 ? i.markPrice * (0.9 + 0.2 * rng.unit()) : nil))
            }
            for _ in 0..<Int(rng.next() % 4) {
                let i = rng.unit() < 0.5 && !a.positions.isEmpty ? market.instrument(a.positions[0].symbol)! : pick()
                a.orders.append(Order(symbol: i.symbol, side: rng.unit() < 0.5 ? .buy : .sell,
                                      qty: (i.isInverse ? 100000 : 5) * (0.01 + rng.unit()), price: i.markPrice * (0.95 + 0.1 * rng.unit())))
            }
            return a
        }
    }
}
