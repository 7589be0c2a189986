import Foundation
import Testing
@testable import PortfolioMargin
@testable import PMTestSupport

/// The streaming batch path (docs/performance.md "Batch memory") writes the bytes of the whole-file path
/// (`BatchInput.load` + `BatchRunner.run`) for every input, block size, thread count and read
/// buffer size; falls back (nil) on files not grouped in accounts.csv order and on fatal input
/// problems; and holds a bounded number of buffers and rows whatever the number of accounts.
struct StreamingBatchTests {
    let priced = PricedMarket(market: TestSupport.sampleMarket, parameters: TestSupport.shippedParams)
    // Sparse here; dense rows are block-size independent too (below, and DenseDeterminismTests).
    let sparse = EngineOptions(aggregation: .sparse)

    struct Result: Equatable {
        var margins: [UInt8]
        var units: [UInt8]
        var accounts: Int, errors: Int, stages: [Int], orphanRows: [InputError]
        var digests: [String]
    }

    func wholeFile(_ dir: String, shard: (index: Int, count: Int)? = nil, threads: Int = 1, blockSize: Int = 8192,
                   options: EngineOptions? = nil) throws -> Result {
        let input = try BatchInput.load(directory: dir, priced: priced, shard: shard, threads: threads)
        var m: [UInt8] = [], u: [UInt8] = []
        let s = try BatchRunner.run(input, priced: priced, threads: threads, blockSize: blockSize, options: options ?? sparse) { a, b in m += a; u += b }
        return Result(margins: m, units: u, accounts: s.accounts, errors: s.errors, stages: s.stages, orphanRows: input.orphanRows,
                      digests: input.digests.map { "\($0.name) \($0.digest)" })
    }

    func streamed(_ dir: String, shard: (index: Int, count: Int)? = nil, threads: Int, blockSize: Int, bufferSize: Int,
                  options: EngineOptions? = nil) throws -> (Result, StreamingBatch.Outcome)? {
        var m: [UInt8] = [], u: [UInt8] = []
        guard let o = try StreamingBatch.run(directory: dir, priced: priced, shard: shard, threads: threads, blockSize: blockSize,
                                             options: options ?? sparse, bufferSize: bufferSize, sink: { a, b in m += a; u += b }) else { return nil }
        return (Result(margins: m, units: u, accounts: o.summary.accounts, errors: o.summary.errors, stages: o.summary.stages,
                       orphanRows: o.orphanRows, digests: o.digests.map { "\($0.name) \($0.digest)" }), o)
    }

    /// Every combination streams (no fallback) and gives the whole-file path's bytes.
    func expectIdentical(_ dir: String, shard: (index: Int, count: Int)? = nil, buffers: [Int] = [61, 4096, StreamingBatch.defaultBufferSize],
                         _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let reference = try wholeFile(dir, shard: shard)
        #expect(reference.margins.count > 100, "\(what): some output", sourceLocation: sourceLocation)
        for threads in [1, 2] {
            for blockSize in [1, 3, 8192] {
                for buffer in buffers {
                    let r = try streamed(dir, shard: shard, threads: threads, blockSize: blockSize, bufferSize: buffer)
                    #expect(r != nil, "\(what): streamed (threads \(threads), block \(blockSize), buffer \(buffer))", sourceLocation: sourceLocation)
                    guard let r else { continue }
                    // Booleans, so a failure names the case instead of printing megabytes.
                    let sameMargins = r.0.margins == reference.margins, sameUnits = r.0.units == reference.units
                    let sameRest = r.0 == reference
                    #expect(sameMargins, "\(what): margins.csv (threads \(threads), block \(blockSize), buffer \(buffer))", sourceLocation: sourceLocation)
                    #expect(sameUnits, "\(what): units.csv (threads \(threads), block \(blockSize), buffer \(buffer))", sourceLocation: sourceLocation)
                    #expect(sameRest, "\(what): summary, orphans, digests (threads \(threads), block \(blockSize), buffer \(buffer))", sourceLocation: sourceLocation)
                }
            }
        }
    }

