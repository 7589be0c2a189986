import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The batch CSV reader can be trusted: quoting, line endings, non-numbers, bad bytes,
/// odd files and ids absent from accounts.csv never change a margin silently or stop the batch
/// without a message (docs/formats.md "CSV is RFC 4180", per-account errors).
struct CSVTrustTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)

    /// A CSV text rewritten: every field quoted (quotes doubled) and/or other line ends. The source
    /// is plain LF CSV without quotes.
    static func restyle(_ text: String, quoteAll: Bool, eol: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        return lines.map { line in
            line.split(separator: ",", omittingEmptySubsequences: false).map { f in
                quoteAll ? "\"" + f.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : String(f)
            }.joined(separator: ",")
        }.joined(separator: eol) + eol
    }

    /// Copies the batch folder `src` to a new folder in the given style.
    static func restyled(_ src: String, quoteAll: Bool, eol: String) throws -> String {
        let dst = BatchFiles.tempDir("style")
        for f in ["accounts.csv", "balances.csv", "positions.csv", "orders.csv"] {
            let text = try String(contentsOfFile: src + "/" + f, encoding: .utf8)
            try Data(restyle(text, quoteAll: quoteAll, eol: eol).utf8).write(to: URL(fileURLWithPath: dst + "/" + f))
        }
        return dst
    }

    // @unchecked Sendable: written only by the batch sink, which runs on BatchRunner's one serial writer
    // queue; read after `BatchRunner.run` returns (it waits for the writer first).
    final class Bytes: @unchecked Sendable { var m = BatchOutput.marginsHeader, u = BatchOutput.unitsHeader }

    /// The bytes of margins.csv and units.csv for the folder `dir`.
    func outputs(_ dir: String, threads: Int = 2, blockSize: Int = 64, shard: (Int, Int)? = nil) throws -> (margins: [UInt8], units: [UInt8], summary: BatchSummary) {
        let input = try BatchInput.load(directory: dir, priced: priced, shard: shard, threads: threads)
        let out = Bytes()
        // The gather for every row: BLAS dgemm sums in an order that depends on a block's row count,
        // and these tests compare block sizes (the reader, not the aggregation, is under test).
        let s = try BatchRunner.run(input, priced: priced, threads: threads, blockSize: blockSize,
                                    options: EngineOptions(aggregation: .sparse)) { m, u in out.m += m; out.u += u }
        return (out.m, out.u, s)
    }

    func marginsRows(_ bytes: [UInt8]) throws -> [[String: String]] {
        let path = BatchFiles.tempDir("rows") + "/margins.csv"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try BatchFiles.read(path)
    }

    func write(_ dir: String, _ files: [String: String]) throws {
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + name)) }
    }

    /// One short BTC perpetual on little collateral: its MM is large, so misattributing either row
    /// changes the result.
    static let smallBook = [
        "accounts.csv": "account_id,spot_hedging\nA1,false\nA2,false\nA3,false\n",
        "balances.csv": "account_id,coin,wallet_balance\nA1,USDT,1000\nA2,USDT,1000000\nA3,USDC,50000\n",
        "positions.csv": "account_id,symbol,size,entry_price\nA1,BTCUSDT,-5,\nA2,BTCUSDT,0.001,\nA3,ETHUSDT,-1,\n",
        "orders.csv": "account_id,symbol,side,qty,price\n",
    ]

    // MARK: 1, 2, 11 — quoting and line endings change no byte of the results

    /// Random valid accounts (and the generator's archetypes), written plain, every field quoted,
    /// with CRLF, with CR, and quoted with CR: the same margins.csv and units.csv, byte for byte,
    /// with 1, 2 and 5 threads (so chunk boundaries fall in many places) and small blocks.
    @Test(arguments: [UInt64(11), 12])
    func quotingAndLineEndsChangeNoByte(seed: UInt64) throws {
        let plain = BatchFiles.tempDir("plain")
        defer { TestTemp.remove(plain) }
        try BatchFiles.write(RandomAccounts.make(120, seed: seed), to: plain)
        let reference = try outputs(plain)
        #expect(reference.summary.errors == 0)
        #expect(reference.summary.accounts == 120)
        for (quote, eol) in [(true, "\n"), (false, "\r\n"), (false, "\r"), (true, "\r"), (true, "\r\n")] {
            let dir = try Self.restyled(plain, quoteAll: quote, eol: eol)
            for threads in [1, 2, 5] {
                let got = try outputs(dir, threads: threads, blockSize: [7, 64, 1][threads % 3])
                let what = "quoted \(quote), eol \(eol.debugDescription), threads \(threads)"
                // (Compared as Bools: a failure message with both files in it would be megabytes.)
                let sameMargins = got.margins == reference.margins, sameUnits = got.units == reference.units
                #expect(sameMargins, "margins.csv differs: \(what)")
                #expect(sameUnits, "units.csv differs: \(what)")
            }
        }
    }

    @Test func generatorArchetypesQuotedWithCRGiveTheSameBytes() throws {
        let plain = BatchFiles.tempDir("genplain")
        defer { TestTemp.remove(plain) }
        for (f, bytes) in try GeneratedBook.generate(400, seed: 21) {
            try Data(bytes).write(to: URL(fileURLWithPath: plain + "/" + f.fileName))
        }
        let reference = try outputs(plain)
        #expect(reference.summary.accounts == 400 && reference.summary.errors == 0)
        let dir = try Self.restyled(plain, quoteAll: true, eol: "\r")
        for threads in [1, 2] {
            let got = try outputs(dir, threads: threads, blockSize: 13)
            let same = got.margins == reference.margins && got.units == reference.units
            #expect(same, "threads \(threads)")
        }
    }

    /// Issue 7 case 1 by hand: quoted balance and position rows land on their own accounts
    /// (poor accounts short 5 BTC next to rich ones: a row on the wrong account changes stages).
    @Test func quotedRowsLandOnTheirOwnAccounts() throws {
        var a = "account_id,spot_hedging\n", b = "account_id,coin,wallet_balance\n", p = "account_id,symbol,size,entry_price\n"
        for k in 0..<40 {
            a += "K\(k),false\n"
            b += k % 2 == 0 ? "K\(k),USDT,1000\n" : "K\(k),USDT,1000000\n"
            p += k % 2 == 0 ? "K\(k),BTCUSDT,-5,\n" : "K\(k),ETHUSDT,0.001,\n"
        }
        let book = ["accounts.csv": a, "balances.csv": b, "positions.csv": p, "orders.csv": "account_id,symbol,side,qty,price\n"]
        let plain = BatchFiles.tempDir("q1plain"), quoted = BatchFiles.tempDir("q1quoted")
        defer { TestTemp.remove(plain); TestTemp.remove(quoted) }
        try write(plain, book)
        try write(quoted, book.mapValues { Self.restyle($0, quoteAll: true, eol: "\n") })
        let reference = try marginsRows(outputs(plain).margins)
        for (k, row) in reference.enumerated() { #expect((row["stage"] == "healthy") == (k % 2 == 1), "\(row)") }
        for threads in [1, 2] {
            let rows = try marginsRows(outputs(quoted, threads: threads).margins)
            #expect(rows == reference, "threads \(threads): \(rows.prefix(4))")
        }
    }

    /// Issue 7 case 2: quoted ids in accounts.csv are distinct ids, not duplicates.
    @Test func quotedIdsInAccountsCsvStayDistinct() throws {
        let dir = BatchFiles.tempDir("qids")
        defer { TestTemp.remove(dir) }
        var book = Self.smallBook
        book["accounts.csv"] = "account_id,spot_hedging\n\"A1\",false\n\"A2\",\"false\"\n\"A3\",false\n"
        try write(dir, book)
        let rows = try marginsRows(outputs(dir).margins)
        #expect(rows.map { $0["account_id"]! } == ["A1", "A2", "A3"])
        #expect(rows.allSatisfy { $0["error"] == "" }, "\(rows)")
        #expect(rows[1]["margin_balance"].flatMap { Double($0) }.map { $0 > 900_000 } == true)
    }

    /// Ids holding commas, quotes and line breaks (legal when quoted) are those ids, and their
    /// rows are theirs: each account's numbers equal the one-account engine's.
    @Test func idsWithCommasQuotesAndLineBreaks() throws {
        var accounts = RandomAccounts.make(40, seed: 31)
        let odd = ["A,1", "B\"2", "C\n3", "D\r\n4", "E\r5", "\"F\"", " G ", "H\u{E9}\u{1F600}"]
        for (k, id) in odd.enumerated() { accounts[k * 4].id = id }
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        var a = "account_id,spot_hedging\r\n", b = "account_id,coin,wallet_balance\r\n", p = "account_id,symbol,size,entry_price\r\n"
        var o = "account_id,symbol,side,qty,price\r\n"
        for x in accounts {
            a += "\(q(x.id)),\(x.spotHedging)\r\n"
            for r in x.balances { b += "\(q(x.id)),\(r.coin),\(r.walletBalance)\r\n" }
            for r in x.positions { p += "\(q(x.id)),\(q(r.symbol)),\(r.size),\(r.entryPrice.map { "\($0)" } ?? "")\r\n" }
            for r in x.orders { o += "\(q(x.id)),\(r.symbol),\(r.side.rawValue),\(r.qty),\(r.price)\r\n" }
        }
        let dir = BatchFiles.tempDir("oddids")
        defer { TestTemp.remove(dir) }
        try write(dir, ["accounts.csv": a, "balances.csv": b, "positions.csv": p, "orders.csv": o])
        for threads in [1, 3] {
            let input = try BatchInput.load(directory: dir, priced: priced, threads: threads)
            #expect(input.accountIds == accounts.map(\.id))
            let figures = BatchRunner.accountFigures(input, priced: priced)
            for (k, x) in accounts.enumerated() {
                let one = try MarginEngine.margin(x, priced: priced).get()
                #expect(figures.mm[k] == one.totalMM || TestSupport.close(figures.mm[k], one.totalMM), "\(x.id.debugDescription)")
            }
        }
    }

    // MARK: 3 — line ends, quoted line breaks, line numbers

    /// CR-only line ends: every row is read (a 5 BTC short on 1,000 USDT is not healthy).
    @Test func crOnlyFilesAreRead() throws {
        let lf = BatchFiles.tempDir("lf"), cr = BatchFiles.tempDir("cr")
        defer { TestTemp.remove(lf); TestTemp.remove(cr) }
        try write(lf, Self.smallBook)
        try write(cr, Self.smallBook.mapValues { $0.replacingOccurrences(of: "\n", with: "\r") })
        let a = try outputs(lf), b = try outputs(cr)
        let same = a.margins == b.margins && a.units == b.units
        #expect(same)
        #expect(try marginsRows(b.margins)[0]["stage"] != "healthy")
    }

    /// Line numbers count physical lines: CRLF and CR are one line end each, a quoted field's line
    /// breaks count, blank lines count; a record is named by its first line.
    @Test(arguments: ["\n", "\r\n", "\r"])
    func lineNumbersStayRight(eol: String) throws {
        let dir = BatchFiles.tempDir("lines")
        defer { TestTemp.remove(dir) }
        var book = Self.smallBook
        book["positions.csv"] = ["account_id,symbol,size,entry_price,note",
                                 "A1,BTCUSDT,-5,,\"two\(eol)line note, with a comma\"",   // lines 2-3
                                 "",                                                       // line 4
                                 "A2,BTCUSDT,abc,,",                                       // line 5
                                 "A3,ETHUSDT,-1,,\"\"\"quoted\"\"\(eol)\(eol)note\"",      // lines 6-8
                                 "A3,NOPE,1,,"].joined(separator: eol) + eol               // line 9
        try write(dir, book)
        for threads in [1, 2, 4] {
            let rows = try marginsRows(outputs(dir, threads: threads).margins)
            #expect(rows[0]["error"] == "", "\(rows[0])")
            #expect(rows[1]["error"]!.contains("positions.csv: line 5 (account A2): size"), "\(rows[1])")
            #expect(rows[2]["error"]!.contains("positions.csv: line 9 (account A3): symbol"), "\(rows[2])")
        }
        // A fatal wrong field count after a multi-line record names its line too.
        book["positions.csv"]! += "A1,BTCUSDT" + eol
        try write(dir, book)
        do { _ = try BatchInput.load(directory: dir, priced: priced); Issue.record("expected a fatal error") } catch let e as InputError {
            #expect(e.record == "line 10", "\(e)")
        }
    }

    /// Quoted fields full of line breaks and text that looks like rows: however the file is split
    /// over threads, no chunk starts inside a quoted field.
    @Test func chunksNeverStartInsideAQuotedField() throws {
        var text = "account_id,symbol,size,entry_price,note\n"
        var expected: [[String]] = []
        var rng = SplitMix(seed: 5)
        for k in 0..<300 {
            var note = ""
            for _ in 0..<rng.int(0, 6) { note += rng.pick(["A1,BTCUSDT,1,\n", "\"\"", ",", "\r\n", "\r", "x"]) }
            let row = ["A\(k)", "BTCUSDT", "\(k)", "", note]
            expected.append(row)
            text += row.dropLast().joined(separator: ",") + ",\"" + note.replacingOccurrences(of: "\"", with: "\"\"") + "\"" + rng.pick(["\n", "\r\n", "\r"])
        }
        let path = BatchFiles.tempDir("chunks") + "/x.csv"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let csv = try CSVFile(path: path, required: ["account_id"])
        for n in [1, 2, 3, 7, 16, 61] {
            var rows: [[String]] = []
            for r in csv.chunks(n) { try csv.forEachLine(in: r) { _, f in rows.append(f.map(fieldText)) } }
            #expect(rows == expected, "\(n) chunks")
        }
    }

    /// Broken quoting is a structural error naming the line (exit 1), not a silently cut field.
    @Test func brokenQuotingIsFatalWithItsLine() throws {
        let dir = BatchFiles.tempDir("badquote")
        defer { TestTemp.remove(dir) }
        var book = Self.smallBook
        for (bad, what) in [("A2,\"BTCUSDT\"x,1,\n", "after the closing quote"), ("A2,\"BTCUSDT,1,\n", "unterminated")] {
            book["positions.csv"] = "account_id,symbol,size,entry_price\nA1,BTCUSDT,-5,\n" + bad
            try write(dir, book)
            do { _ = try BatchInput.load(directory: dir, priced: priced); Issue.record("expected a fatal error") } catch let e as InputError {
                #expect(e.record == "line 3" && e.description.contains(what), "\(e)")
            }
        }
    }

    // MARK: 4 — NaN and infinity are not numbers

    @Test(arguments: ["NaN", "nan", "-nan", "+NaN", "inf", "-inf", "Infinity", "-INFINITY", "iNf", "1e999", "0x10", "nan(0x1)"])
    func nonNumbersAreAccountErrors(token: String) throws {
        let dir = BatchFiles.tempDir("nan")
        defer { TestTemp.remove(dir) }
        var book = Self.smallBook
        book["positions.csv"] = "account_id,symbol,size,entry_price\nA1,BTCUSDT,-5,\(token)\nA2,BTCUSDT,\(token),\n"
        book["balances.csv"] = "account_id,coin,wallet_balance\nA1,USDT,1000\nA2,USDT,1000000\nA3,USDC,\(token)\n"
        book["orders.csv"] = "account_id,symbol,side,qty,price\nA1,BTCUSDT,Buy,1,\(token)\n"
        try write(dir, book)
        let rows = try marginsRows(outputs(dir).margins)
        #expect(rows[0]["error"]!.contains("entry_price"), "\(rows[0])")
        #expect(rows[1]["error"]!.contains("size"), "\(rows[1])")
        #expect(rows[2]["error"]!.contains("wallet_balance"), "\(rows[2])")
        for r in rows { #expect(r["stage"] == "" && !r["error"]!.isEmpty) }
        // Only an empty cell means "no entry price".
        book["positions.csv"] = "account_id,symbol,size,entry_price\nA1,BTCUSDT,-5,\nA2,BTCUSDT,1,\"\"\n"
        book["balances.csv"] = Self.smallBook["balances.csv"]
        book["orders.csv"] = "account_id,symbol,side,qty,price\nA1,BTCUSDT,Buy,\(token),70000\n"
        try write(dir, book)
        let again = try marginsRows(outputs(dir).margins)
        #expect(again[0]["error"]!.contains("qty"), "\(again[0])")
        #expect(again[1]["error"] == "" && again[2]["error"] == "")
    }

    @Test func fastNumberNeverGivesANonFiniteValue() {
        for t in ["nan", "NaN", "-nan", "inf", "-Infinity", "INF", "1e400", "-1e309", "0x1p3", "infinity", "nan(1)",
                  String(repeating: "9", count: 400), "1" + String(repeating: "0", count: 600) + "e-300"] {
            let bytes = Array(t.utf8)
            let v = bytes.withUnsafeBufferPointer { FastNumber.parse($0.baseAddress!, $0.count) }
            #expect(v == nil || v!.isFinite, "\(t) → \(String(describing: v))")
        }
        // Long decimal text still parses, correctly rounded.
        let long = "1" + String(repeating: "0", count: 600) + "e-300"
        #expect(Array(long.utf8).withUnsafeBufferPointer { FastNumber.parse($0.baseAddress!, $0.count) } == 1e300)
        #expect(Array("nan".utf8).withUnsafeBufferPointer { FastNumber.parse($0.baseAddress!, $0.count) } == nil)
    }

    // MARK: 7, 8 — bytes that could break a message

    /// A NUL and a line break inside a quoted field, and a megabyte-long value: the message stays
    /// one line and echoes at most 80 characters.
    @Test func oddBytesStayInsideOneShortMessage() throws {
        let dir = BatchFiles.tempDir("nul")
        defer { TestTemp.remove(dir) }
        var book = Self.smallBook
        let huge = String(repeating: "9x", count: 500_000)
        book["positions.csv"] = "account_id,symbol,size,entry_price\nA1,\"BTC\u{0}USD\nT\",-5,\nA2,BTCUSDT,\(huge),\nA3,ETHUSDT,-1,\"1\u{0}\"\n"
        try write(dir, book)
        let (m, _, _) = try outputs(dir)
        let text = String(decoding: m, as: UTF8.self)
        #expect(text.split(separator: "\n").count == 4, "\(text.prefix(2000))")
        let rows = try marginsRows(m)
        #expect(rows[0]["error"]!.contains("line 2 (account A1): symbol: unknown instrument \"BTC\\0USD\\nT\""), "\(rows[0])")
        #expect(rows[1]["error"]!.count < 300 && rows[1]["error"]!.contains("(1000000 bytes)"), "\(rows[1]["error"]!.prefix(400))")
        #expect(rows[2]["error"]!.contains("entry_price") && rows[2]["error"]!.contains("\"1\\0\""), "\(rows[2])")
    }

    /// Invalid UTF-8 in a field: the line's account gets an error naming file, line and field
    /// (and the bytes as \x escapes); in an account id it is fatal (the id could not be written
    /// out as itself), naming the line.
    @Test func invalidUTF8IsReportedWithItsLine() throws {
        let dir = BatchFiles.tempDir("utf8")
        defer { TestTemp.remove(dir) }
        try write(dir, Self.smallBook)
        var positions = Array("account_id,symbol,size,entry_price\nA1,BTCUSDT,-5,\nA2,BTC".utf8) + [0xFF] + Array("USDT,1,\nA3,ETHUSDT,-1,\n".utf8)
        try Data(positions).write(to: URL(fileURLWithPath: dir + "/positions.csv"))
        let rows = try marginsRows(outputs(dir).margins)
        #expect(rows[0]["error"] == "" && rows[2]["error"] == "")
        #expect(rows[1]["error"]!.contains("positions.csv: line 3 (account A2): symbol: invalid UTF-8: \"BTC\\xFFUSDT\""), "\(rows[1])")
        // In an id: fatal, whichever file.
        positions = Array("account_id,symbol,size,entry_price\nA1,BTCUSDT,-5,\n\"A".utf8) + [0xC3, 0x28] + Array("\",BTCUSDT,1,\n".utf8)
        try Data(positions).write(to: URL(fileURLWithPath: dir + "/positions.csv"))
        do { _ = try BatchInput.load(directory: dir, priced: priced); Issue.record("expected a fatal error") } catch let e as InputError {
            #expect(e.record == "line 3" && e.field == "account_id" && e.message.contains("invalid UTF-8") && e.message.contains("\\xC3("), "\(e)")
        }
        try write(dir, Self.smallBook)
        let accounts = Array("account_id,spot_hedging\nA1,false\nA".utf8) + [0xFE] + Array(",false\nA".utf8) + [0xFF] + Array(",false\n".utf8)
        try Data(accounts).write(to: URL(fileURLWithPath: dir + "/accounts.csv"))
        do { _ = try BatchInput.load(directory: dir, priced: priced); Issue.record("expected a fatal error") } catch let e as InputError {
            #expect(e.file.hasSuffix("accounts.csv") && e.record == "line 3" && e.message.contains("A\\xFE"), "\(e)")
        }
    }

    // MARK: 6, 9 — odd files

    /// An empty (0-byte) orders.csv counts as absent.
    @Test func anEmptyOrdersFileCountsAsAbsent() throws {
        let dir = BatchFiles.tempDir("emptyorders")
        defer { TestTemp.remove(dir) }
        try write(dir, Self.smallBook)
        try FileManager.default.removeItem(atPath: dir + "/orders.csv")
        let absent = try outputs(dir)
        try Data().write(to: URL(fileURLWithPath: dir + "/orders.csv"))
        let empty = try outputs(dir)
        let same = empty.margins == absent.margins && empty.units == absent.units
        #expect(same)
        #expect(empty.summary.errors == 0)
    }

    /// A FIFO as an input file is refused at once (it used to block forever in open()).
    @Test func aPipeIsRefusedAtOnce() throws {
        let dir = BatchFiles.tempDir("fifo")
        defer { TestTemp.remove(dir) }
        try write(dir, Self.smallBook)
        try FileManager.default.removeItem(atPath: dir + "/balances.csv")
        #expect(mkfifo(dir + "/balances.csv", 0o644) == 0)
        #expect(mkfifo(dir + "/market.json", 0o644) == 0)
        // @unchecked Sendable: written by the detached thread before `done.signal()`, read here only
        // after `done.wait` succeeded (the semaphore orders the two).
        final class Box: @unchecked Sendable { var batch: Error?; var market: Error? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let priced = self.priced
        Thread.detachNewThread {
            do { _ = try BatchInput.load(directory: dir, priced: priced) } catch { box.batch = error }
            do { _ = try MarketSnapshot.load(path: dir + "/market.json") } catch { box.market = error }
            done.signal()
        }
        let finished = done.wait(timeout: .now() + 20) == .success
        #expect(finished, "reading a FIFO blocked")
        if !finished {
            // Release the blocked open() calls (a writer appears and leaves).
            for f in ["balances.csv", "market.json"] { let fd = open(dir + "/" + f, O_WRONLY | O_NONBLOCK); if fd >= 0 { close(fd) } }
            _ = done.wait(timeout: .now() + 20)
            return
        }
        #expect((box.batch as? InputError).map { $0.file.hasSuffix("balances.csv") && $0.message.contains("pipe") } == true, "\(String(describing: box.batch))")
        #expect((box.market as? InputError).map { $0.file.hasSuffix("market.json") && $0.message.contains("pipe") } == true, "\(String(describing: box.market))")
    }

    // MARK: 10 — ids absent from accounts.csv

    /// Every id seen appears in margins.csv: one error row per distinct absent id, after the
    /// accounts.csv rows, in order of first appearance (balances, positions, orders; file order).
    @Test func absentIdsGetErrorRowsInOrderOfFirstAppearance() throws {
        let dir = BatchFiles.tempDir("orphans")
        defer { TestTemp.remove(dir) }
        var book = Self.smallBook
        book["balances.csv"]! += "ZED,USDT,5\n"
        book["positions.csv"]! += "GHOST,BTCUSDT,1,\nZED,BTCUSDT,1,\nGHOST,ETHUSDT,1,\n\"Q,1\",BTCUSDT,1,\n"
        book["orders.csv"]! += "NEW,BTCUSDT,Buy,1,70000\n"
        try write(dir, book)
        let (m, _, summary) = try outputs(dir)
        let rows = try marginsRows(m)
        #expect(rows.map { $0["account_id"]! } == ["A1", "A2", "A3", "ZED", "GHOST", "Q,1", "NEW"])
        #expect(rows[3]["error"]!.contains("balances.csv: line 5: account_id") && rows[3]["error"]!.contains("not in accounts.csv"), "\(rows[3])")
        #expect(rows[4]["error"]!.contains("positions.csv: line 5"), "\(rows[4])")
        #expect(rows[6]["error"]!.contains("orders.csv: line 2"), "\(rows[6])")
        for r in rows[3...] { #expect(r["stage"] == "" && r["total_mm"] == "") }
        #expect(summary.errors == 4 && summary.accounts == 7)
        #expect(summary.orphanRows == 6)
        // Shards: each absent id in exactly one shard, the one its id hashes to.
        var seen: [String] = []
        for i in 0..<3 {
            let part = try marginsRows(outputs(dir, shard: (i, 3)).margins)
            for r in part {
                #expect(ByteKeyTable.fnv1a(r["account_id"]!) % 3 == UInt64(i))
                seen.append(r["account_id"]!)
            }
        }
        #expect(seen.sorted() == rows.map { $0["account_id"]! }.sorted())
    }

    /// `pm batch` writes the error rows and exits 3.
    @Test func absentIdsMakePmBatchExit3() throws {
        let dir = BatchFiles.tempDir("orphancli")
        defer { TestTemp.remove(dir) }
        var book = Self.smallBook
        book["positions.csv"]! += "GHOST,BTCUSDT,1,\n"
        try write(dir, book)
        let out = try CLI.run(["batch", "--input", dir, "--market", "data/sample/market.json", "--out", dir + "/out"])
        #expect(out.status == 3, "\(out.stderr)")
        let rows = try BatchFiles.read(dir + "/out/margins.csv")
        #expect(rows.last?["account_id"] == "GHOST" && rows.last!["error"]!.contains("not in accounts.csv"))
    }
}
