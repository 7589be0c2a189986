import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The head of `pm batch` overlapped: accounts.csv is split by helper
/// threads while the id table is built from the chunks already split (`BatchInput.loadAccounts`),
/// and the whole read runs on a thread of its own while the market is loaded
/// (`StreamingBatch.AccountsReadAhead`). The table, the bytes and every error and its precedence
/// are those of the serial read, whatever the thread count.
struct HeadStartTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)
    let sparse = EngineOptions(aggregation: .sparse)

    /// An accounts.csv of `n` lines with every kind of per-account problem spread over the file
    /// (so over many chunks): duplicates whose lines are far apart, an empty id, a bad
    /// spot_hedging, a spot_hedging that is not UTF-8, quoted ids (one with a line break), blank
    /// lines, CRLF line ends.
    func accountsText(_ n: Int, ids: [String]) -> [UInt8] {
        var out: [UInt8] = Array("account_id,spot_hedging\r\n".utf8)
        for k in 0..<n {
            let id = ids[k % ids.count]
            switch k {
            case 5: out += Array(",true\r\n".utf8)                                          // empty id
            case 17: out += Array("\(id),yes\r\n".utf8)                                     // bad spot_hedging
            case 23: out += Array("\(id),".utf8) + [0x74, 0xFF] + Array("\r\n".utf8)        // not UTF-8
            case 31: out += Array("\"Q,\(k)\"\"x\r\ny\",false\r\n".utf8)                    // quoted, comma, quote, line break
            case 40: out += Array("\r\n".utf8)                                              // blank line
            case n - 3: out += Array("\(ids[2]),true\r\n".utf8)                             // duplicate of line 4, far away
            case n / 2: out += Array("\(ids[2]),false\r\n".utf8)                            // and another, in the middle
            default: out += Array("\(id)-\(k),\(k % 3 == 0)\r\n".utf8)
            }
        }
        return out
    }

    func tableSummary(_ t: BatchInput.AccountTable) -> [String] {
        var lines = ["count \(t.count) ids \(t.ids.count) digest \(t.digest)"]
        lines += t.accountIds.indices.map { "\(t.accountIds[$0]) \(t.spotHedging[$0]) \(t.errors[$0].map { "\($0)" } ?? "-")" }
        lines.append("keep \(t.keep.map(String.init).joined(separator: " "))")
        for (a, id) in t.accountIds.enumerated() where !id.isEmpty {
            var s = id
            let k = s.withUTF8 { t.ids.find($0.baseAddress!, $0.count) }
            lines.append("find \(a) \(k >= 0 ? t.keep[Int(k)] : -2)")
        }
        return lines
    }

    /// The pipelined read gives the same table at 1, 2, 3 and 8 threads (1: every chunk split and
    /// inserted in turn on one thread; 8: up to 128 chunks, most split by helpers), with and
    /// without shards, and the problems land on the right accounts and lines.
    @Test func theTableDoesNotDependOnTheThreads() throws {
        let dir = BatchFiles.tempDir("headstart-table")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = accountsText(3000, ids: ["A", "B", "C", "D"])
        try Data(text).write(to: URL(fileURLWithPath: dir + "/accounts.csv"))
        for shard in [nil, (index: 0, count: 2), (index: 2, count: 3)] as [(index: Int, count: Int)?] {
            let reference = tableSummary(try BatchInput.loadAccounts(directory: dir, shard: shard, threads: 1))
            for threads in [2, 3, 8] {
                for _ in 0..<3 {
                    let t = tableSummary(try BatchInput.loadAccounts(directory: dir, shard: shard, threads: threads))
                    let same = t == reference
                    #expect(same, "threads \(threads), shard \(String(describing: shard))")
                }
            }
            if shard == nil {
                #expect(reference[0].hasPrefix("count 2999 "))   // 3000 lines, one blank
                let all = reference.joined(separator: "\n")
                #expect(all.contains("accounts.csv: line 7: account_id: empty account id"))
                #expect(all.contains("line 19 (account B): spot_hedging: expected true or false, got \"yes\""))
                #expect(all.contains("line 25 (account D): spot_hedging: invalid UTF-8: \"t\\xFF\""))
                #expect(all.contains("Q,31\"x\r\ny"))
                // Line numbers after the quoted line break and the blank line count physical lines
                // (the reference binary, before the pipeline, writes these same messages).
                #expect(all.contains("duplicate account id (lines 1503, 3000)"), "\(reference.filter { $0.contains("duplicate") })")
            }
        }
    }

    /// A fatal problem in accounts.csv is reported as before — the first one in file order, with
    /// its line — however the chunks are split and whatever else is wrong in the row files; the
    /// read-ahead throws it where reading accounts.csv would (not earlier, not another one).
    @Test func accountsFatalErrorsKeepTheirMessageAndPrecedence() throws {
        let accounts = RandomAccounts.make(400, seed: 31)
        var cases: [(String, (String) throws -> Void)] = []
        cases.append(("a wrong field count late in the file", { dir in
            var text = try String(contentsOfFile: dir + "/accounts.csv", encoding: .utf8)
            text += "LATE,true,extra\n"
            try text.write(toFile: dir + "/accounts.csv", atomically: true, encoding: .utf8)
        }))
        cases.append(("two fatal lines, early and late", { dir in
            var lines = try String(contentsOfFile: dir + "/accounts.csv", encoding: .utf8).split(separator: "\n").map(String.init)
            lines[350] += ",x"
            lines[120] = "\"broken,false"
            try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/accounts.csv", atomically: true, encoding: .utf8)
        }))
        cases.append(("an account id that is not UTF-8", { dir in
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/accounts.csv")))
            bytes += [0x41, 0xC3, 0x28] + Array(",true\n".utf8)
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/accounts.csv"))
        }))
        cases.append(("a missing column", { dir in
            try "account_id\nA\n".write(toFile: dir + "/accounts.csv", atomically: true, encoding: .utf8)
        }))
        cases.append(("no accounts.csv", { dir in try FileManager.default.removeItem(atPath: dir + "/accounts.csv") }))
        for (name, damage) in cases {
            let dir = BatchFiles.tempDir("headstart-fatal")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try BatchFiles.write(accounts, to: dir)
            try damage(dir)
            // A row file broken too (the streamed path would fall back on it, the whole-file one throw).
            try "account_id,symbol,size,entry_price\n\(accounts[0].id),BTCUSDT\n".write(toFile: dir + "/positions.csv", atomically: true, encoding: .utf8)
            func message(_ body: () throws -> Void) -> String {
                do { try body(); return "no error" } catch { return "\(error)" }
            }
            let wholeFile = message { _ = try BatchInput.load(directory: dir, priced: priced, threads: 1) }
            #expect(wholeFile.contains("accounts.csv"), "\(name): \(wholeFile)")
            for threads in [1, 2, 3] {
                #expect(message { _ = try BatchInput.load(directory: dir, priced: priced, threads: threads) } == wholeFile, "\(name), threads \(threads)")
                let plain = message { _ = try StreamingBatch.run(directory: dir, priced: priced, threads: threads, options: sparse, sink: { _, _ in }) }
                #expect(plain == wholeFile, "\(name), streamed, threads \(threads)")
                let ahead = StreamingBatch.AccountsReadAhead(directory: dir, shard: nil, threads: threads)
                let early = message { _ = try StreamingBatch.run(directory: dir, priced: priced, threads: threads, options: sparse,
                                                                  accounts: ahead, sink: { _, _ in }) }
                #expect(early == wholeFile, "\(name), read ahead, threads \(threads)")
            }
        }
    }

    /// With the read-ahead, the streamed run writes the same bytes, summary, orphans and digests as
    /// without it, at 1, 2 and 4 threads, with shards too.
    @Test func theReadAheadGivesTheSameBytes() throws {
        let dir = BatchFiles.tempDir("headstart-bytes")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try BatchFiles.write(RandomAccounts.make(700, seed: 41), to: dir, extraPositions: ["GHOST,BTCUSDT,1,"],
                             extraAccounts: ["DUP,true", "\(RandomAccounts.make(1, seed: 41)[0].id),false", ",true"])
        func run(threads: Int, shard: (index: Int, count: Int)?, ahead: Bool) throws -> String {
            var m: [UInt8] = [], u: [UInt8] = []
            let accounts = ahead ? StreamingBatch.AccountsReadAhead(directory: dir, shard: shard, threads: threads) : nil
            let o = try StreamingBatch.run(directory: dir, priced: priced, shard: shard, threads: threads, blockSize: 37, options: sparse,
                                           bufferSize: 4096, accounts: accounts, sink: { a, b in m += a; u += b })
            guard let o else { return "fallback" }
            return String(decoding: m + u, as: UTF8.self) + "\(o.summary.accounts) \(o.summary.errors) \(o.summary.stages) \(o.orphanRows) "
                + o.digests.map { "\($0.name) \($0.digest)" }.joined(separator: " ")
        }
        for shard in [nil, (index: 1, count: 3)] as [(index: Int, count: Int)?] {
            let reference = try run(threads: 1, shard: shard, ahead: false)
            if shard == nil {
                #expect(reference.contains("duplicate account id"))
                #expect(reference.contains("empty account id"))
            }
            for threads in [1, 2, 4] {
                let same = try run(threads: threads, shard: shard, ahead: true) == reference
                #expect(same, "threads \(threads), shard \(String(describing: shard))")
            }
        }
    }

    /// A read-ahead whose run failed before needing it (a bad market) is cancelled: `cancel`
    /// returns (the helpers stop between chunks) and nothing is left running.
    @Test func aCancelledReadAheadStops() throws {
        let dir = BatchFiles.tempDir("headstart-cancel")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var text = "account_id,spot_hedging\n"
        for k in 0..<200_000 { text += "ACC-\(k),false\n" }
        try text.write(toFile: dir + "/accounts.csv", atomically: true, encoding: .utf8)
        for threads in [2, 4] {
            let ahead = StreamingBatch.AccountsReadAhead(directory: dir, shard: nil, threads: threads)
            ahead.cancel()
            ahead.cancel()   // twice: no-op
        }
        // Not cancelled: the full table.
        let ahead = StreamingBatch.AccountsReadAhead(directory: dir, shard: nil, threads: 2)
        let (table, seconds) = try ahead.take()
        #expect(table.count == 200_000)
        #expect(table.accountIds.last == "ACC-199999")
        #expect(seconds > 0)
    }

    /// `pm batch`: a bad market is reported, not a broken accounts.csv read meanwhile; an unusable
    /// --out too; a broken accounts.csv is reported before a broken row file. Exit 1 each time.
    @Test func theCommandReportsTheErrorItAlwaysDid() throws {
        let dir = BatchFiles.tempDir("headstart-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = dir + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try BatchFiles.write(RandomAccounts.make(50, seed: 2), to: input)
        var text = try String(contentsOfFile: input + "/accounts.csv", encoding: .utf8)
        text += "X,true,extra\n"
        try text.write(toFile: input + "/accounts.csv", atomically: true, encoding: .utf8)
        try "account_id,symbol\n".write(toFile: input + "/positions.csv", atomically: true, encoding: .utf8)
        let market = TestSupport.path("\(CLI.fixtures)/market.json")
        let badMarket = dir + "/market.json"
        try "{\"instruments\": [".write(toFile: badMarket, atomically: true, encoding: .utf8)
        try "a file".write(toFile: dir + "/file", atomically: true, encoding: .utf8)
        for threads in ["1", "2"] {
            let m = try CLI.run(["batch", "--input", input, "--market", badMarket, "--out", dir + "/o", "--threads", threads, "--quiet"])
            #expect(m.status == 1)
            #expect(m.stderr.contains(badMarket) && !m.stderr.contains("accounts.csv"), "\(m.stderr)")
            let o = try CLI.run(["batch", "--input", input, "--market", market, "--out", dir + "/file/o", "--threads", threads, "--quiet"])
            #expect(o.status == 1)
            #expect(o.stderr.contains(dir + "/file") && !o.stderr.contains("accounts.csv"), "\(o.stderr)")
            let a = try CLI.run(["batch", "--input", input, "--market", market, "--out", dir + "/o", "--threads", threads, "--quiet"])
            #expect(a.status == 1)
            #expect(a.stderr.contains(input + "/accounts.csv: line 52") && !a.stderr.contains("positions.csv"), "\(a.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/o/margins.csv"))
        }
    }

    /// `pm` stops OpenBLAS's idle workers at its start (`pm_blas_stop_idle_threads`); its dense rows (dgemm)
    /// are still exactly the library's, at 1 and 2 threads, and the sparse ones too.
    @Test func theCommandsDenseRowsAreTheLibrarys() throws {
        let dir = BatchFiles.tempDir("headstart-dense")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try BatchFiles.write(RandomAccounts.make(300, seed: 13), to: dir)
        for aggregation in [EngineOptions.Aggregation.dense, .sparse] {
            let input = try BatchInput.load(directory: dir, priced: priced, threads: 1)
            var m: [UInt8] = [], u: [UInt8] = []
            _ = try BatchRunner.run(input, priced: priced, threads: 1, options: EngineOptions(aggregation: aggregation)) { a, b in m += a; u += b }
            for threads in ["1", "2"] {
                let out = dir + "/out-\(aggregation.rawValue)-\(threads)"
                let r = try CLI.run(["batch", "--input", dir, "--market", "data/sample/market.json", "--out", out,
                                     "--aggregation", aggregation.rawValue, "--threads", threads, "--quiet"])
                #expect(r.status == 0, "\(r.stderr)")
                let margins = try Data(contentsOf: URL(fileURLWithPath: out + "/margins.csv"))
                let units = try Data(contentsOf: URL(fileURLWithPath: out + "/units.csv"))
                #expect(margins == Data(BatchOutput.marginsHeader + m), "\(aggregation) margins, threads \(threads)")
                #expect(units == Data(BatchOutput.unitsHeader + u), "\(aggregation) units, threads \(threads)")
            }
        }
    }
}
