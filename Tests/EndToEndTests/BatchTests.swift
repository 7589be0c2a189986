import Foundation
import Testing
@testable import PMGenerate
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
        let files = try GenerateTests.generate(n, seed: 7)
        let dir = BatchFiles.tempDir("archetypes")
        defer { TestTemp.remove(dir) }
        for (f, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + f.fileName)) }
        let accounts = GenerateTests.accounts(files)
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

/// `pm batch` end to end: files whole or not at all.
struct BatchCommandTests {
    @Test func writesBothFilesAndExits3OnAccountErrors() throws {
        var accounts = RandomAccounts.make(20, seed: 2)
        accounts[1].positions.append(Position(symbol: "NOPE", size: 1))
        let dir = BatchFiles.tempDir("cmd")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(accounts, to: dir)
        let out = try CLI.run(["batch", "--input", dir, "--market", "data/sample/market.json", "--out", dir + "/out"])
        #expect(out.status == 3, "\(out.stderr)")
        #expect(out.stderr.contains("20 accounts, 1 errors"))
        let m = try BatchFiles.read(dir + "/out/margins.csv")
        #expect(m.count == 20 && m[1]["error"]!.contains("NOPE"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/out").sorted() == ["manifest.json", "margins.csv", "units.csv"])
    }

    /// The output folder and its missing parents are created (the README's main job writes out/sample).
    @Test func createsNestedOutputFolders() throws {
        let dir = BatchFiles.tempDir("nested")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(3, seed: 2), to: dir)
        let out = try CLI.run(["batch", "--input", dir, "--market", "data/sample/market.json", "--out", dir + "/a/b/c"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/a/b/c/margins.csv"))
    }

    @Test func aFatalErrorWritesNothing() throws {
        let dir = BatchFiles.tempDir("cmdfatal")
        defer { TestTemp.remove(dir) }
        try BatchFiles.write(RandomAccounts.make(5, seed: 2), to: dir)
        try FileManager.default.removeItem(atPath: dir + "/balances.csv")
        let out = try CLI.run(["batch", "--input", dir, "--market", "data/sample/market.json", "--out", dir + "/out"])
        #expect(out.status == 1)
        #expect(out.stderr.contains("balances.csv"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/margins.csv"))
        let badShard = try CLI.run(["batch", "--input", dir, "--market", "data/sample/market.json", "--out", dir + "/out", "--shard", "3/3"])
        #expect(badShard.status == 1 && badShard.stderr.contains("shard"))
    }

    /// An interrupted run leaves no output files (and no temporary ones).
    @Test func anInterruptedRunLeavesNoPartialOutput() throws {
        let dir = BatchFiles.tempDir("interrupt")
        defer { TestTemp.remove(dir) }
        // Enough accounts that a debug build takes well over the time it takes to interrupt it.
        let base = RandomAccounts.make(50, seed: 6)
        var many: [Account] = []
        for k in 0..<4000 { for var a in base { a.id += "-\(k)"; many.append(a) } }
        try BatchFiles.write(many, to: dir)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["batch", "--input", dir, "--market", TestSupport.path("data/sample/market.json"),
                       "--params", TestSupport.path("data/params/pm-params.json"), "--out", dir + "/out", "--threads", "1"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait for the staging folder beside OUT to appear, then interrupt.
        var started = false
        for _ in 0..<2000 {
            if let items = try? FileManager.default.contentsOfDirectory(atPath: dir), items.contains(where: { $0.hasPrefix(".out.pm-tmp.") }) {
                started = true
                break
            }
            usleep(5000)
        }
        p.interrupt()
        p.waitUntilExit()
        #expect(started)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/out")) ?? []
        #expect(!((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).contains { $0.hasPrefix(".") }, "staging folder left")
        if p.terminationStatus == 128 + SIGINT {
            #expect(left.isEmpty, "left behind: \(left)")
        } else {
            // The run finished before the signal: then all three files are complete.
            #expect(left.sorted() == ["manifest.json", "margins.csv", "units.csv"])
        }
    }
}