    // MARK: - Inputs

    /// How a hand-made input is written: line ends, quoting, extra columns, and the rows that
    /// make problems, orphans and duplicates. Rows are grouped in accounts.csv order.
    struct Style {
        var eol = "\n"
        var finalNewline = true
        var bom = false
        var quoteIds = false
        /// A leading `note` column (quoted text with a comma and a line break every few rows).
        var extraColumn = false
        var blankLines = false
        /// After every k-th account, a row of an id absent from accounts.csv in each file (0: none).
        var orphanEvery = 0
        /// Every k-th account gets an unknown symbol, a bad number and a bad side (0: none).
        var problemEvery = 0
        /// Every k-th account's id appears again in accounts.csv (0: none).
        var duplicateEvery = 0
        /// Every k-th account gets a position whose symbol is not UTF-8 (0: none).
        var invalidUTF8Every = 0
        enum Orders { case rows, empty, absent, headerOnly }
        var orders = Orders.rows
    }

    func write(_ accounts: [Account], _ style: Style, to dir: String) throws {
        let e = style.eol
        func id(_ s: String) -> String { style.quoteIds ? "\"\(s)\"" : s }
        var noteCount = 0
        func note() -> String {
            noteCount += 1
            guard style.extraColumn else { return "" }
            return noteCount % 3 == 0 ? "\"a,b\(e)c \"\"q\"\"\"," : "n\(noteCount),"
        }
        let bom = style.bom ? "\u{FEFF}" : ""
        var a = bom + "account_id,spot_hedging" + e
        var b: [UInt8] = Array((bom + (style.extraColumn ? "note," : "") + "wallet_balance,coin,account_id" + e).utf8)
        var p: [UInt8] = Array((bom + (style.extraColumn ? "note," : "") + "symbol,account_id,size,entry_price,extra" + e).utf8)
        var o: [UInt8] = Array((bom + (style.extraColumn ? "note," : "") + "account_id,symbol,side,qty,price" + e).utf8)
        let someSymbol = accounts.lazy.flatMap(\.positions).first!.symbol
        for (k, x) in accounts.enumerated() {
            a += "\(id(x.id)),\(x.spotHedging)" + e
            if style.duplicateEvery > 0, k % style.duplicateEvery == 2 { a += "\(x.id),true" + e }
            if style.blankLines, k % 5 == 0 { a += e; b += Array(e.utf8) }
            for r in x.balances { b += Array((note() + "\(r.walletBalance),\(r.coin),\(id(x.id))" + e).utf8) }
            for r in x.positions {
                p += Array((note() + "\(r.symbol),\(id(x.id)),\(r.size),\(r.entryPrice.map { "\($0)" } ?? ""),x" + e).utf8)
            }
            for r in x.orders { o += Array((note() + "\(id(x.id)),\(r.symbol),\(r.side.rawValue),\(r.qty),\(r.price)" + e).utf8) }
            if style.problemEvery > 0, k % style.problemEvery == 1 {
                p += Array((note() + "NOPE-\(k),\(id(x.id)),1,,x" + e).utf8)
                b += Array((note() + "abc,USDT,\(id(x.id))" + e).utf8)
                o += Array((note() + "\(id(x.id)),\(someSymbol),Hold,1,100" + e).utf8)
            }
            if style.invalidUTF8Every > 0, k % style.invalidUTF8Every == 3 {
                p += Array(note().utf8) + [0x42, 0xFF, 0x43] + Array(",\(id(x.id)),1,,x\(e)".utf8)
            }
            if style.orphanEvery > 0, k % style.orphanEvery == 0 {
                // Ghost ids repeat across files, first seen in different files.
                b += Array((note() + "7,USDT,GHOST-\(k % 3)" + e).utf8)
                p += Array((note() + "\(someSymbol),GHOST-\((k + 1) % 4),1,,x" + e).utf8)
                o += Array((note() + "GHOST-\((k + 2) % 5),\(someSymbol),Buy,1,100" + e).utf8)
            }
        }
        func finish(_ bytes: [UInt8]) -> Data {
            var bytes = bytes
            if !style.finalNewline { while let l = bytes.last, l == 10 || l == 13 { bytes.removeLast() } }
            return Data(bytes)
        }
        try finish(Array(a.utf8)).write(to: URL(fileURLWithPath: dir + "/accounts.csv"))
        try finish(b).write(to: URL(fileURLWithPath: dir + "/balances.csv"))
        try finish(p).write(to: URL(fileURLWithPath: dir + "/positions.csv"))
        switch style.orders {
        case .rows: try finish(o).write(to: URL(fileURLWithPath: dir + "/orders.csv"))
        case .empty: try Data().write(to: URL(fileURLWithPath: dir + "/orders.csv"))
        case .headerOnly: try Data("account_id,symbol,side,qty,price\n".utf8).write(to: URL(fileURLWithPath: dir + "/orders.csv"))
        case .absent: break
        }
    }

