import Foundation
import Testing
@testable import PMGenerate
@testable import PortfolioMargin

/// Generated books in memory (`SyntheticAccounts`), for the generator's tests and the tests that need many accounts.
enum GeneratedBook {
    /// The repository root (this file is `<root>/Tests/PMTestSupport/GeneratedBook.swift`).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    static let market: MarketSnapshot = try! MarketSnapshot.load(path: path("data/sample/market.json"))
    static let params: ParameterSet = try! ParameterSet.load(path: path("data/params/pm-params.json"))

    typealias Files = [SyntheticAccounts.File: [UInt8]]

    /// The four files of `count` accounts, in memory.
    static func generate(_ count: Int, seed: UInt64, blockSize: Int = 16384, market: MarketSnapshot = market) throws -> Files {
        var files: Files = [:]
        _ = try SyntheticAccounts(market: market, parameters: TestSupport.shippedParams, seed: seed).generate(count: count, blockSize: blockSize) { f, bytes in
            files[f, default: []] += bytes
        }
        return files
    }

    /// Data rows of a file, split into fields (header checked and dropped).
    static func rows(_ files: Files, _ f: SyntheticAccounts.File) -> [[Substring]] {
        let text = String(decoding: files[f] ?? [], as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "")
        lines.removeLast()
        #expect(lines.first.map { String($0) + "\n" } == f.header)
        return lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
    }

    /// `Account` values built from the generated rows, in `accounts.csv` order.
    static func accounts(_ files: Files) -> [Account] {
        var list: [Account] = []
        var at: [String: Int] = [:]
        for r in rows(files, .accounts) {
            at[String(r[0])] = list.count
            list.append(Account(id: String(r[0]), spotHedging: r[1] == "true"))
        }
        for r in rows(files, .balances) {
            list[at[String(r[0])]!].balances.append(Balance(coin: String(r[1]), walletBalance: Double(r[2])!))
        }
        for r in rows(files, .positions) {
            list[at[String(r[0])]!].positions.append(Position(symbol: String(r[1]), size: Double(r[2])!,
                                                              entryPrice: r[3].isEmpty ? nil : Double(r[3])!))
        }
        for r in rows(files, .orders) {
            list[at[String(r[0])]!].orders.append(Order(symbol: String(r[1]), side: Side(rawValue: String(r[2]))!,
                                                        qty: Double(r[3])!, price: Double(r[4])!))
        }
        return list
    }
}
