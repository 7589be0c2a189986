import Foundation
import Testing
@testable import PMGenerate
@testable import PortfolioMargin
@testable import PMTestSupport

struct BatchTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)

    func runBatch(_ dir: String, shard: (Int, Int)? = nil, options: EngineOptions = EngineOptions(), blockSize: Int = 64) throws -> (margins: [[String: String]], units: [[String: String]], summary: BatchSummary) {
        let input = try BatchInput.load(directory: dir, priced: priced, shard: shard, threads: 2)
        let out = dir + "/out-\(shard.map { "\($0.0)of\($0.1)" } ?? "all")-\(options.aggregation.rawValue)"
        let files = try OutputPair(directory: out, names: ["margins.csv", "units.csv"])
        try files.write(0, BatchOutput.marginsHeader)
        try files.write(1, BatchOutput.unitsHeader)
        let s = try BatchRunner.run(input, priced: priced, threads: 2, blockSize: blockSize, options: options) { m, u in
            try files.write(0, m); try files.write(1, u)
        }
        try files.commit()
        return (try BatchFiles.read(out + "/margins.csv"), try BatchFiles.read(out + "/units.csv"), s)
    }

    /// Batch results equal one-account results (1e-9 relative) on accounts of every kind.
    @Test func batchEqualsOneAccountMargin() throws {
        var accounts = RandomAccounts.make(400, seed: 5)
        for f in try FileManager.default.contentsOfDirectory(atPath: TestSupport.path("data/examples")) where f.hasSuffix(".json") {
            accounts.append(try Account.load(path: TestSupport.path("data/examples/\(f)")).accounts[0].get())
        }
        let dir = BatchFiles.tempDir("eq")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(accounts, to: dir)
        let (margins, units, summary) = try runBatch(dir)
        #expect(summary.errors == 0)
        #expect(margins.count == accounts.count)
        var unitRow = 0
        for (k, account) in accounts.enumerated() {
            let one = try MarginEngine.margin(account, priced: priced).get()
            let row = margins[k]
            #expect(row["account_id"] == account.id)
            for (col, v) in [("margin_balance", one.marginBalance), ("order_loss", one.orderLoss), ("total_im", one.totalIM),
                             ("total_mm", one.totalMM), ("im_rate", one.imRate), ("mm_rate", one.mmRate)] {
                let got = row[col] == "inf" ? Double.infinity : Double(row[col]!)!
                #expect(got == v || TestSupport.close(got, v), "\(account.id) \(col): \(got) vs \(v)")
            }
            #expect(row["stage"] == one.stage.rawValue)
            for u in one.units {
                let r = units[unitRow]
                unitRow += 1
                #expect(r["account_id"] == account.id && r["base_coin"] == u.baseCoin)
                #expect(TestSupport.close(Double(r["max_loss"]!)!, u.maxLoss))
                #expect(TestSupport.close(Double(r["mm"]!)!, u.mm), "\(account.id) \(u.baseCoin) mm")
                #expect(TestSupport.close(Double(r["future_delta_contingency"]!)!, u.contingency.futureDeltaContingency))
                #expect(Double(r["max_loss_price_move"]!)! == u.maxLossPriceMove)
                #expect(r["max_loss_iv_shock"] == u.maxLossIvShock.name)
                #expect(r["governing_portfolio"] == u.governingPortfolio.name)
                #expect(TestSupport.close(Double(r["hedge_spot_size"]!)!, u.hedgeSpotSize))
            }
        }
        #expect(unitRow == units.count)
    }

    /// The same on the generator's mix: every archetype (market makers with hundreds of legs,
    /// basis traders with liabilities, distressed accounts in every stage, ...), 1e-9 relative.
    @Test func batchEqualsOneAccountMarginOnEveryArchetype() throws {
        let n = 1500
        let gen = try SyntheticAccounts(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams, seed: 7)
        let files = try GeneratedBook.generate(n, seed: 7)
        let dir = BatchFiles.tempDir("archetypes")
        defer { TestTemp.remove(dir) }
        for (f, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + f.fileName)) }
        let accounts = GeneratedBook.accounts(files)
        let (margins, units, summary) = try runBatch(dir, blockSize: 97)
        #expect(summary.errors == 0 && margins.count == n)
        var seen = Set<Int>()
        var unitRow = 0
        for (k, account) in accounts.enumerated() {
            seen.insert(gen.archetype(of: k).rawValue)
            let one = try MarginEngine.margin(account, priced: priced).get()
            let row = margins[k]
            for (col, v) in [("total_mm", one.totalMM), ("total_im", one.totalIM), ("margin_balance", one.marginBalance),
                             ("order_loss", one.orderLoss), ("mm_rate", one.mmRate), ("im_rate", one.imRate)] {
                let got = row[col] == "inf" ? Double.infinity : Double(row[col]!)!
                #expect(got == v || TestSupport.close(got, v), "\(account.id) \(col)")
            }
            #expect(row["stage"] == one.stage.rawValue)
            for u in one.units {
                let r = units[unitRow]
                unitRow += 1
                #expect(r["base_coin"] == u.baseCoin && TestSupport.close(Double(r["mm"]!)!, u.mm), "\(account.id) \(u.baseCoin)")
                #expect(r["governing_portfolio"] == u.governingPortfolio.name)
            }
        }
        #expect(seen.count == SyntheticAccounts.Archetype.allCases.count, "archetypes covered: \(seen.sorted())")
    }

    /// The BLAS (dense) and gather (sparse) aggregations give the same numbers.
    @Test func blasAndSparseAgree() throws {
        let accounts = RandomAccounts.make(300, seed: 9)
        let book = Book(priced: priced, accounts: accounts)
        let sparse = MarginEngine.run(book, options: EngineOptions(aggregation: .sparse))
        let dense = MarginEngine.run(book, options: EngineOptions(aggregation: .dense))
        let auto = MarginEngine.run(book, options: EngineOptions(aggregation: .automatic, denseThreshold: 0.05))
        for a in 0..<book.accountCount {
            #expect(TestSupport.close(sparse.totalMM[a], dense.totalMM[a]), "account \(a)")
            #expect(TestSupport.close(sparse.totalMM[a], auto.totalMM[a]))
            #expect(sparse.stage[a] == dense.stage[a])
        }
        for u in 0..<book.unitCount {
            #expect(TestSupport.close(sparse.unitMaxLoss[u], dense.unitMaxLoss[u]))
            #expect(sparse.unitGoverning[u] == dense.unitGoverning[u])
        }
    }

    /// The union of the shards equals one run (same rows, each account in exactly one shard).
    @Test func shardUnionEqualsOneRun() throws {
        let dir = BatchFiles.tempDir("shard")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(300, seed: 3), to: dir)
        let all = try runBatch(dir)
        var union: [[String: String]] = [], unionUnits: [[String: String]] = []
        for i in 0..<3 {
            let s = try runBatch(dir, shard: (i, 3))
            union += s.margins
            unionUnits += s.units
            for row in s.margins {
                #expect(ByteKeyTable.fnv1a(row["account_id"]!) % 3 == UInt64(i))
            }
        }
        let key: ([String: String]) -> String = { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";") }
        #expect(Set(union.map(key)) == Set(all.margins.map(key)))
        #expect(union.count == all.margins.count)
        #expect(Set(unionUnits.map(key)) == Set(all.units.map(key)))
    }

    /// FNV-1a 64 is the published function (stable across machines): known vectors.
    @Test func shardHashIsFNV1a() {
        #expect(ByteKeyTable.fnv1a("") == 0xcbf29ce484222325)
        #expect(ByteKeyTable.fnv1a("a") == 0xaf63dc4c8601ec8c)
        #expect(ByteKeyTable.fnv1a("foobar") == 0x85944171f73967e8)
    }

    /// A few broken accounts: each reports its reason; every other account is computed.
    @Test func brokenAccountsDoNotStopTheBatch() throws {
        var accounts = RandomAccounts.make(50, seed: 4)
        accounts[3].positions.append(Position(symbol: "NO-SUCH-SYMBOL", size: 1))
        accounts[7].balances.append(Balance(coin: "FOO", walletBalance: 3))
        accounts[9].orders.append(Order(symbol: "BTCUSDT", side: .buy, qty: -1, price: 90000))
        let dir = BatchFiles.tempDir("broken")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(accounts, to: dir,
                             extraPositions: ["R-4-11,BTCUSDT,abc,", "GHOST,BTCUSDT,1,", "R-4-12,BTCUSDT,1,-5"],
                             extraAccounts: ["R-4-20,true", "R-4-X,yes"])
        let (margins, _, summary) = try runBatch(dir)
        func error(_ id: String) -> String { margins.first { $0["account_id"] == id }?["error"] ?? "" }
        #expect(error("R-4-3").contains("NO-SUCH-SYMBOL") && error("R-4-3").contains("symbol"))
        #expect(error("R-4-7").contains("FOO"))
        #expect(error("R-4-9").contains("qty"))
        #expect(error("R-4-11").contains("size") && error("R-4-11").contains("positions.csv: line"))
        #expect(error("R-4-12").contains("entry_price"))
        #expect(error("R-4-X").contains("spot_hedging"))
        // Duplicate id: every row of that id is an error.
        #expect(margins.filter { $0["account_id"] == "R-4-20" }.allSatisfy { $0["error"]!.contains("duplicate") })
        #expect(margins.filter { $0["account_id"] == "R-4-20" }.count == 2)
        #expect(summary.orphanRows == 1)
        // An id only in positions.csv gets an error row after the accounts.csv rows (docs/formats.md).
        #expect(margins.last?["account_id"] == "GHOST")
        #expect(error("GHOST").contains("positions.csv: line") && error("GHOST").contains("not in accounts.csv"))
        let failed = Set(["R-4-3", "R-4-7", "R-4-9", "R-4-11", "R-4-12", "R-4-20", "R-4-X", "GHOST"])
        for row in margins where !failed.contains(row["account_id"]!) {
            #expect(row["error"] == "" && row["stage"] != "", "\(row)")
        }
        for row in margins where failed.contains(row["account_id"]!) {
            #expect(row["stage"] == "" && row["total_mm"] == "")
        }
        #expect(summary.errors == 9)   // 6 accounts + both rows of the duplicate id + GHOST
    }

    /// Structural problems are fatal: a missing column, a wrong field count (named by line).
    @Test func structuralProblemsAreFatal() throws {
        let dir = BatchFiles.tempDir("fatal")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(5, seed: 1), to: dir)
        try "account_id,size\nR-1-0,1\n".write(toFile: dir + "/positions.csv", atomically: true, encoding: .utf8)
        #expect(throws: InputError.self) { try BatchInput.load(directory: dir, priced: priced) }
        do { _ = try BatchInput.load(directory: dir, priced: priced) } catch let e as InputError {
            #expect(e.field == "symbol" && e.file.hasSuffix("positions.csv"))
        }
        try "account_id,symbol,size\nR-1-0,BTCUSDT,1\nR-1-1,BTCUSDT\n".write(toFile: dir + "/positions.csv", atomically: true, encoding: .utf8)
        do { _ = try BatchInput.load(directory: dir, priced: priced); Issue.record("expected a fatal error") } catch let e as InputError {
            #expect(e.record == "line 3", "\(e)")
        }
    }

    /// Unsorted rows (an account's rows scattered through the file) are grouped, in file order.
    @Test func scatteredRowsAreGrouped() throws {
        let accounts = RandomAccounts.make(60, seed: 8)
        let dir = BatchFiles.tempDir("scatter")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(accounts, to: dir)
        // Reverse the data lines of positions.csv.
        var lines = try String(contentsOfFile: dir + "/positions.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        let header = lines.removeFirst()
        try ([header] + lines.reversed()).joined(separator: "\n").appending("\n").write(toFile: dir + "/positions.csv", atomically: true, encoding: .utf8)
        let (margins, _, _) = try runBatch(dir)
        for (k, a) in accounts.enumerated() {
            let one = try MarginEngine.margin(a, priced: priced).get()
            #expect(TestSupport.close(Double(margins[k]["total_mm"]!)!, one.totalMM), "\(a.id)")
        }
    }
}