    // MARK: - Identical bytes

    @Test func generatedAccountsStreamToTheSameBytes() throws {
        let dir = BatchFiles.tempDir("stream-gen")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try BatchFiles.write(RandomAccounts.make(400, seed: 11), to: dir, extraPositions: ["GHOST,BTCUSDT,1,"])
        try expectIdentical(dir, "generated")
        let r = try streamed(dir, threads: 2, blockSize: 64, bufferSize: 4096)!
        #expect(r.0.accounts == 401)   // the ghost is an error account at the end
        #expect(r.0.orphanRows.count == 1)
        // Dense rows: the same bytes as the whole-file path, whatever the block size (dgemm always
        // runs on full panels of one shape, readings item 16).
        let dense = EngineOptions(aggregation: .dense)
        let reference = try wholeFile(dir, threads: 2, blockSize: 64, options: dense)
        for blockSize in [7, 64, 8192] {
            let d = try streamed(dir, threads: 2, blockSize: blockSize, bufferSize: 1000, options: dense)!
            let sameDense = d.0 == reference
            #expect(sameDense, "dense, block \(blockSize)")
        }
    }

    @Test func handMadeEdgeCasesStreamToTheSameBytes() throws {
        let accounts = RandomAccounts.make(60, seed: 5)
        var styles: [(String, Style)] = []
        styles.append(("plain", Style()))
        styles.append(("CRLF", Style(eol: "\r\n")))
        styles.append(("CR", Style(eol: "\r", finalNewline: false)))
        styles.append(("no final newline", Style(finalNewline: false)))
        styles.append(("BOM, quoted ids, blank lines", Style(bom: true, quoteIds: true, blankLines: true)))
        styles.append(("quoted note column with line breaks, CRLF", Style(eol: "\r\n", extraColumn: true)))
        styles.append(("orphans anywhere", Style(orphanEvery: 4)))
        styles.append(("orphans, quoted multi-line notes, CR", Style(eol: "\r", extraColumn: true, orphanEvery: 3)))
        styles.append(("row problems", Style(problemEvery: 3)))
        styles.append(("row problems with multi-line notes", Style(extraColumn: true, problemEvery: 4)))
        styles.append(("duplicate ids", Style(problemEvery: 5, duplicateEvery: 4)))
        styles.append(("invalid UTF-8", Style(invalidUTF8Every: 4)))
        styles.append(("empty orders.csv", Style(orphanEvery: 5, orders: .empty)))
        styles.append(("absent orders.csv", Style(orders: .absent)))
        styles.append(("header-only orders.csv", Style(orders: .headerOnly)))
        styles.append(("everything", Style(eol: "\r\n", finalNewline: false, bom: true, quoteIds: true, extraColumn: true, blankLines: true,
                                           orphanEvery: 3, problemEvery: 4, duplicateEvery: 6, invalidUTF8Every: 5)))
        for (name, style) in styles {
            let dir = BatchFiles.tempDir("stream-edge")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try write(accounts, style, to: dir)
            try expectIdentical(dir, buffers: [7, 61, StreamingBatch.defaultBufferSize], name)
        }
    }

    @Test func problemsAndOrphansAreReportedAsTheWholeFilePathDoes() throws {
        // The style's problems really are there (so the identical-bytes test compares something).
        let dir = BatchFiles.tempDir("stream-problems")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(RandomAccounts.make(30, seed: 8), Style(extraColumn: true, orphanEvery: 4, problemEvery: 3, duplicateEvery: 7), to: dir)
        let r = try streamed(dir, threads: 2, blockSize: 3, bufferSize: 50)!.0
        let text = String(decoding: r.margins, as: UTF8.self)
        #expect(text.contains("balances.csv: line "))
        #expect(text.contains("duplicate account id"))
        #expect(text.contains("is not in accounts.csv (its first row is here)"))
        #expect(r.orphanRows.count == 3 * 8)   // 8 accounts (k % 4 == 0) × a row in each file
        #expect(r.accounts > 30 + 4)   // accounts, 4 duplicate lines, then the ghosts
        let same = r == (try wholeFile(dir))
        #expect(same)
    }

    @Test func shardsStreamToTheSameBytes() throws {
        let dir = BatchFiles.tempDir("stream-shard")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(RandomAccounts.make(90, seed: 3), Style(orphanEvery: 4, problemEvery: 5, duplicateEvery: 9), to: dir)
        for shard in [(0, 2), (1, 2), (2, 3)] {
            try expectIdentical(dir, shard: (index: shard.0, count: shard.1), buffers: [61, 4096], "shard \(shard.0)/\(shard.1)")
        }
    }

    // MARK: - Fallback

    /// Rows of an account after a later account's rows: not grouped, nil (the caller runs the
    /// whole-file path), however far into the file it is found.
    @Test func ungroupedFilesFallBack() throws {
        let accounts = RandomAccounts.make(200, seed: 21)
        let dir = BatchFiles.tempDir("stream-ungrouped")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try BatchFiles.write(accounts, to: dir)
        let original = try String(contentsOfFile: dir + "/positions.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        // An early account's row moved later: near the end, or to one of many places, so that
        // with small buffers it is sometimes inside a chunk and sometimes a chunk's first row
        // (the check across chunks).
        for target in [original.count - 2, original.count - 1] + Array(stride(from: 20, to: 200, by: 9)) {
            var lines = original
            let moved = lines.remove(at: 3)
            lines.insert(moved, at: target)
            try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/positions.csv", atomically: true, encoding: .utf8)
            let cases = target < original.count - 2 ? [(2, 3, 7), (1, 1, 45)]
                : [(1, 1, 61), (2, 3, 7), (1, 8192, 4096), (2, 8192, StreamingBatch.defaultBufferSize)]
            for (threads, block, buffer) in cases {
                #expect(try streamed(dir, threads: threads, blockSize: block, bufferSize: buffer) == nil, "row moved to line \(target), buffer \(buffer)")
            }
        }
        // An orphan row anywhere is not "ungrouped".
        try BatchFiles.write(accounts, to: dir, extraPositions: ["GHOST,BTCUSDT,1,"])
        var p = try String(contentsOfFile: dir + "/positions.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        p.insert(p.removeLast(), at: 1)
        try (p.joined(separator: "\n") + "\n").write(toFile: dir + "/positions.csv", atomically: true, encoding: .utf8)
        #expect(try streamed(dir, threads: 2, blockSize: 16, bufferSize: 100) != nil)
    }

    /// Fatal problems are the whole-file path's to report (nil here), with its message.
    @Test func fatalProblemsFallBack() throws {
        let accounts = RandomAccounts.make(50, seed: 4)
        let cases: [(String, (String) throws -> Void)] = [
            ("wrong field count", { try "account_id,symbol,size,entry_price\n\(accounts[0].id),BTCUSDT,1\n".write(toFile: $0 + "/positions.csv", atomically: true, encoding: .utf8) }),
            ("missing column", { try "account_id,symbol\n".write(toFile: $0 + "/positions.csv", atomically: true, encoding: .utf8) }),
            ("missing file", { try FileManager.default.removeItem(atPath: $0 + "/balances.csv") }),
            ("unterminated quote", { dir in
                let text = try String(contentsOfFile: dir + "/orders.csv", encoding: .utf8) + "\"\(accounts[49].id),BTCUSDT,Buy,1,1\n"
                try text.write(toFile: dir + "/orders.csv", atomically: true, encoding: .utf8)
            }),
            ("empty balances.csv", { try "".write(toFile: $0 + "/balances.csv", atomically: true, encoding: .utf8) }),
        ]
        for (name, damage) in cases {
            let dir = BatchFiles.tempDir("stream-fatal")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try BatchFiles.write(accounts, to: dir)
            try damage(dir)
            #expect(throws: InputError.self, "\(name): the whole-file path throws") { _ = try wholeFile(dir) }
            for buffer in [61, StreamingBatch.defaultBufferSize] {
                #expect(try streamed(dir, threads: 2, blockSize: 8, bufferSize: buffer) == nil, "\(name)")
            }
        }
    }

    /// A row file that grows or shrinks while it is streamed is an error (exit 1), never a
    /// fallback and never output: the checks of `InputFile` (docs/readings.md item 40).
    @Test func aFileChangedWhileStreamedIsAnError() throws {
        for change in ["append", "truncate"] {
            let dir = BatchFiles.tempDir("stream-changed")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try BatchFiles.write(RandomAccounts.make(200, seed: 12), to: dir)
            let path = dir + "/positions.csv"
            var changed = false
            var caught: InputError?
            do {
                _ = try StreamingBatch.run(directory: dir, priced: priced, threads: 2, blockSize: 1, options: sparse, bufferSize: 256,
                                           sink: { _, _ in
                                               // After the first block is written, positions.csv is still being read.
                                               guard !changed else { return }
                                               changed = true
                                               let h = FileHandle(forUpdatingAtPath: path)!
                                               if change == "append" { h.seekToEndOfFile(); h.write(Data("\n".utf8)) } else { h.truncateFile(atOffset: 300) }
                                               h.closeFile()
                                           })
            } catch let e as InputError { caught = e }
            #expect(changed)
            #expect(caught?.file == path, "\(change)")
            #expect(caught?.message.contains("changed while it was being read") == true, "\(change): \(String(describing: caught))")
        }
    }

    // MARK: - Bounded memory

    /// The reader never holds more than 3·max(2, N) buffers, and the rows held at once do not
    /// grow with the number of accounts (ten times the accounts, about the same peak).
    @Test func memoryIsBoundedByTheBlockNotTheBook() throws {
        func peaks(_ n: Int, threads: Int) throws -> (StreamingBatch.Outcome, Int) {
            let dir = BatchFiles.tempDir("stream-memory")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let accounts = RandomAccounts.make(n, seed: 77)
            try BatchFiles.write(accounts, to: dir)
            let rows = accounts.reduce(0) { $0 + $1.balances.count + $1.positions.count + $1.orders.count }
            return (try streamed(dir, threads: threads, blockSize: 16, bufferSize: 2048)!.1, rows)
        }
        for threads in [1, 2] {
            let (small, _) = try peaks(300, threads: threads)
            let (large, rows) = try peaks(3000, threads: threads)
            let maxBuffers = 3 * max(2, threads)
            #expect(small.peakBuffers <= maxBuffers)
            #expect(large.peakBuffers <= maxBuffers)
            #expect(large.peakBufferBytes <= maxBuffers * (2048 + 32) * 2)   // a buffer grows only for a record longer than it
            #expect(large.peakHeldRows > 0)
            #expect(large.peakHeldRows < rows / 10, "peak rows held \(large.peakHeldRows) of \(rows)")
            #expect(large.peakHeldRows <= 2 * small.peakHeldRows + 200, "3000 accounts: \(large.peakHeldRows), 300: \(small.peakHeldRows)")
        }
    }

    /// A record longer than the read buffer (a long quoted field) gets a larger buffer, once.
    @Test func aRecordLongerThanTheBufferIsRead() throws {
        let dir = BatchFiles.tempDir("stream-long")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let accounts = RandomAccounts.make(20, seed: 9)
        try BatchFiles.write(accounts, to: dir)
        var text = try String(contentsOfFile: dir + "/balances.csv", encoding: .utf8)
        text = text.replacingOccurrences(of: "coin,account_id,wallet_balance\n", with: "coin,account_id,wallet_balance,memo\n")
        var lines = text.split(separator: "\n").map(String.init)
        for k in 1..<lines.count { lines[k] += k == 5 ? ",\"" + String(repeating: "long,\n", count: 500) + "\"" : ",m" }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/balances.csv", atomically: true, encoding: .utf8)
        try expectIdentical(dir, buffers: [64, 1000], "long record")
    }

    // MARK: - The command

    /// A fatal problem late in a grouped file: `pm batch` reports it as the whole-file path does
    /// (exit 1, file, line, message) and leaves no output (with small buffers the streaming run
    /// has margined blocks by then: `fatalProblemsFallBack`).
    @Test func theCommandReportsAFatalProblemFoundMidStream() throws {
        let dir = BatchFiles.tempDir("stream-cli-fatal")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let accounts = RandomAccounts.make(3000, seed: 41)
        try BatchFiles.write(accounts, to: dir)
        var lines = try String(contentsOfFile: dir + "/positions.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        let bad = lines.count - 3
        lines[bad] += ",surplus"
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/positions.csv", atomically: true, encoding: .utf8)
        let out = dir + "/out"
        let r = try CLI.run(["batch", "--input", dir, "--market", "data/sample/market.json", "--out", out,
                             "--threads", "2", "--block-size", "16", "--quiet"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("positions.csv: line \(bad + 1): has 5 fields, the header has 4"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        let expected = "\(InputError(file: dir + "/positions.csv", record: "line \(bad + 1)", "has 5 fields, the header has 4"))"
        #expect(throws: InputError.self) { _ = try wholeFile(dir) }
        do { _ = try wholeFile(dir) } catch { #expect("\(error)" == expected) }
        #expect(r.stderr.contains(expected))
    }

    /// `pm batch` on ungrouped files falls back and writes what it writes for the same rows grouped
    /// (each account's rows in the same order), and nothing of the aborted attempt is left.
    @Test func theCommandFallsBackWithIdenticalOutput() throws {
        let dir = BatchFiles.tempDir("stream-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let grouped = dir + "/grouped", ungrouped = dir + "/ungrouped"
        for d in [grouped, ungrouped] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let accounts = RandomAccounts.make(300, seed: 31)
        try BatchFiles.write(accounts, to: grouped)
        // The same accounts' rows with the first account's rows last (its own rows in order).
        try BatchFiles.write(Array(accounts.dropFirst()) + [accounts[0]], to: ungrouped)
        try FileManager.default.copyItem(atPath: grouped + "/accounts.csv", toPath: ungrouped + "/accounts.csv.tmp")
        try FileManager.default.removeItem(atPath: ungrouped + "/accounts.csv")
        try FileManager.default.moveItem(atPath: ungrouped + "/accounts.csv.tmp", toPath: ungrouped + "/accounts.csv")
        var outputs: [[String: Data]] = []
        for (input, out) in [(grouped, dir + "/out-g"), (ungrouped, dir + "/out-u")] {
            let r = try CLI.run(["batch", "--input", input, "--market", "data/sample/market.json", "--out", out,
                                 "--threads", "2", "--block-size", "7", "--aggregation", "sparse", "--quiet"])
            #expect(r.status == 0, "\(r.stderr)")
            var files: [String: Data] = [:]
            for f in ["margins.csv", "units.csv"] { files[f] = FileManager.default.contents(atPath: out + "/" + f) }
            outputs.append(files)
            #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["manifest.json", "margins.csv", "units.csv"])
        }
        #expect(outputs[0]["margins.csv"] != nil && outputs[0] == outputs[1])
        // No staging folder of the aborted attempt is left beside the output.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["grouped", "out-g", "out-u", "ungrouped"])
    }
}
